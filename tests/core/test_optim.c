/* Unit tests for src/core/optim.c. The expected trajectories are computed here, in double,
 * from torch.optim's documented update rules (not by calling the code under test):
 *
 *   SGD:  g <- g + wd*p;  if mu != 0: b <- (t == 1 ? g : mu*b + g), g <- b;  p <- p - lr*g
 *   Adam: g <- g + wd*p;  m <- b1*m + (1-b1)*g;  v <- b2*v + (1-b2)*g^2;
 *         p <- p - lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
 */
#include "core_testutil.h"

#include "optim.h"

enum { N = 7, STEPS = 8 };

/* Deterministic gradients that change sign and size with the step; element 0 is always 0
 * (exercises Adam's eps-only denominator). */
static double grad_at(int t, int i)
{
    if (i == 0) return 0;
    return sin(1.3 * i + 0.7 * t) * (1 + 0.5 * i);
}

/* Initial parameters kept away from 0 so a relative tolerance is meaningful. */
static double param0(int i)
{
    return (i % 2 ? -1 : 1) * (1.5 + 0.25 * i);
}

typedef struct {
    nn_opt_kind kind;
    double lr, momentum, wd, b1, b2, eps;
    const char *name;
} opt_case;

static void run_case(const opt_case *c)
{
    nn_opt_config cfg;
    nn_opt_defaults(&cfg, c->kind);
    cfg.lr = c->lr;
    cfg.momentum = c->momentum;
    cfg.weight_decay = c->wd;
    cfg.beta1 = c->b1;
    cfg.beta2 = c->b2;
    cfg.eps = c->eps;
    nn_optim o;
    assert_int_equal(nn_optim_create(&o, &cfg, N), 0);

    float p[N], g[N];
    double pr[N], buf[N] = {0}, m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) { p[i] = (float)param0(i); pr[i] = p[i]; }

    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) g[i] = (float)grad_at(t, i);
        /* the reference, by hand */
        for (int i = 0; i < N; i++) {
            double d = (double)g[i] + c->wd * pr[i];
            if (c->kind == NN_OPT_SGD) {
                if (c->momentum != 0) {
                    buf[i] = t == 1 ? d : c->momentum * buf[i] + d;
                    d = buf[i];
                }
                pr[i] -= c->lr * d;
            } else {
                m[i] = c->b1 * m[i] + (1 - c->b1) * d;
                v[i] = c->b2 * v[i] + (1 - c->b2) * d * d;
                double bc1 = 1 - pow(c->b1, t), bc2 = 1 - pow(c->b2, t);
                pr[i] -= c->lr / bc1 * m[i] / (sqrt(v[i]) / sqrt(bc2) + c->eps);
            }
        }
        nn_optim_step(&o, p, g);
        assert_int_equal(o.step, t);
        for (int i = 0; i < N; i++) {
            double err = fabs(p[i] - pr[i]) / fabs(pr[i]);
            if (!(err < 1e-6))
                fail_msg("%s step %d param[%d]: got %.9g want %.12g (rel err %.3g)", c->name, t,
                         i, p[i], pr[i], err);
        }
        /* optimizer state matches too */
        for (int i = 0; i < N; i++) {
            double got, want;
            if (c->kind == NN_OPT_SGD && c->momentum != 0) {
                got = o.state[i]; want = buf[i];
            } else if (c->kind == NN_OPT_ADAM) {
                got = o.state[i]; want = m[i];
                double gv = o.state[N + i];
                /* (1 - beta2) is computed in double and rounded once, as torch does, so the
                 * second moment matches to float rounding */
                if (!(fabs(gv - v[i]) <= 1e-6 * fabs(v[i]) + 1e-12))
                    fail_msg("%s step %d v[%d]: got %.9g want %.12g", c->name, t, i, gv, v[i]);
            } else {
                continue;
            }
            /* absolute floor: gradients are O(1), and m can cancel to near 0 */
            if (!(fabs(got - want) <= 1e-5 * fabs(want) + 1e-6))
                fail_msg("%s step %d state[%d]: got %.9g want %.12g", c->name, t, i, got, want);
        }
    }
    nn_optim_free(&o);
}

