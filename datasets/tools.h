/* nndata commands beyond import / moons / circles / regression: the make-blobs, make-spirals
 * and make-xor generators, and the file tools split, info, check and standardize. Each *_main
 * takes nndata's argc/argv (argv[1] is the command) and returns the exit status: 0 success,
 * 1 input / write error (check: the file has a problem), 2 usage error. Errors are one line
 * "nndata: error: <file or arg>: <what>" on stderr. Files are read with the serial HDF5 API
 * (default driver), info, check and standardize in chunks of rows. */
#ifndef NN_TOOLS_H
#define NN_TOOLS_H
#include <stddef.h>
#include <stdint.h>

int tools_make_blobs_main(int argc, char **argv);
int tools_make_spirals_main(int argc, char **argv);
int tools_make_xor_main(int argc, char **argv);
int tools_split_main(int argc, char **argv);
int tools_info_main(int argc, char **argv);
int tools_check_main(int argc, char **argv);
/* nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]: write (or remove) the /X
 * attributes mean and std in place; the data is not modified. */
int tools_standardize_main(int argc, char **argv);

/* Split IN into nparts (2 or 3) files PREFIX-train.h5, PREFIX-val.h5[, PREFIX-test.h5] by a
 * permutation drawn from seed: part p gets floor(N * frac[p]) rows, part 0 also the
 * remainder; rows keep their input order within a part; sizes (may be NULL) receives the
 * part sizes. The parts keep the input's /X attributes scale, mean and std; with standardize,
 * mean and std are instead computed from the train part's rows (scaled) and written to every
 * part. The input must pass tools_check (except for mean / std with standardize). Returns 0,
 * or -1 with err (parts already written are removed). */
int tools_split(const char *in, const char *prefix, const double *frac, int nparts,
                uint64_t seed, int standardize, int64_t *sizes, char *err, size_t errlen);

/* Validate PATH for nntrain. Returns 0 with a summary "(N x D, ...)" in msg, 1 with the first
 * problem in msg ("f.h5: /X[17, 3] is nan"). */
int tools_check(const char *path, char *msg, size_t msglen);

#endif
