/* Table-driven INI configuration on top of libinih. Each key: section, name, value kind,
 * field offset, and (for optimizer keys) which optimizers it applies to. Values are checked
 * as they are read; cross-key rules run after all sources (file, then --set) are applied. */
#include "config.h"
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_PATH, K_FRACTION, K_POSDOUBLE, K_NONNEG, K_ANY, K_LAYERS, K_ACT,
               K_ACTLIST, K_DROPLIST, K_OPT, K_LOSS, K_INIT, K_SCHED, K_UNIT, K_BOOL,
               K_POSINT, K_NONNEGINT, K_LONG1, K_LONG0, K_U64, K_RESUME, K_PERM } kind;

#define O(k) (1u << (k))
#define ADAMS (O(NN_OPT_ADAM) | O(NN_OPT_ADAMW) | O(NN_OPT_ADAMAX))
typedef struct {
    const char *section, *key;
    kind kind;
    size_t off;
    unsigned opts; /* optimizers the key applies to; 0 = any */
} key_spec;

#define F(field) offsetof(nt_config, field)
static const key_spec keys[] = {
    {"data", "train", K_PATH, F(train), 0},
    {"data", "test", K_PATH, F(test), 0},
    {"data", "val_fraction", K_FRACTION, F(val_fraction), 0},
    {"data", "cache_mb", K_POSDOUBLE, F(cache_mb), 0},
    {"data", "collective_reads", K_BOOL, F(collective_reads), 0},
    {"data", "permutation", K_PERM, F(perm_mode), 0},
    {"model", "layers", K_LAYERS, F(sizes), 0},
    {"model", "activation", K_ACT, F(activation), 0},
    {"model", "activations", K_ACTLIST, F(acts), 0},
    {"model", "leaky_slope", K_ANY, F(leaky_slope), 0},
    {"model", "elu_alpha", K_POSDOUBLE, F(elu_alpha), 0},
    {"model", "init", K_INIT, F(init), 0},
    {"model", "init_std", K_POSDOUBLE, F(init_std), 0},
    {"model", "bias", K_BOOL, F(bias), 0},
    {"model", "dropout", K_DROPLIST, F(dropout), 0},
    {"loss", "name", K_LOSS, F(loss.kind), 0},
    {"loss", "label_smoothing", K_FRACTION, F(loss.label_smoothing), 0},
    {"loss", "delta", K_POSDOUBLE, F(loss.delta), 0},
    {"loss", "beta", K_POSDOUBLE, F(loss.beta), 0},
    {"optimizer", "name", K_OPT, F(opt.kind), 0},
    {"optimizer", "lr", K_POSDOUBLE, F(opt.lr), 0},
    {"optimizer", "momentum", K_NONNEG, F(opt.momentum), O(NN_OPT_SGD) | O(NN_OPT_RMSPROP)},
    {"optimizer", "dampening", K_NONNEG, F(opt.dampening), O(NN_OPT_SGD)},
    {"optimizer", "nesterov", K_BOOL, F(opt.nesterov), O(NN_OPT_SGD)},
    {"optimizer", "weight_decay", K_NONNEG, F(opt.weight_decay), 0},
    {"optimizer", "decay_biases", K_BOOL, F(decay_biases), 0},
    {"optimizer", "beta1", K_FRACTION, F(opt.beta1), ADAMS},
    {"optimizer", "beta2", K_FRACTION, F(opt.beta2), ADAMS},
    {"optimizer", "eps", K_POSDOUBLE, F(opt.eps), ADAMS | O(NN_OPT_RMSPROP) | O(NN_OPT_ADAGRAD) | O(NN_OPT_ADADELTA)},
    {"optimizer", "amsgrad", K_BOOL, F(opt.amsgrad), O(NN_OPT_ADAM) | O(NN_OPT_ADAMW)},
    {"optimizer", "alpha", K_FRACTION, F(opt.alpha), O(NN_OPT_RMSPROP)},
    {"optimizer", "centered", K_BOOL, F(opt.centered), O(NN_OPT_RMSPROP)},
    {"optimizer", "lr_decay", K_NONNEG, F(opt.lr_decay), O(NN_OPT_ADAGRAD)},
    {"optimizer", "initial_accumulator_value", K_NONNEG, F(opt.initial_accumulator_value), O(NN_OPT_ADAGRAD)},
    {"optimizer", "rho", K_FRACTION, F(opt.rho), O(NN_OPT_ADADELTA)},
    {"optimizer", "clip_grad_norm", K_NONNEG, F(clip_grad_norm), 0},
    {"schedule", "name", K_SCHED, F(sched.kind), 0},
    {"schedule", "unit", K_UNIT, F(sched_per_step), 0},
    {"schedule", "step_size", K_POSINT, F(sched.step_size), 0},
    {"schedule", "gamma", K_POSDOUBLE, F(sched.gamma), 0},
    {"schedule", "t_max", K_POSDOUBLE, F(sched.t_max), 0},
    {"schedule", "eta_min", K_NONNEG, F(sched.eta_min), 0},
    {"schedule", "warmup", K_NONNEGINT, F(sched.warmup), 0},
    {"schedule", "warmup_start_factor", K_POSDOUBLE, F(sched.warmup_start_factor), 0},
    {"train", "epochs", K_POSINT, F(epochs), 0},
    {"train", "batch_size", K_LONG1, F(batch_size), 0},
    {"train", "seed", K_U64, F(seed), 0},
    {"train", "threads", K_NONNEGINT, F(threads), 0},
    {"train", "bucket_mb", K_POSDOUBLE, F(bucket_mb), 0},
    {"train", "flush_denormals", K_BOOL, F(flush_denormals), 0},
    {"output", "dir", K_PATH, F(out_dir), 0},
    {"checkpoint", "dir", K_PATH, F(ckpt_dir), 0},
    {"checkpoint", "every_steps", K_LONG0, F(ckpt_every_steps), 0},
    {"checkpoint", "every_epochs", K_LONG0, F(ckpt_every_epochs), 0},
    {"checkpoint", "keep", K_POSINT, F(ckpt_keep), 0},
    {"checkpoint", "resume", K_RESUME, F(resume_auto), 0},
};
#define NKEYS (sizeof keys / sizeof keys[0])

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

