/* `nntrain status RUN_DIR [--launcher-exit RC]` (runstatus.h): a run's state from its status
 * file and heartbeat files, without MPI; and the post-mortem the launch scripts run when the
 * launcher (mpirun, srun) exited non-zero while the run still says `running`, i.e. nntrain
 * never got to say why: a rank was killed (SIGKILL, the OOM killer, its node lost) and the
 * launcher then stopped the others.
 *
 * How the lost ranks are told apart: every rank's watchdog writes .heartbeat/rank-K (host,
 * step, phase, newest checkpoint) and a stop signal (the launcher's SIGTERM to the ranks it
 * kills) leaves .heartbeat/signal-K. A rank with a heartbeat file but no signal file did not
 * live to get the launcher's signal: it was lost first. A directory whose .lock another
 * process holds (runlock.h) belongs to a live run: the post-mortem leaves its status alone. */
#define _GNU_SOURCE
#include "runstatus.h"
#include "ckpt.h"
#include "cli.h"
#include "config.h"
#include "runlock.h"
#include "util.h"
#include "watchdog.h"
#include <dirent.h>
#include <hdf5.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static const char *status_usage =
    "usage: nntrain status RUN_DIR [--launcher-exit RC]\n"
    "       nntrain status --config FILE [--set section.key=value]... [--launcher-exit RC]\n"
    "\n"
    "Prints the state of the training run in RUN_DIR (its [output] dir, or the one FILE and\n"
    "the --set overrides name) in one line: the status\n"
    "file, and for a run that says `running`, the newest heartbeat of its ranks and the newest\n"
    "checkpoint. No MPI needed.\n"
    "\n"
    "  --launcher-exit RC  the launcher (mpirun, srun) of the run exited with RC (not 0). If the\n"
    "                      status file still says `running` (and no other live process holds\n"
    "                      RUN_DIR/.lock), nntrain never said why: this names\n"
    "                      the ranks that were lost (killed, or their node lost) from the\n"
    "                      heartbeat files, prints that as one error line on stderr and records\n"
    "                      `failed exit RC ...` in the status file. On stdout, for scripts:\n"
    "                      lost_hosts=HOST,... (empty when none could be named) and\n"
    "                      checkpoint=PATH (the newest intact checkpoint, empty when none).\n"
    "                      launch/mpirun.sh, launch/nntrain-run and launch/nntrain.sbatch call it.\n"
    "\n"
    "Exit codes: 0 done, 2 usage error, 3 RUN_DIR is not a run directory (no status file).\n";

typedef struct {
    const char *dir, *config;
    char **sets;
    int nsets;
    long rc;
    int have_rc;
} status_args;

enum { O_ST_EXIT = 0x100, O_ST_CONFIG, O_ST_SET };

static int status_opt(void *user, int val, const char *arg, nt_err *e)
{
    status_args *a = user;
    if (val == O_ST_CONFIG) {
        a->config = arg;
        return 0;
    }
    if (val == O_ST_SET) {
        a->sets[a->nsets++] = (char *)arg;
        return 0;
    }
    if (val == NN_CLI_POS) {
        if (a->dir) return nt_fail(e, "unexpected argument '%s' for status (try: nntrain status --help)", arg);
        a->dir = arg;
        return 0;
    }
    if (nn_parse_long(arg, &a->rc) || a->rc < 1 || a->rc > 255)
        return nt_fail(e, "--launcher-exit '%s' must be an exit code 1..255", arg);
    a->have_rc = 1;
    return 0;
}

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + 1e-6 * tv.tv_usec;
}

/* The ranks' heartbeat files: *n = 1 + the highest rank with one. */
static nt_heartbeat_file *read_all(const char *hb, int *n)
{
    *n = 0;
    DIR *d = opendir(hb);
    if (!d) return NULL;
    int max = -1;
    for (struct dirent *de; (de = readdir(d));) {
        int r;
        char tail;
        if (sscanf(de->d_name, "rank-%d%c", &r, &tail) == 1 && r >= 0 && r < 1 << 24 && r > max) max = r;
    }
    closedir(d);
    if (max < 0) return NULL;
    nt_heartbeat_file *h = calloc((size_t)max + 1, sizeof *h);
    if (!h) return NULL;
    for (int r = 0; r <= max; r++)
        if (nt_heartbeat_read(hb, r, &h[r])) h[r].rank = -1; /* missing */
    *n = max + 1;
    return h;
}

