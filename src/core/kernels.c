/* Instantiates the kernel template for float and double, plus the plain-loop references. */
#include "kernels.h"
#include "simd.h"
#include <cblas.h>
#include <math.h>
#include <string.h>

static const char *act_names[NN_ACT_COUNT] = {"identity", "relu",  "sigmoid", "tanh",
                                              "binary_step", "leaky_relu", "elu", "selu",
                                              "gelu", "softplus"};
static const char *loss_names[NN_LOSS_COUNT] = {"cross_entropy", "bce_with_logits", "mse",
                                                "l1", "huber", "smooth_l1"};

double nn_act_default_param(nn_act a)
{
    return a == NN_ACT_LEAKY_RELU ? 0.01 : a == NN_ACT_ELU ? 1.0 : 0.0;
}

double nn_act_gain(nn_act a, double p)
{
    switch (a) {
    case NN_ACT_RELU: return sqrt(2.0);
    case NN_ACT_LEAKY_RELU: return sqrt(2.0 / (1 + p * p));
    case NN_ACT_TANH: return 5.0 / 3;
    case NN_ACT_SELU: return 3.0 / 4;
    default: return 1.0;
    }
}

const char *nn_loss_name(nn_loss_kind k)
{
    return (unsigned)k < NN_LOSS_COUNT ? loss_names[k] : "?";
}

int nn_loss_parse(const char *s, nn_loss_kind *k)
{
    for (int i = 0; i < NN_LOSS_COUNT; i++)
        if (strcmp(s, loss_names[i]) == 0) { *k = (nn_loss_kind)i; return 0; }
    return -1;
}

const char *nn_act_name(nn_act a)
{
    return (unsigned)a < NN_ACT_COUNT ? act_names[a] : "?";
}

int nn_act_parse(const char *s, nn_act *a)
{
    for (int i = 0; i < NN_ACT_COUNT; i++)
        if (strcmp(s, act_names[i]) == 0) { *a = (nn_act)i; return 0; }
    return -1;
}

/* e^x for x <= 0 (0 below ln FLT_MIN, where the result would be subnormal), as straight-line
 * float arithmetic the compiler vectorizes (glibc's expf is a call per element): Cody-Waite
 * reduction x = n ln2 + r with ln2 in two parts (the first exact in 9 bits, so n * C1 is exact),
 * Cephes' degree-7 polynomial on |r| <= ln2 / 2, and 2^n put into the exponent field. Within 2
 * ulp of the true value (tests/core/test_kernels.c); exp(0) = 1 exactly. No FMA contraction
 * (C11), so every target clone gives the same bits. */
float nn_exp_nonpos_f(float x)
{
    const float big = 12582912.0f; /* 1.5 * 2^23: adding and subtracting it rounds to an integer */
    const float lo = -87.33654475f; /* ln FLT_MIN */
    const float xc = x < lo ? lo : x;
    const float n = (xc * 1.44269504088896341f + big) - big;
    const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * (r * r) + r + 1.0f;
    union { uint32_t u; float f; } s = {.u = (uint32_t)((int32_t)n + 127) << 23};
    return x < lo ? 0.0f : y * s.f;
}

#define R float
#define S
#define GEMM cblas_sgemm
#define EXP expf
#define EXPNP nn_exp_nonpos_f
#define LOG logf
#define TANH tanhf
#define ERF erff
#define EXPM1 expm1f
#define LOG1P log1pf
#define FABS fabsf
#include "kernels_impl.h"
#undef R
#undef S
#undef GEMM
#undef EXP
#undef EXPNP
#undef LOG
#undef TANH
#undef ERF
#undef EXPM1
#undef LOG1P
#undef FABS

#define R double
#define S _d
#define GEMM cblas_dgemm
#define EXP exp
#define EXPNP exp
#define LOG log
#define TANH tanh
#define ERF erf
#define EXPM1 expm1
#define LOG1P log1p
#define FABS fabs
#include "kernels_impl.h"
#undef R
#undef S
#undef GEMM
#undef EXP
#undef EXPNP
#undef LOG
#undef TANH
#undef ERF
#undef EXPM1
#undef LOG1P
#undef FABS

void nn_dense_forward_ref(double *out, const double *in, const double *w, const double *b,
                          int B, int IN, int OUT)
{
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double s = b[o];
            for (int j = 0; j < IN; j++) s += in[i * IN + j] * w[o * IN + j];
            out[i * OUT + o] = s;
        }
}

void nn_dense_backward_ref(double *din, double *dw, double *db, const double *dout,
                           const double *in, const double *w, int B, int IN, int OUT)
{
    for (int i = 0; i < B; i++)
        for (int o = 0; o < OUT; o++) {
            double g = dout[i * OUT + o];
            db[o] += g;
            for (int j = 0; j < IN; j++) dw[o * IN + j] += g * in[i * IN + j];
        }
    if (din)
        for (int i = 0; i < B; i++)
            for (int j = 0; j < IN; j++) {
                double s = 0;
                for (int o = 0; o < OUT; o++) s += dout[i * OUT + o] * w[o * IN + j];
                din[i * IN + j] = s;
            }
}
