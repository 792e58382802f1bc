/* Parallel HDF5 dataset reader: metadata, label validation, windowed row reads (a pread
 * reader thread, collective MPI-IO, or independent H5Dread; see dataset.h). */
#include "dataset.h"
#include "simd.h"
#include "check.h"
#include "layout.h"
#include "sampler.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static herr_t silence(hid_t stack, void *data) { (void)stack; (void)data; return 0; }

/* Learn where rows live, through HDF5's layout API. Returns 0 when direct reads are possible
 * (sets *rm), 1 when the dataset needs the HDF5 path, -1 on error. */
static int rowmap_build(hid_t dset, int64_t n, int64_t row_bytes, hid_t mem_type, nt_rowmap *rm)
{
    int rc = 1;
    hid_t dcpl = H5Dget_create_plist(dset), ft = H5Dget_type(dset);
    memset(rm, 0, sizeof *rm);
    if (dcpl < 0 || ft < 0) { rc = -1; goto done; }
    htri_t same = H5Tequal(ft, mem_type);
    if (same < 0) { rc = -1; goto done; }
    if (!same) goto done; /* needs conversion: let HDF5 do it */
    rm->row_bytes = row_bytes;
    H5D_layout_t lay = H5Pget_layout(dcpl);
    if (lay < 0) { rc = -1; goto done; }
    if (lay == H5D_CONTIGUOUS) {
        haddr_t a = H5Dget_offset(dset);
        if (a == HADDR_UNDEF) goto done;
        rm->chunk_rows = n;
        rm->nchunks = 1;
        rm->chunk_addr = malloc(sizeof(haddr_t));
        if (!rm->chunk_addr) { rc = -1; goto done; }
        rm->chunk_addr[0] = a;
        rc = 0;
    } else if (lay == H5D_CHUNKED) {
        hsize_t cd[2] = {0, 0}, ns = 0;
        int nd = H5Pget_chunk(dcpl, 2, cd), nf = H5Pget_nfilters(dcpl);
        if (nd < 0 || nf < 0) { rc = -1; goto done; }
        if (nf != 0 || nd < 1) goto done;
        if (nd == 2) {
            hid_t sp = H5Dget_space(dset);
            hsize_t dims[2] = {0, 0};
            /* /X is 2-D here (nt_data_open checked it); /y may be 1-D, then nd == 1 */
            int bad = sp < 0 || H5Sget_simple_extent_ndims(sp) != 2 ||
                      H5Sget_simple_extent_dims(sp, dims, NULL) < 0;
            if (sp >= 0 && H5Sclose(sp) < 0) bad = 1;
            if (bad) { rc = -1; goto done; }
            if (cd[1] != dims[1]) goto done; /* chunks must hold whole rows */
        }
        rm->chunk_rows = (int64_t)cd[0];
        rm->nchunks = (n + rm->chunk_rows - 1) / rm->chunk_rows;
        /* 1.10.8 rejects H5S_ALL here: pass the dataset's own dataspace */
        hid_t all = H5Dget_space(dset);
        if (all < 0) { rc = -1; goto done; }
        herr_t q = H5Dget_num_chunks(dset, all, &ns);
        if (q < 0 || (int64_t)ns != rm->nchunks) {
            (void)H5Sclose(all); /* leaving for the HDF5 path (or an error) anyway */
            goto done;
        }
        rm->chunk_addr = malloc(sizeof(haddr_t) * (size_t)rm->nchunks);
        if (!rm->chunk_addr) { (void)H5Sclose(all); rc = -1; goto done; } /* error path */
        for (int64_t k = 0; k < rm->nchunks; k++) rm->chunk_addr[k] = HADDR_UNDEF;
        for (hsize_t i = 0; i < ns; i++) {
            hsize_t off[2] = {0, 0}, size = 0;
            unsigned mask = 0;
            haddr_t addr;
            int64_t k = -1;
            if (H5Dget_chunk_info(dset, all, i, off, &mask, &addr, &size) >= 0)
                k = (int64_t)off[0] / rm->chunk_rows;
            if (k < 0 || k >= rm->nchunks || mask != 0) {
                (void)H5Sclose(all); /* leaving for the HDF5 path anyway */
                goto done;
            }
            rm->chunk_addr[k] = addr;
        }
        if (H5Sclose(all) < 0) { rc = -1; goto done; }
        for (int64_t k = 0; k < rm->nchunks; k++)
            if (rm->chunk_addr[k] == HADDR_UNDEF) goto done;
        rc = 0;
    }
done:
    if (dcpl >= 0 && H5Pclose(dcpl) < 0) rc = -1;
    if (ft >= 0 && H5Tclose(ft) < 0) rc = -1;
    if (rc != 0) { free(rm->chunk_addr); rm->chunk_addr = NULL; }
    return rc;
}

