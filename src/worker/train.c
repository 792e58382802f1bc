/* The data-parallel training loop. Per step, on every rank:
 *   next shard of global batch t (stream) -> forward, loss / B_global, backward (step; the
 *   exchange's buckets start as layers finish) -> exchange (gradients and ride-along scalars
 *   summed over ranks) -> identical optimizer step -> progress, checkpoint, stop agreement.
 * Per epoch: validation/test evaluation, one history row (metrics.csv, JSON, checkpoints),
 * replicas checked identical. Start-up is setup.c; the pieces live in stream.c, step.c,
 * exchange.c, history.c, ckpt.c. Each phase change writes the heartbeat (nt_trainer_beat) that
 * the hang watchdog (watchdog.c) reads. */
#include "trainer.h"
#include "modelio.h"
#include "rng.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Sums over one epoch's steps (a resumed epoch starts from the checkpoint's partial sums). */
typedef struct {
    double loss, m0, m1, seen; /* loss and metric sums, rows */
    double seen_now;           /* rows trained by this process (the rate) */
    double t0, t_ckpt;         /* epoch start; time spent writing checkpoints */
} epoch_sums;

/* Metrics from sums over n rows into out[3]: classification {loss, acc = m0/n, NaN};
 * regression {loss, rmse, mae} over n*K values. */
static void finish_metrics(const nn_loss *L, int K, double n, double loss_sum, double m0,
                           double m1, double out[3])
{
    out[0] = loss_sum / n;
    if (nn_loss_is_regression(L->kind)) {
        out[1] = sqrt(m0 / (n * K));
        out[2] = m1 / (n * K);
    } else {
        out[1] = m0 / n;
        out[2] = NAN;
    }
}

/* ---- evaluation ---- */

typedef struct {
    nn_model *m; const nt_batch *b; const nn_loss *loss; int K; double sums[3];
    nt_heartbeat *hb;
    int64_t chunk;   /* deterministic: per-chunk sums into parts[3 * chunk index ..] */
    double *parts;
} eval_acc;

static void eval_batch(void *user, int64_t set_index, int64_t win_index, int nb)
{
    eval_acc *a = user;
    const nt_batch *b = a->b;
    if (a->chunk > 0) {
        /* deterministic: each chunk of the set alone (batches start at chunk bounds), its sums
         * kept apart and added in chunk order after the pass, whatever rank computed them */
        const int64_t D = a->m->layers[0].in;
        for (int r0 = 0; r0 < nb; r0 += (int)a->chunk) {
            const int n = nb - r0 < a->chunk ? nb - r0 : (int)a->chunk;
            const float *z = nn_forward(a->m, b->x + (size_t)r0 * D, n);
            double *p = a->parts + 3 * ((set_index + r0) / a->chunk);
            p[0] = nn_loss_eval(NULL, z, b->labels + r0, b->targets + (size_t)r0 * a->K, n, a->K,
                                a->loss, 1, &p[1]);
        }
    } else {
        /* inference, no dropout; in pieces of the rows the model's activations hold (fewer
         * than the batch with [train] accumulate) */
        const int64_t D = a->m->layers[0].in;
        const int mb = a->m->max_batch;
        for (int r0 = 0; r0 < nb; r0 += mb) {
            const int n = nb - r0 < mb ? nb - r0 : mb;
            const float *z = nn_forward(a->m, b->x + (size_t)r0 * D, n);
            a->sums[0] += nn_loss_eval(NULL, z, b->labels + r0, b->targets + (size_t)r0 * a->K, n,
                                       a->K, a->loss, 1, &a->sums[1]);
        }
    }
    nt_beat_progress(a->hb); /* a long evaluation is progress, not a hang */
}

/* Collective. The means over the whole set (a sharded pass, pass.h) into out[3]. Returns this
 * rank's status: 0, or NT_EXIT_INPUT (a non-finite value: t->e names the file, row and
 * column) / NT_EXIT_RUNTIME (a failed read) on the rank that hit it. *failed becomes 1 on
 * every rank when any rank failed; the caller agrees on the statuses (nt_agree), so the
 * rank holding the message is the one that prints it. */
