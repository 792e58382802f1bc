/* Optimizers over the flat parameter buffer, with torch.optim's exact update formulas.
 * State (momentum / Adam moments) is one flat array, so a step is one loop and a
 * checkpoint is one dataset. Every rank runs the identical step on identical inputs. */
#ifndef NN_OPTIM_H
#define NN_OPTIM_H
#include <stddef.h>
#include <stdint.h>

typedef enum { NN_OPT_SGD = 0, NN_OPT_ADAM } nn_opt_kind;

/* Hyper-parameters are doubles, like Python floats in torch.optim: derived constants such as
 * 1 - beta2 and lr / (1 - beta1^t) are computed in double and only then rounded to float,
 * exactly as torch passes them to its float32 kernels. */
typedef struct {
    nn_opt_kind kind;
    double lr;
    double momentum;     /* sgd */
    double weight_decay; /* L2 added to the gradient (torch's coupled weight_decay) */
    double beta1, beta2, eps; /* adam: 0.9, 0.999, 1e-8 */
} nn_opt_config;

typedef struct {
    nn_opt_config cfg;
    size_t n;
    float *state;    /* sgd: momentum buffer (n) ; adam: m (n) then v (n) */
    size_t nstate;
    int64_t step;    /* completed steps */
} nn_optim;

const char *nn_opt_name(nn_opt_kind k);
int nn_opt_parse(const char *s, nn_opt_kind *k);
/* Fills torch's defaults for the kind (lr 1e-3 adam / 1e-2 sgd, betas, eps). */
void nn_opt_defaults(nn_opt_config *c, nn_opt_kind k);

int nn_optim_create(nn_optim *o, const nn_opt_config *cfg, size_t n);
void nn_optim_free(nn_optim *o);
/* One update of params (n) from grads (n). */
void nn_optim_step(nn_optim *o, float *params, const float *grads);

#endif
