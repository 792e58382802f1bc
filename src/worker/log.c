/* Per-epoch metrics: the console line and metrics.csv (rank 0 only). */
#include "log.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int nt_metrics_open(nt_metrics *m, const char *dir, int has_test, int regression, int append,
                    nt_err *e)
{
    memset(m, 0, sizeof *m);
    m->has_test = has_test;
    m->regression = regression;
    snprintf(m->path, sizeof m->path, "%s/metrics.csv", dir);
    FILE *probe = append ? fopen(m->path, "r") : NULL;
    if (probe) { /* continue the resumed run's file */
        fclose(probe);
        m->f = fopen(m->path, "a");
        if (!m->f) return nt_fail(e, "%s: cannot append: %s", m->path, strerror(errno));
        return 0;
    }
    m->f = fopen(m->path, "w");
    if (!m->f) return nt_fail(e, "%s: cannot create: %s", m->path, strerror(errno));
    if (regression)
        fprintf(m->f, "epoch,train_loss,train_rmse,train_mae,val_loss,val_rmse,val_mae,"
                      "samples_per_s,elapsed_s,lr%s,data_wait_s\n",
                has_test ? ",test_loss,test_rmse,test_mae" : "");
    else
        fprintf(m->f, "epoch,train_loss,train_acc,val_loss,val_acc,samples_per_s,elapsed_s,lr%s,"
                      "data_wait_s\n", has_test ? ",test_loss,test_acc" : "");
    fflush(m->f);
    return 0;
}

static void set_cols(FILE *f, const double v[3], int regression)
{
    if (regression) fprintf(f, ",%.6f,%.6f,%.6f", v[0], v[1], v[2]);
    else fprintf(f, ",%.6f,%.6f", v[0], v[1]);
}

void nt_metrics_row(nt_metrics *m, const nt_epoch_stats *s)
{
    if (!m->f) return;
    fprintf(m->f, "%d", s->epoch);
    set_cols(m->f, s->train, m->regression);
    set_cols(m->f, s->val, m->regression);
    fprintf(m->f, ",%.1f,%.3f,%.6g", s->samples_per_s, s->elapsed_s, s->lr);
    if (m->has_test) set_cols(m->f, s->test, m->regression);
    fprintf(m->f, ",%.4f\n", s->data_s);
    fflush(m->f);
}

void nt_metrics_close(nt_metrics *m)
{
    if (m->f) fclose(m->f);
    m->f = NULL;
}
