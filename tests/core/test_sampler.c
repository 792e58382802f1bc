/* Unit tests for src/core/sampler.c: the sharding arithmetic over a grid of (N, batch, P)
 * and the per-epoch permutation. */
#include "core_testutil.h"

#include "rng.h"
#include "sampler.h"

static const int64_t Ns[] = {1, 2, 3, 7, 100, 1001};
static const int64_t batches[] = {1, 2, 3, 5, 64, 128, 1000, 2000};
static const int Ps[] = {1, 2, 3, 4, 7};
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

static void check_sharding(int64_t N, int64_t batch, int P)
{
    int64_t steps = nn_steps_per_epoch(N, batch);
    int64_t want_steps = N / batch + (N % batch != 0);
    if (steps != want_steps)
        fail_msg("N=%lld batch=%lld: %lld steps, want %lld", (long long)N, (long long)batch,
                 (long long)steps, (long long)want_steps);
    int *seen = tu_alloc(sizeof(int) * (size_t)N);
    for (int64_t step = 0; step < steps; step++) {
        int64_t gstart = step * batch;
        int64_t gend = gstart + batch < N ? gstart + batch : N;
        int64_t b = gend - gstart;
        int64_t prev_hi = gstart, mn = INT64_MAX, mx = -1;
        for (int r = 0; r < P; r++) {
            int64_t lo = -1, hi = -1;
            nn_shard(N, batch, P, r, step, &lo, &hi);
            /* contiguous, in rank order, tiling the global batch */
            if (lo != prev_hi || hi < lo || hi > gend)
                fail_msg("N=%lld batch=%lld P=%d step=%lld rank %d: [%lld, %lld) after %lld "
                         "(batch [%lld, %lld))",
                         (long long)N, (long long)batch, P, (long long)step, r, (long long)lo,
                         (long long)hi, (long long)prev_hi, (long long)gstart, (long long)gend);
            /* documented formula: lo = start + floor(r*b/P) */
            assert_int_equal(lo, gstart + (b * r) / P);
            prev_hi = hi;
            for (int64_t i = lo; i < hi; i++) seen[i]++;
            mn = hi - lo < mn ? hi - lo : mn;
            mx = hi - lo > mx ? hi - lo : mx;
        }
        if (prev_hi != gend)
            fail_msg("N=%lld batch=%lld P=%d step=%lld: shards end at %lld, batch at %lld",
                     (long long)N, (long long)batch, P, (long long)step, (long long)prev_hi,
                     (long long)gend);
        if (mx - mn > 1)
            fail_msg("N=%lld batch=%lld P=%d step=%lld: shard sizes %lld..%lld", (long long)N,
                     (long long)batch, P, (long long)step, (long long)mn, (long long)mx);
        /* every step but the last is full; the last keeps the remainder */
        assert_int_equal(b, step < steps - 1 ? batch : N - (steps - 1) * batch);
        assert_true(b >= 1);
    }
    for (int64_t i = 0; i < N; i++)
        if (seen[i] != 1)
            fail_msg("N=%lld batch=%lld P=%d: position %lld covered %d times", (long long)N,
                     (long long)batch, P, (long long)i, seen[i]);
    /* a step past the end of the epoch gives empty shards */
    for (int r = 0; r < P; r++) {
        int64_t lo, hi;
        nn_shard(N, batch, P, r, steps, &lo, &hi);
        assert_int_equal(lo, hi);
    }
    free(seen);
}

static void test_sharding_grid(void **state)
{
    (void)state;
    for (size_t a = 0; a < LEN(Ns); a++)
        for (size_t b = 0; b < LEN(batches); b++)
            for (size_t c = 0; c < LEN(Ps); c++) check_sharding(Ns[a], batches[b], Ps[c]);
}

/* A few cases by hand. */
static void test_sharding_by_hand(void **state)
{
    (void)state;
    int64_t lo, hi;
    /* N=10, batch=4, P=3: steps [0,4) [4,8) [8,10) */
    assert_int_equal(nn_steps_per_epoch(10, 4), 3);
    nn_shard(10, 4, 3, 0, 0, &lo, &hi); assert_int_equal(lo, 0); assert_int_equal(hi, 1);
    nn_shard(10, 4, 3, 1, 0, &lo, &hi); assert_int_equal(lo, 1); assert_int_equal(hi, 2);
    nn_shard(10, 4, 3, 2, 0, &lo, &hi); assert_int_equal(lo, 2); assert_int_equal(hi, 4);
    nn_shard(10, 4, 3, 0, 2, &lo, &hi); assert_int_equal(lo, 8); assert_int_equal(hi, 8);
    nn_shard(10, 4, 3, 1, 2, &lo, &hi); assert_int_equal(lo, 8); assert_int_equal(hi, 9);
    nn_shard(10, 4, 3, 2, 2, &lo, &hi); assert_int_equal(lo, 9); assert_int_equal(hi, 10);
    /* evaluation-style: one "batch" of n */
    nn_shard(7, 7, 2, 0, 0, &lo, &hi); assert_int_equal(lo, 0); assert_int_equal(hi, 3);
    nn_shard(7, 7, 2, 1, 0, &lo, &hi); assert_int_equal(lo, 3); assert_int_equal(hi, 7);
    assert_int_equal(nn_steps_per_epoch(0, 4), 0);
    assert_int_equal(nn_steps_per_epoch(8, 4), 2);
    assert_int_equal(nn_steps_per_epoch(9, 4), 3);
    assert_int_equal(nn_steps_per_epoch(3, 1000), 1);
}

