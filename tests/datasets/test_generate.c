/* Unit tests for the make-moons / make-circles generators (datasets/generate.c): shape and
 * class balance, determinism under the seed, exact geometry without noise, the noise's
 * distribution, and that the rows really are shuffled. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"

#define PI 3.14159265358979323846

struct pts {
    int64_t n;
    float *x;
    int32_t *y;
};

static struct pts make(int circles, int64_t n, double noise, double factor, uint64_t seed)
{
    struct pts p = {n, malloc((size_t)(n ? n : 1) * 2 * sizeof(float)),
                    malloc((size_t)(n ? n : 1) * sizeof(int32_t))};
    assert_non_null(p.x);
    assert_non_null(p.y);
    if (circles)
        gen_circles(n, noise, factor, seed, p.x, p.y);
    else
        gen_moons(n, noise, seed, p.x, p.y);
    return p;
}

static void drop(struct pts *p)
{
    free(p->x);
    free(p->y);
}

static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

/* Class 0 gets floor(n/2) points, class 1 the rest; labels are 0/1; all values finite. */
static void check_balance(int circles)
{
    const int64_t sizes[] = {1, 2, 3, 7, 100, 1001};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int64_t n = sizes[k], c0 = 0, c1 = 0;
        struct pts p = make(circles, n, 0.1, 0.8, 5);
        for (int64_t i = 0; i < n; i++) {
            assert_true(p.y[i] == 0 || p.y[i] == 1);
            c0 += p.y[i] == 0;
            c1 += p.y[i] == 1;
            assert_true(isfinite(p.x[2 * i]) && isfinite(p.x[2 * i + 1]));
        }
        assert_int_equal(c0, n / 2);
        assert_int_equal(c1, n - n / 2);
        drop(&p);
    }
}

static void test_moons_balance(void **state) { check_balance(0); }
static void test_circles_balance(void **state) { check_balance(1); }

static void check_determinism(int circles)
{
    struct pts a = make(circles, 501, 0.1, 0.8, 42), b = make(circles, 501, 0.1, 0.8, 42);
    struct pts c = make(circles, 501, 0.1, 0.8, 43);
    assert_memory_equal(a.x, b.x, 501 * 2 * sizeof(float));
    assert_memory_equal(a.y, b.y, 501 * sizeof(int32_t));
    assert_memory_not_equal(a.x, c.x, 501 * 2 * sizeof(float));
    assert_memory_not_equal(a.y, c.y, 501 * sizeof(int32_t));
    drop(&a);
    drop(&b);
    drop(&c);
}

static void test_moons_determinism(void **state) { check_determinism(0); }
static void test_circles_determinism(void **state) { check_determinism(1); }

/* Moons without noise: class 0 on x^2 + y^2 = 1, y >= 0 (upper half circle about the origin);
 * class 1 on (x-1)^2 + (y-0.5)^2 = 1, y <= 0.5 (lower half circle about (1, 0.5)). The
 * angles are linspace(0, pi, m) with both end points: sorted, they step by pi/(m-1). */
static void test_moons_geometry(void **state)
{
    const int64_t n = 201; /* odd: 100 outer, 101 inner */
    struct pts p = make(0, n, 0.0, 0.0, 7);
    double t0[201], t1[201];
    int64_t m0 = 0, m1 = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = p.x[2 * i], y = p.x[2 * i + 1];
        if (p.y[i] == 0) {
            assert_true(fabs(x * x + y * y - 1.0) < 1e-5);
            assert_true(y >= -1e-6);
            t0[m0++] = atan2(y, x); /* in [0, pi]; -pi for a y of -0 at t = pi */
            if (t0[m0 - 1] < -PI / 2) t0[m0 - 1] += 2 * PI;
        } else {
            double u = x - 1.0, v = y - 0.5;
            assert_true(fabs(u * u + v * v - 1.0) < 1e-5);
            assert_true(y <= 0.5 + 1e-6);
            t1[m1++] = atan2(-v, -u); /* (u, v) = (-cos t, -sin t) */
            if (t1[m1 - 1] < -1e-6) t1[m1 - 1] += 2 * PI;
        }
    }
    assert_int_equal(m0, 100);
    assert_int_equal(m1, 101);
    qsort(t0, (size_t)m0, sizeof t0[0], cmp_double);
    qsort(t1, (size_t)m1, sizeof t1[0], cmp_double);
    for (int64_t i = 0; i < m0; i++) assert_true(fabs(t0[i] - PI * (double)i / 99.0) < 1e-5);
    for (int64_t i = 0; i < m1; i++) assert_true(fabs(t1[i] - PI * (double)i / 100.0) < 1e-5);
    drop(&p);
}

