/* Synthetic 2-D classification sets built like sklearn.datasets.make_moons / make_circles,
 * and a smooth nonlinear regression set, with all randomness drawn from the counter-based
 * RNG (src/core/rng.h), so the output is a pure function of the arguments. */
#ifndef NN_GENERATE_H
#define NN_GENERATE_H
#include <stdint.h>

/* Two interleaving half circles. Class 0 (the first floor(n/2) points before shuffling):
 * (cos t, sin t), t = linspace(0, pi, floor(n/2)); class 1 (the remaining ceil(n/2)):
 * (1 - cos t, 1 - sin t - 0.5), t = linspace(0, pi, ceil(n/2)). Then N(0, noise^2) is added
 * to each coordinate and the rows are shuffled. x has n*2 floats (row-major), y n labels.
 * Requires n >= 0 and noise >= 0. */
void gen_moons(int64_t n, double noise, uint64_t seed, float *x, int32_t *y);

/* Two concentric circles: class 0 radius 1 (floor(n/2) points), class 1 radius factor
 * (ceil(n/2) points), angles linspace(0, 2 pi, m) without the endpoint; then noise and
 * shuffle as for gen_moons. Requires n >= 0, noise >= 0, 0 <= factor < 1. */
void gen_circles(int64_t n, double noise, double factor, uint64_t seed, float *x, int32_t *y);

/* Regression with one target: x ~ U(-1, 1)^d and
 *     y = sin(pi x0) + 0.5 x1^2 + 0.25 (x2 + ... + x{d-1}) + noise * N(0, 1)
 * (the x1 term only when d >= 2, the sum only when d >= 3). Each x_ij is drawn on the grid
 * k / 2^23 - 1, k = 0 .. 2^24-1, so it is exact in float32 and lies in [-1, 1). y is evaluated
 * in double from the stored float x, in the order written (sin term, + x1 term, + 0.25 * sum
 * accumulated from j = 2 upward, + noise), and rounded to float32 once. x and the noise come
 * from separate streams, so x does not depend on noise. x has n*d floats (row-major), y n
 * (one per row, i.e. shape (n, 1)). Requires n >= 0, d >= 1, noise >= 0. */
void gen_regression(int64_t n, int64_t d, double noise, uint64_t seed, float *x, float *y);

/* Gaussian blobs like sklearn.datasets.make_blobs: k centers drawn uniformly in [-10, 10]^d
 * from the seed (written to centers, k*d doubles row-major, when centers is not NULL); class
 * c gets floor(n/k) points, plus one for c < n % k; each point is its center plus
 * N(0, std^2) per coordinate, rounded to float32 once; then the rows are shuffled. x has n*d
 * floats, y n labels. Requires n >= 0, k >= 1, d >= 1, std >= 0. */
void gen_blobs(int64_t n, int64_t k, int64_t d, double std, uint64_t seed, float *x,
               int32_t *y, double *centers);

/* K interleaved spiral arms in 2-D (the CS231n construction): class c gets floor(n/k)
 * points, plus one for c < n % k; point i of an arm of m points has r = linspace(0, 1, m)[i]
 * (r = 0 when m == 1) and theta = 4c + 4r + noise * N(0, 1), and is (r sin theta,
 * r cos theta); then the rows are shuffled. Without noise every point has radius r in
 * [0, 1]. x has n*2 floats, y n labels. Requires n >= 0, k >= 1, noise >= 0. */
void gen_spirals(int64_t n, int64_t k, double noise, uint64_t seed, float *x, int32_t *y);

/* XOR: x ~ U(-1, 1)^2 on the float32-exact grid of gen_regression, label
 * (x0 > 0) XOR (x1 > 0) computed from the noiseless point, then N(0, noise^2) added to each
 * coordinate (rows are i.i.d., hence already in random order). x has n*2 floats, y n
 * labels. Requires n >= 0, noise >= 0. */
void gen_xor(int64_t n, double noise, uint64_t seed, float *x, int32_t *y);

#endif
