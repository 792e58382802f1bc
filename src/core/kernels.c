/* Instantiates the kernel template for float and double, plus the plain-loop references. */
#include "kernels.h"
#include <cblas.h>
#include <math.h>
#include <string.h>

static const char *act_names[NN_ACT_COUNT] = {"identity", "relu", "sigmoid", "tanh"};

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

#define R float
#define S
#define GEMM cblas_sgemm
#define EXP expf
#define LOG logf
#define TANH tanhf
#include "kernels_impl.h"
#undef R
#undef S
#undef GEMM
#undef EXP
#undef LOG
#undef TANH

#define R double
#define S _d
#define GEMM cblas_dgemm
#define EXP exp
#define LOG log
#define TANH tanh
#include "kernels_impl.h"
#undef R
#undef S
#undef GEMM
#undef EXP
#undef LOG
#undef TANH

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
