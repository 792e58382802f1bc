/* Unit tests for the catalogue in src/core: every activation x every loss (finite
 * differences of the double kernels), losses against closed forms, float vs double kernels,
 * gradient clipping, the optimizers beyond plain sgd/adam, dropout in the model, and the init
 * schemes (the learning-rate schedules are in test_schedule.c). Expected values are computed here from torch's documented
 * formulas (torch 1.13), never by calling the code under test. */
#include "core_testutil.h"

#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "rng.h"

/* torch.nn.SELU's constants, written out independently of kernels.h */
#define REF_SELU_LAMBDA 1.0507009873554804934193349852946
#define REF_SELU_ALPHA 1.6732632423543772848170429916717
#define REF_PI 3.14159265358979323846264338327950288

typedef struct {
    nn_act a;
    double p; /* leaky_relu slope / elu alpha (0 for the others) */
} act_cfg;

static const act_cfg act_cfgs[] = {
    {NN_ACT_IDENTITY, 0},    {NN_ACT_RELU, 0},          {NN_ACT_SIGMOID, 0},
    {NN_ACT_TANH, 0},        {NN_ACT_BINARY_STEP, 0},   {NN_ACT_LEAKY_RELU, 0.01},
    {NN_ACT_LEAKY_RELU, 0.2}, {NN_ACT_ELU, 1.0},        {NN_ACT_ELU, 0.7},
    {NN_ACT_SELU, 0},        {NN_ACT_GELU, 0},          {NN_ACT_SOFTPLUS, 0},
};
#define NACT_CFGS (sizeof act_cfgs / sizeof act_cfgs[0])

static const nn_loss loss_cfgs[] = {
    {NN_LOSS_CROSS_ENTROPY, 0, 0, 0}, {NN_LOSS_CROSS_ENTROPY, 0.1, 0, 0},
    {NN_LOSS_BCE_WITH_LOGITS, 0, 0, 0}, {NN_LOSS_MSE, 0, 0, 0},
    {NN_LOSS_L1, 0, 0, 0},            {NN_LOSS_HUBER, 0, 0.5, 0},
    {NN_LOSS_SMOOTH_L1, 0, 0, 0.5},
};
#define NLOSS_CFGS (sizeof loss_cfgs / sizeof loss_cfgs[0])

static void act_label(char *buf, size_t n, const act_cfg *c)
{
    if (c->a == NN_ACT_LEAKY_RELU || c->a == NN_ACT_ELU)
        snprintf(buf, n, "%s(%g)", nn_act_name(c->a), c->p);
    else
        snprintf(buf, n, "%s", nn_act_name(c->a));
}

static void loss_label(char *buf, size_t n, const nn_loss *L)
{
    switch (L->kind) {
    case NN_LOSS_CROSS_ENTROPY: snprintf(buf, n, "cross_entropy(ls=%g)", L->label_smoothing); break;
    case NN_LOSS_HUBER: snprintf(buf, n, "huber(delta=%g)", L->delta); break;
    case NN_LOSS_SMOOTH_L1: snprintf(buf, n, "smooth_l1(beta=%g)", L->beta); break;
    default: snprintf(buf, n, "%s", nn_loss_name(L->kind)); break;
    }
}

static void check_close(const char *what, double got, double want, double rtol, double atol)
{
    if (!(fabs(got - want) <= rtol * fabs(want) + atol))
        fail_msg("%s: got %.17g want %.17g", what, got, want);
}

/* ---- independent scalar references (torch's definitions) ---------------------------------- */

static double act_ref(double x, nn_act a, double p)
{
    switch (a) {
    case NN_ACT_IDENTITY: return x;
    case NN_ACT_RELU: return x > 0 ? x : 0;
    case NN_ACT_SIGMOID: return 1 / (1 + exp(-x));
    case NN_ACT_TANH: return tanh(x);
    case NN_ACT_BINARY_STEP: return x > 0 ? 1 : 0;
    case NN_ACT_LEAKY_RELU: return x > 0 ? x : p * x;
    case NN_ACT_ELU: return x > 0 ? x : p * expm1(x);
    case NN_ACT_SELU: return x > 0 ? REF_SELU_LAMBDA * x : REF_SELU_LAMBDA * REF_SELU_ALPHA * expm1(x);
    case NN_ACT_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case NN_ACT_SOFTPLUS: return x > 20 ? x : log1p(exp(x)); /* beta 1, threshold 20 */
    default: return NAN;
    }
}

/* f'(x), written to be accurate in the tails (not via y = f(x)). binary_step's derivative is
 * 0 (documented: no gradient flows through the step). */
static double act_deriv_ref(double x, nn_act a, double p)
{
    switch (a) {
    case NN_ACT_IDENTITY: return 1;
    case NN_ACT_RELU: return x > 0 ? 1 : 0;
    case NN_ACT_SIGMOID: { double e = exp(-fabs(x)); return e / ((1 + e) * (1 + e)); }
    case NN_ACT_TANH: { double c = cosh(x); return 1 / (c * c); }
    case NN_ACT_BINARY_STEP: return 0;
    case NN_ACT_LEAKY_RELU: return x > 0 ? 1 : p;
    case NN_ACT_ELU: return x > 0 ? 1 : p * exp(x);
    case NN_ACT_SELU: return x > 0 ? REF_SELU_LAMBDA : REF_SELU_LAMBDA * REF_SELU_ALPHA * exp(x);
    case NN_ACT_GELU:
        return 0.5 * (1 + erf(x / sqrt(2.0))) + x * exp(-0.5 * x * x) / sqrt(2 * REF_PI);
    case NN_ACT_SOFTPLUS: return x > 20 ? 1 : 1 / (1 + exp(-x));
    default: return NAN;
    }
}

/* ================================================================================================
 * 1. Finite differences: x -> dense -> act -> dense -> loss, every activation x every loss
 * ============================================================================================== */

typedef struct {
    int B, IN, H, K;
    act_cfg act;
    nn_loss L;
    double *x, *w1, *b1, *w2, *b2, *t;
    int32_t *labels;
    double *z1, *a1, *z2;
} fdnet;

static void fdnet_alloc(fdnet *n, int B, int IN, int H, int K, act_cfg act, nn_loss L)
{
    n->B = B; n->IN = IN; n->H = H; n->K = K; n->act = act; n->L = L;
    n->x = tu_alloc(sizeof(double) * B * IN);
    n->w1 = tu_alloc(sizeof(double) * H * IN);
    n->b1 = tu_alloc(sizeof(double) * H);
    n->w2 = tu_alloc(sizeof(double) * K * H);
    n->b2 = tu_alloc(sizeof(double) * K);
    n->t = tu_alloc(sizeof(double) * B * K);
    n->labels = tu_alloc(sizeof(int32_t) * B);
    n->z1 = tu_alloc(sizeof(double) * B * H);
    n->a1 = tu_alloc(sizeof(double) * B * H);
    n->z2 = tu_alloc(sizeof(double) * B * K);
}

static void fdnet_free(fdnet *n)
{
    free(n->x); free(n->w1); free(n->b1); free(n->w2); free(n->b2); free(n->t);
    free(n->labels); free(n->z1); free(n->a1); free(n->z2);
}

/* mean over the batch of the per-sample loss */
static double fdnet_loss(fdnet *n)
{
    nn_dense_forward_d(n->z1, n->x, n->w1, n->b1, n->B, n->IN, n->H);
    nn_act_forward_p_d(n->a1, n->z1, (size_t)n->B * n->H, n->act.a, n->act.p);
    nn_dense_forward_d(n->z2, n->a1, n->w2, n->b2, n->B, n->H, n->K);
    return nn_loss_eval_d(NULL, n->z2, n->labels, n->t, n->B, n->K, &n->L, 1.0, NULL) / n->B;
}

/* A residual whose magnitude is in [0.1, 0.45] or [0.55, 1.5]: at least 0.05 away from 0
 * (l1's kink) and from +-0.5 (huber's delta, smooth_l1's beta). */
static double residual_draw(uint64_t *s)
{
    double mag = (tu_next(s) & 1) ? tu_unif(s, 0.1, 0.45) : tu_unif(s, 0.55, 1.5);
    return (tu_next(s) & 1) ? mag : -mag;
}

/* Parameters with every hidden pre-activation >= 0.05 from 0 (the kinks of relu, leaky_relu,
 * elu, selu and the step); then labels, or targets at a safe residual from the outputs. */
