/* nndata's command-line layer (see usage.h): the help text and the single error printer. */
#include "usage.h"

#include <stdarg.h>
#include <stdio.h>

const char nd_usage_text[] =
    "usage: nndata COMMAND ARGS...\n"
    "Write a dataset in the nntrain HDF5 layout (/X rows; /y int32 labels, or float32\n"
    "targets of shape (N, 1) for regression).\n"
    "\n"
    "  nndata import-idx IMAGES LABELS OUT.h5\n"
    "      convert IDX files (gzipped or plain), e.g. Fashion-MNIST; /X uint8 with\n"
    "      attribute scale = 1/255\n"
    "  nndata import-csv IN.csv OUT.h5 --label COLUMN [--no-header] [--regression]\n"
    "                    [--delimiter C]\n"
    "      delimited text: COLUMN (header name or 0-based index) holds integer labels\n"
    "      0..K-1, or float targets with --regression; all other columns are float32\n"
    "      features. A first row with a non-numeric feature cell is a header unless\n"
    "      --no-header. No quoted fields; --delimiter 'tab' for tabs (default ',')\n"
    "  nndata import-npy X.npy Y.npy OUT.h5 [--regression] [--scale S]\n"
    "      NumPy arrays: X (N, D) <f4 or <f8 (stored float32) or |u1 (stored uint8, with\n"
    "      attribute scale = S if given); Y (N,) integer labels (<i4, <i8, |u1), or with\n"
    "      --regression float targets (N,) or (N, K)\n"
    "  nndata make-moons N OUT.h5 [--noise S] [--seed S]\n"
    "      two interleaving half circles, N float32 points in 2-D (noise 0.1, seed 1)\n"
    "  nndata make-circles N OUT.h5 [--noise S] [--seed S] [--factor F]\n"
    "      two concentric circles, radii 1 and F (noise 0.05, seed 1, factor 0.8)\n"
    "  nndata make-regression N OUT.h5 [--features D] [--noise S] [--seed S]\n"
    "      N float32 points x ~ U(-1, 1)^D, each with one float32 target\n"
    "        y = sin(pi x0) + 0.5 x1^2 + 0.25 (x2 + ... + x{D-1}) + S * N(0, 1)\n"
    "      (x1 term if D >= 2, sum if D >= 3; defaults D 2, noise 0.1, seed 1)\n"
    "  nndata make-blobs N OUT.h5 [--centers K] [--features D] [--std S] [--seed S]\n"
    "      K Gaussian blobs in D dims, centers uniform in [-10, 10]^D, balanced classes\n"
    "      (defaults K 3, D 2, std 1.0, seed 1)\n"
    "  nndata make-spirals N OUT.h5 [--classes K] [--noise S] [--seed S]\n"
    "      K interleaved spiral arms in 2-D, balanced (K 3, noise 0.2 on the angle, seed 1)\n"
    "  nndata make-xor N OUT.h5 [--noise S] [--seed S]\n"
    "      x ~ U(-1, 1)^2, label (x0 > 0) XOR (x1 > 0) before noise (noise 0, seed 1)\n"
    "  nndata split IN.h5 PREFIX --fractions F1,F2[,F3] [--seed S] [--standardize]\n"
    "      random split into PREFIX-train.h5, PREFIX-val.h5[, PREFIX-test.h5]; fractions\n"
    "      sum to 1, part sizes floor(N F), remainder to train (seed 1). The parts keep\n"
    "      IN's scale, mean and std; --standardize writes to every part the mean/std of\n"
    "      the train part's rows instead\n"
    "  nndata standardize FILE.h5 [--stats-from TRAIN.h5] [--remove]\n"
    "      write per-feature /X attributes mean and std (float32, D values each) in\n"
    "      place; nntrain then reads x = (stored * scale - mean) / std. Statistics of\n"
    "      stored * scale: mean and population std (ddof 0), std 1 for a constant\n"
    "      feature. --stats-from copies TRAIN.h5's mean/std instead (same D); --remove\n"
    "      deletes them. The data is never modified\n"
    "  nndata info FILE.h5\n"
    "      shape, dtype, scale, mean/std, task, class counts, per-feature min/max/mean\n"
    "  nndata check FILE.h5\n"
    "      validate a file for nntrain; exit 3 with one line naming the first problem\n"
    "  nndata --help | --version\n"
    "\n"
    "Options also take the form --name=VALUE. Exit status (as for nntrain): 0 success,\n"
    "1 write error or out of memory, 2 usage error, 3 bad input (a missing, unreadable\n"
    "or malformed input file or value).\n";

/* The one place nndata prints an error. */
int nd_fail(int code, const char *what, const char *fmt, ...)
{
    va_list ap;
    fputs("nndata: error: ", stderr);
    if (what) fprintf(stderr, "%s: ", what);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int nd_report(int code, const nt_err *e) { return nd_fail(code, NULL, "%s", e->msg); }

int nd_count_classes(const int32_t *y, int64_t n)
{
    int32_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (y[i] + 1 > k) k = y[i] + 1;
    return k;
}
