/* The training-data stream: where the rows of each step come from. It owns the sample order
 * (the validation split and each epoch's permutation: index tables, or Feistel bijections for
 * very large files), this rank's shard of every global batch, and the read windows: the rows
 * of several steps read at once, the next window read ahead while the current one trains.
 *   nt_stream_begin_epoch(&s, epoch, first_step);
 *   while (nt_stream_next(&s, &batch, &e)) ...   one step's shard in batch
 * Window reads are collective: every rank calls nt_stream_next equally often. */
#ifndef NT_STREAM_H
#define NT_STREAM_H
#include "dataset.h"
#include "sampler.h"

/* One step's rows on this rank, as the model reads them; the buffers are allocated once and
 * shared with evaluation. */
typedef struct {
    float *x;           /* (bmax, D) features, scaled and standardised */
    int32_t *labels;    /* (bmax) classification labels */
    float *targets;     /* (bmax, K) regression targets */
    int bmax;
    int n;              /* rows of this step on this rank (0 after a failure) */
    int64_t global_n;   /* rows of this step on all ranks: the loss is divided by it */
    const int64_t *rows;/* their file rows (dropout masks are keyed by them) */
    int64_t epoch, step;/* step within the epoch, from 0 */
    int err;            /* reading failed on this rank: the stream's nt_err says why */
} nt_batch;

int nt_batch_alloc(nt_batch *b, int bmax, int64_t D, int K);
void nt_batch_free(nt_batch *b);

typedef struct {
    nt_data *data;
    int64_t n_val, n_train;   /* validation rows first in the split order, then training */
    int64_t batch;            /* the global batch */
    int64_t epochs;           /* the last epoch (nothing is read ahead beyond it) */
    int64_t cache_rows;       /* rows this rank may hold: two windows of half of it each */
    double cache_bytes;       /* the same budget in bytes: when the whole training split fits
                               * in it decoded (floats), it is read once and kept */
    uint64_t seed;
    int feistel;              /* Feistel bijections instead of index tables */
    int rank, nranks;
    int64_t chunk;            /* > 0: shards are whole chunks of this many rows of the global
                               * batch (deterministic mode, nn_shard_chunks) */
} nt_stream_cfg;

typedef struct {
    nt_stream_cfg cfg;
    int64_t steps, shard_max, spw; /* steps per epoch, largest shard, steps per window */
    int64_t *split;                /* table of the validation split (not with Feistel) */
    nn_perm split_perm;
    int64_t *perm2[2];             /* tables of the two live epoch permutations */
    nn_perm eperm[2];              /* epoch e's permutation is eperm[e & 1] */
    int64_t perm_epoch[2];
    nt_window win[2];              /* one window computing, one being read ahead */
    int64_t *rows2[2], *step_off2[2]; /* per window: file rows, first row of each step */
    int64_t win_epoch[2], win_s0[2];
    int win_err[2];
    /* position */
    int64_t epoch, step, s0, s1;   /* next step; the current window holds steps [s0, s1) */
    int cur, read_err;
    double data_wait_s;            /* this epoch: time spent waiting for a window */
    /* resident: every training row decoded once (scaled, standardised, checked finite) in
     * training-position order; no windows, no reads after nt_stream_load */
    int resident;
    float *res_x, *res_t;
    int32_t *res_y;
} nt_stream;

/* Allocates everything (once) and computes the validation split. Not collective. Returns 0
 * or -1 with e set. */
int nt_stream_init(nt_stream *s, const nt_stream_cfg *cfg, nt_err *e);
/* Collective: when the stream is resident, reads and decodes every training row once. Returns
 * 0, or NT_EXIT_INPUT (a non-finite value: e names the row and column) or NT_EXIT_RUNTIME (a
 * read failed, out of memory) with e set; every rank reads every row, so all agree. */
int nt_stream_load(nt_stream *s, nt_err *e);
/* Collective: completes a read still in flight, then frees. */
void nt_stream_free(nt_stream *s);

/* Validation row i is file row nn_perm_at(order, i), i < n_val. */
const nn_perm *nt_stream_val_order(const nt_stream *s);

/* Positions the stream at step first_step of epoch (a resumed epoch starts inside). */
void nt_stream_begin_epoch(nt_stream *s, int64_t epoch, int64_t first_step);
/* Collective. The next step's shard of this rank into b; returns 1, or 0 at the end of the
 * epoch. A failed read or a non-finite value sets b->err (and e) instead of stopping: the
 * caller still joins the step's exchange, where every rank learns of it. */
int nt_stream_next(nt_stream *s, nt_batch *b, nt_err *e);

#endif
