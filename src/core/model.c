/* MLP layer table over flat parameter/gradient buffers; init schemes; forward (with
 * counter-based dropout) and backward passes. */
#include "model.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *init_names[NN_INIT_COUNT] = {"torch", "xavier_uniform", "xavier_normal",
                                                "kaiming_uniform", "kaiming_normal", "normal"};

const char *nn_init_name(nn_init_kind k) { return (unsigned)k < NN_INIT_COUNT ? init_names[k] : "?"; }

int nn_init_parse(const char *s, nn_init_kind *k)
{
    /* He et al. is the same scheme as kaiming */
    if (strcmp(s, "he_uniform") == 0) { *k = NN_INIT_KAIMING_UNIFORM; return 0; }
    if (strcmp(s, "he_normal") == 0) { *k = NN_INIT_KAIMING_NORMAL; return 0; }
    for (int i = 0; i < NN_INIT_COUNT; i++)
        if (strcmp(s, init_names[i]) == 0) { *k = (nn_init_kind)i; return 0; }
    return -1;
}

int nn_model_create_spec(nn_model *m, const nn_model_spec *sp)
{
    memset(m, 0, sizeof *m);
    const int nlayers = sp->nlayers;
    m->nlayers = nlayers;
    m->max_batch = sp->max_batch;
    m->nextra = sp->nextra;
    m->layers = calloc((size_t)nlayers, sizeof *m->layers);
    m->z = calloc((size_t)nlayers, sizeof *m->z);
    m->a = calloc((size_t)nlayers, sizeof *m->a);
    m->drop = calloc((size_t)nlayers, sizeof *m->drop);
    m->mask = calloc((size_t)nlayers, sizeof *m->mask);
    if (!m->layers || !m->z || !m->a || !m->drop || !m->mask) goto fail;
    size_t off = 0;
    int widest = sp->sizes[0];
    for (int l = 0; l < nlayers; l++) {
        nn_layer *L = &m->layers[l];
        L->in = sp->sizes[l];
        L->out = sp->sizes[l + 1];
        L->act = sp->acts[l];
        L->act_param = (float)(L->act == NN_ACT_LEAKY_RELU ? sp->leaky_slope
                               : L->act == NN_ACT_ELU      ? sp->elu_alpha : 0);
        L->has_bias = sp->bias;
        L->dropout = (float)(sp->dropout && l < nlayers - 1 ? sp->dropout[l] : 0);
        L->w_off = off; off += (size_t)L->in * L->out;
        L->b_off = off; off += L->has_bias ? (size_t)L->out : 0;
        if (L->out > widest) widest = L->out;
    }
    m->nparams = off;
    /* 64-byte alignment keeps BLAS on its aligned paths; sizes rounded up to match */
#define ALLOC(p, count) do { size_t bytes_ = ((count) * sizeof(float) + 63) & ~(size_t)63; \
        if (!((p) = aligned_alloc(64, bytes_ ? bytes_ : 64))) goto fail;                 \
        memset((p), 0, bytes_); } while (0)
    ALLOC(m->params, m->nparams);
    ALLOC(m->grads, m->nparams + sp->nextra);
    for (int l = 0; l < nlayers; l++) {
        size_t n = (size_t)sp->max_batch * m->layers[l].out;
        ALLOC(m->z[l], n);
        ALLOC(m->a[l], n);
        if (m->layers[l].dropout > 0) {
            ALLOC(m->drop[l], n);
            ALLOC(m->mask[l], n);
        }
    }
    ALLOC(m->delta[0], (size_t)sp->max_batch * widest);
    ALLOC(m->delta[1], (size_t)sp->max_batch * widest);
#undef ALLOC
    return 0;
fail:
    nn_model_free(m);
    return -1;
}

void nn_model_free(nn_model *m)
{
    for (int l = 0; l < m->nlayers; l++) {
        if (m->z) free(m->z[l]);
        if (m->a) free(m->a[l]);
        if (m->drop) free(m->drop[l]);
        if (m->mask) free(m->mask[l]);
    }
    free(m->z); free(m->a); free(m->drop); free(m->mask); free(m->layers);
    free(m->params); free(m->grads);
    free(m->delta[0]); free(m->delta[1]);
    memset(m, 0, sizeof *m);
}

