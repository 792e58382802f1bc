/* Start-up of a training run (trainer.h): the process (denormals, BLAS threads, warnings),
 * the data files, the output directory's lock (runlock.h), resume or a fresh output directory,
 * allocation (once), the initial weights, metrics.csv and the banner. Every check is agreed by
 * all ranks before anything is written into the output directory, so a start-up failure leaves
 * it as it was (apart from the directory and its .lock file, created when missing). */
#define _GNU_SOURCE
#include "trainer.h"
#include "blas.h"
#include "check.h" /* nt_err_clear */
#include "cli.h" /* nn_parse_* */
#include "modelio.h"
#include "rng.h"
#include "runlock.h"
#include <cblas.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <limits.h>
#include <math.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nt_blas_threads(int cfg_threads, const comm_t *c)
{
    int n = cfg_threads;
    const char *env = getenv("OPENBLAS_NUM_THREADS");
    long v;
    if (n <= 0 && env && nn_parse_long(env, &v) == 0 && v > 0) n = (int)v;
    if (n > 0) return n;
    /* srun without the batch script: the allocation says how many CPUs this task has (the
     * host's core count may be far larger than what Slurm gave the node) */
    const char *slurm = getenv("SLURM_CPUS_PER_TASK");
    if (slurm && nn_parse_long(slurm, &v) == 0 && v > 0) n = (int)v;
    else n = (int)(sysconf(_SC_NPROCESSORS_ONLN) / (c->local_size > 0 ? c->local_size : 1));
    cpu_set_t set;
    /* a rank bound to fewer CPUs (mpirun --bind-to core) must not oversubscribe them */
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) < n) n = CPU_COUNT(&set);
    return n < 1 ? 1 : n;
}

/* Collective: open a dataset and check it against the model and loss (width D, K outputs,
 * labels vs regression targets). Returns the agreed status; on failure the file is closed
 * and one rank has printed the reason. */
int nt_open_dataset(nt_data *ds, const char *path, int D, int K, const nn_loss *L, comm_t *c,
                    nt_err *e)
{
    int st = nt_data_open(ds, path, c, e) < 0 ? NT_EXIT_INPUT : 0; /* 1: another rank failed */
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

int nt_make_optimizer(nn_optim *o, const nt_config *cfg, const nn_model *m)
{
    return nt_make_optimizer_slice(o, cfg, m, 0, m->nparams);
}

int nt_make_optimizer_slice(nn_optim *o, const nt_config *cfg, const nn_model *m, size_t lo,
                            size_t hi)
{
    if (nn_optim_create_slice(o, &cfg->opt, lo, hi - lo, m->nparams)) return -1;
    if (cfg->decay_biases || !cfg->bias || (cfg->opt.weight_decay == 0 && cfg->opt.l1 == 0)) return 0;
    /* biases excluded from weight decay and L1: one segment per weight block and bias block */
    nn_opt_segment seg[2 * NT_MAX_LAYERS];
    int ns = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *Ly = &m->layers[l];
        seg[ns++] = (nn_opt_segment){Ly->w_off, Ly->b_off, cfg->opt.weight_decay, cfg->opt.l1};
        seg[ns++] = (nn_opt_segment){Ly->b_off, Ly->b_off + (size_t)Ly->out, 0.0, 0.0};
    }
    if (nn_optim_set_segments(o, seg, ns)) {
        nn_optim_free(o);
        return -1;
    }
    return 0;
}

/* --verbose: where every rank runs (host, local rank, CPUs it may use, BLAS threads),
 * gathered to rank 0. */
static void report_placement(nt_reporter *rep, comm_t *c, int threads)
{
    enum { LEN = 512 };
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
    snprintf(mine, LEN, "rank %d: host %s, local rank %d of %d, CPUs %s, %d BLAS thread%s, OpenBLAS "
             "%s kernels chosen %s, pid %d", c->rank, host, c->local_rank, c->local_size, cpus, threads,
             threads > 1 ? "s" : "", nt_blas_kernel(), nt_blas_how(), (int)getpid());
    char *all = c->rank == 0 ? malloc((size_t)LEN * (size_t)c->size) : NULL;
    /* a failed gather or allocation only loses these informational lines */
    int rc = comm_gather_strings(c, mine, LEN, all, 0);
    for (int r = 0; all && rc == MPI_SUCCESS && r < c->size; r++)
        nt_report_event(rep, "placement", all + (size_t)r * LEN);
    free(all);
}

