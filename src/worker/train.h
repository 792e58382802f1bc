/* The data-parallel training run: validation of inputs (all ranks agree), sharded data
 * reading, forward/backward, bucketed gradient allreduce, identical optimizer steps,
 * per-epoch validation/test evaluation, metrics.csv and model.h5. */
#ifndef NT_TRAIN_H
#define NT_TRAIN_H
#include "comm.h"
#include "config.h"
#include "history.h"
#include "log.h"
#include "model.h"
#include "optim.h"

typedef struct {
    int overwrite;     /* allow replacing metrics.csv / model.h5 of an earlier run */
    int quiet;         /* no banner or per-epoch console lines (tests) */
    int verbose;       /* placement of every rank, per-epoch timing */
    int json;          /* --log-format json: one JSON object per line on stdout */
    int progress;      /* live progress bar: 1 on, 0 off, -1 auto (a terminal; see log.c) */
    int resume;        /* --resume: continue from the newest checkpoint (error if none) */
    const char *init_from; /* start from the /model weights of this file */
} nt_train_opts;

typedef struct {
    float *params;     /* malloc'd copy of the final parameters (caller frees) */
    size_t nparams;
    nt_hrow last;      /* the last epoch's results (history.h) */
    int has_test;
    int stopped;       /* preempted: a checkpoint was written, training is unfinished */
} nt_result;

/* Collective. Returns 0 or an NT_EXIT_* code (the same on every rank); on failure exactly
 * one rank has printed "nntrain: error: ...". res may be NULL. */
int nt_train(const nt_config *cfg, comm_t *c, const nt_train_opts *o, nt_result *res);

/* The optimizer the configuration describes for model m (weight-decay segments without the
 * biases when [optimizer] decay_biases = false). Returns 0 or -1 (out of memory). */
int nt_make_optimizer(nn_optim *o, const nt_config *cfg, const nn_model *m);
/* The same for the parameters [lo, hi) only (ZeRO-1's slice: state for it alone). */
int nt_make_optimizer_slice(nn_optim *o, const nt_config *cfg, const nn_model *m, size_t lo,
                            size_t hi);

/* Collective: open a dataset and check it against the model and loss (width D, K outputs,
 * labels vs regression targets, label range). Returns the agreed status; on failure the file
 * is closed and one rank has printed the reason. */
struct nt_data_s;
int nt_open_dataset(struct nt_data_s *ds, const char *path, int D, int K, const nn_loss *L,
                    comm_t *c, nt_err *e);

/* BLAS threads for this rank: cfg threads if > 0, else $OPENBLAS_NUM_THREADS if set, else
 * $SLURM_CPUS_PER_TASK if set, else max(1, cores_per_node / ranks_per_node); the last two never
 * more than the CPUs this rank may run on. */
int nt_blas_threads(int cfg_threads, const comm_t *c);

#endif
