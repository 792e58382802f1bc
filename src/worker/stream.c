/* The training-data stream (stream.h): sample order, shards, read windows and read-ahead. */
#include "stream.h"
#include "rng.h"
#include <stdlib.h>
#include <string.h>

int nt_batch_alloc(nt_batch *b, int bmax, int64_t D, int K)
{
    *b = (nt_batch){.bmax = bmax};
    b->x = aligned_alloc(64, ((sizeof(float) * (size_t)bmax * (size_t)D) + 63) & ~(size_t)63);
    b->labels = malloc(sizeof(int32_t) * (size_t)bmax);
    b->targets = malloc(sizeof(float) * (size_t)bmax * (size_t)K);
    return b->x && b->labels && b->targets ? 0 : -1;
}

void nt_batch_free(nt_batch *b)
{
    free(b->x);
    free(b->labels);
    free(b->targets);
    *b = (nt_batch){0};
}

int nt_stream_init(nt_stream *s, const nt_stream_cfg *cfg, nt_err *e)
{
    *s = (nt_stream){.cfg = *cfg, .perm_epoch = {-1, -1}, .win_epoch = {-1, -1}, .win_s0 = {-1, -1}};
    const int64_t N = cfg->n_val + cfg->n_train, B = cfg->batch;
    if (cfg->chunk > 0) { /* whole chunks per rank: the largest share has ceil(g / P) */
        const int64_t g = (B + cfg->chunk - 1) / cfg->chunk;
        s->shard_max = (g + cfg->nranks - 1) / cfg->nranks * cfg->chunk;
        if (s->shard_max > B) s->shard_max = B;
    } else {
        s->shard_max = (B + cfg->nranks - 1) / cfg->nranks;
    }
    if (s->shard_max < 1) s->shard_max = 1;
    s->steps = nn_steps_per_epoch(cfg->n_train, B);
    /* steps per read window; two windows are held (one computing, one being read ahead) */
    s->spw = cfg->cache_rows / 2 / s->shard_max;
    if (s->spw < 1) s->spw = 1;
    if (s->spw > s->steps) s->spw = s->steps;
    /* the whole training split decoded fits the cache: read it once (nt_stream_load) instead of
     * every epoch through the page cache, converting bytes to floats again each time */
    const nt_data *ds = cfg->data;
    const double row = 4.0 * (double)ds->d + (ds->y_float ? 4.0 * (double)ds->k : 4.0);
    s->resident = !cfg->feistel && cfg->n_train > 0 && (double)cfg->n_train * row <= cfg->cache_bytes;
    if (s->resident) s->spw = s->steps;
    if (!cfg->feistel && !(s->split = malloc(sizeof(int64_t) * (size_t)N)))
        return nt_fail(e, "out of memory");
    for (int k = 0; k < 2; k++) {
        /* resident: rows2[0] holds one step's file rows, no windows */
        const int64_t nrows = s->resident ? (k ? 1 : s->shard_max) : s->spw * s->shard_max;
        if (!cfg->feistel) s->perm2[k] = malloc(sizeof(int64_t) * (size_t)cfg->n_train);
        s->rows2[k] = malloc(sizeof(int64_t) * (size_t)(nrows > 0 ? nrows : 1));
        s->step_off2[k] = malloc(sizeof(int64_t) * (size_t)(s->spw + 1));
        if ((!cfg->feistel && !s->perm2[k]) || !s->rows2[k] || !s->step_off2[k])
            return nt_fail(e, "out of memory");
    }
    for (int k = 0; k < 2 && !s->resident; k++)
        if (nt_window_alloc(&s->win[k], cfg->data, s->spw * s->shard_max, e)) return -1;
    /* validation split from the seed: the first n_val of a permutation of the file rows */
    uint64_t key = nn_key(cfg->seed, NN_STREAM_SPLIT, 0, 0);
    if (cfg->feistel) {
        s->split_perm = nn_perm_feistel(N, key);
    } else {
        nn_permutation(s->split, N, key);
        s->split_perm = nn_perm_table(s->split, N);
    }
    return 0;
}

