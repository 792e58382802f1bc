/* nntrain eval / predict: sharded inference over an HDF5 dataset with a stored model. */
#include "infer.h"
#include "check.h"
#include "dataset.h"
#include "model.h"
#include "modelio.h"
#include "pass.h"
#include "sampler.h"
#include "train.h"
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_BATCH 256

/* A scalar double attribute of obj into *v when present (else *v is unchanged). */
static int opt_double_attr(hid_t obj, const char *name, double *v, const char *path, nt_err *e)
{
    htri_t has = H5Aexists(obj, name);
    if (has <= 0) return H5_TRY(has, e, path);
    return nt_h5_read_attr1(obj, name, H5T_NATIVE_DOUBLE, v, path, e); /* one value only */
}

/* What a model.h5 says of layer L (group lg): its weight's (out, in) (0, 0 when there is no
 * weight: the configuration check then names the problem), whether it has a bias, its
 * activation (malloc'd, or NULL) and the activation parameters when stored. */
static int layer_info(hid_t lg, const char *path, hsize_t dims[2], int *bias, char **act,
                      double *slope, double *alpha, nt_err *e)
{
    int rc = 0;
    hid_t d = H5Dopen2(lg, "weight", H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5I_INVALID_HID;
        int nd = -1;
        if (H5_TRY(sp = H5Dget_space(d), e, path) || H5_TRY(nd = H5Sget_simple_extent_ndims(sp), e, path) ||
            (nd <= 2 && H5_TRY(H5Sget_simple_extent_dims(sp, dims, NULL), e, path)))
            rc = -1;
        if (sp >= 0) rc |= H5_TRY(H5Sclose(sp), e, path);
        rc |= H5_TRY(H5Dclose(d), e, path);
    }
    htri_t hb = H5Lexists(lg, "bias", H5P_DEFAULT);
    rc |= H5_TRY(hb, e, path);
    *bias &= hb > 0;
    *act = nt_h5_read_str(lg, "activation");
    rc |= opt_double_attr(lg, "negative_slope", slope, path, e);
    rc |= opt_double_attr(lg, "alpha", alpha, path, e);
    return rc;
}

/* The configuration text of a model.h5 (ours or exported with h5py), rebuilt from its shapes
 * and attributes. Returns 0, or -1 with e set. */
static int config_from_model(hid_t f, const char *path, const char *loss_override, nt_config *cfg,
                             nt_err *e)
{
    char ini[8192], acts[2048] = "", sizes[1024] = "";
    hid_t mg;
    if (H5_TRY(mg = H5Gopen2(f, "model", H5P_DEFAULT), e, path)) return -1;
    char *loss = nt_h5_read_str(mg, "loss");
    int L = 0, bias = 1, in0 = 0, k = 0, rc = 0;
    double slope = 0.01, alpha = 1.0;
    for (;; L++) {
        char name[64];
        snprintf(name, sizeof name, "layer%d", L);
        htri_t has = H5Lexists(mg, name, H5P_DEFAULT);
        if (has <= 0) { rc = H5_TRY(has, e, path); break; }
        hid_t lg;
        if (H5_TRY(lg = H5Gopen2(mg, name, H5P_DEFAULT), e, path)) { rc = -1; break; }
        hsize_t dims[2] = {0, 0};
        char *act = NULL;
        rc = layer_info(lg, path, dims, &bias, &act, &slope, &alpha, e);
        rc |= H5_TRY(H5Gclose(lg), e, path);
        if (L == 0) in0 = (int)dims[1];
        k = (int)dims[0];
        size_t n = strlen(acts), ns = strlen(sizes);
        snprintf(acts + n, sizeof acts - n, "%s%s", L ? ", " : "", act ? act : "identity");
        if (L == 0) snprintf(sizes + ns, sizeof sizes - ns, "%d", in0), ns = strlen(sizes);
        snprintf(sizes + ns, sizeof sizes - ns, ", %d", k);
        free(act);
        if (rc) break;
    }
    rc |= H5_TRY(H5Gclose(mg), e, path);
    const char *lname = loss_override ? loss_override
                        : loss ? loss : (k == 1 ? "bce_with_logits" : "cross_entropy");
    if (rc) {
        /* e names the HDF5 call */
    } else if (L == 0) {
        rc = nt_fail(e, "%s: /model has no layer0", path);
    } else {
        snprintf(ini, sizeof ini, "[model]\nlayers = %s\nactivations = %s\nbias = %s\n"
                 "leaky_slope = %.17g\nelu_alpha = %.17g\n[loss]\nname = %s\n", sizes, acts,
                 bias ? "true" : "false", slope, alpha, lname);
        rc = nt_config_parse_string(cfg, ini, path, e) ? -1 : 0;
    }
    free(loss);
    return rc;
}

