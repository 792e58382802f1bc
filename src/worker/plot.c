/* `nntrain plot RUN_DIR [--out FILE.png] [--size WxH]`: learning curves from metrics.csv,
 * drawn by gnuplot. No MPI. Columns are found by their names in history.c's table, so
 * classification (*_acc) and regression (*_rmse, *_mae) runs, with or without test columns,
 * and columns added later all work. The PNG is written to FILE.png.tmp.<pid> and renamed when
 * gnuplot succeeded, so a failure never leaves a partial image or replaces a good one. */
#include "plot.h"
#include "cli.h"
#include "history.h"
#include "util.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *plot_usage =
    "usage: nntrain plot RUN_DIR [--out FILE.png] [--size WxH]\n"
    "\n"
    "Draws RUN_DIR/metrics.csv as two panels with gnuplot: loss per epoch (train, validation,\n"
    "test) and accuracy (classification) or RMSE (regression) per epoch. Runs without MPI,\n"
    "also while training is still going (it plots the epochs written so far).\n"
    "\n"
    "options:\n"
    "  --out FILE.png   where to write the image (default RUN_DIR/curves.png)\n"
    "  --size WxH       image size in pixels (default 1000x450)\n"
    "  --help\n"
    "\n"
    "needs gnuplot (Debian: apt-get install gnuplot-nox)\n"
    "exit codes: 0 ok, 1 runtime failure (gnuplot missing or failing, cannot write FILE),\n"
    "            2 usage error, 3 bad input (missing or malformed metrics.csv, no epochs yet)\n";

static int perr(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("nntrain: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* the plotted columns (history.h): per panel train, validation, test */
static const int loss_cols[3] = {NT_H_TRAIN_LOSS, NT_H_VAL_LOSS, NT_H_TEST_LOSS};
static const int metric_cols[3] = {NT_H_TRAIN_M1, NT_H_VAL_M1, NT_H_TEST_M1};

/* Does column k have a value in any epoch? */
static int has_col(const nt_history *h, int k)
{
    for (int i = 0; i < h->n; i++)
        if (!isnan(h->rows[i].v[k])) return 1;
    return 0;
}

/* gnuplot single-quoted string: a quote is doubled; nothing else is special. */
static void gp_quote(FILE *g, const char *s)
{
    fputc('\'', g);
    for (; *s; s++) {
        if (*s == '\'') fputc('\'', g);
        fputc(*s, g);
    }
    fputc('\'', g);
}

/* POSIX shell single-quoted string */
static int sh_quote(char *dst, size_t cap, const char *s)
{
    size_t o = 0;
    if (o + 1 >= cap) return -1;
    dst[o++] = '\'';
    for (; *s; s++) {
        const char *piece = *s == '\'' ? "'\\''" : NULL;
        size_t pl = piece ? 4 : 1;
        if (o + pl + 2 >= cap) return -1;
        if (piece) memcpy(dst + o, piece, pl);
        else dst[o] = *s;
        o += pl;
    }
    dst[o++] = '\'';
    dst[o] = 0;
    return 0;
}

/* gnuplot on $PATH, as the shell would find it (so a missing one is one clear message
 * instead of the shell's "not found" line). */
static int find_gnuplot(char *out, size_t cap)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/bin:/bin";
    while (*path) {
        const char *c = strchr(path, ':');
        size_t n = c ? (size_t)(c - path) : strlen(path);
        if (n == 0) snprintf(out, cap, "./gnuplot");
        else snprintf(out, cap, "%.*s/gnuplot", (int)n, path);
        struct stat sb;
        if (stat(out, &sb) == 0 && S_ISREG(sb.st_mode) && access(out, X_OK) == 0) return 0;
        path += n + (c ? 1 : 0);
    }
    return -1;
}

/* a tick step for about 12 integer ticks at most: 1, 2, 5, 10, 20, 50, ... */
static long tick_step(double span)
{
    long s = 1;
    for (;;) {
        if (span / (double)s <= 12) return s;
        if (span / (double)(2 * s) <= 12) return 2 * s;
        if (span / (double)(5 * s) <= 12) return 5 * s;
        s *= 10;
    }
}

/* y range of a panel: the data with 6 % room, never below 0 for data that is not (loss,
 * accuracy, RMSE), never above 1 for accuracy */
static void set_yrange(FILE *g, const nt_history *cv, const int cols[3], int is_acc)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int s = 0; s < 3; s++)
        for (int i = 0; i < cv->n; i++) {
            double v = cv->rows[i].v[cols[s]];
            if (isnan(v)) continue;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    if (!(lo <= hi)) { fputs("set autoscale y\n", g); return; }
    double span = hi - lo;
    if (span <= 0) span = fabs(hi) > 0 ? fabs(hi) * 0.1 : 0.1;
    double y0 = lo - 0.06 * span, y1 = hi + 0.06 * span;
    if (lo >= 0 && y0 < 0) y0 = 0;
    if (is_acc && hi <= 1 && y1 > 1) y1 = 1;
    fprintf(g, "set yrange [%.9g:%.9g]\n", y0, y1);
}

