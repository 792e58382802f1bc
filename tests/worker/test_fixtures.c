/* nntrain against PyTorch: replays every case of tests/fixtures/torch_reference.h5 (written by
 * tests/fixtures/make_fixtures.py with torch 1.13) through nntrain's own config parser, model,
 * losses, clipping, optimizers and schedules, and compares the loss of every step, the step-1
 * gradients, the learning rates and the final parameters. Error measure (per tensor):
 *   max |a - b| / max(|b|, 0.1 max|b|)  <= 1e-5
 * (the floor keeps float32 noise on near-zero elements from dominating). Also checks the
 * schedules' lr sequences, the init schemes' bounds/stds, and that every catalogue name the
 * generator lists is covered by a case that passed. */
#include "config.h"
#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "schedule.h"
#include "step.h"
#include "train.h"
#include <hdf5.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static const char *FIXTURE;
static hid_t F = H5I_INVALID_HID;
#define TOL 1e-5
static char covered[16384]; /* comma-joined names of cases that passed */

static char *read_str_attr(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Aget_type(a), mt = H5Tcopy(H5T_C_S1);
    char *out = NULL;
    if (H5Tis_variable_str(t) > 0) {
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        char *v = NULL;
        if (H5Aread(a, mt, &v) >= 0 && v) {
            out = strdup(v);
            H5free_memory(v);
        }
    } else {
        size_t n = H5Tget_size(t);
        out = calloc(n + 1, 1);
        H5Tset_size(mt, n + 1);
        H5Aread(a, mt, out);
    }
    H5Tclose(mt);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

/* Read a whole dataset as float or double (type given); returns element count or -1. */
static long read_ds(hid_t g, const char *name, hid_t mtype, void *buf, size_t cap)
{
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t s = H5Dget_space(d);
    long n = (long)H5Sget_simple_extent_npoints(s);
    H5Sclose(s);
    if ((size_t)n > cap || H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) n = -1;
    H5Dclose(d);
    return n;
}

static double tensor_err(const float *a, const float *b, long n, long *worst)
{
    double mx = 0, e = 0;
    for (long i = 0; i < n; i++) mx = fmax(mx, fabs(b[i]));
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / fmax(fabs(b[i]), 0.1 * mx);
        if (mx == 0) d = fabs((double)a[i] - b[i]);
        if (d > e) { e = d; *worst = i; }
    }
    return e;
}

/* Compare every layer's weight/bias (group prefix "grad" or "final") with the model buffer. */
static int compare_params(hid_t g, const char *prefix, const nn_model *m, const float *buf,
                          const char *cname, double *worst_out)
{
    static float ref[65536];
    int bad = 0;
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        for (int t = 0; t < 1 + L->has_bias; t++) {
            char name[64];
            snprintf(name, sizeof name, "%s/layer%d/%s", prefix, l, t ? "bias" : "weight");
            long n = read_ds(g, name, H5T_NATIVE_FLOAT, ref, 65536);
            long want = t ? L->out : (long)L->out * L->in;
            if (n != want) {
                printf("  %s: %s has %ld elements, expected %ld\n", cname, name, n, want);
                bad = 1;
                continue;
            }
            long w = 0;
            double e = tensor_err(buf + (t ? L->b_off : L->w_off), ref, n, &w);
            if (e > *worst_out) *worst_out = e;
            if (e > TOL) {
                printf("  %s: %s[%ld] = %.9g, torch %.9g (error %.3g)\n", cname, name, w,
                       (double)(buf + (t ? L->b_off : L->w_off))[w], (double)ref[w], e);
                bad = 1;
            }
        }
    }
    return bad;
}

