/* Collective checkpoint write/read in parallel HDF5 (see ckpt.h for the layout). */
#include "ckpt.h"
#include "modelio.h"
#include "check.h"
#include "sampler.h"
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static int attr_i64(hid_t obj, const char *name, int64_t v, const char *path, nt_err *e)
{
    return nt_h5_attr_num(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, path, e);
}

static int attr_f64(hid_t obj, const char *name, double v, const char *path, nt_err *e)
{
    return nt_h5_attr_num(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, path, e);
}

/* one value only (a damaged file's array of them would overrun v) */
static int read_attr(hid_t obj, const char *name, hid_t type, void *v, const char *path, nt_err *e)
{
    return nt_h5_read_attr1(obj, name, type, v, path, e);
}

/* ---- checksums: a CRC-32 (zlib) of every array, attribute "crc32" on its dataset ----------
 * Computed from the memory buffer handed to H5Dwrite (float32/float64 little-endian, as in the
 * file) and, on load, from the buffer H5Dread filled. */
static uint32_t crc_of(const void *buf, size_t bytes)
{
    uLong v = crc32(0L, Z_NULL, 0);
    const unsigned char *p = buf;
    while (bytes > 0) { /* zlib takes uInt lengths */
        uInt k = bytes > (1u << 30) ? (1u << 30) : (uInt)bytes;
        v = crc32(v, p, k);
        p += k;
        bytes -= k;
    }
    return (uint32_t)v;
}

/* Attaches crc32 = v to dataset dset of f. Collective (every rank passes the same v). */
static int crc_write(hid_t f, const char *dset, uint32_t v, const char *path, nt_err *e)
{
    hid_t d;
    if (H5_TRY(d = H5Dopen2(f, dset, H5P_DEFAULT), e, path)) return -1;
    int st = nt_h5_attr_num(d, "crc32", H5T_STD_U32LE, H5T_NATIVE_UINT32, &v, path, e);
    st |= H5_TRY(H5Dclose(d), e, path);
    return st;
}

/* Checks the bytes read from dataset dset against its crc32 attribute. A checkpoint of format
 * 2 or later must have it (required != 0); format 1 predates checksums. */
static int crc_check_value(hid_t f, const char *dset, uint32_t now, int required,
                           const char *path, nt_err *e)
{
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    if (d < 0) return nt_fail(e, "%s: %s is missing", path, dset);
    uint32_t stored = 0;
    int have = H5Aexists(d, "crc32") > 0, st = 0;
    if (have) st = read_attr(d, "crc32", H5T_NATIVE_UINT32, &stored, path, e);
    else if (required) st = nt_fail(e, "%s: %s has no checksum (crc32): the file is damaged", path, dset);
    H5Dclose(d);
    if (st || !have) return st;
    if (now != stored)
        return nt_fail(e, "%s: %s fails its checksum (crc32 %08x stored, %08x read): the file "
                       "is damaged", path, dset, (unsigned)stored, (unsigned)now);
    return 0;
}

static int crc_check(hid_t f, const char *dset, const void *buf, size_t bytes, int required,
                     const char *path, nt_err *e)
{
    return crc_check_value(f, dset, crc_of(buf, bytes), required, path, e);
}

/* The CRC-32 of /optimizer/state (slots, total) as stored, on every rank. Without ZeRO-1 every
 * rank holds all of it; with it each rank holds columns [off, off + n) of every slot, so the
 * pieces' CRCs are gathered and combined in file order (crc32_combine: row by row, rank by
 * rank). Collective when sliced. *crc is 0 and MPI's code returned when the gather fails. */
static int state_crc(const nn_optim *o, comm_t *c, uint32_t *crc)
{
    *crc = 0;
    if (!o->sliced || c->size == 1) {
        *crc = crc_of(o->state, sizeof(float) * (size_t)o->nslots * o->n);
        return MPI_SUCCESS;
    }
    enum { MAXS = 8 };
    uint64_t mine[MAXS] = {0}, *all = malloc(sizeof mine * (size_t)c->size);
    if (!all) return MPI_ERR_NO_MEM;
    for (int k = 0; k < o->nslots && k < MAXS; k++)
        mine[k] = crc_of(o->state + (size_t)k * o->n, sizeof(float) * o->n) |
                  (uint64_t)o->n << 32; /* the piece's length in floats (< 2^31) */
    int rc = comm_allgather_bytes(c, mine, sizeof mine, all);
    if (rc == MPI_SUCCESS) {
        uLong v = crc32(0L, Z_NULL, 0);
        for (int k = 0; k < o->nslots && k < MAXS; k++)
            for (int r = 0; r < c->size; r++) {
                const uint64_t p = all[(size_t)r * MAXS + k];
                v = crc32_combine(v, (uLong)(p & 0xffffffffu), (z_off_t)(4 * (p >> 32)));
            }
        *crc = (uint32_t)v;
    }
    free(all);
    return rc;
}

