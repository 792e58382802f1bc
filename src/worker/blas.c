/* OpenBLAS kernel selection (blas.h). */
#define _GNU_SOURCE
#include "blas.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS's x86-64 core names (DYNAMIC_ARCH) by the widest vector ISA their kernels use:
 * 0 SSE2/3, 1 AVX, 2 AVX2+FMA, 3 AVX-512, 4 AVX-512 with BF16. */
static const struct {
    const char *name;
    int level;
} cores[] = {
    {"Prescott", 0},    {"Core2", 0},      {"Penryn", 0},      {"Dunnington", 0}, {"Nehalem", 0},
    {"Atom", 0},        {"Katmai", 0},     {"Coppermine", 0},  {"Northwood", 0},  {"Banias", 0},
    {"Opteron", 0},     {"Opteron_SSE3", 0}, {"Barcelona", 0}, {"Bobcat", 0},     {"Unknown", 0},
    {"Sandybridge", 1}, {"Bulldozer", 1},  {"Piledriver", 1},  {"Steamroller", 1}, {"Excavator", 1},
    {"Haswell", 2},     {"Zen", 2},        {"SkylakeX", 3},    {"Cooperlake", 4}, {"SapphireRapids", 4},
};

static int level_of(const char *name)
{
    for (size_t i = 0; i < sizeof cores / sizeof cores[0]; i++)
        if (name && !strcasecmp(name, cores[i].name)) return cores[i].level;
    return -1; /* a core this table does not know: leave OpenBLAS's choice alone */
}

/* The best kernel for this CPU (cpuid, and the OS saving the registers: libgcc checks XCR0). */
static const char *best_for_cpu(int *level)
{
    __builtin_cpu_init();
    const int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (avx512 && __builtin_cpu_supports("avx512bf16")) return *level = 4, "Cooperlake";
    if (avx512) return *level = 3, "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return *level = 2, "Haswell";
    if (__builtin_cpu_supports("avx")) return *level = 1, "Sandybridge";
    return *level = 0, NULL;
}

static char how[160] = "by OpenBLAS";

/* Set in the environment of the re-executed process: what OpenBLAS had picked by itself. */
#define PICKED_VAR "NNTRAIN_BLAS_PICKED"

void nt_blas_select(char **argv)
{
    const char *picked = getenv(PICKED_VAR), *user = getenv("OPENBLAS_CORETYPE");
    if (picked) { /* this is the re-executed process */
        snprintf(how, sizeof how, "by nntrain (OpenBLAS alone picked %s for this CPU)", picked);
        unsetenv(PICKED_VAR);
        return;
    }
    if (user && *user) {
        snprintf(how, sizeof how, "by OPENBLAS_CORETYPE=%s", user);
        return;
    }
    /* NNTRAIN_TEST_BLAS_CORE (tests only): pretend OpenBLAS picked that core, as it does on a CPU
     * newer than the library (this machine's OpenBLAS may well recognise its CPU) */
    const char *test = getenv("NNTRAIN_TEST_BLAS_CORE");
    const char *core = test && *test ? test : openblas_get_corename();
    int best_level;
    const char *best = best_for_cpu(&best_level);
    const int have = level_of(core);
    if (!best || have < 0 || best_level <= have) return;
    char was[64];
    snprintf(was, sizeof was, "%s", core);
    if (setenv("OPENBLAS_CORETYPE", best, 1) || setenv(PICKED_VAR, was, 1)) return;
    execv("/proc/self/exe", argv); /* returns only on failure: go on with OpenBLAS's choice */
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(PICKED_VAR);
    snprintf(how, sizeof how, "by OpenBLAS (%s; re-executing with OPENBLAS_CORETYPE=%s failed)", was, best);
}

const char *nt_blas_kernel(void)
{
    const char *c = openblas_get_corename();
    return c && *c ? c : "?";
}

const char *nt_blas_how(void) { return how; }