static int evaluate(nt_trainer *t, nt_pass *set, double out[3], int *failed)
{
    const int K = t->cfg->sizes[t->cfg->nsizes - 1];
    const int64_t chunk = t->cfg->deterministic ? t->cfg->det_chunk : 0;
    const size_t nparts = chunk ? 3 * (size_t)((set->n + chunk - 1) / chunk) : 0;
    eval_acc a = {&t->m, &t->batch, &t->cfg->loss, K, {0, 0, 0}, &t->wd.hb, chunk, t->evparts};
    if (chunk) memset(t->evparts, 0, sizeof(double) * (nparts + 1));
    nt_batch *b = &t->batch;
    int status = nt_pass_run(set, b->x, b->labels, b->targets, b->bmax, eval_batch, NULL, &a, &t->e);
    double sums[4] = {a.sums[0], a.sums[1], a.sums[2], status ? 1 : 0};
    int rc;
    if (chunk) { /* every chunk has one owner: adding the others' zeros is exact */
        t->evparts[nparts] = sums[3];
        rc = comm_allreduce_double(t->c, t->evparts, nparts + 1, COMM_SUM);
        sums[3] = t->evparts[nparts];
        for (size_t i = 0; i < nparts; i += 3)
            sums[0] += t->evparts[i], sums[1] += t->evparts[i + 1], sums[2] += t->evparts[i + 2];
    } else {
        rc = comm_allreduce_double(t->c, sums, 4, COMM_SUM);
    }
    if (rc != MPI_SUCCESS) {
        *failed = 1;
        return (nt_fail(&t->e, "MPI_Allreduce failed during evaluation"), NT_EXIT_RUNTIME);
    }
    if (sums[3] > 0) {
        *failed = 1;
        return status;
    }
    finish_metrics(&t->cfg->loss, K, (double)set->n, sums[0], sums[1], sums[2], out);
    return 0;
}

static uint64_t params_hash(const float *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    const uint32_t *u = (const uint32_t *)p;
    for (size_t i = 0; i < n; i++) h = nn_mix64(h ^ u[i]);
    return h;
}

/* Collective: do all replicas hold the same parameters (bit for bit)? Returns 0 (yes), or the
 * agreed status with the message printed. */
static int check_replicas(nt_trainer *t, int epoch)
{
    comm_t *c = t->c;
    uint64_t lo, hi;
    if (comm_range_u64(c, params_hash(t->m.params, t->m.nparams), &lo, &hi) != MPI_SUCCESS) {
        nt_fail(&t->e, "MPI_Allreduce of the parameter hashes failed after epoch %d", epoch);
        return nt_agree(c, NT_EXIT_RUNTIME, &t->e);
    }
    if (lo == hi) return 0;
    nt_fail(&t->e, "model replicas differ across ranks after epoch %d (non-deterministic "
            "allreduce?)", epoch);
    return nt_agree(c, c->rank == 0 ? NT_EXIT_RUNTIME : 0, &t->e);
}

/* ---- one step ---- */

/* After the step's exchange: did any rank fail to read its rows, or did training diverge?
 * Returns the agreed status (0: go on). */
static int check_step(nt_trainer *t, const nt_batch *b, int rc)
{
    comm_t *c = t->c;
    const float *xs = nt_step_scalars(&t->m);
    if (rc != MPI_SUCCESS) {
        nt_fail(&t->e, "gradient allreduce failed (MPI error %d)", rc);
        return nt_agree(c, NT_EXIT_RUNTIME, &t->e);
    }
    if (xs[NT_X_ERROR] > 0) return nt_agree(c, b->err ? NT_EXIT_INPUT : 0, &t->e);
    if (!isfinite(xs[NT_X_LOSS])) {
        nt_fail(&t->e, "training diverged: loss is %g at epoch %lld step %lld; lower "
                "[optimizer] lr", (double)xs[NT_X_LOSS], (long long)b->epoch, (long long)b->step + 1);
        return nt_agree(c, c->rank == 0 ? NT_EXIT_RUNTIME : 0, &t->e);
    }
    return 0;
}

/* After the optimizer step: the stop agreement, progress, and a periodic or requested
 * checkpoint (every rank agrees, because the flags rode in the exchange). */
static int after_step(nt_trainer *t, const nt_batch *b, epoch_sums *a)
{
    const nt_config *cfg = t->cfg;
    const int64_t done_in_epoch = b->step + 1, steps = t->stream.steps;
    t->stop = nt_step_scalars(&t->m)[NT_X_STOP] > 0;
    nt_report_progress(&t->rep, (int)b->epoch, cfg->epochs, (long long)done_in_epoch, (long long)steps,
                       a->seen_now, nt_now() - a->t0, a->seen > 0 ? a->loss / a->seen : NAN,
                       a->seen > 0 ? a->m0 / a->seen : NAN, t->hist.regression);
    if (!t->stop && !(cfg->ckpt_every_steps > 0 && t->done % cfg->ckpt_every_steps == 0)) return 0;
    nt_ckpt_state cs = {.epoch = b->epoch, .step_in_epoch = done_in_epoch, .global_step = t->done,
                        .steps_per_epoch = steps, .partial = {a->loss, a->m0, a->m1, a->seen},
                        .elapsed_s = nt_now() - t->t_start, .world_size = t->c->size,
                        .seed = cfg->seed};
    double tc = nt_now();
    nt_trainer_beat(t, t->done, NT_PH_CKPT_STEP);
    int st = nt_trainer_checkpoint(t, &cs);
    a->t_ckpt += nt_now() - tc;
    return st;
}

