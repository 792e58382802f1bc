/* nndata standardize, split --standardize, and the /X attributes mean / std in info and check
 * (binary path in argv[1]). Expected statistics are computed here independently (two passes
 * in long double over the data held in memory) and, for one file, by NumPy through
 * /usr/bin/python3 with h5py. Attributes are read and written with the HDF5 C API. */
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

#include "h5data.h"
#include "testutil.h"

static void write_f32(const char *path, int64_t n, int64_t d, const float *x, float scale)
{
    int32_t *y = malloc((size_t)n * sizeof *y);
    for (int64_t i = 0; i < n; i++) y[i] = (int32_t)(i % 3);
    nt_err err;
    if (h5data_write(path, n, d, NULL, x, scale, y, &err) != 0) fail_msg("%s", err.msg);
    free(y);
}

/* ---- attributes ------------------------------------------------------------------------- */

/* Read /X@name as float into out (d values); returns 0 if absent. Fails the test unless it is
 * a 1-D H5T_IEEE_F32LE array of d values. */
static int get_attr(const char *path, const char *name, int64_t d, float *out)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t x = H5Dopen2(f, "X", H5P_DEFAULT);
    assert_true(x >= 0);
    int present = H5Aexists(x, name) > 0;
    if (present) {
        hid_t a = H5Aopen(x, name, H5P_DEFAULT), sp = H5Aget_space(a), t = H5Aget_type(a);
        assert_int_equal(H5Sget_simple_extent_ndims(sp), 1);
        assert_int_equal(H5Sget_simple_extent_npoints(sp), d);
        assert_true(H5Tequal(t, H5T_IEEE_F32LE) > 0);
        assert_true(H5Aread(a, H5T_NATIVE_FLOAT, out) >= 0);
        H5Tclose(t), H5Sclose(sp), H5Aclose(a);
    }
    H5Dclose(x);
    H5Fclose(f);
    return present;
}

static int num_attrs(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t x = H5Dopen2(f, "X", H5P_DEFAULT);
    H5O_info_t oi;
    assert_true(H5Oget_info2(x, &oi, H5O_INFO_NUM_ATTRS) >= 0);
    H5Dclose(x);
    H5Fclose(f);
    return (int)oi.num_attrs;
}

/* Replace /X@name with `count` values of memory type mtype, stored as ftype, shape dims
 * (rank 1 or 2); rank 0 only deletes it. */
static void set_attr(const char *path, const char *name, hid_t ftype, hid_t mtype, int rank,
                     const hsize_t *dims, const void *v)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    hid_t x = H5Dopen2(f, "X", H5P_DEFAULT);
    if (H5Aexists(x, name) > 0) assert_true(H5Adelete(x, name) >= 0);
    if (rank > 0) {
        hid_t sp = H5Screate_simple(rank, dims, NULL);
        hid_t a = H5Acreate2(x, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
        assert_true(a >= 0);
        assert_true(H5Awrite(a, mtype, v) >= 0);
        H5Aclose(a), H5Sclose(sp);
    }
    H5Dclose(x);
    assert_true(H5Fclose(f) >= 0);
}

static void set_f32(const char *path, const char *name, int64_t d, const float *v)
{
    hsize_t dims[1] = {(hsize_t)d};
    set_attr(path, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dims, v);
}

/* ---- reference statistics ----------------------------------------------------------------- */

/* Two-pass mean / population std in long double of x (n x d, uint8 or float) times scale;
 * std 1 for a constant column. */
