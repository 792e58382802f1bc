/* One training step and the optimizer step (step.h). */
#include "step.h"

/* The loss of rows [r0, r0 + n) of b from their outputs z (dz: their loss gradient), its
 * sums written into (or, with add, added to) the scalar slots xs. The mean is over the
 * *global* batch: the sum over ranks is then the exact mean. */
static void loss_rows(nt_step *s, const nt_batch *b, int r0, int n, const float *z, float *dz,
                      float *xs, int add)
{
    const int K = s->m->layers[s->m->nlayers - 1].out;
    double st[2] = {0, 0};
    const float loss = (float)nn_loss_eval(dz, z, b->labels + r0, b->targets + (size_t)r0 * K, n, K,
                                           s->loss, 1.0f / (float)b->global_n, st);
    if (!add) xs[NT_X_LOSS] = xs[NT_X_M0] = xs[NT_X_M1] = xs[NT_X_COUNT] = 0;
    xs[NT_X_LOSS] += loss;
    xs[NT_X_M0] += (float)st[0];
    xs[NT_X_M1] += (float)st[1];
    xs[NT_X_COUNT] += (float)n;
}

/* Forward, loss and backward of rows [r0, r0 + n) of b, the gradient written into g (the
 * model's buffer or a chunk buffer) or, with add, added to it; the loss and metric sums into
 * (or added to) g's scalar slots. */
static void pass(nt_step *s, const nt_batch *b, int r0, int n, float *g, int add,
                 const nn_backward_hook *hook)
{
    nn_model *m = s->m;
    const int64_t D = m->layers[0].in;
    const float *x = b->x + (size_t)r0 * (size_t)D;
    /* dropout masks keyed by (seed, epoch, layer, file row): rank-independent */
    nn_dropout_ctx dctx = {s->seed, (uint64_t)b->epoch, b->rows + r0};
    loss_rows(s, b, r0, n, nn_forward_train(m, x, n, &dctx), s->dz, g + m->nparams, add);
    /* the gradient overwrites (or adds to) g: backward writes where m->grads points */
    float *keep = m->grads;
    m->grads = g;
    nn_backward(m, x, s->dz, n, add, hook);
    m->grads = keep;
}

void nt_train_step(nt_step *s, const nt_batch *b, int error, int stop)
{
    nn_model *m = s->m;
    float *xs = nt_step_scalars(m);
    nt_exchange *x = s->x;
    if (x && x->cfg.deterministic) {
        /* forward over the shard (layer GEMMs whole where that gives each row its chunk's
         * bits, else chunk by chunk), each chunk's loss and weight gradients alone into its
         * own buffer; the exchange sums them exactly (an empty shard: no chunk, only the
         * flags, which ride in the model's buffer, chunk 0) */
        const int C = (int)x->cfg.chunk, K = m->layers[m->nlayers - 1].out;
        nn_dropout_ctx dctx = {s->seed, (uint64_t)b->epoch, b->rows};
        const float *z = nn_forward_train_chunked(m, b->x, b->n, &dctx, C, s->det_fwd);
        int j = 0;
        for (int r0 = 0; r0 < b->n && j < x->kmax; r0 += C, j++)
            loss_rows(s, b, r0, b->n - r0 < C ? b->n - r0 : C, z + (size_t)r0 * K, s->dz + (size_t)r0 * K,
                      nt_exchange_chunk(x, j) + m->nparams, 0);
        x->nchunks = j;
        nn_backward_chunked(m, b->x, s->dz, b->n, C, x->cbuf, s->det_din);
        xs[NT_X_ERROR] = (float)error;
        xs[NT_X_STOP] = (float)stop;
        return;
    }
    /* the scalars are set before backward starts the exchange's buckets */
    xs[NT_X_ERROR] = (float)error;
    xs[NT_X_STOP] = (float)stop;
    /* overwrites the gradients (zeros for an empty shard); each finished layer starts its
     * buckets. Accumulation: k micro-batches, the first overwriting, the others adding; only
     * the last one's backward starts buckets (the gradients are final only then). */
    const int k = s->accumulate > 1 ? s->accumulate : 1;
    const nn_backward_hook *hook = x ? &x->hook : NULL;
    if (k == 1 || b->n <= 1) {
        pass(s, b, 0, b->n, m->grads, 0, hook);
        return;
    }
    int done = 0;
    for (int j = 0; j < k; j++) {
        const int r0 = (int)((int64_t)b->n * j / k), r1 = (int)((int64_t)b->n * (j + 1) / k);
        if (r1 == r0) continue; /* fewer rows than micro-batches */
        pass(s, b, r0, r1 - r0, m->grads, done, r1 == b->n ? hook : NULL);
        done = 1;
    }
}

int nt_optimizer_step(nn_optim *o, nn_model *m, double clip_grad_norm, nt_exchange *x)
{
    return nt_exchange_update(x, o, m, clip_grad_norm);
}