/* FTZ/DAZ, BLAS threads, the reporter, the oversubscription warning, --verbose placement. */
static void setup_process(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
#if defined(__SSE__)
    /* Flush denormals to zero (FTZ) and read them as zero (DAZ) in this thread, as TensorFlow
     * does by default and torch.set_flush_denormal(True) offers: Adam's second moments of tiny
     * gradients become denormal and made later epochs ~40 % slower (measured). */
    if (cfg->flush_denormals) _mm_setcsr(_mm_getcsr() | 0x8040);
#endif
    t->threads = nt_blas_threads(cfg->threads, t->c);
    openblas_set_num_threads(t->threads);
    nt_report_init(&t->rep, t->c->rank, t->o->quiet, t->o->verbose, t->o->json, t->o->progress);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if ((long)t->threads * t->c->local_size > cores) {
        char w[300];
        snprintf(w, sizeof w, "%d ranks x %d BLAS thread%s on a node with %ld cores oversubscribes "
                 "it (slower); use fewer ranks per node%s", t->c->local_size, t->threads,
                 t->threads > 1 ? "s" : "", cores, t->threads > 1 ? " or [train] threads = 0 (auto)" : "");
        nt_report_warning(&t->rep, w);
    }
    if (cfg->deterministic && t->c->size > 1) {
        /* whole chunks per rank: a batch of fewer chunks than ranks leaves some ranks idle */
        const long long g = (cfg->batch_size + cfg->det_chunk - 1) / cfg->det_chunk, P = t->c->size;
        if (g < P) {
            char idle[64], w[400];
            if (P - g > 1) snprintf(idle, sizeof idle, "ranks %lld-%lld compute", g, P - 1);
            else snprintf(idle, sizeof idle, "rank %lld computes", g);
            snprintf(w, sizeof w, "[train] deterministic_chunk = %lld cuts a batch of %lld rows into %lld "
                     "chunk%s, fewer than the %lld ranks: %s nothing; deterministic_chunk <= %lld "
                     "uses every rank (another chunk size gives other bits)",
                     (long long)cfg->det_chunk, (long long)cfg->batch_size, g, g > 1 ? "s" : "", P, idle,
                     (long long)(cfg->batch_size / P > 0 ? cfg->batch_size / P : 1));
            nt_report_warning(&t->rep, w);
        }
    }
    if (t->o->verbose) report_placement(&t->rep, t->c, t->threads);
}

/* Test metrics mean something only when test rows are prepared like training rows. */
static int check_test_norm(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    const int D = cfg->sizes[0];
    if (nt_norm_equal(&t->norm, &(nt_input_norm){t->test.mean, t->test.std, D, 0})) return 0;
    if (!t->test.mean)
        nt_fail(&t->e, "%s: /X is not standardised, unlike %s (attributes mean, std); run "
                "nndata standardize %s --stats-from %s", cfg->test, cfg->train, cfg->test, cfg->train);
    else if (!t->train.mean)
        nt_fail(&t->e, "%s: /X is standardised (attributes mean, std), unlike %s; remove them "
                "with nndata standardize %s --remove", cfg->test, cfg->train, cfg->test);
    else
        nt_fail(&t->e, "%s: /X is standardised with other statistics than %s; run nndata "
                "standardize %s --stats-from %s", cfg->test, cfg->train, cfg->test, cfg->train);
    return nt_agree(t->c, t->c->rank == 0 ? NT_EXIT_INPUT : 0, &t->e);
}

/* The training and test files, checked against the model; the validation split's size. */
static int open_data(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    const int L = cfg->nsizes - 1, K = cfg->sizes[L], D = cfg->sizes[0];
    int st;
    if ((st = nt_open_dataset(&t->train, cfg->train, D, K, &cfg->loss, t->c, &t->e))) return st;
    t->have_train = 1;
    t->train.collective = cfg->collective_reads;
    t->norm = (nt_input_norm){t->train.mean, t->train.std, D, t->train.scale};
    if (cfg->test[0]) {
        if ((st = nt_open_dataset(&t->test, cfg->test, D, K, &cfg->loss, t->c, &t->e))) return st;
        t->have_test = 1;
        if ((st = check_test_norm(t))) return st;
    }
    t->N = t->train.n;
    t->n_val = (int64_t)floor((double)t->N * cfg->val_fraction);
    t->n_train = t->N - t->n_val;
    if (t->n_train < 1) {
        nt_fail(&t->e, "%s: %lld rows leave no training rows after val_fraction = %g", cfg->train,
                (long long)t->N, cfg->val_fraction);
        return nt_agree(t->c, NT_EXIT_INPUT, &t->e);
    }
    if (cfg->es_patience > 0 && t->n_val < 1) {
        nt_fail(&t->e, "%s: [train] early_stopping_patience needs validation rows, but %lld rows "
                "x val_fraction = %g leave none", cfg->train, (long long)t->N, cfg->val_fraction);
        return nt_agree(t->c, NT_EXIT_INPUT, &t->e);
    }
    return 0;
}

/* Rank 0: may this run write into [output] dir? Never replace an earlier run's results
 * unless asked to (a resumed run continues its own). Returns 0 or -1 with e set. */
static int check_output_dir(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    if (t->resuming) return nt_mkdirs(cfg->out_dir, &t->e) ? -1 : 0;
    char mp[4200], path[4200], oldck[4300];
    snprintf(path, sizeof path, "%s/metrics.csv", cfg->out_dir);
    snprintf(mp, sizeof mp, "%s/model.h5", cfg->out_dir);
    int has_ck = nt_ckpt_find_local(cfg->ckpt_dir, oldck, sizeof oldck);
    if (!t->o->overwrite && has_ck)
        return nt_fail(&t->e, "%s: holds checkpoints of an earlier run (%s); continue it with "
                       "--resume, or pass --overwrite to start over", cfg->ckpt_dir, oldck);
    if (!t->o->overwrite && (nt_path_exists(path) || nt_path_exists(mp)))
        return nt_fail(&t->e, "%s: already holds a run (%s); choose another [output] dir or pass "
                       "--overwrite", cfg->out_dir, nt_path_exists(path) ? "metrics.csv" : "model.h5");
    return nt_mkdirs(cfg->out_dir, &t->e) ? -1 : 0;
}

/* Rank 0 locks [output] dir (runlock.h), creating it if needed, before anything looks into it,
 * and holds the lock until the run ends: a second run into the same directory stops here, on
 * every rank, having written nothing (its status and metrics writes are never reached). */