static inline MPI_Aint row_addr(const nt_rowmap *rm, int64_t r)
{
    return (MPI_Aint)(rm->chunk_addr[r / rm->chunk_rows] +
                      (haddr_t)((r % rm->chunk_rows) * rm->row_bytes));
}

/* Collective: start reading rows[0..count) (sorted) of one dataset into buf through an
 * hindexed view on handle fh (MPI_File_iread_all). *ft is freed by the finisher. */
static int read_direct_start(nt_data *ds, const nt_rowmap *rm, MPI_File fh, const int64_t *rows,
                             int64_t count, void *buf, MPI_Request *req, MPI_Datatype *ft)
{
    int64_t nb = 0;
    for (int64_t i = 0; i < count; i++) {
        MPI_Aint a = row_addr(rm, rows[i]);
        /* merge rows adjacent in the file into one block (bounded to stay an int) */
        if (nb > 0 && ds->disp[nb - 1] + ds->blen[nb - 1] == a &&
            ds->blen[nb - 1] <= (1 << 30) - rm->row_bytes) {
            ds->blen[nb - 1] += (int)rm->row_bytes;
        } else {
            if (nb > 0 && a < ds->disp[nb - 1]) return -1; /* views must be monotone */
            ds->disp[nb] = a;
            ds->blen[nb] = (int)rm->row_bytes;
            nb++;
        }
    }
    int64_t total = count * rm->row_bytes;
    if (total > INT32_MAX) return -1; /* windows are sized far below this (cache_mb) */
    int rc = MPI_Type_create_hindexed((int)nb, ds->blen, ds->disp, MPI_BYTE, ft);
    if (rc == MPI_SUCCESS) rc = MPI_Type_commit(ft);
    if (rc != MPI_SUCCESS) return -1;
    rc = MPI_File_set_view(fh, 0, MPI_BYTE, *ft, "native", MPI_INFO_NULL); /* collective */
    if (rc == MPI_SUCCESS)
        /* collective two-phase I/O ([data] collective_reads = true); independent reads go
         * through the reader thread instead (see nt_window_start) */
        rc = MPI_File_iread_all(fh, buf, (int)total, MPI_BYTE, req); /* collective */
    return rc == MPI_SUCCESS ? 0 : -1;
}

/* pread rows[0..count) (sorted) of one dataset into buf, merging rows adjacent in the file
 * into one call. Returns 0, or errno (EIO for a short read) with *bad = the failing row. */
