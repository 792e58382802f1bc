/* End-to-end tests of nndata make-blobs / make-spirals / make-xor, split, info and check
 * (binary path in argv[1]). Inputs are written with h5data_write or, for files the writer
 * cannot produce (wrong ranks, mismatched lengths), the HDF5 C API directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "h5data.h"
#include "testutil.h"

static void write_f32(const char *path, int64_t n, int64_t d, const float *x, const int32_t *y)
{
    nt_err err;
    if (h5data_write(path, n, d, NULL, x, 0.0f, y, &err) != 0) fail_msg("%s", err.msg);
}

/* ---- generators through the CLI -------------------------------------------------------- */

static void test_generator_cli(void **state)
{
    const char *dir = *state;
    const char *b = tu_path(dir, "b.h5"), *s = tu_path(dir, "s.h5"), *x = tu_path(dir, "x.h5");
    const char *b2 = tu_path(dir, "b2.h5");
    assert_int_equal(tu_nndata("make-blobs", "103", b, "--centers", "4", "--features", "3", "--std",
                               "0.5", "--seed", "7", NULL),
                     0);
    tu_expect_out("103 x 3 float32, 4 classes");
    struct tu_set t;
    tu_read_set(b, &t);
    assert_int_equal(t.n, 103);
    assert_int_equal(t.d, 3);
    assert_false(t.is_u8);
    float *ex = malloc(103 * 3 * sizeof *ex);
    int32_t *ey = malloc(103 * sizeof *ey);
    gen_blobs(103, 4, 3, 0.5, 7, ex, ey, NULL);
    assert_memory_equal(t.x, ex, 103 * 3 * sizeof *ex);
    assert_memory_equal(t.y, ey, 103 * sizeof *ey);
    tu_free_set(&t);

    /* Defaults: K 3, D 2, std 1, seed 1. */
    assert_int_equal(tu_nndata("make-blobs", "50", b2, NULL), 0);
    tu_read_set(b2, &t);
    assert_int_equal(t.d, 2);
    gen_blobs(50, 3, 2, 1.0, 1, ex, ey, NULL);
    assert_memory_equal(t.x, ex, 50 * 2 * sizeof *ex);
    tu_free_set(&t);

    assert_int_equal(tu_nndata("make-spirals", "90", s, "--classes", "5", "--noise=0.1", NULL), 0);
    tu_read_set(s, &t);
    gen_spirals(90, 5, 0.1, 1, ex, ey);
    assert_memory_equal(t.x, ex, 90 * 2 * sizeof *ex);
    assert_memory_equal(t.y, ey, 90 * sizeof *ey);
    tu_free_set(&t);

    assert_int_equal(tu_nndata("make-xor", "64", x, "--seed", "3", NULL), 0);
    tu_read_set(x, &t);
    gen_xor(64, 0.0, 3, ex, ey);
    assert_memory_equal(t.x, ex, 64 * 2 * sizeof *ex);
    assert_memory_equal(t.y, ey, 64 * sizeof *ey);
    tu_free_set(&t);
    free(ex);
    free(ey);

    /* Bad arguments: usage errors naming the value. */
    assert_int_equal(tu_nndata("make-blobs", "10", b, "--centers", "0", NULL), 2);
    tu_expect_one_error("--centers");
    assert_int_equal(tu_nndata("make-blobs", "10", b, "--centers", "11", NULL), 2);
    tu_expect_one_error("<= N");
    assert_int_equal(tu_nndata("make-blobs", "10", b, "--std", "-1", NULL), 2);
    tu_expect_one_error("--std");
    assert_int_equal(tu_nndata("make-spirals", "10", s, "--classes", "x", NULL), 2);
    tu_expect_one_error("--classes");
    assert_int_equal(tu_nndata("make-xor", "10", x, "--factor", "0.5", NULL), 2);
    tu_expect_usage("unknown option '--factor' for make-xor (try: nndata make-xor --help)");
    assert_int_equal(tu_nndata("make-xor", "-3", x, NULL), 2);
    tu_expect_one_error("positive integer");
}

