/* Per-feature mean and population standard deviation (ddof 0) of /X rows, accumulated over
 * blocks of rows: each block's mean and sum of squared deviations are computed exactly in two
 * passes over the block in memory, then merged into the running totals (Chan et al.), so a
 * file is read once and a large common offset does not cancel. Used by standardize and
 * split --standardize. */
#ifndef NN_XSTATS_H
#define NN_XSTATS_H
#include <stdint.h>

#include "err.h"

struct xstats {
    int64_t d, n;
    double *mean, *m2, *mn, *mx, *bmean, *bm2;
};

int xstats_init(struct xstats *s, int64_t d);
void xstats_free(struct xstats *s);
/* Add nr rows of d finite values (row-major). */
void xstats_add(struct xstats *s, const double *buf, int64_t nr);
/* Float32 mean and std per feature; a constant feature (min == max, tested exactly so rounding
 * in the mean cannot make a tiny nonzero std) gets its value as mean and std 1. nconst
 * receives the count of those. Returns 0, or NT_EXIT_INPUT with e (naming path) when a
 * statistic does not fit in float32 (the data's values are out of range). */
int xstats_finish(const struct xstats *s, const char *path, float *mean, float *std,
                  int64_t *nconst, nt_err *e);
/* Range of v[0..d). */
void xstats_range(const float *v, int64_t d, double *lo, double *hi);

#endif