/* This rank's shard of the next global batch (0: the epoch is over). */
static int next_batch(nt_trainer *t, nt_batch *b)
{
    nt_trainer_beat(t, t->done + 1, NT_PH_DATA);
    return nt_stream_next(&t->stream, b, &t->e);
}

/* The steps of one epoch (from first_step when resuming inside it). */
static int run_epoch(nt_trainer *t, int epoch, epoch_sums *a)
{
    const nt_config *cfg = t->cfg;
    const int rank = t->c->rank;
    *a = (epoch_sums){.t0 = nt_now(), .t_ckpt = t->t_ckpt_next}; /* the previous epoch-end
                                                                    * checkpoint counts here */
    t->t_ckpt_next = 0;
    int64_t first_step = 0;
    if (t->resuming && epoch == t->cs.epoch) { /* continue inside the interrupted epoch */
        first_step = t->cs.step_in_epoch;
        a->loss = t->cs.partial[0]; a->m0 = t->cs.partial[1]; a->m1 = t->cs.partial[2];
        a->seen = t->cs.partial[3];
    }
    nt_stream_begin_epoch(&t->stream, epoch, first_step);
    nt_batch *b = &t->batch;
    int st = 0;
    while (!st && !t->stop && next_batch(t, b)) {
        const int64_t step_no = t->done + 1; /* global step, from 1 */
        nt_trainer_beat(t, step_no, NT_PH_COMPUTE);
        if (!b->err && nt_testing_fault(&t->testing, rank, step_no, &t->e)) b->err = 1, b->n = 0;
        /* learning rate of this step: the schedule at the epoch or step counter */
        t->opt.cfg.lr = nn_schedule_lr(&t->sched, cfg->opt.lr, cfg->sched_per_step ? t->done : epoch - 1);
        /* a signal on any rank asks all to stop: the flag rides in the exchange */
        int stop = nt_stop_signal != 0 || nt_testing_stop(&t->testing, rank, step_no);
        nt_train_step(&t->step, b, b->err, stop);
        nt_trainer_beat(t, step_no, NT_PH_ALLREDUCE);
        if ((st = check_step(t, b, nt_exchange_wait(&t->x)))) break;
        nt_trainer_beat(t, step_no, NT_PH_UPDATE);
        const float *xs = nt_step_scalars(&t->m);
        a->loss += (double)xs[NT_X_LOSS]; /* sum of per-sample losses */
        a->m0 += xs[NT_X_M0];
        a->m1 += xs[NT_X_M1];
        a->seen += xs[NT_X_COUNT];
        a->seen_now += xs[NT_X_COUNT];
        if (nt_optimizer_step(&t->opt, &t->m, cfg->clip_grad_norm, &t->x) != MPI_SUCCESS) {
            nt_fail(&t->e, "parameter exchange failed after step %lld", (long long)step_no);
            st = nt_agree(t->c, NT_EXIT_RUNTIME, &t->e);
            break;
        }
        t->done++;
        st = after_step(t, b, a);
    }
    return st;
}

/* ---- early stopping ---- */

int nt_trainer_es_update(nt_trainer *t, nt_hrow *r)
{
    const nt_config *cfg = t->cfg;
    const double *v = r->v;
    const double x = cfg->es_metric == NT_ES_VAL_ACC ? -v[NT_H_VAL_M1]
                     : cfg->es_metric == NT_ES_VAL_RMSE ? v[NT_H_VAL_M1] : v[NT_H_VAL_LOSS];
    const int improved = isfinite(x) && (t->es_best_epoch == 0 || x < t->es_best - cfg->es_min_delta);
    if (improved) {
        t->es_best = x;
        t->es_best_epoch = (int)v[NT_H_EPOCH];
        t->es_bad = 0;
    } else {
        t->es_bad++;
    }
    r->v[NT_H_BEST_EPOCH] = t->es_best_epoch;
    if (t->es_bad >= cfg->es_patience) t->es_stopped = 1;
    return improved;
}

static const char *es_metric_name(const nt_config *cfg)
{
    return cfg->es_metric == NT_ES_VAL_ACC ? "val_acc" : cfg->es_metric == NT_ES_VAL_RMSE ? "val_rmse" : "val_loss";
}

