/* Test helper: writes deliberately bad dataset files that nndata refuses to produce.
 *   nt_mkdata badlabel OUT.h5   200 rows x 2, labels 0/1 except /y[150] = 7
 *   nt_mkdata empty OUT.h5      0 rows x 2
 *   nt_mkdata nan OUT.h5        200 rows x 2, labels 0/1, /X[123, 1] = NaN
 * and one query that writes nothing:
 *   nt_mkdata valrow N VAL_FRACTION SEED NP RANK
 *       prints the file row of the first validation row that rank RANK of NP evaluates, for
 *       a training file of N rows with [data] val_fraction and [train] seed as given (the
 *       split of nntrain's stream.c: the first floor(N * fraction) positions of the
 *       permutation keyed by (seed, NN_STREAM_SPLIT), sharded like every evaluation set) */
#include <math.h>
#include "h5data.h"
#include "rng.h"
#include "sampler.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int valrow(char **argv)
{
    const int64_t n = atoll(argv[2]);
    const double frac = atof(argv[3]);
    const uint64_t seed = strtoull(argv[4], NULL, 10);
    const int np = atoi(argv[5]), rank = atoi(argv[6]);
    const int64_t n_val = (int64_t)floor((double)n * frac);
    int64_t lo, hi, *perm = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
    if (!perm || n < 1 || np < 1 || rank < 0 || rank >= np) return 2;
    nn_permutation(perm, n, nn_key(seed, NN_STREAM_SPLIT, 0, 0));
    nn_shard(n_val, n_val, np, rank, 0, &lo, &hi);
    if (lo >= hi) { free(perm); return 1; }
    printf("%lld\n", (long long)perm[lo]);
    free(perm);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 7 && !strcmp(argv[1], "valrow")) return valrow(argv);
    if (argc != 3) { fprintf(stderr, "usage: nt_mkdata badlabel|empty|nan OUT.h5\n"); return 2; }
    static float x[200 * 2];
    static int32_t y[200];
    nt_err err;
    int64_t n = 0;
    if (!strcmp(argv[1], "badlabel") || !strcmp(argv[1], "nan")) {
        n = 200;
        for (int i = 0; i < 200; i++) {
            x[2 * i] = (float)i / 200;
            x[2 * i + 1] = (float)(i % 7) / 7;
            y[i] = i % 2;
        }
        if (!strcmp(argv[1], "badlabel")) y[150] = 7;
        else x[2 * 123 + 1] = NAN;
    } else if (strcmp(argv[1], "empty") != 0) {
        fprintf(stderr, "nt_mkdata: unknown kind %s\n", argv[1]);
        return 2;
    }
    if (h5data_write(argv[2], n, 2, NULL, x, 0, y, &err)) {
        fprintf(stderr, "nt_mkdata: %s\n", err.msg);
        return 1;
    }
    return 0;
}
