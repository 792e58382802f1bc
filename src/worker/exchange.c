/* The gradient exchange (exchange.h): allreduce (bucketed, overlapped with backward) or
 * ZeRO-1 (reduce-scatter, sliced update, allgather), either one optionally deterministic
 * (fixed chunks summed exactly). */
#include "exchange.h"
#include "exact.h"
#include "util.h" /* nt_now */
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Backward's hook: grads[from ..) are final; start what is complete, progress what flies. */
static void ready(size_t from, void *user)
{
    nt_exchange *x = user;
    const int before = x->red.started;
    int rc = comm_reducer_ready(&x->red, from);
    if (before == 0 && x->red.started > 0) x->t_first = nt_now();
    if (rc != MPI_SUCCESS && x->rc == MPI_SUCCESS) x->rc = rc;
}

int nt_exchange_init(nt_exchange *x, comm_t *c, const nn_model *m, size_t nextra, size_t nflags,
                     const nt_exchange_cfg *cfg)
{
    *x = (nt_exchange){.c = c, .cfg = *cfg, .grads = m->grads, .nparams = m->nparams,
                       .nextra = nextra, .nflags = nflags, .rc = MPI_SUCCESS};
    const size_t n = m->nparams + nextra;
    int rc = comm_slices_init(&x->sl, c, m->nparams, NT_SLICE_ALIGN);
    if (rc != MPI_SUCCESS) return rc;
    x->lo = cfg->zero1 ? x->sl.lo : 0;
    x->hi = cfg->zero1 ? x->sl.hi : m->nparams;
    if (cfg->deterministic) {
        const int64_t g = (cfg->batch + cfg->chunk - 1) / cfg->chunk; /* chunks per batch */
        x->kmax = (int)((g + c->size - 1) / c->size);
        if (x->kmax < 1) x->kmax = 1;
        x->S = nn_exact_shift(g);
        x->nblocks = nn_exact_blocks(m->nparams);
        x->cbuf = calloc((size_t)x->kmax, sizeof *x->cbuf);
        x->ex = malloc(x->nblocks + nextra);
        x->acc = malloc(sizeof(int64_t) * n);
        x->parts = calloc(m->nparams / NT_SLICE_ALIGN + 1, sizeof(double));
        if (!x->cbuf || !x->ex || !x->acc || !x->parts) return MPI_ERR_NO_MEM;
        x->cbuf[0] = m->grads;
        for (int j = 1; j < x->kmax; j++)
            if (!(x->cbuf[j] = malloc(sizeof(float) * n))) return MPI_ERR_NO_MEM;
    }
    /* the bucketed allreduce: allreduce mode, not deterministic */
    const int buckets = !cfg->zero1 && !cfg->deterministic;
    const int overlap = buckets && cfg->overlap && c->size > 1;
    /* pieces of at least 16 MFLOP: OpenBLAS sends GEMMs below 28 * 512 * 512 multiply-adds
     * to its "direct"/small-matrix kernels, which sum in another order (other bits) */
    double pf = cfg->piece_mflop > 0 && cfg->piece_mflop < NT_PIECE_MIN_MFLOP ? NT_PIECE_MIN_MFLOP
                                                                               : cfg->piece_mflop;
    x->hook = (nn_backward_hook){ready, x, overlap ? pf * 1e6 : 0};
    size_t bytes = overlap ? (size_t)(cfg->bucket_mb * 1048576) : n * sizeof(float);
    return comm_reducer_init(&x->red, c, m->grads, buckets ? n : 0, bytes);
}

void nt_exchange_free(nt_exchange *x)
{
    comm_reducer_free(&x->red);
    comm_slices_free(&x->sl);
    for (int j = 1; x->cbuf && j < x->kmax; j++) free(x->cbuf[j]);
    free(x->cbuf);
    free(x->ex);
    free(x->acc);
    free(x->parts);
    x->cbuf = NULL, x->ex = NULL, x->acc = NULL, x->parts = NULL;
}

/* ---- deterministic: the exact sum of every rank's chunks ---- */

static int exact_sum(nt_exchange *x)
{
    const size_t np = x->nparams, ns = x->nextra - x->nflags, nb = x->nblocks;
    int8_t *ex = x->ex;
    memset(ex, NN_EXACT_ZERO & 0xff, nb + ns);
    for (int j = 0; j < x->nchunks; j++) {
        const float *v = x->cbuf[j];
        nn_exact_exponents(v, np, ex);
        for (size_t i = 0; i < ns; i++) nn_exact_exponents(v + np + i, 1, ex + nb + i);
    }
    for (size_t i = 0; i < x->nflags; i++) { /* this rank's flags (chunk 0's slots) */
        const float f = x->grads[np + ns + i];
        ex[nb + ns + i] = (int8_t)(f > 0 ? (f < 127 ? f : 127) : 0);
    }
    /* the grid: every block's largest exponent on any rank; the flags' maximum */
    int rc = comm_allreduce_i8(x->c, ex, nb + x->nextra, COMM_MAX);
    if (rc != MPI_SUCCESS) return rc;
    int64_t *acc = x->acc;
    const float *const *v = (const float *const *)x->cbuf;
    nn_exact_sum(v, x->nchunks, 0, np, ex, x->S, acc);
    for (size_t i = 0; i < ns; i++) nn_exact_sum(v, x->nchunks, np + i, 1, ex + nb + i, x->S, acc + np + i);
    /* integer sums: the same whatever the order or grouping. Reduce-scattered (8 bytes a
     * value), each rank converts its slice, and without zero1 the floats are allgathered (4
     * bytes a value): a quarter fewer bytes than an int64 allreduce, and 1/P of the conversion */
    float *g = x->grads;
    const size_t lo = x->sl.lo, hi = x->sl.hi;
    if ((rc = comm_reduce_scatter_i64(x->c, acc, &x->sl)) != MPI_SUCCESS ||
        (x->c->size > 1 && (rc = comm_allreduce_i64(x->c, acc + np, ns, COMM_SUM)) != MPI_SUCCESS))
        return rc;
    nn_exact_result(acc + lo, hi - lo, ex + lo / NN_EXACT_BLOCK, x->S, g + lo);
    if (!x->cfg.zero1 && (rc = comm_allgather_floats(x->c, g, &x->sl)) != MPI_SUCCESS) return rc;
    for (size_t i = 0; i < ns; i++) nn_exact_result(acc + np + i, 1, ex + nb + i, x->S, g + np + i);
    for (size_t i = 0; i < x->nflags; i++) g[np + ns + i] = ex[nb + ns + i];
    return MPI_SUCCESS;
}

