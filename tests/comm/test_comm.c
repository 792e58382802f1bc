/* MPI tests of src/comm: bucketed allreduce (sums exact, any bucket/launch pattern), broadcast,
 * and failure agreement. Each check combines every rank's verdict before asserting, so a
 * failure on one rank fails the test instead of hanging the others. */
#include "comm.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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
    assert_int_equal(comm_reducer_init(&r, &C, buf, n, bucket_bytes), MPI_SUCCESS);
    /* announce readiness back to front in `pieces` steps, as backward does */
    int ok = 1;
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

static void test_bcast(void **s)
{
    (void)s;
    float v[5] = {0};
    if (C.rank == 0)
        for (int i = 0; i < 5; i++) v[i] = 1.5f * (float)i + 0.25f;
    assert_int_equal(comm_bcast_floats(&C, v, 5, 0), MPI_SUCCESS);
    int ok = 1;
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

static void test_node_split(void **s)
{
    (void)s;
    /* a single machine: every rank is on the same node */
    assert_true(all_ok(C.local_size == C.size && C.local_rank == C.rank));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    comm_init(&C, MPI_COMM_WORLD);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reducer_one_bucket),  cmocka_unit_test(test_reducer_many_buckets),
        cmocka_unit_test(test_reducer_exact_multiple), cmocka_unit_test(test_reducer_no_ready_calls),
        cmocka_unit_test(test_bcast),               cmocka_unit_test(test_agree),
        cmocka_unit_test(test_node_split),
    };
    int failed = cmocka_run_group_tests_name("comm", tests, NULL, NULL);
    comm_free(&C);
    MPI_Finalize();
    return failed ? 1 : 0;
}
