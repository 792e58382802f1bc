/* Which samples a rank trains on: the per-epoch permutation and the sharding arithmetic.
 * Pure functions of (seed, epoch, N, batch, P, rank, step), identical on every rank. */
#ifndef NN_SAMPLER_H
#define NN_SAMPLER_H
#include <stdint.h>

/* perm[0..n) := a permutation of 0..n-1 drawn from stream key (Fisher-Yates). */
void nn_permutation(int64_t *perm, int64_t n, uint64_t key);

/* Number of global batches in an epoch of n samples: ceil(n / batch); the last may be partial. */
int64_t nn_steps_per_epoch(int64_t n, int64_t batch);

/* Global batch `step` covers permutation positions [step*batch, min((step+1)*batch, n)).
 * It is cut into nranks contiguous shards; rank r gets positions [*lo, *hi) with
 * *lo = start + floor(r*b/P), so shard sizes differ by at most one and concatenate in rank
 * order to the whole batch. Also used for sharding evaluation sets (one "batch" of n). */
void nn_shard(int64_t n, int64_t batch, int nranks, int rank, int64_t step,
              int64_t *lo, int64_t *hi);

#endif
