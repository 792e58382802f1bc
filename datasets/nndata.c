/* nndata: build datasets in the nntrain HDF5 layout (datasets/h5data.h) from IDX files
 * (Fashion-MNIST) or from the synthetic make-moons / make-circles / make-regression
 * generators.
 * Errors are one line "nndata: error: <file or arg>: <what>"; exit 2 = usage, 1 = runtime. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "generate.h"
#include "h5data.h"
#include "idx.h"
#include "import.h"
#include "tools.h"

#ifndef NN_VERSION
#define NN_VERSION "unknown"
#endif

/* Largest N for the generators: keeps N * 2 * sizeof(float) far from overflow; beyond memory
 * anyway, where the allocation fails with a clear message. */
#define NNDATA_MAX_N ((long long)1 << 40)

static const char usage_text[] =
    "usage: nndata COMMAND ARGS...\n"
    "Write a dataset in the nntrain HDF5 layout (/X rows; /y int32 labels, or float32\n"
    "targets of shape (N, 1) for regression).\n"
    "\n"
    "  nndata import-idx IMAGES LABELS OUT.h5\n"
    "      convert IDX files (gzipped or plain), e.g. Fashion-MNIST; /X uint8 with\n"
    "      attribute scale = 1/255\n"
    "  nndata import-csv IN.csv OUT.h5 --label COLUMN [--no-header] [--regression]\n"
    "                    [--delimiter C]\n"
    "      delimited text: COLUMN (header name or 0-based index) holds integer labels\n"
    "      0..K-1, or float targets with --regression; all other columns are float32\n"
    "      features. A first row with a non-numeric feature cell is a header unless\n"
    "      --no-header. No quoted fields; --delimiter 'tab' for tabs (default ',')\n"
    "  nndata import-npy X.npy Y.npy OUT.h5 [--regression] [--scale S]\n"
    "      NumPy arrays: X (N, D) <f4 or <f8 (stored float32) or |u1 (stored uint8, with\n"
    "      attribute scale = S if given); Y (N,) integer labels (<i4, <i8, |u1), or with\n"
    "      --regression float targets (N,) or (N, K)\n"
    "  nndata make-moons N OUT.h5 [--noise S] [--seed S]\n"
    "      two interleaving half circles, N float32 points in 2-D (noise 0.1, seed 1)\n"
    "  nndata make-circles N OUT.h5 [--noise S] [--seed S] [--factor F]\n"
    "      two concentric circles, radii 1 and F (noise 0.05, seed 1, factor 0.8)\n"
    "  nndata make-regression N OUT.h5 [--features D] [--noise S] [--seed S]\n"
    "      N float32 points x ~ U(-1, 1)^D, each with one float32 target\n"
    "        y = sin(pi x0) + 0.5 x1^2 + 0.25 (x2 + ... + x{D-1}) + S * N(0, 1)\n"
    "      (x1 term if D >= 2, sum if D >= 3; defaults D 2, noise 0.1, seed 1)\n"
    "  nndata make-blobs N OUT.h5 [--centers K] [--features D] [--std S] [--seed S]\n"
    "      K Gaussian blobs in D dims, centers uniform in [-10, 10]^D, balanced classes\n"
    "      (defaults K 3, D 2, std 1.0, seed 1)\n"
    "  nndata make-spirals N OUT.h5 [--classes K] [--noise S] [--seed S]\n"
    "      K interleaved spiral arms in 2-D, balanced (K 3, noise 0.2 on the angle, seed 1)\n"
    "  nndata make-xor N OUT.h5 [--noise S] [--seed S]\n"
    "      x ~ U(-1, 1)^2, label (x0 > 0) XOR (x1 > 0) before noise (noise 0, seed 1)\n"
    "  nndata split IN.h5 PREFIX --fractions F1,F2[,F3] [--seed S] [--standardize]\n"
    "      random split into PREFIX-train.h5, PREFIX-val.h5[, PREFIX-test.h5]; fractions\n"
    "      sum to 1, part sizes floor(N F), remainder to train (seed 1). The parts keep\n"
    "      IN's scale, mean and std; --standardize writes to every part the mean/std of\n"
    "      the train part's rows instead\n"
    "  nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]\n"
    "      write per-feature /X attributes mean and std (float32, D values each) in\n"
    "      place; nntrain then reads x = (stored * scale - mean) / std. Statistics of\n"
    "      stored * scale: mean and population std (ddof 0), std 1 for a constant\n"
    "      feature. --stats-from copies TRAIN.h5's mean/std instead (same D); --remove\n"
    "      deletes them. The data is never modified\n"
    "  nndata info FILE.h5\n"
    "      shape, dtype, scale, mean/std, task, class counts, per-feature min/max/mean\n"
    "  nndata check FILE.h5\n"
    "      validate a file for nntrain; exit 1 with one line naming the first problem\n"
    "  nndata --help | --version\n"
    "\n"
    "Options also take the form --name=VALUE. Exit status: 0 success, 1 input or write\n"
    "error, 2 usage error.\n";

