/* nndata make-blobs / make-spirals / make-xor, split, info, check and standardize (see
 * tools.h). */
#include "cli.h"
#include "tools.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate.h"
#include "h5data.h"
#include "rng.h"

enum { T_OK = 0, T_RUNTIME = 1, T_USAGE = 2 };

#define T_MAX_N ((long long)1 << 40)
/* Largest label nntrain's int32 /y can hold with K = max + 1 still an int32. */
#define T_MAX_LABEL 2147483646.0
/* Bytes per row block read by info and check. */
#define T_BLOCK_BYTES ((int64_t)4 << 20)
/* Features shown by info. */
#define T_INFO_COLS 10

#define T_MAXOPT 4
#define T_MAXPOS 4

/* Parsed command line: vals[i] is the value of option names[i] or NULL. */
struct targs {
    const char *vals[T_MAXOPT];
    const char *pos[T_MAXPOS];
    int npos;
};

/* Split argv[2..] into positionals and --name VALUE / --name=VALUE for the names given
 * (NULL-terminated); names[k] with bit k of `flags` set is a flag without a value (its vals[k]
 * becomes "" when given). Returns -1 to continue, or an exit code (usage error, 0 after --help,
 * which prints `usage`). A negative number or lone "-" is a positional. */
static int parse_args(int argc, char **argv, const char *cmd, const char *const *names,
                      unsigned flags, const char *usage, struct targs *t)
{
    int only_pos = 0;
    memset(t, 0, sizeof *t);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            printf("usage: nndata %s %s\n", cmd, usage);
            return T_OK;
        }
        int is_opt = !only_pos && a[0] == '-' && a[1] != '\0' &&
                     !isdigit((unsigned char)a[1]) && a[1] != '.';
        if (!is_opt) {
            if (t->npos == T_MAXPOS)
                return nd_fail(T_USAGE, cmd, "too many arguments (try 'nndata --help')");
            t->pos[t->npos++] = a;
            continue;
        }
        const char *name = a[1] == '-' ? a + 2 : NULL;
        const char *eq = name ? strchr(name, '=') : NULL;
        size_t nlen = name ? (eq ? (size_t)(eq - name) : strlen(name)) : 0;
        int slot = -1;
        for (int k = 0; name && names[k]; k++)
            if (strlen(names[k]) == nlen && strncmp(names[k], name, nlen) == 0) slot = k;
        if (slot < 0) {
            fprintf(stderr, "nndata: error: %.*s: unknown option for %s (try 'nndata --help')\n",
                    name ? (int)(nlen + 2) : (int)strlen(a), a, cmd);
            return T_USAGE;
        }
        if (flags & (1u << slot)) {
            if (eq) return nd_fail(T_USAGE, a, "--%s takes no value", names[slot]);
            t->vals[slot] = "";
        } else if (eq) {
            t->vals[slot] = eq + 1;
        } else {
            if (i + 1 >= argc) return nd_fail(T_USAGE, a, "missing value");
            t->vals[slot] = argv[++i];
        }
    }
    return -1;
}

/* ---- generators ---------------------------------------------------------------------------- */

/* N OUT.h5 and the options every generator has (noise or std, seed). */
static int gen_common(const struct targs *t, const char *cmd, long long *n, uint64_t *seed,
                      int seed_slot)
{
    if (t->npos != 2)
        return nd_fail(T_USAGE, cmd, "expected N OUT.h5, got %d argument%s", t->npos,
                    t->npos == 1 ? "" : "s");
    if (nd_parse_count(t->pos[0], T_MAX_N, n) < 0)
        return nd_fail(T_USAGE, t->pos[0], "N must be a positive integer%s",
                    nd_all_digits(t->pos[0]) && t->pos[0][0] != '0' ? " (too large)" : "");
    const char *s = t->vals[seed_slot];
    if (s && nd_parse_u64(s, seed) < 0)
        return nd_fail(T_USAGE, s, "--seed must be an unsigned 64-bit integer");
    return -1;
}

static int parse_nonneg(const char *s, const char *opt, double *out)
{
    if (s && (nd_parse_double(s, out) < 0 || *out < 0))
        return nd_fail(T_USAGE, s, "%s must be a finite number >= 0", opt);
    return -1;
}

/* Class count option (--centers / --classes): 1 .. N. */
static int parse_classes(const char *s, const char *opt, long long n, long long *k)
{
    if (!s) return -1;
    if (nd_parse_count(s, T_MAX_LABEL, k) < 0)
        return nd_fail(T_USAGE, s, "%s must be a positive integer", opt);
    if (*k > n) return nd_fail(T_USAGE, s, "%s must be <= N (%lld)", opt, n);
    return -1;
}

/* Allocate, generate (via the callback), write OUT and print the summary line. */
struct gen_job {
    long long n, d, k;
    double a;
    uint64_t seed;
    int kind; /* 0 blobs, 1 spirals, 2 xor */
};