static void test_sgd_plain(void **state)
{
    (void)state;
    opt_case c = {NN_OPT_SGD, 0.05, 0, 0, 0.9, 0.999, 1e-8, "sgd"};
    run_case(&c);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    opt_case c = {NN_OPT_SGD, 0.03, 0.9, 0, 0.9, 0.999, 1e-8, "sgd+momentum"};
    run_case(&c);
}

static void test_sgd_weight_decay(void **state)
{
    (void)state;
    opt_case c = {NN_OPT_SGD, 0.05, 0, 0.1, 0.9, 0.999, 1e-8, "sgd+wd"};
    run_case(&c);
    opt_case c2 = {NN_OPT_SGD, 0.03, 0.8, 0.05, 0.9, 0.999, 1e-8, "sgd+momentum+wd"};
    run_case(&c2);
}

/* The first momentum step seeds the buffer with the (decayed) gradient itself. */
static void test_sgd_momentum_first_step(void **state)
{
    (void)state;
    nn_opt_config cfg;
    nn_opt_defaults(&cfg, NN_OPT_SGD);
    cfg.lr = 0.5f;
    cfg.momentum = 0.9f;
    cfg.weight_decay = 0.25f;
    nn_optim o;
    assert_int_equal(nn_optim_create(&o, &cfg, 2), 0);
    assert_int_equal(o.nstate, 2);
    float p[2] = {2, -4}, g[2] = {1, 0.5f};
    nn_optim_step(&o, p, g);
    /* d = g + 0.25 p = {1.5, -0.5}; buf = d; p -= 0.5 d */
    assert_true(o.state[0] == 1.5f && o.state[1] == -0.5f);
    assert_true(p[0] == 1.25f && p[1] == -3.75f);
    /* second step: d = {1 + 0.3125, 0.5 - 0.9375}; buf = 0.9 buf + d */
    nn_optim_step(&o, p, g);
    double b0 = 0.9 * 1.5 + 1.3125, b1 = 0.9 * -0.5 + (0.5 - 0.9375);
    assert_true(fabs(o.state[0] - b0) < 1e-6 && fabs(o.state[1] - b1) < 1e-6);
    assert_true(fabs(p[0] - (1.25 - 0.5 * b0)) < 1e-6 && fabs(p[1] - (-3.75 - 0.5 * b1)) < 1e-6);
    nn_optim_free(&o);
}

static void test_adam(void **state)
{
    (void)state;
    opt_case c = {NN_OPT_ADAM, 0.01, 0, 0, 0.9, 0.999, 1e-8, "adam"};
    run_case(&c);
    opt_case c2 = {NN_OPT_ADAM, 0.05, 0, 0, 0.8, 0.99, 1e-8, "adam betas"};
    run_case(&c2);
    /* a large eps pins where eps enters (after the bias-corrected sqrt) */
    opt_case c3 = {NN_OPT_ADAM, 0.05, 0, 0, 0.9, 0.999, 1e-2, "adam eps=1e-2"};
    run_case(&c3);
}

static void test_adam_weight_decay(void **state)
{
    (void)state;
    opt_case c = {NN_OPT_ADAM, 0.02, 0, 0.1, 0.9, 0.999, 1e-8, "adam+wd"};
    run_case(&c);
    opt_case c2 = {NN_OPT_ADAM, 0.02, 0, 0.5, 0.9, 0.999, 1e-3, "adam+wd eps=1e-3"};
    run_case(&c2);
}

