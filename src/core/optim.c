/* SGD (momentum, weight decay) and Adam (bias-corrected, coupled L2), as torch.optim. */
#include "optim.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *nn_opt_name(nn_opt_kind k) { return k == NN_OPT_ADAM ? "adam" : "sgd"; }

int nn_opt_parse(const char *s, nn_opt_kind *k)
{
    if (strcmp(s, "sgd") == 0) { *k = NN_OPT_SGD; return 0; }
    if (strcmp(s, "adam") == 0) { *k = NN_OPT_ADAM; return 0; }
    return -1;
}

void nn_opt_defaults(nn_opt_config *c, nn_opt_kind k)
{
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->lr = k == NN_OPT_ADAM ? 1e-3f : 1e-2f;
    c->beta1 = 0.9f; c->beta2 = 0.999f; c->eps = 1e-8f;
}

int nn_optim_create(nn_optim *o, const nn_opt_config *cfg, size_t n)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->nstate = cfg->kind == NN_OPT_ADAM ? 2 * n : (cfg->momentum != 0 ? n : 0);
    if (o->nstate) {
        o->state = calloc(o->nstate, sizeof(float));
        if (!o->state) return -1;
    }
    return 0;
}

void nn_optim_free(nn_optim *o)
{
    free(o->state);
    memset(o, 0, sizeof *o);
}

static void sgd_step(nn_optim *o, float *p, const float *g)
{
    const float lr = o->cfg.lr, mu = o->cfg.momentum, wd = o->cfg.weight_decay;
    float *buf = o->state;
    for (size_t i = 0; i < o->n; i++) {
        float d = g[i];
        if (wd != 0) d += wd * p[i];
        if (mu != 0) {
            /* torch: the first step seeds the buffer with the gradient itself */
            buf[i] = o->step == 0 ? d : mu * buf[i] + d;
            d = buf[i];
        }
        p[i] -= lr * d;
    }
}

static void adam_step(nn_optim *o, float *p, const float *g)
{
    const float b1 = o->cfg.beta1, b2 = o->cfg.beta2, eps = o->cfg.eps, wd = o->cfg.weight_decay;
    float *m = o->state, *v = o->state + o->n;
    /* torch computes the bias corrections in double, then uses them as floats */
    double t = (double)(o->step + 1);
    double bc1 = 1 - pow(b1, t), bc2 = 1 - pow(b2, t);
    const float step_size = (float)(o->cfg.lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    for (size_t i = 0; i < o->n; i++) {
        float d = g[i];
        if (wd != 0) d += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] -= step_size * (m[i] / denom);
    }
}

void nn_optim_step(nn_optim *o, float *params, const float *grads)
{
    if (o->cfg.kind == NN_OPT_ADAM) adam_step(o, params, grads);
    else sgd_step(o, params, grads);
    o->step++;
}