/* The best epoch's weights: <output.dir>/best.h5 (model.h5's layout), written like model.h5.
 * Collective; returns the agreed status. */
static int save_best(nt_trainer *t)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/best.h5", t->cfg->out_dir);
    return nt_model_save_safe(&t->m, nn_loss_name(t->cfg->loss.kind), &t->norm, path, t->es_best_epoch,
                              t->c, &t->e);
}

/* The end of an epoch: evaluation, the history row (console, metrics.csv, status), the
 * replica check and the epoch checkpoint. */
static int end_epoch(nt_trainer *t, int epoch, const epoch_sums *a)
{
    const nt_config *cfg = t->cfg;
    const int K = cfg->sizes[cfg->nsizes - 1];
    comm_t *c = t->c;
    const double t_train = nt_now() - a->t0, data_s = t->stream.data_wait_s;
    nt_hrow r = {{0}}; /* test columns stay 0 without a test set (as checkpoints store them) */
    r.v[NT_H_EPOCH] = epoch;
    /* the lr of the epoch's last step, from the schedule (also right when a resumed epoch
     * had no steps left to run) */
    r.v[NT_H_LR] = nn_schedule_lr(&t->sched, cfg->opt.lr,
                                  cfg->sched_per_step ? (int64_t)epoch * t->stream.steps - 1 : epoch - 1);
    finish_metrics(&cfg->loss, K, a->seen, a->loss, a->m0, a->m1, &r.v[NT_H_SET(NT_SET_TRAIN)]);
    r.v[NT_H_SAMPLES_PER_S] = a->seen_now / t_train;
    r.v[NT_H_DATA_WAIT_S] = data_s;
    r.v[NT_H_ALLREDUCE_S] = t->x.comm_s;
    r.v[NT_H_EXPOSED_S] = t->x.exposed_s;
    t->x.comm_s = t->x.exposed_s = 0;
    for (int i = 0; i < 3; i++) r.v[NT_H_SET(NT_SET_VAL) + i] = NAN;
    double t_eval = nt_now();
    int st = 0, failed = 0;
    nt_trainer_beat(t, t->done, NT_PH_EVAL);
    if (t->n_val > 0) st = evaluate(t, &t->vset, &r.v[NT_H_SET(NT_SET_VAL)], &failed);
    if (!failed && t->have_test) st = evaluate(t, &t->tset, &r.v[NT_H_SET(NT_SET_TEST)], &failed);
    t_eval = nt_now() - t_eval;
    nt_trainer_beat(t, t->done, NT_PH_EPOCH_END);
    if ((st = nt_agree(c, st, &t->e)) || (st = check_replicas(t, epoch))) return st;
    r.v[NT_H_ELAPSED_S] = nt_now() - t->t_start;
    const int improved = cfg->es_patience > 0 && nt_trainer_es_update(t, &r);
    double timing[4] = {t_train, data_s, t_eval, a->t_ckpt};
    nt_report_epoch(&t->rep, &t->hist, &r, cfg->epochs, timing);
    if (c->rank == 0) nt_metrics_row(&t->metrics, &r);
    nt_write_status(c, cfg->out_dir, "running epoch %d/%d done, global_step %lld", epoch,
                    cfg->epochs, (long long)t->done);
    nt_history_add(&t->hist, &r);
    t->last = r;
    /* before the epoch's checkpoint: a run resumed from it finds best.h5 up to date */
    if (improved) {
        nt_trainer_beat(t, t->done, NT_PH_SAVE);
        if ((st = save_best(t))) return st;
    }
    /* the last epoch's checkpoint is written also when early stopping ends the run here */
    if (cfg->ckpt_every_epochs > 0 && epoch % cfg->ckpt_every_epochs == 0) {
        /* the next epoch, from its first step */
        nt_ckpt_state cs = {.epoch = epoch + 1, .step_in_epoch = 0, .global_step = t->done,
                            .steps_per_epoch = t->stream.steps, .elapsed_s = nt_now() - t->t_start,
                            .world_size = c->size, .seed = cfg->seed};
        double tc = nt_now();
        nt_trainer_beat(t, t->done, NT_PH_CKPT_EPOCH);
        if ((st = nt_trainer_checkpoint(t, &cs))) return st;
        t->t_ckpt_next = nt_now() - tc;
    }
    return 0;
}

/* ---- the end of a run ---- */

