/* Table-driven INI configuration on top of libinih. */
#include "config.h"
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { K_PATH, K_FRACTION, K_POSDOUBLE, K_LAYERS, K_ACT, K_OPT, K_LR, K_NONNEG,
               K_POSINT, K_LONG1, K_U64, K_THREADS } kind;

typedef struct {
    const char *section, *key;
    kind kind;
    size_t off;
    const char *help;
} key_spec;

#define F(field) offsetof(nt_config, field)
static const key_spec keys[] = {
    {"data", "train", K_PATH, F(train), "training set (HDF5: /X (N,D), /y (N))"},
    {"data", "test", K_PATH, F(test), "test set, evaluated every epoch (optional)"},
    {"data", "val_fraction", K_FRACTION, F(val_fraction), "share of train held out for validation"},
    {"data", "cache_mb", K_POSDOUBLE, F(cache_mb), "MiB of dataset rows a rank reads per window"},
    {"model", "layers", K_LAYERS, F(sizes), "layer widths, input first, classes last"},
    {"model", "activation", K_ACT, F(activation), "hidden activation: relu|sigmoid|tanh|identity"},
    {"optimizer", "name", K_OPT, F(opt.kind), "adam | sgd"},
    {"optimizer", "lr", K_LR, F(opt.lr), "learning rate (default 0.001 adam, 0.01 sgd)"},
    {"optimizer", "momentum", K_NONNEG, F(opt.momentum), "sgd momentum"},
    {"optimizer", "weight_decay", K_NONNEG, F(opt.weight_decay), "L2 penalty added to gradients"},
    {"train", "epochs", K_POSINT, F(epochs), "passes over the training set"},
    {"train", "batch_size", K_LONG1, F(batch_size), "global batch (all ranks together)"},
    {"train", "seed", K_U64, F(seed), "seed of init, split, shuffling"},
    {"train", "threads", K_THREADS, F(threads), "BLAS threads per rank (0 = auto)"},
    {"train", "bucket_mb", K_POSDOUBLE, F(bucket_mb), "allreduce bucket size in MiB"},
    {"output", "dir", K_PATH, F(out_dir), "run directory: metrics.csv, model.h5"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

typedef struct {
    nt_config *c;
    nt_err *e;
    const char *origin; /* file name or "--set" */
    unsigned char seen[NKEYS];
    int failed;
} parse_ctx;

static int set_value(nt_config *c, const key_spec *k, const char *v, nt_err *e,
                     const char *origin)
{
    char *base = (char *)c + k->off;
    double d;
    long l;
#define BAD(...) (nt_fail(e, __VA_ARGS__), -1)
    switch (k->kind) {
    case K_PATH:
        if (!*v) return BAD("%s: [%s] %s is empty", origin, k->section, k->key);
        if (strlen(v) >= PATH_MAX) return BAD("%s: [%s] %s is too long", origin, k->section, k->key);
        strcpy(base, v);
        return 0;
    case K_FRACTION:
        if (nt_parse_double(v, &d) || d < 0 || d >= 1)
            return BAD("%s: [%s] %s = '%s' must be a number in [0, 1)", origin, k->section, k->key, v);
        *(double *)base = d;
        return 0;
    case K_POSDOUBLE:
        if (nt_parse_double(v, &d) || d <= 0)
            return BAD("%s: [%s] %s = '%s' must be a positive number", origin, k->section, k->key, v);
        *(double *)base = d;
        return 0;
    case K_NONNEG:
    case K_LR:
        if (nt_parse_double(v, &d) || d < 0 || (k->kind == K_LR && d == 0))
            return BAD("%s: [%s] %s = '%s' must be a %s number", origin, k->section, k->key, v,
                       k->kind == K_LR ? "positive" : "non-negative");
        *(double *)base = d;
        if (k->kind == K_LR) c->lr_set = 1;
        return 0;
    case K_POSINT:
    case K_THREADS:
        if (nt_parse_long(v, &l) || l < (k->kind == K_POSINT ? 1 : 0) || l > 1000000)
            return BAD("%s: [%s] %s = '%s' must be an integer >= %d", origin, k->section, k->key,
                       v, k->kind == K_POSINT ? 1 : 0);
        *(int *)base = (int)l;
        return 0;
    case K_LONG1:
        if (nt_parse_long(v, &l) || l < 1 || l > (1L << 30))
            return BAD("%s: [%s] %s = '%s' must be an integer >= 1", origin, k->section, k->key, v);
        *(long *)base = l;
        return 0;
    case K_U64:
        if (nt_parse_u64(v, (uint64_t *)base))
            return BAD("%s: [%s] %s = '%s' must be a non-negative integer", origin, k->section,
                       k->key, v);
        return 0;
    case K_ACT:
        if (nn_act_parse(v, (nn_act *)base))
            return BAD("%s: [%s] %s = '%s' is not one of relu, sigmoid, tanh, identity", origin,
                       k->section, k->key, v);
        return 0;
    case K_OPT:
        if (nn_opt_parse(v, (nn_opt_kind *)base))
            return BAD("%s: [%s] %s = '%s' is not one of adam, sgd", origin, k->section, k->key, v);
        return 0;
    case K_LAYERS: {
        /* "784, 256, 256, 10": at least input and output, each a positive integer */
        char buf[4096];
        if (strlen(v) >= sizeof buf) return BAD("%s: [model] layers is too long", origin);
        strcpy(buf, v);
        int n = 0;
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ' || *tok == '\t') tok++;
            char *end = tok + strlen(tok);
            while (end > tok && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
            if (n > NT_MAX_LAYERS)
                return BAD("%s: [model] layers has more than %d layers", origin, NT_MAX_LAYERS);
            if (nt_parse_long(tok, &l) || l < 1 || l > (1 << 24))
                return BAD("%s: [model] layers = '%s': '%s' is not a positive integer", origin, v, tok);
            c->sizes[n++] = (int)l;
        }
        if (n < 2)
            return BAD("%s: [model] layers = '%s' needs at least an input and an output size",
                       origin, v);
        c->nsizes = n;
        return 0;
    }
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
    nn_opt_defaults(&c->opt, NN_OPT_ADAM);
    c->epochs = 5;
    c->batch_size = 128;
    c->seed = 1;
    c->bucket_mb = 25; /* PyTorch DDP's default bucket_cap_mb */
    strcpy(c->out_dir, "runs/default");
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
        p.seen[k - keys] = 1;
        if (set_value(c, k, val, e, "--set")) return -1;
    }

    /* cross-key rules */
    size_t li = (size_t)(find_key("model", "layers", &(int){0}) - keys);
    size_t ti = (size_t)(find_key("data", "train", &(int){0}) - keys);
    if (!p.seen[ti]) return nt_fail(e, "%s: [data] train is required", path);
    if (!p.seen[li]) return nt_fail(e, "%s: [model] layers is required", path);
    if (c->sizes[c->nsizes - 1] < 2)
        return nt_fail(e, "%s: [model] layers: the last size is the number of classes and must be >= 2", path);
    if (!c->lr_set) c->opt.lr = c->opt.kind == NN_OPT_ADAM ? 1e-3 : 1e-2;
    if (c->opt.kind == NN_OPT_ADAM && c->opt.momentum != 0)
        return nt_fail(e, "%s: [optimizer] momentum applies to sgd, not adam", path);
    return 0;
}

void nt_config_print(const nt_config *c, FILE *f)
{
    fprintf(f, "[data]\ntrain = %s\n", c->train);
    if (c->test[0]) fprintf(f, "test = %s\n", c->test);
    fprintf(f, "val_fraction = %g\ncache_mb = %g\n", c->val_fraction, c->cache_mb);
    fprintf(f, "[model]\nlayers = ");
    for (int i = 0; i < c->nsizes; i++) fprintf(f, "%s%d", i ? ", " : "", c->sizes[i]);
    fprintf(f, "\nactivation = %s\n", nn_act_name(c->activation));
    fprintf(f, "[optimizer]\nname = %s\nlr = %g\nmomentum = %g\nweight_decay = %g\n",
            nn_opt_name(c->opt.kind), c->opt.lr, c->opt.momentum, c->opt.weight_decay);
    fprintf(f, "[train]\nepochs = %d\nbatch_size = %ld\nseed = %llu\nthreads = %d\nbucket_mb = %g\n",
            c->epochs, c->batch_size, (unsigned long long)c->seed, c->threads, c->bucket_mb);
    fprintf(f, "[output]\ndir = %s\n", c->out_dir);
}