static int run_gen(const struct gen_job *j, const char *nstr, const char *out)
{
    float *x = NULL;
    int32_t *y = NULL;
    char err[512];
    int rc = T_RUNTIME;
    if ((unsigned long long)j->n > SIZE_MAX / sizeof *x / (unsigned long long)j->d) {
        nd_fail(T_RUNTIME, nstr, "out of memory for %lld x %lld values", j->n, j->d);
        goto done;
    }
    x = malloc((size_t)j->n * (size_t)j->d * sizeof *x);
    y = malloc((size_t)j->n * sizeof *y);
    if (!x || !y) {
        nd_fail(T_RUNTIME, nstr, "out of memory for %lld x %lld values", j->n, j->d);
        goto done;
    }
    if (j->kind == 0)
        gen_blobs(j->n, j->k, j->d, j->a, j->seed, x, y, NULL);
    else if (j->kind == 1)
        gen_spirals(j->n, j->k, j->a, j->seed, x, y);
    else
        gen_xor(j->n, j->a, j->seed, x, y);
    if (h5data_write(out, j->n, j->d, NULL, x, 0.0f, y, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        goto done;
    }
    int32_t kmax = 0;
    for (long long i = 0; i < j->n; i++)
        if (y[i] + 1 > kmax) kmax = y[i] + 1;
    printf("%s: %lld x %lld float32, %d classes\n", out, j->n, j->d, (int)kmax);
    rc = T_OK;
done:
    free(x);
    free(y);
    return rc;
}

int tools_make_blobs_main(int argc, char **argv)
{
    static const char *const names[] = {"centers", "features", "std", "seed", NULL};
    const char *cmd = "make-blobs";
    struct targs t;
    int rc = parse_args(argc, argv, cmd, names, 0,
                        "N OUT.h5 [--centers K] [--features D] [--std S] [--seed S]", &t);
    if (rc >= 0) return rc;
    struct gen_job j = {0, 2, 3, 1.0, 1, 0};
    if ((rc = gen_common(&t, cmd, &j.n, &j.seed, 3)) >= 0) return rc;
    if ((rc = parse_classes(t.vals[0], "--centers", j.n, &j.k)) >= 0) return rc;
    if (t.vals[1] && nd_parse_count(t.vals[1], T_MAX_N, &j.d) < 0)
        return nd_fail(T_USAGE, t.vals[1], "--features must be a positive integer");
    if ((rc = parse_nonneg(t.vals[2], "--std", &j.a)) >= 0) return rc;
    if (!t.vals[0] && j.k > j.n) j.k = j.n;
    return run_gen(&j, t.pos[0], t.pos[1]);
}

int tools_make_spirals_main(int argc, char **argv)
{
    static const char *const names[] = {"classes", "noise", "seed", NULL};
    const char *cmd = "make-spirals";
    struct targs t;
    int rc = parse_args(argc, argv, cmd, names, 0,
                        "N OUT.h5 [--classes K] [--noise S] [--seed S]", &t);
    if (rc >= 0) return rc;
    struct gen_job j = {0, 2, 3, 0.2, 1, 1};
    if ((rc = gen_common(&t, cmd, &j.n, &j.seed, 2)) >= 0) return rc;
    if ((rc = parse_classes(t.vals[0], "--classes", j.n, &j.k)) >= 0) return rc;
    if ((rc = parse_nonneg(t.vals[1], "--noise", &j.a)) >= 0) return rc;
    if (!t.vals[0] && j.k > j.n) j.k = j.n;
    return run_gen(&j, t.pos[0], t.pos[1]);
}

int tools_make_xor_main(int argc, char **argv)
{
    static const char *const names[] = {"noise", "seed", NULL};
    const char *cmd = "make-xor";
    struct targs t;
    int rc = parse_args(argc, argv, cmd, names, 0, "N OUT.h5 [--noise S] [--seed S]", &t);
    if (rc >= 0) return rc;
    struct gen_job j = {0, 2, 2, 0.0, 1, 2};
    if ((rc = gen_common(&t, cmd, &j.n, &j.seed, 1)) >= 0) return rc;
    if ((rc = parse_nonneg(t.vals[0], "--noise", &j.a)) >= 0) return rc;
    return run_gen(&j, t.pos[0], t.pos[1]);
}

/* ---- reading a dataset file ------------------------------------------------------------- */

/* An open input file and what its structure says. */
struct h5in {
    hid_t file, xset, yset;
    int64_t n, d;
    int x_u8;           /* else float */
    size_t x_size;      /* bytes per element */
    int has_scale;
    double scale;
    int64_t chunk_rows; /* /X chunk extent along rows; 0 if not chunked */
    int y_rank;         /* 1: labels, 2: targets */
    int y_int;          /* integer /y */
    int64_t k;          /* targets per row (rank 2) */
};

static void h5in_close(struct h5in *h)
{
    if (h->yset >= 0) H5Dclose(h->yset);
    if (h->xset >= 0) H5Dclose(h->xset);
    if (h->file >= 0) H5Fclose(h->file);
    h->file = h->xset = h->yset = H5I_INVALID_HID;
}

/* Open DATASET `name`; 0 ok, -1 missing, -2 exists but not a dataset. */
static int open_dset(hid_t file, const char *name, hid_t *out)
{
    *out = H5I_INVALID_HID;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return -1;
    H5O_info_t oi; /* HDF5 1.10 API (Debian 12) */
    if (H5Oget_info_by_name2(file, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET)
        return -2;
    *out = H5Dopen2(file, name, H5P_DEFAULT);
    return *out < 0 ? -2 : 0;
}

static const char *type_name(hid_t t, char *buf, size_t len)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t);
    if (c == H5T_INTEGER)
        snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * sz);
    else if (c == H5T_FLOAT)
        snprintf(buf, len, "float%zu", 8 * sz);
    else if (c == H5T_STRING)
        snprintf(buf, len, "string");
    else
        snprintf(buf, len, "a non-numeric type");
    return buf;
}

