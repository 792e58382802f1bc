/* Counter-based randomness: every draw is a pure function of (key, counter), so permutations,
 * the validation split, init and dropout masks do not depend on the number of ranks, and
 * resuming needs only (seed, epoch, step). The mixer is splitmix64's finaliser (a bijection
 * on 64-bit words). */
#ifndef NN_RNG_H
#define NN_RNG_H
#include <stdint.h>

/* Purposes that derive independent streams from one user seed. */
enum { NN_STREAM_INIT = 1, NN_STREAM_EPOCH_PERM = 2, NN_STREAM_SPLIT = 3, NN_STREAM_DATA = 4,
       NN_STREAM_DROPOUT = 5 };

uint64_t nn_mix64(uint64_t x);
/* A stream key from (seed, purpose, a, b); distinct arguments give unrelated streams. */
uint64_t nn_key(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b);
/* The i-th 64-bit draw of stream `key`. */
uint64_t nn_draw(uint64_t key, uint64_t i);
/* Uniform double in [0,1) with 53 random bits. */
double nn_uniform(uint64_t key, uint64_t i);
/* Uniform integer in [0, n) without modulo bias (n >= 1). */
uint64_t nn_below(uint64_t key, uint64_t i, uint64_t n);
/* Standard normal (Box-Muller on draws 2i, 2i+1). */
double nn_normal(uint64_t key, uint64_t i);

#endif