double nn_init_scale(const nn_model *m, int l, nn_init_kind k, double std)
{
    const nn_layer *L = &m->layers[l];
    double fi = L->in, fo = L->out, gain = nn_act_gain(L->act, L->act_param);
    switch (k) {
    case NN_INIT_XAVIER_UNIFORM: return gain * sqrt(6.0 / (fi + fo));
    case NN_INIT_XAVIER_NORMAL: return gain * sqrt(2.0 / (fi + fo));
    case NN_INIT_KAIMING_UNIFORM: return gain * sqrt(3.0 / fi);
    case NN_INIT_KAIMING_NORMAL: return gain / sqrt(fi);
    case NN_INIT_NORMAL: return std;
    default: return 1.0 / sqrt(fi); /* torch's nn.Linear default */
    }
}

void nn_model_init_scheme(nn_model *m, uint64_t seed, nn_init_kind k, double std)
{
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        double sc = nn_init_scale(m, l, k, std);
        int normal = k == NN_INIT_XAVIER_NORMAL || k == NN_INIT_KAIMING_NORMAL || k == NN_INIT_NORMAL;
        uint64_t kw = nn_key(seed, NN_STREAM_INIT, (uint64_t)l, 0);
        uint64_t kb = nn_key(seed, NN_STREAM_INIT, (uint64_t)l, 1);
        float *w = m->params + L->w_off, *b = m->params + L->b_off;
        for (size_t i = 0; i < (size_t)L->in * L->out; i++)
            w[i] = (float)(normal ? sc * nn_normal(kw, i) : (2 * nn_uniform(kw, i) - 1) * sc);
        if (!L->has_bias) continue;
        for (int i = 0; i < L->out; i++)
            b[i] = k == NN_INIT_TORCH ? (float)((2 * nn_uniform(kb, (uint64_t)i) - 1) * sc) : 0.0f;
    }
}

/* Draw layer l's mask for the batch and apply it: drop = a * mask. */
static void apply_dropout(nn_model *m, int l, int B, const nn_dropout_ctx *ctx)
{
    const nn_layer *L = &m->layers[l];
    const double p = L->dropout;
    const float keep_scale = (float)(1.0 / (1.0 - p));
    const uint64_t key = nn_key(ctx->seed, NN_STREAM_DROPOUT, ctx->epoch, (uint64_t)l);
    const int W = L->out;
    for (int i = 0; i < B; i++) {
        const uint64_t base = (uint64_t)ctx->rows[i] * (uint64_t)W;
        float *mk = m->mask[l] + (size_t)i * W;
        const float *a = m->a[l] + (size_t)i * W;
        float *d = m->drop[l] + (size_t)i * W;
        for (int j = 0; j < W; j++) {
            mk[j] = nn_uniform(key, base + (uint64_t)j) >= p ? keep_scale : 0.0f;
            d[j] = a[j] * mk[j];
        }
    }
}

/* A layer's GEMMs over B rows in calls of `chunk` rows (the last shorter; chunk < 1 or >= B:
 * one call), as deterministic mode runs them and nn_model_rows_consistent checks them. */
static void forward_rows(float *out, const float *in, const float *w, const float *b, int B, int IN,
                         int OUT, int chunk)
{
    if (chunk < 1 || chunk > B) chunk = B;
    for (int r0 = 0; r0 < B; r0 += chunk)
        nn_dense_forward(out + (size_t)r0 * OUT, in + (size_t)r0 * IN, w, b, B - r0 < chunk ? B - r0 : chunk,
                         IN, OUT);
}

static void input_grad_rows(float *din, const float *dout, const float *w, int B, int IN, int OUT,
                            int chunk)
{
    if (chunk < 1 || chunk > B) chunk = B;
    for (int r0 = 0; r0 < B; r0 += chunk)
        nn_dense_input_grad(din + (size_t)r0 * IN, dout + (size_t)r0 * OUT, w,
                            B - r0 < chunk ? B - r0 : chunk, IN, OUT);
}

