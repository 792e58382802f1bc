/* The nntrain dataset layout, written serially (nndata and test helpers):
 *   /X  (N, D)  uint8 or float32, chunked by rows; optional float attribute "scale"
 *               (the reader multiplies by it; Fashion-MNIST: uint8 with scale 1/255);
 *               optional float32 attributes "mean" and "std" (both or neither, D values
 *               each): the reader uses (X * scale - mean) / std per feature
 *   /y  (N)     int32 class labels 0..K-1 (classification), or
 *   /y  (N, K)  float32 targets, K >= 1, chunked by rows like /X (regression; 2-D also
 *               when K == 1)
 * The file is written to PATH.tmp and renamed into place, so a failed write never leaves a
 * half file and never replaces an existing good one. nntrain's parallel reader (src/worker)
 * reads this layout (and any integer /y, any float/uint8 /X) through MPI-IO. */
#ifndef NN_H5DATA_H
#define NN_H5DATA_H
#include <stdint.h>

#include "err.h"

/* Rows per chunk: about 256 KiB per chunk, at least 1 row, at most n rows. */
int64_t h5data_chunk_rows(int64_t n, int64_t row_bytes);

/* Write a dataset file. Exactly one of x_u8 / x_f32 is non-NULL. scale <= 0 writes no
 * "scale" attribute. y may be NULL only when n == 0. Returns 0, or NT_EXIT_RUNTIME with a
 * message in e (e.g. "out.h5: cannot create: Permission denied"): every failure of a writer is
 * a write error (usage.h). Does not validate label ranges (the test helpers write deliberately
 * bad files with it). */
int h5data_write(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                 const float *x_f32, float scale, const int32_t *y, nt_err *e);

/* The same for regression: /y is float32 of shape (n, k) from y (row-major, n*k floats),
 * k >= 1. Everything else (x arguments, scale, tmp + rename, messages) as h5data_write;
 * y may be NULL only when n == 0. */
int h5data_write_regression(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                            const float *x_f32, float scale, const float *y, int64_t k,
                            nt_err *e);

/* Either kind, with optional /X attributes mean and std (d float32 values each; both NULL
 * or both given): int32 labels y when k == 0 (yf unused), else float targets yf of shape
 * (n, k) (y unused). Everything else as h5data_write. */
int h5data_write_std(const char *path, int64_t n, int64_t d, const uint8_t *x_u8,
                     const float *x_f32, float scale, const float *mean, const float *std,
                     const int32_t *y, const float *yf, int64_t k, nt_err *e);

#endif
