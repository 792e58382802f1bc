/* Collective parallel-HDF5 write and read of the model layout. */
#include "modelio.h"
#include "layout.h"
#include "sampler.h"
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int nt_h5_attr_str(hid_t obj, const char *name, const char *val)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    herr_t st = a >= 0 ? H5Awrite(a, t, val) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return st < 0 ? -1 : 0;
}

int nt_h5_attr_num(hid_t obj, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, s, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    herr_t st = a >= 0 ? H5Awrite(a, mtype, v) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    return st < 0 ? -1 : 0;
}

int nt_h5_attr_float(hid_t obj, const char *name, float val)
{
    return nt_h5_attr_num(obj, name, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &val);
}

int nt_h5_attr_int(hid_t obj, const char *name, int val)
{
    return nt_h5_attr_num(obj, name, H5T_STD_I32LE, H5T_NATIVE_INT, &val);
}

char *nt_h5_read_str(hid_t obj, const char *name)
{
    if (H5Aexists(obj, name) <= 0) return NULL;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    char *out = NULL;
    if (H5Tis_variable_str(t) > 0) { /* h5py writes variable-length strings */
        char *v = NULL;
        H5Tset_size(mt, H5T_VARIABLE);
        if (H5Aread(a, mt, &v) >= 0 && v) { out = strdup(v); H5free_memory(v); }
    } else {
        size_t n = H5Tget_size(t);
        out = calloc(n + 1, 1);
        H5Tset_size(mt, n + 1);
        if (out && H5Aread(a, mt, out) < 0) { free(out); out = NULL; }
    }
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

/* Rows [lo,hi) of a (rows, cols) float tensor go to/from the same rows of dataset d. */
int nt_h5_rows_io(hid_t d, int write, float *buf, int64_t rows, int64_t cols, int64_t lo,
                   int64_t hi, hid_t xfer)
{
    int rank = cols > 0 ? 2 : 1;
    hid_t fs = H5Dget_space(d);
    hsize_t mdim[2] = {(hsize_t)(hi > lo ? hi - lo : 1), (hsize_t)cols};
    hid_t ms = H5Screate_simple(rank, mdim, NULL);
    if (hi > lo) {
        hsize_t start[2] = {(hsize_t)lo, 0}, cnt[2] = {(hsize_t)(hi - lo), (hsize_t)cols};
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, cnt, NULL);
    } else {
        H5Sselect_none(fs);
        H5Sselect_none(ms);
    }
    float *p = buf + lo * (cols > 0 ? cols : 1);
    herr_t st = write ? H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, xfer, p)   /* collective */
                      : H5Dread(d, H5T_NATIVE_FLOAT, ms, fs, xfer, p);   /* collective */
    H5Sclose(fs);
    H5Sclose(ms);
    return st < 0 ? -1 : 0;
}

hid_t nt_h5_create(const char *tmp, comm_t *c)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, c->comm, MPI_INFO_NULL);
    hid_t f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl); /* collective */
    H5Pclose(fapl);
    return f;
}

hid_t nt_h5_open(const char *path, comm_t *c)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fapl_mpio(fapl, c->comm, MPI_INFO_NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl); /* collective */
    H5Pclose(fapl);
    return f;
}

