/* Tests of src/worker/check.h (H5_TRY / MPI_TRY messages with file:line, first failure kept)
 * and of nt_h5_commit's agreement: a write that failed on one rank fails on every rank and
 * leaves neither the file nor its .tmp. Verdicts are combined across ranks before asserting. */
#include "check.h"
#include "modelio.h"
#include <hdf5.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static comm_t C;

static int all_ok(int ok)
{
    int g = ok;
    if (comm_allreduce_int(&C, &g, 1, COMM_MIN) != MPI_SUCCESS) return 0;
    return g;
}

static int expect_msg(const nt_err *e, const char *want)
{
    if (!strcmp(e->msg, want)) return 1;
    fprintf(stderr, "rank %d: message '%s', expected '%s'\n", C.rank, e->msg, want);
    return 0;
}

static void test_h5_try(void **s)
{
    (void)s;
    nt_err e = {{0}};
    char want[256];
    int ok = 1;
    /* success: 0 and e untouched */
    hid_t sp = H5I_INVALID_HID;
    ok &= H5_TRY(sp = H5Screate(H5S_SCALAR), &e, "data.h5") == 0 && sp >= 0 && !e.msg[0];
    ok &= H5_TRY(H5Sclose(sp), &e, "data.h5") == 0 && !e.msg[0];
    /* failure: -1, the call's name and where it was made */
    int line = __LINE__ + 1;
    ok &= H5_TRY(H5Dopen2(H5I_INVALID_HID, "X", H5P_DEFAULT), &e, "data.h5") == -1;
    snprintf(want, sizeof want, "data.h5: HDF5 H5Dopen2 failed (test_check.c:%d)", line);
    ok &= expect_msg(&e, want);
    /* a later failure keeps the first message (it is usually a consequence) */
    hid_t d;
    ok &= H5_TRY(d = H5Dget_space(H5I_INVALID_HID), &e, "other.h5") == -1 && d < 0;
    ok &= expect_msg(&e, want);
    /* an assignment names the function called, not the variable */
    nt_err_clear(&e);
    line = __LINE__ + 1;
    ok &= H5_TRY(d = H5Dget_space(H5I_INVALID_HID), &e, "other.h5") == -1;
    snprintf(want, sizeof want, "other.h5: HDF5 H5Dget_space failed (test_check.c:%d)", line);
    ok &= expect_msg(&e, want);
    /* no e: still -1 */
    ok &= H5_TRY(H5Dget_space(H5I_INVALID_HID), NULL, "x") == -1;
    assert_true(all_ok(ok));
}

static void test_mpi_try(void **s)
{
    (void)s;
    nt_err e = {{0}};
    char buf[4] = {0}, want[256];
    int ok = MPI_TRY(comm_bcast_bytes(&C, buf, sizeof buf, 0), &e, "job") == 0 && !e.msg[0];
    /* a root that does not exist: comm returns the MPI error instead of aborting */
    int line = __LINE__ + 1;
    ok &= MPI_TRY(comm_bcast_bytes(&C, buf, sizeof buf, C.size + 3), &e, "job") == -1;
    snprintf(want, sizeof want, "job: MPI comm_bcast_bytes failed: ");
    ok &= !strncmp(e.msg, want, strlen(want)) && strlen(e.msg) > strlen(want) + 20;
    snprintf(want, sizeof want, " (test_check.c:%d)", line);
    ok &= strlen(e.msg) > strlen(want) && !strcmp(e.msg + strlen(e.msg) - strlen(want), want);
    if (!ok) fprintf(stderr, "rank %d: MPI_TRY message '%s'\n", C.rank, e.msg);
    assert_true(all_ok(ok));
}

/* The last rank's write fails: every rank gets the failure, PATH is not created, TMP is gone. */
static void test_commit_agrees(void **s)
{
    (void)s;
    char dir[64] = "";
    if (C.rank == 0 && !mkdtemp(strcpy(dir, "/tmp/nt_check_XXXXXX"))) dir[0] = 0;
    int ok = comm_bcast_bytes(&C, dir, sizeof dir, 0) == MPI_SUCCESS && dir[0];
    assert_true(all_ok(ok));
    char tmp[480], path[400], want[560];
    snprintf(path, sizeof path, "%s/out.h5", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    nt_err e = {{0}};
    hid_t f = nt_h5_create(tmp, &C);
    ok = f >= 0;
    int mine = C.rank == C.size - 1 ? -1 : 0;
    if (mine) nt_fail(&e, "%s: simulated failure", tmp);
    int st = nt_h5_commit(f, tmp, path, mine, &C, &e);
    ok &= st == NT_EXIT_RUNTIME;
    if (!ok) fprintf(stderr, "rank %d: nt_h5_commit returned %d\n", C.rank, st);
    /* the failing rank keeps its own message */
    snprintf(want, sizeof want, "%s: simulated failure", tmp);
    if (mine) ok &= expect_msg(&e, want);
    ok &= comm_barrier(&C) == MPI_SUCCESS;
    ok &= access(path, F_OK) != 0 && access(tmp, F_OK) != 0;
    /* and a commit where every rank succeeded renames TMP to PATH */
    f = nt_h5_create(tmp, &C);
    ok &= f >= 0 && nt_h5_commit(f, tmp, path, 0, &C, &e) == 0;
    ok &= comm_barrier(&C) == MPI_SUCCESS;
    ok &= access(path, F_OK) == 0 && access(tmp, F_OK) != 0;
    ok &= comm_barrier(&C) == MPI_SUCCESS;
    if (C.rank == 0) { remove(path); rmdir(dir); }
    assert_true(all_ok(ok));
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    if (comm_init(&C, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "comm_init failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL); /* the failures below are on purpose */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h5_try),
        cmocka_unit_test(test_mpi_try),
        cmocka_unit_test(test_commit_agrees),
    };
    int failed = cmocka_run_group_tests_name("check", tests, NULL, NULL);
    comm_free(&C);
    MPI_Finalize();
    return failed ? 1 : 0;
}
