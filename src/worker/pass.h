/* A sharded pass over rows of a dataset: rank r takes the contiguous share [lo, hi) of the
 * set's n rows (nn_shard), reads it in windows of at most per_window rows and hands it out in
 * batches as float features (scaled, standardised) with labels or targets. Validation and
 * test evaluation during training, nntrain eval and nntrain predict all use it. */
#ifndef NT_PASS_H
#define NT_PASS_H
#include "dataset.h"
#include "sampler.h"

typedef struct {
    nt_data *data;
    const int64_t *rows;   /* the set's file rows, or NULL: order(i) (rows 0..n-1 if none) */
    nn_perm order;
    int has_order;
    int64_t n, lo, hi, per_window, nwin;
    nt_window win;
    int64_t *ids;          /* scratch: the current window's file rows when rows == NULL */
    int keep, resident;    /* keep: a share that fits one window is read once and kept */
} nt_pass;

/* Every rank gets the same nwin. cap_rows bounds the window (memory). */
int nt_pass_init(nt_pass *p, nt_data *d, const int64_t *rows, int64_t n, int64_t cap_rows,
                 int keep_resident, const comm_t *c, nt_err *e);
/* The same with shares of whole chunks of `chunk` rows (nn_shard_chunks) and windows of a
 * multiple of chunk rows, so that with a batch size that is a multiple of chunk every batch
 * starts at a chunk boundary of the set (deterministic mode). chunk 0: nt_pass_init. */
int nt_pass_init_chunked(nt_pass *p, nt_data *d, const int64_t *rows, int64_t n, int64_t cap_rows,
                         int keep_resident, int64_t chunk, const comm_t *c, nt_err *e);
void nt_pass_free(nt_pass *p);
/* With rows == NULL: set i is file row nn_perm_at(order, i) (a copy is kept). */
void nt_pass_set_order(nt_pass *p, const nn_perm *order);

/* Per batch: rows [set_index, set_index + nb) of the set, at win_index in the window; the
 * features are in the x/labels/targets given to nt_pass_run. */
typedef void (*nt_pass_batch_fn)(void *user, int64_t set_index, int64_t win_index, int nb);
/* After each window (called equally often on every rank, so it may do collective I/O):
 * rows [a, a + count) of the set; count is 0 after a failure. Returns 0 or -1. */
typedef int (*nt_pass_window_fn)(void *user, int64_t a, int64_t count);

/* Runs the pass. Returns 0, or with e set NT_EXIT_RUNTIME (a failed read or window_done) or
 * NT_EXIT_INPUT (the first non-finite value, named by file, row and column). After a failure it reads nothing more but keeps calling
 * window_done, so collective callers stay in step; the caller agrees on the result. */
int nt_pass_run(nt_pass *p, float *x, int32_t *labels, float *targets, int bmax,
                nt_pass_batch_fn batch, nt_pass_window_fn window_done, void *user, nt_err *e);

#endif
