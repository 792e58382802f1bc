/* nndata standardize: compute per-feature mean / std of the scaled /X values (or copy them
 * from another file, or remove them) and write them in place as /X attributes; the data is
 * never modified. */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "usage.h"
#include "h5check.h"
#include "h5in.h"
#include "xstats.h"

/* Statistics of the scaled values, block by block. */
struct scaled_stats { struct xstats st; double scale; };

static void add_scaled(void *user, double *buf, int64_t rows)
{
    struct scaled_stats *ss = user;
    for (int64_t i = 0; i < rows * ss->st.d; i++) buf[i] *= ss->scale;
    xstats_add(&ss->st, buf, rows);
}

/* One pass over /X in row blocks: statistics of the scaled values. A non-finite value is an
 * error naming its row and column. Returns 0 or an NT_EXIT_* code. */
static int file_stats(const char *path, const struct h5in *h, float *mean, float *std,
                      int64_t *nconst, nt_err *e)
{
    struct scaled_stats ss = {.scale = h->L.scale};
    if (xstats_init(&ss.st, h->L.d) < 0)
        return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    int rc = h5in_x_blocks(path, h, "; standardize needs finite values", add_scaled, &ss, e);
    if (!rc) rc = xstats_finish(&ss.st, path, mean, std, nconst, e);
    xstats_free(&ss.st);
    return rc;
}

/* H5Ewalk2 callback: the innermost (most specific) error description. */
static herr_t innermost_desc(unsigned n, const H5E_error2_t *err, void *data)
{
    if (n == 0 && err->desc) snprintf(data, 160, "%s", err->desc);
    return 0;
}

/* e := "PATH: WHAT (HDF5's most specific reason)"; returns -1. */
static int h5_fail(nt_err *e, const char *path, const char *what)
{
    char detail[160] = "";
    /* the detail is a courtesy: if the walk fails, the message goes without it */
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_desc, detail) < 0) detail[0] = 0;
    if (detail[0]) return nt_fail(e, "%s: %s (%s)", path, what, detail);
    return nt_fail(e, "%s: %s", path, what);
}

static int put_vec_attr(hid_t obj, const char *name, const float *v, int64_t d)
{
    hsize_t dims[1] = {(hsize_t)d};
    hid_t sp = H5Screate_simple(1, dims, NULL);
    hid_t a = sp >= 0 ? H5Acreate2(obj, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT)
                      : H5I_INVALID_HID;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, v) >= 0 ? 0 : -1;
    if (a >= 0 && H5Aclose(a) < 0) rc = -1;
    if (sp >= 0 && H5Sclose(sp) < 0) rc = -1;
    return rc;
}

static int drop_attr(hid_t obj, const char *name)
{
    htri_t e = H5Aexists(obj, name);
    return e < 0 ? -1 : e == 0 ? 0 : H5Adelete(obj, name) < 0 ? -1 : 0;
}

#define TMP_MEAN "nndata-new-mean"
#define TMP_STD "nndata-new-std"

/* Replace /X@mean and /X@std of PATH in place (mean == NULL: remove them). Called only after
 * all validation and computation: this is the one place that opens the file for writing. The
 * new values are first written under temporary names, so a failure to write them (e.g. a full
 * disk) leaves the old attributes as they were; only then are the old ones deleted and the new
 * ones renamed. The shape of /X is checked again in case the file changed meanwhile. Every
 * failure is a write error: NT_EXIT_RUNTIME. */
