/* Unit tests for src/worker/pass.c at 1-4 ranks: a sharded, windowed pass visits every row of
 * the set exactly once across all ranks, in the set's order (identity, a given permutation
 * table or Feistel order, or an explicit list of file rows), hands each batch the features
 * and labels of the rows it names, and visits the same rows in the same order whatever the
 * window size; more ranks than rows leave empty shards that still take part. Each row's
 * features encode its file row, so a batch can be checked against the row it claims to be.
 * Verdicts are combined across ranks before asserting. */
#include "h5data.h"
#include "pass.h"
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

static comm_t WORLD;
static char dir[256];
#define NROWS 53 /* prime: no window or rank count divides it */
#define D 3
#define BMAX 4

static int all_ok(int ok)
{
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
    return ok;
}
static int expect(int cond, const char *what)
{
    if (!cond) printf("  rank %d: %s\n", WORLD.rank, what);
    return cond;
}

/* Row r of every test file: features (r, r / 2 + 1, 60 - r), label r % 7. The uint8 file
 * stores twice these with scale 0.5, so both files read back as the same features. */
static float feat(int64_t r, int j)
{
    return j == 0 ? (float)r : j == 1 ? (float)r / 2 + 1 : (float)(60 - r);
}

/* What the callbacks see. */
typedef struct {
    const float *x;
    const int32_t *y;
    const int64_t *rows;     /* expected: set index -> file row (NULL: order or identity) */
    const nn_perm *order;
    int visits[NROWS];       /* per file row, on this rank */
    uint64_t seq;            /* order-dependent hash of the file rows this rank visited */
    int64_t next_set;        /* the set index the next batch must start at (-1: any) */
    int64_t win_start;       /* set index of the current window's first row (-1: none yet) */
    int64_t batch_rows, window_rows;
    int windows, bad;
} visit_t;

static void on_batch(void *u, int64_t set_index, int64_t win_index, int nb)
{
    visit_t *v = u;
    if (nb < 1 || nb > BMAX) v->bad++;
    if (v->next_set >= 0 && set_index != v->next_set) v->bad++; /* contiguous within a rank */
    if (v->win_start < 0) v->win_start = set_index - win_index;
    if (set_index - win_index != v->win_start) v->bad++;
    v->next_set = set_index + nb;
    for (int j = 0; j < nb; j++) {
        int64_t i = set_index + j;
        int64_t want = v->rows ? v->rows[i] : v->order ? nn_perm_at(v->order, i) : i;
        int64_t r = (int64_t)lrintf(v->x[j * D]);
        if (r != want || r < 0 || r >= NROWS) { v->bad++; continue; }
        for (int k = 0; k < D; k++)
            if (v->x[j * D + k] != feat(r, k)) v->bad++;
        if (v->y[j] != (int32_t)(r % 7)) v->bad++;
        v->visits[r]++;
        v->seq = v->seq * 1000003u + (uint64_t)r + 1;
    }
    v->batch_rows += nb;
}

static int on_window(void *u, int64_t a, int64_t count)
{
    visit_t *v = u;
    /* a window with rows starts where its batches said; an empty one anywhere */
    if (count > 0 && a != v->win_start) v->bad++;
    v->win_start = -1;
    v->windows++;
    v->window_rows += count;
    return 0;
}

typedef struct {
    const char *file;
    int64_t n;                /* rows in the set */
    const int64_t *rows;      /* or NULL */
    const nn_perm *order;     /* or NULL */
    int64_t cap;              /* rows per window at most */
    int keep, collective, runs;
} pass_case;

/* Runs the case; every rank gets the per-row visit counts summed over all ranks, the rows it
 * visited in order as seq (per rank, gathered), and the window count. Returns this rank's ok. */
