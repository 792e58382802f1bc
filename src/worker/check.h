/* Checked HDF5 and MPI calls for the worker's I/O code: a failing call becomes one error line
 * naming the file it was working on, the library call and where in nntrain it was made,
 * e.g. "run/ckpt-40.h5.tmp: HDF5 H5Dwrite failed (ckpt.c:123)". */
#ifndef NT_CHECK_H
#define NT_CHECK_H
#include "err.h"
#include <mpi.h>
#include <string.h>

/* H5_TRY(call, e, what): 0 when call returns >= 0 (herr_t, hid_t, htri_t), else -1 with e
 * set. MPI_TRY(call, e, what): 0 when call returns MPI_SUCCESS, else -1 with e set (the MPI
 * error string included). `what` names the file (or object) being worked on. The call may
 * be an assignment: H5_TRY(s = H5Screate_simple(...), e, path) names H5Screate_simple.
 * e keeps its first message: after one failure, later calls usually fail because of it, so
 * the first is the one worth reading (clear e with nt_err_clear before a sequence). */
#define H5_TRY(call, e, what) \
    ((call) < 0 ? nt_check_fail((e), (what), "HDF5", #call, NULL, __FILE__, __LINE__) : 0)
#define MPI_TRY(call, e, what) nt_check_mpi((call), (e), (what), #call, __FILE__, __LINE__)

static inline void nt_err_clear(nt_err *e)
{
    if (e) e->msg[0] = 0;
}

/* "what: LIB fn failed[: detail] (file.c:line)", fn being the called function's name */
static inline int nt_check_fail(nt_err *e, const char *what, const char *lib, const char *call,
                                const char *detail, const char *file, int line)
{
    if (!e || e->msg[0]) return -1;
    const char *paren = strchr(call, '('), *fn = paren ? paren : call + strlen(call);
    while (fn > call && (fn[-1] == '_' || (fn[-1] >= '0' && fn[-1] <= '9') ||
                         ((fn[-1] | 0x20) >= 'a' && (fn[-1] | 0x20) <= 'z')))
        fn--;
    const char *base = strrchr(file, '/');
    return nt_fail(e, "%s: %s %.*s failed%s%s (%s:%d)", what ? what : "nntrain", lib,
                   (int)((paren ? paren : fn + strlen(fn)) - fn), fn, detail ? ": " : "",
                   detail ? detail : "", base ? base + 1 : file, line);
}

static inline int nt_check_mpi(int rc, nt_err *e, const char *what, const char *call,
                               const char *file, int line)
{
    if (rc == MPI_SUCCESS) return 0;
    char s[MPI_MAX_ERROR_STRING] = "";
    int n = 0;
    /* the message is a courtesy: if even this fails, the error is reported without it */
    if (MPI_Error_string(rc, s, &n) != MPI_SUCCESS) s[0] = 0;
    return nt_check_fail(e, what, "MPI", call, s[0] ? s : NULL, file, line);
}

#endif
