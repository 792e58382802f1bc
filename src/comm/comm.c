/* MPI communicator wrapper, collectives on flat buffers and small values, and failure
 * agreement. */
#include "comm.h"
#include <limits.h>
#include <stdlib.h>
#include <string.h>

int comm_init(comm_t *c, MPI_Comm parent)
{
    int rc;
    memset(c, 0, sizeof *c);
    c->comm = MPI_COMM_NULL;
    if ((rc = MPI_Comm_dup(parent, &c->comm)) != MPI_SUCCESS) return rc;
    /* errors come back as codes, so a failure is reported rather than aborting silently */
    if ((rc = MPI_Comm_set_errhandler(c->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(c->comm, &c->rank)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(c->comm, &c->size)) != MPI_SUCCESS)
        return rc;
    MPI_Comm node;
    if ((rc = MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL,
                                  &node)) != MPI_SUCCESS)
        return rc;
    if ((rc = MPI_Comm_rank(node, &c->local_rank)) == MPI_SUCCESS)
        rc = MPI_Comm_size(node, &c->local_size);
    int rc2 = MPI_Comm_free(&node);
    return rc != MPI_SUCCESS ? rc : rc2;
}

void comm_free(comm_t *c)
{
    /* nothing useful can be done about a failure to free at shutdown */
    if (c->comm != MPI_COMM_NULL && c->comm != 0) (void)MPI_Comm_free(&c->comm);
    memset(c, 0, sizeof *c);
}

/* MPI counts are int: move large buffers in pieces. */
#define PIECE ((size_t)1 << 30)

static int bcast(comm_t *c, void *buf, size_t n, size_t elem, MPI_Datatype t, int root)
{
    for (size_t o = 0; o < n; o += PIECE) {
        size_t k = n - o < PIECE ? n - o : PIECE;
        int rc = MPI_Bcast((char *)buf + o * elem, (int)k, t, root, c->comm);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int comm_bcast_floats(comm_t *c, float *buf, size_t n, int root)
{
    return bcast(c, buf, n, sizeof *buf, MPI_FLOAT, root);
}

int comm_bcast_bytes(comm_t *c, void *buf, size_t n, int root)
{
    return bcast(c, buf, n, 1, MPI_BYTE, root);
}

static int allreduce(comm_t *c, void *buf, size_t n, size_t elem, MPI_Datatype t, comm_op op)
{
    MPI_Op o = op == COMM_MIN ? MPI_MIN : op == COMM_MAX ? MPI_MAX : MPI_SUM;
    for (size_t i = 0; i < n; i += PIECE) {
        size_t k = n - i < PIECE ? n - i : PIECE;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * elem, (int)k, t, o, c->comm);
        if (rc != MPI_SUCCESS) return rc;
    }
    return MPI_SUCCESS;
}

int comm_allreduce_int(comm_t *c, int *buf, size_t n, comm_op op)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_INT, op);
}

int comm_allreduce_i64(comm_t *c, int64_t *buf, size_t n, comm_op op)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_INT64_T, op);
}

int comm_allreduce_u64(comm_t *c, uint64_t *buf, size_t n, comm_op op)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_UINT64_T, op);
}

int comm_allreduce_double(comm_t *c, double *buf, size_t n, comm_op op)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_DOUBLE, op);
}

int comm_allreduce_i8(comm_t *c, int8_t *buf, size_t n, comm_op op)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_INT8_T, op);
}

int comm_allreduce_floats(comm_t *c, float *buf, size_t n)
{
    return allreduce(c, buf, n, sizeof *buf, MPI_FLOAT, COMM_SUM);
}

int comm_slices_init(comm_slices *s, const comm_t *c, size_t n, size_t align)
{
    memset(s, 0, sizeof *s);
    s->counts = calloc((size_t)c->size, sizeof(int));
    s->displs = calloc((size_t)c->size, sizeof(int));
    s->scratch = malloc(COMM_RING_SEGMENT);
    if (!s->counts || !s->displs || !s->scratch) return MPI_ERR_NO_MEM;
    if (align < 1) align = 1;
    const size_t blocks = (n + align - 1) / align;
    for (int r = 0; r < c->size; r++) {
        size_t lo = blocks * (size_t)r / (size_t)c->size * align;
        size_t hi = blocks * (size_t)(r + 1) / (size_t)c->size * align;
        lo = lo < n ? lo : n;
        hi = hi < n ? hi : n;
        if (hi - lo > INT_MAX || lo > INT_MAX) return MPI_ERR_COUNT;
        s->counts[r] = (int)(hi - lo);
        s->displs[r] = (int)lo;
        if (r == c->rank) s->lo = lo, s->hi = hi;
    }
    return MPI_SUCCESS;
}

void comm_slices_free(comm_slices *s)
{
    free(s->counts);
    free(s->displs);
    free(s->scratch);
    memset(s, 0, sizeof *s);
}

static void add_floats(void *dst, const void *src, size_t n)
{
    float *d = dst;
    const float *x = src;
    for (size_t i = 0; i < n; i++) d[i] += x[i];
}

