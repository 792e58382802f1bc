/* Serial writer for the nntrain dataset layout (/X rows, /y labels or regression targets,
 * optional /X@scale, /X@mean and /X@std).
 * Writes PATH.tmp with the sec2 driver (no MPI) and renames it into place, so a failure
 * never leaves a half-written PATH nor replaces an existing one. */
#include "h5data.h"
#include "h5check.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Target chunk size: large enough that per-chunk overhead is negligible, small enough that a
 * rank reading a small shard does not pull in much more than it needs. */
#define H5DATA_CHUNK_BYTES (256 * 1024)
/* Room for HDF5's most specific error description in a message. */
#define H5DATA_DETAIL 200
/* Most float32 values in an attribute stored compactly in a version 1 object header (whose
 * messages are limited to 64 KiB). */
#define H5DATA_COMPACT_VEC 16000

int64_t h5data_chunk_rows(int64_t n, int64_t row_bytes)
{
    int64_t rows = row_bytes > 0 ? H5DATA_CHUNK_BYTES / row_bytes : H5DATA_CHUNK_BYTES;
    if (rows > n) rows = n;
    /* HDF5 chunk dimensions must be >= 1, also for an empty (n == 0) dataset. */
    if (rows < 1) rows = 1;
    return rows;
}

/* H5Ewalk2 callback: keep the innermost (first, walking upward) error description, which is
 * the most specific one (e.g. "No space left on device" rather than "unable to write"). */
static herr_t innermost_error(unsigned n, const H5E_error2_t *e, void *data)
{
    if (n == 0 && e->desc) {
        char *buf = data;
        snprintf(buf, H5DATA_DETAIL, "%s", e->desc);
    }
    return 0;
}

/* e := "PATH: WHAT" plus HDF5's most specific reason when its error stack has one; returns -1. */
static int h5_fail(nt_err *e, const char *path, const char *what)
{
    char detail[H5DATA_DETAIL] = "";
    /* the detail is a courtesy: if the walk fails, the message goes without it */
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, detail) < 0) detail[0] = 0;
    if (detail[0]) return nt_fail(e, "%s: %s (%s)", path, what, detail);
    return nt_fail(e, "%s: %s", path, what);
}

/* Create a chunked 1-D or 2-D dataset of `n` rows and `d` columns (d == 0: 1-D). For n == 0
 * the row axis is unlimited, because a fixed 0-length axis cannot hold a chunk of >= 1 row.
 * On failure the message is taken here, before the clean-up calls reset HDF5's error stack. */