/* Open PATH and check the structure (not the values). Returns 0, or 1 with msg. */
static int h5in_open(const char *path, struct h5in *h, char *msg, size_t len)
{
    memset(h, 0, sizeof *h);
    h->file = h->xset = h->yset = H5I_INVALID_HID;
    if (access(path, R_OK) != 0) {
        snprintf(msg, len, "%s: cannot open: %s", path, strerror(errno));
        return 1;
    }
    if (H5Fis_hdf5(path) <= 0 ||
        (h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0) {
        snprintf(msg, len, "%s: not an HDF5 file", path);
        return 1;
    }
    char tn[64];
    int r = open_dset(h->file, "X", &h->xset);
    if (r < 0) {
        snprintf(msg, len, "%s: /X %s", path, r == -1 ? "missing" : "is not a dataset");
        goto bad;
    }
    hid_t sp = H5Dget_space(h->xset);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t dims[2] = {0, 0};
    if (rank == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    if (rank != 2) {
        snprintf(msg, len, "%s: /X is not 2-D (rank %d)", path, rank);
        goto bad;
    }
    h->n = (int64_t)dims[0];
    h->d = (int64_t)dims[1];
    hid_t xt = H5Dget_type(h->xset);
    H5T_class_t xc = H5Tget_class(xt);
    h->x_size = H5Tget_size(xt);
    h->x_u8 = xc == H5T_INTEGER && h->x_size == 1 && H5Tget_sign(xt) == H5T_SGN_NONE;
    int xok = h->x_u8 || (xc == H5T_FLOAT && (h->x_size == 4 || h->x_size == 8));
    type_name(xt, tn, sizeof tn);
    H5Tclose(xt);
    if (!xok) {
        snprintf(msg, len, "%s: /X has dtype %s, expected uint8 or float", path, tn);
        goto bad;
    }
    hid_t dcpl = H5Dget_create_plist(h->xset);
    if (dcpl >= 0) {
        hsize_t chunk[2];
        if (H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, chunk) == 2)
            h->chunk_rows = (int64_t)chunk[0];
        H5Pclose(dcpl);
    }
    if (H5Aexists(h->xset, "scale") > 0) {
        hid_t a = H5Aopen(h->xset, "scale", H5P_DEFAULT);
        hid_t as = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
        int ok = as >= 0 && H5Sget_simple_extent_npoints(as) == 1 &&
                 H5Aread(a, H5T_NATIVE_DOUBLE, &h->scale) >= 0;
        if (as >= 0) H5Sclose(as);
        if (a >= 0) H5Aclose(a);
        if (!ok) {
            snprintf(msg, len, "%s: /X attribute scale is not a readable number", path);
            goto bad;
        }
        if (!isfinite(h->scale) || h->scale <= 0) {
            snprintf(msg, len, "%s: /X attribute scale is %g, expected > 0", path, h->scale);
            goto bad;
        }
        h->has_scale = 1;
    }

    r = open_dset(h->file, "y", &h->yset);
    if (r < 0) {
        snprintf(msg, len, "%s: /y %s", path, r == -1 ? "missing" : "is not a dataset");
        goto bad;
    }
    sp = H5Dget_space(h->yset);
    h->y_rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hsize_t ydims[2] = {0, 0};
    if (h->y_rank == 1 || h->y_rank == 2) H5Sget_simple_extent_dims(sp, ydims, NULL);
    if (sp >= 0) H5Sclose(sp);
    if (h->y_rank != 1 && h->y_rank != 2) {
        snprintf(msg, len, "%s: /y has rank %d, expected 1 (labels) or 2 (targets)", path,
                 h->y_rank);
        goto bad;
    }
    hid_t yt = H5Dget_type(h->yset);
    H5T_class_t yc = H5Tget_class(yt);
    type_name(yt, tn, sizeof tn);
    H5Tclose(yt);
    if (yc != H5T_INTEGER && yc != H5T_FLOAT) {
        snprintf(msg, len, "%s: /y has dtype %s, expected integer or float", path, tn);
        goto bad;
    }
    h->y_int = yc == H5T_INTEGER;
    if ((int64_t)ydims[0] != h->n) {
        snprintf(msg, len, "%s: /y has %lld rows, /X has %lld", path, (long long)ydims[0],
                 (long long)h->n);
        goto bad;
    }
    h->k = h->y_rank == 2 ? (int64_t)ydims[1] : 0;
    if (h->n == 0) {
        snprintf(msg, len, "%s: no rows (N = 0)", path);
        goto bad;
    }
    if (h->d == 0) {
        snprintf(msg, len, "%s: /X has no columns (D = 0)", path);
        goto bad;
    }
    if (h->y_rank == 2 && h->k == 0) {
        snprintf(msg, len, "%s: /y has 0 targets per row", path);
        goto bad;
    }
    return 0;
bad:
    h5in_close(h);
    return 1;
}

/* Read rows [r0, r0+nr) and columns [0, nc) of a 1-D (ncols_total == 0) or 2-D dataset as
 * double into buf (nr * max(nc, 1) values). */
static int read_block(hid_t dset, int64_t r0, int64_t nr, int64_t nc, int two_d, double *buf)
{
    hid_t fs = H5Dget_space(dset);
    if (fs < 0) return -1;
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nr, (hsize_t)nc};
    int rank = two_d ? 2 : 1;
    hid_t ms = H5Screate_simple(rank, count, NULL);
    int rc = -1;
    if (ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(dset, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0) H5Sclose(ms);
    H5Sclose(fs);
    return rc;
}

/* Rows per block for rows of `cols` doubles. */
static int64_t block_rows(int64_t cols, int64_t n)
{
    int64_t r = T_BLOCK_BYTES / (int64_t)sizeof(double) / (cols > 0 ? cols : 1);
    if (r < 1) r = 1;
    if (r > n) r = n;
    return r;
}

static const char *nonfinite_name(double v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* Silence HDF5's automatic error printing for the duration of a call. */
struct h5quiet {
    H5E_auto2_t func;
    void *data;
    int saved;
};
static void quiet_on(struct h5quiet *q)
{
    q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
static void quiet_off(struct h5quiet *q)
{
    if (q->saved) H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

/* ---- standardization attributes (/X@mean, /X@std) -------------------------------------- */

/* One optional 1-D float attribute of /X with d values, read as float32 like nntrain reads it
 * (so a float64 value that overflows float32 is caught as inf). *out stays NULL when absent.
 * Returns 0, or 1 with msg. */
static int read_vec_attr(const char *path, hid_t xset, const char *name, int64_t d, float **out,
                         char *msg, size_t len)
{
    *out = NULL;
    if (H5Aexists(xset, name) <= 0) return 0;
    hid_t a = H5Aopen(xset, name, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t ty = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    char tn[64];
    int rc = 1;
    if (a < 0 || sp < 0 || ty < 0) {
        snprintf(msg, len, "%s: /X attribute %s is not readable", path, name);
    } else if (H5Tget_class(ty) != H5T_FLOAT) {
        snprintf(msg, len, "%s: /X attribute %s has dtype %s, expected float32", path, name,
                 type_name(ty, tn, sizeof tn));
    } else if (rank != 1) {
        snprintf(msg, len, "%s: /X attribute %s has rank %d, expected 1-D with D = %lld values",
                 path, name, rank, (long long)d);
    } else if ((int64_t)np != d) {
        snprintf(msg, len, "%s: /X attribute %s has %lld values, expected D = %lld", path, name,
                 (long long)np, (long long)d);
    } else if (!(*out = malloc((size_t)d * sizeof **out))) {
        snprintf(msg, len, "%s: out of memory", path);
    } else if (H5Aread(a, H5T_NATIVE_FLOAT, *out) < 0) {
        snprintf(msg, len, "%s: /X attribute %s is not readable", path, name);
        free(*out);
        *out = NULL;
    } else {
        rc = 0;
    }
    if (ty >= 0) H5Tclose(ty);
    if (sp >= 0) H5Sclose(sp);
    if (a >= 0) H5Aclose(a);
    return rc;
}

/* Read and validate /X@mean and /X@std: both or neither, 1-D float of D values, finite,
 * std > 0. Both outputs NULL when absent. Returns 0, or 1 with msg naming the attribute. */
static int norm_read(const char *path, const struct h5in *h, float **mean, float **std,
                     char *msg, size_t len)
{
    *mean = *std = NULL;
    if (read_vec_attr(path, h->xset, "mean", h->d, mean, msg, len) != 0 ||
        read_vec_attr(path, h->xset, "std", h->d, std, msg, len) != 0)
        goto bad;
    if (!*mean != !*std) {
        snprintf(msg, len, "%s: /X attribute %s without %s (standardization needs both; see "
                 "nndata standardize)", path, *mean ? "mean" : "std", *mean ? "std" : "mean");
        goto bad;
    }
    for (int64_t j = 0; *mean && j < h->d; j++) {
        if (!isfinite((*mean)[j])) {
            snprintf(msg, len, "%s: /X attribute mean[%lld] is %s", path, (long long)j,
                     nonfinite_name((*mean)[j]));
            goto bad;
        }
        if (!isfinite((*std)[j])) {
            snprintf(msg, len, "%s: /X attribute std[%lld] is %s", path, (long long)j,
                     nonfinite_name((*std)[j]));
            goto bad;
        }
        if (!((*std)[j] > 0)) {
            snprintf(msg, len, "%s: /X attribute std[%lld] is %g, expected > 0", path,
                     (long long)j, (double)(*std)[j]);
            goto bad;
        }
    }
    return 0;
bad:
    free(*mean);
    free(*std);
    *mean = *std = NULL;
    return 1;
}

/* Range of v[0..d). */
static void vec_range(const float *v, int64_t d, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t j = 0; j < d; j++) {
        if (v[j] < *lo) *lo = v[j];
        if (v[j] > *hi) *hi = v[j];
    }
}

/* Per-feature mean and population standard deviation (ddof 0), accumulated over row blocks:
 * each block's mean and sum of squared deviations are computed exactly in two passes over
 * the block in memory, then merged into the running totals (Chan et al.), so the file is read
 * once and a large common offset does not cancel. */
struct xstats {
    int64_t d, n;
    double *mean, *m2, *mn, *mx, *bmean, *bm2;
};

static int xstats_init(struct xstats *s, int64_t d)
{
    memset(s, 0, sizeof *s);
    s->d = d;
    double *p = calloc((size_t)d * 6, sizeof *p);
    if (!p) return -1;
    s->mean = p, s->m2 = p + d, s->mn = p + 2 * d, s->mx = p + 3 * d;
    s->bmean = p + 4 * d, s->bm2 = p + 5 * d;
    for (int64_t j = 0; j < d; j++) s->mn[j] = INFINITY, s->mx[j] = -INFINITY;
    return 0;
}

static void xstats_free(struct xstats *s)
{
    free(s->mean);
    s->mean = NULL;
}

/* Add nr rows of d finite values (row-major). */
static void xstats_add(struct xstats *s, const double *buf, int64_t nr)
{
    int64_t d = s->d;
    if (nr <= 0) return;
    for (int64_t j = 0; j < d; j++) s->bmean[j] = 0, s->bm2[j] = 0;
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < d; j++) {
            double v = buf[i * d + j];
            s->bmean[j] += v;
            if (v < s->mn[j]) s->mn[j] = v;
            if (v > s->mx[j]) s->mx[j] = v;
        }
    for (int64_t j = 0; j < d; j++) s->bmean[j] /= (double)nr;
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < d; j++) {
            double dv = buf[i * d + j] - s->bmean[j];
            s->bm2[j] += dv * dv;
        }
    double na = (double)s->n, nb = (double)nr, nt = na + nb;
    for (int64_t j = 0; j < d; j++) {
        double delta = s->bmean[j] - s->mean[j];
        s->mean[j] += delta * (nb / nt);
        s->m2[j] += s->bm2[j] + delta * delta * (na * nb / nt);
    }
    s->n += nr;
}

/* Float32 mean and std per feature; a constant feature (min == max, tested exactly so rounding
 * in the mean cannot make a tiny nonzero std) gets its value as mean and std 1. nconst
 * receives the count of those. Returns 0, or 1 with msg when a statistic does not fit in
 * float32. */
static int xstats_finish(const struct xstats *s, const char *path, float *mean, float *std,
                         int64_t *nconst, char *msg, size_t len)
{
    *nconst = 0;
    for (int64_t j = 0; j < s->d; j++) {
        double m = s->mean[j], sd = 1.0;
        if (s->mn[j] == s->mx[j]) {
            m = s->mn[j];
            ++*nconst;
        } else {
            sd = sqrt(s->m2[j] / (double)s->n);
            if (m < s->mn[j]) m = s->mn[j]; /* rounding can not leave the data's range */
            if (m > s->mx[j]) m = s->mx[j];
        }
        mean[j] = (float)m;
        std[j] = (float)sd;
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0)) {
            snprintf(msg, len, "%s: feature %lld: mean %g / std %g is not representable as "
                     "float32", path, (long long)j, m, sd);
            return 1;
        }
    }
    return 0;
}

