/* The gradient exchange: how the ranks' gradient buffers (with the ride-along scalars at
 * their end) are combined before the optimizer step. Today one strategy: a bucketed
 * non-blocking allreduce (src/comm) whose buckets start while backward still computes
 * earlier layers. The step and the optimizer see only the combined buffer, so other
 * strategies (a sharded optimizer, an order-independent exact sum) plug in here. */
#ifndef NT_EXCHANGE_H
#define NT_EXCHANGE_H
#include "comm.h"
#include "model.h"

typedef struct {
    comm_reducer red;
    const nn_model *m;
    int rc; /* the first MPI error of a bucket started during backward */
    /* timing, summed until the caller resets them: allreduce from the first bucket's start
     * (during backward, or in nt_exchange_wait) to the end of nt_exchange_wait, and the part
     * of it spent in nt_exchange_wait (not hidden behind backward) */
    double t_first, comm_s, exposed_s;
} nt_exchange;

/* Over m->grads[0 .. nparams + nextra) in buckets of bucket_mb MiB. Returns an MPI code. */
int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, double bucket_mb);
void nt_exchange_free(nt_exchange *x);
/* Backward's hook: layer l's gradients (and everything after them) are final. */
void nt_exchange_layer_done(int l, void *x);
/* Completes the exchange: the buffer holds the sum over ranks. Returns MPI_SUCCESS or the
 * first MPI error. */
int nt_exchange_wait(nt_exchange *x);

#endif
