/* Dense layer, activation and loss kernels on flat row-major arrays.
 * Each kernel exists for float (training) and double (suffix _d, used by the
 * finite-difference tests); both are generated from one source, kernels_impl.h, so the
 * tests check the code that trains. Matrix products go through cblas_{s,d}gemm.
 * Backward kernels *add* into parameter gradients (zero them once per step). */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/* Activations, with torch's semantics. binary_step's derivative is 0 everywhere (it has no
 * useful gradient: a network with it only learns through other paths). The parameter p of
 * the _p kernels is leaky_relu's negative slope or elu's alpha (ignored by the others). */
typedef enum {
    NN_ACT_IDENTITY = 0, NN_ACT_RELU, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_BINARY_STEP,
    NN_ACT_LEAKY_RELU, NN_ACT_ELU, NN_ACT_SELU, NN_ACT_GELU, NN_ACT_SOFTPLUS, NN_ACT_COUNT
} nn_act;

#define NN_SELU_LAMBDA 1.0507009873554804934193349852946
#define NN_SELU_ALPHA 1.6732632423543772848170429916717

const char *nn_act_name(nn_act a);
/* Returns 0 and sets *a for a name above ("identity", "relu", ...); -1 otherwise. */
int nn_act_parse(const char *s, nn_act *a);
/* torch's default parameter: leaky_relu 0.01, elu 1.0, others 0. */
double nn_act_default_param(nn_act a);
/* torch.nn.init.calculate_gain for the activation (1 where torch has no gain for it). */
double nn_act_gain(nn_act a, double p);
/* e^x for x <= 0 in float, vectorizable (sigmoid's exponential): within 2 ulp of the true
 * value, 1 at 0, 0 below ln FLT_MIN (where e^x would be subnormal), NaN for NaN. */
float nn_exp_nonpos_f(float x);

/* Losses. Per-sample loss: cross_entropy = -log softmax(z)_y, optionally label-smoothed
 * ((1-e) nll + e mean_k(-log p_k)); bce_with_logits (K = 1) = max(z,0) - z y + log1p(e^-|z|);
 * regression losses average their elementwise loss over the K outputs, so the mean over a
 * batch equals torch's 'mean' reduction over B*K elements. */
typedef enum {
    NN_LOSS_CROSS_ENTROPY = 0, NN_LOSS_BCE_WITH_LOGITS, NN_LOSS_MSE, NN_LOSS_L1, NN_LOSS_HUBER,
    NN_LOSS_SMOOTH_L1, NN_LOSS_COUNT
} nn_loss_kind;

typedef struct {
    nn_loss_kind kind;
    double label_smoothing; /* cross_entropy */
    double delta;           /* huber */
    double beta;            /* smooth_l1 */
} nn_loss;

const char *nn_loss_name(nn_loss_kind k);
int nn_loss_parse(const char *s, nn_loss_kind *k);
/* Classification losses take integer labels; regression losses float targets (B, K). */
static inline int nn_loss_is_regression(nn_loss_kind k) { return k >= NN_LOSS_MSE; }

#define NN_KERNEL_DECLS(R, S)                                                                  \
    /* out (B,OUT) = in (B,IN) . w^T (IN,OUT) + b (OUT) */                                     \
    void nn_dense_forward##S(R *out, const R *in, const R *w, const R *b, int B, int IN,       \
                             int OUT);                                                          \
    /* dw (OUT,IN) += dout^T . in;  db (OUT) += colsum(dout);                                   \
     * din (B,IN) = dout . w  (skipped when din == NULL, e.g. for the first layer) */          \
    void nn_dense_backward##S(R *din, R *dw, R *db, const R *dout, const R *in, const R *w,   \
                              int B, int IN, int OUT);                                          \
    /* the same, but dw and db are overwritten (no zeroing pass, GEMM does not read dw) */     \
    void nn_dense_backward_into##S(R *din, R *dw, R *db, const R *dout, const R *in,          \
                                   const R *w, int B, int IN, int OUT);                         \
    /* either of the above (accumulate != 0: the first) in pieces: db, dw's rows from the last \
     * down in pw pieces, din's columns in pd pieces; after each piece tick(k, u), where dw[k..) \
     * and db are final (tick may be NULL: one piece each). Same bits as the whole GEMMs. */   \
    void nn_dense_backward_pieces##S(R *din, R *dw, R *db, const R *dout, const R *in,         \
                                     const R *w, int B, int IN, int OUT, int accumulate,      \
                                     int pw, int pd, void (*tick)(size_t, void *), void *u);  \
    /* din = dout . W alone: the input gradient of nn_dense_backward, by the same GEMM */       \
    void nn_dense_input_grad##S(R *din, const R *dout, const R *w, int B, int IN, int OUT);      \
    /* y = f(x), elementwise; y may alias x */                                                  \
    void nn_act_forward##S(R *y, const R *x, size_t n, nn_act a);                               \
    /* dx = dy * f'(x), given x and y = f(x); dx may alias dy */                               \
    void nn_act_backward##S(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a);  \
    /* Softmax cross-entropy on logits (B,K) with integer labels. Returns the *sum* over the   \
     * B rows of -log softmax(z)[label] (log-sum-exp, stable), adds the number of rows whose   \
     * argmax equals the label to *correct (may be NULL), and when dz != NULL writes           \
     * dz = (softmax(z) - onehot(label)) * scale   (scale = 1/B_global for a mean loss). */    \
    double nn_softmax_xent##S(R *dz, const R *z, const int32_t *labels, int B, int K,         \
                              R scale, int64_t *correct);                                       \
    /* y = f(x; p) and dx = dy * f'(x; p): the parameterised forms */                          \
    void nn_act_forward_p##S(R *y, const R *x, size_t n, nn_act a, R p);                       \
    void nn_act_backward_p##S(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a,  \
                              R p);                                                             \
    /* Any loss over a batch of B rows of K outputs z. Returns the sum over rows of the        \
     * per-sample loss; when dz != NULL writes dz = d(that sum)/dz * scale. stats (may be      \
     * NULL) accumulates: classification stats[0] += rows predicted right; regression          \
     * stats[0] += sum of squared errors, stats[1] += sum of absolute errors (over B*K). */     \
    double nn_loss_eval##S(R *dz, const R *z, const int32_t *labels, const R *targets, int B,  \
                           int K, const nn_loss *L, R scale, double *stats);

NN_KERNEL_DECLS(float, )
NN_KERNEL_DECLS(double, _d)

/* Plain-loop references for the tests (never used in training). */
void nn_dense_forward_ref(double *out, const double *in, const double *w, const double *b,
                          int B, int IN, int OUT);
void nn_dense_backward_ref(double *din, double *dw, double *db, const double *dout,
                           const double *in, const double *w, int B, int IN, int OUT);

#endif
