/* nndata import-npy's reader: NumPy .npy files (format 1.0-3.0) and X / y arrays into an
 * imp_data (see import.h). The payload is read as little-endian; the host is assumed
 * little-endian too (x86-64, as the build targets). Pure: no output, no exit. npy_read and
 * import_npy return 0, NT_EXIT_INPUT (a missing or malformed file, arrays that do not fit
 * together) or NT_EXIT_RUNTIME (out of memory). */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void npy_free(struct npy_array *a)
{
    free(a->data);
    a->data = NULL;
}

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* A Python string literal without escapes ('...' or "..."). */
static const char *py_str(const char *p, char *out, size_t cap)
{
    char q = *p;
    if (q != '\'' && q != '"') return NULL;
    const char *e = strchr(p + 1, q);
    if (!e || (size_t)(e - p - 1) >= cap) return NULL;
    memcpy(out, p + 1, (size_t)(e - p - 1));
    out[e - p - 1] = '\0';
    return e + 1;
}

/* Parse the header dict into a. Returns NULL on success or a short reason. */
static const char *npy_dict(const char *p, struct npy_array *a)
{
    int have = 0;
    p = skip_ws(p);
    if (*p++ != '{') return "header is not a dict";
    for (;;) {
        p = skip_ws(p);
        if (*p == '}') break;
        char key[32];
        if (!(p = py_str(p, key, sizeof key))) return "malformed header key";
        p = skip_ws(p);
        if (*p++ != ':') return "malformed header (expected ':')";
        p = skip_ws(p);
        if (strcmp(key, "descr") == 0) {
            if (*p == '[') return "structured dtypes are not supported";
            if (!(p = py_str(p, a->descr, sizeof a->descr))) return "malformed 'descr'";
            have |= 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (strncmp(p, "True", 4) == 0) a->fortran_order = 1, p += 4;
            else if (strncmp(p, "False", 5) == 0) a->fortran_order = 0, p += 5;
            else return "malformed 'fortran_order'";
            have |= 2;
        } else if (strcmp(key, "shape") == 0) {
            if (*p++ != '(') return "malformed 'shape'";
            a->ndim = 0;
            for (;;) {
                p = skip_ws(p);
                if (*p == ')') break;
                if (!isdigit((unsigned char)*p)) return "malformed 'shape'";
                if (a->ndim == (int)(sizeof a->shape / sizeof a->shape[0]))
                    return "too many dimensions";
                errno = 0;
                char *end;
                long long v = strtoll(p, &end, 10);
                if (errno || v < 0) return "malformed 'shape'";
                a->shape[a->ndim++] = v;
                p = skip_ws(end);
                if (*p == ',') p++;
                else if (*p != ')') return "malformed 'shape'";
            }
            p++;
            have |= 4;
        } else {
            return "unknown key in header";
        }
        p = skip_ws(p);
        if (*p == ',') p++;
        else if (*p != '}') return "malformed header (expected ',' or '}')";
    }
    if (have != 7) return "header lacks 'descr', 'fortran_order' or 'shape'";
    return NULL;
}

/* Size of a supported dtype: little-endian (or byte-sized) b/i/u/f; 0 otherwise. */
static size_t dtype_size(const char *descr)
{
    char e = descr[0], kind = descr[1];
    if (!e || !kind || !strchr("<|=", e) || !strchr("biuf", kind)) return 0;
    const char *s = descr + 2;
    if (!strcmp(s, "1")) return kind == 'f' ? 0 : 1;
    if (e == '|') return 0;
    if (!strcmp(s, "2")) return kind == 'b' ? 0 : 2;
    if (!strcmp(s, "4")) return kind == 'b' ? 0 : 4;
    if (!strcmp(s, "8")) return kind == 'b' ? 0 : 8;
    return 0;
}

