/* One training step and the optimizer step (step.h). */
#include "step.h"

/* Forward, loss and backward of rows [r0, r0 + n) of b, the gradient written into g (the
 * model's buffer or a chunk buffer), the loss and metric sums into g's scalar slots. */
static void pass(nt_step *s, const nt_batch *b, int r0, int n, float *g, const nn_backward_hook *hook)
{
    nn_model *m = s->m;
    const int K = m->layers[m->nlayers - 1].out;
    const int64_t D = m->layers[0].in;
    float *xs = g + m->nparams;
    const float *x = b->x + (size_t)r0 * (size_t)D;
    /* dropout masks keyed by (seed, epoch, layer, file row): rank-independent */
    nn_dropout_ctx dctx = {s->seed, (uint64_t)b->epoch, b->rows + r0};
    const float *z = nn_forward_train(m, x, n, &dctx);
    double st[2] = {0, 0};
    /* mean over the *global* batch: the sum over ranks is then the exact mean */
    xs[NT_X_LOSS] = (float)nn_loss_eval(s->dz, z, b->labels + r0, b->targets + (size_t)r0 * K, n,
                                        K, s->loss, 1.0f / (float)b->global_n, st);
    xs[NT_X_M0] = (float)st[0];
    xs[NT_X_M1] = (float)st[1];
    xs[NT_X_COUNT] = (float)n;
    /* the gradient overwrites g: backward writes where m->grads points */
    float *keep = m->grads;
    m->grads = g;
    nn_backward(m, x, s->dz, n, 0, hook);
    m->grads = keep;
}

void nt_train_step(nt_step *s, const nt_batch *b, int error, int stop)
{
    nn_model *m = s->m;
    float *xs = nt_step_scalars(m);
    nt_exchange *x = s->x;
    if (x && x->cfg.deterministic) {
        /* each fixed chunk alone, into its own buffer; the exchange sums them exactly */
        const int C = (int)x->cfg.chunk;
        int j = 0;
        for (int r0 = 0; r0 < b->n && j < x->kmax; r0 += C, j++)
            pass(s, b, r0, b->n - r0 < C ? b->n - r0 : C, nt_exchange_chunk(x, j), NULL);
        x->nchunks = j;
        if (j == 0) xs[NT_X_LOSS] = xs[NT_X_M0] = xs[NT_X_M1] = xs[NT_X_COUNT] = 0;
        xs[NT_X_ERROR] = (float)error; /* the flags: in the model's buffer (chunk 0) */
        xs[NT_X_STOP] = (float)stop;
        return;
    }
    /* the scalars are set before backward starts the exchange's buckets */
    xs[NT_X_ERROR] = (float)error;
    xs[NT_X_STOP] = (float)stop;
    /* overwrites the gradients (zeros for an empty shard); each finished layer starts its
     * buckets */
    pass(s, b, 0, b->n, m->grads, x ? &x->hook : NULL);
}

int nt_optimizer_step(nn_optim *o, nn_model *m, double clip_grad_norm, nt_exchange *x)
{
    return nt_exchange_update(x, o, m, clip_grad_norm);
}