static void write_series(FILE *g, const nt_history *cv, const int cols[3], const char *const names[3])
{
    static const char *const style[3] = {
        "lc rgb '#1f77b4' lw 2 pt 7", "lc rgb '#ff7f0e' lw 2 pt 5", "lc rgb '#2ca02c' lw 2 dt 2 pt 9"};
    double ps = cv->n <= 2 ? 1.4 : 0.7; /* a lone point must be visible */
    const char *sep = "plot ";
    for (int s = 0; s < 3; s++) {
        if (!has_col(cv, cols[s])) continue;
        /* points up to 40 epochs; beyond that they would merge into a thick line */
        fprintf(g, "%s$metrics using 1:%d with %s %s ps %.1f title '%s'", sep, cols[s] + 1,
                cv->n > 40 ? "lines" : "linespoints", style[s], s == 2 ? ps * 1.15 : ps, names[s]);
        sep = ", \\\n     ";
    }
    fputc('\n', g);
}

/* Writes the gnuplot script for cv to g; the image goes to png (a path). */
static void write_script(FILE *g, const nt_history *cv, const char *png, const char *title, int w, int h)
{
    fprintf(g, "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
               "  set terminal pngcairo size %d,%d noenhanced font 'sans,10' linewidth 1\n"
               "} else {\n"
               "  set terminal png size %d,%d noenhanced\n"
               "}\n", w, h, w, h);
    fputs("set output ", g);
    gp_quote(g, png);
    fputc('\n', g);
    /* the data: the history's columns (column k + 1 is history column k); NaN is an
     * undefined point */
    fputs("$metrics << EOD\n", g);
    for (int i = 0; i < cv->n; i++) {
        for (int k = 0; k < NT_H_NCOLS; k++) {
            double v = cv->rows[i].v[k];
            if (isnan(v)) fputs(k ? " NaN" : "NaN", g);
            else fprintf(g, k ? " %.9g" : "%.0f", v);
        }
        fputc('\n', g);
    }
    fputs("EOD\n", g);
    double e0 = cv->rows[0].v[NT_H_EPOCH], e1 = cv->rows[cv->n - 1].v[NT_H_EPOCH];
    /* room so the first and last points do not sit on the frame */
    double pad = e1 > e0 ? (e1 - e0) * 0.04 : 0.5;
    if (pad < 0.2) pad = 0.2;
    fprintf(g, "set xrange [%.3f:%.3f]\n", e0 - pad, e1 + pad);
    fprintf(g, "set xtics %ld\nunset mxtics\nset format x '%%.0f'\n", tick_step(e1 - e0));
    fputs("set grid xtics ytics lt 1 lc rgb '#e4e4e4' lw 1\n"
          "set border 3 lc rgb '#404040'\nset tics nomirror out\n"
          "set key opaque box lc rgb '#c0c0c0' samplen 2.5 spacing 1.1\n"
          "set xlabel 'epoch'\n", g);
    fputs("set multiplot layout 1,2 title ", g);
    gp_quote(g, title);
    fputs(" font ',11'\n", g);
    /* left: loss (decreasing: the top right is free) */
    fputs("set title 'Loss'\nset ylabel 'loss'\nset key top right\nset format y '%g'\n", g);
    static const char *const names[3] = {"train", "validation", "test"};
    set_yrange(g, cv, loss_cols, 0);
    write_series(g, cv, loss_cols, names);
    /* right: accuracy rises (bottom right free), RMSE falls (top right free) */
    if (cv->regression)
        fputs("set title 'RMSE'\nset ylabel 'RMSE'\nset key top right\n", g);
    else
        fputs("set title 'Accuracy'\nset ylabel 'accuracy'\nset key bottom right\n", g);
    set_yrange(g, cv, metric_cols, !cv->regression);
    write_series(g, cv, metric_cols, names);
    fputs("unset multiplot\nset output\n", g);
}

