/* The dataset-layout validator shared by nndata and nntrain (see layout.h). It only reads
 * metadata (shapes, types, attributes): the same calls in the same order on every rank, so it
 * is safe under MPI-IO with collective metadata reads. */
#include "layout.h"
#include "h5check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *layout_type_name(hid_t t, char *buf, size_t len)
{
    H5T_class_t c = H5Tget_class(t);
    size_t sz = H5Tget_size(t); /* 0 on failure */
    H5T_sign_t sg = c == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_NONE;
    if (c == H5T_NO_CLASS || sz == 0 || sg == H5T_SGN_ERROR) /* the getters failed */
        snprintf(buf, len, "an unreadable type");
    else if (c == H5T_INTEGER)
        snprintf(buf, len, "%sint%zu", sg == H5T_SGN_NONE ? "u" : "", 8 * sz);
    else if (c == H5T_FLOAT)
        snprintf(buf, len, "float%zu", 8 * sz);
    else if (c == H5T_STRING)
        snprintf(buf, len, "string");
    else
        snprintf(buf, len, "a non-numeric type");
    return buf;
}

/* A number type nntrain reads through HDF5's conversions: whole bytes, all of them used
 * (IEEE half/single/double floats, 8- to 64-bit integers). HDF5 1.10.8 overruns its own
 * conversion buffers on exotic types a damaged file can declare (a 8192-bit float of
 * precision 0: fuzz_layout), so anything else is refused before any row is read. */
static int plain_number_type(hid_t t, H5T_class_t c)
{
    size_t sz = H5Tget_size(t), prec = H5Tget_precision(t);
    if (prec != 8 * sz) return 0;
    if (c == H5T_FLOAT) return sz == 2 || sz == 4 || sz == 8;
    return c == H5T_INTEGER && (sz == 1 || sz == 2 || sz == 4 || sz == 8);
}

static const char *nonfinite_name(double v) { return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

/* open_dset, check_x and check_y return 0 or -1: every failure of theirs is a problem of the
 * file (layout_read returns NT_EXIT_INPUT for it). */

/* Open dataset `name`: 0, or -1 with "PATH: /NAME missing" / "... is not a dataset". */
static int open_dset(hid_t file, const char *path, const char *name, hid_t *out, nt_err *e)
{
    *out = H5I_INVALID_HID;
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) return nt_fail(e, "%s: /%s missing", path, name);
    H5O_info_t oi; /* HDF5 1.10 API (Debian 12) */
    if (H5Oget_info_by_name2(file, name, &oi, H5O_INFO_BASIC, H5P_DEFAULT) < 0 ||
        oi.type != H5O_TYPE_DATASET || (*out = H5Dopen2(file, name, H5P_DEFAULT)) < 0)
        return nt_fail(e, "%s: /%s is not a dataset", path, name);
    return 0;
}

/* Rank and up to two dimensions of a dataset; rank -1 when unreadable. */
static int dset_dims(hid_t dset, hsize_t dims[2])
{
    hid_t sp = H5Dget_space(dset);
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    dims[0] = dims[1] = 0;
    if ((rank == 1 || rank == 2) && H5Sget_simple_extent_dims(sp, dims, NULL) < 0) rank = -1;
    if (sp >= 0 && H5Sclose(sp) < 0) rank = -1;
    return rank;
}

