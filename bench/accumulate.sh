#!/usr/bin/env bash
# Gradient accumulation ([train] accumulate = k, issue 15): peak RSS per rank and samples/s
# for k = 1, 4, 16 on a wide model (784-4096-4096-10, SGD with momentum, global batch 1024,
# 2 ranks x 1 thread: shards of 512 rows, micro-batches of 512 / 128 / 32 rows) on
# Fashion-MNIST, ROUNDS interleaved rounds (best rate; peak RSS is the same every round):
#   bench/accumulate.sh [ROUNDS] [STEPS]     (defaults 2 rounds, 60 steps)
# Each run is capped by NNTRAIN_STOP_AT_STEP (it stops there and writes a checkpoint, as on
# SIGTERM); samples/s = (STEPS - 10) x 1024 / (wall time of a STEPS-step run - that of a
# 10-step run), so start-up, data loading and the final checkpoint cancel out. Peak RSS:
# /usr/bin/time's maximum resident set size of each rank, the larger of the two. Prints a
# markdown table for BENCHMARKS.md. Kernels: OPENBLAS_CORETYPE=Cooperlake unless set.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
ROUNDS=${1:-2}
STEPS=${2:-60}
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} OPENBLAS_NUM_THREADS=1
nn_install_deps
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
W=$(mktemp -d /tmp/nntrain-bench-accumulate.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# run K STEPS -> "seconds peak_rss_kib"
run() {
    local k=$1 steps=$2
    rm -rf "$W/run"
    local t0 t1
    t0=$(date +%s.%N)
    NNTRAIN_STOP_AT_STEP=$steps nn_mpirun 2 -x NNTRAIN_STOP_AT_STEP /usr/bin/time -f "rss %M" -a -o "$W/rss" \
        build/nntrain train --config examples/fashion-mnist.ini --quiet \
        --set "model.layers=784, 4096, 4096, 10" --set model.activation=relu --set optimizer.name=sgd \
        --set optimizer.lr=0.01 --set optimizer.momentum=0.9 --set train.batch_size=1024 \
        --set train.epochs=1 --set train.threads=1 --set data.val_fraction=0 \
        --set checkpoint.every_epochs=0 --set "train.accumulate=$k" --set "output.dir=$W/run" > "$W/log" 2>&1 ||
        { cat "$W/log" >&2; exit 1; }
    t1=$(date +%s.%N)
    local rss
    rss=$(awk '/^rss/ { if ($2 > m) m = $2 } END { print m }' "$W/rss")
    rm -f "$W/rss"
    echo "$(echo "$t1 - $t0" | bc -l) $rss"
}

declare -A best rss
for r in $(seq 1 "$ROUNDS"); do
    for k in 1 4 16; do
        echo "round $r: accumulate $k" >&2
        read -r tl m <<< "$(run "$k" "$STEPS")"
        read -r ts _ <<< "$(run "$k" 10)"
        rate=$(echo "($STEPS - 10) * 1024 / ($tl - $ts)" | bc -l)
        if [ -z "${best[$k]:-}" ] || [ "$(echo "$rate > ${best[$k]}" | bc -l)" = 1 ]; then best[$k]=$rate; fi
        rss[$k]=$m
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| accumulate k | micro-batch rows per rank | peak RSS per rank | vs k = 1 | samples/s (best of $ROUNDS) | vs k = 1 |"
echo "|---:|---:|---:|---:|---:|---:|"
for k in 1 4 16; do
    printf '| %d | %d | %.0f MiB | %.2f | %.0f | %.2f |\n' "$k" $((512 / k)) "$(echo "${rss[$k]} / 1024" | bc -l)" \
        "$(echo "${rss[$k]} / ${rss[1]}" | bc -l)" "${best[$k]}" "$(echo "${best[$k]} / ${best[1]}" | bc -l)"
done