/* ---- argument splitting ------------------------------------------------------------------ */

/* Options a command accepts; value pointers stay NULL when the option is absent. */
struct opts {
    const char *noise, *seed, *factor, *features;
    const char *pos[4];
    int npos;
};

/* Split argv[first..] into positionals and --name VALUE / --name=VALUE options allowed by
 * `allowed` (a list like "noise,seed"). Returns -1 to continue, or an exit code (usage error,
 * or 0 after --help). A lone "-" or a negative number is a positional, so "-3" as N gets the
 * "must be a positive integer" message rather than "unknown option". */
static int split_args(int argc, char **argv, int first, const char *cmd, const char *allowed,
                      struct opts *o)
{
    int only_pos = 0;
    memset(o, 0, sizeof *o);
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        int is_opt = !only_pos && a[0] == '-' && a[1] != '\0' &&
                     !isdigit((unsigned char)a[1]) && a[1] != '.';
        if (!is_opt) {
            if (o->npos == (int)(sizeof o->pos / sizeof o->pos[0]))
                return nd_fail(EXIT_USAGE, cmd, "too many arguments (try 'nndata --help')");
            o->pos[o->npos++] = a;
            continue;
        }
        if (a[1] != '-')
            return nd_fail(EXIT_USAGE, a, "unknown option for %s (try 'nndata --help')", cmd);
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const char **slot = NULL;
        if (nlen == 5 && strncmp(name, "noise", 5) == 0) slot = &o->noise;
        else if (nlen == 4 && strncmp(name, "seed", 4) == 0) slot = &o->seed;
        else if (nlen == 6 && strncmp(name, "factor", 6) == 0) slot = &o->factor;
        else if (nlen == 8 && strncmp(name, "features", 8) == 0) slot = &o->features;
        /* Accept only the options this command lists (whole comma-separated words). */
        int ok = 0;
        for (const char *p = allowed; slot && *p;) {
            size_t w = strcspn(p, ",");
            if (w == nlen && strncmp(p, name, nlen) == 0) ok = 1;
            p += w + (p[w] == ',');
        }
        if (!ok) {
            int shown = (int)(nlen + 2);
            fprintf(stderr, "nndata: error: %.*s: unknown option for %s (try 'nndata --help')\n",
                    shown, a, cmd);
            return EXIT_USAGE;
        }
        if (eq) {
            *slot = eq + 1;
        } else {
            if (i + 1 >= argc) return nd_fail(EXIT_USAGE, a, "missing value");
            *slot = argv[++i];
        }
    }
    return -1;
}

/* ---- commands ------------------------------------------------------------------------------ */

