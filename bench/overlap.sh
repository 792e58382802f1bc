#!/usr/bin/env bash
# The gradient allreduce overlapped with backward (issue 12), on the cluster of
# launch/cluster-up (one machine): configs a, b, c (as bench/vs_pytorch.sh) on 2 nodes x 1 rank
# over a link shaped to RATE, [train] overlap = off (one blocking allreduce after backward) vs
# on (1 MiB buckets started during backward, progressed between 32-MFLOP pieces; the default
# across nodes), ROUNDS interleaved rounds of EPOCHS epochs:
#   bench/overlap.sh [EPOCHS] [ROUNDS] [RATE]      (defaults 3 epochs, 3 rounds, 10gbit)
# Per config and mode, the median over rounds of: samples/s and, per step, the allreduce time
# (first bucket's start to the end of the exchange) and the exposed part (the step waited for
# it), all from metrics.csv over epochs 2..EPOCHS (epoch 1 is warm-up). Prints a markdown table
# (for BENCHMARKS.md); raw metrics stay in build/bench-overlap/.
# Kernels: OPENBLAS_CORETYPE=Cooperlake unless set, one BLAS thread per rank. Holds
# /tmp/nn-cluster.lock while it uses the cluster, and removes the cluster at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
EPOCHS=${1:-3}
ROUNDS=${2:-3}
RATE=${3:-10gbit}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} OPENBLAS_NUM_THREADS=1
OUT=build/bench-overlap

nn_install_deps
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
rm -rf "$OUT" && mkdir -p "$OUT"
W=$(mktemp -d /tmp/nntrain-bench-overlap.XXXXXX)
trap 'rm -rf "$W"' EXIT
exec 9>/tmp/nn-cluster.lock
flock -n 9 || { echo "waiting for /tmp/nn-cluster.lock (someone else uses the cluster)" >&2
                flock -w "${NN_LOCK_WAIT:-3600}" 9 || { echo "cluster lock still held: giving up" >&2; exit 1; }; }
trap 'launch/cluster-down >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
launch/cluster-up 2 --link "$RATE" >/dev/null 9>&-
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"

# name | layers | activation | optimizer | lr | momentum | batch
CONFIGS=(
  "a|784,100,10|sigmoid|adam|0.001|0|64"
  "b|784,256,256,10|relu|adam|0.001|0|128"
  "c|784,1024,1024,10|relu|sgd|0.01|0.9|256"
)
for r in $(seq 1 "$ROUNDS"); do
    for c in "${CONFIGS[@]}"; do
        IFS='|' read -r name layers act opt lr mom batch <<< "$c"
        for mode in off on; do
            echo "round $r: config $name overlap $mode" >&2
            sets=(--set "model.layers=${layers//,/, }" --set "model.activation=$act" --set "optimizer.name=$opt"
                  --set "optimizer.lr=$lr" --set "train.batch_size=$batch" --set "train.epochs=$EPOCHS"
                  --set "train.threads=1" --set "data.val_fraction=0" --set "checkpoint.every_epochs=0"
                  --set "train.overlap=$mode" --set "output.dir=$W/run")
            [ "$opt" = sgd ] && sets+=(--set "optimizer.momentum=$mom")
            rm -rf "$W/run"
            NN_HOSTS=node1:1,node2:1 nn_mpirun 2 build/nntrain train --config examples/fashion-mnist.ini --quiet \
                "${sets[@]}" > "$W/log" 2>&1 || { cat "$W/log" >&2; exit 1; }
            cp "$W/run/metrics.csv" "$OUT/$name-$mode-r$r.csv"
        done
    done
done
launch/cluster-down >/dev/null
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"
flock -u 9

med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
# per run: samples/s, allreduce ms/step, exposed ms/step over epochs 2..EPOCHS
per_run() {
    awk -F, -v first=$((EPOCHS > 1 ? 2 : 1)) -v batch="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 >= first { s += $c["samples_per_s"]; a += $c["allreduce_s"]; x += $c["allreduce_exposed_s"];
                      steps += 60000 / batch; n++ }
        END { printf "%.1f %.3f %.3f\n", s / n, 1000 * a / steps, 1000 * x / steps }' "$1"
}
echo
echo "2 nodes x 1 rank over $RATE, median of $ROUNDS rounds (epochs 2..$EPOCHS):"
echo
echo "| config | overlap | samples/s | allreduce ms/step | exposed ms/step | exposed / allreduce | samples/s on / off |"
echo "|---|---|---:|---:|---:|---:|---:|"
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r name _ _ _ _ _ batch <<< "$c"
    declare -A S=()
    for mode in off on; do
        for f in "$OUT/$name-$mode"-r*.csv; do per_run "$f" "$batch"; done > "$W/$mode"
        S[$mode]=$(cut -d' ' -f1 "$W/$mode" | med)
        a=$(cut -d' ' -f2 "$W/$mode" | med) x=$(cut -d' ' -f3 "$W/$mode" | med)
        ratio=""; [ "$mode" = on ] && ratio=$(awk -v a="${S[on]}" -v b="${S[off]}" 'BEGIN { printf "%.2f", a / b }')
        awk -v n="$name" -v m="$mode" -v s="${S[$mode]}" -v a="$a" -v x="$x" -v r="$ratio" \
            'BEGIN { printf "| %s | %s | %.0f | %.2f | %.2f | %.2f | %s |\n", n, m, s, a, x, (a > 0 ? x / a : 0), r }'
    done
done
