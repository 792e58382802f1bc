/* Fuzz harness: the dataset-layout validator and the dataset readers on a malformed HDF5
 * file. The input bytes are written to a file, which is then
 *   1. opened as nntrain opens its training data (nt_data_open: MPI-IO, one singleton rank;
 *      the layout checks of datasets/layout.c, the storage-layout queries for direct reads),
 *      and when it is small, its labels checked and every row read through the window reader
 *      and gathered (nt_data_check_labels, nt_window_read, nt_window_gather);
 *   2. checked as `nndata check` checks it (serial HDF5: layout, every label, every value).
 * Errors are fine; crashes, sanitizer reports, hangs, leaks (also HDF5 identifiers left
 * open) are findings. The seeds are small files written by nndata. */
#include "commands.h"
#include "dataset.h"
#include "fuzz_mpi.h"
#include "fuzz_util.h"
#include "h5in.h"
#include <stdint.h>
#include <stdlib.h>

/* Rows are only read from files this small (a declared (2^40, 1) /X is a valid file that
 * takes long to read; its size is not what is fuzzed here). */
#define MAX_CELLS ((int64_t)1 << 16)
#define WINDOW 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    fz_mpi_start();
    fz_ids_baseline();
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* warm-up: MPI's lazily loaded parts */
    fz_mpi_started();
    return 0;
}

static void read_rows(nt_data *ds)
{
    nt_err e = {{0}};
    if (!ds->y_float) fz_note("nt_data_check_labels", nt_data_check_labels(ds, &fz_comm, 10, &e), e.msg);
    nt_window w;
    e.msg[0] = 0;
    if (nt_window_alloc(&w, ds, WINDOW, &e)) return;
    int64_t rows[WINDOW], col;
    float *x = malloc(sizeof(float) * WINDOW * (size_t)ds->d);
    float *t = malloc(sizeof(float) * WINDOW * (size_t)ds->k);
    int32_t *lab = malloc(sizeof(int32_t) * WINDOW);
    for (int64_t r0 = 0; x && t && lab && r0 < ds->n; r0 += WINDOW) {
        int64_t cnt = ds->n - r0 < WINDOW ? ds->n - r0 : WINDOW;
        for (int64_t i = 0; i < cnt; i++) rows[i] = r0 + cnt - 1 - i; /* any order */
        e.msg[0] = 0;
        int rc = nt_window_read(&w, ds, rows, cnt, &e);
        if (rc || r0 == 0) fz_note("nt_window_read", rc, e.msg);
        if (rc) break;
        (void)nt_window_gather(&w, ds, 0, cnt, x, ds->y_float ? NULL : lab,
                               ds->y_float ? t : NULL, &col);
    }
    free(x);
    free(t);
    free(lab);
    nt_window_free(&w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(data, size, "data.h5");
    nt_data ds;
    nt_err e = {{0}};
    int rc = nt_data_open(&ds, path, &fz_comm, &e);
    fz_note("nt_data_open", rc, e.msg);
    if (rc == 0) {
        if (ds.n <= MAX_CELLS && ds.d <= MAX_CELLS && ds.k <= MAX_CELLS &&
            ds.n * (ds.d + ds.k) <= MAX_CELLS)
            read_rows(&ds);
        nt_data_close(&ds);
    }
    fz_ids_check("nt_data_open / the window reader");

    char summary[256];
    e.msg[0] = 0;
    /* nndata check reads every row too: only when small (the layout says how small) */
    struct h5quiet q;
    struct h5in h;
    h5in_quiet_on(&q);
    int small = h5in_open(path, 0, &h, &e) == 0 && h.L.n <= MAX_CELLS && h.L.d <= MAX_CELLS &&
                h.L.k <= MAX_CELLS && h.L.n * (h.L.d + (h.L.k ? h.L.k : 1)) <= MAX_CELLS;
    h5in_close(&h);
    h5in_quiet_off(&q);
    e.msg[0] = 0;
    if (small) fz_note("nd_check", nd_check(path, 1, summary, sizeof summary, &e), e.msg);
    fz_ids_check("nndata check");
    return 0;
}