/* The model's layers: /model/layer{l}/weight and bias. */
static int model_crcs(hid_t f, const nn_model *m, int check, int required, const char *path, nt_err *e)
{
    int st = 0;
    for (int l = 0; l < m->nlayers && !st; l++) {
        const nn_layer *L = &m->layers[l];
        char name[64];
        size_t nw = sizeof(float) * (size_t)L->in * L->out;
        snprintf(name, sizeof name, "/model/layer%d/weight", l);
        st = check ? crc_check(f, name, m->params + L->w_off, nw, required, path, e)
                   : crc_write(f, name, crc_of(m->params + L->w_off, nw), path, e);
        if (st || !L->has_bias) continue;
        snprintf(name, sizeof name, "/model/layer%d/bias", l);
        size_t nb = sizeof(float) * (size_t)L->out;
        st = check ? crc_check(f, name, m->params + L->b_off, nb, required, path, e)
                   : crc_write(f, name, crc_of(m->params + L->b_off, nb), path, e);
    }
    return st;
}

/* At save, after every dataset is written: the CRCs of the model, the optimizer state (both
 * the same on every rank), and of /state/partial and /metrics, which rank 0 wrote (its CRCs
 * are broadcast). Collective. */
static int crcs_write(hid_t f, const nn_model *m, const nn_optim *o, const nt_ckpt_state *s,
                      uint32_t metrics_crc, comm_t *c, const char *path, nt_err *e)
{
    uint32_t r0[2] = {crc_of(s->partial, sizeof s->partial), metrics_crc};
    if (comm_bcast_bytes(c, r0, sizeof r0, 0) != MPI_SUCCESS)
        return nt_fail(e, "%s: MPI broadcast of the checksums failed", path);
    int st = model_crcs(f, m, 0, 1, path, e);
    uint32_t scrc = 0;
    if (o->nslots > 0 && state_crc(o, c, &scrc) != MPI_SUCCESS)
        st |= nt_fail(e, "%s: MPI gather of the optimizer state's checksums failed", path);
    if (o->nslots > 0) st |= crc_write(f, "/optimizer/state", scrc, path, e);
    st |= crc_write(f, "/state/partial", r0[0], path, e);
    st |= crc_write(f, "/metrics", r0[1], path, e);
    return st;
}

/* A small float64 dataset written by rank 0 only (others select nothing). Collective. */
static int small_f64(hid_t g, const char *name, const double *v, hsize_t rows, hsize_t cols,
                     comm_t *c, hid_t xfer, const char *path, nt_err *e)
{
    hsize_t d[2] = {rows, cols};
    int nd = cols ? 2 : 1;
    hid_t s = H5I_INVALID_HID, ds = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int st = H5_TRY(s = H5Screate_simple(nd, d, NULL), e, path) ||
             H5_TRY(ds = H5Dcreate2(g, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path) ||
             H5_TRY(ms = H5Screate_simple(nd, d, NULL), e, path) ? -1 : 0;
    if (!st && c->rank != 0)
        st = H5_TRY(H5Sselect_none(s), e, path) || H5_TRY(H5Sselect_none(ms), e, path) ? -1 : 0;
    /* an empty history (before the first epoch ends) is a 0-row dataset with nothing to write;
     * every rank skips the write alike */
    if (ds >= 0 && ms >= 0 && rows > 0)
        st |= H5_TRY(H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, s, xfer, v), e, path); /* collective */
    if (ds >= 0) st |= H5_TRY(H5Dclose(ds), e, path);
    if (s >= 0) st |= H5_TRY(H5Sclose(s), e, path);
    if (ms >= 0) st |= H5_TRY(H5Sclose(ms), e, path);
    return st;
}

static int cmp_step(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* Steps of the complete checkpoints in dir, ascending; returns the count (rank-local). */
static int list_ckpts(const char *dir, long long *steps, int max)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < max) {
        long long st;
        char tail[8];
        /* exactly ckpt-<digits>.h5 (never the .tmp of an interrupted write) */
        if (sscanf(de->d_name, "ckpt-%lld.h%7s", &st, tail) == 2 && !strcmp(tail, "5") && st >= 0)
            steps[n++] = st;
    }
    closedir(d);
    qsort(steps, (size_t)n, sizeof *steps, cmp_step);
    return n;
}

/* The columns [lo, hi) of /optimizer/state this rank writes or reads: its ZeRO-1 slice, or
 * (every rank holding all of it) a contiguous share for writing, everything for reading. */
static void state_cols(const nn_optim *o, const comm_t *c, int reading, int64_t *lo, int64_t *hi)
{
    if (o->sliced) {
        *lo = (int64_t)o->off, *hi = (int64_t)(o->off + o->n);
    } else if (reading) {
        *lo = 0, *hi = (int64_t)o->total;
    } else {
        nn_shard((int64_t)o->total, (int64_t)o->total, c->size, c->rank, 0, lo, hi);
    }
}

/* Selects columns [lo, hi) of every slot in the file space fs (slots, total) and the same
 * values in the memory space ms (slots, o->n: the rank's state, starting at column o->off). */
