/* CSV and .npy importers for nndata (see import.h). The .npy payload is read as
 * little-endian; the host is assumed little-endian too (x86-64, as the build targets). */
#include "cli.h"
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5data.h"

/* Labels are int32 0..K-1; K itself must fit in int32. */
#define IMP_MAX_LABEL ((int64_t)INT32_MAX - 1)

static int seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

void imp_free(struct imp_data *s)
{
    free(s->x_u8);
    free(s->x_f32);
    free(s->y);
    free(s->yf);
    memset(s, 0, sizeof *s);
}

/* Grow *p (elements of size sz) to hold at least need elements. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2 / sz) return -1;
        c *= 2;
    }
    void *q = realloc(*p, c * sz);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

/* ---- CSV ----------------------------------------------------------------------------------- */

/* 0: finite number, 1: a number but not finite (nan, inf, or beyond float32), -1: not a
 * number. The whole cell must be the number. */
static int parse_num(const char *s, float *out)
{
    if (!*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (*end) return -1;
    if (!isfinite(v) || fabs(v) > FLT_MAX) return 1;
    *out = (float)v;
    return 0;
}

/* A class label: decimal digits only, 0..IMP_MAX_LABEL. */
static int parse_label(const char *s, int32_t *out)
{
    if (!*s) return -1;
    int64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return -1;
        v = v * 10 + (*p - '0');
        if (v > IMP_MAX_LABEL) return -1;
    }
    *out = (int32_t)v;
    return 0;
}

static int is_blank(int c, char delim) { return (c == ' ' || c == '\t') && c != delim; }

/* Split line in place at delim, trimming blanks around each cell. */
static int split_line(char *line, char delim, char ***cells, size_t *cap, size_t *n)
{
    *n = 0;
    char *p = line;
    for (;;) {
        if (grow((void **)cells, cap, *n + 1, sizeof **cells) < 0) return -1;
        char *e = strchr(p, delim);
        if (e) *e = '\0';
        while (is_blank(*p, delim)) p++;
        size_t len = strlen(p);
        while (len > 0 && is_blank(p[len - 1], delim)) p[--len] = '\0';
        (*cells)[(*n)++] = p;
        if (!e) return 0;
        p = e + 1;
    }
}

/* The column as named in messages: 'name' with a header, else its index. */
static const char *colname(char **names, size_t j, char *buf, size_t len)
{
    if (names)
        snprintf(buf, len, "'%.60s'", names[j]);
    else
        snprintf(buf, len, "%zu", j);
    return buf;
}

