/* Per-epoch metrics record, written by rank 0 to <output.dir>/metrics.csv. */
#ifndef NT_LOG_H
#define NT_LOG_H
#include "util.h"
#include <limits.h>
#include <stdio.h>

typedef struct {
    int epoch;
    double train_loss, train_acc, val_loss, val_acc, test_loss, test_acc;
    double samples_per_s, elapsed_s;
    double data_s; /* time this rank spent reading training rows (rank 0's) */
} nt_epoch_stats;

typedef struct {
    FILE *f;
    int has_test;
    char path[PATH_MAX];
} nt_metrics;

int nt_metrics_open(nt_metrics *m, const char *dir, int has_test, nt_err *e);
void nt_metrics_row(nt_metrics *m, const nt_epoch_stats *s);
void nt_metrics_close(nt_metrics *m);

#endif
