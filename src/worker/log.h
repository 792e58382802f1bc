/* What rank 0 writes while training: metrics.csv (the history's rows) and the console
 * (banner, progress bar, epoch lines, events, warnings; text or JSON). */
#ifndef NT_LOG_H
#define NT_LOG_H
#include "history.h"
#include "util.h"
#include <limits.h>
#include <stdio.h>

typedef struct {
    FILE *f;
    const nt_history *h; /* which columns, and their names (history.h) */
    char path[PATH_MAX];
} nt_metrics;

/* Creates DIR/metrics.csv with the header of h's columns (history.h: epoch, the train and val
 * set columns, samples_per_s, elapsed_s, lr, the test columns when there is a test set,
 * data_wait_s). Returns 0 or -1 with e set. */
int nt_metrics_open(nt_metrics *m, const char *dir, const nt_history *h, nt_err *e);
void nt_metrics_row(nt_metrics *m, const nt_hrow *r);
void nt_metrics_close(nt_metrics *m);


/* ---- what the operator sees (rank 0 only) -------------------------------------------- */

/* Console output of a run: text lines (default), one JSON object per line (--log-format
 * json, for log collectors), or nothing but warnings/errors (--quiet). On a terminal, text
 * mode draws a live progress bar per epoch. */
typedef struct {
    int rank0, quiet, verbose, json, progress;
    double last_draw;
    int bar_shown;
} nt_reporter;

/* progress: 1 force on, 0 off, -1 auto (stdout is a terminal; see log.c for mpirun) */
void nt_report_init(nt_reporter *r, int rank, int quiet, int verbose, int json, int progress);

/* Start-up banner. */
typedef struct {
    const char *version, *config, *out_dir, *model, *activation, *optimizer, *loss;
    const char *blas; /* the OpenBLAS kernel rank 0 runs ("Cooperlake") */
    int ranks, nodes, threads;
    size_t params;
    double lr;
    long long n_train, n_val, n_test, batch, shard_min, shard_max, steps;
    int epochs, streaming;
    double cache_mb;
    double overlap_mb; /* > 0: the allreduce overlaps backward in buckets of this many MiB */
    const char *exchange; /* "allreduce" or "zero1" */
    int deterministic;
    long long chunk;      /* rows per chunk (deterministic) */
    double state_bytes;   /* optimizer state on the rank holding the most */
    int accumulate;       /* micro-batches per shard ([train] accumulate) */
} nt_run_info;
void nt_report_start(nt_reporter *r, const nt_run_info *i);

/* An event worth a line (resume, init-from, model written, stopped): text as given; json
 * {"event": event, "message": text} plus the optional key/value string pairs. */
void nt_report_event(nt_reporter *r, const char *event, const char *text);

/* Called after each step; draws at most 5 times per second. */
void nt_report_progress(nt_reporter *r, int epoch, int epochs, long long step, long long steps,
                        double samples, double secs, double loss, double acc, int regression);

/* One epoch's results (a row of h); timing {train, data wait, eval, checkpoint} seconds
 * (verbose). */
void nt_report_epoch(nt_reporter *r, const nt_history *h, const nt_hrow *row, int epochs,
                     const double timing[4]);

/* A warning (stderr in text mode, a JSON object on stdout in json mode); not silenced by
 * --quiet. */
void nt_report_warning(nt_reporter *r, const char *text);

#endif
