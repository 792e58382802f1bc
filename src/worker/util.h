/* Worker-side helpers: error messages with context, rank-0 logging, failure agreement that
 * prints exactly one line, and small file utilities. */
#ifndef NT_UTIL_H
#define NT_UTIL_H
#include "comm.h"
#include "err.h" /* nt_err, nt_fail, NT_EXIT_* */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>


/* Rank-0 logging to stdout (flushed): the only place training output is printed. */
void log0(const comm_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Collective: combine each rank's status (0 = ok, else an NT_EXIT_* code). When any rank
 * failed, the lowest failing rank prints "nntrain: error: <its message>" to stderr and all
 * ranks return the same non-zero status. */
int nt_agree(comm_t *c, int status, const nt_err *e);
/* The same without printing: on failure every rank's e holds the first failing rank's message
 * (a caller that may recover, e.g. by trying an older checkpoint, prints it or not). */
int nt_agree_quiet(comm_t *c, int status, nt_err *e);

double nt_now(void); /* monotonic seconds */

/* Preemption: SIGTERM/SIGUSR1 set this flag (the only process-wide state, because a signal
 * handler can reach nothing else); a second SIGTERM exits at once. Training reads it at each
 * step and all ranks agree through the gradient allreduce. */
extern volatile sig_atomic_t nt_stop_signal;
void nt_install_signal_handlers(void);
/* From then on a SIGTERM/SIGUSR1 also creates the (empty) file PATH; NULL: no more. */
void nt_set_signal_mark(const char *path);
int nt_path_exists(const char *path);
int nt_mkdirs(const char *path, nt_err *e); /* mkdir -p */

/* Rank 0 replaces DIR/status with one line (written to status.tmp, then renamed, so a reader
 * never sees half a line). The first word is the run's state: running | stopped | finished |
 * failed; batch scripts read it to tell a finished run from one to requeue. */
void nt_write_status(const comm_t *c, const char *dir, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same from any process or thread, without a communicator (the watchdog): DIR/status =
 * line, through DIR/tmp_name. */
void nt_write_status_line(const char *dir, const char *tmp_name, const char *line);

/* Space-checked, durable file writes (rank-local; each returns 0 or an errno value).
 * nt_disk_free: the bytes this process may still write in DIR's file system.
 * nt_disk_reserve: allocates BYTES of disk for the existing file PATH without changing its
 * size (fallocate KEEP_SIZE), so writes within them cannot run out of space; EOPNOTSUPP where
 * the file system cannot reserve.
 * nt_fsync_file: gives back what was reserved beyond PATH's end and fsyncs PATH.
 * nt_fsync_dir: fsyncs directory DIR (after a rename into it, so the new name is durable). */
int nt_disk_free(const char *dir, uint64_t *bytes);
int nt_disk_reserve(const char *path, uint64_t bytes);
int nt_fsync_file(const char *path);
int nt_fsync_dir(const char *dir);

#endif