/* ---- split -------------------------------------------------------------------------------- */

/* Input with identifiable rows: float32 X (n, 3) with X[i] = (i, 2i, -i), labels i % 5. */
static void write_ids(const char *path, int64_t n)
{
    float *x = malloc((size_t)n * 3 * sizeof *x);
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        x[3 * i] = (float)i, x[3 * i + 1] = (float)(2 * i), x[3 * i + 2] = (float)-i;
        y[i] = (int32_t)(i % 5);
    }
    write_f32(path, n, 3, x, y);
    free(x);
    free(y);
}

/* Read the parts; check every input row appears in exactly one part, unchanged. */
static void check_parts(const char *const *parts, int np, int64_t n, const int64_t *sizes)
{
    char *seen = calloc((size_t)n, 1);
    assert_non_null(seen);
    for (int p = 0; p < np; p++) {
        struct tu_set t;
        tu_read_set(parts[p], &t);
        assert_int_equal(t.n, sizes[p]);
        assert_int_equal(t.d, 3);
        assert_false(t.is_u8);
        assert_false(t.has_scale);
        const float *x = t.x;
        for (int64_t r = 0; r < t.n; r++) {
            int64_t id = (int64_t)x[3 * r];
            assert_true(id >= 0 && id < n);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            assert_true(x[3 * r + 1] == (float)(2 * id) && x[3 * r + 2] == (float)-id);
            assert_int_equal(t.y[r], id % 5);
        }
        tu_free_set(&t);
    }
    for (int64_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_split_classification(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    write_ids(in, 1003);
    const char *pre = tu_path(dir, "p");
    assert_int_equal(tu_nndata("split", in, pre, "--fractions", "0.8,0.1,0.1", "--seed", "5", NULL),
                     0);
    const char *parts[3] = {tu_path(dir, "p-train.h5"), tu_path(dir, "p-val.h5"),
                            tu_path(dir, "p-test.h5")};
    /* floor(802.4) + floor(100.3) * 2 = 1002: the remaining row goes to train. */
    const int64_t sizes[3] = {803, 100, 100};
    check_parts(parts, 3, 1003, sizes);
    tu_expect_out("p-train.h5: 803 rows");

    /* Same seed: the same files; another seed: another assignment. */
    const char *pre2 = tu_path(dir, "q"), *pre3 = tu_path(dir, "r");
    assert_int_equal(tu_nndata("split", in, pre2, "--fractions=0.8,0.1,0.1", "--seed=5", NULL), 0);
    struct tu_set s1, s2, s3;
    tu_read_set(parts[1], &s1);
    tu_read_set(tu_path(dir, "q-val.h5"), &s2);
    assert_memory_equal(s1.x, s2.x, 100 * 3 * sizeof(float));
    assert_int_equal(
        tu_nndata("split", in, pre3, "--fractions", "0.8,0.1,0.1", "--seed", "6", NULL), 0);
    tu_read_set(tu_path(dir, "r-val.h5"), &s3);
    assert_memory_not_equal(s1.x, s3.x, 100 * 3 * sizeof(float));
    tu_free_set(&s1);
    tu_free_set(&s2);
    tu_free_set(&s3);

    /* Two fractions: train and val only. */
    const char *pre4 = tu_path(dir, "two");
    assert_int_equal(tu_nndata("split", in, pre4, "--fractions", "0.75,0.25", NULL), 0);
    const char *parts2[2] = {tu_path(dir, "two-train.h5"), tu_path(dir, "two-val.h5")};
    const int64_t sizes2[2] = {753, 250};
    check_parts(parts2, 2, 1003, sizes2);
    assert_false(tu_exists(tu_path(dir, "two-test.h5")));
}

/* uint8 X with scale and 2-D float targets survive the split; rows identified by the two
 * uint8 columns (id = 256 x0 + x1). */
static void test_split_regression_u8(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    const int64_t n = 700, k = 2;
    uint8_t *x = malloc((size_t)n * 2);
    float *y = malloc((size_t)(n * k) * sizeof *y);
    for (int64_t i = 0; i < n; i++) {
        x[2 * i] = (uint8_t)(i / 256), x[2 * i + 1] = (uint8_t)(i % 256);
        y[k * i] = (float)i * 0.5f, y[k * i + 1] = -(float)i;
    }
    nt_err err;
    if (h5data_write_regression(in, n, 2, x, NULL, 0.25f, y, k, &err) != 0)
        fail_msg("%s", err.msg);
    free(x);
    free(y);
    assert_int_equal(tu_nndata("split", in, tu_path(dir, "p"), "--fractions", "0.5,0.3,0.2", NULL),
                     0);
    const char *names[3] = {"p-train.h5", "p-val.h5", "p-test.h5"};
    const int64_t sizes[3] = {350, 210, 140};
    char *seen = calloc((size_t)n, 1);
    for (int p = 0; p < 3; p++) {
        struct tu_set t;
        tu_read_regression(tu_path(dir, names[p]), &t);
        assert_int_equal(t.n, sizes[p]);
        assert_true(t.is_u8);
        assert_true(t.has_scale && t.scale == 0.25f);
        assert_int_equal(t.k, k);
        assert_true(t.y_is_f32le);
        const uint8_t *xx = t.x;
        for (int64_t r = 0; r < t.n; r++) {
            int64_t id = 256 * xx[2 * r] + xx[2 * r + 1];
            assert_true(id < n);
            assert_int_equal(seen[id], 0);
            seen[id] = 1;
            assert_true(t.yf[k * r] == (float)id * 0.5f && t.yf[k * r + 1] == -(float)id);
        }
        tu_free_set(&t);
    }
    for (int64_t i = 0; i < n; i++) assert_int_equal(seen[i], 1);
    free(seen);
}

static void test_split_bad(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5"), *pre = tu_path(dir, "p");
    write_ids(in, 20);
    const char *bad[] = {"0.8,0.1", "0.5", "0.5,0.25,0.125,0.125", "abc,0.5", "0.5,,0.5",
                         "1.5,-0.5", "0,1", "0.7,0.3000001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(tu_nndata("split", in, pre, "--fractions", bad[i], NULL), 2);
        tu_expect_one_error("--fractions");
    }
    assert_int_equal(tu_nndata("split", in, pre, NULL), 2);
    tu_expect_one_error("--fractions is required");
    /* Sums within 1e-9 pass. */
    assert_int_equal(tu_nndata("split", in, pre, "--fractions", "0.7,0.2,0.1", NULL), 0);
    /* 20 * 0.01 = 0.2 -> an empty test part: an input error (exit 3), nothing written. */
    const char *pre2 = tu_path(dir, "e");
    assert_int_equal(tu_nndata("split", in, pre2, "--fractions", "0.9,0.09,0.01", NULL), 3);
    tu_expect_one_error("e-test.h5: would be empty");
    assert_false(tu_exists(tu_path(dir, "e-train.h5")));
    assert_false(tu_exists(tu_path(dir, "e-val.h5")));
    /* A missing input. */
    assert_int_equal(
        tu_nndata("split", tu_path(dir, "nope.h5"), pre2, "--fractions", "0.5,0.5", NULL), 3);
    tu_expect_one_error("nope.h5");
    /* An input that is not HDF5, and one that fails nndata check: exit 3. */
    const char *txt = tu_path(dir, "t.h5");
    tu_write_file(txt, "hello\n", 6);
    assert_int_equal(tu_nndata("split", txt, pre2, "--fractions", "0.5,0.5", NULL), 3);
    tu_expect_one_error("t.h5: not an HDF5 file");
    const float xn[] = {1, 2, NAN, 4};
    const int32_t yn[] = {0, 1};
    const char *nan_in = tu_path(dir, "nan.h5");
    write_f32(nan_in, 2, 2, xn, yn);
    assert_int_equal(tu_nndata("split", nan_in, pre2, "--fractions", "0.5,0.5", NULL), 3);
    tu_expect_one_error("nan.h5: /X[1, 0] is nan");
    assert_false(tu_exists(tu_path(dir, "e-train.h5")));
}

/* A write error (PREFIX in a missing directory, or under a regular file): exit 1, one line
 * naming the part that could not be created, no part left behind. */
static void test_split_write_error(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    write_ids(in, 20);
    const char *pre = tu_path(dir, "nodir/p");
    assert_int_equal(tu_nndata("split", in, pre, "--fractions", "0.5,0.5", NULL), 1);
    char want[4200];
    snprintf(want, sizeof want, "%s-train.h5: cannot create", pre);
    tu_expect_one_error(want);
    assert_string_equal(tu_out, "");
    assert_false(tu_exists(tu_path(dir, "nodir")));
    /* A PREFIX under a regular file: the first part is fine to plan but cannot be created. */
    const char *file = tu_path(dir, "plain");
    tu_write_file(file, "x", 1);
    const char *pre3 = tu_path(dir, "plain/p");
    assert_int_equal(tu_nndata("split", in, pre3, "--fractions", "0.5,0.25,0.25", NULL), 1);
    snprintf(want, sizeof want, "%s-train.h5: cannot create", pre3);
    tu_expect_one_error(want);
}

/* ---- info --------------------------------------------------------------------------------- */

static void test_info(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5");
    const float x[] = {1, 2, 3, 4, 5, 6, 7, 8};
    const int32_t y[] = {0, 1, 1, 2};
    write_f32(f, 4, 2, x, y);
    assert_int_equal(tu_nndata("info", f, NULL), 0);
    tu_expect_out("N: 4\n");
    tu_expect_out("D: 2\n");
    tu_expect_out("X dtype: float32\n");
    tu_expect_out("scale: none\n");
    tu_expect_out("X chunk rows: 4\n");
    tu_expect_out("task: classification, 3 classes\n");
    tu_expect_out("  class 0: 1\n  class 1: 2\n  class 2: 1\n");
    /* feature 0: min 1, max 7, mean 4; feature 1: 2, 8, 5 */
    char line[128];
    snprintf(line, sizeof line, "  %-8d %14.6g %14.6g %14.6g\n", 0, 1.0, 7.0, 4.0);
    tu_expect_out(line);
    snprintf(line, sizeof line, "  %-8d %14.6g %14.6g %14.6g\n", 1, 2.0, 8.0, 5.0);
    tu_expect_out(line);
    assert_null(strstr(tu_out, "columns shown"));

    /* uint8 with scale, 12 features: only 10 shown, with a note; regression targets. */
    const char *g = tu_path(dir, "g.h5");
    uint8_t xu[3 * 12];
    float yt[3] = {1.5f, -2.0f, 0.5f};
    for (int i = 0; i < 36; i++) xu[i] = (uint8_t)(i * 7);
    nt_err err;
    if (h5data_write_regression(g, 3, 12, xu, NULL, 1.0f / 255.0f, yt, 1, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tu_nndata("info", g, NULL), 0);
    tu_expect_out("X dtype: uint8\n");
    tu_expect_out("scale: 0.00392156886\n");
    tu_expect_out("task: regression, 1 target\n");
    tu_expect_out("(first 10 of 12 columns shown)");
    snprintf(line, sizeof line, "  %-8d %14.6g %14.6g %14.6g\n", 9, 63.0, 231.0, 147.0);
    tu_expect_out(line);
    assert_null(strstr(tu_out, "  10 "));

    assert_int_equal(tu_nndata("info", tu_path(dir, "nope.h5"), NULL), 3);
    tu_expect_one_error("nope.h5: cannot open");
    assert_int_equal(tu_nndata("check", tu_path(dir, "nope.h5"), NULL), 3);
    tu_expect_one_error("nope.h5: cannot open");
    const char *txt = tu_path(dir, "t.h5");
    tu_write_file(txt, "hello\n", 6);
    assert_int_equal(tu_nndata("info", txt, NULL), 3);
    tu_expect_one_error("t.h5: not an HDF5 file");
}

/* ---- check -------------------------------------------------------------------------------- */

/* A 1-D or 2-D contiguous dataset. */
static void raw_dset(hid_t file, const char *name, int rank, hsize_t d0, hsize_t d1,
                     hid_t ftype, hid_t mtype, const void *data)
{
    hsize_t dims[2] = {d0, d1};
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t ds = H5Dcreate2(file, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(ds >= 0);
    if (d0 * (rank == 2 ? d1 : 1) > 0)
        assert_true(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
}

static hid_t raw_file(const char *path)
{
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

/* check PATH fails (exit 3, bad input) with one line containing `what` (after "PATH: "). */
static void expect_check_fails(const char *path, const char *what)
{
    assert_int_equal(tu_nndata("check", path, NULL), 3);
    char full[4200];
    snprintf(full, sizeof full, "%s: %s", path, what);
    tu_expect_one_error(full);
    assert_string_equal(tu_out, "");
}

static void test_check(void **state)
{
    const char *dir = *state;
    float x[20 * 4];
    int32_t y[20];
    for (int i = 0; i < 80; i++) x[i] = (float)i * 0.25f;
    for (int i = 0; i < 20; i++) y[i] = i % 3;

    const char *good = tu_path(dir, "good.h5");
    write_f32(good, 20, 4, x, y);
    assert_int_equal(tu_nndata("check", good, NULL), 0);
    char want[4200];
    snprintf(want, sizeof want, "%s: ok (20 x 4, float32, classification, 3 classes)\n", good);
    assert_string_equal(tu_out, want);
    assert_string_equal(tu_err, "");

    const char *f = tu_path(dir, "nan.h5");
    x[17 * 4 + 3] = NAN;
    write_f32(f, 20, 4, x, y);
    expect_check_fails(f, "/X[17, 3] is nan");
    x[17 * 4 + 3] = 0;
    x[5 * 4 + 0] = -INFINITY;
    f = tu_path(dir, "inf.h5");
    write_f32(f, 20, 4, x, y);
    expect_check_fails(f, "/X[5, 0] is -inf");
    x[5 * 4 + 0] = 0;

    y[2] = -1;
    f = tu_path(dir, "neg.h5");
    write_f32(f, 20, 4, x, y);
    expect_check_fails(f, "/y[2] is -1, labels must be >= 0");
    y[2] = 2;

    f = tu_path(dir, "empty.h5");
    write_f32(f, 0, 4, x, NULL);
    expect_check_fails(f, "no rows (N = 0)");

    /* /y length mismatch, missing /y, missing or 1-D /X, bad dtypes: raw HDF5. */
    f = tu_path(dir, "len.h5");
    hid_t h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    raw_dset(h, "y", 1, 19, 0, H5T_STD_I32LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    expect_check_fails(f, "/y has 19 rows, /X has 20");

    f = tu_path(dir, "noy.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    H5Fclose(h);
    expect_check_fails(f, "/y missing");

    f = tu_path(dir, "nox.h5");
    h = raw_file(f);
    raw_dset(h, "y", 1, 20, 0, H5T_STD_I32LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    expect_check_fails(f, "/X missing");

    f = tu_path(dir, "x1d.h5");
    h = raw_file(f);
    raw_dset(h, "X", 1, 20, 0, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    raw_dset(h, "y", 1, 20, 0, H5T_STD_I32LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    expect_check_fails(f, "/X is not 2-D (rank 1)");

    int32_t xi[80] = {0};
    f = tu_path(dir, "xi32.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_STD_I32LE, H5T_NATIVE_INT32, xi);
    raw_dset(h, "y", 1, 20, 0, H5T_STD_I32LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    expect_check_fails(f, "/X has dtype int32, expected uint8 or float");

    f = tu_path(dir, "y3d.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    {
        hsize_t dims[3] = {20, 1, 1};
        hid_t sp = H5Screate_simple(3, dims, NULL);
        hid_t ds = H5Dcreate2(h, "y", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(H5Dwrite(ds, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y) >= 0);
        H5Dclose(ds);
        H5Sclose(sp);
    }
    H5Fclose(h);
    expect_check_fails(f, "/y has rank 3");

    /* float64 /X is fine; float 1-D labels are not (nntrain reads integer labels only, and
     * check uses nntrain's layout rules: datasets/layout.h), nor are integer targets. */
    f = tu_path(dir, "xf64.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F64LE, H5T_NATIVE_FLOAT, x);
    raw_dset(h, "y", 1, 20, 0, H5T_STD_I64LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("ok (20 x 4, float64, classification, 3 classes)");
    double yd[20];
    for (int i = 0; i < 20; i++) yd[i] = i % 3;
    f = tu_path(dir, "yfloat.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    raw_dset(h, "y", 1, 20, 0, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, yd);
    H5Fclose(h);
    expect_check_fails(f, "/y (N) has dtype float64, expected integer class labels");
    f = tu_path(dir, "yint2d.h5");
    h = raw_file(f);
    raw_dset(h, "X", 2, 20, 4, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x);
    raw_dset(h, "y", 2, 20, 1, H5T_STD_I32LE, H5T_NATIVE_INT32, y);
    H5Fclose(h);
    expect_check_fails(f, "/y (N, K) has dtype int32, expected float regression targets");

    /* Regression: a good one, and a NaN target. */
    float yt[20 * 2];
    for (int i = 0; i < 40; i++) yt[i] = (float)i;
    nt_err err;
    f = tu_path(dir, "reg.h5");
    if (h5data_write_regression(f, 20, 4, NULL, x, 0.0f, yt, 2, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("ok (20 x 4, float32, regression, 2 targets)");
    yt[2 * 11 + 1] = NAN;
    f = tu_path(dir, "regnan.h5");
    if (h5data_write_regression(f, 20, 4, NULL, x, 0.0f, yt, 2, &err) != 0)
        fail_msg("%s", err.msg);
    expect_check_fails(f, "/y[11, 1] is nan");

    /* uint8 with scale. */
    uint8_t xu[80] = {0};
    f = tu_path(dir, "u8.h5");
    if (h5data_write(f, 20, 4, xu, NULL, 0.5f, y, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("ok (20 x 4, uint8, scale 0.5, classification, 3 classes)");

    /* Not HDF5 at all; missing. */
    f = tu_path(dir, "text.h5");
    tu_write_file(f, "hello\n", 6);
    expect_check_fails(f, "not an HDF5 file");
    f = tu_path(dir, "missing.h5");
    expect_check_fails(f, "cannot open");
}

/* The row and column of a NaN are right when it lies beyond the first block of rows read
 * (4 MiB of doubles = 131072 rows of 4 features). */
static void test_check_streamed(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "big.h5");
    const int64_t n = 200000, d = 4;
    float *x = calloc((size_t)(n * d), sizeof *x);
    int32_t *y = calloc((size_t)n, sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    x[150001 * d + 2] = INFINITY;
    y[n - 1] = 6;
    write_f32(f, n, d, x, y);
    expect_check_fails(f, "/X[150001, 2] is inf");
    x[150001 * d + 2] = 0;
    write_f32(f, n, d, x, y);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("ok (200000 x 4, float32, classification, 7 classes)");
    assert_int_equal(tu_nndata("info", f, NULL), 0);
    tu_expect_out("  class 0: 199999\n");
    tu_expect_out("  class 6: 1\n");
    free(x);
    free(y);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-NNDATA\n", argv[0]);
        return 2;
    }
    tu_set_nndata(argv[1]);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_tmpdir, tu_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        T(test_generator_cli),       T(test_split_classification),
        T(test_split_regression_u8), T(test_split_bad), T(test_split_write_error),
        T(test_info),                T(test_check),
        T(test_check_streamed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
