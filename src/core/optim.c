/* The torch.optim catalogue: sgd, adam, adamw, adamax, rmsprop, adagrad, adadelta. Each loop
 * mirrors torch 1.13's _single_tensor_* update order, with scalar constants rounded to float
 * where torch passes a Python float to a float32 tensor op. */
#include "optim.h"
#include "simd.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *names[NN_OPT_COUNT] = {"sgd", "adam", "adamw", "adamax", "rmsprop",
                                          "adagrad", "adadelta"};

const char *nn_opt_name(nn_opt_kind k) { return (unsigned)k < NN_OPT_COUNT ? names[k] : "?"; }

int nn_opt_parse(const char *s, nn_opt_kind *k)
{
    for (int i = 0; i < NN_OPT_COUNT; i++)
        if (strcmp(s, names[i]) == 0) { *k = (nn_opt_kind)i; return 0; }
    return -1;
}

void nn_opt_defaults(nn_opt_config *c, nn_opt_kind k)
{
    memset(c, 0, sizeof *c);
    c->kind = k;
    c->beta1 = 0.9; c->beta2 = 0.999; c->eps = 1e-8;
    c->alpha = 0.99; c->rho = 0.9;
    switch (k) {
    case NN_OPT_SGD: c->lr = 1e-2; break; /* torch requires lr; 0.01 is the common choice */
    case NN_OPT_ADAM: c->lr = 1e-3; break;
    case NN_OPT_ADAMW: c->lr = 1e-3; c->weight_decay = 1e-2; break;
    case NN_OPT_ADAMAX: c->lr = 2e-3; break;
    case NN_OPT_RMSPROP: c->lr = 1e-2; break;
    case NN_OPT_ADAGRAD: c->lr = 1e-2; c->eps = 1e-10; break;
    case NN_OPT_ADADELTA: c->lr = 1.0; c->eps = 1e-6; break;
    default: break;
    }
}

int nn_optim_slots(const nn_opt_config *c)
{
    switch (c->kind) {
    case NN_OPT_SGD: return c->momentum != 0 ? 1 : 0;
    case NN_OPT_ADAM:
    case NN_OPT_ADAMW: return c->amsgrad ? 3 : 2;
    case NN_OPT_ADAMAX: return 2;
    case NN_OPT_RMSPROP: return 1 + (c->centered ? 1 : 0) + (c->momentum > 0 ? 1 : 0);
    case NN_OPT_ADAGRAD: return 1;
    case NN_OPT_ADADELTA: return 2;
    default: return 0;
    }
}

int nn_optim_create(nn_optim *o, const nn_opt_config *cfg, size_t n)
{
    return nn_optim_create_slice(o, cfg, 0, n, n);
}

int nn_optim_create_slice(nn_optim *o, const nn_opt_config *cfg, size_t off, size_t n, size_t total)
{
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = n;
    o->off = off;
    o->total = total;
    o->nslots = nn_optim_slots(cfg);
    o->nstate = (size_t)o->nslots * n;
    if (o->nstate) {
        o->state = calloc(o->nstate, sizeof(float));
        if (!o->state) return -1;
    }
    if (cfg->kind == NN_OPT_ADAGRAD)
        for (size_t i = 0; i < n; i++) o->state[i] = (float)cfg->initial_accumulator_value;
    nn_opt_segment all = {0, total, cfg->weight_decay, cfg->l1};
    return nn_optim_set_segments(o, &all, 1);
}

int nn_optim_set_segments(nn_optim *o, const nn_opt_segment *seg, int nseg)
{
    nn_opt_segment *s = malloc(sizeof *s * (size_t)(nseg > 0 ? nseg : 1));
    if (!s) return -1;
    int k = 0;
    const size_t lo = o->off, hi = o->off + o->n;
    for (int i = 0; i < nseg; i++) { /* the part inside the slice, relative to it */
        size_t a = seg[i].lo > lo ? seg[i].lo : lo, b = seg[i].hi < hi ? seg[i].hi : hi;
        if (a < b) s[k++] = (nn_opt_segment){a - lo, b - lo, seg[i].weight_decay, seg[i].l1};
    }
    free(o->seg);
    o->seg = s;
    o->nseg = k;
    return 0;
}

void nn_optim_free(nn_optim *o)
{
    free(o->state);
    free(o->seg);
    memset(o, 0, sizeof *o);
}

/* ---- one loop per optimizer over [lo, hi) with weight decay wd ---- */

NN_SIMD static void sgd(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const float lr = (float)c->lr, mu = (float)c->momentum, damp = (float)(1 - c->dampening);
    float *buf = o->state;
    if (c->momentum == 0) {
        for (size_t i = lo; i < hi; i++) p[i] -= lr * (g[i] + wd * p[i]);
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        /* torch: the first step seeds the buffer with the gradient itself (no dampening) */
        buf[i] = o->step == 0 ? d : mu * buf[i] + damp * d;
        d = c->nesterov ? d + mu * buf[i] : buf[i];
        p[i] -= lr * d;
    }
}