static int state_select(const nn_optim *o, hid_t fs, hid_t ms, int64_t lo, int64_t hi,
                        const char *path, nt_err *e)
{
    if (hi <= lo)
        return H5_TRY(H5Sselect_none(fs), e, path) || H5_TRY(H5Sselect_none(ms), e, path) ? -1 : 0;
    hsize_t fstart[2] = {0, (hsize_t)lo}, mstart[2] = {0, (hsize_t)(lo - (int64_t)o->off)};
    hsize_t cnt[2] = {(hsize_t)o->nslots, (hsize_t)(hi - lo)};
    return H5_TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, fstart, NULL, cnt, NULL), e, path) ||
           H5_TRY(H5Sselect_hyperslab(ms, H5S_SELECT_SET, mstart, NULL, cnt, NULL), e, path) ? -1 : 0;
}

/* /optimizer/state: every state slot as rows of one (slots, nparams) array; each rank writes a
 * contiguous block of columns (its ZeRO-1 slice, or a share of the replica). Collective. */
static int slots_write(hid_t og, const nn_optim *o, comm_t *c, hid_t xfer, const char *path,
                       nt_err *e)
{
    hsize_t d[2] = {(hsize_t)o->nslots, (hsize_t)o->total}, md[2] = {(hsize_t)o->nslots, (hsize_t)o->n};
    int64_t lo, hi;
    state_cols(o, c, 0, &lo, &hi);
    hid_t sp = H5I_INVALID_HID, ds = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int st = H5_TRY(sp = H5Screate_simple(2, d, NULL), e, path) ||
             H5_TRY(ds = H5Dcreate2(og, "state", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                                    H5P_DEFAULT), e, path) || /* collective */
             H5_TRY(ms = H5Screate_simple(2, md, NULL), e, path) ? -1 : 0;
    if (!st) st = state_select(o, sp, ms, lo, hi, path, e);
    if (ds >= 0 && ms >= 0)
        st |= H5_TRY(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, sp, xfer, o->state), e, path); /* collective */
    if (ms >= 0) st |= H5_TRY(H5Sclose(ms), e, path);
    if (ds >= 0) st |= H5_TRY(H5Dclose(ds), e, path);
    if (sp >= 0) st |= H5_TRY(H5Sclose(sp), e, path);
    return st;
}

/* /optimizer: attributes name, step, slots and the state dataset. Collective. */
static int optimizer_write(hid_t f, const nn_optim *o, comm_t *c, hid_t xfer, const char *path,
                           nt_err *e)
{
    hid_t og;
    if (H5_TRY(og = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path)) /* collective */
        return -1;
    int status = nt_h5_attr_str(og, "name", nn_opt_name(o->cfg.kind), path, e);
    status |= attr_i64(og, "step", o->step, path, e);
    status |= nt_h5_attr_int(og, "slots", o->nslots, path, e);
    if (o->nslots > 0) status |= slots_write(og, o, c, xfer, path, e);
    status |= H5_TRY(H5Gclose(og), e, path);
    return status;
}

/* /state: the counters that make resume exact. Collective. */
static int state_write(hid_t f, const nt_ckpt_state *s, const nt_config *cfg, comm_t *c, hid_t xfer,
                       const char *path, nt_err *e)
{
    hid_t sg;
    if (H5_TRY(sg = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path)) /* collective */
        return -1;
    int status = attr_i64(sg, "epoch", s->epoch, path, e) |
                 attr_i64(sg, "step_in_epoch", s->step_in_epoch, path, e);
    status |= attr_i64(sg, "global_step", s->global_step, path, e);
    status |= attr_i64(sg, "steps_per_epoch", s->steps_per_epoch, path, e);
    status |= attr_i64(sg, "seed", (int64_t)s->seed, path, e) |
              nt_h5_attr_int(sg, "world_size", s->world_size, path, e);
    status |= attr_f64(sg, "elapsed_s", s->elapsed_s, path, e) |
              attr_f64(sg, "base_lr", cfg->opt.lr, path, e);
    status |= nt_h5_attr_str(sg, "schedule", nn_sched_name(cfg->sched.kind), path, e);
    status |= nt_h5_attr_str(sg, "schedule_unit", cfg->sched_per_step ? "step" : "epoch", path, e);
    status |= small_f64(sg, "partial", s->partial, 4, 0, c, xfer, path, e);
    status |= H5_TRY(H5Gclose(sg), e, path);
    return status;
}

/* /config: the effective configuration as INI text (attribute "text"). Collective. */
static int config_write(hid_t f, const nt_config *cfg, const char *path, nt_err *e)
{
    char *text = NULL;
    size_t tlen = 0;
    FILE *mf = open_memstream(&text, &tlen);
    if (mf) {
        nt_config_print(cfg, mf);
        if (fclose(mf) != 0) { free(text); text = NULL; }
    }
    if (!text && !e->msg[0]) nt_fail(e, "%s: cannot format the configuration: %s", path, strerror(errno));
    hid_t cg;
    if (H5_TRY(cg = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path)) { /* collective */
        free(text);
        return -1;
    }
    int status = !text || nt_h5_attr_str(cg, "text", text, path, e);
    status |= H5_TRY(H5Gclose(cg), e, path);
    free(text);
    return status ? -1 : 0;
}

/* Everything in the checkpoint, into the open file f: this rank's status (collective; a rank
 * whose write fails still takes part in every later collective call, so all ranks reach the
 * agreement after it). */
