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

nn_perm nn_perm_table(const int64_t *table, int64_t n)
{
    return (nn_perm){.n = n, .table = table};
}

nn_perm nn_perm_feistel(int64_t n, uint64_t key)
{
    int bits = 0;
    while (bits < 62 && ((int64_t)1 << bits) < n) bits++;
    int half = (bits + 1) / 2;
    return (nn_perm){.n = n, .key = key, .half_bits = half > 0 ? half : 1};
}

/* One pass of the network over 2 h bits: (L, R) -> (R, L ^ F_r(R)), four rounds. */
static uint64_t feistel(uint64_t key, int h, uint64_t x)
{
    const uint64_t mask = ((uint64_t)1 << h) - 1;
    uint64_t l = x >> h, r = x & mask;
    for (uint64_t round = 0; round < 4; round++) {
        uint64_t f = nn_mix64(key ^ (round << 58) ^ r) & mask;
        uint64_t t = r;
        r = l ^ f;
        l = t;
    }
    return (l << h) | r;
}

int64_t nn_feistel_at(const nn_perm *p, int64_t i)
{
    /* cycle walking: the network permutes [0, 4^h); following it from i until the value is
     * below n permutes [0, n) (the cycle through i returns to [0, n) before repeating) */
    uint64_t x = (uint64_t)i;
    do x = feistel(p->key, p->half_bits, x);
    while (x >= (uint64_t)p->n);
    return (int64_t)x;
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

void nn_shard_chunks(int64_t n, int64_t batch, int nranks, int rank, int64_t step, int64_t chunk,
                     int64_t *lo, int64_t *hi)
{
    if (chunk <= 0) {
        nn_shard(n, batch, nranks, rank, step, lo, hi);
        return;
    }
    int64_t start = step * batch;
    int64_t end = start + batch < n ? start + batch : n;
    int64_t g = end > start ? (end - start + chunk - 1) / chunk : 0; /* chunks in the batch */
    int64_t a = start + (g * rank) / nranks * chunk, b = start + (g * (rank + 1)) / nranks * chunk;
    *lo = a < end ? a : end;
    *hi = b < end ? b : end;
}
