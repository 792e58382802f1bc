/* Unit tests for the serial dataset writer (datasets/h5data.c): chunk sizing, uint8 / float32
 * round trips with and without "scale", the empty (N == 0) file, and that failures leave no
 * PATH.tmp behind and never touch an existing PATH. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5data.h"
#include "testutil.h"

static void test_chunk_rows(void **state)
{
    /* 256 KiB / 784 B = 334 rows (Fashion-MNIST uint8 rows). */
    assert_int_equal(h5data_chunk_rows(60000, 784), 334);
    assert_int_equal(h5data_chunk_rows(60000, 784 * 4), 83);
    assert_int_equal(h5data_chunk_rows(1000000, 8), 32768);
    /* Never more rows than the data set has, never fewer than one. */
    assert_int_equal(h5data_chunk_rows(10, 8), 10);
    assert_int_equal(h5data_chunk_rows(5, 1 << 30), 1);
    assert_int_equal(h5data_chunk_rows(0, 8), 1);
    assert_int_equal(h5data_chunk_rows(1, 1), 1);
}

static void test_u8_roundtrip(void **state)
{
    const char *path = tu_path(*state, "u8.h5");
    enum { N = 1000, D = 300 };
    uint8_t *x = malloc(N * D);
    int32_t y[N];
    assert_non_null(x);
    for (int i = 0; i < N * D; i++) x[i] = (uint8_t)(i * 7 + i / 13);
    for (int i = 0; i < N; i++) y[i] = (i * 31) % 10;
    nt_err err = {""};
    assert_int_equal(h5data_write(path, N, D, x, NULL, 0.25f, y, &err), 0);
    assert_false(tu_exists(tu_path(*state, "u8.h5.tmp")));

    struct tu_set s;
    tu_read_set(path, &s);
    assert_int_equal(s.n, N);
    assert_int_equal(s.d, D);
    assert_true(s.is_u8);
    assert_true(s.y_is_i32le);
    assert_true(s.has_scale);
    assert_true(s.scale == 0.25f);
    assert_int_equal(s.chunk_rows, h5data_chunk_rows(N, D));
    assert_memory_equal(s.x, x, N * D);
    assert_memory_equal(s.y, y, sizeof y);
    tu_free_set(&s);
    free(x);
}

static void test_f32_roundtrip_no_scale(void **state)
{
    const char *path = tu_path(*state, "f32.h5");
    enum { N = 77, D = 3 };
    float x[N * D];
    int32_t y[N];
    for (int i = 0; i < N * D; i++) x[i] = (float)i * 0.5f - 20.0f;
    for (int i = 0; i < N; i++) y[i] = i % 4 - 1; /* -1 on purpose: ranges are not checked */
    nt_err err = {""};
    assert_int_equal(h5data_write(path, N, D, NULL, x, 0.0f, y, &err), 0);
    struct tu_set s;
    tu_read_set(path, &s);
    assert_int_equal(s.n, N);
    assert_int_equal(s.d, D);
    assert_false(s.is_u8);
    assert_false(s.has_scale);
    assert_int_equal(s.chunk_rows, N);
    assert_memory_equal(s.x, x, sizeof x);
    assert_memory_equal(s.y, y, sizeof y);
    tu_free_set(&s);
}

/* N == 0: still a valid file, 0 rows, chunk of 1 row on an unlimited row axis. */
static void test_empty(void **state)
{
    const char *path = tu_path(*state, "empty.h5");
    float dummy = 0;
    nt_err err = {""};
    int rc = h5data_write(path, 0, 5, NULL, &dummy, -1.0f, NULL, &err);
    if (rc != 0) fail_msg("h5data_write: %s", err.msg);
    struct tu_set s;
    tu_read_set(path, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.d, 5);
    assert_int_equal(s.chunk_rows, 1);
    assert_true(s.unlimited_rows);
    assert_false(s.has_scale);
    tu_free_set(&s);
}