const float *nn_forward_train_chunked(nn_model *m, const float *x, int B, const nn_dropout_ctx *ctx,
                                      int chunk, const int *whole)
{
    const float *in = x;
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        const float *w = m->params + L->w_off, *b = L->has_bias ? m->params + L->b_off : NULL;
        forward_rows(m->z[l], in, w, b, B, L->in, L->out, whole && whole[l] ? B : chunk);
        nn_act_forward_p(m->a[l], m->z[l], (size_t)B * L->out, L->act, L->act_param);
        in = m->a[l];
        if (ctx && L->dropout > 0) {
            apply_dropout(m, l, B, ctx);
            in = m->drop[l];
        }
    }
    m->last_dropout = ctx != NULL;
    return m->a[m->nlayers - 1];
}

const float *nn_forward_train(nn_model *m, const float *x, int B, const nn_dropout_ctx *ctx)
{
    return nn_forward_train_chunked(m, x, B, ctx, B, NULL); /* one piece per layer */
}

const float *nn_forward(nn_model *m, const float *x, int B)
{
    return nn_forward_train(m, x, B, NULL);
}

/* How many pieces to cut a GEMM of `flops` into along a dimension of `width`: about
 * flops / piece_flops, each at least 16 wide and none smaller than piece_flops (the pieces are
 * floor or ceil of width / p wide). */
static int pieces(double flops, double piece_flops, int width)
{
    if (piece_flops <= 0 || flops < 2 * piece_flops) return 1;
    double want = flops / piece_flops, most = width / 16;
    int p = want < most ? (int)want : (int)most;
    while (p > 1 && (double)(width / p) * (flops / width) < piece_flops) p--;
    return p < 1 ? 1 : p;
}

typedef struct {
    const nn_backward_hook *h;
    size_t base; /* the layer's w_off */
} tick_ctx;

static void tick(size_t k, void *u)
{
    const tick_ctx *t = u;
    t->h->ready(t->base + k, t->h->user);
}

/* Backward through layer l's dropout and activation: dZ = (dOut * mask) * f'(Z) into
 * m->delta[ping], returned; *in gets the layer's input (x, or the previous layer's possibly
 * dropped output) for its weight gradient. */
static float *layer_delta(nn_model *m, int l, const float *dout, int ping, int B, const float *x,
                          const float **in)
{
    const nn_layer *L = &m->layers[l];
    const size_t n = (size_t)B * L->out;
    float *dz = m->delta[ping];
    if (m->last_dropout && L->dropout > 0) {
        /* through the dropout: dA = dDrop * mask (in place in dz, then activation) */
        const float *mk = m->mask[l];
        for (size_t i = 0; i < n; i++) dz[i] = dout[i] * mk[i];
        dout = dz;
    }
    /* dZ = dA * f'(Z) */
    nn_act_backward_p(dz, dout, m->z[l], m->a[l], n, L->act, L->act_param);
    *in = l == 0 ? x : (m->last_dropout && m->layers[l - 1].dropout > 0 ? m->drop[l - 1] : m->a[l - 1]);
    return dz;
}

void nn_backward(nn_model *m, const float *x, const float *dlogits, int B, int accumulate,
                 const nn_backward_hook *hook)
{
    const float *dout = dlogits; /* gradient w.r.t. layer l's (possibly dropped) output */
    int ping = 0;
    if (hook && !hook->ready) hook = NULL;
    for (int l = m->nlayers - 1; l >= 0; l--) {
        const nn_layer *L = &m->layers[l];
        const float *in;
        float *dz = layer_delta(m, l, dout, ping, B, x, &in);
        float *din = l > 0 ? m->delta[ping ^ 1] : NULL;
        float *db = L->has_bias ? m->grads + L->b_off : NULL;
        const double flops = 2.0 * B * L->in * L->out, pf = hook ? hook->piece_flops : 0;
        tick_ctx t = {hook, L->w_off};
        nn_dense_backward_pieces(din, m->grads + L->w_off, db, dz, in, m->params + L->w_off, B,
                                 L->in, L->out, accumulate, pieces(flops, pf, L->out),
                                 pieces(flops, pf, L->in), hook ? tick : NULL, &t);
        dout = din;
        ping ^= 1;
    }
}

