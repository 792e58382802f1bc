/* Unit tests for src/worker/ckpt.c at 1-3 ranks: nt_ckpt_save then nt_ckpt_load round-trips
 * the parameters, the optimizer state, the counters (nt_ckpt_state) and the metric history
 * bit for bit; a checkpoint written on P ranks loads on Q ranks; `keep` removes the older
 * ones; nt_ckpt_find ignores a stale .tmp and finds nothing where there is nothing; a shape or
 * optimizer mismatch is one error naming the file and what differs. Every check combines the
 * verdicts of all ranks before asserting, so one failing rank fails the test on all. */
#include "ckpt.h"
#include "config.h"
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

static comm_t WORLD;
static char dir[256];

static int all_ok(int ok)
{
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return ok;
}
static int all_sum(int v)
{
    MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    return v;
}
/* a verdict with its reason on this rank's stdout */
static int expect(int cond, const char *what)
{
    if (!cond) printf("  rank %d: %s\n", WORLD.rank, what);
    return cond;
}

/* A deterministic float with an arbitrary bit pattern (any sign, exponent spread). */
static float fval(uint64_t i, uint64_t salt)
{
    uint64_t z = i * 0x9e3779b97f4a7c15ULL + salt;
    z = (z ^ (z >> 31)) * 0xbf58476d1ce4e5b9ULL;
    z ^= z >> 29;
    return (float)((double)(int64_t)(z >> 11) * 0x1.0p-40) * (float)(1 + (z & 7));
}

/* ---- the metric history: all of it lives here, so a change of the history type stays here -- */
#define MAXH 16
typedef nt_history hist_t;
static int hist_init(hist_t *h) { return nt_history_init(h, MAXH, 0, 1, 1); }
/* rows rows of arbitrary values in the stored columns (the others are not kept: 0) */
static void hist_fill(hist_t *h, int rows, uint64_t salt)
{
    h->n = 0;
    for (int i = 0; i < rows; i++) {
        nt_hrow r;
        for (int c = 0; c < NT_H_NCOLS; c++)
            r.v[c] = c < NT_H_STORED ? (double)fval((uint64_t)(i * NT_H_NCOLS + c), salt) / 3.0 : 0;
        nt_history_add(h, &r);
    }
}
static int hist_same(const hist_t *a, const hist_t *b)
{
    int same = a->n == b->n;
    for (int i = 0; same && i < a->n; i++)
        same = !memcmp(a->rows[i].v, b->rows[i].v, sizeof(double) * NT_H_STORED);
    return same;
}
static int ck_save(const char *d, int keep, const nn_model *m, const nn_optim *o,
                   const nt_ckpt_state *s, const nt_config *cfg, const hist_t *h, comm_t *c,
                   char *written, size_t wlen, nt_err *e)
{
    return nt_ckpt_save(d, keep, m, o, NULL, s, cfg, h, c, written, wlen, e);
}
static int ck_load(const char *path, nn_model *m, nn_optim *o, nt_ckpt_state *s, hist_t *h,
                   comm_t *c, nt_err *e)
{
    return nt_ckpt_load(path, m, o, s, h, c, e);
}
/* ------------------------------------------------------------------------------------------- */

/* A model, optimizer and counters as a run would have them; `fill` sets arbitrary values. */
typedef struct {
    nt_config cfg;
    nn_model m;
    nn_optim o;
    nt_ckpt_state s;
    hist_t h;
} run_t;

static int run_make(run_t *r, const char *ini, uint64_t fill)
{
    nt_err e = {{0}};
    memset(r, 0, sizeof *r);
    if (hist_init(&r->h)) return -1;
    if (nt_config_parse_string(&r->cfg, ini, "test", &e)) {
        printf("  config: %s\n", e.msg);
        return -1;
    }
    nn_model_spec sp = nt_config_model_spec(&r->cfg, 4, 0);
    if (nn_model_create_spec(&r->m, &sp) || nn_optim_create(&r->o, &r->cfg.opt, r->m.nparams))
        return -1;
    if (fill) {
        for (size_t i = 0; i < r->m.nparams; i++) r->m.params[i] = fval(i, fill);
        for (size_t i = 0; i < r->o.nstate; i++) r->o.state[i] = fval(i, fill + 1);
        r->o.step = 41;
        r->s = (nt_ckpt_state){.epoch = 4, .step_in_epoch = 5, .global_step = 41,
                               .steps_per_epoch = 12, .partial = {1.25, -0.5, 0.1, 96},
                               .elapsed_s = 12.345678901234567, .world_size = 3,
                               .seed = 0x9e3779b97f4a7c15ULL /* above 2^63 */};
        hist_fill(&r->h, 3, fill + 2);
    } else {
        r->s = (nt_ckpt_state){0};
        hist_fill(&r->h, 0, 0);
    }
    return 0;
}
static void run_free(run_t *r)
{
    nn_model_free(&r->m);
    nn_optim_free(&r->o);
    nt_history_free(&r->h);
}