static int pread_rows(int fd, const nt_rowmap *rm, const int64_t *rows, int64_t count, char *buf,
                      int64_t *bad)
{
    for (int64_t i = 0; i < count;) {
        int64_t j = i + 1;
        off_t a = (off_t)row_addr(rm, rows[i]);
        while (j < count && (off_t)row_addr(rm, rows[j]) == a + (off_t)((j - i) * rm->row_bytes)) j++;
        size_t len = (size_t)((j - i) * rm->row_bytes), got = 0;
        char *dst = buf + (size_t)i * (size_t)rm->row_bytes;
        while (got < len) {
            ssize_t r = pread(fd, dst + got, len - got, a + (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) { *bad = rows[i]; return r < 0 ? errno : EIO; }
            got += (size_t)r;
        }
        i = j;
    }
    return 0;
}

static void read_window_posix(nt_data *ds, nt_window *w)
{
    w->rerr = pread_rows(ds->fd, &ds->mx, w->order, w->count, w->x, &w->rbad);
    if (!w->rerr) w->rerr = pread_rows(ds->fd, &ds->my, w->order, w->count, w->y, &w->rbad);
}

static void *reader_main(void *arg)
{
    nt_data *ds = arg;
    nt_reader *rd = &ds->rd;
    pthread_mutex_lock(&rd->mu);
    for (;;) {
        while (!rd->len && !rd->quit) pthread_cond_wait(&rd->cv, &rd->mu);
        if (!rd->len) break; /* quit, and nothing left to read */
        nt_window *w = rd->q[rd->head];
        rd->head = (rd->head + 1) % 4;
        rd->len--;
        pthread_mutex_unlock(&rd->mu);
        read_window_posix(ds, w);
        pthread_mutex_lock(&rd->mu);
        w->done = 1;
        pthread_cond_broadcast(&rd->cv);
    }
    pthread_mutex_unlock(&rd->mu);
    return NULL;
}

/* Start the reader thread with every signal blocked, so SIGTERM/SIGUSR1 reach the training
 * thread's handler and never interrupt a read. */
static int reader_start(nt_data *ds)
{
    nt_reader *rd = &ds->rd;
    if (rd->started) return 0;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_mutex_init(&rd->mu, NULL);
    pthread_cond_init(&rd->cv, NULL);
    rd->head = rd->len = rd->quit = 0;
    int rc = pthread_create(&rd->th, NULL, reader_main, ds);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_mutex_destroy(&rd->mu);
        pthread_cond_destroy(&rd->cv);
        return -1;
    }
    rd->started = 1;
    return 0;
}

static void reader_stop(nt_data *ds)
{
    nt_reader *rd = &ds->rd;
    if (!rd->started) return;
    pthread_mutex_lock(&rd->mu);
    rd->quit = 1;
    pthread_cond_broadcast(&rd->cv);
    pthread_mutex_unlock(&rd->mu);
    pthread_join(rd->th, NULL);
    pthread_mutex_destroy(&rd->mu);
    pthread_cond_destroy(&rd->cv);
    rd->started = 0;
}

/* How rows will be read (the same answer on every rank): directly at their file addresses
 * when both datasets allow it (MPI-IO handles for collective reads, a POSIX descriptor for the
 * reader thread), else through HDF5; and the transfer lists of the HDF5 path. Collective. */
static int reads_open(nt_data *ds, comm_t *c, nt_err *e)
{
    const char *path = ds->path;
    int rx = rowmap_build(ds->dx, ds->n, ds->d * (ds->x_u8 ? 1 : 4),
                          ds->x_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, &ds->mx);
    int ry = rowmap_build(ds->dy, ds->n, 4 * ds->k, ds->y_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32,
                          &ds->my);
    if (rx < 0 || ry < 0) return nt_fail(e, "%s: cannot query the storage layout", path);
    if (rx == 0 && ry == 0 && !getenv("NNTRAIN_HDF5_READS")) {
        for (int h = 0; h < 6; h++)
            if (MPI_File_open(c->comm, path, MPI_MODE_RDONLY, MPI_INFO_NULL, &ds->fh[h]) != MPI_SUCCESS) {
                nt_fail(e, "%s: MPI_File_open failed", path); /* collective */
                /* error path: the handles opened so far go; their close results change nothing */
                for (int g = 0; g < h; g++) (void)MPI_File_close(&ds->fh[g]);
                return -1;
            }
        ds->direct = 1;
        ds->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (ds->fd < 0) return nt_fail(e, "%s: cannot open for reading: %s", path, strerror(errno));
    }
    return H5_TRY(ds->xfer = H5Pcreate(H5P_DATASET_XFER), e, path) ||
                   H5_TRY(H5Pset_dxpl_mpio(ds->xfer, H5FD_MPIO_INDEPENDENT), e, path) ||
                   H5_TRY(ds->xfer_coll = H5Pcreate(H5P_DATASET_XFER), e, path) ||
                   H5_TRY(H5Pset_dxpl_mpio(ds->xfer_coll, H5FD_MPIO_COLLECTIVE), e, path)
               ? -1 : 0;
}