int nt_model_config_from_file(const char *path, const char *loss_override, nt_config *cfg,
                              comm_t *c, nt_err *e)
{
    /* errors are reported through e, once; HDF5's own stack printing stays off */
    (void)H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!nt_path_exists(path)) return nt_agree(c, (nt_fail(e, "%s: no such file", path), NT_EXIT_INPUT), e);
    hid_t f = nt_h5_open(path, c);
    if (f < 0) return nt_agree(c, (nt_fail(e, "%s: not an HDF5 file", path), NT_EXIT_INPUT), e);
    nt_err_clear(e);
    int st = 0;
    char *text = NULL;
    htri_t has_config = H5Lexists(f, "config", H5P_DEFAULT);
    if (has_config > 0) {
        hid_t g;
        if (H5_TRY(g = H5Gopen2(f, "config", H5P_DEFAULT), e, path)) {
            st = -1;
        } else {
            text = nt_h5_read_str(g, "text");
            st = H5_TRY(H5Gclose(g), e, path);
        }
    }
    htri_t has_model = st || text ? 0 : H5Lexists(f, "model", H5P_DEFAULT);
    if (st || H5_TRY(has_config, e, path) || H5_TRY(has_model, e, path)) {
        st = -1; /* e names the HDF5 call */
    } else if (text) { /* a checkpoint: its full configuration */
        st = nt_config_parse_string(cfg, text, path, e) ? -1 : 0;
    } else if (has_model == 0) {
        st = nt_fail(e, "%s: no /model group (not an nntrain model or checkpoint)", path);
    } else { /* a model.h5 (ours or exported with h5py): rebuild from shapes and attributes */
        st = config_from_model(f, path, loss_override, cfg, e);
    }
    free(text);
    if (H5_TRY(H5Fclose(f), e, path)) st = -1; /* collective */
    return nt_agree(c, st ? NT_EXIT_INPUT : 0, e);
}

/* Shared set-up: model from the file, parameters loaded, data opened and checked. */
typedef struct {
    nt_config cfg;
    nn_model m;
    nt_data data;
    nt_pass pass;
    int K, classes, regression, model_ok, data_ok;
    float *x, *t;
    int32_t *y;
} infer_ctx;

static void ctx_free(infer_ctx *x)
{
    nt_pass_free(&x->pass);
    if (x->data_ok) nt_data_close(&x->data);
    if (x->model_ok) nn_model_free(&x->m);
    free(x->x); free(x->t); free(x->y);
}

