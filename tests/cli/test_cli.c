/* Tests of src/cli/cli.c: nn_cli_parse (options by callback and by pointer, positionals,
 * "-3" as a positional, whole names only, --help/--version, the first error kept, the message
 * format of both tools) and the strict number parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { O_FLAG = 0x100, O_NAME };

typedef struct { int flag; const char *name, *pos[4]; int npos; } got;

static int on_opt(void *user, int val, const char *arg, nt_err *e)
{
    got *g = user;
    if (val == O_FLAG) g->flag++;
    else if (val == O_NAME) g->name = arg;
    else if (val == NN_CLI_POS && g->npos < 4) g->pos[g->npos++] = arg;
    else if (val == 'v') g->flag += 10;
    if (arg && !strcmp(arg, "bad")) return nt_fail(e, "--name 'bad' is bad");
    return 0;
}

static const struct option longopts[] = {{"flag", no_argument, NULL, O_FLAG},
                                         {"name", required_argument, NULL, O_NAME}, {0}};

/* Parse argv (NULL-terminated, argv[0] the command) as tool "tl", command "cmd". */
static int run(nn_cli *cli, const char **args, nt_err *e)
{
    char *argv[16];
    int argc = 0;
    while (args[argc]) argv[argc] = (char *)args[argc], argc++;
    argv[argc] = NULL;
    memset(e, 0, sizeof *e);
    return nn_cli_parse(cli, argc, argv, e);
}

#define ARGS(...) ((const char *[]){"cmd", __VA_ARGS__, NULL})
#define TRY " for cmd (try: tl cmd --help)"

static void test_callback(void **state)
{
    got g = {0};
    nn_cli cli = {.tool = "tl", .cmd = "cmd", .usage = "u\n", .shortopts = "v",
                  .longopts = longopts, .on_opt = on_opt, .user = &g, .maxpos = -1};
    nt_err e;
    assert_int_equal(run(&cli, ARGS("--flag", "a", "--name=x", "-v", "b", "--", "--flag"), &e), 0);
    assert_int_equal(g.flag, 11);
    assert_string_equal(g.name, "x");
    assert_int_equal(g.npos, 3);
    assert_string_equal(g.pos[0], "a");
    assert_string_equal(g.pos[1], "b");
    assert_string_equal(g.pos[2], "--flag"); /* after "--" */
    assert_int_equal(cli.npos, 3);
}

static void expect_error(nn_cli *cli, const char **args, const char *msg)
{
    nt_err e;
    assert_int_equal(run(cli, args, &e), NT_EXIT_USAGE);
    assert_string_equal(e.msg, msg);
}

static void test_messages(void **state)
{
    got g = {0};
    nn_cli cli = {.tool = "tl", .cmd = "cmd", .usage = "u\n", .longopts = longopts,
                  .on_opt = on_opt, .user = &g};
    expect_error(&cli, ARGS("--bogus"), "unknown option '--bogus'" TRY);
    expect_error(&cli, ARGS("--fla"), "unknown option '--fla'" TRY); /* whole names only */
    expect_error(&cli, ARGS("--nam=x"), "unknown option '--nam=x'" TRY);
    expect_error(&cli, ARGS("-x"), "unknown option '-x'" TRY);
    expect_error(&cli, ARGS("--name"), "missing value after '--name'" TRY);
    expect_error(&cli, ARGS("--flag=1"), "option '--flag' takes no value" TRY);
    expect_error(&cli, ARGS("y"), "unexpected argument 'y'" TRY);
    expect_error(&cli, ARGS("-3"), "unknown option '-3'" TRY);
    expect_error(&cli, ARGS("--name", "bad", "--bogus"), "--name 'bad' is bad"); /* the first */
    nn_cli top = {.tool = "tl", .cmd = "", .usage = "u\n", .on_opt = on_opt, .user = &g};
    expect_error(&top, ARGS("--bogus"), "unknown option '--bogus' (try: tl --help)");
}