static void fdnet_randomize(fdnet *n, uint64_t seed)
{
    uint64_t s = seed;
    for (int attempt = 0; attempt < 10000; attempt++) {
        tu_fill(n->x, (size_t)n->B * n->IN, &s, -1, 1);
        tu_fill(n->w1, (size_t)n->H * n->IN, &s, -1, 1);
        tu_fill(n->b1, (size_t)n->H, &s, -0.5, 0.5);
        tu_fill(n->w2, (size_t)n->K * n->H, &s, -1, 1);
        tu_fill(n->b2, (size_t)n->K, &s, -0.5, 0.5);
        for (int i = 0; i < n->B; i++)
            n->labels[i] = (int32_t)(tu_next(&s) % (uint64_t)(n->L.kind == NN_LOSS_BCE_WITH_LOGITS ? 2 : n->K));
        fdnet_loss(n);
        double margin = INFINITY;
        for (int i = 0; i < n->B * n->H; i++)
            margin = fabs(n->z1[i]) < margin ? fabs(n->z1[i]) : margin;
        if (margin < 0.05) continue;
        for (int i = 0; i < n->B * n->K; i++) n->t[i] = n->z2[i] - residual_draw(&s);
        /* no output whose residual signs cancel over the batch: l1's gradient would sum to
         * exactly 0 there, and a whole tensor of exact zeros leaves only FD noise to compare */
        int balanced = 0;
        for (int k = 0; k < n->K && nn_loss_is_regression(n->L.kind); k++) {
            int sum = 0;
            for (int i = 0; i < n->B; i++) sum += n->z2[i * n->K + k] > n->t[i * n->K + k] ? 1 : -1;
            balanced |= sum == 0;
        }
        if (balanced) continue;
        return;
    }
    fail_msg("could not draw parameters away from the kinks");
}

