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
