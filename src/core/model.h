/* An MLP as a table of dense layers over flat buffers: all parameters in one float array,
 * all gradients in another (same offsets), per-layer views computed once. Weights are stored
 * (out, in) like torch.nn.Linear. Forward/backward workspaces are allocated at creation for
 * a maximum batch, so the training step never allocates. */
#ifndef NN_MODEL_H
#define NN_MODEL_H
#include "kernels.h"
#include <stddef.h>
#include <stdint.h>

typedef struct {
    int in, out;
    nn_act act;          /* applied to this layer's output (identity for the last layer) */
    float act_param;     /* leaky_relu slope / elu alpha */
    int has_bias;
    float dropout;       /* probability of zeroing an output in training (hidden layers) */
    size_t w_off, b_off; /* offsets of weight (out*in) and bias (out) in params/grads;
                          * without a bias b_off == w_off + out*in and the bias is empty */
} nn_layer;

typedef enum {
    NN_INIT_TORCH = 0, NN_INIT_XAVIER_UNIFORM, NN_INIT_XAVIER_NORMAL, NN_INIT_KAIMING_UNIFORM,
    NN_INIT_KAIMING_NORMAL, NN_INIT_NORMAL, NN_INIT_COUNT
} nn_init_kind;
const char *nn_init_name(nn_init_kind k);
int nn_init_parse(const char *s, nn_init_kind *k);

/* Everything that shapes a model. acts has nlayers entries; dropout has nlayers-1 (hidden
 * layers) or is NULL. */
typedef struct {
    int nlayers;
    const int *sizes;       /* nlayers + 1 widths, input first */
    const nn_act *acts;
    double leaky_slope, elu_alpha;
    int bias;
    const double *dropout;
    int max_batch;
    size_t nextra;
} nn_model_spec;

typedef struct {
    int nlayers;
    nn_layer *layers;
    size_t nparams;      /* floats in params (and in grads, before the extra slots) */
    size_t nextra;       /* extra float slots after the gradients (ride-along scalars) */
    float *params;       /* nparams */
    float *grads;        /* nparams + nextra */
    int max_batch;
    float **z, **a;      /* per layer: pre-activation and output, (max_batch, out) each */
    float *delta[2];     /* backward ping-pong, (max_batch, widest layer) */
    float **drop;        /* per layer with dropout: the dropped output (max_batch, out) */
    float **mask;        /* per layer with dropout: 0 or 1/(1-p) per element */
    int last_dropout;    /* the last forward applied dropout (backward must follow it) */
} nn_model;

/* Dropout masks are a pure function of (seed, epoch, layer, global sample index), so they do
 * not depend on how a batch is split across ranks:
 *   keep(r, j) = nn_uniform(nn_key(seed, NN_STREAM_DROPOUT, epoch, layer), r * out + j) >= p */
typedef struct {
    uint64_t seed, epoch;
    const int64_t *rows; /* global sample index of each row of the batch */
} nn_dropout_ctx;

/* Builds the layer table the spec describes and allocates the flat buffers (params, grads with
 * spec->nextra extra slots, activations for max_batch rows). Returns 0, or -1 on allocation
 * failure. */
int nn_model_create_spec(nn_model *m, const nn_model_spec *spec);
void nn_model_free(nn_model *m);

/* Initial weights, drawn from the counter-based stream (seed, INIT, layer, tensor), so they
 * are identical on every rank: torch (nn.Linear's default: weight and bias
 * ~ U(-1/sqrt(in), 1/sqrt(in))), xavier_uniform/normal and kaiming_uniform/normal as
 * torch.nn.init with gain = calculate_gain(layer activation), normal(0, std). Biases of the
 * non-torch schemes start at 0. */
void nn_model_init_scheme(nn_model *m, uint64_t seed, nn_init_kind k, double std);
/* The bound (uniform schemes) or std (normal schemes) of layer l's weights under scheme k. */
double nn_init_scale(const nn_model *m, int l, nn_init_kind k, double std);

static inline float *nn_weight(const nn_model *m, int l) { return m->params + m->layers[l].w_off; }
static inline float *nn_bias(const nn_model *m, int l) { return m->params + m->layers[l].b_off; }

/* Forward x (B, in0) through all layers; returns the logits (B, out_last) (a workspace).
 * No dropout (inference). */
const float *nn_forward(nn_model *m, const float *x, int B);
/* Training forward: dropout applied with masks from ctx (ctx == NULL: none). */
const float *nn_forward_train(nn_model *m, const float *x, int B, const nn_dropout_ctx *ctx);

/* Backward's hook: ready(from, user) says grads[from ..) are final (called with decreasing
 * from: after each layer's bias gradient and after each piece of its weight gradient, whose
 * rows are computed from the last one down), and it is also called between the pieces of the
 * input-gradient GEMM (same from). The caller starts reducing a bucket as soon as it is final
 * and progresses the reductions in flight. With piece_flops > 0 each layer's two GEMMs are
 * cut into pieces of at least that many flops (and 16 rows or columns), about flops /
 * piece_flops of them; every element is still summed in the same order. (Same bits as long as
 * the BLAS takes the same code path for a piece as for the whole GEMM: OpenBLAS uses other
 * kernels below ~7.3 million multiply-adds, so callers keep piece_flops >= 16e6.) */
typedef struct {
    void (*ready)(size_t from, void *user);
    void *user;
    double piece_flops;
} nn_backward_hook;

/* Backward from dlogits (B, out_last) for the batch last passed to nn_forward. With
 * accumulate != 0 the parameter gradients are *added* into m->grads; with accumulate == 0
 * they overwrite it (the training step: no separate zeroing pass). hook may be NULL. */
void nn_backward(nn_model *m, const float *x, const float *dlogits, int B, int accumulate,
                 const nn_backward_hook *hook);

/* Deterministic mode's step over a shard of B rows made of chunks of `chunk` rows (the last may
 * be shorter). Forward: layer l's GEMM runs over all B rows when whole[l], else chunk by chunk
 * (activations and dropout are per row anyway). Backward: each chunk's weight and bias
 * gradients alone into gbuf[j] (at the model's offsets), exactly as nn_backward computes them
 * for that chunk's rows; the input gradient of layer l over all B rows when din_whole[l], else
 * chunk by chunk. With every flag 0 this is the same arithmetic as running each chunk alone;
 * a flag may be 1 only where the BLAS gives each row the same bits either way
 * (nn_model_rows_consistent). */
const float *nn_forward_train_chunked(nn_model *m, const float *x, int B, const nn_dropout_ctx *ctx,
                                      int chunk, const int *whole);
void nn_backward_chunked(nn_model *m, const float *x, const float *dlogits, int B, int chunk,
                         float *const *gbuf, const int *din_whole);

/* For each layer: does this process's BLAS give each row of the forward GEMM (fwd[l]) and of
 * the input-gradient GEMM (din[l]) the same bits whether a call has M rows or the rows come in
 * calls of `chunk` rows (the last shorter), for every M in ms? (OpenBLAS takes other kernels
 * for small shapes — seen: the 1024 -> 10 layer's forward at 32 vs 128 rows — and its choice
 * can depend on the thread count, so this is checked, not assumed.) Synthetic weights and
 * inputs with the layers' shapes; allocates and frees scratch (all flags 0 if that fails). */
int nn_model_rows_consistent(const nn_model *m, int chunk, const int *ms, int nms, int *fwd,
                             int *din);

#endif
