/* MPI tests of src/comm: bucketed allreduce (sums exact, any bucket/launch pattern),
 * broadcasts, reductions of small values, the string gather, and failure agreement. Each check combines every rank's verdict before asserting, so a
 * failure on one rank fails the test instead of hanging the others. */
#include "comm.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static comm_t C;

static int all_ok(int ok)
{
    int g = ok;
    MPI_Allreduce(&ok, &g, 1, MPI_INT, MPI_LAND, C.comm);
    return g;
}

/* rank r contributes (r+1) * f(i); small integers, so float sums are exact */
static float f(size_t i) { return (float)((i * 7) % 13) - 6.0f; }

static void check_reducer(size_t n, size_t bucket_bytes, int pieces)
{
    float *buf = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) buf[i] = (float)(C.rank + 1) * f(i);
    comm_reducer r;
    /* every rank's verdict is combined before any rank asserts */
    int ok = comm_reducer_init(&r, &C, buf, n, bucket_bytes) == MPI_SUCCESS;
    if (!all_ok(ok)) {
        free(buf);
        fail_msg("comm_reducer_init failed on some rank");
    }
    /* announce readiness back to front in `pieces` steps, as backward does */
    for (int p = 1; p <= pieces; p++)
        ok &= comm_reducer_ready(&r, n - n * (size_t)p / (size_t)(pieces + 1)) == MPI_SUCCESS;
    ok &= comm_reducer_wait(&r) == MPI_SUCCESS;
    const float tri = (float)(C.size * (C.size + 1) / 2);
    size_t bad = n;
    for (size_t i = 0; i < n && bad == n; i++)
        if (buf[i] != tri * f(i)) bad = i;
    if (bad != n) {
        fprintf(stderr, "rank %d: n=%zu bucket=%zu: buf[%zu] = %g, expected %g\n", C.rank, n,
                bucket_bytes, bad, (double)buf[bad], (double)(tri * f(bad)));
        ok = 0;
    }
    /* the reducer is reusable step after step */
    for (size_t i = 0; i < n; i++) buf[i] = 1.0f;
    ok &= comm_reducer_wait(&r) == MPI_SUCCESS;
    for (size_t i = 0; i < n; i++) ok &= buf[i] == (float)C.size;
    comm_reducer_free(&r);
    free(buf);
    assert_true(all_ok(ok));
}

static void test_reducer_one_bucket(void **s) { (void)s; check_reducer(1000, 1 << 20, 1); }
static void test_reducer_many_buckets(void **s) { (void)s; check_reducer(3 * 1024 + 17, 4096, 5); }
static void test_reducer_exact_multiple(void **s) { (void)s; check_reducer(4 * 1024, 4096, 3); }
static void test_reducer_no_ready_calls(void **s) { (void)s; check_reducer(5000, 4096, 0); }

/* ZeRO-1's slices, the ring reduce-scatter (floats and int64) and the allgather: every slice
 * ends with the exact sum on its owner (small integers: exact in float), for slices of
 * several ring segments, uneven and empty slices; the allgather gives everyone all. */
