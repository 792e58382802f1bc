/* Unit tests for src/core/kernels.c: finite-difference gradient checks of the double kernels
 * (the same template as the float training kernels), the float cblas kernels against the
 * plain-loop references, activations against libm, and the softmax cross-entropy at
 * extreme logits. */
#include "core_testutil.h"

#include "kernels.h"
#include <float.h>

static const nn_act all_acts[] = {NN_ACT_IDENTITY, NN_ACT_RELU, NN_ACT_SIGMOID, NN_ACT_TANH};
#define NACTS 4

/* ---- independent scalar references ------------------------------------------------------ */

static double act_ref(double v, nn_act a)
{
    switch (a) {
    case NN_ACT_IDENTITY: return v;
    case NN_ACT_RELU: return v > 0 ? v : 0;
    case NN_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case NN_ACT_TANH: return tanh(v);
    default: return NAN;
    }
}

static double act_deriv_ref(double v, nn_act a)
{
    switch (a) {
    case NN_ACT_IDENTITY: return 1;
    case NN_ACT_RELU: return v > 0 ? 1 : 0;
    case NN_ACT_SIGMOID: { double s = 1 / (1 + exp(-v)); return s * (1 - s); }
    case NN_ACT_TANH: { double t = tanh(v); return 1 - t * t; }
    default: return NAN;
    }
}

/* Sum over rows of -log softmax(z)[y], by hand with long double. */
static double xent_ref(const double *z, const int32_t *labels, int B, int K)
{
    long double total = 0;
    for (int i = 0; i < B; i++) {
        const double *zi = z + (size_t)i * K;
        double mx = zi[0];
        for (int k = 1; k < K; k++) mx = zi[k] > mx ? zi[k] : mx;
        long double s = 0;
        for (int k = 0; k < K; k++) s += expl((long double)zi[k] - mx);
        total += mx + logl(s) - zi[labels[i]];
    }
    return (double)total;
}

/* ---- 2-layer composition in double for the FD checks -------------------------------------- */

typedef struct {
    int B, IN, H, K;
    nn_act act;
    double *x, *w1, *b1, *w2, *b2;
    int32_t *labels;
    double *z1, *a1, *z2; /* workspaces */
} net2;

static void net2_alloc(net2 *n, int B, int IN, int H, int K, nn_act act)
{
    n->B = B; n->IN = IN; n->H = H; n->K = K; n->act = act;
    n->x = tu_alloc(sizeof(double) * B * IN);
    n->w1 = tu_alloc(sizeof(double) * H * IN);
    n->b1 = tu_alloc(sizeof(double) * H);
    n->w2 = tu_alloc(sizeof(double) * K * H);
    n->b2 = tu_alloc(sizeof(double) * K);
    n->labels = tu_alloc(sizeof(int32_t) * B);
    n->z1 = tu_alloc(sizeof(double) * B * H);
    n->a1 = tu_alloc(sizeof(double) * B * H);
    n->z2 = tu_alloc(sizeof(double) * B * K);
}

static void net2_free(net2 *n)
{
    free(n->x); free(n->w1); free(n->b1); free(n->w2); free(n->b2); free(n->labels);
    free(n->z1); free(n->a1); free(n->z2);
}

/* loss = softmax_xent(dense2(act(dense1(x)))) / B */
static double net2_loss(net2 *n)
{
    nn_dense_forward_d(n->z1, n->x, n->w1, n->b1, n->B, n->IN, n->H);
    nn_act_forward_d(n->a1, n->z1, (size_t)n->B * n->H, n->act);
    nn_dense_forward_d(n->z2, n->a1, n->w2, n->b2, n->B, n->H, n->K);
    return nn_softmax_xent_d(NULL, n->z2, n->labels, n->B, n->K, 1.0, NULL) / n->B;
}

/* Random parameters and inputs whose hidden pre-activations all stay >= 0.05 away from 0
 * (no relu kink within reach of the FD step). */
