/* The gradient exchange: how the ranks' gradient buffers (with the ride-along scalars at
 * their end) are combined before the optimizer step. Today one strategy: a bucketed
 * non-blocking allreduce (src/comm) whose buckets start while backward still computes
 * earlier layers. The step and the optimizer see only the combined buffer, so other
 * strategies (a sharded optimizer, an order-independent exact sum) plug in here. */
#ifndef NT_EXCHANGE_H
#define NT_EXCHANGE_H
#include "comm.h"
#include "model.h"

/* the smallest backward piece (see nn_backward_hook) */
#define NT_PIECE_MIN_MFLOP 16.0

typedef struct {
    comm_reducer red;
    nn_backward_hook hook; /* for nn_backward: starts and progresses the buckets */
    int rc; /* the first MPI error of a bucket started during backward */
    /* timing, summed until the caller resets them: allreduce from the first bucket's start
     * (during backward, or in nt_exchange_wait) to the end of nt_exchange_wait, and the part
     * of it spent in nt_exchange_wait (not hidden behind backward) */
    double t_first, comm_s, exposed_s;
} nt_exchange;

/* Over m->grads[0 .. nparams + nextra). overlap != 0: in buckets of bucket_mb MiB started
 * during backward, which is cut into pieces of about piece_mflop million flops (0: whole
 * layers) between which the buckets in flight progress; overlap == 0: one blocking allreduce
 * after backward. Every rank must pass the same values. Returns an MPI code. */
int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, int overlap,
                     double bucket_mb, double piece_mflop);
void nt_exchange_free(nt_exchange *x);
/* Completes the exchange: the buffer holds the sum over ranks. Returns MPI_SUCCESS or the
 * first MPI error. */
int nt_exchange_wait(nt_exchange *x);

#endif
