/* Reader for the IDX format of (Fashion-)MNIST, gzipped or plain (zlib reads both):
 * a big-endian header 0x00 0x00 TYPE NDIM, NDIM big-endian uint32 dimensions, then the data.
 * Only unsigned-byte (TYPE 0x08) images (NDIM 3) and labels (NDIM 1) are supported. */
#ifndef NN_IDX_H
#define NN_IDX_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define IDX_MAGIC_IMAGES 0x00000803u /* uint8, 3 dims: N, rows, cols */
#define IDX_MAGIC_LABELS 0x00000801u /* uint8, 1 dim: N */

/* Read an image file: *pixels := malloc'd N*rows*cols bytes, row-major per image.
 * Returns 0, or with "PATH: reason" in e (nothing allocated) NT_EXIT_INPUT (missing, unreadable
 * or malformed file) or NT_EXIT_RUNTIME (out of memory). */
int idx_read_images(const char *path, uint8_t **pixels, int64_t *n, int64_t *rows,
                    int64_t *cols, nt_err *e);

/* Read a label file: *labels := malloc'd N bytes. Returns 0, or an NT_EXIT_* code as
 * idx_read_images with "PATH: reason". */
int idx_read_labels(const char *path, uint8_t **labels, int64_t *n, nt_err *e);

#endif
