/* Table-driven INI configuration on top of libinih. Each key: section, name, value kind,
 * field offset, and (for optimizer keys) which optimizers it applies to. Values are checked
 * as they are read; cross-key rules run after all sources (file, then --set) are applied. */
#include "config.h"
#include "cli.h" /* nn_parse_* */
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_PATH, K_FRACTION, K_POSDOUBLE, K_NONNEG, K_ANY, K_LAYERS, K_ACT,
               K_ACTLIST, K_DROPLIST, K_OPT, K_LOSS, K_INIT, K_SCHED, K_UNIT, K_BOOL,
               K_POSINT, K_NONNEGINT, K_LONG1, K_LONG0, K_U64, K_RESUME, K_PERM,
               K_OVERLAP, K_EXCHANGE, K_ESMETRIC } kind;

/* when a key is printed into /config, besides `only`: always, when it holds a value
 * (a non-empty path, a number > 0), or when the model has a hidden layer */
enum { W_ALWAYS = 0, W_SET, W_HIDDEN };

#define O(k) (1u << (k))
#define ADAMS (O(NN_OPT_ADAM) | O(NN_OPT_ADAMW) | O(NN_OPT_ADAMAX))
typedef nt_config_key key_spec;

/* Sections in order, with the note their README row carries. */
static const struct { const char *name, *doc; } sections[] = {
    {"data", ""},
    {"model", ""},
    {"loss", ""},
    {"optimizer", "formulas and defaults exactly as `torch.optim` (1.13)"},
    {"schedule", "learning rate = f(base `lr`, unit counter u = 0, 1, …)"},
    {"train", ""},
    {"output", ""},
    {"checkpoint", "see [docs/checkpoints.md](docs/checkpoints.md)"},
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

/* field offset and size */
#define F(field) offsetof(nt_config, field), sizeof(((nt_config *)0)->field)
#define OFF(field) offsetof(nt_config, field)
static const key_spec keys[] = {
    {"data", "train", F(train), K_PATH, 0, 0, NULL, "— (required)",
     "training set (HDF5, layout below)"},
    {"data", "test", F(test), K_PATH, 0, W_SET, NULL, "none",
     "test set, evaluated after every epoch"},
    {"data", "val_fraction", F(val_fraction), K_FRACTION, 0, 0, NULL, "`0.1`",
     "share of `train` held out for validation, chosen from the seed; in [0, 1)"},
    {"data", "cache_mb", F(cache_mb), K_POSDOUBLE, 0, 0, NULL, "`1024`",
     "MiB of dataset rows a rank holds: the whole training split decoded (read once, kept in "
     "memory) when it fits, else two windows of half this each (one training, one being read ahead)"},
    {"data", "permutation", F(perm_mode), K_PERM, 0, 0, NULL, "`auto`",
     "how the sample order (validation split, per-epoch permutation) is held: `table` (index "
     "arrays, 24 bytes per row per rank), `feistel` (keyed Feistel bijections evaluated per "
     "position, O(1) memory), `auto` = table up to 2^24 rows, Feistel above. Both are pure "
     "functions of the seed: np-invariance and exact resume hold for either; they give "
     "different orders"},
    {"data", "collective_reads", F(collective_reads), K_BOOL, 0, 0, NULL, "`false`",
     "read rows with collective (two-phase) `MPI_File_iread_all` instead of each rank's reader "
     "thread; independent reads measured 1.4-1.8x faster here (BENCHMARKS.md; each rank reads "
     "only its own rows); collective buffering may pay off on a parallel file system with many "
     "ranks per node"},
    {"model", "layers", F(sizes), K_LAYERS, 0, 0, NULL, "— (required)",
     "widths, input first, outputs last: `784, 256, 256, 10`"},
    {"model", "activation", F(activation), K_ACT, 0, 0, "activations", "`relu`",
     "activation of every hidden layer; the last layer is `identity` (logits)"},
    {"model", "activations", F(acts), K_ACTLIST, 0, 0, NULL, "—",
     "instead of `activation`: one per dense layer, e.g. `tanh, identity`"},
    {"model", "leaky_slope", F(leaky_slope), K_ANY, 0, 0, NULL, "`0.01`",
     "negative slope of `leaky_relu`"},
    {"model", "elu_alpha", F(elu_alpha), K_POSDOUBLE, 0, 0, NULL, "`1.0`", "α of `elu`"},
    {"model", "init", F(init), K_INIT, 0, 0, NULL, "`torch`",
     "`torch` (nn.Linear's default: weight and bias U(±1/√in)), `xavier_uniform`, "
     "`xavier_normal`, `kaiming_uniform`, `kaiming_normal` (fan_in; aliases `he_uniform`, "
     "`he_normal`) — these use `torch.nn.init.calculate_gain` of the layer's activation (relu "
     "√2, leaky_relu √(2/(1+slope²)), tanh 5/3, selu 3/4, others 1) and start biases at 0 — or "
     "`normal` (N(0, `init_std`), biases 0)"},
    {"model", "init_std", F(init_std), K_POSDOUBLE, 0, 0, NULL, "`0.01`",
     "σ of `init = normal`"},
    {"model", "bias", F(bias), K_BOOL, 0, 0, NULL, "`true`", "`false`: dense layers without bias"},
    {"model", "dropout", F(dropout), K_DROPLIST, 0, W_HIDDEN, NULL, "`0`",
     "drop probability after each hidden layer: one value for all, or one per hidden layer "
     "(`0.3, 0.1`)"},
    {"loss", "name", F(loss.kind), K_LOSS, 0, 0, NULL, "`cross_entropy`",
     "`cross_entropy` (softmax on logits; integer labels 0..K−1), `bce_with_logits` (one output "
     "unit, labels 0/1), `mse`, `l1`, `huber`, `smooth_l1` (regression: float `/y` of shape "
     "(N, K))"},
    {"loss", "label_smoothing", F(loss.label_smoothing), K_FRACTION, O(NN_LOSS_CROSS_ENTROPY), 0,
     NULL, "`0`", "`cross_entropy`: (1−ε)·nll + ε·mean over classes of −log p, as torch"},
    {"loss", "delta", F(loss.delta), K_POSDOUBLE, O(NN_LOSS_HUBER), 0, NULL, "`1.0`",
     "`huber`: quadratic below δ, linear above"},
    {"loss", "beta", F(loss.beta), K_POSDOUBLE, O(NN_LOSS_SMOOTH_L1), 0, NULL, "`1.0`",
     "`smooth_l1`: quadratic (divided by β) below β"},
    {"optimizer", "name", F(opt.kind), K_OPT, 0, 0, NULL, "`adam`",
     "`sgd`, `adam`, `adamw`, `adamax`, `rmsprop`, `adagrad`, `adadelta`"},
    {"optimizer", "lr", F(opt.lr), K_POSDOUBLE, 0, 0, NULL, "per optimizer",
     "sgd 0.01, adam 0.001, adamw 0.001, adamax 0.002, rmsprop 0.01, adagrad 0.01, adadelta 1.0"},
    {"optimizer", "weight_decay", F(opt.weight_decay), K_NONNEG, 0, 0, NULL, "`0` (adamw `0.01`)",
     "L2 term added to the gradient; adamw: decoupled, p ← p·(1 − lr·wd)"},
    {"optimizer", "l1", F(opt.l1), K_NONNEG, 0, 0, NULL, "`0` (off)",
     "L1 regularisation: λ·Σ|w| added to the loss, i.e. λ·sign(w) to the gradient after the "
     "exchange and before clipping (weights; biases too unless `decay_biases = false`); "
     "metrics report the data loss without it"},
    {"optimizer", "decay_biases", F(decay_biases), K_BOOL, 0, 0, NULL, "`true`",
     "`false`: biases are excluded from weight decay and from `l1`"},
    {"optimizer", "clip_grad_norm", F(clip_grad_norm), K_NONNEG, 0, 0, NULL, "`0` (off)",
     "clip the gradient's global L2 norm to this value, as `torch.nn.utils.clip_grad_norm_`, "
     "after the allreduce (so every rank clips identically)"},
    {"optimizer", "momentum", F(opt.momentum), K_NONNEG, O(NN_OPT_SGD) | O(NN_OPT_RMSPROP), 0,
     NULL, "`0`", "sgd, rmsprop (sgd's first step seeds the buffer with the gradient, as torch)"},
    {"optimizer", "dampening", F(opt.dampening), K_NONNEG, O(NN_OPT_SGD), 0, NULL, "`0`", "sgd"},
    {"optimizer", "nesterov", F(opt.nesterov), K_BOOL, O(NN_OPT_SGD), 0, NULL, "`false`",
     "sgd (needs momentum > 0 and dampening 0)"},
    {"optimizer", "beta1", F(opt.beta1), K_FRACTION, ADAMS, 0, NULL, "`0.9`",
     "adam, adamw, adamax"},
    {"optimizer", "beta2", F(opt.beta2), K_FRACTION, ADAMS, 0, NULL, "`0.999`",
     "adam, adamw, adamax"},
    {"optimizer", "eps", F(opt.eps), K_POSDOUBLE,
     ADAMS | O(NN_OPT_RMSPROP) | O(NN_OPT_ADAGRAD) | O(NN_OPT_ADADELTA), 0, NULL,
     "per optimizer", "adam/adamw/adamax/rmsprop 1e-8, adagrad 1e-10, adadelta 1e-6"},
    {"optimizer", "amsgrad", F(opt.amsgrad), K_BOOL, O(NN_OPT_ADAM) | O(NN_OPT_ADAMW), 0, NULL,
     "`false`", "adam, adamw"},
    {"optimizer", "alpha", F(opt.alpha), K_FRACTION, O(NN_OPT_RMSPROP), 0, NULL, "`0.99`",
     "rmsprop smoothing constant"},
    {"optimizer", "centered", F(opt.centered), K_BOOL, O(NN_OPT_RMSPROP), 0, NULL, "`false`",
     "rmsprop"},
    {"optimizer", "lr_decay", F(opt.lr_decay), K_NONNEG, O(NN_OPT_ADAGRAD), 0, NULL, "`0`",
     "adagrad: lr / (1 + (t−1)·lr_decay)"},
    {"optimizer", "initial_accumulator_value", F(opt.initial_accumulator_value), K_NONNEG,
     O(NN_OPT_ADAGRAD), 0, NULL, "`0`", "adagrad"},
    {"optimizer", "rho", F(opt.rho), K_FRACTION, O(NN_OPT_ADADELTA), 0, NULL, "`0.9`", "adadelta"},
    {"schedule", "name", F(sched.kind), K_SCHED, 0, 0, NULL, "`constant`",
     "`constant`, `step` (lr·γ^⌊u/step_size⌋), `exponential` (lr·γ^u), `cosine` (η_min + "
     "(lr−η_min)(1+cos(πu/t_max))/2) — torch's StepLR, ExponentialLR, CosineAnnealingLR"},
    {"schedule", "unit", F(sched_per_step), K_UNIT, 0, 0, NULL, "`epoch`",
     "`epoch`: u counts epochs (lr fixed within an epoch); `step`: u counts optimizer steps"},
    {"schedule", "step_size", F(sched.step_size), K_POSINT, O(NN_SCHED_STEP), 0, NULL, "`10`",
     "step"},
    {"schedule", "gamma", F(sched.gamma), K_POSDOUBLE,
     O(NN_SCHED_STEP) | O(NN_SCHED_EXPONENTIAL), 0, NULL, "`0.1`", "step, exponential"},
    /* t_max 0 (unit = step, not given) means the whole run: train fills it in */
    {"schedule", "t_max", F(sched.t_max), K_POSDOUBLE, O(NN_SCHED_COSINE), W_SET, NULL,
     "the whole run", "cosine: period in units (epochs, or steps with `unit = step`)"},
    {"schedule", "eta_min", F(sched.eta_min), K_NONNEG, O(NN_SCHED_COSINE), 0, NULL, "`0`",
     "cosine"},
    {"schedule", "warmup", F(sched.warmup), K_NONNEGINT, 0, 0, NULL, "`0`",
     "units of linear warm-up in front of the schedule: lr·(f + (1−f)·u/warmup), then the "
     "schedule starts at u − warmup (torch's LinearLR + SequentialLR) — the usual recipe for "
     "large global batches: scale `lr` with `batch_size`, warm up"},
    {"schedule", "warmup_start_factor", F(sched.warmup_start_factor), K_POSDOUBLE, 0, 0, NULL,
     "`1/3`", "f above (torch LinearLR's default)"},
    {"train", "epochs", F(epochs), K_POSINT, 0, 0, NULL, "`5`", "passes over the training rows"},
    {"train", "batch_size", F(batch_size), K_LONG1, 0, 0, NULL, "`128`",
     "the **global** batch: all ranks together"},
    {"train", "seed", F(seed), K_U64, 0, 0, NULL, "`1`",
     "seed of initialisation, validation split, shuffling and dropout"},
    {"train", "threads", F(threads), K_NONNEGINT, 0, 0, NULL, "`0`",
     "BLAS threads per rank; 0 = `$OPENBLAS_NUM_THREADS` if set, else Slurm's "
     "`$SLURM_CPUS_PER_TASK` if set (the CPUs the allocation gave the task), else max(1, cores "
     "per node / ranks per node); capped by the CPUs the rank may run on"},
    {"train", "overlap", F(overlap), K_OVERLAP, 0, 0, NULL, "`auto`",
     "overlap the gradient allreduce with backward: `on` starts each bucket as soon as backward "
     "has finished it and progresses the buckets in flight between pieces of backward's GEMMs; "
     "`off` reduces all gradients with one blocking `MPI_Allreduce` after backward (fastest "
     "within one node); `auto` = `on` when the ranks span several nodes"},
    {"train", "bucket_mb", F(bucket_mb), K_POSDOUBLE, 0, 0, NULL, "`1`",
     "allreduce bucket size (MiB) when overlapping (PyTorch DDP's `bucket_cap_mb`, 25 there; "
     "small buckets start sooner, and the last one, waited for after backward, is small)"},
    {"train", "piece_mflop", F(piece_mflop), K_NONNEG, 0, 0, NULL, "`32`",
     "when overlapping, backward's GEMMs are cut into pieces of about this many million flops "
     "(at least 16, and 16 rows or columns: smaller GEMMs take other OpenBLAS kernels, other "
     "bits) and the buckets in flight progress (`MPI_Testall`) between them; every element is "
     "summed in the same order as without pieces; 0 = whole layers"},
    {"train", "exchange", F(exchange), K_EXCHANGE, 0, 0, NULL, "`auto`",
     "how gradients are combined: `allreduce` (every rank gets the summed gradients and updates "
     "every parameter; full optimizer state on every rank), `zero1` (ZeRO stage 1: the "
     "gradients are reduce-scattered, each rank updates its 1/P slice of the parameters and "
     "keeps only that slice's optimizer state, then the parameters are allgathered) or `auto`: "
     "`zero1` on several ranks unless the allreduce overlaps backward (ranks on several nodes "
     "with `overlap` `auto` or `on`), `allreduce` on one rank; the banner names the choice "
     "(README \"Exchange modes\")"},
    {"train", "deterministic", F(deterministic), K_BOOL, 0, 0, NULL, "`false`",
     "`true`: model, checkpoints and metrics are bit-identical for any number of ranks and BLAS "
     "threads: the global batch is cut into chunks of `deterministic_chunk` rows, each chunk's "
     "gradient computed alone and all chunks summed exactly (integer fixed point) instead of "
     "by a floating-point allreduce (README \"Exchange modes\")"},
    {"train", "deterministic_chunk", F(det_chunk), K_POSINT, 0, 0, NULL, "`32`",
     "rows per chunk in deterministic mode (part of the result: runs agree bit for bit only "
     "with the same value); ranks get whole chunks, so more ranks than batch_size / "
     "deterministic_chunk leave some idle"},
    {"train", "accumulate", F(accumulate), K_POSINT, 0, 0, NULL, "`1`",
     "gradient accumulation: each rank runs its shard of the global batch in this many "
     "micro-batches (forward and backward each, gradients added up) and the exchange happens "
     "once per optimizer step, so activations take the memory of batch_size / (ranks x "
     "accumulate) rows; the result is that of the same global batch (no effect on the bits in "
     "deterministic mode, where chunks are computed one at a time anyway)"},
    {"train", "early_stopping_patience", F(es_patience), K_NONNEGINT, 0, 0, NULL, "`0` (off)",
     "stop after this many epochs in a row without improvement of `early_stopping_metric`; the "
     "best epoch's weights are kept as `<output.dir>/best.h5` (model.h5's layout); needs a "
     "validation split (README \"Early stopping\")"},
    {"train", "early_stopping_metric", F(es_metric), K_ESMETRIC, 0, 0, NULL, "`val_loss`",
     "`val_loss` (lower is better), `val_acc` (higher; classification) or `val_rmse` (lower; "
     "regression)"},
    {"train", "early_stopping_min_delta", F(es_min_delta), K_NONNEG, 0, 0, NULL, "`0`",
     "an epoch improves only when it beats the best so far by more than this"},
    {"train", "flush_denormals", F(flush_denormals), K_BOOL, 0, 0, NULL, "`true`",
     "flush denormal floats to zero (FTZ/DAZ) on the training thread, as TensorFlow does by "
     "default (`torch.set_flush_denormal(True)` in PyTorch): Adam's second moments of tiny "
     "gradients otherwise become denormal and slowed later epochs by ~40 % here; values below "
     "1.2e-38 become 0"},
    {"train", "timeout", F(timeout), K_NONNEG, 0, 0, NULL, "`300`",
     "seconds a rank may make no progress (a step, an evaluation batch, a checkpoint) before "
     "the job is ended with one line naming the ranks that stopped responding and exit code 1 "
     "(the hang watchdog, README \"Training semantics\"); also ends a run whose stop request "
     "(SIGTERM/SIGUSR1) cannot be agreed on; `0` = off"},
    {"output", "dir", F(out_dir), K_PATH, 0, 0, NULL, "`runs/default`",
     "run directory: `metrics.csv`, `model.h5`"},
    {"checkpoint", "dir", F(ckpt_dir), K_PATH, 0, 0, NULL, "`<output.dir>/checkpoints`",
     "where `ckpt-<step>.h5` go"},
    {"checkpoint", "every_steps", F(ckpt_every_steps), K_LONG0, 0, 0, NULL, "`0` (off)",
     "checkpoint every N optimizer steps"},
    {"checkpoint", "every_epochs", F(ckpt_every_epochs), K_LONG0, 0, 0, NULL, "`1`",
     "checkpoint every N epochs"},
    {"checkpoint", "keep", F(ckpt_keep), K_POSINT, 0, 0, NULL, "`3`",
     "keep the newest K checkpoints"},
    {"checkpoint", "resume", F(resume_auto), K_RESUME, 0, 0, NULL, "`never`",
     "`auto`: continue from the newest checkpoint when one exists"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

const nt_config_key *nt_config_keys(size_t *n)
{
    *n = NKEYS;
    return keys;
}

/* The names a value may take, from src/core's catalogues (for messages and /config). */
typedef struct { int count; const char *(*name)(int); } name_list;
static const char *act_name(int i) { return nn_act_name((nn_act)i); }
static const char *opt_name(int i) { return nn_opt_name((nn_opt_kind)i); }
static const char *loss_name(int i) { return nn_loss_name((nn_loss_kind)i); }
static const char *init_name(int i) { return nn_init_name((nn_init_kind)i); }
static const char *sched_name(int i) { return nn_sched_name((nn_sched_kind)i); }
static const char *const perm_names[] = {"auto", "table", "feistel"}; /* NT_PERM_* order */
static const char *const unit_names[] = {"epoch", "step"};            /* sched_per_step */
static const char *const resume_names[] = {"never", "auto"};          /* resume_auto */
static const char *const overlap_names[] = {"auto", "on", "off"};     /* NT_OVERLAP_* order */
static const char *const exchange_names[] = {"allreduce", "zero1", "auto"}; /* NT_EXCHANGE_* order */
static const char *const esmetric_names[] = {"val_loss", "val_acc", "val_rmse"}; /* NT_ES_* */
static const char *perm_name(int i) { return perm_names[i]; }
static const char *unit_name(int i) { return unit_names[i]; }
static const char *resume_name(int i) { return resume_names[i]; }
static const char *overlap_name(int i) { return overlap_names[i]; }
static const char *exchange_name(int i) { return exchange_names[i]; }
static const char *esmetric_name(int i) { return esmetric_names[i]; }

static name_list names_of(kind k)
{
    switch (k) {
    case K_ACT: case K_ACTLIST: return (name_list){NN_ACT_COUNT, act_name};
    case K_OPT: return (name_list){NN_OPT_COUNT, opt_name};
    case K_LOSS: return (name_list){NN_LOSS_COUNT, loss_name};
    case K_INIT: return (name_list){NN_INIT_COUNT, init_name};
    case K_SCHED: return (name_list){NN_SCHED_COUNT, sched_name};
    case K_PERM: return (name_list){3, perm_name};
    case K_UNIT: return (name_list){2, unit_name};
    case K_RESUME: return (name_list){2, resume_name};
    case K_OVERLAP: return (name_list){3, overlap_name};
    case K_EXCHANGE: return (name_list){3, exchange_name};
    case K_ESMETRIC: return (name_list){3, esmetric_name};
    default: return (name_list){0, NULL};
    }
}

/* "a, b or c" (or "a, b, c" with last_or = 0) into buf */
static const char *join_names(name_list l, int last_or, char *buf, size_t n)
{
    size_t o = 0;
    buf[0] = 0;
    for (int i = 0; i < l.count && o < n; i++) {
        const char *sep = i == 0 ? "" : (last_or && i == l.count - 1) ? " or " : ", ";
        o += (size_t)snprintf(buf + o, n - o, "%s%s", sep, l.name(i));
    }
    return buf;
}

typedef struct {
    nt_config *c;
    nt_err *e;
    const char *origin; /* file name or "--set" */
    unsigned char seen[NKEYS];
    int failed;
} parse_ctx;

/* Split a comma list in place; returns the count or -1 when there are too many. */
static int split_list(char *buf, char **items, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        char *end = tok + strlen(tok);
        while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        if (n == max) return -1;
        items[n++] = tok;
    }
    return n;
}

#define BAD(what) nt_fail(e, "%s: [%s] %s = '%s' %s", origin, k->section, k->key, v, what)

/* Numbers: K_FRACTION .. K_ANY (double), K_POSINT .. K_U64 (int, int64_t, long, uint64_t). */
static int set_number(void *field, const key_spec *k, const char *v, nt_err *e, const char *origin)
{
    double d;
    long l;
    switch (k->kind) {
    case K_FRACTION:
        if (nn_parse_double(v, &d) || d < 0 || d >= 1) return BAD("must be a number in [0, 1)");
        break;
    case K_POSDOUBLE:
        if (nn_parse_double(v, &d) || d <= 0) return BAD("must be a positive number");
        break;
    case K_NONNEG:
        if (nn_parse_double(v, &d) || d < 0) return BAD("must be a non-negative number");
        break;
    case K_ANY:
        if (nn_parse_double(v, &d)) return BAD("must be a number");
        break;
    case K_POSINT:
    case K_NONNEGINT:
        if (nn_parse_long(v, &l) || l < (k->kind == K_POSINT ? 1 : 0) || l > 1000000000L)
            return BAD(k->kind == K_POSINT ? "must be an integer >= 1" : "must be an integer >= 0");
        if (k->size == sizeof(int64_t)) *(int64_t *)field = l; /* schedule step counts */
        else *(int *)field = (int)l;
        return 0;
    case K_LONG1:
        if (nn_parse_long(v, &l) || l < 1 || l > (1L << 30)) return BAD("must be an integer >= 1");
        *(long *)field = l;
        return 0;
    case K_LONG0:
        if (nn_parse_long(v, &l) || l < 0) return BAD("must be an integer >= 0");
        *(long *)field = l;
        return 0;
    case K_U64:
        if (nn_parse_u64(v, (uint64_t *)field)) return BAD("must be a non-negative integer");
        return 0;
    default:
        return -1;
    }
    *(double *)field = d;
    return 0;
}

/* Words: booleans, the src/core catalogues (activation, optimizer, loss, init, schedule) and
 * the small enums of this file; the message lists the valid names from the same tables. */
static int set_word(void *field, const key_spec *k, const char *v, nt_err *e, const char *origin)
{
    char names[512], what[600];
    name_list nl = names_of(k->kind);
    int rc = 0;
    switch (k->kind) {
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")) *(int *)field = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) *(int *)field = 0;
        else return BAD("must be true or false");
        return 0;
    case K_ACT: rc = nn_act_parse(v, (nn_act *)field); break;
    case K_OPT: rc = nn_opt_parse(v, (nn_opt_kind *)field); break;
    case K_LOSS: rc = nn_loss_parse(v, (nn_loss_kind *)field); break;
    case K_INIT: rc = nn_init_parse(v, (nn_init_kind *)field); break;
    case K_SCHED: rc = nn_sched_parse(v, (nn_sched_kind *)field); break;
    case K_RESUME:
        if (!strcmp(v, "false")) { *(int *)field = 0; return 0; } /* an alias of never */
        /* fall through */
    case K_PERM:
    case K_UNIT:
    case K_OVERLAP:
    case K_EXCHANGE:
    case K_ESMETRIC:
        for (int i = 0; i < nl.count; i++)
            if (!strcmp(v, nl.name(i))) { *(int *)field = i; return 0; }
        snprintf(what, sizeof what, "must be %s", join_names(nl, 1, names, sizeof names));
        return BAD(what);
    default:
        return -1;
    }
    if (!rc) return 0;
    join_names(nl, 0, names, sizeof names);
    if (k->kind == K_ACT) snprintf(what, sizeof what, "is not an activation (%s)", names);
    else snprintf(what, sizeof what, "is not one of %s", names);
    return BAD(what);
}

/* Comma lists: layers (widths), activations (one per layer), dropout (one or per hidden layer). */
static int set_list(nt_config *c, const key_spec *k, const char *v, nt_err *e, const char *origin)
{
    char buf[4096], *items[NT_MAX_LAYERS + 2];
    long l;
    double d;
    if (strlen(v) >= sizeof buf) return BAD("is too long");
    strcpy(buf, v);
    int n = split_list(buf, items, NT_MAX_LAYERS + 1);
    if (n < 0) return BAD("has too many entries");
    for (int i = 0; i < n; i++) {
        if (k->kind == K_LAYERS) {
            if (nn_parse_long(items[i], &l) || l < 1 || l > (1 << 24))
                return nt_fail(e, "%s: [model] layers = '%s': '%s' is not a positive integer",
                               origin, v, items[i]);
            c->sizes[i] = (int)l;
        } else if (k->kind == K_ACTLIST) {
            if (i >= NT_MAX_LAYERS || nn_act_parse(items[i], &c->acts[i]))
                return nt_fail(e, "%s: [model] activations = '%s': '%s' is not an activation",
                               origin, v, items[i]);
        } else {
            if (i >= NT_MAX_LAYERS || nn_parse_double(items[i], &d) || d < 0 || d >= 1)
                return nt_fail(e, "%s: [model] dropout = '%s': '%s' is not a probability in "
                               "[0, 1)", origin, v, items[i]);
            c->dropout[i] = d;
        }
    }
    if (k->kind == K_LAYERS) {
        if (n < 2) return BAD("needs at least an input and an output size");
        c->nsizes = n;
    } else {
        if (n < 1) return BAD("is empty");
        *(k->kind == K_ACTLIST ? &c->nacts : &c->ndropout) = n;
    }
    return 0;
}

static int set_value(nt_config *c, const key_spec *k, const char *v, nt_err *e,
                     const char *origin)
{
    char *field = (char *)c + k->offset;
    switch (k->kind) {
    case K_PATH:
        if (!*v) return nt_fail(e, "%s: [%s] %s is empty", origin, k->section, k->key);
        if (strlen(v) >= PATH_MAX) return nt_fail(e, "%s: [%s] %s is too long", origin, k->section, k->key);
        strcpy(field, v);
        return 0;
    case K_LAYERS:
    case K_ACTLIST:
    case K_DROPLIST:
        return set_list(c, k, v, e, origin);
    case K_BOOL: case K_ACT: case K_OPT: case K_LOSS: case K_INIT: case K_SCHED:
    case K_RESUME: case K_PERM: case K_UNIT: case K_OVERLAP: case K_EXCHANGE: case K_ESMETRIC:
        return set_word(field, k, v, e, origin);
    default:
        return set_number(field, k, v, e, origin);
    }
}
#undef BAD

static const key_spec *find_key(const char *section, const char *key, int *section_known)
{
    *section_known = 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0) continue;
        *section_known = 1;
        if (strcmp(keys[i].key, key) == 0) return &keys[i];
    }
    return NULL;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    if (p->failed) return 0;
    int known;
    const key_spec *k = find_key(section, name, &known);
    if (!k) {
        if (!known) nt_fail(p->e, "%s: unknown section [%s]", p->origin, section);
        else nt_fail(p->e, "%s: unknown key '%s' in [%s]", p->origin, name, section);
        p->failed = 1;
        return 0;
    }
    size_t idx = (size_t)(k - keys);
    if (p->seen[idx]) {
        nt_fail(p->e, "%s: [%s] %s is set twice", p->origin, section, name);
        p->failed = 1;
        return 0;
    }
    p->seen[idx] = 1;
    if (set_value(p->c, k, value, p->e, p->origin)) {
        p->failed = 1;
        return 0;
    }
    return 1;
}

