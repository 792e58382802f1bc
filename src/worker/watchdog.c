/* The hang watchdog (watchdog.h). Its thread makes no MPI call, so it also works while the
 * training thread is stuck inside one (MPI_THREAD_FUNNELED). */
#define _GNU_SOURCE
#include "watchdog.h"
#include "util.h" /* nt_stop_signal, nt_write_status_line, nt_mkdirs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const phase_names[NT_PH_COUNT] = {
    "start-up", "data read", "forward/backward", "gradient allreduce", "optimizer step",
    "checkpoint", "evaluation", "end of epoch", "checkpoint", "saving the model", "shutdown"};

const char *nt_phase_name(int phase)
{
    return phase >= 0 && phase < NT_PH_COUNT ? phase_names[phase] : "?";
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

void nt_watchdog_clear(const char *out_dir)
{
    char dir[PATH_MAX + 16], path[PATH_MAX + 300];
    snprintf(dir, sizeof dir, "%s/.heartbeat", out_dir);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        if (de->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

/* ---- the heartbeat files ---- */

typedef struct {
    int ok;          /* the file was there and parsed */
    int stale;       /* not rewritten for longer than w->stale */
    char host[64];
    long long step;
    int phase;
    double stuck;    /* seconds its heartbeat had not changed when the file was written */
} peer;

static void rank_path(const nt_watchdog *w, int r, char *buf, size_t n)
{
    snprintf(buf, n, "%s/rank-%d", w->dir, r);
}

/* rank host step phase wall-time pid stuck-seconds, through a temporary name and rename */
static void write_heartbeat(const nt_watchdog *w, uint64_t where, double stuck)
{
    char tmp[PATH_MAX + 64], path[PATH_MAX + 32], line[256];
    rank_path(w, w->rank, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(line, sizeof line, "%d %s %llu %d %.3f %d %.1f\n", w->rank, w->host,
                     (unsigned long long)(where >> 8), (int)(where & 0xff), wall_now(), (int)getpid(),
                     stuck);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return; /* best effort: the file only helps name the stopped ranks */
    int good = write(fd, line, (size_t)n) == n;
    if (close(fd) == 0 && good) rename(tmp, path);
    else unlink(tmp);
}

static peer read_heartbeat(const nt_watchdog *w, int r, double now)
{
    peer p = {0};
    char path[PATH_MAX + 32], line[256];
    rank_path(w, r, path, sizeof path);
    FILE *f = fopen(path, "r");
    if (!f) return p;
    int rr, pid;
    unsigned long long step;
    double wall;
    if (fgets(line, sizeof line, f) &&
        sscanf(line, "%d %63s %llu %d %lf %d %lf", &rr, p.host, &step, &p.phase, &wall, &pid,
               &p.stuck) == 7 && rr == r) {
        p.ok = 1;
        p.step = (long long)step;
        p.stale = now - wall > w->stale;
    }
    fclose(f);
    return p;
}

static int abort_marker(const nt_watchdog *w)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/abort", w->dir);
    return access(path, F_OK) == 0;
}

/* ---- firing ---- */

/* Phases in which a rank computes or reads by itself: stuck there, it is the one holding the
 * others up. In the others (allreduce, evaluation, checkpoint, ...) it may only be waiting
 * for someone else -- even a step behind, in a collective the others have already left. */
static int local_phase(int phase)
{
    return phase == NT_PH_DATA || phase == NT_PH_COMPUTE || phase == NT_PH_UPDATE;
}

/* The message, naming the ranks that stopped responding: those whose heartbeat file is stale
 * (the process is stopped or gone), or else live ones stuck in a phase of their own; sets
 * *reporter to the lowest live rank. Returns how many ranks it names. */
static int judge(const nt_watchdog *w, uint64_t where, double stuck, char *msg, size_t n, int *reporter)
{
    const double now = wall_now();
    const long long step = (long long)(where >> 8);
    const int phase = (int)(where & 0xff);
    peer *ps = calloc((size_t)w->size, sizeof *ps);
    *reporter = w->rank;
    if (!ps) {
        snprintf(msg, n, "rank %d (%s) waited at step %lld (%s) for %.0f s; stopping the job",
                 w->rank, w->host, step, nt_phase_name(phase), stuck);
        return 0;
    }
    long long max_step = step;
    int max_phase = phase;
    for (int r = 0; r < w->size; r++) {
        if (r == w->rank) {
            ps[r] = (peer){.ok = 1, .step = step, .phase = phase, .stuck = stuck};
            snprintf(ps[r].host, sizeof ps[r].host, "%s", w->host);
        } else {
            ps[r] = read_heartbeat(w, r, now);
        }
        if (ps[r].ok && !ps[r].stale && r < *reporter) *reporter = r;
        if (ps[r].ok && !ps[r].stale &&
            (ps[r].step > max_step || (ps[r].step == max_step && ps[r].phase > max_phase)))
            max_step = ps[r].step, max_phase = ps[r].phase;
    }
    /* named: stale files; if there are none, live ranks stuck in a phase of their own */
    int any_stale = 0;
    for (int r = 0; r < w->size; r++) any_stale |= ps[r].ok && ps[r].stale;
    char list[1024] = "";
    size_t o = 0;
    int named = 0;
    for (int r = 0; r < w->size; r++) {
        const peer *p = &ps[r];
        if (!p->ok) continue;
        if (any_stale ? !p->stale
                      : !(local_phase(p->phase) && p->stuck >= w->timeout - 2 * w->interval))
            continue;
        if (named < 8 && o + 100 < sizeof list)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%d (%s)", named ? ", " : "", r, p->host);
        named++;
    }
    if (named > 8) snprintf(list + o, sizeof list - o, " and %d more", named - 8);
    const char *why = nt_stop_signal == SIGTERM   ? "; the SIGTERM could not be agreed on, no checkpoint written"
                      : nt_stop_signal == SIGUSR1 ? "; the SIGUSR1 could not be agreed on, no checkpoint written"
                                                  : "";
    if (named)
        snprintf(msg, n, "rank%s %s %s not reached step %lld (%s) for %.0f s%s; stopping the job",
                 named > 1 ? "s" : "", list, named > 1 ? "have" : "has", max_step,
                 nt_phase_name(max_phase), stuck, why);
    else
        snprintf(msg, n, "no rank has got past step %lld (%s) for %.0f s, and every rank's heartbeat "
                 "is current (a network problem between nodes?)%s; stopping the job", step,
                 nt_phase_name(phase), stuck, why);
    free(ps);
    return named;
}

/* Prints the line, marks the run failed, tells the other watchdogs, ends the process. */
static void fire(const nt_watchdog *w, const char *msg)
{
    char line[2200], status[2300], path[PATH_MAX + 32];
    int n = snprintf(line, sizeof line, "nntrain: error: %s\n", msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t wr = write(2, line, (size_t)n); /* not stdio: the stuck thread may hold its lock */
    (void)wr;
    snprintf(status, sizeof status, "failed exit %d %s", NT_EXIT_RUNTIME, msg);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "status.tmp.watchdog%d", w->rank);
    nt_write_status_line(w->out_dir, tmp, status);
    snprintf(path, sizeof path, "%s/abort", w->dir);
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) close(fd);
    _exit(NT_EXIT_RUNTIME);
}

static void *watch(void *arg)
{
    nt_watchdog *w = arg;
    const double check = w->interval < 0.5 ? w->interval : 0.5;
    uint64_t where = atomic_load_explicit(&w->hb.where, memory_order_relaxed);
    uint64_t ticks = atomic_load_explicit(&w->hb.ticks, memory_order_relaxed);
    double now = mono_now(), changed = now, written = -1e30, last = now, fired = 0;
    pthread_mutex_lock(&w->mu);
    while (!w->quit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
        double t = until.tv_sec + 1e-9 * until.tv_nsec + check;
        until.tv_sec = (time_t)t;
        until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
        pthread_cond_timedwait(&w->cv, &w->mu, &until);
        if (w->quit) break;
        now = mono_now();
        if (now - last > w->stale) { /* this process was stopped (SIGSTOP) or suspended */
            if (abort_marker(w)) _exit(NT_EXIT_RUNTIME); /* another rank ended the job */
            changed = now; /* our own pause is not the others' fault */
        }
        last = now;
        uint64_t wh = atomic_load_explicit(&w->hb.where, memory_order_relaxed);
        uint64_t tk = atomic_load_explicit(&w->hb.ticks, memory_order_relaxed);
        if (wh != where || tk != ticks) where = wh, ticks = tk, changed = now, fired = 0;
        if (now - written >= w->interval) {
            write_heartbeat(w, where, now - changed);
            written = now;
        }
        const double stuck = now - changed;
        if (stuck < w->timeout) continue;
        if (abort_marker(w)) _exit(NT_EXIT_RUNTIME); /* the reporter has printed the line */
        if (!fired) fired = now;
        char msg[2048];
        int reporter, named = judge(w, where, stuck, msg, sizeof msg, &reporter);
        /* nobody named yet: wait until a stopped rank's file has had time to go stale */
        if (!named && stuck < w->timeout + w->stale + w->interval) continue;
        /* one line in all: the lowest live rank reports; the others wait for its abort marker,
         * and report themselves only if it never comes */
        if (reporter != w->rank && now - fired < w->stale + 2 * w->interval + 2) continue;
        fire(w, msg);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int nt_watchdog_start(nt_watchdog *w, double timeout, const char *out_dir, int rank, int size,
                      int64_t step, nt_err *e)
{
    *w = (nt_watchdog){.timeout = timeout, .rank = rank, .size = size};
    nt_beat(&w->hb, step, NT_PH_SETUP);
    if (timeout <= 0) return 0;
    /* the file period scales with the timeout (a shared file system sees size/interval
     * renames per second); a file older than `stale` belongs to a process that is not running */
    w->interval = timeout / 10 < 0.5 ? 0.5 : timeout / 10 > 10 ? 10 : timeout / 10;
    w->stale = 3 * w->interval < 2 ? 2 : 3 * w->interval;
    if (gethostname(w->host, sizeof w->host - 1) != 0) strcpy(w->host, "?");
    for (char *p = w->host; *p; p++)
        if (*p == ' ') *p = '_';
    snprintf(w->out_dir, sizeof w->out_dir, "%s", out_dir);
    if (snprintf(w->dir, sizeof w->dir, "%s/.heartbeat", out_dir) >= (int)sizeof w->dir)
        return nt_fail(e, "%s: [output] dir is too long", out_dir);
    if (nt_mkdirs(w->dir, e)) return -1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* every signal stays with the training thread (SIGTERM/SIGUSR1 set its stop flag) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, watch, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        pthread_cond_destroy(&w->cv);
        pthread_mutex_destroy(&w->mu);
        return nt_fail(e, "cannot start the watchdog thread: %s", strerror(rc));
    }
    w->running = 1;
    return 0;
}

void nt_watchdog_stop(nt_watchdog *w)
{
    if (!w->running) return;
    pthread_mutex_lock(&w->mu);
    w->quit = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    w->running = 0;
    char path[PATH_MAX + 32];
    rank_path(w, w->rank, path, sizeof path);
    unlink(path);
    rmdir(w->dir); /* succeeds for the last rank to leave */
}