static int lock_output_dir(nt_trainer *t)
{
    int st = 0;
    if (t->c->rank == 0) {
        t->lock_fd = nt_run_lock(t->cfg->out_dir, &t->e);
        if (t->lock_fd == -2) { /* no locks on this file system: warn, and go on unlocked */
            nt_report_warning(&t->rep, t->e.msg);
            t->e.msg[0] = 0;
        } else if (t->lock_fd < 0) {
            st = NT_EXIT_INPUT;
        }
    }
    return nt_agree(t->c, st, &t->e);
}

/* Resume (the newest complete checkpoint, if asked for or [checkpoint] resume = auto) or a
 * fresh output directory: the lock and the checks, nothing written yet (open_metrics). */
static int prepare_output(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    int st = lock_output_dir(t);
    if (st) return st;
    int found = t->o->resume || cfg->resume_auto
                    ? nt_ckpt_find(cfg->ckpt_dir, t->c, t->resume_path, sizeof t->resume_path) : 0;
    if (found < 0) { /* the same on every rank: the name's broadcast failed */
        nt_fail(&t->e, "%s: looking for checkpoints failed (MPI broadcast)", cfg->ckpt_dir);
        return nt_agree(t->c, NT_EXIT_RUNTIME, &t->e);
    }
    t->resuming = found;
    if (t->o->resume && !t->resuming) {
        nt_fail(&t->e, "%s: no checkpoint to resume from (ckpt-<step>.h5)", cfg->ckpt_dir);
        return nt_agree(t->c, NT_EXIT_INPUT, &t->e);
    }
    st = t->c->rank == 0 && check_output_dir(t) ? NT_EXIT_INPUT : 0;
    return nt_agree(t->c, st, &t->e);
}

/* Memory this node can still give (bytes): MemAvailable, or less under a cgroup v2 limit
 * (Slurm's --mem); NNTRAIN_TEST_MEM_AVAILABLE_MB replaces it (tests). -1: unknown. */
static double node_memory_available(void)
{
    const char *hook = getenv("NNTRAIN_TEST_MEM_AVAILABLE_MB");
    if (hook && *hook) return atof(hook) * 1048576.0;
    double avail = -1;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        long long kb;
        if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1) { avail = kb * 1024.0; break; }
    }
    if (f) fclose(f);
    long long max = 0, cur = 0;
    FILE *m = fopen("/sys/fs/cgroup/memory.max", "r"), *c = fopen("/sys/fs/cgroup/memory.current", "r");
    if (m && c && fscanf(m, "%lld", &max) == 1 && fscanf(c, "%lld", &cur) == 1 && max > cur &&
        (avail < 0 || (double)(max - cur) < avail))
        avail = (double)(max - cur);
    if (m) fclose(m);
    if (c) fclose(c);
    return avail;
}

/* [train] overlap asks for the bucketed allreduce during backward: on, or auto across nodes
 * (within one node the blocking allreduce over shared memory is cheaper than the progress
 * calls, BENCHMARKS.md). local_size < size holds on every rank or on none, so all agree. */
static int overlap_wanted(const nt_config *cfg, const comm_t *c)
{
    return cfg->overlap == NT_OVERLAP_ON || (cfg->overlap == NT_OVERLAP_AUTO && c->local_size < c->size);
}

/* [train] exchange = auto: ZeRO-1 on several ranks (each rank updates 1/P of the parameters
 * and our ring reduce-scatter + allgather moves the same bytes as a ring allreduce: 1.08-1.18x
 * the samples/s of the plain allreduce on one node, BENCHMARKS.md), except where the bucketed
 * allreduce would overlap backward, which zero1 does not do. */
static int resolve_zero1(const nt_config *cfg, const comm_t *c)
{
    if (cfg->exchange != NT_EXCHANGE_AUTO) return cfg->exchange == NT_EXCHANGE_ZERO1;
    if (c->size == 1) return 0;
    return cfg->deterministic || !overlap_wanted(cfg, c);
}

/* Before allocating: the bytes a rank will hold (parameters and gradients, optimizer state,
 * activations and workspaces for bmax rows, decoded rows in memory), times the ranks on this
 * node, against what the node has available. Refuses with one line instead of being killed
 * by the OOM killer halfway through zeroing the buffers. Rank-local (agreed by the caller). */
static int preflight_memory(nt_trainer *t, int bmax, int mb, double cache_bytes)
{
    const nt_config *cfg = t->cfg;
    const int L = cfg->nsizes - 1, D = cfg->sizes[0];
    double params = NT_X_N, act = 0, widest = D;
    for (int l = 0; l < L; l++) {
        const double in = cfg->sizes[l], out = cfg->sizes[l + 1];
        const int drop = cfg->ndropout && cfg->dropout[cfg->ndropout > 1 ? l : 0] > 0 && l < L - 1;
        params += in * out + (cfg->bias ? out : 0);
        act += (double)mb * out * (drop ? 4 : 2);
        if (out > widest) widest = out;
    }
    const double gib = 1073741824.0;
    const double model = 4 * (2 * params + act + 2.0 * mb * widest + 2.0 * bmax * cfg->sizes[L]);
    const int64_t P = t->c->size;
    /* zero1: this rank's slice of the state only (slices are cut at NT_SLICE_ALIGN) */
    const double opt = 4.0 * nn_optim_slots(&cfg->opt) *
                       (t->zero1 ? ceil(params / P / NT_SLICE_ALIGN) * NT_SLICE_ALIGN : params);
    double det = 0; /* deterministic: chunk buffers, exact sums (8 bytes), exponents */
    if (cfg->deterministic) {
        const int64_t g = (cfg->batch_size + cfg->det_chunk - 1) / cfg->det_chunk;
        det = 4.0 * params * (double)((g + P - 1) / P - 1) + 9.0 * params;
    }
    const double row4 = 4.0 * D;
    double rows = fmin(cache_bytes, (double)(t->n_train + t->n_val) * row4) + 3.0 * bmax * row4;
    if (t->have_test) rows += fmin(cache_bytes, (double)t->test.n * row4);
    const double rank = model + opt + det + rows, node = rank * t->c->local_size;
    const double avail = node_memory_available();
    if (avail < 0 || node <= avail) return 0;
    char host[256] = "this node";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = 0;
    const double u = node >= gib ? gib : 1048576.0; /* GiB, or MiB for small figures */
    const char *un = node >= gib ? "GiB" : "MiB";
    char dets[64] = ""; /* deterministic mode's chunk buffers and exact sums */
    if (det > 0) snprintf(dets, sizeof dets, ", deterministic sums %.1f", det / u);
    return nt_fail(&t->e, "the run needs about %.1f %s per rank (parameters and gradients %.1f, "
                   "optimizer state %.1f, activations %.1f, rows %.1f%s) x %d rank%s on %s = %.1f "
                   "%s, but %s has %.1f %s available; use a smaller model or batch, fewer "
                   "ranks per node or a smaller [data] cache_mb", rank / u, un, 8 * params / u,
                   opt / u, (model - 8 * params) / u, rows / u, dets, t->c->local_size,
                   t->c->local_size > 1 ? "s" : "", host, node / u, un, host, avail / u, un);
}

