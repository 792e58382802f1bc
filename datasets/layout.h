/* The one validator of the nntrain dataset layout (written by h5data.h): the structure of /X
 * and /y and the /X attributes scale, mean and std, read from an already open file, so that
 * nndata (serial HDF5) and nntrain (MPI-IO; every rank calls it alike) check the same rules:
 *   /X   rank 2 (N, D), N >= 1, D >= 1, uint8 or float
 *   /X@scale  optional, one finite number > 0 (also as float32)
 *   /X@mean, /X@std  optional, both or neither, 1-D float of D values, finite, std > 0
 *   /y   (N) integer class labels, or (N, K) float regression targets, K >= 1
 * Only attributes are read, never the rows, and every length is checked before anything is
 * allocated. Label ranges and non-finite values are checked by the readers that stream rows. */
#ifndef NN_LAYOUT_H
#define NN_LAYOUT_H
#include <hdf5.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    hid_t x, y;          /* the open datasets /X and /y: layout_free closes them unless the
                          * caller takes them over (and sets them to H5I_INVALID_HID) */
    int64_t n, d;        /* /X is (n, d) */
    int x_u8;            /* /X is uint8; else a float type of x_bytes bytes */
    size_t x_bytes;
    int targets;         /* /y is (n, k) float targets; else (n) integer labels */
    int64_t k;           /* targets per row; 0 for labels */
    int has_scale;
    double scale;        /* /X@scale; 1 when absent */
    int64_t chunk_rows;  /* /X chunk extent along rows; 0 when not chunked */
    float *mean, *std;   /* /X@mean and /X@std (d values each), or both NULL */
} layout_info;

/* Flags of layout_read. */
enum { LAYOUT_SKIP_NORM = 1 /* do not read mean / std (split --standardize replaces them) */ };

/* Check the layout of the open file `file` (named path in messages) and fill L. Returns 0, or
 * with e = "PATH: what is wrong" and L emptied (nothing to free) NT_EXIT_INPUT (the file does
 * not have the layout, or cannot be read) or NT_EXIT_RUNTIME (out of memory). */
int layout_read(hid_t file, const char *path, unsigned flags, layout_info *L, nt_err *e);
void layout_free(layout_info *L);

/* An optional 1-D float attribute `name` of obj (objname names obj in messages, e.g. "/X")
 * with d values, read as float32 (a float64 value beyond float32 becomes inf). *out stays
 * NULL when absent. Returns 0, or NT_EXIT_INPUT / NT_EXIT_RUNTIME (out of memory) with e (a
 * failing close is reported through H5_TRY, which keeps a message already in e: pass e
 * clear). */
int layout_read_vec(hid_t obj, const char *path, const char *objname, const char *name, int64_t d,
                    float **out, nt_err *e);

/* "uint8", "int32", "float64"... for messages; buf holds at least 32 bytes. */
const char *layout_type_name(hid_t type, char *buf, size_t len);

#endif
