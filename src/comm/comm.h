/* The only place that knows there are other ranks. Knows buffers and counts, not layers:
 * a communicator wrapper, broadcast, a bucketed non-blocking allreduce of the flat gradient
 * buffer (buckets launched as backward finishes them), and agreement on failure. Functions
 * return MPI error codes (MPI_SUCCESS == 0) and never print or exit. */
#ifndef NN_COMM_H
#define NN_COMM_H
#include <mpi.h>
#include <stddef.h>

typedef struct {
    MPI_Comm comm;        /* private duplicate of the communicator given to comm_init */
    int rank, size;
    int local_rank, local_size; /* within this node (shared-memory split) */
} comm_t;

int comm_init(comm_t *c, MPI_Comm parent);
void comm_free(comm_t *c);

int comm_bcast_floats(comm_t *c, float *buf, size_t n, int root);
int comm_allreduce_sum(comm_t *c, float *buf, size_t n);
int comm_allreduce_sum_double(comm_t *c, double *buf, size_t n);

/* Agreement on failure: every rank passes its local status (0 = fine). Returns the largest
 * status over all ranks and sets *first to the lowest rank with a non-zero status (or -1), so
 * exactly one rank can print its message and all ranks stop together. Collective. */
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
