/* `nntrain status RUN_DIR [--launcher-exit RC]` (runstatus.c): a run's state, and the
 * post-mortem after its launcher exited non-zero. No MPI. */
#ifndef NT_RUNSTATUS_H
#define NT_RUNSTATUS_H

/* argv[0] = "status". Returns the exit code. */
int nt_status_main(int argc, char **argv);

#endif
