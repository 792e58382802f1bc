/* Unit tests for the regression data: the make-regression generator (datasets/generate.c:
 * shape, determinism under the seed, x in [-1, 1), the exact formula without noise, the
 * noise's spread) and the float-target writer h5data_write_regression (datasets/h5data.c:
 * /y float32 (N, K) chunked by rows, the empty file, bad arguments, clean-up on failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "h5data.h"
#include "testutil.h"

#define PI 3.14159265358979323846

/* ---- generator ----------------------------------------------------------------------------- */

struct reg {
    int64_t n, d;
    float *x, *y;
};

/* Buffers get GUARD extra floats set to a sentinel, to catch writes past n*d / n. */
#define GUARD 8
#define SENTINEL 12345.0f

static struct reg make(int64_t n, int64_t d, double noise, uint64_t seed)
{
    struct reg r = {n, d, malloc((size_t)(n * d + GUARD) * sizeof(float)),
                    malloc((size_t)(n + GUARD) * sizeof(float))};
    assert_non_null(r.x);
    assert_non_null(r.y);
    for (int64_t i = 0; i < n * d + GUARD; i++) r.x[i] = SENTINEL;
    for (int64_t i = 0; i < n + GUARD; i++) r.y[i] = SENTINEL;
    gen_regression(n, d, noise, seed, r.x, r.y);
    return r;
}

static void drop(struct reg *r)
{
    free(r->x);
    free(r->y);
}

/* The documented target without noise, written out here independently of generate.c. */
static double target(const float *row, int64_t d)
{
    double v = sin(PI * (double)row[0]);
    if (d >= 2) v += 0.5 * (double)row[1] * (double)row[1];
    double tail = 0.0;
    for (int64_t j = 2; j < d; j++) tail += (double)row[j];
    if (d >= 3) v += 0.25 * tail;
    return v;
}

/* Exactly n*d x values and n targets are written (the guards stay), all x in [-1, 1) and on
 * the float-exact grid k/2^23 - 1, all y finite; n == 0 writes nothing. */