void nn_backward_chunked(nn_model *m, const float *x, const float *dlogits, int B, int chunk,
                         float *const *gbuf, const int *din_whole)
{
    const float *dout = dlogits;
    int ping = 0;
    for (int l = m->nlayers - 1; l >= 0; l--) {
        const nn_layer *L = &m->layers[l];
        const float *in;
        float *dz = layer_delta(m, l, dout, ping, B, x, &in);
        /* each chunk's weight and bias gradients alone, exactly as nn_backward on its rows */
        for (int j = 0, r0 = 0; r0 < B; j++, r0 += chunk) {
            const int rows = B - r0 < chunk ? B - r0 : chunk;
            float *g = gbuf[j];
            nn_dense_backward_pieces(NULL, g + L->w_off, L->has_bias ? g + L->b_off : NULL,
                                     dz + (size_t)r0 * L->out, in + (size_t)r0 * L->in,
                                     m->params + L->w_off, rows, L->in, L->out, 0, 1, 1, NULL, NULL);
        }
        float *din = l > 0 ? m->delta[ping ^ 1] : NULL;
        if (din)
            input_grad_rows(din, dz, m->params + L->w_off, B, L->in, L->out,
                            din_whole && din_whole[l] ? B : chunk);
        dout = din;
        ping ^= 1;
    }
}

/* a value of the check's inputs: varied, exactly representable */
static float probe(size_t i, uint64_t salt)
{
    return (float)((double)((i * 2654435761u + salt) % 2001) / 1000.0 - 1.0) * 0.73f;
}

int nn_model_rows_consistent(const nn_model *m, int chunk, const int *ms, int nms, int *fwd,
                             int *din)
{
    int most = chunk, widest = 1;
    for (int i = 0; i < nms; i++) most = ms[i] > most ? ms[i] : most;
    for (int l = 0; l < m->nlayers; l++) {
        widest = m->layers[l].in > widest ? m->layers[l].in : widest;
        widest = m->layers[l].out > widest ? m->layers[l].out : widest;
    }
    const size_t cap = (size_t)most * (size_t)widest, wcap = (size_t)widest * (size_t)widest;
    float *in = malloc(sizeof(float) * cap), *whole = malloc(sizeof(float) * cap),
          *part = malloc(sizeof(float) * cap), *wb = malloc(sizeof(float) * (wcap + (size_t)widest));
    int ok = in && whole && part && wb;
    for (size_t i = 0; ok && i < cap; i++) in[i] = probe(i, 17);
    for (size_t i = 0; ok && i < wcap + (size_t)widest; i++) wb[i] = probe(i, 31);
    for (int l = 0; l < m->nlayers; l++) fwd[l] = din[l] = ok;
    for (int l = 0; ok && l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        /* the layer's shapes, synthetic weights (the model's may still be zeros) */
        const float *w = wb, *b = L->has_bias ? wb + wcap : NULL;
        for (int k = 0; k < nms; k++) {
            const int M = ms[k];
            /* forward: out = b + in . w^T, by the training step's own row loops */
            forward_rows(whole, in, w, b, M, L->in, L->out, M);
            forward_rows(part, in, w, b, M, L->in, L->out, chunk);
            fwd[l] &= !memcmp(whole, part, sizeof(float) * (size_t)M * L->out);
            /* input gradient: din = dout . w (dout: the probe values, out wide) */
            input_grad_rows(whole, in, w, M, L->in, L->out, M);
            input_grad_rows(part, in, w, M, L->in, L->out, chunk);
            din[l] &= !memcmp(whole, part, sizeof(float) * (size_t)M * L->in);
        }
    }
    free(in);
    free(whole);
    free(part);
    free(wb);
    return ok;
}