int nt_exchange_wait(nt_exchange *x)
{
    const double t0 = nt_now();
    int rc;
    if (x->cfg.deterministic) {
        rc = exact_sum(x);
    } else if (x->cfg.zero1) {
        rc = comm_reduce_scatter_floats(x->c, x->grads, &x->sl);
        if (rc == MPI_SUCCESS && x->c->size > 1)
            rc = comm_allreduce_floats(x->c, x->grads + x->nparams, x->nextra);
    } else {
        rc = comm_reducer_wait(&x->red);
    }
    const double t1 = nt_now();
    x->exposed_s += t1 - t0;
    x->comm_s += t1 - (x->t_first > 0 ? x->t_first : t0);
    x->t_first = 0;
    int first = x->rc != MPI_SUCCESS ? x->rc : rc;
    x->rc = MPI_SUCCESS;
    return first;
}

/* ---- the update ---- */

/* Sum of squares of g[0..n), which is parameters [lo, lo + n) (lo a multiple of
 * NT_SLICE_ALIGN), in blocks of NT_SLICE_ALIGN summed in block order: the same bits however
 * the blocks are spread over ranks (deterministic zero1). parts has a slot per block of
 * total parameters. */
static int norm2_blocks(nt_exchange *x, const float *g, size_t lo, size_t n, double *ss)
{
    const size_t nparts = x->nparams / NT_SLICE_ALIGN + 1;
    memset(x->parts, 0, sizeof(double) * nparts);
    for (size_t i = 0; i < n; i += NT_SLICE_ALIGN) {
        const size_t len = n - i < NT_SLICE_ALIGN ? n - i : NT_SLICE_ALIGN;
        double s = 0;
        for (size_t k = 0; k < len; k++) s += (double)g[i + k] * g[i + k];
        x->parts[(lo + i) / NT_SLICE_ALIGN] = s;
    }
    /* one owner per block: adding zeros is exact */
    if (x->cfg.zero1 && x->c->size > 1) {
        int rc = comm_allreduce_double(x->c, x->parts, nparts, COMM_SUM);
        if (rc != MPI_SUCCESS) return rc;
    }
    double s = 0;
    for (size_t b = 0; b < nparts; b++) s += x->parts[b];
    *ss = s;
    return MPI_SUCCESS;
}

int nt_exchange_update(nt_exchange *x, nn_optim *o, nn_model *m, double clip_grad_norm)
{
    /* this rank's parameters [lo, lo + n): its zero1 slice (the sum is there, in place), or all */
    const size_t lo = x ? x->lo : 0, n = x ? x->hi - x->lo : m->nparams;
    float *g = m->grads + lo;
    int rc = MPI_SUCCESS;
    if (o->cfg.l1 != 0) nn_optim_add_l1(o, m->params + lo, g);
    if (clip_grad_norm > 0) {
        if (x && x->cfg.deterministic) { /* the same bits for any slicing */
            double ss = 0;
            if ((rc = norm2_blocks(x, g, lo, n, &ss)) != MPI_SUCCESS) return rc;
            nn_clip_scale(g, n, sqrt(ss), clip_grad_norm);
        } else if (x && x->cfg.zero1) { /* the slices' sums of squares summed over ranks */
            double ss = 0;
            for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
            if (x->c->size > 1 && (rc = comm_allreduce_double(x->c, &ss, 1, COMM_SUM)) != MPI_SUCCESS)
                return rc;
            nn_clip_scale(g, n, sqrt(ss), clip_grad_norm);
        } else { /* every rank holds the whole sum: the same norm and factor everywhere */
            nn_clip_grad_norm(g, n, clip_grad_norm);
        }
    }
    nn_optim_step(o, m->params + lo, g);
    if (!x || !x->cfg.zero1) return MPI_SUCCESS;
    /* the parameters to every rank: part of the exchange's time, not hidden */
    const double t0 = nt_now();
    rc = comm_allgather_floats(x->c, m->params, &x->sl);
    const double dt = nt_now() - t0;
    x->comm_s += dt;
    x->exposed_s += dt;
    return rc;
}
