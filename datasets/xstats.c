/* Streaming per-feature statistics for standardization (see xstats.h). */
#include "xstats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int xstats_init(struct xstats *s, int64_t d)
{
    memset(s, 0, sizeof *s);
    s->d = d;
    double *p = calloc((size_t)d * 6, sizeof *p);
    if (!p) return -1;
    s->mean = p, s->m2 = p + d, s->mn = p + 2 * d, s->mx = p + 3 * d;
    s->bmean = p + 4 * d, s->bm2 = p + 5 * d;
    for (int64_t j = 0; j < d; j++) s->mn[j] = INFINITY, s->mx[j] = -INFINITY;
    return 0;
}

void xstats_free(struct xstats *s)
{
    free(s->mean);
    s->mean = NULL;
}

void xstats_add(struct xstats *s, const double *buf, int64_t nr)
{
    int64_t d = s->d;
    if (nr <= 0) return;
    for (int64_t j = 0; j < d; j++) s->bmean[j] = 0, s->bm2[j] = 0;
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < d; j++) {
            double v = buf[i * d + j];
            s->bmean[j] += v;
            if (v < s->mn[j]) s->mn[j] = v;
            if (v > s->mx[j]) s->mx[j] = v;
        }
    for (int64_t j = 0; j < d; j++) s->bmean[j] /= (double)nr;
    for (int64_t i = 0; i < nr; i++)
        for (int64_t j = 0; j < d; j++) {
            double dv = buf[i * d + j] - s->bmean[j];
            s->bm2[j] += dv * dv;
        }
    double na = (double)s->n, nb = (double)nr, nt = na + nb;
    for (int64_t j = 0; j < d; j++) {
        double delta = s->bmean[j] - s->mean[j];
        s->mean[j] += delta * (nb / nt);
        s->m2[j] += s->bm2[j] + delta * delta * (na * nb / nt);
    }
    s->n += nr;
}

int xstats_finish(const struct xstats *s, const char *path, float *mean, float *std,
                  int64_t *nconst, nt_err *e)
{
    *nconst = 0;
    for (int64_t j = 0; j < s->d; j++) {
        double m = s->mean[j], sd = 1.0;
        if (s->mn[j] == s->mx[j]) {
            m = s->mn[j];
            ++*nconst;
        } else {
            sd = sqrt(s->m2[j] / (double)s->n);
            if (m < s->mn[j]) m = s->mn[j]; /* rounding can not leave the data's range */
            if (m > s->mx[j]) m = s->mx[j];
        }
        mean[j] = (float)m;
        std[j] = (float)sd;
        if (!isfinite(mean[j]) || !isfinite(std[j]) || !(std[j] > 0))
            return nt_fail(e, "%s: feature %lld: mean %g / std %g is not representable as "
                           "float32", path, (long long)j, m, sd), NT_EXIT_INPUT;
    }
    return 0;
}

void xstats_range(const float *v, int64_t d, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t j = 0; j < d; j++) {
        if (v[j] < *lo) *lo = v[j];
        if (v[j] > *hi) *hi = v[j];
    }
}