/* Deterministic mode: which layers may this rank run a shard's forward and input-gradient
 * GEMMs for at once? Those where its BLAS gives every row the bits of the chunk-sized GEMMs
 * for every shard size a step can have (full batches and the last one, on every rank);
 * checked here with the layers' shapes, per rank (the thread count may differ). Either way
 * the results are the same bits; the check only decides the speed. */
static void det_batched(nt_trainer *t, int64_t chunk)
{
    const int64_t B = t->cfg->batch_size, P = t->c->size;
    const int64_t last = t->n_train % B ? t->n_train % B : B;
    int ms[128], n = 0;
    for (int r = 0; r < P && n < 126; r++)
        for (int k = 0; k < 2; k++) {
            int64_t lo, hi; /* step 0 (a full batch) and the epoch's last step */
            nn_shard_chunks(k ? (t->stream.steps - 1) * B + last : B, B, (int)P, r,
                            k ? t->stream.steps - 1 : 0, chunk, &lo, &hi);
            const int m = (int)(hi - lo);
            int seen = m <= 0;
            for (int i = 0; i < n && !seen; i++) seen = ms[i] == m;
            if (!seen) ms[n++] = m;
        }
    if (n > 0) nn_model_rows_consistent(&t->m, (int)chunk, ms, n, t->step.det_fwd, t->step.det_din);
}