static void net2_randomize(net2 *n, uint64_t seed)
{
    uint64_t s = seed;
    for (int attempt = 0; attempt < 10000; attempt++) {
        tu_fill(n->x, (size_t)n->B * n->IN, &s, -1, 1);
        tu_fill(n->w1, (size_t)n->H * n->IN, &s, -1, 1);
        tu_fill(n->b1, (size_t)n->H, &s, -0.5, 0.5);
        tu_fill(n->w2, (size_t)n->K * n->H, &s, -1, 1);
        tu_fill(n->b2, (size_t)n->K, &s, -0.5, 0.5);
        for (int i = 0; i < n->B; i++) n->labels[i] = (int32_t)(tu_next(&s) % (uint64_t)n->K);
        net2_loss(n);
        double margin = INFINITY;
        for (int i = 0; i < n->B * n->H; i++)
            margin = fabs(n->z1[i]) < margin ? fabs(n->z1[i]) : margin;
        if (margin >= 0.05) return;
    }
    fail_msg("could not draw parameters away from the relu kink");
}

/* Central difference of net2_loss with respect to every element of p[0..cnt). */
static void fd_grad(net2 *n, double *p, size_t cnt, double *g)
{
    const double h = 1e-6;
    for (size_t i = 0; i < cnt; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = net2_loss(n);
        p[i] = keep - h;
        double lm = net2_loss(n);
        p[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

static void check_net2_grads(nn_act act, int B, int IN, int H, int K, uint64_t seed)
{
    net2 n;
    net2_alloc(&n, B, IN, H, K, act);
    net2_randomize(&n, seed);

    /* analytic: forward, dz2 = (softmax - onehot)/B, back through dense2, act, dense1 */
    double *dz2 = tu_alloc(sizeof(double) * B * K);
    double *da1 = tu_alloc(sizeof(double) * B * H);
    double *dz1 = tu_alloc(sizeof(double) * B * H);
    double *dx = tu_alloc(sizeof(double) * B * IN);
    double *dw1 = tu_alloc(sizeof(double) * H * IN), *db1 = tu_alloc(sizeof(double) * H);
    double *dw2 = tu_alloc(sizeof(double) * K * H), *db2 = tu_alloc(sizeof(double) * K);
    double loss = net2_loss(&n);
    double loss2 = nn_softmax_xent_d(dz2, n.z2, n.labels, B, K, 1.0 / B, NULL) / B;
    assert_true(loss == loss2);
    nn_dense_backward_d(da1, dw2, db2, dz2, n.a1, n.w2, B, H, K);
    nn_act_backward_d(dz1, da1, n.z1, n.a1, (size_t)B * H, act);
    nn_dense_backward_d(dx, dw1, db1, dz1, n.x, n.w1, B, IN, H);

    struct { const char *name; double *p; size_t cnt; double *g; } t[] = {
        {"W1", n.w1, (size_t)H * IN, dw1}, {"b1", n.b1, (size_t)H, db1},
        {"W2", n.w2, (size_t)K * H, dw2},  {"b2", n.b2, (size_t)K, db2},
        {"x", n.x, (size_t)B * IN, dx},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        double *fd = tu_alloc(sizeof(double) * t[k].cnt);
        fd_grad(&n, t[k].p, t[k].cnt, fd);
        char what[96];
        snprintf(what, sizeof what, "act=%s B=%d d loss/d %s", nn_act_name(act), B, t[k].name);
        TU_ASSERT_REL(what, t[k].g, fd, t[k].cnt, 1e-6);
        free(fd);
    }
    free(dz2); free(da1); free(dz1); free(dx); free(dw1); free(db1); free(dw2); free(db2);
    net2_free(&n);
}

static void test_fd_two_layer(void **state)
{
    (void)state;
    for (int a = 0; a < NACTS; a++) {
        check_net2_grads(all_acts[a], 3, 4, 5, 3, 11 + (uint64_t)a);
        check_net2_grads(all_acts[a], 1, 3, 6, 4, 101 + (uint64_t)a);
        check_net2_grads(all_acts[a], 7, 5, 3, 2, 1001 + (uint64_t)a);
    }
}

/* d (sum_rows xent * scale) / dz = (softmax - onehot) * scale, by central differences. */
static void test_fd_softmax_xent(void **state)
{
    (void)state;
    const int B = 4, K = 5;
    const double scales[] = {1.0 / 4, 1.0, 0.37};
    uint64_t s = 77;
    double z[20], dz[20], fd[20];
    int32_t labels[4] = {0, 4, 2, 2};
    tu_fill(z, 20, &s, -3, 3);
    for (size_t c = 0; c < 3; c++) {
        double scale = scales[c];
        double loss = nn_softmax_xent_d(dz, z, labels, B, K, scale, NULL);
        double want = xent_ref(z, labels, B, K);
        if (!(fabs(loss - want) <= 1e-13 * fabs(want)))
            fail_msg("xent sum: got %.17g want %.17g", loss, want);
        for (int i = 0; i < B * K; i++) {
            const double h = 1e-6;
            double keep = z[i];
            z[i] = keep + h;
            double lp = nn_softmax_xent_d(NULL, z, labels, B, K, 1, NULL);
            z[i] = keep - h;
            double lm = nn_softmax_xent_d(NULL, z, labels, B, K, 1, NULL);
            z[i] = keep;
            fd[i] = scale * (lp - lm) / (2 * h);
        }
        char what[64];
        snprintf(what, sizeof what, "dxent/dz scale=%g", scale);
        TU_ASSERT_REL(what, dz, fd, (size_t)(B * K), 1e-6);
    }
}

/* Logits ~ +-1000: every loss and gradient finite and equal to the exact value. */
static void test_softmax_xent_extreme(void **state)
{
    (void)state;
    struct {
        int K;
        double z[3];
        int32_t y;
        double loss;  /* exact */
        double dz[3]; /* exact (softmax - onehot), scale 1 */
    } c[] = {
        {2, {1000, 0}, 0, 0, {0, 0}},
        {2, {1000, 0}, 1, 1000, {1, -1}},
        {2, {0, 1000}, 0, 1000, {-1, 1}},
        {3, {-1000, 1000, 0}, 0, 2000, {-1, 1, 0}},
        {2, {1000, 1000}, 1, 0.69314718055994531, {0.5, -0.5}},
        {3, {-1000, -1000, -1000}, 2, 1.0986122886681098, {1.0 / 3, 1.0 / 3, -2.0 / 3}},
        {2, {-1000, 0}, 0, 1000, {-1, 1}},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        double dz[3];
        float zf[3], dzf[3];
        double loss = nn_softmax_xent_d(dz, c[i].z, &c[i].y, 1, c[i].K, 1.0, NULL);
        for (int k = 0; k < c[i].K; k++) zf[k] = (float)c[i].z[k];
        double lossf = nn_softmax_xent(dzf, zf, &c[i].y, 1, c[i].K, 1.0f, NULL);
        if (!(fabs(loss - c[i].loss) <= 1e-12 * (1 + c[i].loss)))
            fail_msg("case %zu double loss %.17g want %.17g", i, loss, c[i].loss);
        /* float: (mx - z_y) + log(sum) has no cancellation against a large mx */
        if (!(fabs(lossf - c[i].loss) <= 1e-6 * (1 + c[i].loss)))
            fail_msg("case %zu float loss %.9g want %.17g", i, lossf, c[i].loss);
        for (int k = 0; k < c[i].K; k++) {
            if (!(fabs(dz[k] - c[i].dz[k]) <= 1e-12))
                fail_msg("case %zu double dz[%d] %.17g want %.17g", i, k, dz[k], c[i].dz[k]);
            if (!(fabs(dzf[k] - c[i].dz[k]) <= 1e-6))
                fail_msg("case %zu float dz[%d] %.9g want %.17g", i, k, dzf[k], c[i].dz[k]);
        }
    }
}

/* correct counts argmax == label and *adds* to the counter; B = 0 returns 0. */
static void test_softmax_xent_correct_and_empty(void **state)
{
    (void)state;
    const float z[] = {3, 1, 2, /**/ 0, 5, 1, /**/ -1, -2, -0.5f, /**/ 9, 8, 10};
    const int32_t y[] = {0, 2, 2, 1};
    int64_t correct = 10;
    float dz[12];
    nn_softmax_xent(dz, z, y, 4, 3, 0.25f, &correct);
    assert_int_equal(correct, 12); /* rows 0 and 2 */
    nn_softmax_xent(NULL, z, y, 4, 3, 0.25f, NULL);
    /* each dz row sums to zero, label entry is negative */
    for (int i = 0; i < 4; i++) {
        double s = dz[3 * i] + dz[3 * i + 1] + dz[3 * i + 2];
        assert_true(fabs(s) < 1e-7);
        assert_true(dz[3 * i + y[i]] < 0);
    }
    float sentinel[3] = {42, 42, 42};
    correct = 5;
    double l = nn_softmax_xent(sentinel, z, y, 0, 3, 1.0f, &correct);
    assert_true(l == 0);
    assert_int_equal(correct, 5);
    assert_true(sentinel[0] == 42 && sentinel[1] == 42 && sentinel[2] == 42);
}

/* The float loss agrees with the double loss on moderate logits. */
static void test_softmax_xent_float_vs_double(void **state)
{
    (void)state;
    enum { B = 9, K = 7 };
    uint64_t s = 5;
    double z[B * K], dz[B * K], dzf_d[B * K];
    float zf[B * K], dzf[B * K];
    int32_t y[B];
    tu_fill(z, B * K, &s, -8, 8);
    for (int i = 0; i < B * K; i++) { zf[i] = (float)z[i]; z[i] = zf[i]; }
    for (int i = 0; i < B; i++) y[i] = (int32_t)(tu_next(&s) % K);
    int64_t cd = 0, cf = 0;
    double ld = nn_softmax_xent_d(dz, z, y, B, K, 1.0 / B, &cd);
    double lf = nn_softmax_xent(dzf, zf, y, B, K, 1.0f / B, &cf);
    assert_int_equal(cd, cf);
    if (!(fabs(ld - lf) <= 1e-5 * fabs(ld))) fail_msg("loss float %.9g double %.17g", lf, ld);
    tu_f2d(dzf_d, dzf, B * K);
    TU_ASSERT_REL("dz float vs double", dzf_d, dz, (size_t)(B * K), 1e-6);
}

/* ---- activations against libm ------------------------------------------------------------ */

static void test_activations(void **state)
{
    (void)state;
    enum { N = 41 };
    double x[N], y[N], yr[N], dy[N], dx[N], dxr[N];
    uint64_t s = 9;
    for (int i = 0; i < N; i++) x[i] = -10 + 0.5 * i + 0.013; /* never exactly 0 */
    x[0] = -800; x[N - 1] = 800;                             /* sigmoid tails */
    tu_fill(dy, N, &s, -2, 2);
    for (int a = 0; a < NACTS; a++) {
        nn_act act = all_acts[a];
        nn_act_forward_d(y, x, N, act);
        nn_act_backward_d(dx, dy, x, y, N, act);
        for (int i = 0; i < N; i++) {
            yr[i] = act_ref(x[i], act);
            dxr[i] = dy[i] * act_deriv_ref(x[i], act);
        }
        char what[64];
        snprintf(what, sizeof what, "%s forward", nn_act_name(act));
        for (int i = 0; i < N; i++)
            if (!(fabs(y[i] - yr[i]) <= 1e-14 * (1 + fabs(yr[i]))))
                fail_msg("%s: x=%g got %.17g want %.17g", what, x[i], y[i], yr[i]);
        snprintf(what, sizeof what, "%s backward", nn_act_name(act));
        for (int i = 0; i < N; i++)
            if (!(fabs(dx[i] - dxr[i]) <= 1e-12 * (1 + fabs(dxr[i]))))
                fail_msg("%s: x=%g got %.17g want %.17g", what, x[i], dx[i], dxr[i]);

        /* float kernels agree, and in-place (y aliases x, dx aliases dy) gives the same */
        float xf[N], yf[N], dyf[N], dxf[N], buf[N];
        for (int i = 0; i < N; i++) { xf[i] = (float)x[i]; dyf[i] = (float)dy[i]; }
        nn_act_forward(yf, xf, N, act);
        memcpy(buf, xf, sizeof buf);
        nn_act_forward(buf, buf, N, act);
        assert_memory_equal(buf, yf, sizeof buf);
        for (int i = 0; i < N; i++) {
            if (!isfinite(yf[i]) || fabs(yf[i] - yr[i]) > 1e-6 * (1 + fabs(yr[i])))
                fail_msg("%s float forward x=%g got %.9g want %.9g", nn_act_name(act), x[i],
                         yf[i], yr[i]);
        }
        nn_act_backward(dxf, dyf, xf, yf, N, act);
        memcpy(buf, dyf, sizeof buf);
        nn_act_backward(buf, buf, xf, yf, N, act);
        assert_memory_equal(buf, dxf, sizeof buf);
        for (int i = 0; i < N; i++)
            if (!isfinite(dxf[i]) || fabs(dxf[i] - dxr[i]) > 1e-5 * (1 + fabs(dxr[i])))
                fail_msg("%s float backward x=%g got %.9g want %.9g", nn_act_name(act), x[i],
                         dxf[i], dxr[i]);
    }
    /* relu at exactly 0: value 0, subgradient 0 (torch) */
    double zero = 0, one = 1, out = -1, g = -1;
    nn_act_forward_d(&out, &zero, 1, NN_ACT_RELU);
    nn_act_backward_d(&g, &one, &zero, &out, 1, NN_ACT_RELU);
    assert_true(out == 0 && g == 0);
}

static void test_act_names(void **state)
{
    (void)state;
    const char *names[] = {"identity", "relu", "sigmoid", "tanh"};
    for (int i = 0; i < NACTS; i++) {
        nn_act a = NN_ACT_COUNT;
        assert_int_equal(nn_act_parse(names[i], &a), 0);
        assert_int_equal(a, all_acts[i]);
        assert_string_equal(nn_act_name(all_acts[i]), names[i]);
    }
    nn_act a = NN_ACT_TANH;
    assert_int_equal(nn_act_parse("softmax", &a), -1);
    assert_int_equal(nn_act_parse("", &a), -1);
    assert_int_equal(nn_act_parse("RELU", &a), -1);
    assert_int_equal(a, NN_ACT_TANH);
}

/* ---- dense kernels vs plain loops ---------------------------------------------------------- */

static const int shapes[][3] = { /* B, IN, OUT */
    {1, 1, 1}, {1, 7, 3}, {2, 3, 5}, {5, 13, 9}, {17, 31, 29}, {64, 33, 10}, {3, 100, 1},
    {1, 1, 50}, {128, 20, 64},
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

static void check_dense_float(int B, int IN, int OUT, int with_din, uint64_t seed)
{
    uint64_t s = seed;
    size_t nin = (size_t)B * IN, nout = (size_t)B * OUT, nw = (size_t)OUT * IN;
    float *in = tu_alloc(sizeof(float) * nin), *w = tu_alloc(sizeof(float) * nw);
    float *b = tu_alloc(sizeof(float) * OUT), *out = tu_alloc(sizeof(float) * nout);
    float *dout = tu_alloc(sizeof(float) * nout), *din = tu_alloc(sizeof(float) * nin);
    float *dw = tu_alloc(sizeof(float) * nw), *db = tu_alloc(sizeof(float) * OUT);
    double *ind = tu_alloc(sizeof(double) * nin), *wd = tu_alloc(sizeof(double) * nw);
    double *bd = tu_alloc(sizeof(double) * OUT), *outd = tu_alloc(sizeof(double) * nout);
    double *doutd = tu_alloc(sizeof(double) * nout), *dind = tu_alloc(sizeof(double) * nin);
    double *dwd = tu_alloc(sizeof(double) * nw), *dbd = tu_alloc(sizeof(double) * OUT);
    double *got = tu_alloc(sizeof(double) * (nin + nout + nw + OUT));
    tu_fill_f(in, nin, &s, -1, 1);
    tu_fill_f(w, nw, &s, -1, 1);
    tu_fill_f(b, OUT, &s, -1, 1);
    tu_fill_f(dout, nout, &s, -1, 1);
    tu_fill_f(dw, nw, &s, -3, 3); /* non-zero: backward must add */
    tu_fill_f(db, OUT, &s, -3, 3);
    tu_fill_f(out, nout, &s, 1e6, 2e6); /* garbage: forward must overwrite */
    tu_fill_f(din, nin, &s, 1e6, 2e6);  /* garbage: din must be overwritten, not added */
    tu_f2d(ind, in, nin); tu_f2d(wd, w, nw); tu_f2d(bd, b, OUT); tu_f2d(doutd, dout, nout);
    tu_f2d(dwd, dw, nw); tu_f2d(dbd, db, OUT);

    char what[96];
    nn_dense_forward(out, in, w, b, B, IN, OUT);
    nn_dense_forward_ref(outd, ind, wd, bd, B, IN, OUT);
    tu_f2d(got, out, nout);
    snprintf(what, sizeof what, "float forward B=%d IN=%d OUT=%d", B, IN, OUT);
    TU_ASSERT_REL(what, got, outd, nout, 1e-5);

    nn_dense_backward(with_din ? din : NULL, dw, db, dout, in, w, B, IN, OUT);
    nn_dense_backward_ref(with_din ? dind : NULL, dwd, dbd, doutd, ind, wd, B, IN, OUT);
    snprintf(what, sizeof what, "float backward dW B=%d IN=%d OUT=%d din=%d", B, IN, OUT,
             with_din);
    tu_f2d(got, dw, nw);
    TU_ASSERT_REL(what, got, dwd, nw, 1e-5);
    snprintf(what, sizeof what, "float backward db B=%d IN=%d OUT=%d din=%d", B, IN, OUT,
             with_din);
    tu_f2d(got, db, OUT);
    TU_ASSERT_REL(what, got, dbd, (size_t)OUT, 1e-5);
    if (with_din) {
        snprintf(what, sizeof what, "float backward din B=%d IN=%d OUT=%d", B, IN, OUT);
        tu_f2d(got, din, nin);
        TU_ASSERT_REL(what, got, dind, nin, 1e-5);
    } else {
        for (size_t i = 0; i < nin; i++) assert_true(din[i] >= 1e6f); /* untouched */
    }
    free(in); free(w); free(b); free(out); free(dout); free(din); free(dw); free(db);
    free(ind); free(wd); free(bd); free(outd); free(doutd); free(dind); free(dwd); free(dbd);
    free(got);
}

static void test_dense_float_vs_ref(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSHAPES; k++) {
        check_dense_float(shapes[k][0], shapes[k][1], shapes[k][2], 1, 1000 + k);
        check_dense_float(shapes[k][0], shapes[k][1], shapes[k][2], 0, 2000 + k);
    }
}

/* The double template kernels against the plain loops too (they are what FD checks). */
static void test_dense_double_vs_ref(void **state)
{
    (void)state;
    for (size_t k = 0; k < NSHAPES; k++) {
        int B = shapes[k][0], IN = shapes[k][1], OUT = shapes[k][2];
        size_t nin = (size_t)B * IN, nout = (size_t)B * OUT, nw = (size_t)OUT * IN;
        uint64_t s = 3000 + k;
        double *in = tu_alloc(8 * nin), *w = tu_alloc(8 * nw), *b = tu_alloc(8 * OUT);
        double *dout = tu_alloc(8 * nout);
        double *o1 = tu_alloc(8 * nout), *o2 = tu_alloc(8 * nout);
        double *din1 = tu_alloc(8 * nin), *din2 = tu_alloc(8 * nin);
        double *dw1 = tu_alloc(8 * nw), *dw2 = tu_alloc(8 * nw);
        double *db1 = tu_alloc(8 * OUT), *db2 = tu_alloc(8 * OUT);
        tu_fill(in, nin, &s, -1, 1); tu_fill(w, nw, &s, -1, 1); tu_fill(b, OUT, &s, -1, 1);
        tu_fill(dout, nout, &s, -1, 1);
        tu_fill(dw1, nw, &s, -2, 2); memcpy(dw2, dw1, 8 * nw);
        tu_fill(db1, OUT, &s, -2, 2); memcpy(db2, db1, 8 * (size_t)OUT);
        tu_fill(din1, nin, &s, 5, 6);
        nn_dense_forward_d(o1, in, w, b, B, IN, OUT);
        nn_dense_forward_ref(o2, in, w, b, B, IN, OUT);
        TU_ASSERT_REL("double forward", o1, o2, nout, 1e-13);
        nn_dense_backward_d(din1, dw1, db1, dout, in, w, B, IN, OUT);
        nn_dense_backward_ref(din2, dw2, db2, dout, in, w, B, IN, OUT);
        TU_ASSERT_REL("double backward dW", dw1, dw2, nw, 1e-13);
        TU_ASSERT_REL("double backward db", db1, db2, (size_t)OUT, 1e-13);
        TU_ASSERT_REL("double backward din", din1, din2, nin, 1e-13);
        free(in); free(w); free(b); free(dout); free(o1); free(o2); free(din1); free(din2);
        free(dw1); free(dw2); free(db1); free(db2);
    }
}

/* nn_exp_nonpos_f (sigmoid's vectorizable exponential) against libm's double exp: within 2 ulp
 * of the true value on a dense sweep of [ln FLT_MIN, 0] and at its edges; exactly 1 at 0 (and
 * -0), 0 below ln FLT_MIN and at -inf, NaN stays NaN. And the float sigmoid built on it within
 * 3 ulp of the double formula down to FLT_MIN (0 below), in [0, 1], 0.5 exactly at 0. Fails
 * for a reduction without the second ln2 part or a polynomial one degree short. */
static void test_exp_nonpos(void **state)
{
    (void)state;
    double worst = 0;
    const int N = 2000000;
    for (int i = 0; i <= N; i++) {
        const float x = (float)(-87.33654 * i / N);
        const double want = exp((double)x), got = nn_exp_nonpos_f(x);
        const double ulp = nextafterf((float)want, INFINITY) - (float)want;
        const double e = fabs(got - want) / ulp;
        if (e > worst) worst = e;
    }
    for (float x = -1.0f; x > -1e-30f; x *= 0.5f) { /* small arguments: exp(x) just below 1 */
        const double want = exp((double)x), got = nn_exp_nonpos_f(x);
        const double e = fabs(got - want) / (nextafterf((float)want, INFINITY) - (float)want);
        if (e > worst) worst = e;
    }
    assert_true(worst <= 2.0);
    assert_true(nn_exp_nonpos_f(0.0f) == 1.0f && nn_exp_nonpos_f(-0.0f) == 1.0f);
    assert_true(nn_exp_nonpos_f(-88.0f) == 0.0f && nn_exp_nonpos_f(-1e30f) == 0.0f);
    assert_true(nn_exp_nonpos_f(-INFINITY) == 0.0f);
    assert_true(isnan(nn_exp_nonpos_f(NAN)));
    assert_true(nn_exp_nonpos_f(-87.3f) > 0 && nn_exp_nonpos_f(-87.3f) < 1.3e-38f);

    enum { M = 200001 };
    static float x[M], y[M];
    for (int i = 0; i < M; i++) x[i] = (float)(-100.0 + 200.0 * i / (M - 1));
    x[M / 2] = 0;
    nn_act_forward(y, x, M, NN_ACT_SIGMOID);
    double ws = 0;
    for (int i = 0; i < M; i++) {
        const double want = 1 / (1 + exp(-(double)x[i]));
        const double ulp = nextafterf((float)want, INFINITY) - (float)want;
        if (want < FLT_MIN) { /* below ln FLT_MIN: 0 (a subnormal with libm) */
            assert_true(y[i] <= FLT_MIN);
            continue;
        }
        const double e = fabs(y[i] - want) / ulp;
        if (e > ws) ws = e;
        assert_true(y[i] >= 0 && y[i] <= 1);
    }
    assert_true(ws <= 3.0);
    assert_true(y[M / 2] == 0.5f);
}

/* The plain-loop reference itself, on a case small enough to do by hand. */
static void test_dense_ref_by_hand(void **state)
{
    (void)state;
    /* in (2,3), w (2,3), b (2) */
    const double in[] = {1, 2, 3, -1, 0, 2}, w[] = {1, 0, -1, 2, 1, 0.5}, b[] = {0.5, -1};
    double out[4];
    nn_dense_forward_ref(out, in, w, b, 2, 3, 2);
    const double want[] = {1 - 3 + 0.5, 2 + 2 + 1.5 - 1, -1 - 2 + 0.5, -2 + 1 - 1};
    for (int i = 0; i < 4; i++) assert_true(out[i] == want[i]);
    const double dout[] = {1, 2, -1, 3};
    double din[6], dw[6] = {1, 1, 1, 1, 1, 1}, db[2] = {10, 20};
    nn_dense_backward_ref(din, dw, db, dout, in, w, 2, 3, 2);
    /* dw[o][j] += sum_i dout[i][o] in[i][j] */
    const double dw_want[] = {1 + 1 + 1, 1 + 2 + 0, 1 + 3 - 2, 1 + 2 - 3, 1 + 4 + 0,
                              1 + 6 + 6};
    const double db_want[] = {10 + 0, 20 + 5};
    /* din[i][j] = sum_o dout[i][o] w[o][j] */
    const double din_want[] = {1 + 4, 0 + 2, -1 + 1, -1 + 6, 0 + 3, 1 + 1.5};
    for (int i = 0; i < 6; i++) assert_true(dw[i] == dw_want[i]);
    for (int i = 0; i < 2; i++) assert_true(db[i] == db_want[i]);
    for (int i = 0; i < 6; i++) assert_true(din[i] == din_want[i]);
}

/* B = 0 (an empty shard): nothing is read or written. */
/* nn_dense_backward_into overwrites dw/db (stale contents must not leak in) and equals
 * zeroing followed by the accumulating kernel; with an empty batch it writes zeros. */
static void test_dense_backward_into(void **state)
{
    (void)state;
    enum { B = 5, IN = 7, OUT = 3 };
    uint64_t seed = 99;
    float in[B * IN], w[OUT * IN], dout[B * OUT], din1[B * IN], din2[B * IN];
    float dw1[OUT * IN], db1[OUT], dw2[OUT * IN], db2[OUT];
    tu_fill_f(in, B * IN, &seed, -1, 1);
    tu_fill_f(w, OUT * IN, &seed, -1, 1);
    tu_fill_f(dout, B * OUT, &seed, -1, 1);
    tu_fill_f(dw1, OUT * IN, &seed, 50, 100); /* stale garbage */
    tu_fill_f(db1, OUT, &seed, 50, 100);
    memset(dw2, 0, sizeof dw2);
    memset(db2, 0, sizeof db2);
    nn_dense_backward_into(din1, dw1, db1, dout, in, w, B, IN, OUT);
    nn_dense_backward(din2, dw2, db2, dout, in, w, B, IN, OUT);
    for (int i = 0; i < OUT * IN; i++)
        if (fabsf(dw1[i] - dw2[i]) > 1e-6f * (1 + fabsf(dw2[i])))
            fail_msg("dw[%d]: into %.9g, zero+add %.9g", i, dw1[i], dw2[i]);
    for (int i = 0; i < OUT; i++)
        if (fabsf(db1[i] - db2[i]) > 1e-6f * (1 + fabsf(db2[i])))
            fail_msg("db[%d]: into %.9g, zero+add %.9g", i, db1[i], db2[i]);
    for (int i = 0; i < B * IN; i++) assert_true(din1[i] == din2[i]);
    /* empty shard: gradients become exactly zero */
    tu_fill_f(dw1, OUT * IN, &seed, 50, 100);
    tu_fill_f(db1, OUT, &seed, 50, 100);
    nn_dense_backward_into(NULL, dw1, db1, dout, in, w, 0, IN, OUT);
    for (int i = 0; i < OUT * IN; i++) assert_true(dw1[i] == 0);
    for (int i = 0; i < OUT; i++) assert_true(db1[i] == 0);
}

static void test_dense_empty_batch(void **state)
{
    (void)state;
    enum { IN = 4, OUT = 3 };
    float w[OUT * IN], b[OUT], out[OUT * 2], dw[OUT * IN], db[OUT], din[IN * 2], dout[OUT * 2];
    float in[IN * 2];
    for (int i = 0; i < OUT * IN; i++) { w[i] = 0.5f; dw[i] = 7; }
    for (int i = 0; i < OUT; i++) { b[i] = 1; db[i] = 7; }
    for (int i = 0; i < OUT * 2; i++) { out[i] = 42; dout[i] = 1; }
    for (int i = 0; i < IN * 2; i++) { din[i] = 42; in[i] = 1; }
    nn_dense_forward(out, in, w, b, 0, IN, OUT);
    nn_dense_backward(din, dw, db, dout, in, w, 0, IN, OUT);
    nn_dense_backward(NULL, dw, db, dout, in, w, 0, IN, OUT);
    for (int i = 0; i < OUT * 2; i++) assert_true(out[i] == 42);
    for (int i = 0; i < IN * 2; i++) assert_true(din[i] == 42);
    for (int i = 0; i < OUT * IN; i++) assert_true(dw[i] == 7);
    for (int i = 0; i < OUT; i++) assert_true(db[i] == 7);

    double wd[OUT * IN] = {0}, bd[OUT] = {0}, outd[2] = {42, 42}, dwd[OUT * IN] = {0};
    double dbd[OUT] = {3, 3, 3}, dind[2] = {42, 42}, ind[2] = {0}, doutd[2] = {0};
    nn_dense_forward_d(outd, ind, wd, bd, 0, IN, OUT);
    nn_dense_backward_d(dind, dwd, dbd, doutd, ind, wd, 0, IN, OUT);
    assert_true(outd[0] == 42 && dind[0] == 42 && dbd[0] == 3 && dwd[0] == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_two_layer),
        cmocka_unit_test(test_fd_softmax_xent),
        cmocka_unit_test(test_softmax_xent_extreme),
        cmocka_unit_test(test_softmax_xent_correct_and_empty),
        cmocka_unit_test(test_softmax_xent_float_vs_double),
        cmocka_unit_test(test_activations),
        cmocka_unit_test(test_act_names),
        cmocka_unit_test(test_dense_float_vs_ref),
        cmocka_unit_test(test_dense_double_vs_ref),
        cmocka_unit_test(test_exp_nonpos),
        cmocka_unit_test(test_dense_ref_by_hand),
        cmocka_unit_test(test_dense_empty_batch),
        cmocka_unit_test(test_dense_backward_into),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
