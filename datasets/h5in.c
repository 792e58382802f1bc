/* Serial reading of a dataset file for nndata's file commands (see h5in.h). */
#include "h5in.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Largest label nntrain's int32 /y can hold with K = max + 1 still an int32. */
#define MAX_LABEL 2147483646.0
/* Bytes per block of rows read as double. */
#define BLOCK_BYTES ((int64_t)4 << 20)

/* Switching HDF5's own printing off and on again only affects what HDF5 prints besides our
 * messages, never a result: a failure leaves it printing (or quiet), and is ignored. */
void h5in_quiet_on(struct h5quiet *q)
{
    q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

void h5in_quiet_off(struct h5quiet *q)
{
    if (q->saved) (void)H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

void h5in_init(struct h5in *h)
{
    memset(h, 0, sizeof *h);
    h->file = h->L.x = h->L.y = H5I_INVALID_HID;
}

/* The file is open read-only and every read has completed (its result checked) or been
 * abandoned on an error path, so closing cannot lose data and a failure changes nothing the
 * caller could act on (standardize's later read-write open would report a handle left open). */
void h5in_close(struct h5in *h)
{
    layout_free(&h->L);
    if (h->file >= 0) (void)H5Fclose(h->file);
    h->file = H5I_INVALID_HID;
}

int h5in_open(const char *path, unsigned flags, struct h5in *h, nt_err *e)
{
    h5in_init(h);
    if (access(path, R_OK) != 0)
        return nt_fail(e, "%s: cannot open: %s", path, strerror(errno)), NT_EXIT_INPUT;
    if (H5Fis_hdf5(path) <= 0 || (h->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return nt_fail(e, "%s: not an HDF5 file", path), NT_EXIT_INPUT;
    int rc = layout_read(h->file, path, flags, &h->L, e);
    if (rc) h5in_close(h);
    return rc;
}

const char *h5in_x_dtype(const struct h5in *h, char *buf, size_t len)
{
    if (h->L.x_u8)
        snprintf(buf, len, "uint8");
    else
        snprintf(buf, len, "float%zu", 8 * h->L.x_bytes);
    return buf;
}

const char *h5in_nonfinite(double v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

int64_t h5in_block_rows(int64_t cols, int64_t n)
{
    int64_t r = BLOCK_BYTES / (int64_t)sizeof(double) / (cols > 0 ? cols : 1);
    if (r < 1) r = 1;
    if (r > n) r = n;
    return r;
}

int h5in_read_block(hid_t dset, int64_t r0, int64_t nr, int64_t nc, int two_d, double *buf)
{
    hid_t fs = H5Dget_space(dset);
    if (fs < 0) return -1;
    hsize_t start[2] = {(hsize_t)r0, 0}, count[2] = {(hsize_t)nr, (hsize_t)nc};
    hid_t ms = H5Screate_simple(two_d ? 2 : 1, count, NULL);
    int rc = -1;
    if (ms >= 0 && H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) >= 0 &&
        H5Dread(dset, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, buf) >= 0)
        rc = 0;
    if (ms >= 0 && H5Sclose(ms) < 0) rc = -1;
    if (H5Sclose(fs) < 0) rc = -1;
    return rc;
}

int h5in_x_blocks(const char *path, const struct h5in *h, const char *why,
                  void (*fn)(void *user, double *buf, int64_t rows), void *user, nt_err *e)
{
    int64_t n = h->L.n, d = h->L.d, br = h5in_block_rows(d, n);
    double *buf = malloc((size_t)(br * d) * sizeof *buf);
    int rc = NT_EXIT_INPUT;
    if (!buf) return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (h5in_read_block(h->L.x, r0, nr, d, 1, buf) < 0) {
            nt_fail(e, "%s: cannot read /X rows %lld..%lld", path, (long long)r0,
                    (long long)(r0 + nr - 1));
            goto done;
        }
        for (int64_t i = 0; i < nr * d; i++)
            if (!isfinite(buf[i])) {
                nt_fail(e, "%s: /X[%lld, %lld] is %s%s", path, (long long)(r0 + i / d),
                        (long long)(i % d), h5in_nonfinite(buf[i]), why);
                goto done;
            }
        if (fn) fn(user, buf, nr);
    }
    rc = 0;
done:
    free(buf);
    return rc;
}

/* The first bad value among nr*cols values of /y starting at row r0 (NT_EXIT_INPUT), or 0. */
static int bad_y(const char *path, const double *buf, int64_t r0, int64_t nr, int64_t cols,
                 int targets, double *maxl, nt_err *e)
{
    for (int64_t i = 0; i < nr * cols; i++) {
        double v = buf[i];
        long long row = (long long)(r0 + i / cols), col = (long long)(i % cols);
        if (targets) {
            if (!isfinite(v))
                return nt_fail(e, "%s: /y[%lld, %lld] is %s", path, row, col, h5in_nonfinite(v)),
                       NT_EXIT_INPUT;
            continue;
        }
        /* integer labels (layout.h): no NaN, no fractions */
        if (v < 0)
            return nt_fail(e, "%s: /y[%lld] is %.0f, labels must be >= 0", path, row, v),
                   NT_EXIT_INPUT;
        if (v > MAX_LABEL)
            return nt_fail(e, "%s: /y[%lld] is %.0f, labels must be <= %.0f", path, row, v,
                           MAX_LABEL), NT_EXIT_INPUT;
        if (v > *maxl) *maxl = v;
    }
    return 0;
}

int h5in_check_y(const char *path, const struct h5in *h, int64_t *k, nt_err *e)
{
    int targets = h->L.targets;
    int64_t n = h->L.n, cols = targets ? h->L.k : 1, br = h5in_block_rows(cols, n);
    double *buf = malloc((size_t)(br * cols) * sizeof *buf);
    double maxl = -1;
    int rc = NT_EXIT_INPUT;
    if (!buf) return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    for (int64_t r0 = 0; r0 < n; r0 += br) {
        int64_t nr = n - r0 < br ? n - r0 : br;
        if (h5in_read_block(h->L.y, r0, nr, targets ? cols : 0, targets, buf) < 0) {
            nt_fail(e, "%s: cannot read /y rows %lld..%lld", path, (long long)r0,
                    (long long)(r0 + nr - 1));
            goto done;
        }
        if (bad_y(path, buf, r0, nr, cols, targets, &maxl, e)) goto done;
    }
    *k = targets ? h->L.k : (int64_t)maxl + 1;
    rc = 0;
done:
    free(buf);
    return rc;
}
