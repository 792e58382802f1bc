/* src/core/exact.c: the order-free exact sum of the deterministic mode. The sum of a set of
 * float arrays must not depend on how the arrays are grouped (which rank holds which chunk) or
 * in which order the groups are combined; values in range must be summed exactly; it must be
 * close to the true sum; zeros, non-finite values and extreme exponents are handled. */
#include "exact.h"
#include "rng.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum { K = 16, N = 1000 }; /* chunks, values per chunk (not a multiple of the block) */

static float chunks[K][N];

/* values spread over many magnitudes, both signs; each chunk at a scale of its own (so a
 * block's largest value sits in different chunks for different blocks) */
static void fill(uint64_t seed)
{
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) {
            double u = nn_uniform(seed, (uint64_t)(j * N + i));
            double m = nn_uniform(seed + 1, (uint64_t)(j * N + i));
            chunks[j][i] = (float)((u < 0.5 ? -1 : 1) *
                                   ldexp(0.5 + m, (int)(u * 40) - 20 + (j * 5) % 17 - 8 * (i / 64 % 3)));
        }
}

/* The sum as the exchange computes it when the K chunks are held by `groups` parties in
 * contiguous runs (party g: chunks [g K / groups, (g + 1) K / groups)), the parties' integer
 * sums added in the order given by `order` (a permutation of the parties). */
static void grouped_sum(int groups, const int *order, float *out)
{
    const size_t nb = nn_exact_blocks(N);
    int8_t e[nn_exact_blocks(N)], eg[nn_exact_blocks(N)];
    memset(e, NN_EXACT_ZERO & 0xff, nb);
    int64_t total[N] = {0}, part[N];
    const int S = nn_exact_shift(K);
    /* every party's exponents, then the MAX over parties (what the MPI_MAX does) */
    for (int g = 0; g < groups; g++) {
        memset(eg, NN_EXACT_ZERO & 0xff, nb);
        for (int j = g * K / groups; j < (g + 1) * K / groups; j++) nn_exact_exponents(chunks[j], N, eg);
        for (size_t b = 0; b < nb; b++) e[b] = eg[b] > e[b] ? eg[b] : e[b];
    }
    for (int k = 0; k < groups; k++) {
        const int g = order[k], j0 = g * K / groups, j1 = (g + 1) * K / groups;
        const float *v[K];
        for (int j = j0; j < j1; j++) v[j - j0] = chunks[j];
        nn_exact_sum(v, j1 - j0, 0, N, e, S, part);
        for (int i = 0; i < N; i++) total[i] += part[i];
    }
    nn_exact_result(total, N, e, S, out);
}

static void test_grouping_and_order_free(void **s)
{
    (void)s;
    fill(7);
    float ref[N], got[N];
    int one[1] = {0};
    grouped_sum(1, one, ref);
    int orders[][K] = {{0, 1}, {1, 0}, {2, 0, 1}, {0, 2, 1}, {3, 1, 0, 2}, {4, 0, 3, 1, 2},
                       {15, 3, 8, 0, 1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14}};
    int sizes[] = {2, 2, 3, 3, 4, 5, 16};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        grouped_sum(sizes[t], orders[t], got);
        assert_memory_equal(ref, got, sizeof ref);
    }
    /* and it is not what a float sum in another grouping gives (the point of it all): the
     * plain float sums in two groupings differ somewhere */
    int differ = 0;
    for (int i = 0; i < N; i++) {
        float a = 0, b0 = 0, b1 = 0;
        for (int j = 0; j < K; j++) a += chunks[j][i];
        for (int j = 0; j < K / 2; j++) b0 += chunks[j][i];
        for (int j = K / 2; j < K; j++) b1 += chunks[j][i];
        differ |= a != b0 + b1;
    }
    assert_true(differ);
}

static void test_close_to_true_sum(void **s)
{
    (void)s;
    fill(11);
    float got[N];
    int one[1] = {0};
    grouped_sum(1, one, got);
    /* block by block: the error is below a float's rounding of the block's largest |sum| */
    for (int i = 0; i < N; i++) {
        double exact = 0, big = 0;
        for (int j = 0; j < K; j++) exact += chunks[j][i]; /* < 2^53 range: exact in double */
        for (int k = i - i % NN_EXACT_BLOCK; k < i - i % NN_EXACT_BLOCK + NN_EXACT_BLOCK && k < N; k++)
            for (int j = 0; j < K; j++) big = fmax(big, fabs(chunks[j][k]));
        assert_true(fabs(got[i] - exact) <= fabs(exact) * 0x1p-23 + big * 0x1p-50);
    }
}

static void test_exact_in_range(void **s)
{
    (void)s;
    /* integers and halves: every partial sum is exact, so the result equals the double sum */
    for (int j = 0; j < K; j++)
        for (int i = 0; i < N; i++) chunks[j][i] = (float)(((i * 7 + j * 13) % 2001) - 1000) * 0.5f;
    float got[N];
    int one[1] = {0};
    grouped_sum(1, one, got);
    for (int i = 0; i < N; i++) {
        double d = 0;
        for (int j = 0; j < K; j++) d += chunks[j][i];
        assert_true(got[i] == (float)d);
    }
}

static void test_zeros_nonfinite_extremes(void **s)
{
    (void)s;
    memset(chunks, 0, sizeof chunks);
    chunks[3][5] = INFINITY;            /* block 0 becomes NaN */
    chunks[4][NN_EXACT_BLOCK] = NAN;    /* block 1 too */
    chunks[0][2 * NN_EXACT_BLOCK] = 3.0e38f;         /* huge and tiny in one block */
    chunks[1][2 * NN_EXACT_BLOCK + 1] = 1e-30f;
    chunks[2][3 * NN_EXACT_BLOCK] = 1e-40f;          /* a subnormal alone in its block */
    chunks[5][4 * NN_EXACT_BLOCK] = -2.5f;           /* the same value in every chunk */
    for (int j = 0; j < K; j++) chunks[j][5 * NN_EXACT_BLOCK] = 3.0e38f / K;
    float got[N];
    int one[1] = {0};
    grouped_sum(1, one, got);
    assert_true(isnan(got[0]) && isnan(got[5]) && isnan(got[NN_EXACT_BLOCK]));
    assert_true(got[2 * NN_EXACT_BLOCK] == 3.0e38f);
    assert_true(got[2 * NN_EXACT_BLOCK + 1] == 0.0f); /* far below the block's grid */
    assert_true(got[3 * NN_EXACT_BLOCK] >= 0 && got[3 * NN_EXACT_BLOCK] <= 1e-40f);
    assert_true(got[4 * NN_EXACT_BLOCK] == -2.5f);
    /* K values near the top of the float range: no int64 overflow */
    assert_true(fabsf(got[5 * NN_EXACT_BLOCK] - 3.0e38f) <= 3.0e38f * 1e-6f);
    for (int i = 6 * NN_EXACT_BLOCK; i < N; i++) assert_true(got[i] == 0.0f); /* zero blocks */
    /* the shift leaves room for the chunks: S + ceil(log2 K) <= 62 */
    assert_int_equal(nn_exact_shift(1), 62);
    assert_int_equal(nn_exact_shift(16), 58);
    assert_int_equal(nn_exact_shift(17), 57);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_and_order_free),
        cmocka_unit_test(test_close_to_true_sum),
        cmocka_unit_test(test_exact_in_range),
        cmocka_unit_test(test_zeros_nonfinite_extremes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