static int ckpt_write(hid_t f, const nn_model *m, const nn_optim *o, const nt_input_norm *norm,
                      const nt_ckpt_state *s, const nt_config *cfg, const nt_history *h, comm_t *c,
                      const char *tmp, nt_err *e)
{
    int status = nt_model_write(f, m, nn_loss_name(cfg->loss.kind), norm, c, tmp, e);
    hid_t xfer = H5I_INVALID_HID;
    if (H5_TRY(xfer = H5Pcreate(H5P_DATASET_XFER), e, tmp) ||
        H5_TRY(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), e, tmp))
        status = -1;
    status |= nt_h5_attr_str(f, "kind", "checkpoint", tmp, e);
    status |= nt_h5_attr_int(f, "checkpoint_format_version", NT_CKPT_FORMAT_VERSION, tmp, e);
    status |= optimizer_write(f, o, c, xfer, tmp, e);
    status |= state_write(f, s, cfg, c, xfer, tmp, e);

    /* config text and metric history */
    status |= config_write(f, cfg, tmp, e);
    /* the history's stored columns (history.h), named by its table */
    double *rows = malloc(sizeof(double) * NT_H_STORED * (size_t)(h->n > 0 ? h->n : 1));
    if (rows) nt_history_pack(h, rows);
    else status = nt_fail(e, "out of memory writing %s", tmp);
    status |= !rows || small_f64(f, "metrics", rows, (hsize_t)h->n, NT_H_STORED, c, xfer, tmp, e);
    uint32_t metrics_crc = rows ? crc_of(rows, sizeof(double) * NT_H_STORED * (size_t)h->n) : 0;
    free(rows);
    hid_t md;
    status |= H5_TRY(md = H5Dopen2(f, "metrics", H5P_DEFAULT), e, tmp);
    if (md >= 0) {
        status |= nt_h5_attr_str(md, "columns", nt_history_stored_columns(), tmp, e);
        status |= H5_TRY(H5Dclose(md), e, tmp);
    }
    status |= crcs_write(f, m, o, s, metrics_crc, c, tmp, e);
    if (xfer >= 0) status |= H5_TRY(H5Pclose(xfer), e, tmp);
    return status ? -1 : 0;
}

/* About the bytes a checkpoint takes on disk: its arrays, plus room for HDF5's metadata, the
 * configuration text and the attributes (a 3.2 MB checkpoint holds 21 KB of them). */
static uint64_t ckpt_bytes(const nn_model *m, const nn_optim *o, const nt_input_norm *norm,
                           const nt_history *h)
{
    uint64_t raw = 4 * (uint64_t)m->nparams + 4 * (uint64_t)o->nslots * (uint64_t)o->total +
                   8 * (uint64_t)NT_H_STORED * (uint64_t)(h->n > 0 ? h->n : 0) +
                   8 * (uint64_t)(norm && norm->mean ? norm->d : 0) + 32;
    return raw + raw / 64 + (256u << 10);
}

#define MB(x) ((double)(x) / (1 << 20))

/* What the file being written is, for the messages of safe_write and its helpers:
 * "checkpoint" / "; older checkpoints are kept", or "model" / "". Set by safe_write (the
 * training thread is the only writer). */
static const char *cur_kind = "checkpoint", *cur_kept = "; older checkpoints are kept";

/* e = "PATH: checkpoint not written: WHY (DETAIL); older checkpoints are kept", where WHY is
 * strerror(err) and DETAIL what e said so far (the failed call), without its file name. */
static int not_written(nt_err *e, const char *path, const char *tmp, int err)
{
    char detail[NT_ERRLEN];
    const char *d = e->msg;
    size_t n = strlen(tmp);
    if (!strncmp(d, tmp, n) && !strncmp(d + n, ": ", 2)) d += n + 2;
    snprintf(detail, sizeof detail, "%s", d);
    e->msg[0] = 0;
    if (err && detail[0])
        return nt_fail(e, "%s: %s not written: %s (%s)%s", path, cur_kind, strerror(err), detail,
                       cur_kept);
    return nt_fail(e, "%s: %s not written: %s%s", path, cur_kind,
                   err ? strerror(err) : detail[0] ? detail : "write failed", cur_kept);
}

/* The cause of a failed write, for the message: errno when it names one (HDF5 does not keep
 * it, but nothing after the failed write in MPI-IO has touched it yet), else ENOSPC when the
 * file system is (nearly) full, else 0 (HDF5's own message only). */
static int write_errno(const char *dir, int saved)
{
    if (saved == ENOSPC || saved == EDQUOT || saved == EIO || saved == EROFS || saved == EFBIG)
        return saved;
    uint64_t avail;
    return !nt_disk_free(dir, &avail) && avail < (64u << 10) ? ENOSPC : 0;
}

/* One agreement point of the write: a failing rank rewrites its message (not_written) first. */
static int agree_write(comm_t *c, int status, const char *dir, const char *path, const char *tmp,
                       nt_err *e)
{
    if (status) not_written(e, path, tmp, write_errno(dir, errno));
    return nt_agree(c, status ? NT_EXIT_RUNTIME : 0, e);
}

