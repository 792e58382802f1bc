/* make-moons / make-circles / make-regression / make-blobs / make-spirals / make-xor
 * generators (see generate.h). Each point plus its noise is computed in double and rounded
 * to float32 once; then the rows are shuffled (Fisher-Yates). No allocation: the caller's x
 * and y are the only storage. */
#include "generate.h"

#include <math.h>

#include "rng.h"

#define GEN_PI 3.14159265358979323846

/* Sub-streams of NN_STREAM_DATA; the generator id keeps the generators independent. */
enum { GEN_MOONS = 1, GEN_CIRCLES = 2, GEN_REGRESSION = 3 };
enum { GEN_SUB_NOISE = 1, GEN_SUB_SHUFFLE = 2, GEN_SUB_INPUT = 3 };

/* numpy.linspace(0, stop, m, endpoint)[i], computed as numpy does: i * (stop / div) with
 * div = m-1 (endpoint) or m, and the endpoint set to exactly stop (so sin(t) at t = pi is
 * +1.2e-16 like numpy's, not a negative rounding residue). m == 1 gives 0. */
static double linspace_at(double stop, int64_t m, int64_t i, int endpoint)
{
    int64_t div = endpoint ? m - 1 : m;
    if (div <= 0) return 0.0;
    if (endpoint && i == m - 1) return stop;
    return (double)i * (stop / (double)div);
}

/* Row r := (px, py) + noise * (two standard normals), label lab. The noise of row r uses
 * draws 2r and 2r+1 of the noise stream, so it is fixed before the shuffle. */
static void put(float *x, int32_t *y, int64_t r, double px, double py, int32_t lab,
                double noise, uint64_t knoise)
{
    if (noise > 0) {
        px += noise * nn_normal(knoise, 2 * (uint64_t)r);
        py += noise * nn_normal(knoise, 2 * (uint64_t)r + 1);
    }
    x[2 * r] = (float)px;
    x[2 * r + 1] = (float)py;
    y[r] = lab;
}

/* Fisher-Yates over rows: position i swaps with a uniform j in [0, i]. */
static void shuffle_rows(int64_t n, uint64_t kshuf, float *x, int32_t *y)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nn_below(kshuf, (uint64_t)i, (uint64_t)i + 1);
        float tx = x[2 * i], ty = x[2 * i + 1];
        int32_t tl = y[i];
        x[2 * i] = x[2 * j], x[2 * i + 1] = x[2 * j + 1], y[i] = y[j];
        x[2 * j] = tx, x[2 * j + 1] = ty, y[j] = tl;
    }
}

void gen_moons(int64_t n, double noise, uint64_t seed, float *x, int32_t *y)
{
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_MOONS, GEN_SUB_NOISE);
    int64_t n_out = n / 2, n_in = n - n_out;
    for (int64_t i = 0; i < n_out; i++) {
        double t = linspace_at(GEN_PI, n_out, i, 1);
        put(x, y, i, cos(t), sin(t), 0, noise, knoise);
    }
    for (int64_t i = 0; i < n_in; i++) {
        double t = linspace_at(GEN_PI, n_in, i, 1);
        put(x, y, n_out + i, 1.0 - cos(t), 1.0 - sin(t) - 0.5, 1, noise, knoise);
    }
    shuffle_rows(n, nn_key(seed, NN_STREAM_DATA, GEN_MOONS, GEN_SUB_SHUFFLE), x, y);
}

void gen_circles(int64_t n, double noise, double factor, uint64_t seed, float *x, int32_t *y)
{
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_CIRCLES, GEN_SUB_NOISE);
    int64_t n_out = n / 2, n_in = n - n_out;
    for (int64_t i = 0; i < n_out; i++) {
        double t = linspace_at(2 * GEN_PI, n_out, i, 0);
        put(x, y, i, cos(t), sin(t), 0, noise, knoise);
    }
    for (int64_t i = 0; i < n_in; i++) {
        double t = linspace_at(2 * GEN_PI, n_in, i, 0);
        put(x, y, n_out + i, factor * cos(t), factor * sin(t), 1, noise, knoise);
    }
    shuffle_rows(n, nn_key(seed, NN_STREAM_DATA, GEN_CIRCLES, GEN_SUB_SHUFFLE), x, y);
}

/* Uniform on the float32-exact grid k / 2^23 - 1 (k < 2^24): in [-1, 1), never rounded up to
 * 1 as (float)(2u - 1) could be for u within 2^-25 of 1. */
static float uniform_pm1(uint64_t key, uint64_t i)
{
    return (float)(floor(nn_uniform(key, i) * 0x1.0p24) * 0x1.0p-23 - 1.0);
}