static void fd_grad(fdnet *n, double *p, size_t cnt, double *g)
{
    const double h = 1e-6;
    for (size_t i = 0; i < cnt; i++) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = fdnet_loss(n);
        p[i] = keep - h;
        double lm = fdnet_loss(n);
        p[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

static void check_fdnet(act_cfg act, nn_loss L, int B, int IN, int H, int K, uint64_t seed)
{
    if (L.kind == NN_LOSS_BCE_WITH_LOGITS) K = 1;
    fdnet n;
    fdnet_alloc(&n, B, IN, H, K, act, L);
    fdnet_randomize(&n, seed);

    double *dz2 = tu_alloc(sizeof(double) * B * K);
    double *da1 = tu_alloc(sizeof(double) * B * H), *dz1 = tu_alloc(sizeof(double) * B * H);
    double *dx = tu_alloc(sizeof(double) * B * IN);
    double *dw1 = tu_alloc(sizeof(double) * H * IN), *db1 = tu_alloc(sizeof(double) * H);
    double *dw2 = tu_alloc(sizeof(double) * K * H), *db2 = tu_alloc(sizeof(double) * K);
    double loss = fdnet_loss(&n);
    /* the same loss with the gradient requested (scale 1/B: d mean / dz2) */
    double loss2 = nn_loss_eval_d(dz2, n.z2, n.labels, n.t, B, K, &L, 1.0 / B, NULL) / B;
    char al[48], ll[48];
    act_label(al, sizeof al, &act);
    loss_label(ll, sizeof ll, &L);
    if (!(loss == loss2))
        fail_msg("%s x %s: loss without dz %.17g, with dz %.17g", al, ll, loss, loss2);
    nn_dense_backward_d(da1, dw2, db2, dz2, n.a1, n.w2, B, H, K);
    nn_act_backward_p_d(dz1, da1, n.z1, n.a1, (size_t)B * H, act.a, act.p);
    nn_dense_backward_d(dx, dw1, db1, dz1, n.x, n.w1, B, IN, H);

    struct { const char *name; double *p; size_t cnt; double *g; int behind_act; } t[] = {
        {"W1", n.w1, (size_t)H * IN, dw1, 1}, {"b1", n.b1, (size_t)H, db1, 1},
        {"W2", n.w2, (size_t)K * H, dw2, 0},  {"b2", n.b2, (size_t)K, db2, 0},
        {"x", n.x, (size_t)B * IN, dx, 1},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        double *fd = tu_alloc(sizeof(double) * t[k].cnt);
        fd_grad(&n, t[k].p, t[k].cnt, fd);
        char what[160];
        snprintf(what, sizeof what, "%s x %s B=%d IN=%d H=%d K=%d: d mean loss / d %s", al, ll,
                 B, IN, H, K, t[k].name);
        if (act.a == NN_ACT_BINARY_STEP && t[k].behind_act) {
            /* binary_step's derivative is 0: the analytic gradient behind it is exactly 0,
             * and so is the finite difference away from the step */
            for (size_t i = 0; i < t[k].cnt; i++)
                if (!(t[k].g[i] == 0 && fd[i] == 0))
                    fail_msg("%s [%zu]: analytic %.17g, FD %.17g (both must be 0)", what, i,
                             t[k].g[i], fd[i]);
        }
        TU_ASSERT_REL(what, t[k].g, fd, t[k].cnt, 1e-6);
        free(fd);
    }
    free(dz2); free(da1); free(dz1); free(dx); free(dw1); free(db1); free(dw2); free(db2);
    fdnet_free(&n);
}

static void test_fd_every_act_every_loss(void **state)
{
    (void)state;
    for (size_t a = 0; a < NACT_CFGS; a++)
        for (size_t l = 0; l < NLOSS_CFGS; l++) {
            uint64_t seed = 1 + 100 * a + l;
            check_fdnet(act_cfgs[a], loss_cfgs[l], 4, 3, 5, 3, seed);
            check_fdnet(act_cfgs[a], loss_cfgs[l], 1, 2, 4, 2, 5000 + seed);
            check_fdnet(act_cfgs[a], loss_cfgs[l], 7, 4, 3, 4, 9000 + seed);
        }
}

/* Each activation alone: forward against torch's definition, backward against the closed-form
 * derivative and against a 5-point finite difference, including the tails (+-15 for sigmoid
 * and gelu, +-30 for softplus beyond its threshold of 20). */
static void test_act_derivatives(void **state)
{
    (void)state;
    static const double pts[] = {-30, -25, -19.5, -15, -10, -6, -3.3, -1.7, -0.7, -0.2,
                                 -0.06, 0.06, 0.2, 0.7, 1.7, 3.3, 6, 10, 15, 19.5,
                                 20.5, 25, 30};
    enum { NP = sizeof pts / sizeof pts[0] };
    double y[NP], dy[NP], dx[NP];
    uint64_t s = 31;
    tu_fill(dy, NP, &s, 0.5, 2);
    for (size_t c = 0; c < NACT_CFGS; c++) {
        const act_cfg *A = &act_cfgs[c];
        char al[48];
        act_label(al, sizeof al, A);
        nn_act_forward_p_d(y, pts, NP, A->a, A->p);
        nn_act_backward_p_d(dx, dy, pts, y, NP, A->a, A->p);
        for (int i = 0; i < NP; i++) {
            double x = pts[i];
            double yr = act_ref(x, A->a, A->p);
            if (!(fabs(y[i] - yr) <= 1e-14 * (1 + fabs(yr))))
                fail_msg("%s forward x=%g: got %.17g want %.17g", al, x, y[i], yr);
            double d = dx[i] / dy[i]; /* dy in [0.5, 2]: exact enough */
            double dr = act_deriv_ref(x, A->a, A->p);
            if (!(fabs(d - dr) <= 1e-9 * fabs(dr) + 1e-14))
                fail_msg("%s f'(%g): got %.17g want %.17g", al, x, d, dr);
            /* 5-point stencil on the kernel's own forward; h keeps the stencil off 0 and 20 */
            double h = fabs(x) >= 10 ? 1e-2 : 1e-3, f[4];
            const double off[4] = {-2, -1, 1, 2};
            for (int k = 0; k < 4; k++) {
                double xs = x + off[k] * h;
                nn_act_forward_p_d(&f[k], &xs, 1, A->a, A->p);
            }
            double fd = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h);
            if (!(fabs(d - fd) <= 1e-6 * fmax(fabs(d), fabs(fd)) + 1e-12 * (1 + fabs(yr))))
                fail_msg("%s f'(%g): analytic %.17g, FD %.17g", al, x, d, fd);
            if (A->a == NN_ACT_BINARY_STEP && !(dx[i] == 0 && fd == 0))
                fail_msg("binary_step at %g: derivative %g, FD %g (both must be 0)", x, dx[i], fd);
        }
    }
    /* the softplus threshold is torch's: linear strictly above 20, log1p(e^x) at 20 */
    double x20 = 20, y20, x30 = 30, y30;
    nn_act_forward_p_d(&y20, &x20, 1, NN_ACT_SOFTPLUS, 0);
    nn_act_forward_p_d(&y30, &x30, 1, NN_ACT_SOFTPLUS, 0);
    assert_true(y20 == log1p(exp(20.0)) && y30 == 30);
    float xf30 = 30, yf30, xf40 = -40, yf40;
    nn_act_forward_p(&yf30, &xf30, 1, NN_ACT_SOFTPLUS, 0);
    nn_act_forward_p(&yf40, &xf40, 1, NN_ACT_SOFTPLUS, 0);
    assert_true(yf30 == 30.0f);
    check_close("float softplus(-40)", yf40, log1p(exp(-40.0)), 1e-6, 0); /* 4.2e-18, not 0 */
}

/* ================================================================================================
 * 2. Losses against closed forms
 * ============================================================================================== */

static void test_cross_entropy_closed_form(void **state)
{
    (void)state;
    enum { B = 3, K = 3 };
    const double z[B * K] = {1, 2, 3, /**/ 0.5, -1, 2, /**/ 3, 1, -2};
    const int32_t y[B] = {0, 2, 0}; /* argmax 2, 2, 0: rows 1 and 2 right */
    const double eps_list[] = {0, 0.1, 0.25};
    const double scale = 0.5;
    for (size_t e_i = 0; e_i < 3; e_i++) {
        const double e = eps_list[e_i];
        nn_loss L = {NN_LOSS_CROSS_ENTROPY, e, 0, 0};
        double want = 0, dwant[B * K];
        for (int i = 0; i < B; i++) {
            const double *zi = z + i * K;
            double se = 0;
            for (int k = 0; k < K; k++) se += exp(zi[k]);
            double lse = log(se), nll_mean = 0;
            for (int k = 0; k < K; k++) nll_mean += (lse - zi[k]) / K;
            want += (1 - e) * (lse - zi[y[i]]) + e * nll_mean;
            for (int k = 0; k < K; k++)
                dwant[i * K + k] = (exp(zi[k]) / se - e / K - (k == y[i] ? 1 - e : 0)) * scale;
        }
        if (e_i == 1) { /* the brief's example, spelled out: logits [1,2,3], label 0, e = 0.1 */
            double lse = log(exp(1.0) + exp(2.0) + exp(3.0));
            double row0 = 0.9 * (lse - 1) + 0.1 * ((lse - 1) + (lse - 2) + (lse - 3)) / 3;
            double got0 = nn_loss_eval_d(NULL, z, y, NULL, 1, K, &L, 1, NULL);
            check_close("ce ls=0.1 [1,2,3] label 0", got0, row0, 1e-14, 0);
        }
        double dz[B * K], stats[2] = {5, -7};
        double got = nn_loss_eval_d(dz, z, y, NULL, B, K, &L, scale, stats);
        char what[64];
        snprintf(what, sizeof what, "cross_entropy ls=%g sum", e);
        check_close(what, got, want, 1e-14, 0);
        snprintf(what, sizeof what, "cross_entropy ls=%g dz", e);
        TU_ASSERT_REL(what, dz, dwant, (size_t)(B * K), 1e-14);
        assert_true(stats[0] == 5 + 2); /* rows predicted right are added */
        assert_true(stats[1] == -7);    /* classification touches stats[0] only */
        /* float kernel */
        float zf[B * K], dzf[B * K];
        for (int i = 0; i < B * K; i++) zf[i] = (float)z[i];
        double sf[2] = {0, 0};
        double gotf = nn_loss_eval(dzf, zf, y, NULL, B, K, &L, (float)scale, sf);
        snprintf(what, sizeof what, "float cross_entropy ls=%g sum", e);
        check_close(what, gotf, want, 1e-6, 0);
        double dzfd[B * K];
        tu_f2d(dzfd, dzf, B * K);
        snprintf(what, sizeof what, "float cross_entropy ls=%g dz", e);
        TU_ASSERT_REL(what, dzfd, dwant, (size_t)(B * K), 1e-6);
        assert_true(sf[0] == 2);
    }
}

static void test_bce_closed_form(void **state)
{
    (void)state;
    const double zs[] = {40, 40, -40, -40, 0, 0, 2.5, -0.7, 1000, -1000};
    const int32_t ys[] = {1, 0, 1, 0, 1, 0, 0, 1, 0, 1};
    enum { B = sizeof zs / sizeof zs[0] };
    nn_loss L = {NN_LOSS_BCE_WITH_LOGITS, 0, 0, 0};
    double sum_want = 0;
    int right = 0;
    for (int i = 0; i < B; i++) {
        const double z = zs[i];
        /* -log sigmoid(z) = softplus(-z), -log(1 - sigmoid(z)) = softplus(z) */
        double u = ys[i] ? -z : z;
        double want = u > 0 ? u + log1p(exp(-u)) : log1p(exp(u));
        double gwant = 1 / (1 + exp(-z)) - ys[i];
        double loss, dz, st[2] = {1, 0};
        loss = nn_loss_eval_d(&dz, &zs[i], &ys[i], NULL, 1, 1, &L, 1, st);
        char what[64];
        snprintf(what, sizeof what, "bce z=%g y=%d loss", z, ys[i]);
        if (!isfinite(loss) || !isfinite(dz)) fail_msg("%s: not finite (%g, %g)", what, loss, dz);
        check_close(what, loss, want, 1e-15, 1e-300);
        snprintf(what, sizeof what, "bce z=%g y=%d dz", z, ys[i]);
        check_close(what, dz, gwant, 1e-15, 1e-16);
        /* z > 0 predicts 1 (so z = 0 predicts 0) */
        int ok = (z > 0) == (ys[i] == 1);
        right += ok;
        assert_true(st[0] == 1 + ok && st[1] == 0);
        float zf = (float)z, dzf;
        double lf = nn_loss_eval(&dzf, &zf, &ys[i], NULL, 1, 1, &L, 1, NULL);
        snprintf(what, sizeof what, "float bce z=%g y=%d", z, ys[i]);
        if (!isfinite(lf) || !isfinite(dzf)) fail_msg("%s: not finite (%g, %g)", what, lf, dzf);
        check_close(what, lf, want, 1e-6, 0); /* relative: 4.2e-18 at z=40, y=1 is a float */
        check_close(what, dzf, gwant, 1e-6, 1e-7);
        sum_want += want;
    }
    /* at z = 0 the loss is log 2 (to the last bit) for either label */
    double zero = 0, l0, l1;
    int32_t y0 = 0, y1 = 1;
    l0 = nn_loss_eval_d(NULL, &zero, &y0, NULL, 1, 1, &L, 1, NULL);
    l1 = nn_loss_eval_d(NULL, &zero, &y1, NULL, 1, 1, &L, 1, NULL);
    check_close("bce(0, 0) = log 2", l0, 0.69314718055994530942, 2.3e-16, 0);
    check_close("bce(0, 1) = log 2", l1, 0.69314718055994530942, 2.3e-16, 0);
    /* a batch: the sum of the rows, the count of rows right */
    double st[2] = {0, 0};
    double tot = nn_loss_eval_d(NULL, zs, ys, NULL, B, 1, &L, 1, st);
    check_close("bce batch sum", tot, sum_want, 1e-15, 0);
    assert_true(st[0] == right);
}

/* Elementwise regression losses, torch's definitions (huber/smooth_l1: quadratic iff |r| <
 * delta / beta). */
static double reg_ref(nn_loss_kind k, double r, double d, double *g)
{
    double ar = fabs(r), sg = (r > 0) - (r < 0);
    switch (k) {
    case NN_LOSS_MSE: *g = 2 * r; return r * r;
    case NN_LOSS_L1: *g = sg; return ar;
    case NN_LOSS_HUBER:
        if (ar < d) { *g = r; return 0.5 * r * r; }
        *g = d * sg; return d * (ar - 0.5 * d);
    case NN_LOSS_SMOOTH_L1:
        if (ar < d) { *g = r / d; return 0.5 * r * r / d; }
        *g = sg; return ar - 0.5 * d;
    default: *g = NAN; return NAN;
    }
}

static void test_regression_closed_form(void **state)
{
    (void)state;
    enum { B = 3, K = 3 };
    /* residuals z - t include exactly +-0.5 (= delta = beta), 0, and both branches */
    const double t[B * K] = {1, 2, -1, 0.5, 0.25, 3, -2, 0, 4};
    const double r[B * K] = {0.25, -0.5, 1.75, -0.125, 0.5, -2, 0, 0.375, -0.75};
    double z[B * K];
    for (int i = 0; i < B * K; i++) z[i] = t[i] + r[i]; /* exact in binary */
    const nn_loss Ls[] = {{NN_LOSS_MSE, 0, 0, 0}, {NN_LOSS_L1, 0, 0, 0},
                          {NN_LOSS_HUBER, 0, 0.5, 0}, {NN_LOSS_SMOOTH_L1, 0, 0, 0.5},
                          {NN_LOSS_HUBER, 0, 1.0, 0}, {NN_LOSS_SMOOTH_L1, 0, 0, 2.0}};
    const double scale = 0.25;
    double sse = 0, sae = 0;
    for (int i = 0; i < B * K; i++) { sse += r[i] * r[i]; sae += fabs(r[i]); }
    for (size_t c = 0; c < sizeof Ls / sizeof Ls[0]; c++) {
        const nn_loss *L = &Ls[c];
        double d = L->kind == NN_LOSS_HUBER ? L->delta : L->beta;
        double want = 0, dwant[B * K];
        for (int i = 0; i < B; i++) {
            double row = 0;
            for (int k = 0; k < K; k++) {
                double g;
                row += reg_ref(L->kind, r[i * K + k], d, &g);
                dwant[i * K + k] = g / K * scale;
            }
            want += row / K; /* per-sample loss: mean over the K outputs */
        }
        char ll[48], what[96];
        loss_label(ll, sizeof ll, L);
        double dz[B * K], st[2] = {100, 200};
        double got = nn_loss_eval_d(dz, z, NULL, t, B, K, L, scale, st);
        snprintf(what, sizeof what, "%s sum", ll);
        check_close(what, got, want, 1e-15, 0);
        snprintf(what, sizeof what, "%s dz", ll);
        TU_ASSERT_REL(what, dz, dwant, (size_t)(B * K), 1e-15);
        snprintf(what, sizeof what, "%s stats SSE", ll);
        check_close(what, st[0], 100 + sse, 1e-15, 0);
        snprintf(what, sizeof what, "%s stats SAE", ll);
        check_close(what, st[1], 200 + sae, 1e-15, 0);
        /* per-row: one row alone is that row's mean over K */
        double g1;
        double row1 = (reg_ref(L->kind, r[3], d, &g1) + reg_ref(L->kind, r[4], d, &g1) +
                       reg_ref(L->kind, r[5], d, &g1)) / 3;
        snprintf(what, sizeof what, "%s row 1 alone", ll);
        check_close(what, nn_loss_eval_d(NULL, z + 3, NULL, t + 3, 1, K, L, 1, NULL), row1,
                    1e-15, 0);
        /* float kernel */
        float zf[B * K], tf[B * K], dzf[B * K];
        for (int i = 0; i < B * K; i++) { zf[i] = (float)z[i]; tf[i] = (float)t[i]; }
        double sf[2] = {0, 0}, dzfd[B * K];
        double gotf = nn_loss_eval(dzf, zf, NULL, tf, B, K, L, (float)scale, sf);
        snprintf(what, sizeof what, "float %s", ll);
        check_close(what, gotf, want, 1e-6, 0);
        check_close(what, sf[0], sse, 1e-6, 0);
        check_close(what, sf[1], sae, 1e-6, 0);
        tu_f2d(dzfd, dzf, B * K);
        TU_ASSERT_REL(what, dzfd, dwant, (size_t)(B * K), 1e-6);
    }
    /* exactly at the threshold the two branches meet: huber(0.5; delta 0.5) = 0.125, gradient
     * 0.5; smooth_l1(0.5; beta 0.5) = 0.25, gradient 1 */
    const nn_loss hub = {NN_LOSS_HUBER, 0, 0.5, 0}, sl1 = {NN_LOSS_SMOOTH_L1, 0, 0, 0.5};
    double zz = 1.5, tt = 1.0, g;
    assert_true(nn_loss_eval_d(&g, &zz, NULL, &tt, 1, 1, &hub, 1, NULL) == 0.125 && g == 0.5);
    assert_true(nn_loss_eval_d(&g, &zz, NULL, &tt, 1, 1, &sl1, 1, NULL) == 0.25 && g == 1);
    zz = 0.5;
    assert_true(nn_loss_eval_d(&g, &zz, NULL, &tt, 1, 1, &hub, 1, NULL) == 0.125 && g == -0.5);
    assert_true(nn_loss_eval_d(&g, &zz, NULL, &tt, 1, 1, &sl1, 1, NULL) == 0.25 && g == -1);
}

static void test_loss_names(void **state)
{
    (void)state;
    const char *names[] = {"cross_entropy", "bce_with_logits", "mse", "l1", "huber", "smooth_l1"};
    for (int i = 0; i < NN_LOSS_COUNT; i++) {
        nn_loss_kind k = NN_LOSS_COUNT;
        assert_int_equal(nn_loss_parse(names[i], &k), 0);
        assert_int_equal(k, i);
        assert_string_equal(nn_loss_name((nn_loss_kind)i), names[i]);
        assert_int_equal(nn_loss_is_regression((nn_loss_kind)i), i >= 2);
    }
    nn_loss_kind k = NN_LOSS_MSE;
    assert_int_equal(nn_loss_parse("nll", &k), -1);
    assert_int_equal(k, NN_LOSS_MSE);
    const char *an[] = {"identity", "relu", "sigmoid", "tanh", "binary_step", "leaky_relu",
                        "elu", "selu", "gelu", "softplus"};
    for (int i = 0; i < NN_ACT_COUNT; i++) {
        nn_act a = NN_ACT_COUNT;
        assert_int_equal(nn_act_parse(an[i], &a), 0);
        assert_int_equal(a, i);
        assert_string_equal(nn_act_name((nn_act)i), an[i]);
    }
    assert_true(nn_act_default_param(NN_ACT_LEAKY_RELU) == 0.01);
    assert_true(nn_act_default_param(NN_ACT_ELU) == 1.0);
}

/* ================================================================================================
 * 3. Float vs double kernels
 * ============================================================================================== */

static void test_float_vs_double(void **state)
{
    (void)state;
    enum { N = 301 };
    float xf[N], yf[N], dyf[N], dxf[N];
    double xd[N], yd[N], dyd[N], dxd[N], tmp[N];
    uint64_t s = 4242;
    tu_fill_f(xf, N, &s, -8, 8);
    tu_fill_f(dyf, N, &s, -2, 2);
    xf[0] = 25; xf[1] = -25; xf[2] = 15; xf[3] = -15; xf[4] = 20.5f; xf[5] = 19.5f;
    tu_f2d(xd, xf, N);
    tu_f2d(dyd, dyf, N);
    char what[96], al[48];
    for (size_t c = 0; c < NACT_CFGS; c++) {
        const act_cfg *A = &act_cfgs[c];
        act_label(al, sizeof al, A);
        nn_act_forward_p(yf, xf, N, A->a, (float)A->p);
        nn_act_forward_p_d(yd, xd, N, A->a, (double)(float)A->p);
        nn_act_backward_p(dxf, dyf, xf, yf, N, A->a, (float)A->p);
        nn_act_backward_p_d(dxd, dyd, xd, yd, N, A->a, (double)(float)A->p);
        tu_f2d(tmp, yf, N);
        snprintf(what, sizeof what, "%s forward float vs double", al);
        TU_ASSERT_REL(what, tmp, yd, N, 1e-5);
        tu_f2d(tmp, dxf, N);
        snprintf(what, sizeof what, "%s backward float vs double", al);
        TU_ASSERT_REL(what, tmp, dxd, N, 1e-5);
        /* and element by element (a norm-wise error over values up to 8 would hide a small
         * absolute error near 0); the 2e-6 floor covers float's cancellation in 1 + erf(x)
         * (gelu, x << 0) and in 1 - y^2 (tanh, |x| ~ 8) */
        for (int i = 0; i < N; i++) {
            if (!(fabs(yf[i] - yd[i]) <= 1e-5 * fabs(yd[i]) + 2e-6))
                fail_msg("%s forward x=%.9g: float %.9g double %.17g", al, xd[i], yf[i], yd[i]);
            if (!(fabs(dxf[i] - dxd[i]) <= 1e-5 * fabs(dxd[i]) + 2e-6))
                fail_msg("%s backward x=%.9g: float %.9g double %.17g", al, xd[i], dxf[i], dxd[i]);
        }
    }
    enum { B = 16, KM = 5 };
    for (size_t c = 0; c < NLOSS_CFGS; c++) {
        const nn_loss *L = &loss_cfgs[c];
        const int K = L->kind == NN_LOSS_BCE_WITH_LOGITS ? 1 : KM;
        float zf[B * KM], tf[B * KM], dzf[B * KM];
        double zd[B * KM], td[B * KM], dzd[B * KM], dzfd[B * KM];
        int32_t y[B];
        tu_fill_f(zf, (size_t)B * K, &s, -4, 4);
        tu_fill_f(tf, (size_t)B * K, &s, -4, 4);
        for (int i = 0; i < B; i++)
            y[i] = (int32_t)(tu_next(&s) % (uint64_t)(L->kind == NN_LOSS_BCE_WITH_LOGITS ? 2 : K));
        tu_f2d(zd, zf, (size_t)B * K);
        tu_f2d(td, tf, (size_t)B * K);
        double sf[2] = {0, 0}, sd[2] = {0, 0};
        double lf = nn_loss_eval(dzf, zf, y, tf, B, K, L, 1.0f / B, sf);
        double ld = nn_loss_eval_d(dzd, zd, y, td, B, K, L, 1.0 / B, sd);
        char ll[48];
        loss_label(ll, sizeof ll, L);
        snprintf(what, sizeof what, "%s loss float vs double", ll);
        check_close(what, lf, ld, 1e-5, 0);
        tu_f2d(dzfd, dzf, (size_t)B * K);
        snprintf(what, sizeof what, "%s dz float vs double", ll);
        TU_ASSERT_REL(what, dzfd, dzd, (size_t)B * K, 1e-5);
        snprintf(what, sizeof what, "%s stats float vs double", ll);
        check_close(what, sf[0], sd[0], 1e-5, 0);
        check_close(what, sf[1], sd[1], 1e-5, 0);
        if (nn_loss_is_regression(L->kind)) assert_true(sd[0] > 0 && sd[1] > 0);
    }
}

/* ================================================================================================
 * 4. Gradient clipping
 * ============================================================================================== */

static void check_clip(float *g0, size_t n, double max_norm, const char *what)
{
    float *g = tu_alloc(sizeof(float) * (n ? n : 1));
    memcpy(g, g0, sizeof(float) * n);
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)g0[i] * g0[i];
    double norm = sqrt(ss);
    double ret = nn_clip_grad_norm(g, n, max_norm);
    check_close(what, ret, norm, 1e-12, 0);
    if (norm > max_norm) { /* torch: coef = max_norm / (norm + 1e-6), clamped to 1 */
        double coef = max_norm / (norm + 1e-6);
        double ss2 = 0;
        for (size_t i = 0; i < n; i++) {
            double want = g0[i] * coef;
            if (!(fabs(g[i] - want) <= 1e-6 * fabs(want) + 1e-30))
                fail_msg("%s: g[%zu] %.9g want %.9g", what, i, g[i], want);
            ss2 += (double)g[i] * g[i];
        }
        check_close(what, sqrt(ss2), max_norm * norm / (norm + 1e-6), 1e-6, 0);
    } else {
        assert_memory_equal(g, g0, sizeof(float) * n);
    }
    free(g);
}

