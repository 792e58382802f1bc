/* The MPI harnesses: a singleton MPI (one process, no mpirun), started once and finalised at
 * exit, and the comm_t the code under test takes. */
#ifndef NT_FUZZ_MPI_H
#define NT_FUZZ_MPI_H
#include "comm.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static comm_t fz_comm;

static void fz_mpi_end(void)
{
    int init = 0, fin = 0;
    comm_free(&fz_comm);
    if (MPI_Initialized(&init) == MPI_SUCCESS && init && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Finalize();
}

static inline void fz_mpi_start(void)
{
    /* a singleton started as root (containers, CI) */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 0);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 0);
    setenv("OMPI_MCA_btl", "self", 0);
    int provided;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS ||
        comm_init(&fz_comm, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "fuzz: MPI start-up failed\n");
        abort();
    }
    atexit(fz_mpi_end);
}

#endif
