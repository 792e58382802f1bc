/* Collective parallel-HDF5 write and read of the model layout. */
#include "modelio.h"
#include "check.h"
#include "layout.h"
#include "sampler.h"
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nt_h5_attr_str(hid_t obj, const char *name, const char *val, const char *path, nt_err *e)
{
    hid_t t = H5I_INVALID_HID, s = H5I_INVALID_HID, a = H5I_INVALID_HID;
    int rc = H5_TRY(t = H5Tcopy(H5T_C_S1), e, path) ||
             H5_TRY(H5Tset_size(t, strlen(val) + 1), e, path) ||
             H5_TRY(H5Tset_strpad(t, H5T_STR_NULLTERM), e, path) ||
             H5_TRY(s = H5Screate(H5S_SCALAR), e, path) ||
             H5_TRY(a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT), e, path) || /* collective */
             H5_TRY(H5Awrite(a, t, val), e, path) ? -1 : 0;
    if (a >= 0) rc |= H5_TRY(H5Aclose(a), e, path);
    if (s >= 0) rc |= H5_TRY(H5Sclose(s), e, path);
    if (t >= 0) rc |= H5_TRY(H5Tclose(t), e, path);
    return rc;
}

int nt_h5_attr_num(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v,
                   const char *path, nt_err *e)
{
    hid_t s = H5I_INVALID_HID, a = H5I_INVALID_HID;
    int rc = H5_TRY(s = H5Screate(H5S_SCALAR), e, path) ||
             H5_TRY(a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT), e, path) || /* collective */
             H5_TRY(H5Awrite(a, mtype, v), e, path) ? -1 : 0;
    if (a >= 0) rc |= H5_TRY(H5Aclose(a), e, path);
    if (s >= 0) rc |= H5_TRY(H5Sclose(s), e, path);
    return rc;
}

int nt_h5_attr_float(hid_t obj, const char *name, float val, const char *path, nt_err *e)
{
    return nt_h5_attr_num(obj, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &val, path, e);
}

int nt_h5_attr_int(hid_t obj, const char *name, int val, const char *path, nt_err *e)
{
    return nt_h5_attr_num(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &val, path, e);
}

int nt_h5_read_attr1(hid_t obj, const char *name, hid_t mtype, void *v, const char *path, nt_err *e)
{
    hid_t a = H5I_INVALID_HID, s = H5I_INVALID_HID;
    hssize_t np = -1;
    int rc = H5_TRY(a = H5Aopen(obj, name, H5P_DEFAULT), e, path) ||
             H5_TRY(s = H5Aget_space(a), e, path) ||
             H5_TRY(np = H5Sget_simple_extent_npoints(s), e, path) ? -1 : 0;
    if (!rc && np != 1)
        rc = nt_fail(e, "%s: attribute %s holds %lld values, expected one", path, name, (long long)np);
    if (!rc) rc = H5_TRY(H5Aread(a, mtype, v), e, path);
    if (s >= 0) rc |= H5_TRY(H5Sclose(s), e, path);
    if (a >= 0) rc |= H5_TRY(H5Aclose(a), e, path);
    return rc;
}

