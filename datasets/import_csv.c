/* nndata import-csv's parser: delimited text into an imp_data (see import.h). Pure: no output,
 * no exit; errors name the file and line. Every function that fills e returns 0 or the kind
 * of failure: NT_EXIT_INPUT (the file), NT_EXIT_RUNTIME (out of memory). */
#include "import.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

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

/* The parser's state between lines. */
struct csv {
    const char *path, *label;
    int header, regression, label_is_index, seen;
    char delim;
    size_t lab;                       /* the label column */
    char **cells, **names;            /* this line's cells; the header's names (or NULL) */
    size_t cellcap, ncols, nnames;
    float *x, *yf;
    int32_t *y;
    size_t xcap, ycap, rows;
};

/* The first non-blank row decides the columns, the header and the label column. Sets
 * *is_header. */
static int first_row(struct csv *c, size_t nf, long lineno, int *is_header, nt_err *e)
{
    c->seen = 1;
    c->ncols = nf;
    *is_header = c->header == IMP_HEADER_YES;
    if (c->header == IMP_HEADER_AUTO) {
        for (size_t j = 0; j < nf; j++) {
            float v;
            if (c->label_is_index && j == c->lab) continue;
            if (parse_num(c->cells[j], &v) < 0) *is_header = 1;
        }
    }
    if (*is_header) {
        c->names = calloc(nf, sizeof *c->names);
        if (!c->names)
            return nt_fail(e, "%s:%ld: out of memory", c->path, lineno), NT_EXIT_RUNTIME;
        c->nnames = nf;
        int found = 0;
        for (size_t j = 0; j < nf; j++) {
            c->names[j] = strdup(c->cells[j]);
            if (!c->names[j])
                return nt_fail(e, "%s:%ld: out of memory", c->path, lineno), NT_EXIT_RUNTIME;
            if (!found && strcmp(c->cells[j], c->label) == 0) c->lab = j, found = 1;
        }
        if (!found && !c->label_is_index)
            return nt_fail(e, "%s:%ld: label column '%.60s' is not in the header", c->path,
                           lineno, c->label), NT_EXIT_INPUT;
    } else if (!c->label_is_index) {
        return nt_fail(e, "%s:%ld: no header row, so the label column must be a 0-based index, "
                       "not '%.60s'", c->path, lineno, c->label), NT_EXIT_INPUT;
    }
    if (c->lab >= c->ncols)
        return nt_fail(e, "%s:%ld: label column %s does not exist (%zu columns)", c->path, lineno,
                       c->label, c->ncols), NT_EXIT_INPUT;
    if (c->ncols < 2)
        return nt_fail(e, "%s:%ld: 1 column: need a label and at least one feature", c->path,
                       lineno), NT_EXIT_INPUT;
    return 0;
}

/* One data row of nf cells: features into x, the label into y (or the target into yf). */
static int data_row(struct csv *c, size_t nf, long lineno, nt_err *e)
{
    char cb[80];
    if (nf != c->ncols)
        return nt_fail(e, "%s:%ld: %zu field%s, expected %zu", c->path, lineno, nf,
                       nf == 1 ? "" : "s", c->ncols), NT_EXIT_INPUT;
    size_t d = c->ncols - 1;
    if (grow((void **)&c->x, &c->xcap, (c->rows + 1) * d, sizeof *c->x) < 0 ||
        (c->regression ? grow((void **)&c->yf, &c->ycap, c->rows + 1, sizeof *c->yf)
                       : grow((void **)&c->y, &c->ycap, c->rows + 1, sizeof *c->y)) < 0)
        return nt_fail(e, "%s:%ld: out of memory", c->path, lineno), NT_EXIT_RUNTIME;
    float *xr = c->x + c->rows * d;
    for (size_t j = 0; j < c->ncols; j++) {
        const char *s = c->cells[j];
        if (j == c->lab && !c->regression) {
            if (parse_label(s, &c->y[c->rows]) < 0)
                return nt_fail(e, "%s:%ld: label column %s: '%.40s' is not a class label (an "
                               "integer 0..%lld)", c->path, lineno,
                               colname(c->names, j, cb, sizeof cb), s, (long long)IMP_MAX_LABEL),
                       NT_EXIT_INPUT;
            continue;
        }
        float v;
        int r = parse_num(s, &v);
        if (r != 0)
            return nt_fail(e, "%s:%ld: %scolumn %s: '%.40s' is not a %snumber", c->path, lineno,
                           j == c->lab ? "label " : "", colname(c->names, j, cb, sizeof cb), s,
                           r > 0 ? "finite " : ""), NT_EXIT_INPUT;
        if (j == c->lab)
            c->yf[c->rows] = v;
        else
            *xr++ = v;
    }
    c->rows++;
    return 0;
}