/* ---- check ---------------------------------------------------------------------------------- */

/* Pass over /y: labels finite, integral, in [0, T_MAX_LABEL] (K := max + 1), or targets
 * finite. Returns 0 or 1 with msg. */
static int check_y(const char *path, struct h5in *h, int64_t *kout, char *msg, size_t len)
{
    int two_d = h->y_rank == 2;
    int64_t cols = two_d ? h->k : 1, br = block_rows(cols, h->n);
    double *buf = malloc((size_t)(br * cols) * sizeof *buf);
    double maxl = -1;
    int rc = 1;
    if (!buf) {
        snprintf(msg, len, "%s: out of memory", path);
        return 1;
    }
    for (int64_t r0 = 0; r0 < h->n; r0 += br) {
        int64_t nr = h->n - r0 < br ? h->n - r0 : br;
        if (read_block(h->yset, r0, nr, two_d ? cols : 0, two_d, buf) < 0) {
            snprintf(msg, len, "%s: cannot read /y rows %lld..%lld", path, (long long)r0,
                     (long long)(r0 + nr - 1));
            goto done;
        }
        for (int64_t i = 0; i < nr * cols; i++) {
            double v = buf[i];
            long long row = (long long)(r0 + i / cols), col = (long long)(i % cols);
            if (two_d) {
                if (!isfinite(v)) {
                    snprintf(msg, len, "%s: /y[%lld, %lld] is %s", path, row, col,
                             nonfinite_name(v));
                    goto done;
                }
                continue;
            }
            if (!isfinite(v)) {
                snprintf(msg, len, "%s: /y[%lld] is %s", path, row, nonfinite_name(v));
                goto done;
            }
            if (v != floor(v)) {
                snprintf(msg, len, "%s: /y[%lld] is %.17g, not an integer label", path, row, v);
                goto done;
            }
            if (v < 0) {
                snprintf(msg, len, "%s: /y[%lld] is %.0f, labels must be >= 0", path, row, v);
                goto done;
            }
            if (v > T_MAX_LABEL) {
                snprintf(msg, len, "%s: /y[%lld] is %.0f, labels must be <= %.0f", path, row,
                         v, T_MAX_LABEL);
                goto done;
            }
            if (v > maxl) maxl = v;
        }
    }
    *kout = two_d ? h->k : (int64_t)maxl + 1;
    rc = 0;
done:
    free(buf);
    return rc;
}

/* One pass over /X in row blocks read as double: every value must be finite (an error names
 * its row and column, followed by `why`); each block then goes to fn (may be NULL). Returns
 * 0, or 1 with msg. */