/* After an agreed failure with the file open: rank 0 empties TMP first (giving its space back,
 * so that the collective close has room for HDF5's last metadata and no rank's close fails
 * alone), then all close it together and rank 0 removes it. Returns st. */
static int abandon(hid_t f, const char *tmp, comm_t *c, int st)
{
    if (c->rank == 0) {
        int rc = truncate(tmp, 0); /* nothing more to give back when it fails */
        (void)rc;
    }
    (void)comm_barrier(c);  /* no rank's close writes before the space is free */
    (void)H5Fclose(f);      /* collective; the file is removed whatever it says */
    if (c->rank == 0) remove(tmp);
    return st;
}

/* Writes PATH (in DIR) collectively through PATH.tmp with write(f, ctx, tmp, e), about NEED
 * bytes: refused before anything is written when the file system has no room, the space
 * reserved (fallocate) while it is written, every rank agreeing after the writes, the flush
 * and the close; fsynced, renamed, the directory fsynced. On any failure every rank returns
 * the same status with one message, and the .tmp is gone. KIND/KEPT name the file in the
 * messages ("checkpoint", "; older checkpoints are kept"). */
static int safe_write(const char *dir, const char *path, const char *kind, const char *kept,
                      uint64_t need, int (*write)(hid_t f, void *ctx, const char *tmp, nt_err *e),
                      void *ctx, comm_t *c, nt_err *e)
{
    char tmp[4300];
    int st;
    cur_kind = kind;
    cur_kept = kept;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    /* room for it? A file that cannot fit is refused before HDF5 writes anything (then
     * nothing is left to clean up, and a file system with no space at all never sees a close
     * that cannot write). Test hook (tests/worker/disk_full.sh): NNTRAIN_CKPT_SPACE_CHECK=
     * reserve skips this check, =off also the reservation below, to reach what they prevent */
    const char *hook = getenv("NNTRAIN_CKPT_SPACE_CHECK");
    const int check = !hook || (strcmp(hook, "reserve") && strcmp(hook, "off")),
              reserve = !hook || strcmp(hook, "off");
    uint64_t avail = 0;
    int err = c->rank == 0 && check ? nt_disk_free(dir, &avail) : 0;
    if (c->rank == 0 && check && !err && avail < need) {
        err = ENOSPC;
        nt_fail(e, "%s: %s not written: %s (it needs about %.1f MB, %.1f MB are free)%s", path,
                kind, strerror(err), MB(need), MB(avail), kept);
    } else if (err) {
        err = 0; /* cannot tell: the reservation below or the writes will say */
    }
    if ((st = nt_agree(c, err ? NT_EXIT_RUNTIME : 0, e))) return st;

    hid_t f = nt_h5_create(tmp, c);
    if ((st = nt_agree(c, f < 0 ? (nt_fail(e, "%s: cannot create", tmp), NT_EXIT_RUNTIME) : 0, e))) {
        /* (a rank whose create succeeded while another's failed keeps its handle: closing it
         * would wait for the others in HDF5) */
        if (c->rank == 0) remove(tmp);
        return st;
    }
    /* rank 0 reserves the space, so another writer filling the disk meanwhile cannot make the
     * writes below fail halfway. That matters: Open MPI's collective writes can lose a write
     * error (no rank's H5Dwrite fails), and a metadata write failing on one rank inside
     * H5Fflush/H5Fclose leaves the others waiting in HDF5's own collectives for ever */
    err = c->rank == 0 ? (reserve ? nt_disk_reserve(tmp, need) : EOPNOTSUPP) : 0;
    const int reserved = c->rank == 0 && !err;
    if (err == EOPNOTSUPP) err = 0; /* cannot reserve here: checked again after the writes */
    if (err)
        nt_fail(e, "%s: %s not written: %s (reserving %.1f MB)%s", path, kind, strerror(err),
                MB(need), kept);
    st = nt_agree(c, err ? NT_EXIT_RUNTIME : 0, e);
    /* the agreement points: after the dataset writes, after the flush (HDF5's metadata);
     * every rank is in the same place at each, so a failure leaves the write together */
    if (!st) {
        int status = write(f, ctx, tmp, e);
        /* without a reservation, a file system that filled up (perhaps with nobody told: see
         * above) leaves no room for the flush's metadata: give up before it */
        if (!status && c->rank == 0 && !reserved && !nt_disk_free(dir, &avail) && avail < (256u << 10)) {
            errno = ENOSPC;
            status = nt_fail(e, "%s: the file system filled up while writing", tmp);
        }
        st = agree_write(c, status, dir, path, tmp, e);
    }
    if (!st) st = agree_write(c, H5_TRY(H5Fflush(f, H5F_SCOPE_GLOBAL), e, tmp), dir, path, tmp, e); /* collective */
    if (st) return abandon(f, tmp, c, st);
    st = agree_write(c, H5_TRY(H5Fclose(f), e, tmp), dir, path, tmp, e); /* collective */
    /* durable before it gets its name: the data (each rank's MPI-IO writes were synced by the
     * flush) and the file's size, then the rename itself (the directory) */
    if (!st && c->rank == 0 && (err = nt_fsync_file(tmp)))
        nt_fail(e, "%s: %s not written: %s (fsync of %s)%s", path, kind, strerror(err), tmp, kept);
    if (!st) st = nt_agree(c, err ? NT_EXIT_RUNTIME : 0, e);
    if (!st && c->rank == 0) {
        if (rename(tmp, path) != 0)
            err = errno, nt_fail(e, "%s: cannot rename to %s: %s", tmp, path, strerror(err));
        else if ((err = nt_fsync_dir(dir)))
            nt_fail(e, "%s: %s written but not durable: %s (fsync of %s)", path, kind,
                    strerror(err), dir);
    }
    if (!st) st = nt_agree(c, err ? NT_EXIT_RUNTIME : 0, e);
    if (st && c->rank == 0) remove(tmp);
    return st;
}

