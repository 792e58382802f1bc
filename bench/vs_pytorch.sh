#!/usr/bin/env bash
# nntrain vs PyTorch, measured in the same run on the same machine: same data
# (Fashion-MNIST HDF5, all 60000 training rows), same MLP, same optimizer, same global batch,
# same thread budget (all cores). Prints a markdown table of samples/s and the ratio
# nntrain / torch; paste it into BENCHMARKS.md.
#   bench/vs_pytorch.sh [EPOCHS] [ROUNDS]     (defaults 2 epochs, 2 interleaved rounds)
# nntrain runs in two layouts under the same budget: P ranks x 1 BLAS thread (P = cores) and
# 1 rank x P threads. Its samples/s is the training phase of each epoch (HDF5 reads included,
# evaluation excluded) from metrics.csv over epochs 2..EPOCHS (epoch 1 is its warm-up); torch's
# is its timed epochs after 20 untimed warm-up steps (bench/torch_mlp.py). Both flush denormals
# to zero (nntrain's default flush_denormals; torch.set_flush_denormal(True) for torch). Each figure is the
# best of ROUNDS runs, torch and nntrain interleaved so machine noise hits both; torch's is the
# best over its two thread settings (all cores, and 1) as well.
# The roofline columns (% roofline) divide nntrain's rate by the sgemm roofline of its layout,
# measured in the same run with the same kernel (bench/roofline.c: only the matrix products of
# one step, at the step's exact shapes: P ranks x 1 thread on shards of ceil(B / P) rows, or
# 1 rank x P threads on the whole batch). The scaling columns compare P ranks x 1 thread with
# 1 rank x 1 thread (same global batch), beside the same ratio of the two layouts' rooflines:
# how far the machine's own sgemm scales when P cores multiply at once (shared caches, memory
# bandwidth, clock), the ceiling for any data-parallel trainer here.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
EPOCHS=${1:-2}
ROUNDS=${2:-2}
CORES=$(nproc)
PY=/usr/bin/python3

nn_install_deps
nn_install python3-torch python3-h5py python3-numpy
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
cc -O2 -std=c11 bench/roofline.c -o build/roofline $(pkg-config --cflags --libs openblas)
W=$(mktemp -d /tmp/nntrain-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT

# name | layers | activation | optimizer | lr | momentum | batch
CONFIGS=(
  "784-100-10 sigmoid adam b64|784,100,10|sigmoid|adam|0.001|0|64"
  "784-256-256-10 relu adam b128|784,256,256,10|relu|adam|0.001|0|128"
  "784-1024-1024-10 relu sgd-m b256|784,1024,1024,10|relu|sgd|0.01|0.9|256"
)

torch_run() { # layers act opt lr mom batch threads -> samples/s
    $PY bench/torch_mlp.py --train data/fashion-train.h5 --test data/fashion-test.h5 \
        --layers "$1" --activation "$2" --optimizer "$3" --lr "$4" --momentum "$5" --batch "$6" \
        --epochs "$EPOCHS" --threads "$7" --flush-denormal --json |
        $PY -c 'import json,sys; print(json.loads(sys.stdin.read())["samples_per_s"])'
}

nntrain_run() { # np threads layers act opt lr mom batch -> samples/s
    local np=$1 th=$2 out="$W/run-$1-$2"
    rm -rf "$out"
    local sets=(--set "model.layers=${3//,/, }" --set "model.activation=$4" --set "optimizer.name=$5"
                --set "optimizer.lr=$6" --set "train.batch_size=$8" --set "train.epochs=$EPOCHS"
                --set "train.threads=$th" --set "data.val_fraction=0" --set "output.dir=$out")
    [ "$5" = sgd ] && sets+=(--set "optimizer.momentum=$7")
    nn_mpirun "$np" build/nntrain train --config examples/fashion-mnist.ini --quiet "${sets[@]}" >&2
    # aggregate rate over epochs 2..E (epoch 1 is the warm-up), or epoch 1 when E = 1
    awk -F, -v E="$EPOCHS" 'NR > 1 && (E == 1 || $1 > 1) { n += 60000; t += 60000 / $6 } END { print n / t }' "$out/metrics.csv"
}

best() { printf '%s\n' "$@" | sort -g | tail -1; }
roofline() { # np threads layers batch -> samples/s of the step's sgemm calls alone
    OPENBLAS_NUM_THREADS=$2 build/roofline "$3" "$4" "$1"
}

echo "| model | torch (best of ${CORES} and 1 threads) | nntrain ${CORES} ranks x 1 thread | ratio | % roofline | nntrain 1 rank x ${CORES} threads | ratio | % roofline | nntrain 1 rank x 1 thread | scaling ${CORES}x1 / 1x1 | roofline ${CORES}x1 / 1x1 |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name layers act opt lr mom batch <<< "$c"
    t=() a=() b=() s=() ra=() rb=() rs=()
    for r in $(seq 1 "$ROUNDS"); do
        # torch at its best thread setting: CORES threads, and 1 (small models can lose to
        # the threads' synchronisation)
        t+=("$(torch_run "$layers" "$act" "$opt" "$lr" "$mom" "$batch" "$CORES")")
        [ "$CORES" -gt 1 ] && t+=("$(torch_run "$layers" "$act" "$opt" "$lr" "$mom" "$batch" 1)")
        a+=("$(nntrain_run "$CORES" 1 "$layers" "$act" "$opt" "$lr" "$mom" "$batch")")
        b+=("$(nntrain_run 1 "$CORES" "$layers" "$act" "$opt" "$lr" "$mom" "$batch")")
        ra+=("$(roofline "$CORES" 1 "$layers" "$batch")")
        rb+=("$(roofline 1 "$CORES" "$layers" "$batch")")
        s+=("$(nntrain_run 1 1 "$layers" "$act" "$opt" "$lr" "$mom" "$batch")")
        rs+=("$(roofline 1 1 "$layers" "$batch")")
    done
    T=$(best "${t[@]}") A=$(best "${a[@]}") B=$(best "${b[@]}") RA=$(best "${ra[@]}") RB=$(best "${rb[@]}")
    S=$(best "${s[@]}") RS=$(best "${rs[@]}")
    printf '| %s | %.0f | %.0f | %.2f | %.0f %% | %.0f | %.2f | %.0f %% | %.0f | %.2f | %.2f |\n' "$name" "$T" "$A" "$(echo "$A / $T" | bc -l)" \
        "$(echo "100 * $A / $RA" | bc -l)" "$B" "$(echo "$B / $T" | bc -l)" "$(echo "100 * $B / $RB" | bc -l)" \
        "$S" "$(echo "$A / $S" | bc -l)" "$(echo "$RA / $RS" | bc -l)"
done
