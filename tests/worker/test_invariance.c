/* The core promise of data parallelism: for the same seed and config, training on P ranks
 * gives the weights that one rank gives. This test trains on all P ranks of its job, then
 * retrains on rank 0 alone (MPI_COMM_SELF) inside the same process, and compares, for batch
 * sizes that divide the data and the rank count evenly and that do not, and for several
 * optimizers. Verdicts are combined across ranks before asserting. */
#include "config.h"
#include "generate.h"
#include "h5data.h"
#include "train.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static comm_t WORLD, SELF;
static char dir[256];

static double max_rel_diff(const float *a, const float *b, size_t n, size_t *where)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / scale;
        if (d > worst) { worst = d; *where = i; }
    }
    return worst;
}

/* Combine one verdict per rank: every rank gets the AND (the largest) over all ranks. Every
 * check below asserts only on combined values, so a failure on one rank fails the test on all
 * ranks at once instead of leaving the others waiting in the next collective. */
static int all_ok(int ok)
{
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return ok;
}
static double all_max(double v)
{
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    return v;
}

/* Train with `sets` (plus `extra`, nextra of them) on the P ranks of the job; NULL when it
 * failed (on any rank: collective). */
static float *train_np(const char *tag, const char *variant, char **sets, int nsets, char **extra,
                       int nextra, size_t *n, double *train_loss)
{
    char cfgpath[300], outp[300], setp[340];
    snprintf(cfgpath, sizeof cfgpath, "%s/job.ini", dir);
    snprintf(outp, sizeof outp, "%s/%s-%s", dir, tag, variant);
    snprintf(setp, sizeof setp, "output.dir=%s", outp);
    char *all[32];
    int k = 0;
    for (int i = 0; i < nsets; i++) all[k++] = sets[i];
    for (int i = 0; i < nextra; i++) all[k++] = extra[i];
    all[k++] = setp;
    nt_config cfg;
    nt_err e = {{0}};
    nt_train_opts o = {.overwrite = 1, .quiet = 1};
    nt_result r = {0};
    int ok = nt_config_load(&cfg, cfgpath, all, k, &e) == 0;
    if (!ok) printf("  %s: rank %d: config: %s\n", tag, WORLD.rank, e.msg);
    /* nt_train is collective: enter it only if every rank has a config */
    if (all_ok(ok)) ok = nt_train(&cfg, &WORLD, &o, &r) == 0 && r.params != NULL;
    *n = r.nparams;
    *train_loss = r.last.v[NT_H_TRAIN_LOSS];
    if (!all_ok(ok)) {
        free(r.params);
        return NULL;
    }
    return r.params;
}

/* The same on rank 0 alone (MPI_COMM_SELF). */
static float *train_1(const char *tag, const char *variant, char **sets, int nsets, char **extra,
                      int nextra, size_t *n)
{
    char cfgpath[300], out1[300], set1[340];
    snprintf(cfgpath, sizeof cfgpath, "%s/job.ini", dir);
    snprintf(out1, sizeof out1, "%s/%s-%s-np1", dir, tag, variant);
    snprintf(set1, sizeof set1, "output.dir=%s", out1);
    char *all[32];
    int k = 0;
    for (int i = 0; i < nsets; i++) all[k++] = sets[i];
    for (int i = 0; i < nextra; i++) all[k++] = extra[i];
    all[k++] = set1;
    nt_config cfg;
    nt_err e = {{0}};
    nt_train_opts o = {.overwrite = 1, .quiet = 1};
    nt_result r = {0};
    int st = nt_config_load(&cfg, cfgpath, all, k, &e);
    if (st) printf("  %s: np=1 config: %s\n", tag, e.msg);
    else st = nt_train(&cfg, &SELF, &o, &r);
    *n = r.nparams;
    if (st) {
        free(r.params);
        return NULL;
    }
    return r.params;
}