/* Everything a step, an evaluation and a checkpoint need, allocated once. */
static int allocate(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    const int L = cfg->nsizes - 1, K = cfg->sizes[L], D = cfg->sizes[0];
    const int64_t B = cfg->batch_size, P = t->c->size;
    /* deterministic: whole chunks per rank (nn_shard_chunks) */
    const int64_t chunk = cfg->deterministic ? cfg->det_chunk : 0;
    const int64_t shard_max = chunk ? ((B + chunk - 1) / chunk + P - 1) / P * chunk
                                    : (B + P - 1) / P;          /* largest per-rank batch */
    int bmax = (int)(shard_max > 256 ? shard_max : 256);        /* also the eval batch */
    if (chunk) bmax = (int)((bmax + chunk - 1) / chunk * chunk); /* eval batches of whole chunks */
    /* rows the model's activations are sized for: deterministic, a shard (its forward runs
     * at once when the BLAS allows, else chunk by chunk); with
     * [train] accumulate = k, a k-th of the largest shard (evaluation then runs in pieces of
     * that many rows); else the whole batch buffer, as ever */
    int mb = bmax;
    if (chunk) mb = (int)(shard_max > chunk ? shard_max : chunk);
    else if (cfg->accumulate > 1) mb = (int)((shard_max + cfg->accumulate - 1) / cfg->accumulate);
    if (mb < 1) mb = 1;
    const double row_bytes = (double)D * (t->train.x_u8 ? 1 : 4);
    const int64_t cache_rows = (int64_t)fmax(1.0, cfg->cache_mb * 1048576.0 / row_bytes);
    t->zero1 = resolve_zero1(cfg, t->c);
    int st = preflight_memory(t, bmax, mb, cfg->cache_mb * 1048576.0);
    if ((st = nt_agree(t->c, st ? NT_EXIT_RUNTIME : 0, &t->e))) return st;
    nn_model_spec spec = nt_config_model_spec(cfg, mb, NT_X_N);
    if (nn_model_create_spec(&t->m, &spec)) {
        st = nt_fail(&t->e, "out of memory creating the model");
        goto done;
    }
    t->model_ok = 1;
    /* only the plain allreduce overlaps */
    t->overlap = !t->zero1 && !cfg->deterministic && overlap_wanted(cfg, t->c);
    nt_exchange_cfg xc = {.zero1 = t->zero1,
                          .deterministic = cfg->deterministic, .chunk = cfg->det_chunk, .batch = B,
                          .overlap = t->overlap, .bucket_mb = cfg->bucket_mb,
                          .piece_mflop = cfg->piece_mflop};
    t->x_ok = 1;
    if (nt_exchange_init(&t->x, t->c, &t->m, NT_X_N, NT_X_N - NT_X_ERROR, &xc) != MPI_SUCCESS) {
        st = nt_fail(&t->e, "out of memory creating the gradient exchange");
        goto done;
    }
    /* the optimizer for the parameters this rank updates (zero1: its slice) */
    if (nt_make_optimizer_slice(&t->opt, cfg, &t->m, t->x.lo, t->x.hi)) {
        st = nt_fail(&t->e, "out of memory creating the optimizer");
        goto done;
    }
    t->opt.sliced = t->zero1; /* the same on every rank (a rank's slice may be all or nothing) */
    t->opt_ok = 1;
    /* the sample order: index tables (8 bytes per row, three of them), or for datasets too
     * large for that, Feistel bijections evaluated per position (O(1) memory) */
    nt_stream_cfg sc = {.data = &t->train, .n_val = t->n_val, .n_train = t->n_train, .batch = B,
                        .epochs = cfg->epochs, .cache_rows = cache_rows,
                        .cache_bytes = cfg->cache_mb * 1048576.0, .seed = cfg->seed,
                        .feistel = cfg->perm_mode == NT_PERM_FEISTEL ||
                                   (cfg->perm_mode == NT_PERM_AUTO && t->N > NT_PERM_TABLE_MAX),
                        .rank = t->c->rank, .nranks = t->c->size, .chunk = chunk};
    t->stream_ok = 1;
    if (nt_stream_init(&t->stream, &sc, &t->e)) { st = -1; goto done; }
    t->dz = malloc(sizeof(float) * (size_t)bmax * K);
    if (chunk) {
        const int64_t most = t->n_val > t->test.n || !t->have_test ? t->n_val : t->test.n;
        t->evparts = malloc(sizeof(double) * (3 * (size_t)((most + chunk - 1) / chunk) + 1));
        if (!t->evparts) {
            st = nt_fail(&t->e, "out of memory");
            goto done;
        }
    }
    if (nt_history_init(&t->hist, cfg->epochs, nn_loss_is_regression(cfg->loss.kind), t->n_val > 0,
                        t->have_test) || nt_batch_alloc(&t->batch, bmax, D, K) || !t->dz) {
        st = nt_fail(&t->e, "out of memory");
        goto done;
    }
    t->hist.early = cfg->es_patience > 0;
    if (nt_pass_init_chunked(&t->vset, &t->train, NULL, t->n_val, cache_rows, 1, chunk, t->c, &t->e)) {
        st = -1;
        goto done;
    }
    nt_pass_set_order(&t->vset, nt_stream_val_order(&t->stream)); /* validation row i = split(i) */
    if (t->have_test &&
        nt_pass_init_chunked(&t->tset, &t->test, NULL, t->test.n, cache_rows, 1, chunk, t->c, &t->e))
        st = -1;
done:
    t->step = (nt_step){.m = &t->m, .loss = &cfg->loss, .seed = cfg->seed, .dz = t->dz, .x = &t->x,
                        .accumulate = cfg->accumulate};
    if (!st && chunk) det_batched(t, chunk);
    return nt_agree(t->c, st ? NT_EXIT_RUNTIME : 0, &t->e);
}

/* The training rows into memory, once, when they fit decoded in [data] cache_mb (nt_stream_load). */
static int load_rows(nt_trainer *t)
{
    return nt_agree(t->c, nt_stream_load(&t->stream, &t->e), &t->e);
}

static void no_batch(void *user, int64_t set_index, int64_t win_index, int nb)
{
    (void)user; (void)set_index; (void)win_index; (void)nb;
}

/* The validation split and the test set, when a rank's share fits one read window ([data]
 * cache_mb): read now, checked for NaN/Inf (nt_window_gather, as every evaluation does) and
 * kept for the evaluations (nt_pass keep_resident), so bad rows stop the run before anything
 * is written, at no extra cost. Larger sets are streamed; their rows are checked when each
 * evaluation reads them. Collective: the rank that found the value names it. */
static int check_held_rows(nt_trainer *t)
{
    nt_pass *sets[2] = {t->n_val > 0 ? &t->vset : NULL, t->have_test ? &t->tset : NULL};
    nt_batch *b = &t->batch;
    for (int i = 0; i < 2; i++) {
        nt_pass *p = sets[i];
        if (!p || !p->keep || p->nwin != 1) continue; /* nwin is the same on every rank */
        int st = nt_agree(t->c, nt_pass_run(p, b->x, b->labels, b->targets, b->bmax, no_batch,
                                            NULL, NULL, &t->e), &t->e);
        if (st) return st;
    }
    return 0;
}

/* Loads t->resume_path, the newest checkpoint; when it cannot be read back intact (truncated,
 * not HDF5, a checksum fails, something missing), the next older one, and so on: one warning
 * names the newest and why it was skipped, and t->resume_path becomes the one loaded. When
 * none loads, the newest's error. Collective. */
static int load_intact(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    comm_t *c = t->c;
    int st = nt_ckpt_load_quiet(t->resume_path, &t->m, &t->opt, &t->cs, &t->hist, c, &t->e);
    if (!st) return 0;
    char newest[sizeof t->resume_path];
    nt_err why = t->e;
    const int first_st = st;
    snprintf(newest, sizeof newest, "%s", t->resume_path);
    int skipped = 1;
    for (;;) {
        long long step = nt_ckpt_step_of(t->resume_path);
        int found = step < 0 ? 0 : nt_ckpt_find_before(cfg->ckpt_dir, c, step, t->resume_path,
                                                       sizeof t->resume_path);
        if (found <= 0) {
            if (c->rank == 0) {
                fprintf(stderr, "nntrain: error: %s%s\n", why.msg[0] ? why.msg : newest,
                        skipped > 1 ? " (and no older checkpoint can be read either)" : "");
                fflush(stderr);
            }
            t->e = why;
            return first_st;
        }
        if (!(st = nt_ckpt_load_quiet(t->resume_path, &t->m, &t->opt, &t->cs, &t->hist, c, &t->e)))
            break;
        skipped++;
    }
    char msg[8400];
    snprintf(msg, sizeof msg, "%s; skipping it%s and resuming from the newest intact checkpoint, %s",
             why.msg, skipped > 2 ? " and older ones that failed too" : "", t->resume_path);
    nt_report_warning(&t->rep, msg);
    return 0;
}

