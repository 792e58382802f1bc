/* Unit tests for src/core/rng.c: known splitmix64 values, determinism and stream separation,
 * and loose statistical checks of nn_uniform, nn_below and nn_normal. */
#include "core_testutil.h"

#include "rng.h"

enum { DRAWS = 100000 };

/* nn_draw(k, i) = splitmix64 finaliser of k + (i+1)*golden, so with key 0 it is the
 * reference splitmix64 sequence seeded with 0. */
static void test_known_values(void **state)
{
    (void)state;
    assert_true(nn_mix64(0) == 0);
    assert_true(nn_draw(0, 0) == 0xe220a8397b1dcdafULL);
    assert_true(nn_draw(0, 1) == 0x6e789e6aa1b965f4ULL);
    assert_true(nn_draw(0, 2) == 0x06c45d188009454fULL);
    /* and against the private generator of the tests */
    uint64_t s = 12345;
    for (uint64_t i = 0; i < 100; i++) assert_true(nn_draw(12345, i) == tu_next(&s));
}

static void test_keys(void **state)
{
    (void)state;
    uint64_t base = nn_key(1, NN_STREAM_INIT, 0, 0);
    assert_true(base == nn_key(1, NN_STREAM_INIT, 0, 0));
    uint64_t others[] = {
        nn_key(2, NN_STREAM_INIT, 0, 0),       nn_key(1, NN_STREAM_EPOCH_PERM, 0, 0),
        nn_key(1, NN_STREAM_INIT, 1, 0),       nn_key(1, NN_STREAM_INIT, 0, 1),
        nn_key(0, NN_STREAM_INIT, 0, 0),       nn_key(1, NN_STREAM_SPLIT, 0, 0),
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        assert_true(others[i] != base);
        for (size_t j = 0; j < i; j++) assert_true(others[i] != others[j]);
    }
    /* swapping a and b gives a different stream */
    assert_true(nn_key(1, NN_STREAM_INIT, 2, 3) != nn_key(1, NN_STREAM_INIT, 3, 2));
    /* the same counter in different streams is unrelated */
    assert_true(nn_draw(base, 5) != nn_draw(others[0], 5));
    assert_true(nn_draw(base, 5) == nn_draw(base, 5));
    assert_true(nn_draw(base, 5) != nn_draw(base, 6));
}

static void test_uniform(void **state)
{
    (void)state;
    uint64_t key = nn_key(3, NN_STREAM_DATA, 0, 0);
    double sum = 0, sum2 = 0;
    int bins[10] = {0};
    for (uint64_t i = 0; i < DRAWS; i++) {
        double u = nn_uniform(key, i);
        if (!(u >= 0 && u < 1)) fail_msg("nn_uniform(%llu) = %.17g", (unsigned long long)i, u);
        /* 53-bit grid */
        double scaled = u * 0x1.0p53;
        assert_true(scaled == floor(scaled));
        assert_true(u == nn_uniform(key, i));
        sum += u;
        sum2 += u * u;
        bins[(int)(u * 10)]++;
    }
    double mean = sum / DRAWS, var = sum2 / DRAWS - mean * mean;
    /* sd of the mean is 0.29/sqrt(1e5) = 9e-4 */
    if (!(fabs(mean - 0.5) < 0.005)) fail_msg("mean %g", mean);
    if (!(fabs(var - 1.0 / 12) < 0.003)) fail_msg("variance %g, want 1/12", var);
    double chi = 0, e = DRAWS / 10.0;
    for (int b = 0; b < 10; b++) chi += (bins[b] - e) * (bins[b] - e) / e;
    if (!(chi < 40)) fail_msg("decile chi2 %.1f (9 dof)", chi);
}

