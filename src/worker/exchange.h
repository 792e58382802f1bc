/* The gradient exchange: how the ranks' gradient buffers (with the ride-along scalars at
 * their end) are combined before the optimizer step, and how that step is shared out.
 *
 *  allreduce   every rank gets the summed gradients (a bucketed non-blocking allreduce whose
 *              buckets may start while backward still computes earlier layers) and updates
 *              every parameter; each rank keeps the full optimizer state.
 *  zero1       ZeRO stage 1: the gradients are reduce-scattered, so rank r holds the sum of
 *              its slice [lo, hi) only (in place, at grads[lo .. hi)), updates that slice, keeps only
 *              that slice's optimizer state, and the parameters are allgathered. The scalars
 *              travel in one small allreduce beside it; gradient clipping uses the global norm
 *              (one more scalar reduction).
 *  deterministic (either mode) the global batch is cut into chunks of `chunk` rows whose
 *              boundaries do not depend on the rank count; the step computes each chunk's
 *              gradient alone into its own buffer (nt_exchange_chunk), and the chunks are summed
 *              exactly (src/core/exact.h: integer fixed point on a grid agreed by a MAX over
 *              ranks), so the sum is the same bits for any number of ranks or threads.
 * The step and the optimizer see only the combined buffer (or their slice of it). */
#ifndef NT_EXCHANGE_H
#define NT_EXCHANGE_H
#include "comm.h"
#include "model.h"
#include "optim.h"

/* the smallest backward piece (see nn_backward_hook) */
#define NT_PIECE_MIN_MFLOP 16.0
/* ZeRO-1 slices start at multiples of this many parameters (cache lines, exact.h blocks, the
 * deterministic norm's blocks) */
#define NT_SLICE_ALIGN 64

typedef struct {
    int zero1;            /* [train] exchange = zero1 */
    int deterministic;    /* [train] deterministic */
    int64_t chunk;        /* rows per chunk (deterministic) */
    int64_t batch;        /* the global batch (deterministic: at most batch / chunk chunks) */
    int overlap;          /* allreduce: buckets during backward */
    double bucket_mb, piece_mflop;
} nt_exchange_cfg;

typedef struct {
    comm_t *c;
    nt_exchange_cfg cfg;
    float *grads;          /* the model's gradient buffer: nparams + nextra */
    size_t nparams, nextra, nflags; /* the last nflags scalars are flags: combined by MAX */
    comm_reducer red;
    nn_backward_hook hook; /* for nn_backward: starts and progresses the buckets */
    int rc; /* the first MPI error of a bucket started during backward */
    /* timing, summed until the caller resets them: the exchange from its start (the first
     * bucket during backward, or the wait) to the end of nt_exchange_wait, and the part of
     * it spent in nt_exchange_wait (not hidden behind backward) */
    double t_first, comm_s, exposed_s;
    /* the ranks' slices of the parameters (reduce-scatter), and the range this rank's
     * optimizer updates: its slice with zero1, everything otherwise */
    comm_slices sl;
    size_t lo, hi;
    /* deterministic */
    int kmax;              /* chunk buffers (the most chunks a rank gets per step) */
    float **cbuf;          /* kmax buffers of nparams + nextra; cbuf[0] is the model's */
    int nchunks;           /* chunks this rank computed this step (set by the step) */
    int S;                 /* the grid shift for batch / chunk chunks */
    size_t nblocks;        /* exponent blocks of the parameters */
    int8_t *ex;            /* nblocks + nextra: block exponents, then one per scalar (flags) */
    int64_t *acc;          /* nparams + nextra */
    double *parts;         /* per NT_SLICE_ALIGN block: its sum of squares (the norm) */
} nt_exchange;

/* Over m->grads[0 .. nparams + nextra), the last nflags of the extras being flags. Every rank
 * must pass the same configuration. Returns an MPI code (MPI_ERR_NO_MEM: out of memory). */
int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, size_t nflags,
                     const nt_exchange_cfg *cfg);
void nt_exchange_free(nt_exchange *x);

/* Deterministic mode: the buffer chunk j's gradient (and scalars) go into, j < x->kmax. */
static inline float *nt_exchange_chunk(nt_exchange *x, int j) { return x->cbuf[j]; }

/* Completes the exchange: in allreduce mode the buffer holds the sum over ranks; in zero1 mode
 * grads[lo .. hi) hold the sum of this rank's slice; the scalars hold their sums (flags
 * their maximum) in both. Returns MPI_SUCCESS or the first MPI error. */
int nt_exchange_wait(nt_exchange *x);

/* After nt_exchange_wait: clip to the global norm (the same on every rank), update (zero1:
 * this rank's slice, then the parameters are allgathered). x == NULL: one process. Returns an
 * MPI code. */
int nt_exchange_update(nt_exchange *x, nn_optim *o, nn_model *m, double clip_grad_norm);

#endif