/* /X: rank 2, uint8 or float, chunking, the scale attribute. */
static int check_x(const char *path, layout_info *L, nt_err *e)
{
    char tn[32];
    hsize_t dims[2];
    int rank = dset_dims(L->x, dims);
    if (rank != 2) return nt_fail(e, "%s: /X is not 2-D (rank %d)", path, rank);
    L->n = (int64_t)dims[0];
    L->d = (int64_t)dims[1];
    hid_t t = H5Dget_type(L->x);
    if (t < 0) return nt_fail(e, "%s: cannot read the type of /X", path);
    H5T_class_t c = H5Tget_class(t);
    L->x_bytes = H5Tget_size(t); /* 0 on failure */
    H5T_sign_t sg = c == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_NONE;
    L->x_u8 = c == H5T_INTEGER && L->x_bytes == 1 && sg == H5T_SGN_NONE;
    layout_type_name(t, tn, sizeof tn);
    int bad = c == H5T_NO_CLASS || L->x_bytes == 0 || sg == H5T_SGN_ERROR;
    const int plain = plain_number_type(t, c);
    if (bad) nt_fail(e, "%s: cannot read the type of /X", path);
    if (H5_TRY(H5Tclose(t), e, path) || bad) return -1;
    if (!L->x_u8 && c != H5T_FLOAT)
        return nt_fail(e, "%s: /X has dtype %s, expected uint8 or float", path, tn);
    if (!plain)
        return nt_fail(e, "%s: /X has an unsupported %s type (%zu bytes, not a plain IEEE float)",
                       path, tn, L->x_bytes);
    /* the chunk extent along rows (the worker's direct reads follow it); 0 when not chunked */
    hid_t dcpl = H5I_INVALID_HID;
    H5D_layout_t lay = H5D_LAYOUT_ERROR;
    hsize_t chunk[2];
    int st = H5_TRY(dcpl = H5Dget_create_plist(L->x), e, path) ||
             H5_TRY(lay = H5Pget_layout(dcpl), e, path) ||
             (lay == H5D_CHUNKED && H5_TRY(H5Pget_chunk(dcpl, 2, chunk), e, path));
    if (!st && lay == H5D_CHUNKED) L->chunk_rows = (int64_t)chunk[0];
    if (dcpl >= 0 && H5_TRY(H5Pclose(dcpl), e, path)) st = 1;
    if (st) return -1;
    htri_t has = H5Aexists(L->x, "scale");
    if (has < 0) return nt_fail(e, "%s: cannot read the attributes of /X", path);
    if (!has) return 0;
    hid_t a = H5Aopen(L->x, "scale", H5P_DEFAULT);
    hid_t as = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    /* one value only: reading more into one double would overrun it */
    int ok = as >= 0 && H5Sget_simple_extent_npoints(as) == 1 &&
             H5Aread(a, H5T_NATIVE_DOUBLE, &L->scale) >= 0;
    if (!ok) nt_fail(e, "%s: /X attribute scale is not a readable number", path);
    /* the closes are checked after that message, which H5_TRY keeps */
    if (as >= 0 && H5_TRY(H5Sclose(as), e, path)) ok = 0;
    if (a >= 0 && H5_TRY(H5Aclose(a), e, path)) ok = 0;
    if (!ok) return -1;
    if (!isfinite(L->scale) || L->scale <= 0)
        return nt_fail(e, "%s: /X attribute scale is %g, expected > 0", path, L->scale);
    float s32 = (float)L->scale; /* nntrain multiplies in float32 */
    if (!isfinite(s32) || !(s32 > 0))
        return nt_fail(e, "%s: /X attribute scale is %g, not representable as float32", path,
                       L->scale);
    L->has_scale = 1;
    return 0;
}

/* /y: (N) integer labels or (N, K) float targets, N rows like /X. */
static int check_y(const char *path, layout_info *L, nt_err *e)
{
    char tn[32];
    hsize_t dims[2];
    int rank = dset_dims(L->y, dims);
    if (rank != 1 && rank != 2)
        return nt_fail(e, "%s: /y has rank %d, expected 1 (labels) or 2 (targets)", path, rank);
    hid_t t = H5Dget_type(L->y);
    if (t < 0) return nt_fail(e, "%s: cannot read the type of /y", path);
    H5T_class_t c = H5Tget_class(t);
    layout_type_name(t, tn, sizeof tn);
    const int plain = plain_number_type(t, c);
    if (c == H5T_NO_CLASS) nt_fail(e, "%s: cannot read the type of /y", path);
    if (H5_TRY(H5Tclose(t), e, path) || c == H5T_NO_CLASS) return -1;
    if (rank == 1 && c != H5T_INTEGER)
        return nt_fail(e, "%s: /y (N) has dtype %s, expected integer class labels (regression "
                       "targets are (N, K) floats)", path, tn);
    if (rank == 2 && c != H5T_FLOAT)
        return nt_fail(e, "%s: /y (N, K) has dtype %s, expected float regression targets", path,
                       tn);
    if (!plain)
        return nt_fail(e, "%s: /y has an unsupported %s type (not plain: precision below its "
                       "size, or an odd size)", path, tn);
    if ((int64_t)dims[0] != L->n)
        return nt_fail(e, "%s: /y has %lld rows, /X has %lld", path, (long long)dims[0],
                       (long long)L->n);
    L->targets = rank == 2;
    L->k = rank == 2 ? (int64_t)dims[1] : 0;
    return 0;
}

