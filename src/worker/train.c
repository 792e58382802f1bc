/* Data-parallel training loop. One step, on every rank:
 *   shard of global batch t (perm(seed, epoch)) -> read own rows -> forward -> loss scaled by
 *   1/B_global -> backward (buckets of the flat gradient start reducing as layers finish)
 *   -> wait -> identical optimizer step.
 * Ride-along scalars after the gradients (loss sum, correct, count, error flag) make the
 * step's metrics and "did any rank fail?" free: they travel in the same allreduce. */
#define _GNU_SOURCE
#include "train.h"
#include "dataset.h"
#include "pass.h"
#include "model.h"
#include "ckpt.h"
#include "modelio.h"
#include "optim.h"
#include "rng.h"
#include "sampler.h"
#include "schedule.h"
#include <cblas.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ride-along slots: loss sum, metric sums (correct | squared error, absolute error), rows,
 * error flag */
enum { X_LOSS, X_M0, X_M1, X_COUNT, X_ERROR, X_STOP, X_N }; /* + stop request */

/* Per-step batch buffers, allocated once. */
typedef struct {
    float *x;        /* (bmax, D) */
    int32_t *labels; /* (bmax) */
    float *targets;  /* (bmax, K) */
    float *dz;       /* (bmax, K) */
    int bmax, K;
    const nn_loss *loss;
} batch_buf;

/* Metrics from sums over n rows: classification acc = m0/n; regression rmse, mae over n*K. */
static void finish_metrics(const nn_loss *L, int K, double n, double loss_sum, double m0,
                           double m1, double *loss, double *a, double *b)
{
    *loss = loss_sum / n;
    if (nn_loss_is_regression(L->kind)) {
        *a = sqrt(m0 / (n * K));
        *b = m1 / (n * K);
    } else {
        *a = m0 / n;
        *b = NAN;
    }
}

int nt_blas_threads(int cfg_threads, const comm_t *c)
{
    int n = cfg_threads;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    long v;
    if (n <= 0 && env && nt_parse_long(env, &v) == 0 && v > 0) n = (int)v;
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = (int)(cores / (c->local_size > 0 ? c->local_size : 1));
        cpu_set_t set;
        /* a rank bound to fewer CPUs (mpirun --bind-to core) must not oversubscribe them */
        if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < n)
            n = CPU_COUNT(&set);
    }
    return n < 1 ? 1 : n;
}

/* Validation/test evaluation: a sharded pass (pass.h) summing loss and metrics. */
typedef struct { nn_model *m; batch_buf *bb; double sums[3]; } eval_acc;

static void eval_batch(void *user, int64_t set_index, int64_t win_index, int nb)
{
    eval_acc *a = user;
    const float *z = nn_forward(a->m, a->bb->x, nb); /* inference: no dropout */
    a->sums[0] += nn_loss_eval(NULL, z, a->bb->labels, a->bb->targets, nb, a->bb->K, a->bb->loss,
                               1, &a->sums[1]);
}

/* Collective. The means over the whole set into out. */
static int eval_run(nt_pass *s, nn_model *m, comm_t *c, batch_buf *bb, double out[3], nt_err *e)
{
    eval_acc a = {m, bb, {0, 0, 0}};
    int status = nt_pass_run(s, bb->x, bb->labels, bb->targets, bb->bmax, eval_batch, NULL, &a, e);
    double sums[4] = {a.sums[0], a.sums[1], a.sums[2], status ? 1 : 0};
    if (comm_allreduce_sum_double(c, sums, 4) != MPI_SUCCESS)
        return nt_fail(e, "MPI_Allreduce failed during evaluation");
    if (sums[3] > 0) {
        if (!status) nt_fail(e, "evaluation read failed on another rank");
        return -1;
    }
    finish_metrics(bb->loss, bb->K, (double)s->n, sums[0], sums[1], sums[2], &out[0], &out[1],
                   &out[2]);
    return 0;
}

/* After layer l's gradients are complete, everything from its first weight on is final. */
typedef struct { comm_reducer *r; const nn_model *m; int rc; } bwd_ctx;
static void layer_done(int l, void *user)
{
    bwd_ctx *b = user;
    int rc = comm_reducer_ready(b->r, b->m->layers[l].w_off);
    if (rc != MPI_SUCCESS) b->rc = rc;
}

static uint64_t params_hash(const float *p, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ULL;
    const uint32_t *u = (const uint32_t *)p;
    for (size_t i = 0; i < n; i++) h = nn_mix64(h ^ u[i]);
    return h;
}

static int replicas_agree(comm_t *c, const nn_model *m)
{
    unsigned long long h = params_hash(m->params, m->nparams), lo = h, hi = h;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, c->comm);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, c->comm);
    return lo == hi;
}

/* Collective: open a dataset and check it against the model and loss (width D, K outputs,
 * labels vs regression targets). Returns the agreed status; on failure the file is closed
 * and one rank has printed the reason. */