static void test_values_and_numbers(void **state)
{
    const char *name = NULL, *flag = NULL, *pos[2];
    const nn_cli_val vals[] = {{"name", 0, &name}, {"flag", 1, &flag}, {NULL, 0, NULL}};
    nn_cli cli = {.tool = "tl", .cmd = "cmd", .usage = "u\n", .vals = vals, .pos = pos,
                  .maxpos = 2, .numbers_are_positional = 1};
    nt_err e;
    assert_int_equal(run(&cli, ARGS("-3", "--name", "-0.5", "--flag", "-.5"), &e), 0);
    assert_string_equal(name, "-0.5");
    assert_string_equal(flag, "");
    assert_int_equal(cli.npos, 2);
    assert_string_equal(pos[0], "-3");
    assert_string_equal(pos[1], "-.5");
    expect_error(&cli, ARGS("1", "2", "-3"), "unexpected argument '-3'" TRY);
    expect_error(&cli, ARGS("-x"), "unknown option '-x'" TRY);
}

static void test_help_version(void **state)
{
    got g = {0};
    nn_cli cli = {.tool = "tl", .cmd = "cmd", .usage = "usage: tl cmd\n", .longopts = longopts,
                  .on_opt = on_opt, .user = &g};
    nt_err e;
    /* --help anywhere wins over an error; -h too; --help= is not --help */
    assert_int_equal(run(&cli, ARGS("--bogus", "--help"), &e), NN_CLI_DONE);
    assert_int_equal(run(&cli, ARGS("-h"), &e), NN_CLI_DONE);
    assert_int_equal(run(&cli, ARGS("--version"), &e), NN_CLI_DONE);
    expect_error(&cli, ARGS("--he"), "unknown option '--he'" TRY);
    expect_error(&cli, ARGS("--help=1"), "option '--help' takes no value" TRY);
    assert_int_equal(nn_cli_exit(&cli, NN_CLI_DONE, &e), 0);
}

static void test_numbers(void **state)
{
    long l = 7;
    assert_int_equal(nn_parse_long("-12", &l), 0);
    assert_int_equal(l, -12);
    assert_int_equal(nn_parse_long("+5", &l), 0);
    assert_int_equal(l, 5);
    const char *bad_long[] = {"", " 5", "5 ", "5x", "1.5", "0x10", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad_long / sizeof *bad_long; i++) {
        assert_int_equal(nn_parse_long(bad_long[i], &l), -1);
        assert_int_equal(l, 5);
    }
    uint64_t u = 3;
    assert_int_equal(nn_parse_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    const char *bad_u[] = {"", "-1", " -1", "+1", " 1", "1 ", "18446744073709551616", "1e3"};
    for (size_t i = 0; i < sizeof bad_u / sizeof *bad_u; i++)
        assert_int_equal(nn_parse_u64(bad_u[i], &u), -1);
    double d = 0;
    assert_int_equal(nn_parse_double("-1.5e-3", &d), 0);
    assert_true(d == -1.5e-3);
    const char *bad_d[] = {"", " 1", "1 ", "nan", "inf", "1e400", "1x", "x"};
    for (size_t i = 0; i < sizeof bad_d / sizeof *bad_d; i++)
        assert_int_equal(nn_parse_double(bad_d[i], &d), -1);
    long long c = 0;
    assert_int_equal(nn_parse_count("10", 10, &c), 0);
    assert_int_equal(c, 10);
    const char *bad_c[] = {"0", "11", "-1", "+1", " 1", "", "1.0"};
    for (size_t i = 0; i < sizeof bad_c / sizeof *bad_c; i++)
        assert_int_equal(nn_parse_count(bad_c[i], 10, &c), -1);
    assert_true(nn_all_digits("0123"));
    assert_false(nn_all_digits(""));
    assert_false(nn_all_digits("1 "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback), cmocka_unit_test(test_messages),
        cmocka_unit_test(test_values_and_numbers), cmocka_unit_test(test_help_version),
        cmocka_unit_test(test_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