static void check_below(uint64_t n, int nbins)
{
    uint64_t key = nn_key(11, NN_STREAM_DATA, n, 1);
    int *bins = tu_alloc(sizeof(int) * (size_t)nbins);
    for (uint64_t i = 0; i < DRAWS; i++) {
        uint64_t v = nn_below(key, i, n);
        if (v >= n)
            fail_msg("nn_below(n=%llu) = %llu", (unsigned long long)n, (unsigned long long)v);
        assert_true(v == nn_below(key, i, n));
        /* bin b holds [b*n/nbins, (b+1)*n/nbins) */
        int b = (int)(((__uint128_t)v * (unsigned)nbins) / n);
        bins[b]++;
    }
    /* expected counts per bin, exactly, for integer n */
    double chi = 0;
    for (int b = 0; b < nbins; b++) {
        __uint128_t lo = ((__uint128_t)n * (unsigned)b + nbins - 1) / (unsigned)nbins;
        __uint128_t hi = ((__uint128_t)n * (unsigned)(b + 1) + nbins - 1) / (unsigned)nbins;
        double e = (double)DRAWS * (double)(hi - lo) / (double)n;
        chi += (bins[b] - e) * (bins[b] - e) / e;
    }
    /* nbins-1 dof; a loose bound (mean nbins-1, sd sqrt(2(nbins-1))) */
    double bound = (nbins - 1) + 8 * sqrt(2.0 * (nbins - 1));
    if (!(chi < bound))
        fail_msg("nn_below(n=%llu): chi2 %.1f over %d bins >= %.1f", (unsigned long long)n,
                 chi, nbins, bound);
    free(bins);
}

/* Residues v mod k (k divides n, so exactly uniform): exposes fine-scale bias that the
 * coarse bins above average out, e.g. multiply-shift without rejection at n = 3*2^62 puts
 * half the mass on v = 0 mod 3. */
static void check_below_residues(uint64_t n, unsigned k)
{
    assert_true(n % k == 0 && k <= 64);
    uint64_t key = nn_key(12, NN_STREAM_DATA, n, 2);
    int bins[64] = {0};
    for (uint64_t i = 0; i < DRAWS; i++) bins[nn_below(key, i, n) % k]++;
    double chi = 0, e = (double)DRAWS / k;
    for (unsigned b = 0; b < k; b++) chi += (bins[b] - e) * (bins[b] - e) / e;
    double bound = (k - 1) + 8 * sqrt(2.0 * (k - 1));
    if (!(chi < bound))
        fail_msg("nn_below(n=%llu) mod %u: chi2 %.1f >= %.1f (bins %d %d %d ...)",
                 (unsigned long long)n, k, chi, bound, bins[0], bins[1], bins[2]);
}

static void test_below(void **state)
{
    (void)state;
    /* n = 1 is always 0 */
    for (uint64_t i = 0; i < 1000; i++) assert_true(nn_below(99, i, 1) == 0);
    check_below(2, 2);
    check_below(3, 3);
    check_below(7, 7);
    check_below(10, 10);
    check_below(1000, 20);
    check_below(60001, 16);
    /* rejection-heavy: 3*2^62 rejects ~1/4 of raw draws, 2^63+1 about half; a biased
     * (modulo or no-rejection) reduction shows up in the thirds / halves */
    check_below(3ULL << 62, 3);
    check_below((1ULL << 63) + 1, 4);
    check_below(UINT64_MAX, 8);
    check_below_residues(3ULL << 62, 3);
    check_below_residues(5ULL << 60, 5);
    check_below_residues(1000, 10);
    check_below_residues(6, 6);
}

static void test_normal(void **state)
{
    (void)state;
    uint64_t key = nn_key(5, NN_STREAM_DATA, 2, 0);
    double sum = 0, sum2 = 0, sum4 = 0;
    int within1 = 0, below196 = 0;
    for (uint64_t i = 0; i < DRAWS; i++) {
        double x = nn_normal(key, i);
        if (!isfinite(x)) fail_msg("nn_normal(%llu) = %g", (unsigned long long)i, x);
        sum += x;
        sum2 += x * x;
        sum4 += x * x * x * x;
        within1 += fabs(x) < 1;
        below196 += x < -1.959963984540054;
    }
    double mean = sum / DRAWS, var = sum2 / DRAWS - mean * mean, kurt = sum4 / DRAWS;
    if (!(fabs(mean) < 0.02)) fail_msg("mean %g", mean);
    if (!(fabs(var - 1) < 0.03)) fail_msg("variance %g", var);
    if (!(fabs(kurt - 3) < 0.2)) fail_msg("4th moment %g, want 3", kurt);
    double f1 = (double)within1 / DRAWS, f2 = (double)below196 / DRAWS;
    if (!(fabs(f1 - 0.682689) < 0.01)) fail_msg("P(|x|<1) = %g", f1);
    if (!(fabs(f2 - 0.025) < 0.003)) fail_msg("P(x<-1.96) = %g", f2);
    assert_true(nn_normal(key, 17) == nn_normal(key, 17));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_values),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_below),
        cmocka_unit_test(test_normal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
