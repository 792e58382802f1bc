/* The training-data stream (src/worker/stream.c), at 1-4 ranks: in every epoch each training
 * row is trained exactly once and no validation row ever; the rows a step hands out are the
 * rows whose features it gathered; the global batch of every step is the same set of rows
 * whatever the rank count (checked against a one-rank stream computed on every rank) and the
 * read-window size; a stream positioned inside an epoch (resume) continues with exactly the
 * steps of the uninterrupted one. Table and Feistel orders. Verdicts are combined across
 * ranks before asserting. */
#include "h5data.h"
#include "rng.h"
#include "stream.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static comm_t WORLD;
static char path[256];
enum { N = 101, D = 2, EPOCHS = 3, MAXSTEPS = 64 };

/* Every rank's verdict, combined: 1 only if all ranks passed. */
static int all_ok(int ok)
{
    int all = ok;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_LAND, WORLD.comm);
    return all;
}

/* Order-independent digest of a set of rows (a sum of mixed row ids). */
static uint64_t digest(const int64_t *rows, int n)
{
    uint64_t h = 0;
    for (int i = 0; i < n; i++) h += nn_mix64((uint64_t)rows[i] + 1);
    return h;
}

typedef struct {
    int64_t n_val, batch, cache_rows;
    int feistel;
} scase;

/* Runs the stream as (rank, nranks) over EPOCHS epochs; per (epoch, step) this rank's digest
 * into dig (zeroed first), and every row's training count per epoch into cnt (N per epoch).
 * Checks that the gathered features are the rows' (x[r, 0] = file row). Returns 0 or the
 * number of problems (printed). */
static int run(const scase *sc, nt_data *d, int rank, int nranks, uint64_t *dig, int *cnt,
               int64_t start_epoch, int64_t start_step, int64_t *nsteps)
{
    nt_stream s;
    nt_batch b;
    nt_err e = {{0}};
    nt_stream_cfg cfg = {.data = d, .n_val = sc->n_val, .n_train = N - sc->n_val,
                         .batch = sc->batch, .epochs = EPOCHS, .cache_rows = sc->cache_rows,
                         .seed = 7, .feistel = sc->feistel, .rank = rank, .nranks = nranks};
    int bad = 0;
    if (nt_stream_init(&s, &cfg, &e) || nt_batch_alloc(&b, 256, D, 1)) {
        printf("init: %s\n", e.msg);
        return 1;
    }
    *nsteps = s.steps;
    for (int64_t ep = start_epoch; ep <= EPOCHS; ep++) {
        nt_stream_begin_epoch(&s, ep, ep == start_epoch ? start_step : 0);
        while (nt_stream_next(&s, &b, &e)) {
            if (b.err) { printf("read failed: %s\n", e.msg); bad++; continue; }
            for (int i = 0; i < b.n; i++) {
                if (b.x[(size_t)i * D] != (float)b.rows[i]) bad++;
                cnt[(ep - 1) * N + b.rows[i]]++;
            }
            dig[(ep - 1) * MAXSTEPS + b.step] = digest(b.rows, b.n);
        }
    }
    nt_stream_free(&s);
    nt_batch_free(&b);
    return bad;
}

