/* Per-epoch metrics record, written by rank 0 to <output.dir>/metrics.csv. */
#ifndef NT_LOG_H
#define NT_LOG_H
#include "util.h"
#include <limits.h>
#include <stdio.h>

/* Per set: {loss, accuracy, NaN} for classification, {loss, rmse, mae} for regression. */
typedef struct {
    int epoch;
    double train[3], val[3], test[3];
    double samples_per_s, elapsed_s;
    double lr;     /* learning rate of the epoch's last step */
    double data_s; /* time rank 0 waited for training rows (read-ahead not ready) */
} nt_epoch_stats;

typedef struct {
    FILE *f;
    int has_test, regression;
    char path[PATH_MAX];
} nt_metrics;

/* metrics.csv columns: classification
 *   epoch,train_loss,train_acc,val_loss,val_acc,samples_per_s,elapsed_s,lr[,test_loss,test_acc],
 *   data_wait_s
 * regression: train/val/test each loss,rmse,mae. */
/* append != 0 (a resumed run): continue an existing metrics.csv (header written if new). */
int nt_metrics_open(nt_metrics *m, const char *dir, int has_test, int regression, int append,
                    nt_err *e);
void nt_metrics_row(nt_metrics *m, const nt_epoch_stats *s);
void nt_metrics_close(nt_metrics *m);

#endif

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
    int ranks, nodes, threads;
    size_t params;
    double lr;
    long long n_train, n_val, n_test, batch, shard_min, shard_max, steps;
    int epochs, streaming;
    double cache_mb;
} nt_run_info;
void nt_report_start(nt_reporter *r, const nt_run_info *i);

/* An event worth a line (resume, init-from, model written, stopped): text as given; json
 * {"event": event, "message": text} plus the optional key/value string pairs. */
void nt_report_event(nt_reporter *r, const char *event, const char *text);

/* Called after each step; draws at most 5 times per second. */
void nt_report_progress(nt_reporter *r, int epoch, int epochs, long long step, long long steps,
                        double samples, double secs, double loss, double acc, int regression);

/* One epoch's results; timing {train, data wait, eval, checkpoint} seconds (verbose). */
void nt_report_epoch(nt_reporter *r, const nt_epoch_stats *s, int epochs, int has_val,
                     int has_test, int regression, const double timing[4]);

/* A warning (stderr in text mode, a JSON object on stdout in json mode); not silenced by
 * --quiet. */
void nt_report_warning(nt_reporter *r, const char *text);
