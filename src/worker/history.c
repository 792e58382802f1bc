/* The per-epoch history and its column table (history.h): the one description of a row of
 * results, rendered as metrics.csv, checkpoint /metrics and JSON, and read back for plots. */
#define _GNU_SOURCE
#include "history.h"
#include "cli.h" /* nn_trim */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* name in classification runs (NULL: not shown), in regression runs, in checkpoints (NULL:
 * not stored), metrics.csv number format */
typedef struct { const char *cls, *reg, *stored, *fmt; } hcol;

#define SET_COLS(set)                                                                  \
    {set "_loss", set "_loss", set "_loss", "%.6f"},                                   \
    {set "_acc", set "_rmse", set "_acc_or_rmse", "%.6f"},                             \
    {NULL, set "_mae", set "_mae", "%.6f"}

static const hcol cols[NT_H_NCOLS] = {
    {"epoch", "epoch", "epoch", "%.0f"},
    SET_COLS("train"), SET_COLS("val"), SET_COLS("test"),
    {"samples_per_s", "samples_per_s", "samples_per_s", "%.1f"},
    {"elapsed_s", "elapsed_s", "elapsed_s", "%.3f"},
    {"lr", "lr", "lr", "%.6g"},
    {"data_wait_s", "data_wait_s", NULL, "%.4f"},
    {"allreduce_s", "allreduce_s", NULL, "%.4f"},
    {"allreduce_exposed_s", "allreduce_exposed_s", NULL, "%.4f"},
    {"best_epoch", "best_epoch", NULL, "%.0f"},
};

const int nt_history_csv_order[] = {
    NT_H_EPOCH, NT_H_TRAIN_LOSS, NT_H_TRAIN_M1, NT_H_TRAIN_M2, NT_H_VAL_LOSS, NT_H_VAL_M1,
    NT_H_VAL_M2, NT_H_SAMPLES_PER_S, NT_H_ELAPSED_S, NT_H_LR, NT_H_TEST_LOSS, NT_H_TEST_M1,
    NT_H_TEST_M2, NT_H_DATA_WAIT_S, NT_H_ALLREDUCE_S, NT_H_EXPOSED_S, NT_H_BEST_EPOCH, -1};
const int nt_history_json_order[] = {
    NT_H_TRAIN_LOSS, NT_H_TRAIN_M1, NT_H_TRAIN_M2, NT_H_VAL_LOSS, NT_H_VAL_M1, NT_H_VAL_M2,
    NT_H_TEST_LOSS, NT_H_TEST_M1, NT_H_TEST_M2, NT_H_LR, NT_H_SAMPLES_PER_S, NT_H_DATA_WAIT_S,
    NT_H_ALLREDUCE_S, NT_H_EXPOSED_S, NT_H_ELAPSED_S, NT_H_BEST_EPOCH, -1};

int nt_history_init(nt_history *h, int cap, int regression, int has_val, int has_test)
{
    *h = (nt_history){.cap = cap, .regression = regression, .has_val = has_val, .has_test = has_test};
    h->rows = calloc((size_t)(cap > 0 ? cap : 1), sizeof *h->rows);
    return h->rows ? 0 : -1;
}

void nt_history_free(nt_history *h)
{
    free(h->rows);
    h->rows = NULL;
    h->n = h->cap = 0;
}

void nt_history_add(nt_history *h, const nt_hrow *r)
{
    if (h->n < h->cap) h->rows[h->n++] = *r;
}

const char *nt_history_name(const nt_history *h, int col)
{
    if (col < 0 || col >= NT_H_NCOLS) return NULL;
    if (!h->has_test && col >= NT_H_TEST_LOSS && col <= NT_H_TEST_M2) return NULL;
    if (!h->early && col == NT_H_BEST_EPOCH) return NULL;
    return h->regression ? cols[col].reg : cols[col].cls;
}

void nt_history_csv_header(const nt_history *h, FILE *f)
{
    int first = 1;
    for (const int *c = nt_history_csv_order; *c >= 0; c++) {
        const char *name = nt_history_name(h, *c);
        if (!name) continue;
        fprintf(f, "%s%s", first ? "" : ",", name);
        first = 0;
    }
    fputc('\n', f);
}

