/* nntrain command line: `nntrain train --config FILE [--set section.key=value]...`, summary,
 * eval, predict, export, plot. Every command's options go through the getopt_long helper of both
 * tools (src/cli/cli.h); every rank parses the same arguments, and the MPI commands agree on
 * failures so all ranks exit together with one message. */
#include "blas.h"
#include "cli.h"
#include "config.h"
#include "export.h"
#include "infer.h"
#include "plot.h"
#include "summary.h"
#include "runstatus.h"
#include "train.h"
#include "util.h"
#include <errno.h>
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
    "  export     write a model as ONNX (opset 13) for ONNX Runtime and others (no MPI)\n"
    "  plot       draw a run's metrics.csv as RUN_DIR/curves.png (gnuplot; no MPI)\n"
    "  status     a run's state; after its launcher failed, which ranks were lost (no MPI)\n"
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

static const char *config_keys_usage =
    "usage: nntrain config-keys [--format markdown|man] [--update FILE]\n"
    "\n"
    "Prints the configuration key reference generated from the key table (README.md's table,\n"
    "or the man page's list); --update FILE rewrites the part of FILE between its BEGIN\n"
    "config-keys and END config-keys marker lines instead. For maintainers; tested by\n"
    "worker_config_keys.\n";

/* Long-only options: values above any character. */
enum { O_CONFIG = 0x100, O_SET, O_RESUME, O_INIT_FROM, O_OVERWRITE, O_QUIET, O_PROGRESS,
       O_NO_PROGRESS, O_LOG_FORMAT, O_BATCH, O_CHECKPOINT, O_DATA, O_OUT, O_LOSS, O_CACHE_MB,
       O_FORMAT, O_UPDATE, O_VERBOSE = 'v' };

/* The configuration options shared by train and summary. */
typedef struct {
    const char *config;
    char **sets;
    int nsets;
} config_args;

static int config_opt(config_args *a, int val, const char *arg)
{
    if (val == O_CONFIG) a->config = arg;
    else if (val == O_SET) a->sets[a->nsets++] = (char *)arg;
    else return 0;
    return 1;
}

/* ---- summary ------------------------------------------------------------------------- */

typedef struct { config_args cfg; long batch; } summary_args;

static int summary_opt(void *user, int val, const char *arg, nt_err *e)
{
    summary_args *a = user;
    if (config_opt(&a->cfg, val, arg)) return 0;
    if (val == O_BATCH) {
        if (nn_parse_long(arg, &a->batch) || a->batch < 1)
            return nt_fail(e, "--batch '%s' must be an integer >= 1", arg);
        return 0;
    }
    return 0;
}

static int summary_main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, O_CONFIG},
                                         {"set", required_argument, NULL, O_SET},
                                         {"batch", required_argument, NULL, O_BATCH}, {0}};
    summary_args a = {.cfg.sets = calloc((size_t)argc, sizeof(char *)), .batch = -1};
    nn_cli cli = {.tool = "nntrain", .cmd = "summary", .usage = summary_usage, .longopts = opts,
                  .on_opt = summary_opt, .user = &a};
    nt_err e = {{0}};
    int st = a.cfg.sets ? nn_cli_parse(&cli, argc, argv, &e)
                        : (nt_fail(&e, "out of memory"), NT_EXIT_RUNTIME);
    if (st == NN_CLI_DONE) { free(a.cfg.sets); return 0; }
    if (!st && !a.cfg.config) { st = NT_EXIT_USAGE; nt_fail(&e, "summary needs --config FILE"); }
    nt_config cfg;
    if (!st && nt_config_load(&cfg, a.cfg.config, a.cfg.sets, a.cfg.nsets, &e)) st = NT_EXIT_INPUT;
    if (st) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    else nt_summary_print(&cfg, a.batch > 0 ? a.batch : cfg.batch_size, stdout);
    free(a.cfg.sets);
    return st;
}

/* ---- config-keys (hidden): the generated key reference --------------------------------- */

typedef struct { int format; const char *update; } keys_args;

static int keys_opt(void *user, int val, const char *arg, nt_err *e)
{
    keys_args *a = user;
    if (val == O_UPDATE) { a->update = arg; return 0; }
    if (!strcmp(arg, "markdown")) a->format = NT_DOC_MARKDOWN;
    else if (!strcmp(arg, "man")) a->format = NT_DOC_MAN;
    else return nt_fail(e, "--format '%s' must be markdown or man", arg);
    return 0;
}