static int ctx_init(infer_ctx *x, const nt_infer_opts *o, comm_t *c, nt_err *e)
{
    memset(x, 0, sizeof *x);
    int st = nt_model_config_from_file(o->checkpoint, o->loss, &x->cfg, c, e);
    if (st) return st;
    const int L = x->cfg.nsizes - 1, D = x->cfg.sizes[0];
    x->K = x->cfg.sizes[L];
    x->regression = nn_loss_is_regression(x->cfg.loss.kind);
    x->classes = x->cfg.loss.kind == NN_LOSS_BCE_WITH_LOGITS ? 2 : x->K;
    nn_model_spec sp = nt_config_model_spec(&x->cfg, EVAL_BATCH, 0);
    sp.dropout = NULL; /* inference */
    st = nn_model_create_spec(&x->m, &sp) ? NT_EXIT_RUNTIME : 0;
    if ((st = nt_agree(c, st ? (nt_fail(e, "out of memory"), st) : 0, e))) return st;
    x->model_ok = 1;
    /* one open of the model file: the parameters, then (with the data's attributes) the
     * standardisation it was trained with */
    hid_t f = nt_h5_open(o->checkpoint, c); /* collective; it opened above, so it opens here */
    st = f < 0 ? nt_fail(e, "%s: cannot open as HDF5", o->checkpoint) : nt_model_read(f, o->checkpoint, &x->m, e);
    if (!(st = nt_agree(c, st ? NT_EXIT_INPUT : 0, e)) &&
        !(st = nt_open_dataset(&x->data, o->data, D, x->K, &x->cfg.loss, c, e))) {
        x->data_ok = 1;
        st = nt_model_check_norm(f, o->checkpoint, o->data, x->data.mean, x->data.std, D, e);
        st = nt_agree(c, st ? NT_EXIT_INPUT : 0, e);
    }
    /* collective; a failure to close a file only read from is reported like a failed read */
    int closed = f < 0 || !H5_TRY(H5Fclose(f), e, o->checkpoint);
    if (!st) st = nt_agree(c, closed ? 0 : NT_EXIT_INPUT, e);
    if (st) return st;
    x->x = malloc(sizeof(float) * EVAL_BATCH * (size_t)D);
    x->t = malloc(sizeof(float) * EVAL_BATCH * (size_t)x->K);
    x->y = malloc(sizeof(int32_t) * EVAL_BATCH);
    st = !x->x || !x->t || !x->y ? nt_fail(e, "out of memory") : 0;
    /* windows bounded by --cache-mb, as [data] cache_mb bounds training reads */
    double row_bytes = (double)D * (x->data.x_u8 ? 1 : 4) + 4.0 * (double)x->data.k;
    int64_t cap = (int64_t)fmax(1.0, (o->cache_mb > 0 ? o->cache_mb : 1024) * 1048576.0 / row_bytes);
    if (!st) st = nt_pass_init(&x->pass, &x->data, NULL, x->data.n, cap, 0, c, e);
    return nt_agree(c, st ? NT_EXIT_RUNTIME : 0, e);
}

static int predicted_class(const float *z, int K)
{
    if (K == 1) return z[0] > 0;
    int arg = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[arg]) arg = k;
    return arg;
}

/* Class k's precision, recall, F1 and support from the C x C confusion matrix cm (rows:
 * true class, columns: predicted), for the console table and the CSV alike. */
static void class_scores(const double *cm, int C, int k, double out[4])
{
    double tp = cm[(size_t)k * C + k], pred = 0, real = 0;
    for (int j = 0; j < C; j++) {
        pred += cm[(size_t)j * C + k];
        real += cm[(size_t)k * C + j];
    }
    double p = pred > 0 ? tp / pred : 0, r = real > 0 ? tp / real : 0;
    out[0] = p;
    out[1] = r;
    out[2] = p + r > 0 ? 2 * p * r / (p + r) : 0;
    out[3] = real;
}

/* eval: loss, metric sums, row count and the confusion matrix of each batch */
typedef struct { infer_ctx *x; double *sum; } eval_acc;

static void eval_batch(void *user, int64_t set_index, int64_t win_index, int nb)
{
    eval_acc *a = user;
    infer_ctx *x = a->x;
    const int C = x->classes;
    const float *z = nn_forward(&x->m, x->x, nb);
    a->sum[0] += nn_loss_eval(NULL, z, x->y, x->t, nb, x->K, &x->cfg.loss, 1, &a->sum[1]);
    a->sum[3] += nb;
    for (int r = 0; !x->regression && r < nb; r++)
        a->sum[4 + (size_t)x->y[r] * C + predicted_class(z + (size_t)r * x->K, x->K)] += 1;
}