static void ref_stats(const void *x, int is_u8, int64_t n, int64_t d, double scale,
                      double *mean, double *std)
{
    for (int64_t j = 0; j < d; j++) {
        long double s = 0, s2 = 0;
        double first = 0;
        int constant = 1;
        for (int64_t i = 0; i < n; i++) {
            double v = (is_u8 ? ((const uint8_t *)x)[i * d + j] : ((const float *)x)[i * d + j]);
            v *= scale;
            if (i == 0) first = v;
            if (v != first) constant = 0;
            s += v;
        }
        long double m = s / n;
        for (int64_t i = 0; i < n; i++) {
            double v = (is_u8 ? ((const uint8_t *)x)[i * d + j] : ((const float *)x)[i * d + j]);
            long double dv = (long double)(v * scale) - m;
            s2 += dv * dv;
        }
        mean[j] = constant ? first : (double)m;
        std[j] = constant ? 1.0 : (double)sqrtl(s2 / n);
    }
}

/* The stored float32 attributes equal the reference to float32 precision (2 ulp). */
static void expect_stats(const char *path, int64_t d, const double *mean, const double *std)
{
    float *m = malloc((size_t)d * sizeof *m), *s = malloc((size_t)d * sizeof *s);
    assert_true(get_attr(path, "mean", d, m));
    assert_true(get_attr(path, "std", d, s));
    for (int64_t j = 0; j < d; j++) {
        double tol_m = 2.5e-7 * fabs(mean[j]) + 1e-7 * std[j];
        if (fabs(m[j] - mean[j]) > tol_m)
            fail_msg("%s: mean[%lld] = %.9g, expected %.9g", path, (long long)j, m[j], mean[j]);
        if (fabs(s[j] - std[j]) > 2.5e-7 * std[j])
            fail_msg("%s: std[%lld] = %.9g, expected %.9g", path, (long long)j, s[j], std[j]);
    }
    free(m);
    free(s);
}

/* Deterministic pseudo-random numbers for test data. */
static uint64_t lcg = 12345;
static uint32_t rnd(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(lcg >> 33);
}

/* ---- standardize ------------------------------------------------------------------------- */

/* A 4 x 3 file with statistics worked out by hand. */
static void test_hand_computed(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5");
    /* col 0: 1,2,3,4 -> mean 2.5, var 1.25; col 1: constant 7 -> std 1;
     * col 2: 0,0,0,10 -> mean 2.5, var (3 * 6.25 + 56.25) / 4 = 18.75. */
    const float x[] = {1, 7, 0, 2, 7, 0, 3, 7, 0, 4, 7, 10};
    write_f32(f, 4, 3, x, 0.0f);
    assert_int_equal(tu_nndata("standardize", f, NULL), 0);
    tu_expect_out("3 features over 4 rows");
    tu_expect_out("1 constant feature with std 1");
    float m[3], s[3];
    assert_true(get_attr(f, "mean", 3, m));
    assert_true(get_attr(f, "std", 3, s));
    assert_true(m[0] == 2.5f && m[1] == 7.0f && m[2] == 2.5f);
    assert_true(s[0] == (float)sqrt(1.25) && s[1] == 1.0f && s[2] == (float)sqrt(18.75));
    assert_int_equal(num_attrs(f), 2); /* no temporary attribute left behind */

    /* Data and labels untouched; check and info see the attributes. */
    struct tu_set t;
    tu_read_set(f, &t);
    assert_memory_equal(t.x, x, sizeof x);
    assert_int_equal(t.y[3], 0);
    tu_free_set(&t);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("mean/std");
    assert_int_equal(tu_nndata("info", f, NULL), 0);
    tu_expect_out("mean/std: 3 features, mean 2.5..7, std 1..4.33013\n");

    /* Existing (even malformed) mean / std are replaced. */
    const int32_t bad[2] = {1, 2};
    hsize_t two[1] = {2};
    set_attr(f, "mean", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, two, bad);
    set_attr(f, "std", H5T_STD_I32LE, H5T_NATIVE_INT32, 0, NULL, NULL);
    assert_int_equal(tu_nndata("check", f, NULL), 3);
    assert_int_equal(tu_nndata("standardize", f, NULL), 0);
    float m2[3], s2[3];
    assert_true(get_attr(f, "mean", 3, m2));
    assert_true(get_attr(f, "std", 3, s2));
    assert_memory_equal(m, m2, sizeof m);
    assert_memory_equal(s, s2, sizeof s);
    assert_int_equal(tu_nndata("check", f, NULL), 0);

    /* No mean / std: info says so. */
    const char *g = tu_path(dir, "g.h5");
    write_f32(g, 4, 3, x, 0.0f);
    assert_int_equal(tu_nndata("info", g, NULL), 0);
    tu_expect_out("mean/std: none\n");
}