/* Is PATH a complete checkpoint (opens, has /state with global_step)? Its step, or -1. */
static long long intact_step(const char *path)
{
    long long step = -1;
    H5E_auto2_t fn;
    void *data;
    H5Eget_auto2(H5E_DEFAULT, &fn, &data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f >= 0) {
        hid_t g = H5Gopen2(f, "/state", H5P_DEFAULT);
        if (g >= 0) {
            int64_t v; /* one value only: an array of them would overrun v */
            if (!nt_h5_read_attr1(g, "global_step", H5T_NATIVE_INT64, &v, path, NULL) &&
                H5Lexists(f, "/model", H5P_DEFAULT) > 0)
                step = v;
            H5Gclose(g);
        }
        H5Fclose(f);
    }
    H5Eset_auto2(H5E_DEFAULT, fn, data);
    return step;
}

/* The newest intact checkpoint: in the directory of the newest one a heartbeat names (later
 * ones may have been written since), else RUN_DIR/checkpoints. */
static long long newest_checkpoint(const char *run, const nt_heartbeat_file *h, int n, char *out, size_t len)
{
    char dir[PATH_MAX + 32] = "";
    long long best = -1;
    for (int r = 0; r < n; r++)
        if (h[r].rank >= 0 && h[r].ckpt[0] && h[r].ckpt_step > best) {
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof tmp, "%s", h[r].ckpt);
            snprintf(dir, sizeof dir, "%s", dirname(tmp));
            best = h[r].ckpt_step;
        }
    if (!dir[0]) snprintf(dir, sizeof dir, "%s/checkpoints", run);
    out[0] = 0;
    char path[PATH_MAX + 64];
    long long s;
    if (nt_ckpt_find_local(dir, path, sizeof path) && (s = intact_step(path)) >= 0) {
        snprintf(out, len, "%s", path);
        return s;
    }
    /* the newest did not open: the one a heartbeat named, if intact */
    for (int r = 0; r < n; r++)
        if (h[r].rank >= 0 && h[r].ckpt[0] && h[r].ckpt_step == best && intact_step(h[r].ckpt) >= 0) {
            snprintf(out, len, "%s", h[r].ckpt);
            return best;
        }
    return -1;
}

static void read_status(const char *run, char *line, size_t n)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/status", run);
    line[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(line, (int)n, f)) line[0] = 0;
    line[strcspn(line, "\n")] = 0;
    fclose(f);
}

/* The hosts a watchdog that fired named (.heartbeat/lost), for the scripts. */
static void read_lost_file(const char *hb, char *hosts, size_t n)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/lost", hb);
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (!fgets(hosts, (int)n, f)) hosts[0] = 0;
    hosts[strcspn(hosts, "\n")] = 0;
    fclose(f);
}

static int post_mortem(const char *run, int rc, const char *status)
{
    char hb[PATH_MAX], ck[PATH_MAX + 64], hosts[1024] = "";
    snprintf(hb, sizeof hb, "%s/.heartbeat", run);
    int n;
    nt_heartbeat_file *h = read_all(hb, &n);
    long long ck_step = newest_checkpoint(run, h, n, ck, sizeof ck);
    int running = !strncmp(status, "running", 7);
    char lk_host[256], lk_pid[32];
    /* `running` while another process holds the run's lock: the directory belongs to a live
     * run (the launcher's own run was refused at start-up and said so), which must keep its
     * status file */
    if (running && nt_run_lock_holder(run, lk_host, sizeof lk_host, lk_pid, sizeof lk_pid)) running = 0;
    if (!running) { /* nntrain said why itself (or the run ended): only the facts for scripts */
        if (!strncmp(status, "failed", 6)) read_lost_file(hb, hosts, sizeof hosts);
        printf("lost_hosts=%s\ncheckpoint=%s\n", hosts, ck);
        free(h);
        return 0;
    }
    char *lost = calloc((size_t)(n > 0 ? n : 1), 1), list[1024] = "";
    int signalled = 0, known = 0;
    long long step = -1;
    int phase = 0;
    for (int r = 0; r < n && lost; r++) {
        if (h[r].rank < 0) continue;
        known++;
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s/signal-%d", hb, r);
        const int sig = access(path, F_OK) == 0;
        signalled += sig;
        lost[r] = !sig;
        if (h[r].step > step || (h[r].step == step && h[r].phase > phase)) step = h[r].step, phase = h[r].phase;
    }
    int named = 0;
    if (lost && signalled > 0) named = nt_rank_list(h[0].host, sizeof *h, lost, n, list, sizeof list, hosts, sizeof hosts);
    char where[160] = "", ckmsg[PATH_MAX + 128];
    /* heartbeat files are rewritten every few seconds (and when a stop signal comes): a newer
     * checkpoint says the job got further */
    if (ck[0] && ck_step >= step) snprintf(where, sizeof where, " after step %lld", ck_step);
    else if (step >= 0) snprintf(where, sizeof where, " during step %lld (%s)", step, nt_phase_name(phase));
    if (ck[0]) snprintf(ckmsg, sizeof ckmsg, "newest intact checkpoint %s (step %lld)", ck, ck_step);
    else snprintf(ckmsg, sizeof ckmsg, "no intact checkpoint");
    char msg[PATH_MAX + 2048];
    if (named)
        snprintf(msg, sizeof msg, "rank%s %s ended without a word (killed, or %s lost)%s; the launcher "
                 "stopped the job (exit %d); %s", named > 1 ? "s" : "", list,
                 strchr(hosts, ',') ? "their nodes" : named > 1 ? "their node" : "its node", where, rc, ckmsg);
    else if (known)
        snprintf(msg, sizeof msg, "the job ended%s with launcher exit %d before nntrain could say why "
                 "(%s); %s", where, rc,
                 signalled ? "every rank got a stop signal" : "no rank got a stop signal: killed at once",
                 ckmsg);
    else
        snprintf(msg, sizeof msg, "the job ended with launcher exit %d before nntrain could say why "
                 "(no heartbeat files: [train] timeout = 0?); %s", rc, ckmsg);
    fprintf(stderr, "nntrain: error: %s\n", msg);
    char line[PATH_MAX + 2100];
    snprintf(line, sizeof line, "failed exit %d %s", rc, msg);
    nt_write_status_line(run, "status.tmp.postmortem", line);
    if (named) { /* for a second look, as the watchdog leaves it */
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/lost", hb);
        FILE *f = fopen(path, "w");
        if (f) fprintf(f, "%s\n", hosts), fclose(f);
    }
    printf("lost_hosts=%s\ncheckpoint=%s\n", hosts, ck);
    free(lost);
    free(h);
    return 0;
}

