#!/usr/bin/env bash
# Time to accuracy (issue 12): wall time of a whole run, start-up included, and the test
# accuracy it ends at, for nntrain's examples/fashion-fast.ini at 2 ranks against PyTorch's
# 15-epoch recipe on 1 thread, measured in the same invocation, interleaved.
#   bench/time_to_accuracy.sh [ROUNDS]      (default 3 rounds; each round runs torch, then nntrain)
# (a) nntrain: `mpirun -np 2 build/nntrain train --config examples/fashion-fast.ini` (the
#     flags launch/mpirun.sh adds: --bind-to none, --allow-run-as-root as root; not the
#     launch/mpirun.sh wrapper itself, whose once-a-second status poll would add up to 1 s),
#     timed from before mpirun starts until it has exited; accuracy = test_acc of the last
#     row of metrics.csv.
# (b) torch: bench/torch_mlp.py, 784-512-256-10 ReLU, dropout 0.2 after each hidden layer,
#     Adam lr 1e-3, CosineAnnealingLR over 15 epochs (stepped per epoch), batch 128, cross
#     entropy, 1 thread (torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1), denormals flushed
#     (as nntrain), test accuracy after every epoch, no warm-up steps; all 60 000 training
#     rows; seed = round number; timed as the whole python process (interpreter start,
#     imports, loading included). nntrain runs the file as it is (seed 1): it is
#     bit-reproducible, so its accuracy is the same every round and only its time varies.
# Both read the same files: data/fashion-train-std.h5 and data/fashion-test-std.h5,
# Fashion-MNIST with per-pixel mean/std attributes computed from the 60 000 training rows
# (nndata standardize; the test file gets the training statistics). Each run takes
# /tmp/nn-cluster.lock (set NN_BENCH_LOCK= to skip) so other jobs on the machine do not
# overlap it. Prints a markdown table; paste it into BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
ROUNDS=${1:-3}
PY=/usr/bin/python3
CONFIG=examples/fashion-fast.ini
LOCK=${NN_BENCH_LOCK-/tmp/nn-cluster.lock}

nn_install_deps
nn_install python3-torch python3-h5py python3-numpy
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
# standardised copies (statistics of the training file, also applied to the test file)
if [ ! -e data/fashion-train-std.h5 ] || [ ! -e data/fashion-test-std.h5 ]; then
    cp data/fashion-train.h5 data/fashion-train-std.h5.tmp
    cp data/fashion-test.h5 data/fashion-test-std.h5.tmp
    build/nndata standardize data/fashion-train-std.h5.tmp >/dev/null
    build/nndata standardize data/fashion-test-std.h5.tmp --stats-from data/fashion-train-std.h5.tmp >/dev/null
    mv data/fashion-train-std.h5.tmp data/fashion-train-std.h5
    mv data/fashion-test-std.h5.tmp data/fashion-test-std.h5
fi
W=$(mktemp -d /tmp/nntrain-tta.XXXXXX)
trap 'rm -rf "$W"' EXIT

locked() { if [ -n "$LOCK" ]; then flock "$LOCK" "$@"; else "$@"; fi; }
now() { date +%s.%N; }

# timed OUT CMD... -> runs CMD with stdout to OUT, stderr to OUT.err; prints CMD's wall seconds
# (called inside the lock, so waiting for it is not counted)
timed() { local o=$1 s e; shift; s=$(now); "$@" > "$o" 2> "$o.err"; e=$(now); echo "$e - $s" | bc -l; }
export -f timed now nn_mpirun

torch_run() { # round -> "seconds accuracy"
    local out="$W/torch-$1.json" secs
    secs=$(locked bash -c 'timed "$@"' timed "$out" \
        $PY bench/torch_mlp.py --train data/fashion-train-std.h5 --test data/fashion-test-std.h5 \
        --layers 784,512,256,10 --activation relu --dropout 0.2 --optimizer adam --lr 0.001 \
        --schedule cosine --batch 128 --epochs 15 --threads 1 --seed "$1" --warmup-steps 0 \
        --flush-denormal --eval-every-epoch --json)
    echo "$secs $($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["test_acc"])' "$out")"
}

nntrain_run() { # round -> "seconds accuracy"
    local out="$W/nntrain-$1" secs
    rm -rf "$out"
    secs=$(locked bash -c 'timed "$@"' timed "$out.log" \
        nn_mpirun 2 build/nntrain train --config "$CONFIG" --set output.dir="$out")
    echo "$secs $(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "test_acc") c = i } END { print $c }' "$out/metrics.csv")"
}


echo "| round | torch s (15 epochs, 1 thread) | torch test acc | nntrain s (fashion-fast.ini, 2 ranks) | nntrain test acc | nntrain / torch |"
echo "|---|---:|---:|---:|---:|---:|"
ts=() ns=()
for r in $(seq 1 "$ROUNDS"); do
    read -r T TA <<< "$(torch_run "$r")"
    read -r N NA <<< "$(nntrain_run "$r")"
    ts+=("$T") ns+=("$N")
    printf '| %d | %.1f | %.2f %% | %.1f | %.2f %% | %.3f |\n' "$r" "$T" "$(echo "$TA * 100" | bc -l)" \
        "$N" "$(echo "$NA * 100" | bc -l)" "$(echo "$N / $T" | bc -l)"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# which sgemm kernels each side ran: nntrain's banner names OpenBLAS's core; torch's process asks the library
nk=$(grep -m1 -o 'BLAS threads\? ([A-Za-z0-9]*)' "$W/nntrain-1.log" | grep -o '([A-Za-z0-9]*)' | tr -d '()' || true)
tk=$(OPENBLAS_NUM_THREADS=1 $PY -c 'import torch, ctypes
l = ctypes.CDLL("libopenblas.so.0"); l.openblas_get_corename.restype = ctypes.c_char_p
print(l.openblas_get_corename().decode())' 2>/dev/null || echo unknown)
MT=$(median "${ts[@]}") MN=$(median "${ns[@]}")
printf '| median | %.1f | | %.1f | | %.3f |\n' "$MT" "$MN" "$(echo "$MN / $MT" | bc -l)"
echo
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}; OpenBLAS kernels: nntrain ${nk:-unknown}, torch $tk; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