typedef struct { const char *dir, *out; long w, h; } plot_args;
enum { O_OUT = 'o', O_SIZE = 0x100 };

static int plot_opt(void *user, int val, const char *arg, nt_err *e)
{
    plot_args *a = user;
    char tail;
    switch (val) {
    case O_OUT: a->out = arg; return 0;
    case O_SIZE:
        if (sscanf(arg, "%ldx%ld%c", &a->w, &a->h, &tail) != 2 || a->w < 200 || a->h < 150 ||
            a->w > 10000 || a->h > 10000)
            return nt_fail(e, "--size '%s': expected WxH, e.g. 1000x450 (200..10000 x 150..10000)", arg);
        return 0;
    case NN_CLI_POS: /* RUN_DIR */
        if (a->dir)
            return nt_fail(e, "plot takes one RUN_DIR, got '%s' and '%s' (try: nntrain plot --help)",
                           a->dir, arg);
        a->dir = arg;
        return 0;
    default:
        return 0;
    }
}

/* Parses plot's arguments (argv[0] = "plot"); 0 to run, NN_CLI_DONE, or NT_EXIT_USAGE. */
static int plot_parse(int argc, char **argv, plot_args *a, nt_err *e)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, O_OUT}, {"size", required_argument, NULL, O_SIZE}, {0}};
    nn_cli cli = {.tool = "nntrain", .cmd = "plot", .usage = plot_usage, .shortopts = "o:",
                  .longopts = opts, .on_opt = plot_opt, .user = a, .maxpos = -1};
    int st = nn_cli_parse(&cli, argc, argv, e);
    if (st) return st;
    if (!a->dir) return nt_fail(e, "plot needs RUN_DIR (try: nntrain plot --help)"), NT_EXIT_USAGE;
    if (!*a->dir) return nt_fail(e, "plot: RUN_DIR is empty"), NT_EXIT_USAGE;
    if (a->out && !*a->out) return nt_fail(e, "--out: empty file name"), NT_EXIT_USAGE;
    return 0;
}

/* RUN_DIR/metrics.csv and the image path (default RUN_DIR/curves.png). Returns 0 or an
 * NT_EXIT_* code with the message printed. */
