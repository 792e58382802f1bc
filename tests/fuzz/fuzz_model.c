/* Fuzz harness: the readers of model.h5 and checkpoint files (HDF5 through MPI-IO, one
 * singleton rank). The input bytes are written to a file, which is then read the three ways
 * nntrain reads a model file:
 *   1. eval / predict: the model's configuration rebuilt from the file (a checkpoint's
 *      /config, or model.h5's shapes and attributes), that model's weights and its input
 *      standardisation (nt_model_config_from_file, nt_model_read, nt_model_check_norm);
 *   2. --init-from: weights into a fixed 2-4-2 model (nt_model_load);
 *   3. --resume: a checkpoint of the same fixed configuration: weights, optimizer state,
 *      counters, metrics, checksums (nt_ckpt_load_quiet).
 * Errors are fine; crashes, sanitizer reports, hangs, leaks (also HDF5 identifiers left
 * open) are findings. The seeds are a model.h5 and checkpoints of that configuration. */
#include "ckpt.h"
#include "config.h"
#include "fuzz_mpi.h"
#include "fuzz_util.h"
#include "history.h"
#include "infer.h"
#include "model.h"
#include "modelio.h"
#include "train.h"
#include <stdint.h>
#include <string.h>

/* A model the file describes is built only up to this many parameters (nntrain's memory
 * preflight refuses what does not fit; the harness must stay within its RSS limit). */
#define MAX_PARAMS (1 << 22)

static const char FIXED_INI[] = "[model]\nlayers = 2, 4, 2\n[train]\nepochs = 1\n";
static nt_config fixed, cfg; /* large: not on the stack */
static nn_model fixed_model;
static nn_optim fixed_opt;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc; (void)argv;
    fz_mpi_start();
    nt_err e = {{0}};
    nn_model_spec sp;
    if (nt_config_parse_string(&fixed, FIXED_INI, "fixed", &e) ||
        (sp = nt_config_model_spec(&fixed, 1, 0), nn_model_create_spec(&fixed_model, &sp)) ||
        nt_make_optimizer(&fixed_opt, &fixed, &fixed_model)) {
        fprintf(stderr, "fuzz: set-up failed: %s\n", e.msg);
        abort();
    }
    fz_ids_baseline();
    LLVMFuzzerTestOneInput((const uint8_t *)"", 0); /* warm-up: MPI's lazily loaded parts */
    fz_mpi_started();
    return 0;
}

static int small_enough(const nt_config *c)
{
    double params = 0;
    for (int l = 0; l + 1 < c->nsizes; l++) params += ((double)c->sizes[l] + 1) * c->sizes[l + 1];
    return c->nsizes >= 2 && params <= MAX_PARAMS;
}

/* 1. as nntrain eval / predict read a model or checkpoint */
static void read_as_inference(const char *path)
{
    nt_err e = {{0}};
    int rc = nt_model_config_from_file(path, NULL, &cfg, &fz_comm, &e);
    fz_note("nt_model_config_from_file", rc, e.msg);
    if (rc || !small_enough(&cfg)) return;
    nn_model_spec sp = nt_config_model_spec(&cfg, 1, 0);
    sp.dropout = NULL;
    nn_model m;
    if (nn_model_create_spec(&m, &sp)) return;
    hid_t f = nt_h5_open(path, &fz_comm);
    if (f >= 0) {
        const int64_t d = cfg.sizes[0];
        float *mean = calloc((size_t)d, sizeof *mean), *std = malloc(sizeof *std * (size_t)d);
        for (int64_t j = 0; std && j < d; j++) std[j] = 1;
        e.msg[0] = 0;
        rc = nt_model_read(f, path, &m, &e);
        fz_note("nt_model_read", rc, e.msg);
        if (!rc && mean && std) {
            e.msg[0] = 0; /* against unstandardised data, then data standardised (0, 1) */
            rc = nt_model_check_norm(f, path, "data.h5", NULL, NULL, d, &e);
            fz_note("nt_model_check_norm (unstandardised)", rc, e.msg);
            e.msg[0] = 0;
            rc = nt_model_check_norm(f, path, "data.h5", mean, std, d, &e);
            fz_note("nt_model_check_norm (standardised)", rc, e.msg);
        }
        free(mean);
        free(std);
        (void)H5Fclose(f);
    }
    nn_model_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write(data, size, "model.h5");
    read_as_inference(path);
    fz_ids_check("eval/predict's model reader");

    nt_err e = {{0}};
    int rc = nt_model_load(&fixed_model, path, &fz_comm, &e); /* 2. --init-from */
    fz_note("nt_model_load", rc, e.msg);
    fz_ids_check("nt_model_load");

    nt_history h; /* 3. --resume */
    nt_ckpt_state s;
    if (nt_history_init(&h, 16, 0, 1, 0) == 0) {
        memset(&s, 0, sizeof s);
        e.msg[0] = 0;
        rc = nt_ckpt_load_quiet(path, &fixed_model, &fixed_opt, &s, &h, &fz_comm, &e);
        fz_note("nt_ckpt_load_quiet", rc, e.msg);
        nt_history_free(&h);
    }
    fz_ids_check("nt_ckpt_load_quiet");
    return 0;
}