static int set_value(nt_config *c, const key_spec *k, const char *v, nt_err *e,
                     const char *origin)
{
    char *base = (char *)c + k->off;
    double d;
    long l;
    char buf[4096], *items[NT_MAX_LAYERS + 2];
    int n;
#define BAD(what) nt_fail(e, "%s: [%s] %s = '%s' %s", origin, k->section, k->key, v, what)
    switch (k->kind) {
    case K_PATH:
        if (!*v) return nt_fail(e, "%s: [%s] %s is empty", origin, k->section, k->key);
        if (strlen(v) >= PATH_MAX) return nt_fail(e, "%s: [%s] %s is too long", origin, k->section, k->key);
        strcpy(base, v);
        return 0;
    case K_FRACTION:
        if (nt_parse_double(v, &d) || d < 0 || d >= 1) return BAD("must be a number in [0, 1)");
        *(double *)base = d;
        return 0;
    case K_POSDOUBLE:
        if (nt_parse_double(v, &d) || d <= 0) return BAD("must be a positive number");
        *(double *)base = d;
        return 0;
    case K_NONNEG:
        if (nt_parse_double(v, &d) || d < 0) return BAD("must be a non-negative number");
        *(double *)base = d;
        return 0;
    case K_ANY:
        if (nt_parse_double(v, &d)) return BAD("must be a number");
        *(double *)base = d;
        return 0;
    case K_BOOL:
        if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1")) *(int *)base = 1;
        else if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0")) *(int *)base = 0;
        else return BAD("must be true or false");
        return 0;
    case K_POSINT:
    case K_NONNEGINT:
        if (nt_parse_long(v, &l) || l < (k->kind == K_POSINT ? 1 : 0) || l > 1000000000L)
            return BAD(k->kind == K_POSINT ? "must be an integer >= 1" : "must be an integer >= 0");
        if (k->off == F(sched.step_size) || k->off == F(sched.warmup)) *(int64_t *)base = l;
        else *(int *)base = (int)l;
        return 0;
    case K_LONG1:
        if (nt_parse_long(v, &l) || l < 1 || l > (1L << 30)) return BAD("must be an integer >= 1");
        *(long *)base = l;
        return 0;
    case K_LONG0:
        if (nt_parse_long(v, &l) || l < 0) return BAD("must be an integer >= 0");
        *(long *)base = l;
        return 0;
    case K_RESUME:
        if (!strcmp(v, "auto")) *(int *)base = 1;
        else if (!strcmp(v, "never") || !strcmp(v, "false")) *(int *)base = 0;
        else return BAD("must be auto or never");
        return 0;
    case K_PERM:
        if (!strcmp(v, "auto")) *(int *)base = NT_PERM_AUTO;
        else if (!strcmp(v, "table")) *(int *)base = NT_PERM_TABLE;
        else if (!strcmp(v, "feistel")) *(int *)base = NT_PERM_FEISTEL;
        else return BAD("must be auto, table or feistel");
        return 0;
    case K_U64:
        if (nt_parse_u64(v, (uint64_t *)base)) return BAD("must be a non-negative integer");
        return 0;
    case K_ACT:
        if (nn_act_parse(v, (nn_act *)base))
            return BAD("is not an activation (identity, binary_step, sigmoid, tanh, relu, "
                       "leaky_relu, elu, selu, gelu, softplus)");
        return 0;
    case K_OPT:
        if (nn_opt_parse(v, (nn_opt_kind *)base))
            return BAD("is not one of sgd, adam, adamw, adamax, rmsprop, adagrad, adadelta");
        return 0;
    case K_LOSS:
        if (nn_loss_parse(v, (nn_loss_kind *)base))
            return BAD("is not one of cross_entropy, bce_with_logits, mse, l1, huber, smooth_l1");
        return 0;
    case K_INIT:
        if (nn_init_parse(v, (nn_init_kind *)base))
            return BAD("is not one of torch, xavier_uniform, xavier_normal, kaiming_uniform "
                       "(he_uniform), kaiming_normal (he_normal), normal");
        return 0;
    case K_SCHED:
        if (nn_sched_parse(v, (nn_sched_kind *)base))
            return BAD("is not one of constant, step, exponential, cosine");
        return 0;
    case K_UNIT:
        if (!strcmp(v, "epoch")) *(int *)base = 0;
        else if (!strcmp(v, "step")) *(int *)base = 1;
        else return BAD("must be epoch or step");
        return 0;
    case K_LAYERS:
    case K_ACTLIST:
    case K_DROPLIST:
        if (strlen(v) >= sizeof buf) return BAD("is too long");
        strcpy(buf, v);
        n = split_list(buf, items, NT_MAX_LAYERS + 1);
        if (n < 0) return BAD("has too many entries");
        for (int i = 0; i < n; i++) {
            if (k->kind == K_LAYERS) {
                if (nt_parse_long(items[i], &l) || l < 1 || l > (1 << 24))
                    return nt_fail(e, "%s: [model] layers = '%s': '%s' is not a positive integer",
                                   origin, v, items[i]);
                c->sizes[i] = (int)l;
            } else if (k->kind == K_ACTLIST) {
                if (i >= NT_MAX_LAYERS || nn_act_parse(items[i], &c->acts[i]))
                    return nt_fail(e, "%s: [model] activations = '%s': '%s' is not an activation",
                                   origin, v, items[i]);
            } else {
                if (i >= NT_MAX_LAYERS || nt_parse_double(items[i], &d) || d < 0 || d >= 1)
                    return nt_fail(e, "%s: [model] dropout = '%s': '%s' is not a probability in "
                                   "[0, 1)", origin, v, items[i]);
                c->dropout[i] = d;
            }
        }
        if (k->kind == K_LAYERS) {
            if (n < 2) return BAD("needs at least an input and an output size");
            c->nsizes = n;
        } else if (k->kind == K_ACTLIST) {
            if (n < 1) return BAD("is empty");
            c->nacts = n;
        } else {
            if (n < 1) return BAD("is empty");
            c->ndropout = n;
        }
        return 0;
    }
#undef BAD
    return -1;
}

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
    c->bucket_mb = 25; /* PyTorch DDP's default bucket_cap_mb */
    c->flush_denormals = 1;
    c->ckpt_every_epochs = 1;
    c->ckpt_keep = 3;
    strcpy(c->out_dir, "runs/default");
}