/* The starting weights: the checkpoint's (with optimizer state and counters), --init-from's,
 * or initialised from the seed on rank 0 and broadcast, so every replica holds the same bits. */
static int load_weights(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    comm_t *c = t->c;
    int st;
    if (t->resuming) {
        /* every rank reads the checkpoint: parameters, optimizer state, counters, history */
        if ((st = load_intact(t))) return st;
        if (t->cs.steps_per_epoch != t->stream.steps || t->cs.seed != cfg->seed) {
            nt_fail(&t->e, "%s: written for %lld steps per epoch and seed %llu; this configuration "
                    "has %lld and %llu (batch_size, data or seed changed)", t->resume_path,
                    (long long)t->cs.steps_per_epoch, (unsigned long long)t->cs.seed,
                    (long long)t->stream.steps, (unsigned long long)cfg->seed);
            return nt_agree(c, NT_EXIT_INPUT, &t->e);
        }
        /* early stopping's state from the history: the same decisions as uninterrupted */
        for (int i = 0; i < t->hist.n && cfg->es_patience > 0; i++)
            nt_trainer_es_update(t, &t->hist.rows[i]);
        char msg[4600];
        snprintf(msg, sizeof msg, "resuming from %s: epoch %lld, step %lld of %lld (written by %d rank%s)",
                 t->resume_path, (long long)t->cs.epoch, (long long)t->cs.step_in_epoch,
                 (long long)t->stream.steps, t->cs.world_size, t->cs.world_size == 1 ? "" : "s");
        nt_report_event(&t->rep, "resume", msg);
    } else if (t->o->init_from) {
        /* every rank reads the same weights (shape mismatch: one clear error) */
        if ((st = nt_agree(c, nt_model_load(&t->m, t->o->init_from, c, &t->e) ? NT_EXIT_INPUT : 0,
                           &t->e)))
            return st;
        char msg[4200];
        snprintf(msg, sizeof msg, "starting from the weights in %s", t->o->init_from);
        nt_report_event(&t->rep, "init_from", msg);
    } else {
        if (c->rank == 0) nn_model_init_scheme(&t->m, cfg->seed, cfg->init, cfg->init_std);
        /* rank 0 initialised: the broadcast keeps the replicas identical */
        if (comm_bcast_floats(c, t->m.params, t->m.nparams, 0) != MPI_SUCCESS) {
            nt_fail(&t->e, "MPI_Bcast of the initial parameters failed");
            return nt_agree(c, NT_EXIT_RUNTIME, &t->e);
        }
    }
    if (!t->resuming && t->o->overwrite && c->rank == 0) nt_ckpt_remove_all(cfg->ckpt_dir);
    return 0;
}

/* The epoch attribute of best.h5 (rank 0, serial HDF5): -1 no such file, 0 none recorded
 * (written by an nntrain before it was) or unreadable. */
static int best_epoch_on_disk(const char *path)
{
    if (access(path, F_OK)) return -1;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int epoch = 0;
    nt_err e = {{0}};
    if (f >= 0 && H5Aexists(f, "epoch") > 0 && (nt_h5_read_attr1(f, "epoch", H5T_NATIVE_INT, &epoch, path, &e) ||
                                                 epoch < 0))
        epoch = 0;
    if (f >= 0) H5Fclose(f);
    return epoch;
}

/* Early stopping on resume: best.h5 must hold the weights of the best epoch the checkpoint's
 * history names (B). It may not: an attempt abandoned after that checkpoint (the newest one
 * damaged and skipped, or removed) can have improved and rewritten best.h5 later. Then that
 * file is moved aside (best-epoch<E>-abandoned.h5, nothing is lost) and best.h5 is written
 * again from B's weights: the loaded ones when the checkpoint ends epoch B, else the
 * checkpoint written at the end of epoch B if it is still kept; failing both, one warning
 * says best.h5 follows at the next improvement. Collective. */