static void test_clip_grad_norm(void **state)
{
    (void)state;
    enum { N = 1000 };
    float g0[N];
    uint64_t s = 8;
    tu_fill_f(g0, N, &s, -1, 1);
    double ss = 0;
    for (int i = 0; i < N; i++) ss += (double)g0[i] * g0[i];
    const double norm = sqrt(ss);
    check_clip(g0, N, norm / 4, "clip to norm/4");
    check_clip(g0, N, norm * 0.999, "clip to 0.999 norm");
    check_clip(g0, N, norm * 2, "below max_norm");
    check_clip(g0, N, norm * 1.0001, "just below max_norm");
    /* small gradients: the 1e-6 in the denominator is visible (coef 0.4975 rather than 0.5) */
    float small[4] = {6e-4f, -8e-4f, 0, 0}; /* norm 1e-3 */
    check_clip(small, 4, 5e-4, "norm 1e-3 to 5e-4");
    float c[4];
    memcpy(c, small, sizeof c);
    nn_clip_grad_norm(c, 4, 5e-4);
    check_close("coefficient includes +1e-6", c[0] / (double)small[0], 5e-4 / (1e-3 + 1e-6), 1e-6, 0);
    /* zero gradients and an empty vector: norm 0, untouched */
    float z[3] = {0, 0, 0};
    check_clip(z, 3, 1.0, "zero gradients");
    assert_true(nn_clip_grad_norm(z, 0, 1.0) == 0);
}

