/* Unit tests for the make-blobs / make-spirals / make-xor generators (datasets/generate.c):
 * shape and class balance, determinism under the seed (and change with it), exact geometry
 * without noise, and that the rows are shuffled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"

enum { BLOBS, SPIRALS, XOR };

struct pts {
    int64_t n, d;
    float *x;
    int32_t *y;
};

static struct pts make(int kind, int64_t n, int64_t k, int64_t d, double a, uint64_t seed,
                       double *centers)
{
    if (kind != BLOBS) d = 2;
    struct pts p = {n, d, malloc((size_t)(n ? n : 1) * (size_t)d * sizeof(float)),
                    malloc((size_t)(n ? n : 1) * sizeof(int32_t))};
    assert_non_null(p.x);
    assert_non_null(p.y);
    if (kind == BLOBS)
        gen_blobs(n, k, d, a, seed, p.x, p.y, centers);
    else if (kind == SPIRALS)
        gen_spirals(n, k, a, seed, p.x, p.y);
    else
        gen_xor(n, a, seed, p.x, p.y);
    return p;
}

static void drop(struct pts *p)
{
    free(p->x);
    free(p->y);
}

/* Class counts differ by at most 1: class c has floor(n/k) + (c < n % k). */
static void check_balance(int kind)
{
    const int64_t sizes[] = {1, 2, 3, 7, 100, 1001};
    const int64_t ks[] = {1, 2, 3, 5};
    for (size_t a = 0; a < sizeof sizes / sizeof sizes[0]; a++)
        for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++) {
            int64_t n = sizes[a], k = ks[b], counts[5] = {0};
            if (k > n) continue;
            struct pts p = make(kind, n, k, 3, 0.5, 9, NULL);
            for (int64_t i = 0; i < n; i++) {
                assert_true(p.y[i] >= 0 && p.y[i] < k);
                counts[p.y[i]]++;
                for (int64_t j = 0; j < p.d; j++) assert_true(isfinite(p.x[i * p.d + j]));
            }
            for (int64_t c = 0; c < k; c++) assert_int_equal(counts[c], n / k + (c < n % k));
            drop(&p);
        }
}

static void test_blobs_balance(void **state) { check_balance(BLOBS); }
static void test_spirals_balance(void **state) { check_balance(SPIRALS); }

static void check_determinism(int kind, double a)
{
    const int64_t n = 401;
    struct pts p = make(kind, n, 3, 4, a, 42, NULL), q = make(kind, n, 3, 4, a, 42, NULL);
    struct pts r = make(kind, n, 3, 4, a, 43, NULL);
    size_t xs = (size_t)(n * p.d) * sizeof(float);
    assert_memory_equal(p.x, q.x, xs);
    assert_memory_equal(p.y, q.y, (size_t)n * sizeof(int32_t));
    assert_memory_not_equal(p.x, r.x, xs);
    assert_memory_not_equal(p.y, r.y, (size_t)n * sizeof(int32_t));
    drop(&p);
    drop(&q);
    drop(&r);
}

static void test_blobs_determinism(void **state) { check_determinism(BLOBS, 1.0); }
static void test_spirals_determinism(void **state) { check_determinism(SPIRALS, 0.2); }
static void test_xor_determinism(void **state) { check_determinism(XOR, 0.1); }

/* Blobs: centers in [-10, 10]; without noise every point is its center (float32-rounded);
 * with std 1 every coordinate is within 6 std of its center and the per-class mean within
 * 5 std/sqrt(m) of it. Rows are shuffled (labels not sorted). */