typedef struct {
    const nn_model *m;
    const nn_optim *o;
    const nt_input_norm *norm;
    const nt_ckpt_state *s;
    const nt_config *cfg;
    const nt_history *h;
    comm_t *c;
} ckpt_ctx;

static int ckpt_writer(hid_t f, void *ctx, const char *tmp, nt_err *e)
{
    const ckpt_ctx *k = ctx;
    return ckpt_write(f, k->m, k->o, k->norm, k->s, k->cfg, k->h, k->c, tmp, e);
}

int nt_ckpt_save(const char *dir, int keep, const nn_model *m, const nn_optim *o,
                 const nt_input_norm *norm, const nt_ckpt_state *s, const nt_config *cfg, const nt_history *h,
                 comm_t *c, char *written, size_t wlen, nt_err *e)
{
    char path[4200];
    nt_err_clear(e);
    int st = c->rank == 0 ? nt_mkdirs(dir, e) : 0;
    if ((st = nt_agree(c, st ? NT_EXIT_RUNTIME : 0, e))) return st;
    snprintf(path, sizeof path, "%s/ckpt-%lld.h5", dir, (long long)s->global_step);
    ckpt_ctx k = {m, o, norm, s, cfg, h, c};
    if ((st = safe_write(dir, path, "checkpoint", "; older checkpoints are kept",
                         ckpt_bytes(m, o, norm, h), ckpt_writer, &k, c, e)))
        return st;
    if (written) snprintf(written, wlen, "%s", path);
    /* keep the newest `keep` (rank 0; the new one is complete before any old one goes) */
    if (c->rank == 0 && keep > 0) {
        long long steps[4096];
        int n = list_ckpts(dir, steps, 4096);
        for (int i = 0; i < n - keep; i++) {
            char old[4200];
            snprintf(old, sizeof old, "%s/ckpt-%lld.h5", dir, steps[i]);
            remove(old);
        }
    }
    return 0;
}

typedef struct {
    const nn_model *m;
    const char *loss;
    const nt_input_norm *norm;
    int epoch;
    comm_t *c;
} model_ctx;

static int model_writer(hid_t f, void *ctx, const char *tmp, nt_err *e)
{
    const model_ctx *k = ctx;
    int st = nt_model_write(f, k->m, k->loss, k->norm, k->c, tmp, e);
    /* the epoch whose weights these are (best.h5: what a resume reconciles it by) */
    if (!st && k->epoch > 0) st = nt_h5_attr_int(f, "epoch", k->epoch, tmp, e);
    return st;
}

int nt_model_save_safe(const nn_model *m, const char *loss, const nt_input_norm *norm,
                       const char *path, int epoch, comm_t *c, nt_err *e)
{
    char dir[4200];
    nt_err_clear(e);
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) *slash = 0;
    else snprintf(dir, sizeof dir, "%s", slash ? "/" : ".");
    model_ctx k = {m, loss, norm, epoch, c};
    uint64_t raw = 4 * (uint64_t)m->nparams + 8 * (uint64_t)(norm && norm->mean ? norm->d : 0) + 32;
    return safe_write(dir, path, "model", "", raw + raw / 64 + (256u << 10), model_writer, &k, c, e);
}

int nt_ckpt_find_local(const char *dir, char *path, size_t n)
{
    long long steps[4096];
    int k = list_ckpts(dir, steps, 4096);
    if (k > 0) snprintf(path, n, "%s/ckpt-%lld.h5", dir, steps[k - 1]);
    return k > 0;
}

void nt_ckpt_remove_all(const char *dir)
{
    long long steps[4096];
    int k = list_ckpts(dir, steps, 4096);
    for (int i = 0; i < k; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/ckpt-%lld.h5", dir, steps[i]);
        remove(p);
    }
}

int nt_ckpt_find_before(const char *dir, comm_t *c, long long before, char *path, size_t n)
{
    long long best = -1;
    if (c->rank == 0) {
        long long steps[4096];
        int k = list_ckpts(dir, steps, 4096);
        while (k > 0 && steps[k - 1] >= before) k--;
        if (k > 0) best = steps[k - 1];
    }
    if (comm_bcast_bytes(c, &best, sizeof best, 0) != MPI_SUCCESS) {
        if (n) path[0] = 0;
        return -1;
    }
    if (best < 0) return 0;
    snprintf(path, n, "%s/ckpt-%lld.h5", dir, best);
    return 1;
}