/* ================================================================================================
 * 5. Optimizers: torch 1.13's single-tensor algorithms by hand, in double
 * ============================================================================================== */

enum { ON = 8, OSTEPS = 4 };

/* gradients change sign and size with the step: large first, then small (so amsgrad's max and
 * adamax's b2*u both engage), then large again */
static double ograd(int t, int i)
{
    static const double fac[OSTEPS] = {4, 0.3, 0.2, 1.5};
    return sin(1.3 * i + 0.7 * t + 0.4) * (1 + 0.25 * i) * fac[t - 1];
}

static double oparam0(int i) { return (i % 2 ? -1 : 1) * (1.5 + 0.25 * i); }

typedef struct { double m, v, vmax, buf, ga, acc; } ref_slot;

static void ref_step(const nn_opt_config *c, int t, double wd, double *p, double g, ref_slot *s)
{
    switch (c->kind) {
    case NN_OPT_SGD: {
        double d = g + wd * *p;
        if (c->momentum != 0) {
            s->buf = t == 1 ? d : c->momentum * s->buf + (1 - c->dampening) * d;
            d = c->nesterov ? d + c->momentum * s->buf : s->buf;
        }
        *p -= c->lr * d;
        break;
    }
    case NN_OPT_ADAM:
    case NN_OPT_ADAMW: {
        double d = g;
        if (c->kind == NN_OPT_ADAMW) *p *= 1 - c->lr * wd; /* decoupled */
        else d += wd * *p;
        s->m = c->beta1 * s->m + (1 - c->beta1) * d;
        s->v = c->beta2 * s->v + (1 - c->beta2) * d * d;
        double v = s->v;
        if (c->amsgrad) { s->vmax = fmax(s->vmax, s->v); v = s->vmax; }
        double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
        *p -= c->lr / bc1 * s->m / (sqrt(v) / sqrt(bc2) + c->eps);
        break;
    }
    case NN_OPT_ADAMAX: {
        double d = g + wd * *p;
        s->m = c->beta1 * s->m + (1 - c->beta1) * d;
        s->v = fmax(c->beta2 * s->v, fabs(d) + c->eps); /* exp_inf */
        *p -= c->lr / (1 - pow(c->beta1, t)) * s->m / s->v;
        break;
    }
    case NN_OPT_RMSPROP: {
        double d = g + wd * *p;
        s->v = c->alpha * s->v + (1 - c->alpha) * d * d;
        double avg;
        if (c->centered) {
            s->ga = c->alpha * s->ga + (1 - c->alpha) * d;
            avg = sqrt(s->v - s->ga * s->ga) + c->eps;
        } else {
            avg = sqrt(s->v) + c->eps;
        }
        if (c->momentum > 0) {
            s->buf = c->momentum * s->buf + d / avg;
            *p -= c->lr * s->buf;
        } else {
            *p -= c->lr * d / avg;
        }
        break;
    }
    case NN_OPT_ADAGRAD: {
        double d = g + wd * *p;
        double clr = c->lr / (1 + (t - 1) * c->lr_decay);
        s->v += d * d; /* state_sum, starting at initial_accumulator_value */
        *p -= clr * d / (sqrt(s->v) + c->eps);
        break;
    }
    case NN_OPT_ADADELTA: {
        double d = g + wd * *p;
        s->v = c->rho * s->v + (1 - c->rho) * d * d;
        double stdv = sqrt(s->v + c->eps);
        double delta = sqrt(s->acc + c->eps) / stdv * d;
        s->acc = c->rho * s->acc + (1 - c->rho) * delta * delta;
        *p -= c->lr * delta;
        break;
    }
    default: break;
    }
}

/* The reference trajectory after `steps` steps; wd per element. */
static void ref_traj(const nn_opt_config *c, const double *wd, int steps, double *p)
{
    ref_slot s[ON];
    memset(s, 0, sizeof s);
    for (int i = 0; i < ON; i++) {
        p[i] = (float)oparam0(i);
        if (c->kind == NN_OPT_ADAGRAD) s[i].v = c->initial_accumulator_value;
    }
    for (int t = 1; t <= steps; t++)
        for (int i = 0; i < ON; i++) ref_step(c, t, wd[i], &p[i], (float)ograd(t, i), &s[i]);
}

/* Runs the optimizer OSTEPS steps and compares every parameter after every step (1e-6
 * relative). segs == NULL: the single default segment with cfg->weight_decay. */
static void run_opt(const char *name, const nn_opt_config *cfg, const nn_opt_segment *segs,
                    int nseg)
{
    nn_optim o;
    assert_int_equal(nn_optim_create(&o, cfg, ON), 0);
    double wd[ON];
    for (int i = 0; i < ON; i++) wd[i] = cfg->weight_decay;
    if (segs) {
        nn_opt_segment copy[4];
        assert_true(nseg <= 4);
        memcpy(copy, segs, sizeof *segs * (size_t)nseg);
        assert_int_equal(nn_optim_set_segments(&o, copy, nseg), 0);
        for (int k = 0; k < nseg; k++) {
            for (size_t i = segs[k].lo; i < segs[k].hi; i++) wd[i] = segs[k].weight_decay;
            copy[k].weight_decay = 123; /* the optimizer keeps its own copy */
        }
    }
    float p[ON], g[ON];
    for (int i = 0; i < ON; i++) p[i] = (float)oparam0(i);
    for (int t = 1; t <= OSTEPS; t++) {
        for (int i = 0; i < ON; i++) g[i] = (float)ograd(t, i);
        nn_optim_step(&o, p, g);
        assert_int_equal(o.step, t);
        double pr[ON];
        ref_traj(cfg, wd, t, pr);
        for (int i = 0; i < ON; i++) {
            double err = fabs(p[i] - pr[i]) / fabs(pr[i]);
            if (!(err < 1e-6))
                fail_msg("%s step %d param[%d]: got %.9g want %.12g (rel err %.3g)", name, t, i,
                         p[i], pr[i], err);
        }
    }
    nn_optim_free(&o);
}

/* The feature under test must change the trajectory (else the comparison proves nothing). */
static void assert_feature_matters(const char *name, const nn_opt_config *with,
                                   const nn_opt_config *without)
{
    double wd1[ON], wd2[ON], a[ON], b[ON];
    for (int i = 0; i < ON; i++) { wd1[i] = with->weight_decay; wd2[i] = without->weight_decay; }
    ref_traj(with, wd1, OSTEPS, a);
    ref_traj(without, wd2, OSTEPS, b);
    double mx = 0;
    for (int i = 0; i < ON; i++) mx = fmax(mx, fabs(a[i] - b[i]) / fabs(b[i]));
    if (!(mx > 1e-4)) fail_msg("%s: the feature changes the parameters by only %.3g", name, mx);
}

static nn_opt_config ocfg(nn_opt_kind k, double lr)
{
    nn_opt_config c;
    nn_opt_defaults(&c, k);
    c.lr = lr;
    return c;
}