int npy_read(const char *path, struct npy_array *a, nt_err *e)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) return nt_fail(e, "%s: cannot open: %s", path, strerror(errno)), NT_EXIT_INPUT;
    unsigned char pre[12];
    char *hdr = NULL;
    int rc = NT_EXIT_INPUT;
    size_t got = fread(pre, 1, 10, f);
    if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        nt_fail(e, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen;
    if (got < 10) {
        nt_fail(e, "%s: truncated header", path);
        goto done;
    }
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            nt_fail(e, "%s: truncated header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
    } else {
        nt_fail(e, "%s: unsupported .npy format version %d.%d", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > (1u << 24)) {
        nt_fail(e, "%s: header too long (%zu bytes)", path, hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        nt_fail(e, "%s: out of memory", path);
        rc = NT_EXIT_RUNTIME;
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        nt_fail(e, "%s: truncated header", path);
        goto done;
    }
    hdr[hlen] = '\0';
    if (strlen(hdr) != hlen) {
        nt_fail(e, "%s: malformed header (NUL byte)", path);
        goto done;
    }
    const char *why = npy_dict(hdr, a);
    if (why) {
        nt_fail(e, "%s: %s", path, why);
        goto done;
    }
    if (a->fortran_order) {
        nt_fail(e,
               "%s: fortran_order True is not supported (save a C-ordered array, "
               "np.ascontiguousarray)",
               path);
        goto done;
    }
    a->itemsize = dtype_size(a->descr);
    if (!a->itemsize) {
        nt_fail(e, "%s: dtype '%s' is not supported (int or float)", path, a->descr);
        goto done;
    }
    int64_t count = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] && count > (int64_t)(SIZE_MAX / 16) / a->shape[i]) {
            nt_fail(e, "%s: shape too large", path);
            goto done;
        }
        count *= a->shape[i];
    }
    a->count = count;
    size_t bytes = (size_t)count * a->itemsize;
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data) {
        nt_fail(e, "%s: out of memory for %zu bytes", path, bytes);
        rc = NT_EXIT_RUNTIME;
        goto done;
    }
    size_t rd = fread(a->data, 1, bytes, f);
    if (rd != bytes) {
        nt_fail(e, "%s: truncated data (%zu of %zu bytes)", path, rd, bytes);
        goto done;
    }
    if (fgetc(f) != EOF) {
        nt_fail(e, "%s: trailing bytes after the data", path);
        goto done;
    }
    if (ferror(f)) {
        nt_fail(e, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    fclose(f);
    free(hdr);
    if (rc) npy_free(a);
    return rc;
}

static void shape_str(const struct npy_array *a, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "(");
    for (int i = 0; i < a->ndim && o < len; i++)
        o += (size_t)snprintf(buf + o, len - o, "%s%lld", i ? ", " : "", (long long)a->shape[i]);
    if (o < len) snprintf(buf + o, len - o, a->ndim == 1 ? ",)" : ")");
}

/* Element i of an integer array as int64 (uint64 beyond INT64_MAX saturates). */
static int64_t npy_int(const struct npy_array *a, int64_t i)
{
    const unsigned char *p = (const unsigned char *)a->data + (size_t)i * a->itemsize;
    int is_u = a->descr[1] == 'u' || a->descr[1] == 'b';
    switch (a->itemsize) {
    case 1: return is_u ? (int64_t)p[0] : (int64_t)(int8_t)p[0];
    case 2: { uint16_t v; memcpy(&v, p, 2); return is_u ? (int64_t)v : (int64_t)(int16_t)v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return is_u ? (int64_t)v : (int64_t)(int32_t)v; }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        if (is_u) return v > INT64_MAX ? INT64_MAX : (int64_t)v;
        return (int64_t)v;
    }
    }
}

/* Element i of a numeric array as double. */
static double npy_num(const struct npy_array *a, int64_t i)
{
    if (a->descr[1] != 'f') return (double)npy_int(a, i);
    const unsigned char *p = (const unsigned char *)a->data + (size_t)i * a->itemsize;
    if (a->itemsize == 4) {
        float v;
        memcpy(&v, p, 4);
        return v;
    }
    double v;
    memcpy(&v, p, 8);
    return v;
}

