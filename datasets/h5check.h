/* Checked HDF5 calls, shared by nndata's serial HDF5 code (datasets/) and nntrain's worker
 * (src/worker/check.h adds MPI_TRY on top): a failing call becomes one error line naming the
 * file it was working on, the library call and where it was made, e.g.
 * "run/ckpt-40.h5.tmp: HDF5 H5Dwrite failed (ckpt.c:123)". No MPI here: nn_h5 and nndata
 * use it without mpi.h. */
#ifndef NT_H5CHECK_H
#define NT_H5CHECK_H
#include "err.h"
#include <string.h>

/* H5_TRY(call, e, what): 0 when call returns >= 0 (herr_t, hid_t, htri_t), else -1 with e
 * set. `what` names the file (or object) being worked on. The call may be an assignment:
 * H5_TRY(s = H5Screate_simple(...), e, path) names H5Screate_simple.
 * e keeps its first message: after one failure, later calls usually fail because of it, so
 * the first is the one worth reading (clear e with nt_err_clear before a sequence). So on a
 * clean-up path H5_TRY records a failing close without replacing the specific message that
 * sent the code there. */
#define H5_TRY(call, e, what) \
    ((call) < 0 ? nt_check_fail((e), (what), "HDF5", #call, NULL, __FILE__, __LINE__) : 0)

static inline void nt_err_clear(nt_err *e)
{
    if (e) e->msg[0] = 0;
}

/* "what: LIB fn failed[: detail] (file.c:line)", fn being the called function's name; does
 * nothing but return -1 when e already holds a message. */
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

#endif