int nt_h5_commit(hid_t f, const char *tmp, const char *path, int status, comm_t *c, nt_err *e)
{
    if (H5Fclose(f) < 0) status = -1; /* collective: all data is on disk after this */
    /* rename only when every rank succeeded, so PATH is always a complete file */
    int first;
    if (comm_agree(c, status ? 1 : 0, &first) != 0) {
        if (c->rank == 0) remove(tmp);
        return status ? nt_fail(e, "%s: write failed", tmp) : 0;
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
    hid_t f = nt_h5_create(tmp, c);
    if (f < 0) return nt_fail(e, "%s: cannot create", tmp);
    return nt_h5_commit(f, tmp, path, nt_model_write(f, m, loss, norm, c), c, e);
}

/* A 1-D float32 attribute (collective: every rank passes the same values). */
static int attr_vec(hid_t obj, const char *name, const float *v, int64_t n)
{
    hsize_t dim = (hsize_t)n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t a = sp >= 0 ? H5Acreate2(obj, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT) : -1;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_FLOAT, v) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
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
    hid_t g = H5Gopen2(f, "model", H5P_DEFAULT);
    float *mm = NULL, *ms = NULL; /* the 1-D attribute reader of the dataset layout */
    int rc = g >= 0 && (layout_read_vec(g, model_path, "/model", "input_mean", d, &mm, e) ||
                        layout_read_vec(g, model_path, "/model", "input_std", d, &ms, e)) ? -1 : 0;
    if (g >= 0) H5Gclose(g);
    const nt_input_norm model = {mm, ms, d}, data = {mean, std, d};
    if (rc || nt_norm_equal(&model, &data))
        ; /* a malformed attribute (rc, e set), or the same preparation */
    else if (!mm)
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

int nt_model_write(hid_t f, const nn_model *m, const char *loss, const nt_input_norm *norm, comm_t *c)
{
    int status = 0;
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    if (nt_h5_attr_int(f, "format_version", NT_MODEL_FORMAT_VERSION) ||
        nt_h5_attr_str(f, "nntrain_version", NN_VERSION))
        status = -1;
    hid_t g = H5Gcreate2(f, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    if (g < 0 || nt_h5_attr_str(g, "loss", loss)) status = -1; /* how to read the outputs */
    if (g >= 0 && norm && norm->mean &&
        (attr_vec(g, "input_mean", norm->mean, norm->d) || attr_vec(g, "input_std", norm->std, norm->d)))
        status = -1;
    for (int l = 0; l < m->nlayers && !status; l++) {
        const nn_layer *L = &m->layers[l];
        char name[32];
        snprintf(name, sizeof name, "layer%d", l);
        hid_t lg = H5Gcreate2(g, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
        if (lg < 0) { status = -1; break; }
        if (nt_h5_attr_str(lg, "activation", nn_act_name(L->act))) status = -1;
        /* leaky_relu's slope / elu's alpha, so a reader can rebuild the layer exactly */
        if ((L->act == NN_ACT_LEAKY_RELU || L->act == NN_ACT_ELU) &&
            nt_h5_attr_float(lg, L->act == NN_ACT_ELU ? "alpha" : "negative_slope", L->act_param))
            status = -1;
        hsize_t wd[2] = {(hsize_t)L->out, (hsize_t)L->in}, bd = (hsize_t)L->out;
        hid_t ws = H5Screate_simple(2, wd, NULL), bs = H5Screate_simple(1, &bd, NULL);
        hid_t dw = H5Dcreate2(lg, "weight", H5T_IEEE_F32LE, ws, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        /* a layer without bias has no bias dataset */
        hid_t db = L->has_bias ? H5Dcreate2(lg, "bias", H5T_IEEE_F32LE, bs, H5P_DEFAULT,
                                            H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
        int64_t lo, hi;
        nn_shard(L->out, L->out, c->size, c->rank, 0, &lo, &hi);
        if (dw < 0 || (L->has_bias && db < 0) ||
            nt_h5_rows_io(dw, 1, m->params + L->w_off, L->out, L->in, lo, hi, xfer) ||
            (L->has_bias && nt_h5_rows_io(db, 1, m->params + L->b_off, L->out, 0, lo, hi, xfer)))
            status = -1;
        if (dw >= 0) H5Dclose(dw);
        if (db >= 0) H5Dclose(db);
        H5Sclose(ws);
        H5Sclose(bs);
        H5Gclose(lg);
    }
    if (g >= 0) H5Gclose(g);
    H5Pclose(xfer);
    return status;
}

int nt_model_load(nn_model *m, const char *path, comm_t *c, nt_err *e)
{
    hid_t f = nt_h5_open(path, c);
    if (f < 0) return nt_fail(e, "%s: cannot open as HDF5", path);
    int st = nt_model_read(f, path, m, e);
    H5Fclose(f); /* collective */
    return st;
}

int nt_model_read(hid_t f, const char *path, nn_model *m, nt_err *e)
{
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    int status = 0;
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
            hsize_t d[2] = {0, 0}, bd = 0;
            hid_t s = H5Dget_space(dw);
            int nd = H5Sget_simple_extent_dims(s, d, NULL);
            H5Sclose(s);
            if (L->has_bias) {
                s = H5Dget_space(db);
                H5Sget_simple_extent_dims(s, &bd, NULL);
                H5Sclose(s);
            } else {
                bd = (hsize_t)L->out;
            }
            if (nd != 2 || d[0] != (hsize_t)L->out || d[1] != (hsize_t)L->in || bd != (hsize_t)L->out)
                status = nt_fail(e, "%s: %s has shape (%llu, %llu), the model needs (%d, %d)", path,
                                 wn, (unsigned long long)d[0], (unsigned long long)d[1], L->out, L->in);
            else if (nt_h5_rows_io(dw, 0, m->params + L->w_off, L->out, L->in, 0, L->out, xfer) ||
                     (L->has_bias && nt_h5_rows_io(db, 0, m->params + L->b_off, L->out, 0, 0, L->out, xfer)))
                status = nt_fail(e, "%s: cannot read layer %d", path, l);
        }
        if (dw >= 0) H5Dclose(dw);
        if (db >= 0) H5Dclose(db);
    }
    H5Pclose(xfer);
    return status ? NT_EXIT_INPUT : 0;
}