/* Adam's first step moves every parameter with non-zero gradient by ~lr * sign(g). */
static void test_adam_first_step_by_hand(void **state)
{
    (void)state;
    nn_opt_config cfg;
    nn_opt_defaults(&cfg, NN_OPT_ADAM);
    cfg.lr = 0.1f;
    nn_optim o;
    assert_int_equal(nn_optim_create(&o, &cfg, 3), 0);
    float p[3] = {1, 1, 1}, g[3] = {3, -0.25f, 0};
    nn_optim_step(&o, p, g);
    /* m/bc1 = g, sqrt(v/bc2) = |g|: update = lr * g / (|g| + eps) */
    assert_true(fabs(p[0] - (1 - 0.1 * 3 / (3 + 1e-8))) < 1e-6);
    assert_true(fabs(p[1] - (1 + 0.1 * 0.25 / (0.25 + 1e-8))) < 1e-6);
    assert_true(p[2] == 1);
    nn_optim_free(&o);
}

static void test_defaults_and_names(void **state)
{
    (void)state;
    nn_opt_config c;
    nn_opt_defaults(&c, NN_OPT_ADAM);
    assert_int_equal(c.kind, NN_OPT_ADAM);
    assert_true(c.lr == 1e-3 && c.beta1 == 0.9 && c.beta2 == 0.999 && c.eps == 1e-8);
    assert_true(c.momentum == 0 && c.weight_decay == 0);
    nn_opt_defaults(&c, NN_OPT_SGD);
    assert_int_equal(c.kind, NN_OPT_SGD);
    assert_true(c.lr == 1e-2 && c.momentum == 0 && c.weight_decay == 0);

    nn_opt_kind k = NN_OPT_ADAM;
    assert_int_equal(nn_opt_parse("sgd", &k), 0);
    assert_int_equal(k, NN_OPT_SGD);
    assert_int_equal(nn_opt_parse("adam", &k), 0);
    assert_int_equal(k, NN_OPT_ADAM);
    assert_int_equal(nn_opt_parse("adamw", &k), 0);
    assert_int_equal(k, NN_OPT_ADAMW);
    assert_int_equal(nn_opt_parse("nadam", &k), -1);
    assert_int_equal(nn_opt_parse("", &k), -1);
    assert_string_equal(nn_opt_name(NN_OPT_SGD), "sgd");
    assert_string_equal(nn_opt_name(NN_OPT_ADAM), "adam");

    /* state sizes: none for plain SGD, n with momentum, 2n (m then v) for Adam */
    nn_optim o;
    nn_opt_defaults(&c, NN_OPT_SGD);
    assert_int_equal(nn_optim_create(&o, &c, 10), 0);
    assert_int_equal(o.nstate, 0);
    assert_int_equal(o.step, 0);
    nn_optim_free(&o);
    c.momentum = 0.5f;
    assert_int_equal(nn_optim_create(&o, &c, 10), 0);
    assert_int_equal(o.nstate, 10);
    for (int i = 0; i < 10; i++) assert_true(o.state[i] == 0);
    nn_optim_free(&o);
    nn_opt_defaults(&c, NN_OPT_ADAM);
    assert_int_equal(nn_optim_create(&o, &c, 10), 0);
    assert_int_equal(o.nstate, 20);
    for (int i = 0; i < 20; i++) assert_true(o.state[i] == 0);
    nn_optim_free(&o);
    assert_null(o.state);
}

/* ZeRO-1: optimizers over slices [off, off + n) of the parameters, with weight-decay and L1
 * segments given over the whole vector (biases without either), update exactly as one
 * optimizer over everything does, for every optimizer kind and slices cutting through
 * segments. */
