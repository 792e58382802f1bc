/* Order-free exact sums of float arrays (exact.h). */
#include "exact.h"
#include "simd.h"
#include <math.h>
#include <string.h>

int nn_exact_shift(int64_t chunks)
{
    int bits = 0;
    while (bits < 40 && ((int64_t)1 << bits) < chunks) bits++;
    return 62 - bits;
}

/* The largest |v| of a block as its IEEE bits (sign cleared): an integer maximum, which
 * vectorises (a float one does not without -ffast-math). Bits >= 0x7f800000: inf or NaN. */
NN_SIMD static uint32_t block_max_bits(const float *v, size_t n)
{
    uint32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        u &= 0x7fffffffu;
        m = u > m ? u : m;
    }
    return m;
}

void nn_exact_exponents(const float *v, size_t n, int8_t *e)
{
    for (size_t b = 0, i = 0; i < n; b++, i += NN_EXACT_BLOCK) {
        const size_t len = n - i < NN_EXACT_BLOCK ? n - i : NN_EXACT_BLOCK;
        const uint32_t m = block_max_bits(v + i, len);
        int x;
        if (m >= 0x7f800000u) x = NN_EXACT_BAD;
        else if (m == 0) x = NN_EXACT_ZERO;
        else { /* frexp's exponent: m < 2^x (subnormals: below 2^-126, clamped anyway) */
            x = (int)(m >> 23) - 126;
            x = x < -120 ? -120 : x > 126 ? 126 : x;
        }
        if (x > e[b]) e[b] = (int8_t)x;
    }
}

NN_SIMD static void add_block(const float *v, size_t n, double scale, int64_t *acc)
{
    for (size_t i = 0; i < n; i++) acc[i] += (int64_t)((double)v[i] * scale);
}

void nn_exact_sum(const float *const *v, int k, size_t off, size_t n, const int8_t *e, int S,
                  int64_t *acc)
{
    /* block by block over all k arrays: the block's sums stay in L1 */
    for (size_t b = 0, i = 0; i < n; b++, i += NN_EXACT_BLOCK) {
        const size_t len = n - i < NN_EXACT_BLOCK ? n - i : NN_EXACT_BLOCK;
        memset(acc + i, 0, sizeof(int64_t) * len);
        if (e[b] == NN_EXACT_ZERO || e[b] == NN_EXACT_BAD) continue; /* zeros; NaN at the end */
        const double scale = ldexp(1.0, S - e[b]);
        for (int j = 0; j < k; j++) add_block(v[j] + off + i, len, scale, acc + i);
    }
}

NN_SIMD static void result_block(const int64_t *acc, size_t n, double scale, float *out)
{
    for (size_t i = 0; i < n; i++) out[i] = (float)((double)acc[i] * scale);
}

void nn_exact_result(const int64_t *acc, size_t n, const int8_t *e, int S, float *out)
{
    for (size_t b = 0, i = 0; i < n; b++, i += NN_EXACT_BLOCK) {
        const size_t len = n - i < NN_EXACT_BLOCK ? n - i : NN_EXACT_BLOCK;
        if (e[b] == NN_EXACT_BAD)
            for (size_t k = 0; k < len; k++) out[i + k] = NAN;
        else if (e[b] == NN_EXACT_ZERO)
            for (size_t k = 0; k < len; k++) out[i + k] = 0;
        else
            result_block(acc + i, len, ldexp(1.0, e[b] - S), out + i);
    }
}