int layout_read_vec(hid_t obj, const char *path, const char *objname, const char *name, int64_t d,
                    float **out, nt_err *e)
{
    *out = NULL;
    htri_t has = H5Aexists(obj, name);
    if (has < 0)
        return nt_fail(e, "%s: cannot read the attributes of %s", path, objname), NT_EXIT_INPUT;
    if (!has) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t ty = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    char tn[32];
    int rc = NT_EXIT_INPUT;
    H5T_class_t c = ty >= 0 ? H5Tget_class(ty) : H5T_NO_CLASS;
    if (a < 0 || sp < 0 || ty < 0 || c == H5T_NO_CLASS)
        nt_fail(e, "%s: %s attribute %s is not readable", path, objname, name);
    else if (c != H5T_FLOAT)
        nt_fail(e, "%s: %s attribute %s has dtype %s, expected float32", path, objname, name,
                layout_type_name(ty, tn, sizeof tn));
    else if (rank != 1)
        nt_fail(e, "%s: %s attribute %s has rank %d, expected 1-D with D = %lld values", path,
                objname, name, rank, (long long)d);
    else if ((int64_t)np != d) /* before allocating: never trust a declared size */
        nt_fail(e, "%s: %s attribute %s has %lld values, expected D = %lld", path, objname, name,
                (long long)np, (long long)d);
    else if (!(*out = malloc((size_t)d * sizeof **out)))
        rc = (nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME);
    else if (H5Aread(a, H5T_NATIVE_FLOAT, *out) < 0)
        nt_fail(e, "%s: %s attribute %s is not readable", path, objname, name);
    else
        rc = 0;
    /* checked after the message above, which H5_TRY keeps */
    if (ty >= 0 && H5_TRY(H5Tclose(ty), e, path) && !rc) rc = NT_EXIT_INPUT;
    if (sp >= 0 && H5_TRY(H5Sclose(sp), e, path) && !rc) rc = NT_EXIT_INPUT;
    if (a >= 0 && H5_TRY(H5Aclose(a), e, path) && !rc) rc = NT_EXIT_INPUT;
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* /X@mean and /X@std: both or neither, D values each, finite, std > 0. */
static int check_norm(const char *path, layout_info *L, nt_err *e)
{
    int rc;
    if ((rc = layout_read_vec(L->x, path, "/X", "mean", L->d, &L->mean, e)) ||
        (rc = layout_read_vec(L->x, path, "/X", "std", L->d, &L->std, e)))
        return rc;
    if (!L->mean != !L->std)
        return nt_fail(e, "%s: /X attribute %s without %s (standardization needs both; see "
                       "nndata standardize)", path, L->mean ? "mean" : "std",
                       L->mean ? "std" : "mean"), NT_EXIT_INPUT;
    for (int64_t j = 0; L->mean && j < L->d; j++) {
        if (!isfinite(L->mean[j]))
            return nt_fail(e, "%s: /X attribute mean[%lld] is %s", path, (long long)j,
                           nonfinite_name(L->mean[j])), NT_EXIT_INPUT;
        if (!isfinite(L->std[j]))
            return nt_fail(e, "%s: /X attribute std[%lld] is %s", path, (long long)j,
                           nonfinite_name(L->std[j])), NT_EXIT_INPUT;
        if (!(L->std[j] > 0))
            return nt_fail(e, "%s: /X attribute std[%lld] is %g, expected > 0", path,
                           (long long)j, (double)L->std[j]), NT_EXIT_INPUT;
    }
    return 0;
}

/* a * b into *out; 0, or -1 when it does not fit in 64 bits */
static int mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    return __builtin_mul_overflow(a, b, out) ? -1 : 0;
}

/* Is the declared extent of dataset /NAME backed by storage? Only metadata is read, so a
 * dataspace of 2^62 rows costs nothing: for unfiltered data the declared bytes must fit in the
 * file (checked first, before anything counts chunks); every chunk must have been written (a
 * chunk never written reads as the fill value, zeros, and would be trained on silently); a
 * contiguous dataset must be allocated in full. Compact datasets, external storage and virtual
 * datasets are left alone. Returns 0, or -1 with e = "PATH: /NAME ...". */
