/* Collective checkpoint write/read in parallel HDF5 (see ckpt.h for the layout). */
#include "ckpt.h"
#include "modelio.h"
#include "sampler.h"
#include <dirent.h>
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int attr_i64(hid_t obj, const char *name, int64_t v)
{
    return nt_h5_attr_num(obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
}

static int attr_f64(hid_t obj, const char *name, double v)
{
    return nt_h5_attr_num(obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v);
}

static int read_attr(hid_t obj, const char *name, hid_t type, void *v)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    herr_t st = a >= 0 ? H5Aread(a, type, v) : -1;
    if (a >= 0) H5Aclose(a);
    return st < 0 ? -1 : 0;
}

/* A small float64 dataset written by rank 0 only (others select nothing). Collective. */
static int small_f64(hid_t g, const char *name, const double *v, hsize_t rows, hsize_t cols,
                     comm_t *c, hid_t xfer)
{
    hsize_t d[2] = {rows, cols};
    int nd = cols ? 2 : 1;
    hid_t s = H5Screate_simple(nd, d, NULL);
    hid_t ds = H5Dcreate2(g, name, H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t ms = H5Screate_simple(nd, d, NULL);
    if (c->rank != 0) { H5Sselect_none(s); H5Sselect_none(ms); }
    /* an empty history (before the first epoch ends) is a 0-row dataset with nothing to write;
     * every rank skips the write alike */
    herr_t st = ds < 0 ? -1 : rows == 0 ? 0 : H5Dwrite(ds, H5T_NATIVE_DOUBLE, ms, s, xfer, v); /* collective */
    if (ds >= 0) H5Dclose(ds);
    H5Sclose(s);
    H5Sclose(ms);
    return st < 0 ? -1 : 0;
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

int nt_ckpt_save(const char *dir, int keep, const nn_model *m, const nn_optim *o,
                 const nt_input_norm *norm, const nt_ckpt_state *s, const nt_config *cfg, const nt_history *h,
                 comm_t *c, char *written, size_t wlen, nt_err *e)
{
    char path[4200], tmp[4300];
    int st = c->rank == 0 ? nt_mkdirs(dir, e) : 0;
    if ((st = nt_agree(c, st ? NT_EXIT_RUNTIME : 0, e))) return st;
    snprintf(path, sizeof path, "%s/ckpt-%lld.h5", dir, (long long)s->global_step);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    hid_t f = nt_h5_create(tmp, c);
    if ((st = nt_agree(c, f < 0 ? (nt_fail(e, "%s: cannot create", tmp), NT_EXIT_RUNTIME) : 0, e)))
        return st;
    int status = nt_model_write(f, m, nn_loss_name(cfg->loss.kind), norm, c);
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    status |= nt_h5_attr_str(f, "kind", "checkpoint");
    status |= nt_h5_attr_int(f, "checkpoint_format_version", NT_CKPT_FORMAT_VERSION);

    /* optimizer: every state slot as rows of one (slots, nparams) array; each rank writes a
     * contiguous block of columns */
    hid_t og = H5Gcreate2(f, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    status |= og < 0;
    status |= nt_h5_attr_str(og, "name", nn_opt_name(o->cfg.kind));
    status |= attr_i64(og, "step", o->step);
    status |= nt_h5_attr_int(og, "slots", o->nslots);
    if (o->nslots > 0) {
        hsize_t d[2] = {(hsize_t)o->nslots, (hsize_t)o->n};
        hid_t sp = H5Screate_simple(2, d, NULL);
        hid_t ds = H5Dcreate2(og, "state", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        int64_t lo, hi;
        nn_shard((int64_t)o->n, (int64_t)o->n, c->size, c->rank, 0, &lo, &hi);
        herr_t w = -1;
        if (ds >= 0) {
            hsize_t start[2] = {0, (hsize_t)lo}, cnt[2] = {(hsize_t)o->nslots, (hsize_t)(hi - lo)};
            hsize_t md[2] = {(hsize_t)o->nslots, (hsize_t)o->n};
            hid_t ms = H5Screate_simple(2, md, NULL);
            if (hi > lo) {
                H5Sselect_hyperslab(sp, H5S_SELECT_SET, start, NULL, cnt, NULL);
                H5Sselect_hyperslab(ms, H5S_SELECT_SET, start, NULL, cnt, NULL);
            } else {
                H5Sselect_none(sp);
                H5Sselect_none(ms);
            }
            w = H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, sp, xfer, o->state); /* collective */
            H5Sclose(ms);
            H5Dclose(ds);
        }
        status |= w < 0;
        H5Sclose(sp);
    }
    if (og >= 0) H5Gclose(og);

    /* state: the counters that make resume exact */
    hid_t sg = H5Gcreate2(f, "state", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    status |= sg < 0;
    status |= attr_i64(sg, "epoch", s->epoch) | attr_i64(sg, "step_in_epoch", s->step_in_epoch);
    status |= attr_i64(sg, "global_step", s->global_step);
    status |= attr_i64(sg, "steps_per_epoch", s->steps_per_epoch);
    status |= attr_i64(sg, "seed", (int64_t)s->seed) | nt_h5_attr_int(sg, "world_size", s->world_size);
    status |= attr_f64(sg, "elapsed_s", s->elapsed_s) | attr_f64(sg, "base_lr", cfg->opt.lr);
    status |= nt_h5_attr_str(sg, "schedule", nn_sched_name(cfg->sched.kind));
    status |= nt_h5_attr_str(sg, "schedule_unit", cfg->sched_per_step ? "step" : "epoch");
    status |= small_f64(sg, "partial", s->partial, 4, 0, c, xfer);
    if (sg >= 0) H5Gclose(sg);

    /* config text and metric history */
    char *text = NULL;
    size_t tlen = 0;
    FILE *mf = open_memstream(&text, &tlen);
    if (mf) { nt_config_print(cfg, mf); fclose(mf); }
    hid_t cg = H5Gcreate2(f, "config", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    status |= cg < 0 || !text || nt_h5_attr_str(cg, "text", text);
    if (cg >= 0) H5Gclose(cg);
    free(text);
    /* the history's stored columns (history.h), named by its table */
    double *rows = malloc(sizeof(double) * NT_H_STORED * (size_t)(h->n > 0 ? h->n : 1));
    if (rows) nt_history_pack(h, rows);
    status |= !rows || small_f64(f, "metrics", rows, (hsize_t)h->n, NT_H_STORED, c, xfer);
    free(rows);
    hid_t md = H5Dopen2(f, "metrics", H5P_DEFAULT);
    if (md >= 0) {
        status |= nt_h5_attr_str(md, "columns", nt_history_stored_columns());
        H5Dclose(md);
    }
    H5Pclose(xfer);
    st = nt_h5_commit(f, tmp, path, status ? -1 : 0, c, e);
    if ((st = nt_agree(c, st, e))) return st;
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

int nt_ckpt_find(const char *dir, comm_t *c, char *path, size_t n)
{
    long long best = -1;
    if (c->rank == 0) {
        long long steps[4096];
        int k = list_ckpts(dir, steps, 4096);
        if (k > 0) best = steps[k - 1];
    }
    MPI_Bcast(&best, 1, MPI_LONG_LONG, 0, c->comm);
    if (best < 0) return 0;
    snprintf(path, n, "%s/ckpt-%lld.h5", dir, best);
    return 1;
}

int nt_ckpt_load(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s, nt_history *h,
                 comm_t *c, nt_err *e)
{
    hid_t f = nt_h5_open(path, c);
    int st = f < 0 ? (nt_fail(e, "%s: cannot open checkpoint", path), NT_EXIT_INPUT) : 0;
    if ((st = nt_agree(c, st, e))) return st;
    char *kind = nt_h5_read_str(f, "kind");
    if (!kind || strcmp(kind, "checkpoint"))
        st = nt_fail(e, "%s: not an nntrain checkpoint (no kind = \"checkpoint\")", path);
    free(kind);
    if (!st) st = nt_model_read(f, path, m, e) ? -1 : 0;
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    hid_t og = st ? H5I_INVALID_HID : H5Gopen2(f, "optimizer", H5P_DEFAULT);
    if (!st) {
        char *name = nt_h5_read_str(og, "name");
        int slots = -1;
        int64_t step = 0;
        read_attr(og, "slots", H5T_NATIVE_INT, &slots);
        read_attr(og, "step", H5T_NATIVE_INT64, &step);
        if (!name || strcmp(name, nn_opt_name(o->cfg.kind)))
            st = nt_fail(e, "%s: checkpoint optimizer is %s, the configuration says %s", path,
                         name ? name : "?", nn_opt_name(o->cfg.kind));
        else if (slots != o->nslots)
            st = nt_fail(e, "%s: checkpoint optimizer has %d state slots, the configuration "
                         "needs %d (amsgrad, momentum or centered differ)", path, slots, o->nslots);
        free(name);
        o->step = step;
    }
    /* every rank reads the whole state: each holds a full replica */
    if (!st && o->nslots > 0) {
        hid_t ds = H5Dopen2(og, "state", H5P_DEFAULT);
        if (ds < 0 || H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, xfer, o->state) < 0) /* collective */
            st = nt_fail(e, "%s: cannot read /optimizer/state", path);
        if (ds >= 0) H5Dclose(ds);
    }
    if (og >= 0) H5Gclose(og);
    if (!st) {
        hid_t sg = H5Gopen2(f, "state", H5P_DEFAULT);
        int64_t seed = 0;
        if (sg < 0 || read_attr(sg, "epoch", H5T_NATIVE_INT64, &s->epoch) ||
            read_attr(sg, "step_in_epoch", H5T_NATIVE_INT64, &s->step_in_epoch) ||
            read_attr(sg, "global_step", H5T_NATIVE_INT64, &s->global_step) ||
            read_attr(sg, "steps_per_epoch", H5T_NATIVE_INT64, &s->steps_per_epoch) ||
            read_attr(sg, "seed", H5T_NATIVE_INT64, &seed) ||
            read_attr(sg, "world_size", H5T_NATIVE_INT, &s->world_size) ||
            read_attr(sg, "elapsed_s", H5T_NATIVE_DOUBLE, &s->elapsed_s))
            st = nt_fail(e, "%s: incomplete /state", path);
        s->seed = (uint64_t)seed;
        if (sg >= 0) {
            hid_t pd = H5Dopen2(sg, "partial", H5P_DEFAULT);
            if (pd < 0 || H5Dread(pd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, xfer, s->partial) < 0) /* collective */
                st = nt_fail(e, "%s: cannot read /state/partial", path);
            if (pd >= 0) H5Dclose(pd);
            H5Gclose(sg);
        }
    }
    h->n = 0;
    if (!st) {
        hid_t md = H5Dopen2(f, "metrics", H5P_DEFAULT);
        hid_t sp = md >= 0 ? H5Dget_space(md) : H5I_INVALID_HID;
        hsize_t d[2] = {0, 0};
        if (sp >= 0) H5Sget_simple_extent_dims(sp, d, NULL);
        double *rows = NULL;
        if (md < 0 || d[1] != NT_H_STORED || (int)d[0] > h->cap)
            st = nt_fail(e, "%s: bad /metrics", path);
        else if (!(rows = malloc(sizeof(double) * NT_H_STORED * (size_t)(d[0] > 0 ? d[0] : 1))))
            st = nt_fail(e, "out of memory reading %s", path);
        else if (d[0] > 0 && H5Dread(md, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, xfer, rows) < 0) /* collective */
            st = nt_fail(e, "%s: cannot read /metrics", path);
        else
            nt_history_unpack(h, rows, (int)d[0]);
        free(rows);
        if (sp >= 0) H5Sclose(sp);
        if (md >= 0) H5Dclose(md);
    }
    H5Pclose(xfer);
    H5Fclose(f); /* collective */
    return nt_agree(c, st ? NT_EXIT_INPUT : 0, e);
}
