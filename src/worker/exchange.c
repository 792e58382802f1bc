/* The gradient exchange (exchange.h): bucketed allreduce overlapped with backward. */
#include "exchange.h"
#include "util.h" /* nt_now */

int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, double bucket_mb)
{
    *x = (nt_exchange){.m = m, .rc = MPI_SUCCESS};
    return comm_reducer_init(&x->red, c, m->grads, m->nparams + nextra, (size_t)(bucket_mb * 1048576));
}

void nt_exchange_free(nt_exchange *x) { comm_reducer_free(&x->red); }

/* After layer l's gradients are complete, everything from its first weight on is final. */
void nt_exchange_layer_done(int l, void *user)
{
    nt_exchange *x = user;
    const int before = x->red.started;
    int rc = comm_reducer_ready(&x->red, x->m->layers[l].w_off);
    if (before == 0 && x->red.started > 0) x->t_first = nt_now();
    if (rc != MPI_SUCCESS) x->rc = rc;
}

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
