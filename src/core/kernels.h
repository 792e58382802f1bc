/* Dense layer, activation and loss kernels on flat row-major arrays.
 * Each kernel exists for float (training) and double (suffix _d, used by the
 * finite-difference tests); both are generated from one source, kernels_impl.h, so the
 * tests check the code that trains. Matrix products go through cblas_{s,d}gemm.
 * Backward kernels *add* into parameter gradients (zero them once per step). */
#ifndef NN_KERNELS_H
#define NN_KERNELS_H
#include <stddef.h>
#include <stdint.h>

typedef enum { NN_ACT_IDENTITY = 0, NN_ACT_RELU, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_COUNT } nn_act;

const char *nn_act_name(nn_act a);
/* Returns 0 and sets *a for "identity", "relu", "sigmoid", "tanh"; -1 otherwise. */
int nn_act_parse(const char *s, nn_act *a);

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
    /* y = f(x), elementwise; y may alias x */                                                  \
    void nn_act_forward##S(R *y, const R *x, size_t n, nn_act a);                               \
    /* dx = dy * f'(x), given x and y = f(x); dx may alias dy */                               \
    void nn_act_backward##S(R *dx, const R *dy, const R *x, const R *y, size_t n, nn_act a);  \
    /* Softmax cross-entropy on logits (B,K) with integer labels. Returns the *sum* over the   \
     * B rows of -log softmax(z)[label] (log-sum-exp, stable), adds the number of rows whose   \
     * argmax equals the label to *correct (may be NULL), and when dz != NULL writes           \
     * dz = (softmax(z) - onehot(label)) * scale   (scale = 1/B_global for a mean loss). */    \
    double nn_softmax_xent##S(R *dz, const R *z, const int32_t *labels, int B, int K,         \
                              R scale, int64_t *correct);

NN_KERNEL_DECLS(float, )
NN_KERNEL_DECLS(double, _d)

/* Plain-loop references for the tests (never used in training). */
void nn_dense_forward_ref(double *out, const double *in, const double *w, const double *b,
                          int B, int IN, int OUT);
void nn_dense_backward_ref(double *din, double *dw, double *db, const double *dout,
                           const double *in, const double *w, int B, int IN, int OUT);

#endif
