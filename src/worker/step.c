/* One training step and the optimizer step (step.h). */
#include "step.h"

void nt_train_step(nt_step *s, const nt_batch *b, int error, int stop)
{
    nn_model *m = s->m;
    float *xs = nt_step_scalars(m);
    const int K = m->layers[m->nlayers - 1].out;
    /* dropout masks keyed by (seed, epoch, layer, file row): rank-independent */
    nn_dropout_ctx dctx = {s->seed, (uint64_t)b->epoch, b->rows};
    const float *z = nn_forward_train(m, b->x, b->n, &dctx);
    double st[2] = {0, 0};
    /* mean over the *global* batch: the sum over ranks is then the exact mean */
    xs[NT_X_LOSS] = (float)nn_loss_eval(s->dz, z, b->labels, b->targets, b->n, K, s->loss,
                                        1.0f / (float)b->global_n, st);
    xs[NT_X_M0] = (float)st[0];
    xs[NT_X_M1] = (float)st[1];
    xs[NT_X_COUNT] = (float)b->n;
    xs[NT_X_ERROR] = (float)error;
    xs[NT_X_STOP] = (float)stop;
    /* overwrites the gradients; each finished layer starts its buckets */
    nn_backward(m, b->x, s->dz, b->n, 0, s->x ? &s->x->hook : NULL);
}

void nt_optimizer_step(nn_optim *o, nn_model *m, double clip_grad_norm)
{
    /* clipping after the exchange: the same norm, the same factor on every rank */
    if (clip_grad_norm > 0) nn_clip_grad_norm(m->grads, m->nparams, clip_grad_norm);
    nn_optim_step(o, m->params, m->grads);
}