static void test_opt_sgd_dampening_nesterov(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_SGD, 0.05), off;
    c.momentum = 0.9; c.dampening = 0.3;
    off = c; off.dampening = 0;
    assert_feature_matters("sgd dampening", &c, &off);
    run_opt("sgd momentum=0.9 dampening=0.3", &c, NULL, 0);
    c.weight_decay = 0.05;
    run_opt("sgd momentum=0.9 dampening=0.3 wd=0.05", &c, NULL, 0);
    c = ocfg(NN_OPT_SGD, 0.05);
    c.momentum = 0.9; c.nesterov = 1;
    off = c; off.nesterov = 0;
    assert_feature_matters("sgd nesterov", &c, &off);
    run_opt("sgd nesterov momentum=0.9", &c, NULL, 0);
    c.weight_decay = 0.1; c.momentum = 0.5;
    run_opt("sgd nesterov momentum=0.5 wd=0.1", &c, NULL, 0);
}

static void test_opt_adamw_amsgrad(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_ADAMW, 0.05), off;
    c.weight_decay = 0.1;
    off = c; off.kind = NN_OPT_ADAM; /* coupled instead of decoupled */
    assert_feature_matters("adamw decoupled", &c, &off);
    run_opt("adamw lr=0.05 wd=0.1", &c, NULL, 0);
    c.weight_decay = 0.5; c.eps = 1e-3;
    run_opt("adamw lr=0.05 wd=0.5 eps=1e-3", &c, NULL, 0);

    c = ocfg(NN_OPT_ADAM, 0.05);
    c.beta2 = 0.9; c.amsgrad = 1;
    off = c; off.amsgrad = 0;
    assert_feature_matters("adam amsgrad", &c, &off);
    run_opt("adam amsgrad b2=0.9", &c, NULL, 0);
    c.weight_decay = 0.1;
    run_opt("adam amsgrad b2=0.9 wd=0.1", &c, NULL, 0);
    c.kind = NN_OPT_ADAMW;
    off = c; off.amsgrad = 0;
    assert_feature_matters("adamw amsgrad", &c, &off);
    run_opt("adamw amsgrad b2=0.9 wd=0.1", &c, NULL, 0);
}

static void test_opt_adamax(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_ADAMAX, 0.1);
    run_opt("adamax lr=0.1", &c, NULL, 0);
    c.beta2 = 0.8; c.weight_decay = 0.1; c.eps = 1e-2;
    run_opt("adamax lr=0.1 b2=0.8 wd=0.1 eps=1e-2", &c, NULL, 0);
}

static void test_opt_rmsprop(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_RMSPROP, 0.01), off;
    run_opt("rmsprop", &c, NULL, 0);
    c.alpha = 0.9; c.centered = 1;
    off = c; off.centered = 0;
    assert_feature_matters("rmsprop centered", &c, &off);
    run_opt("rmsprop centered alpha=0.9", &c, NULL, 0);
    c = ocfg(NN_OPT_RMSPROP, 0.01);
    c.momentum = 0.8;
    run_opt("rmsprop momentum=0.8", &c, NULL, 0);
    c.centered = 1; c.alpha = 0.9; c.weight_decay = 0.1;
    run_opt("rmsprop centered momentum=0.8 alpha=0.9 wd=0.1", &c, NULL, 0);
    c = ocfg(NN_OPT_RMSPROP, 0.01);
    c.eps = 0.1; /* pins where eps enters: sqrt(v) + eps */
    run_opt("rmsprop eps=0.1", &c, NULL, 0);
}

static void test_opt_adagrad(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_ADAGRAD, 0.1), off;
    c.lr_decay = 0.1; c.initial_accumulator_value = 0.5;
    off = c; off.lr_decay = 0;
    assert_feature_matters("adagrad lr_decay", &c, &off);
    off = c; off.initial_accumulator_value = 0;
    assert_feature_matters("adagrad initial_accumulator_value", &c, &off);
    run_opt("adagrad lr_decay=0.1 init=0.5", &c, NULL, 0);
    c = ocfg(NN_OPT_ADAGRAD, 0.1);
    c.weight_decay = 0.1; c.eps = 0.1;
    run_opt("adagrad wd=0.1 eps=0.1", &c, NULL, 0);
}

static void test_opt_adadelta(void **state)
{
    (void)state;
    nn_opt_config c = ocfg(NN_OPT_ADADELTA, 1.0);
    c.eps = 1e-2; /* large enough for the steps to move the parameters visibly */
    run_opt("adadelta eps=1e-2", &c, NULL, 0);
    c.lr = 0.5; c.rho = 0.5; c.eps = 1e-3; c.weight_decay = 0.1;
    run_opt("adadelta lr=0.5 rho=0.5 eps=1e-3 wd=0.1", &c, NULL, 0);
    c = ocfg(NN_OPT_ADADELTA, 1.0);
    run_opt("adadelta defaults", &c, NULL, 0);
}

/* Two weight-decay segments (e.g. weights with decay, biases without): each slice its own. */
static void test_opt_segments(void **state)
{
    (void)state;
    const nn_opt_segment segs[2] = {{0, 5, 0.2, 0}, {5, ON, 0.0, 0}};
    const nn_opt_kind kinds[] = {NN_OPT_SGD, NN_OPT_ADAM, NN_OPT_ADAMW, NN_OPT_ADAMAX,
                                 NN_OPT_RMSPROP, NN_OPT_ADAGRAD, NN_OPT_ADADELTA};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        nn_opt_config c = ocfg(kinds[k], 0.05);
        if (kinds[k] == NN_OPT_SGD) c.momentum = 0.9;
        if (kinds[k] == NN_OPT_ADADELTA) { c.lr = 1.0; c.eps = 1e-2; }
        c.weight_decay = 0.7; /* overridden by the segments */
        char name[64];
        snprintf(name, sizeof name, "%s segments wd 0.2 | 0", nn_opt_name(kinds[k]));
        run_opt(name, &c, segs, 2);
    }
    /* three segments, the middle one decaying */
    const nn_opt_segment s3[3] = {{0, 2, 0, 0}, {2, 6, 0.3, 0}, {6, ON, 0, 0}};
    nn_opt_config c = ocfg(NN_OPT_ADAMW, 0.05);
    run_opt("adamw segments 0 | 0.3 | 0", &c, s3, 3);
}