/* ---- permutation ------------------------------------------------------------------------- */

static void check_is_perm(const int64_t *p, int64_t n)
{
    char *seen = tu_alloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
        if (p[i] < 0 || p[i] >= n || seen[p[i]])
            fail_msg("n=%lld: perm[%lld] = %lld is out of range or repeated", (long long)n,
                     (long long)i, (long long)p[i]);
        seen[p[i]] = 1;
    }
    free(seen);
}

static void test_permutation(void **state)
{
    (void)state;
    const int64_t sizes[] = {0, 1, 2, 3, 5, 100, 1001, 60000};
    for (size_t k = 0; k < LEN(sizes); k++) {
        int64_t n = sizes[k];
        size_t bytes = sizeof(int64_t) * (size_t)n;
        int64_t *a = tu_alloc(bytes), *b = tu_alloc(bytes), *c = tu_alloc(bytes);
        int64_t *d = tu_alloc(bytes);
        uint64_t k0 = nn_key(42, NN_STREAM_EPOCH_PERM, 0, 0);
        uint64_t k1 = nn_key(42, NN_STREAM_EPOCH_PERM, 1, 0); /* next epoch */
        uint64_t k2 = nn_key(43, NN_STREAM_EPOCH_PERM, 0, 0); /* other seed */
        nn_permutation(a, n, k0);
        nn_permutation(b, n, k0);
        nn_permutation(c, n, k1);
        nn_permutation(d, n, k2);
        check_is_perm(a, n);
        check_is_perm(c, n);
        check_is_perm(d, n);
        if (n > 0) assert_memory_equal(a, b, bytes);
        if (n >= 100) {
            int64_t same_c = 0, same_d = 0, fixed = 0;
            for (int64_t i = 0; i < n; i++) {
                same_c += a[i] == c[i];
                same_d += a[i] == d[i];
                fixed += a[i] == i;
            }
            /* independent permutations agree in ~1 position on average */
            assert_true(same_c < 10);
            assert_true(same_d < 10);
            assert_true(fixed < 10); /* actually shuffled */
        }
        free(a); free(b); free(c); free(d);
    }
}

/* The Feistel order (O(1) memory, for datasets too large for a table): a bijection of 0..n-1
 * for sizes on and around the powers of two and four its domain is built from, the same for
 * the same key, different for another key, and well shuffled; the first position is about
 * uniform (chi2) over many keys. */
static void test_feistel(void **state)
{
    (void)state;
    const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 63, 64, 65, 100, 255, 256, 257,
                             1000, 1023, 1024, 1025, 4096, 65537, 300007};
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        int64_t n = sizes[t];
        int64_t *a = malloc(sizeof(int64_t) * (size_t)n), *b = malloc(sizeof(int64_t) * (size_t)n);
        assert_non_null(a);
        assert_non_null(b);
        nn_perm p = nn_perm_feistel(n, nn_key(42, NN_STREAM_EPOCH_PERM, 3, 0));
        nn_perm q = nn_perm_feistel(n, nn_key(42, NN_STREAM_EPOCH_PERM, 4, 0));
        for (int64_t i = 0; i < n; i++) {
            a[i] = nn_perm_at(&p, i);
            b[i] = nn_perm_at(&q, i);
            assert_int_equal(nn_perm_at(&p, i), a[i]); /* a pure function */
        }
        check_is_perm(a, n);
        check_is_perm(b, n);
        if (n >= 100) {
            int64_t same = 0, fixed = 0, ascending = 0;
            for (int64_t i = 0; i < n; i++) {
                same += a[i] == b[i];
                fixed += a[i] == i;
                ascending += i > 0 && a[i] == a[i - 1] + 1;
            }
            if (same >= 10 || fixed >= 10 || ascending >= 10)
                fail_msg("n=%lld: %lld equal to another key's, %lld fixed points, %lld runs",
                         (long long)n, (long long)same, (long long)fixed, (long long)ascending);
        }
        free(a);
        free(b);
    }
    enum { TRIALS = 20000 };
    int first[5] = {0};
    for (uint64_t t = 0; t < TRIALS; t++) {
        nn_perm p = nn_perm_feistel(5, nn_key(9, NN_STREAM_EPOCH_PERM, t, 0));
        first[nn_perm_at(&p, 0)]++;
    }
    double chi = 0, e = TRIALS / 5.0;
    for (int i = 0; i < 5; i++) chi += (first[i] - e) * (first[i] - e) / e;
    if (!(chi < 25)) /* 4 degrees of freedom: P(chi2 > 25) < 1e-4 */
        fail_msg("first position %d %d %d %d %d (chi2 %.1f)", first[0], first[1], first[2],
                 first[3], first[4], chi);
    /* a table wraps a Fisher-Yates permutation */
    int64_t tab[3] = {2, 0, 1};
    nn_perm tp = nn_perm_table(tab, 3);
    assert_int_equal(nn_perm_at(&tp, 0), 2);
    assert_int_equal(nn_perm_at(&tp, 2), 1);
}

