/* nndata's commands, one entry point each: main (nndata.c) dispatches argv[1] to them. Each
 * takes nndata's argc/argv (argv[1] is the command) and returns the exit status (usage.h):
 * NT_EXIT_OK, NT_EXIT_INPUT (bad input; check: the file has a problem), NT_EXIT_RUNTIME (a
 * write error or out of memory) or NT_EXIT_USAGE. Errors are one line
 * "nndata: error: <file or arg>: <what>" on stderr (usage.h). */
#ifndef NN_COMMANDS_H
#define NN_COMMANDS_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

int cmd_import_idx(int argc, char **argv);     /* cmd_import.c */
int cmd_import_csv(int argc, char **argv);
int cmd_import_npy(int argc, char **argv);
int cmd_make_moons(int argc, char **argv);     /* cmd_make.c */
int cmd_make_circles(int argc, char **argv);
int cmd_make_regression(int argc, char **argv);
int cmd_make_blobs(int argc, char **argv);
int cmd_make_spirals(int argc, char **argv);
int cmd_make_xor(int argc, char **argv);
int cmd_split(int argc, char **argv);          /* split.c */
int cmd_info(int argc, char **argv);           /* info.c */
int cmd_check(int argc, char **argv);          /* check.c */
/* nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]: write (or remove) the /X
 * attributes mean and std in place; the data is not modified (standardize.c). */
int cmd_standardize(int argc, char **argv);

/* Validate PATH for nntrain: the layout (layout.h), then every label and value. Returns 0
 * with a summary "(N x D, ...)" in summary, or with the first problem in e
 * ("f.h5: /X[17, 3] is nan") NT_EXIT_INPUT (NT_EXIT_RUNTIME: out of memory). With
 * check_norm == 0 the mean / std attributes are not looked at (split --standardize replaces
 * them). */
int nd_check(const char *path, int check_norm, char *summary, size_t len, nt_err *e);

/* Split IN into nparts (2 or 3) files PREFIX-train.h5, PREFIX-val.h5[, PREFIX-test.h5] by a
 * permutation drawn from seed: part p gets floor(N * frac[p]) rows, part 0 also the
 * remainder; rows keep their input order within a part; sizes (may be NULL) receives the
 * part sizes. The parts keep the input's /X attributes scale, mean and std; with standardize,
 * mean and std are instead computed from the train part's rows (scaled) and written to every
 * part. The input must pass nd_check (except for mean / std with standardize). Returns 0,
 * or with e (parts already written are removed) NT_EXIT_INPUT (a bad input, or fractions that
 * leave a part empty) or NT_EXIT_RUNTIME (a part cannot be written, out of memory). */
int nd_split(const char *in, const char *prefix, const double *frac, int nparts, uint64_t seed,
             int standardize, int64_t *sizes, nt_err *e);

#endif