static int x_blocks(const char *path, const struct h5in *h, const char *why,
                    void (*fn)(void *user, double *buf, int64_t rows), void *user, char *msg,
                    size_t len)
{
    int64_t br = block_rows(h->d, h->n);
    double *buf = malloc((size_t)(br * h->d) * sizeof *buf);
    int rc = 1;
    if (!buf) {
        snprintf(msg, len, "%s: out of memory", path);
        return 1;
    }
    for (int64_t r0 = 0; r0 < h->n; r0 += br) {
        int64_t nr = h->n - r0 < br ? h->n - r0 : br;
        if (read_block(h->xset, r0, nr, h->d, 1, buf) < 0) {
            snprintf(msg, len, "%s: cannot read /X rows %lld..%lld", path, (long long)r0,
                     (long long)(r0 + nr - 1));
            goto done;
        }
        for (int64_t i = 0; i < nr * h->d; i++)
            if (!isfinite(buf[i])) {
                snprintf(msg, len, "%s: /X[%lld, %lld] is %s%s", path,
                         (long long)(r0 + i / h->d), (long long)(i % h->d),
                         nonfinite_name(buf[i]), why);
                goto done;
            }
        if (fn) fn(user, buf, nr);
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

/* Pass over a float /X: every value finite. */
static int check_x(const char *path, struct h5in *h, char *msg, size_t len)
{
    return h->x_u8 ? 0 : x_blocks(path, h, "", NULL, NULL, msg, len);
}

static const char *x_dtype(const struct h5in *h)
{
    return h->x_u8 ? "uint8" : h->x_size == 4 ? "float32" : "float64";
}

/* tools_check; with check_norm == 0 the mean / std attributes are not looked at (split
 * --standardize replaces them). */
static int check_file(const char *path, int check_norm, char *msg, size_t msglen)
{
    struct h5quiet q;
    struct h5in h;
    int64_t k = 0;
    float *mean = NULL, *std = NULL;
    quiet_on(&q);
    int rc = h5in_open(path, &h, msg, msglen);
    if (rc == 0 && check_norm) rc = norm_read(path, &h, &mean, &std, msg, msglen);
    if (rc == 0) rc = check_y(path, &h, &k, msg, msglen);
    if (rc == 0) rc = check_x(path, &h, msg, msglen);
    if (rc == 0) {
        char sc[48] = "";
        if (h.has_scale) snprintf(sc, sizeof sc, ", scale %g", h.scale);
        if (mean) snprintf(sc + strlen(sc), sizeof sc - strlen(sc), ", mean/std");
        snprintf(msg, msglen, "(%lld x %lld, %s%s, %s, %lld %s)", (long long)h.n,
                 (long long)h.d, x_dtype(&h), sc,
                 h.y_rank == 2 ? "regression" : "classification", (long long)k,
                 h.y_rank == 2 ? (k == 1 ? "target" : "targets")
                               : (k == 1 ? "class" : "classes"));
    }
    free(mean);
    free(std);
    h5in_close(&h);
    quiet_off(&q);
    return rc;
}

int tools_check(const char *path, char *msg, size_t msglen)
{
    return check_file(path, 1, msg, msglen);
}

int tools_check_main(int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct targs t;
    int rc = parse_args(argc, argv, "check", names, 0, "FILE.h5", &t);
    if (rc >= 0) return rc;
    if (t.npos != 1)
        return nd_fail(T_USAGE, "check", "expected FILE.h5, got %d arguments", t.npos); /* npos != 1 */
    char msg[1024];
    if (tools_check(t.pos[0], msg, sizeof msg) != 0) {
        fprintf(stderr, "nndata: error: %s\n", msg);
        return T_RUNTIME;
    }
    printf("%s: ok %s\n", t.pos[0], msg);
    return T_OK;
}

/* ---- info ----------------------------------------------------------------------------------- */

/* Per-column min / max / mean of columns [0, nc) of a 2-D dataset, streamed. */
static int column_stats(hid_t dset, int64_t n, int64_t nc, double *mn, double *mx, double *mean)
{
    int64_t br = block_rows(nc, n);
    double *buf = malloc((size_t)(br * nc) * sizeof *buf);
    if (!buf) return -1;
    for (int64_t j = 0; j < nc; j++) mn[j] = INFINITY, mx[j] = -INFINITY, mean[j] = 0;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (read_block(dset, r0, nr, nc, 1, buf) < 0) {
            free(buf);
            return -1;
        }
        for (int64_t i = 0; i < nr; i++)
            for (int64_t j = 0; j < nc; j++) {
                double v = buf[i * nc + j];
                if (v < mn[j]) mn[j] = v;
                if (v > mx[j]) mx[j] = v;
                mean[j] += v; /* sum; divided below */
            }
    }
    for (int64_t j = 0; j < nc; j++) mean[j] /= (double)n;
    free(buf);
    return 0;
}

/* Counts per label, streamed (labels already validated by check_y; k classes). */
static int label_counts(hid_t dset, int64_t n, int64_t *counts)
{
    int64_t br = block_rows(1, n);
    double *buf = malloc((size_t)br * sizeof *buf);
    if (!buf) return -1;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (read_block(dset, r0, nr, 0, 0, buf) < 0) {
            free(buf);
            return -1;
        }
        for (int64_t i = 0; i < nr; i++) counts[(int64_t)buf[i]]++;
    }
    free(buf);
    return 0;
}

static void print_stats(const char *title, const char *label, hid_t dset, int64_t n, int64_t cols,
                        const char *path, int *rc)
{
    int64_t nc = cols < T_INFO_COLS ? cols : T_INFO_COLS;
    double mn[T_INFO_COLS], mx[T_INFO_COLS], mean[T_INFO_COLS];
    if (column_stats(dset, n, nc, mn, mx, mean) < 0) {
        *rc = nd_fail(T_RUNTIME, path, "cannot read %s", title);
        return;
    }
    printf("%s:\n  %-8s %14s %14s %14s\n", title, label, "min", "max", "mean");
    for (int64_t j = 0; j < nc; j++)
        printf("  %-8lld %14.6g %14.6g %14.6g\n", (long long)j, mn[j], mx[j], mean[j]);
    if (cols > nc)
        printf("  (first %lld of %lld columns shown)\n", (long long)nc, (long long)cols);
}

int tools_info_main(int argc, char **argv)
{
    static const char *const names[] = {NULL};
    struct targs t;
    int rc = parse_args(argc, argv, "info", names, 0, "FILE.h5", &t);
    if (rc >= 0) return rc;
    if (t.npos != 1)
        return nd_fail(T_USAGE, "info", "expected FILE.h5, got %d arguments", t.npos);
    const char *path = t.pos[0];
    char msg[1024];
    struct h5quiet q;
    struct h5in h;
    int64_t k = 0, *counts = NULL;
    quiet_on(&q);
    float *mean = NULL, *std = NULL;
    if (h5in_open(path, &h, msg, sizeof msg) != 0 ||
        norm_read(path, &h, &mean, &std, msg, sizeof msg) != 0 ||
        (h.y_rank == 1 && check_y(path, &h, &k, msg, sizeof msg) != 0)) {
        free(mean);
        free(std);
        h5in_close(&h);
        quiet_off(&q);
        fprintf(stderr, "nndata: error: %s\n", msg);
        return T_RUNTIME;
    }
    rc = T_OK;
    printf("file: %s\nN: %lld\nD: %lld\nX dtype: %s\n", path, (long long)h.n, (long long)h.d,
           x_dtype(&h));
    if (h.has_scale)
        printf("scale: %.9g\n", h.scale);
    else
        printf("scale: none\n");
    if (mean) {
        double mlo, mhi, slo, shi;
        vec_range(mean, h.d, &mlo, &mhi);
        vec_range(std, h.d, &slo, &shi);
        printf("mean/std: %lld features, mean %.6g..%.6g, std %.6g..%.6g\n", (long long)h.d,
               mlo, mhi, slo, shi);
    } else {
        printf("mean/std: none\n");
    }
    free(mean);
    free(std);
    if (h.chunk_rows > 0)
        printf("X chunk rows: %lld\n", (long long)h.chunk_rows);
    else
        printf("X chunk rows: none (not chunked)\n");
    if (h.y_rank == 1) {
        printf("task: classification, %lld class%s\n", (long long)k, k == 1 ? "" : "es");
        counts = calloc((size_t)k, sizeof *counts);
        if (!counts || label_counts(h.yset, h.n, counts) < 0) {
            rc = nd_fail(T_RUNTIME, path, "cannot read /y");
        } else {
            for (int64_t c = 0; c < k; c++)
                printf("  class %lld: %lld\n", (long long)c, (long long)counts[c]);
        }
    } else {
        printf("task: regression, %lld target%s\n", (long long)h.k, h.k == 1 ? "" : "s");
    }
    if (rc == T_OK)
        print_stats("features (stored values, before scale)", "feature", h.xset, h.n, h.d, path,
                    &rc);
    if (rc == T_OK && h.y_rank == 2)
        print_stats("targets", "target", h.yset, h.n, h.k, path, &rc);
    free(counts);
    h5in_close(&h);
    quiet_off(&q);
    return rc;
}