static herr_t run_case(hid_t root, const char *cname, const H5L_info_t *info, void *data)
{
    (void)info;
    int *failures = data;
    hid_t g = H5Gopen2(root, cname, H5P_DEFAULT);
    char *ini = read_str_attr(g, "ini"), *names = read_str_attr(g, "names");
    int steps = 0;
    hid_t a = H5Aopen(g, "steps", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &steps);
    H5Aclose(a);
    nt_config cfg;
    nt_err e = {{0}};
    int bad = 0;
    double worst = 0;
    if (!ini || nt_config_parse_string(&cfg, ini, cname, &e)) {
        printf("  %s: nntrain rejects the configuration: %s\n", cname, e.msg);
        bad = 1;
        goto done;
    }
    /* data */
    static float X[4096], T[4096];
    static int32_t Y[1024];
    const int D = cfg.sizes[0], K = cfg.sizes[cfg.nsizes - 1];
    long nx = read_ds(g, "X", H5T_NATIVE_FLOAT, X, 4096);
    const int B = (int)(nx / D);
    const int regression = nn_loss_is_regression(cfg.loss.kind);
    long ny = read_ds(g, "y", regression ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32,
                      regression ? (void *)T : (void *)Y, 4096);
    if (nx <= 0 || ny != (regression ? (long)B * K : B)) {
        printf("  %s: bad X/y in the fixture\n", cname);
        bad = 1;
        goto done;
    }
    nn_model m;
    nn_model_spec sp = nt_config_model_spec(&cfg, B, NT_X_N);
    assert_int_equal(nn_model_create_spec(&m, &sp), 0);
    /* initial parameters from the fixture */
    for (int l = 0; l < m.nlayers; l++) {
        char name[64];
        snprintf(name, sizeof name, "init/layer%d/weight", l);
        bad |= read_ds(g, name, H5T_NATIVE_FLOAT, m.params + m.layers[l].w_off,
                       (size_t)m.layers[l].in * m.layers[l].out) < 0;
        if (m.layers[l].has_bias) {
            snprintf(name, sizeof name, "init/layer%d/bias", l);
            bad |= read_ds(g, name, H5T_NATIVE_FLOAT, m.params + m.layers[l].b_off,
                           (size_t)m.layers[l].out) < 0;
        }
    }
    double loss_ref[16], lr_ref[16];
    read_ds(g, "loss", H5T_NATIVE_DOUBLE, loss_ref, 16);
    read_ds(g, "lr", H5T_NATIVE_DOUBLE, lr_ref, 16);
    nn_optim opt;
    assert_int_equal(nt_make_optimizer(&opt, &cfg, &m), 0);
    float *dz = malloc(sizeof(float) * (size_t)B * K);
    int64_t rows[1024];
    for (int i = 0; i < B; i++) rows[i] = i;
    for (int t = 1; t <= steps && !bad; t++) {
        /* fixtures step the schedule per step; dropout uses seed 1 and epoch = step */
        opt.cfg.lr = nn_schedule_lr(&cfg.sched, cfg.opt.lr, t - 1);
        if (fabs(opt.cfg.lr - lr_ref[t - 1]) > 1e-9 * fabs(lr_ref[t - 1])) {
            printf("  %s: step %d lr %.12g, torch %.12g\n", cname, t, opt.cfg.lr, lr_ref[t - 1]);
            bad = 1;
        }
        /* nntrain's own step (step.h), one process: nothing to exchange */
        nt_batch b = {.x = X, .labels = Y, .targets = T, .bmax = B, .n = B, .global_n = B,
                      .rows = rows, .epoch = t, .step = 0};
        nt_step st = {.m = &m, .loss = &cfg.loss, .seed = 1, .dz = dz, .x = NULL};
        nt_train_step(&st, &b, 0, 0);
        double loss = (double)nt_step_scalars(&m)[NT_X_LOSS] / B;
        double le = fabs(loss - loss_ref[t - 1]) / fmax(fabs(loss_ref[t - 1]), 1e-3);
        worst = fmax(worst, le);
        if (le > TOL) {
            printf("  %s: step %d loss %.9g, torch %.9g (error %.3g)\n", cname, t, loss,
                   loss_ref[t - 1], le);
            bad = 1;
        }
        nt_optimizer_step(&opt, &m, cfg.clip_grad_norm, NULL); /* clip, then update (grads kept) */
        if (t == 1) bad |= compare_params(g, "grad", &m, m.grads, cname, &worst);
    }
    if (!bad) bad |= compare_params(g, "final", &m, m.params, cname, &worst);
    free(dz);
    nn_optim_free(&opt);
    nn_model_free(&m);
done:
    if (bad) (*failures)++;
    else if (names && strlen(covered) + strlen(names) + 2 < sizeof covered) {
        strcat(covered, ",");
        strcat(covered, names);
    }
    printf("%s %-52s worst error %.2g\n", bad ? "FAIL" : "ok  ", cname, worst);
    free(ini);
    free(names);
    H5Gclose(g);
    return 0;
}

static void test_training_cases(void **s)
{
    (void)s;
    int failures = 0;
    hid_t root = H5Gopen2(F, "cases", H5P_DEFAULT);
    assert_true(root >= 0);
    H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, NULL, run_case, &failures);
    H5Gclose(root);
    assert_int_equal(failures, 0);
}

static herr_t run_schedule(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    int *failures = data;
    hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
    char *ini = read_str_attr(g, "ini"), *names = read_str_attr(g, "names");
    char text[2048];
    /* the fixture's INI has only [schedule] and [optimizer]; add a model to satisfy the parser */
    snprintf(text, sizeof text, "[model]\nlayers = 2, 2\n%s", ini ? ini : "");
    nt_config cfg;
    nt_err e = {{0}};
    double ref[64], worst = 0;
    long n = read_ds(g, "lr", H5T_NATIVE_DOUBLE, ref, 64);
    int bad = n <= 0 || nt_config_parse_string(&cfg, text, name, &e);
    for (long u = 0; u < n && !bad; u++) {
        double lr = nn_schedule_lr(&cfg.sched, cfg.opt.lr, u);
        double er = fabs(lr - ref[u]) / fabs(ref[u]);
        worst = fmax(worst, er);
        if (er > 1e-9) {
            printf("  schedule %s: u=%ld lr %.12g, torch %.12g\n", name, u, lr, ref[u]);
            bad = 1;
        }
    }
    if (bad) (*failures)++;
    else if (names) { strcat(covered, ","); strcat(covered, names); }
    printf("%s schedule %-43s worst error %.2g %s\n", bad ? "FAIL" : "ok  ", name, worst, e.msg);
    free(ini);
    free(names);
    H5Gclose(g);
    return 0;
}