int nt_open_dataset(nt_data *ds, const char *path, int D, int K, const nn_loss *L, comm_t *c,
                    nt_err *e)
{
    int st = nt_data_open(ds, path, c, e) ? NT_EXIT_INPUT : 0;
    if ((st = nt_agree(c, st, e))) return st;
    const int regression = nn_loss_is_regression(L->kind);
    if (ds->d != D)
        st = nt_fail(e, "%s: /X has %lld columns but [model] layers starts with %d", path,
                     (long long)ds->d, D);
    else if (regression && !ds->y_float)
        st = nt_fail(e, "%s: /y holds class labels but [loss] %s needs (N, K) float targets",
                     path, nn_loss_name(L->kind));
    else if (!regression && ds->y_float)
        st = nt_fail(e, "%s: /y holds float targets but [loss] %s needs integer class labels",
                     path, nn_loss_name(L->kind));
    else if (regression && ds->k != K)
        st = nt_fail(e, "%s: /y has %lld target columns but the model has %d outputs", path,
                     (long long)ds->k, K);
    if (!(st = nt_agree(c, st ? NT_EXIT_INPUT : 0, e)) && !regression)
        st = nt_agree(c, nt_data_check_labels(ds, c, L->kind == NN_LOSS_BCE_WITH_LOGITS ? 2 : K, e), e);
    if (st) nt_data_close(ds);
    return st;
}

/* eperm[e & 1] := the permutation of epoch e (computed once; two epochs are live while the
 * next epoch's first window is read ahead): a table in perm2[e & 1], or a Feistel key. */
static void ensure_perm(nn_perm eperm[2], int64_t *perm2[2], int64_t perm_epoch[2], int64_t e,
                        int64_t n, uint64_t seed, int feistel)
{
    if (perm_epoch[e & 1] == e) return;
    uint64_t key = nn_key(seed, NN_STREAM_EPOCH_PERM, (uint64_t)e, 0);
    if (feistel) {
        eperm[e & 1] = nn_perm_feistel(n, key);
    } else {
        nn_permutation(perm2[e & 1], n, key);
        eperm[e & 1] = nn_perm_table(perm2[e & 1], n);
    }
    perm_epoch[e & 1] = e;
}

/* List this rank's file rows for steps [s0, s1) (step_off[i] = first row of step s0+i) and
 * start reading them on handle slot k. Training position q is file row split(n_val + q);
 * step s covers epoch permutation positions [s B, (s + 1) B). Collective. */
static int start_window(nt_window *w, int k, nt_data *d, const nn_perm *perm,
                        const nn_perm *split, int64_t n_val, int64_t n_train, int64_t B, int P,
                        int rank, int64_t s0, int64_t s1, int64_t *rows, int64_t *step_off,
                        nt_err *e)
{
    int64_t cnt = 0;
    for (int64_t s = s0; s < s1; s++) {
        int64_t lo, hi;
        nn_shard(n_train, B, P, rank, s, &lo, &hi);
        step_off[s - s0] = cnt;
        for (int64_t p = lo; p < hi; p++) rows[cnt++] = nn_perm_at(split, n_val + nn_perm_at(perm, p));
    }
    step_off[s1 - s0] = cnt;
    return nt_window_start(w, d, rows, cnt, k, e) ? 1 : 0;
}

int nt_make_optimizer(nn_optim *o, const nt_config *cfg, const nn_model *m)
{
    if (nn_optim_create(o, &cfg->opt, m->nparams)) return -1;
    if (cfg->decay_biases || !cfg->bias || cfg->opt.weight_decay == 0) return 0;
    /* biases excluded from weight decay: one segment per weight block and bias block */
    nn_opt_segment seg[2 * NT_MAX_LAYERS];
    int ns = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *Ly = &m->layers[l];
        seg[ns++] = (nn_opt_segment){Ly->w_off, Ly->b_off, cfg->opt.weight_decay};
        seg[ns++] = (nn_opt_segment){Ly->b_off, Ly->b_off + (size_t)Ly->out, 0.0};
    }
    if (nn_optim_set_segments(o, seg, ns)) {
        nn_optim_free(o);
        return -1;
    }
    return 0;
}

/* --verbose: where every rank runs (host, local rank, CPUs it may use, BLAS threads),
 * gathered to rank 0. */
static void report_placement(nt_reporter *rep, const comm_t *c, int threads)
{
    enum { LEN = 256 };
    char mine[LEN], host[64] = "?", cpus[160] = "";
    gethostname(host, sizeof host - 1);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) { /* ranges, e.g. 0-3,8 */
        size_t n = 0;
        for (int i = 0; i < CPU_SETSIZE && n + 16 < sizeof cpus; i++) {
            if (!CPU_ISSET(i, &set) || (i > 0 && CPU_ISSET(i - 1, &set))) continue;
            int j = i;
            while (j + 1 < CPU_SETSIZE && CPU_ISSET(j + 1, &set)) j++;
            n += (size_t)snprintf(cpus + n, sizeof cpus - n, "%s%d", n ? "," : "", i);
            if (j > i) n += (size_t)snprintf(cpus + n, sizeof cpus - n, "-%d", j);
        }
    }
    snprintf(mine, LEN, "rank %d: host %s, local rank %d of %d, CPUs %s, %d BLAS thread%s, pid %d",
             c->rank, host, c->local_rank, c->local_size, cpus, threads, threads > 1 ? "s" : "",
             (int)getpid());
    char *all = c->rank == 0 ? malloc((size_t)LEN * (size_t)c->size) : NULL;
    MPI_Gather(mine, LEN, MPI_CHAR, all, LEN, MPI_CHAR, 0, c->comm);
    for (int r = 0; all && r < c->size; r++) nt_report_event(rep, "placement", all + (size_t)r * LEN);
    free(all);
}

