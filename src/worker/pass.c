/* Sharded, windowed passes over a dataset (see pass.h). */
#include "pass.h"
#include "sampler.h"
#include <stdlib.h>
#include <string.h>

int nt_pass_init(nt_pass *p, nt_data *d, const int64_t *rows, int64_t n, int64_t cap_rows,
                 int keep_resident, const comm_t *c, nt_err *e)
{
    return nt_pass_init_chunked(p, d, rows, n, cap_rows, keep_resident, 0, c, e);
}

int nt_pass_init_chunked(nt_pass *p, nt_data *d, const int64_t *rows, int64_t n, int64_t cap_rows,
                         int keep_resident, int64_t chunk, const comm_t *c, nt_err *e)
{
    memset(p, 0, sizeof *p);
    p->data = d;
    p->rows = rows;
    p->n = n;
    p->keep = keep_resident;
    nn_shard_chunks(n, n, c->size, c->rank, 0, chunk, &p->lo, &p->hi);
    int64_t most = (n + c->size - 1) / c->size; /* the largest share: same nwin everywhere */
    if (chunk > 0) { /* whole chunks: shares, windows and so batches start at chunk bounds */
        const int64_t g = (n + chunk - 1) / chunk;
        most = (g + c->size - 1) / c->size * chunk;
        if (cap_rows > chunk) cap_rows -= cap_rows % chunk;
    }
    if (cap_rows < 1) cap_rows = 1;
    if (chunk > 0 && cap_rows < chunk) cap_rows = chunk;
    p->per_window = most < cap_rows ? (most > 0 ? most : 1) : cap_rows;
    p->nwin = (most + p->per_window - 1) / p->per_window;
    if (!rows && !(p->ids = malloc(sizeof(int64_t) * (size_t)p->per_window)))
        return nt_fail(e, "out of memory");
    return nt_window_alloc(&p->win, d, p->per_window, e);
}

void nt_pass_free(nt_pass *p)
{
    nt_window_free(&p->win);
    free(p->ids);
    p->ids = NULL;
}

void nt_pass_set_order(nt_pass *p, const nn_perm *order)
{
    p->order = *order;
    p->has_order = 1;
}

int nt_pass_run(nt_pass *p, float *x, int32_t *labels, float *targets, int bmax,
                nt_pass_batch_fn batch, nt_pass_window_fn window_done, void *user, nt_err *e)
{
    int status = 0;
    for (int64_t w = 0; w < p->nwin; w++) {
        int64_t a = p->lo + w * p->per_window;
        int64_t b = a + p->per_window < p->hi ? a + p->per_window : p->hi;
        int64_t cnt = b > a && !status ? b - a : 0;
        if (!p->resident) {
            const int64_t *req = p->rows ? p->rows + (a < p->hi ? a : p->hi) : p->ids;
            for (int64_t i = 0; !p->rows && i < cnt; i++)
                p->ids[i] = p->has_order ? nn_perm_at(&p->order, a + i) : a + i;
            /* also with cnt = 0: collective reads keep every rank in step */
            if (nt_window_read(&p->win, p->data, req, cnt, e) && !status) status = NT_EXIT_RUNTIME;
            if (status) cnt = 0;
        }
        for (int64_t i = 0; i < cnt && !status; i += bmax) {
            int nb = (int)(cnt - i < bmax ? cnt - i : bmax);
            int64_t col = 0, bad = nt_window_gather(&p->win, p->data, i, nb, x, labels, targets, &col);
            if (bad >= 0) {
                nt_window_nonfinite(e, &p->win, p->data, i + bad, col);
                status = NT_EXIT_INPUT;
                cnt = 0;
                break;
            }
            batch(user, a + i, i, nb);
        }
        if (window_done && window_done(user, a, status ? 0 : cnt) && !status)
            status = NT_EXIT_RUNTIME;
    }
    if (p->keep && p->nwin == 1 && !status) p->resident = 1;
    return status;
}