/* Collective: has any rank failed so far? -1 on a rank that failed (e says why), 1 on the
 * others, 0 when none did. The ranks then leave nt_data_open together, so none of them
 * waits in a collective open that another rank skipped (a file missing on one node). */
static int open_agree(comm_t *c, int rc)
{
    int first;
    int any = comm_agree(c, rc ? 1 : 0, &first);
    return rc ? -1 : any ? 1 : 0;
}

/* This rank's checks before anything collective: the file is there and is HDF5. */
static int open_check(const char *path, nt_err *e)
{
    /* we report errors ourselves, once */
    if (H5_TRY(H5Eset_auto2(H5E_DEFAULT, silence, NULL), e, path)) return -1;
    if (!nt_path_exists(path)) return nt_fail(e, "%s: no such file", path);
    if (H5Fis_hdf5(path) <= 0) return nt_fail(e, "%s: not an HDF5 file (or unreadable)", path);
    return 0;
}

/* The file-access list for MPI-IO (collective: H5Pset_fapl_mpio duplicates the communicator). */
static int open_fapl(const char *path, comm_t *c, hid_t *fapl, nt_err *e)
{
    return H5_TRY(*fapl = H5Pcreate(H5P_FILE_ACCESS), e, path) ||
                   H5_TRY(H5Pset_fapl_mpio(*fapl, c->comm, MPI_INFO_NULL), e, path) ||
                   /* metadata reads: one rank reads, all get it */
                   H5_TRY(H5Pset_all_coll_metadata_ops(*fapl, 1), e, path)
               ? -1 : 0;
}

/* The layout checks shared with nndata (datasets/layout.h); ds takes over the datasets and
 * the mean / std arrays (freed by nt_data_close). */
static int open_layout(nt_data *ds, nt_err *e)
{
    layout_info L;
    if (layout_read(ds->file, ds->path, 0, &L, e)) return -1;
    ds->dx = L.x;
    ds->dy = L.y;
    ds->n = L.n;
    ds->d = L.d;
    ds->x_u8 = L.x_u8;
    ds->y_float = L.targets;
    ds->k = L.targets ? L.k : 1;
    ds->scale = (float)L.scale;
    ds->mean = L.mean;
    ds->std = L.std;
    return 0;
}

int nt_data_open(nt_data *ds, const char *path, comm_t *c, nt_err *e)
{
    memset(ds, 0, sizeof *ds);
    ds->fd = -1;
    ds->file = ds->dx = ds->dy = ds->xfer = ds->xfer_coll = H5I_INVALID_HID;
    snprintf(ds->path, sizeof ds->path, "%s", path);
    hid_t fapl = H5I_INVALID_HID;
    /* every collective step below is entered by all ranks or by none */
    int rc = open_agree(c, open_check(path, e));
    if (!rc) rc = open_agree(c, open_fapl(path, c, &fapl, e));
    if (!rc) {
        ds->file = H5Fopen(path, H5F_ACC_RDONLY, fapl); /* collective */
        rc = open_agree(c, ds->file < 0 ? nt_fail(e, "%s: cannot open as HDF5", path) : 0);
    }
    if (!rc) rc = open_agree(c, open_layout(ds, e));
    if (!rc) rc = open_agree(c, reads_open(ds, c, e)); /* collective MPI_File_open */
    /* after a failure e holds its message, which H5_TRY keeps */
    if (fapl >= 0 && H5_TRY(H5Pclose(fapl), e, path) && !rc) rc = -1;
    if (rc) nt_data_close(ds); /* every rank, together */
    return rc;
}

/* Clean-up: every read is complete (or abandoned) when this runs, so a failing close changes
 * nothing the caller could act on; the results are ignored on purpose. */