void nt_stream_free(nt_stream *s)
{
    nt_err ignored;
    for (int k = 0; k < 2; k++) { /* a read-ahead still in flight is completed (collectively) */
        if (s->win[k].pending) nt_window_finish(&s->win[k], s->cfg.data, &ignored);
        nt_window_free(&s->win[k]);
        free(s->perm2[k]);
        free(s->rows2[k]);
        free(s->step_off2[k]);
    }
    free(s->split);
    free(s->res_x);
    free(s->res_y);
    free(s->res_t);
    *s = (nt_stream){0};
}

const nn_perm *nt_stream_val_order(const nt_stream *s) { return &s->split_perm; }

/* eperm[e & 1] := the permutation of epoch e (computed once; two epochs are live while the
 * next epoch's first window is read ahead): a table in perm2[e & 1], or a Feistel key. */
static void ensure_perm(nt_stream *s, int64_t e)
{
    if (s->perm_epoch[e & 1] == e) return;
    uint64_t key = nn_key(s->cfg.seed, NN_STREAM_EPOCH_PERM, (uint64_t)e, 0);
    if (s->cfg.feistel) {
        s->eperm[e & 1] = nn_perm_feistel(s->cfg.n_train, key);
    } else {
        nn_permutation(s->perm2[e & 1], s->cfg.n_train, key);
        s->eperm[e & 1] = nn_perm_table(s->perm2[e & 1], s->cfg.n_train);
    }
    s->perm_epoch[e & 1] = e;
}

/* List this rank's file rows for steps [s0, s1) of epoch e (step_off[i] = first row of step
 * s0+i) and start reading them into window k. Training position q is file row
 * split(n_val + q); step t covers epoch permutation positions [t B, (t + 1) B). Collective. */
static void start_window(nt_stream *s, int k, int64_t e, int64_t s0, int64_t s1, nt_err *err)
{
    const nt_stream_cfg *c = &s->cfg;
    ensure_perm(s, e);
    const nn_perm *perm = &s->eperm[e & 1];
    int64_t cnt = 0, *rows = s->rows2[k], *step_off = s->step_off2[k];
    for (int64_t t = s0; t < s1; t++) {
        int64_t lo, hi;
        nn_shard_chunks(c->n_train, c->batch, c->nranks, c->rank, t, c->chunk, &lo, &hi);
        step_off[t - s0] = cnt;
        for (int64_t p = lo; p < hi; p++)
            rows[cnt++] = nn_perm_at(&s->split_perm, c->n_val + nn_perm_at(perm, p));
    }
    step_off[s1 - s0] = cnt;
    s->win_err[k] = nt_window_start(&s->win[k], c->data, rows, cnt, k, err) ? 1 : 0;
    s->win_epoch[k] = e;
    s->win_s0[k] = s0;
}

void nt_stream_begin_epoch(nt_stream *s, int64_t epoch, int64_t first_step)
{
    s->epoch = epoch;
    s->step = s->s0 = s->s1 = first_step;
    s->data_wait_s = 0;
    ensure_perm(s, epoch);
}

/* Makes the window starting at the next step current: normally it was read ahead, else it is
 * read now; then the window after it (of this epoch or the next) is started. */
static void next_window(nt_stream *s, nt_err *e)
{
    const int64_t epoch = s->epoch, s0 = s->step, steps = s->steps;
    const int64_t s1 = s0 + s->spw < steps ? s0 + s->spw : steps;
    int cur = -1;
    for (int k = 0; k < 2; k++)
        if (s->win_epoch[k] == epoch && s->win_s0[k] == s0) cur = k;
    if (cur < 0) {
        cur = s->win[0].pending ? 1 : 0;
        start_window(s, cur, epoch, s0, s1, e);
    }
    double t = nt_now();
    s->read_err = nt_window_finish(&s->win[cur], s->cfg.data, e) || s->win_err[cur] ? 1 : 0;
    s->data_wait_s += nt_now() - t; /* time waiting for data */
    s->win_epoch[cur] = -1;
    /* read ahead the next window (of this epoch or the next) while this one computes */
    int64_t ne = s1 < steps ? epoch : epoch + 1, ns0 = s1 < steps ? s1 : 0;
    if (ne <= s->cfg.epochs) {
        int64_t ns1 = ns0 + s->spw < steps ? ns0 + s->spw : steps;
        start_window(s, cur ^ 1, ne, ns0, ns1, e);
    }
    s->cur = cur;
    s->s0 = s0;
    s->s1 = s1;
}

