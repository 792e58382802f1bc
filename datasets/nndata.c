/* nndata: build and inspect datasets in the nntrain HDF5 layout (datasets/h5data.h). This file
 * only dispatches the command in argv[1] to its entry point (commands.h); the commands live in
 * the nn_nndata library so that the tests link the same code. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

#ifndef NN_VERSION
#define NN_VERSION "unknown"
#endif

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

int main(int argc, char **argv)
{
    if (argc < 2) return nd_fail(NT_EXIT_USAGE, "COMMAND", "missing (try 'nndata --help')");
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(nd_usage_text, stdout);
        return NT_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("nndata %s\n", NN_VERSION);
        return NT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc, argv);
    return nd_fail(NT_EXIT_USAGE, cmd, "unknown command (try 'nndata --help')");
}
