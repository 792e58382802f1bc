/* Per-epoch metrics: the console line and metrics.csv (rank 0 only). */
#include "log.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

int nt_metrics_open(nt_metrics *m, const char *dir, const nt_history *h, nt_err *e)
{
    memset(m, 0, sizeof *m);
    m->h = h;
    snprintf(m->path, sizeof m->path, "%s/metrics.csv", dir);
    m->f = fopen(m->path, "w");
    if (!m->f) return nt_fail(e, "%s: cannot create: %s", m->path, strerror(errno));
    nt_history_csv_header(h, m->f);
    fflush(m->f);
    return 0;
}

void nt_metrics_row(nt_metrics *m, const nt_hrow *r)
{
    if (!m->f) return;
    nt_history_csv_row(m->h, r, m->f);
    fflush(m->f);
}

void nt_metrics_close(nt_metrics *m)
{
    if (m->f) fclose(m->f);
    m->f = NULL;
}

/* ---- reporter ---------------------------------------------------------------------------- */

void nt_report_init(nt_reporter *r, int rank, int quiet, int verbose, int json, int progress)
{
    memset(r, 0, sizeof *r);
    r->rank0 = rank == 0;
    r->quiet = quiet;
    r->verbose = verbose && !quiet;
    r->json = json;
    if (progress < 0) {
        /* Open MPI gives every rank a pseudo-terminal for stdout even when mpirun's own output
         * goes to a file, so under mpirun a terminal here proves nothing: launch/mpirun.sh
         * (which can see its own stdout) exports NNTRAIN_PROGRESS=1, or pass --progress. */
        const char *env = getenv("NNTRAIN_PROGRESS");
        if (env && *env) progress = strcmp(env, "0") != 0;
        else progress = isatty(STDOUT_FILENO) && !getenv("OMPI_COMM_WORLD_SIZE");
    }
    r->progress = progress && !quiet && !json && r->rank0;
}

/* JSON string literal of s (escapes quotes, backslashes and control characters). */
static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

/* A number, or null for NaN/Inf (JSON has neither). */
static void json_num(FILE *f, const char *key, double v)
{
    fprintf(f, ",\"%s\":", key);
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

static void json_open(FILE *f, const char *event)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(f, "{\"event\":");
    json_str(f, event);
    fprintf(f, ",\"time\":%.3f", (double)ts.tv_sec + ts.tv_nsec * 1e-9);
}

/* {"event": event, "time": ..., "message": text} on stdout */
static void json_message(const char *event, const char *text)
{
    json_open(stdout, event);
    fputs(",\"message\":", stdout);
    json_str(stdout, text);
    fputs("}\n", stdout);
    fflush(stdout);
}

static void clear_bar(nt_reporter *r)
{
    if (!r->bar_shown) return;
    fputs("\r\033[K", stdout);
    r->bar_shown = 0;
}

