/* `nntrain plot RUN_DIR [--out FILE.png] [--size WxH]`: learning curves from metrics.csv,
 * drawn by gnuplot. No MPI. Columns are found by their names in history.c's table, so
 * classification (*_acc) and regression (*_rmse, *_mae) runs, with or without test columns,
 * and columns added later all work. The PNG is written to FILE.png.tmp.<pid> and renamed when
 * gnuplot succeeded, so a failure never leaves a partial image or replaces a good one. */
#include "plot.h"
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

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
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

int nt_plot_main(int argc, char **argv)
{
    const char *dir = NULL, *out = NULL;
    long w = 1000, h = 450;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(plot_usage, stdout); return 0; }
    }
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--out") || !strcmp(argv[i], "-o")) {
            if (i + 1 >= argc) return perr(NT_EXIT_USAGE, "missing value after '%s' (try: nntrain plot --help)", argv[i]);
            out = argv[++i];
        } else if (!strncmp(argv[i], "--out=", 6)) {
            out = argv[i] + 6;
        } else if (!strcmp(argv[i], "--size") || !strncmp(argv[i], "--size=", 7)) {
            const char *v = argv[i][6] == '=' ? argv[i] + 7 : (i + 1 < argc ? argv[++i] : NULL);
            char tail;
            if (!v || sscanf(v, "%ldx%ld%c", &w, &h, &tail) != 2 || w < 200 || h < 150 || w > 10000 || h > 10000)
                return perr(NT_EXIT_USAGE, "--size '%s': expected WxH, e.g. 1000x450 (200..10000 x 150..10000)",
                            v ? v : "");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return perr(NT_EXIT_USAGE, "unknown option '%s' for plot (try: nntrain plot --help)", argv[i]);
        } else if (!dir) {
            dir = argv[i];
        } else {
            return perr(NT_EXIT_USAGE, "plot takes one RUN_DIR, got '%s' and '%s' (try: nntrain plot --help)", dir, argv[i]);
        }
    }
    if (!dir) return perr(NT_EXIT_USAGE, "plot needs RUN_DIR (try: nntrain plot --help)");
    if (!*dir) return perr(NT_EXIT_USAGE, "plot: RUN_DIR is empty");
    if (out && !*out) return perr(NT_EXIT_USAGE, "--out: empty file name");

    struct stat sb;
    if (stat(dir, &sb) != 0)
        return perr(NT_EXIT_INPUT, "%s: %s", dir, errno == ENOENT ? "no such run directory" : strerror(errno));
    if (!S_ISDIR(sb.st_mode)) return perr(NT_EXIT_INPUT, "%s: not a directory (nntrain plot RUN_DIR)", dir);
    char csv[PATH_MAX], defout[PATH_MAX];
    if (snprintf(csv, sizeof csv, "%s/metrics.csv", dir) >= (int)sizeof csv ||
        snprintf(defout, sizeof defout, "%s/curves.png", dir) >= (int)sizeof defout)
        return perr(NT_EXIT_USAGE, "%s: path too long", dir);
    if (!out) out = defout;
    if (strchr(out, '\n') || strchr(out, '\r'))
        return perr(NT_EXIT_USAGE, "--out: a file name with a newline is not supported");

    nt_history cv;
    nt_err e;
    int st = nt_history_read_csv(&cv, csv, &e);
    if (st) return perr(st, "%s", e.msg);

    char gp[PATH_MAX], tmp[PATH_MAX + 32], errf[] = "/tmp/nntrain-plot-XXXXXX";
    if (find_gnuplot(gp, sizeof gp)) {
        nt_history_free(&cv);
        return perr(NT_EXIT_RUNTIME, "%s: gnuplot not found; apt-get install gnuplot-nox", out);
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid()) >= (int)sizeof tmp) {
        nt_history_free(&cv);
        return perr(NT_EXIT_USAGE, "%s: path too long", out);
    }
    /* create the file ourselves first: a missing or read-only directory is a clear message */
    FILE *probe = fopen(tmp, "w");
    if (!probe) {
        int er = errno;
        nt_history_free(&cv);
        return perr(NT_EXIT_RUNTIME, "%s: cannot create: %s", out, strerror(er));
    }
    fclose(probe);
    int efd = mkstemp(errf);
    char cmd[3 * PATH_MAX + 64], q1[2 * PATH_MAX], q2[64];
    if (efd < 0 || sh_quote(q1, sizeof q1, gp) || sh_quote(q2, sizeof q2, errf)) {
        if (efd >= 0) { close(efd); unlink(errf); }
        unlink(tmp);
        nt_history_free(&cv);
        return perr(NT_EXIT_RUNTIME, "cannot create a temporary file for gnuplot's messages");
    }
    close(efd);
    snprintf(cmd, sizeof cmd, "%s 2>%s", q1, q2);

    char title[PATH_MAX + 64];
    /* "runs/fashion/" -> "runs/fashion" */
    char d2[PATH_MAX];
    snprintf(d2, sizeof d2, "%s", dir);
    for (size_t n = strlen(d2); n > 1 && d2[n - 1] == '/'; n--) d2[n - 1] = 0;
    snprintf(title, sizeof title, "%s: %d epoch%s%s", d2, cv.n, cv.n == 1 ? "" : "s",
             has_col(&cv, NT_H_VAL_LOSS) ? "" : " (no validation split)");

    fflush(NULL);
    FILE *g = popen(cmd, "w");
    if (!g) {
        int er = errno;
        unlink(tmp);
        unlink(errf);
        nt_history_free(&cv);
        return perr(NT_EXIT_RUNTIME, "cannot run %s: %s", gp, strerror(er));
    }
    /* a gnuplot that dies early must not kill us with SIGPIPE */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    write_script(g, &cv, tmp, title, (int)w, (int)h);
    int wst = pclose(g);
    sigaction(SIGPIPE, &old, NULL);
    const int nep = cv.n;
    nt_history_free(&cv);

    /* gnuplot's first error line, when it failed */
    char msg[512] = "";
    FILE *ef = fopen(errf, "r");
    if (ef) {
        char l[512];
        while (fgets(l, sizeof l, ef)) {
            char *t = trim(l);
            t[strcspn(t, "\r\n")] = 0;
            if (*t && strspn(t, "^ ") != strlen(t)) { /* skip gnuplot's caret lines */
                snprintf(msg, sizeof msg, "%s", t);
                if (strstr(t, "rror") || strstr(t, "annot")) break;
            }
        }
        fclose(ef);
    }
    unlink(errf);

    int ok = wst != -1 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0;
    unsigned char sig[8] = {0};
    FILE *pf = ok ? fopen(tmp, "rb") : NULL;
    if (pf) {
        ok = fread(sig, 1, 8, pf) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
        fclose(pf);
    } else ok = 0;
    if (!ok) {
        unlink(tmp);
        if (wst != -1 && WIFEXITED(wst) && WEXITSTATUS(wst) == 0)
            return perr(NT_EXIT_RUNTIME, "%s: gnuplot wrote no PNG image%s%s", out, *msg ? ": " : "", msg);
        return perr(NT_EXIT_RUNTIME, "%s: gnuplot failed%s%s", out, *msg ? ": " : "", *msg ? msg : "");
    }
    if (rename(tmp, out) != 0) {
        int er = errno;
        unlink(tmp);
        return perr(NT_EXIT_RUNTIME, "%s: cannot rename %s into place: %s", out, tmp, strerror(er));
    }
    printf("%s: %d epoch%s plotted\n", out, nep, nep == 1 ? "" : "s");
    return 0;
}