/* FILE with the part between its config-keys markers regenerated (written to FILE.tmp, renamed) */
static int update_doc(const char *path, int format, nt_err *e)
{
    char *text = NULL, *out = NULL, tmp[4096];
    size_t len = 0;
    FILE *f = fopen(path, "r");
    if (!f) return nt_fail(e, "%s: %s", path, strerror(errno));
    FILE *m = open_memstream(&text, &len);
    int ch;
    while (m && (ch = fgetc(f)) != EOF) fputc(ch, m);
    fclose(f);
    int st = !m || fclose(m) ? nt_fail(e, "%s: out of memory", path) : 0;
    if (!st && nt_config_doc_splice(text, format, &out, e)) st = nt_fail(e, "%s: %s", path, e->msg);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (!st && (!(f = fopen(tmp, "w")) || fputs(out, f) < 0 || fclose(f) || rename(tmp, path)))
        st = nt_fail(e, "%s: cannot write: %s", tmp, strerror(errno));
    free(text);
    free(out);
    return st;
}

static int config_keys_main(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, O_FORMAT},
                                         {"update", required_argument, NULL, O_UPDATE}, {0}};
    keys_args a = {NT_DOC_MARKDOWN, NULL};
    nn_cli cli = {.tool = "nntrain", .cmd = "config-keys", .usage = config_keys_usage,
                  .longopts = opts, .on_opt = keys_opt, .user = &a};
    nt_err e = {{0}};
    int st = nn_cli_parse(&cli, argc, argv, &e);
    if (st == NN_CLI_DONE) return 0;
    if (!st && a.update && update_doc(a.update, a.format, &e)) st = NT_EXIT_RUNTIME;
    if (!st && !a.update) nt_config_doc(stdout, a.format);
    if (st) fprintf(stderr, "nntrain: error: %s\n", e.msg);
    return st;
}

/* ---- eval and predict ------------------------------------------------------------------ */

static int infer_opt(void *user, int val, const char *arg, nt_err *e)
{
    nt_infer_opts *io = user;
    switch (val) {
    case O_CHECKPOINT: io->checkpoint = arg; return 0;
    case O_DATA: io->data = arg; return 0;
    case O_OUT: io->out = arg; return 0;
    case O_LOSS: io->loss = arg; return 0;
    case O_OVERWRITE: io->overwrite = 1; return 0;
    case O_QUIET: io->quiet = 1; return 0;
    case O_CACHE_MB:
        if (nn_parse_double(arg, &io->cache_mb) || !(io->cache_mb > 0))
            return nt_fail(e, "--cache-mb '%s' must be a number > 0", arg);
        return 0;
    default:
        return 0;
    }
}

/* Parses eval/predict's options into io; 0 to run, NN_CLI_DONE, or NT_EXIT_USAGE with e set. */
static int infer_args(int argc, char **argv, nt_infer_opts *io, nt_err *e)
{
    static const struct option opts[] = {
        {"checkpoint", required_argument, NULL, O_CHECKPOINT}, {"data", required_argument, NULL, O_DATA},
        {"out", required_argument, NULL, O_OUT}, {"loss", required_argument, NULL, O_LOSS},
        {"overwrite", no_argument, NULL, O_OVERWRITE}, {"quiet", no_argument, NULL, O_QUIET},
        {"cache-mb", required_argument, NULL, O_CACHE_MB}, {0}};
    const int eval = !strcmp(argv[0], "eval");
    nn_cli cli = {.tool = "nntrain", .cmd = argv[0], .usage = eval ? eval_usage : predict_usage,
                  .longopts = opts, .on_opt = infer_opt, .user = io};
    int st = nn_cli_parse(&cli, argc, argv, e);
    if (!st && (!io->checkpoint || !io->data))
        st = NT_EXIT_USAGE, nt_fail(e, "%s needs --checkpoint FILE and --data FILE", argv[0]);
    return st;
}

/* ---- train ----------------------------------------------------------------------------- */

typedef struct { config_args cfg; nt_train_opts o; } train_args;

static int train_opt(void *user, int val, const char *arg, nt_err *e)
{
    train_args *a = user;
    if (config_opt(&a->cfg, val, arg)) return 0;
    switch (val) {
    case O_RESUME: a->o.resume = 1; return 0;
    case O_INIT_FROM: a->o.init_from = arg; return 0;
    case O_OVERWRITE: a->o.overwrite = 1; return 0;
    case O_QUIET: a->o.quiet = 1; return 0;
    case O_VERBOSE: a->o.verbose = 1; return 0;
    case O_PROGRESS: a->o.progress = 1; return 0;
    case O_NO_PROGRESS: a->o.progress = 0; return 0;
    case O_LOG_FORMAT:
        if (!strcmp(arg, "json")) a->o.json = 1;
        else if (strcmp(arg, "text") != 0) return nt_fail(e, "--log-format '%s' must be text or json", arg);
        return 0;
    default:
        return 0;
    }
}

