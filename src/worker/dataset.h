/* Parallel reading of an nntrain dataset file (/X (N,D) uint8|float, optional "scale", mean,
 * std; /y (N) integer labels or (N,K) float targets). The file is opened collectively through
 * HDF5's MPI-IO driver; every rank then reads only the rows it needs, a window at a time, in
 * file order (rows sorted, adjacent rows merged). When both datasets are stored unfiltered in
 * the type we read (contiguous, or chunks of whole rows), rows are read at the file addresses
 * HDF5 reports: by default with pread() on a reader thread per file (independent, overlapping
 * the training thread's compute), or, with [data] collective_reads = true, with a two-phase
 * collective MPI_File_iread_all over an hindexed file view. Otherwise (compression, a type
 * conversion, or NNTRAIN_HDF5_READS set) rows go through independent H5Dread calls. */
#ifndef NT_DATASET_H
#define NT_DATASET_H
#include "comm.h"
#include "util.h"
#include <hdf5.h>
#include <pthread.h>
#include <stdint.h>

/* Where row r of a dataset lives in the file, when it can be addressed directly: unfiltered
 * chunks spanning full rows (or contiguous storage), in the type we read into. */
typedef struct {
    int64_t row_bytes, chunk_rows; /* chunk_rows = n for contiguous storage */
    int64_t nchunks;
    haddr_t *chunk_addr;           /* file address of chunk k (rows k*chunk_rows ...) */
} nt_rowmap;

struct nt_window_s;

/* The reader thread of a file: reads queued windows with pread() at the rows' file addresses
 * while the training thread computes. It makes no MPI calls. */
typedef struct {
    int started, quit;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* queue changed / a window finished */
    struct nt_window_s *q[4];
    int head, len;
} nt_reader;

typedef struct nt_data_s {
    char path[4096];
    int direct;          /* rows are read at the addresses HDF5 reported (pread or MPI-IO) */
    int collective;      /* MPI_File_iread_all (two-phase) instead of the reader thread */
    int fd;              /* POSIX descriptor for independent reads (-1 when not direct) */
    nt_reader rd;
    MPI_File fh[6];      /* per handle slot (0, 1: read-ahead; 2: blocking reads): one handle
                          * for /X, one for /y (a pending read pins its handle's view) */
    nt_rowmap mx, my;
    MPI_Aint *disp;      /* scratch for file views (grown on demand, outside the step) */
    int *blen;
    int64_t disp_cap;
    hid_t file, dx, dy, xfer, xfer_coll; /* row reads independent, label scan collective */
    int64_t n, d;
    int x_u8;        /* stored as bytes: read as uint8, converted with scale on gather */
    int y_float;     /* regression: /y is float (N, k); else integer labels (N), k = 1 */
    int64_t k;
    float scale;     /* 1 when there is no scale attribute */
    float *mean, *std; /* per-feature standardisation (/X attributes mean, std), or NULL:
                        * features are (stored * scale - mean) / std */
} nt_data;

/* Collective: open and read the metadata; checks the layout (datasets/layout.h). Returns 0 on
 * every rank, or non-zero on every rank: -1 where this rank failed (e says why), 1 where
 * another rank did (e untouched); pass the status to nt_agree (-1 as a failure, 1 as 0) so
 * the failing rank's message is the one printed. */
int nt_data_open(nt_data *ds, const char *path, comm_t *c, nt_err *e);
void nt_data_close(nt_data *ds);

/* Collective: check that every label is in [0, k) (classification files only). Each rank scans a contiguous slice of /y;
 * the error names the file, the first bad row and its value. Returns this rank's status. */
int nt_data_check_labels(nt_data *ds, comm_t *c, int k, nt_err *e);

/* A window: rows of the file held in memory in their stored type, plus where each requested
 * row landed. Buffers are allocated once for a maximum row count. */
typedef struct nt_window_s {
    int64_t cap, count;
    int64_t *order;      /* sorted file rows (cap) */
    int64_t *slot;       /* request i is at buffer row slot[i] (cap) */
    int64_t *tmp;        /* scratch for sorting (2*cap) */
    void *x;             /* cap * d, uint8 or float */
    void *y;             /* cap * k: int32 labels or float targets */
    int pending, fslot;  /* a started non-blocking read (1 MPI-IO on handle slot fslot, 2 the
                          * reader thread) */
    int done, rerr;      /* reader thread: finished (under rd.mu), errno of a failed read */
    int64_t rbad;        /* the file row whose read failed */
    MPI_Request req[2];
    MPI_Datatype ft[2];
} nt_window;

int nt_window_alloc(nt_window *w, const nt_data *ds, int64_t cap, nt_err *e);
void nt_window_free(nt_window *w);

/* Collective (all ranks call it equally often; count may differ and be 0): read the file rows
 * rows[0..count) (any order, distinct) into w. */
int nt_window_read(nt_window *w, nt_data *ds, const int64_t *rows, int64_t count, nt_err *e);
/* The same in two halves, for read-ahead: start a non-blocking read (by default queued to the
 * file's reader thread; with ds->collective an MPI-IO iread_all on file-handle slot 0 or 1;
 * the HDF5 fallback path reads at once), then finish (wait). At most one pending read per
 * slot; both calls are collective. nt_window_read uses slot 2 (and reads on the calling
 * thread), so it may run while read-ahead on slots 0 and 1 is pending. */
int nt_window_start(nt_window *w, nt_data *ds, const int64_t *rows, int64_t count, int slot,
                    nt_err *e);
int nt_window_finish(nt_window *w, nt_data *ds, nt_err *e);

/* Copy requests [first, first+count) of the window into x (count, d) as float (scaled, and
 * standardised when the file says so) and
 * their labels into labels (classification) or targets into targets (count, k). Returns -1,
 * or the index (within the copied rows) of the first row holding a NaN/Inf feature or
 * target; then *col is its column (targets: -1 - target index). */
int64_t nt_window_gather(const nt_window *w, const nt_data *ds, int64_t first, int64_t count,
                         float *x, int32_t *labels, float *targets, int64_t *col);
/* The error for a non-finite value found by nt_window_gather at request `req` of the window,
 * column col as it returned: "FILE: /X[row, col] is not finite (NaN or Inf); ...". Returns -1. */
int nt_window_nonfinite(nt_err *e, const nt_window *w, const nt_data *ds, int64_t req, int64_t col);
/* The file row of request i of the window. */
static inline int64_t nt_window_row(const nt_window *w, int64_t i) { return w->order[w->slot[i]]; }

#endif
