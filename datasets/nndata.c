/* nndata: build and inspect datasets in the nntrain HDF5 layout (datasets/h5data.h). This file
 * only dispatches the command in argv[1] to its entry point (commands.h); the commands live in
 * the nn_nndata library so that the tests link the same code. */
#include <string.h>

#include "cli.h"
#include "usage.h"
#include "commands.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
} commands[] = {
    {"import-idx", cmd_import_idx},     {"import-csv", cmd_import_csv},
    {"import-npy", cmd_import_npy},     {"make-moons", cmd_make_moons},
    {"make-circles", cmd_make_circles}, {"make-regression", cmd_make_regression},
    {"make-blobs", cmd_make_blobs},     {"make-spirals", cmd_make_spirals},
    {"make-xor", cmd_make_xor},         {"split", cmd_split},
    {"info", cmd_info},                 {"check", cmd_check},
    {"standardize", cmd_standardize},
};

/* Without a known command: --help, --version, or a usage error. */
static int top_opt(void *user, int val, const char *arg, nt_err *e)
{
    return nt_fail(e, "unknown command '%s' (try: nndata --help)", arg);
}

int main(int argc, char **argv)
{
    for (size_t i = 0; argc >= 2 && i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc, argv);
    nn_cli top = {.tool = "nndata", .cmd = "", .usage = nd_usage_text, .on_opt = top_opt,
                  .maxpos = -1};
    nt_err e = {{0}};
    int rc = nn_cli_parse(&top, argc, argv, &e);
    if (!rc) rc = NT_EXIT_USAGE, nt_fail(&e, "no command given (try: nndata --help)");
    return nn_cli_exit(&top, rc, &e);
}