static void defaults(nt_config *c)
{
    memset(c, 0, sizeof *c);
    c->val_fraction = 0.1;
    c->cache_mb = 1024;
    c->activation = NN_ACT_RELU;
    c->leaky_slope = 0.01;
    c->elu_alpha = 1.0;
    c->init = NN_INIT_TORCH;
    c->init_std = 0.01;
    c->bias = 1;
    c->loss.kind = NN_LOSS_CROSS_ENTROPY;
    c->loss.delta = 1.0;
    c->loss.beta = 1.0;
    nn_opt_defaults(&c->opt, NN_OPT_ADAM);
    c->decay_biases = 1;
    c->sched.kind = NN_SCHED_CONSTANT;
    c->sched.step_size = 10;
    c->sched.gamma = 0.1;
    c->sched.warmup_start_factor = 1.0 / 3;
    c->epochs = 5;
    c->batch_size = 128;
    c->seed = 1;
    c->bucket_mb = 1;
    c->piece_mflop = 32;
    c->det_chunk = 32;
    c->accumulate = 1;
    c->exchange = NT_EXCHANGE_AUTO;
    c->flush_denormals = 1;
    c->timeout = 300;
    c->ckpt_every_epochs = 1;
    c->ckpt_keep = 3;
    strcpy(c->out_dir, "runs/default");
}