/* Every one of the 3! orderings is about equally likely (this is what catches an off-by-one
 * Fisher-Yates: Sattolo's variant never yields a fixed point), and the first position is
 * uniform for n=5. */
static void test_permutation_uniform(void **state)
{
    (void)state;
    enum { TRIALS = 60000 };
    int counts[6] = {0}, first[5] = {0};
    for (uint64_t t = 0; t < TRIALS; t++) {
        int64_t p[5];
        nn_permutation(p, 3, nn_key(7, NN_STREAM_EPOCH_PERM, t, 0));
        int code = (int)(p[0] * 2 + (p[1] > p[2])); /* 0..5, one per ordering */
        counts[code]++;
        nn_permutation(p, 5, nn_key(8, NN_STREAM_EPOCH_PERM, t, 0));
        first[p[0]]++;
    }
    double chi = 0, e = TRIALS / 6.0;
    for (int i = 0; i < 6; i++) chi += (counts[i] - e) * (counts[i] - e) / e;
    /* 5 degrees of freedom: P(chi2 > 30) < 2e-5 */
    if (!(chi < 30))
        fail_msg("3-permutation frequencies %d %d %d %d %d %d (chi2 %.1f)", counts[0],
                 counts[1], counts[2], counts[3], counts[4], counts[5], chi);
    chi = 0; e = TRIALS / 5.0;
    for (int i = 0; i < 5; i++) chi += (first[i] - e) * (first[i] - e) / e;
    if (!(chi < 30))
        fail_msg("perm[0] frequencies for n=5: %d %d %d %d %d (chi2 %.1f)", first[0], first[1],
                 first[2], first[3], first[4], chi);
}

/* Deterministic mode's shards: whole chunks counted from the batch's start, concatenating to
 * the batch in rank order, chunk counts differing by at most one; chunk 0 is nn_shard. */
static void test_shard_chunks(void **s)
{
    (void)s;
    for (int64_t n = 1; n <= 70; n += 3)
        for (int64_t batch = 1; batch <= 25; batch += 4)
            for (int P = 1; P <= 5; P++)
                for (int64_t c = 1; c <= 7; c += 2) {
                    const int64_t steps = nn_steps_per_epoch(n, batch);
                    for (int64_t t = 0; t < steps; t++) {
                        const int64_t start = t * batch, end = start + batch < n ? start + batch : n;
                        const int64_t g = (end - start + c - 1) / c;
                        int64_t prev = start, most = 0, least = INT64_MAX;
                        for (int r = 0; r < P; r++) {
                            int64_t lo, hi;
                            nn_shard_chunks(n, batch, P, r, t, c, &lo, &hi);
                            assert_true(lo == prev && hi >= lo && hi <= end);
                            assert_true((lo - start) % c == 0 || lo == end);
                            assert_true((hi - start) % c == 0 || hi == end);
                            const int64_t k = (hi - lo + c - 1) / c;
                            most = k > most ? k : most;
                            least = k < least ? k : least;
                            prev = hi;
                        }
                        assert_true(prev == end);
                        assert_true(most - least <= 1 && most == (g + P - 1) / P);
                    }
                    int64_t a, b, x, y;
                    nn_shard_chunks(n, batch, P, P - 1, 0, 0, &a, &b);
                    nn_shard(n, batch, P, P - 1, 0, &x, &y);
                    assert_true(a == x && b == y);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sharding_grid),
        cmocka_unit_test(test_sharding_by_hand),
        cmocka_unit_test(test_shard_chunks),
        cmocka_unit_test(test_permutation),
        cmocka_unit_test(test_permutation_uniform),
        cmocka_unit_test(test_feistel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