/* Train with `sets` overrides on P ranks and, on rank 0, on one rank; assert (on every rank)
 * that both runs trained and that the weights differ by at most tol relative. The same with
 * [train] exchange = zero1 on the P ranks (against the allreduce run on one rank: the same
 * bound), and with gradient accumulation ([train] accumulate = 3: micro-batches, one exchange). And the deterministic mode (chunks of 3 rows): P ranks with zero1 and one rank with
 * allreduce must give the same bits. */
static void check(const char *tag, double tol, char **sets, int nsets)
{
    char *zero1[] = {"train.exchange=zero1"};
    char *accum[] = {"train.accumulate=3"};
    char *det_p[] = {"train.deterministic=true", "train.deterministic_chunk=3", "train.exchange=zero1",
                     "train.accumulate=2"};
    char *det_1[] = {"train.deterministic=true", "train.deterministic_chunk=3"};
    size_t np = 0, nz = 0, nd = 0, na = 0, n1 = 0, nd1 = 0;
    double loss_p = 0, loss_z = 0, loss_d = 0, loss_a = 0;
    float *pp = train_np(tag, "np", sets, nsets, NULL, 0, &np, &loss_p);
    float *pz = train_np(tag, "zero1", sets, nsets, zero1, 1, &nz, &loss_z);
    float *pa = train_np(tag, "accum", sets, nsets, accum, 1, &na, &loss_a);
    float *pd = train_np(tag, "det", sets, nsets, det_p, 4, &nd, &loss_d);
    /* the comparison is meaningless if training did nothing */
    int ok = pp && pz && pd && pa && loss_p != 0 && loss_z != 0 && loss_d != 0 && loss_a != 0;
    double diff = 0, dz = 0, dd = 0, da = 0;
    if (WORLD.rank == 0 && ok) {
        float *p1 = train_1(tag, "ar", sets, nsets, NULL, 0, &n1);
        float *d1 = train_1(tag, "det", sets, nsets, det_1, 2, &nd1);
        ok = p1 && d1 && np == n1 && nz == n1 && nd == n1 && nd1 == n1 && na == n1;
        if (ok) {
            size_t where = 0, wz = 0, wd = 0, wa = 0;
            diff = max_rel_diff(pp, p1, n1, &where);
            dz = max_rel_diff(pz, p1, n1, &wz);
            da = max_rel_diff(pa, p1, n1, &wa);
            dd = max_rel_diff(pd, d1, n1, &wd);
            printf("  %-28s np=%d vs np=1: max relative difference %.3g (param %zu); zero1 %.3g; "
                   "accumulate 3 %.3g; deterministic %.3g%s\n", tag, WORLD.size, diff, where, dz,
                   da, dd, memcmp(pd, d1, sizeof(float) * n1) ? " NOT BITWISE EQUAL" : " (bitwise equal)");
            if (memcmp(pd, d1, sizeof(float) * n1)) dd = fmax(dd, 1e-30);
        }
        free(p1);
        free(d1);
    }
    free(pp);
    free(pz);
    free(pa);
    free(pd);
    ok = all_ok(ok);
    diff = all_max(diff);
    dz = all_max(dz);
    da = all_max(da);
    if (ok && da > tol)
        printf("  %s: accumulate 3: difference %.3g exceeds the bound %.3g\n", tag, da, tol);
    dd = all_max(dd);
    if (ok && diff > tol)
        printf("  %s: difference %.3g exceeds the bound %.3g\n", tag, diff, tol);
    if (ok && dz > tol)
        printf("  %s: zero1: difference %.3g exceeds the bound %.3g\n", tag, dz, tol);
    if (ok && dd != 0)
        printf("  %s: deterministic: P ranks (zero1) and one rank differ: %.3g\n", tag, dd);
    assert_true(ok);
    assert_true(diff <= tol);
    assert_true(dz <= tol);
    assert_true(da <= tol);
    assert_true(dd == 0);
}