int import_npy(const char *xpath, const char *ypath, int regression, struct imp_data *out,
               nt_err *e)
{
    memset(out, 0, sizeof *out);
    struct npy_array xa, ya;
    char sh[200];
    int rc = npy_read(xpath, &xa, e);
    if (rc) return rc;
    if ((rc = npy_read(ypath, &ya, e))) {
        npy_free(&xa);
        return rc;
    }
    rc = NT_EXIT_INPUT;
    char xk = xa.descr[1], yk = ya.descr[1];
    if (!((xk == 'f' && (xa.itemsize == 4 || xa.itemsize == 8)) ||
          (xk == 'u' && xa.itemsize == 1))) {
        nt_fail(e, "%s: dtype '%s' is not supported for X (<f4, <f8 or |u1)", xpath,
               xa.descr);
        goto done;
    }
    if (xa.ndim != 2 || xa.shape[0] < 1 || xa.shape[1] < 1) {
        shape_str(&xa, sh, sizeof sh);
        nt_fail(e, "%s: X must be 2-D (N, D) with N, D >= 1, got shape %s", xpath, sh);
        goto done;
    }
    int64_t n = xa.shape[0], d = xa.shape[1];
    if (yk == 'b' || (!regression && yk == 'f')) {
        nt_fail(e,
               yk == 'f' ? "%s: dtype '%s' is float: labels must be integers (use "
                           "--regression for float targets)"
                         : "%s: dtype '%s' is not supported (int or float)",
               ypath, ya.descr);
        goto done;
    }
    int64_t k = ya.ndim == 2 ? ya.shape[1] : 1;
    if (ya.ndim < 1 || ya.ndim > 2 || k < 1 || (!regression && ya.ndim == 2 && k != 1)) {
        shape_str(&ya, sh, sizeof sh);
        nt_fail(e, "%s: y must be %s, got shape %s", ypath,
               regression ? "(N,) or (N, K)" : "1-D (N,)", sh);
        goto done;
    }
    if (ya.shape[0] != n) {
        nt_fail(e, "%s: %lld rows, but %s has %lld", ypath, (long long)ya.shape[0],
               xpath, (long long)n);
        goto done;
    }
    if (xk == 'u') {
        out->x_u8 = xa.data;
        xa.data = NULL;
    } else {
        out->x_f32 = malloc((size_t)(n * d) * sizeof *out->x_f32);
        if (!out->x_f32) {
            nt_fail(e, "%s: out of memory", xpath);
            rc = NT_EXIT_RUNTIME;
            goto done;
        }
        for (int64_t i = 0; i < n * d; i++) {
            double v = npy_num(&xa, i);
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                nt_fail(e, "%s: row %lld, column %lld: %g is not a finite float32",
                       xpath, (long long)(i / d), (long long)(i % d), v);
                goto done;
            }
            out->x_f32[i] = (float)v;
        }
    }
    if (regression) {
        out->yf = malloc((size_t)(n * k) * sizeof *out->yf);
        if (!out->yf) {
            nt_fail(e, "%s: out of memory", ypath);
            rc = NT_EXIT_RUNTIME;
            goto done;
        }
        for (int64_t i = 0; i < n * k; i++) {
            double v = npy_num(&ya, i);
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                nt_fail(e, "%s: row %lld: target %g is not a finite float32", ypath,
                       (long long)(i / k), v);
                goto done;
            }
            out->yf[i] = (float)v;
        }
        out->k = k;
    } else {
        out->y = malloc((size_t)n * sizeof *out->y);
        if (!out->y) {
            nt_fail(e, "%s: out of memory", ypath);
            rc = NT_EXIT_RUNTIME;
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t v = npy_int(&ya, i);
            if (v < 0 || v > IMP_MAX_LABEL) {
                nt_fail(e, "%s: row %lld: label %lld is %s (labels are 0..%lld)", ypath,
                       (long long)i, (long long)v, v < 0 ? "negative" : "too large",
                       (long long)IMP_MAX_LABEL);
                goto done;
            }
            out->y[i] = (int32_t)v;
        }
    }
    out->n = n;
    out->d = d;
    rc = 0;
done:
    npy_free(&xa);
    npy_free(&ya);
    if (rc) imp_free(out);
    return rc;
}
