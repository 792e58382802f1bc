/* One training step on this rank's shard, and the optimizer step after the exchange:
 *   nt_train_step(&s, &batch, error, stop);      forward, loss / B_global, backward
 *   nt_exchange_wait(x);                         gradients (+ scalars) summed over ranks
 *   nt_optimizer_step(&opt, m, clip);            identical update on every rank
 * The ride-along scalars after the gradients (loss sum, metric sums, row count, error and
 * stop flags) travel in the same exchange, so metrics and "did any rank fail or get a
 * signal?" cost no extra collective. The fixture tests call these same functions. */
#ifndef NT_STEP_H
#define NT_STEP_H
#include "exchange.h"
#include "model.h"
#include "optim.h"
#include "stream.h"

/* Ride-along slots after the gradients: loss sum, metric sums (correct | squared error,
 * absolute error), rows, error flag, stop request. */
enum { NT_X_LOSS, NT_X_M0, NT_X_M1, NT_X_COUNT, NT_X_ERROR, NT_X_STOP, NT_X_N };

typedef struct {
    nn_model *m;          /* created with NT_X_N extra gradient slots */
    const nn_loss *loss;
    uint64_t seed;        /* dropout masks: (seed, epoch, layer, file row) */
    float *dz;            /* (bmax, K) workspace */
    nt_exchange *x;       /* NULL: nothing to exchange (one process) */
    int accumulate;       /* micro-batches per shard (gradient accumulation); 0 or 1: one */
    /* deterministic: which layers' forward / input-gradient GEMMs run over the whole shard
     * (checked at start to give every row its chunk's bits: nn_model_rows_consistent); the
     * others, and every weight gradient, run chunk by chunk */
    int det_fwd[64], det_din[64];
} nt_step;

/* The ride-along scalars (NT_X_N floats after the gradients). */
static inline float *nt_step_scalars(const nn_model *m) { return m->grads + m->nparams; }

/* Forward (with dropout) of b's rows, the loss scaled by 1/b->global_n (so the sum over ranks
 * is the exact mean of the global batch), backward overwriting the gradients; the scalars
 * are set before backward starts the exchange's buckets. error/stop: this rank's flags.
 * Deterministic exchange: each chunk of the shard (x->cfg.chunk rows) is computed alone into
 * its own buffer (nt_exchange_chunk); the exchange sums them. */
void nt_train_step(nt_step *s, const nt_batch *b, int error, int stop);

/* After the exchange: clip to the global norm (the same on every rank) and update (with
 * zero1 this rank's slice, then the parameters are allgathered; nt_exchange_update). x may be
 * NULL (one process). Returns an MPI code. */
int nt_optimizer_step(nn_optim *o, nn_model *m, double clip_grad_norm, nt_exchange *x);

#endif
