/* The nndata command layer's shared pieces: the --help text, the one printer of
 * "nndata: error: ..." lines, getopt_long parsing for every command, and strict value parsing
 * (the whole string must be the value).
 *
 * Exit codes are err.h's table, as for nntrain: NT_EXIT_OK; NT_EXIT_RUNTIME for a failure
 * while writing (cannot create the output, disk full) or out of memory; NT_EXIT_USAGE for a bad
 * command line; NT_EXIT_INPUT for bad input, i.e. anything wrong with a file or value given to
 * be read (missing, unreadable or malformed input file, one that fails `nndata check`, a
 * --stats-from file without statistics, fractions that leave a part empty).
 *
 * How a command knows which it was: every function in datasets/ that reports a failure through
 * an nt_err returns 0 or the exit status for it (NT_EXIT_INPUT or NT_EXIT_RUNTIME), never a
 * bare -1: the readers (idx.h, import.h, layout.h, h5in.h, nd_check, xstats_finish) return
 * NT_EXIT_INPUT except for out of memory, the writers (h5data.h, standardize's in-place write)
 * NT_EXIT_RUNTIME, and the commands pass the value on to nd_report. Only static helpers with
 * one kind of failure, and functions without an nt_err (h5in_read_block, xstats_init), return
 * -1; their callers choose the code. */
#ifndef NN_CLI_H
#define NN_CLI_H
#include <stdint.h>

#include "err.h"

/* nndata --help (also printed by the commands that have no usage line of their own). */
extern const char nd_usage_text[];

/* Print "nndata: error: WHAT: MESSAGE" (WHAT may be NULL) and return code: the one printer. */
int nd_fail(int code, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print "nndata: error: " and e's message; return code. */
int nd_report(int code, const nt_err *e);

/* One option of a command: --name VALUE / --name=VALUE (flag == 0), or a flag without a value
 * (flag == 1; *val becomes "" when given). *val stays as it was when the option is absent. */
struct nd_opt {
    const char *name;
    int flag;
    const char **val;
};

#define ND_MAXPOS 4

/* Parse argv[2..] of command `cmd` with getopt_long: options listed in opts (terminated by a
 * NULL name, exact names only), --help / -h (print `help`, return 0), "--" ends the options;
 * at most maxpos positionals into pos (*npos of them). With numbers_are_positional, "-3" or
 * "-.5" is a positional (so a negative N gets its own message), not an option. Returns -1 to
 * go on, or the exit code after --help or a usage error (one line printed). */
int nd_parse_args(int argc, char **argv, const char *cmd, const struct nd_opt *opts,
                  int numbers_are_positional, const char *help, const char **pos, int maxpos,
                  int *npos);

/* Decimal digits only (no sign, no spaces): strtoull alone would accept " 7" and "-1". */
int nd_all_digits(const char *s);
/* An integer in [1, max]; returns 0 or -1. */
int nd_parse_count(const char *s, long long max, long long *out);
int nd_parse_u64(const char *s, uint64_t *out);
/* A finite number; no leading white space. */
int nd_parse_double(const char *s, double *out);
/* Number of classes K = max label + 1 (labels are 0..K-1 by the layout's convention). */
int nd_count_classes(const int32_t *y, int64_t n);

#endif
