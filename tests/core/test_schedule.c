/* Unit tests for src/core/schedule.c: the closed-form learning-rate schedules against torch
 * 1.13's recursive (chainable) forms stepped once per unit, a few values by hand, and the
 * names. Expected values are computed here, never by calling the code under test. */
#include "core_testutil.h"

#include "schedule.h"

#define REF_PI 3.14159265358979323846264338327950288

static void check_close(const char *what, double got, double want, double rtol, double atol)
{
    if (!(fabs(got - want) <= rtol * fabs(want) + atol))
        fail_msg("%s: got %.17g want %.17g", what, got, want);
}

/* The lr torch would use in unit u, by stepping its *chainable* (recursive) forms once per unit:
 * SequentialLR([LinearLR(start, total_iters=W), main], milestones=[W]); at the milestone
 * SequentialLR calls main.step(0), which gives the base lr. Every kind, with and without
 * warm-up, 40 units (past one cosine half-period and several steps). */
static void test_schedules_vs_torch_recursive(void **state)
{
    (void)state;
    const double base = 0.1, start = 0.25, eta_min = 0.001;
    const int W = 5, T = 25, step_size = 7;
    for (int kind = 0; kind < NN_SCHED_COUNT; kind++)
        for (int warm = 0; warm < 2; warm++) {
            nn_schedule sc = {(nn_sched_kind)kind, step_size,
                              kind == NN_SCHED_STEP ? 0.5 : kind == NN_SCHED_EXPONENTIAL ? 0.9 : 0,
                              T, eta_min, warm ? W : 0, start};
            const double gamma = sc.gamma;
            double lr = base;
            for (int u = 0; u < 40; u++) {
                if (warm && u < W) { /* LinearLR, end_factor 1 */
                    if (u == 0) lr = base * start;
                    else lr *= 1 + (1 - start) / (W * start + (u - 1) * (1 - start));
                } else {
                    int e = warm ? u - W : u;
                    if (e == 0) lr = base;
                    else if (kind == NN_SCHED_STEP) { if (e % step_size == 0) lr *= gamma; }
                    else if (kind == NN_SCHED_EXPONENTIAL) lr *= gamma;
                    else if (kind == NN_SCHED_COSINE) {
                        if ((e - 1 - T) % (2 * T) == 0)
                            lr += (base - eta_min) * (1 - cos(REF_PI / T)) / 2;
                        else
                            lr = (1 + cos(REF_PI * e / T)) / (1 + cos(REF_PI * (e - 1) / T)) *
                                     (lr - eta_min) + eta_min;
                    }
                }
                double got = nn_schedule_lr(&sc, base, u);
                if (!(fabs(got - lr) <= 1e-10 * lr))
                    fail_msg("%s warmup=%d u=%d: got %.17g want %.17g", nn_sched_name(sc.kind),
                             warm ? W : 0, u, got, lr);
            }
        }
}

/* A few values worked out by hand: step boundaries, the warm-up ramp and the milestone, the
 * cosine minimum and its return to base, exponential decay. */
static void test_schedule_values_by_hand(void **state)
{
    (void)state;
    nn_schedule st = {NN_SCHED_STEP, 7, 0.5, 0, 0, 0, 1};
    check_close("step u=6", nn_schedule_lr(&st, 0.1, 6), 0.1, 1e-15, 0);
    check_close("step u=7", nn_schedule_lr(&st, 0.1, 7), 0.05, 1e-15, 0);
    check_close("step u=39", nn_schedule_lr(&st, 0.1, 39), 0.003125, 1e-15, 0);
    st.warmup = 5; st.warmup_start_factor = 0.25;
    check_close("warm step u=0", nn_schedule_lr(&st, 0.1, 0), 0.025, 1e-15, 0);
    check_close("warm step u=1", nn_schedule_lr(&st, 0.1, 1), 0.04, 1e-15, 0);
    check_close("warm step u=4", nn_schedule_lr(&st, 0.1, 4), 0.085, 1e-15, 0);
    check_close("warm step u=5", nn_schedule_lr(&st, 0.1, 5), 0.1, 1e-15, 0);
    check_close("warm step u=11", nn_schedule_lr(&st, 0.1, 11), 0.1, 1e-15, 0);
    check_close("warm step u=12", nn_schedule_lr(&st, 0.1, 12), 0.05, 1e-15, 0);
    nn_schedule co = {NN_SCHED_COSINE, 0, 0, 25, 0.001, 0, 1};
    check_close("cosine u=25", nn_schedule_lr(&co, 0.1, 25), 0.001, 1e-12, 0);
    check_close("cosine u=50", nn_schedule_lr(&co, 0.1, 50), 0.1, 1e-12, 0);
    check_close("cosine u=10", nn_schedule_lr(&co, 0.1, 10),
                0.001 + 0.099 * (1 + 0.30901699437494742410) / 2, 1e-12, 0);
    nn_schedule ex = {NN_SCHED_EXPONENTIAL, 0, 0.9, 0, 0, 0, 1};
    check_close("exp u=10", nn_schedule_lr(&ex, 0.1, 10), 0.1 * 0.3486784401, 1e-12, 0);
}

/* Names round-trip through nn_sched_parse / nn_sched_name; unknown names are refused. */
static void test_schedule_names(void **state)
{
    (void)state;
    const char *nm[] = {"constant", "step", "exponential", "cosine"};
    for (int k = 0; k < NN_SCHED_COUNT; k++) {
        nn_sched_kind sk = NN_SCHED_COUNT;
        assert_int_equal(nn_sched_parse(nm[k], &sk), 0);
        assert_int_equal(sk, k);
        assert_string_equal(nn_sched_name((nn_sched_kind)k), nm[k]);
    }
    nn_sched_kind sk = NN_SCHED_STEP;
    assert_int_equal(nn_sched_parse("Cosine", &sk), -1);
    assert_int_equal(nn_sched_parse("", &sk), -1);
    assert_int_equal(sk, NN_SCHED_STEP);
    assert_string_equal(nn_sched_name(NN_SCHED_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedules_vs_torch_recursive),
        cmocka_unit_test(test_schedule_values_by_hand),
        cmocka_unit_test(test_schedule_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