/* N = 203 training+val rows, val 10% -> 183 training rows: prime, so no batch divides it */
static void test_sgd_even(void **s)
{
    (void)s;
    char *sets[] = {"train.batch_size=12", "optimizer.name=sgd", "optimizer.lr=0.2"};
    check("sgd-b12", 1e-5, sets, 3);
}
static void test_sgd_uneven(void **s)
{
    (void)s;
    char *sets[] = {"train.batch_size=7", "optimizer.name=sgd", "optimizer.lr=0.2"};
    check("sgd-b7", 1e-5, sets, 3);
}
static void test_sgd_momentum_wd(void **s)
{
    (void)s;
    char *sets[] = {"train.batch_size=10", "optimizer.name=sgd", "optimizer.lr=0.05",
                    "optimizer.momentum=0.9", "optimizer.weight_decay=0.01"};
    check("sgd-momentum-wd-b10", 1e-5, sets, 5);
}
static void test_batch_smaller_than_ranks(void **s)
{
    (void)s;
    /* batch 2 with up to 4 ranks: some ranks get empty shards every step */
    char *sets[] = {"train.batch_size=2", "optimizer.name=sgd", "optimizer.lr=0.05",
                    "train.epochs=1"};
    check("sgd-b2", 1e-5, sets, 4);
}
static void test_adam_uneven(void **s)
{
    (void)s;
    /* Adam divides by sqrt(v): float rounding differences are amplified, tolerance 1e-4 */
    char *sets[] = {"train.batch_size=9", "optimizer.name=adam", "optimizer.lr=0.01"};
    check("adam-b9", 1e-4, sets, 3);
}
static void test_relu_wider(void **s)
{
    (void)s;
    /* the default activation, a wider net and an uneven batch */
    char *sets[] = {"train.batch_size=11", "optimizer.name=sgd", "optimizer.lr=0.1",
                    "model.activation=relu", "model.layers=2, 64, 32, 2"};
    check("sgd-relu-64-32-b11", 1e-5, sets, 5);
}
/* The catalogue keeps the promise: dropout (masks keyed by sample, not rank), clipping
 * (after the allreduce), weight decay, every optimizer, a schedule, other losses. */
static void test_dropout_clip_wd(void **s)
{
    (void)s;
    char *sets[] = {"train.batch_size=9", "optimizer.name=sgd", "optimizer.lr=0.1",
                    "optimizer.momentum=0.9", "optimizer.weight_decay=0.01",
                    "optimizer.clip_grad_norm=0.5", "model.dropout=0.3, 0.2",
                    "model.activation=relu"};
    check("dropout-clip-wd-b9", 1e-5, sets, 8);
}
static void test_every_optimizer(void **s)
{
    (void)s;
    static const char *opts[] = {"adamw", "adamax", "rmsprop", "adagrad", "adadelta"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        char name[64], tag[64];
        snprintf(name, sizeof name, "optimizer.name=%s", opts[i]);
        snprintf(tag, sizeof tag, "%s-dropout-b9", opts[i]);
        char *sets[] = {"train.batch_size=9", name, "optimizer.lr=0.01", "model.dropout=0.2",
                        "schedule.name=cosine", "schedule.unit=step", "schedule.warmup=5"};
        /* adaptive optimizers divide by running moments: float rounding grows, 1e-4 */
        check(tag, 1e-4, sets, 7);
    }
}
static void test_bce(void **s)
{
    (void)s;
    char *sets[] = {"train.batch_size=10", "optimizer.name=sgd", "optimizer.lr=0.2",
                    "model.layers=2, 16, 16, 1", "loss.name=bce_with_logits"};
    check("bce-b10", 1e-5, sets, 5);
}
static void test_regression(void **s)
{
    (void)s;
    char tr[320];
    snprintf(tr, sizeof tr, "data.train=%s/reg.h5", dir);
    char te[320];
    snprintf(te, sizeof te, "data.test=%s/reg.h5", dir);
    char *sets[] = {"train.batch_size=7", "optimizer.name=sgd", "optimizer.lr=0.05",
                    "model.layers=3, 16, 2", "loss.name=huber", tr, te, "model.activation=gelu"};
    check("huber-regression-b7", 1e-5, sets, 8);
}
static void test_tiny_cache_windows(void **s)
{
    (void)s;
    /* many small read windows per epoch must give the same result as one */
    char *sets[] = {"train.batch_size=7", "optimizer.name=sgd", "optimizer.lr=0.2",
                    "data.cache_mb=0.0001"};
    check("sgd-b7-tiny-cache", 1e-5, sets, 4);
}