static void test_schedules(void **s)
{
    (void)s;
    int failures = 0;
    hid_t root = H5Gopen2(F, "schedules", H5P_DEFAULT);
    assert_true(root >= 0);
    H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, NULL, run_schedule, &failures);
    H5Gclose(root);
    assert_int_equal(failures, 0);
}

static herr_t run_init(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    int *failures = data;
    hid_t g = H5Gopen2(root, name, H5P_DEFAULT);
    char *ini = read_str_attr(g, "ini"), *names = read_str_attr(g, "names");
    nt_config cfg;
    nt_err e = {{0}};
    int bad = !ini || nt_config_parse_string(&cfg, ini, name, &e);
    nn_model m;
    if (!bad) {
        nn_model_spec sp = nt_config_model_spec(&cfg, 1, 0);
        bad = nn_model_create_spec(&m, &sp);
    }
    for (int l = 0; !bad && l < m.nlayers; l++) {
        char lg[32];
        snprintf(lg, sizeof lg, "layer%d", l);
        hid_t h = H5Gopen2(g, lg, H5P_DEFAULT);
        int uniform = H5Aexists(h, "bound") > 0;
        double ref = 0;
        hid_t a = H5Aopen(h, uniform ? "bound" : "std", H5P_DEFAULT);
        H5Aread(a, H5T_NATIVE_DOUBLE, &ref);
        H5Aclose(a);
        H5Gclose(h);
        double mine = nn_init_scale(&m, l, cfg.init, cfg.init_std);
        if (fabs(mine - ref) > 1e-9 * ref) {
            printf("  init %s layer %d: %s %.12g, torch %.12g\n", name, l, uniform ? "bound" : "std",
                   mine, ref);
            bad = 1;
        }
        /* and the sampled weights respect it */
        nn_model_init_scheme(&m, 7, cfg.init, cfg.init_std);
        const float *w = m.params + m.layers[l].w_off;
        for (int i = 0; uniform && i < m.layers[l].in * m.layers[l].out; i++)
            if (fabs(w[i]) > ref * (1 + 1e-6)) { bad = 1; printf("  init %s: |w| > bound\n", name); break; }
    }
    if (!e.msg[0] && ini) nn_model_free(&m);
    if (bad) (*failures)++;
    else if (names) { strcat(covered, ","); strcat(covered, names); }
    printf("%s init %-47s %s\n", bad ? "FAIL" : "ok  ", name, e.msg);
    free(ini);
    free(names);
    H5Gclose(g);
    return 0;
}

static void test_inits(void **s)
{
    (void)s;
    int failures = 0;
    hid_t root = H5Gopen2(F, "init", H5P_DEFAULT);
    assert_true(root >= 0);
    H5Literate(root, H5_INDEX_NAME, H5_ITER_INC, NULL, run_init, &failures);
    H5Gclose(root);
    assert_int_equal(failures, 0);
}

/* Every name the generator's catalogue lists must be covered by a case that passed. */
static void test_catalogue_covered(void **s)
{
    (void)s;
    char *cat = read_str_attr(F, "catalogue");
    assert_non_null(cat);
    int missing = 0, total = 0;
    char *save = NULL;
    for (char *tok = strtok_r(cat, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        total++;
        char pat[128];
        snprintf(pat, sizeof pat, "%s,", tok);
        char hay[sizeof covered + 2];
        snprintf(hay, sizeof hay, "%s,", covered);
        char needle[130];
        snprintf(needle, sizeof needle, ",%s", pat);
        if (!strstr(hay, needle)) {
            printf("  catalogue name %s is not covered by a passing case\n", tok);
            missing++;
        }
    }
    printf("catalogue: %d names, %d not covered\n", total, missing);
    free(cat);
    assert_true(total >= 40);
    assert_int_equal(missing, 0);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_fixtures torch_reference.h5\n");
        return 2;
    }
    FIXTURE = argv[1];
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    F = H5Fopen(FIXTURE, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (F < 0) {
        fprintf(stderr, "test_fixtures: cannot open %s\n", FIXTURE);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_cases), cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_inits), cmocka_unit_test(test_catalogue_covered),
    };
    int failed = cmocka_run_group_tests_name("torch_fixtures", tests, NULL, NULL);
    H5Fclose(F);
    return failed ? 1 : 0;
}