static int write_norm(const char *path, int64_t n, int64_t d, const float *mean,
                      const float *std, nt_err *e)
{
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t x = H5I_INVALID_HID;
    int rc = NT_EXIT_RUNTIME;
    if (file < 0) return h5_fail(e, path, "cannot open for writing"), NT_EXIT_RUNTIME;
    nt_err_clear(e); /* H5_TRY keeps a message already there */
    x = H5Dopen2(file, "X", H5P_DEFAULT);
    hid_t sp = x >= 0 ? H5Dget_space(x) : H5I_INVALID_HID;
    hsize_t dims[2] = {0, 0};
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    if (rank == 2 && H5Sget_simple_extent_dims(sp, dims, NULL) < 0) rank = -1;
    if (sp >= 0 && H5_TRY(H5Sclose(sp), e, path)) goto done;
    if (rank != 2 || (int64_t)dims[0] != n || (int64_t)dims[1] != d) {
        nt_fail(e, "%s: /X changed while standardize ran; nothing written", path);
        goto done;
    }
    if (mean) {
        if (drop_attr(x, TMP_MEAN) < 0 || drop_attr(x, TMP_STD) < 0 ||
            put_vec_attr(x, TMP_MEAN, mean, d) < 0 || put_vec_attr(x, TMP_STD, std, d) < 0) {
            h5_fail(e, path, "cannot write /X attributes mean and std");
            if (d > 16000) /* a version 1 object header holds messages of at most 64 KiB */
                nt_fail(e, "%s: cannot write /X attributes mean and std: %lld values "
                         "are more than this file's object header holds (64 KiB); nndata split "
                         "--standardize writes files that can hold them", path, (long long)d);
            /* best effort to leave no temporaries; the failure is already in e */
            (void)drop_attr(x, TMP_MEAN);
            (void)drop_attr(x, TMP_STD);
            goto done;
        }
    }
    if (drop_attr(x, "mean") < 0 || drop_attr(x, "std") < 0) {
        h5_fail(e, path, "cannot delete the old /X attributes mean and std");
        goto done;
    }
    if (mean && (H5Arename(x, TMP_MEAN, "mean") < 0 || H5Arename(x, TMP_STD, "std") < 0)) {
        h5_fail(e, path, "cannot rename the new /X attributes mean and std");
        goto done;
    }
    rc = 0;
done:
    /* Both closes are checked; after a failure e already holds its specific message, which a
     * failing close must not replace, and the outcome is a failure either way. */
    if (x >= 0 && H5Dclose(x) < 0 && rc == 0) {
        h5_fail(e, path, "cannot write /X");
        rc = NT_EXIT_RUNTIME;
    }
    /* H5Fclose writes the changed metadata; then force it to disk. */
    if (H5Fclose(file) < 0 && rc == 0) {
        h5_fail(e, path, "cannot finish writing");
        rc = NT_EXIT_RUNTIME;
    }
    if (rc == 0) {
        int fd = open(path, O_RDONLY);
        if (fd < 0 || fsync(fd) < 0) {
            nt_fail(e, "%s: cannot sync: %s", path, strerror(errno));
            rc = NT_EXIT_RUNTIME;
        }
        if (fd >= 0) close(fd);
    }
    return rc;
}


/* The new statistics of FILE h (mean / std malloc'd): copied from `from`, or computed.
 * Returns 0 or an NT_EXIT_* code (a bad `from` is NT_EXIT_INPUT). */
static int new_stats(const char *path, const struct h5in *h, const char *from, float **mean,
                     float **std, int64_t *nconst, nt_err *e)
{
    if (from) {
        struct h5in ht;
        int rc = h5in_open(from, 0, &ht, e);
        if (rc == 0 && !ht.L.mean)
            rc = (nt_fail(e, "%s: /X has no attributes mean and std (run nndata standardize "
                          "on it first)", from), NT_EXIT_INPUT);
        else if (rc == 0 && ht.L.d != h->L.d)
            rc = (nt_fail(e, "%s: D = %lld features, but %s has D = %lld", from,
                          (long long)ht.L.d, path, (long long)h->L.d), NT_EXIT_INPUT);
        if (rc == 0) { /* take them over */
            *mean = ht.L.mean, *std = ht.L.std;
            ht.L.mean = ht.L.std = NULL;
        }
        h5in_close(&ht);
        return rc;
    }
    *mean = malloc((size_t)h->L.d * sizeof **mean);
    *std = malloc((size_t)h->L.d * sizeof **std);
    if (!*mean || !*std) return nt_fail(e, "%s: out of memory", path), NT_EXIT_RUNTIME;
    return file_stats(path, h, *mean, *std, nconst, e);
}

