/* Fault-injection hooks for the test suite (testing.h). */
#include "testing.h"
#include <stdio.h>
#include <stdlib.h>

void nt_testing_init(nt_testing *t)
{
    *t = (nt_testing){-1, -1, 0};
    const char *f = getenv("NNTRAIN_FAULT"), *s = getenv("NNTRAIN_STOP_AT_STEP");
    if (f && sscanf(f, "%ld:%ld", &t->fault_rank, &t->fault_step) != 2) t->fault_rank = -1;
    if (s) t->stop_at = atol(s);
}

int nt_testing_fault(const nt_testing *t, int rank, int64_t step, nt_err *e)
{
    if (t->fault_rank != rank || t->fault_step != step) return 0;
    nt_fail(e, "fault injected by NNTRAIN_FAULT on rank %d at step %lld", rank, (long long)step);
    return 1;
}

int nt_testing_stop(const nt_testing *t, int rank, int64_t step)
{
    return t->stop_at > 0 && rank == 0 && step == t->stop_at;
}
