/* The run configuration: an INI file (parsed by libinih) plus --set overrides. Every key has
 * a table entry (name, default, parser); unknown sections/keys, duplicates and malformed
 * values are errors naming the file, [section] key and value. */
#ifndef NT_CONFIG_H
#define NT_CONFIG_H
#include "kernels.h"
#include "optim.h"
#include "util.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define NT_MAX_LAYERS 64

typedef struct {
    char path[PATH_MAX];          /* the config file */
    /* [data] */
    char train[PATH_MAX], test[PATH_MAX];
    double val_fraction;
    double cache_mb;              /* bound on rows a rank holds per read window */
    /* [model] */
    int sizes[NT_MAX_LAYERS + 1]; /* layer widths, input first */
    int nsizes;
    nn_act activation;
    /* [optimizer] */
    nn_opt_config opt;
    int lr_set;
    /* [train] */
    int epochs;
    long batch_size;
    uint64_t seed;
    int threads;                  /* BLAS threads per rank; 0 = cores per node / ranks per node */
    double bucket_mb;             /* allreduce bucket size */
    /* [output] */
    char out_dir[PATH_MAX];
} nt_config;

/* Defaults, then the file, then each "section.key=value" override in order. */
int nt_config_load(nt_config *c, const char *path, char *const *sets, int nsets, nt_err *e);

/* Writes the effective configuration as INI text (for logs and, later, checkpoints). */
void nt_config_print(const nt_config *c, FILE *f);

#endif
