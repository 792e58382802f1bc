/* Checked HDF5 and MPI calls for the worker's I/O code: H5_TRY, nt_check_fail and
 * nt_err_clear come from datasets/h5check.h (shared with nndata, no MPI there); MPI_TRY adds
 * the MPI half, e.g. "job: MPI comm_bcast_bytes failed: <MPI's error string> (train.c:88)". */
#ifndef NT_CHECK_H
#define NT_CHECK_H
#include "h5check.h"
#include <mpi.h>

/* MPI_TRY(call, e, what): 0 when call returns MPI_SUCCESS, else -1 with e set (the MPI error
 * string included; first message kept, as H5_TRY). `what` names the file or object. */
#define MPI_TRY(call, e, what) nt_check_mpi((call), (e), (what), #call, __FILE__, __LINE__)

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
