/* Helpers shared by the dataset tests: temporary directories, running a program (or nndata) and
 * capturing its output, checking nndata's output and error line, and reading an nntrain dataset
 * file back with the HDF5 C API. Every helper fails the current cmocka test (rather than returning
 * an error) when its setup breaks. */
#ifndef NN_TESTUTIL_H
#define NN_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

/* A dataset read back from disk. x is uint8 (is_u8) or float32, n*d elements. y holds the
 * int32 labels (tu_read_set); yf the float targets, n*k elements (tu_read_regression). */
struct tu_set {
    int64_t n, d;
    int is_u8;
    int has_scale;
    float scale;
    int64_t chunk_rows;    /* chunk extent along the row axis of /X */
    int unlimited_rows;    /* /X row axis has maxdims H5S_UNLIMITED */
    int y_is_i32le;        /* /y stored as H5T_STD_I32LE */
    int64_t k;             /* regression: targets per row (/y is (n, k)) */
    int y_is_f32le;        /* regression: /y stored as H5T_IEEE_F32LE */
    int64_t y_chunk_rows;  /* regression: chunk extent along the row axis of /y */
    int y_unlimited_rows;  /* regression: /y row axis has maxdims H5S_UNLIMITED */
    void *x;
    int32_t *y;
    float *yf;
};

/* Fresh directory under $TMPDIR (or /tmp); free() the result after tu_rmtree. */
char *tu_mkdtemp(void);
void tu_rmtree(const char *dir);

/* "dir/name", valid until the program exits. */
const char *tu_path(const char *dir, const char *name);

/* Run argv[0] with argv (NULL-terminated); env_set, if not NULL, is one "NAME=VALUE" added to
 * the child's environment. stdout/stderr are captured (NUL-terminated, truncated to fit).
 * Returns the exit status, or fails the test if the child did not exit normally. */
int tu_run(const char *const argv[], const char *env_set, char *out, size_t outlen,
           char *errout, size_t errlen);

/* cmocka setup / teardown: *state becomes a fresh tu_mkdtemp directory, removed afterwards. */
int tu_setup_tmpdir(void **state);
int tu_teardown_tmpdir(void **state);

/* Output of the last tu_capture / tu_nndata run (NUL-terminated, truncated to fit). */
#define TU_OUT_SIZE 16384
#define TU_ERR_SIZE 8192
extern char tu_out[TU_OUT_SIZE], tu_err[TU_ERR_SIZE];

/* tu_run capturing stdout / stderr into tu_out / tu_err. */
int tu_capture(const char *const argv[], const char *env_set);

/* The nndata binary that tu_nndata runs (a test's argv[1]); set once in main. */
void tu_set_nndata(const char *path);
const char *tu_nndata_path(void);

/* Run nndata with up to 14 arguments (a NULL-terminated list, possibly empty: tu_nndata(NULL))
 * into tu_out / tu_err; returns its exit status. */
int tu_nndata(const char *a0, ...);

/* The last run's stderr is exactly one line "nndata: error: ..." containing `what`. */
void tu_expect_one_error(const char *what);
/* The same, the line starting "nndata: error: <culprit>: "; `what` may be NULL. */
void tu_expect_error_line(const char *culprit, const char *what);
/* The last run's stderr is exactly "nndata: error: <msg>\n" (a usage error from the shared
 * command-line helper, src/cli). */
void tu_expect_usage(const char *msg);
/* The last run's stdout contains `what`. */
void tu_expect_out(const char *what);

/* Write / read a whole file. tu_read_file returns a malloc'd buffer and its length, or NULL
 * when the file does not exist. */
void tu_write_file(const char *path, const void *data, size_t len);
void tu_write_gz(const char *path, const void *data, size_t len);
void *tu_read_file(const char *path, size_t *len);
int tu_exists(const char *path);

/* Read /X, /y and /X@scale; fails the test if the layout is wrong. */
void tu_read_set(const char *path, struct tu_set *s);
/* Read /X, /X@scale and a 2-D /y (N, K) as float; fails the test if /y is not 2-D or /X or
 * /y is not chunked by whole rows. Check y_is_f32le for the stored type. */
void tu_read_regression(const char *path, struct tu_set *s);
void tu_free_set(struct tu_set *s);

#endif
