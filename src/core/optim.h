/* Optimizers over the flat parameter buffer, with torch.optim's exact update formulas (the
 * single-tensor implementations of torch 1.13). State is one flat array of up to three
 * per-parameter slots, so a step is one loop per slot layout and a checkpoint is one dataset.
 * Every rank runs the identical step on identical inputs. */
#ifndef NN_OPTIM_H
#define NN_OPTIM_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    NN_OPT_SGD = 0, NN_OPT_ADAM, NN_OPT_ADAMW, NN_OPT_ADAMAX, NN_OPT_RMSPROP, NN_OPT_ADAGRAD,
    NN_OPT_ADADELTA, NN_OPT_COUNT
} nn_opt_kind;

/* Hyper-parameters are doubles, like Python floats in torch.optim: derived constants such as
 * 1 - beta2 and lr / (1 - beta1^t) are computed in double and only then rounded to float,
 * exactly as torch passes them to its float32 kernels. */
typedef struct {
    nn_opt_kind kind;
    double lr;
    double momentum;       /* sgd, rmsprop */
    double dampening;      /* sgd */
    int nesterov;          /* sgd */
    double weight_decay;   /* coupled L2 (adamw: decoupled, p *= 1 - lr wd) */
    double beta1, beta2, eps; /* adam, adamw, adamax (eps also rmsprop, adagrad, adadelta) */
    int amsgrad;           /* adam, adamw */
    double alpha;          /* rmsprop smoothing */
    int centered;          /* rmsprop */
    double lr_decay;       /* adagrad */
    double initial_accumulator_value; /* adagrad */
    double rho;            /* adadelta */
    double l1;             /* L1 penalty l1·Σ|p| on the segments' parameters (nn_optim_add_l1) */
} nn_opt_config;

/* A slice of the parameters with its own weight decay and L1 penalty (biases can be
 * excluded from both). */
typedef struct { size_t lo, hi; double weight_decay, l1; } nn_opt_segment;

typedef struct {
    nn_opt_config cfg;
    size_t n;              /* parameters this optimizer updates: [off, off + n) of total */
    size_t off, total;     /* a ZeRO-1 slice of the flat parameters; 0 and n otherwise */
    int sliced;            /* set by the caller: ranks hold different slices (ZeRO-1) */
    float *state;          /* nslots * n floats */
    int nslots;
    size_t nstate;
    int64_t step;          /* completed steps */
    nn_opt_segment *seg;   /* weight-decay segments covering [0, n); one by default */
    int nseg;
} nn_optim;

const char *nn_opt_name(nn_opt_kind k);
int nn_opt_parse(const char *s, nn_opt_kind *k);
/* Fills torch's defaults for the kind (lr, betas, eps, alpha, rho ...). */
void nn_opt_defaults(nn_opt_config *c, nn_opt_kind k);

/* Per-parameter state slots the optimizer keeps (e.g. adam 2, amsgrad 3, plain sgd 0). */
int nn_optim_slots(const nn_opt_config *c);
int nn_optim_create(nn_optim *o, const nn_opt_config *cfg, size_t n);
/* An optimizer for the slice [off, off + n) of total parameters (ZeRO-1: each rank updates
 * and keeps state for its slice only). nn_optim_step then takes the slice's params and grads
 * (n each); segments are still given over [0, total) and clipped to the slice. */
int nn_optim_create_slice(nn_optim *o, const nn_opt_config *cfg, size_t off, size_t n, size_t total);
void nn_optim_free(nn_optim *o);
/* Replace the weight-decay segments (copied); they must cover [0, total) in order (only
 * their part inside the slice is kept). */
int nn_optim_set_segments(nn_optim *o, const nn_opt_segment *seg, int nseg);
/* The L1 penalty's gradient: grads[i] += l1 · sign(params[i]) (0 at 0, as torch's abs) over
 * each segment with l1 != 0 — what loss + l1·Σ|p| adds in autograd. Before clipping. */
void nn_optim_add_l1(const nn_optim *o, const float *params, float *grads);
/* One update of params (n) from grads (n), with learning rate o->cfg.lr. */
void nn_optim_step(nn_optim *o, float *params, const float *grads);

/* Scale grads[0..n) so their global L2 norm is at most max_norm, as
 * torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6), clamped to 1).
 * Returns the norm before clipping. */
double nn_clip_grad_norm(float *grads, size_t n, double max_norm);
/* Its scaling alone, given the global norm (computed elsewhere: ZeRO-1 slices, deterministic
 * block sums). */
void nn_clip_scale(float *grads, size_t n, double norm, double max_norm);

#endif
