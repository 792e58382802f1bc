/* MPI communicator wrapper, collectives on flat float buffers, and failure agreement. */
#include "comm.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int comm_init(comm_t *c, MPI_Comm parent)
{
    int rc;
    memset(c, 0, sizeof *c);
    if ((rc = MPI_Comm_dup(parent, &c->comm)) != MPI_SUCCESS) return rc;
    /* errors come back as codes, so a failure is reported rather than aborting silently */
    MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN);
    MPI_Comm_rank(c->comm, &c->rank);
    MPI_Comm_size(c->comm, &c->size);
    MPI_Comm node;
    if ((rc = MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                  &node)) != MPI_SUCCESS)
        return rc;
    MPI_Comm_rank(node, &c->local_rank);
    MPI_Comm_size(node, &c->local_size);
    MPI_Comm_free(&node);
    return MPI_SUCCESS;
}

void comm_free(comm_t *c)
{
    if (c->comm != MPI_COMM_NULL && c->comm != 0) MPI_Comm_free(&c->comm);
    memset(c, 0, sizeof *c);
}

/* MPI counts are int: move large buffers in pieces. */
#define PIECE ((size_t)1 << 30)

int comm_bcast_floats(comm_t *c, float *buf, size_t n, int root)
{
    for (size_t o = 0; o < n; o += PIECE) {
        size_t k = n - o < PIECE ? n - o : PIECE;
        int rc = MPI_Bcast(buf + o, (int)k, MPI_FLOAT, root, c->comm);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int comm_allreduce_sum(comm_t *c, float *buf, size_t n)
{
    for (size_t o = 0; o < n; o += PIECE) {
        size_t k = n - o < PIECE ? n - o : PIECE;
        int rc = MPI_Allreduce(MPI_IN_PLACE, buf + o, (int)k, MPI_FLOAT, MPI_SUM, c->comm);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int comm_allreduce_sum_double(comm_t *c, double *buf, size_t n)
{
    return MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_DOUBLE, MPI_SUM, c->comm);
}

int comm_agree(comm_t *c, int local_status, int *first)
{
    int in[2] = {local_status, local_status ? c->rank : INT_MAX};
    int maxs, mins;
    int rc = MPI_Allreduce(&in[0], &maxs, 1, MPI_INT, MPI_MAX, c->comm);
    if (rc == MPI_SUCCESS) rc = MPI_Allreduce(&in[1], &mins, 1, MPI_INT, MPI_MIN, c->comm);
    if (rc != MPI_SUCCESS) {
        /* cannot even agree: the job is broken; report it as a failure everywhere */
        if (first) *first = c->rank;
        return rc;
    }
    if (first) *first = mins == INT_MAX ? -1 : mins;
    return maxs;
}

int comm_reducer_init(comm_reducer *r, comm_t *c, float *buf, size_t n, size_t bucket_bytes)
{
    memset(r, 0, sizeof *r);
    r->c = c;
    r->buf = buf;
    r->n = n;
    r->bucket = bucket_bytes / sizeof(float);
    if (r->bucket < 1024) r->bucket = 1024;
    if (r->bucket > PIECE) r->bucket = PIECE;
    r->nbuckets = n == 0 ? 0 : (int)((n + r->bucket - 1) / r->bucket);
    r->reqs = calloc(r->nbuckets ? (size_t)r->nbuckets : 1, sizeof *r->reqs);
    return r->reqs ? MPI_SUCCESS : MPI_ERR_NO_MEM;
}

void comm_reducer_free(comm_reducer *r)
{
    free(r->reqs);
    memset(r, 0, sizeof *r);
}

/* bucket k covers [lo, hi) counted back from the end of the buffer */
static void bucket_range(const comm_reducer *r, int k, size_t *lo, size_t *hi)
{
    *hi = r->n - (size_t)k * r->bucket;
    *lo = *hi > r->bucket ? *hi - r->bucket : 0;
}

static int start_until(comm_reducer *r, size_t ready_from)
{
    while (r->started < r->nbuckets) {
        size_t lo, hi;
        bucket_range(r, r->started, &lo, &hi);
        if (lo < ready_from) break;
        int rc = MPI_Iallreduce(MPI_IN_PLACE, r->buf + lo, (int)(hi - lo), MPI_FLOAT, MPI_SUM,
                                r->c->comm, &r->reqs[r->started]);
        if (rc != MPI_SUCCESS) return rc;
        r->started++;
    }
    return MPI_SUCCESS;
}

int comm_reducer_ready(comm_reducer *r, size_t ready_from)
{
    /* ready_from == 0 means backward is over: comm_reducer_wait comes next and does better */
    if (r->c->size == 1 || ready_from == 0) return MPI_SUCCESS;
    int rc = start_until(r, ready_from);
    if (rc != MPI_SUCCESS || r->started == 0) return rc;
    /* give the MPI library a chance to progress what is in flight (no progress thread) */
    int flag;
    return MPI_Testall(r->started, r->reqs, &flag, MPI_STATUSES_IGNORE);
}

int comm_reducer_wait(comm_reducer *r)
{
    if (r->c->size == 1) return MPI_SUCCESS;
    /* Buckets not started yet form the front of the buffer, [0, hi): reduce them with one
     * blocking MPI_Allreduce, which Open MPI's tuned component runs faster than libnbc's
     * non-blocking schedule (and there is nothing left to overlap with anyway). */
    int rc = MPI_SUCCESS;
    if (r->started < r->nbuckets) {
        size_t lo, hi;
        bucket_range(r, r->started, &lo, &hi);
        for (size_t o = 0; o < hi && rc == MPI_SUCCESS; o += PIECE) {
            size_t k = hi - o < PIECE ? hi - o : PIECE;
            rc = MPI_Allreduce(MPI_IN_PLACE, r->buf + o, (int)k, MPI_FLOAT, MPI_SUM, r->c->comm);
        }
    }
    if (rc == MPI_SUCCESS) rc = MPI_Waitall(r->started, r->reqs, MPI_STATUSES_IGNORE);
    r->started = 0;
    return rc;
}
