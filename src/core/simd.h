/* NN_SIMD: an elementwise loop compiled three times, for AVX-512 (x86-64-v4), AVX2+FMA
 * (x86-64-v3) and the build's baseline (x86-64-v2), the clone picked once at load time by the
 * CPU (GCC target_clones, an ifunc). The build is C11 without GNU extensions, so no clone
 * contracts a * b + c into an FMA: every clone gives the baseline's bits (tested by the PyTorch
 * fixtures and bench/same_results.sh). Define NN_NO_CLONES to build without. */
#ifndef NN_SIMD_H
#define NN_SIMD_H
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(NN_NO_CLONES) && \
    __GNUC__ >= 12
#define NN_SIMD __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NN_SIMD
#endif
#endif