void nt_report_start(nt_reporter *r, const nt_run_info *i)
{
    if (!r->rank0 || r->quiet) return;
    FILE *f = stdout;
    if (r->json) {
        json_open(f, "start");
        fputs(",\"version\":", f); json_str(f, i->version);
        fprintf(f, ",\"ranks\":%d,\"nodes\":%d,\"threads\":%d", i->ranks, i->nodes, i->threads);
        fputs(",\"blas_kernel\":", f); json_str(f, i->blas);
        fputs(",\"model\":", f); json_str(f, i->model);
        fputs(",\"activation\":", f); json_str(f, i->activation);
        fprintf(f, ",\"params\":%zu", i->params);
        fputs(",\"loss\":", f); json_str(f, i->loss);
        fputs(",\"optimizer\":", f); json_str(f, i->optimizer);
        json_num(f, "lr", i->lr);
        fprintf(f, ",\"train_rows\":%lld,\"val_rows\":%lld,\"test_rows\":%lld,\"batch\":%lld,"
                   "\"batch_per_rank_min\":%lld,\"batch_per_rank_max\":%lld,\"steps_per_epoch\":%lld,"
                   "\"epochs\":%d,\"streaming\":%s",
                i->n_train, i->n_val, i->n_test, i->batch, i->shard_min, i->shard_max, i->steps,
                i->epochs, i->streaming ? "true" : "false");
        json_num(f, "cache_mb", i->cache_mb);
        fprintf(f, ",\"overlap\":%s", i->overlap_mb > 0 ? "true" : "false");
        if (i->overlap_mb > 0) json_num(f, "bucket_mb", i->overlap_mb);
        fputs(",\"exchange\":", f); json_str(f, i->exchange);
        fprintf(f, ",\"deterministic\":%s", i->deterministic ? "true" : "false");
        if (i->deterministic) fprintf(f, ",\"deterministic_chunk\":%lld", i->chunk);
        json_num(f, "optimizer_state_bytes_per_rank", i->state_bytes);
        fprintf(f, ",\"accumulate\":%d", i->accumulate > 1 ? i->accumulate : 1);
        fputs(",\"config\":", f); json_str(f, i->config);
        fputs(",\"output_dir\":", f); json_str(f, i->out_dir);
        fputs("}\n", f);
    } else {
        fprintf(f, "nntrain %s | %d rank%s on %d node%s x %d BLAS thread%s (%s) | config %s -> %s\n",
                i->version, i->ranks, i->ranks > 1 ? "s" : "", i->nodes, i->nodes > 1 ? "s" : "",
                i->threads, i->threads > 1 ? "s" : "", i->blas, i->config, i->out_dir);
        fprintf(f, "model %s %s, %zu params | %s loss | %s lr %g", i->model, i->activation,
                i->params, i->loss, i->optimizer, i->lr);
        if (i->overlap_mb > 0) fprintf(f, " | allreduce overlapped, %g MiB buckets", i->overlap_mb);
        if (!strcmp(i->exchange, "zero1")) {
            const double b = i->state_bytes;
            if (b >= 1048576) fprintf(f, " | zero1: optimizer state %.3g MiB per rank", b / 1048576);
            else if (b >= 1024) fprintf(f, " | zero1: optimizer state %.3g KiB per rank", b / 1024);
            else fprintf(f, " | zero1: optimizer state %.0f bytes per rank", b);
        }
        if (i->deterministic) fprintf(f, " | deterministic, chunks of %lld rows", i->chunk);
        fputc('\n', f);
        fprintf(f, "data: train %lld, val %lld", i->n_train, i->n_val);
        if (i->n_test > 0) fprintf(f, ", test %lld", i->n_test);
        fprintf(f, " rows (%s) | batch %lld global, %lld-%lld per rank", i->streaming ? "streaming" : "resident",
                i->batch, i->shard_min, i->shard_max);
        if (i->accumulate > 1) fprintf(f, " in %d micro-batches", i->accumulate);
        fprintf(f, ", %lld steps/epoch x %d epochs\n", i->steps, i->epochs);
    }
    fflush(f);
}

void nt_report_event(nt_reporter *r, const char *event, const char *text)
{
    if (!r->rank0) return;
    clear_bar(r);
    if (r->json) {
        json_message(event, text);
    } else {
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
    }
}

void nt_report_warning(nt_reporter *r, const char *text)
{
    if (!r->rank0) return;
    clear_bar(r);
    if (r->json) {
        json_message("warning", text);
    } else {
        fprintf(stderr, "nntrain: warning: %s\n", text);
        fflush(stderr);
    }
}

static void fmt_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "--:--"); return; }
    int t = s < 359999 ? (int)(s + 0.5) : 359999; /* 99:59:59 at most */
    if (t >= 3600) snprintf(buf, n, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, n, "%d:%02d", t / 60, t % 60);
}

