#!/usr/bin/env bash
# Performance across nodes (issue 11), on the cluster of launch/cluster-up (one machine):
#   bench/cluster.sh [EPOCHS] [ROUNDS]        (defaults 2 epochs, best of 2 interleaved rounds)
# 1. Configs a, b, c (as bench/vs_pytorch.sh) on
#      1 node x 2 ranks (shared memory; the reference), 2 nodes x 1 rank over links shaped to
#      10gbit, and over 1gbit;
#    also 1 rank x 1 thread (for the projection's compute time) and, for b and c, 2 nodes x 2
#    ranks over 10gbit (4 ranks on 2 cores: oversubscribed; to check the projection).
#    Per config and layout: samples/s, ratio to the reference, gradient allreduce time per step,
#    the part of it the step waited for (exposed) and exposed / allreduce, and the gradient bytes
#    per step (params x 4). All from metrics.csv over epochs 2..EPOCHS (epoch 1 is warm-up; when
#    EPOCHS = 1, epoch 1). Each figure is from the run with the best samples/s of ROUNDS rounds;
#    within a round all layouts of a config run one after the other.
# 2. The allreduce time vs message size (bench/allreduce_bench.c, 4 KiB..64 MiB) on 2 nodes x 1
#    rank over 10gbit and 1gbit, and on 2 nodes x 2 ranks over 10gbit.
# 3. bench/project.py on all of it: the alpha-beta fit and the projected samples/s and parallel
#    efficiency of b and c at 4..1024 ranks.
# Prints markdown tables (for BENCHMARKS.md); the raw results stay in build/bench-cluster/.
# Kernels: OPENBLAS_CORETYPE (default Cooperlake: Debian's OpenBLAS otherwise picks slow
# Prescott kernels on this CPU) and OPENBLAS_NUM_THREADS=1 are exported; the ranks on the nodes
# inherit them (launch/cluster-rsh passes the environment on).
# Holds /tmp/nn-cluster.lock while it uses the cluster, and removes the cluster at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
EPOCHS=${1:-2}
ROUNDS=${2:-2}
PY=/usr/bin/python3
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} OPENBLAS_NUM_THREADS=1
OUT=build/bench-cluster

nn_install_deps
nn_install python3-numpy
nn_build
mpicc -O2 -o build/allreduce_bench bench/allreduce_bench.c
datasets/fashion-mnist.sh build/nndata data >/dev/null
rm -rf "$OUT" && mkdir -p "$OUT"
W=$(mktemp -d /tmp/nntrain-bench-cluster.XXXXXX)
trap 'rm -rf "$W"' EXIT

# the cluster lock (shared with other users of the cluster on this machine); children that
# outlive the script (the nodes' holder processes) must not inherit it: cluster-up gets 9>&-
exec 9>/tmp/nn-cluster.lock
flock -n 9 || { echo "waiting for /tmp/nn-cluster.lock (someone else uses the cluster)" >&2
                flock -w "${NN_LOCK_WAIT:-3600}" 9 || { echo "cluster lock still held after ${NN_LOCK_WAIT:-3600} s: giving up" >&2; exit 1; }; }
trap 'launch/cluster-down >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"

# name | layers | activation | optimizer | lr | momentum | batch
CONFIGS=(
  "a|784,100,10|sigmoid|adam|0.001|0|64"
  "b|784,256,256,10|relu|adam|0.001|0|128"
  "c|784,1024,1024,10|relu|sgd|0.01|0.9|256"
)
# layout | ranks | NN_HOSTS | link
LAYOUTS=(
  "1x2|2||"
  "2x1-10g|2|node1:1,node2:1|10gbit"
  "2x1-1g|2|node1:1,node2:1|1gbit"
  "1x1|1||"
  "2x2-10g|4|node1:2,node2:2|10gbit"
)

link() { launch/cluster-up 2 ${1:+--link "$1"} >/dev/null 9>&-; }

# nntrain_run CONFIG LAYOUT ROUND: one run; its metrics.csv goes to $OUT/CONFIG-LAYOUT-rROUND.csv
nntrain_run() {
    local name layers act opt lr mom batch lname np hosts rate
    IFS='|' read -r name layers act opt lr mom batch <<< "$1"
    IFS='|' read -r lname np hosts rate <<< "$2"
    local out="$W/run"
    rm -rf "$out"
    [ -n "$rate" ] && link "$rate"
    local sets=(--set "model.layers=${layers//,/, }" --set "model.activation=$act" --set "optimizer.name=$opt"
                --set "optimizer.lr=$lr" --set "train.batch_size=$batch" --set "train.epochs=$EPOCHS"
                --set "train.threads=1" --set "data.val_fraction=0" --set "checkpoint.every_epochs=0"
                --set "output.dir=$out")
    [ "$opt" = sgd ] && sets+=(--set "optimizer.momentum=$mom")
    NN_HOSTS=$hosts nn_mpirun "$np" build/nntrain train --config examples/fashion-mnist.ini --quiet "${sets[@]}" \
        > "$W/log" 2>&1 || { cat "$W/log" >&2; return 1; }
    cp "$out/metrics.csv" "$OUT/$name-$lname-r$3.csv"
}

for r in $(seq 1 "$ROUNDS"); do
    for c in "${CONFIGS[@]}"; do
        for l in "${LAYOUTS[@]}"; do
            case ${c%%|*}/${l%%|*} in a/2x2-10g) continue ;; esac   # 4 ranks: b and c only
            echo "round $r: config ${c%%|*} layout ${l%%|*}" >&2
            nntrain_run "$c" "$l" "$r"
        done
    done
done

# allreduce vs message size: 2 nodes x 1 rank at 10gbit and 1gbit, 2 nodes x 2 ranks at 10gbit
for rate in 10gbit 1gbit; do
    link "$rate"
    echo "allreduce sweep: 2 nodes x 1 rank, $rate" >&2
    NN_HOSTS=node1:1,node2:1 nn_mpirun 2 build/allreduce_bench 4096 $((64 << 20)) 0.5 > "$OUT/allreduce-2x1-$rate.txt"
done
link 10gbit
echo "allreduce sweep: 2 nodes x 2 ranks, 10gbit" >&2
NN_HOSTS=node1:2,node2:2 nn_mpirun 4 build/allreduce_bench 4096 $((64 << 20)) 0.5 > "$OUT/allreduce-2x2-10gbit.txt"
nn_mpirun 2 build/allreduce_bench 4096 $((64 << 20)) 0.5 > "$OUT/allreduce-1x2.txt"
launch/cluster-down >/dev/null
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"
flock -u 9

$PY bench/project.py --results "$OUT" --epochs "$EPOCHS" --rounds "$ROUNDS"
