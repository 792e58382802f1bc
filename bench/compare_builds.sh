#!/usr/bin/env bash
# Speed of two builds of nntrain, measured in the same run, interleaved: the three
# BENCHMARKS.md models on Fashion-MNIST (60 000 rows), 2 ranks x 1 BLAS thread, samples/s of
# the training phase of epochs 2..EPOCHS (epoch 1 is the warm-up; reads included), best of
# ROUNDS. Use it to show that a refactor costs no speed: ratio = new / old.
#   bench/compare_builds.sh OLD_BIN_DIR NEW_BIN_DIR [EPOCHS] [ROUNDS] [DATA_DIR]
# Each *_BIN_DIR holds nntrain and nndata; DATA_DIR (default a temporary one) gets
# fashion-train.h5 from OLD's nndata.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
OLD=$(cd "$1" && pwd); NEW=$(cd "$2" && pwd)
EPOCHS=${3:-3}; ROUNDS=${4:-3}
W=$(mktemp -d /tmp/nntrain-cmp.XXXXXX)
trap 'rm -rf "$W"' EXIT
D=${5:-$W}
[ -f "$D/fashion-train.h5" ] || datasets/fashion-mnist.sh "$OLD/nndata" "$D" >/dev/null
NP=$(nproc)
sed '/^test *=/d' examples/fashion-mnist.ini > "$W/job.ini" # no test set: training speed only

# name | layers | activation | optimizer | lr | momentum | batch
CONFIGS=(
  "784-100-10 sigmoid adam b64|784,100,10|sigmoid|adam|0.001|0|64"
  "784-256-256-10 relu adam b128|784,256,256,10|relu|adam|0.001|0|128"
  "784-1024-1024-10 relu sgd-m b256|784,1024,1024,10|relu|sgd|0.01|0.9|256"
)

run() { # bin layers act opt lr mom batch -> samples/s
    local out="$W/run"
    rm -rf "$out"
    local sets=(--set "data.train=$D/fashion-train.h5" --set "model.layers=${2//,/, }"
                --set "model.activation=$3" --set "optimizer.name=$4" --set "optimizer.lr=$5"
                --set "train.batch_size=$7" --set "train.epochs=$EPOCHS" --set "train.threads=1"
                --set "data.val_fraction=0" --set "output.dir=$out" --set "checkpoint.every_epochs=0")
    [ "$4" = sgd ] && sets+=(--set "optimizer.momentum=$6")
    nn_mpirun "$NP" "$1/nntrain" train --config "$W/job.ini" --quiet "${sets[@]}" >&2
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "samples_per_s") c = i }
             NR > 2 { n += 60000; t += 60000 / $c } END { print n / t }' "$out/metrics.csv"
}

best() { printf '%s\n' "$@" | sort -g | tail -1; }

echo "| model ($NP ranks x 1 thread) | old | new | new / old | all old rounds | all new rounds |"
echo "|---|---:|---:|---:|---|---|"
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name layers act opt lr mom batch <<< "$c"
    a=() b=()
    for r in $(seq 1 "$ROUNDS"); do
        a+=("$(run "$OLD" "$layers" "$act" "$opt" "$lr" "$mom" "$batch")")
        b+=("$(run "$NEW" "$layers" "$act" "$opt" "$lr" "$mom" "$batch")")
    done
    A=$(best "${a[@]}") B=$(best "${b[@]}")
    printf '| %s | %.0f | %.0f | %.3f | %s | %s |\n' "$name" "$A" "$B" "$(echo "$B / $A" | bc -l)" \
        "$(printf '%.0f ' "${a[@]}")" "$(printf '%.0f ' "${b[@]}")"
done
