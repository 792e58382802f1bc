/* The gradient exchange (exchange.h): bucketed allreduce overlapped with backward. */
#include "exchange.h"

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
    int rc = comm_reducer_ready(&x->red, x->m->layers[l].w_off);
    if (rc != MPI_SUCCESS) x->rc = rc;
}

int nt_exchange_wait(nt_exchange *x)
{
    int rc = comm_reducer_wait(&x->red);
    int first = x->rc != MPI_SUCCESS ? x->rc : rc;
    x->rc = MPI_SUCCESS;
    return first;
}
