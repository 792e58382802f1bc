/* The hang watchdog (watchdog.h). Its thread makes no MPI call, so it also works while the
 * training thread is stuck inside one (MPI_THREAD_FUNNELED). */
#define _GNU_SOURCE
#include "watchdog.h"
#include "util.h" /* nt_stop_signal, nt_write_status_line, nt_mkdirs */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
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
    int port;        /* its watchdog's probe port (0: none) */
    long long ckpt_step;
} peer;

static void rank_path(const nt_watchdog *w, int r, char *buf, size_t n)
{
    snprintf(buf, n, "%s/rank-%d", w->dir, r);
}

/* One line, through a temporary name and rename:
 *   rank host step phase wall-time pid stuck-seconds probe-port checkpoint-step checkpoint-path
 * (the path is the rest of the line; step -1 and "-" when there is none). `nntrain status`
 * reads these files too (nt_heartbeat_read). Called with w->mu held. */
static void write_heartbeat(const nt_watchdog *w, uint64_t where, double stuck)
{
    char tmp[PATH_MAX + 64], path[PATH_MAX + 32], line[PATH_MAX + 256];
    rank_path(w, w->rank, path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int n = snprintf(line, sizeof line, "%d %s %llu %d %.3f %d %.1f %d %lld %s\n", w->rank, w->host,
                     (unsigned long long)(where >> 8), (int)(where & 0xff), wall_now(), (int)getpid(),
                     stuck, w->port, w->ckpt_step, w->ckpt[0] ? w->ckpt : "-");
    if (n >= (int)sizeof line) n = (int)sizeof line - 1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return; /* best effort: the file only helps name the stopped ranks */
    int good = write(fd, line, (size_t)n) == n;
    if (close(fd) == 0 && good) rename(tmp, path);
    else unlink(tmp);
}

int nt_heartbeat_read(const char *dir, int rank, nt_heartbeat_file *h)
{
    char path[PATH_MAX + 32], line[PATH_MAX + 256];
    memset(h, 0, sizeof *h);
    snprintf(path, sizeof path, "%s/rank-%d", dir, rank);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long step;
    int ok = 0, used = 0;
    if (fgets(line, sizeof line, f) &&
        sscanf(line, "%d %63s %llu %d %lf %d %lf %d %lld %n", &h->rank, h->host, &step, &h->phase,
               &h->wall, &h->pid, &h->stuck, &h->port, &h->ckpt_step, &used) == 9 &&
        h->rank == rank && used > 0) {
        h->step = (long long)step;
        line[strcspn(line, "\n")] = 0;
        snprintf(h->ckpt, sizeof h->ckpt, "%s", strcmp(line + used, "-") ? line + used : "");
        ok = 1;
    }
    fclose(f);
    return ok ? 0 : -1;
}

static peer read_heartbeat(const nt_watchdog *w, int r, double now)
{
    peer p = {0};
    nt_heartbeat_file h;
    if (nt_heartbeat_read(w->dir, r, &h)) return p;
    p.ok = 1;
    memcpy(p.host, h.host, sizeof p.host);
    p.step = h.step;
    p.phase = h.phase;
    p.stuck = h.stuck;
    p.port = h.port;
    p.ckpt_step = h.ckpt_step;
    p.stale = now - h.wall > w->stale;
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

enum { NT_WD_MSG = PATH_MAX + 2048 };

int nt_rank_list(const char *host0, size_t stride, const char *pick, int size, char *list, size_t n,
                 char *hosts, size_t hn)
{
#define HOST(r) (host0 + (size_t)(r) * stride)
    size_t o = 0, oh = 0;
    int count = 0, shown = 0;
    list[0] = hosts[0] = 0;
    for (int r = 0; r < size; r++) {
        if (!pick[r]) continue;
        count++;
        int seen = 0; /* hosts: each once, comma-separated */
        for (int q = 0; q < r && !seen; q++) seen = pick[q] && !strcmp(HOST(q), HOST(r));
        if (!seen && oh + 80 < hn) oh += (size_t)snprintf(hosts + oh, hn - oh, "%s%s", oh ? "," : "", HOST(r));
        if (shown >= 16 || o + 100 >= n) continue;
        o += (size_t)snprintf(list + o, n - o, "%s%d", shown ? ", " : "", r);
        shown++;
        int next = r + 1; /* the next picked rank: the host is written when it changes */
        while (next < size && !pick[next]) next++;
        if (next >= size || shown >= 16 || strcmp(HOST(next), HOST(r)))
            o += (size_t)snprintf(list + o, n - o, " (%s)", HOST(r));
    }
    if (count > shown) snprintf(list + o, n - o, " and %d more", count - shown);
    return count;
#undef HOST
}

/* Can this host open a TCP connection to each other host's watchdog (their listening port; the
 * kernel answers even when the process is busy)? unreachable[r] is set for the ranks on hosts
 * that did not answer within `wait` seconds (refused counts as an answer). Returns how many
 * ranks are unreachable. */

/* (While it waits it keeps this rank's heartbeat file fresh: others must not take the prober
 * for a stopped process.) */
static int probe_hosts(const nt_watchdog *w, const peer *ps, char *unreachable, double wait,
                       uint64_t where, double stuck)
{
    enum { MAXH = 64 };
    int fd[MAXH], first[MAXH], nh = 0, bad = 0;
    for (int r = 0; r < w->size; r++) {
        unreachable[r] = 0;
        if (!ps[r].ok || !ps[r].port || !strcmp(ps[r].host, w->host) || nh == MAXH) continue;
        int seen = 0;
        for (int i = 0; i < nh && !seen; i++) seen = !strcmp(ps[first[i]].host, ps[r].host);
        if (seen) continue;
        char port[16];
        snprintf(port, sizeof port, "%d", ps[r].port);
        struct addrinfo hint = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
        if (getaddrinfo(ps[r].host, port, &hint, &ai) || !ai) continue; /* cannot tell */
        int s = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s >= 0 && connect(s, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(s); /* an immediate error (no route, refused): not a silent network */
            s = -1;
        }
        freeaddrinfo(ai);
        if (s < 0) continue;
        fd[nh] = s;
        first[nh++] = r;
    }
    const double start = mono_now(), until = start + wait;
    int pending = nh;
    char done[MAXH] = {0};
    while (pending > 0 && mono_now() < until) {
        struct pollfd pf[MAXH];
        for (int i = 0; i < nh; i++) pf[i] = (struct pollfd){.fd = done[i] ? -1 : fd[i], .events = POLLOUT};
        int ms = (int)((until - mono_now()) * 1000) + 1;
        int got = poll(pf, (nfds_t)nh, ms < 250 ? ms : 250);
        write_heartbeat(w, where, stuck + mono_now() - start);
        if (got < 0) break;
        for (int i = 0; i < nh && got > 0; i++)
            if (!done[i] && pf[i].revents) done[i] = 1, pending--;
    }
    for (int i = 0; i < nh; i++) {
        close(fd[i]);
        if (done[i]) continue;
        for (int r = 0; r < w->size; r++)
            if (ps[r].ok && !strcmp(ps[r].host, ps[first[i]].host)) unreachable[r] = 1, bad++;
    }
    return bad;
}

/* Accepts and closes the connections other ranks' probes opened (so the backlog never fills). */
static void drain_probes(const nt_watchdog *w)
{
    if (w->listen_fd < 0) return;
    for (int s; (s = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0;) close(s);
}

/* The message, naming the ranks that stopped responding: those whose heartbeat file is stale
 * (the process is stopped or gone), or else live ones stuck in a phase of their own, or else
 * (every heartbeat current) the ranks on hosts this one cannot reach over the network; sets
 * *reporter to the lowest live rank. Returns how many ranks it names. */
static int judge(const nt_watchdog *w, uint64_t where, double stuck, char *msg, size_t n, int *reporter,
                 char *hosts, size_t hn)
{
    hosts[0] = 0;
    const double now = wall_now();
    const long long step = (long long)(where >> 8);
    const int phase = (int)(where & 0xff);
    peer *ps = calloc((size_t)w->size, sizeof *ps);
    char *pick = calloc((size_t)w->size, 1);
    *reporter = w->rank;
    char ck[PATH_MAX + 64] = "; no checkpoint written yet";
    if (w->ckpt[0]) snprintf(ck, sizeof ck, "; newest checkpoint %s (step %lld)", w->ckpt, w->ckpt_step);
    if (!ps || !pick) {
        snprintf(msg, n, "rank %d (%s) waited at step %lld (%s) for %.0f s%s; stopping the job",
                 w->rank, w->host, step, nt_phase_name(phase), stuck, ck);
        free(ps);
        free(pick);
        return 0;
    }
    long long max_step = step;
    int max_phase = phase;
    for (int r = 0; r < w->size; r++) {
        if (r == w->rank) {
            ps[r] = (peer){.ok = 1, .step = step, .phase = phase, .stuck = stuck, .port = w->port};
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
    for (int r = 0; r < w->size; r++)
        pick[r] = ps[r].ok && (any_stale ? ps[r].stale
                                         : local_phase(ps[r].phase) && ps[r].stuck >= w->timeout - 2 * w->interval);
    char list[1024];
    int named = nt_rank_list(ps[0].host, sizeof *ps, pick, w->size, list, sizeof list, hosts, hn);
    const char *why = nt_stop_signal == SIGTERM   ? "; the SIGTERM could not be agreed on, no checkpoint written"
                      : nt_stop_signal == SIGUSR1 ? "; the SIGUSR1 could not be agreed on, no checkpoint written"
                                                  : "";
    int cut = 0;
    /* every heartbeat current and nobody computing: is a host cut off? (only the reporter asks) */
    if (!named && *reporter == w->rank && probe_hosts(w, ps, pick, 2.0, where, stuck) > 0) {
        named = nt_rank_list(ps[0].host, sizeof *ps, pick, w->size, list, sizeof list, hosts, hn);
        cut = 1;
    }
    if (cut)
        snprintf(msg, n, "rank%s %s cannot be reached from %s over the network (no answer in 2 s); "
                 "no rank has got past step %lld (%s) for %.0f s%s%s; stopping the job",
                 named > 1 ? "s" : "", list, w->host, max_step, nt_phase_name(max_phase), stuck, why, ck);
    else if (named)
        snprintf(msg, n, "rank%s %s %s not reached step %lld (%s) for %.0f s%s%s; stopping the job",
                 named > 1 ? "s" : "", list, named > 1 ? "have" : "has", max_step,
                 nt_phase_name(max_phase), stuck, why, ck);
    else
        snprintf(msg, n, "no rank has got past step %lld (%s) for %.0f s, and every rank's heartbeat "
                 "is current and every host answers (a network problem between nodes?)%s%s; stopping the job",
                 step, nt_phase_name(phase), stuck, why, ck);
    free(ps);
    free(pick);
    return named;
}

/* Prints the line, marks the run failed, leaves the named hosts in .heartbeat/lost (for
 * `nntrain status --launcher-exit` and so the recovery scripts), tells the other watchdogs,
 * ends the process. */

static void fire(const nt_watchdog *w, const char *msg, const char *hosts)
{
    if (abort_marker(w)) _exit(NT_EXIT_RUNTIME); /* another rank reported while we judged */
    char line[NT_WD_MSG + 32], status[NT_WD_MSG + 64], path[PATH_MAX + 32];
    int n = snprintf(line, sizeof line, "nntrain: error: %s\n", msg);
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1;
    ssize_t wr = write(2, line, (size_t)n); /* not stdio: the stuck thread may hold its lock */
    (void)wr;
    snprintf(status, sizeof status, "failed exit %d %s", NT_EXIT_RUNTIME, msg);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "status.tmp.watchdog%d", w->rank);
    nt_write_status_line(w->out_dir, tmp, status);
    snprintf(path, sizeof path, "%s/lost", w->dir);
    int lf = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (lf >= 0) {
        char hl[1100];
        int hlen = snprintf(hl, sizeof hl, "%s\n", hosts);
        ssize_t hw = write(lf, hl, (size_t)(hlen < (int)sizeof hl ? hlen : (int)sizeof hl - 1));
        (void)hw; /* best effort: only the recovery scripts read it */
        close(lf);
    }
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
    int was_setup = 1, sig_seen = 0;
    pthread_mutex_lock(&w->mu);
    write_heartbeat(w, where, 0); /* at once: a rank lost in its first second is named too */
    written = now;
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
        drain_probes(w);
        uint64_t wh = atomic_load_explicit(&w->hb.where, memory_order_relaxed);
        uint64_t tk = atomic_load_explicit(&w->hb.ticks, memory_order_relaxed);
        if (wh != where || tk != ticks) where = wh, ticks = tk, changed = now, fired = 0;
        /* also at once when training starts: `nntrain status` shows that it does (launch/
         * nntrain-run times its recovery by it) */
        const int setup = (int)(where & 0xff) == NT_PH_SETUP;
        /* and at once when a stop signal came: if the launcher is stopping the job because a
         * rank was lost, `nntrain status --launcher-exit` learns this rank's last step */
        const int signalled = nt_stop_signal != 0 && !sig_seen;
        if (now - written >= w->interval || (was_setup && !setup) || signalled) {
            was_setup = setup;
            sig_seen |= signalled;
            write_heartbeat(w, where, now - changed);
            written = now;
        }
        const double stuck = now - changed;
        if (stuck < w->timeout) continue;
        if (abort_marker(w)) _exit(NT_EXIT_RUNTIME); /* the reporter has printed the line */
        if (!fired) fired = now;
        char msg[NT_WD_MSG], hosts[1024];
        int reporter, named = judge(w, where, stuck, msg, sizeof msg, &reporter, hosts, sizeof hosts);
        /* nobody named yet: wait until a stopped rank's file has had time to go stale */
        if (!named && stuck < w->timeout + w->stale + w->interval) continue;
        /* one line in all: the lowest live rank reports; the others wait for its abort marker,
         * and report themselves only if it never comes */
        if (reporter != w->rank && now - fired < w->stale + 2 * w->interval + 2) continue;
        fire(w, msg, hosts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int nt_watchdog_start(nt_watchdog *w, double timeout, const char *out_dir, int rank, int size,
                      int64_t step, nt_err *e)
{
    *w = (nt_watchdog){.timeout = timeout, .rank = rank, .size = size, .listen_fd = -1, .ckpt_step = -1};
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
    /* the port other ranks' watchdogs probe to tell a host cut off from a hang (best effort:
     * without it a cut-off host is reported as a network problem in general) */
    w->listen_fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6, .sin6_addr = in6addr_any};
    if (w->listen_fd < 0) { /* no IPv6: IPv4 only */
        w->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY)};
        if (w->listen_fd >= 0 && bind(w->listen_fd, (struct sockaddr *)&a4, sizeof a4) != 0)
            close(w->listen_fd), w->listen_fd = -1;
    } else {
        int no = 0; /* dual stack: IPv4 peers too */
        (void)setsockopt(w->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &no, sizeof no);
        if (bind(w->listen_fd, (struct sockaddr *)&a6, sizeof a6) != 0) close(w->listen_fd), w->listen_fd = -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (w->listen_fd >= 0 && (listen(w->listen_fd, 256) != 0 ||
                              getsockname(w->listen_fd, (struct sockaddr *)&ss, &sl) != 0)) {
        close(w->listen_fd);
        w->listen_fd = -1;
    }
    if (w->listen_fd >= 0)
        w->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                                 : ((struct sockaddr_in *)&ss)->sin_port);
    /* a stop signal leaves .heartbeat/signal-K behind: after a job ends abnormally, `nntrain
     * status` tells the ranks the launcher stopped (they have one) from those lost before */
    char mark[PATH_MAX + 32];
    snprintf(mark, sizeof mark, "%s/signal-%d", w->dir, rank);
    nt_set_signal_mark(mark);
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    /* every signal stays with the training thread (SIGTERM/SIGUSR1 set its stop flag) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&w->thread, NULL, watch, w);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        nt_set_signal_mark(NULL);
        if (w->listen_fd >= 0) close(w->listen_fd);
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
    if (w->listen_fd >= 0) close(w->listen_fd);
    w->listen_fd = -1;
    nt_set_signal_mark(NULL);
    char path[PATH_MAX + 32];
    rank_path(w, w->rank, path, sizeof path);
    unlink(path);
    snprintf(path, sizeof path, "%s/signal-%d", w->dir, w->rank);
    unlink(path);
    rmdir(w->dir); /* succeeds for the last rank to leave */
}

void nt_watchdog_checkpoint(nt_watchdog *w, const char *path, long long step)
{
    if (!w->running) return;
    pthread_mutex_lock(&w->mu);
    snprintf(w->ckpt, sizeof w->ckpt, "%s", path);
    w->ckpt_step = step;
    pthread_mutex_unlock(&w->mu);
}
