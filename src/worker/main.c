/* nntrain command line: `nntrain train --config FILE [--set section.key=value]...`.
 * Every rank parses the same arguments; failures are agreed on so all ranks exit together
 * with one message. */
#include "config.h"
#include "infer.h"
#include "summary.h"
#include "train.h"
#include "util.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: nntrain train --config FILE [--set section.key=value]... [--resume] [--overwrite] [--quiet]\n"
    "       nntrain summary --config FILE [--set section.key=value]... [--batch B]\n"
    "       nntrain eval --checkpoint FILE --data D.h5 [--out metrics.csv] [--loss NAME]\n"
    "       nntrain predict --checkpoint FILE --data D.h5 --out P.h5 [--overwrite] [--loss NAME]\n"
    "       nntrain --help | --version\n"
    "\n"
    "Trains a multilayer perceptron data-parallel over MPI ranks:\n"
    "  mpirun -np 4 nntrain train --config examples/fashion-mnist.ini\n"
    "\n"
    "options:\n"
    "  --config FILE          INI configuration (sections [data] [model] [optimizer] [train] [output])\n"
    "  --set sec.key=value    override one configuration key (repeatable)\n"
    "  --resume               continue from the newest checkpoint in [checkpoint] dir\n"
    "  --init-from FILE.h5    start from the weights in FILE's /model (model.h5, checkpoint, h5py)\n"
    "  --checkpoint FILE      eval/predict: a checkpoint or model.h5\n"
    "  --loss NAME            eval/predict: how to read outputs when FILE does not record it\n"
    "  --overwrite            allow replacing metrics.csv/model.h5 of an earlier run in [output] dir\n"
    "  --quiet                no per-epoch lines\n"
    "  --batch B              summary: batch size for the shapes (default [train] batch_size)\n"
    "  --help, --version\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage error, 3 bad input (config or data)\n";

static int summary_main(int argc, char **argv)
{
    const char *config = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    long batch = -1;
    nt_err e = {{0}};
    int st = 0;
    for (int i = 2; i < argc && !st; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
            if (nt_parse_long(argv[++i], &batch) || batch < 1)
                st = NT_EXIT_USAGE, nt_fail(&e, "--batch '%s' must be an integer >= 1", argv[i]);
        } else {
            st = NT_EXIT_USAGE;
            nt_fail(&e, "unknown option '%s' for summary (try: nntrain --help)", argv[i]);
        }
    }
    if (!st && !config) { st = NT_EXIT_USAGE; nt_fail(&e, "summary needs --config FILE"); }
    nt_config cfg;
    if (!st && nt_config_load(&cfg, config, sets, nsets, &e)) st = NT_EXIT_INPUT;
    if (st) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    else nt_summary_print(&cfg, batch > 0 ? batch : cfg.batch_size, stdout);
    free(sets);
    return st;
}

int main(int argc, char **argv)
{
    /* --help / --version work without MPI */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) { fputs(usage, stdout); return 0; }
        if (!strcmp(argv[i], "--version")) { printf("nntrain %s\n", NN_VERSION); return 0; }
    }
    /* summary: configuration only, no MPI and no data */
    if (argc >= 2 && !strcmp(argv[1], "summary")) return summary_main(argc, argv);
    MPI_Init(&argc, &argv);
    comm_t c;
    if (comm_init(&c, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "nntrain: error: cannot set up the MPI communicator\n");
        MPI_Abort(MPI_COMM_WORLD, NT_EXIT_RUNTIME);
    }
    nt_err e = {{0}};
    int st = 0;
    const char *config = NULL;
    char **sets = calloc((size_t)argc, sizeof *sets);
    int nsets = 0;
    nt_train_opts o = {0};
    if (argc >= 2 && (!strcmp(argv[1], "eval") || !strcmp(argv[1], "predict"))) {
        nt_infer_opts io = {0};
        for (int i = 2; i < argc && !st; i++) {
            if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc) io.checkpoint = argv[++i];
            else if (!strcmp(argv[i], "--data") && i + 1 < argc) io.data = argv[++i];
            else if (!strcmp(argv[i], "--out") && i + 1 < argc) io.out = argv[++i];
            else if (!strcmp(argv[i], "--loss") && i + 1 < argc) io.loss = argv[++i];
            else if (!strcmp(argv[i], "--overwrite")) io.overwrite = 1;
            else if (!strcmp(argv[i], "--quiet")) io.quiet = 1;
            else st = NT_EXIT_USAGE, nt_fail(&e, "unknown option '%s' for %s (try: nntrain --help)", argv[i], argv[1]);
        }
        if (!st && (!io.checkpoint || !io.data))
            st = NT_EXIT_USAGE, nt_fail(&e, "%s needs --checkpoint FILE and --data FILE", argv[1]);
        st = nt_agree(&c, st, &e);
        if (!st) st = !strcmp(argv[1], "eval") ? nt_eval(&io, &c) : nt_predict(&io, &c);
        free(sets);
        comm_free(&c);
        MPI_Finalize();
        return st;
    }
    if (argc < 2 || strcmp(argv[1], "train") != 0) {
        st = NT_EXIT_USAGE;
        nt_fail(&e, argc < 2 ? "no command given (try: nntrain train --config FILE; nntrain --help)"
                             : "unknown command '%s' (try: nntrain --help)", argc < 2 ? "" : argv[1]);
    }
    for (int i = 2; i < argc && !st; i++) {
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[nsets++] = argv[++i];
        else if (!strncmp(argv[i], "--set=", 6)) sets[nsets++] = argv[i] + 6;
        else if (!strncmp(argv[i], "--config=", 9)) config = argv[i] + 9;
        else if (!strcmp(argv[i], "--overwrite")) o.overwrite = 1;
        else if (!strcmp(argv[i], "--quiet")) o.quiet = 1;
        else if (!strcmp(argv[i], "--resume")) o.resume = 1;
        else if (!strcmp(argv[i], "--init-from") && i + 1 < argc) o.init_from = argv[++i];
        else {
            st = NT_EXIT_USAGE;
            nt_fail(&e, "%s '%s' (try: nntrain --help)",
                    (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--set")) ? "missing value after"
                                                                                  : "unknown option", argv[i]);
        }
    }
    if (!st && !config) { st = NT_EXIT_USAGE; nt_fail(&e, "train needs --config FILE"); }
    nt_config cfg;
    if (!st && nt_config_load(&cfg, config, sets, nsets, &e)) st = NT_EXIT_INPUT;
    st = nt_agree(&c, st, &e);
    if (!st) {
        nt_install_signal_handlers();
        st = nt_train(&cfg, &c, &o, NULL);
    }
    free(sets);
    comm_free(&c);
    MPI_Finalize();
    return st;
}