static void check_case(const scase *sc)
{
    nt_data d = {.file = H5I_INVALID_HID};
    nt_err e = {{0}};
    assert_int_equal(nt_data_open(&d, path, &WORLD, &e), 0);
    static uint64_t dig[EPOCHS * MAXSTEPS], ref[EPOCHS * MAXSTEPS], dig2[EPOCHS * MAXSTEPS];
    static int cnt[EPOCHS * N], scratch[EPOCHS * N];
    memset(dig, 0, sizeof dig);
    memset(ref, 0, sizeof ref);
    memset(cnt, 0, sizeof cnt);
    int64_t steps = 0, steps1 = 0;
    int ok = run(sc, &d, WORLD.rank, WORLD.size, dig, cnt, 1, 0, &steps) == 0;
    /* reference: the whole global batch on one rank (every rank computes it) */
    ok &= run(sc, &d, 0, 1, ref, scratch, 1, 0, &steps1) == 0 && steps == steps1;
    /* each epoch: training rows once, validation rows never */
    MPI_Allreduce(MPI_IN_PLACE, cnt, EPOCHS * N, MPI_INT, MPI_SUM, WORLD.comm);
    MPI_Allreduce(MPI_IN_PLACE, dig, EPOCHS * MAXSTEPS, MPI_UINT64_T, MPI_SUM, WORLD.comm);
    nt_stream s;
    nt_stream_cfg cfg = {.data = &d, .n_val = sc->n_val, .n_train = N - sc->n_val, .batch = sc->batch,
                         .epochs = EPOCHS, .cache_rows = 1, .seed = 7, .feistel = sc->feistel,
                         .rank = 0, .nranks = 1};
    assert_int_equal(nt_stream_init(&s, &cfg, &e), 0);
    char is_val[N] = {0};
    for (int64_t i = 0; i < sc->n_val; i++) is_val[nn_perm_at(nt_stream_val_order(&s), i)] = 1;
    nt_stream_free(&s);
    for (int ep = 0; ep < EPOCHS; ep++)
        for (int r = 0; r < N; r++)
            if (cnt[ep * N + r] != (is_val[r] ? 0 : 1)) {
                if (ok) printf("epoch %d row %d trained %d times (validation row: %d)\n", ep + 1, r,
                               cnt[ep * N + r], is_val[r]);
                ok = 0;
            }
    /* every step's global batch equals the one-rank stream's */
    if (memcmp(dig, ref, sizeof dig)) { printf("global batches differ from one rank's\n"); ok = 0; }
    /* resume inside epoch 2 at step k: the same steps as without the interruption */
    memset(dig2, 0, sizeof dig2);
    memset(scratch, 0, sizeof scratch);
    int64_t k = steps / 2, nst;
    ok &= run(sc, &d, WORLD.rank, WORLD.size, dig2, scratch, 2, k, &nst) == 0;
    MPI_Allreduce(MPI_IN_PLACE, dig2, EPOCHS * MAXSTEPS, MPI_UINT64_T, MPI_SUM, WORLD.comm);
    if (memcmp(dig2 + MAXSTEPS + k, dig + MAXSTEPS + k, sizeof(uint64_t) * (size_t)(2 * MAXSTEPS - k))) {
        printf("a stream resumed at epoch 2 step %lld differs\n", (long long)k);
        ok = 0;
    }
    nt_data_close(&d);
    if (!all_ok(ok))
        printf("FAILED: n_val %lld batch %lld cache_rows %lld feistel %d at %d ranks\n",
               (long long)sc->n_val, (long long)sc->batch, (long long)sc->cache_rows, sc->feistel,
               WORLD.size);
    assert_true(all_ok(ok));
}

static void test_stream_cases(void **state)
{
    (void)state;
    static const scase cases[] = {
        {0, 10, 1 << 20, 0},  /* one window per epoch: the next epoch is read ahead */
        {7, 10, 1, 0},        /* one step per window */
        {7, 8, 24, 0},        /* a few steps per window, uneven last window */
        {13, 32, 40, 1},      /* Feistel order */
        {0, 3, 7, 1},         /* more steps than ranks' rows per step: empty shards at 4 ranks */
        {20, 81, 1 << 20, 0}, /* a single step per epoch */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(&cases[i]);
}

int main(int argc, char **argv)
{
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    comm_init(&WORLD, MPI_COMM_WORLD);
    /* the file: x[r] = (r, r % 5), labels r % 3 */
    snprintf(path, sizeof path, "/tmp/nntrain-stream-%d.h5", (int)getpid());
    MPI_Bcast(path, sizeof path, MPI_CHAR, 0, WORLD.comm);
    if (WORLD.rank == 0) {
        static float x[N * D];
        static int32_t y[N];
        nt_err err;
        for (int r = 0; r < N; r++) {
            x[r * D] = (float)r;
            x[r * D + 1] = (float)(r % 5);
            y[r] = r % 3;
        }
        if (h5data_write(path, N, D, NULL, x, 0, y, &err)) printf("write: %s\n", err.msg);
    }
    MPI_Barrier(WORLD.comm);
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_stream_cases)};
    int fails = cmocka_run_group_tests(tests, NULL, NULL);
    MPI_Barrier(WORLD.comm);
    if (WORLD.rank == 0) unlink(path);
    comm_free(&WORLD);
    MPI_Finalize();
    return fails;
}