int nt_stream_load(nt_stream *s, nt_err *e)
{
    if (!s->resident) return 0;
    const nt_stream_cfg *c = &s->cfg;
    const int64_t n = c->n_train, d = c->data->d, k = c->data->k;
    nt_window w = {0};
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)n);
    s->res_x = aligned_alloc(64, ((sizeof(float) * (size_t)(n * d)) + 63) & ~(size_t)63);
    if (c->data->y_float) s->res_t = malloc(sizeof(float) * (size_t)(n * k));
    else s->res_y = malloc(sizeof(int32_t) * (size_t)n);
    int st = 0;
    /* (every rank takes part in the collective read, also one out of memory: it reads 0 rows) */
    if (!rows || !s->res_x || !(s->res_t || s->res_y) || nt_window_alloc(&w, c->data, n, e)) {
        nt_fail(e, "out of memory keeping the %lld training rows in memory ([data] cache_mb)", (long long)n);
        st = NT_EXIT_RUNTIME;
    } else {
        for (int64_t q = 0; q < n; q++) rows[q] = nn_perm_at(&s->split_perm, c->n_val + q);
    }
    if (nt_window_read(&w, c->data, rows, st ? 0 : n, e) && !st) st = NT_EXIT_RUNTIME;
    if (!st) { /* decoded exactly as a window's rows are, once */
        int64_t col = 0;
        int64_t bad = nt_window_gather(&w, c->data, 0, n, s->res_x, s->res_y, s->res_t, &col);
        if (bad >= 0) st = (nt_window_nonfinite(e, &w, c->data, bad, col), NT_EXIT_INPUT);
    }
    nt_window_free(&w);
    free(rows);
    return st;
}

/* A step's shard from the resident rows: their file rows (dropout masks are keyed by them) and
 * a copy of their decoded features and labels. */
static int next_resident(nt_stream *s, nt_batch *b)
{
    const nt_stream_cfg *c = &s->cfg;
    const int64_t t = s->step++, d = c->data->d, k = c->data->k;
    int64_t lo, hi;
    nn_shard_chunks(c->n_train, c->batch, c->nranks, c->rank, t, c->chunk, &lo, &hi);
    const nn_perm *perm = &s->eperm[s->epoch & 1];
    int64_t *rows = s->rows2[0];
    for (int64_t p = lo; p < hi; p++) {
        const int64_t q = nn_perm_at(perm, p), i = p - lo;
        rows[i] = nn_perm_at(&s->split_perm, c->n_val + q);
        memcpy(b->x + i * d, s->res_x + q * d, sizeof(float) * (size_t)d);
        if (s->res_t) memcpy(b->targets + i * k, s->res_t + q * k, sizeof(float) * (size_t)k);
        else b->labels[i] = s->res_y[q];
    }
    b->epoch = s->epoch;
    b->step = t;
    b->global_n = (t + 1) * c->batch < c->n_train ? c->batch : c->n_train - t * c->batch;
    b->rows = rows;
    b->err = 0;
    b->n = (int)(hi - lo);
    return 1;
}

int nt_stream_next(nt_stream *s, nt_batch *b, nt_err *e)
{
    if (s->step >= s->steps) return 0;
    if (s->resident) return next_resident(s, b);
    if (s->step >= s->s1) next_window(s, e);
    const int64_t t = s->step++, i = t - s->s0, B = s->cfg.batch, n_train = s->cfg.n_train;
    const int64_t *off = s->step_off2[s->cur];
    b->epoch = s->epoch;
    b->step = t;
    b->global_n = (t + 1) * B < n_train ? B : n_train - t * B;
    b->rows = s->rows2[s->cur] + off[i];
    b->err = s->read_err;
    b->n = b->err ? 0 : (int)(off[i + 1] - off[i]);
    int64_t col = 0;
    int64_t bad = nt_window_gather(&s->win[s->cur], s->cfg.data, off[i], b->n, b->x, b->labels,
                                   b->targets, &col);
    if (bad >= 0) { /* non-finite input: stop everyone at this step, name the row */
        nt_window_nonfinite(e, &s->win[s->cur], s->cfg.data, off[i] + bad, col);
        s->read_err = b->err = 1;
        b->n = 0;
    }
    return 1;
}
