/* Per-epoch metrics: the console line and metrics.csv (rank 0 only). */
#include "log.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>

int nt_metrics_open(nt_metrics *m, const char *dir, int has_test, nt_err *e)
{
    memset(m, 0, sizeof *m);
    m->has_test = has_test;
    snprintf(m->path, sizeof m->path, "%s/metrics.csv", dir);
    m->f = fopen(m->path, "w");
    if (!m->f) return nt_fail(e, "%s: cannot create: %s", m->path, strerror(errno));
    fprintf(m->f, "epoch,train_loss,train_acc,val_loss,val_acc,samples_per_s,elapsed_s%s\n",
            has_test ? ",test_loss,test_acc" : "");
    fflush(m->f);
    return 0;
}

void nt_metrics_row(nt_metrics *m, const nt_epoch_stats *s)
{
    if (!m->f) return;
    fprintf(m->f, "%d,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f", s->epoch, s->train_loss, s->train_acc,
            s->val_loss, s->val_acc, s->samples_per_s, s->elapsed_s);
    if (m->has_test) fprintf(m->f, ",%.6f,%.6f", s->test_loss, s->test_acc);
    fputc('\n', m->f);
    fflush(m->f);
}

void nt_metrics_close(nt_metrics *m)
{
    if (m->f) fclose(m->f);
    m->f = NULL;
}
