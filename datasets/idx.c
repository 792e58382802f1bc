/* IDX reader (see idx.h). gzopen/gzread read gzip and plain files alike; every short read is
 * reported as a truncated file naming the file, and trailing bytes after the declared data
 * are rejected because they mean the header does not describe the file. */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Largest IDX payload we accept (16 GiB): far above any real data set, and keeps the size
 * arithmetic far from overflow. */
#define IDX_MAX_BYTES ((uint64_t)1 << 34)

/* Read exactly len bytes. Returns the number read (< len at end of file), or -1 on a read
 * or decompression error. gzread takes an unsigned int, hence the loop in <= 1 GiB steps. */
static int64_t read_full(gzFile f, void *buf, uint64_t len)
{
    uint8_t *p = buf;
    uint64_t got = 0;
    while (got < len) {
        uint64_t want = len - got;
        if (want > (1u << 30)) want = 1u << 30;
        int r = gzread(f, p + got, (unsigned)want);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (uint64_t)r;
    }
    return (int64_t)got;
}

/* e := "PATH: read error: <zlib or errno reason>". */
static void read_error(gzFile f, const char *path, nt_err *e)
{
    int zerr = 0;
    const char *msg = gzerror(f, &zerr);
    if (zerr == Z_ERRNO) msg = strerror(errno);
    /* zlib prefixes its messages with the path it was given; we add our own. */
    size_t plen = strlen(path);
    if (msg && strncmp(msg, path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2;
    nt_fail(e, "%s: read error: %s", path, msg && msg[0] ? msg : "unknown");
}

/* Read an IDX file with the given magic and ndim dimensions into a malloc'd buffer. Returns
 * 0, NT_EXIT_INPUT (missing, unreadable or malformed file) or NT_EXIT_RUNTIME (out of
 * memory). */
static int idx_read(const char *path, uint32_t magic, int ndim, const char *kind,
                    uint8_t **data, uint32_t *dims, nt_err *e)
{
    int rc = NT_EXIT_INPUT;
    uint8_t *buf = NULL;
    uint8_t hdr[4 + 4 * 3];
    uint64_t hdr_len = 4 + 4 * (uint64_t)ndim;

    *data = NULL;
    errno = 0;
    gzFile f = gzopen(path, "rb");
    if (!f) {
        int err = errno; /* 0: zlib could not allocate its state */
        nt_fail(e, "%s: cannot open: %s", path, err ? strerror(err) : "out of memory");
        return err ? NT_EXIT_INPUT : NT_EXIT_RUNTIME;
    }

    int64_t got = read_full(f, hdr, 4);
    if (got < 0) {
        read_error(f, path, e);
        goto fail;
    }
    if (got < 4) {
        nt_fail(e, "%s: truncated file (%lld of 4 header bytes)", path,
                 (long long)got);
        goto fail;
    }
    /* The magic is big-endian: two zero bytes, the element type, the number of dimensions. */
    uint32_t m = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (m != magic) {
        nt_fail(e, "%s: bad magic 0x%08x, expected 0x%08x (IDX uint8 %s)", path,
                 (unsigned)m, (unsigned)magic, kind);
        goto fail;
    }
    got = read_full(f, hdr + 4, hdr_len - 4);
    if (got < 0) {
        read_error(f, path, e);
        goto fail;
    }
    if ((uint64_t)got < hdr_len - 4) {
        nt_fail(e, "%s: truncated file (%lld of %llu header bytes)", path,
                 (long long)got + 4, (unsigned long long)hdr_len);
        goto fail;
    }

    /* bound = product of max(dim, 1) is capped too, so that with N == 0 the per-item size
     * (rows * cols) is still small enough for the caller's arithmetic. Checked before
     * multiplying, so bound * dim <= IDX_MAX_BYTES never overflows. */
    uint64_t total = 1, bound = 1;
    for (int i = 0; i < ndim; i++) {
        const uint8_t *q = hdr + 4 + 4 * i;
        dims[i] = (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3];
        uint64_t dim = dims[i] ? dims[i] : 1;
        if (bound > IDX_MAX_BYTES / dim) {
            nt_fail(e, "%s: %s too large (more than %llu bytes)", path, kind,
                     (unsigned long long)IDX_MAX_BYTES);
            goto fail;
        }
        bound *= dim;
        total *= dims[i];
    }

    /* malloc(0) may return NULL; allocate at least one byte so NULL always means failure. */
    buf = malloc(total > 0 ? (size_t)total : 1);
    if (!buf) {
        nt_fail(e, "%s: out of memory (%llu bytes)", path, (unsigned long long)total);
        rc = NT_EXIT_RUNTIME;
        goto fail;
    }
    got = read_full(f, buf, total);
    if (got < 0) {
        read_error(f, path, e);
        goto fail;
    }
    if ((uint64_t)got < total) {
        nt_fail(e, "%s: truncated file (%llu of %llu data bytes)", path,
                 (unsigned long long)got, (unsigned long long)total);
        goto fail;
    }
    uint8_t extra;
    got = read_full(f, &extra, 1);
    if (got < 0) {
        read_error(f, path, e);
        goto fail;
    }
    if (got > 0) {
        nt_fail(e, "%s: trailing data after the %llu bytes the header declares",
                 path, (unsigned long long)(hdr_len + total));
        goto fail;
    }
    *data = buf;
    buf = NULL;
    rc = 0;
fail:
    free(buf);
    gzclose(f);
    return rc;
}

int idx_read_images(const char *path, uint8_t **pixels, int64_t *n, int64_t *rows,
                    int64_t *cols, nt_err *e)
{
    uint32_t dims[3];
    int rc = idx_read(path, IDX_MAGIC_IMAGES, 3, "images", pixels, dims, e);
    if (rc) return rc;
    *n = dims[0];
    *rows = dims[1];
    *cols = dims[2];
    return 0;
}

int idx_read_labels(const char *path, uint8_t **labels, int64_t *n, nt_err *e)
{
    uint32_t dims[1];
    int rc = idx_read(path, IDX_MAGIC_LABELS, 1, "labels", labels, dims, e);
    if (rc) return rc;
    *n = dims[0];
    return 0;
}
