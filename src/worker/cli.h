/* The command-line helper of every nntrain command: getopt_long over the command's option
 * table, --help/-h and --version for free, and one "unknown option '--x' for train (try:
 * nntrain train --help)" message (exit 2, NT_EXIT_USAGE) instead of getopt's own output. */
#ifndef NT_CLI_H
#define NT_CLI_H
#include "err.h"
#include <getopt.h>

typedef struct {
    const char *cmd;             /* "train": named in messages */
    const char *usage;           /* printed by --help */
    const char *shortopts;       /* short options of the command ("v", "o:"); -h is added */
    const struct option *longopts; /* the command's options, ending with {0}; --help and
                                    * --version are added */
    /* Called for each option (its val) with its value (NULL if none), and, when positional is
     * set, for each positional argument with val 1. Returns 0, or fills e and returns -1 (a
     * usage error). */
    int (*on_opt)(void *user, int val, const char *arg, nt_err *e);
    void *user;
    int positional; /* 0: a positional argument is an error ("unexpected argument 'x'") */
} nt_cli;

enum { NT_CLI_DONE = -1 }; /* --help or --version was printed: exit 0 */

/* Parses argv[1..argc-1] (argv[0] is the command) in order. Returns 0 to run the command,
 * NT_CLI_DONE after printing the usage (--help anywhere wins over errors, as it always did)
 * or the version, or NT_EXIT_USAGE with the first error in e. Prints nothing else. */
int nt_cli_parse(const nt_cli *cli, int argc, char **argv, nt_err *e);

/* "... for CMD (try: nntrain CMD --help)": the tail of every usage message of a command. */
int nt_cli_fail(const nt_cli *cli, nt_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