void gen_regression(int64_t n, int64_t d, double noise, uint64_t seed, float *x, float *y)
{
    uint64_t kx = nn_key(seed, NN_STREAM_DATA, GEN_REGRESSION, GEN_SUB_INPUT);
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_REGRESSION, GEN_SUB_NOISE);
    for (int64_t i = 0; i < n; i++) {
        float *row = x + i * d;
        for (int64_t j = 0; j < d; j++) row[j] = uniform_pm1(kx, (uint64_t)(i * d + j));
        double v = sin(GEN_PI * (double)row[0]);
        if (d >= 2) v += 0.5 * (double)row[1] * (double)row[1];
        if (d >= 3) {
            double sum = 0.0;
            for (int64_t j = 2; j < d; j++) sum += (double)row[j];
            v += 0.25 * sum;
        }
        if (noise > 0) v += noise * nn_normal(knoise, (uint64_t)i);
        y[i] = (float)v;
    }
}

/* ---- make-blobs / make-spirals / make-xor ------------------------------------------------ */

enum { GEN_BLOBS = 4, GEN_SPIRALS = 5, GEN_XOR = 6 };
enum { GEN_SUB_CENTERS = 4 };

/* Fisher-Yates over rows of d floats (swap element by element: no scratch row needed). */
static void shuffle_rows_d(int64_t n, int64_t d, uint64_t kshuf, float *x, int32_t *y)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nn_below(kshuf, (uint64_t)i, (uint64_t)i + 1);
        if (j == i) continue;
        for (int64_t c = 0; c < d; c++) {
            float t = x[i * d + c];
            x[i * d + c] = x[j * d + c];
            x[j * d + c] = t;
        }
        int32_t tl = y[i];
        y[i] = y[j];
        y[j] = tl;
    }
}

/* Size of class c when n points are split over k classes as evenly as possible. */
static int64_t class_size(int64_t n, int64_t k, int64_t c)
{
    return n / k + (c < n % k ? 1 : 0);
}

static double blob_center(uint64_t kc, int64_t d, int64_t c, int64_t j)
{
    return -10.0 + 20.0 * nn_uniform(kc, (uint64_t)(c * d + j));
}

void gen_blobs(int64_t n, int64_t k, int64_t d, double std, uint64_t seed, float *x,
               int32_t *y, double *centers)
{
    uint64_t kc = nn_key(seed, NN_STREAM_DATA, GEN_BLOBS, GEN_SUB_CENTERS);
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_BLOBS, GEN_SUB_NOISE);
    if (centers)
        for (int64_t c = 0; c < k; c++)
            for (int64_t j = 0; j < d; j++) centers[c * d + j] = blob_center(kc, d, c, j);
    int64_t r = 0;
    for (int64_t c = 0; c < k; c++) {
        int64_t m = class_size(n, k, c);
        for (int64_t i = 0; i < m; i++, r++) {
            for (int64_t j = 0; j < d; j++) {
                double v = blob_center(kc, d, c, j);
                if (std > 0) v += std * nn_normal(knoise, (uint64_t)(r * d + j));
                x[r * d + j] = (float)v;
            }
            y[r] = (int32_t)c;
        }
    }
    shuffle_rows_d(n, d, nn_key(seed, NN_STREAM_DATA, GEN_BLOBS, GEN_SUB_SHUFFLE), x, y);
}

void gen_spirals(int64_t n, int64_t k, double noise, uint64_t seed, float *x, int32_t *y)
{
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_SPIRALS, GEN_SUB_NOISE);
    int64_t r = 0;
    for (int64_t c = 0; c < k; c++) {
        int64_t m = class_size(n, k, c);
        for (int64_t i = 0; i < m; i++, r++) {
            double rad = linspace_at(1.0, m, i, 1);
            double theta = 4.0 * (double)c + 4.0 * rad;
            if (noise > 0) theta += noise * nn_normal(knoise, (uint64_t)r);
            x[2 * r] = (float)(rad * sin(theta));
            x[2 * r + 1] = (float)(rad * cos(theta));
            y[r] = (int32_t)c;
        }
    }
    shuffle_rows_d(n, 2, nn_key(seed, NN_STREAM_DATA, GEN_SPIRALS, GEN_SUB_SHUFFLE), x, y);
}

void gen_xor(int64_t n, double noise, uint64_t seed, float *x, int32_t *y)
{
    uint64_t kx = nn_key(seed, NN_STREAM_DATA, GEN_XOR, GEN_SUB_INPUT);
    uint64_t knoise = nn_key(seed, NN_STREAM_DATA, GEN_XOR, GEN_SUB_NOISE);
    for (int64_t i = 0; i < n; i++) {
        float a = uniform_pm1(kx, 2 * (uint64_t)i), b = uniform_pm1(kx, 2 * (uint64_t)i + 1);
        y[i] = (a > 0) != (b > 0);
        double pa = a, pb = b;
        if (noise > 0) {
            pa += noise * nn_normal(knoise, 2 * (uint64_t)i);
            pb += noise * nn_normal(knoise, 2 * (uint64_t)i + 1);
        }
        x[2 * i] = (float)pa;
        x[2 * i + 1] = (float)pb;
    }
}
