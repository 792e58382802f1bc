#!/usr/bin/env bash
# No heap allocation in a steady-state training step (issue 12). An LD_PRELOAD shim counts
# every malloc/calloc/realloc/aligned_alloc/posix_memalign of each rank's training (main)
# thread, split by caller: the MPI runtime (any frame of the stack in Open MPI, PMIx, libevent,
# hwloc: it also allocates through libc, e.g. name lookups), or anything else
# (nntrain, HDF5, OpenBLAS, libc); other threads' allocations are printed apart. Two runs differ only in the
# steps per epoch (2 000 and 20 000 rows, batch 20: 100 and 1 000 steps, 3 epochs, no
# validation, checkpoints and evaluation off), so their difference is 2 700 steps' worth:
#  - outside Open MPI it must be 0, at 1 and 2 ranks (Adam, dropout, every step's bookkeeping);
#  - inside Open MPI it is printed per step: its tuned MPI_Allreduce (recursive doubling for a
#    small gradient) mallocs a scratch buffer on every call, which nntrain cannot prevent
#    without replacing the library's algorithm (README, Performance).
# Argument: the count_allocs.so shim.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir allocs
SHIM=$1
for n in 2000 20000; do "$NNDATA" make-moons $n "$T/d$n.h5" --seed 1 > /dev/null; done
cat > "$T/j.ini" <<INI
[model]
layers = 2, 32, 32, 2
activation = tanh
dropout = 0.1
[optimizer]
name = adam
[train]
epochs = 3
batch_size = 20
threads = 1
[data]
val_fraction = 0
[checkpoint]
every_epochs = 0
INI
allocs() { # allocs NP N: "<other> <mpi> <other threads>" summed over the ranks
    rm -f "$T/c.txt"
    mpi "$1" -x LD_PRELOAD="$SHIM" -x COUNT_ALLOCS_OUT="$T/c.txt" "$NNTRAIN" train --config "$T/j.ini" \
        --set data.train="$T/d$2.h5" --set output.dir="$T/o$1-$2" --quiet > "$T/o.out" 2>&1 ||
        fail "np $1 N $2: $(tail -3 "$T/o.out")"
    awk '{ o += $2; m += $3; t += $4 } END { print o + 0, m + 0, t + 0 }' "$T/c.txt"
}
for np in 1 2; do
    read -r o1 m1 t1 <<< "$(allocs $np 2000)"
    read -r o2 m2 t2 <<< "$(allocs $np 20000)"
    steps=$((3 * (1000 - 100)))
    echo "--- $np rank(s): allocations outside Open MPI $o1 and $o2, inside $m1 and $m2, on other threads $t1 and $t2 (100 and 1000 steps per epoch)"
    [ "$o1" -gt 0 ] && [ "$o1" = "$o2" ] &&
        ok "$np rank(s): no allocation outside Open MPI in $steps more steps (both runs $o1)" ||
        fail "$np rank(s): $((o2 - o1)) more allocations outside Open MPI in $steps more steps ($o1 -> $o2)"
    echo "--- $np rank(s): Open MPI: $(awk -v a="$m1" -v b="$m2" -v s="$steps" -v p="$np" 'BEGIN { printf "%.2f", (b - a) / s / p }') allocations per step per rank"
done
finish "all passed"
