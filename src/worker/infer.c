/* nntrain eval / predict: sharded inference over an HDF5 dataset with a stored model. */
#include "infer.h"
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

int nt_model_config_from_file(const char *path, const char *loss_override, nt_config *cfg,
                              comm_t *c, nt_err *e)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!nt_path_exists(path)) return nt_agree(c, (nt_fail(e, "%s: no such file", path), NT_EXIT_INPUT), e);
    hid_t f = nt_h5_open(path, c);
    if (f < 0) return nt_agree(c, (nt_fail(e, "%s: not an HDF5 file", path), NT_EXIT_INPUT), e);
    int st = 0;
    char *text = NULL;
    if (H5Lexists(f, "config", H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, "config", H5P_DEFAULT);
        text = nt_h5_read_str(g, "text");
        H5Gclose(g);
    }
    if (text) { /* a checkpoint: its full configuration */
        st = nt_config_parse_string(cfg, text, path, e) ? -1 : 0;
        free(text);
    } else if (H5Lexists(f, "model", H5P_DEFAULT) <= 0) {
        st = nt_fail(e, "%s: no /model group (not an nntrain model or checkpoint)", path);
    } else { /* a model.h5 (ours or exported with h5py): rebuild from shapes and attributes */
        char ini[8192], acts[2048] = "", sizes[1024] = "";
        hid_t mg = H5Gopen2(f, "model", H5P_DEFAULT);
        char *loss = nt_h5_read_str(mg, "loss");
        int L = 0, bias = 1, in0 = 0, k = 0;
        double slope = 0.01, alpha = 1.0;
        for (;; L++) {
            char name[64];
            snprintf(name, sizeof name, "layer%d", L);
            if (H5Lexists(mg, name, H5P_DEFAULT) <= 0) break;
            hid_t lg = H5Gopen2(mg, name, H5P_DEFAULT);
            hid_t d = H5Dopen2(lg, "weight", H5P_DEFAULT);
            hsize_t dims[2] = {0, 0};
            if (d >= 0) {
                hid_t sp = H5Dget_space(d);
                H5Sget_simple_extent_dims(sp, dims, NULL);
                H5Sclose(sp);
                H5Dclose(d);
            }
            if (L == 0) in0 = (int)dims[1];
            k = (int)dims[0];
            bias &= H5Lexists(lg, "bias", H5P_DEFAULT) > 0;
            char *act = nt_h5_read_str(lg, "activation");
            if (H5Aexists(lg, "negative_slope") > 0) {
                hid_t a = H5Aopen(lg, "negative_slope", H5P_DEFAULT);
                H5Aread(a, H5T_NATIVE_DOUBLE, &slope);
                H5Aclose(a);
            }
            if (H5Aexists(lg, "alpha") > 0) {
                hid_t a = H5Aopen(lg, "alpha", H5P_DEFAULT);
                H5Aread(a, H5T_NATIVE_DOUBLE, &alpha);
                H5Aclose(a);
            }
            size_t n = strlen(acts), ns = strlen(sizes);
            snprintf(acts + n, sizeof acts - n, "%s%s", L ? ", " : "", act ? act : "identity");
            if (L == 0) snprintf(sizes + ns, sizeof sizes - ns, "%d", in0), ns = strlen(sizes);
            snprintf(sizes + ns, sizeof sizes - ns, ", %d", k);
            free(act);
            H5Gclose(lg);
        }
        H5Gclose(mg);
        const char *lname = loss_override ? loss_override
                            : loss ? loss : (k == 1 ? "bce_with_logits" : "cross_entropy");
        if (L == 0) st = nt_fail(e, "%s: /model has no layer0", path);
        else {
            snprintf(ini, sizeof ini, "[model]\nlayers = %s\nactivations = %s\nbias = %s\n"
                     "leaky_slope = %.17g\nelu_alpha = %.17g\n[loss]\nname = %s\n", sizes, acts,
                     bias ? "true" : "false", slope, alpha, lname);
            st = nt_config_parse_string(cfg, ini, path, e) ? -1 : 0;
        }
        free(loss);
    }
    H5Fclose(f); /* collective */
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
    if (f >= 0) H5Fclose(f); /* collective */
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
    if (!st && comm_allreduce_sum_double(c, sum, nsum) != MPI_SUCCESS)
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
    MPI_Bcast(&st, 1, MPI_INT, 0, c->comm);
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
                      const void *buf)
{
    hsize_t st[2] = {(hsize_t)(cnt ? a : 0), 0}, ct[2] = {(hsize_t)cnt, (hsize_t)cols};
    hsize_t md[2] = {(hsize_t)(cnt ? cnt : 1), (hsize_t)cols};
    hid_t fsp = H5Dget_space(d), msp = H5Screate_simple(cols > 0 ? 2 : 1, md, NULL);
    if (cnt) H5Sselect_hyperslab(fsp, H5S_SELECT_SET, st, NULL, ct, NULL);
    else { H5Sselect_none(fsp); H5Sselect_none(msp); }
    int rc = H5Dwrite(d, mtype, msp, fsp, xfer, buf) < 0 ? -1 : 0; /* collective */
    H5Sclose(fsp);
    H5Sclose(msp);
    return rc;
}

