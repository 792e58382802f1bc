/* Checkpoints: one parallel-HDF5 file per checkpoint, written collectively (each rank writes
 * its slice of the flat arrays), to NAME.tmp and renamed when complete. Layout (extends
 * model.h5; documented in docs/checkpoints.md):
 *   /                  format_version, nntrain_version, kind = "checkpoint"
 *   /model/layer{i}/   weight (out, in), bias (out), activation   (as model.h5)
 *   /optimizer         attrs name, step, slots; dataset state (slots, nparams) float32
 *   /state             attrs epoch, step_in_epoch, global_step, steps_per_epoch, seed,
 *                      world_size, elapsed_s, schedule, schedule_unit, base_lr;
 *                      dataset partial (4) float64: this epoch's loss/metric sums so far
 *   /config            the effective configuration (INI text, string attribute "text")
 *   /metrics           (epochs done, NT_H_STORED = 13) float64, attribute columns: the
 *                      history's stored columns (history.h)
 * Because every random choice is a function of (seed, epoch, index), (epoch, step_in_epoch)
 * is all the data-order state there is, and it does not depend on the rank count. */
#ifndef NT_CKPT_H
#define NT_CKPT_H
#include "comm.h"
#include "config.h"
#include "history.h"
#include "model.h"
#include "modelio.h"
#include "optim.h"
#include "util.h"

#define NT_CKPT_FORMAT_VERSION 2

typedef struct {
    int64_t epoch;          /* the epoch in progress (1-based) */
    int64_t step_in_epoch;  /* optimizer steps of that epoch already done */
    int64_t global_step;    /* optimizer steps done in the whole run */
    int64_t steps_per_epoch;
    double partial[4];      /* sums over this epoch's done steps: loss, m0, m1, rows */
    double elapsed_s;
    int world_size;
    uint64_t seed;
} nt_ckpt_state;

/* Collective. Writes DIR/ckpt-<global_step>.h5 (via .tmp) and, on rank 0, removes all but
 * the newest `keep` complete checkpoints. The history's rows are written (rank 0's values).
 * *written gets the path. Returns the agreed status. */
int nt_ckpt_save(const char *dir, int keep, const nn_model *m, const nn_optim *o,
                 const nt_input_norm *norm, const nt_ckpt_state *s, const nt_config *cfg,
                 const nt_history *h, comm_t *c, char *written, size_t wlen, nt_err *e);

/* model.h5 (nt_model_save's layout) written the way checkpoints are: refused when the file
 * system has no room, space reserved, every rank leaving a failed write together with one
 * line ("PATH: model not written: No space left on device ..."), .tmp removed, fsynced.
 * Collective; returns the agreed status. */
int nt_model_save_safe(const nn_model *m, const char *loss, const nt_input_norm *norm,
                       const char *path, int epoch, comm_t *c, nt_err *e);

/* Rank 0 looks for the newest complete checkpoint (highest step) in dir; the name is
 * broadcast. Returns 1 and fills path when found, 0 when there is none, -1 (path empty) when
 * the broadcast failed. Collective. */
int nt_ckpt_find(const char *dir, comm_t *c, char *path, size_t n);

/* The same for the newest checkpoint with a step below `before`. Collective. */
int nt_ckpt_find_before(const char *dir, comm_t *c, long long before, char *path, size_t n);
/* The step in a path's name ckpt-<step>.h5, or -1. */
long long nt_ckpt_step_of(const char *path);

/* Rank-local helpers: the newest checkpoint in dir (returns 0 when none); remove all. */
int nt_ckpt_find_local(const char *dir, char *path, size_t n);
void nt_ckpt_remove_all(const char *dir);

/* Collective. Reads a checkpoint into m (shapes must match), o (same optimizer and slots),
 * s, and the history h (at most h->cap rows). Errors name the file and what does not match.
 * Returns the agreed status. */
int nt_ckpt_load(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s, nt_history *h,
                 comm_t *c, nt_err *e);
/* The same without printing the error: on failure every rank's e holds the first failing
 * rank's message (for trying an older checkpoint). Checkpoints of format 2 on carry a CRC-32 of
 * every array (attribute crc32 of each dataset), verified here: a damaged file fails. */
int nt_ckpt_load_quiet(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s,
                       nt_history *h, comm_t *c, nt_err *e);

#endif
