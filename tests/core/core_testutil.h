/* Shared helpers for the src/core unit tests: a private random source (independent of the
 * code under test), array conversion, and a norm-wise relative error that names the worst
 * element in the failure message. */
#ifndef NN_CORE_TESTUTIL_H
#define NN_CORE_TESTUTIL_H
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 as a plain sequential generator, local to the tests. */
static inline uint64_t tu_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double tu_unif(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(tu_next(s) >> 11) * 0x1.0p-53);
}

static inline void tu_fill(double *a, size_t n, uint64_t *s, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) a[i] = tu_unif(s, lo, hi);
}

static inline void tu_fill_f(float *a, size_t n, uint64_t *s, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)tu_unif(s, lo, hi);
}

static inline void tu_f2d(double *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) dst[i] = (double)src[i];
}

/* max_i |got-want| / max(1e-8, max_i (|got|+|want|)); a NaN anywhere gives +inf. The
 * index of the largest absolute difference (or of the first NaN) goes to *worst. */
static inline double tu_relerr(const double *got, const double *want, size_t n, size_t *worst)
{
    double maxdiff = 0, maxmag = 0;
    *worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(got[i] - want[i]);
        if (isnan(d) || isinf(d)) { *worst = i; return INFINITY; }
        if (d > maxdiff) { maxdiff = d; *worst = i; }
        double mag = fabs(got[i]) + fabs(want[i]);
        if (mag > maxmag) maxmag = mag;
    }
    return maxdiff / (maxmag > 1e-8 ? maxmag : 1e-8);
}

/* Fails with the worst element when the norm-wise relative error reaches tol. */
#define TU_ASSERT_REL(what, got, want, n, tol)                                                 \
    do {                                                                                       \
        size_t w_ = 0;                                                                         \
        double e_ = tu_relerr((got), (want), (n), &w_);                                        \
        if (!(e_ < (tol)))                                                                     \
            fail_msg("%s: relative error %.3g >= %.3g; worst element [%zu]: got %.17g, "       \
                     "want %.17g",                                                             \
                     (what), e_, (double)(tol), w_, (got)[w_], (want)[w_]);                    \
    } while (0)

static inline void *tu_alloc(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

/* A model of dense layers sizes[0..nlayers] (input width first), hidden layers `hidden`,
 * the last identity, with biases (the tests' shorthand for an nn_model_spec). */
#include "model.h"
static inline int tu_model(nn_model *m, const int *sizes, int nlayers, nn_act hidden, int max_batch,
                           size_t nextra)
{
    nn_act acts[64];
    for (int l = 0; l < nlayers && l < 64; l++) acts[l] = l == nlayers - 1 ? NN_ACT_IDENTITY : hidden;
    nn_model_spec sp = {.nlayers = nlayers, .sizes = sizes, .acts = acts, .leaky_slope = 0.01,
                        .elu_alpha = 1.0, .bias = 1, .dropout = NULL, .max_batch = max_batch,
                        .nextra = nextra};
    return nn_model_create_spec(m, &sp);
}

/* torch.nn.Linear's default initialisation. */
static inline void tu_model_init(nn_model *m, uint64_t seed)
{
    nn_model_init_scheme(m, seed, NN_INIT_TORCH, 0);
}

#endif