/* The summary line after a successful write. */
static void print_done(const char *path, const char *from, int remove, int64_t n, int64_t d,
                       const float *std, int64_t nconst)
{
    double lo = 0, hi = 0;
    if (!remove) xstats_range(std, d, &lo, &hi);
    if (remove)
        printf("%s: removed /X attributes mean and std (%lld features)\n", path, (long long)d);
    else if (from)
        printf("%s: mean/std of %lld features copied from %s (std %.6g..%.6g)\n", path,
               (long long)d, from, lo, hi);
    else
        printf("%s: mean/std of %lld features over %lld rows (std %.6g..%.6g, %lld constant "
               "feature%s with std 1)\n", path, (long long)d, (long long)n, lo, hi,
               (long long)nconst, nconst == 1 ? "" : "s");
}

int cmd_standardize(int argc, char **argv)
{
    const char *from = NULL, *remove_s = NULL, *pos[ND_MAXPOS];
    const nn_cli_val opts[] = {{"stats-from", 0, &from}, {"remove", 1, &remove_s},
                               {NULL, 0, NULL}};
    nn_cli cli = {.tool = "nndata", .cmd = "standardize", .vals = opts, .pos = pos,
                  .maxpos = 1, .numbers_are_positional = 1,
                  .usage = "usage: nndata standardize FILE.h5 [--stats-from TRAIN.h5] "
                           "[--remove]\n"};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&cli, argc - 1, argv + 1, &e);
    if (rc) return nn_cli_exit(&cli, rc, &e);
    int npos = cli.npos;
    if (npos != 1)
        return nd_fail(NT_EXIT_USAGE, "standardize", "expected FILE.h5, got %d arguments", npos);
    const char *path = pos[0];
    int remove = remove_s != NULL;
    if (from && remove)
        return nd_fail(NT_EXIT_USAGE, "standardize", "--stats-from and --remove exclude each other");

    struct h5quiet q;
    struct h5in h;
    float *mean = NULL, *std = NULL;
    int64_t nconst = 0;
    int had = 0;
    h5in_quiet_on(&q);
    /* its own mean / std are replaced or removed, so they need not be valid */
    if ((rc = h5in_open(path, LAYOUT_SKIP_NORM, &h, &e)) != 0) goto done;
    /* Fail early, before a long pass over /X, if the file cannot be modified (a write error). */
    if (access(path, W_OK) != 0) {
        nt_fail(&e, "%s: not writable: %s", path, strerror(errno));
        rc = NT_EXIT_RUNTIME;
        goto done;
    }
    if (remove) {
        htri_t hm = -1, hs = -1;
        rc = NT_EXIT_INPUT; /* the attributes of the input cannot be read */
        if (H5_TRY(hm = H5Aexists(h.L.x, "mean"), &e, path) ||
            H5_TRY(hs = H5Aexists(h.L.x, "std"), &e, path))
            goto done;
        had = hm > 0 || hs > 0;
    } else if ((rc = new_stats(path, &h, from, &mean, &std, &nconst, &e)) != 0)
        goto done;
    int64_t n = h.L.n, d = h.L.d;
    h5in_close(&h);
    if (remove && !had)
        printf("%s: no mean/std attributes; nothing removed\n", path);
    else if ((rc = write_norm(path, n, d, remove ? NULL : mean, std, &e)) != 0)
        goto done;
    else
        print_done(path, from, remove, n, d, std, nconst);
    rc = 0;
done:
    h5in_close(&h);
    h5in_quiet_off(&q);
    free(mean);
    free(std);
    return rc ? nd_report(rc, &e) : NT_EXIT_OK;
}