/* Circles without noise: class 0 radius 1, class 1 radius factor; angles linspace(0, 2pi, m)
 * without the end point, i.e. sorted they step by 2pi/m starting at 0. */
static void check_circles_geometry(double factor)
{
    const int64_t n = 120;
    struct pts p = make(1, n, 0.0, factor, 9);
    double t0[120], t1[120];
    int64_t m0 = 0, m1 = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = p.x[2 * i], y = p.x[2 * i + 1], r = sqrt(x * x + y * y);
        double t = atan2(y, x);
        if (t < -1e-6) t += 2 * PI;
        if (p.y[i] == 0) {
            assert_true(fabs(r - 1.0) < 1e-5);
            t0[m0++] = t;
        } else {
            assert_true(fabs(r - factor) < 1e-5);
            t1[m1++] = t;
        }
    }
    assert_int_equal(m0, 60);
    assert_int_equal(m1, 60);
    qsort(t0, 60, sizeof t0[0], cmp_double);
    qsort(t1, 60, sizeof t1[0], cmp_double);
    for (int i = 0; i < 60; i++) {
        assert_true(fabs(t0[i] - 2 * PI * i / 60.0) < 1e-5);
        assert_true(fabs(t1[i] - 2 * PI * i / 60.0) < 1e-5);
    }
    drop(&p);
}

static void test_circles_geometry(void **state)
{
    check_circles_geometry(0.8);
    check_circles_geometry(0.3);
}

/* The shuffle stream does not depend on the noise, so (noisy - clean) row by row is exactly
 * the added noise: mean ~ 0 (|mean| < 5 sigma/sqrt(m)) and std ~ sigma (within 3%, about
 * 6 standard errors for m = 40000 values). */
static void check_noise(int circles, double sigma)
{
    const int64_t n = 20000;
    struct pts a = make(circles, n, 0.0, 0.5, 3), b = make(circles, n, sigma, 0.5, 3);
    assert_memory_equal(a.y, b.y, (size_t)n * sizeof(int32_t));
    double s = 0, s2 = 0, m = 2.0 * (double)n;
    for (int64_t i = 0; i < 2 * n; i++) {
        double e = (double)b.x[i] - (double)a.x[i];
        s += e;
        s2 += e * e;
    }
    double mean = s / m, sd = sqrt(s2 / m - mean * mean);
    assert_true(fabs(mean) < 5 * sigma / sqrt(m));
    assert_true(fabs(sd / sigma - 1.0) < 0.03);
    drop(&a);
    drop(&b);
}

static void test_noise_distribution(void **state)
{
    check_noise(0, 0.1);
    check_noise(1, 0.05);
    check_noise(0, 2.0);
}

/* Unshuffled, the labels would be 0...0 1...1 (one change); a fair shuffle of 500/500 gives
 * about 500 changes. Require far more than a sorted or barely mixed sequence could have. */
static void test_shuffled(void **state)
{
    for (int circles = 0; circles < 2; circles++) {
        struct pts p = make(circles, 1000, 0.0, 0.8, 1);
        int changes = 0;
        for (int i = 1; i < 1000; i++) changes += p.y[i] != p.y[i - 1];
        assert_true(changes > 400);
        drop(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moons_balance),      cmocka_unit_test(test_circles_balance),
        cmocka_unit_test(test_moons_determinism),  cmocka_unit_test(test_circles_determinism),
        cmocka_unit_test(test_moons_geometry),     cmocka_unit_test(test_circles_geometry),
        cmocka_unit_test(test_noise_distribution), cmocka_unit_test(test_shuffled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
