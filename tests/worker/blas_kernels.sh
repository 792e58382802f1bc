#!/usr/bin/env bash
# OpenBLAS kernel selection (src/worker/blas.c; issue 12). The best kernel for this CPU is
# worked out here from /proc/cpuinfo's flags (avx512_bf16 -> Cooperlake, AVX-512 F/BW/VL/DQ ->
# SkylakeX, avx2+fma -> Haswell, avx -> Sandybridge), independently of nntrain's cpuid code:
#  - OpenBLAS picking a generic core (simulated with NNTRAIN_TEST_BLAS_CORE=Prescott, since this
#    machine's OpenBLAS may recognise its CPU): nntrain re-executes itself with
#    OPENBLAS_CORETYPE=<best>; the banner names that kernel, --verbose says it was chosen by
#    nntrain and what OpenBLAS had picked; also under mpirun (2 ranks) and with the same results;
#  - a user's OPENBLAS_CORETYPE is respected (banner and --verbose say so);
#  - without either, the banner names a kernel at least as wide as the best (OpenBLAS's own
#    choice when it recognises the CPU, else nntrain's);
#  - the PyTorch fixture test passes under every kernel this CPU can run (Prescott, Haswell,
#    SkylakeX, Cooperlake), the kernels it cannot run are listed as not run.
# Argument: the test_fixtures binary.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir blas
FIXTURES=$1
flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
has() { local f; for f; do [[ $flags == *" $f "* ]] || return 1; done; }
runnable=(Prescott)
best=Prescott
if has avx; then best=Sandybridge; fi
if has avx2 fma; then best=Haswell; runnable+=(Haswell); fi
if has avx512f avx512bw avx512vl avx512dq; then best=SkylakeX; runnable+=(SkylakeX); fi
if has avx512f avx512bw avx512vl avx512dq avx512_bf16; then best=Cooperlake; runnable+=(Cooperlake); fi
level() { case $1 in Prescott|Core2|Nehalem) echo 0 ;; Sandybridge) echo 1 ;; Haswell|Zen) echo 2 ;; SkylakeX) echo 3 ;; Cooperlake|SapphireRapids) echo 4 ;; *) echo -1 ;; esac; }
echo "--- this CPU: best OpenBLAS kernel $best; can run: ${runnable[*]}"

"$NNDATA" make-moons 600 "$T/m.h5" --seed 2 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/m.h5
[model]
layers = 2, 32, 2
[train]
epochs = 2
batch_size = 32
INI
run() { # run OUT NP [ENV=VAL...]: nntrain train --verbose on NP ranks into $T/OUT
    local out=$1 np=$2; shift 2
    env -u OPENBLAS_CORETYPE "$@" "$MPIEXEC" -np "$np" $MPI_PREFLAGS "$NNTRAIN" train --config "$T/j.ini" \
        --verbose --set output.dir="$T/$out" > "$T/$out.out" 2>&1
}
kernel() { sed -n 's/^nntrain [0-9.]* | .* BLAS threads\{0,1\} (\([A-Za-z0-9_]*\)) | .*/\1/p' "$1"; }

# OpenBLAS "picked" Prescott: nntrain chooses the best
run sim 1 NNTRAIN_TEST_BLAS_CORE=Prescott || fail "run with NNTRAIN_TEST_BLAS_CORE=Prescott: $(cat "$T/sim.out")"
if [ "$best" = Prescott ]; then
    [ "$(kernel "$T/sim.out")" = Prescott ] && ok "an SSE-only CPU: Prescott stays" || fail "banner: $(head -1 "$T/sim.out")"
else
    [ "$(kernel "$T/sim.out")" = "$best" ] &&
        grep -q "^rank 0: .*, OpenBLAS $best kernels chosen by nntrain (OpenBLAS alone picked Prescott for this CPU), pid" "$T/sim.out" &&
        ok "OpenBLAS on Prescott: nntrain re-executed itself with $best (banner and --verbose say so)" ||
        fail "OpenBLAS on Prescott: $(grep -E '^nntrain |^rank' "$T/sim.out")"
fi
run sim2 2 NNTRAIN_TEST_BLAS_CORE=Prescott || fail "2 ranks with NNTRAIN_TEST_BLAS_CORE=Prescott: $(cat "$T/sim2.out")"
[ "$(grep -c "^rank [01]: .*, OpenBLAS $best kernels chosen by " "$T/sim2.out")" = 2 ] &&
    ok "under mpirun: both ranks run $best" || fail "2 ranks: $(grep -E '^nntrain |^rank' "$T/sim2.out")"
run ref2 2 OPENBLAS_CORETYPE="$best" || fail "2 ranks with OPENBLAS_CORETYPE=$best"
h5diff -q "$T/ref2/model.h5" "$T/sim2/model.h5" && ok "same model.h5 as OPENBLAS_CORETYPE=$best set by hand" ||
    fail "re-executed run differs from OPENBLAS_CORETYPE=$best"

# a user's choice wins
run user 1 OPENBLAS_CORETYPE=Prescott NNTRAIN_TEST_BLAS_CORE=Prescott || fail "run with OPENBLAS_CORETYPE=Prescott"
[ "$(kernel "$T/user.out")" = Prescott ] && grep -q "kernels chosen by OPENBLAS_CORETYPE=Prescott, pid" "$T/user.out" &&
    ok "OPENBLAS_CORETYPE=Prescott is respected" || fail "user override: $(grep -E '^nntrain |^rank' "$T/user.out")"

# nothing set: at least as wide as the best
run plain 1 || fail "plain run"
k=$(kernel "$T/plain.out")
[ "$(level "$k")" -ge "$(level "$best")" ] && ok "by default: $k kernels ($(sed -n 's/.*kernels chosen \(by [^,]*\), pid.*/\1/p' "$T/plain.out"))" ||
    fail "by default $k kernels, narrower than $best"

# the PyTorch fixtures under every kernel the CPU runs
for c in Prescott Haswell SkylakeX Cooperlake; do
    if [[ " ${runnable[*]} " != *" $c "* ]]; then echo "--- not run: $c (this CPU lacks its instructions)"; continue; fi
    OPENBLAS_CORETYPE=$c OPENBLAS_NUM_THREADS=1 "$FIXTURES" "$SRC_DIR/tests/fixtures/torch_reference.h5" > "$T/fx-$c.out" 2>&1 &&
        ok "PyTorch fixtures pass with OPENBLAS_CORETYPE=$c ($(grep -c '^\[       OK \]' "$T/fx-$c.out") tests)" ||
        fail "fixtures with $c: $(tail -5 "$T/fx-$c.out")"
done
finish "all passed"
