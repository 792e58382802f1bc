/* MLP layer table over flat parameter/gradient buffers; forward and backward passes. */
#include "model.h"
#include "rng.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

int nn_model_create(nn_model *m, const int *sizes, int nlayers, nn_act hidden,
                    int max_batch, size_t nextra)
{
    memset(m, 0, sizeof *m);
    m->nlayers = nlayers;
    m->max_batch = max_batch;
    m->nextra = nextra;
    m->layers = calloc((size_t)nlayers, sizeof *m->layers);
    m->z = calloc((size_t)nlayers, sizeof *m->z);
    m->a = calloc((size_t)nlayers, sizeof *m->a);
    if (!m->layers || !m->z || !m->a) goto fail;
    size_t off = 0;
    int widest = sizes[0];
    for (int l = 0; l < nlayers; l++) {
        nn_layer *L = &m->layers[l];
        L->in = sizes[l];
        L->out = sizes[l + 1];
        L->act = l == nlayers - 1 ? NN_ACT_IDENTITY : hidden;
        L->w_off = off; off += (size_t)L->in * L->out;
        L->b_off = off; off += (size_t)L->out;
        if (L->out > widest) widest = L->out;
    }
    m->nparams = off;
    /* 64-byte alignment keeps BLAS on its aligned paths; sizes rounded up to match */
#define ALLOC(p, count) do { size_t bytes_ = ((count) * sizeof(float) + 63) & ~(size_t)63; \
        if (!((p) = aligned_alloc(64, bytes_ ? bytes_ : 64))) goto fail;                 \
        memset((p), 0, bytes_); } while (0)
    ALLOC(m->params, m->nparams);
    ALLOC(m->grads, m->nparams + nextra);
    for (int l = 0; l < nlayers; l++) {
        size_t n = (size_t)max_batch * m->layers[l].out;
        ALLOC(m->z[l], n);
        ALLOC(m->a[l], n);
    }
    ALLOC(m->delta[0], (size_t)max_batch * widest);
    ALLOC(m->delta[1], (size_t)max_batch * widest);
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
    }
    free(m->z); free(m->a); free(m->layers);
    free(m->params); free(m->grads);
    free(m->delta[0]); free(m->delta[1]);
    memset(m, 0, sizeof *m);
}

void nn_model_init(nn_model *m, uint64_t seed)
{
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        double bound = 1.0 / sqrt((double)L->in);
        uint64_t kw = nn_key(seed, NN_STREAM_INIT, (uint64_t)l, 0);
        uint64_t kb = nn_key(seed, NN_STREAM_INIT, (uint64_t)l, 1);
        float *w = m->params + L->w_off, *b = m->params + L->b_off;
        for (size_t i = 0; i < (size_t)L->in * L->out; i++)
            w[i] = (float)((2 * nn_uniform(kw, i) - 1) * bound);
        for (int i = 0; i < L->out; i++)
            b[i] = (float)((2 * nn_uniform(kb, (uint64_t)i) - 1) * bound);
    }
}

const float *nn_forward(nn_model *m, const float *x, int B)
{
    const float *in = x;
    for (int l = 0; l < m->nlayers; l++) {
        const nn_layer *L = &m->layers[l];
        nn_dense_forward(m->z[l], in, m->params + L->w_off, m->params + L->b_off, B, L->in,
                         L->out);
        nn_act_forward(m->a[l], m->z[l], (size_t)B * L->out, L->act);
        in = m->a[l];
    }
    return m->a[m->nlayers - 1];
}

void nn_backward(nn_model *m, const float *x, const float *dlogits, int B, int accumulate,
                 void (*done)(int layer, void *user), void *user)
{
    const float *dout = dlogits; /* gradient w.r.t. layer l's output a[l] */
    int ping = 0;
    for (int l = m->nlayers - 1; l >= 0; l--) {
        const nn_layer *L = &m->layers[l];
        size_t n = (size_t)B * L->out;
        float *dz = m->delta[ping];
        /* dZ = dA * f'(Z) */
        nn_act_backward(dz, dout, m->z[l], m->a[l], n, L->act);
        const float *in = l > 0 ? m->a[l - 1] : x;
        float *din = l > 0 ? m->delta[ping ^ 1] : NULL;
        (accumulate ? nn_dense_backward : nn_dense_backward_into)(
            din, m->grads + L->w_off, m->grads + L->b_off, dz, in, m->params + L->w_off, B, L->in,
            L->out);
        if (done) done(l, user);
        dout = din;
        ping ^= 1;
    }
}
