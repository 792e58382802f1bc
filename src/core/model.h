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
    size_t w_off, b_off; /* offsets of weight (out*in) and bias (out) in params/grads */
} nn_layer;

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
} nn_model;

/* Builds the layer table from sizes[0..nlayers] (input width first); hidden layers use
 * `hidden`, the last is identity (logits). Returns 0, or -1 on allocation failure. */
int nn_model_create(nn_model *m, const int *sizes, int nlayers, nn_act hidden,
                    int max_batch, size_t nextra);
void nn_model_free(nn_model *m);

/* torch.nn.Linear's default init: weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from
 * the counter-based stream (seed, INIT, layer, tensor), so it is identical on every rank. */
void nn_model_init(nn_model *m, uint64_t seed);

static inline float *nn_weight(const nn_model *m, int l) { return m->params + m->layers[l].w_off; }
static inline float *nn_bias(const nn_model *m, int l) { return m->params + m->layers[l].b_off; }

/* Forward x (B, in0) through all layers; returns the logits (B, out_last) (a workspace). */
const float *nn_forward(nn_model *m, const float *x, int B);

/* Backward from dlogits (B, out_last) for the batch last passed to nn_forward. With
 * accumulate != 0 the parameter gradients are *added* into m->grads; with accumulate == 0
 * they overwrite it (the training step: no separate zeroing pass). After layer l's gradients are complete, calls done(l, user) if done != NULL —
 * the hook that lets the caller start reducing a bucket while earlier layers still compute. */
void nn_backward(nn_model *m, const float *x, const float *dlogits, int B, int accumulate,
                 void (*done)(int layer, void *user), void *user);

#endif
