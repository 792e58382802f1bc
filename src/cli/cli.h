/* The one command-line helper of both tools (nntrain and nndata): getopt_long over a command's
 * option table with whole option names only, --help/-h and --version for free, positionals,
 * and one format for every usage error ("unknown option '--x' for CMD (try: TOOL CMD
 * --help)"); plus the strict number parsers every command and the config reader use.
 * No MPI, no HDF5: nn_cli is linked by nn_worker and nn_nndata alike. */
#ifndef NN_CLI_H
#define NN_CLI_H
#include "err.h" /* nt_err, nt_fail, NT_EXIT_* */
#include <getopt.h>
#include <stdint.h>

/* An option whose value is only stored: --name VALUE / --name=VALUE (flag == 0), or a flag
 * without a value (flag == 1; *val becomes "" when given). *val is left alone when absent. */
typedef struct {
    const char *name;
    int flag;
    const char **val;
} nn_cli_val;

enum { NN_CLI_POS = 1 }; /* on_opt's val for a positional argument */

typedef struct {
    const char *tool;              /* "nntrain", "nndata": messages and --version */
    const char *cmd;               /* "train"; "" for the tool's top level */
    const char *usage;             /* printed by --help / -h */
    const char *shortopts;         /* the command's short options ("v", "o:"); -h is added */
    const struct option *longopts; /* options handled by on_opt, ending with {0}; may be NULL */
    const nn_cli_val *vals;        /* options stored into pointers, ending with {NULL}; may be
                                    * NULL. --help and --version are added to both. */
    /* Called for each longopts/shortopts option (its val) with its value (NULL if none), and for
     * each positional with val NN_CLI_POS when pos is NULL. Returns 0, or fills e and returns
     * -1 (a usage error). */
    int (*on_opt)(void *user, int val, const char *arg, nt_err *e);
    void *user;
    /* Positionals: at most maxpos (-1: any number) are accepted; the next one is an
     * "unexpected argument". With pos they are stored there (npos counts them), else given
     * to on_opt. Arguments after "--" are positionals. */
    int maxpos;
    const char **pos;
    int npos;
    /* "-3" or "-.5" is a positional, not an option (so a negative N gets its own message). */
    int numbers_are_positional;
} nn_cli;

enum { NN_CLI_DONE = -1 }; /* --help or --version was printed: exit 0 */

/* Parses argv[1..argc-1] (argv[0] is the command) in order. Returns 0 to run the command,
 * NN_CLI_DONE after printing the usage (--help anywhere wins over errors) or the version, or
 * NT_EXIT_USAGE with the first usage error in e (NT_EXIT_RUNTIME: out of memory). Prints
 * nothing else. */
int nn_cli_parse(nn_cli *cli, int argc, char **argv, nt_err *e);

/* Fill e with "WHAT for CMD (try: TOOL CMD --help)" ("WHAT (try: TOOL --help)" at the top
 * level), the form of every usage message; returns -1. */
int nn_cli_fail(const nn_cli *cli, nt_err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The exit status for nn_cli_parse's result rc: 0 for NN_CLI_DONE, else rc after printing
 * "TOOL: error: <e>" to stderr. For commands that stop right away (not MPI ones, whose ranks
 * agree on failure first). */
int nn_cli_exit(const nn_cli *cli, int rc, const nt_err *e);

/* Strict number parsing: the whole string is the number, with no white space anywhere.
 * Each returns 0, or -1 (then *out is unchanged). */
int nn_parse_long(const char *s, long *out);      /* optional sign, base 10, fits a long */
int nn_parse_u64(const char *s, uint64_t *out);   /* decimal digits only: no sign */
int nn_parse_double(const char *s, double *out);  /* strtod syntax, finite, no overflow */
int nn_parse_count(const char *s, long long max, long long *out); /* digits, in [1, max] */
int nn_all_digits(const char *s); /* non-empty, decimal digits only (no sign, no spaces) */

/* s without its leading and trailing blanks (spaces, tabs): trailing ones are cut in place. */
char *nn_trim(char *s);

#endif
