/* nndata make-moons, make-circles, make-regression, make-blobs, make-spirals and make-xor:
 * parse N OUT.h5 and the generator's options, run the generator (generate.h), write the
 * nntrain layout (h5data.h) and print a one-line summary. */
#include "commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "usage.h"
#include "generate.h"
#include "h5data.h"

/* Largest N (and D): keeps N * D * sizeof(float) far from overflow; beyond memory anyway,
 * where the allocation fails with a clear message. */
#define MAX_N ((long long)1 << 40)
/* Largest class count: labels K-1 must fit nntrain's int32 /y. */
#define MAX_CLASSES 2147483646LL

enum kind { MOONS, CIRCLES, REGRESSION, BLOBS, SPIRALS, XOR };

/* One generator run: n rows of d features, k classes, noise (std for blobs), factor. */
struct gen {
    enum kind kind;
    long long n, d, k;
    double noise, factor;
    uint64_t seed;
};

/* N OUT.h5, which every generator has. Returns -1 to go on, or an exit code. */
/* The command line every make-* command shares: its options (stored through opts), then
 * N OUT.h5 into pos and N into g->n. Returns -1 to go on, or the exit status (after --help,
 * or with the one error line printed). */
static int gen_args(int argc, char **argv, const char *cmd, const nn_cli_val *opts,
                    const char *usage, const char **pos, struct gen *g)
{
    nn_cli cli = {.tool = "nndata", .cmd = cmd, .usage = usage, .vals = opts, .pos = pos,
                  .maxpos = 2, .numbers_are_positional = 1};
    nt_err e;
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    if (cli.npos != 2)
        return nd_fail(NT_EXIT_USAGE, cmd, "expected N OUT.h5, got %d argument%s", cli.npos,
                       cli.npos == 1 ? "" : "s");
    if (nn_parse_count(pos[0], MAX_N, &g->n) < 0)
        return nd_fail(NT_EXIT_USAGE, pos[0], "N must be a positive integer%s",
                       nn_all_digits(pos[0]) && pos[0][0] != '0' ? " (too large)" : "");
    return -1;
}

/* --seed S, when given. */
static int parse_seed(const char *s, uint64_t *seed)
{
    if (s && nn_parse_u64(s, seed) < 0)
        return nd_fail(NT_EXIT_USAGE, s, "--seed must be an unsigned 64-bit integer");
    return -1;
}

/* A finite number >= 0 (--noise, --std), when given. */
static int parse_nonneg(const char *s, const char *opt, double *out)
{
    if (s && (nn_parse_double(s, out) < 0 || *out < 0))
        return nd_fail(NT_EXIT_USAGE, s, "%s must be a finite number >= 0", opt);
    return -1;
}

/* --features D, when given. */
static int parse_features(const char *s, long long *d)
{
    if (s && nn_parse_count(s, MAX_N, d) < 0)
        return nd_fail(NT_EXIT_USAGE, s, "--features must be a positive integer%s",
                       nn_all_digits(s) && s[0] != '0' ? " (too large)" : "");
    return -1;
}

/* Class count option (--centers / --classes): 1 .. N; without it, the default capped at N. */
static int parse_classes(const char *s, const char *opt, long long n, long long *k)
{
    if (!s) {
        if (*k > n) *k = n;
        return -1;
    }
    if (nn_parse_count(s, MAX_CLASSES, k) < 0)
        return nd_fail(NT_EXIT_USAGE, s, "%s must be a positive integer", opt);
    if (*k > n) return nd_fail(NT_EXIT_USAGE, s, "%s must be <= N (%lld)", opt, n);
    return -1;
}

/* Allocate, generate, write OUT and print the summary line. nstr is N as given. */
static int run(const struct gen *g, const char *nstr, const char *out)
{
    float *x = NULL, *yf = NULL;
    int32_t *y = NULL;
    nt_err e;
    int rc = NT_EXIT_RUNTIME;
    int ok = (unsigned long long)g->n <= SIZE_MAX / sizeof *x / (unsigned long long)g->d;
    if (ok) {
        x = malloc((size_t)g->n * (size_t)g->d * sizeof *x);
        if (g->kind == REGRESSION)
            yf = malloc((size_t)g->n * sizeof *yf);
        else
            y = malloc((size_t)g->n * sizeof *y);
    }
    if (!x || (!y && !yf)) {
        if (g->kind == MOONS || g->kind == CIRCLES)
            nd_fail(rc, nstr, "out of memory for %lld points", g->n);
        else
            nd_fail(rc, nstr, "out of memory for %lld x %lld values", g->n, g->d);
        goto done;
    }
    switch (g->kind) {
    case MOONS: gen_moons(g->n, g->noise, g->seed, x, y); break;
    case CIRCLES: gen_circles(g->n, g->noise, g->factor, g->seed, x, y); break;
    case REGRESSION: gen_regression(g->n, g->d, g->noise, g->seed, x, yf); break;
    case BLOBS: gen_blobs(g->n, g->k, g->d, g->noise, g->seed, x, y, NULL); break;
    case SPIRALS: gen_spirals(g->n, g->k, g->noise, g->seed, x, y); break;
    case XOR: gen_xor(g->n, g->noise, g->seed, x, y); break;
    }
    if (yf ? h5data_write_regression(out, g->n, g->d, NULL, x, 0.0f, yf, 1, &e)
           : h5data_write(out, g->n, g->d, NULL, x, 0.0f, y, &e)) {
        nd_report(rc, &e);
        goto done;
    }
    if (yf)
        printf("%s: %lld x %lld float32, regression (1 target)\n", out, g->n, g->d);
    else
        printf("%s: %lld x %lld float32, %d classes\n", out, g->n, g->d,
               nd_count_classes(y, g->n));
    rc = NT_EXIT_OK;
done:
    free(x);
    free(y);
    free(yf);
    return rc;
}