void nt_data_close(nt_data *ds)
{
    reader_stop(ds);
    if (ds->fd >= 0) (void)close(ds->fd);
    ds->fd = -1;
    if (ds->direct)
        for (int h = 0; h < 6; h++) (void)MPI_File_close(&ds->fh[h]); /* collective */
    ds->direct = 0;
    free(ds->mx.chunk_addr); free(ds->my.chunk_addr); free(ds->disp); free(ds->blen);
    free(ds->mean); free(ds->std);
    ds->mean = ds->std = NULL;
    ds->mx.chunk_addr = ds->my.chunk_addr = NULL;
    ds->disp = NULL; ds->blen = NULL; ds->disp_cap = 0;
    if (ds->xfer >= 0) (void)H5Pclose(ds->xfer);
    if (ds->xfer_coll >= 0) (void)H5Pclose(ds->xfer_coll);
    if (ds->dx >= 0) (void)H5Dclose(ds->dx);
    if (ds->dy >= 0) (void)H5Dclose(ds->dy);
    if (ds->file >= 0) (void)H5Fclose(ds->file); /* collective */
    ds->file = ds->dx = ds->dy = ds->xfer = ds->xfer_coll = H5I_INVALID_HID;
}

/* Select rows[0..count) (sorted, distinct) of a (N[,D]) dataspace, merging runs. */
static int select_rows(hid_t space, const int64_t *rows, int64_t count, int64_t d)
{
    if (count == 0) return H5Sselect_none(space) < 0 ? -1 : 0;
    int first = 1;
    for (int64_t i = 0; i < count;) {
        int64_t j = i + 1;
        while (j < count && rows[j] == rows[j - 1] + 1) j++;
        hsize_t start[2] = {(hsize_t)rows[i], 0}, cnt[2] = {(hsize_t)(j - i), (hsize_t)d};
        if (H5Sselect_hyperslab(space, first ? H5S_SELECT_SET : H5S_SELECT_OR, start, NULL, cnt,
                                NULL) < 0)
            return -1;
        first = 0;
        i = j;
    }
    return 0;
}

/* Runs of consecutive rows per H5Dread. HDF5 1.10's cost of building an OR'ed hyperslab
 * selection grows quadratically with the number of runs (27k rows: 7.5 s), so a window is
 * read in pieces whose selections stay small (32 runs: ~20 us to build). */
#define RUNS_PER_READ 32

/* Independent read of the sorted rows into xbuf/ybuf (contiguous, in sorted order). Not
 * collective: ranks read different numbers of pieces. */
static int read_sorted(nt_data *ds, const int64_t *rows, int64_t count, void *xbuf,
                       void *ybuf, nt_err *e)
{
    int rc = 0;
    const size_t elem = ds->x_u8 ? 1 : sizeof(float);
    hid_t fx = H5Dget_space(ds->dx), fy = H5Dget_space(ds->dy);
    if (fx < 0 || fy < 0) rc = -1;
    for (int64_t i = 0; i < count && !rc;) {
        /* the piece: rows[i..j) spanning at most RUNS_PER_READ runs */
        int64_t j = i + 1;
        for (int runs = 1; j < count; j++) {
            if (rows[j] != rows[j - 1] + 1 && ++runs > RUNS_PER_READ) break;
        }
        hsize_t mx[2] = {(hsize_t)(j - i), (hsize_t)ds->d}, my[2] = {mx[0], (hsize_t)ds->k};
        hid_t mxs = H5Screate_simple(2, mx, NULL), mys = H5Screate_simple(ds->y_float ? 2 : 1, my, NULL);
        if (mxs < 0 || mys < 0 || select_rows(fx, rows + i, j - i, ds->d) ||
            select_rows(fy, rows + i, j - i, ds->k) ||
            H5Dread(ds->dx, ds->x_u8 ? H5T_NATIVE_UINT8 : H5T_NATIVE_FLOAT, mxs, fx, ds->xfer,
                    (char *)xbuf + (size_t)i * ds->d * elem) < 0 ||
            H5Dread(ds->dy, ds->y_float ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32, mys, fy, ds->xfer,
                    (char *)ybuf + (size_t)i * ds->k * 4) < 0)
            rc = -1;
        if (mxs >= 0 && H5Sclose(mxs) < 0) rc = -1;
        if (mys >= 0 && H5Sclose(mys) < 0) rc = -1;
        i = j;
    }
    if (fx >= 0 && H5Sclose(fx) < 0) rc = -1;
    if (fy >= 0 && H5Sclose(fy) < 0) rc = -1;
    if (rc) nt_fail(e, "%s: read of %lld rows failed", ds->path, (long long)count);
    return rc;
}

