/* bench/allreduce_bench.c: time of one float-sum allreduce (in place) vs message size, both
 * ways nntrain exchanges gradients: a blocking MPI_Allreduce (what nntrain_wait runs for the
 * buckets not started during backward: with the default 25 MiB buckets, the whole gradient of
 * models up to 6.5 M parameters) and MPI_Iallreduce + MPI_Wait (the buckets started during
 * backward). Built and run by bench/cluster.sh (mpicc -O2 bench/allreduce_bench.c -o
 * build/allreduce_bench).
 *   mpirun -np P allreduce_bench [MIN_BYTES [MAX_BYTES [SECONDS_PER_SIZE]]]
 * Sizes go up by factors of 2 from MIN_BYTES (default 4 KiB) to MAX_BYTES (default 64 MiB).
 * For each size: 2 untimed calls, then up to 200 timed calls or SECONDS_PER_SIZE (default
 * 0.5 s); each call is timed on every rank and the slowest rank's time counts (MPI_MAX).
 * Rank 0 prints one line per size: "bytes ranks min_s median_s nb_min_s nb_median_s" (blocking,
 * then non-blocking; the two alternate call by call). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long lo = argc > 1 ? atol(argv[1]) : 4096, hi = argc > 2 ? atol(argv[2]) : 64L << 20;
    double budget = argc > 3 ? atof(argv[3]) : 0.5;
    float *buf = malloc((size_t)hi);
    double *t = malloc(200 * sizeof *t), *u = malloc(200 * sizeof *u);
    if (!buf || !t || !u) MPI_Abort(MPI_COMM_WORLD, 1);
    memset(buf, 0, (size_t)hi);
    if (rank == 0)
        printf("# bytes ranks min_s median_s (MPI_Allreduce) nb_min_s nb_median_s (MPI_Iallreduce + "
               "MPI_Wait); float sum, in place, the slowest rank's time\n");
    for (long n = lo; n <= hi; n *= 2) {
        int count = (int)(n / 4), iters = 0;
        MPI_Request rq;
        for (int w = 0; w < 2; w++) {
            MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            MPI_Iallreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq);
            MPI_Wait(&rq, MPI_STATUS_IGNORE);
        }
        double start = MPI_Wtime();
        for (;;) {
            double dt[2], mx[2];
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            dt[0] = MPI_Wtime() - t0;
            MPI_Barrier(MPI_COMM_WORLD);
            t0 = MPI_Wtime();
            MPI_Iallreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &rq);
            MPI_Wait(&rq, MPI_STATUS_IGNORE);
            dt[1] = MPI_Wtime() - t0;
            MPI_Allreduce(dt, mx, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            t[iters] = mx[0];
            u[iters++] = mx[1];
            /* rank 0 decides when to stop, so that every rank runs the same calls */
            int more = iters < 200 && (iters < 5 || MPI_Wtime() - start < budget);
            MPI_Bcast(&more, 1, MPI_INT, 0, MPI_COMM_WORLD);
            if (!more) break;
        }
        qsort(t, (size_t)iters, sizeof *t, cmp);
        qsort(u, (size_t)iters, sizeof *u, cmp);
        if (rank == 0)
            printf("%ld %d %.6e %.6e %.6e %.6e\n", n, size, t[0], t[iters / 2], u[0], u[iters / 2]);
        fflush(stdout);
    }
    free(buf);
    free(t);
    free(u);
    MPI_Finalize();
    return 0;
}