int nt_train(const nt_config *cfg, comm_t *c, const nt_train_opts *o, nt_result *res)
{
    nt_err e = {{0}};
    int st = 0;
    int out_ready = 0; /* [output] dir exists and is this run's: keep its status file current */
    nt_input_norm norm = {0}; /* the training file's standardisation, recorded with the model */
    nt_data train = {.file = H5I_INVALID_HID}, test = {.file = H5I_INVALID_HID};
    int have_train = 0, have_test = 0, model_ok = 0, opt_ok = 0, red_ok = 0;
    nn_model m;
    nn_optim opt;
    comm_reducer red;
    nt_metrics metrics = {0};
    nt_pass vset = {0}, tset = {0};
    nt_window twin[2] = {{0}};  /* double-buffered training windows (read-ahead) */
    int64_t *split = NULL, *perm2[2] = {NULL, NULL}, *rows2[2] = {NULL, NULL};
    int64_t *step_off2[2] = {NULL, NULL};
    nn_perm split_perm = {0}, eperm[2] = {{0}, {0}};
    int feistel = 0; /* sample order by Feistel bijections instead of index tables */
    double *hist = NULL; /* per-epoch metrics, NT_METRIC_COLS each (for checkpoints) */
    int nhist = 0;
    nt_ckpt_state cs = {0};
    const int L = cfg->nsizes - 1, K = cfg->sizes[L], D = cfg->sizes[0];
    batch_buf bb = {.loss = &cfg->loss, .K = K};
    const int64_t B = cfg->batch_size;
    const int P = c->size;
    char path[4200];

    /* ---- start-up: every check agreed on by all ranks before anything is written ---- */
#if defined(__SSE__)
    /* Flush denormals to zero (FTZ) and read them as zero (DAZ) in this thread, as TensorFlow
     * does by default and torch.set_flush_denormal(True) offers: Adam's second moments of tiny
     * gradients become denormal and made later epochs ~40 % slower (measured). */
    if (cfg->flush_denormals) _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
    int threads = nt_blas_threads(cfg->threads, c);
    openblas_set_num_threads(threads);
    nt_reporter rep;
    nt_report_init(&rep, c->rank, o->quiet, o->verbose, o->json, o->progress);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if ((long)threads * c->local_size > cores) {
        char w[300];
        snprintf(w, sizeof w, "%d ranks x %d BLAS thread%s on a node with %ld cores oversubscribes "
                 "it (slower); use fewer ranks per node%s", c->local_size, threads,
                 threads > 1 ? "s" : "", cores, threads > 1 ? " or [train] threads = 0 (auto)" : "");
        nt_report_warning(&rep, w);
    }
    if (o->verbose) report_placement(&rep, c, threads);

    if ((st = nt_open_dataset(&train, cfg->train, D, K, &cfg->loss, c, &e))) goto out;
    have_train = 1;
    train.collective = cfg->collective_reads;
    norm = (nt_input_norm){train.mean, train.std, D};
    if (cfg->test[0]) {
        if ((st = nt_open_dataset(&test, cfg->test, D, K, &cfg->loss, c, &e))) goto out;
        have_test = 1;
        /* test metrics mean something only when test rows are prepared like training rows */
        if (!nt_norm_equal(&norm, &(nt_input_norm){test.mean, test.std, D})) {
            if (!test.mean)
                nt_fail(&e, "%s: /X is not standardised, unlike %s (attributes mean, std); run "
                        "nndata standardize %s --stats-from %s", cfg->test, cfg->train, cfg->test, cfg->train);
            else if (!train.mean)
                nt_fail(&e, "%s: /X is standardised (attributes mean, std), unlike %s; remove them "
                        "with nndata standardize %s --remove", cfg->test, cfg->train, cfg->test);
            else
                nt_fail(&e, "%s: /X is standardised with other statistics than %s; run nndata "
                        "standardize %s --stats-from %s", cfg->test, cfg->train, cfg->test, cfg->train);
            st = nt_agree(c, c->rank == 0 ? NT_EXIT_INPUT : 0, &e);
            goto out;
        }
    }
    const int64_t N = train.n;
    const int64_t n_val = (int64_t)floor((double)N * cfg->val_fraction);
    const int64_t n_train = N - n_val;
    if (n_train < 1) {
        nt_fail(&e, "%s: %lld rows leave no training rows after val_fraction = %g", cfg->train,
                (long long)N, cfg->val_fraction);
        st = nt_agree(c, NT_EXIT_INPUT, &e);
        goto out;
    }

    /* resume: the newest complete checkpoint, if asked for (or [checkpoint] resume = auto) */
    char resume_path[4300] = "";
    int resuming = (o->resume || cfg->resume_auto) &&
                   nt_ckpt_find(cfg->ckpt_dir, c, resume_path, sizeof resume_path);
    if (o->resume && !resuming) {
        nt_fail(&e, "%s: no checkpoint to resume from (ckpt-<step>.h5)", cfg->ckpt_dir);
        st = nt_agree(c, NT_EXIT_INPUT, &e);
        goto out;
    }
    /* output directory: never replace an earlier run's results unless asked to (a resumed
     * run continues its own) */
    st = 0;
    if (c->rank == 0 && resuming) {
        if (nt_mkdirs(cfg->out_dir, &e)) st = -1;
    } else if (c->rank == 0) {
        char mp[4200];
        snprintf(path, sizeof path, "%s/metrics.csv", cfg->out_dir);
        snprintf(mp, sizeof mp, "%s/model.h5", cfg->out_dir);
        char oldck[4300];
        int has_ck = nt_ckpt_find_local(cfg->ckpt_dir, oldck, sizeof oldck);
        if (!o->overwrite && has_ck)
            st = nt_fail(&e, "%s: holds checkpoints of an earlier run (%s); continue it with "
                         "--resume, or pass --overwrite to start over", cfg->ckpt_dir, oldck);
        else if (!o->overwrite && (nt_path_exists(path) || nt_path_exists(mp)))
            st = nt_fail(&e, "%s: already holds a run (%s); choose another [output] dir or pass "
                         "--overwrite", cfg->out_dir, nt_path_exists(path) ? "metrics.csv" : "model.h5");
        else if (nt_mkdirs(cfg->out_dir, &e))
            st = -1;
    }
    if ((st = nt_agree(c, st ? NT_EXIT_INPUT : 0, &e))) goto out;
    out_ready = 1;
    nt_write_status(c, cfg->out_dir, "running");

    /* ---- allocation, once ---- */
    const int64_t shard_max = (B + P - 1) / P;        /* largest per-rank batch */
    const int bmax = (int)(shard_max > 256 ? shard_max : 256); /* also the eval batch */
    const double row_bytes = (double)D * (train.x_u8 ? 1 : 4);
    const int64_t cache_rows = (int64_t)fmax(1.0, cfg->cache_mb * 1048576.0 / row_bytes);
    const int64_t steps = nn_steps_per_epoch(n_train, B);
    /* steps per read window; two windows are held (one computing, one being read ahead) */
    int64_t spw = cache_rows / 2 / shard_max;
    if (spw < 1) spw = 1;
    if (spw > steps) spw = steps;

    nn_model_spec spec = nt_config_model_spec(cfg, bmax, X_N);
    if (nn_model_create_spec(&m, &spec)) {
        st = nt_fail(&e, "out of memory creating the model");
        goto alloc_fail;
    }
    model_ok = 1;
    if (nt_make_optimizer(&opt, cfg, &m)) {
        st = nt_fail(&e, "out of memory creating the optimizer");
        goto alloc_fail;
    }
    opt_ok = 1;
    if (comm_reducer_init(&red, c, m.grads, m.nparams + X_N, (size_t)(cfg->bucket_mb * 1048576)) != MPI_SUCCESS) {
        st = nt_fail(&e, "out of memory creating the gradient reducer");
        goto alloc_fail;
    }
    red_ok = 1;
    hist = calloc((size_t)cfg->epochs * NT_METRIC_COLS + 1, sizeof(double));
    /* the sample order: index tables (8 bytes per row, three of them), or for datasets too
     * large for that, Feistel bijections evaluated per position (O(1) memory) */
    feistel = cfg->perm_mode == NT_PERM_FEISTEL ||
              (cfg->perm_mode == NT_PERM_AUTO && N > NT_PERM_TABLE_MAX);
    if (!feistel) split = malloc(sizeof(int64_t) * (size_t)N);
    for (int k = 0; k < 2; k++) {
        if (!feistel) perm2[k] = malloc(sizeof(int64_t) * (size_t)n_train);
        rows2[k] = malloc(sizeof(int64_t) * (size_t)(spw * shard_max));
        step_off2[k] = malloc(sizeof(int64_t) * (size_t)(spw + 1));
    }
    bb.bmax = bmax;
    bb.x = aligned_alloc(64, ((sizeof(float) * (size_t)bmax * D) + 63) & ~(size_t)63);
    bb.dz = malloc(sizeof(float) * (size_t)bmax * K);
    bb.labels = malloc(sizeof(int32_t) * (size_t)bmax);
    bb.targets = malloc(sizeof(float) * (size_t)bmax * K);
    if (!hist || (!feistel && (!split || !perm2[0] || !perm2[1])) || !rows2[0] || !rows2[1] || !step_off2[0] ||
        !step_off2[1] || !bb.x || !bb.dz || !bb.labels || !bb.targets) {
        st = nt_fail(&e, "out of memory");
        goto alloc_fail;
    }
    if (nt_window_alloc(&twin[0], &train, spw * shard_max, &e) ||
        nt_window_alloc(&twin[1], &train, spw * shard_max, &e)) { st = -1; goto alloc_fail; }
    /* validation split from the seed: the first n_val of a permutation of the file rows */
    if (feistel) {
        split_perm = nn_perm_feistel(N, nn_key(cfg->seed, NN_STREAM_SPLIT, 0, 0));
    } else {
        nn_permutation(split, N, nn_key(cfg->seed, NN_STREAM_SPLIT, 0, 0));
        split_perm = nn_perm_table(split, N);
    }
    if (nt_pass_init(&vset, &train, NULL, n_val, cache_rows, 1, c, &e)) { st = -1; goto alloc_fail; }
    nt_pass_set_order(&vset, &split_perm); /* validation row i = split(i) */
    if (have_test && nt_pass_init(&tset, &test, NULL, test.n, cache_rows, 1, c, &e)) {
        st = -1;
        goto alloc_fail;
    }
alloc_fail:
    if ((st = nt_agree(c, st ? NT_EXIT_RUNTIME : 0, &e))) goto out;

    if (resuming) {
        /* every rank reads the checkpoint: parameters, optimizer state, counters, history */
        if ((st = nt_ckpt_load(resume_path, &m, &opt, &cs, hist, cfg->epochs, &nhist, c, &e)))
            goto out;
        if (cs.steps_per_epoch != steps || cs.seed != cfg->seed) {
            nt_fail(&e, "%s: written for %lld steps per epoch and seed %llu; this configuration "
                    "has %lld and %llu (batch_size, data or seed changed)", resume_path,
                    (long long)cs.steps_per_epoch, (unsigned long long)cs.seed, (long long)steps,
                    (unsigned long long)cfg->seed);
            st = nt_agree(c, NT_EXIT_INPUT, &e);
            goto out;
        }
        char msg[4600];
        snprintf(msg, sizeof msg, "resuming from %s: epoch %lld, step %lld of %lld (written by %d rank%s)",
                 resume_path, (long long)cs.epoch, (long long)cs.step_in_epoch, (long long)steps,
                 cs.world_size, cs.world_size == 1 ? "" : "s");
        nt_report_event(&rep, "resume", msg);
    } else if (o->init_from) {
        /* every rank reads the same weights (shape mismatch: one clear error) */
        if ((st = nt_agree(c, nt_model_load(&m, o->init_from, c, &e), &e))) goto out;
        char msg[4200];
        snprintf(msg, sizeof msg, "starting from the weights in %s", o->init_from);
        nt_report_event(&rep, "init_from", msg);
    } else if (c->rank == 0) {
        nn_model_init_scheme(&m, cfg->seed, cfg->init, cfg->init_std);
    }
    /* rank 0 initialised (or everyone loaded the same bits): broadcast keeps them identical */
    if (!resuming && !o->init_from && comm_bcast_floats(c, m.params, m.nparams, 0) != MPI_SUCCESS) {
        nt_fail(&e, "MPI_Bcast of the initial parameters failed");
        st = nt_agree(c, NT_EXIT_RUNTIME, &e);
        goto out;
    }

    if (!resuming && o->overwrite && c->rank == 0) nt_ckpt_remove_all(cfg->ckpt_dir);
    /* the first write into the output directory: every start-up check (and the checkpoint
     * load) has passed. A resumed run's metrics.csv is rewritten from the checkpoint's
     * history, so epochs after the checkpoint are not listed twice. */
    st = c->rank == 0 && nt_metrics_open(&metrics, cfg->out_dir, have_test,
                                         nn_loss_is_regression(cfg->loss.kind), 0, &e)
             ? NT_EXIT_RUNTIME : 0;
    if ((st = nt_agree(c, st, &e))) goto out;
    for (int i = 0; i < nhist && c->rank == 0; i++) {
        const double *r = hist + (size_t)i * NT_METRIC_COLS;
        nt_epoch_stats h = {.epoch = (int)r[0], .train = {r[1], r[2], r[3]},
                            .val = {r[4], r[5], r[6]}, .test = {r[7], r[8], r[9]},
                            .samples_per_s = r[10], .elapsed_s = r[11], .lr = r[12]};
        nt_metrics_row(&metrics, &h);
    }

    {
        char model[512];
        size_t n = 0;
        for (int i = 0; i < cfg->nsizes && n + 16 < sizeof model; i++)
            n += (size_t)snprintf(model + n, sizeof model - n, "%s%d", i ? "-" : "", cfg->sizes[i]);
        int nodes = c->local_rank == 0, total = 0;
        MPI_Allreduce(&nodes, &total, 1, MPI_INT, MPI_SUM, c->comm);
        char cfg_abs[PATH_MAX]; /* the effective configuration file, as an absolute path */
        nt_run_info ri = {.version = NN_VERSION,
                          .config = realpath(cfg->path, cfg_abs) ? cfg_abs : cfg->path, .out_dir = cfg->out_dir,
                          .model = model, .activation = nn_act_name(cfg->activation),
                          .optimizer = nn_opt_name(cfg->opt.kind), .loss = nn_loss_name(cfg->loss.kind),
                          .ranks = P, .nodes = total, .threads = threads, .params = m.nparams,
                          .lr = cfg->opt.lr, .n_train = n_train, .n_val = n_val,
                          .n_test = have_test ? (long long)test.n : 0, .batch = B,
                          .shard_min = B / P, .shard_max = shard_max, .steps = steps,
                          .epochs = cfg->epochs, .streaming = spw < steps, .cache_mb = cfg->cache_mb};
        nt_report_start(&rep, &ri);
    }

    /* ---- epochs ---- */
    const double t_start = nt_now() - cs.elapsed_s;
    int64_t gstep = cs.global_step + 1; /* global step counter, from 1 */
    const int64_t first_epoch = resuming ? cs.epoch : 1;
    /* Testing aid: NNTRAIN_FAULT=RANK:STEP makes RANK fail at global step STEP as a failed
     * read would, exercising the path where one rank fails mid-run and all stop together. */
    struct { long rank; long step; } fault = {-1, -1};
    const char *fenv = getenv("NNTRAIN_FAULT");
    /* Testing aid: NNTRAIN_STOP_AT_STEP=K behaves like a SIGTERM arriving during step K. */
    const char *senv = getenv("NNTRAIN_STOP_AT_STEP");
    long stop_at = senv ? atol(senv) : 0;
    if (fenv && sscanf(fenv, "%ld:%ld", &fault.rank, &fault.step) != 2) fault.rank = -1;
    nt_epoch_stats es = {0};
    float *xs = m.grads + m.nparams; /* the ride-along slots */
    const int regression = nn_loss_is_regression(cfg->loss.kind);
    nn_schedule sched = cfg->sched;
    if (sched.kind == NN_SCHED_COSINE && sched.t_max <= 0) /* default: the whole run */
        sched.t_max = (double)(cfg->sched_per_step ? steps * cfg->epochs : cfg->epochs);
    int stop_requested = 0;
    double t_ckpt_next = 0;
    char ckpt_written[4300] = "";
    int64_t perm_epoch[2] = {-1, -1}, win_epoch[2] = {-1, -1}, win_s0[2] = {-1, -1};
    int win_err[2] = {0, 0};
    for (int epoch = (int)first_epoch; epoch <= cfg->epochs; epoch++) {
        double t0 = nt_now(), loss_sum = 0, m0 = 0, m1 = 0, seen = 0, data_s = 0, seen_now = 0;
        double t_ckpt = t_ckpt_next; /* the previous epoch-end checkpoint counts here */
        t_ckpt_next = 0;
        int64_t first_step = 0;
        if (resuming && epoch == first_epoch) { /* continue inside the interrupted epoch */
            first_step = cs.step_in_epoch;
            loss_sum = cs.partial[0]; m0 = cs.partial[1]; m1 = cs.partial[2]; seen = cs.partial[3];
        }
        int64_t done_steps = first_step;
        ensure_perm(eperm, perm2, perm_epoch, epoch, n_train, cfg->seed, feistel);
        for (int64_t s0 = first_step; s0 < steps && !stop_requested; s0 += spw) {
            int64_t s1 = s0 + spw < steps ? s0 + spw : steps;
            /* this window (steps [s0, s1)) was normally read ahead; otherwise read it now */
            int cur = -1;
            for (int k = 0; k < 2; k++)
                if (win_epoch[k] == epoch && win_s0[k] == s0) cur = k;
            if (cur < 0) {
                cur = twin[0].pending ? 1 : 0;
                win_err[cur] = start_window(&twin[cur], cur, &train, &eperm[epoch & 1], &split_perm,
                                            n_val, n_train, B, P, c->rank, s0, s1, rows2[cur],
                                            step_off2[cur], &e);
                win_epoch[cur] = epoch;
                win_s0[cur] = s0;
            }
            double tr = nt_now();
            int read_err = nt_window_finish(&twin[cur], &train, &e) || win_err[cur] ? 1 : 0;
            data_s += nt_now() - tr; /* time waiting for data */
            win_epoch[cur] = -1;
            /* read ahead the next window (of this epoch or the next) while this one computes */
            int64_t ne = s1 < steps ? epoch : epoch + 1, ns0 = s1 < steps ? s1 : 0;
            if (ne <= cfg->epochs) {
                int nx = cur ^ 1;
                ensure_perm(eperm, perm2, perm_epoch, ne, n_train, cfg->seed, feistel);
                int64_t ns1 = ns0 + spw < steps ? ns0 + spw : steps;
                win_err[nx] = start_window(&twin[nx], nx, &train, &eperm[ne & 1], &split_perm, n_val,
                                           n_train, B, P, c->rank, ns0, ns1, rows2[nx],
                                           step_off2[nx], &e);
                win_epoch[nx] = ne;
                win_s0[nx] = ns0;
            }
            const int64_t *rows = rows2[cur], *step_off = step_off2[cur];
            nt_window *tw = &twin[cur];
            for (int64_t s = s0; s < s1 && !stop_requested; s++) {
                int nb = (int)(step_off[s - s0 + 1] - step_off[s - s0]);
                if (!read_err && fault.rank == c->rank && fault.step == gstep) {
                    nt_fail(&e, "fault injected by NNTRAIN_FAULT on rank %d at step %lld",
                            c->rank, (long long)gstep);
                    read_err = 1;
                }
                /* learning rate of this step: the schedule at the epoch or step counter */
                opt.cfg.lr = nn_schedule_lr(&sched, cfg->opt.lr,
                                            cfg->sched_per_step ? gstep - 1 : epoch - 1);
                gstep++;
                int64_t bglob = (s + 1) * B < n_train ? B : n_train - s * B;
                if (read_err) nb = 0; /* still join the allreduce; the flag stops everyone */
                int64_t bcol = 0;
                int64_t bad = nt_window_gather(tw, &train, step_off[s - s0], nb, bb.x,
                                               bb.labels, bb.targets, &bcol);
                if (bad >= 0) { /* non-finite input: stop everyone at this step, name the row */
                    nt_window_nonfinite(&e, tw, &train, step_off[s - s0] + bad, bcol);
                    read_err = 1;
                    nb = 0;
                }
                /* dropout masks keyed by (seed, epoch, layer, file row): rank-independent */
                nn_dropout_ctx dctx = {cfg->seed, (uint64_t)epoch, rows + step_off[s - s0]};
                const float *z = nn_forward_train(&m, bb.x, nb, &dctx);
                double st3[2] = {0, 0};
                /* mean over the *global* batch: the allreduce sum is then the exact mean */
                xs[X_LOSS] = (float)nn_loss_eval(bb.dz, z, bb.labels, bb.targets, nb, K,
                                                 &cfg->loss, 1.0f / (float)bglob, st3);
                xs[X_M0] = (float)st3[0];
                xs[X_M1] = (float)st3[1];
                xs[X_COUNT] = (float)nb;
                xs[X_ERROR] = (float)read_err;
                /* a signal on any rank (or NNTRAIN_STOP_AT_STEP, a testing aid) asks all to stop */
                xs[X_STOP] = nt_stop_signal != 0 || (stop_at > 0 && c->rank == 0 && gstep - 1 == stop_at);
                bwd_ctx bc = {&red, &m, MPI_SUCCESS};
                nn_backward(&m, bb.x, bb.dz, nb, 0, layer_done, &bc); /* overwrites the gradients */
                int rc = comm_reducer_wait(&red);
                if (rc != MPI_SUCCESS || bc.rc != MPI_SUCCESS) {
                    nt_fail(&e, "gradient allreduce failed (MPI error %d)", rc ? rc : bc.rc);
                    st = nt_agree(c, NT_EXIT_RUNTIME, &e);
                    goto out;
                }
                if (xs[X_ERROR] > 0) {
                    st = nt_agree(c, read_err ? NT_EXIT_INPUT : 0, &e);
                    goto out;
                }
                if (!isfinite(xs[X_LOSS])) {
                    nt_fail(&e, "training diverged: loss is %g at epoch %d step %lld; lower "
                            "[optimizer] lr", (double)xs[X_LOSS], epoch, (long long)s + 1);
                    st = nt_agree(c, c->rank == 0 ? NT_EXIT_RUNTIME : 0, &e);
                    goto out;
                }
                loss_sum += (double)xs[X_LOSS]; /* sum of per-sample losses */
                m0 += xs[X_M0];
                m1 += xs[X_M1];
                seen += xs[X_COUNT];
                seen_now += xs[X_COUNT];
                /* clipping after the allreduce: the same norm, the same factor on every rank */
                if (cfg->clip_grad_norm > 0) nn_clip_grad_norm(m.grads, m.nparams, cfg->clip_grad_norm);
                nn_optim_step(&opt, m.params, m.grads);
                done_steps = s + 1;
                stop_requested = xs[X_STOP] > 0;
                nt_report_progress(&rep, epoch, cfg->epochs, (long long)done_steps, (long long)steps,
                                   seen_now, nt_now() - t0, seen > 0 ? loss_sum / seen : NAN,
                                   seen > 0 ? m0 / seen : NAN, regression);
                /* periodic or requested checkpoint, after the step (every rank agrees) */
                if (stop_requested ||
                    (cfg->ckpt_every_steps > 0 && (gstep - 1) % cfg->ckpt_every_steps == 0)) {
                    cs = (nt_ckpt_state){.epoch = epoch, .step_in_epoch = done_steps,
                                         .global_step = gstep - 1, .steps_per_epoch = steps,
                                         .partial = {loss_sum, m0, m1, seen},
                                         .elapsed_s = nt_now() - t_start, .world_size = P,
                                         .seed = cfg->seed};
                    double tc = nt_now();
                    if ((st = nt_ckpt_save(cfg->ckpt_dir, cfg->ckpt_keep, &m, &opt, &norm, &cs, cfg, hist,
                                           nhist, c, ckpt_written, sizeof ckpt_written, &e)))
                        goto out;
                    t_ckpt += nt_now() - tc;
                }
            }
        }
        if (stop_requested) break;
        double t_train = nt_now() - t0;
        es.epoch = epoch;
        /* the lr of the epoch's last step, from the schedule (also right when a resumed
         * epoch had no steps left to run) */
        es.lr = nn_schedule_lr(&sched, cfg->opt.lr,
                               cfg->sched_per_step ? (int64_t)epoch * steps - 1 : epoch - 1);
        finish_metrics(&cfg->loss, K, seen, loss_sum, m0, m1, &es.train[0], &es.train[1], &es.train[2]);
        es.samples_per_s = seen_now / t_train;
        es.data_s = data_s;
        es.val[0] = es.val[1] = es.val[2] = NAN;
        double t_eval = nt_now();
        if (n_val > 0 && eval_run(&vset, &m, c, &bb, es.val, &e)) st = NT_EXIT_RUNTIME;
        if (!st && have_test && eval_run(&tset, &m, c, &bb, es.test, &e)) st = NT_EXIT_RUNTIME;
        t_eval = nt_now() - t_eval;
        if ((st = nt_agree(c, st, &e))) goto out;
        if (!replicas_agree(c, &m)) {
            nt_fail(&e, "model replicas differ across ranks after epoch %d (non-deterministic "
                    "allreduce?)", epoch);
            st = nt_agree(c, c->rank == 0 ? NT_EXIT_RUNTIME : 0, &e);
            goto out;
        }
        es.elapsed_s = nt_now() - t_start;
        double timing[4] = {t_train, data_s, t_eval, t_ckpt};
        nt_report_epoch(&rep, &es, cfg->epochs, n_val > 0, have_test, regression, timing);
        if (c->rank == 0) nt_metrics_row(&metrics, &es);
        nt_write_status(c, cfg->out_dir, "running epoch %d/%d done, global_step %lld", epoch,
                        cfg->epochs, (long long)(gstep - 1));
        double row[NT_METRIC_COLS] = {epoch, es.train[0], es.train[1], es.train[2], es.val[0],
                                      es.val[1], es.val[2], es.test[0], es.test[1], es.test[2],
                                      es.samples_per_s, es.elapsed_s, es.lr};
        memcpy(hist + (size_t)nhist * NT_METRIC_COLS, row, sizeof row);
        nhist++;
        if (cfg->ckpt_every_epochs > 0 && epoch % cfg->ckpt_every_epochs == 0) {
            /* the next epoch, from its first step */
            cs = (nt_ckpt_state){.epoch = epoch + 1, .step_in_epoch = 0, .global_step = gstep - 1,
                                 .steps_per_epoch = steps, .elapsed_s = nt_now() - t_start,
                                 .world_size = P, .seed = cfg->seed};
            double tc = nt_now();
            if ((st = nt_ckpt_save(cfg->ckpt_dir, cfg->ckpt_keep, &m, &opt, &norm, &cs, cfg, hist, nhist,
                                   c, ckpt_written, sizeof ckpt_written, &e)))
                goto out;
            t_ckpt_next = nt_now() - tc;
        }
    }
    if (stop_requested) {
        /* rank 0 may not be the rank that was signalled: say what it knows */
        char msg[9000];
        snprintf(msg, sizeof msg, "nntrain: stopped early (%s): checkpoint %s written; continue with\n"
                 "  nntrain train --config %s --resume",
                 nt_stop_signal == SIGUSR1 ? "SIGUSR1" : nt_stop_signal == SIGTERM ? "SIGTERM"
                                                     : "stop requested on a rank",
                 ckpt_written, cfg->path);
        nt_report_event(&rep, "stopped", msg);
        if (res) res->stopped = 1;
        nt_write_status(c, cfg->out_dir, "stopped global_step %lld checkpoint %s", (long long)(gstep - 1),
                        ckpt_written);
        st = 0;
        goto out;
    }

    snprintf(path, sizeof path, "%s/model.h5", cfg->out_dir);
    st = nt_model_save(&m, nn_loss_name(cfg->loss.kind), &norm, path, c, &e);
    if ((st = nt_agree(c, st, &e))) goto out;
    nt_write_status(c, cfg->out_dir, "finished epochs %d global_step %lld model %s", cfg->epochs,
                    (long long)(gstep - 1), path);
    if (!o->quiet) {
        char msg[4400];
        if (have_test && regression)
            snprintf(msg, sizeof msg, "model written to %s\ntest rmse: %.4f  mae: %.4f", path,
                     es.test[1], es.test[2]);
        else if (have_test)
            snprintf(msg, sizeof msg, "model written to %s\ntest accuracy: %.4f", path, es.test[1]);
        else
            snprintf(msg, sizeof msg, "model written to %s", path);
        nt_report_event(&rep, "finished", msg);
    }
    if (res) {
        res->nparams = m.nparams;
        res->params = malloc(sizeof(float) * m.nparams);
        if (res->params) memcpy(res->params, m.params, sizeof(float) * m.nparams);
        res->last = es;
        res->has_test = have_test;
    }

out:
    if (st && out_ready) nt_write_status(c, cfg->out_dir, "failed exit %d", st);
    nt_metrics_close(&metrics);
    nt_pass_free(&vset);
    nt_pass_free(&tset);
    for (int k = 0; k < 2; k++) { /* a read-ahead still in flight is completed (collectively) */
        if (twin[k].pending) nt_window_finish(&twin[k], &train, &e);
        nt_window_free(&twin[k]);
        free(perm2[k]); free(rows2[k]); free(step_off2[k]);
    }
    free(split);
    free(bb.x); free(bb.dz); free(bb.labels); free(bb.targets); free(hist);
    if (red_ok) comm_reducer_free(&red);
    if (opt_ok) nn_optim_free(&opt);
    if (model_ok) nn_model_free(&m);
    if (have_test) nt_data_close(&test);
    if (have_train) nt_data_close(&train);
    return st;
}