int nt_ckpt_find(const char *dir, comm_t *c, char *path, size_t n)
{
    return nt_ckpt_find_before(dir, c, LLONG_MAX, path, n);
}

long long nt_ckpt_step_of(const char *path)
{
    const char *b = strrchr(path, '/');
    long long st;
    char tail[8];
    b = b ? b + 1 : path;
    return sscanf(b, "ckpt-%lld.h%7s", &st, tail) == 2 && !strcmp(tail, "5") ? st : -1;
}

/* The number of values dataset d holds, or -1. */
static hssize_t dset_npoints(hid_t d)
{
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0 && H5Sclose(sp) < 0) n = -1;
    return n;
}

/* /optimizer: the same optimizer and state slots as configured; step and (every rank reads
 * the whole state: each holds a full replica) the state. Collective. */
static int optimizer_read(hid_t f, const char *path, nn_optim *o, comm_t *c, hid_t xfer, int crc,
                          nt_err *e)
{
    hid_t og = H5Gopen2(f, "optimizer", H5P_DEFAULT); /* missing: the name check below says so */
    char *name = og >= 0 ? nt_h5_read_str(og, "name") : NULL;
    int slots = -1, st = 0;
    int64_t step = 0;
    int bad_attr = og >= 0 && (read_attr(og, "slots", H5T_NATIVE_INT, &slots, path, e) |
                               read_attr(og, "step", H5T_NATIVE_INT64, &step, path, e));
    if (!name || strcmp(name, nn_opt_name(o->cfg.kind)))
        st = nt_fail(e, "%s: checkpoint optimizer is %s, the configuration says %s", path,
                     name ? name : "?", nn_opt_name(o->cfg.kind));
    else if (slots != o->nslots)
        st = nt_fail(e, "%s: checkpoint optimizer has %d state slots, the configuration "
                     "needs %d (amsgrad, momentum or centered differ)", path, slots, o->nslots);
    else if (bad_attr)
        st = -1; /* e names the HDF5 call */
    free(name);
    o->step = step;
    if (!st && o->nslots > 0) {
        hid_t ds = H5Dopen2(og, "state", H5P_DEFAULT);
        /* this rank's columns (all of them, or its ZeRO-1 slice) into o->state: first the
         * size (a larger one would overrun it). Written by any number of ranks in either mode. */
        const long long want = (long long)o->nslots * (long long)o->total;
        const long long have = ds >= 0 ? (long long)dset_npoints(ds) : -1;
        int64_t lo, hi;
        state_cols(o, c, 1, &lo, &hi);
        hsize_t d[2] = {(hsize_t)o->nslots, (hsize_t)o->total}, md[2] = {(hsize_t)o->nslots, (hsize_t)o->n};
        hid_t fs = H5Screate_simple(2, d, NULL), ms = H5Screate_simple(2, md, NULL);
        if (ds >= 0 && have != want)
            st = nt_fail(e, "%s: /optimizer/state holds %lld values, the model needs %lld", path,
                         have, want);
        else if (ds < 0 || fs < 0 || ms < 0 || state_select(o, fs, ms, lo, hi, path, e) ||
                 H5Dread(ds, H5T_NATIVE_FLOAT, ms, fs, xfer, o->state) < 0) /* collective */
            st = nt_fail(e, "%s: cannot read /optimizer/state", path);
        if (fs >= 0) H5Sclose(fs);
        if (ms >= 0) H5Sclose(ms);
        if (ds >= 0) st |= H5_TRY(H5Dclose(ds), e, path);
        /* sliced: every rank reaches the gather (the checks above agree on every rank, as they
         * test the same file) */
        uint32_t now = 0;
        if (state_crc(o, c, &now) != MPI_SUCCESS && !st)
            st = nt_fail(e, "%s: MPI gather of the optimizer state's checksums failed", path);
        if (!st) st = crc_check_value(f, "/optimizer/state", now, crc, path, e);
    }
    if (og >= 0) st |= H5_TRY(H5Gclose(og), e, path);
    return st;
}

