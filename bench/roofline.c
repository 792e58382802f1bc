/* The sgemm roofline of a training step: the time OpenBLAS needs for exactly the matrix
 * products of one step of an MLP (per layer: forward Z = X W^T, backward dW = dZ^T X and,
 * except for the first layer, dX = dZ W; the shapes nntrain's kernels use), with the kernel
 * and thread count of this process (OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS). Prints the
 * samples/s a step could reach if it did nothing but these products:
 *   roofline LAYERS BATCH RANKS    e.g.  roofline 784,256,256,10 128 2
 * With RANKS > 1 each rank multiplies its shard ceil(BATCH / RANKS) rows, all ranks at once on
 * their own cores (so run it with 1 BLAS thread per rank's core): rate = BATCH / shard time.
 * Best of several timed repetitions after a warm-up. Used by bench/vs_pytorch.sh. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: roofline LAYERS BATCH RANKS\n");
        return 2;
    }
    int sizes[64], n = 0;
    for (char *s = strtok(argv[1], ","); s && n < 64; s = strtok(NULL, ",")) sizes[n++] = atoi(s);
    const int B = atoi(argv[2]), P = atoi(argv[3]);
    if (n < 2 || B < 1 || P < 1) return 2;
    const int b = (B + P - 1) / P;
    size_t maxw = 0, maxa = 0;
    for (int l = 0; l + 1 < n; l++) {
        size_t w = (size_t)sizes[l] * sizes[l + 1];
        if (w > maxw) maxw = w;
        if ((size_t)sizes[l] > maxa) maxa = (size_t)sizes[l];
        if ((size_t)sizes[l + 1] > maxa) maxa = (size_t)sizes[l + 1];
    }
    float *W = malloc(sizeof(float) * maxw), *dW = malloc(sizeof(float) * maxw);
    float *X = malloc(sizeof(float) * maxa * b), *Z = malloc(sizeof(float) * maxa * b);
    float *dZ = malloc(sizeof(float) * maxa * b), *dX = malloc(sizeof(float) * maxa * b);
    if (!W || !dW || !X || !Z || !dZ || !dX) return 1;
    for (size_t i = 0; i < maxw; i++) W[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < maxa * b; i++) X[i] = dZ[i] = (float)((i * 104729) % 1000) * 1e-3f;
    double best = 1e30;
    for (int rep = 0; rep < 12; rep++) {
        double t0 = now();
        const int inner = 20;
        for (int k = 0; k < inner; k++)
            for (int l = 0; l + 1 < n; l++) {
                const int in = sizes[l], out = sizes[l + 1];
                /* forward: Z (b x out) = X (b x in) W^T (W: out x in) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, out, in, 1, X, in, W, in, 0, Z, out);
                /* backward: dW (out x in) = dZ^T (out x b) X (b x in) */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, b, 1, dZ, out, X, in, 0, dW, in);
                /* dX (b x in) = dZ (b x out) W (out x in), not for the first layer */
                if (l > 0)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, in, out, 1, dZ, out, W, in, 0, dX, in);
            }
        double t = (now() - t0) / inner;
        if (rep >= 2 && t < best) best = t; /* the first two are warm-up */
    }
    printf("%.1f\n", B / best);
    return 0;
}