int nt_eval(const nt_infer_opts *o, comm_t *c)
{
    nt_err e = {{0}};
    infer_ctx x;
    int st = ctx_init(&x, o, c, &e);
    const int C = x.classes;
    /* sums: loss, m0, m1, rows, then the C x C confusion matrix (true row, predicted column) */
    size_t nsum = 4 + (size_t)C * C;
    double *sum = st ? NULL : calloc(nsum, sizeof(double));
    if (!st && !sum) st = nt_agree(c, (nt_fail(&e, "out of memory"), NT_EXIT_RUNTIME), &e);
    eval_acc acc = {&x, sum};
    if (!st) st = nt_agree(c, nt_pass_run(&x.pass, x.x, x.y, x.t, EVAL_BATCH, eval_batch, NULL, &acc, &e), &e);
    if (!st && comm_allreduce_double(c, sum, nsum, COMM_SUM) != MPI_SUCCESS)
        st = nt_agree(c, (nt_fail(&e, "MPI_Allreduce failed"), NT_EXIT_RUNTIME), &e);
    if (!st && c->rank == 0) {
        double n = sum[3];
        printf("%s on %s: %.0f rows\nloss %.6f\n", o->checkpoint, o->data, n, sum[0] / n);
        if (x.regression) {
            printf("rmse %.6f\nmae %.6f\n", sqrt(sum[1] / (n * x.K)), sum[2] / (n * x.K));
        } else {
            printf("accuracy %.6f\n\n%-8s %10s %10s %10s %10s\n", sum[1] / n, "class", "precision",
                   "recall", "f1", "support");
            for (int k = 0; k < C; k++) {
                double sc[4];
                class_scores(sum + 4, C, k, sc);
                printf("%-8d %10.4f %10.4f %10.4f %10.0f\n", k, sc[0], sc[1], sc[2], sc[3]);
            }
            printf("\nconfusion matrix (rows: true class, columns: predicted)\n");
            for (int k = 0; k < C; k++) {
                for (int j = 0; j < C; j++) printf("%s%6.0f", j ? " " : "", sum[4 + (size_t)k * C + j]);
                printf("\n");
            }
        }
        if (o->out) {
            FILE *f = fopen(o->out, "w");
            if (!f) {
                fprintf(stderr, "nntrain: error: %s: cannot create\n", o->out);
                st = NT_EXIT_RUNTIME;
            } else {
                if (x.regression) {
                    fprintf(f, "loss,rmse,mae,rows\n%.9g,%.9g,%.9g,%.0f\n", sum[0] / n,
                            sqrt(sum[1] / (n * x.K)), sum[2] / (n * x.K), n);
                } else {
                    fprintf(f, "class,precision,recall,f1,support");
                    for (int j = 0; j < C; j++) fprintf(f, ",pred_%d", j);
                    fprintf(f, "\n");
                    for (int k = 0; k < C; k++) {
                        double sc[4];
                        class_scores(sum + 4, C, k, sc);
                        fprintf(f, "%d,%.9g,%.9g,%.9g,%.0f", k, sc[0], sc[1], sc[2], sc[3]);
                        for (int j = 0; j < C; j++) fprintf(f, ",%.0f", sum[4 + (size_t)k * C + j]);
                        fprintf(f, "\n");
                    }
                }
                fclose(f);
            }
        }
    }
    /* rank 0 wrote the report: its status is everybody's */
    if (MPI_TRY(comm_bcast_bytes(c, &st, sizeof st, 0), &e, o->checkpoint)) {
        fprintf(stderr, "nntrain: error: %s\n", e.msg);
        st = NT_EXIT_RUNTIME;
    }
    free(sum);
    ctx_free(&x);
    return st;
}

/* predict: outputs of each batch into the window's buffers, then collective writes */
typedef struct {
    infer_ctx *x;
    hid_t dp, dn, xfer;
    float *prob;
    int32_t *pred;
    const char *path; /* the .tmp being written, for error messages */
    nt_err *e;
} predict_acc;