static void check_slices(size_t n, size_t align)
{
    comm_slices sl;
    int ok = comm_slices_init(&sl, &C, n, align) == MPI_SUCCESS;
    float *buf = malloc(sizeof(float) * (n + 1));
    int64_t *ib = malloc(sizeof(int64_t) * (n + 1));
    ok = all_ok(ok && buf && ib);
    if (!ok) fail_msg("slices: init failed");
    /* the slices tile [0, n) in rank order at multiples of align */
    size_t at = 0;
    for (int r = 0; r < C.size; r++) {
        ok &= (size_t)sl.displs[r] == at && (at % align == 0 || at == n);
        at += (size_t)sl.counts[r];
    }
    ok &= at == n && sl.lo == (size_t)sl.displs[C.rank] && sl.hi == sl.lo + (size_t)sl.counts[C.rank];
    for (size_t i = 0; i < n; i++) {
        buf[i] = (float)(C.rank + 1) * f(i);
        ib[i] = (int64_t)(C.rank + 1) * ((int64_t)1 << 40) + (int64_t)i;
    }
    const float tri = (float)(C.size * (C.size + 1) / 2);
    ok &= comm_reduce_scatter_floats(&C, buf, &sl) == MPI_SUCCESS;
    ok &= comm_reduce_scatter_i64(&C, ib, &sl) == MPI_SUCCESS;
    for (size_t i = sl.lo; i < sl.hi; i++) {
        ok &= buf[i] == tri * f(i);
        ok &= ib[i] == (int64_t)(C.size * (C.size + 1) / 2) * ((int64_t)1 << 40) + (int64_t)C.size * (int64_t)i;
    }
    ok &= comm_allgather_floats(&C, buf, &sl) == MPI_SUCCESS;
    for (size_t i = 0; i < n; i++) ok &= buf[i] == tri * f(i);
    free(buf);
    free(ib);
    comm_slices_free(&sl);
    assert_true(all_ok(ok));
}
static void test_slices_small(void **s) { (void)s; check_slices(10, 64); }      /* one owner */
static void test_slices_uneven(void **s) { (void)s; check_slices(1000, 64); }
static void test_slices_segments(void **s) { (void)s; check_slices(700000, 64); } /* > 1 MiB each */
static void test_slices_empty(void **s) { (void)s; check_slices(0, 64); }

static void test_bcast(void **s)
{
    (void)s;
    float v[5] = {0};
    if (C.rank == 0)
        for (int i = 0; i < 5; i++) v[i] = 1.5f * (float)i + 0.25f;
    int ok = comm_bcast_floats(&C, v, 5, 0) == MPI_SUCCESS;
    for (int i = 0; i < 5; i++) ok &= v[i] == 1.5f * (float)i + 0.25f;
    assert_true(all_ok(ok));
}

static void test_agree(void **s)
{
    (void)s;
    int first = 123;
    /* nobody failed */
    int g = comm_agree(&C, 0, &first);
    assert_true(all_ok(g == 0 && first == -1));
    /* the last rank fails with 7, and (when there are >= 3 ranks) rank 1 with 3 */
    int mine = C.rank == C.size - 1 ? 7 : (C.size >= 3 && C.rank == 1 ? 3 : 0);
    g = comm_agree(&C, mine, &first);
    int expect_first = C.size >= 3 ? 1 : C.size - 1;
    assert_true(all_ok(g == 7 && first == expect_first));
}

/* Broadcast from the last rank, so a root that is not rank 0 is covered too. */
static void test_bcast_bytes(void **s)
{
    (void)s;
    struct { int64_t a; char name[13]; double x; } v, want = {-5000000000LL, "from the end", 0.1};
    memset(&v, 0, sizeof v);
    if (C.rank == C.size - 1) v = want;
    int ok = comm_bcast_bytes(&C, &v, sizeof v, C.size - 1) == MPI_SUCCESS;
    ok &= v.a == want.a && !strcmp(v.name, want.name) && v.x == want.x;
    /* n = 0 is a no-op */
    ok &= comm_bcast_bytes(&C, NULL, 0, 0) == MPI_SUCCESS;
    assert_true(all_ok(ok));
}

/* Rank r contributes r + 1 (and for 64-bit types, values beyond 32 bits). */
static void test_allreduce_int(void **s)
{
    (void)s;
    const int P = C.size, r = C.rank;
    int v[3] = {r + 1, r + 1, r + 1};
    int ok = comm_allreduce_int(&C, v, 1, COMM_SUM) == MPI_SUCCESS;
    ok &= comm_allreduce_int(&C, v + 1, 1, COMM_MIN) == MPI_SUCCESS;
    ok &= comm_allreduce_int(&C, v + 2, 1, COMM_MAX) == MPI_SUCCESS;
    ok &= v[0] == P * (P + 1) / 2 && v[1] == 1 && v[2] == P;
    if (!ok) fprintf(stderr, "rank %d: int sum/min/max = %d %d %d\n", r, v[0], v[1], v[2]);
    assert_true(all_ok(ok));
}

