/* Counter-based RNG: splitmix64 finaliser over (key + golden-ratio * counter). */
#include "rng.h"
#include <math.h>

uint64_t nn_mix64(uint64_t x)
{
    x ^= x >> 30; x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27; x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t nn_key(uint64_t seed, uint64_t purpose, uint64_t a, uint64_t b)
{
    uint64_t k = nn_mix64(seed ^ 0x6a09e667f3bcc908ULL);
    k = nn_mix64(k ^ (purpose * 0x9e3779b97f4a7c15ULL));
    k = nn_mix64(k ^ (a * 0xd1b54a32d192ed03ULL));
    return nn_mix64(k ^ (b * 0x8cb92ba72f3d8dd7ULL));
}

uint64_t nn_draw(uint64_t key, uint64_t i)
{
    return nn_mix64(key + (i + 1) * 0x9e3779b97f4a7c15ULL);
}

double nn_uniform(uint64_t key, uint64_t i)
{
    return (double)(nn_draw(key, i) >> 11) * 0x1.0p-53;
}

uint64_t nn_below(uint64_t key, uint64_t i, uint64_t n)
{
    /* Lemire's multiply-shift with rejection; retries use fresh counters in a side stream. */
    uint64_t x = nn_draw(key, i);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        uint64_t side = nn_mix64(key ^ 0xa0761d6478bd642fULL);
        for (uint64_t r = 0; lo < t; r++) {
            x = nn_draw(side, i * 64 + r);
            m = (__uint128_t)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double nn_normal(uint64_t key, uint64_t i)
{
    double u1 = nn_uniform(key, 2 * i), u2 = nn_uniform(key, 2 * i + 1);
    if (u1 < 0x1.0p-60) u1 = 0x1.0p-60;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