static size_t field_size(kind k) { return k == K_BOOL ? sizeof(int) : sizeof(double); }

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
        if (!p->seen[i] || strcmp(k->section, "optimizer") || k->off < F(opt) ||
            k->off >= F(opt) + sizeof c->opt)
            continue;
        if (k->opts && !(k->opts & O(user.kind)))
            return nt_fail(e, "%s: [optimizer] %s does not apply to %s", path, k->key,
                           nn_opt_name(user.kind));
        memcpy((char *)c + k->off, (char *)&user + (k->off - F(opt)), field_size(k->kind));
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
        const char *sec = buf, *key = buf + (dot - s) + 1, *val = buf + (eq - s) + 1;
        int known;
        const key_spec *k = find_key(sec, key, &known);
        if (!k) {
            if (!known) return nt_fail(e, "--set '%s': unknown section [%s]", s, sec);
            return nt_fail(e, "--set '%s': unknown key '%s' in [%s]", s, key, sec);
        }
        p->seen[k - keys] = 1;
        if (set_value(c, k, val, e, "--set")) return -1;
    }
    return 0;
}

int nt_config_parse_string(nt_config *c, const char *text, const char *origin, nt_err *e)
{
    defaults(c);
    snprintf(c->path, sizeof c->path, "%s", origin);
    strcpy(c->train, "-"); /* fixtures and summaries need no data file */
    parse_ctx p = {.c = c, .e = e, .origin = origin};
    int rc = ini_parse_string(text, handler, &p);
    if (p.failed) return -1;
    if (rc > 0) return nt_fail(e, "%s:%d: malformed line (expected [section] or key = value)", origin, rc);
    return finish(c, &p, e);
}

