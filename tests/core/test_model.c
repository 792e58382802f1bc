/* Unit tests for src/core/model.c: layer table layout, torch-style init, and the float
 * forward/backward of a 3-layer MLP against finite differences of an independent double
 * implementation (plain loops, libm activations) on the same parameters. */
#include "core_testutil.h"

#include "model.h"

static const nn_act all_acts[] = {NN_ACT_IDENTITY, NN_ACT_RELU, NN_ACT_SIGMOID, NN_ACT_TANH};
#define NACTS 4

/* ---- independent double reference -------------------------------------------------------- */

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

typedef struct {
    const int *sizes;
    int nlayers;
    nn_act hidden;
    int B;
    const double *x;
    const int32_t *labels;
    double min_hidden_z; /* smallest |pre-activation| of hidden layers seen in last forward */
} ref_net;

/* Offsets as documented: per layer weight (out,in) then bias (out), layers consecutive. */
static size_t ref_nparams(const int *sizes, int nlayers)
{
    size_t n = 0;
    for (int l = 0; l < nlayers; l++) n += (size_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
    return n;
}

/* Forward; writes logits (B, sizes[L]) when not NULL; returns mean softmax xent. */
static double ref_loss(ref_net *r, const double *p, double *logits)
{
    int widest = 0;
    for (int l = 0; l <= r->nlayers; l++) widest = r->sizes[l] > widest ? r->sizes[l] : widest;
    double *cur = tu_alloc(sizeof(double) * r->B * widest);
    double *nxt = tu_alloc(sizeof(double) * r->B * widest);
    memcpy(cur, r->x, sizeof(double) * r->B * r->sizes[0]);
    r->min_hidden_z = INFINITY;
    size_t off = 0;
    for (int l = 0; l < r->nlayers; l++) {
        int in = r->sizes[l], out = r->sizes[l + 1];
        const double *w = p + off, *b = p + off + (size_t)in * out;
        off += (size_t)in * out + out;
        int last = l == r->nlayers - 1;
        for (int i = 0; i < r->B; i++)
            for (int o = 0; o < out; o++) {
                double z = b[o];
                for (int j = 0; j < in; j++) z += w[o * in + j] * cur[i * in + j];
                if (!last && fabs(z) < r->min_hidden_z) r->min_hidden_z = fabs(z);
                nxt[i * out + o] = last ? z : act_ref(z, r->hidden);
            }
        double *t = cur; cur = nxt; nxt = t;
    }
    int K = r->sizes[r->nlayers];
    double total = 0;
    for (int i = 0; i < r->B; i++) {
        const double *z = cur + (size_t)i * K;
        double mx = z[0];
        for (int k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
        double s = 0;
        for (int k = 0; k < K; k++) s += exp(z[k] - mx);
        total += mx + log(s) - z[r->labels[i]];
    }
    if (logits) memcpy(logits, cur, sizeof(double) * r->B * K);
    free(cur); free(nxt);
    return total / r->B;
}

/* ---- layout ------------------------------------------------------------------------------ */

static void test_layout(void **state)
{
    (void)state;
    const int sizes[] = {5, 7, 6, 4};
    nn_model m;
    assert_int_equal(tu_model(&m, sizes, 3, NN_ACT_TANH, 8, 3), 0);
    assert_int_equal(m.nlayers, 3);
    assert_int_equal(m.max_batch, 8);
    assert_int_equal(m.nextra, 3);
    /* 5*7+7 + 7*6+6 + 6*4+4 */
    assert_int_equal(m.nparams, 118);
    assert_int_equal(m.nparams, ref_nparams(sizes, 3));
    size_t off = 0;
    for (int l = 0; l < 3; l++) {
        const nn_layer *L = &m.layers[l];
        assert_int_equal(L->in, sizes[l]);
        assert_int_equal(L->out, sizes[l + 1]);
        assert_int_equal(L->act, l == 2 ? NN_ACT_IDENTITY : NN_ACT_TANH);
        assert_int_equal(L->w_off, off);
        off += (size_t)L->in * L->out;
        assert_int_equal(L->b_off, off);
        off += (size_t)L->out;
        assert_ptr_equal(nn_weight(&m, l), m.params + L->w_off);
        assert_ptr_equal(nn_bias(&m, l), m.params + L->b_off);
    }
    assert_int_equal(off, m.nparams);
    /* fresh buffers are zero, including the extra gradient slots */
    for (size_t i = 0; i < m.nparams; i++) assert_true(m.params[i] == 0);
    for (size_t i = 0; i < m.nparams + m.nextra; i++) assert_true(m.grads[i] == 0);
    nn_model_free(&m);
    assert_null(m.params);
    assert_null(m.grads);
    assert_null(m.layers);

    /* single layer: identity regardless of `hidden` */
    const int s1[] = {3, 2};
    assert_int_equal(tu_model(&m, s1, 1, NN_ACT_RELU, 1, 0), 0);
    assert_int_equal(m.nparams, 8);
    assert_int_equal(m.layers[0].act, NN_ACT_IDENTITY);
    nn_model_free(&m);
}

/* ---- init -------------------------------------------------------------------------------- */

static void test_init(void **state)
{
    (void)state;
    const int sizes[] = {50, 400, 10, 3};
    nn_model a, b, c;
    assert_int_equal(tu_model(&a, sizes, 3, NN_ACT_RELU, 4, 0), 0);
    assert_int_equal(tu_model(&b, sizes, 3, NN_ACT_RELU, 4, 0), 0);
    assert_int_equal(tu_model(&c, sizes, 3, NN_ACT_RELU, 4, 0), 0);
    tu_model_init(&a, 1234);
    tu_model_init(&b, 1234);
    tu_model_init(&c, 1235);
    assert_memory_equal(a.params, b.params, sizeof(float) * a.nparams);

    size_t differ = 0;
    for (size_t i = 0; i < a.nparams; i++) differ += a.params[i] != c.params[i];
    if (differ < a.nparams * 99 / 100)
        fail_msg("seeds 1234 and 1235 share %zu of %zu parameters", a.nparams - differ,
                 a.nparams);

    for (int l = 0; l < 3; l++) {
        const nn_layer *L = &a.layers[l];
        double bound = 1.0 / sqrt((double)L->in);
        struct { const float *p; size_t n; } t[] = {
            {nn_weight(&a, l), (size_t)L->in * L->out},
            {nn_bias(&a, l), (size_t)L->out},
        };
        for (int k = 0; k < 2; k++) {
            double mn = INFINITY, mx = -INFINITY, sum = 0;
            for (size_t i = 0; i < t[k].n; i++) {
                double v = t[k].p[i];
                if (!(fabs(v) <= bound * (1 + 1e-6)))
                    fail_msg("layer %d %s[%zu] = %g outside +-%g", l, k ? "b" : "w", i, v,
                             bound);
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
                sum += v;
            }
            /* actually spread over the interval (as far as the sample size allows), centred */
            double cover = t[k].n >= 100 ? 0.9 : t[k].n >= 10 ? 0.3 : 0;
            if (cover > 0 && !(mx > cover * bound && mn < -cover * bound))
                fail_msg("layer %d %s: range [%g, %g] does not cover +-%g", l, k ? "b" : "w",
                         mn, mx, cover * bound);
            if (t[k].n >= 100 && !(fabs(sum / t[k].n) < 0.1 * bound))
                fail_msg("layer %d %s: mean %g not near 0", l, k ? "b" : "w", sum / t[k].n);
        }
    }
    /* weights and biases of a layer come from different streams */
    assert_false(nn_weight(&a, 2)[0] == nn_bias(&a, 2)[0] &&
                 nn_weight(&a, 2)[1] == nn_bias(&a, 2)[1]);
    nn_model_free(&a); nn_model_free(&b); nn_model_free(&c);
}

/* ---- forward / backward vs FD ------------------------------------------------------------ */

/* records every ready(from) call of nn_backward's hook with a snapshot of the gradients */
#define MAXCALLS 96
typedef struct {
    const nn_model *m;
    int calls;
    size_t from[MAXCALLS];
    float *snap[MAXCALLS];
} hook_ctx;

static void hook(size_t from, void *user)
{
    hook_ctx *h = user;
    assert_true(h->calls < MAXCALLS);
    h->from[h->calls] = from;
    size_t n = h->m->nparams + h->m->nextra;
    h->snap[h->calls] = tu_alloc(sizeof(float) * n);
    memcpy(h->snap[h->calls], h->m->grads, sizeof(float) * n);
    h->calls++;
}

/* Every call: from never grows, grads[from, nparams) are already final and grads[0, from) not
 * touched yet (still 0); the last call has from = 0. Frees the snapshots. */
static void check_hook_calls(hook_ctx *h, const float *final, size_t np)
{
    assert_true(h->calls > 0);
    assert_true(h->from[h->calls - 1] == 0);
    for (int c = 0; c < h->calls; c++) {
        if (c > 0) assert_true(h->from[c] <= h->from[c - 1]);
        for (size_t i = 0; i < np; i++) {
            float want = i >= h->from[c] ? final[i] : 0.0f;
            if (memcmp(&h->snap[c][i], &want, sizeof want) != 0)
                fail_msg("call %d ready(%zu): grads[%zu] = %g, want %g", c, h->from[c], i,
                         h->snap[c][i], want);
        }
        free(h->snap[c]);
    }
}

/* Backward in pieces (piece_flops = 1: as many as the 16-wide minimum allows): the hook runs
 * between pieces with a correct final suffix each time, and the gradients and the input
 * gradients are the same bits as the whole GEMMs'. Accumulating and overwriting. */
static void test_backward_pieces(void **state)
{
    (void)state;
    const int sizes[] = {40, 64, 35, 5};
    const int L = 3, B = 7;
    nn_model m;
    assert_int_equal(tu_model(&m, sizes, L, NN_ACT_TANH, B, 2), 0);
    tu_model_init(&m, 11);
    const size_t np = m.nparams;
    float *x = tu_alloc(sizeof(float) * B * sizes[0]);
    float *dl = tu_alloc(sizeof(float) * B * sizes[L]);
    for (int i = 0; i < B * sizes[0]; i++) x[i] = (float)sin(0.37 * i);
    for (int i = 0; i < B * sizes[L]; i++) dl[i] = (float)cos(0.91 * i) / B;
    (void)nn_forward(&m, x, B);
    float *whole = tu_alloc(sizeof(float) * np);
    for (int accumulate = 0; accumulate <= 1; accumulate++) {
        memset(m.grads, 0, sizeof(float) * np);
        nn_backward(&m, x, dl, B, accumulate, NULL);
        memcpy(whole, m.grads, sizeof(float) * np);
        memset(m.grads, 0, sizeof(float) * np);
        hook_ctx h = {&m, 0, {0}, {0}};
        nn_backward_hook hk = {hook, &h, 1};
        nn_backward(&m, x, dl, B, accumulate, &hk);
        assert_memory_equal(m.grads, whole, sizeof(float) * np);
        /* pieces: dW's OUT / 16 and din's IN / 16 (at least 1); calls: 1 after db, 1 per dW
         * piece, 1 between din pieces. Layer 2 (35 -> 5): 1 + 1 + (2 - 1); layer 1 (64 -> 35):
         * 1 + 2 + (4 - 1); layer 0 (40 -> 64, no din): 1 + 4. */
        assert_int_equal(h.calls, 3 + 6 + 5);
        check_hook_calls(&h, whole, np);
    }
    free(x); free(dl); free(whole);
    nn_model_free(&m);
}

static void check_model_grads(nn_act hidden, int B, uint64_t seed)
{
    const int sizes[] = {6, 8, 7, 4};
    const int L = 3, K = 4, maxb = 9;
    const size_t nextra = 3;
    nn_model m;
    assert_int_equal(tu_model(&m, sizes, L, hidden, maxb, nextra), 0);
    tu_model_init(&m, seed);
    const size_t np = m.nparams;

    float *x = tu_alloc(sizeof(float) * B * sizes[0]);
    double *xd = tu_alloc(sizeof(double) * B * sizes[0]);
    int32_t *labels = tu_alloc(sizeof(int32_t) * B);
    double *p = tu_alloc(sizeof(double) * np);
    tu_f2d(p, m.params, np);
    ref_net r = {sizes, L, hidden, B, xd, labels, 0};

    /* inputs that keep every hidden pre-activation away from the relu kink */
    uint64_t s = seed * 7 + 1;
    int ok = 0;
    for (int attempt = 0; attempt < 10000 && !ok; attempt++) {
        tu_fill_f(x, (size_t)B * sizes[0], &s, -2, 2);
        tu_f2d(xd, x, (size_t)B * sizes[0]);
        for (int i = 0; i < B; i++) labels[i] = (int32_t)(tu_next(&s) % K);
        ref_loss(&r, p, NULL);
        ok = r.min_hidden_z > 2e-3;
    }
    assert_true(ok);

    /* float forward vs the double reference */
    const float *logits = nn_forward(&m, x, B);
    double *ld = tu_alloc(sizeof(double) * B * K), *lref = tu_alloc(sizeof(double) * B * K);
    double loss_ref = ref_loss(&r, p, lref);
    tu_f2d(ld, logits, (size_t)B * K);
    char what[96];
    snprintf(what, sizeof what, "act=%s B=%d logits", nn_act_name(hidden), B);
    TU_ASSERT_REL(what, ld, lref, (size_t)B * K, 1e-5);

    /* float backward */
    float *dlogits = tu_alloc(sizeof(float) * B * K);
    double loss = nn_softmax_xent(dlogits, logits, labels, B, K, 1.0f / B, NULL) / B;
    if (!(fabs(loss - loss_ref) <= 1e-5 * fabs(loss_ref)))
        fail_msg("act=%s loss float %.9g ref %.17g", nn_act_name(hidden), loss, loss_ref);
    memset(m.grads, 0, sizeof(float) * np);
    for (size_t i = 0; i < nextra; i++) m.grads[np + i] = 1234.5f + (float)i;
    hook_ctx h = {&m, 0, {0}, {0}};
    nn_backward_hook hk = {hook, &h, 0};
    nn_backward(&m, x, dlogits, B, 1, &hk);

    /* FD in double on the same parameters */
    double *fd = tu_alloc(sizeof(double) * np), *g = tu_alloc(sizeof(double) * np);
    const double eps = 1e-6;
    for (size_t i = 0; i < np; i++) {
        double keep = p[i];
        p[i] = keep + eps;
        double lp = ref_loss(&r, p, NULL);
        p[i] = keep - eps;
        double lm = ref_loss(&r, p, NULL);
        p[i] = keep;
        fd[i] = (lp - lm) / (2 * eps);
    }
    tu_f2d(g, m.grads, np);
    for (int l = 0; l < L; l++) {
        const nn_layer *Ly = &m.layers[l];
        snprintf(what, sizeof what, "act=%s B=%d layer %d dW", nn_act_name(hidden), B, l);
        TU_ASSERT_REL(what, g + Ly->w_off, fd + Ly->w_off, (size_t)Ly->in * Ly->out, 2e-5);
        snprintf(what, sizeof what, "act=%s B=%d layer %d db", nn_act_name(hidden), B, l);
        TU_ASSERT_REL(what, g + Ly->b_off, fd + Ly->b_off, (size_t)Ly->out, 2e-5);
    }
    for (size_t i = 0; i < nextra; i++) assert_true(m.grads[np + i] == 1234.5f + (float)i);

    /* whole layers: two calls per layer (after db, after dW) */
    assert_int_equal(h.calls, 2 * L);
    check_hook_calls(&h, m.grads, np);

    /* backward adds: a second pass (without hook) doubles the gradients */
    float *g1 = tu_alloc(sizeof(float) * np);
    memcpy(g1, m.grads, sizeof(float) * np);
    nn_backward(&m, x, dlogits, B, 1, NULL);
    double *twice = tu_alloc(sizeof(double) * np);
    for (size_t i = 0; i < np; i++) { g[i] = m.grads[i]; twice[i] = 2.0 * g1[i]; }
    TU_ASSERT_REL("second backward accumulates", g, twice, np, 1e-6);

    free(x); free(xd); free(labels); free(p); free(ld); free(lref); free(dlogits); free(fd);
    free(g); free(g1); free(twice);
    nn_model_free(&m);
}

static void test_forward_backward_fd(void **state)
{
    (void)state;
    for (int a = 0; a < NACTS; a++) {
        check_model_grads(all_acts[a], 5, 17 + (uint64_t)a);
        check_model_grads(all_acts[a], 1, 170 + (uint64_t)a);
        check_model_grads(all_acts[a], 9, 1700 + (uint64_t)a); /* B == max_batch */
    }
}

/* A batch smaller than the one before reuses the workspaces without stale data. */
static void test_batch_size_change(void **state)
{
    (void)state;
    const int sizes[] = {3, 5, 2};
    nn_model m;
    assert_int_equal(tu_model(&m, sizes, 2, NN_ACT_SIGMOID, 6, 0), 0);
    tu_model_init(&m, 99);
    float x[18];
    uint64_t s = 3;
    tu_fill_f(x, 18, &s, -1, 1);
    float full[12], one[2];
    memcpy(full, nn_forward(&m, x, 6), sizeof full);
    memcpy(one, nn_forward(&m, x + 6, 1), sizeof one); /* row 2 alone */
    assert_true(fabsf(one[0] - full[4]) <= 1e-6f && fabsf(one[1] - full[5]) <= 1e-6f);
    nn_model_free(&m);
}

/* Deterministic mode's chunked step: with the flags nn_model_rows_consistent gives (and with
 * all flags 0) the chunked forward and backward give every chunk's gradient and every row's
 * output the same bits as nn_forward_train + nn_backward run on that chunk alone. */
static void test_chunked_step(void **s)
{
    (void)s;
    const int sizes[] = {40, 200, 64, 3}, B = 70, C = 16; /* chunks 16,16,16,16,6 */
    const nn_act acts[] = {NN_ACT_RELU, NN_ACT_TANH, NN_ACT_IDENTITY};
    const double drop[] = {0.2, 0.1};
    nn_model_spec sp = {.nlayers = 3, .sizes = sizes, .acts = acts, .bias = 1, .dropout = drop,
                        .max_batch = B};
    nn_model m;
    assert_int_equal(nn_model_create_spec(&m, &sp), 0);
    nn_model_init_scheme(&m, 3, NN_INIT_TORCH, 0);
    float *x = malloc(sizeof(float) * B * 40), *dl = malloc(sizeof(float) * B * 3);
    int64_t rows[70];
    for (int i = 0; i < B * 40; i++) x[i] = (float)sin(0.37 * i);
    for (int i = 0; i < B * 3; i++) dl[i] = (float)cos(0.11 * i) * 0.1f;
    for (int i = 0; i < B; i++) rows[i] = 1000 + 7 * i;
    const int nch = (B + C - 1) / C;
    float *ref[5], *got[5], zref[70 * 3];
    for (int j = 0; j < nch; j++) {
        ref[j] = calloc(m.nparams, sizeof(float));
        got[j] = calloc(m.nparams, sizeof(float));
    }
    /* reference: each chunk alone */
    float *keep = m.grads;
    for (int j = 0; j < nch; j++) {
        const int r0 = j * C, n = B - r0 < C ? B - r0 : C;
        nn_dropout_ctx ctx = {5, 2, rows + r0};
        const float *z = nn_forward_train(&m, x + (size_t)r0 * 40, n, &ctx);
        memcpy(zref + r0 * 3, z, sizeof(float) * (size_t)n * 3);
        m.grads = ref[j];
        nn_backward(&m, x + (size_t)r0 * 40, dl + r0 * 3, n, 0, NULL);
        m.grads = keep;
    }
    int ms[] = {B, 3 * C, C};
    int fwd[3], din[3], zero[3] = {0, 0, 0};
    nn_model_rows_consistent(&m, C, ms, 3, fwd, din);
    for (int variant = 0; variant < 2; variant++) {
        const int *f = variant ? zero : fwd, *d = variant ? zero : din;
        nn_dropout_ctx ctx = {5, 2, rows};
        const float *z = nn_forward_train_chunked(&m, x, B, &ctx, C, f);
        assert_memory_equal(z, zref, sizeof(float) * B * 3);
        nn_backward_chunked(&m, x, dl, B, C, got, d);
        for (int j = 0; j < nch; j++) assert_memory_equal(got[j], ref[j], sizeof(float) * m.nparams);
    }
    for (int j = 0; j < nch; j++) {
        free(ref[j]);
        free(got[j]);
    }
    free(x);
    free(dl);
    nn_model_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_forward_backward_fd),
        cmocka_unit_test(test_backward_pieces),
        cmocka_unit_test(test_chunked_step),
        cmocka_unit_test(test_batch_size_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