char *nt_h5_read_str(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0) return NULL; /* absent, or cannot tell: the same to callers */
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID, mt = H5Tcopy(H5T_C_S1);
    hid_t s = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    char *out = NULL;
    /* one string only: a damaged file's array of them would overrun the buffer below */
    int ok = a >= 0 && t >= 0 && mt >= 0 && s >= 0 && H5Sget_simple_extent_npoints(s) == 1;
    htri_t var = ok ? H5Tis_variable_str(t) : -1;
    if (var > 0) { /* h5py writes variable-length strings */
        char *v = NULL;
        if (H5Tset_size(mt, H5T_VARIABLE) >= 0 && H5Aread(a, mt, &v) >= 0 && v) {
            out = strdup(v);
            /* freeing HDF5's copy cannot fail in a way that changes the string we have */
            (void)H5free_memory(v);
        }
    } else if (var == 0) {
        size_t n = H5Tget_size(t); /* 0 on failure: then the read below fails too */
        out = n ? calloc(n + 1, 1) : NULL;
        if (out && (H5Tset_size(mt, n + 1) < 0 || H5Aread(a, mt, out) < 0)) { free(out); out = NULL; }
    }
    /* a failed close after a good read still means the file is not as expected */
    if (s >= 0 && H5Sclose(s) < 0) ok = 0;
    if (mt >= 0 && H5Tclose(mt) < 0) ok = 0;
    if (t >= 0 && H5Tclose(t) < 0) ok = 0;
    if (a >= 0 && H5Aclose(a) < 0) ok = 0;
    if (!ok) { free(out); out = NULL; }
    return out;
}

/* Rows [lo,hi) of a (rows, cols) float tensor go to/from the same rows of dataset d. */
int nt_h5_rows_io(hid_t d, int write, float *buf, int64_t rows, int64_t cols, int64_t lo,
                  int64_t hi, hid_t xfer, const char *path, nt_err *e)
{
    (void)rows;
    int rank = cols > 0 ? 2 : 1;
    hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    hsize_t mdim[2] = {(hsize_t)(hi > lo ? hi - lo : 1), (hsize_t)cols};
    int rc = H5_TRY(fs = H5Dget_space(d), e, path) ||
             H5_TRY(ms = H5Screate_simple(rank, mdim, NULL), e, path) ? -1 : 0;
    if (!rc && hi > lo) {
        hsize_t start[2] = {(hsize_t)lo, 0}, cnt[2] = {(hsize_t)(hi - lo), (hsize_t)cols};
        rc = H5_TRY(H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL), e, path);
    } else if (!rc) {
        rc = H5_TRY(H5Sselect_none(fs), e, path) || H5_TRY(H5Sselect_none(ms), e, path) ? -1 : 0;
    }
    float *p = buf + lo * (cols > 0 ? cols : 1);
    /* every rank takes part in the transfer, also after a failure above (with nothing
     * selected it still joins the collective; a rank whose dataspaces failed cannot) */
    if (fs >= 0 && ms >= 0) {
        if (rc) {
            /* best effort to select nothing; the transfer result is ignored on this path */
            (void)H5Sselect_none(fs);
            (void)H5Sselect_none(ms);
        }
        if (write) rc |= H5_TRY(H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, xfer, p), e, path); /* collective */
        else rc |= H5_TRY(H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, xfer, p), e, path);        /* collective */
    }
    if (fs >= 0) rc |= H5_TRY(H5Sclose(fs), e, path);
    if (ms >= 0) rc |= H5_TRY(H5Sclose(ms), e, path);
    return rc;
}

/* A file access list for the MPI-IO driver on c, or H5I_INVALID_HID. */
static hid_t mpio_fapl(comm_t *c)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fapl_mpio(fapl, c->comm, MPI_INFO_NULL) < 0) {
        (void)H5Pclose(fapl); /* error path: the failure is already reported */
        fapl = H5I_INVALID_HID;
    }
    return fapl;
}

hid_t nt_h5_create(const char *tmp, comm_t *c)
{
    hid_t fapl = mpio_fapl(c);
    hid_t f = fapl >= 0 ? H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl) : H5I_INVALID_HID; /* collective */
    if (fapl >= 0 && H5Pclose(fapl) < 0 && f >= 0) {
        (void)H5Fclose(f); /* error path: the caller reports "cannot create" */
        f = H5I_INVALID_HID;
    }
    return f;
}

hid_t nt_h5_open(const char *path, comm_t *c)
{
    hid_t fapl = mpio_fapl(c);
    hid_t f = fapl >= 0 ? H5Fopen(path, H5F_ACC_RDONLY, fapl) : H5I_INVALID_HID; /* collective */
    if (fapl >= 0 && H5Pclose(fapl) < 0 && f >= 0) {
        (void)H5Fclose(f); /* error path: the caller reports "cannot open" */
        f = H5I_INVALID_HID;
    }
    return f;
}

