/* nt_data_open (src/worker/dataset.c) at several ranks: a file that only some ranks can open
 * (missing on one node's file system, or not HDF5 there) fails on every rank, promptly, with
 * the failing rank's message and no rank left waiting in the collective open; a good file
 * opens everywhere with the layout's shape. Verdicts are combined before asserting. */
#include "h5data.h"
#include "dataset.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static comm_t WORLD;
static char good[256], junk[256];

static int all_ok(int ok)
{
    int all = ok;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, WORLD.comm);
    return all;
}

/* Every rank opens path_of(rank); returns whether the outcome is as expected: bad_rank < 0:
 * success everywhere; else -1 with a message naming what on bad_rank, 1 elsewhere. */
static int open_with(const char *bad_path, int bad_rank, const char *what)
{
    nt_data d;
    nt_err e = {{0}};
    const char *path = WORLD.rank == bad_rank ? bad_path : good;
    int rc = nt_data_open(&d, path, &WORLD, &e);
    int ok;
    if (bad_rank < 0) {
        ok = rc == 0 && d.n == 40 && d.d == 3 && !d.y_float;
        if (!ok) printf("rank %d: open failed (%d): %s\n", WORLD.rank, rc, e.msg);
        if (rc == 0) nt_data_close(&d);
    } else if (WORLD.rank == bad_rank) {
        ok = rc == -1 && strstr(e.msg, bad_path) && strstr(e.msg, what);
        if (!ok) printf("rank %d: rc %d, message '%s' (expected -1 and '%s')\n", WORLD.rank, rc, e.msg, what);
    } else {
        ok = rc == 1 && e.msg[0] == 0;
        if (!ok) printf("rank %d: rc %d, message '%s' (expected 1, no message)\n", WORLD.rank, rc, e.msg);
    }
    return ok;
}

static void test_good_file(void **s) { (void)s; assert_true(all_ok(open_with(NULL, -1, NULL))); }

static void test_missing_on_last_rank(void **s)
{
    (void)s;
    assert_true(all_ok(open_with("/nonexistent/nntrain-test.h5", WORLD.size - 1, "no such file")));
}

static void test_not_hdf5_on_rank0(void **s)
{
    (void)s;
    assert_true(all_ok(open_with(junk, 0, "not an HDF5 file")));
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    comm_init(&WORLD, MPI_COMM_WORLD);
    int pid = (int)getpid();
    MPI_Bcast(&pid, 1, MPI_INT, 0, WORLD.comm);
    snprintf(good, sizeof good, "/tmp/nntrain-dataset-%d.h5", pid);
    snprintf(junk, sizeof junk, "/tmp/nntrain-dataset-%d.txt", pid);
    if (WORLD.rank == 0) {
        float x[40 * 3];
        int32_t y[40];
        for (int i = 0; i < 40 * 3; i++) x[i] = (float)i;
        for (int i = 0; i < 40; i++) y[i] = i % 2;
        nt_err e = {{0}};
        if (h5data_write(good, 40, 3, NULL, x, 0, y, &e)) printf("write: %s\n", e.msg);
        FILE *f = fopen(junk, "w");
        if (f) { fputs("not hdf5\n", f); fclose(f); }
    }
    MPI_Barrier(WORLD.comm);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_missing_on_last_rank),
        cmocka_unit_test(test_not_hdf5_on_rank0),
        cmocka_unit_test(test_good_file), /* nothing left half-open by the failures */
    };
    int fails = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Barrier(WORLD.comm);
    if (WORLD.rank == 0) { unlink(good); unlink(junk); }
    comm_free(&WORLD);
    MPI_Finalize();
    return fails;
}