static hid_t create_rows(hid_t file, const char *name, hid_t ftype, int64_t n, int64_t d,
                         int64_t elem_bytes, const char *path, nt_err *e)
{
    int rank = d > 0 ? 2 : 1;
    hsize_t dims[2] = {(hsize_t)n, (hsize_t)d};
    hsize_t maxdims[2] = {n > 0 ? (hsize_t)n : H5S_UNLIMITED, (hsize_t)d};
    hsize_t chunk[2] = {(hsize_t)h5data_chunk_rows(n, elem_bytes * (d > 0 ? d : 1)),
                        (hsize_t)d};
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, dset = H5I_INVALID_HID;

    space = H5Screate_simple(rank, dims, maxdims);
    if (space < 0) goto fail;
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (dcpl < 0) goto fail;
    if (H5Pset_chunk(dcpl, rank, chunk) < 0) goto fail;
    /* Never write fill values: every element is written below, and skipping the fill saves a
     * full pass over the file. */
    if (H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0) goto fail;
    dset = H5Dcreate2(file, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
fail:
    if (dset < 0) {
        char what[64];
        snprintf(what, sizeof what, "cannot create /%s", name);
        h5_fail(e, path, what);
    }
    /* checked after the message above (which needs HDF5's error stack), which they keep */
    int closed = (dcpl < 0 || !H5_TRY(H5Pclose(dcpl), e, path)) &
                 (space < 0 || !H5_TRY(H5Sclose(space), e, path));
    if (!closed && dset >= 0) {
        (void)H5Dclose(dset); /* failing anyway, with the close's message in e */
        dset = H5I_INVALID_HID;
    }
    return dset;
}

/* Write a float32 scalar attribute. */
static int write_scale(hid_t dset, float scale)
{
    int rc = -1;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    space = H5Screate(H5S_SCALAR);
    if (space < 0) goto fail;
    attr = H5Acreate2(dset, "scale", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) goto fail;
    if (H5Awrite(attr, H5T_NATIVE_FLOAT, &scale) < 0) goto fail;
    rc = 0;
fail:
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    if (space >= 0 && H5Sclose(space) < 0) rc = -1;
    return rc;
}

/* Write a 1-D float32 attribute of d values (mean / std). */
static int write_vec_attr(hid_t dset, const char *name, const float *v, int64_t d)
{
    int rc = -1;
    hsize_t dims[1] = {(hsize_t)d};
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    space = H5Screate_simple(1, dims, NULL);
    if (space < 0) goto fail;
    attr = H5Acreate2(dset, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (attr < 0) goto fail;
    if (H5Awrite(attr, H5T_NATIVE_FLOAT, v) < 0) goto fail;
    rc = 0;
fail:
    if (attr >= 0 && H5Aclose(attr) < 0) rc = -1;
    if (space >= 0 && H5Sclose(space) < 0) rc = -1;
    return rc;
}

/* Flush the finished tmp file to disk before the rename, so that after a crash PATH is either
 * the old file or the complete new one. */
static int sync_file(const char *path)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* What goes into /y: int32 labels of shape (N) (cols == 0) or float32 targets of shape
 * (N, cols) with cols >= 1 (two_d). `what` names the array in messages. */
struct ydesc {
    hid_t ftype, mtype;
    int two_d;
    int64_t cols;
    const void *buf;
    const char *what;
};

/* The caller's arguments: 0, or -1 with e naming what is wrong. */
static int bad_args(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                    const float *x_f32, const float *mean, const float *std,
                    const struct ydesc *y, nt_err *e)
{
    if (!path || !path[0]) return nt_fail(e, "(empty path): invalid output path");
    if (n < 0 || d < 1)
        return nt_fail(e, "%s: invalid shape (%lld x %lld)", path, (long long)n, (long long)d);
    if (y->two_d && y->cols < 1)
        return nt_fail(e, "%s: invalid number of %s per row (%lld)", path, y->what,
                       (long long)y->cols);
    if ((x_u8 == NULL) == (x_f32 == NULL))
        return nt_fail(e, "%s: exactly one of the uint8 / float32 inputs must be given", path);
    if ((mean == NULL) != (std == NULL))
        return nt_fail(e, "%s: mean and std must be given together", path);
    if (!y->buf && n > 0) return nt_fail(e, "%s: %s missing", path, y->what);
    return 0;
}

/* The whole write, shared by the label and the regression writer: validate, write PATH.tmp
 * (/X, its scale, /y), sync, rename into place; on any failure remove PATH.tmp. Every failure
 * is NT_EXIT_RUNTIME (a write error, out of memory, or invalid arguments from the caller). */
static int write_set(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                     const float *x_f32, float scale, const float *mean, const float *std,
                     const struct ydesc *y, nt_err *e)
{
    int rc = NT_EXIT_RUNTIME, created = 0, auto_saved = 0;
    char *tmp = NULL;
    H5E_auto2_t old_func = NULL;
    void *old_data = NULL;
    hid_t fapl = H5I_INVALID_HID, file = H5I_INVALID_HID;
    hid_t xset = H5I_INVALID_HID, yset = H5I_INVALID_HID;

    nt_err_clear(e); /* H5_TRY keeps a message already there */
    if (bad_args(path, n, d, x_u8, x_f32, mean, std, y, e)) return NT_EXIT_RUNTIME;

    size_t len = strlen(path);
    tmp = malloc(len + sizeof ".tmp");
    if (!tmp) return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp", sizeof ".tmp");

    /* We report errors ourselves; HDF5's default handler would print its whole stack. The
     * previous handler is restored on return since nn_h5 is a library. */
    if (H5Eget_auto2(H5E_DEFAULT, &old_func, &old_data) >= 0) auto_saved = 1;
    if (H5_TRY(H5Eset_auto2(H5E_DEFAULT, NULL, NULL), e, path)) goto fail;

    /* Create the tmp file ourselves first: open() gives a precise errno for the message
     * ("Permission denied", "No such file or directory"), which HDF5 does not. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) {
        nt_fail(e, "%s: cannot create: %s", path, strerror(errno));
        goto fail;
    }
    close(fd);
    created = 1;

    fapl = H5Pcreate(H5P_FILE_ACCESS);
    /* Attributes above 64 KiB (mean / std of more than 16 000 features) need the dense
     * attribute storage of the 1.8 object header format; only such files use it. */
    if (fapl < 0 || H5Pset_fapl_sec2(fapl) < 0 ||
        (mean && d > H5DATA_COMPACT_VEC &&
         H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0)) {
        h5_fail(e, path, "cannot set up the HDF5 file access list");
        goto fail;
    }
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (file < 0) {
        h5_fail(e, path, "cannot create HDF5 file");
        goto fail;
    }
    /* no longer needed; closed here so that the clean-up below only runs on failures */
    herr_t cp = H5Pclose(fapl);
    fapl = H5I_INVALID_HID;
    if (H5_TRY(cp, e, path)) goto fail;

    hid_t ftype = x_u8 ? H5T_STD_U8LE : H5T_IEEE_F32LE;
    hid_t mtype = x_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT;
    const void *xbuf = x_u8 ? (const void *)x_u8 : (const void *)x_f32;
    xset = create_rows(file, "X", ftype, n, d, x_u8 ? 1 : 4, path, e);
    if (xset < 0) goto fail;
    if (n > 0 && H5Dwrite(xset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, xbuf) < 0) {
        h5_fail(e, path, "cannot write /X");
        goto fail;
    }
    if (scale > 0 && write_scale(xset, scale) < 0) {
        h5_fail(e, path, "cannot write /X attribute scale");
        goto fail;
    }
    if (mean && (write_vec_attr(xset, "mean", mean, d) < 0 ||
                 write_vec_attr(xset, "std", std, d) < 0)) {
        h5_fail(e, path, "cannot write /X attributes mean and std");
        goto fail;
    }
    yset = create_rows(file, "y", y->ftype, n, y->cols, 4, path, e);
    if (yset < 0) goto fail;
    if (n > 0 && H5Dwrite(yset, y->mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, y->buf) < 0) {
        h5_fail(e, path, "cannot write /y");
        goto fail;
    }

    /* Close explicitly and check: H5Fclose is where buffered data is finally written. */
    herr_t cx = H5Dclose(xset), cy = H5Dclose(yset);
    xset = yset = H5I_INVALID_HID;
    if (cx < 0 || cy < 0) {
        h5_fail(e, path, "cannot close datasets");
        goto fail;
    }
    herr_t cf = H5Fclose(file);
    file = H5I_INVALID_HID;
    if (cf < 0) {
        h5_fail(e, path, "cannot finish writing");
        goto fail;
    }
    if (sync_file(tmp) < 0) {
        nt_fail(e, "%s: cannot sync: %s", path, strerror(errno));
        goto fail;
    }
    if (rename(tmp, path) < 0) {
        nt_fail(e, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        goto fail;
    }
    created = 0;
    rc = 0;

fail:
    /* Objects are still open here only after a failure: e holds its message, which H5_TRY
     * keeps, and PATH.tmp is removed whatever these closes return. */
    if (yset >= 0) H5_TRY(H5Dclose(yset), e, path);
    if (xset >= 0) H5_TRY(H5Dclose(xset), e, path);
    if (file >= 0) H5_TRY(H5Fclose(file), e, path);
    if (fapl >= 0) H5_TRY(H5Pclose(fapl), e, path);
    if (created) unlink(tmp);
    /* Restoring the caller's handler cannot change this write's outcome (PATH is in place or
     * the failure is in e); if it fails, HDF5 merely stays quiet. */
    if (auto_saved) (void)H5Eset_auto2(H5E_DEFAULT, old_func, old_data);
    free(tmp);
    return rc;
}

int h5data_write(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                 const float *x_f32, float scale, const int32_t *y, nt_err *e)
{
    struct ydesc yd = {H5T_STD_I32LE, H5T_NATIVE_INT32, 0, 0, y, "labels"};
    return write_set(path, n, d, x_u8, x_f32, scale, NULL, NULL, &yd, e);
}

int h5data_write_regression(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                            const float *x_f32, float scale, const float *y, int64_t k,
                            nt_err *e)
{
    struct ydesc yd = {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, k, y, "targets"};
    return write_set(path, n, d, x_u8, x_f32, scale, NULL, NULL, &yd, e);
}

int h5data_write_std(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                     const float *x_f32, float scale, const float *mean, const float *std,
                     const int32_t *y, const float *yf, int64_t k, nt_err *e)
{
    struct ydesc yl = {H5T_STD_I32LE, H5T_NATIVE_INT32, 0, 0, y, "labels"};
    struct ydesc yr = {H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, k, yf, "targets"};
    return write_set(path, n, d, x_u8, x_f32, scale, mean, std, k > 0 ? &yr : &yl, e);
}