static void test_allreduce_i64(void **s)
{
    (void)s;
    const int64_t P = C.size, big = (int64_t)1 << 40;
    /* elementwise over a vector: {-(r+1) * 2^40, (r+1) * 2^40} */
    int64_t mn[2] = {-(C.rank + 1) * big, (C.rank + 1) * big}, mx[2], sum[2];
    memcpy(mx, mn, sizeof mn);
    memcpy(sum, mn, sizeof mn);
    int ok = comm_allreduce_i64(&C, mn, 2, COMM_MIN) == MPI_SUCCESS;
    ok &= comm_allreduce_i64(&C, mx, 2, COMM_MAX) == MPI_SUCCESS;
    ok &= comm_allreduce_i64(&C, sum, 2, COMM_SUM) == MPI_SUCCESS;
    ok &= mn[0] == -P * big && mn[1] == big && mx[0] == -big && mx[1] == P * big;
    ok &= sum[0] == -P * (P + 1) / 2 * big && sum[1] == P * (P + 1) / 2 * big;
    assert_true(all_ok(ok));
}

static void test_allreduce_u64(void **s)
{
    (void)s;
    /* the top bit set: a signed reduction would get min and max the wrong way round */
    const uint64_t top = (uint64_t)1 << 63;
    uint64_t mn = top + (uint64_t)C.rank, mx = mn;
    int ok = comm_allreduce_u64(&C, &mn, 1, COMM_MIN) == MPI_SUCCESS;
    ok &= comm_allreduce_u64(&C, &mx, 1, COMM_MAX) == MPI_SUCCESS;
    ok &= mn == top && mx == top + (uint64_t)(C.size - 1);
    assert_true(all_ok(ok));
}

static void test_allreduce_double(void **s)
{
    (void)s;
    const double P = C.size;
    double v[3] = {0.5 * (C.rank + 1), -0.25 * C.rank, 0.25 * C.rank};
    double sum[3];
    memcpy(sum, v, sizeof v);
    int ok = comm_allreduce_double(&C, v + 1, 1, COMM_MIN) == MPI_SUCCESS;
    ok &= comm_allreduce_double(&C, v + 2, 1, COMM_MAX) == MPI_SUCCESS;
    ok &= comm_allreduce_double(&C, sum, 1, COMM_SUM) == MPI_SUCCESS;
    ok &= comm_allreduce_double(&C, v, 1, COMM_SUM) == MPI_SUCCESS;
    ok &= v[0] == 0.25 * P * (P + 1) && sum[0] == v[0];
    ok &= v[1] == -0.25 * (P - 1) && v[2] == 0.25 * (P - 1);
    assert_true(all_ok(ok));
}

static void test_range_u64(void **s)
{
    (void)s;
    uint64_t lo = 1, hi = 0;
    /* every rank the same value: lo == hi */
    int ok = comm_range_u64(&C, 0xdeadbeefcafef00dULL, &lo, &hi) == MPI_SUCCESS;
    ok &= lo == 0xdeadbeefcafef00dULL && hi == lo;
    /* the last rank differs (in the top bit, where ~ and signedness matter) */
    uint64_t v = C.rank == C.size - 1 ? ~(uint64_t)0 : 7;
    ok &= comm_range_u64(&C, v, &lo, &hi) == MPI_SUCCESS;
    ok &= C.size == 1 ? lo == ~(uint64_t)0 && hi == lo : lo == 7 && hi == ~(uint64_t)0;
    assert_true(all_ok(ok));
}