static int plot_paths(const plot_args *a, char *csv, char *defout, const char **out)
{
    struct stat sb;
    if (stat(a->dir, &sb) != 0)
        return perr(NT_EXIT_INPUT, "%s: %s", a->dir, errno == ENOENT ? "no such run directory" : strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return perr(NT_EXIT_INPUT, "%s: not a directory (nntrain plot RUN_DIR)", a->dir);
    if (snprintf(csv, PATH_MAX, "%s/metrics.csv", a->dir) >= PATH_MAX ||
        snprintf(defout, PATH_MAX, "%s/curves.png", a->dir) >= PATH_MAX)
        return perr(NT_EXIT_USAGE, "%s: path too long", a->dir);
    *out = a->out ? a->out : defout;
    if (strchr(*out, '\n') || strchr(*out, '\r'))
        return perr(NT_EXIT_USAGE, "--out: a file name with a newline is not supported");
    return 0;
}

/* gnuplot's first error line from errf (then removed), when it failed. */
static void gnuplot_message(const char *errf, char *msg, size_t cap)
{
    msg[0] = 0;
    FILE *ef = fopen(errf, "r");
    if (ef) {
        char l[512];
        while (fgets(l, sizeof l, ef)) {
            char *t = nn_trim(l);
            t[strcspn(t, "\r\n")] = 0;
            if (*t && strspn(t, "^ ") != strlen(t)) { /* skip gnuplot's caret lines */
                snprintf(msg, cap, "%s", t);
                if (strstr(t, "rror") || strstr(t, "annot")) break;
            }
        }
        fclose(ef);
    }
    unlink(errf);
}

/* Draws cv into out: gnuplot writes tmp (out.tmp.<pid>), which is renamed into place only
 * when it is a PNG. Returns 0 or an NT_EXIT_* code with the message printed. */
static int render(const nt_history *cv, const plot_args *a, const char *out)
{
    char gp[PATH_MAX], tmp[PATH_MAX + 32], errf[] = "/tmp/nntrain-plot-XXXXXX";
    if (find_gnuplot(gp, sizeof gp))
        return perr(NT_EXIT_RUNTIME, "%s: gnuplot not found; apt-get install gnuplot-nox", out);
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp)
        return perr(NT_EXIT_USAGE, "%s: path too long", out);
    /* create the file ourselves first: a missing or read-only directory is a clear message */
    FILE *probe = fopen(tmp, "w");
    if (!probe) return perr(NT_EXIT_RUNTIME, "%s: cannot create: %s", out, strerror(errno));
    fclose(probe);
    int efd = mkstemp(errf);
    char cmd[3 * PATH_MAX + 64], q1[2 * PATH_MAX], q2[64];
    if (efd < 0 || sh_quote(q1, sizeof q1, gp) || sh_quote(q2, sizeof q2, errf)) {
        if (efd >= 0) { close(efd); unlink(errf); }
        unlink(tmp);
        return perr(NT_EXIT_RUNTIME, "cannot create a temporary file for gnuplot's messages");
    }
    close(efd);
    snprintf(cmd, sizeof cmd, "%s 2>%s", q1, q2);

    /* "runs/fashion/" -> "runs/fashion" */
    char title[PATH_MAX + 64], d2[PATH_MAX];
    snprintf(d2, sizeof d2, "%s", a->dir);
    for (size_t n = strlen(d2); n > 1 && d2[n - 1] == '/'; n--) d2[n - 1] = 0;
    snprintf(title, sizeof title, "%s: %d epoch%s%s", d2, cv->n, cv->n == 1 ? "" : "s",
             has_col(cv, NT_H_VAL_LOSS) ? "" : " (no validation split)");

    fflush(NULL);
    FILE *g = popen(cmd, "w");
    if (!g) {
        int er = errno;
        unlink(tmp);
        unlink(errf);
        return perr(NT_EXIT_RUNTIME, "cannot run %s: %s", gp, strerror(er));
    }
    /* a gnuplot that dies early must not kill us with SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    write_script(g, cv, tmp, title, (int)a->w, (int)a->h);
    int wst = pclose(g);
    sigaction(SIGPIPE, &old, NULL);
    char msg[512];
    gnuplot_message(errf, msg, sizeof msg);

    int exited = wst != -1 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0, ok = 0;
    unsigned char sig[8] = {0};
    FILE *pf = exited ? fopen(tmp, "rb") : NULL;
    if (pf) {
        ok = fread(sig, 1, 8, pf) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
        fclose(pf);
    }
    if (!ok) {
        unlink(tmp);
        if (exited)
            return perr(NT_EXIT_RUNTIME, "%s: gnuplot wrote no PNG image%s%s", out, *msg ? ": " : "", msg);
        return perr(NT_EXIT_RUNTIME, "%s: gnuplot failed%s%s", out, *msg ? ": " : "", msg);
    }
    if (rename(tmp, out) != 0) {
        int er = errno;
        unlink(tmp);
        return perr(NT_EXIT_RUNTIME, "%s: cannot rename %s into place: %s", out, tmp, strerror(er));
    }
    return 0;
}

int nt_plot_main(int argc, char **argv)
{
    plot_args a = {.w = 1000, .h = 450};
    nt_err e = {{0}};
    int st = plot_parse(argc, argv, &a, &e);
    if (st == NN_CLI_DONE) return 0;
    if (st) return perr(st, "%s", e.msg);
    char csv[PATH_MAX], defout[PATH_MAX];
    const char *out = NULL;
    if ((st = plot_paths(&a, csv, defout, &out))) return st;
    nt_history cv;
    if ((st = nt_history_read_csv(&cv, csv, &e))) return perr(st, "%s", e.msg);
    if (!(st = render(&cv, &a, out)))
        printf("%s: %d epoch%s plotted\n", out, cv.n, cv.n == 1 ? "" : "s");
    nt_history_free(&cv);
    return st;
}
