/* nntrain command line: `nntrain train --config FILE [--set section.key=value]...`.
 * Every rank parses the same arguments; failures are agreed on so all ranks exit together
 * with one message. */
#include "config.h"
#include "infer.h"
#include "plot.h"
#include "summary.h"
#include "train.h"
#include "util.h"
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage =
    "usage: nntrain COMMAND [OPTIONS]   (nntrain COMMAND --help for each command)\n"
    "\n"
    "Trains multilayer perceptrons data-parallel over MPI ranks:\n"
    "  mpirun -np 4 nntrain train --config examples/fashion-mnist.ini\n"
    "\n"
    "commands:\n"
    "  train      train a model from an INI configuration (MPI)\n"
    "  summary    print the model's layers, shapes and parameter counts (no MPI, no data)\n"
    "  eval       loss, accuracy or RMSE, per-class table of a model on a dataset (MPI)\n"
    "  predict    write a model's outputs for a dataset to HDF5 (MPI)\n"
    "  plot       draw a run's metrics.csv as RUN_DIR/curves.png (gnuplot; no MPI)\n"
    "\n"
    "  --help, --version\n"
    "\n"
    "exit codes: 0 ok (also a preempted run that wrote its checkpoint; RUN_DIR/status says\n"
    "            stopped), 1 runtime failure, 2 usage error, 3 bad input (config or data)\n";

static const char *train_usage =
    "usage: nntrain train --config FILE [--set section.key=value]... [--resume] [--init-from FILE.h5]\n"
    "                     [--overwrite] [--quiet | --verbose] [--log-format text|json]\n"
    "                     [--progress | --no-progress]\n"
    "\n"
    "Trains on every rank of the MPI job (mpirun -np N, srun --mpi=pmix, or alone as 1 rank).\n"
    "\n"
    "options:\n"
    "  --config FILE          INI configuration ([data] [model] [loss] [optimizer] [schedule]\n"
    "                         [train] [output] [checkpoint]; see the README)\n"
    "  --set sec.key=value    override one configuration key (repeatable)\n"
    "  --resume               continue from the newest checkpoint in [checkpoint] dir\n"
    "  --init-from FILE.h5    start from the weights in FILE's /model (model.h5, checkpoint, h5py)\n"
    "  --overwrite            allow replacing the results and checkpoints of an earlier run\n"
    "  --quiet                no banner, progress or per-epoch lines (warnings and errors remain)\n"
    "  --verbose              also each rank's placement (host, CPUs, BLAS threads) and per-epoch\n"
    "                         timing (training, data wait, evaluation, checkpoint)\n"
    "  --log-format FMT       text (default) or json: one JSON object per line on stdout\n"
    "  --progress             live progress bar on rank 0's output (default: when it is a\n"
    "                         terminal; under plain mpirun pass --progress, launch/mpirun.sh does)\n"
    "  --no-progress          never draw the progress bar\n"
    "\n"
    "writes [output] dir/metrics.csv, model.h5, status; checkpoints to [checkpoint] dir\n"
    "exit codes: 0 ok (also when preempted by SIGTERM/SIGUSR1 after writing a checkpoint),\n"
    "            1 runtime failure, 2 usage error, 3 bad input\n";

static const char *summary_usage =
    "usage: nntrain summary --config FILE [--set section.key=value]... [--batch B]\n"
    "\n"
    "Prints the model the configuration describes: layers, activations, parameter counts and\n"
    "memory per rank. No MPI, no data.\n"
    "\n"
    "options:\n"
    "  --config FILE          INI configuration\n"
    "  --set sec.key=value    override one configuration key (repeatable)\n"
    "  --batch B              batch size for the shapes (default [train] batch_size)\n";

static const char *eval_usage =
    "usage: nntrain eval --checkpoint FILE --data D.h5 [--out metrics.csv] [--loss NAME] [--cache-mb MB]\n"
    "                    [--quiet]\n"
    "\n"
    "Evaluates a model (model.h5 or a checkpoint) on a dataset, sharded over the MPI ranks:\n"
    "loss, accuracy (or RMSE/MAE), per-class precision/recall/F1 and the confusion matrix.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE      model.h5 or ckpt-<step>.h5\n"
    "  --data D.h5            dataset in the nntrain layout\n"
    "  --out FILE.csv         also write the metrics as CSV\n"
    "  --loss NAME            how to read the outputs when FILE does not record its loss\n"
    "  --cache-mb MB          MiB of rows a rank reads at once (default 1024)\n"
    "  --quiet                no console output\n";

