/* Preemption signal handling (src/worker/util.c): SIGTERM and SIGUSR1 only set the stop flag
 * (training then checkpoints at the next step boundary); a second SIGTERM exits at once with
 * status 143. Each case runs in a forked child so a real exit can be observed. */
#include "util.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

static int run_child(void (*body)(void))
{
    pid_t p = fork();
    if (p == 0) {
        body();
        _exit(0);
    }
    int status = 0;
    waitpid(p, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

static void first_term(void)
{
    nt_install_signal_handlers();
    raise(SIGTERM);
    _exit(nt_stop_signal == SIGTERM ? 7 : 8); /* still alive, flag set */
}

static void second_term(void)
{
    nt_install_signal_handlers();
    raise(SIGTERM);
    raise(SIGTERM); /* must not return */
    _exit(9);
}

static void usr1_twice(void)
{
    nt_install_signal_handlers();
    raise(SIGUSR1);
    raise(SIGUSR1); /* SIGUSR1 (Slurm's --signal) only asks for a checkpoint, never kills */
    _exit(nt_stop_signal == SIGUSR1 ? 7 : 8);
}

static void test_first_sigterm_sets_flag(void **s) { (void)s; assert_int_equal(run_child(first_term), 7); }
static void test_second_sigterm_exits(void **s) { (void)s; assert_int_equal(run_child(second_term), 143); }
static void test_sigusr1_sets_flag(void **s) { (void)s; assert_int_equal(run_child(usr1_twice), 7); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_sigterm_sets_flag),
        cmocka_unit_test(test_second_sigterm_exits),
        cmocka_unit_test(test_sigusr1_sets_flag),
    };
    return cmocka_run_group_tests_name("signals", tests, NULL, NULL);
}