static int cmd_import_idx(int argc, char **argv)
{
    struct opts o;
    int rc = split_args(argc, argv, 2, "import-idx", "", &o);
    if (rc >= 0) return rc;
    if (o.npos != 3)
        return nd_fail(EXIT_USAGE, "import-idx", "expected IMAGES LABELS OUT.h5, got %d argument%s",
                    o.npos, o.npos == 1 ? "" : "s");
    const char *images = o.pos[0], *labels = o.pos[1], *out = o.pos[2];

    char err[512];
    uint8_t *pix = NULL, *lab = NULL;
    int32_t *y = NULL;
    int64_t n = 0, rows = 0, cols = 0, nl = 0;
    rc = EXIT_RUNTIME;
    if (idx_read_images(images, &pix, &n, &rows, &cols, err, sizeof err) < 0 ||
        idx_read_labels(labels, &lab, &nl, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        goto done;
    }
    if (nl != n) {
        nd_fail(EXIT_RUNTIME, labels, "%lld labels, but %s has %lld images", (long long)nl,
             images, (long long)n);
        goto done;
    }
    if (rows * cols == 0) {
        nd_fail(EXIT_RUNTIME, images, "empty images (%lld x %lld pixels)", (long long)rows,
             (long long)cols);
        goto done;
    }
    y = malloc((n > 0 ? (size_t)n : 1) * sizeof *y);
    if (!y) {
        nd_fail(EXIT_RUNTIME, labels, "out of memory");
        goto done;
    }
    for (int64_t i = 0; i < n; i++) y[i] = lab[i];
    /* Pixels stay uint8 on disk (4x smaller than float); the reader multiplies by 1/255. */
    if (h5data_write(out, n, rows * cols, pix, NULL, 1.0f / 255.0f, y, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        goto done;
    }
    printf("%s: %lld x %lld uint8, %d classes\n", out, (long long)n, (long long)(rows * cols),
           nd_count_classes(y, n));
    rc = EXIT_OK;
done:
    free(pix);
    free(lab);
    free(y);
    return rc;
}

/* The arguments every generator shares: N OUT.h5 [--noise S] [--seed S]. Returns -1 to
 * continue, or an exit code. */
static int parse_gen_args(const struct opts *o, const char *cmd, long long *n, double *noise,
                          uint64_t *seed)
{
    if (o->npos != 2)
        return nd_fail(EXIT_USAGE, cmd, "expected N OUT.h5, got %d argument%s", o->npos,
                    o->npos == 1 ? "" : "s");
    if (nd_parse_count(o->pos[0], NNDATA_MAX_N, n) < 0)
        return nd_fail(EXIT_USAGE, o->pos[0], "N must be a positive integer%s",
                    nd_all_digits(o->pos[0]) && o->pos[0][0] != '0' ? " (too large)" : "");
    if (o->noise && (nd_parse_double(o->noise, noise) < 0 || *noise < 0))
        return nd_fail(EXIT_USAGE, o->noise, "--noise must be a finite number >= 0");
    if (o->seed && nd_parse_u64(o->seed, seed) < 0)
        return nd_fail(EXIT_USAGE, o->seed, "--seed must be an unsigned 64-bit integer");
    return -1;
}

/* make-moons and make-circles: same arguments except --factor. */
static int cmd_generate(int argc, char **argv, int circles)
{
    const char *cmd = circles ? "make-circles" : "make-moons";
    struct opts o;
    int rc = split_args(argc, argv, 2, cmd, circles ? "noise,seed,factor" : "noise,seed", &o);
    if (rc >= 0) return rc;

    long long n;
    double noise = circles ? 0.05 : 0.1, factor = 0.8;
    uint64_t seed = 1;
    rc = parse_gen_args(&o, cmd, &n, &noise, &seed);
    if (rc >= 0) return rc;
    if (o.factor && (nd_parse_double(o.factor, &factor) < 0 || factor < 0 || factor >= 1))
        return nd_fail(EXIT_USAGE, o.factor, "--factor must be a number in [0, 1)");
    const char *out = o.pos[1];

    float *x = malloc((size_t)n * 2 * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    char err[512];
    rc = EXIT_RUNTIME;
    if (!x || !y) {
        nd_fail(EXIT_RUNTIME, o.pos[0], "out of memory for %lld points", n);
        goto done;
    }
    if (circles)
        gen_circles(n, noise, factor, seed, x, y);
    else
        gen_moons(n, noise, seed, x, y);
    if (h5data_write(out, n, 2, NULL, x, 0.0f, y, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        goto done;
    }
    printf("%s: %lld x 2 float32, %d classes\n", out, n, nd_count_classes(y, n));
    rc = EXIT_OK;
done:
    free(x);
    free(y);
    return rc;
}

/* make-regression: gen_regression's x (N, D) and one float32 target per row. */
static int cmd_regression(int argc, char **argv)
{
    const char *cmd = "make-regression";
    struct opts o;
    int rc = split_args(argc, argv, 2, cmd, "noise,seed,features", &o);
    if (rc >= 0) return rc;

    long long n, d = 2;
    double noise = 0.1;
    uint64_t seed = 1;
    rc = parse_gen_args(&o, cmd, &n, &noise, &seed);
    if (rc >= 0) return rc;
    if (o.features && nd_parse_count(o.features, NNDATA_MAX_N, &d) < 0)
        return nd_fail(EXIT_USAGE, o.features, "--features must be a positive integer%s",
                    nd_all_digits(o.features) && o.features[0] != '0' ? " (too large)" : "");
    const char *out = o.pos[1];

    /* N, D <= 2^40 each, so N * D fits in 64 bits but may exceed what size_t can allocate. */
    float *x = NULL, *y = NULL;
    char err[512];
    rc = EXIT_RUNTIME;
    if ((unsigned long long)n > SIZE_MAX / sizeof *x / (unsigned long long)d) {
        nd_fail(EXIT_RUNTIME, o.pos[0], "out of memory for %lld x %lld values", n, d);
        goto done;
    }
    x = malloc((size_t)n * (size_t)d * sizeof *x);
    y = malloc((size_t)n * sizeof *y);
    if (!x || !y) {
        nd_fail(EXIT_RUNTIME, o.pos[0], "out of memory for %lld x %lld values", n, d);
        goto done;
    }
    gen_regression(n, d, noise, seed, x, y);
    if (h5data_write_regression(out, n, d, NULL, x, 0.0f, y, 1, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        goto done;
    }
    printf("%s: %lld x %lld float32, regression (1 target)\n", out, n, d);
    rc = EXIT_OK;
done:
    free(x);
    free(y);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return nd_fail(EXIT_USAGE, "COMMAND", "missing (try 'nndata --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage_text, stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("nndata %s\n", NN_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "import-idx") == 0) return cmd_import_idx(argc, argv);
    if (strcmp(cmd, "import-csv") == 0) return import_csv_main(argc, argv, usage_text);
    if (strcmp(cmd, "import-npy") == 0) return import_npy_main(argc, argv, usage_text);
    if (strcmp(cmd, "make-moons") == 0) return cmd_generate(argc, argv, 0);
    if (strcmp(cmd, "make-circles") == 0) return cmd_generate(argc, argv, 1);
    if (strcmp(cmd, "make-regression") == 0) return cmd_regression(argc, argv);
    if (strcmp(cmd, "make-blobs") == 0) return tools_make_blobs_main(argc, argv);
    if (strcmp(cmd, "make-spirals") == 0) return tools_make_spirals_main(argc, argv);
    if (strcmp(cmd, "make-xor") == 0) return tools_make_xor_main(argc, argv);
    if (strcmp(cmd, "split") == 0) return tools_split_main(argc, argv);
    if (strcmp(cmd, "info") == 0) return tools_info_main(argc, argv);
    if (strcmp(cmd, "check") == 0) return tools_check_main(argc, argv);
    if (strcmp(cmd, "standardize") == 0) return tools_standardize_main(argc, argv);
    return nd_fail(EXIT_USAGE, cmd, "unknown command (try 'nndata --help')");
}