/* After all sources: optimizer defaults for the chosen optimizer under explicit values,
 * per-layer lists, and the rules that involve more than one key. */
static int finish(nt_config *c, const parse_ctx *p, nt_err *e)
{
    const char *path = p->origin;
#define SEEN(sec, name) (p->seen[find_key(sec, name, &(int){0}) - keys])
    if (!SEEN("data", "train") && !c->train[0]) return nt_fail(e, "%s: [data] train is required", path);
    if (!SEEN("model", "layers")) return nt_fail(e, "%s: [model] layers is required", path);
    const int L = c->nsizes - 1;
    if (L > NT_MAX_LAYERS) return nt_fail(e, "%s: [model] layers: at most %d layers", path, NT_MAX_LAYERS);

    /* optimizer: torch's defaults for this optimizer, then every key the user gave */
    nn_opt_config user = c->opt;
    nn_opt_defaults(&c->opt, user.kind);
    for (size_t i = 0; i < NKEYS; i++) {
        const key_spec *k = &keys[i];
        if (!p->seen[i] || strcmp(k->section, "optimizer") || k->offset < OFF(opt) ||
            k->offset >= OFF(opt) + sizeof c->opt)
            continue;
        if (k->only && !(k->only & O(user.kind)))
            return nt_fail(e, "%s: [optimizer] %s does not apply to %s", path, k->key,
                           nn_opt_name(user.kind));
        memcpy((char *)c + k->offset, (char *)&user + (k->offset - OFF(opt)), k->size);
    }
    if (c->opt.nesterov && (c->opt.momentum <= 0 || c->opt.dampening != 0))
        return nt_fail(e, "%s: [optimizer] nesterov needs momentum > 0 and dampening = 0", path);

    /* activations: the list, or the shorthand for hidden layers and identity last */
    if (c->nacts) {
        if (SEEN("model", "activation"))
            return nt_fail(e, "%s: [model] set either activation (hidden layers) or activations "
                           "(one per layer), not both", path);
        if (c->nacts != L)
            return nt_fail(e, "%s: [model] activations has %d entries; the model has %d layers",
                           path, c->nacts, L);
    } else {
        for (int l = 0; l < L; l++) c->acts[l] = l == L - 1 ? NN_ACT_IDENTITY : c->activation;
    }
    if (c->ndropout > 1 && c->ndropout != L - 1)
        return nt_fail(e, "%s: [model] dropout has %d entries; the model has %d hidden layers",
                       path, c->ndropout, L - 1);
    if (c->ndropout == 1)
        for (int l = 1; l < L - 1; l++) c->dropout[l] = c->dropout[0];
    if (c->ndropout && L < 2 && c->dropout[0] > 0)
        return nt_fail(e, "%s: [model] dropout needs a hidden layer", path);

    /* loss vs output layer */
    const int K = c->sizes[L];
    if (!nn_loss_is_regression(c->loss.kind) && c->acts[L - 1] != NN_ACT_IDENTITY)
        return nt_fail(e, "%s: [loss] %s works on logits: the last layer's activation must be "
                       "identity, not %s", path, nn_loss_name(c->loss.kind),
                       nn_act_name(c->acts[L - 1]));
    if (c->loss.kind == NN_LOSS_CROSS_ENTROPY && K < 2)
        return nt_fail(e, "%s: [model] layers: cross_entropy needs >= 2 outputs (classes); for "
                       "two classes with one output use [loss] name = bce_with_logits", path);
    if (c->loss.kind == NN_LOSS_BCE_WITH_LOGITS && K != 1)
        return nt_fail(e, "%s: [model] layers: bce_with_logits needs exactly 1 output, not %d",
                       path, K);
    if (SEEN("loss", "label_smoothing") && c->loss.kind != NN_LOSS_CROSS_ENTROPY)
        return nt_fail(e, "%s: [loss] label_smoothing applies to cross_entropy", path);
    if (c->es_patience > 0 && c->es_metric == NT_ES_VAL_ACC && nn_loss_is_regression(c->loss.kind))
        return nt_fail(e, "%s: [train] early_stopping_metric = val_acc needs a classification "
                       "loss; use val_rmse or val_loss with %s", path, nn_loss_name(c->loss.kind));
    if (c->es_patience > 0 && c->es_metric == NT_ES_VAL_RMSE && !nn_loss_is_regression(c->loss.kind))
        return nt_fail(e, "%s: [train] early_stopping_metric = val_rmse needs a regression loss; "
                       "use val_acc or val_loss with %s", path, nn_loss_name(c->loss.kind));
    if (c->es_patience > 0 && c->val_fraction <= 0)
        return nt_fail(e, "%s: [train] early_stopping_patience = %d needs a validation split: set "
                       "[data] val_fraction > 0", path, c->es_patience);
    if (c->sched.kind == NN_SCHED_COSINE && c->sched.t_max <= 0)
        c->sched.t_max = c->sched_per_step ? 0 : c->epochs; /* steps: filled in by train */
    if (!c->ckpt_dir[0]) {
        if (strlen(c->out_dir) + 13 >= sizeof c->ckpt_dir)
            return nt_fail(e, "%s: [output] dir is too long", path);
        snprintf(c->ckpt_dir, sizeof c->ckpt_dir, "%s/checkpoints", c->out_dir);
    }
#undef SEEN
    return 0;
}