int import_csv(const char *path, const char *label, int header, int regression, char delim,
               struct imp_data *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));

    int label_is_index = *label != '\0';
    for (const char *p = label; *p; p++)
        if (!isdigit((unsigned char)*p)) label_is_index = 0;
    size_t lab = 0;
    if (label_is_index) {
        errno = 0;
        unsigned long long v = strtoull(label, NULL, 10);
        lab = (errno || v > SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)v;
    }

    char *line = NULL, **cells = NULL, **names = NULL;
    size_t linecap = 0, cellcap = 0, ncols = 0, nnames = 0;
    float *x = NULL, *yf = NULL;
    int32_t *y = NULL;
    size_t xcap = 0, ycap = 0, rows = 0;
    long lineno = 0, blank = 0;
    int rc = -1, seen = 0;
    char cb[80];
    ssize_t len;

    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if ((size_t)len != strlen(line)) {
            seterr(err, errlen, "%s:%ld: NUL byte in line (not a text file?)", path, lineno);
            goto done;
        }
        size_t sp = strspn(line, " \t");
        if (line[sp] == '\0') {
            if (!blank) blank = lineno;
            continue;
        }
        if (blank) {
            seterr(err, errlen, "%s:%ld: blank line inside the data", path, blank);
            goto done;
        }
        if (strchr(line, '"')) {
            seterr(err, errlen, "%s:%ld: quoted fields are not supported (found '\"')", path,
                   lineno);
            goto done;
        }
        size_t nf;
        if (split_line(line, delim, &cells, &cellcap, &nf) < 0) {
            seterr(err, errlen, "%s:%ld: out of memory", path, lineno);
            goto done;
        }
        if (!seen) {
            /* First non-blank row: decides the columns, the header and the label column. */
            seen = 1;
            ncols = nf;
            int is_header = header == IMP_HEADER_YES;
            if (header == IMP_HEADER_AUTO) {
                for (size_t j = 0; j < nf; j++) {
                    float v;
                    if (label_is_index && j == lab) continue;
                    if (parse_num(cells[j], &v) < 0) is_header = 1;
                }
            }
            if (is_header) {
                names = calloc(nf, sizeof *names);
                if (!names) {
                    seterr(err, errlen, "%s:%ld: out of memory", path, lineno);
                    goto done;
                }
                nnames = nf;
                int found = 0;
                for (size_t j = 0; j < nf; j++) {
                    names[j] = strdup(cells[j]);
                    if (!names[j]) {
                        seterr(err, errlen, "%s:%ld: out of memory", path, lineno);
                        goto done;
                    }
                    if (!found && strcmp(cells[j], label) == 0) lab = j, found = 1;
                }
                if (!found && !label_is_index) {
                    seterr(err, errlen, "%s:%ld: label column '%.60s' is not in the header",
                           path, lineno, label);
                    goto done;
                }
            } else if (!label_is_index) {
                seterr(err, errlen,
                       "%s:%ld: no header row, so the label column must be a 0-based index, "
                       "not '%.60s'",
                       path, lineno, label);
                goto done;
            }
            if (lab >= ncols) {
                seterr(err, errlen, "%s:%ld: label column %s does not exist (%zu columns)",
                       path, lineno, label, ncols);
                goto done;
            }
            if (ncols < 2) {
                seterr(err, errlen, "%s:%ld: 1 column: need a label and at least one feature",
                       path, lineno);
                goto done;
            }
            if (is_header) continue;
        }
        if (nf != ncols) {
            seterr(err, errlen, "%s:%ld: %zu field%s, expected %zu", path, lineno, nf,
                   nf == 1 ? "" : "s", ncols);
            goto done;
        }
        size_t d = ncols - 1;
        if (grow((void **)&x, &xcap, (rows + 1) * d, sizeof *x) < 0 ||
            (regression ? grow((void **)&yf, &ycap, rows + 1, sizeof *yf)
                        : grow((void **)&y, &ycap, rows + 1, sizeof *y)) < 0) {
            seterr(err, errlen, "%s:%ld: out of memory", path, lineno);
            goto done;
        }
        float *xr = x + rows * d;
        for (size_t j = 0; j < ncols; j++) {
            const char *c = cells[j];
            if (j == lab && !regression) {
                if (parse_label(c, &y[rows]) < 0) {
                    seterr(err, errlen,
                           "%s:%ld: label column %s: '%.40s' is not a class label (an integer "
                           "0..%lld)",
                           path, lineno, colname(names, j, cb, sizeof cb), c,
                           (long long)IMP_MAX_LABEL);
                    goto done;
                }
                continue;
            }
            float v;
            int r = parse_num(c, &v);
            if (r != 0) {
                seterr(err, errlen, "%s:%ld: %scolumn %s: '%.40s' is not a %snumber", path,
                       lineno, j == lab ? "label " : "", colname(names, j, cb, sizeof cb), c,
                       r > 0 ? "finite " : "");
                goto done;
            }
            if (j == lab)
                yf[rows] = v;
            else
                *xr++ = v;
        }
        rows++;
    }
    if (ferror(f)) {
        seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (!seen) {
        seterr(err, errlen, "%s: empty file", path);
        goto done;
    }
    if (rows == 0) {
        seterr(err, errlen, "%s: no data rows (only a header)", path);
        goto done;
    }
    out->n = (int64_t)rows;
    out->d = (int64_t)(ncols - 1);
    out->k = regression ? 1 : 0;
    out->x_f32 = x;
    out->y = y;
    out->yf = yf;
    x = NULL, y = NULL, yf = NULL;
    rc = 0;
done:
    fclose(f);
    free(line);
    free(cells);
    for (size_t j = 0; j < nnames; j++) free(names[j]);
    free(names);
    free(x);
    free(y);
    free(yf);
    return rc;
}

/* ---- .npy ---------------------------------------------------------------------------------- */

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

