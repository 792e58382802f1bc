/* The run-directory lock (issue 13): rank 0 of `nntrain train` holds an exclusive fcntl lock on
 * <output.dir>/.lock from before anything looks into the directory until the run ends, so a
 * second run into the same directory is refused at start-up instead of mixing its checkpoints,
 * metrics and status with the first one's. The file holds "host H pid P" of the holder (for
 * the refusal's message). The lock is the kernel's (or the NFS lock manager's), not the file:
 * it goes away with the process however it ends, so a file left by a killed run blocks
 * nothing. The file itself is never removed (removing it would let two runs lock two
 * different files of the same name). */
#ifndef NT_RUNLOCK_H
#define NT_RUNLOCK_H
#include "err.h"
#include <stddef.h>

/* Creates DIR (mkdir -p) and DIR/.lock, takes the lock without waiting and writes this
 * process's host and pid into it. Returns the open descriptor (>= 0; closing it, or the
 * process ending, releases the lock), -1 with e set (held by another process: the message
 * names its host and pid; or the directory or file cannot be created), or -2 with e set to a
 * warning when the file system does not support locks (the run may go on unlocked). */
int nt_run_lock(const char *dir, nt_err *e);
void nt_run_unlock(int fd);

/* Does another live process hold DIR/.lock? 1 (host and pid from the file, "?" when it does
 * not say), 0 (not held, or no lock file). Opens the file read-only and takes nothing. */
int nt_run_lock_holder(const char *dir, char *host, size_t hostlen, char *pid, size_t pidlen);

#endif
