/* The state of one training run, shared by its two halves: setup.c (every start-up check,
 * agreed by all ranks before anything is written; allocation, once; weights; banner) and
 * train.c (the loop). Internal to nt_train; nothing else includes it. */
#ifndef NT_TRAINER_H
#define NT_TRAINER_H
#include "ckpt.h"
#include "dataset.h"
#include "exchange.h"
#include "history.h"
#include "log.h"
#include "pass.h"
#include "step.h"
#include "stream.h"
#include "testing.h"
#include "train.h"
#include "watchdog.h"

typedef struct {
    const nt_config *cfg;
    comm_t *c;
    const nt_train_opts *o;
    nt_err e;
    nt_reporter rep;
    int threads;               /* BLAS threads of this rank */
    /* data */
    nt_data train, test;
    int have_train, have_test;
    nt_input_norm norm;        /* the training file's standardisation, recorded with the model */
    int64_t N, n_val, n_train;
    /* rank 0: the descriptor holding <output.dir>/.lock (runlock.h) until the run ends; -1 */
    int lock_fd;
    /* the output directory exists and is this run's: keep its status file current */
    int out_ready;
    /* resuming from a checkpoint */
    int resuming;
    char resume_path[4300];
    nt_ckpt_state cs;
    /* the model and everything a step touches (allocated once) */
    nn_model m;
    nn_optim opt;
    nt_exchange x;
    int model_ok, opt_ok, x_ok, stream_ok;
    int overlap; /* the gradient allreduce overlaps backward ([train] overlap, resolved) */
    int zero1;   /* [train] exchange resolved: ZeRO-1 */
    nt_stream stream;
    nt_batch batch;            /* also the evaluation batch */
    float *dz;                 /* (bmax, K) */
    double *evparts;           /* deterministic: per-chunk evaluation sums (+ a status slot) */
    nt_step step;
    nt_pass vset, tset;        /* validation and test passes */
    nn_schedule sched;
    nt_testing testing;
    nt_watchdog wd;            /* the heartbeat the loop writes; the hang watchdog's thread */
    /* results */
    nt_history hist;           /* one row per finished epoch (checkpoints carry it) */
    nt_metrics metrics;        /* metrics.csv (rank 0) */
    nt_hrow last;              /* the last epoch's row */
    /* progress */
    int64_t done;              /* optimizer steps done in the whole run */
    int stop;                  /* a stop was requested on some rank (all ranks know) */
    /* early stopping ([train] early_stopping_*): the best monitored value (lower is better:
     * accuracy negated), its epoch (0: none yet), epochs since, and whether to stop */
    double es_best;
    int es_best_epoch, es_bad, es_stopped;
    double t_start, t_ckpt_next;
    char ckpt_written[4300];
} nt_trainer;

/* The heartbeat (watchdog.h): the loop is at `phase` of global step `step`. */
static inline void nt_trainer_beat(nt_trainer *t, int64_t step, nt_phase phase)
{
    nt_beat(&t->wd.hb, step, phase);
}

/* Early stopping: takes an epoch's row (validation columns filled), sets its best_epoch
 * column, updates the state; returns 1 when the epoch improved on the best. The same on every
 * rank (the values are the ranks' agreed sums). train.c; setup.c replays a resumed history. */
int nt_trainer_es_update(nt_trainer *t, nt_hrow *r);

/* setup.c. Collective; return the agreed status. */
int nt_trainer_setup(nt_trainer *t, const nt_config *cfg, comm_t *c, const nt_train_opts *o);
void nt_trainer_free(nt_trainer *t);
/* Collective: writes a checkpoint of state s. */
int nt_trainer_checkpoint(nt_trainer *t, const nt_ckpt_state *s);

#endif
