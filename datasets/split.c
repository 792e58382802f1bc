/* nndata split: a seeded random split of a dataset file into train / val [/ test] files that
 * keep the input's dtype, scale and mean / std (or, with --standardize, get the train part's
 * statistics). The input is checked (nd_check) and read whole into memory. */
#include "commands.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "usage.h"
#include "h5data.h"
#include "h5in.h"
#include "rng.h"
#include "xstats.h"

static const char *const part_names[3] = {"train", "val", "test"};

/* Rows of a dataset in memory: x (n, d) uint8 or float32, and labels y or targets yf (n, k). */
struct rows {
    void *x;
    int32_t *y;
    float *yf;
};

static void rows_free(struct rows *r)
{
    free(r->x), free(r->y), free(r->yf);
    r->x = r->y = NULL, r->yf = NULL;
}

/* Read a whole dataset with memory type mtype into a new buffer of n*cols*size bytes. On
 * failure NULL, with *st := NT_EXIT_RUNTIME (it does not fit in memory) or NT_EXIT_INPUT (the
 * read failed). */
static void *read_all(hid_t dset, hid_t mtype, int64_t n, int64_t cols, size_t size, int *st)
{
    size_t count = (size_t)n * (size_t)(cols > 0 ? cols : 1);
    *st = NT_EXIT_RUNTIME;
    if ((size_t)n != 0 && count / (size_t)n != (size_t)(cols > 0 ? cols : 1)) return NULL;
    if (count > SIZE_MAX / size) return NULL;
    void *buf = malloc(count * size);
    if (!buf) return NULL;
    if (H5Dread(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        free(buf);
        *st = NT_EXIT_INPUT;
        return NULL;
    }
    *st = 0;
    return buf;
}

/* Read the input's rows (all) and allocate as much again for one part (part). Returns 0,
 * NT_EXIT_INPUT (a read failed) or NT_EXIT_RUNTIME (out of memory). */
static int read_input(const char *in, const layout_info *L, struct rows *all, struct rows *part,
                      nt_err *e)
{
    int64_t n = L->n, d = L->d, k = L->k;
    size_t esz = L->x_u8 ? 1 : 4;
    int st; /* 0, or the kind of the first failure */
    all->x = read_all(L->x, L->x_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, n, d, esz, &st);
    if (!st && !(part->x = malloc((size_t)(n * d) * esz))) st = NT_EXIT_RUNTIME;
    if (!st && L->targets) {
        all->yf = read_all(L->y, H5T_NATIVE_FLOAT, n, k, sizeof *all->yf, &st);
        if (!st && !(part->yf = malloc((size_t)(n * k) * sizeof *part->yf))) st = NT_EXIT_RUNTIME;
    } else if (!st) {
        all->y = read_all(L->y, H5T_NATIVE_INT32, n, 0, sizeof *all->y, &st);
        if (!st && !(part->y = malloc((size_t)n * sizeof *part->y))) st = NT_EXIT_RUNTIME;
    }
    if (st)
        return nt_fail(e, "%s: cannot read into memory (%lld x %lld)", in, (long long)n,
                       (long long)d), st;
    return 0;
}

/* part[i] := the part of row i: a seeded Fisher-Yates permutation whose first size[0] entries
 * are part 0, and so on. */
static int assign_parts(int64_t n, const int64_t *size, int nparts, uint64_t seed,
                        unsigned char *part)
{
    int64_t *perm = malloc((size_t)n * sizeof *perm);
    if (!perm) return -1;
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
    free(perm);
    return 0;
}

/* Copy the rows of part p, in input order, from all to out; returns their count. */
static int64_t gather_part(const layout_info *L, const struct rows *all, const unsigned char *part,
                           int p, struct rows *out)
{
    int64_t m = 0, d = L->d, k = L->k;
    size_t esz = L->x_u8 ? 1 : 4;
    for (int64_t i = 0; i < L->n; i++) {
        if (part[i] != p) continue;
        memcpy((char *)out->x + (size_t)(m * d) * esz, (char *)all->x + (size_t)(i * d) * esz,
               (size_t)d * esz);
        if (L->targets)
            memcpy(out->yf + m * k, all->yf + i * k, (size_t)k * sizeof *out->yf);
        else
            out->y[m] = all->y[i];
        m++;
    }
    return m;
}

/* Statistics of the m rows (uint8 or float32) in x, times scale, into mean / std. */
static int part_stats(const char *path, const void *x, int x_u8, int64_t m, int64_t d,
                      double scale, float *mean, float *std, nt_err *e)
{
    struct xstats st;
    int64_t br = h5in_block_rows(d, m), nconst;
    double *buf = malloc((size_t)(br * d) * sizeof *buf);
    if (!buf || xstats_init(&st, d) < 0) {
        free(buf);
        return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    }
    for (int64_t r0 = 0; r0 < m; r0 += br) {
        int64_t nr = m - r0 < br ? m - r0 : br;
        for (int64_t i = 0; i < nr * d; i++)
            buf[i] = (x_u8 ? (double)((const uint8_t *)x)[r0 * d + i]
                           : (double)((const float *)x)[r0 * d + i]) * scale;
        xstats_add(&st, buf, nr);
    }
    int rc = xstats_finish(&st, path, mean, std, &nconst, e);
    xstats_free(&st);
    free(buf);
    return rc;
}

/* Part sizes floor(n * frac[p]), the remainder to part 0, and the part file names. */
static int plan_parts(int64_t n, const double *frac, int nparts, const char *prefix,
                      int64_t *size, char **paths, nt_err *e)
{
    int64_t sum = 0;
    for (int p = 0; p < nparts; p++) {
        size[p] = (int64_t)floor((double)n * frac[p]);
        if (size[p] > n) size[p] = n;
        sum += size[p];
    }
    size[0] += n - sum;
    for (int p = 0; p < nparts; p++) {
        size_t len = strlen(prefix) + 16;
        if (!(paths[p] = malloc(len)))
            return nt_fail(e, "%s: out of memory", prefix), NT_EXIT_RUNTIME;
        snprintf(paths[p], len, "%s-%s.h5", prefix, part_names[p]);
    }
    for (int p = 0; p < nparts; p++)
        if (size[p] < 1)
            return nt_fail(e, "%s: would be empty (N = %lld, fraction %g)", paths[p],
                           (long long)n, frac[p]), NT_EXIT_INPUT;
    return 0;
}

/* Gather and write every part; *written counts the files written. Returns 0 or an NT_EXIT_*
 * code. */
static int write_parts(const layout_info *L, const struct rows *all, struct rows *buf,
                       const unsigned char *part, int nparts, char **paths, int standardize,
                       int *written, nt_err *e)
{
    float *mean = L->mean, *std = L->std, *own = NULL;
    int rc = 0;
    for (int p = 0; p < nparts; p++) {
        int64_t m = gather_part(L, all, part, p, buf);
        /* Statistics of the train part only (part 0, written first): val / test rows must
         * not leak into them. */
        if (p == 0 && standardize) {
            own = malloc(2 * (size_t)L->d * sizeof *own);
            if (!own) {
                nt_fail(e, "%s: out of memory", paths[0]);
                rc = NT_EXIT_RUNTIME;
                goto done;
            }
            mean = own, std = own + L->d;
            if ((rc = part_stats(paths[0], buf->x, L->x_u8, m, L->d, L->scale, mean, std, e)))
                goto done;
        }
        if ((rc = h5data_write_std(paths[p], m, L->d, L->x_u8 ? buf->x : NULL,
                                   L->x_u8 ? NULL : buf->x, L->has_scale ? (float)L->scale : 0.0f,
                                   mean, std, buf->y, buf->yf, L->targets ? L->k : 0, e)))
            goto done;
        *written = p + 1;
    }
    rc = 0;
done:
    free(own);
    return rc;
}

int nd_split(const char *in, const char *prefix, const double *frac, int nparts, uint64_t seed,
             int standardize, int64_t *sizes, nt_err *e)
{
    struct h5quiet q;
    struct h5in h;
    struct rows all = {0}, buf = {0};
    unsigned char *part = NULL;
    char *paths[3] = {NULL, NULL, NULL}, summary[256], dt[16];
    int64_t size[3] = {0, 0, 0};
    int rc, written = 0;

    if (nparts < 2 || nparts > 3)
        return nt_fail(e, "%s: expected 2 or 3 fractions", prefix), NT_EXIT_INPUT;
    /* --standardize replaces the input's mean / std, so they need not be valid then. */
    if ((rc = nd_check(in, !standardize, summary, sizeof summary, e)) != 0) return rc;
    h5in_quiet_on(&q);
    if ((rc = h5in_open(in, standardize ? LAYOUT_SKIP_NORM : 0, &h, e)) != 0) goto done;
    rc = NT_EXIT_INPUT;
    if (!h.L.x_u8 && h.L.x_bytes != 4) {
        nt_fail(e, "%s: /X is %s; split keeps the dtype and writes only uint8 or float32", in,
                h5in_x_dtype(&h, dt, sizeof dt));
        goto done;
    }
    if ((rc = plan_parts(h.L.n, frac, nparts, prefix, size, paths, e)) ||
        (rc = read_input(in, &h.L, &all, &buf, e)))
        goto done;
    if (!(part = malloc((size_t)h.L.n)) || assign_parts(h.L.n, size, nparts, seed, part) < 0) {
        nt_fail(e, "%s: cannot read into memory (%lld x %lld)", in, (long long)h.L.n,
                (long long)h.L.d);
        rc = NT_EXIT_RUNTIME;
        goto done;
    }
    if ((rc = write_parts(&h.L, &all, &buf, part, nparts, paths, standardize, &written, e)))
        goto done;
    if (sizes)
        for (int p = 0; p < nparts; p++) sizes[p] = size[p];
    rc = 0;
done:
    /* All or nothing: a failed split removes the parts it wrote. */
    if (rc)
        for (int p = 0; p < written; p++) unlink(paths[p]);
    h5in_close(&h);
    h5in_quiet_off(&q);
    for (int p = 0; p < 3; p++) free(paths[p]);
    rows_free(&all);
    rows_free(&buf);
    free(part);
    return rc;
}

/* --fractions F1,F2[,F3]: 2 or 3 numbers in (0, 1] summing to 1. Returns the count, or -1
 * after printing the usage error. */
static int parse_fractions(const char *arg, double *frac)
{
    double sum = 0;
    int nf = 0;
    for (const char *s = arg;;) {
        size_t w = strcspn(s, ",");
        char tok[64];
        if (nf == 3 || w == 0 || w >= sizeof tok) goto bad;
        memcpy(tok, s, w);
        tok[w] = '\0';
        if (nn_parse_double(tok, &frac[nf]) < 0 || frac[nf] <= 0 || frac[nf] > 1) goto bad;
        sum += frac[nf++];
        if (!s[w]) break;
        s += w + 1;
    }
    if (nf < 2) goto bad;
    if (fabs(sum - 1.0) > 1e-9) {
        nd_fail(NT_EXIT_USAGE, arg, "--fractions must sum to 1 (sum is %.17g)", sum);
        return -1;
    }
    return nf;
bad:
    nd_fail(NT_EXIT_USAGE, arg, "--fractions must be 2 or 3 numbers in (0, 1]");
    return -1;
}

int cmd_split(int argc, char **argv)
{
    const char *fractions = NULL, *seed_s = NULL, *standardize = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"fractions", 0, &fractions}, {"seed", 0, &seed_s},
                               {"standardize", 1, &standardize}, {NULL, 0, NULL}};
    nn_cli cli = {.tool = "nndata", .cmd = "split", .vals = opts, .pos = pos,
                  .maxpos = 2, .numbers_are_positional = 1,
                  .usage = "usage: nndata split IN.h5 PREFIX --fractions F1,F2[,F3] [--seed S] "
                           "[--standardize]\n"};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 2)
        return nd_fail(NT_EXIT_USAGE, "split", "expected IN.h5 PREFIX, got %d argument%s", npos,
                       npos == 1 ? "" : "s");
    if (!fractions) return nd_fail(NT_EXIT_USAGE, "split", "--fractions is required");
    uint64_t seed = 1;
    if (seed_s && nn_parse_u64(seed_s, &seed) < 0)
        return nd_fail(NT_EXIT_USAGE, seed_s, "--seed must be an unsigned 64-bit integer");
    double frac[3];
    int nf = parse_fractions(fractions, frac);
    if (nf < 0) return NT_EXIT_USAGE;

    int64_t sizes[3];
    if ((rc = nd_split(pos[0], pos[1], frac, nf, seed, standardize != NULL, sizes, &e)) != 0)
        return nd_report(rc, &e);
    for (int p = 0; p < nf; p++)
        printf("%s-%s.h5: %lld rows%s\n", pos[1], part_names[p], (long long)sizes[p],
               standardize ? ", mean/std of the train rows" : "");
    return NT_EXIT_OK;
}
