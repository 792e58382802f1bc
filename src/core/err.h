/* The one error convention of both tools (nntrain and nndata): library code fills an nt_err
 * with one line naming the file, key, value, rank or host and returns -1 (or an NT_EXIT_*
 * code); only the command layer prints it (once) and decides the exit code. The exit-code
 * table below is the only one; the README's "Exit codes" section documents it. */
#ifndef NN_ERR_H
#define NN_ERR_H

#define NT_ERRLEN 1024
typedef struct { char msg[NT_ERRLEN]; } nt_err;

/* Exit codes of nntrain and nndata (README "Exit codes"). */
enum {
    NT_EXIT_OK = 0,      /* success (also: preempted with a checkpoint written) */
    NT_EXIT_RUNTIME = 1, /* a failure while running: I/O, MPI, out of memory, divergence */
    NT_EXIT_USAGE = 2,   /* bad command line */
    NT_EXIT_INPUT = 3    /* bad input: configuration, data, model or checkpoint file */
};

/* Sets e->msg (printf-style, e may be NULL) and returns -1, so `return nt_fail(e, ...)`
 * reads naturally. */
int nt_fail(nt_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