static void add_i64(void *dst, const void *src, size_t n)
{
    int64_t *d = dst;
    const int64_t *x = src;
    for (size_t i = 0; i < n; i++) d[i] += x[i];
}

/* The ring: at step k (0 .. P-2) rank r sends slice (r - k - 1) mod P, which holds the sum of
 * k + 1 ranks' values, to rank r + 1, and receives slice (r - k - 2) mod P from rank r - 1,
 * adding its own values; after the last step slice r holds the sum of all P. */
static int ring_rs(comm_t *c, char *buf, size_t elem, MPI_Datatype t, const comm_slices *s,
                   void (*add)(void *, const void *, size_t))
{
    const int P = c->size, r = c->rank;
    if (P == 1) return MPI_SUCCESS;
    const int right = (r + 1) % P, left = (r + P - 1) % P;
    const size_t seg = COMM_RING_SEGMENT / elem;
    /* every rank makes the same number of Sendrecv calls per step (zero-count ones too), so
     * each send meets its receive: as many segments as the largest slice has */
    size_t most = 1;
    for (int q = 0; q < P; q++) most = (size_t)s->counts[q] > most ? (size_t)s->counts[q] : most;
    for (int k = 0; k < P - 1; k++) {
        const int sb = ((r - k - 1) % P + P) % P, rb = ((r - k - 2) % P + P) % P;
        const size_t sn = (size_t)s->counts[sb], rn = (size_t)s->counts[rb];
        char *sp = buf + (size_t)s->displs[sb] * elem, *rp = buf + (size_t)s->displs[rb] * elem;
        for (size_t o = 0; o < most; o += seg) {
            const int sc = (int)(o < sn ? (sn - o < seg ? sn - o : seg) : 0);
            const int rc_ = (int)(o < rn ? (rn - o < seg ? rn - o : seg) : 0);
            int rc = MPI_Sendrecv(sp + o * elem, sc, t, right, 7, s->scratch, rc_, t, left, 7, c->comm,
                                  MPI_STATUS_IGNORE);
            if (rc != MPI_SUCCESS) return rc;
            add(rp + o * elem, s->scratch, (size_t)rc_);
        }
    }
    return MPI_SUCCESS;
}

int comm_reduce_scatter_floats(comm_t *c, float *buf, const comm_slices *s)
{
    return ring_rs(c, (char *)buf, sizeof *buf, MPI_FLOAT, s, add_floats);
}

int comm_reduce_scatter_i64(comm_t *c, int64_t *buf, const comm_slices *s)
{
    return ring_rs(c, (char *)buf, sizeof *buf, MPI_INT64_T, s, add_i64);
}

int comm_allgather_floats(comm_t *c, float *buf, const comm_slices *s)
{
    if (c->size == 1) return MPI_SUCCESS;
    return MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, buf, s->counts, s->displs,
                          MPI_FLOAT, c->comm);
}

int comm_allgather_bytes(comm_t *c, const void *mine, size_t len, void *all)
{
    if (len > INT_MAX) return MPI_ERR_COUNT;
    return MPI_Allgather(mine, (int)len, MPI_BYTE, all, (int)len, MPI_BYTE, c->comm);
}

int comm_range_u64(comm_t *c, uint64_t v, uint64_t *lo, uint64_t *hi)
{
    /* max(v) = ~min(~v): both ends from one MIN reduction */
    uint64_t m[2] = {v, ~v};
    int rc = comm_allreduce_u64(c, m, 2, COMM_MIN);
    if (rc != MPI_SUCCESS) return rc;
    *lo = m[0];
    *hi = ~m[1];
    return MPI_SUCCESS;
}

int comm_gather_strings(comm_t *c, const char *mine, size_t len, char *all, int root)
{
    if (len == 0 || len > INT_MAX) return MPI_ERR_COUNT;
    char *slot = calloc(len, 1);
    if (!slot) return MPI_ERR_NO_MEM;
    size_t n = strlen(mine);
    memcpy(slot, mine, n < len ? n : len - 1);
    int rc = MPI_Gather(slot, (int)len, MPI_CHAR, all, (int)len, MPI_CHAR, root, c->comm);
    free(slot);
    return rc;
}

int comm_barrier(comm_t *c)
{
    return MPI_Barrier(c->comm);
}

int comm_thread_level(int *level)
{
    return MPI_Query_thread(level);
}

int comm_agree(comm_t *c, int local_status, int *first)
{
    /* one MIN reduction: -max(status), min(status), lowest failing rank (statuses are small
     * codes, so negating them cannot overflow) */
    int v[3] = {-local_status, local_status, local_status ? c->rank : INT_MAX};
    int rc = MPI_Allreduce(MPI_IN_PLACE, v, 3, MPI_INT, MPI_MIN, c->comm);
    if (rc != MPI_SUCCESS) {
        /* cannot even agree: the job is broken; report it as a failure everywhere */
        if (first) *first = c->rank;
        return rc;
    }
    if (first) *first = v[2] == INT_MAX ? -1 : v[2];
    return -v[0] > 0 ? -v[0] : v[1];
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
