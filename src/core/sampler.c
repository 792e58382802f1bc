/* Epoch permutation and contiguous sharding of each global batch across ranks. */
#include "sampler.h"
#include "rng.h"

void nn_permutation(int64_t *perm, int64_t n, uint64_t key)
{
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)nn_below(key, (uint64_t)i, (uint64_t)i + 1);
        int64_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

int64_t nn_steps_per_epoch(int64_t n, int64_t batch)
{
    return n <= 0 ? 0 : (n + batch - 1) / batch;
}

void nn_shard(int64_t n, int64_t batch, int nranks, int rank, int64_t step,
              int64_t *lo, int64_t *hi)
{
    int64_t start = step * batch;
    int64_t end = start + batch < n ? start + batch : n;
    int64_t b = end > start ? end - start : 0;
    *lo = start + (b * rank) / nranks;
    *hi = start + (b * (rank + 1)) / nranks;
}
