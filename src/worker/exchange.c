/* The gradient exchange (exchange.h): bucketed allreduce overlapped with backward. */
#include "exchange.h"
#include "util.h" /* nt_now */

/* Backward's hook: grads[from ..) are final; start what is complete, progress what flies. */
static void ready(size_t from, void *user)
{
    nt_exchange *x = user;
    const int before = x->red.started;
    int rc = comm_reducer_ready(&x->red, from);
    if (before == 0 && x->red.started > 0) x->t_first = nt_now();
    if (rc != MPI_SUCCESS && x->rc == MPI_SUCCESS) x->rc = rc;
}

int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, int overlap,
                     double bucket_mb, double piece_mflop)
{
    *x = (nt_exchange){.rc = MPI_SUCCESS};
    const size_t n = m->nparams + nextra;
    /* without overlap (or with one rank: nothing in flight) one bucket, never started early,
     * and whole GEMMs */
    overlap = overlap && c->size > 1;
    /* pieces of at least 16 MFLOP: OpenBLAS sends GEMMs below 28 * 512 * 512 multiply-adds
     * to its "direct"/small-matrix kernels, which sum in another order (other bits) */
    double pf = piece_mflop > 0 && piece_mflop < NT_PIECE_MIN_MFLOP ? NT_PIECE_MIN_MFLOP : piece_mflop;
    x->hook = (nn_backward_hook){ready, x, overlap ? pf * 1e6 : 0};
    size_t bytes = overlap ? (size_t)(bucket_mb * 1048576) : n * sizeof(float);
    return comm_reducer_init(&x->red, c, m->grads, n, bytes);
}

void nt_exchange_free(nt_exchange *x) { comm_reducer_free(&x->red); }

int nt_exchange_wait(nt_exchange *x)
{
    const double t0 = nt_now();
    int rc = comm_reducer_wait(&x->red);
    const double t1 = nt_now();
    x->exposed_s += t1 - t0;
    x->comm_s += t1 - (x->t_first > 0 ? x->t_first : t0);
    x->t_first = 0;
    int first = x->rc != MPI_SUCCESS ? x->rc : rc;
    x->rc = MPI_SUCCESS;
    return first;
}