int npy_read(const char *path, struct npy_array *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    FILE *f = fopen(path, "rb");
    if (!f) return seterr(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    char *hdr = NULL;
    int rc = -1;
    size_t got = fread(pre, 1, 10, f);
    if (got < 8 || memcmp(pre, "\x93NUMPY", 6) != 0) {
        seterr(err, errlen, "%s: not a .npy file (bad magic)", path);
        goto done;
    }
    size_t hlen;
    if (got < 10) {
        seterr(err, errlen, "%s: truncated header", path);
        goto done;
    }
    if (pre[6] == 1) {
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
    } else if (pre[6] == 2 || pre[6] == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            seterr(err, errlen, "%s: truncated header", path);
            goto done;
        }
        hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
               (size_t)pre[11] << 24;
    } else {
        seterr(err, errlen, "%s: unsupported .npy format version %d.%d", path, pre[6], pre[7]);
        goto done;
    }
    if (hlen > (1u << 24)) {
        seterr(err, errlen, "%s: header too long (%zu bytes)", path, hlen);
        goto done;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        seterr(err, errlen, "%s: out of memory", path);
        goto done;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        seterr(err, errlen, "%s: truncated header", path);
        goto done;
    }
    hdr[hlen] = '\0';
    if (strlen(hdr) != hlen) {
        seterr(err, errlen, "%s: malformed header (NUL byte)", path);
        goto done;
    }
    const char *why = npy_dict(hdr, a);
    if (why) {
        seterr(err, errlen, "%s: %s", path, why);
        goto done;
    }
    if (a->fortran_order) {
        seterr(err, errlen,
               "%s: fortran_order True is not supported (save a C-ordered array, "
               "np.ascontiguousarray)",
               path);
        goto done;
    }
    a->itemsize = dtype_size(a->descr);
    if (!a->itemsize) {
        seterr(err, errlen, "%s: dtype '%s' is not supported (int or float)", path, a->descr);
        goto done;
    }
    int64_t count = 1;
    for (int i = 0; i < a->ndim; i++) {
        if (a->shape[i] && count > (int64_t)(SIZE_MAX / 16) / a->shape[i]) {
            seterr(err, errlen, "%s: shape too large", path);
            goto done;
        }
        count *= a->shape[i];
    }
    a->count = count;
    size_t bytes = (size_t)count * a->itemsize;
    a->data = malloc(bytes ? bytes : 1);
    if (!a->data) {
        seterr(err, errlen, "%s: out of memory for %zu bytes", path, bytes);
        goto done;
    }
    size_t rd = fread(a->data, 1, bytes, f);
    if (rd != bytes) {
        seterr(err, errlen, "%s: truncated data (%zu of %zu bytes)", path, rd, bytes);
        goto done;
    }
    if (fgetc(f) != EOF) {
        seterr(err, errlen, "%s: trailing bytes after the data", path);
        goto done;
    }
    if (ferror(f)) {
        seterr(err, errlen, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    fclose(f);
    free(hdr);
    if (rc < 0) npy_free(a);
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
               char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct npy_array xa, ya;
    char sh[200];
    if (npy_read(xpath, &xa, err, errlen) < 0) return -1;
    if (npy_read(ypath, &ya, err, errlen) < 0) {
        npy_free(&xa);
        return -1;
    }
    int rc = -1;
    char xk = xa.descr[1], yk = ya.descr[1];
    if (!((xk == 'f' && (xa.itemsize == 4 || xa.itemsize == 8)) ||
          (xk == 'u' && xa.itemsize == 1))) {
        seterr(err, errlen, "%s: dtype '%s' is not supported for X (<f4, <f8 or |u1)", xpath,
               xa.descr);
        goto done;
    }
    if (xa.ndim != 2 || xa.shape[0] < 1 || xa.shape[1] < 1) {
        shape_str(&xa, sh, sizeof sh);
        seterr(err, errlen, "%s: X must be 2-D (N, D) with N, D >= 1, got shape %s", xpath, sh);
        goto done;
    }
    int64_t n = xa.shape[0], d = xa.shape[1];
    if (yk == 'b' || (!regression && yk == 'f')) {
        seterr(err, errlen,
               yk == 'f' ? "%s: dtype '%s' is float: labels must be integers (use "
                           "--regression for float targets)"
                         : "%s: dtype '%s' is not supported (int or float)",
               ypath, ya.descr);
        goto done;
    }
    int64_t k = ya.ndim == 2 ? ya.shape[1] : 1;
    if (ya.ndim < 1 || ya.ndim > 2 || k < 1 || (!regression && ya.ndim == 2 && k != 1)) {
        shape_str(&ya, sh, sizeof sh);
        seterr(err, errlen, "%s: y must be %s, got shape %s", ypath,
               regression ? "(N,) or (N, K)" : "1-D (N,)", sh);
        goto done;
    }
    if (ya.shape[0] != n) {
        seterr(err, errlen, "%s: %lld rows, but %s has %lld", ypath, (long long)ya.shape[0],
               xpath, (long long)n);
        goto done;
    }
    if (xk == 'u') {
        out->x_u8 = xa.data;
        xa.data = NULL;
    } else {
        out->x_f32 = malloc((size_t)(n * d) * sizeof *out->x_f32);
        if (!out->x_f32) {
            seterr(err, errlen, "%s: out of memory", xpath);
            goto done;
        }
        for (int64_t i = 0; i < n * d; i++) {
            double v = npy_num(&xa, i);
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                seterr(err, errlen, "%s: row %lld, column %lld: %g is not a finite float32",
                       xpath, (long long)(i / d), (long long)(i % d), v);
                goto done;
            }
            out->x_f32[i] = (float)v;
        }
    }
    if (regression) {
        out->yf = malloc((size_t)(n * k) * sizeof *out->yf);
        if (!out->yf) {
            seterr(err, errlen, "%s: out of memory", ypath);
            goto done;
        }
        for (int64_t i = 0; i < n * k; i++) {
            double v = npy_num(&ya, i);
            if (!isfinite(v) || fabs(v) > FLT_MAX) {
                seterr(err, errlen, "%s: row %lld: target %g is not a finite float32", ypath,
                       (long long)(i / k), v);
                goto done;
            }
            out->yf[i] = (float)v;
        }
        out->k = k;
    } else {
        out->y = malloc((size_t)n * sizeof *out->y);
        if (!out->y) {
            seterr(err, errlen, "%s: out of memory", ypath);
            goto done;
        }
        for (int64_t i = 0; i < n; i++) {
            int64_t v = npy_int(&ya, i);
            if (v < 0 || v > IMP_MAX_LABEL) {
                seterr(err, errlen, "%s: row %lld: label %lld is %s (labels are 0..%lld)", ypath,
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
    if (rc < 0) imp_free(out);
    return rc;
}

/* ---- commands ------------------------------------------------------------------------------ */

struct iopt {
    const char *name;
    const char **val; /* option with a value */
    int *flag;        /* flag without a value */
};

/* Positionals into pos (up to maxpos), options per opts. Returns -1 to continue, or an exit
 * code (usage error, or 0 after --help). */
static int parse_cli(int argc, char **argv, const char *cmd, const struct iopt *opts,
                     const char **pos, int maxpos, int *npos, const char *usage)
{
    int only_pos = 0;
    *npos = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*npos == maxpos)
                return nd_fail(EXIT_USAGE, cmd, "too many arguments (try 'nndata --help')");
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const struct iopt *o = NULL;
        for (const struct iopt *p = opts; a[1] == '-' && p->name; p++)
            if (strlen(p->name) == nlen && strncmp(p->name, name, nlen) == 0) o = p;
        if (!o) {
            fprintf(stderr, "nndata: error: %.*s: unknown option for %s (try 'nndata --help')\n",
                    eq ? (int)(eq - a) : (int)strlen(a), a, cmd);
            return EXIT_USAGE;
        }
        if (o->flag) {
            if (eq) return nd_fail(EXIT_USAGE, a, "option takes no value");
            *o->flag = 1;
        } else if (eq) {
            *o->val = eq + 1;
        } else {
            if (i + 1 >= argc) return nd_fail(EXIT_USAGE, a, "missing value");
            *o->val = argv[++i];
        }
    }
    return -1;
}

/* Write s to out and print the one-line summary. */
static int write_out(const char *out, struct imp_data *s, float scale)
{
    char err[512];
    int r = s->yf ? h5data_write_regression(out, s->n, s->d, s->x_u8, s->x_f32, scale, s->yf,
                                            s->k, err, sizeof err)
                  : h5data_write(out, s->n, s->d, s->x_u8, s->x_f32, scale, s->y, err,
                                 sizeof err);
    if (r < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        return EXIT_RUNTIME;
    }
    printf("%s: %lld x %lld %s, ", out, (long long)s->n, (long long)s->d,
           s->x_u8 ? "uint8" : "float32");
    if (s->yf)
        printf("regression (%lld target%s)\n", (long long)s->k, s->k == 1 ? "" : "s");
    else
        printf("%d classes\n", nd_count_classes(s->y, s->n));
    return EXIT_OK;
}

int import_csv_main(int argc, char **argv, const char *usage)
{
    const char *cmd = "import-csv", *label = NULL, *delim_s = NULL, *pos[2];
    int no_header = 0, regression = 0, npos;
    const struct iopt opts[] = {{"label", &label, NULL},
                                {"delimiter", &delim_s, NULL},
                                {"no-header", NULL, &no_header},
                                {"regression", NULL, &regression},
                                {NULL, NULL, NULL}};
    int rc = parse_cli(argc, argv, cmd, opts, pos, 2, &npos, usage);
    if (rc >= 0) return rc;
    if (npos != 2)
        return nd_fail(EXIT_USAGE, cmd, "expected IN.csv OUT.h5, got %d argument%s", npos,
                    npos == 1 ? "" : "s");
    if (!label) return nd_fail(EXIT_USAGE, cmd, "--label COLUMN is required");
    if (!*label) return nd_fail(EXIT_USAGE, "--label", "must not be empty");
    char delim = ',';
    if (delim_s) {
        if (strcmp(delim_s, "\\t") == 0 || strcmp(delim_s, "tab") == 0)
            delim = '\t';
        else if (strlen(delim_s) == 1 && !strchr("\"\r\n", delim_s[0]))
            delim = delim_s[0];
        else
            return nd_fail(EXIT_USAGE, delim_s,
                        "--delimiter must be one character (not a quote), or 'tab'");
    }
    struct imp_data s;
    char err[512];
    if (import_csv(pos[0], label, no_header ? IMP_HEADER_NO : IMP_HEADER_AUTO, regression, delim,
                   &s, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        return EXIT_RUNTIME;
    }
    rc = write_out(pos[1], &s, 0.0f);
    imp_free(&s);
    return rc;
}

int import_npy_main(int argc, char **argv, const char *usage)
{
    const char *cmd = "import-npy", *scale_s = NULL, *pos[3];
    int regression = 0, npos;
    const struct iopt opts[] = {{"scale", &scale_s, NULL},
                                {"regression", NULL, &regression},
                                {NULL, NULL, NULL}};
    int rc = parse_cli(argc, argv, cmd, opts, pos, 3, &npos, usage);
    if (rc >= 0) return rc;
    if (npos != 3)
        return nd_fail(EXIT_USAGE, cmd, "expected X.npy Y.npy OUT.h5, got %d argument%s", npos,
                    npos == 1 ? "" : "s");
    float scale = 0.0f;
    if (scale_s) {
        char *end = NULL;
        errno = 0;
        double v = 0;
        if (*scale_s && !isspace((unsigned char)*scale_s)) v = strtod(scale_s, &end);
        if (!end || errno || *end || !isfinite(v) || v <= 0 || v > FLT_MAX)
            return nd_fail(EXIT_USAGE, scale_s, "--scale must be a finite number > 0");
        scale = (float)v;
    }
    struct imp_data s;
    char err[512];
    if (import_npy(pos[0], pos[1], regression, &s, err, sizeof err) < 0) {
        fprintf(stderr, "nndata: error: %s\n", err);
        return EXIT_RUNTIME;
    }
    if (scale_s && !s.x_u8) {
        imp_free(&s);
        return nd_fail(EXIT_RUNTIME, pos[0], "--scale applies to uint8 X only (this X is float)");
    }
    rc = write_out(pos[2], &s, scale);
    imp_free(&s);
    return rc;
}
