/* Importers for nndata: delimited text (CSV) and NumPy .npy files, parsed into arrays ready
 * for h5data_write / h5data_write_regression. The parsers are pure (no output, no exit):
 * they return 0, or with a one-line message in e naming the file and, for text, the line
 * ("data.csv:17: 3 fields, expected 5") the kind of failure (usage.h): NT_EXIT_INPUT (a missing,
 * unreadable or malformed input) or NT_EXIT_RUNTIME (out of memory). The commands built on
 * them are in cmd_import.c. */
#ifndef NN_IMPORT_H
#define NN_IMPORT_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Labels are int32 0..K-1; K itself must fit in int32. */
#define IMP_MAX_LABEL ((int64_t)INT32_MAX - 1)

/* An imported dataset: x is n*d values, uint8 (x_u8) or float32 (x_f32), row-major.
 * Classification: y holds n int32 labels >= 0, k = 0. Regression: yf holds n*k floats. */
struct imp_data {
    int64_t n, d, k;
    uint8_t *x_u8;
    float *x_f32;
    int32_t *y;
    float *yf;
};

void imp_free(struct imp_data *s);

/* Header detection for import_csv. */
enum { IMP_HEADER_AUTO = -1, IMP_HEADER_NO = 0, IMP_HEADER_YES = 1 };

/* Read a delimited text file. label: a header name or a 0-based column index. header:
 * IMP_HEADER_AUTO treats the first row as a header when one of its cells is not a number
 * (any cell other than an index-given label column); with a header, a name equal to label
 * wins over label as an index. regression: float targets (k = 1),
 * else integer labels 0..2^31-2. Rejects ragged rows, non-numeric or non-finite cells,
 * quotes, blank lines before the end, and files without data rows or feature columns. */
int import_csv(const char *path, const char *label, int header, int regression, char delim,
               struct imp_data *out, nt_err *e);

/* A parsed .npy file: descr (e.g. "<f4"), shape, and the raw little-endian payload. */
struct npy_array {
    char descr[32];
    int fortran_order;
    int ndim;
    int64_t shape[8];
    int64_t count;     /* product of shape */
    size_t itemsize;
    void *data;        /* count * itemsize bytes */
};

/* Read a whole .npy file (format 1.0, 2.0 or 3.0). Rejects a bad magic, a malformed header,
 * fortran_order True, an unknown dtype size, truncated data and trailing bytes. */
int npy_read(const char *path, struct npy_array *a, nt_err *e);
void npy_free(struct npy_array *a);

/* X (N, D) as <f4, <f8 (converted to float32) or |u1 (kept uint8); y (N,) integer labels
 * (<i4, <i8, |u1; also <i2, <u2.. as long as they fit), or with regression <f4/<f8 (or
 * integer) targets of shape (N,) or (N, K). */
int import_npy(const char *xpath, const char *ypath, int regression, struct imp_data *out,
               nt_err *e);

#endif
