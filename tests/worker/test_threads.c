/* nt_blas_threads (src/worker/setup.c): [train] threads wins, then $OPENBLAS_NUM_THREADS, then
 * Slurm's $SLURM_CPUS_PER_TASK (an allocation smaller than the host), then cores per node /
 * ranks per node; the last two are capped by the CPUs this process may run on. No MPI needed:
 * only the rank counts of comm_t are read. */
#define _GNU_SOURCE
#include "train.h"
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

static int allowed(void)
{
    cpu_set_t set;
    return sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1 << 20;
}

static void test_order(void **s)
{
    (void)s;
    comm_t c = {.local_size = 1};
    unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("SLURM_CPUS_PER_TASK");
    assert_int_equal(nt_blas_threads(3, &c), 3); /* the config wins */
    setenv("OPENBLAS_NUM_THREADS", "5", 1);
    setenv("SLURM_CPUS_PER_TASK", "1", 1);
    assert_int_equal(nt_blas_threads(0, &c), 5); /* then the BLAS variable */
    unsetenv("OPENBLAS_NUM_THREADS");
    assert_int_equal(nt_blas_threads(0, &c), 1); /* then the allocation */
    setenv("SLURM_CPUS_PER_TASK", "64", 1);       /* never more CPUs than we may use */
    int cap = allowed() < 64 ? allowed() : 64;
    assert_int_equal(nt_blas_threads(0, &c), cap);
    setenv("SLURM_CPUS_PER_TASK", "junk", 1);     /* ignored: cores / ranks per node */
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    c.local_size = (int)cores;
    assert_int_equal(nt_blas_threads(0, &c), 1);
    unsetenv("SLURM_CPUS_PER_TASK");
    c.local_size = 1;
    assert_int_equal(nt_blas_threads(0, &c), cores < allowed() ? (int)cores : allowed());
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_order)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