int nt_config_load(nt_config *c, const char *path, char *const *sets, int nsets, nt_err *e)
{
    defaults(c);
    if (strlen(path) >= sizeof c->path) return nt_fail(e, "%s: path too long", path);
    strcpy(c->path, path);
    parse_ctx p = {.c = c, .e = e, .origin = path};
    FILE *f = fopen(path, "r");
    if (!f) return nt_fail(e, "%s: cannot open config: %s", path, strerror(errno));
    int rc = ini_parse_file(f, handler, &p);
    fclose(f);
    if (p.failed) return -1;
    if (rc > 0) return nt_fail(e, "%s:%d: malformed line (expected [section] or key = value)", path, rc);
    if (rc < 0) return nt_fail(e, "%s: cannot read config", path);
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

void nt_config_print(const nt_config *c, FILE *f)
{
    const nn_opt_config *o = &c->opt;
    fprintf(f, "[data]\ntrain = %s\n", c->train);
    if (c->test[0]) fprintf(f, "test = %s\n", c->test);
    fprintf(f, "val_fraction = %.17g\ncache_mb = %.17g\npermutation = %s\n", c->val_fraction,
            c->cache_mb, c->perm_mode == NT_PERM_TABLE ? "table" : c->perm_mode == NT_PERM_FEISTEL
                                                                    ? "feistel" : "auto");
    fprintf(f, "[model]\nlayers = ");
    for (int i = 0; i < c->nsizes; i++) fprintf(f, "%s%d", i ? ", " : "", c->sizes[i]);
    fprintf(f, "\nactivations = ");
    for (int i = 0; i < c->nsizes - 1; i++) fprintf(f, "%s%s", i ? ", " : "", nn_act_name(c->acts[i]));
    fprintf(f, "\nleaky_slope = %.17g\nelu_alpha = %.17g\ninit = %s\ninit_std = %.17g\nbias = %s\n",
            c->leaky_slope, c->elu_alpha, nn_init_name(c->init), c->init_std,
            c->bias ? "true" : "false");
    if (c->nsizes > 2) {
        fprintf(f, "dropout = ");
        for (int i = 0; i < c->nsizes - 2; i++) fprintf(f, "%s%.17g", i ? ", " : "", c->ndropout ? c->dropout[i] : 0.0);
        fputc('\n', f);
    }
    fprintf(f, "[loss]\nname = %s\n", nn_loss_name(c->loss.kind));
    if (c->loss.kind == NN_LOSS_CROSS_ENTROPY) fprintf(f, "label_smoothing = %.17g\n", c->loss.label_smoothing);
    if (c->loss.kind == NN_LOSS_HUBER) fprintf(f, "delta = %.17g\n", c->loss.delta);
    if (c->loss.kind == NN_LOSS_SMOOTH_L1) fprintf(f, "beta = %.17g\n", c->loss.beta);
    fprintf(f, "[optimizer]\nname = %s\nlr = %.17g\nweight_decay = %.17g\ndecay_biases = %s\n"
               "clip_grad_norm = %.17g\n", nn_opt_name(o->kind), o->lr, o->weight_decay,
            c->decay_biases ? "true" : "false", c->clip_grad_norm);
    for (size_t i = 0; i < NKEYS; i++) { /* the optimizer-specific keys that apply */
        const key_spec *k = &keys[i];
        if (strcmp(k->section, "optimizer") || !k->opts || !(k->opts & O(o->kind))) continue;
        const char *v = (const char *)c + k->off;
        if (k->kind == K_BOOL) fprintf(f, "%s = %s\n", k->key, *(const int *)v ? "true" : "false");
        else fprintf(f, "%s = %.17g\n", k->key, *(const double *)v);
    }
    fprintf(f, "[schedule]\nname = %s\nunit = %s\n", nn_sched_name(c->sched.kind),
            c->sched_per_step ? "step" : "epoch");
    if (c->sched.kind == NN_SCHED_STEP) fprintf(f, "step_size = %lld\n", (long long)c->sched.step_size);
    if (c->sched.kind == NN_SCHED_STEP || c->sched.kind == NN_SCHED_EXPONENTIAL)
        fprintf(f, "gamma = %.17g\n", c->sched.gamma);
    if (c->sched.kind == NN_SCHED_COSINE)
        fprintf(f, "t_max = %.17g\neta_min = %.17g\n", c->sched.t_max, c->sched.eta_min);
    fprintf(f, "warmup = %lld\nwarmup_start_factor = %.17g\n", (long long)c->sched.warmup,
            c->sched.warmup_start_factor);
    fprintf(f, "[train]\nepochs = %d\nbatch_size = %ld\nseed = %llu\nthreads = %d\nbucket_mb = %.17g\n"
               "flush_denormals = %s\n", c->epochs, c->batch_size, (unsigned long long)c->seed,
            c->threads, c->bucket_mb, c->flush_denormals ? "true" : "false");
    fprintf(f, "[output]\ndir = %s\n", c->out_dir);
    fprintf(f, "[checkpoint]\ndir = %s\nevery_steps = %ld\nevery_epochs = %ld\nkeep = %d\nresume = %s\n",
            c->ckpt_dir, c->ckpt_every_steps, c->ckpt_every_epochs, c->ckpt_keep,
            c->resume_auto ? "auto" : "never");
}