static int check_storage(hid_t file, hid_t dset, const char *path, const char *name, nt_err *e)
{
    hsize_t dims[2], cd[2] = {0, 0}, fsize = 0, nch = 0;
    int rank = dset_dims(dset, dims);
    if (rank != 1 && rank != 2) return nt_fail(e, "%s: cannot read the dataspace of /%s", path, name);
    hid_t t = H5Dget_type(dset);
    size_t elem = t >= 0 ? H5Tget_size(t) : 0;
    if (t >= 0 && H5_TRY(H5Tclose(t), e, path)) return -1;
    if (elem == 0) return nt_fail(e, "%s: cannot read the type of /%s", path, name);
    hid_t dcpl = H5I_INVALID_HID;
    H5D_layout_t lay = H5D_LAYOUT_ERROR;
    int nf = -1, next = -1, nd = 2;
    int st = H5_TRY(dcpl = H5Dget_create_plist(dset), e, path) ||
             H5_TRY(lay = H5Pget_layout(dcpl), e, path) ||
             H5_TRY(nf = H5Pget_nfilters(dcpl), e, path) ||
             H5_TRY(next = H5Pget_external_count(dcpl), e, path) ||
             (lay == H5D_CHUNKED && H5_TRY(nd = H5Pget_chunk(dcpl, 2, cd), e, path)) ||
             H5_TRY(H5Fget_filesize(file, &fsize), e, path);
    if (dcpl >= 0 && H5_TRY(H5Pclose(dcpl), e, path)) st = 1;
    if (st) return -1;
    if ((lay != H5D_CONTIGUOUS && lay != H5D_CHUNKED) || next > 0) return 0;
    uint64_t values = 0, bytes = 0, chunks = 1;
    const int big = mul_u64(dims[0], rank == 2 ? dims[1] : 1, &values) || mul_u64(values, elem, &bytes);
    char shape[96];
    if (rank == 2)
        snprintf(shape, sizeof shape, "%llu x %llu", (unsigned long long)dims[0], (unsigned long long)dims[1]);
    else
        snprintf(shape, sizeof shape, "%llu", (unsigned long long)dims[0]);
    if (nf == 0 && (big || bytes > fsize))
        return nt_fail(e, "%s: /%s declares %s values of %zu bytes (%.4g bytes), but the file holds "
                       "only %llu bytes: it was never written in full (or was cut short)", path, name,
                       shape, elem, (double)dims[0] * (rank == 2 ? (double)dims[1] : 1.0) * (double)elem,
                       (unsigned long long)fsize);
    if (lay == H5D_CONTIGUOUS) {
        hsize_t have = H5Dget_storage_size(dset); /* 0: not allocated (or unreadable) */
        if (have < bytes)
            return nt_fail(e, "%s: /%s (%s) is incomplete: only %llu of %llu bytes written "
                           "(the rest would read as fill values, zeros)", path, name, shape,
                           (unsigned long long)have, (unsigned long long)bytes);
        return 0;
    }
    if (nd != rank || cd[0] == 0 || (rank == 2 && cd[1] == 0))
        return nt_fail(e, "%s: cannot read the chunk shape of /%s", path, name);
    for (int i = 0; i < rank; i++)
        if (mul_u64(chunks, (dims[i] + cd[i] - 1) / cd[i], &chunks)) chunks = UINT64_MAX;
    /* every written chunk takes at least a byte of the file: more chunks than bytes cannot all
     * be there (and counting them could take long) */
    if (chunks > fsize)
        return nt_fail(e, "%s: /%s declares %s values in %llu chunks, but the file holds only %llu "
                       "bytes: it was never written in full (or was cut short)", path, name, shape,
                       (unsigned long long)chunks, (unsigned long long)fsize);
    hid_t sp = H5I_INVALID_HID;
    st = H5_TRY(sp = H5Dget_space(dset), e, path) || H5_TRY(H5Dget_num_chunks(dset, sp, &nch), e, path);
    if (sp >= 0 && H5_TRY(H5Sclose(sp), e, path)) st = 1;
    if (st) return -1;
    if (nch < chunks)
        return nt_fail(e, "%s: /%s (%s) is incomplete: only %llu of %llu chunks written "
                       "(the rest would read as fill values, zeros)", path, name, shape,
                       (unsigned long long)nch, (unsigned long long)chunks);
    return 0;
}

int layout_read(hid_t file, const char *path, unsigned flags, layout_info *L, nt_err *e)
{
    int rc = NT_EXIT_INPUT;
    nt_err_clear(e); /* H5_TRY keeps a message already there */
    memset(L, 0, sizeof *L);
    L->x = L->y = H5I_INVALID_HID;
    L->scale = 1;
    if (open_dset(file, path, "X", &L->x, e) || check_x(path, L, e) ||
        open_dset(file, path, "y", &L->y, e) || check_y(path, L, e))
        goto fail;
    if (L->n == 0) {
        nt_fail(e, "%s: no rows (N = 0)", path);
        goto fail;
    }
    if (L->d == 0) {
        nt_fail(e, "%s: /X has no columns (D = 0)", path);
        goto fail;
    }
    if (L->targets && L->k == 0) {
        nt_fail(e, "%s: /y has 0 targets per row", path);
        goto fail;
    }
    if (check_storage(file, L->x, path, "X", e) || check_storage(file, L->y, path, "y", e)) goto fail;
    if (!(flags & LAYOUT_SKIP_NORM) && (rc = check_norm(path, L, e))) goto fail;
    return 0;
fail:
    layout_free(L);
    return rc;
}

/* Read-only datasets whose reads have completed (results checked) or been abandoned on an
 * error path: closing cannot lose data and a failure changes nothing the caller could act on,
 * so the results are ignored on purpose (as in nt_data_close). */
void layout_free(layout_info *L)
{
    if (L->y >= 0) (void)H5Dclose(L->y);
    if (L->x >= 0) (void)H5Dclose(L->x);
    L->x = L->y = H5I_INVALID_HID;
    free(L->mean);
    free(L->std);
    L->mean = L->std = NULL;
}