static void predict_batch(void *user, int64_t set_index, int64_t win_index, int nb)
{
    predict_acc *a = user;
    infer_ctx *x = a->x;
    const int K = x->K;
    const float *z = nn_forward(&x->m, x->x, nb);
    for (int r = 0; r < nb; r++) {
        const float *zr = z + (size_t)r * K;
        float *pr = a->prob + (size_t)(win_index + r) * K;
        if (x->regression) {
            memcpy(pr, zr, sizeof(float) * K);
        } else if (K == 1) {
            pr[0] = zr[0] >= 0 ? 1 / (1 + expf(-zr[0])) : expf(zr[0]) / (1 + expf(zr[0]));
        } else {
            float mx = zr[0], s = 0;
            for (int k = 1; k < K; k++) mx = zr[k] > mx ? zr[k] : mx;
            for (int k = 0; k < K; k++) s += pr[k] = expf(zr[k] - mx);
            for (int k = 0; k < K; k++) pr[k] /= s;
        }
        a->pred[win_index + r] = predicted_class(zr, K);
    }
}

/* Rows [a, a + cnt) of /probabilities (or /outputs) and /predictions: collective writes. */
static int write_rows(hid_t d, hid_t mtype, int64_t a, int64_t cnt, int64_t cols, hid_t xfer,
                      const void *buf, const char *path, nt_err *e)
{
    hsize_t st[2] = {(hsize_t)(cnt ? a : 0), 0}, ct[2] = {(hsize_t)cnt, (hsize_t)cols};
    hsize_t md[2] = {(hsize_t)(cnt ? cnt : 1), (hsize_t)cols};
    hid_t fsp = H5I_INVALID_HID, msp = H5I_INVALID_HID;
    int rc = H5_TRY(fsp = H5Dget_space(d), e, path) ||
             H5_TRY(msp = H5Screate_simple(cols > 0 ? 2 : 1, md, NULL), e, path) ? -1 : 0;
    if (!rc && cnt) rc = H5_TRY(H5Sselect_hyperslab(fsp, H5S_SELECT_SET, st, NULL, ct, NULL), e, path);
    else if (!rc) rc = H5_TRY(H5Sselect_none(fsp), e, path) || H5_TRY(H5Sselect_none(msp), e, path) ? -1 : 0;
    if (fsp >= 0 && msp >= 0) rc |= H5_TRY(H5Dwrite(d, mtype, msp, fsp, xfer, buf), e, path); /* collective */
    if (fsp >= 0) rc |= H5_TRY(H5Sclose(fsp), e, path);
    if (msp >= 0) rc |= H5_TRY(H5Sclose(msp), e, path);
    return rc;
}

static int predict_window(void *user, int64_t a, int64_t cnt)
{
    predict_acc *p = user;
    int rc = p->dp >= 0 ? write_rows(p->dp, H5T_NATIVE_FLOAT, a, cnt, p->x->K, p->xfer, p->prob,
                                     p->path, p->e) : -1;
    if (p->dn >= 0 && write_rows(p->dn, H5T_NATIVE_INT32, a, cnt, 0, p->xfer, p->pred, p->path, p->e))
        rc = -1;
    return rc;
}

/* The output datasets of predict in f (collective): classification /probabilities (softmax,
 * or sigmoid for one logit) and /predictions; regression /outputs. */
