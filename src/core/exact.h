/* Order-free exact sums of float arrays: the deterministic mode's reduction.
 *
 * The sum of many float arrays (one per fixed micro-chunk of a global batch) must come out
 * with the same bits however the arrays are spread over ranks and in whatever order they are
 * combined. Floating-point addition is not associative, integer addition is. So every value
 * is turned into a 64-bit integer on a grid that all parties agree on, the integers are summed
 * (locally, then by MPI's integer sum), and the total is turned back into a float once.
 *
 *  - The buffer is cut into blocks of NN_EXACT_BLOCK values. A block's grid is 2^(E - S):
 *    E is the largest binary exponent (frexp) of any value of the block in any chunk, agreed
 *    with a MAX over ranks; S = 62 - ceil(log2(chunks)), so that chunks values below 2^S each
 *    cannot overflow an int64.
 *  - A value v becomes trunc(v * 2^(S - E)) (exact double arithmetic, then truncation): the
 *    same integer wherever it is computed. Values of the block within 2^(S - 24) of its
 *    largest are exact; smaller ones lose bits below 2^(E - S) — about 2^-57 of the block's
 *    largest value for 32 chunks, far below a float's own rounding of 2^-24.
 *  - The exponent of a block is an int8_t: NN_EXACT_ZERO for an all-zero block, NN_EXACT_BAD
 *    when any value is infinite or NaN (the block then sums to NaN), else clamp(E, -120, 126).
 * The result is a pure function of the multiset of chunk arrays: independent of the number of
 * ranks, of which rank holds which chunk, and of the reduction's order or grouping. */
#ifndef NN_EXACT_H
#define NN_EXACT_H
#include <stddef.h>
#include <stdint.h>

#define NN_EXACT_BLOCK 64
#define NN_EXACT_ZERO INT8_MIN
#define NN_EXACT_BAD INT8_MAX

/* Blocks covering n values. */
static inline size_t nn_exact_blocks(size_t n) { return (n + NN_EXACT_BLOCK - 1) / NN_EXACT_BLOCK; }
/* The grid's shift S for sums of `chunks` arrays (chunks >= 1). */
int nn_exact_shift(int64_t chunks);
/* e[b] := max(e[b], exponent of block b of v[0..n)); start from NN_EXACT_ZERO. */
void nn_exact_exponents(const float *v, size_t n, int8_t *e);
/* acc[i] := sum over j < k of trunc(v[j][off + i] * 2^(S - e[block of i])), i < n (e indexed
 * from off, which is a multiple of NN_EXACT_BLOCK or n <= NN_EXACT_BLOCK). */
void nn_exact_sum(const float *const *v, int k, size_t off, size_t n, const int8_t *e, int S,
                  int64_t *acc);
/* out[i] := acc[i] * 2^(e[block] - S), rounded to float (NaN for NN_EXACT_BAD blocks). */
void nn_exact_result(const int64_t *acc, size_t n, const int8_t *e, int S, float *out);

#endif
