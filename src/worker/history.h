/* The run's history: one row of results per epoch, with named columns. The column table in
 * history.c is the one description of a row; metrics.csv (its header and number formats),
 * the checkpoint's /metrics dataset (its `columns` attribute), the JSON log's epoch events and
 * `nntrain plot` (which reads metrics.csv back by these names) all come from it. */
#ifndef NT_HISTORY_H
#define NT_HISTORY_H
#include "err.h"
#include <stdio.h>

/* Columns in storage order. Per set (train, val, test): loss, then accuracy (classification)
 * or RMSE (regression), then MAE (regression only). */
enum {
    NT_H_EPOCH,
    NT_H_TRAIN_LOSS, NT_H_TRAIN_M1, NT_H_TRAIN_M2,
    NT_H_VAL_LOSS, NT_H_VAL_M1, NT_H_VAL_M2,
    NT_H_TEST_LOSS, NT_H_TEST_M1, NT_H_TEST_M2,
    NT_H_SAMPLES_PER_S, NT_H_ELAPSED_S, NT_H_LR,
    NT_H_STORED,                   /* the columns above are kept in checkpoints */
    NT_H_DATA_WAIT_S = NT_H_STORED, /* time waiting for training rows (not kept) */
    NT_H_ALLREDUCE_S,              /* gradient allreduce: first bucket started -> all done, rank 0 */
    NT_H_EXPOSED_S,                /* the part of it the step waited for after backward */
    NT_H_BEST_EPOCH,               /* early stopping: the best epoch so far (shown only then) */
    NT_H_NCOLS
};
enum { NT_SET_TRAIN, NT_SET_VAL, NT_SET_TEST };
/* First column of a set: v[NT_H_SET(s) + 0..2] = loss, acc|rmse, mae. */
#define NT_H_SET(s) (NT_H_TRAIN_LOSS + 3 * (s))

typedef struct { double v[NT_H_NCOLS]; } nt_hrow;

typedef struct {
    nt_hrow *rows;
    int n, cap;
    int regression, has_val, has_test; /* which columns a consumer shows */
    int early;                          /* early stopping: best_epoch is shown */
} nt_history;

/* An empty history for up to cap rows (allocated once). Returns 0 or -1 (out of memory). */
int nt_history_init(nt_history *h, int cap, int regression, int has_val, int has_test);
void nt_history_free(nt_history *h);
/* Appends a row (ignored when full). */
void nt_history_add(nt_history *h, const nt_hrow *r);

/* The column's name for this task (e.g. "val_acc" or "val_rmse"), or NULL when the column is
 * not shown for it (MAE in classification, test columns without a test set). */
const char *nt_history_name(const nt_history *h, int col);

/* ---- metrics.csv ---- */
/* Column order of metrics.csv and of the JSON epoch event (NT_H_NCOLS-terminated, -1 ends). */
extern const int nt_history_csv_order[], nt_history_json_order[];
void nt_history_csv_header(const nt_history *h, FILE *f);
void nt_history_csv_row(const nt_history *h, const nt_hrow *r, FILE *f);
/* Reads a metrics.csv written by any nntrain (columns found by name; unknown columns are
 * skipped, missing ones are NaN). Fills h (allocated here; free with nt_history_free).
 * Returns 0, or -1 with e naming the file and line. */
int nt_history_read_csv(nt_history *h, const char *path, nt_err *e);

/* ---- checkpoints: rows of the NT_H_STORED stored columns ---- */
/* The comma-joined names of the stored columns (task-independent, e.g. train_acc_or_rmse). */
const char *nt_history_stored_columns(void);
/* Copies the stored columns of every row into out (n * NT_H_STORED doubles), and back
 * (columns not stored are 0). */
void nt_history_pack(const nt_history *h, double *out);
void nt_history_unpack(nt_history *h, const double *in, int n);

#endif
