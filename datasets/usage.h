/* The nndata command layer's shared pieces: the --help text and the one printer of
 * "nndata: error: ..." lines. The commands parse their arguments with the helper both tools
 * share (src/cli/cli.h: nn_cli_parse, whose usage errors nn_cli_exit prints, and the strict
 * number parsers nn_parse_*).
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
#ifndef ND_USAGE_H
#define ND_USAGE_H
#include <stdint.h>

#include "err.h"

/* nndata --help (also printed by the commands that have no usage line of their own). */
extern const char nd_usage_text[];

/* Print "nndata: error: WHAT: MESSAGE" (WHAT may be NULL) and return code: the one printer. */
int nd_fail(int code, const char *what, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Print "nndata: error: " and e's message; return code. */
int nd_report(int code, const nt_err *e);

/* nndata's arguments after the command name: argv as given to the command (argv[1] is the
 * command), parsed by nn_cli_parse with the tool named "nndata". */
#define ND_MAXPOS 4

/* Number of classes K = max label + 1 (labels are 0..K-1 by the layout's convention). */
int nd_count_classes(const int32_t *y, int64_t n);

#endif