/* uint8 with scale over several row blocks: statistics of the scaled values; constant columns
 * (also one whose value is not exact in binary) get std 1; a large common offset does not
 * cancel. Compared with the reference and with NumPy. */
static void test_scaled_blocks(void **state)
{
    const char *dir = *state, *u = tu_path(dir, "u.h5"), *f = tu_path(dir, "f.h5");
    const int64_t n = 5000, d = 300; /* 4 MiB blocks of doubles: 1747 rows, 3 blocks */
    uint8_t *xu = malloc((size_t)(n * d));
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            xu[i * d + j] = j == 5 ? 77 : (uint8_t)(j % 2 ? rnd() % 256 : (rnd() % 16) + j % 200);
    int32_t *y = calloc((size_t)n, sizeof *y);
    nt_err err;
    const float scale = 1.0f / 255.0f;
    if (h5data_write(u, n, d, xu, NULL, scale, y, &err) != 0) fail_msg("%s", err.msg);
    assert_int_equal(tu_nndata("standardize", u, NULL), 0);
    tu_expect_out("300 features over 5000 rows");
    tu_expect_out("1 constant feature with std 1");
    double *mean = malloc((size_t)d * sizeof *mean), *std = malloc((size_t)d * sizeof *std);
    ref_stats(xu, 1, n, d, (double)scale, mean, std);
    assert_true(std[5] == 1.0 && mean[5] == 77.0 * (double)scale);
    expect_stats(u, d, mean, std);
    /* Not the statistics of the stored (unscaled) values. */
    float m[300];
    get_attr(u, "mean", d, m);
    assert_true(m[1] < 1.0f);

    /* NumPy: (X * scale).mean(0), .std(0) (ddof 0), std 1 where constant, float32 <f4. */
    static const char py[] =
        "import sys, h5py, numpy as np\n"
        "X = h5py.File(sys.argv[1], 'r')['X']\n"
        "x = X[:].astype(np.float64) * float(X.attrs.get('scale', 1.0))\n"
        "m, s = x.mean(0), x.std(0)\n"
        "s[x.min(0) == x.max(0)] = 1\n"
        "am, asd = X.attrs['mean'], X.attrs['std']\n"
        "assert am.dtype == np.dtype('<f4') and asd.dtype == np.dtype('<f4'), am.dtype\n"
        "assert am.shape == (x.shape[1],) and asd.shape == (x.shape[1],)\n"
        "em = np.abs(am - m) / (np.abs(m) + s)\n"
        "es = np.abs(asd - s) / s\n"
        "print(em.max(), es.max())\n"
        "sys.exit(0 if em.max() < 2.5e-7 and es.max() < 2.5e-7 else 1)\n";
    const char *argv[] = {"/usr/bin/python3", "-c", py, u, NULL};
    int rc = tu_capture(argv, NULL);
    if (rc != 0) fail_msg("numpy comparison failed (%d): %s %s", rc, tu_out, tu_err);

    /* float32 with a large common offset, a constant 0.1 column (sum / n is not exactly 0.1)
     * and a huge range; scale 2. */
    float *xf = malloc((size_t)(n * d) * sizeof *xf);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            xf[i * d + j] = j == 0   ? 0.1f
                            : j == 1 ? 1e6f + (float)(rnd() % 1000) / 64.0f
                            : j == 2 ? (float)(rnd() % 2 ? 1e30 : -1e30)
                                     : (float)rnd() / 4294967296.0f - 0.5f;
    write_f32(f, n, d, xf, 2.0f);
    assert_int_equal(tu_nndata("standardize", f, NULL), 0);
    ref_stats(xf, 0, n, d, 2.0, mean, std);
    assert_true(std[0] == 1.0);
    expect_stats(f, d, mean, std);
    float s[300];
    get_attr(f, "std", d, s);
    assert_true(s[0] == 1.0f);
    const char *argv2[] = {"/usr/bin/python3", "-c", py, f, NULL};
    rc = tu_run(argv2, NULL, tu_out, sizeof tu_out, tu_err, sizeof tu_err);
    if (rc != 0) fail_msg("numpy comparison failed (%d): %s %s", rc, tu_out, tu_err);
    free(xu), free(xf), free(y), free(mean), free(std);
}