static const char *ADAM_INI = "[model]\nlayers = 3, 5, 4, 2\nactivation = tanh\n"
                              "[optimizer]\nname = adam\nlr = 0.01\n";

/* Whether b equals a bit for bit, naming the first difference. */
static int same_run(const run_t *a, const run_t *b)
{
    int ok = expect(a->m.nparams == b->m.nparams &&
                    !memcmp(a->m.params, b->m.params, sizeof(float) * a->m.nparams), "parameters");
    ok &= expect(a->o.nstate == b->o.nstate && a->o.nstate > 0 &&
                 !memcmp(a->o.state, b->o.state, sizeof(float) * a->o.nstate), "optimizer state");
    ok &= expect(a->o.step == b->o.step, "optimizer step");
    const nt_ckpt_state *x = &a->s, *y = &b->s;
    ok &= expect(x->epoch == y->epoch && x->step_in_epoch == y->step_in_epoch &&
                 x->global_step == y->global_step && x->steps_per_epoch == y->steps_per_epoch &&
                 x->world_size == y->world_size && x->seed == y->seed, "counters");
    ok &= expect(!memcmp(x->partial, y->partial, sizeof x->partial) &&
                 !memcmp(&x->elapsed_s, &y->elapsed_s, sizeof x->elapsed_s), "partial sums / time");
    ok &= expect(hist_same(&a->h, &b->h), "metric history");
    return ok;
}

/* Save on all ranks, load on all ranks: everything comes back bit for bit (also an empty
 * history, as before the first epoch ends). */
static void test_roundtrip(void **st)
{
    (void)st;
    char d[300], written[4200] = "", want[320];
    snprintf(d, sizeof d, "%s/roundtrip", dir);
    run_t a, b;
    int ok = run_make(&a, ADAM_INI, 11) == 0 && run_make(&b, ADAM_INI, 0) == 0;
    nt_err e = {{0}};
    ok = all_ok(ok) && ck_save(d, 0, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, written,
                               sizeof written, &e) == 0;
    snprintf(want, sizeof want, "%s/ckpt-41.h5", d);
    ok = ok && expect(!strcmp(written, want), "written path");
    ok = ok && ck_load(written, &b.m, &b.o, &b.s, &b.h, &WORLD, &e) == 0 && same_run(&a, &b);
    /* an empty history */
    a.s.global_step = 42;
    hist_fill(&a.h, 0, 0);
    hist_fill(&b.h, 5, 99);
    ok = ok && ck_save(d, 0, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, written, sizeof written, &e) == 0;
    ok = ok && ck_load(written, &b.m, &b.o, &b.s, &b.h, &WORLD, &e) == 0 && same_run(&a, &b);
    if (!ok && e.msg[0]) printf("  rank %d: %s\n", WORLD.rank, e.msg);
    run_free(&a);
    run_free(&b);
    assert_true(all_ok(ok));
}

/* Written on the first P ranks (a sub-communicator), read on the first Q: every P, Q in
 * 1..size. The optimizer state is written in P column blocks and must read back whole. */
static void test_p_to_q(void **st)
{
    (void)st;
    int ok = 1;
    for (int p = 1; p <= WORLD.size; p++)
        for (int q = 1; q <= WORLD.size; q++) {
            char d[300], path[320];
            snprintf(d, sizeof d, "%s/p%d-q%d", dir, p, q);
            snprintf(path, sizeof path, "%s/ckpt-41.h5", d);
            run_t a, b;
            int mk = run_make(&a, ADAM_INI, 100 + (uint64_t)(p * 10 + q)) == 0 &&
                     run_make(&b, ADAM_INI, 0) == 0;
            ok &= expect(mk, "setup");
            nt_err e = {{0}};
            for (int pass = 0; pass < 2; pass++) { /* 0: write on p ranks, 1: read on q */
                int n = pass ? q : p;
                MPI_Comm sub;
                MPI_Comm_split(MPI_COMM_WORLD, WORLD.rank < n ? 0 : MPI_UNDEFINED, WORLD.rank, &sub);
                if (sub == MPI_COMM_NULL) continue;
                comm_t c;
                comm_init(&c, sub);
                int r = mk ? (pass ? ck_load(path, &b.m, &b.o, &b.s, &b.h, &c, &e)
                                   : ck_save(d, 0, &a.m, &a.o, &a.s, &a.cfg, &a.h, &c, NULL, 0, &e))
                           : -1;
                if (r) printf("  p=%d q=%d rank %d: %s\n", p, q, WORLD.rank, e.msg);
                ok &= r == 0;
                if (pass && r == 0) {
                    int same = same_run(&a, &b);
                    if (!same) printf("  written on %d ranks, read on %d: differs\n", p, q);
                    ok &= same;
                }
                comm_free(&c);
                MPI_Comm_free(&sub);
            }
            run_free(&a);
            run_free(&b);
        }
    assert_true(all_ok(ok));
}