int nt_h5_commit(hid_t f, const char *tmp, const char *path, int status, comm_t *c, nt_err *e)
{
    if (H5_TRY(H5Fclose(f), e, tmp)) status = -1; /* collective: all data is on disk after this */
    /* rename only when every rank succeeded, so PATH is always a complete file; every rank
     * returns the failure, the failing ones with their message */
    int first;
    if (comm_agree(c, status ? 1 : 0, &first) != 0) {
        if (c->rank == 0) remove(tmp);
        if (status && e && !e->msg[0]) nt_fail(e, "%s: write failed", tmp);
        return NT_EXIT_RUNTIME;
    }
    if (c->rank == 0 && rename(tmp, path) != 0)
        status = nt_fail(e, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    return status ? NT_EXIT_RUNTIME : 0;
}

int nt_model_save(const nn_model *m, const char *loss, const nt_input_norm *norm, const char *path,
                  comm_t *c, nt_err *e)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    nt_err_clear(e);
    hid_t f = nt_h5_create(tmp, c);
    if (f < 0) return nt_fail(e, "%s: cannot create", tmp);
    return nt_h5_commit(f, tmp, path, nt_model_write(f, m, loss, norm, c, tmp, e), c, e);
}

/* A 1-D float32 attribute (collective: every rank passes the same values). */
static int attr_vec(hid_t obj, const char *name, const float *v, int64_t n, const char *path, nt_err *e)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    int rc = H5_TRY(sp = H5Screate_simple(1, &dim, NULL), e, path) ||
             H5_TRY(a = H5Acreate2(obj, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT), e, path) ||
             H5_TRY(H5Awrite(a, H5T_NATIVE_FLOAT, v), e, path) ? -1 : 0;
    if (a >= 0) rc |= H5_TRY(H5Aclose(a), e, path);
    if (sp >= 0) rc |= H5_TRY(H5Sclose(sp), e, path);
    return rc;
}

int nt_norm_equal(const nt_input_norm *a, const nt_input_norm *b)
{
    if (!a->mean != !b->mean) return 0;
    if (!a->mean) return 1;
    size_t bytes = sizeof(float) * (size_t)a->d;
    return a->d == b->d && !memcmp(a->mean, b->mean, bytes) &&
           (!a->std || !b->std || !memcmp(a->std, b->std, bytes));
}

int nt_model_check_norm(hid_t f, const char *model_path, const char *data_path, const float *mean,
                        const float *std, int64_t d, nt_err *e)
{
    hid_t g = H5Gopen2(f, "model", H5P_DEFAULT); /* none: the model records no preparation */
    float *mm = NULL, *ms = NULL; /* the 1-D attribute reader of the dataset layout */
    int rc = g >= 0 && (layout_read_vec(g, model_path, "/model", "input_mean", d, &mm, e) ||
                        layout_read_vec(g, model_path, "/model", "input_std", d, &ms, e)) ? -1 : 0;
    if (g >= 0 && H5_TRY(H5Gclose(g), e, model_path)) rc = -1;
    const nt_input_norm model = {mm, ms, d, 0}, data = {mean, std, d, 0};
    if (rc || nt_norm_equal(&model, &data)) {
        /* a malformed attribute (rc, e set), or the same preparation */
    } else if (!mm)
        rc = nt_fail(e, "%s: /X is standardised (attributes mean, std) but %s was trained on "
                     "unstandardised inputs; use a copy without them (nndata standardize --remove)",
                     data_path, model_path);
    else if (!mean)
        rc = nt_fail(e, "%s: /X is not standardised but %s was trained on standardised inputs "
                     "(/model input_mean, input_std); run nndata standardize %s --stats-from "
                     "<the training file>", data_path, model_path, data_path);
    else
        rc = nt_fail(e, "%s: /X is standardised with other statistics than %s's training data; "
                     "run nndata standardize %s --stats-from <the training file>", data_path,
                     model_path, data_path);
    free(mm);
    free(ms);
    return rc;
}