/* make-moons and make-circles: N OUT.h5 [--noise S] [--seed S] (circles: [--factor F]). */
static int moons_circles(int argc, char **argv, int circles)
{
    const char *cmd = circles ? "make-circles" : "make-moons";
    const char *noise = NULL, *seed = NULL, *factor = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"noise", 0, &noise}, {"seed", 0, &seed},
                               {circles ? "factor" : NULL, 0, &factor}, {NULL, 0, NULL}};
    struct gen g = {circles ? CIRCLES : MOONS, 0, 2, 2, circles ? 0.05 : 0.1, 0.8, 1};
    int rc = gen_args(argc, argv, cmd, opts, nd_usage_text, pos, &g);
    if (rc >= 0) return rc;
    if ((rc = parse_nonneg(noise, "--noise", &g.noise)) >= 0) return rc;
    if ((rc = parse_seed(seed, &g.seed)) >= 0) return rc;
    if (factor && (nn_parse_double(factor, &g.factor) < 0 || g.factor < 0 || g.factor >= 1))
        return nd_fail(NT_EXIT_USAGE, factor, "--factor must be a number in [0, 1)");
    return run(&g, pos[0], pos[1]);
}

int cmd_make_moons(int argc, char **argv) { return moons_circles(argc, argv, 0); }
int cmd_make_circles(int argc, char **argv) { return moons_circles(argc, argv, 1); }

int cmd_make_regression(int argc, char **argv)
{
    const char *cmd = "make-regression", *noise = NULL, *seed = NULL, *features = NULL,
               *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"noise", 0, &noise}, {"seed", 0, &seed},
                               {"features", 0, &features}, {NULL, 0, NULL}};
    struct gen g = {REGRESSION, 0, 2, 0, 0.1, 0, 1};
    int rc = gen_args(argc, argv, cmd, opts, nd_usage_text, pos, &g);
    if (rc >= 0) return rc;
    if ((rc = parse_nonneg(noise, "--noise", &g.noise)) >= 0) return rc;
    if ((rc = parse_seed(seed, &g.seed)) >= 0) return rc;
    if ((rc = parse_features(features, &g.d)) >= 0) return rc;
    return run(&g, pos[0], pos[1]);
}

int cmd_make_blobs(int argc, char **argv)
{
    const char *cmd = "make-blobs", *centers = NULL, *features = NULL, *std = NULL, *seed = NULL,
               *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"centers", 0, &centers}, {"features", 0, &features},
                               {"std", 0, &std}, {"seed", 0, &seed}, {NULL, 0, NULL}};
    static const char usage[] =
        "usage: nndata make-blobs N OUT.h5 [--centers K] [--features D] "
        "[--std S] [--seed S]\n";
    struct gen g = {BLOBS, 0, 2, 3, 1.0, 0, 1};
    int rc = gen_args(argc, argv, cmd, opts, usage, pos, &g);
    if (rc >= 0) return rc;
    if ((rc = parse_seed(seed, &g.seed)) >= 0) return rc;
    if ((rc = parse_classes(centers, "--centers", g.n, &g.k)) >= 0) return rc;
    if ((rc = parse_features(features, &g.d)) >= 0) return rc;
    if ((rc = parse_nonneg(std, "--std", &g.noise)) >= 0) return rc;
    return run(&g, pos[0], pos[1]);
}

int cmd_make_spirals(int argc, char **argv)
{
    const char *cmd = "make-spirals", *classes = NULL, *noise = NULL, *seed = NULL,
               *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"classes", 0, &classes}, {"noise", 0, &noise},
                               {"seed", 0, &seed}, {NULL, 0, NULL}};
    static const char usage[] =
        "usage: nndata make-spirals N OUT.h5 [--classes K] [--noise S] "
        "[--seed S]\n";
    struct gen g = {SPIRALS, 0, 2, 3, 0.2, 0, 1};
    int rc = gen_args(argc, argv, cmd, opts, usage, pos, &g);
    if (rc >= 0) return rc;
    if ((rc = parse_seed(seed, &g.seed)) >= 0) return rc;
    if ((rc = parse_classes(classes, "--classes", g.n, &g.k)) >= 0) return rc;
    if ((rc = parse_nonneg(noise, "--noise", &g.noise)) >= 0) return rc;
    return run(&g, pos[0], pos[1]);
}

int cmd_make_xor(int argc, char **argv)
{
    const char *cmd = "make-xor", *noise = NULL, *seed = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"noise", 0, &noise}, {"seed", 0, &seed}, {NULL, 0, NULL}};
    static const char usage[] =
        "usage: nndata make-xor N OUT.h5 [--noise S] [--seed S]\n";
    struct gen g = {XOR, 0, 2, 2, 0.0, 0, 1};
    int rc = gen_args(argc, argv, cmd, opts, usage, pos, &g);
    if (rc >= 0) return rc;
    if ((rc = parse_seed(seed, &g.seed)) >= 0) return rc;
    if ((rc = parse_nonneg(noise, "--noise", &g.noise)) >= 0) return rc;
    return run(&g, pos[0], pos[1]);
}
