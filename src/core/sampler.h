/* Which samples a rank trains on: the per-epoch permutation and the sharding arithmetic.
 * Pure functions of (seed, epoch, N, batch, P, rank, step), identical on every rank. */
#ifndef NN_SAMPLER_H
#define NN_SAMPLER_H
#include <stdint.h>

/* perm[0..n) := a permutation of 0..n-1 drawn from stream key (Fisher-Yates). */
void nn_permutation(int64_t *perm, int64_t n, uint64_t key);

/* A permutation of 0..n-1 that is either a table (Fisher-Yates, nn_permutation) or, for
 * datasets too large for a table of 8 bytes per row, a keyed bijection evaluated per
 * position: a 4-round Feistel network on the smallest even-bit domain >= n, cycle-walking
 * until the value falls below n (fewer than 4 rounds of walking on average). Both are pure
 * functions of (key, n), so every rank computes the same order. */
typedef struct {
    int64_t n;
    const int64_t *table; /* NULL: Feistel */
    uint64_t key;
    int half_bits;        /* Feistel: the domain is 2^(2 half_bits) */
} nn_perm;

nn_perm nn_perm_table(const int64_t *table, int64_t n);
nn_perm nn_perm_feistel(int64_t n, uint64_t key);
int64_t nn_feistel_at(const nn_perm *p, int64_t i);
static inline int64_t nn_perm_at(const nn_perm *p, int64_t i)
{
    return p->table ? p->table[i] : nn_feistel_at(p, i);
}

/* Number of global batches in an epoch of n samples: ceil(n / batch); the last may be partial. */
int64_t nn_steps_per_epoch(int64_t n, int64_t batch);

/* Global batch `step` covers permutation positions [step*batch, min((step+1)*batch, n)).
 * It is cut into nranks contiguous shards; rank r gets positions [*lo, *hi) with
 * *lo = start + floor(r*b/P), so shard sizes differ by at most one and concatenate in rank
 * order to the whole batch. Also used for sharding evaluation sets (one "batch" of n). */
void nn_shard(int64_t n, int64_t batch, int nranks, int rank, int64_t step,
              int64_t *lo, int64_t *hi);
/* The same cut along fixed chunks: the batch's rows form chunks of `chunk` rows counted from
 * its start (the last may be shorter) whose boundaries do not depend on nranks; rank r gets
 * chunks [floor(r*g/P), floor((r+1)*g/P)) of the g chunks (deterministic mode). chunk <= 0:
 * nn_shard. */
void nn_shard_chunks(int64_t n, int64_t batch, int nranks, int rank, int64_t step, int64_t chunk,
                     int64_t *lo, int64_t *hi);

#endif