static int exists(const char *d, const char *name)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", d, name);
    return access(p, F_OK) == 0;
}
static int count_files(const char *d)
{
    int n = 0;
    for (int s = 0; s < 20; s++) {
        char name[64];
        snprintf(name, sizeof name, "ckpt-%d.h5", s);
        n += exists(d, name);
    }
    return n;
}

/* keep = 0 keeps every checkpoint; keep = 2 leaves the newest two (by step, not by name). */
static void test_keep(void **st)
{
    (void)st;
    char d[300], path[4200];
    snprintf(d, sizeof d, "%s/keep", dir);
    run_t a;
    int ok = all_ok(run_make(&a, ADAM_INI, 5) == 0);
    nt_err e = {{0}};
    static const int steps[] = {3, 9, 10, 2}; /* 10 sorts before 9 as text */
    for (int i = 0; i < 4 && ok; i++) {
        a.s.global_step = steps[i];
        ok = ck_save(d, 0, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, NULL, 0, &e) == 0;
    }
    ok = ok && expect(count_files(d) == 4, "keep = 0 removed a checkpoint");
    a.s.global_step = 11;
    ok = ok && ck_save(d, 2, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, NULL, 0, &e) == 0;
    MPI_Barrier(MPI_COMM_WORLD); /* rank 0 removes after the agreement */
    ok = ok && expect(count_files(d) == 2 && exists(d, "ckpt-10.h5") && exists(d, "ckpt-11.h5"),
                      "keep = 2 did not leave exactly ckpt-10 and ckpt-11");
    ok = ok && expect(nt_ckpt_find(d, &WORLD, path, sizeof path) == 1 &&
                      !strcmp(path + strlen(d), "/ckpt-11.h5"), "newest is not ckpt-11");
    run_free(&a);
    assert_true(all_ok(ok));
}

static int touch(const char *d, const char *name)
{
    char p[400];
    snprintf(p, sizeof p, "%s/%s", d, name);
    FILE *f = fopen(p, "w");
    if (!f) return -1;
    fputs("half-written", f);
    return fclose(f);
}

/* A stale .tmp (an interrupted write) and other look-alikes are never found, even with a
 * higher step; where there is no checkpoint (no directory, an empty one, only a .tmp) find
 * says so on every rank. */
static void test_find(void **st)
{
    (void)st;
    char d[300], path[4200];
    snprintf(d, sizeof d, "%s/find", dir);
    int ok = 1;
    strcpy(path, "untouched");
    ok &= expect(nt_ckpt_find(d, &WORLD, path, sizeof path) == 0, "found one in no directory");
    ok &= expect(!strcmp(path, "untouched"), "path written without a checkpoint");
    if (WORLD.rank == 0) ok &= mkdir(d, 0755) == 0;
    MPI_Barrier(MPI_COMM_WORLD);
    ok &= expect(nt_ckpt_find(d, &WORLD, path, sizeof path) == 0, "found one in an empty dir");
    if (WORLD.rank == 0)
        ok &= touch(d, "ckpt-99.h5.tmp") == 0 && touch(d, "ckpt-98.h5.bak") == 0 &&
              touch(d, "ckpt-x.h5") == 0 && touch(d, "model.h5") == 0;
    MPI_Barrier(MPI_COMM_WORLD);
    ok &= expect(nt_ckpt_find(d, &WORLD, path, sizeof path) == 0, "found a .tmp or look-alike");
    ok &= expect(nt_ckpt_find_local(d, path, sizeof path) == 0, "found (local) a .tmp");
    run_t a;
    nt_err e = {{0}};
    ok = all_ok(ok && run_make(&a, ADAM_INI, 5) == 0);
    a.s.global_step = 7;
    ok = ok && ck_save(d, 1, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, NULL, 0, &e) == 0;
    ok = ok && expect(nt_ckpt_find(d, &WORLD, path, sizeof path) == 1 &&
                      !strcmp(path + strlen(d), "/ckpt-7.h5"), "did not find ckpt-7 next to the .tmp");
    MPI_Barrier(MPI_COMM_WORLD);
    ok = ok && expect(exists(d, "ckpt-99.h5.tmp"), "keep removed the .tmp");
    run_free(&a);
    assert_true(all_ok(ok));
}

