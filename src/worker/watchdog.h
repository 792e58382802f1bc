/* The hang watchdog ([train] timeout). The training loop writes a heartbeat at every phase
 * change (global step, phase) and inside long phases (a progress count per evaluation batch):
 * two relaxed atomic stores, no system call. A thread per rank (all signals blocked, no MPI)
 * looks at it twice a second and notes the (monotonic) time it last saw it change; every
 * `interval` it also writes this rank's heartbeat (rank, host, step, phase, wall time) to
 * <output.dir>/.heartbeat/rank-K (atomically, by rename), so that when it fires it can tell,
 * without MPI, which ranks stopped responding: their file is stale (the process is stopped or
 * its node is gone) or their step/phase is behind everyone else's.
 *
 * When the heartbeat has not changed for `timeout` seconds the lowest-numbered live rank that
 * fired prints the one line
 *   nntrain: error: rank 2 (node2) has not reached step 812 (gradient allreduce) for 300 s; stopping the job
 * writes `failed exit 1 ...` to <output.dir>/status, leaves <output.dir>/.heartbeat/abort (the
 * other ranks' watchdogs exit silently when they see it) and ends its process with
 * _exit(NT_EXIT_RUNTIME); the launcher (mpirun, srun --kill-on-bad-exit) then kills the
 * remaining ranks, stopped ones included. */
#ifndef NT_WATCHDOG_H
#define NT_WATCHDOG_H
#include "err.h"
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* Phases in the order a step and an epoch go through them (a rank whose (step, phase) is
 * lower than another live rank's is behind). Names: nt_phase_name. */
typedef enum {
    NT_PH_SETUP,       /* "start-up" (before the first step) */
    NT_PH_DATA,        /* "data read": waiting for this rank's rows of the step */
    NT_PH_COMPUTE,     /* "forward/backward" */
    NT_PH_ALLREDUCE,   /* "gradient allreduce" */
    NT_PH_UPDATE,      /* "optimizer step", progress, stop agreement */
    NT_PH_CKPT_STEP,   /* "checkpoint" (periodic or requested, after a step) */
    NT_PH_EVAL,        /* "evaluation" (validation/test pass at the end of an epoch) */
    NT_PH_EPOCH_END,   /* "end of epoch" (agreement, replica check, history row) */
    NT_PH_CKPT_EPOCH,  /* "checkpoint" (end of epoch) */
    NT_PH_SAVE,        /* "saving the model" */
    NT_PH_END,         /* "shutdown" */
    NT_PH_COUNT
} nt_phase;

const char *nt_phase_name(int phase);

/* Written by the training thread only; read by the watchdog thread. */
typedef struct {
    _Atomic uint64_t where; /* global step << 8 | phase */
    _Atomic uint64_t ticks; /* progress inside a phase */
} nt_heartbeat;

/* A phase change: `step` is the global step (from 1) being worked on, or just finished for
 * the phases after a step. */
static inline void nt_beat(nt_heartbeat *h, int64_t step, nt_phase phase)
{
    atomic_store_explicit(&h->where, ((uint64_t)step << 8) | (uint64_t)phase, memory_order_relaxed);
}

/* Progress inside a long phase (an evaluation batch). One writer: no atomic read-modify-write. */
static inline void nt_beat_progress(nt_heartbeat *h)
{
    atomic_store_explicit(&h->ticks, atomic_load_explicit(&h->ticks, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

typedef struct {
    nt_heartbeat hb;
    double timeout;               /* seconds; 0: no thread */
    double interval, stale;       /* heartbeat file period; age that makes a file stale */
    int rank, size;
    char host[64];
    char dir[PATH_MAX];           /* <output.dir>/.heartbeat */
    char out_dir[PATH_MAX];       /* where the status file is */
    int listen_fd;                /* TCP port others probe for reachability (-1: none) */
    int port;
    char ckpt[PATH_MAX];          /* newest checkpoint this run wrote or resumed from (under mu) */
    long long ckpt_step;          /* its global step; -1: none */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, quit;
} nt_watchdog;

/* One rank's heartbeat file, <output.dir>/.heartbeat/rank-K. */
typedef struct {
    int rank, phase, pid, port;
    char host[64];
    long long step;       /* global step */
    double wall;          /* when it was written (seconds since the epoch) */
    double stuck;         /* how long the heartbeat had not changed then */
    long long ckpt_step;  /* newest checkpoint's step, -1: none */
    char ckpt[PATH_MAX];  /* its path, "" if none */
} nt_heartbeat_file;

/* "2, 3 (node2), 5 (node3)": the ranks r < size with pick[r], each run of picked ranks on one
 * host with its name once; at most 16 ranks, then "and N more". Rank r's host name is the string
 * at host0 + r * stride (a host field in an array of records); hosts gets "node2,node3" (each
 * once). Returns how many ranks were picked. The watchdog's line and `nntrain status` use it. */
int nt_rank_list(const char *host0, size_t stride, const char *pick, int size, char *list, size_t n,
                 char *hosts, size_t hn);

/* Reads DIR/rank-RANK. Returns 0, or -1 if it is missing or malformed. */
int nt_heartbeat_read(const char *dir, int rank, nt_heartbeat_file *h);

/* Rank 0, before any rank starts its watchdog: empties <out_dir>/.heartbeat, left by an
 * earlier run of this directory (a killed job). */
void nt_watchdog_clear(const char *out_dir);

/* Starts the thread (not when timeout <= 0; the heartbeat can still be written). Returns 0,
 * or -1 with e set. */
int nt_watchdog_start(nt_watchdog *w, double timeout, const char *out_dir, int rank, int size,
                      int64_t step, nt_err *e);

/* Tells the watchdog the newest intact checkpoint (written, or resumed from), named in its
 * line and in the heartbeat files (for `nntrain status`). */
void nt_watchdog_checkpoint(nt_watchdog *w, const char *path, long long step);

/* Stops the thread, removes this rank's heartbeat file and, if it was the last one, the
 * .heartbeat directory. Safe to call when it was never started. */
void nt_watchdog_stop(nt_watchdog *w);

#endif
