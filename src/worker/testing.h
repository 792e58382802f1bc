/* Fault injection for the test suite, in one place instead of inside the training loop.
 * Both hooks are read from the environment once, at the start of a run:
 *   NNTRAIN_FAULT=RANK:STEP    rank RANK fails at global step STEP as a failed read would
 *                              (the path where one rank fails mid-run and all stop together)
 *   NNTRAIN_STOP_AT_STEP=K     rank 0 behaves as if a SIGTERM arrived during step K
 * Documented in README "Tests"; unset, they cost one comparison per step. */
#ifndef NT_TESTING_H
#define NT_TESTING_H
#include "err.h"
#include <stdint.h>

typedef struct {
    long fault_rank, fault_step; /* -1: none */
    long stop_at;                /* 0: none */
} nt_testing;

void nt_testing_init(nt_testing *t);
/* Does rank fail at global step `step` (from 1)? Then e says so. */
int nt_testing_fault(const nt_testing *t, int rank, int64_t step, nt_err *e);
/* Does rank ask to stop during global step `step`? */
int nt_testing_stop(const nt_testing *t, int rank, int64_t step);

#endif