static void test_slices_equal_whole(void **s)
{
    (void)s;
    enum { T = 50 };
    const nn_opt_segment seg[] = {{0, 20, 0.01, 0.003}, {20, 23, 0, 0}, {23, 45, 0.01, 0.003}, {45, 50, 0, 0}};
    const size_t cuts[] = {0, 7, 20, 21, 33, 50};
    for (int k = 0; k < NN_OPT_COUNT; k++) {
        nn_opt_config cfg;
        nn_opt_defaults(&cfg, (nn_opt_kind)k);
        cfg.momentum = k == NN_OPT_SGD || k == NN_OPT_RMSPROP ? 0.9 : 0;
        cfg.amsgrad = k == NN_OPT_ADAM;
        cfg.centered = k == NN_OPT_RMSPROP;
        nn_optim whole, part[5];
        assert_int_equal(nn_optim_create(&whole, &cfg, T), 0);
        assert_int_equal(nn_optim_set_segments(&whole, seg, 4), 0);
        for (int q = 0; q < 5; q++) {
            assert_int_equal(nn_optim_create_slice(&part[q], &cfg, cuts[q], cuts[q + 1] - cuts[q], T), 0);
            assert_int_equal(nn_optim_set_segments(&part[q], seg, 4), 0);
            assert_int_equal(part[q].nstate, (size_t)part[q].nslots * (cuts[q + 1] - cuts[q]));
        }
        float pw[T], pp[T], g[T];
        for (int i = 0; i < T; i++) pw[i] = pp[i] = (float)param0(i);
        for (int t = 1; t <= 6; t++) {
            for (int i = 0; i < T; i++) g[i] = (float)grad_at(t, i % 9);
            float gw[T];
            memcpy(gw, g, sizeof g);
            nn_optim_add_l1(&whole, pw, gw);
            nn_optim_step(&whole, pw, gw);
            for (int q = 0; q < 5; q++) {
                nn_optim_add_l1(&part[q], pp + cuts[q], g + cuts[q]);
                nn_optim_step(&part[q], pp + cuts[q], g + cuts[q]);
            }
        }
        assert_memory_equal(pw, pp, sizeof pw);
        /* and the weight decay did act (the segments were not dropped) */
        float nodecay[T];
        nn_optim plain;
        for (int i = 0; i < T; i++) nodecay[i] = (float)param0(i);
        assert_int_equal(nn_optim_create(&plain, &cfg, T), 0);
        for (int t = 1; t <= 6; t++) {
            for (int i = 0; i < T; i++) g[i] = (float)grad_at(t, i % 9);
            nn_optim_step(&plain, nodecay, g); /* neither decay nor L1 */
        }
        assert_true(memcmp(nodecay, pw, sizeof pw) != 0);
        nn_optim_free(&plain);
        nn_optim_free(&whole);
        for (int q = 0; q < 5; q++) nn_optim_free(&part[q]);
    }
}

/* L1's gradient: l1 * sign(p) added on the segments that have it, 0 at p == 0. */
static void test_l1_gradient(void **s)
{
    (void)s;
    nn_opt_config cfg;
    nn_opt_defaults(&cfg, NN_OPT_SGD);
    nn_optim o;
    assert_int_equal(nn_optim_create(&o, &cfg, 6), 0);
    const nn_opt_segment seg[] = {{0, 4, 0, 0.25}, {4, 6, 0, 0}};
    assert_int_equal(nn_optim_set_segments(&o, seg, 2), 0);
    const float p[6] = {2.0f, -3.0f, 0.0f, -0.0f, 5.0f, -5.0f};
    float g[6] = {1, 1, 1, 1, 1, 1};
    nn_optim_add_l1(&o, p, g);
    const float want[6] = {1.25f, 0.75f, 1.0f, 1.0f, 1.0f, 1.0f};
    assert_memory_equal(g, want, sizeof want);
    nn_optim_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_weight_decay),
        cmocka_unit_test(test_sgd_momentum_first_step),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_adam_weight_decay),
        cmocka_unit_test(test_adam_first_step_by_hand),
        cmocka_unit_test(test_defaults_and_names),
        cmocka_unit_test(test_slices_equal_whole),
        cmocka_unit_test(test_l1_gradient),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