static int predict_create(hid_t f, predict_acc *pa, int64_t N, int K, int regression, const char *tmp,
                          nt_err *e)
{
    hsize_t pd[2] = {(hsize_t)N, (hsize_t)K}, nd = (hsize_t)N;
    hid_t ps = H5I_INVALID_HID, ns = H5I_INVALID_HID;
    int rc = H5_TRY(ps = H5Screate_simple(2, pd, NULL), e, tmp) ||
             H5_TRY(ns = H5Screate_simple(1, &nd, NULL), e, tmp) ||
             H5_TRY(pa->dp = H5Dcreate2(f, regression ? "outputs" : "probabilities", H5T_IEEE_F32LE, ps,
                                        H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), e, tmp) || /* collective */
             (!regression && H5_TRY(pa->dn = H5Dcreate2(f, "predictions", H5T_STD_I32LE, ns, H5P_DEFAULT,
                                                        H5P_DEFAULT, H5P_DEFAULT), e, tmp)) || /* collective */
             H5_TRY(pa->xfer = H5Pcreate(H5P_DATASET_XFER), e, tmp) ||
             H5_TRY(H5Pset_dxpl_mpio(pa->xfer, H5FD_MPIO_COLLECTIVE), e, tmp) ? -1 : 0;
    if (ps >= 0) rc |= H5_TRY(H5Sclose(ps), e, tmp);
    if (ns >= 0) rc |= H5_TRY(H5Sclose(ns), e, tmp);
    return rc;
}

int nt_predict(const nt_infer_opts *o, comm_t *c)
{
    nt_err e = {{0}};
    if (!o->out) {
        fprintf(stderr, "nntrain: error: predict needs --out FILE.h5\n");
        return NT_EXIT_USAGE;
    }
    int st = !o->overwrite && nt_path_exists(o->out)
                 ? (nt_fail(&e, "%s: exists; pass --overwrite to replace it", o->out), NT_EXIT_INPUT) : 0;
    if ((st = nt_agree(c, st, &e))) return st;
    infer_ctx x;
    if ((st = ctx_init(&x, o, c, &e))) { ctx_free(&x); return st; }
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", o->out);
    hid_t f = nt_h5_create(tmp, c);
    if ((st = nt_agree(c, f < 0 ? (nt_fail(&e, "%s: cannot create", tmp), NT_EXIT_RUNTIME) : 0, &e))) {
        ctx_free(&x);
        return st;
    }
    const int K = x.K;
    const int64_t N = x.data.n;
    predict_acc pa = {&x, H5I_INVALID_HID, H5I_INVALID_HID, H5I_INVALID_HID,
                      malloc(sizeof(float) * (size_t)x.pass.per_window * K),
                      malloc(sizeof(int32_t) * (size_t)x.pass.per_window), tmp, &e};
    int status = predict_create(f, &pa, N, K, x.regression, tmp, &e) ? 1 : 0;
    if (!status && (!pa.prob || !pa.pred)) status = 1;
    if (status && !e.msg[0]) nt_fail(&e, "%s: cannot create the output datasets", tmp);
    /* on a failure this rank passes no rows but still joins every collective write */
    if (status) x.pass.lo = x.pass.hi;
    int rs = nt_pass_run(&x.pass, x.x, x.y, x.t, EVAL_BATCH, predict_batch, predict_window, &pa, &e);
    if (!status) status = rs;
    free(pa.prob); free(pa.pred);
    if (pa.xfer >= 0 && H5_TRY(H5Pclose(pa.xfer), &e, tmp) && !status) status = NT_EXIT_RUNTIME;
    if (pa.dp >= 0 && H5_TRY(H5Dclose(pa.dp), &e, tmp) && !status) status = NT_EXIT_RUNTIME;
    if (pa.dn >= 0 && H5_TRY(H5Dclose(pa.dn), &e, tmp) && !status) status = NT_EXIT_RUNTIME;
    int first, bad = comm_agree(c, status, &first);
    if (bad && c->rank == first && e.msg[0]) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    st = nt_h5_commit(f, tmp, o->out, status ? -1 : 0, c, &e);
    if (bad) {
        /* the job stops with the error above; a failed barrier changes nothing of that */
        (void)comm_barrier(c);
        ctx_free(&x);
        return NT_EXIT_INPUT;
    }
    st = nt_agree(c, st, &e);
    if (!st && !o->quiet)
        log0(c, "%s: %lld rows -> %s (%s%s)\n", o->data, (long long)N, o->out,
             x.regression ? "/outputs" : "/probabilities", x.regression ? "" : ", /predictions");
    ctx_free(&x);
    return st;
}