static int reconcile_best(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    comm_t *c = t->c;
    const int B = t->es_best_epoch;
    if (!t->resuming || cfg->es_patience <= 0) return 0;
    char best[PATH_MAX + 16], moved[PATH_MAX + 64] = "", src[PATH_MAX + 64] = "";
    snprintf(best, sizeof best, "%s/best.h5", cfg->out_dir);
    int on_disk = c->rank == 0 ? best_epoch_on_disk(best) : 0;
    if (comm_bcast_bytes(c, &on_disk, sizeof on_disk, 0) != MPI_SUCCESS) return 0;
    /* as it should be, written by an older nntrain (no epoch), or nothing to restore */
    if (on_disk == B || on_disk == 0 || (on_disk < 0 && B == 0)) return 0;
    if (on_disk > 0 && c->rank == 0) {
        for (int k = 1; k < 100 && !moved[0]; k++) { /* never over an earlier one */
            char n[16] = "";
            if (k > 1) snprintf(n, sizeof n, "-%d", k);
            snprintf(moved, sizeof moved, "%s/best-epoch%d-abandoned%s.h5", cfg->out_dir, on_disk, n);
            if (!access(moved, F_OK)) moved[0] = 0;
        }
        if (!moved[0] || rename(best, moved)) moved[0] = 0;
    }
    if (comm_bcast_bytes(c, moved, sizeof moved, 0) != MPI_SUCCESS) return 0;
    if (on_disk > 0 && !moved[0]) { /* cannot move it: leave it, say so */
        char w[PATH_MAX + 300];
        snprintf(w, sizeof w, "%s holds epoch %d's weights but the best epoch so far is %d (an attempt "
                 "after the checkpoint wrote it) and it could not be moved aside; it is replaced at "
                 "the next improvement", best, on_disk, B);
        nt_report_warning(&t->rep, w);
        return 0;
    }
    /* B's weights: in hand, or in the checkpoint that ended epoch B */
    int in_hand = B > 0 && t->cs.step_in_epoch == 0 && t->cs.epoch == B + 1, st = 0;
    if (B > 0 && !in_hand && c->rank == 0) {
        snprintf(src, sizeof src, "%s/ckpt-%lld.h5", cfg->ckpt_dir, (long long)B * t->stream.steps);
        if (access(src, R_OK)) src[0] = 0;
    }
    if (comm_bcast_bytes(c, src, sizeof src, 0) != MPI_SUCCESS) return 0;
    float *keep = NULL;
    if (src[0]) { /* load B's weights over the model's for the write, then put the model back */
        keep = malloc(sizeof(float) * t->m.nparams);
        if (!keep) nt_fail(&t->e, "out of memory");
        if ((st = nt_agree_quiet(c, keep ? 0 : NT_EXIT_RUNTIME, &t->e))) {
            free(keep);
            keep = NULL;
        } else {
            memcpy(keep, t->m.params, sizeof(float) * t->m.nparams);
            st = nt_agree_quiet(c, nt_model_load(&t->m, src, c, &t->e) ? NT_EXIT_INPUT : 0, &t->e);
        }
    }
    int written = 0, wst = 0;
    if (!st && (in_hand || src[0])) { /* a failed write ends the run, as at an improvement */
        wst = nt_model_save_safe(&t->m, nn_loss_name(cfg->loss.kind), &t->norm, best, B, c, &t->e);
        written = !wst;
    }
    if (keep) {
        memcpy(t->m.params, keep, sizeof(float) * t->m.nparams);
        free(keep);
    }
    if (wst) return wst;
    char w[3 * PATH_MAX + 400], what[PATH_MAX + 100];
    if (on_disk > 0) snprintf(what, sizeof what, "%s held epoch %d's weights from an attempt after the checkpoint; "
                              "moved to %s", best, on_disk, moved);
    else snprintf(what, sizeof what, "%s is missing", best);
    if (written)
        snprintf(w, sizeof w, "%s; best.h5 rewritten with the best epoch so far, %d (from %s)", what, B,
                 in_hand ? "the checkpoint resumed from" : src);
    else if (B > 0)
        snprintf(w, sizeof w, "%s; the best epoch so far, %d, has no weights on disk any more (%s); "
                 "best.h5 is written at the next improvement", what, B,
                 st ? t->e.msg : "its checkpoint is not kept");
    else snprintf(w, sizeof w, "%s; best.h5 is written at the first improvement", what);
    nt_report_warning(&t->rep, w);
    nt_err_clear(&t->e);
    return 0;
}

/* The first write into the output directory: every start-up check (and the checkpoint load)
 * has passed. A resumed run's metrics.csv is rewritten from the checkpoint's history, so
 * epochs after the checkpoint are not listed twice. */
static int open_metrics(nt_trainer *t)
{
    /* where checkpoints go must be possible (a signal can ask for one at any step): a path
     * under a file fails here, before anything is written, not at the first checkpoint after
     * training started */
    int st = t->c->rank == 0 && nt_mkdirs(t->cfg->ckpt_dir, &t->e) ? NT_EXIT_INPUT : 0;
    if ((st = nt_agree(t->c, st, &t->e))) return st;
    st = t->c->rank == 0 && nt_metrics_open(&t->metrics, t->cfg->out_dir, &t->hist, &t->e)
             ? NT_EXIT_RUNTIME : 0;
    if ((st = nt_agree(t->c, st, &t->e))) return st;
    /* from here on a failure is recorded in the status file; before, nothing was written (the
     * lock file and empty directories apart) */
    t->out_ready = 1;
    nt_write_status(t->c, t->cfg->out_dir, "running");
    /* heartbeat files of an earlier job in this directory (every rank starts its watchdog
     * after later agreements, so after this) */
    if (t->c->rank == 0) nt_watchdog_clear(t->cfg->out_dir);
    if (t->c->rank == 0 && !t->resuming) { /* an earlier run's best model (--overwrite) */
        char best[PATH_MAX + 16];
        snprintf(best, sizeof best, "%s/best.h5", t->cfg->out_dir);
        unlink(best);
    }
    for (int i = 0; i < t->hist.n && t->c->rank == 0; i++) nt_metrics_row(&t->metrics, &t->hist.rows[i]);
    return reconcile_best(t);
}