int nt_data_check_labels(nt_data *ds, comm_t *c, int k, nt_err *e)
{
    /* a contiguous slice per rank, read in pieces so memory stays bounded */
    int64_t lo, hi;
    nn_shard(ds->n, ds->n, c->size, c->rank, 0, &lo, &hi);
    const int64_t piece = 1 << 20;
    int64_t most = (ds->n + c->size - 1) / c->size;
    int64_t rounds = (most + piece - 1) / piece;
    int32_t *y = malloc(sizeof(int32_t) * (size_t)(piece < most ? piece : (most ? most : 1)));
    int status = y ? 0 : nt_fail(e, "out of memory");
    for (int64_t r = 0; r < rounds; r++) {
        int64_t a = lo + r * piece, b = a + piece < hi ? a + piece : hi;
        int64_t cnt = b > a ? b - a : 0;
        if (status) cnt = 0; /* keep taking part in the collective reads */
        hsize_t my = (hsize_t)(cnt ? cnt : 1), start = (hsize_t)a, count = (hsize_t)cnt;
        hid_t fy = H5Dget_space(ds->dy), mys = H5Screate_simple(1, &my, NULL);
        herr_t st = fy < 0 || mys < 0 ? -1
                    : cnt ? H5Sselect_hyperslab(fy, H5S_SELECT_SET, &start, NULL, &count, NULL)
                          : (H5Sselect_none(fy) < 0 || H5Sselect_none(mys) < 0 ? -1 : 0);
        if (st < 0 && fy >= 0 && mys >= 0) {
            /* keep the collective read in step, asking for nothing (best effort) */
            (void)H5Sselect_none(fy);
            (void)H5Sselect_none(mys);
        }
        if (fy >= 0 && mys >= 0 &&
            H5Dread(ds->dy, H5T_NATIVE_INT32, mys, fy, ds->xfer_coll, y) < 0) /* collective */
            st = -1;
        if (fy >= 0 && H5Sclose(fy) < 0) st = -1;
        if (mys >= 0 && H5Sclose(mys) < 0) st = -1;
        if (st < 0 && !status) status = nt_fail(e, "%s: cannot read /y", ds->path);
        for (int64_t i = 0; i < cnt && !status; i++)
            if (y[i] < 0 || y[i] >= k)
                status = nt_fail(e, "%s: /y[%lld] = %d is outside 0..%d (the model has %d outputs)",
                                 ds->path, (long long)(a + i), y[i], k - 1, k);
    }
    free(y);
    return status ? NT_EXIT_INPUT : 0;
}

int nt_window_alloc(nt_window *w, const nt_data *ds, int64_t cap, nt_err *e)
{
    memset(w, 0, sizeof *w);
    if (cap < 1) cap = 1;
    w->cap = cap;
    size_t elem = ds->x_u8 ? 1 : sizeof(float);
    w->order = malloc(sizeof(int64_t) * (size_t)cap);
    w->slot = malloc(sizeof(int64_t) * (size_t)cap);
    w->tmp = malloc(sizeof(int64_t) * 2 * (size_t)cap);
    w->x = malloc(elem * (size_t)cap * (size_t)ds->d);
    w->y = malloc(4 * (size_t)cap * (size_t)ds->k); /* int32 or float */
    if (cap > ds->disp_cap) { /* view scratch sized for the largest window of this file */
        nt_data *mds = (nt_data *)ds;
        free(mds->disp); free(mds->blen);
        mds->disp = malloc(sizeof(MPI_Aint) * (size_t)cap);
        mds->blen = malloc(sizeof(int) * (size_t)cap);
        mds->disp_cap = mds->disp && mds->blen ? cap : 0;
    }
    if (!w->order || !w->slot || !w->tmp || !w->x || !w->y || ds->disp_cap < cap) {
        nt_window_free(w);
        return nt_fail(e, "out of memory allocating a %lld-row read window for %s",
                       (long long)cap, ds->path);
    }
    return 0;
}

