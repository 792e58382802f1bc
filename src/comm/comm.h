/* The only place that knows there are other ranks. Knows buffers and counts, not layers:
 * a communicator wrapper, broadcasts and reductions of small values, a gather of strings,
 * a bucketed non-blocking allreduce of the flat gradient buffer (buckets launched as backward
 * finishes them), and agreement on failure. src/worker calls no MPI collective itself.
 * Functions return MPI error codes (MPI_SUCCESS == 0) and never print or exit. */
#ifndef NN_COMM_H
#define NN_COMM_H
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    MPI_Comm comm;        /* private duplicate of the communicator given to comm_init */
    int rank, size;
    int local_rank, local_size; /* within this node (shared-memory split) */
} comm_t;

int comm_init(comm_t *c, MPI_Comm parent);
void comm_free(comm_t *c);

/* Broadcasts from root (collective; n may exceed INT_MAX: moved in pieces). */
int comm_bcast_floats(comm_t *c, float *buf, size_t n, int root);
int comm_bcast_bytes(comm_t *c, void *buf, size_t n, int root);

/* In-place elementwise reductions of buf[0..n) over all ranks (collective). */
typedef enum { COMM_SUM, COMM_MIN, COMM_MAX } comm_op;
int comm_allreduce_int(comm_t *c, int *buf, size_t n, comm_op op);
int comm_allreduce_i64(comm_t *c, int64_t *buf, size_t n, comm_op op);
int comm_allreduce_u64(comm_t *c, uint64_t *buf, size_t n, comm_op op);
int comm_allreduce_double(comm_t *c, double *buf, size_t n, comm_op op);
int comm_allreduce_i8(comm_t *c, int8_t *buf, size_t n, comm_op op);
int comm_allreduce_floats(comm_t *c, float *buf, size_t n); /* sum */

/* Slices of a flat buffer of n values, one per rank, contiguous and in rank order, cut at
 * multiples of `align` values (the last ends at n; a rank may get nothing): ZeRO-1's
 * partition of the parameters. counts/displs are MPI's (each slice < 2^31 values). Holds a
 * COMM_RING_SEGMENT-byte scratch buffer for the reduce-scatter. */
#define COMM_RING_SEGMENT ((size_t)1 << 20)
typedef struct {
    int *counts, *displs;
    size_t lo, hi; /* this rank's slice */
    void *scratch;
} comm_slices;
int comm_slices_init(comm_slices *s, const comm_t *c, size_t n, size_t align);
void comm_slices_free(comm_slices *s);
/* In place: buf[0..n) of every rank summed; this rank's slice of the sum lands in
 * buf[lo..hi) (the rest of buf is left partly summed). A ring (P - 1 steps of MPI_Sendrecv
 * to the next rank, in segments of COMM_RING_SEGMENT bytes added into place) rather than
 * MPI_Reduce_scatter, whose Open MPI 4.1 algorithms allocate temporaries the size of the
 * whole buffer on every call — which would cancel ZeRO-1's memory saving. Each slice is summed
 * in the same order on every call (a fixed ring). */
int comm_reduce_scatter_floats(comm_t *c, float *buf, const comm_slices *s);
int comm_reduce_scatter_i64(comm_t *c, int64_t *buf, const comm_slices *s);
/* In place: every rank's slice buf[lo..hi) to every rank. */
int comm_allgather_floats(comm_t *c, float *buf, const comm_slices *s);
/* Each rank's `len` bytes into all[r * len ..) on every rank. */
int comm_allgather_bytes(comm_t *c, const void *mine, size_t len, void *all);
/* The smallest and largest v over all ranks, in one collective (lo == hi: all agree). */
int comm_range_u64(comm_t *c, uint64_t v, uint64_t *lo, uint64_t *hi);

/* Gathers each rank's string into all[r * len .. (r + 1) * len) on root (all may be NULL
 * elsewhere). A string is cut to len - 1 characters; each slot is NUL-padded. Collective. */
int comm_gather_strings(comm_t *c, const char *mine, size_t len, char *all, int root);

int comm_barrier(comm_t *c);

/* The thread support MPI was initialised with (MPI_THREAD_*), in *level. Not collective. */
int comm_thread_level(int *level);

/* Agreement on failure: every rank passes its local status (0 = fine). Returns the largest
 * status over all ranks, or the smallest when every non-zero status is negative (so a -1 on
 * one rank is never lost to a 0 elsewhere), and sets *first to the lowest rank with a non-zero
 * status (or -1), so exactly one rank can print its message and all ranks stop together.
 * Collective. When MPI itself fails, returns that MPI error code and *first = this rank. */
int comm_agree(comm_t *c, int local_status, int *first);

/* Bucketed in-place allreduce (sum) of buf[0..n). Buckets are fixed slices of about
 * bucket_bytes, numbered from the *end* of the buffer, because backward completes the last
 * layer first. comm_reducer_ready(r, k) says buf[k..n) is final: every bucket lying entirely
 * in it is started (MPI_Iallreduce) in the same order on all ranks. comm_reducer_wait reduces
 * the buckets not yet started with one blocking MPI_Allreduce and waits for the others.
 * Buckets are reduced the same way on every rank, so replicas stay bitwise identical.
 * No allocation after comm_reducer_init. */
typedef struct {
    comm_t *c;
    float *buf;
    size_t n, bucket;
    int nbuckets, started;
    MPI_Request *reqs;
} comm_reducer;

int comm_reducer_init(comm_reducer *r, comm_t *c, float *buf, size_t n, size_t bucket_bytes);
void comm_reducer_free(comm_reducer *r);
int comm_reducer_ready(comm_reducer *r, size_t ready_from);
int comm_reducer_wait(comm_reducer *r);

#endif