static void test_gather_strings(void **s)
{
    (void)s;
    enum { LEN = 16 };
    char mine[64];
    /* rank 1 sends a string longer than a slot: it arrives cut to LEN - 1 characters */
    if (C.rank == 1) snprintf(mine, sizeof mine, "rank 1 says something long");
    else snprintf(mine, sizeof mine, "rank %d", C.rank);
    const int root = C.size - 1;
    char *all = C.rank == root ? malloc((size_t)LEN * (size_t)C.size) : NULL;
    if (all) memset(all, 'x', (size_t)LEN * (size_t)C.size);
    int ok = comm_gather_strings(&C, mine, LEN, all, root) == MPI_SUCCESS;
    for (int r = 0; all && r < C.size; r++) {
        char want[LEN];
        if (r == 1) memcpy(want, "rank 1 says som", LEN); /* the first LEN - 1 characters */
        else snprintf(want, sizeof want, "rank %d", r);
        const char *got = all + (size_t)r * LEN;
        int good = !memcmp(got, want, strlen(want) + 1);
        for (size_t i = strlen(want); i < LEN; i++) good &= got[i] == 0; /* NUL-padded */
        if (!good) fprintf(stderr, "slot %d: got '%.*s', expected '%s'\n", r, LEN, got, want);
        ok &= good;
    }
    free(all);
    ok &= comm_gather_strings(&C, mine, 0, NULL, 0) != MPI_SUCCESS; /* no room: refused */
    assert_true(all_ok(ok));
}

static void test_barrier_and_threads(void **s)
{
    (void)s;
    int level = -1;
    int ok = comm_barrier(&C) == MPI_SUCCESS;
    ok &= comm_thread_level(&level) == MPI_SUCCESS;
    ok &= level == MPI_THREAD_SINGLE || level == MPI_THREAD_FUNNELED ||
          level == MPI_THREAD_SERIALIZED || level == MPI_THREAD_MULTIPLE;
    assert_true(all_ok(ok));
}

/* A negative status (-1, as nt_fail returns) on one rank must not be outvoted by the zeros. */
static void test_agree_negative(void **s)
{
    (void)s;
    int first = 123;
    int g = comm_agree(&C, C.rank == C.size - 1 ? -1 : 0, &first);
    int ok = g != 0 && first == C.size - 1;
    /* a positive code wins over -1 elsewhere */
    g = comm_agree(&C, C.rank == 0 ? 3 : -1, &first);
    ok &= g == 3 && first == 0;
    g = comm_agree(&C, C.rank == 0 ? 0 : -1, &first);
    ok &= C.size == 1 ? g == 0 && first == -1 : g == -1 && first == 1;
    if (!ok) fprintf(stderr, "rank %d: comm_agree with negative statuses: %d (first %d)\n", C.rank, g, first);
    assert_true(all_ok(ok));
}

static void test_node_split(void **s)
{
    (void)s;
    /* a single machine: every rank is on the same node */
    assert_true(all_ok(C.local_size == C.size && C.local_rank == C.rank));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (comm_init(&C, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "comm_init failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reducer_one_bucket),  cmocka_unit_test(test_reducer_many_buckets),
        cmocka_unit_test(test_reducer_exact_multiple), cmocka_unit_test(test_reducer_no_ready_calls),
        cmocka_unit_test(test_bcast),               cmocka_unit_test(test_agree),
        cmocka_unit_test(test_slices_small),        cmocka_unit_test(test_slices_uneven),
        cmocka_unit_test(test_slices_segments),     cmocka_unit_test(test_slices_empty),
        cmocka_unit_test(test_node_split),          cmocka_unit_test(test_bcast_bytes),
        cmocka_unit_test(test_allreduce_int),       cmocka_unit_test(test_allreduce_i64),
        cmocka_unit_test(test_allreduce_u64),       cmocka_unit_test(test_allreduce_double),
        cmocka_unit_test(test_range_u64),           cmocka_unit_test(test_gather_strings),
        cmocka_unit_test(test_barrier_and_threads), cmocka_unit_test(test_agree_negative),
    };
    int failed = cmocka_run_group_tests_name("comm", tests, NULL, NULL);
    comm_free(&C);
    MPI_Finalize();
    return failed ? 1 : 0;
}