static const char *predict_usage =
    "usage: nntrain predict --checkpoint FILE --data D.h5 --out P.h5 [--overwrite] [--loss NAME]\n"
    "                       [--cache-mb MB] [--quiet]\n"
    "\n"
    "Writes the model's outputs for every row of D.h5 to P.h5: /probabilities (or /outputs\n"
    "for regression) and /predictions, collectively, through P.h5.tmp renamed into place.\n"
    "\n"
    "options:\n"
    "  --checkpoint FILE      model.h5 or ckpt-<step>.h5\n"
    "  --data D.h5            dataset in the nntrain layout\n"
    "  --out P.h5             output file (refused if it exists, unless --overwrite)\n"
    "  --overwrite            replace an existing P.h5\n"
    "  --loss NAME            how to read the outputs when FILE does not record its loss\n"
    "  --cache-mb MB          MiB of rows a rank reads at once (default 1024)\n"
    "  --quiet                no console output\n";

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
        else if (!strncmp(argv[i], "--set=", 6)) sets[nsets++] = argv[i] + 6;
        else if (!strncmp(argv[i], "--config=", 9)) config = argv[i] + 9;
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
    /* --help / --version work without MPI; `nntrain CMD --help` shows that command's help */
    const char *cmd = argc >= 2 ? argv[1] : "";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            const char *h = !strcmp(cmd, "train") ? train_usage : !strcmp(cmd, "summary") ? summary_usage
                          : !strcmp(cmd, "eval") ? eval_usage : !strcmp(cmd, "predict") ? predict_usage
                          : usage;
            if (!strcmp(cmd, "plot")) return nt_plot_main(argc, argv);
            fputs(h, stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) { printf("nntrain %s\n", NN_VERSION); return 0; }
    }
    /* summary and plot: no MPI */
    if (!strcmp(cmd, "summary")) return summary_main(argc, argv);
    if (!strcmp(cmd, "plot")) return nt_plot_main(argc, argv);
    /* FUNNELED: each rank's dataset reader thread makes no MPI calls; only this thread does */
    int provided = MPI_THREAD_SINGLE;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
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
    nt_train_opts o = {.progress = -1};
    if (argc >= 2 && (!strcmp(argv[1], "eval") || !strcmp(argv[1], "predict"))) {
        nt_infer_opts io = {0};
        for (int i = 2; i < argc && !st; i++) {
            if (!strcmp(argv[i], "--checkpoint") && i + 1 < argc) io.checkpoint = argv[++i];
            else if (!strcmp(argv[i], "--data") && i + 1 < argc) io.data = argv[++i];
            else if (!strcmp(argv[i], "--out") && i + 1 < argc) io.out = argv[++i];
            else if (!strcmp(argv[i], "--loss") && i + 1 < argc) io.loss = argv[++i];
            else if (!strcmp(argv[i], "--overwrite")) io.overwrite = 1;
            else if (!strcmp(argv[i], "--quiet")) io.quiet = 1;
            else if (!strcmp(argv[i], "--cache-mb") && i + 1 < argc) {
                if (nt_parse_double(argv[++i], &io.cache_mb) || !(io.cache_mb > 0))
                    st = NT_EXIT_USAGE, nt_fail(&e, "--cache-mb '%s' must be a number > 0", argv[i]);
            }
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
        else if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) o.verbose = 1;
        else if (!strcmp(argv[i], "--progress")) o.progress = 1;
        else if (!strcmp(argv[i], "--no-progress")) o.progress = 0;
        else if ((!strcmp(argv[i], "--log-format") && i + 1 < argc) || !strncmp(argv[i], "--log-format=", 13)) {
            const char *v = argv[i][12] == '=' ? argv[i] + 13 : argv[++i];
            if (!strcmp(v, "json")) o.json = 1;
            else if (strcmp(v, "text") != 0)
                st = NT_EXIT_USAGE, nt_fail(&e, "--log-format '%s' must be text or json", v);
        }
        else if (!strcmp(argv[i], "--resume")) o.resume = 1;
        else if (!strcmp(argv[i], "--init-from") && i + 1 < argc) o.init_from = argv[++i];
        else {
            st = NT_EXIT_USAGE;
            nt_fail(&e, "%s '%s' (try: nntrain --help)",
                    (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--set") || !strcmp(argv[i], "--init-from") ||
                     !strcmp(argv[i], "--log-format")) ? "missing value after"
                                                                                  : "unknown option", argv[i]);
        }
    }
    if (!st && !config) { st = NT_EXIT_USAGE; nt_fail(&e, "train needs --config FILE"); }
    if (!st && o.quiet && o.verbose) { st = NT_EXIT_USAGE; nt_fail(&e, "--quiet and --verbose contradict each other"); }
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