static int train_args_parse(int argc, char **argv, train_args *a, nt_err *e)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, O_CONFIG}, {"set", required_argument, NULL, O_SET},
        {"resume", no_argument, NULL, O_RESUME}, {"init-from", required_argument, NULL, O_INIT_FROM},
        {"overwrite", no_argument, NULL, O_OVERWRITE}, {"quiet", no_argument, NULL, O_QUIET},
        {"verbose", no_argument, NULL, O_VERBOSE}, {"progress", no_argument, NULL, O_PROGRESS},
        {"no-progress", no_argument, NULL, O_NO_PROGRESS},
        {"log-format", required_argument, NULL, O_LOG_FORMAT}, {0}};
    nn_cli cli = {.tool = "nntrain", .cmd = "train", .usage = train_usage, .shortopts = "v",
                  .longopts = opts, .on_opt = train_opt, .user = a};
    int st = nn_cli_parse(&cli, argc, argv, e);
    if (!st && !a->cfg.config) { st = NT_EXIT_USAGE; nt_fail(e, "train needs --config FILE"); }
    if (!st && a->o.quiet && a->o.verbose)
        st = NT_EXIT_USAGE, nt_fail(e, "--quiet and --verbose contradict each other");
    return st;
}

/* ---- top level ------------------------------------------------------------------------- */

static int top_opt(void *user, int val, const char *arg, nt_err *e)
{
    return nt_fail(e, "unknown command '%s' (try: nntrain --help)", arg);
}

/* MPI commands: every rank has parsed the same arguments into st/e; agree, then run. */
static int mpi_main(int argc, char **argv, const char *cmd, int st, nt_err *e, train_args *ta,
                    nt_infer_opts *io)
{
    /* FUNNELED: each rank's dataset reader thread makes no MPI calls; only this thread does */
    int provided = MPI_THREAD_SINGLE;
    /* Open MPI 4.1's "lockedfile" shared-file-pointer component sprintf()s every file name
     * given to MPI_File_open into a 256-byte buffer, so a data or checkpoint path longer than
     * ~250 characters aborts the rank ("buffer overflow detected"). nntrain never uses shared
     * file pointers: leave that component out unless the user chose the components. */
    setenv("OMPI_MCA_sharedfp", "^lockedfile", 0);
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    comm_t c;
    if (comm_init(&c, MPI_COMM_WORLD) != MPI_SUCCESS) {
        fprintf(stderr, "nntrain: error: cannot set up the MPI communicator\n");
        MPI_Abort(MPI_COMM_WORLD, NT_EXIT_RUNTIME);
    }
    nt_config cfg;
    if (!st && !strcmp(cmd, "train") &&
        nt_config_load(&cfg, ta->cfg.config, ta->cfg.sets, ta->cfg.nsets, e))
        st = NT_EXIT_INPUT;
    st = nt_agree(&c, st, e);
    if (!st && !strcmp(cmd, "train")) {
        nt_install_signal_handlers();
        st = nt_train(&cfg, &c, &ta->o, NULL);
    } else if (!st) {
        st = !strcmp(cmd, "eval") ? nt_eval(io, &c) : nt_predict(io, &c);
    }
    comm_free(&c);
    MPI_Finalize();
    return st;
}

int main(int argc, char **argv)
{
    /* --help / --version work without MPI; `nntrain CMD --help` shows that command's help */
    const char *cmd = argc >= 2 ? argv[1] : "";
    /* the commands that multiply matrices run the best OpenBLAS kernels for the CPU (may
     * re-execute this process, before MPI_Init) */
    if (!strcmp(cmd, "train") || !strcmp(cmd, "eval") || !strcmp(cmd, "predict")) nt_blas_select(argv);
    if (!strcmp(cmd, "summary")) return summary_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "plot")) return nt_plot_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "export")) return nt_export_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "status")) return nt_status_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "config-keys")) return config_keys_main(argc - 1, argv + 1);
    nt_err e = {{0}};
    int st;
    train_args ta = {.cfg.sets = calloc((size_t)argc, sizeof(char *)), .o.progress = -1};
    nt_infer_opts io = {0};
    if (!ta.cfg.sets) { fprintf(stderr, "nntrain: error: out of memory\n"); return NT_EXIT_RUNTIME; }
    if (!strcmp(cmd, "train")) {
        st = train_args_parse(argc - 1, argv + 1, &ta, &e);
    } else if (!strcmp(cmd, "eval") || !strcmp(cmd, "predict")) {
        st = infer_args(argc - 1, argv + 1, &io, &e);
    } else { /* no command, an unknown one, or only --help / --version */
        nn_cli top = {.tool = "nntrain", .cmd = "", .usage = usage, .on_opt = top_opt, .maxpos = -1};
        st = nn_cli_parse(&top, argc, argv, &e);
        if (!st) st = NT_EXIT_USAGE, nt_fail(&e, "no command given (try: nntrain train --config FILE; nntrain --help)");
    }
    if (st != NN_CLI_DONE) st = mpi_main(argc, argv, cmd, st, &e, &ta, &io);
    free(ta.cfg.sets);
    return st == NN_CLI_DONE ? 0 : st;
}
