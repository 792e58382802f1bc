/* nndata's command-line layer (see cli.h): the help text, the single error printer, one
 * getopt_long wrapper that every command uses, and strict number parsing. */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char nd_usage_text[] =
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
    "      validate a file for nntrain; exit 3 with one line naming the first problem\n"
    "  nndata --help | --version\n"
    "\n"
    "Options also take the form --name=VALUE. Exit status (as for nntrain): 0 success,\n"
    "1 write error or out of memory, 2 usage error, 3 bad input (a missing, unreadable\n"
    "or malformed input file or value).\n";

/* The one place nndata prints an error. */
int nd_fail(int code, const char *what, const char *fmt, ...)
{
    va_list ap;
    fputs("nndata: error: ", stderr);
    if (what) fprintf(stderr, "%s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int nd_report(int code, const nt_err *e) { return nd_fail(code, NULL, "%s", e->msg); }

/* ---- getopt_long ------------------------------------------------------------------------- */

#define MAXOPT 8
#define OPT_BASE 256 /* getopt_long's value for opts[i] is OPT_BASE + i */

static int looks_numeric(const char *a)
{
    return a[0] == '-' && (isdigit((unsigned char)a[1]) || a[1] == '.');
}

/* Whether element el ("--name" or "--name=...") spells the option name exactly: getopt_long
 * also accepts unique abbreviations, which nndata never did. */
static int exact(const char *el, const char *name)
{
    size_t len = strlen(name);
    return strncmp(el, "--", 2) == 0 && strncmp(el + 2, name, len) == 0 &&
           (el[2 + len] == '\0' || el[2 + len] == '=');
}

static int unknown(const char *el, const char *cmd)
{
    int shown = (int)strlen(el);
    const char *eq = strchr(el, '=');
    if (strncmp(el, "--", 2) == 0 && eq) shown = (int)(eq - el);
    return nd_fail(NT_EXIT_USAGE, NULL, "%.*s: unknown option for %s (try 'nndata --help')", shown,
                   el, cmd);
}

/* State of one parse: the argument vector getopt sees (numbers shifted past their '-'). */
struct parse {
    int n;
    char **av, **orig;
};

/* The caller's string behind getopt's pointer p (undoes the shift of "-3" to "3"). */
static const char *orig_of(const struct parse *p, const char *s)
{
    for (int i = 0; i < p->n; i++)
        if (p->av[i] != p->orig[i] && s == p->av[i]) return p->orig[i];
    return s;
}

static int add_pos(const char *cmd, const char *a, const char **pos, int maxpos, int *npos)
{
    if (*npos == maxpos) return nd_fail(NT_EXIT_USAGE, cmd, "too many arguments (try 'nndata --help')");
    pos[(*npos)++] = a;
    return -1;
}

/* One getopt_long result c for element el; returns -1 to go on or an exit code. */
static int one_opt(const struct parse *p, int c, const char *el, const char *cmd,
                   const struct nd_opt *opts, int nopts, const char *help, const char **pos,
                   int maxpos, int *npos)
{
    if (c == 1) return add_pos(cmd, orig_of(p, optarg), pos, maxpos, npos);
    if (c == 'h') {
        if (strcmp(el, "-h") != 0 && strcmp(el, "--help") != 0) return unknown(el, cmd);
        fputs(help, stdout);
        return NT_EXIT_OK;
    }
    if (c == ':') return nd_fail(NT_EXIT_USAGE, el, "missing value");
    if (c == '?') {
        int k = optopt - OPT_BASE;
        if (k >= 0 && k < nopts && opts[k].flag && exact(el, opts[k].name))
            return nd_fail(NT_EXIT_USAGE, el, "--%s takes no value", opts[k].name);
        return unknown(el, cmd);
    }
    int k = c - OPT_BASE;
    if (k < 0 || k >= nopts || !exact(el, opts[k].name)) return unknown(el, cmd);
    *opts[k].val = opts[k].flag ? "" : orig_of(p, optarg);
    return -1;
}

int nd_parse_args(int argc, char **argv, const char *cmd, const struct nd_opt *opts,
                  int numbers_are_positional, const char *help, const char **pos, int maxpos,
                  int *npos)
{
    struct option lo[MAXOPT + 2];
    int nopts = 0;
    for (; opts[nopts].name && nopts < MAXOPT; nopts++)
        lo[nopts] = (struct option){opts[nopts].name, opts[nopts].flag ? no_argument : required_argument,
                                    NULL, OPT_BASE + nopts};
    lo[nopts] = (struct option){"help", no_argument, NULL, 'h'};
    lo[nopts + 1] = (struct option){NULL, 0, NULL, 0};

    /* getopt sees argv[1..] (the command name as its argv[0]); "-3" is shown to it as "3" so
     * that it counts as a positional, and mapped back by orig_of. */
    struct parse p = {argc - 1, calloc((size_t)argc, sizeof(char *)), argv + 1};
    if (!p.av) return nd_fail(NT_EXIT_RUNTIME, cmd, "out of memory");
    for (int i = 0; i < p.n; i++)
        p.av[i] = i > 0 && numbers_are_positional && looks_numeric(argv[i + 1]) ? argv[i + 1] + 1
                                                                               : argv[i + 1];
    *npos = 0;
    opterr = 0;
    optind = 0; /* full re-initialisation (glibc) */
    int rc = -1;
    while (rc < 0) {
        int cur = optind > 0 ? optind : 1; /* the element getopt looks at next */
        int c = getopt_long(p.n, p.av, "-:h", lo, NULL);
        if (c == -1) break;
        const char *el = orig_of(&p, p.av[cur < p.n ? cur : p.n - 1]);
        rc = one_opt(&p, c, el, cmd, opts, nopts, help, pos, maxpos, npos);
    }
    /* after "--": the rest are positionals */
    for (int i = optind; rc < 0 && i < p.n; i++) rc = add_pos(cmd, orig_of(&p, p.av[i]), pos, maxpos, npos);
    free(p.av);
    return rc;
}

/* ---- values -------------------------------------------------------------------------------- */

int nd_all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

int nd_parse_count(const char *s, long long max, long long *out)
{
    if (!nd_all_digits(s)) return -1;
    errno = 0;
    char *end;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < 1 || v > max) return -1;
    *out = v;
    return 0;
}

int nd_parse_u64(const char *s, uint64_t *out)
{
    if (!nd_all_digits(s)) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int nd_parse_double(const char *s, double *out)
{
    /* strtod skips leading white space; the whole-string rule forbids it. */
    if (!*s || isspace((unsigned char)*s)) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int nd_count_classes(const int32_t *y, int64_t n)
{
    int32_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (y[i] + 1 > k) k = y[i] + 1;
    return k;
}
