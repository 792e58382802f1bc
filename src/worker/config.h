/* The run configuration: an INI file (parsed by libinih) plus --set overrides. Every key has
 * a table entry (name, default, parser); unknown sections/keys, duplicates and malformed
 * values are errors naming the file, [section] key and value. */
#ifndef NT_CONFIG_H
#define NT_CONFIG_H
#include "kernels.h"
#include "model.h"
#include "optim.h"
#include "schedule.h"
#include "util.h"
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#define NT_MAX_LAYERS 64

/* [data] permutation: auto = a table up to NT_PERM_TABLE_MAX rows, else Feistel (O(1)). */
enum { NT_PERM_AUTO = 0, NT_PERM_TABLE = 1, NT_PERM_FEISTEL = 2 };
/* [train] overlap: auto = on when the ranks span several nodes. */
enum { NT_OVERLAP_AUTO = 0, NT_OVERLAP_ON = 1, NT_OVERLAP_OFF = 2 };
/* [train] early_stopping_metric */
enum { NT_ES_VAL_LOSS = 0, NT_ES_VAL_ACC = 1, NT_ES_VAL_RMSE = 2 };
/* [train] exchange: auto = zero1 on several ranks unless the allreduce overlaps backward
 * (across nodes), allreduce on one rank. */
enum { NT_EXCHANGE_ALLREDUCE = 0, NT_EXCHANGE_ZERO1 = 1, NT_EXCHANGE_AUTO = 2 };
#define NT_PERM_TABLE_MAX ((int64_t)1 << 24)

typedef struct {
    char path[PATH_MAX];          /* the config file */
    char overrides[8192];         /* the --set arguments, shell-quoted: " --set 'a.b=c'"... */
    int overrides_cut;            /* they did not all fit in overrides */
    /* [data] */
    char train[PATH_MAX], test[PATH_MAX];
    double val_fraction;
    double cache_mb;              /* bound on rows a rank holds per read window */
    int collective_reads;         /* collective (two-phase) MPI-IO row reads */
    int perm_mode;                /* NT_PERM_*: how the sample order is held */
    /* [model] */
    int sizes[NT_MAX_LAYERS + 1]; /* layer widths, input first */
    int nsizes;
    nn_act activation;            /* hidden-layer shorthand */
    nn_act acts[NT_MAX_LAYERS];   /* per dense layer (filled from activation if not given) */
    int nacts;                    /* entries given in `activations` (0 = not given) */
    double leaky_slope, elu_alpha;
    nn_init_kind init;
    double init_std;
    int bias;
    double dropout[NT_MAX_LAYERS];/* per hidden layer */
    int ndropout;                 /* entries given (1 = same for all hidden layers) */
    /* [loss] */
    nn_loss loss;
    /* [optimizer] */
    nn_opt_config opt;
    int decay_biases;
    double clip_grad_norm;        /* 0 = off */
    /* [schedule] */
    nn_schedule sched;
    int sched_per_step;           /* unit = step (else epoch) */
    /* [train] */
    int epochs;
    long batch_size;
    uint64_t seed;
    int threads;                  /* BLAS threads per rank; 0 = cores per node / ranks per node */
    int overlap;                  /* NT_OVERLAP_*: allreduce during backward */
    double bucket_mb;             /* allreduce bucket size */
    double piece_mflop;           /* backward GEMM pieces between progress calls */
    int exchange;                 /* NT_EXCHANGE_*: allreduce or ZeRO-1 */
    int deterministic;            /* bit-identical results for any rank/thread count */
    int det_chunk;                /* rows per fixed chunk in deterministic mode */
    int accumulate;               /* micro-batches per rank per optimizer step */
    int es_patience;              /* early stopping: epochs without improvement; 0 = off */
    int es_metric;                /* NT_ES_* */
    double es_min_delta;          /* improvement must exceed this */
    int flush_denormals;          /* FTZ/DAZ on the training thread */
    double timeout;               /* watchdog: seconds without progress; 0 = off */
    /* [output] */
    char out_dir[PATH_MAX];
    /* [checkpoint] */
    char ckpt_dir[PATH_MAX];      /* "" = <output.dir>/checkpoints */
    long ckpt_every_steps;        /* 0 = off */
    long ckpt_every_epochs;       /* 0 = off */
    int ckpt_keep;
    int resume_auto;              /* resume = auto */
} nt_config;

/* Parse an INI string (sections and keys as in a file) into c, after defaults; origin names
 * it in messages. Used for fixtures and by nt_config_load. */
int nt_config_parse_string(nt_config *c, const char *text, const char *origin, nt_err *e);

/* The nn_model_spec the configuration describes (pointers into c). */
nn_model_spec nt_config_model_spec(const nt_config *c, int max_batch, size_t nextra);

/* Defaults, then the file, then each "section.key=value" override in order. */
int nt_config_load(nt_config *c, const char *path, char *const *sets, int nsets, nt_err *e);

/* Writes the effective configuration as INI text (a checkpoint's /config), generated from the
 * key table: every key whose setting matters for c, in table order; parsing the text gives
 * back the same configuration (tests/worker/test_config.c checks every key). */
void nt_config_print(const nt_config *c, FILE *f);

/* One entry of the key table, read-only (tests and the docs generator iterate over it). */
typedef struct {
    const char *section, *key;
    size_t offset, size;    /* the nt_config field the key sets */
    int kind;               /* config.c's value kind (parser and printer) */
    unsigned only;          /* applies only when the section's `name` is one of these (bit
                             * 1 << kind of optimizer, loss or schedule); 0 = always */
    int when;               /* config.c's extra condition for printing it */
    const char *printed_as; /* NULL, or the key that records its effect in /config
                             * (activation, a shorthand, is printed as activations) */
    const char *def, *doc;  /* README and man page: default and meaning (markdown) */
} nt_config_key;

/* The key table, in the order of the README, the man page and /config. */
const nt_config_key *nt_config_keys(size_t *n);

/* The key reference, generated from the table: a markdown table (README "Configuration") or
 * man-page entries (nntrain.1 CONFIGURATION). */
enum { NT_DOC_MARKDOWN = 0, NT_DOC_MAN = 1 };
void nt_config_doc(FILE *f, int format);

/* Replaces the lines between the BEGIN config-keys and END config-keys marker lines of a
 * document (README.md, nntrain.1) with nt_config_doc's output; *out is malloc'ed. -1 when
 * the markers are missing. */
int nt_config_doc_splice(const char *text, int format, char **out, nt_err *e);

#endif
