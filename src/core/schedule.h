/* Learning-rate schedules as closed forms of torch.optim.lr_scheduler, evaluated at a unit
 * counter u = 0, 1, ... (epochs or steps): constant, StepLR, ExponentialLR,
 * CosineAnnealingLR, each optionally preceded by LinearLR warm-up as
 * SequentialLR([LinearLR(start_factor, total_iters=W), main], milestones=[W]) does. Pure
 * functions of u, so resuming needs no scheduler state. */
#ifndef NN_SCHEDULE_H
#define NN_SCHEDULE_H
#include <stdint.h>

typedef enum { NN_SCHED_CONSTANT = 0, NN_SCHED_STEP, NN_SCHED_EXPONENTIAL, NN_SCHED_COSINE,
               NN_SCHED_COUNT } nn_sched_kind;

typedef struct {
    nn_sched_kind kind;
    int64_t step_size;   /* step */
    double gamma;        /* step, exponential */
    double t_max;        /* cosine */
    double eta_min;      /* cosine */
    int64_t warmup;      /* units of linear warm-up (0 = none) */
    double warmup_start_factor;
} nn_schedule;

const char *nn_sched_name(nn_sched_kind k);
int nn_sched_parse(const char *s, nn_sched_kind *k);
/* The learning rate in effect during unit u for base learning rate base. */
double nn_schedule_lr(const nn_schedule *s, double base, int64_t u);

#endif
