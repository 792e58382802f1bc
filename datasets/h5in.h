/* The HDF5 input side shared by nndata check, info, split and standardize: open a dataset
 * file serially and validate its layout (layout.h), then stream /X or /y in blocks of rows
 * read as double. Errors fill an nt_err and return the kind of failure (usage.h):
 * NT_EXIT_INPUT for anything wrong with or unreadable in the file, NT_EXIT_RUNTIME for out of
 * memory (nothing is printed). */
#ifndef NN_H5IN_H
#define NN_H5IN_H
#include <hdf5.h>
#include <stdint.h>

#include "err.h"
#include "layout.h"

/* An open input file and its layout (L.x, L.y are the open datasets). */
struct h5in {
    hid_t file;
    layout_info L;
};

/* Silence HDF5's automatic error printing while nndata reads (messages are ours). */
struct h5quiet {
    H5E_auto2_t func;
    void *data;
    int saved;
};
void h5in_quiet_on(struct h5quiet *q);
void h5in_quiet_off(struct h5quiet *q);

/* Open PATH read-only and check its layout (flags as layout_read). Returns 0, or an NT_EXIT_*
 * code with e ("f.h5: cannot open: ...", "f.h5: not an HDF5 file", or the layout's message). */
int h5in_open(const char *path, unsigned flags, struct h5in *h, nt_err *e);
/* Safe on a failed or closed h5in. Read-only handles: failing closes are ignored (h5in.c). */
void h5in_close(struct h5in *h);
/* An h5in that h5in_close accepts without h5in_open. */
void h5in_init(struct h5in *h);

/* "uint8", "float32", "float64"... */
const char *h5in_x_dtype(const struct h5in *h, char *buf, size_t len);
/* "nan", "inf" or "-inf". */
const char *h5in_nonfinite(double v);

/* Rows per block for rows of `cols` doubles (about 4 MiB), at least 1, at most n. */
int64_t h5in_block_rows(int64_t cols, int64_t n);
/* Rows [r0, r0+nr) and columns [0, nc) of a 1-D (two_d == 0) or 2-D dataset as double into
 * buf (nr * max(nc, 1) values). Returns 0, or -1 when a call fails (reading or closing the
 * selections; the caller names the rows in its message). */
int h5in_read_block(hid_t dset, int64_t r0, int64_t nr, int64_t nc, int two_d, double *buf);

/* One pass over /X in row blocks: every value must be finite (an error names its row and
 * column, followed by `why`); each block then goes to fn (may be NULL). Returns 0 or an
 * NT_EXIT_* code, as h5in_check_y. */
int h5in_x_blocks(const char *path, const struct h5in *h, const char *why,
                  void (*fn)(void *user, double *buf, int64_t rows), void *user, nt_err *e);
/* One pass over /y: labels in [0, 2^31 - 2] (*k := max + 1), or finite targets (*k := K).
 * Returns 0, NT_EXIT_INPUT (a bad or unreadable value) or NT_EXIT_RUNTIME (out of memory). */
int h5in_check_y(const char *path, const struct h5in *h, int64_t *k, nt_err *e);

#endif