/* NaN / Inf in /X: an error naming row and column; nothing written. */
static void test_nonfinite(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5");
    float x[6 * 3];
    for (int i = 0; i < 18; i++) x[i] = (float)i;
    x[5 * 3 + 2] = NAN;
    write_f32(f, 6, 3, x, 0.0f);
    assert_int_equal(tu_nndata("standardize", f, NULL), 3);
    tu_expect_one_error("f.h5: /X[5, 2] is nan");
    float m[3];
    assert_false(get_attr(f, "mean", 3, m));
    assert_false(get_attr(f, "std", 3, m));

    /* With existing attributes: they stay as they were. */
    x[5 * 3 + 2] = 1;
    x[1 * 3 + 0] = -INFINITY;
    write_f32(f, 6, 3, x, 0.0f);
    const float om[3] = {1, 2, 3}, os[3] = {4, 5, 6};
    set_f32(f, "mean", 3, om);
    set_f32(f, "std", 3, os);
    assert_int_equal(tu_nndata("standardize", f, NULL), 3);
    tu_expect_one_error("/X[1, 0] is -inf");
    float s[3];
    assert_true(get_attr(f, "mean", 3, m) && get_attr(f, "std", 3, s));
    assert_memory_equal(m, om, sizeof om);
    assert_memory_equal(s, os, sizeof os);
}

/* --stats-from copies exactly; errors for a source without attributes or another D. */
static void test_stats_from(void **state)
{
    const char *dir = *state, *a = tu_path(dir, "a.h5"), *b = tu_path(dir, "b.h5");
    const char *c = tu_path(dir, "c.h5");
    float xa[20 * 4], xb[20 * 4], xc[20 * 3];
    for (int i = 0; i < 80; i++) xa[i] = (float)(rnd() % 1000) / 7.0f, xb[i] = (float)i;
    for (int i = 0; i < 60; i++) xc[i] = (float)i;
    write_f32(a, 20, 4, xa, 0.0f);
    write_f32(b, 20, 4, xb, 0.0f);
    write_f32(c, 20, 3, xc, 0.0f);

    /* Source without attributes: error naming it; b unchanged. */
    assert_int_equal(tu_nndata("standardize", b, "--stats-from", a, NULL), 3);
    tu_expect_one_error("a.h5: /X has no attributes mean and std");
    float m[4], s[4], ma[4], sa[4];
    assert_false(get_attr(b, "mean", 4, m));

    assert_int_equal(tu_nndata("standardize", a, NULL), 0);
    assert_int_equal(tu_nndata("standardize", b, "--stats-from", a, NULL), 0);
    tu_expect_out("copied from");
    assert_true(get_attr(a, "mean", 4, ma) && get_attr(a, "std", 4, sa));
    assert_true(get_attr(b, "mean", 4, m) && get_attr(b, "std", 4, s));
    assert_memory_equal(m, ma, sizeof m);
    assert_memory_equal(s, sa, sizeof s);
    /* ... and they are not b's own statistics. */
    double bm[4], bs[4];
    ref_stats(xb, 0, 20, 4, 1.0, bm, bs);
    assert_true(fabs(m[0] - bm[0]) > 1.0);
    assert_int_equal(tu_nndata("check", b, NULL), 0);

    /* Another D: error naming the source. */
    assert_int_equal(tu_nndata("standardize", c, "--stats-from=" "x", NULL), 3);
    tu_expect_one_error("x: cannot open");
    assert_int_equal(tu_nndata("standardize", c, "--stats-from", a, NULL), 3);
    tu_expect_one_error("a.h5: D = 4 features, but");
    assert_false(get_attr(c, "mean", 3, m));
    /* A source with broken attributes: the check's message. */
    const float z[4] = {1, 0, 1, 1};
    set_f32(a, "std", 4, z);
    assert_int_equal(tu_nndata("standardize", b, "--stats-from", a, NULL), 3);
    tu_expect_one_error("a.h5: /X attribute std[1] is 0");
}