static int show(const char *run, const char *status)
{
    char hb[PATH_MAX], ck[PATH_MAX + 64];
    snprintf(hb, sizeof hb, "%s/.heartbeat", run);
    int n;
    nt_heartbeat_file *h = read_all(hb, &n);
    if (strncmp(status, "running", 7) || !h) {
        printf("%s\n", status);
        free(h);
        return 0;
    }
    long long step = -1, ck_step = newest_checkpoint(run, h, n, ck, sizeof ck);
    int phase = 0, ranks = 0;
    double newest = 0;
    for (int r = 0; r < n; r++) {
        if (h[r].rank < 0) continue;
        ranks++;
        if (h[r].wall > newest) newest = h[r].wall;
        if (h[r].step > step || (h[r].step == step && h[r].phase > phase)) step = h[r].step, phase = h[r].phase;
    }
    printf("%s | heartbeat: %d rank%s, step %lld (%s), newest %.0f s ago | ", status, ranks,
           ranks == 1 ? "" : "s", step, nt_phase_name(phase), wall_now() - newest);
    if (ck[0]) printf("newest checkpoint %s (step %lld)\n", ck, ck_step);
    else printf("no checkpoint yet\n");
    free(h);
    return 0;
}

int nt_status_main(int argc, char **argv)
{
    static const struct option opts[] = {{"launcher-exit", required_argument, NULL, O_ST_EXIT},
                                         {"config", required_argument, NULL, O_ST_CONFIG},
                                         {"set", required_argument, NULL, O_ST_SET}, {0}};
    status_args a = {.sets = calloc((size_t)argc + 1, sizeof(char *))};
    nn_cli cli = {.tool = "nntrain", .cmd = "status", .usage = status_usage, .longopts = opts,
                  .on_opt = status_opt, .user = &a, .maxpos = 1};
    nt_err e = {{0}};
    int st = a.sets ? nn_cli_parse(&cli, argc, argv, &e) : (nt_fail(&e, "out of memory"), NT_EXIT_RUNTIME);
    if (!st && !a.dir == !a.config)
        st = nn_cli_fail(&cli, &e, "status needs RUN_DIR or --config FILE (one of them)") ? NT_EXIT_USAGE : 0;
    if (st) {
        free(a.sets);
        return nn_cli_exit(&cli, st, &e);
    }
    static nt_config cfg; /* large */
    if (a.config) {
        if (nt_config_load(&cfg, a.config, a.sets, a.nsets, &e)) {
            fprintf(stderr, "nntrain: error: %s\n", e.msg);
            free(a.sets);
            if (a.have_rc) printf("lost_hosts=\ncheckpoint=\n");
            return NT_EXIT_INPUT;
        }
        a.dir = cfg.out_dir;
    }
    free(a.sets);
    char status[4200];
    read_status(a.dir, status, sizeof status);
    if (!status[0]) {
        fprintf(stderr, "nntrain: error: %s/status: no such file (not a run directory, or the run has "
                "not started)\n", a.dir);
        if (a.have_rc) printf("lost_hosts=\ncheckpoint=\n");
        return NT_EXIT_INPUT;
    }
    return a.have_rc ? post_mortem(a.dir, (int)a.rc, status) : show(a.dir, status);
}