/* One /model/layer{l} group: activation (and its parameter), weight, bias. */
static int layer_write(hid_t g, const nn_model *m, int l, hid_t xfer, comm_t *c, const char *path,
                       nt_err *e)
{
    const nn_layer *L = &m->layers[l];
    char name[32];
    snprintf(name, sizeof name, "layer%d", l);
    hid_t lg = H5I_INVALID_HID, ws = H5I_INVALID_HID, bs = H5I_INVALID_HID;
    hid_t dw = H5I_INVALID_HID, db = H5I_INVALID_HID;
    if (H5_TRY(lg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path)) /* collective */
        return -1;
    int status = nt_h5_attr_str(lg, "activation", nn_act_name(L->act), path, e);
    /* leaky_relu's slope / elu's alpha, so a reader can rebuild the layer exactly */
    if ((L->act == NN_ACT_LEAKY_RELU || L->act == NN_ACT_ELU) &&
        nt_h5_attr_float(lg, L->act == NN_ACT_ELU ? "alpha" : "negative_slope", L->act_param, path, e))
        status = -1;
    hsize_t wd[2] = {(hsize_t)L->out, (hsize_t)L->in}, bd = (hsize_t)L->out;
    int64_t lo, hi;
    nn_shard(L->out, L->out, c->size, c->rank, 0, &lo, &hi);
    if (H5_TRY(ws = H5Screate_simple(2, wd, NULL), e, path) ||
        H5_TRY(bs = H5Screate_simple(1, &bd, NULL), e, path) ||
        H5_TRY(dw = H5Dcreate2(lg, "weight", H5T_IEEE_F32LE, ws, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path) ||
        /* a layer without bias has no bias dataset */
        (L->has_bias &&
         H5_TRY(db = H5Dcreate2(lg, "bias", H5T_IEEE_F32LE, bs, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path)) ||
        nt_h5_rows_io(dw, 1, m->params + L->w_off, L->out, L->in, lo, hi, xfer, path, e) ||
        (L->has_bias && nt_h5_rows_io(db, 1, m->params + L->b_off, L->out, 0, lo, hi, xfer, path, e)))
        status = -1;
    if (dw >= 0) status |= H5_TRY(H5Dclose(dw), e, path);
    if (db >= 0) status |= H5_TRY(H5Dclose(db), e, path);
    if (ws >= 0) status |= H5_TRY(H5Sclose(ws), e, path);
    if (bs >= 0) status |= H5_TRY(H5Sclose(bs), e, path);
    status |= H5_TRY(H5Gclose(lg), e, path);
    return status;
}

int nt_model_write(hid_t f, const nn_model *m, const char *loss, const nt_input_norm *norm, comm_t *c,
                   const char *path, nt_err *e)
{
    int status = 0;
    hid_t xfer = H5I_INVALID_HID, g = H5I_INVALID_HID;
    if (H5_TRY(xfer = H5Pcreate(H5P_DATASET_XFER), e, path) ||
        H5_TRY(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), e, path) ||
        nt_h5_attr_int(f, "format_version", NT_MODEL_FORMAT_VERSION, path, e) ||
        nt_h5_attr_str(f, "nntrain_version", NN_VERSION, path, e))
        status = -1;
    if (H5_TRY(g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, path) || /* collective */
        nt_h5_attr_str(g, "loss", loss, path, e)) /* how to read the outputs */
        status = -1;
    if (g >= 0 && norm && norm->mean &&
        (attr_vec(g, "input_mean", norm->mean, norm->d, path, e) ||
         attr_vec(g, "input_std", norm->std, norm->d, path, e)))
        status = -1;
    if (g >= 0 && norm && norm->scale > 0 && nt_h5_attr_float(g, "input_scale", norm->scale, path, e))
        status = -1;
    for (int l = 0; l < m->nlayers && !status; l++)
        status = layer_write(g, m, l, xfer, c, path, e);
    if (g >= 0) status |= H5_TRY(H5Gclose(g), e, path);
    if (xfer >= 0) status |= H5_TRY(H5Pclose(xfer), e, path);
    return status;
}

int nt_model_load(nn_model *m, const char *path, comm_t *c, nt_err *e)
{
    hid_t f = nt_h5_open(path, c);
    if (f < 0) return nt_fail(e, "%s: cannot open as HDF5", path);
    int st = nt_model_read(f, path, m, e);
    if (H5_TRY(H5Fclose(f), e, path) && !st) st = NT_EXIT_INPUT; /* collective */
    return st;
}

/* The dimensions of dataset d (at most 2; unused ones stay as they are); returns the rank or
 * -1 with e set. */
static int dims_of(hid_t d, hsize_t dims[2], const char *path, nt_err *e)
{
    hid_t s = H5I_INVALID_HID;
    int nd = -1;
    if (!H5_TRY(s = H5Dget_space(d), e, path) && !H5_TRY(nd = H5Sget_simple_extent_ndims(s), e, path) &&
        nd <= 2 && H5_TRY(H5Sget_simple_extent_dims(s, dims, NULL), e, path))
        nd = -1;
    if (s >= 0 && H5_TRY(H5Sclose(s), e, path)) nd = -1;
    return nd;
}

int nt_model_read(hid_t f, const char *path, nn_model *m, nt_err *e)
{
    hid_t xfer = H5I_INVALID_HID;
    int status = H5_TRY(xfer = H5Pcreate(H5P_DATASET_XFER), e, path) ||
                 H5_TRY(H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE), e, path) ? -1 : 0;
    for (int l = 0; l < m->nlayers && !status; l++) {
        const nn_layer *L = &m->layers[l];
        char wn[64], bn[64];
        snprintf(wn, sizeof wn, "/model/layer%d/weight", l);
        snprintf(bn, sizeof bn, "/model/layer%d/bias", l);
        hid_t dw = H5Dopen2(f, wn, H5P_DEFAULT);
        hid_t db = L->has_bias ? H5Dopen2(f, bn, H5P_DEFAULT) : H5I_INVALID_HID;
        if (dw < 0 || (L->has_bias && db < 0)) {
            status = nt_fail(e, "%s: missing %s or %s", path, wn, bn);
        } else {
            hsize_t d[2] = {0, 0}, bd[2] = {(hsize_t)L->out, 0};
            int nd = dims_of(dw, d, path, e);
            if (nd < 0 || (L->has_bias && dims_of(db, bd, path, e) < 0))
                status = -1; /* e names the HDF5 call */
            else if (nd != 2 || d[0] != (hsize_t)L->out || d[1] != (hsize_t)L->in || bd[0] != (hsize_t)L->out)
                status = nt_fail(e, "%s: %s has shape (%llu, %llu), the model needs (%d, %d)", path,
                                 wn, (unsigned long long)d[0], (unsigned long long)d[1], L->out, L->in);
            else if (nt_h5_rows_io(dw, 0, m->params + L->w_off, L->out, L->in, 0, L->out, xfer, path, e) ||
                     (L->has_bias && nt_h5_rows_io(db, 0, m->params + L->b_off, L->out, 0, 0, L->out, xfer, path, e)))
                status = nt_fail(e, "%s: cannot read layer %d", path, l);
        }
        if (dw >= 0) status |= H5_TRY(H5Dclose(dw), e, path);
        if (db >= 0) status |= H5_TRY(H5Dclose(db), e, path);
    }
    if (xfer >= 0) status |= H5_TRY(H5Pclose(xfer), e, path);
    return status ? NT_EXIT_INPUT : 0;
}