static void test_opt_state_sizes_and_defaults(void **state)
{
    (void)state;
    struct { nn_opt_kind k; int ams, centered; double mom; size_t slots; } t[] = {
        {NN_OPT_ADAM, 1, 0, 0, 3}, {NN_OPT_ADAMW, 0, 0, 0, 2}, {NN_OPT_ADAMAX, 0, 0, 0, 2},
        {NN_OPT_RMSPROP, 0, 0, 0, 1}, {NN_OPT_RMSPROP, 0, 1, 0, 2}, {NN_OPT_RMSPROP, 0, 1, 0.9, 3},
        {NN_OPT_RMSPROP, 0, 0, 0.9, 2}, {NN_OPT_ADAGRAD, 0, 0, 0, 1}, {NN_OPT_ADADELTA, 0, 0, 0, 2},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        nn_opt_config c = ocfg(t[i].k, 0.01);
        c.amsgrad = t[i].ams; c.centered = t[i].centered; c.momentum = t[i].mom;
        nn_optim o;
        assert_int_equal(nn_optim_create(&o, &c, 10), 0);
        assert_int_equal(o.nstate, 10 * t[i].slots);
        nn_optim_free(&o);
    }
    /* torch's defaults */
    nn_opt_config c;
    nn_opt_defaults(&c, NN_OPT_ADAMW);
    assert_true(c.lr == 1e-3 && c.weight_decay == 1e-2 && c.beta1 == 0.9 && c.beta2 == 0.999 &&
                c.eps == 1e-8);
    nn_opt_defaults(&c, NN_OPT_ADAMAX);
    assert_true(c.lr == 2e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
    nn_opt_defaults(&c, NN_OPT_RMSPROP);
    assert_true(c.lr == 1e-2 && c.alpha == 0.99 && c.eps == 1e-8 && c.momentum == 0 &&
                !c.centered);
    nn_opt_defaults(&c, NN_OPT_ADAGRAD);
    assert_true(c.lr == 1e-2 && c.eps == 1e-10 && c.lr_decay == 0 &&
                c.initial_accumulator_value == 0);
    nn_opt_defaults(&c, NN_OPT_ADADELTA);
    assert_true(c.lr == 1.0 && c.rho == 0.9 && c.eps == 1e-6);
}

/* ================================================================================================
 * 6. Dropout in the model
 * ============================================================================================== */

enum { D_IN = 5, D_H1 = 40, D_H2 = 30, D_K = 3, D_MAXB = 64 };
static const int d_sizes[] = {D_IN, D_H1, D_H2, D_K};
static const nn_act d_acts[] = {NN_ACT_TANH, NN_ACT_GELU, NN_ACT_IDENTITY};
static const double d_drop[] = {0.3, 0.5};

static void d_create(nn_model *m, const double *dropout)
{
    nn_model_spec sp = {.nlayers = 3, .sizes = d_sizes, .acts = d_acts, .leaky_slope = 0.01,
                        .elu_alpha = 1.0, .bias = 1, .dropout = dropout, .max_batch = D_MAXB,
                        .nextra = 0};
    assert_int_equal(nn_model_create_spec(m, &sp), 0);
}

/* keep(r, j) as documented in model.h */
static int doc_keep(uint64_t seed, uint64_t epoch, int layer, int64_t row, int width, int j,
                    double p)
{
    uint64_t key = nn_key(seed, NN_STREAM_DROPOUT, epoch, (uint64_t)layer);
    return nn_uniform(key, (uint64_t)row * (uint64_t)width + (uint64_t)j) >= p;
}

/* Independent double forward with the given masks (plain loops, libm activations). */
static void d_ref_logits(const nn_model *m, const float *x, int B, double *out)
{
    double cur[D_MAXB * D_H1], nxt[D_MAXB * D_H1];
    for (int i = 0; i < B * D_IN; i++) cur[i] = x[i];
    for (int l = 0; l < 3; l++) {
        const nn_layer *L = &m->layers[l];
        const float *w = nn_weight(m, l), *b = nn_bias(m, l);
        for (int i = 0; i < B; i++)
            for (int o = 0; o < L->out; o++) {
                double z = b[o];
                for (int j = 0; j < L->in; j++) z += (double)w[o * L->in + j] * cur[i * L->in + j];
                double a = act_ref(z, L->act, 0);
                if (l < 2) a *= m->mask[l][i * L->out + o];
                nxt[i * L->out + o] = a;
            }
        memcpy(cur, nxt, sizeof(double) * B * L->out);
    }
    memcpy(out, cur, sizeof(double) * B * D_K);
}

static void test_dropout_masks(void **state)
{
    (void)state;
    nn_model m, m0;
    d_create(&m, d_drop);
    d_create(&m0, NULL);
    tu_model_init(&m, 77);
    memcpy(m0.params, m.params, sizeof(float) * m.nparams);
    assert_true(m.layers[0].dropout > 0.29f && m.layers[1].dropout > 0.49f);
    assert_true(m.layers[2].dropout == 0); /* never on the logits */

    enum { B = D_MAXB };
    float x[B * D_IN];
    uint64_t s = 5;
    tu_fill_f(x, B * D_IN, &s, -1.5, 1.5);
    int64_t rows[B];
    for (int i = 0; i < B; i++) rows[i] = 1000 + i;
    const uint64_t seed = 12345;
    const int widths[2] = {D_H1, D_H2};

    /* fraction dropped ~ p, kept ones scaled by 1/(1-p), mask as documented */
    size_t zeros[2] = {0, 0}, total[2] = {0, 0};
    for (uint64_t epoch = 0; epoch < 10; epoch++) {
        nn_dropout_ctx ctx = {seed, epoch, rows};
        const float *lg = nn_forward_train(&m, x, B, &ctx);
        assert_int_equal(m.last_dropout, 1);
        for (int l = 0; l < 2; l++) {
            const double p = d_drop[l], keep = 1 / (1 - p);
            const int W = widths[l];
            for (int i = 0; i < B; i++)
                for (int j = 0; j < W; j++) {
                    size_t e = (size_t)i * W + j;
                    float mk = m.mask[l][e];
                    int kept = doc_keep(seed, epoch, l, rows[i], W, j, p);
                    if (kept ? !(fabs(mk - keep) <= 1e-6 * keep) : mk != 0)
                        fail_msg("epoch %d layer %d row %d col %d: mask %.9g, documented keep=%d "
                                 "(scale %.9g)", (int)epoch, l, i, j, mk, kept, keep);
                    if (m.drop[l][e] != m.a[l][e] * mk)
                        fail_msg("layer %d [%zu]: dropped %.9g != a %.9g * mask %.9g", l, e,
                                 m.drop[l][e], m.a[l][e], mk);
                    zeros[l] += mk == 0;
                    total[l]++;
                }
        }
        if (epoch == 0) { /* the next layer consumes the dropped outputs */
            double ref[B * D_K], got[B * D_K];
            d_ref_logits(&m, x, B, ref);
            tu_f2d(got, lg, B * D_K);
            TU_ASSERT_REL("logits with dropout vs reference", got, ref, (size_t)B * D_K, 1e-5);
        }
    }
    for (int l = 0; l < 2; l++) {
        double frac = (double)zeros[l] / total[l], p = d_drop[l];
        double sd = sqrt(p * (1 - p) / total[l]);
        if (!(fabs(frac - p) < 5 * sd))
            fail_msg("layer %d: dropped fraction %.4f, p = %g (n = %zu)", l, frac, p, total[l]);
    }

    /* the mask of a row depends only on (seed, epoch, layer, global row): the same row at
     * another position, in a batch of another size, with other inputs, gets the same mask */
    nn_dropout_ctx ctxA = {seed, 4, rows};
    nn_forward_train(&m, x, B, &ctxA);
    float *saved[2];
    for (int l = 0; l < 2; l++) {
        saved[l] = tu_alloc(sizeof(float) * B * widths[l]);
        memcpy(saved[l], m.mask[l], sizeof(float) * B * widths[l]);
    }
    int64_t rowsB[4] = {1010, 5, 1000, 1063};
    float xB[4 * D_IN];
    tu_fill_f(xB, 4 * D_IN, &s, -1, 1);
    nn_dropout_ctx ctxB = {seed, 4, rowsB};
    nn_forward_train(&m, xB, 4, &ctxB);
    const int posA[4] = {10, -1, 0, 63};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 4; i++) {
            const float *mb = m.mask[l] + (size_t)i * widths[l];
            if (posA[i] >= 0) {
                if (memcmp(mb, saved[l] + (size_t)posA[i] * widths[l], sizeof(float) * widths[l]))
                    fail_msg("layer %d: global row %lld has a different mask at batch position "
                             "%d (B=4) than at %d (B=%d)", l, (long long)rowsB[i], i, posA[i], B);
            } else {
                for (int j = 0; j < widths[l]; j++)
                    assert_int_equal(mb[j] != 0, doc_keep(seed, 4, l, rowsB[i], widths[l], j,
                                                          d_drop[l]));
            }
        }

    /* another epoch (or seed) gives another mask */
    nn_dropout_ctx ctxE = {seed, 5, rows}, ctxS = {seed + 1, 4, rows};
    for (int v = 0; v < 2; v++) {
        nn_forward_train(&m, x, B, v ? &ctxS : &ctxE);
        for (int l = 0; l < 2; l++) {
            size_t n = (size_t)B * widths[l], differ = 0;
            for (size_t e = 0; e < n; e++) differ += (m.mask[l][e] == 0) != (saved[l][e] == 0);
            double want = 2 * d_drop[l] * (1 - d_drop[l]); /* independent masks */
            if (!(differ > 0.7 * want * n))
                fail_msg("%s: layer %d masks differ in only %zu of %zu elements",
                         v ? "seed+1" : "epoch+1", l, differ, n);
        }
    }
    free(saved[0]); free(saved[1]);

    /* inference: no dropout, identical to a model without dropout */
    float train_logits[B * D_K];
    memcpy(train_logits, nn_forward_train(&m, x, B, &ctxA), sizeof train_logits);
    const float *inf = nn_forward(&m, x, B);
    assert_int_equal(m.last_dropout, 0);
    const float *inf0 = nn_forward(&m0, x, B);
    assert_memory_equal(inf, inf0, sizeof(float) * B * D_K);
    assert_true(memcmp(inf, train_logits, sizeof train_logits) != 0);
    const float *none = nn_forward_train(&m, x, B, NULL);
    assert_memory_equal(none, inf0, sizeof(float) * B * D_K);
    nn_model_free(&m);
    nn_model_free(&m0);
}

static double d_loss(nn_model *m, const float *x, int B, const int32_t *y,
                     const nn_dropout_ctx *ctx)
{
    const float *lg = nn_forward_train(m, x, B, ctx);
    double z[D_MAXB * D_K];
    tu_f2d(z, lg, (size_t)B * D_K);
    return nn_softmax_xent_d(NULL, z, y, B, D_K, 1.0, NULL) / B;
}

/* Backward through dropout against finite differences of the float forward with the same
 * masks (the mask is a function of the context, not of the parameters). */