/* One line (newline stripped, len bytes): blank lines may only end the file, no quotes. */
static int one_line(struct csv *c, char *line, size_t len, long lineno, long *blank, nt_err *e)
{
    if (len != strlen(line))
        return nt_fail(e, "%s:%ld: NUL byte in line (not a text file?)", c->path, lineno),
               NT_EXIT_INPUT;
    if (line[strspn(line, " \t")] == '\0') {
        if (!*blank) *blank = lineno;
        return 0;
    }
    if (*blank)
        return nt_fail(e, "%s:%ld: blank line inside the data", c->path, *blank), NT_EXIT_INPUT;
    if (strchr(line, '"'))
        return nt_fail(e, "%s:%ld: quoted fields are not supported (found '\"')", c->path,
                       lineno), NT_EXIT_INPUT;
    size_t nf;
    if (split_line(line, c->delim, &c->cells, &c->cellcap, &nf) < 0)
        return nt_fail(e, "%s:%ld: out of memory", c->path, lineno), NT_EXIT_RUNTIME;
    if (!c->seen) {
        int is_header, rc = first_row(c, nf, lineno, &is_header, e);
        if (rc) return rc;
        if (is_header) return 0;
    }
    return data_row(c, nf, lineno, e);
}

int import_csv(const char *path, const char *label, int header, int regression, char delim,
               struct imp_data *out, nt_err *e)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return nt_fail(e, "%s: cannot open: %s", path, strerror(errno)), NT_EXIT_INPUT;
    struct csv c = {.path = path, .label = label, .header = header, .regression = regression,
                    .delim = delim, .label_is_index = *label != '\0'};
    for (const char *p = label; *p; p++)
        if (!isdigit((unsigned char)*p)) c.label_is_index = 0;
    if (c.label_is_index) {
        errno = 0;
        unsigned long long v = strtoull(label, NULL, 10);
        c.lab = (errno || v > SIZE_MAX / 2) ? SIZE_MAX / 2 : (size_t)v;
    }
    char *line = NULL;
    size_t linecap = 0;
    long lineno = 0, blank = 0;
    ssize_t len;
    int rc = NT_EXIT_INPUT;
    while ((len = getline(&line, &linecap, f)) >= 0) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        if (len > 0 && line[len - 1] == '\r') line[--len] = '\0';
        if ((rc = one_line(&c, line, (size_t)len, lineno, &blank, e))) goto done;
    }
    rc = NT_EXIT_INPUT;
    if (ferror(f))
        nt_fail(e, "%s: read error: %s", path, strerror(errno));
    else if (!c.seen)
        nt_fail(e, "%s: empty file", path);
    else if (c.rows == 0)
        nt_fail(e, "%s: no data rows (only a header)", path);
    else
        rc = 0;
    if (rc == 0) {
        *out = (struct imp_data){.n = (int64_t)c.rows, .d = (int64_t)(c.ncols - 1),
                                 .k = regression ? 1 : 0, .x_f32 = c.x, .y = c.y, .yf = c.yf};
        c.x = NULL, c.y = NULL, c.yf = NULL;
    }
done:
    fclose(f);
    free(line);
    free(c.cells);
    for (size_t j = 0; j < c.nnames; j++) free(c.names[j]);
    free(c.names);
    free(c.x);
    free(c.y);
    free(c.yf);
    return rc;
}
