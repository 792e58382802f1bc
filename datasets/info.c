/* nndata info: shape, dtype, scale, mean/std, task, class counts and per-feature
 * min / max / mean of a dataset file, streamed in blocks of rows. */
#include "commands.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "usage.h"
#include "h5in.h"
#include "xstats.h"

/* Features shown by info. */
#define INFO_COLS 10

/* Per-column min / max / mean of columns [0, nc) of a 2-D dataset, streamed. Returns 0,
 * NT_EXIT_INPUT (a read failed) or NT_EXIT_RUNTIME (out of memory). */
static int column_stats(hid_t dset, int64_t n, int64_t nc, double *mn, double *mx, double *mean)
{
    int64_t br = h5in_block_rows(nc, n);
    double *buf = malloc((size_t)(br * nc) * sizeof *buf);
    if (!buf) return NT_EXIT_RUNTIME;
    for (int64_t j = 0; j < nc; j++) mn[j] = INFINITY, mx[j] = -INFINITY, mean[j] = 0;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (h5in_read_block(dset, r0, nr, nc, 1, buf) < 0) {
            free(buf);
            return NT_EXIT_INPUT;
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

/* Counts per label, streamed (labels already validated by h5in_check_y; k classes). Returns as
 * column_stats. */
static int label_counts(hid_t dset, int64_t n, int64_t *counts)
{
    int64_t br = h5in_block_rows(1, n);
    double *buf = malloc((size_t)br * sizeof *buf);
    if (!buf) return NT_EXIT_RUNTIME;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (h5in_read_block(dset, r0, nr, 0, 0, buf) < 0) {
            free(buf);
            return NT_EXIT_INPUT;
        }
        for (int64_t i = 0; i < nr; i++) counts[(int64_t)buf[i]]++;
    }
    free(buf);
    return 0;
}

static void print_stats(const char *title, const char *label, hid_t dset, int64_t n, int64_t cols,
                        const char *path, int *rc)
{
    int64_t nc = cols < INFO_COLS ? cols : INFO_COLS;
    double mn[INFO_COLS], mx[INFO_COLS], mean[INFO_COLS];
    int st = column_stats(dset, n, nc, mn, mx, mean);
    if (st) {
        *rc = nd_fail(st, path, "cannot read %s", title);
        return;
    }
    printf("%s:\n  %-8s %14s %14s %14s\n", title, label, "min", "max", "mean");
    for (int64_t j = 0; j < nc; j++)
        printf("  %-8lld %14.6g %14.6g %14.6g\n", (long long)j, mn[j], mx[j], mean[j]);
    if (cols > nc)
        printf("  (first %lld of %lld columns shown)\n", (long long)nc, (long long)cols);
}

/* The header lines: file, shape, dtype, scale, mean/std, chunking. */
static void print_header(const char *path, const struct h5in *h)
{
    char dt[16];
    const layout_info *L = &h->L;
    printf("file: %s\nN: %lld\nD: %lld\nX dtype: %s\n", path, (long long)L->n, (long long)L->d,
           h5in_x_dtype(h, dt, sizeof dt));
    if (L->has_scale)
        printf("scale: %.9g\n", L->scale);
    else
        printf("scale: none\n");
    if (L->mean) {
        double mlo, mhi, slo, shi;
        xstats_range(L->mean, L->d, &mlo, &mhi);
        xstats_range(L->std, L->d, &slo, &shi);
        printf("mean/std: %lld features, mean %.6g..%.6g, std %.6g..%.6g\n", (long long)L->d,
               mlo, mhi, slo, shi);
    } else {
        printf("mean/std: none\n");
    }
    if (L->chunk_rows > 0)
        printf("X chunk rows: %lld\n", (long long)L->chunk_rows);
    else
        printf("X chunk rows: none (not chunked)\n");
}

int cmd_info(int argc, char **argv)
{
    const char *pos[ND_MAXPOS];
    nn_cli cli = {.tool = "nndata", .cmd = "info", .pos = pos,
                  .maxpos = 1, .numbers_are_positional = 1,
                  .usage = "usage: nndata info FILE.h5\n"};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 1)
        return nd_fail(NT_EXIT_USAGE, "info", "expected FILE.h5, got %d arguments", npos);
    const char *path = pos[0];
    struct h5quiet q;
    struct h5in h;
    int64_t k = 0, *counts = NULL;
    h5in_quiet_on(&q);
    if ((rc = h5in_open(path, 0, &h, &e)) != 0 ||
        (!h.L.targets && (rc = h5in_check_y(path, &h, &k, &e)) != 0)) {
        h5in_close(&h);
        h5in_quiet_off(&q);
        return nd_report(rc, &e);
    }
    rc = NT_EXIT_OK;
    print_header(path, &h);
    if (!h.L.targets) {
        printf("task: classification, %lld class%s\n", (long long)k, k == 1 ? "" : "es");
        counts = calloc((size_t)k, sizeof *counts);
        int st = counts ? label_counts(h.L.y, h.L.n, counts) : NT_EXIT_RUNTIME;
        if (st) {
            rc = nd_fail(st, path, "cannot read /y");
        } else {
            for (int64_t c = 0; c < k; c++)
                printf("  class %lld: %lld\n", (long long)c, (long long)counts[c]);
        }
    } else {
        printf("task: regression, %lld target%s\n", (long long)h.L.k, h.L.k == 1 ? "" : "s");
    }
    if (rc == NT_EXIT_OK)
        print_stats("features (stored values, before scale)", "feature", h.L.x, h.L.n, h.L.d,
                    path, &rc);
    if (rc == NT_EXIT_OK && h.L.targets) print_stats("targets", "target", h.L.y, h.L.n, h.L.k, path, &rc);
    free(counts);
    h5in_close(&h);
    h5in_quiet_off(&q);
    return rc;
}