NN_SIMD static void adam(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const size_t n = o->n;
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float omb1 = (float)(1 - c->beta1), omb2 = (float)(1 - c->beta2);
    float *m = o->state, *v = o->state + n, *vmax = c->amsgrad ? o->state + 2 * n : NULL;
    /* torch: bias corrections in double, then float scalars in the tensor ops */
    double t = (double)(o->step + 1);
    double bc1 = 1 - pow(c->beta1, t), bc2 = 1 - pow(c->beta2, t);
    const float neg_step = (float)(-(c->lr / bc1));
    const float bc2_sqrt = (float)sqrt(bc2);
    const int adamw = c->kind == NN_OPT_ADAMW;
    const float decay = (float)(1 - c->lr * (double)wd); /* adamw: p.mul_(1 - lr wd) */
    for (size_t i = lo; i < hi; i++) {
        float d = g[i];
        if (adamw) p[i] *= decay;
        else if (wd != 0) d += wd * p[i];
        m[i] = m[i] * b1 + omb1 * d;              /* exp_avg.mul_(b1).add_(g, alpha=1-b1) */
        v[i] = v[i] * b2 + omb2 * d * d;          /* exp_avg_sq.mul_(b2).addcmul_(g, g, 1-b2) */
        float s = v[i];
        if (vmax) { vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i]; s = vmax[i]; }
        float denom = sqrtf(s) / bc2_sqrt + eps;
        p[i] += neg_step * m[i] / denom;          /* p.addcdiv_(exp_avg, denom, -step_size) */
    }
}

NN_SIMD static void adamax(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const float b1 = (float)c->beta1, b2 = (float)c->beta2, eps = (float)c->eps;
    const float omb1 = (float)(1 - c->beta1);
    float *m = o->state, *u = o->state + o->n;
    const float neg_clr = (float)(-(c->lr / (1 - pow(c->beta1, (double)(o->step + 1)))));
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        m[i] = m[i] * b1 + omb1 * d;
        float a = u[i] * b2, b = fabsf(d) + eps;  /* exp_inf = max(b2 exp_inf, |g| + eps) */
        u[i] = a > b ? a : b;
        p[i] += neg_clr * m[i] / u[i];
    }
}

NN_SIMD static void rmsprop(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const size_t n = o->n;
    const float al = (float)c->alpha, omal = (float)(1 - c->alpha), eps = (float)c->eps;
    const float lr = (float)c->lr, mu = (float)c->momentum;
    float *v = o->state;
    float *ga = c->centered ? o->state + n : NULL;
    float *buf = c->momentum > 0 ? o->state + (size_t)(c->centered ? 2 : 1) * n : NULL;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        v[i] = v[i] * al + omal * d * d;
        float avg;
        if (ga) {
            ga[i] = ga[i] * al + omal * d;
            avg = sqrtf(v[i] + -1.0f * ga[i] * ga[i]) + eps; /* addcmul(ga, ga, -1).sqrt + eps */
        } else {
            avg = sqrtf(v[i]) + eps;
        }
        if (buf) {
            buf[i] = buf[i] * mu + d / avg;
            p[i] += -lr * buf[i];
        } else {
            p[i] += -lr * d / avg;
        }
    }
}

NN_SIMD static void adagrad(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const float eps = (float)c->eps;
    /* torch: clr = lr / (1 + (step - 1) lr_decay) with step counted from 1 */
    const float neg_clr = (float)(-(c->lr / (1 + (double)o->step * c->lr_decay)));
    float *sum = o->state;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        sum[i] += d * d;                           /* state_sum.addcmul_(g, g, value=1) */
        float std = sqrtf(sum[i]) + eps;
        p[i] += neg_clr * d / std;
    }
}

NN_SIMD static void adadelta(nn_optim *o, float *p, const float *g, size_t lo, size_t hi, float wd)
{
    const nn_opt_config *c = &o->cfg;
    const float rho = (float)c->rho, omrho = (float)(1 - c->rho), eps = (float)c->eps;
    const float neg_lr = (float)(-c->lr);
    float *v = o->state, *acc = o->state + o->n;
    for (size_t i = lo; i < hi; i++) {
        float d = g[i] + wd * p[i];
        v[i] = v[i] * rho + omrho * d * d;
        float std = sqrtf(v[i] + eps);
        float delta = sqrtf(acc[i] + eps) / std * d;
        acc[i] = acc[i] * rho + omrho * delta * delta;
        p[i] += neg_lr * delta;
    }
}

NN_SIMD static void add_l1(const float *p, float *g, size_t lo, size_t hi, float l1)
{
    for (size_t i = lo; i < hi; i++) {
        const float sg = p[i] > 0 ? 1.0f : p[i] < 0 ? -1.0f : 0.0f;
        g[i] += l1 * sg;
    }
}

void nn_optim_add_l1(const nn_optim *o, const float *params, float *grads)
{
    for (int s = 0; s < o->nseg; s++)
        if (o->seg[s].l1 != 0)
            add_l1(params, grads, o->seg[s].lo, o->seg[s].hi, (float)o->seg[s].l1);
}

void nn_optim_step(nn_optim *o, float *params, const float *grads)
{
    typedef void (*step_fn)(nn_optim *, float *, const float *, size_t, size_t, float);
    static const step_fn fns[NN_OPT_COUNT] = {sgd, adam, adam, adamax, rmsprop, adagrad, adadelta};
    step_fn f = fns[o->cfg.kind];
    for (int s = 0; s < o->nseg; s++)
        f(o, params, grads, o->seg[s].lo, o->seg[s].hi, (float)o->seg[s].weight_decay);
    o->step++;
}

double nn_clip_grad_norm(float *grads, size_t n, double max_norm)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)grads[i] * grads[i];
    double norm = sqrt(ss);
    nn_clip_scale(grads, n, norm, max_norm);
    return norm;
}

void nn_clip_scale(float *grads, size_t n, double norm, double max_norm)
{
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1) {
        const float cf = (float)coef;
        for (size_t i = 0; i < n; i++) grads[i] *= cf;
    }
}