/* Preempted: a checkpoint was written; say how to continue. */
static int stopped(nt_trainer *t, nt_result *res)
{
    /* rank 0 may not be the rank that was signalled: say what it knows */
    char msg[4 * PATH_MAX + 8192 + 256];
    const nt_config *cfg = t->cfg;
    snprintf(msg, sizeof msg, "nntrain: stopped early (%s): checkpoint %s written; continue with\n"
             "  nntrain train --config %s%s --resume%s",
             nt_stop_signal == SIGUSR1 ? "SIGUSR1" : nt_stop_signal == SIGTERM ? "SIGTERM"
                                                 : "stop requested on a rank",
             t->ckpt_written, cfg->path, cfg->overrides,
             cfg->overrides_cut ? "  (plus the rest of the original --set options, too long to repeat)" : "");
    nt_report_event(&t->rep, "stopped", msg);
    if (res) res->stopped = 1;
    nt_write_status(t->c, t->cfg->out_dir, "stopped global_step %lld checkpoint %s",
                    (long long)t->done, t->ckpt_written);
    return 0;
}

/* All epochs done: model.h5, the status, the last line. */
static int finished(nt_trainer *t, nt_result *res)
{
    const nt_config *cfg = t->cfg;
    char path[4200];
    snprintf(path, sizeof path, "%s/model.h5", cfg->out_dir);
    nt_trainer_beat(t, t->done, NT_PH_SAVE);
    /* agreed, its one line printed */
    const int epochs = t->hist.n > 0 ? (int)t->hist.rows[t->hist.n - 1].v[NT_H_EPOCH] : cfg->epochs;
    int st = nt_model_save_safe(&t->m, nn_loss_name(cfg->loss.kind), &t->norm, path,
                                t->hist.n > 0 ? epochs : 0, t->c, &t->e);
    if (st) return st;
    char early[4600] = "";
    if (t->es_stopped && epochs < cfg->epochs) {
        char msg[9000];
        snprintf(early, sizeof early, " early_stopped best_epoch %d best %s/best.h5",
                 t->es_best_epoch, cfg->out_dir);
        const double best = cfg->es_metric == NT_ES_VAL_ACC ? -t->es_best : t->es_best;
        snprintf(msg, sizeof msg, "early stopping after epoch %d of %d: %s has not improved by more "
                 "than %g for %d epoch%s; best epoch %d (%s %.6g), its weights in %s/best.h5",
                 epochs, cfg->epochs, es_metric_name(cfg), cfg->es_min_delta, t->es_bad,
                 t->es_bad == 1 ? "" : "s", t->es_best_epoch, es_metric_name(cfg), best, cfg->out_dir);
        nt_report_event(&t->rep, "early_stop", msg);
    } else if (cfg->es_patience > 0) {
        snprintf(early, sizeof early, " best_epoch %d best %s/best.h5", t->es_best_epoch, cfg->out_dir);
    }
    nt_write_status(t->c, cfg->out_dir, "finished epochs %d global_step %lld model %s%s", epochs,
                    (long long)t->done, path, early);
    if (!t->o->quiet) {
        char msg[4400];
        const double *test = &t->last.v[NT_H_SET(NT_SET_TEST)];
        if (t->have_test && t->hist.regression)
            snprintf(msg, sizeof msg, "model written to %s\ntest rmse: %.4f  mae: %.4f", path,
                     test[1], test[2]);
        else if (t->have_test)
            snprintf(msg, sizeof msg, "model written to %s\ntest accuracy: %.4f", path, test[1]);
        else
            snprintf(msg, sizeof msg, "model written to %s", path);
        nt_report_event(&t->rep, "finished", msg);
    }
    if (res) {
        res->nparams = t->m.nparams;
        res->params = malloc(sizeof(float) * t->m.nparams);
        if (res->params) memcpy(res->params, t->m.params, sizeof(float) * t->m.nparams);
        res->last = t->last;
        res->has_test = t->have_test;
    }
    return 0;
}

int nt_train(const nt_config *cfg, comm_t *c, const nt_train_opts *o, nt_result *res)
{
    nt_trainer t;
    int st = nt_trainer_setup(&t, cfg, c, o);
    const int first_epoch = t.resuming ? (int)t.cs.epoch : 1;
    for (int epoch = first_epoch; !st && !t.stop && !t.es_stopped && epoch <= cfg->epochs; epoch++) {
        epoch_sums a;
        st = run_epoch(&t, epoch, &a);
        if (!st && !t.stop) st = end_epoch(&t, epoch, &a);
    }
    if (!st) st = t.stop ? stopped(&t, res) : finished(&t, res);
    if (st && t.out_ready) nt_write_status(c, cfg->out_dir, "failed exit %d", st);
    nt_trainer_free(&t);
    return st;
}