/* --remove deletes both (also a lone, malformed one); data unchanged. */
static void test_remove(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5");
    float x[10 * 2];
    for (int i = 0; i < 20; i++) x[i] = (float)(i * i);
    write_f32(f, 10, 2, x, 0.5f);
    assert_int_equal(tu_nndata("standardize", f, NULL), 0);
    assert_int_equal(num_attrs(f), 3);
    assert_int_equal(tu_nndata("standardize", f, "--remove", NULL), 0);
    tu_expect_out("removed");
    float m[2];
    assert_false(get_attr(f, "mean", 2, m));
    assert_false(get_attr(f, "std", 2, m));
    assert_int_equal(num_attrs(f), 1); /* scale stays */
    struct tu_set t;
    tu_read_set(f, &t);
    assert_true(t.has_scale && t.scale == 0.5f);
    assert_memory_equal(t.x, x, sizeof x);
    tu_free_set(&t);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    assert_int_equal(tu_nndata("standardize", f, "--remove", NULL), 0);
    tu_expect_out("nothing removed");

    const double bad = 0;
    hsize_t one[1] = {1};
    set_attr(f, "std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, one, &bad);
    assert_int_equal(tu_nndata("check", f, NULL), 3);
    assert_int_equal(tu_nndata("standardize", f, "--remove", NULL), 0);
    assert_int_equal(num_attrs(f), 1);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
}

/* ---- split ---------------------------------------------------------------------------------- */

/* split --standardize: the statistics of the train part's rows, on every part; val / test rows
 * are far from the train rows' range in expectation, so leaking them would show. */
static void test_split_standardize(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    const int64_t n = 1000, d = 3;
    float *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        x[i * d] = (float)i * (float)i; /* heavy tail: every subset has its own stats */
        x[i * d + 1] = (float)(i % 10 == 0 ? 1e6 : i % 7);
        x[i * d + 2] = 3.0f;
    }
    write_f32(in, n, d, x, 0.0f);
    assert_int_equal(tu_nndata("split", in, tu_path(dir, "p"), "--fractions", "0.6,0.2,0.2",
                               "--standardize", "--seed", "3", NULL),
                     0);
    tu_expect_out("mean/std of the train rows");
    const char *parts[3] = {tu_path(dir, "p-train.h5"), tu_path(dir, "p-val.h5"),
                            tu_path(dir, "p-test.h5")};
    struct tu_set t;
    tu_read_set(parts[0], &t);
    assert_int_equal(t.n, 600);
    double tm[3], ts[3], fm[3], fs[3];
    ref_stats(t.x, 0, t.n, d, 1.0, tm, ts);
    tu_free_set(&t);
    ref_stats(x, 0, n, d, 1.0, fm, fs);
    /* The train statistics differ from the whole file's far beyond the tolerance. */
    assert_true(fabs(tm[0] - fm[0]) > 1e-3 * fm[0] || fabs(ts[0] - fs[0]) > 1e-3 * fs[0]);
    assert_true(ts[2] == 1.0 && tm[2] == 3.0);
    float m0[3], s0[3], m[3], s[3];
    assert_true(get_attr(parts[0], "mean", d, m0) && get_attr(parts[0], "std", d, s0));
    for (int p = 0; p < 3; p++) {
        expect_stats(parts[p], d, tm, ts);
        assert_true(get_attr(parts[p], "mean", d, m) && get_attr(parts[p], "std", d, s));
        assert_memory_equal(m, m0, sizeof m);
        assert_memory_equal(s, s0, sizeof s);
        assert_int_equal(tu_nndata("check", parts[p], NULL), 0);
    }
    /* Without --standardize the same split has none (the input has none). */
    assert_int_equal(tu_nndata("split", in, tu_path(dir, "q"), "--fractions", "0.6,0.2,0.2", NULL),
                     0);
    assert_false(get_attr(tu_path(dir, "q-val.h5"), "mean", d, m));

    /* An input with a broken std: split refuses, naming it; --standardize replaces it. */
    const float z[3] = {0, 1, 1};
    set_f32(in, "mean", d, z);
    set_f32(in, "std", d, z);
    assert_int_equal(tu_nndata("split", in, tu_path(dir, "r"), "--fractions", "0.5,0.5", NULL), 3);
    tu_expect_one_error("in.h5: /X attribute std[0] is 0");
    assert_false(tu_exists(tu_path(dir, "r-train.h5")));
    assert_int_equal(
        tu_nndata("split", in, tu_path(dir, "r"), "--fractions", "0.5,0.5", "--standardize", NULL),
        0);
    assert_int_equal(tu_nndata("check", tu_path(dir, "r-val.h5"), NULL), 0);
    free(x);

    /* uint8 with scale and regression targets: statistics of the scaled train rows. */
    const char *u = tu_path(dir, "u.h5");
    const int64_t nu = 500, du = 4;
    uint8_t *xu = malloc((size_t)(nu * du));
    float *yt = malloc((size_t)nu * sizeof *yt);
    for (int64_t i = 0; i < nu * du; i++) xu[i] = (uint8_t)(rnd() % 256);
    for (int64_t i = 0; i < nu; i++) yt[i] = (float)i;
    nt_err err;
    if (h5data_write_regression(u, nu, du, xu, NULL, 0.25f, yt, 1, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(
        tu_nndata("split", u, tu_path(dir, "v"), "--fractions", "0.5,0.5", "--standardize", NULL),
        0);
    tu_read_regression(tu_path(dir, "v-train.h5"), &t);
    assert_true(t.is_u8 && t.has_scale && t.scale == 0.25f);
    double um[4], us[4];
    ref_stats(t.x, 1, t.n, du, 0.25, um, us);
    tu_free_set(&t);
    expect_stats(tu_path(dir, "v-train.h5"), du, um, us);
    expect_stats(tu_path(dir, "v-val.h5"), du, um, us);
    assert_int_equal(tu_nndata("check", tu_path(dir, "v-val.h5"), NULL), 0);
    free(xu);
    free(yt);
}

/* Without --standardize, split copies scale, mean and std of the input to every part. */
static void test_split_carries(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    const int64_t n = 300, d = 5;
    uint8_t *xu = malloc((size_t)(n * d));
    int32_t *y = calloc((size_t)n, sizeof *y);
    for (int64_t i = 0; i < n * d; i++) xu[i] = (uint8_t)(rnd() % 256);
    nt_err err;
    if (h5data_write(in, n, d, xu, NULL, 1.0f / 255.0f, y, &err) != 0)
        fail_msg("%s", err.msg);
    /* Distinctive values, not this file's statistics. */
    const float mean[5] = {0.125f, -3.5f, 1e-3f, 7.0f, 0.333f};
    const float std[5] = {0.5f, 2.0f, 1e-4f, 1.0f, 0.777f};
    set_f32(in, "mean", d, mean);
    set_f32(in, "std", d, std);
    assert_int_equal(tu_nndata("split", in, tu_path(dir, "p"), "--fractions", "0.5,0.3,0.2", NULL),
                     0);
    const char *names[3] = {"p-train.h5", "p-val.h5", "p-test.h5"};
    for (int p = 0; p < 3; p++) {
        const char *path = tu_path(dir, names[p]);
        struct tu_set t;
        tu_read_set(path, &t);
        assert_true(t.is_u8 && t.has_scale && t.scale == 1.0f / 255.0f);
        tu_free_set(&t);
        float m[5], s[5];
        assert_true(get_attr(path, "mean", d, m) && get_attr(path, "std", d, s));
        assert_memory_equal(m, mean, sizeof m);
        assert_memory_equal(s, std, sizeof s);
    }
    free(xu);
    free(y);
}

/* More than 16000 features: split writes a file format that holds the attributes; in place on
 * a file without it, a clean error and an unchanged file. */
static void test_many_features(void **state)
{
    const char *dir = *state, *in = tu_path(dir, "in.h5");
    const int64_t n = 6, d = 20000;
    float *x = malloc((size_t)(n * d) * sizeof *x);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)(rnd() % 100);
    write_f32(in, n, d, x, 0.0f);
    /* a write error (exit 1), not bad input */
    assert_int_equal(tu_nndata("standardize", in, NULL), 1);
    tu_expect_one_error("in.h5: cannot write /X attributes mean and std");
    assert_int_equal(num_attrs(in), 0);
    assert_int_equal(tu_nndata("check", in, NULL), 0);
    assert_int_equal(
        tu_nndata("split", in, tu_path(dir, "p"), "--fractions", "0.5,0.5", "--standardize", NULL),
        0);
    assert_int_equal(tu_nndata("check", tu_path(dir, "p-val.h5"), NULL), 0);
    tu_expect_out("mean/std");
    assert_int_equal(tu_nndata("standardize", tu_path(dir, "p-val.h5"), NULL), 0);
    free(x);
}

/* ---- check -------------------------------------------------------------------------------- */

static void expect_check_fails(const char *path, const char *what)
{
    assert_int_equal(tu_nndata("check", path, NULL), 3);
    tu_expect_one_error(what);
    assert_int_equal(tu_nndata("info", path, NULL), 3);
    tu_expect_one_error(what);
}

static void test_check_attrs(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5");
    float x[10 * 3];
    for (int i = 0; i < 30; i++) x[i] = (float)i;
    write_f32(f, 10, 3, x, 0.0f);
    const float good[3] = {1, 2, 3};
    hsize_t d3[1] = {3}, d2[1] = {2}, d13[2] = {1, 3};

    set_f32(f, "mean", 3, good);
    expect_check_fails(f, "f.h5: /X attribute mean without std");
    set_attr(f, "mean", 0, 0, 0, NULL, NULL);
    set_f32(f, "std", 3, good);
    expect_check_fails(f, "f.h5: /X attribute std without mean");
    set_f32(f, "mean", 3, good);
    assert_int_equal(tu_nndata("check", f, NULL), 0);

    set_attr(f, "std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, d2, good);
    expect_check_fails(f, "f.h5: /X attribute std has 2 values, expected D = 3");
    set_attr(f, "std", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d13, good);
    expect_check_fails(f, "f.h5: /X attribute std has rank 2");
    const int32_t ints[3] = {1, 2, 3};
    set_attr(f, "std", H5T_STD_I32LE, H5T_NATIVE_INT32, 1, d3, ints);
    expect_check_fails(f, "f.h5: /X attribute std has dtype int32, expected float32");
    const float zero[3] = {1, 0, 1}, neg[3] = {1, 1, -2}, nan_[3] = {NAN, 1, 1};
    set_f32(f, "std", 3, zero);
    expect_check_fails(f, "f.h5: /X attribute std[1] is 0, expected > 0");
    set_f32(f, "std", 3, neg);
    expect_check_fails(f, "f.h5: /X attribute std[2] is -2, expected > 0");
    set_f32(f, "std", 3, nan_);
    expect_check_fails(f, "f.h5: /X attribute std[0] is nan");
    set_f32(f, "std", 3, good);
    const float minf[3] = {0, 0, INFINITY};
    set_f32(f, "mean", 3, minf);
    expect_check_fails(f, "f.h5: /X attribute mean[2] is inf");
    set_f32(f, "mean", 3, nan_);
    expect_check_fails(f, "f.h5: /X attribute mean[0] is nan");
    /* float64 beyond float32's range is inf once read as nntrain reads it. */
    const double big[3] = {1, 1e300, 1};
    set_attr(f, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d3, big);
    assert_int_equal(tu_nndata("check", f, NULL), 3);
    tu_expect_one_error("f.h5: /X attribute mean[1] is");
    /* float64 in range is fine. */
    const double ok64[3] = {1, 2, 3};
    set_attr(f, "mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, d3, ok64);
    assert_int_equal(tu_nndata("check", f, NULL), 0);
    tu_expect_out("mean/std");
}

/* ---- usage -------------------------------------------------------------------------------- */

static void test_usage(void **state)
{
    const char *dir = *state, *f = tu_path(dir, "f.h5"), *g = tu_path(dir, "g.h5");
    float x[4 * 2] = {1, 2, 3, 4, 5, 6, 7, 8};
    write_f32(f, 4, 2, x, 0.0f);
    write_f32(g, 4, 2, x, 0.0f);
    assert_int_equal(tu_nndata("standardize", NULL), 2);
    tu_expect_one_error("expected FILE.h5, got 0 arguments");
    assert_int_equal(tu_nndata("standardize", f, g, NULL), 2);
    tu_expect_one_error("unexpected argument");
    assert_int_equal(tu_nndata("standardize", f, "--remove=yes", NULL), 2);
    tu_expect_usage("option '--remove' takes no value for standardize (try: nndata standardize --help)");
    assert_int_equal(tu_nndata("standardize", f, "--stats-from", NULL), 2);
    tu_expect_usage("missing value after '--stats-from' for standardize (try: nndata standardize --help)");
    assert_int_equal(tu_nndata("standardize", f, "--remove", "--stats-from", g, NULL), 2);
    tu_expect_one_error("exclude each other");
    assert_int_equal(tu_nndata("standardize", f, "--scale", "2", NULL), 2);
    tu_expect_usage("unknown option '--scale' for standardize (try: nndata standardize --help)");
    assert_int_equal(
        tu_nndata("split", f, tu_path(dir, "p"), "--fractions", "0.5,0.5", "--standardize=1", NULL),
        2);
    tu_expect_usage("option '--standardize' takes no value for split (try: nndata split --help)");
    /* Usage errors write nothing. */
    float m[2];
    assert_false(get_attr(f, "mean", 2, m));

    assert_int_equal(tu_nndata("standardize", tu_path(dir, "nope.h5"), NULL), 3);
    tu_expect_one_error("nope.h5: cannot open");
    const char *txt = tu_path(dir, "t.h5");
    tu_write_file(txt, "hello\n", 6);
    assert_int_equal(tu_nndata("standardize", txt, NULL), 3);
    tu_expect_one_error("t.h5: not an HDF5 file");

    assert_int_equal(tu_nndata("standardize", "--help", NULL), 0);
    tu_expect_out("usage: nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]");
    assert_int_equal(tu_nndata("--help", NULL), 0);
    tu_expect_out("nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]");
    tu_expect_out("[--standardize]");
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
        T(test_hand_computed), T(test_scaled_blocks),     T(test_nonfinite),
        T(test_stats_from),    T(test_remove),            T(test_split_standardize),
        T(test_split_carries), T(test_many_features),     T(test_check_attrs),
        T(test_usage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