static void test_feistel_order(void **s)
{
    (void)s;
    /* the O(1)-memory sample order (used above 2^24 rows) with dropout, a validation split and
     * small read windows: still independent of the rank count */
    char *sets[] = {"train.batch_size=9", "optimizer.name=adam", "optimizer.lr=0.01",
                    "data.permutation=feistel", "model.dropout=0.2", "data.cache_mb=0.0002"};
    check("adam-b9-feistel", 1e-4, sets, 6);
}

static void test_l1(void **s)
{
    (void)s;
    /* L1 regularisation on the weights only, with clipping after it */
    char *sets[] = {"train.batch_size=9", "optimizer.name=sgd", "optimizer.lr=0.1",
                    "optimizer.l1=0.002", "optimizer.decay_biases=false", "optimizer.clip_grad_norm=1"};
    check("sgd-l1-clip-b9", 1e-5, sets, 6);
}

static int make_data(void);

/* Rank 0 writes the data; every rank learns the outcome before anyone returns. */
static int setup(void **s)
{
    (void)s;
    int ok = WORLD.rank != 0 || make_data() == 0;
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    return all_ok(ok) ? 0 : -1;
}

static int make_data(void)
{
    snprintf(dir, sizeof dir, "/tmp/nntrain-invariance-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    const int64_t n = 203;
    float x[203 * 2];
    int32_t y[203];
    gen_moons(n, 0.2, 42, x, y);
    char p[300];
    nt_err err;
    snprintf(p, sizeof p, "%s/moons.h5", dir);
    if (h5data_write(p, n, 2, NULL, x, 0, y, &err)) return -1;
    /* a 2-target regression set: y = (sin(x0 + x1), x0 x2) */
    float xr[203 * 3], yr[203 * 2];
    for (int i = 0; i < 203; i++) {
        for (int j = 0; j < 3; j++) xr[3 * i + j] = (float)(((i * 37 + j * 11) % 101) / 50.0 - 1);
        yr[2 * i] = sinf(xr[3 * i] + xr[3 * i + 1]);
        yr[2 * i + 1] = xr[3 * i] * xr[3 * i + 2];
    }
    snprintf(p, sizeof p, "%s/reg.h5", dir);
    if (h5data_write_regression(p, n, 3, NULL, xr, 0, yr, 2, &err)) return -1;
    snprintf(p, sizeof p, "%s/job.ini", dir);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fprintf(f, "[data]\ntrain = %s/moons.h5\ntest = %s/moons.h5\nval_fraction = 0.1\n"
               "[model]\nlayers = 2, 16, 16, 2\nactivation = tanh\n"
               "[train]\nepochs = 3\nseed = 7\n", dir, dir);
    if (fclose(f)) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    int provided; /* as nntrain: the dataset reader thread needs FUNNELED */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    comm_init(&WORLD, MPI_COMM_WORLD);
    comm_init(&SELF, MPI_COMM_SELF);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_even),          cmocka_unit_test(test_sgd_uneven),
        cmocka_unit_test(test_sgd_momentum_wd),   cmocka_unit_test(test_batch_smaller_than_ranks),
        cmocka_unit_test(test_adam_uneven),       cmocka_unit_test(test_tiny_cache_windows),
        cmocka_unit_test(test_relu_wider),        cmocka_unit_test(test_dropout_clip_wd),
        cmocka_unit_test(test_every_optimizer),   cmocka_unit_test(test_bce),
        cmocka_unit_test(test_regression),        cmocka_unit_test(test_feistel_order),
        cmocka_unit_test(test_l1),
    };
    int failed = cmocka_run_group_tests_name("np_invariance", tests, setup, NULL);
    comm_free(&SELF);
    comm_free(&WORLD);
    MPI_Finalize();
    return failed ? 1 : 0;
}