static int run_case(const pass_case *pc, int *total_visits, uint64_t *seqs, int64_t *nwin)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, pc->file);
    nt_data ds;
    nt_err e = {{0}};
    int ok = expect(nt_data_open(&ds, path, &WORLD, &e) == 0, e.msg);
    if (!all_ok(ok)) return 0;
    ds.collective = pc->collective;
    nt_pass p;
    ok = expect(nt_pass_init(&p, &ds, pc->rows, pc->n, pc->cap, pc->keep, &WORLD, &e) == 0, e.msg);
    if (all_ok(ok)) {
        if (pc->order) nt_pass_set_order(&p, pc->order);
        float x[BMAX * D];
        int32_t y[BMAX];
        visit_t v;
        memset(&v, 0, sizeof v);
        v.x = x;
        v.y = y;
        v.rows = pc->rows;
        v.order = pc->order;
        memset(total_visits, 0, sizeof(int) * NROWS);
        for (int run = 0; run < pc->runs; run++) {
            v.next_set = v.win_start = -1;
            v.windows = 0;
            v.seq = 0;
            int st = nt_pass_run(&p, x, y, NULL, BMAX, on_batch, on_window, &v, &e);
            ok &= expect(st == 0, e.msg);
            int64_t most = 0, least = 0;
            int64_t w = v.windows;
            MPI_Allreduce(&w, &most, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
            MPI_Allreduce(&w, &least, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
            ok &= expect(most == least && w == p.nwin, "window_done not called nwin times everywhere");
            ok &= expect(v.next_set < 0 || v.next_set == p.hi, "the share was not covered to its end");
            ok &= expect(v.next_set >= 0 || p.hi == p.lo, "a non-empty share saw no batch");
        }
        ok &= expect(v.bad == 0, "a batch did not hold the rows it named, or broke contiguity");
        ok &= expect(v.batch_rows == v.window_rows, "window_done counts differ from batch rows");
        MPI_Allreduce(v.visits, total_visits, NROWS, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
        MPI_Allgather(&v.seq, 1, MPI_UINT64_T, seqs, 1, MPI_UINT64_T, MPI_COMM_WORLD);
        *nwin = p.nwin;
    }
    nt_pass_free(&p);
    nt_data_close(&ds);
    return ok;
}

/* Whether the rows of the set (rows[], order or identity over n) were each visited `runs`
 * times in total and no other file row was visited. */
static int exactly_once(const pass_case *pc, const int *visits)
{
    int want[NROWS] = {0};
    for (int64_t i = 0; i < pc->n; i++)
        want[pc->rows ? pc->rows[i] : pc->order ? nn_perm_at(pc->order, i) : i] += pc->runs;
    int ok = 1;
    for (int r = 0; r < NROWS; r++)
        if (visits[r] != want[r]) {
            if (ok) printf("  %s n=%lld cap=%lld: file row %d visited %d times, want %d\n",
                           pc->file, (long long)pc->n, (long long)pc->cap, r, visits[r], want[r]);
            ok = 0;
        }
    return ok;
}

/* Runs a case at several window sizes: each visits every row once, and every rank visits the
 * same rows in the same order as with one window. */
static void check_case(pass_case pc)
{
    static const int64_t caps[] = {1 << 20, 7, 3, 1};
    uint64_t ref[8], seqs[8];
    int visits[NROWS], ok = 1;
    int64_t nwin = 0;
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        pc.cap = caps[c];
        ok &= run_case(&pc, visits, c ? seqs : ref, &nwin);
        ok &= exactly_once(&pc, visits);
        if (c) ok &= expect(!memcmp(seqs, ref, sizeof(uint64_t) * (size_t)WORLD.size),
                            "windows changed the rows or their order");
        if ((pc.n + WORLD.size - 1) / WORLD.size > pc.cap) /* the largest share */
            ok &= expect(nwin > 1, "a small cache gave one window");
    }
    assert_true(all_ok(ok));
}

static void test_identity(void **s)
{
    (void)s;
    check_case((pass_case){"f32.h5", NROWS, NULL, NULL, 0, 0, 0, 1});
}
static void test_u8_scaled_collective(void **s)
{
    (void)s;
    check_case((pass_case){"u8.h5", NROWS, NULL, NULL, 0, 0, 1, 1});
}
static void test_given_order(void **s)
{
    (void)s;
    int64_t table[NROWS];
    nn_permutation(table, NROWS, 12345);
    nn_perm t = nn_perm_table(table, NROWS), f = nn_perm_feistel(NROWS, 777);
    check_case((pass_case){"f32.h5", NROWS, NULL, &t, 0, 0, 0, 1});
    check_case((pass_case){"f32.h5", NROWS, NULL, &f, 0, 0, 0, 1});
}
static void test_row_list(void **s)
{
    (void)s;
    /* a subset of the file, out of order (as a validation split is) */
    int64_t rows[NROWS];
    int n = 0;
    for (int r = NROWS - 1; r >= 0; r -= 3) rows[n++] = r;
    check_case((pass_case){"f32.h5", n, rows, NULL, 0, 0, 0, 1});
}
static void test_kept_resident(void **s)
{
    (void)s;
    /* a share kept in memory after the first pass is handed out again in full */
    check_case((pass_case){"f32.h5", NROWS, NULL, NULL, 0, 1, 0, 3});
}
static void test_empty_shards(void **s)
{
    (void)s;
    /* fewer rows than ranks (up to 4): some shares are empty but take part in every window */
    int64_t two[2] = {40, 5};
    check_case((pass_case){"f32.h5", 2, two, NULL, 0, 0, 0, 1});
    check_case((pass_case){"f32.h5", 3, NULL, NULL, 0, 0, 1, 1});
    check_case((pass_case){"f32.h5", 1, NULL, NULL, 0, 0, 0, 1});
    check_case((pass_case){"f32.h5", 0, NULL, NULL, 0, 0, 0, 1});
}

static int make_data(void)
{
    static float xf[NROWS * D];
    static uint8_t xu[NROWS * D];
    static int32_t y[NROWS];
    for (int r = 0; r < NROWS; r++) {
        y[r] = r % 7;
        for (int j = 0; j < D; j++) {
            xf[r * D + j] = feat(r, j);
            xu[r * D + j] = (uint8_t)lrintf(feat(r, j) * 2); /* scale 0.5: exact */
        }
    }
    char p[320];
    nt_err err;
    snprintf(p, sizeof p, "%s/f32.h5", dir);
    if (h5data_write(p, NROWS, D, NULL, xf, 0, y, &err)) return printf("%s\n", err.msg), -1;
    snprintf(p, sizeof p, "%s/u8.h5", dir);
    if (h5data_write(p, NROWS, D, xu, NULL, 0.5f, y, &err)) return printf("%s\n", err.msg), -1;
    return 0;
}

static int setup(void **s)
{
    (void)s;
    int ok = 1;
    if (WORLD.rank == 0) {
        snprintf(dir, sizeof dir, "/tmp/nntrain-pass-XXXXXX");
        ok = mkdtemp(dir) && make_data() == 0;
    }
    MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
    return all_ok(ok) ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
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
    int provided; /* as nntrain: the dataset reader thread needs FUNNELED */
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    comm_init(&WORLD, MPI_COMM_WORLD);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity),      cmocka_unit_test(test_u8_scaled_collective),
        cmocka_unit_test(test_given_order),   cmocka_unit_test(test_row_list),
        cmocka_unit_test(test_kept_resident), cmocka_unit_test(test_empty_shards),
    };
    int failed = cmocka_run_group_tests_name("pass", tests, setup, teardown);
    comm_free(&WORLD);
    MPI_Finalize();
    return failed ? 1 : 0;
}
