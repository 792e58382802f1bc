/* Closed-form learning-rate schedules (see schedule.h). */
#include "schedule.h"
#include <math.h>
#include <string.h>

static const char *names[NN_SCHED_COUNT] = {"constant", "step", "exponential", "cosine"};

const char *nn_sched_name(nn_sched_kind k) { return (unsigned)k < NN_SCHED_COUNT ? names[k] : "?"; }

int nn_sched_parse(const char *s, nn_sched_kind *k)
{
    for (int i = 0; i < NN_SCHED_COUNT; i++)
        if (strcmp(s, names[i]) == 0) { *k = (nn_sched_kind)i; return 0; }
    return -1;
}

double nn_schedule_lr(const nn_schedule *s, double base, int64_t u)
{
    if (s->warmup > 0 && u < s->warmup) /* LinearLR: start + (1 - start) u / W */
        return base * (s->warmup_start_factor +
                       (1 - s->warmup_start_factor) * (double)u / (double)s->warmup);
    if (s->warmup > 0) u -= s->warmup; /* the main schedule starts at the milestone */
    switch (s->kind) {
    case NN_SCHED_STEP: return base * pow(s->gamma, (double)(u / s->step_size));
    case NN_SCHED_EXPONENTIAL: return base * pow(s->gamma, (double)u);
    case NN_SCHED_COSINE:
        return s->eta_min + (base - s->eta_min) * (1 + cos(M_PI * (double)u / s->t_max)) / 2;
    default: return base;
    }
}