void nt_history_csv_row(const nt_history *h, const nt_hrow *r, FILE *f)
{
    int first = 1;
    for (const int *c = nt_history_csv_order; *c >= 0; c++) {
        if (!nt_history_name(h, *c)) continue;
        if (!first) fputc(',', f);
        fprintf(f, cols[*c].fmt, r->v[*c]);
        first = 0;
    }
    fputc('\n', f);
}

const char *nt_history_stored_columns(void)
{
    static char names[512];
    if (!names[0]) {
        size_t n = 0;
        for (int c = 0; c < NT_H_STORED; c++)
            n += (size_t)snprintf(names + n, sizeof names - n, "%s%s", c ? "," : "", cols[c].stored);
    }
    return names;
}

void nt_history_pack(const nt_history *h, double *out)
{
    for (int i = 0; i < h->n; i++)
        memcpy(out + (size_t)i * NT_H_STORED, h->rows[i].v, sizeof(double) * NT_H_STORED);
}

void nt_history_unpack(nt_history *h, const double *in, int n)
{
    h->n = 0;
    for (int i = 0; i < n && i < h->cap; i++) {
        nt_hrow r = {{0}};
        memcpy(r.v, in + (size_t)i * NT_H_STORED, sizeof(double) * NT_H_STORED);
        h->rows[h->n++] = r;
    }
}

/* ---- reading metrics.csv back ---- */

/* A field: a number, or empty / nan / -nan / inf (an undefined point, e.g. the validation
 * columns of a run with val_fraction = 0). Returns 0, or -1 when it is not a number. */
static int parse_field(const char *s, double *v)
{
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) { *v = NAN; return 0; }
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s) return -1;
    while (*end == ' ' || *end == '\t') end++;
    if (*end) return -1;
    *v = isfinite(x) ? x : NAN;
    return 0;
}

/* Splits line in place at commas (strips the trailing newline / CR); returns the field count. */
static int split(char *line, char **f, int maxf)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
    int n = 0;
    char *p = line;
    for (;;) {
        if (n < maxf) f[n] = p;
        n++;
        char *c = strchr(p, ',');
        if (!c) break;
        *c = 0;
        p = c + 1;
    }
    return n;
}

#define MAXF 256

typedef struct {
    const char *path;
    char *header;
    int nf, idx[NT_H_NCOLS]; /* field of each column, -1 if absent */
} csv_reader;

/* The header: which field holds which column; the task from train_acc / train_rmse. */
static int read_header(csv_reader *rd, nt_history *h, char *line, nt_err *e)
{
    char *fld[MAXF];
    rd->header = strdup(line);
    if (!rd->header) return nt_fail(e, "out of memory"), NT_EXIT_RUNTIME;
    rd->nf = split(line, fld, MAXF);
    if (rd->nf > MAXF)
        return nt_fail(e, "%s:1: %d columns, more than %d", rd->path, rd->nf, MAXF), NT_EXIT_INPUT;
    int task = -1;
    for (int i = 0; i < rd->nf; i++) {
        const char *name = nn_trim(fld[i]);
        if (!strcmp(name, "train_acc")) task = 0;
        else if (!strcmp(name, "train_rmse")) task = 1;
    }
    h->regression = task == 1;
    for (int k = 0; k < NT_H_NCOLS; k++) {
        rd->idx[k] = -1;
        const char *want = h->regression ? cols[k].reg : cols[k].cls;
        for (int i = 0; want && i < rd->nf; i++)
            if (!strcmp(fld[i], want)) { rd->idx[k] = i; break; }
    }
    h->has_test = rd->idx[NT_H_TEST_LOSS] >= 0;
    h->has_val = rd->idx[NT_H_VAL_LOSS] >= 0;
    h->early = rd->idx[NT_H_BEST_EPOCH] >= 0;
    if (rd->idx[NT_H_EPOCH] < 0 || rd->idx[NT_H_TRAIN_LOSS] < 0 || task < 0)
        return nt_fail(e, "%s:1: not an nntrain metrics.csv header (needs columns epoch, "
                       "train_loss and train_acc or train_rmse)", rd->path), NT_EXIT_INPUT;
    return 0;
}

/* Is line the header again (a file continued by hand)? */
static int is_header(const csv_reader *rd, const char *line)
{
    size_t hl = strlen(rd->header), ll = strlen(line);
    while (hl && (rd->header[hl - 1] == '\n' || rd->header[hl - 1] == '\r')) hl--;
    while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r')) ll--;
    return hl == ll && !memcmp(rd->header, line, hl);
}