void nt_window_free(nt_window *w)
{
    free(w->order); free(w->slot); free(w->tmp); free(w->x); free(w->y);
    memset(w, 0, sizeof *w);
}

static int cmp_pair(const void *a, const void *b)
{
    int64_t x = ((const int64_t *)a)[0], y = ((const int64_t *)b)[0];
    return (x > y) - (x < y);
}

int nt_window_start(nt_window *w, nt_data *ds, const int64_t *rows, int64_t count, int slot,
                    nt_err *e)
{
    if (count > w->cap) /* the caller sized the window; exceeding it is a bug, never data */
        return nt_fail(e, "%s: internal error: %lld rows requested from a %lld-row window",
                       ds->path, (long long)count, (long long)w->cap);
    /* sort (row, request index) pairs so the file is read front to back */
    for (int64_t i = 0; i < count; i++) {
        w->tmp[2 * i] = rows[i];
        w->tmp[2 * i + 1] = i;
    }
    qsort(w->tmp, (size_t)count, 2 * sizeof(int64_t), cmp_pair);
    for (int64_t i = 0; i < count; i++) {
        w->order[i] = w->tmp[2 * i];
        w->slot[w->tmp[2 * i + 1]] = i;
    }
    w->count = count;
    if (!ds->direct) return read_sorted(ds, w->order, count, w->x, w->y, e);
    if (!ds->collective) { /* independent: pread on this thread (slot 2) or the reader's */
        w->done = 0;
        w->rerr = 0;
        int level = MPI_THREAD_SINGLE;
        /* if even this query fails, read on this thread: always safe */
        if (comm_thread_level(&level) != MPI_SUCCESS) level = MPI_THREAD_SINGLE;
        /* a thread besides the MPI-calling one needs at least FUNNELED (nntrain asks for it) */
        if (slot == 2 || level < MPI_THREAD_FUNNELED || reader_start(ds)) { /* read now */
            read_window_posix(ds, w);
            w->done = 1;
        } else {
            nt_reader *rd = &ds->rd;
            pthread_mutex_lock(&rd->mu);
            if (rd->len == 4) { /* cannot happen: at most two read-aheads are pending */
                pthread_mutex_unlock(&rd->mu);
                read_window_posix(ds, w);
                w->done = 1;
            } else {
                rd->q[(rd->head + rd->len) % 4] = w;
                rd->len++;
                pthread_cond_broadcast(&rd->cv);
                pthread_mutex_unlock(&rd->mu);
            }
        }
        w->pending = 2;
        return 0;
    }
    w->fslot = slot;
    w->req[0] = w->req[1] = MPI_REQUEST_NULL;
    w->ft[0] = w->ft[1] = MPI_DATATYPE_NULL;
    int rc = read_direct_start(ds, &ds->mx, ds->fh[2 * slot], w->order, count, w->x, &w->req[0], &w->ft[0]);
    if (!rc)
        rc = read_direct_start(ds, &ds->my, ds->fh[2 * slot + 1], w->order, count, w->y, &w->req[1], &w->ft[1]);
    w->pending = 1; /* MPI-IO */
    if (rc) nt_fail(e, "%s: MPI-IO read of %lld rows failed to start", ds->path, (long long)count);
    return rc;
}