/* The start-up banner (rank 0). */
static void banner(nt_trainer *t)
{
    const nt_config *cfg = t->cfg;
    char model[512];
    size_t n = 0;
    for (int i = 0; i < cfg->nsizes && n + 16 < sizeof model; i++)
        n += (size_t)snprintf(model + n, sizeof model - n, "%s%d", i ? "-" : "", cfg->sizes[i]);
    int total = t->c->local_rank == 0; /* nodes: ranks that are first on theirs */
    if (comm_allreduce_int(t->c, &total, 1, COMM_SUM) != MPI_SUCCESS) total = 0; /* "0 nodes" */
    char cfg_abs[PATH_MAX]; /* the effective configuration file, as an absolute path */
    const nt_stream *s = &t->stream;
    long long lo_rows = -1, hi_rows = 0; /* per-rank rows of a full batch */
    for (int r = 0; r < t->c->size; r++) {
        int64_t a, b;
        nn_shard_chunks(cfg->batch_size, cfg->batch_size, t->c->size, r, 0,
                        cfg->deterministic ? cfg->det_chunk : 0, &a, &b);
        if (lo_rows < 0 || b - a < lo_rows) lo_rows = b - a;
        if (b - a > hi_rows) hi_rows = b - a;
    }
    nt_run_info ri = {.version = NN_VERSION,
                      .config = realpath(cfg->path, cfg_abs) ? cfg_abs : cfg->path, .out_dir = cfg->out_dir,
                      .model = model, .activation = nn_act_name(cfg->activation),
                      .optimizer = nn_opt_name(cfg->opt.kind), .loss = nn_loss_name(cfg->loss.kind),
                      .blas = nt_blas_kernel(),
                      .ranks = t->c->size, .nodes = total, .threads = t->threads, .params = t->m.nparams,
                      .lr = cfg->opt.lr, .n_train = t->n_train, .n_val = t->n_val,
                      .n_test = t->have_test ? (long long)t->test.n : 0, .batch = cfg->batch_size,
                      .shard_min = lo_rows, .shard_max = hi_rows,
                      .steps = s->steps, .epochs = cfg->epochs, .streaming = s->spw < s->steps,
                      .cache_mb = cfg->cache_mb,
                      .overlap_mb = t->overlap && t->c->size > 1 ? cfg->bucket_mb : 0,
                      .exchange = t->zero1 ? "zero1" : "allreduce",
                      .deterministic = cfg->deterministic, .chunk = cfg->det_chunk,
                      .accumulate = cfg->accumulate};
    /* the optimizer state of the rank holding the most (zero1: the largest slice) */
    uint64_t state = sizeof(float) * (uint64_t)t->opt.nstate;
    if (comm_allreduce_u64(t->c, &state, 1, COMM_MAX) != MPI_SUCCESS) state = 0;
    ri.state_bytes = (double)state;
    nt_report_start(&t->rep, &ri);
}

int nt_trainer_setup(nt_trainer *t, const nt_config *cfg, comm_t *c, const nt_train_opts *o)
{
    *t = (nt_trainer){.cfg = cfg, .c = c, .o = o, .lock_fd = -1};
    t->train.file = t->test.file = H5I_INVALID_HID;
    setup_process(t);
    int st;
    /* every check (the data, the rows held in memory: training rows in load_rows, the
     * validation and test rows in check_held_rows; the memory; the starting weights) before
     * the first write into the output directory (open_metrics) */
    if ((st = open_data(t)) || (st = prepare_output(t)) || (st = allocate(t)) || (st = load_rows(t)) ||
        (st = check_held_rows(t)) || (st = load_weights(t)) || (st = open_metrics(t)))
        return st;
    banner(t);
    nt_testing_init(&t->testing);
    t->sched = cfg->sched;
    if (t->sched.kind == NN_SCHED_COSINE && t->sched.t_max <= 0) /* default: the whole run */
        t->sched.t_max = (double)(cfg->sched_per_step ? t->stream.steps * cfg->epochs : cfg->epochs);
    t->t_start = nt_now() - t->cs.elapsed_s;
    t->done = t->cs.global_step;
    /* the hang watchdog ([train] timeout): from here on a rank that stops responding ends
     * the job (a failure to start it is agreed like any other) */
    st = nt_watchdog_start(&t->wd, cfg->timeout, cfg->out_dir, t->c->rank, t->c->size, t->done + 1,
                           &t->e) ? NT_EXIT_RUNTIME : 0;
    if (!st && t->resume_path[0]) nt_watchdog_checkpoint(&t->wd, t->resume_path, (long long)t->done);
    return nt_agree(t->c, st, &t->e);
}

int nt_trainer_checkpoint(nt_trainer *t, const nt_ckpt_state *s)
{
    int st = nt_ckpt_save(t->cfg->ckpt_dir, t->cfg->ckpt_keep, &t->m, &t->opt, &t->norm, s, t->cfg,
                          &t->hist, t->c, t->ckpt_written, sizeof t->ckpt_written, &t->e);
    if (!st) nt_watchdog_checkpoint(&t->wd, t->ckpt_written, (long long)s->global_step);
    return st;
}

void nt_trainer_free(nt_trainer *t)
{
    nt_trainer_beat(t, t->done, NT_PH_END); /* the stream's free below is collective */
    nt_metrics_close(&t->metrics);
    nt_pass_free(&t->vset);
    nt_pass_free(&t->tset);
    if (t->stream_ok) nt_stream_free(&t->stream); /* collective: a read-ahead may be in flight */
    nt_batch_free(&t->batch);
    free(t->dz);
    nt_history_free(&t->hist);
    if (t->x_ok) nt_exchange_free(&t->x);
    free(t->evparts);
    t->evparts = NULL;
    if (t->opt_ok) nn_optim_free(&t->opt);
    if (t->model_ok) nn_model_free(&t->m);
    if (t->have_test) nt_data_close(&t->test);
    if (t->have_train) nt_data_close(&t->train);
    nt_watchdog_stop(&t->wd); /* and its heartbeat files */
    nt_run_unlock(t->lock_fd); /* last: the run has written all it will */
    t->lock_fd = -1;
}
