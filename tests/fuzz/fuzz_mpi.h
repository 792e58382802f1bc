/* The MPI harnesses: a singleton MPI (one process, no mpirun), started once and finalised at
 * exit, and the comm_t the code under test takes. */
#ifndef NT_FUZZ_MPI_H
#define NT_FUZZ_MPI_H
#include "comm.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/lsan_interface.h>
#define FZ_LSAN 1
#endif
#endif
#ifdef FZ_LSAN

/* No leak check at exit: MPI_Finalize leaves memory behind (in components it has unloaded);
 * libFuzzer's check after each input still runs. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) { return "leak_check_at_exit=0"; }
#endif

static comm_t fz_comm;

static void fz_mpi_end(void)
{
    int init = 0, fin = 0;
    comm_free(&fz_comm);
    if (MPI_Initialized(&init) == MPI_SUCCESS && init && MPI_Finalized(&fin) == MPI_SUCCESS && !fin)
        MPI_Finalize();
}

/* Open MPI's start-up (and the first use of a collective component) allocates memory it
 * never frees: LeakSanitizer is told to ignore what is allocated from here until
 * fz_mpi_started, which the harness calls after one warm-up input. */
static inline void fz_mpi_start(void)
{
#ifdef FZ_LSAN
    __lsan_disable();
#endif
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

static inline void fz_mpi_started(void)
{
#ifdef FZ_LSAN
    __lsan_enable();
#endif
}

#endif