static void test_dropout_backward_fd(void **state)
{
    (void)state;
    enum { B = 8 };
    nn_model m;
    d_create(&m, d_drop);
    tu_model_init(&m, 2024);
    float x[B * D_IN], dl[B * D_K];
    int32_t y[B];
    int64_t rows[B];
    uint64_t s = 99;
    tu_fill_f(x, B * D_IN, &s, -1.5, 1.5);
    for (int i = 0; i < B; i++) { y[i] = (int32_t)(tu_next(&s) % D_K); rows[i] = 3 * i + 7; }
    nn_dropout_ctx ctx = {42, 3, rows};

    const size_t np = m.nparams;
    const float *lg = nn_forward_train(&m, x, B, &ctx);
    nn_softmax_xent(dl, lg, y, B, D_K, 1.0f / B, NULL);
    nn_backward(&m, x, dl, B, 0, NULL);
    double *g = tu_alloc(sizeof(double) * np), *fd = tu_alloc(sizeof(double) * np);
    tu_f2d(g, m.grads, np);
    /* the masks matter: without dropout the gradients are different */
    float *g_nodrop = tu_alloc(sizeof(float) * np);
    nn_softmax_xent(dl, nn_forward(&m, x, B), y, B, D_K, 1.0f / B, NULL);
    nn_backward(&m, x, dl, B, 0, NULL);
    memcpy(g_nodrop, m.grads, sizeof(float) * np);
    size_t differ = 0;
    for (size_t i = 0; i < np; i++) differ += fabs(g_nodrop[i] - g[i]) > 1e-4 * (fabs(g[i]) + 1e-3);
    assert_true(differ > np / 4);

    for (size_t i = 0; i < np; i++) {
        const float keep = m.params[i];
        const float pp = keep + 1e-2f, pm = keep - 1e-2f;
        m.params[i] = pp;
        double lp = d_loss(&m, x, B, y, &ctx);
        m.params[i] = pm;
        double lm = d_loss(&m, x, B, y, &ctx);
        m.params[i] = keep;
        fd[i] = (lp - lm) / ((double)pp - (double)pm);
    }
    for (int l = 0; l < 3; l++) {
        const nn_layer *L = &m.layers[l];
        char what[64];
        snprintf(what, sizeof what, "dropout backward layer %d dW", l);
        TU_ASSERT_REL(what, g + L->w_off, fd + L->w_off, (size_t)L->in * L->out, 1e-3);
        snprintf(what, sizeof what, "dropout backward layer %d db", l);
        TU_ASSERT_REL(what, g + L->b_off, fd + L->b_off, (size_t)L->out, 1e-3);
    }
    free(g); free(fd); free(g_nodrop);
    nn_model_free(&m);
}

/* ================================================================================================
 * 7. Init schemes
 * ============================================================================================== */

/* torch.nn.init.calculate_gain */
static double gain_ref(nn_act a, double slope)
{
    switch (a) {
    case NN_ACT_RELU: return sqrt(2.0);
    case NN_ACT_TANH: return 5.0 / 3;
    case NN_ACT_LEAKY_RELU: return sqrt(2.0 / (1 + slope * slope));
    case NN_ACT_SELU: return 3.0 / 4;
    default: return 1; /* linear/identity, sigmoid; torch has none for the others */
    }
}

static void test_init_schemes(void **state)
{
    (void)state;
    /* square 256x256 layers plus non-square ones (fan_in != fan_out tells xavier from kaiming) */
    const int sizes[] = {256, 256, 256, 128, 384, 256, 256, 256, 10};
    const nn_act acts_[] = {NN_ACT_RELU, NN_ACT_TANH, NN_ACT_LEAKY_RELU, NN_ACT_SELU,
                            NN_ACT_SIGMOID, NN_ACT_GELU, NN_ACT_ELU, NN_ACT_IDENTITY};
    enum { NL = 8 };
    const double slope = 0.2;
    nn_model_spec sp = {.nlayers = NL, .sizes = sizes, .acts = acts_, .leaky_slope = slope,
                        .elu_alpha = 1.0, .bias = 1, .dropout = NULL, .max_batch = 1,
                        .nextra = 0};
    nn_model m;
    assert_int_equal(nn_model_create_spec(&m, &sp), 0);
    const double normal_std = 0.02;
    for (int k = 0; k < NN_INIT_COUNT; k++) {
        const nn_init_kind kind = (nn_init_kind)k;
        for (size_t i = 0; i < m.nparams; i++) m.params[i] = NAN; /* everything is written */
        nn_model_init_scheme(&m, 31 + (uint64_t)k, kind, normal_std);
        const int normal = kind == NN_INIT_XAVIER_NORMAL || kind == NN_INIT_KAIMING_NORMAL ||
                           kind == NN_INIT_NORMAL;
        for (int l = 0; l < NL; l++) {
            const double fi = sizes[l], fo = sizes[l + 1];
            const double gain = gain_ref(acts_[l], slope);
            double want; /* bound (uniform) or std (normal), torch.nn.init's formulas */
            switch (kind) {
            case NN_INIT_XAVIER_UNIFORM: want = gain * sqrt(2.0 / (fi + fo)) * sqrt(3.0); break;
            case NN_INIT_XAVIER_NORMAL: want = gain * sqrt(2.0 / (fi + fo)); break;
            case NN_INIT_KAIMING_UNIFORM: want = sqrt(3.0) * gain / sqrt(fi); break;
            case NN_INIT_KAIMING_NORMAL: want = gain / sqrt(fi); break;
            case NN_INIT_NORMAL: want = normal_std; break;
            default: /* nn.Linear: kaiming_uniform_(a=sqrt 5) -> gain sqrt(2/(1+5)) */
                want = sqrt(3.0) * sqrt(2.0 / (1 + 5.0)) / sqrt(fi); break;
            }
            char what[96];
            snprintf(what, sizeof what, "%s layer %d (%s %dx%d) scale", nn_init_name(kind), l,
                     nn_act_name(acts_[l]), sizes[l], sizes[l + 1]);
            check_close(what, nn_init_scale(&m, l, kind, normal_std), want, 1e-7, 0);
            const float *w = nn_weight(&m, l), *b = nn_bias(&m, l);
            const size_t n = (size_t)sizes[l] * sizes[l + 1];
            double sum = 0, sq = 0, mx = 0;
            for (size_t i = 0; i < n; i++) {
                double v = w[i];
                if (!isfinite(v)) fail_msg("%s: w[%zu] = %g", what, i, v);
                sum += v; sq += v * v; mx = fmax(mx, fabs(v));
            }
            double mean = sum / n, sdev = sqrt(sq / n - mean * mean);
            double want_sd = normal ? want : want / sqrt(3.0);
            if (!(fabs(sdev - want_sd) < 0.1 * want_sd))
                fail_msg("%s: sample std %.6g, expected %.6g", what, sdev, want_sd);
            if (!(fabs(mean) < 5 * want_sd / sqrt((double)n)))
                fail_msg("%s: sample mean %.6g (std %.6g)", what, mean, want_sd);
            if (normal) { /* a normal has tails a uniform (max 1.73 std) lacks */
                double tail = n >= 30000 ? 3.2 : 2.5;
                if (!(mx > tail * want_sd))
                    fail_msg("%s: max |w| %.6g, std %.6g", what, mx, want_sd);
            } else {
                if (!(mx <= want * (1 + 1e-6) && mx > 0.99 * want))
                    fail_msg("%s: max |w| %.9g, bound %.9g", what, mx, want);
            }
            /* biases: U(+-1/sqrt(fan_in)) for torch, 0 for the others */
            double bmx = 0;
            for (int i = 0; i < sizes[l + 1]; i++) {
                if (kind != NN_INIT_TORCH && b[i] != 0)
                    fail_msg("%s: bias[%d] = %g, want 0", what, i, b[i]);
                bmx = fmax(bmx, fabs(b[i]));
            }
            if (kind == NN_INIT_TORCH && !(bmx <= (1 + 1e-6) / sqrt(fi) && bmx > 0.5 / sqrt(fi)))
                fail_msg("%s: max |bias| %.9g, bound %.9g", what, bmx, 1 / sqrt(fi));
        }
    }
    /* names */
    const char *nm[] = {"torch", "xavier_uniform", "xavier_normal", "kaiming_uniform",
                        "kaiming_normal", "normal"};
    for (int k = 0; k < NN_INIT_COUNT; k++) {
        nn_init_kind ik = NN_INIT_COUNT;
        assert_int_equal(nn_init_parse(nm[k], &ik), 0);
        assert_int_equal(ik, k);
        assert_string_equal(nn_init_name((nn_init_kind)k), nm[k]);
    }
    /* the gains themselves */
    check_close("gain relu", nn_act_gain(NN_ACT_RELU, 0), sqrt(2.0), 1e-15, 0);
    check_close("gain tanh", nn_act_gain(NN_ACT_TANH, 0), 5.0 / 3, 1e-15, 0);
    check_close("gain leaky 0.2", nn_act_gain(NN_ACT_LEAKY_RELU, 0.2), sqrt(2 / 1.04), 1e-15, 0);
    check_close("gain selu", nn_act_gain(NN_ACT_SELU, 0), 0.75, 1e-15, 0);
    check_close("gain sigmoid", nn_act_gain(NN_ACT_SIGMOID, 0), 1, 1e-15, 0);
    check_close("gain identity", nn_act_gain(NN_ACT_IDENTITY, 0), 1, 1e-15, 0);
    nn_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_every_act_every_loss),
        cmocka_unit_test(test_act_derivatives),
        cmocka_unit_test(test_cross_entropy_closed_form),
        cmocka_unit_test(test_bce_closed_form),
        cmocka_unit_test(test_regression_closed_form),
        cmocka_unit_test(test_loss_names),
        cmocka_unit_test(test_float_vs_double),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_opt_sgd_dampening_nesterov),
        cmocka_unit_test(test_opt_adamw_amsgrad),
        cmocka_unit_test(test_opt_adamax),
        cmocka_unit_test(test_opt_rmsprop),
        cmocka_unit_test(test_opt_adagrad),
        cmocka_unit_test(test_opt_adadelta),
        cmocka_unit_test(test_opt_segments),
        cmocka_unit_test(test_opt_state_sizes_and_defaults),
        cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_dropout_backward_fd),
        cmocka_unit_test(test_init_schemes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