static void test_regression_shape(void **state)
{
    const int64_t shapes[][2] = {{0, 3}, {1, 1}, {2, 2}, {7, 3}, {100, 5}, {1000, 2}, {3, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t n = shapes[s][0], d = shapes[s][1];
        struct reg r = make(n, d, 0.3, 11);
        for (int64_t i = 0; i < n * d; i++) {
            assert_true(r.x[i] >= -1.0f && r.x[i] < 1.0f);
            double k = ((double)r.x[i] + 1.0) * 0x1.0p23;
            assert_true(k == floor(k));
        }
        for (int64_t i = 0; i < n; i++) assert_true(isfinite(r.y[i]));
        for (int g = 0; g < GUARD; g++) {
            assert_true(r.x[n * d + g] == SENTINEL);
            assert_true(r.y[n + g] == SENTINEL);
        }
        drop(&r);
    }
}

/* x looks like U(-1, 1): per column mean ~ 0 and variance ~ 1/3 (within 6 standard errors
 * for m = 20000), and it reaches close to both ends. */
static void test_regression_uniform(void **state)
{
    const int64_t n = 20000, d = 3;
    struct reg r = make(n, d, 0.0, 4);
    for (int64_t j = 0; j < d; j++) {
        double s = 0, s2 = 0, lo = 1, hi = -1;
        for (int64_t i = 0; i < n; i++) {
            double v = r.x[i * d + j];
            s += v;
            s2 += v * v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        double mean = s / (double)n, var = s2 / (double)n - mean * mean;
        assert_true(fabs(mean) < 6 * sqrt(1.0 / 3.0 / (double)n));
        assert_true(fabs(var - 1.0 / 3.0) < 6 * sqrt(4.0 / 45.0 / (double)n));
        assert_true(lo < -0.999 && hi > 0.999);
    }
    drop(&r);
}

static void test_regression_determinism(void **state)
{
    const int64_t n = 501, d = 4;
    struct reg a = make(n, d, 0.1, 42), b = make(n, d, 0.1, 42), c = make(n, d, 0.1, 43);
    assert_memory_equal(a.x, b.x, (size_t)(n * d) * sizeof(float));
    assert_memory_equal(a.y, b.y, (size_t)n * sizeof(float));
    int64_t xdiff = 0, ydiff = 0;
    for (int64_t i = 0; i < n * d; i++) xdiff += a.x[i] != c.x[i];
    for (int64_t i = 0; i < n; i++) ydiff += a.y[i] != c.y[i];
    /* another seed gives unrelated data, not a few changed values */
    assert_true(xdiff > n * d * 9 / 10);
    assert_true(ydiff > n * 9 / 10);
    drop(&a);
    drop(&b);
    drop(&c);
}

/* Without noise y is the formula of the stored x, bit for bit once rounded to float; for
 * d = 1 and 2 the terms that do not exist must not be added. */
static void test_regression_formula(void **state)
{
    const int64_t dims[] = {1, 2, 3, 8};
    for (size_t k = 0; k < sizeof dims / sizeof dims[0]; k++) {
        int64_t n = 2000, d = dims[k];
        struct reg r = make(n, d, 0.0, 7);
        for (int64_t i = 0; i < n; i++) {
            const float *row = r.x + i * d;
            float want = (float)target(row, d);
            if (r.y[i] != want)
                fail_msg("d=%lld row %lld: y %.9g, formula %.9g", (long long)d, (long long)i,
                         (double)r.y[i], (double)want);
        }
        drop(&r);
    }
    /* Spot values with hand-set x (the formula, not the generator): x = (0.5, -1, 0.5, 0.5)
     * gives 1 + 0.5 + 0.25 = 1.75. */
    const float row[4] = {0.5f, -1.0f, 0.5f, 0.5f};
    assert_true(fabs(target(row, 4) - 1.75) < 1e-15);
    assert_true(fabs(target(row, 1) - 1.0) < 1e-15);
}

/* The noise stream is separate from the x stream: x is the same for every noise level, and
 * y(noise) - y(0) is S * N(0, 1): mean ~ 0, std within 5% of S. */
static void check_noise(double sigma)
{
    const int64_t n = 20000, d = 3;
    struct reg a = make(n, d, 0.0, 3), b = make(n, d, sigma, 3);
    assert_memory_equal(a.x, b.x, (size_t)(n * d) * sizeof(float));
    double s = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = (double)b.y[i] - target(b.x + i * d, d);
        s += e;
        s2 += e * e;
    }
    double mean = s / (double)n, sd = sqrt(s2 / (double)n - mean * mean);
    assert_true(fabs(mean) < 5 * sigma / sqrt((double)n));
    if (fabs(sd / sigma - 1.0) >= 0.05) fail_msg("noise %g: residual std %g", sigma, sd);
    drop(&a);
    drop(&b);
}

static void test_regression_noise(void **state)
{
    check_noise(0.1);
    check_noise(0.5);
    check_noise(2.0);
}

/* ---- writer -------------------------------------------------------------------------------- */

/* float32 x, targets (N, k): read back with the HDF5 C API. */
static void check_roundtrip(const char *dir, int64_t n, int64_t d, int64_t k)
{
    const char *path = tu_path(dir, "reg.h5");
    float *x = malloc((size_t)(n * d + 1) * sizeof *x), *y = malloc((size_t)(n * k + 1) * 4);
    assert_non_null(x);
    assert_non_null(y);
    for (int64_t i = 0; i < n * d; i++) x[i] = (float)i * 0.25f - 3.0f;
    for (int64_t i = 0; i < n * k; i++) y[i] = (float)i * -0.125f + 0.5f;
    nt_err err = {""};
    int rc = h5data_write_regression(path, n, d, NULL, x, 0.0f, y, k, &err);
    if (rc != 0) fail_msg("h5data_write_regression: %s", err.msg);
    assert_false(tu_exists(tu_path(dir, "reg.h5.tmp")));

    struct tu_set s;
    tu_read_regression(path, &s);
    assert_int_equal(s.n, n);
    assert_int_equal(s.d, d);
    assert_int_equal(s.k, k);
    assert_false(s.is_u8);
    assert_false(s.has_scale);
    assert_true(s.y_is_f32le);
    assert_int_equal(s.chunk_rows, h5data_chunk_rows(n, d * 4));
    assert_int_equal(s.y_chunk_rows, h5data_chunk_rows(n, k * 4));
    assert_memory_equal(s.x, x, (size_t)(n * d) * sizeof *x);
    assert_memory_equal(s.yf, y, (size_t)(n * k) * sizeof *y);
    tu_free_set(&s);
    free(x);
    free(y);
}

/* K = 1 is still a 2-D /y; 100000 rows of one float are two chunks of 65536 rows. */
static void test_write_k1(void **state)
{
    check_roundtrip(*state, 1000, 4, 1);
    check_roundtrip(*state, 100000, 2, 1);
    assert_int_equal(h5data_chunk_rows(100000, 4), 65536);
}

static void test_write_k3(void **state) { check_roundtrip(*state, 77, 3, 3); }

/* uint8 x with a scale works as for h5data_write. */
static void test_write_u8_scale(void **state)
{
    const char *path = tu_path(*state, "u8.h5");
    enum { N = 50, D = 6, K = 2 };
    uint8_t x[N * D];
    float y[N * K];
    for (int i = 0; i < N * D; i++) x[i] = (uint8_t)(i * 13);
    for (int i = 0; i < N * K; i++) y[i] = (float)i / 7.0f;
    nt_err err = {""};
    assert_int_equal(h5data_write_regression(path, N, D, x, NULL, 0.5f, y, K, &err),
                     0);
    struct tu_set s;
    tu_read_regression(path, &s);
    assert_true(s.is_u8);
    assert_true(s.has_scale);
    assert_true(s.scale == 0.5f);
    assert_int_equal(s.k, K);
    assert_memory_equal(s.x, x, sizeof x);
    assert_memory_equal(s.yf, y, sizeof y);
    tu_free_set(&s);
}

/* N == 0: /X (0, D) and /y (0, K), both with a 1-row chunk on an unlimited row axis. */
static void test_write_empty(void **state)
{
    const char *path = tu_path(*state, "empty.h5");
    float dummy = 0;
    nt_err err = {""};
    int rc = h5data_write_regression(path, 0, 5, NULL, &dummy, 0.0f, NULL, 2, &err);
    if (rc != 0) fail_msg("h5data_write_regression: %s", err.msg);
    struct tu_set s;
    tu_read_regression(path, &s);
    assert_int_equal(s.n, 0);
    assert_int_equal(s.d, 5);
    assert_int_equal(s.k, 2);
    assert_true(s.y_is_f32le);
    assert_int_equal(s.y_chunk_rows, 1);
    assert_true(s.y_unlimited_rows);
    assert_true(s.unlimited_rows);
    tu_free_set(&s);
}

static void test_write_bad_arguments(void **state)
{
    const char *path = tu_path(*state, "bad.h5");
    uint8_t xu = 1;
    float xf = 1, y = 0;
    nt_err err;
    /* K < 1, missing targets, both / neither x pointer, bad shape */
    assert_int_equal(h5data_write_regression(path, 1, 1, NULL, &xf, 0, &y, 0, &err),
                     NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "bad.h5: invalid number of targets per row (0)"));
    assert_int_equal(h5data_write_regression(path, 1, 1, NULL, &xf, 0, &y, -2, &err),
                     NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write_regression(path, 1, 1, NULL, &xf, 0, NULL, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "bad.h5: targets missing"));
    assert_int_equal(h5data_write_regression(path, 1, 1, &xu, &xf, 0, &y, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write_regression(path, 1, 1, NULL, NULL, 0, &y, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write_regression(path, 1, 0, NULL, &xf, 0, &y, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_int_equal(h5data_write_regression(path, -1, 1, NULL, &xf, 0, &y, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "bad.h5"));
    assert_int_equal(h5data_write_regression("", 1, 1, NULL, &xf, 0, &y, 1, &err),
                     NT_EXIT_RUNTIME);
    assert_false(tu_exists(path));
    assert_false(tu_exists(tu_path(*state, "bad.h5.tmp")));
    /* The label writer's messages are unchanged. */
    assert_int_equal(h5data_write(path, 1, 1, &xu, NULL, 0, NULL, &err), NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "bad.h5: labels missing"));
}

/* Failure in HDF5 after /X is written: a /y row of 2^31 floats is an 8 GiB chunk, over HDF5's
 * 4 GiB limit. No tmp file is left and an existing PATH is untouched. */
static void test_write_failure_cleans_up(void **state)
{
    const char *path = tu_path(*state, "keep.h5");
    tu_write_file(path, "old contents", 12);
    float x = 0, y = 0;
    nt_err err = {""};
    assert_int_equal(
        h5data_write_regression(path, 1, 1, NULL, &x, 0, &y, (int64_t)1 << 31, &err),
        NT_EXIT_RUNTIME);
    assert_non_null(strstr(err.msg, "keep.h5: cannot create /y"));
    assert_null(strchr(err.msg, '\n'));
    assert_false(tu_exists(tu_path(*state, "keep.h5.tmp")));
    size_t len = 0;
    char *now = tu_read_file(path, &len);
    assert_non_null(now);
    assert_int_equal(len, 12);
    assert_memory_equal(now, "old contents", 12);
    free(now);
}

/* Generator output written and read back: the file holds exactly what gen_regression made. */
static void test_generated_file(void **state)
{
    const char *path = tu_path(*state, "gen.h5");
    struct reg r = make(300, 3, 0.1, 5);
    nt_err err = {""};
    assert_int_equal(
        h5data_write_regression(path, r.n, r.d, NULL, r.x, 0.0f, r.y, 1, &err), 0);
    struct tu_set s;
    tu_read_regression(path, &s);
    assert_int_equal(s.n, 300);
    assert_int_equal(s.d, 3);
    assert_int_equal(s.k, 1);
    assert_true(s.y_is_f32le);
    assert_memory_equal(s.x, r.x, 300 * 3 * sizeof(float));
    assert_memory_equal(s.yf, r.y, 300 * sizeof(float));
    tu_free_set(&s);
    drop(&r);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tu_setup_tmpdir, tu_teardown_tmpdir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regression_shape),
        cmocka_unit_test(test_regression_uniform),
        cmocka_unit_test(test_regression_determinism),
        cmocka_unit_test(test_regression_formula),
        cmocka_unit_test(test_regression_noise),
        T(test_write_k1),
        T(test_write_k3),
        T(test_write_u8_scale),
        T(test_write_empty),
        T(test_write_bad_arguments),
        T(test_write_failure_cleans_up),
        T(test_generated_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