/* " --set 'S'" appended to c->overrides, quoted for a POSIX shell (for the resume command a
 * stopped run prints); one that does not fit makes overrides say so instead. */
static void append_set(nt_config *c, const char *s)
{
    size_t o = strlen(c->overrides), cap = sizeof c->overrides;
    if (c->overrides_cut) return;
    int plain = *s != 0;
    for (const char *q = s; *q; q++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,=/:+-", *q)) plain = 0;
    char buf[sizeof c->overrides];
    size_t b = 0;
    b += (size_t)snprintf(buf, sizeof buf, " --set %s", plain ? "" : "'");
    for (const char *q = s; *q && b + 8 < sizeof buf; q++) {
        if (*q == '\'' && !plain) { memcpy(buf + b, "'\\''", 4); b += 4; }
        else buf[b++] = *q;
    }
    if (!plain && b + 1 < sizeof buf) buf[b++] = '\'';
    buf[b] = 0;
    if (o + b + 1 > cap || b + 8 >= sizeof buf) { c->overrides_cut = 1; return; }
    memcpy(c->overrides + o, buf, b + 1);
}

static int parse_sets(nt_config *c, parse_ctx *p, char *const *sets, int nsets, nt_err *e)
{
    /* --set section.key=value: same table, same checks; may override the file */
    for (int i = 0; i < nsets; i++) {
        char buf[PATH_MAX + 256];
        const char *s = sets[i];
        const char *dot = strchr(s, '.'), *eq = strchr(s, '=');
        if (!dot || !eq || dot > eq || strlen(s) >= sizeof buf)
            return nt_fail(e, "--set '%s': expected section.key=value", s);
        strcpy(buf, s);
        buf[dot - s] = 0;
        buf[eq - s] = 0;
        /* blanks trimmed as libinih trims a file's keys and values: --set "train.epochs = 5"
         * means what the same line in the file means */
        char *sec = nn_trim(buf), *key = nn_trim(buf + (dot - s) + 1);
        char *val = nn_trim(buf + (eq - s) + 1);
        int known;
        const key_spec *k = find_key(sec, key, &known);
        if (!k) {
            if (!known) return nt_fail(e, "--set '%s': unknown section [%s]", s, sec);
            return nt_fail(e, "--set '%s': unknown key '%s' in [%s]", s, key, sec);
        }
        p->seen[k - keys] = 1;
        if (set_value(c, k, val, e, "--set")) return -1;
        append_set(c, s);
    }
    return 0;
}

static int parse_stream(FILE *f, parse_ctx *p, nt_err *e);

int nt_config_parse_string(nt_config *c, const char *text, const char *origin, nt_err *e)
{
    defaults(c);
    snprintf(c->path, sizeof c->path, "%s", origin);
    strcpy(c->train, "-"); /* fixtures and summaries need no data file */
    parse_ctx p = {.c = c, .e = e, .origin = origin};
    /* read as a file is (read_line), so that lines longer than libinih's buffer parse here
     * too: a checkpoint's /config holds the paths of the run, of any length */
    size_t n = strlen(text);
    FILE *f = n ? fmemopen((void *)text, n, "r") : NULL;
    if (n && !f) return nt_fail(e, "%s: cannot read config: %s", origin, strerror(errno));
    int rc = f ? parse_stream(f, &p, e) : 0;
    if (f) fclose(f); /* read-only memory stream */
    if (rc) return -1;
    return finish(c, &p, e);
}

/* Lines for libinih, one physical line per call, of any length. libinih parses into a buffer
 * of INI_MAX_LINE (200) bytes and would cut a longer line in two (the rest reported as a
 * malformed line further down). A longer comment is passed on empty; a longer
 * `name = value` line is split here, as libinih would (inline comments after " ;" dropped,
 * both sides trimmed), and handed to the handler directly under the current section, which
 * this reader tracks from the [section] lines it passes on. Line numbers stay libinih's. */
typedef struct {
    FILE *f;
    parse_ctx *p;
    char *line;
    size_t cap;
    int lineno, read_errno, bad_line;
    char section[64];
} line_reader;

static char *read_line(char *str, int num, void *stream)
{
    line_reader *r = stream;
    errno = 0;
    ssize_t n = getline(&r->line, &r->cap, r->f);
    if (n < 0) {
        if (ferror(r->f)) r->read_errno = errno ? errno : EIO;
        return NULL;
    }
    r->lineno++;
    int fits = n < num;
    if (fits) memcpy(str, r->line, (size_t)n + 1);
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r')) r->line[--n] = 0;
    char *s = nn_trim(r->line);
    if (*s == '[') { /* the section libinih will see */
        char *end = strchr(s, ']');
        size_t k = end ? (size_t)(end - s - 1) : 0;
        if (end && k < sizeof r->section) { memcpy(r->section, s + 1, k); r->section[k] = 0; }
    }
    if (fits) return str;
    str[0] = '\n';
    str[1] = 0;
    if (*s == ';' || *s == '#' || *s == 0) return str; /* a long comment: nothing to parse */
    char *eq = strpbrk(s, "=:");
    if (*s == '[' || !eq) { /* a long section header or no '=': malformed, at this line */
        if (!r->bad_line) r->bad_line = r->lineno;
        return str;
    }
    *eq = 0;
    char *value = eq + 1;
    for (char *q = value; *q; q++) /* an inline comment: ';' after whitespace */
        if (*q == ';' && q > value && (q[-1] == ' ' || q[-1] == '\t')) { *q = 0; break; }
    (void)handler(r->p, r->section, nn_trim(s), nn_trim(value)); /* a failure sets p->failed */
    return str;
}

/* The INI text of f into p's configuration (no defaults, no final checks): 0, or -1 with e
 * naming p->origin and the line. */
static int parse_stream(FILE *f, parse_ctx *p, nt_err *e)
{
    line_reader r = {.f = f, .p = p};
    int rc = ini_parse_stream(read_line, &r, handler, p);
    free(r.line);
    if (p->failed) return -1;
    if (r.read_errno) return nt_fail(e, "%s: cannot read config: %s", p->origin, strerror(r.read_errno));
    if (r.bad_line && (rc <= 0 || r.bad_line < rc)) rc = r.bad_line;
    if (rc > 0) return nt_fail(e, "%s:%d: malformed line (expected [section] or key = value)", p->origin, rc);
    if (rc < 0) return nt_fail(e, "%s: cannot read config", p->origin);
    return 0;
}

int nt_config_load(nt_config *c, const char *path, char *const *sets, int nsets, nt_err *e)
{
    defaults(c);
    if (strlen(path) >= sizeof c->path) return nt_fail(e, "%s: path too long", path);
    strcpy(c->path, path);
    parse_ctx p = {.c = c, .e = e, .origin = path};
    FILE *f = fopen(path, "r");
    if (!f) return nt_fail(e, "%s: cannot open config: %s", path, strerror(errno));
    int rc = parse_stream(f, &p, e);
    fclose(f);
    if (rc) return -1;
    if (parse_sets(c, &p, sets, nsets, e)) return -1;
    return finish(c, &p, e);
}

nn_model_spec nt_config_model_spec(const nt_config *c, int max_batch, size_t nextra)
{
    nn_model_spec sp = {.nlayers = c->nsizes - 1, .sizes = c->sizes, .acts = c->acts,
                        .leaky_slope = c->leaky_slope, .elu_alpha = c->elu_alpha,
                        .bias = c->bias, .dropout = c->ndropout ? c->dropout : NULL,
                        .max_batch = max_batch, .nextra = nextra};
    return sp;
}

/* Whether key k is recorded in /config for c: its section's `name` is one it applies to,
 * and its own condition holds. */
static int printed(const nt_config *c, const key_spec *k)
{
    if (k->printed_as) return 0;
    if (k->only) {
        int sel = !strcmp(k->section, "optimizer") ? (int)c->opt.kind
                : !strcmp(k->section, "loss") ? (int)c->loss.kind
                : !strcmp(k->section, "schedule") ? (int)c->sched.kind : -1;
        if (sel < 0 || !(k->only & O(sel))) return 0;
    }
    const char *field = (const char *)c + k->offset;
    switch (k->when) {
    case W_SET: return k->kind == K_PATH ? field[0] != 0 : *(const double *)field > 0;
    case W_HIDDEN: return c->nsizes > 2;
    default: return 1;
    }
}

/* The value of key k in c, as the INI text that parses back to it. */
static void print_value(FILE *f, const nt_config *c, const key_spec *k)
{
    const char *field = (const char *)c + k->offset;
    name_list nl = names_of(k->kind);
    switch (k->kind) {
    case K_PATH: fputs(field, f); break;
    case K_FRACTION: case K_POSDOUBLE: case K_NONNEG: case K_ANY:
        fprintf(f, "%.17g", *(const double *)field);
        break;
    case K_POSINT: case K_NONNEGINT:
        if (k->size == sizeof(int64_t)) fprintf(f, "%lld", (long long)*(const int64_t *)field);
        else fprintf(f, "%d", *(const int *)field);
        break;
    case K_LONG1: case K_LONG0: fprintf(f, "%ld", *(const long *)field); break;
    case K_U64: fprintf(f, "%llu", (unsigned long long)*(const uint64_t *)field); break;
    case K_BOOL: fputs(*(const int *)field ? "true" : "false", f); break;
    case K_ACT: case K_OPT: case K_LOSS: case K_INIT: case K_SCHED:
    case K_RESUME: case K_PERM: case K_UNIT: case K_OVERLAP: case K_EXCHANGE: case K_ESMETRIC:
        fputs(nl.name(*(const int *)field), f);
        break;
    case K_LAYERS:
        for (int i = 0; i < c->nsizes; i++) fprintf(f, "%s%d", i ? ", " : "", c->sizes[i]);
        break;
    case K_ACTLIST:
        for (int i = 0; i < c->nsizes - 1; i++) fprintf(f, "%s%s", i ? ", " : "", nn_act_name(c->acts[i]));
        break;
    case K_DROPLIST:
        for (int i = 0; i < c->nsizes - 2; i++)
            fprintf(f, "%s%.17g", i ? ", " : "", c->ndropout ? c->dropout[i] : 0.0);
        break;
    }
}

void nt_config_print(const nt_config *c, FILE *f)
{
    for (size_t s = 0; s < NSECTIONS; s++) {
        fprintf(f, "[%s]\n", sections[s].name);
        for (size_t i = 0; i < NKEYS; i++) {
            if (strcmp(keys[i].section, sections[s].name) || !printed(c, &keys[i])) continue;
            fprintf(f, "%s = ", keys[i].key);
            print_value(f, c, &keys[i]);
            fputc('\n', f);
        }
    }
}

/* ---- the key reference for README.md and nntrain.1, generated from the tables ---------- */

/* Markdown inline text as roff: `code` and **bold** in bold, [text](link) as text, non-ASCII
 * characters as \[uXXXX] (so groff needs no input encoding), backslashes and code's
 * hyphens escaped. */
static void md_to_roff(FILE *f, const char *s)
{
    int bold = 0, code = 0;
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '`' || (p[0] == '*' && p[1] == '*' && !code)) {
            int *on = *p == '`' ? &code : &bold;
            *on = !*on;
            fputs(*on ? "\\fB" : "\\fR", f);
            if (*p == '*') p++;
        } else if (*p == '[' && !code && strstr((const char *)p, "](")) {
            const char *close = strstr((const char *)p, "](");
            fwrite(p + 1, 1, (size_t)(close - (const char *)p - 1), f);
            const char *end = strchr(close, ')');
            p = (const unsigned char *)(end ? end : close + 1);
        } else if (*p >= 0x80) { /* UTF-8 sequence -> code point */
            int len = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
            unsigned cp = *p & (0x3Fu >> (len - 1));
            for (int i = 1; i < len && p[1]; i++) cp = (cp << 6) | (*++p & 0x3Fu);
            fprintf(f, "\\[u%04X]", cp);
        } else if (*p == '\\') {
            fputs("\\e", f);
        } else if (*p == '-' && code) {
            fputs("\\-", f);
        } else {
            fputc(*p, f);
        }
    }
}

