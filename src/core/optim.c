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
    c->lr = k == NN_OPT_ADAM ? 1e-3 : 1e-2;
    c->beta1 = 0.9; c->beta2 = 0.999; c->eps = 1e-8;
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
    const float lr = (float)o->cfg.lr, mu = (float)o->cfg.momentum;
    const float wd = (float)o->cfg.weight_decay;
    float *buf = o->state;
    const size_t n = o->n;
    /* one branch-free loop per case, so each vectorises */
    if (mu == 0) {
        for (size_t i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
    } else if (o->step == 0) { /* torch: the first step seeds the buffer with the gradient */
        for (size_t i = 0; i < n; i++) {
            buf[i] = g[i] + wd * p[i];
            p[i] -= lr * buf[i];
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            buf[i] = mu * buf[i] + (g[i] + wd * p[i]);
            p[i] -= lr * buf[i];
        }
    }
}

static void adam_step(nn_optim *o, float *p, const float *g)
{
    const nn_opt_config *c = &o->cfg;
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float omb1 = (float)(1 - c->beta1), omb2 = (float)(1 - c->beta2);
    const float wd = (float)c->weight_decay;
    float *m = o->state, *v = o->state + o->n;
    /* torch: bias corrections in double, then float scalars in the tensor ops */
    double t = (double)(o->step + 1);
    double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
    const float neg_step = (float)(-(c->lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    for (size_t i = 0; i < o->n; i++) {
        float d = g[i];
        if (wd != 0) d += wd * p[i];
        m[i] = m[i] * b1 + omb1 * d;              /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
        v[i] = v[i] * b2 + omb2 * d * d;          /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
        float denom = sqrtf(v[i]) / bc2_sqrt + eps;
        p[i] += neg_step * m[i] / denom;          /* p.addcdiv_(exp_avg, denom, -step_size) */
    }
}

void nn_optim_step(nn_optim *o, float *params, const float *grads)
{
    if (o->cfg.kind == NN_OPT_ADAM) adam_step(o, params, grads);
    else sgd_step(o, params, grads);
    o->step++;
}