void nt_report_progress(nt_reporter *r, int epoch, int epochs, long long step, long long steps,
                        double samples, double secs, double loss, double acc, int regression)
{
    if (!r->progress) return;
    double now = nt_now();
    if (step < steps && now - r->last_draw < 0.2) return;
    r->last_draw = now;
    int cols = 80;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40) cols = ws.ws_col;
    char eta[32], rate[32], line[512], tail[200];
    double sps = secs > 0 ? samples / secs : 0;
    fmt_duration(eta, sizeof eta, sps > 0 && step > 0 ? secs * (double)(steps - step) / (double)step : NAN);
    if (sps >= 1e4) snprintf(rate, sizeof rate, "%.1fk", sps / 1e3);
    else snprintf(rate, sizeof rate, "%.0f", sps);
    if (regression) snprintf(tail, sizeof tail, " %lld/%lld %s samples/s ETA %s loss %.4f",
                             step, steps, rate, eta, loss);
    else snprintf(tail, sizeof tail, " %lld/%lld %s samples/s ETA %s loss %.4f acc %.4f",
                  step, steps, rate, eta, loss, acc);
    int head = snprintf(line, sizeof line, "epoch %d/%d ", epoch, epochs);
    const int width = 20; /* the line is cut at the terminal's width */
    int pos = head;
    {
        int fill = steps > 0 ? (int)((double)width * (double)step / (double)steps) : 0;
        line[pos++] = '[';
        for (int k = 0; k < width; k++) line[pos++] = k < fill ? '#' : '.';
        line[pos++] = ']';
    }
    snprintf(line + pos, sizeof line - (size_t)pos, "%s", tail);
    line[cols - 1 < (int)sizeof line ? cols - 1 : (int)sizeof line - 1] = '\0';
    fprintf(stdout, "\r%s\033[K", line);
    fflush(stdout);
    r->bar_shown = 1;
}

void nt_report_epoch(nt_reporter *r, const nt_history *h, const nt_hrow *row, int epochs,
                     const double timing[4])
{
    if (!r->rank0 || r->quiet) return;
    FILE *f = stdout;
    clear_bar(r);
    const double *v = row->v;
    if (r->json) {
        json_open(f, "epoch");
        fprintf(f, ",\"epoch\":%d,\"epochs\":%d", (int)v[NT_H_EPOCH], epochs);
        for (const int *c = nt_history_json_order; *c >= 0; c++) {
            const char *name = nt_history_name(h, *c);
            if (name && !(!h->has_val && *c >= NT_H_VAL_LOSS && *c <= NT_H_VAL_M2))
                json_num(f, name, v[*c]);
        }
        if (timing) {
            json_num(f, "train_s", timing[0]);
            json_num(f, "eval_s", timing[2]);
            json_num(f, "checkpoint_s", timing[3]);
        }
        fputs("}\n", f);
    } else {
        const char *fmt = h->regression ? "  %s loss %.4f rmse %.4f mae %.4f" : "  %s loss %.4f acc %.4f";
        const double *tr = &v[NT_H_SET(NT_SET_TRAIN)], *va = &v[NT_H_SET(NT_SET_VAL)],
                     *te = &v[NT_H_SET(NT_SET_TEST)];
        fprintf(f, "epoch %d/%d", (int)v[NT_H_EPOCH], epochs);
        fprintf(f, fmt, "train", tr[0], tr[1], tr[2]);
        if (h->has_val) fprintf(f, fmt, "val", va[0], va[1], va[2]);
        if (h->has_test) fprintf(f, fmt, "test", te[0], te[1], te[2]);
        if (h->early) fprintf(f, "  best epoch %.0f", v[NT_H_BEST_EPOCH]);
        fprintf(f, "  lr %.3g  %.0f samples/s (data wait %.2f s)  %.1f s\n", v[NT_H_LR],
                v[NT_H_SAMPLES_PER_S], v[NT_H_DATA_WAIT_S], v[NT_H_ELAPSED_S]);
        if (r->verbose && timing)
            fprintf(f, "  timing: train %.3f s (of which data wait %.3f s, gradient allreduce %.3f s of "
                       "which %.3f s not hidden behind backward), evaluation %.3f s, checkpoint %.3f s\n",
                    timing[0], timing[1], v[NT_H_ALLREDUCE_S], v[NT_H_EXPOSED_S], timing[2], timing[3]);
    }
    fflush(f);
}