/* /state: the data-order counters and this epoch's partial sums. Collective. */
static int state_read(hid_t f, const char *path, nt_ckpt_state *s, hid_t xfer, int crc, nt_err *e)
{
    int st = 0;
    hid_t sg = H5Gopen2(f, "state", H5P_DEFAULT);
    int64_t seed = 0;
    if (sg < 0 || read_attr(sg, "epoch", H5T_NATIVE_INT64, &s->epoch, path, e) ||
        read_attr(sg, "step_in_epoch", H5T_NATIVE_INT64, &s->step_in_epoch, path, e) ||
        read_attr(sg, "global_step", H5T_NATIVE_INT64, &s->global_step, path, e) ||
        read_attr(sg, "steps_per_epoch", H5T_NATIVE_INT64, &s->steps_per_epoch, path, e) ||
        read_attr(sg, "seed", H5T_NATIVE_INT64, &seed, path, e) ||
        read_attr(sg, "world_size", H5T_NATIVE_INT, &s->world_size, path, e) ||
        read_attr(sg, "elapsed_s", H5T_NATIVE_DOUBLE, &s->elapsed_s, path, e))
        st = nt_fail(e, "%s: incomplete /state", path);
    s->seed = (uint64_t)seed;
    if (sg >= 0) {
        hid_t pd = H5Dopen2(sg, "partial", H5P_DEFAULT);
        const long long want = (long long)(sizeof s->partial / sizeof s->partial[0]);
        const long long have = pd >= 0 ? (long long)dset_npoints(pd) : -1;
        if (pd >= 0 && have != want) /* read whole into s->partial: a larger one would overrun it */
            st = nt_fail(e, "%s: /state/partial holds %lld values, expected %lld", path, have, want);
        else if (pd < 0 || H5Dread(pd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, xfer, s->partial) < 0) /* collective */
            st = nt_fail(e, "%s: cannot read /state/partial", path);
        if (pd >= 0) st |= H5_TRY(H5Dclose(pd), e, path);
        if (!st) st = crc_check(f, "/state/partial", s->partial, sizeof s->partial, crc, path, e);
        st |= H5_TRY(H5Gclose(sg), e, path);
    }
    return st;
}

/* /metrics: the history's stored columns, at most h->cap rows. Collective. */
static int history_read(hid_t f, const char *path, nt_history *h, hid_t xfer, int crc, nt_err *e)
{
    int st = 0;
    hid_t md = H5Dopen2(f, "metrics", H5P_DEFAULT);
    hid_t sp = md >= 0 ? H5Dget_space(md) : H5I_INVALID_HID;
    hsize_t d[2] = {0, 0};
    /* not 2-D, or the query fails: d stays 0, "bad /metrics" */
    if (sp >= 0 && H5Sget_simple_extent_ndims(sp) == 2 && H5Sget_simple_extent_dims(sp, d, NULL) < 0)
        d[1] = 0;
    double *rows = NULL;
    if (md < 0 || d[1] != NT_H_STORED || d[0] > (hsize_t)h->cap)
        st = nt_fail(e, "%s: bad /metrics", path);
    else if (!(rows = malloc(sizeof(double) * NT_H_STORED * (size_t)(d[0] > 0 ? d[0] : 1))))
        st = nt_fail(e, "out of memory reading %s", path);
    else if (d[0] > 0 && H5Dread(md, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, xfer, rows) < 0) /* collective */
        st = nt_fail(e, "%s: cannot read /metrics", path);
    else if (!(st = crc_check(f, "/metrics", rows, sizeof(double) * NT_H_STORED * (size_t)d[0], crc,
                              path, e)))
        nt_history_unpack(h, rows, (int)d[0]);
    free(rows);
    if (sp >= 0) st |= H5_TRY(H5Sclose(sp), e, path);
    if (md >= 0) st |= H5_TRY(H5Dclose(md), e, path);
    return st;
}

int nt_ckpt_load_quiet(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s,
                       nt_history *h, comm_t *c, nt_err *e)
{
    nt_err_clear(e);
    hid_t f = nt_h5_open(path, c);
    int st = f < 0 ? (nt_fail(e, "%s: cannot open checkpoint (truncated or not HDF5?)", path),
                      NT_EXIT_INPUT) : 0;
    if ((st = nt_agree_quiet(c, st, e))) return st;
    char *kind = nt_h5_read_str(f, "kind");
    if (!kind || strcmp(kind, "checkpoint"))
        st = nt_fail(e, "%s: not an nntrain checkpoint (no kind = \"checkpoint\")", path);
    free(kind);
    /* format 2 on: every array carries a CRC-32 that must match */
    int version = 1;
    if (!st && H5Aexists(f, "checkpoint_format_version") > 0 &&
        read_attr(f, "checkpoint_format_version", H5T_NATIVE_INT, &version, path, e))
        st = -1;
    const int crc = version >= 2;
    if (!st) st = nt_model_read(f, path, m, e) ? -1 : 0;
    if (!st) st = model_crcs(f, m, 1, crc, path, e);
    hid_t xfer = H5I_INVALID_HID;
    if (!st && (H5_TRY(xfer = H5Pcreate(H5P_DATASET_XFER), e, path) ||
                H5_TRY(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), e, path)))
        st = -1;
    if (!st) st = optimizer_read(f, path, o, c, xfer, crc, e);
    if (!st) st = state_read(f, path, s, xfer, crc, e);
    h->n = 0;
    if (!st) st = history_read(f, path, h, xfer, crc, e);
    if (xfer >= 0) st |= H5_TRY(H5Pclose(xfer), e, path);
    st |= H5_TRY(H5Fclose(f), e, path); /* collective */
    return nt_agree_quiet(c, st ? NT_EXIT_INPUT : 0, e);
}

int nt_ckpt_load(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s, nt_history *h,
                 comm_t *c, nt_err *e)
{
    int st = nt_ckpt_load_quiet(path, m, o, s, h, c, e);
    if (st && c->rank == 0) {
        fprintf(stderr, "nntrain: error: %s\n", e->msg[0] ? e->msg : "failure on another rank");
        fflush(stderr);
    }
    return st;
}