int nt_window_finish(nt_window *w, nt_data *ds, nt_err *e)
{
    if (!w->pending) return 0;
    if (w->pending == 2) {
        if (ds->rd.started) {
            pthread_mutex_lock(&ds->rd.mu);
            while (!w->done) pthread_cond_wait(&ds->rd.cv, &ds->rd.mu);
            pthread_mutex_unlock(&ds->rd.mu);
        }
        w->pending = 0;
        if (w->rerr)
            return nt_fail(e, "%s: read of row %lld failed: %s", ds->path, (long long)w->rbad,
                           strerror(w->rerr));
        return 0;
    }
    MPI_Status st[2];
    int rc = MPI_Waitall(2, w->req, st) == MPI_SUCCESS ? 0 : -1;
    if (rc) nt_fail(e, "%s: MPI-IO read of %lld rows failed", ds->path, (long long)w->count);
    for (int i = 0; i < 2; i++)
        if (w->ft[i] != MPI_DATATYPE_NULL && MPI_TRY(MPI_Type_free(&w->ft[i]), e, ds->path)) rc = -1;
    w->pending = 0;
    return rc;
}

int nt_window_read(nt_window *w, nt_data *ds, const int64_t *rows, int64_t count, nt_err *e)
{
    int rc = nt_window_start(w, ds, rows, count, 2, e);
    int rc2 = nt_window_finish(w, ds, e); /* also after a failed start: keep ranks in step */
    return rc ? rc : rc2;
}

/* x = (x - mean) / std, in float as numpy/torch would compute it. */
static void standardise(float *x, const float *mean, const float *std, int64_t d)
{
    for (int64_t j = 0; j < d; j++) x[j] = (x[j] - mean[j]) / std[j];
}

NN_SIMD int64_t nt_window_gather(const nt_window *w, const nt_data *ds, int64_t first, int64_t count,
                         float *x, int32_t *labels, float *targets, int64_t *col)
{
    const int64_t d = ds->d, k = ds->k;
    int64_t bad = -1;
    for (int64_t i = 0; i < count; i++) {
        int64_t s = w->slot[first + i];
        float *dst = x + i * d;
        if (ds->x_u8) { /* bytes are always finite */
            const uint8_t *src = (const uint8_t *)w->x + s * d;
            const float sc = ds->scale;
            for (int64_t j = 0; j < d; j++) dst[j] = src[j] * sc;
            if (ds->mean) standardise(dst, ds->mean, ds->std, d);
        } else {
            const float *src = (const float *)w->x + s * d;
            float acc = 0; /* NaN/Inf anywhere makes the sum non-finite: one test per row */
            if (ds->scale == 1) memcpy(dst, src, sizeof(float) * (size_t)d);
            else for (int64_t j = 0; j < d; j++) dst[j] = src[j] * ds->scale;
            for (int64_t j = 0; j < d; j++) acc += dst[j] * 0.0f;
            if (ds->mean) standardise(dst, ds->mean, ds->std, d); /* keeps NaN/Inf non-finite */
            if (acc != 0 && bad < 0) { /* x * 0 is 0 for finite x, NaN otherwise */
                bad = i;
                for (int64_t j = 0; j < d; j++)
                    if (!isfinite(dst[j])) { *col = j; break; }
            }
        }
        if (ds->y_float) {
            const float *t = (const float *)w->y + s * k;
            memcpy(targets + i * k, t, sizeof(float) * (size_t)k);
            for (int64_t j = 0; j < k && bad < 0; j++)
                if (!isfinite(t[j])) { bad = i; *col = -1 - j; }
        } else {
            labels[i] = ((const int32_t *)w->y)[s];
        }
    }
    return bad;
}

int nt_window_nonfinite(nt_err *e, const nt_window *w, const nt_data *ds, int64_t req, int64_t col)
{
    return nt_fail(e, "%s: /%s[%lld, %lld] is not finite (NaN or Inf); check the file with nndata "
                   "check", ds->path, col >= 0 ? "X" : "y", (long long)nt_window_row(w, req),
                   (long long)(col >= 0 ? col : -1 - col));
}