/* ---- split ---------------------------------------------------------------------------------- */

static const char *const part_names[3] = {"train", "val", "test"};

/* Read a whole dataset with memory type mtype into a new buffer of n*cols*size bytes. */
static void *read_all(hid_t dset, hid_t mtype, int64_t n, int64_t cols, size_t size)
{
    size_t count = (size_t)n * (size_t)(cols > 0 ? cols : 1);
    if ((size_t)n != 0 && count / (size_t)n != (size_t)(cols > 0 ? cols : 1)) return NULL;
    if (count > SIZE_MAX / size) return NULL;
    void *buf = malloc(count * size);
    if (buf && H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* Statistics of the m rows (uint8 or float32) in x, times scale, into mean / std. */
static int part_stats(const char *path, const void *x, int x_u8, int64_t m, int64_t d,
                      double scale, float *mean, float *std, char *err, size_t errlen)
{
    struct xstats st;
    int64_t br = block_rows(d, m), nconst;
    double *buf = malloc((size_t)(br * d) * sizeof *buf);
    if (!buf || xstats_init(&st, d) < 0) {
        free(buf);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    for (int64_t r0 = 0; r0 < m; r0 += br) {
        int64_t nr = m - r0 < br ? m - r0 : br;
        for (int64_t i = 0; i < nr * d; i++)
            buf[i] = (x_u8 ? (double)((const uint8_t *)x)[r0 * d + i]
                           : (double)((const float *)x)[r0 * d + i]) * scale;
        xstats_add(&st, buf, nr);
    }
    int rc = xstats_finish(&st, path, mean, std, &nconst, err, errlen) ? -1 : 0;
    xstats_free(&st);
    free(buf);
    return rc;
}

int tools_split(const char *in, const char *prefix, const double *frac, int nparts,
                uint64_t seed, int standardize, int64_t *sizes, char *err, size_t errlen)
{
    float *mean = NULL, *std = NULL;
    struct h5quiet q;
    struct h5in h;
    int rc = -1, written = 0;
    void *x = NULL, *xp = NULL;
    int32_t *y = NULL, *yp = NULL;
    float *yf = NULL, *yfp = NULL;
    int64_t *perm = NULL;
    unsigned char *part = NULL;
    char *paths[3] = {NULL, NULL, NULL};
    int64_t size[3] = {0, 0, 0};

    if (nparts < 2 || nparts > 3) {
        snprintf(err, errlen, "%s: expected 2 or 3 fractions", prefix);
        return -1;
    }
    /* --standardize replaces the input's mean / std, so they need not be valid then. */
    if (check_file(in, !standardize, err, errlen) != 0) return -1;
    quiet_on(&q);
    if (h5in_open(in, &h, err, errlen) != 0) {
        quiet_off(&q);
        return -1;
    }
    /* Without --standardize the parts keep the input's scale, mean and std. */
    if (!standardize && norm_read(in, &h, &mean, &std, err, errlen) != 0) goto done;
    if (!h.x_u8 && h.x_size != 4) {
        snprintf(err, errlen, "%s: /X is %s; split keeps the dtype and writes only uint8 or "
                 "float32", in, x_dtype(&h));
        goto done;
    }
    int64_t n = h.n, d = h.d, sum = 0;
    for (int p = 0; p < nparts; p++) {
        size[p] = (int64_t)floor((double)n * frac[p]);
        if (size[p] > n) size[p] = n;
        sum += size[p];
    }
    size[0] += n - sum;
    for (int p = 0; p < nparts; p++) {
        size_t len = strlen(prefix) + 16;
        paths[p] = malloc(len);
        if (!paths[p]) {
            snprintf(err, errlen, "%s: out of memory", prefix);
            goto done;
        }
        snprintf(paths[p], len, "%s-%s.h5", prefix, part_names[p]);
    }
    for (int p = 0; p < nparts; p++)
        if (size[p] < 1) {
            snprintf(err, errlen, "%s: would be empty (N = %lld, fraction %g)", paths[p],
                     (long long)n, frac[p]);
            goto done;
        }

    size_t esz = h.x_u8 ? 1 : 4;
    int two_d = h.y_rank == 2;
    int64_t k = h.k;
    x = read_all(h.xset, h.x_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, n, d, esz);
    xp = x ? malloc((size_t)(n * d) * esz) : NULL;
    if (two_d) {
        yf = read_all(h.yset, H5T_NATIVE_FLOAT, n, k, sizeof *yf);
        yfp = yf ? malloc((size_t)(n * k) * sizeof *yfp) : NULL;
    } else {
        y = read_all(h.yset, H5T_NATIVE_INT32, n, 0, sizeof *y);
        yp = y ? malloc((size_t)n * sizeof *yp) : NULL;
    }
    perm = malloc((size_t)n * sizeof *perm);
    part = malloc((size_t)n);
    if (!xp || !(two_d ? yfp != NULL : yp != NULL) || !perm || !part) {
        snprintf(err, errlen, "%s: cannot read into memory (%lld x %lld)", in, (long long)n,
                 (long long)d);
        goto done;
    }

    /* Seeded Fisher-Yates permutation; its first size[0] entries are part 0, and so on. */
    uint64_t key = nn_key(seed, NN_STREAM_SPLIT, 0x6e6e64617461ULL /* "nndata" */, 1);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nn_below(key, (uint64_t)i, (uint64_t)i + 1);
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    for (int p = 0, pos = 0; p < nparts; p++)
        for (int64_t i = 0; i < size[p]; i++) part[perm[pos++]] = (unsigned char)p;

    for (int p = 0; p < nparts; p++) {
        int64_t m = 0;
        for (int64_t i = 0; i < n; i++) {
            if (part[i] != p) continue;
            memcpy((char *)xp + (size_t)(m * d) * esz, (char *)x + (size_t)(i * d) * esz,
                   (size_t)d * esz);
            if (two_d)
                memcpy(yfp + m * k, yf + i * k, (size_t)k * sizeof *yfp);
            else
                yp[m] = y[i];
            m++;
        }
        float scale = h.has_scale ? (float)h.scale : 0.0f;
        /* Statistics of the train part only (part 0, written first): val / test rows must
         * not leak into them. */
        if (p == 0 && standardize) {
            mean = malloc((size_t)d * sizeof *mean);
            std = malloc((size_t)d * sizeof *std);
            if (!mean || !std) {
                snprintf(err, errlen, "%s: out of memory", paths[0]);
                goto done;
            }
            if (part_stats(paths[0], xp, h.x_u8, m, d, h.has_scale ? h.scale : 1.0, mean, std,
                           err, errlen) < 0)
                goto done;
        }
        const uint8_t *xu = h.x_u8 ? xp : NULL;
        const float *xf = h.x_u8 ? NULL : xp;
        if (h5data_write_std(paths[p], m, d, xu, xf, scale, mean, std, yp, yfp,
                             two_d ? k : 0, err, errlen) < 0)
            goto done;
        written = p + 1;
    }
    if (sizes)
        for (int p = 0; p < nparts; p++) sizes[p] = size[p];
    rc = 0;
done:
    /* All or nothing: a failed split removes the parts it wrote. */
    if (rc < 0)
        for (int p = 0; p < written; p++) unlink(paths[p]);
    h5in_close(&h);
    quiet_off(&q);
    for (int p = 0; p < 3; p++) free(paths[p]);
    free(x), free(xp), free(y), free(yp), free(yf), free(yfp), free(perm), free(part);
    free(mean), free(std);
    return rc;
}

int tools_split_main(int argc, char **argv)
{
    static const char *const names[] = {"fractions", "seed", "standardize", NULL};
    struct targs t;
    int rc = parse_args(argc, argv, "split", names, 1u << 2,
                        "IN.h5 PREFIX --fractions F1,F2[,F3] [--seed S] [--standardize]", &t);
    if (rc >= 0) return rc;
    if (t.npos != 2)
        return nd_fail(T_USAGE, "split", "expected IN.h5 PREFIX, got %d argument%s", t.npos,
                    t.npos == 1 ? "" : "s");
    if (!t.vals[0]) return nd_fail(T_USAGE, "split", "--fractions is required");
    uint64_t seed = 1;
    if (t.vals[1] && nd_parse_u64(t.vals[1], &seed) < 0)
        return nd_fail(T_USAGE, t.vals[1], "--seed must be an unsigned 64-bit integer");

    double frac[3], sum = 0;
    int nf = 0;
    const char *s = t.vals[0];
    for (;;) {
        size_t w = strcspn(s, ",");
        char tok[64];
        if (nf == 3 || w == 0 || w >= sizeof tok)
            return nd_fail(T_USAGE, t.vals[0], "--fractions must be 2 or 3 numbers in (0, 1]");
        memcpy(tok, s, w);
        tok[w] = '\0';
        if (nd_parse_double(tok, &frac[nf]) < 0 || frac[nf] <= 0 || frac[nf] > 1)
            return nd_fail(T_USAGE, t.vals[0], "--fractions must be 2 or 3 numbers in (0, 1]");
        sum += frac[nf++];
        if (!s[w]) break;
        s += w + 1;
    }
    if (nf < 2) return nd_fail(T_USAGE, t.vals[0], "--fractions must be 2 or 3 numbers in (0, 1]");
    if (fabs(sum - 1.0) > 1e-9)
        return nd_fail(T_USAGE, t.vals[0], "--fractions must sum to 1 (sum is %.17g)", sum);

    char err[1024];
    int64_t sizes[3];
    if (tools_split(t.pos[0], t.pos[1], frac, nf, seed, t.vals[2] != NULL, sizes, err,
                    sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        return T_RUNTIME;
    }
    for (int p = 0; p < nf; p++)
        printf("%s-%s.h5: %lld rows%s\n", t.pos[1], part_names[p], (long long)sizes[p],
               t.vals[2] ? ", mean/std of the train rows" : "");
    return T_OK;
}

/* ---- standardize ---------------------------------------------------------------------------- */

/* Statistics of the scaled values, block by block. */
struct scaled_stats { struct xstats st; double scale; };

static void add_scaled(void *user, double *buf, int64_t rows)
{
    struct scaled_stats *ss = user;
    for (int64_t i = 0; i < rows * ss->st.d; i++) buf[i] *= ss->scale;
    xstats_add(&ss->st, buf, rows);
}

/* One pass over /X in row blocks: statistics of the scaled values. A non-finite value is an
 * error naming its row and column. Returns 0, or 1 with msg. */
static int file_stats(const char *path, const struct h5in *h, float *mean, float *std,
                      int64_t *nconst, char *msg, size_t len)
{
    struct scaled_stats ss = {.scale = h->has_scale ? h->scale : 1.0};
    if (xstats_init(&ss.st, h->d) < 0) {
        snprintf(msg, len, "%s: out of memory", path);
        return 1;
    }
    int rc = x_blocks(path, h, "; standardize needs finite values", add_scaled, &ss, msg, len);
    if (!rc) rc = xstats_finish(&ss.st, path, mean, std, nconst, msg, len);
    xstats_free(&ss.st);
    return rc;
}

/* H5Ewalk2 callback: the innermost (most specific) error description. */
static herr_t innermost_desc(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) snprintf(data, 160, "%s", e->desc);
    return 0;
}

/* msg := "PATH: WHAT (HDF5's most specific reason)". */
static void h5_msg(char *msg, size_t len, const char *path, const char *what)
{
    char detail[160] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_desc, detail);
    if (detail[0])
        snprintf(msg, len, "%s: %s (%s)", path, what, detail);
    else
        snprintf(msg, len, "%s: %s", path, what);
}

static int put_vec_attr(hid_t obj, const char *name, const float *v, int64_t d)
{
    hsize_t dims[1] = {(hsize_t)d};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = sp >= 0 ? H5Acreate2(obj, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT)
                      : H5I_INVALID_HID;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, v) >= 0 ? 0 : -1;
    if (a >= 0 && H5Aclose(a) < 0) rc = -1;
    if (sp >= 0) H5Sclose(sp);
    return rc;
}

static int drop_attr(hid_t obj, const char *name)
{
    htri_t e = H5Aexists(obj, name);
    return e < 0 ? -1 : e == 0 ? 0 : H5Adelete(obj, name) < 0 ? -1 : 0;
}

#define T_TMP_MEAN "nndata-new-mean"
#define T_TMP_STD "nndata-new-std"

/* Replace /X@mean and /X@std of PATH in place (mean == NULL: remove them). Called only after
 * all validation and computation: this is the one place that opens the file for writing. The
 * new values are first written under temporary names, so a failure to write them (e.g. a full
 * disk) leaves the old attributes as they were; only then are the old ones deleted and the new
 * ones renamed. The shape of /X is checked again in case the file changed meanwhile. */
static int write_norm(const char *path, int64_t n, int64_t d, const float *mean,
                      const float *std, char *msg, size_t len)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t x = H5I_INVALID_HID;
    int rc = 1;
    if (file < 0) {
        h5_msg(msg, len, path, "cannot open for writing");
        return 1;
    }
    x = H5Dopen2(file, "X", H5P_DEFAULT);
    hid_t sp = x >= 0 ? H5Dget_space(x) : H5I_INVALID_HID;
    hsize_t dims[2] = {0, 0};
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (rank == 2) H5Sget_simple_extent_dims(sp, dims, NULL);
    if (sp >= 0) H5Sclose(sp);
    if (rank != 2 || (int64_t)dims[0] != n || (int64_t)dims[1] != d) {
        snprintf(msg, len, "%s: /X changed while standardize ran; nothing written", path);
        goto done;
    }
    if (mean) {
        if (drop_attr(x, T_TMP_MEAN) < 0 || drop_attr(x, T_TMP_STD) < 0 ||
            put_vec_attr(x, T_TMP_MEAN, mean, d) < 0 || put_vec_attr(x, T_TMP_STD, std, d) < 0) {
            h5_msg(msg, len, path, "cannot write /X attributes mean and std");
            if (d > 16000) /* a version 1 object header holds messages of at most 64 KiB */
                snprintf(msg, len, "%s: cannot write /X attributes mean and std: %lld values "
                         "are more than this file's object header holds (64 KiB); nndata split "
                         "--standardize writes files that can hold them", path, (long long)d);
            drop_attr(x, T_TMP_MEAN);
            drop_attr(x, T_TMP_STD);
            goto done;
        }
    }
    if (drop_attr(x, "mean") < 0 || drop_attr(x, "std") < 0) {
        h5_msg(msg, len, path, "cannot delete the old /X attributes mean and std");
        goto done;
    }
    if (mean && (H5Arename(x, T_TMP_MEAN, "mean") < 0 || H5Arename(x, T_TMP_STD, "std") < 0)) {
        h5_msg(msg, len, path, "cannot rename the new /X attributes mean and std");
        goto done;
    }
    rc = 0;
done:
    if (x >= 0 && H5Dclose(x) < 0 && rc == 0) {
        h5_msg(msg, len, path, "cannot write /X");
        rc = 1;
    }
    /* H5Fclose writes the changed metadata; then force it to disk. */
    if (H5Fclose(file) < 0 && rc == 0) {
        h5_msg(msg, len, path, "cannot finish writing");
        rc = 1;
    }
    if (rc == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fsync(fd) < 0) {
            snprintf(msg, len, "%s: cannot sync: %s", path, strerror(errno));
            rc = 1;
        }
        if (fd >= 0) close(fd);
    }
    return rc;
}