static void doc_markdown(FILE *f)
{
    fputs("| key | default | meaning |\n|---|---|---|\n", f);
    for (size_t s = 0; s < NSECTIONS; s++) {
        fprintf(f, "| **[%s]** | |%s%s |\n", sections[s].name, sections[s].doc[0] ? " " : "",
                sections[s].doc);
        for (size_t i = 0; i < NKEYS; i++)
            if (!strcmp(keys[i].section, sections[s].name))
                fprintf(f, "| `%s` | %s | %s |\n", keys[i].key, keys[i].def, keys[i].doc);
    }
}

/* .SS per section, .TP per key: "key (default: D)" (or "(required)"), then the meaning. */
static void doc_man(FILE *f)
{
    for (size_t s = 0; s < NSECTIONS; s++) {
        fprintf(f, ".SS [%s]\n", sections[s].name);
        if (sections[s].doc[0]) {
            md_to_roff(f, sections[s].doc);
            fputs(".\n", f);
        }
        for (size_t i = 0; i < NKEYS; i++) {
            const key_spec *k = &keys[i];
            if (strcmp(k->section, sections[s].name)) continue;
            const char *dash = "—", *def = k->def;
            if (!strncmp(def, dash, strlen(dash))) def += strlen(dash) + (def[strlen(dash)] == ' ');
            fprintf(f, ".TP\n\\fB%s\\fR", k->key);
            if (def[0]) {
                fputs(def[0] == '(' ? " " : " (default: ", f);
                md_to_roff(f, def);
                if (def[0] != '(') fputc(')', f);
            }
            fputc('\n', f);
            md_to_roff(f, k->doc);
            fputs(".\n", f);
        }
    }
}

void nt_config_doc(FILE *f, int format)
{
    if (format == NT_DOC_MAN) doc_man(f);
    else doc_markdown(f);
}

int nt_config_doc_splice(const char *text, int format, char **out, nt_err *e)
{
    const char *begin = strstr(text, "BEGIN config-keys");
    const char *end = begin ? strstr(begin, "END config-keys") : NULL;
    if (!begin || !end) return nt_fail(e, "no BEGIN config-keys ... END config-keys marker lines");
    const char *body = strchr(begin, '\n');   /* the line after the BEGIN marker */
    const char *tail = end;                   /* the start of the END marker's line */
    while (tail > text && tail[-1] != '\n') tail--;
    if (!body || body + 1 > tail) return nt_fail(e, "config-keys markers out of order");
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    if (!f) return nt_fail(e, "out of memory");
    fwrite(text, 1, (size_t)(body + 1 - text), f);
    nt_config_doc(f, format);
    fputs(tail, f);
    return fclose(f) ? nt_fail(e, "out of memory") : 0;
}