/* Loads a checkpoint written with ADAM_INI into a run made from `ini`; expects it to fail on
 * every rank with one "nntrain: error:" line in all (captured from stderr) whose text names
 * the file and contains `what`. */
static int mismatch(const char *path, const char *ini, const char *what)
{
    run_t b;
    int ok = run_make(&b, ini, 0) == 0;
    char cap[320];
    snprintf(cap, sizeof cap, "%s/stderr-%d", dir, WORLD.rank);
    fflush(stderr);
    int saved = dup(2), fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    nt_err e = {{0}};
    int st = ok ? ck_load(path, &b.m, &b.o, &b.s, &b.h, &WORLD, &e) : -1;
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fd);
    char text[2048] = "";
    FILE *f = fopen(cap, "r");
    size_t got = f ? fread(text, 1, sizeof text - 1, f) : 0;
    text[got] = 0;
    if (f) fclose(f);
    int lines = 0, named = 1;
    for (char *l = strstr(text, "nntrain: error: "); l; l = strstr(l + 1, "nntrain: error: ")) {
        lines++;
        char *end = strchr(l, '\n');
        if (end) *end = 0;
        printf("  %s\n", l);
        named = strstr(l, path) && strstr(l, what);
        if (end) *end = '\n';
    }
    ok &= expect(st == NT_EXIT_INPUT, "load did not fail with NT_EXIT_INPUT");
    ok &= expect(strstr(e.msg, path) && strstr(e.msg, what), "message lacks the file or the difference");
    ok &= expect(named, "printed line lacks the file or the difference");
    run_free(&b);
    ok = all_ok(ok);
    int total = all_sum(lines);
    if (total != 1) printf("  %d error lines (want 1) for: %s\n", total, what);
    return ok && total == 1;
}

static void test_mismatch(void **st)
{
    (void)st;
    char d[300], path[4200] = "";
    snprintf(d, sizeof d, "%s/mismatch", dir);
    run_t a;
    nt_err e = {{0}};
    int ok = all_ok(run_make(&a, ADAM_INI, 3) == 0);
    ok = ok && ck_save(d, 0, &a.m, &a.o, &a.s, &a.cfg, &a.h, &WORLD, path, sizeof path, &e) == 0;
    if (ok) {
        ok &= mismatch(path, "[model]\nlayers = 3, 6, 4, 2\n[optimizer]\nname = adam\n",
                       "layer0/weight has shape (5, 3), the model needs (6, 3)");
        ok &= mismatch(path, "[model]\nlayers = 3, 5, 4, 2, 2\n[optimizer]\nname = adam\n",
                       "layer3/weight");
        ok &= mismatch(path, "[model]\nlayers = 3, 5, 4, 2\n[optimizer]\nname = sgd\nmomentum = 0.9\n",
                       "checkpoint optimizer is adam, the configuration says sgd");
        ok &= mismatch(path, "[model]\nlayers = 3, 5, 4, 2\n[optimizer]\nname = adam\namsgrad = true\n",
                       "has 2 state slots, the configuration needs 3");
    }
    run_free(&a);
    assert_true(all_ok(ok));
}

static int setup(void **st)
{
    (void)st;
    int ok = 1;
    if (WORLD.rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/nntrain-ckpt-XXXXXX");
        ok = mkdtemp(dir) != NULL;
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    return all_ok(ok) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    MPI_Barrier(MPI_COMM_WORLD);
    if (WORLD.rank == 0) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd)) return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    comm_init(&WORLD, MPI_COMM_WORLD);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_p_to_q),
        cmocka_unit_test(test_keep),      cmocka_unit_test(test_find),
        cmocka_unit_test(test_mismatch),
    };
    int failed = cmocka_run_group_tests_name("ckpt", tests, setup, teardown);
    comm_free(&WORLD);
    MPI_Finalize();
    return failed ? 1 : 0;
}
