/* Which OpenBLAS kernels the process runs (blas.c). OpenBLAS picks its kernels for the CPU when
 * the library loads; an OpenBLAS older than the CPU does not recognise it and falls back to a
 * generic core (Debian 12's 0.3.21 on a new Xeon: Prescott, SSE3, 5x slower than its
 * Cooperlake kernels). nt_blas_select, first thing in main, fixes that: if OpenBLAS's choice is
 * below what the CPU supports (cpuid: AVX, AVX2+FMA, AVX-512, AVX-512 BF16), it sets
 * OPENBLAS_CORETYPE to the best kernel OpenBLAS has for the CPU and re-executes the process
 * (same pid, same arguments; before MPI_Init). OPENBLAS_CORETYPE set by the user is respected:
 * no selection then. */
#ifndef NT_BLAS_H
#define NT_BLAS_H

/* Returns only when no re-execution is needed (or it failed). */
void nt_blas_select(char **argv);

/* The kernel OpenBLAS runs ("Cooperlake"). */
const char *nt_blas_kernel(void);

/* How it was chosen, for --verbose: "by OpenBLAS", "by OPENBLAS_CORETYPE", "by nntrain
 * (OpenBLAS alone picked Prescott for this CPU)". */
const char *nt_blas_how(void);

#endif
