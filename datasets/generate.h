/* Synthetic 2-D classification sets built like sklearn.datasets.make_moons / make_circles,
 * with noise and shuffling drawn from the counter-based RNG (src/core/rng.h), so the output
 * is a pure function of the arguments. */
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

#endif