int tools_standardize_main(int argc, char **argv)
{
    static const char *const names[] = {"stats-from", "remove", NULL};
    struct targs t;
    int rc = parse_args(argc, argv, "standardize", names, 1u << 1,
                        "FILE.h5 [--stats-from TRAIN.h5] [--remove]", &t);
    if (rc >= 0) return rc;
    if (t.npos != 1)
        return nd_fail(T_USAGE, "standardize", "expected FILE.h5, got %d arguments", t.npos);
    const char *path = t.pos[0], *from = t.vals[0];
    int remove = t.vals[1] != NULL;
    if (from && remove)
        return nd_fail(T_USAGE, "standardize", "--stats-from and --remove exclude each other");

    char msg[1024];
    struct h5quiet q;
    struct h5in h, ht;
    float *mean = NULL, *std = NULL;
    int64_t nconst = 0;
    int had = 0;
    rc = T_RUNTIME;
    ht.file = ht.xset = ht.yset = H5I_INVALID_HID;
    quiet_on(&q);
    if (h5in_open(path, &h, msg, sizeof msg) != 0) goto fail;
    /* Fail early, before a long pass over /X, if the file cannot be modified. */
    if (access(path, W_OK) != 0) {
        snprintf(msg, sizeof msg, "%s: not writable: %s", path, strerror(errno));
        goto fail;
    }
    if (remove) {
        had = H5Aexists(h.xset, "mean") > 0 || H5Aexists(h.xset, "std") > 0;
    } else if (from) {
        if (h5in_open(from, &ht, msg, sizeof msg) != 0 ||
            norm_read(from, &ht, &mean, &std, msg, sizeof msg) != 0)
            goto fail;
        if (!mean) {
            snprintf(msg, sizeof msg, "%s: /X has no attributes mean and std (run nndata "
                     "standardize on it first)", from);
            goto fail;
        }
        if (ht.d != h.d) {
            snprintf(msg, sizeof msg, "%s: D = %lld features, but %s has D = %lld", from,
                     (long long)ht.d, path, (long long)h.d);
            goto fail;
        }
    } else {
        mean = malloc((size_t)h.d * sizeof *mean);
        std = malloc((size_t)h.d * sizeof *std);
        if (!mean || !std) {
            snprintf(msg, sizeof msg, "%s: out of memory", path);
            goto fail;
        }
        if (file_stats(path, &h, mean, std, &nconst, msg, sizeof msg) != 0) goto fail;
    }
    int64_t n = h.n, d = h.d;
    h5in_close(&h);
    h5in_close(&ht);
    if (remove && !had) {
        printf("%s: no mean/std attributes; nothing removed\n", path);
    } else {
        if (write_norm(path, n, d, remove ? NULL : mean, std, msg, sizeof msg) != 0) goto fail;
        double lo = 0, hi = 0;
        if (!remove) vec_range(std, d, &lo, &hi);
        if (remove)
            printf("%s: removed /X attributes mean and std (%lld features)\n", path,
                   (long long)d);
        else if (from)
            printf("%s: mean/std of %lld features copied from %s (std %.6g..%.6g)\n", path,
                   (long long)d, from, lo, hi);
        else
            printf("%s: mean/std of %lld features over %lld rows (std %.6g..%.6g, %lld constant "
                   "feature%s with std 1)\n", path, (long long)d, (long long)n, lo, hi,
                   (long long)nconst, nconst == 1 ? "" : "s");
    }
    rc = T_OK;
fail:
    if (rc != T_OK) fprintf(stderr, "nndata: error: %s\n", msg);
    h5in_close(&h);
    h5in_close(&ht);
    quiet_off(&q);
    free(mean);
    free(std);
    return rc;
}