static int predict_window(void *user, int64_t a, int64_t cnt)
{
    predict_acc *p = user;
    int rc = p->dp >= 0 ? write_rows(p->dp, H5T_NATIVE_FLOAT, a, cnt, p->x->K, p->xfer, p->prob) : -1;
    if (p->dn >= 0 && write_rows(p->dn, H5T_NATIVE_INT32, a, cnt, 0, p->xfer, p->pred)) rc = -1;
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
    /* classification: /probabilities (softmax, or sigmoid for one logit) and /predictions;
     * regression: /outputs */
    hsize_t pd[2] = {(hsize_t)N, (hsize_t)K}, nd = (hsize_t)N;
    hid_t ps = H5Screate_simple(2, pd, NULL), ns = H5Screate_simple(1, &nd, NULL);
    hid_t dp = H5Dcreate2(f, x.regression ? "outputs" : "probabilities", H5T_IEEE_F32LE, ps,
                          H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT); /* collective */
    hid_t dn = x.regression ? H5I_INVALID_HID
                            : H5Dcreate2(f, "predictions", H5T_STD_I32LE, ns, H5P_DEFAULT,
                                         H5P_DEFAULT, H5P_DEFAULT); /* collective */
    hid_t xfer = H5Pcreate(H5P_DATASET_XFER);
    H5Pset_dxpl_mpio(xfer, H5FD_MPIO_COLLECTIVE);
    predict_acc pa = {&x, dp, dn, xfer, malloc(sizeof(float) * (size_t)x.pass.per_window * K),
                      malloc(sizeof(int32_t) * (size_t)x.pass.per_window)};
    int status = dp < 0 || (!x.regression && dn < 0) || !pa.prob || !pa.pred;
    if (status) nt_fail(&e, "%s: cannot create the output datasets", tmp);
    /* on a failure this rank passes no rows but still joins every collective write */
    if (status) x.pass.lo = x.pass.hi;
    int rs = nt_pass_run(&x.pass, x.x, x.y, x.t, EVAL_BATCH, predict_batch, predict_window, &pa, &e);
    if (!status) status = rs;
    free(pa.prob); free(pa.pred);
    H5Pclose(xfer);
    H5Sclose(ps);
    H5Sclose(ns);
    if (dp >= 0) H5Dclose(dp);
    if (dn >= 0) H5Dclose(dn);
    int first, bad = comm_agree(c, status, &first);
    if (bad && c->rank == first && e.msg[0]) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    st = nt_h5_commit(f, tmp, o->out, status ? -1 : 0, c, &e);
    if (bad) { MPI_Barrier(c->comm); ctx_free(&x); return NT_EXIT_INPUT; }
    st = nt_agree(c, st, &e);
    if (!st && !o->quiet)
        log0(c, "%s: %lld rows -> %s (%s%s)\n", o->data, (long long)N, o->out,
             x.regression ? "/outputs" : "/probabilities", x.regression ? "" : ", /predictions");
    ctx_free(&x);
    return st;
}