/* One data line into h; a resumed run can repeat an epoch (written, then the run died before
 * its checkpoint): the later row wins. */
static int read_row(csv_reader *rd, nt_history *h, char *line, int lineno, nt_err *e)
{
    char *fld[MAXF];
    int n = split(line, fld, MAXF);
    if (n != rd->nf)
        return nt_fail(e, "%s:%d: %d fields, the header has %d", rd->path, lineno, n, rd->nf),
               NT_EXIT_INPUT;
    nt_hrow r;
    for (int k = 0; k < NT_H_NCOLS; k++) {
        r.v[k] = NAN;
        int i = rd->idx[k];
        if (i >= 0 && parse_field(fld[i], &r.v[k]))
            return nt_fail(e, "%s:%d: column %d (%s) '%s' is not a number", rd->path, lineno,
                           i + 1, nt_history_name(h, k), nn_trim(fld[i])), NT_EXIT_INPUT;
    }
    double ep = r.v[NT_H_EPOCH];
    if (!(ep >= 1 && ep <= 1e9 && ep == floor(ep)))
        return nt_fail(e, "%s:%d: epoch '%s' is not an integer >= 1", rd->path, lineno,
                       nn_trim(fld[rd->idx[NT_H_EPOCH]])), NT_EXIT_INPUT;
    int at = h->n;
    for (int i = 0; i < h->n; i++)
        if (h->rows[i].v[NT_H_EPOCH] == ep) { at = i; break; }
    if (at == h->n) {
        if (h->n == h->cap) {
            int nc = h->cap ? 2 * h->cap : 64;
            void *p = realloc(h->rows, (size_t)nc * sizeof *h->rows);
            if (!p) return nt_fail(e, "out of memory"), NT_EXIT_RUNTIME;
            h->rows = p;
            h->cap = nc;
        }
        h->n++;
    }
    h->rows[at] = r;
    return 0;
}

static int by_epoch(const void *a, const void *b)
{
    double x = ((const nt_hrow *)a)->v[NT_H_EPOCH], y = ((const nt_hrow *)b)->v[NT_H_EPOCH];
    return (x > y) - (x < y);
}

int nt_history_read_csv(nt_history *h, const char *path, nt_err *e)
{
    *h = (nt_history){0};
    struct stat sb;
    if (stat(path, &sb) != 0)
        return nt_fail(e, "%s: %s", path, errno == ENOENT ? "no such file (not a run directory, "
                       "or no epoch finished yet?)" : strerror(errno)), NT_EXIT_INPUT;
    if (S_ISDIR(sb.st_mode)) return nt_fail(e, "%s: is a directory", path), NT_EXIT_INPUT;
    FILE *f = fopen(path, "r");
    if (!f) return nt_fail(e, "%s: cannot open: %s", path, strerror(errno)), NT_EXIT_INPUT;
    csv_reader rd = {.path = path};
    char *line = NULL;
    size_t cap = 0;
    int st = 0, lineno = 0;
    ssize_t len;
    while (!st && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            st = (nt_fail(e, "%s:%d: binary data (not a metrics.csv)", path, lineno), NT_EXIT_INPUT);
        } else if (lineno == 1) {
            st = read_header(&rd, h, line, e);
        } else if (!is_header(&rd, line)) {
            char *l = line;
            while (*l == ' ' || *l == '\t' || *l == '\r' || *l == '\n') l++;
            if (*l) st = read_row(&rd, h, line, lineno, e); /* else a blank line */
        }
    }
    if (!st && ferror(f)) st = (nt_fail(e, "%s: read error: %s", path, strerror(errno)), NT_EXIT_INPUT);
    if (!st && lineno == 0) st = (nt_fail(e, "%s: empty file (no header)", path), NT_EXIT_INPUT);
    if (!st && h->n == 0) st = (nt_fail(e, "%s: no epochs yet (only the header)", path), NT_EXIT_INPUT);
    free(line);
    free(rd.header);
    fclose(f);
    if (st) {
        nt_history_free(h);
        return st;
    }
    qsort(h->rows, (size_t)h->n, sizeof *h->rows, by_epoch); /* in epoch order */
    return 0;
}