static void test_bad_arguments(void **state)
{
    const char *path = tu_path(*state, "bad.h5");
    uint8_t xu = 1;
    float xf = 1;
    int32_t y = 0;
    nt_err err;
    /* both / neither x pointer, missing labels, bad shape */
    assert_int_equal(h5data_write(path, 1, 1, &xu, &xf, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write(path, 1, 1, NULL, NULL, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write(path, 1, 1, &xu, NULL, 0, NULL, &err), NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write(path, 1, 0, &xu, NULL, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write(path, -1, 1, &xu, NULL, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "bad.h5"));
    assert_false(tu_exists(path));
    assert_false(tu_exists(tu_path(*state, "bad.h5.tmp")));
}

static void test_cannot_create(void **state)
{
    const char *path = tu_path(*state, "no/such/dir/out.h5");
    uint8_t x = 1;
    int32_t y = 0;
    nt_err err = {""};
    assert_int_equal(h5data_write(path, 1, 1, &x, NULL, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "out.h5: cannot create: No such file or directory"));
}

/* Writes an existing file's replacement that fails; the old bytes must survive. */
static void expect_untouched(const char *path, const void *old, size_t oldlen)
{
    size_t len = 0;
    void *now = tu_read_file(path, &len);
    assert_non_null(now);
    assert_int_equal(len, oldlen);
    assert_memory_equal(now, old, oldlen);
    free(now);
}

/* An HDF5-level failure after the tmp file exists: a chunk of one 2^31-float row is 8 GiB,
 * over HDF5's 4 GiB chunk limit, so creating /X fails. The tmp file must be removed and the
 * existing PATH left as it was. */
static void test_hdf5_failure_cleans_up(void **state)
{
    const char *path = tu_path(*state, "keep.h5");
    const char *tmp = tu_path(*state, "keep.h5.tmp");
    tu_write_file(path, "old contents", 12);
    float x = 0;
    int32_t y = 0;
    nt_err err = {""};
    assert_int_equal(h5data_write(path, 1, (int64_t)1 << 31, NULL, &x, 0, &y, &err),
                     NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "keep.h5: cannot create /X"));
    assert_null(strchr(err.msg, '\n'));
    assert_false(tu_exists(tmp));
    expect_untouched(path, "old contents", 12);
}

/* PATH.tmp is a directory, so the tmp file cannot be created: fail, PATH unchanged, and the
 * directory (not ours) left alone. */
static void test_tmp_blocked(void **state)
{
    const char *path = tu_path(*state, "blocked.h5");
    const char *tmp = tu_path(*state, "blocked.h5.tmp");
    tu_write_file(path, "previous", 8);
    assert_int_equal(mkdir(tmp, 0755), 0);
    uint8_t x = 1;
    int32_t y = 0;
    nt_err err = {""};
    assert_int_equal(h5data_write(path, 1, 1, &x, NULL, 0, &y, &err), NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "blocked.h5: cannot create"));
    expect_untouched(path, "previous", 8);
    struct stat st;
    assert_int_equal(stat(tmp, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

/* A successful write replaces an existing file (and a stale PATH.tmp from a crash). */
static void test_replaces_existing(void **state)
{
    const char *path = tu_path(*state, "replace.h5");
    tu_write_file(path, "old", 3);
    tu_write_file(tu_path(*state, "replace.h5.tmp"), "stale", 5);
    uint8_t x[4] = {1, 2, 3, 4};
    int32_t y[2] = {0, 1};
    nt_err err = {""};
    assert_int_equal(h5data_write(path, 2, 2, x, NULL, 1.0f, y, &err), 0);
    struct tu_set s;
    tu_read_set(path, &s);
    assert_int_equal(s.n, 2);
    assert_memory_equal(s.x, x, 4);
    tu_free_set(&s);
    assert_false(tu_exists(tu_path(*state, "replace.h5.tmp")));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_tmpdir, tu_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_rows),
        T(test_u8_roundtrip),
        T(test_f32_roundtrip_no_scale),
        T(test_empty),
        T(test_bad_arguments),
        T(test_cannot_create),
        T(test_hdf5_failure_cleans_up),
        T(test_tmp_blocked),
        T(test_replaces_existing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