static void test_blobs_geometry(void **state)
{
    const int64_t n = 3000, k = 4, d = 5;
    double c0[4 * 5], c1[4 * 5];
    struct pts p = make(BLOBS, n, k, d, 0.0, 11, c0);
    for (int64_t i = 0; i < k * d; i++) assert_true(c0[i] >= -10 && c0[i] < 10);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < d; j++)
            assert_true(p.x[i * d + j] == (float)c0[p.y[i] * d + j]);
    drop(&p);

    p = make(BLOBS, n, k, d, 1.0, 11, c1);
    assert_memory_equal(c0, c1, sizeof c0); /* centers do not depend on std */
    double mean[4 * 5] = {0};
    int64_t cnt[4] = {0}, sorted = 1;
    for (int64_t i = 0; i < n; i++) {
        cnt[p.y[i]]++;
        if (i > 0 && p.y[i] < p.y[i - 1]) sorted = 0;
        for (int64_t j = 0; j < d; j++) {
            double v = p.x[i * d + j], c = c1[p.y[i] * d + j];
            assert_true(fabs(v - c) < 6.0);
            mean[p.y[i] * d + j] += v;
        }
    }
    assert_false(sorted);
    for (int64_t c = 0; c < k; c++)
        for (int64_t j = 0; j < d; j++)
            assert_true(fabs(mean[c * d + j] / (double)cnt[c] - c1[c * d + j]) <
                        5.0 / sqrt((double)cnt[c]));
    drop(&p);

    /* Another seed moves the centers. */
    double c2[4 * 5];
    p = make(BLOBS, 10, k, d, 1.0, 12, c2);
    assert_memory_not_equal(c0, c2, sizeof c0);
    drop(&p);
}

/* Spirals without noise: radius r in [0, 1], the radii of class c are linspace(0, 1, m)
 * and the angle is exactly 4c + 4r (checked through the coordinates). */
static void test_spirals_geometry(void **state)
{
    const int64_t n = 301, k = 3;
    struct pts p = make(SPIRALS, n, k, 2, 0.0, 5, NULL);
    int64_t zeros[3] = {0}, ones[3] = {0}, sorted = 1;
    for (int64_t i = 0; i < n; i++) {
        double a = p.x[2 * i], b = p.x[2 * i + 1], r = sqrt(a * a + b * b);
        int c = p.y[i];
        assert_true(r <= 1.0 + 1e-6);
        if (i > 0 && p.y[i] < p.y[i - 1]) sorted = 0;
        if (r < 1e-12) zeros[c]++;
        if (fabs(r - 1.0) < 1e-6) ones[c]++;
        if (r > 1e-3) {
            double th = 4.0 * c + 4.0 * r;
            assert_true(fabs(a - r * sin(th)) < 1e-5);
            assert_true(fabs(b - r * cos(th)) < 1e-5);
        }
    }
    assert_false(sorted);
    for (int c = 0; c < 3; c++) {
        assert_int_equal(zeros[c], 1); /* r = linspace(0, 1, m): both ends present */
        assert_int_equal(ones[c], 1);
    }
    drop(&p);

    /* With noise only the angle moves: the radius stays in [0, 1]. */
    p = make(SPIRALS, n, k, 2, 0.5, 5, NULL);
    for (int64_t i = 0; i < n; i++)
        assert_true(hypot(p.x[2 * i], p.x[2 * i + 1]) <= 1.0 + 1e-6);
    drop(&p);
}

/* XOR without noise: points in [-1, 1)^2 and the label is exactly the quadrant XOR; both
 * labels about equally frequent. With noise, labels are the same as without (they come from
 * the noiseless point) and the points moved. */
static void test_xor_geometry(void **state)
{
    const int64_t n = 4000;
    struct pts p = make(XOR, n, 2, 2, 0.0, 3, NULL);
    int64_t ones = 0;
    for (int64_t i = 0; i < n; i++) {
        float a = p.x[2 * i], b = p.x[2 * i + 1];
        assert_true(a >= -1 && a < 1 && b >= -1 && b < 1);
        assert_int_equal(p.y[i], (a > 0) != (b > 0));
        ones += p.y[i];
    }
    assert_true(ones > n / 2 - 200 && ones < n / 2 + 200);
    struct pts q = make(XOR, n, 2, 2, 0.3, 3, NULL);
    assert_memory_equal(p.y, q.y, (size_t)n * sizeof(int32_t));
    int64_t flipped = 0;
    for (int64_t i = 0; i < n; i++)
        flipped += ((q.x[2 * i] > 0) != (q.x[2 * i + 1] > 0)) != q.y[i];
    assert_true(flipped > 0);
    drop(&p);
    drop(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blobs_balance),     cmocka_unit_test(test_spirals_balance),
        cmocka_unit_test(test_blobs_determinism), cmocka_unit_test(test_spirals_determinism),
        cmocka_unit_test(test_xor_determinism),   cmocka_unit_test(test_blobs_geometry),
        cmocka_unit_test(test_spirals_geometry),  cmocka_unit_test(test_xor_geometry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
