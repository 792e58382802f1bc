#!/usr/bin/env bash
# Checkpoint time across hosts (issue 11), on the cluster of launch/cluster-up (one machine):
#   bench/cluster_ckpt.sh [CHECKPOINTS] [ROUNDS]     (defaults 5 checkpoints per run, 2 rounds)
# The time to write one checkpoint (collective MPI-IO/HDF5 write of weights, optimizer state
# and history; nntrain's checkpoint_s) for
#   784-1024-1024-10 ReLU Adam b256 (1.86 M parameters; weights + Adam m, v = 22 MB) on
#     1 node x 2 ranks (shared memory), 2 nodes x 1 rank over a 10gbit link, and
#     2 nodes x 2 ranks over 10gbit (4 ranks on 2 cores) with and without
#     --mca mpi_yield_when_idle 1 (which launch/mpirun.sh adds when ranks outnumber cores);
#   784-100-10 sigmoid Adam b64 (the tiny model of the earlier 1.7 s finding) on 2 nodes x 2
#     ranks, with and without the flag.
# Each run trains on 6000 of the 60000 rows (nndata split) for CHECKPOINTS + 1 epochs with a
# checkpoint after every epoch; the epoch events of --log-format json carry the time of the
# previous epoch's checkpoint (checkpoint_s), so each run gives CHECKPOINTS checkpoint times.
# Prints a markdown table: median, min and max over all runs' checkpoints, and the median
# train time per epoch (the steps suffer from the same busy-polling).
# Kernels: OPENBLAS_CORETYPE (default Cooperlake), OPENBLAS_NUM_THREADS=1.
# Holds /tmp/nn-cluster.lock while it uses the cluster, and removes the cluster at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
NCKPT=${1:-5}
ROUNDS=${2:-2}
PY=/usr/bin/python3
export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Cooperlake} OPENBLAS_NUM_THREADS=1

nn_install_deps
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
W=$(mktemp -d /tmp/nntrain-bench-ckpt.XXXXXX)
trap 'rm -rf "$W"' EXIT
build/nndata split data/fashion-train.h5 "$W/small" --fractions 0.1,0.9 --seed 1 >/dev/null

# the cluster lock (shared with other users of the cluster on this machine); children that
# outlive the script (the nodes' holder processes) must not inherit it: cluster-up gets 9>&-
exec 9>/tmp/nn-cluster.lock
flock -n 9 || { echo "waiting for /tmp/nn-cluster.lock (someone else uses the cluster)" >&2
                flock -w "${NN_LOCK_WAIT:-3600}" 9 || { echo "cluster lock still held after ${NN_LOCK_WAIT:-3600} s: giving up" >&2; exit 1; }; }
trap 'launch/cluster-down >/dev/null 2>&1 || true; rm -rf "$W"' EXIT
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
launch/cluster-up 2 --link 10gbit >/dev/null 9>&-

# name | layers | activation | batch
MODELS=(
  "784-1024-1024-10 relu adam b256|784, 1024, 1024, 10|relu|256"
  "784-100-10 sigmoid adam b64|784, 100, 10|sigmoid|64"
)
# layout | ranks | hosts | mpirun: nn (launch/common.sh's nn_mpirun) or the yield flag (0/1)
LAYOUTS=(
  "1 node x 2 ranks|2||nn"
  "2 nodes x 1 rank, 10gbit|2|node1:1,node2:1|nn"
  "2 nodes x 2 ranks, 10gbit, mpi_yield_when_idle 1|4|node1:2,node2:2|1"
  "2 nodes x 2 ranks, 10gbit, mpi_yield_when_idle 0|4|node1:2,node2:2|0"
)

run() { # MODEL LAYOUT ROUND: appends "model|layout|ckpt_s|train_s" lines to $W/times
    local mname layers act batch lname np hosts how
    IFS='|' read -r mname layers act batch <<< "$1"
    IFS='|' read -r lname np hosts how <<< "$2"
    local out="$W/run"
    rm -rf "$out"
    local args=(build/nntrain train --config examples/fashion-mnist.ini --log-format json
                --set "data.train=$W/small-train.h5" --set "data.val_fraction=0"
                --set "model.layers=$layers" --set "model.activation=$act" --set "optimizer.name=adam"
                --set "train.batch_size=$batch" --set "train.epochs=$((NCKPT + 1))" --set "train.threads=1"
                --set "checkpoint.every_epochs=1" --set "checkpoint.keep=2" --set "output.dir=$out")
    if [ "$how" = nn ]; then
        NN_HOSTS=$hosts nn_mpirun "$np" "${args[@]}" > "$W/log" 2>&1
    else
        # the same command as nn_mpirun's, with the yield flag set explicitly either way
        mpirun -np "$np" --bind-to none --allow-run-as-root --oversubscribe --host "$hosts" \
            $(nn_cluster_mpi_flags) --mca mpi_yield_when_idle "$how" "${args[@]}" > "$W/log" 2>&1
    fi || { cat "$W/log" >&2; return 1; }
    $PY -c '
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        e = json.loads(line)
        if e.get("event") == "epoch" and e["epoch"] >= 2:
            ck, tr = e["checkpoint_s"], e["train_s"]
            print(f"{sys.argv[2]}|{sys.argv[3]}|{ck}|{tr}")
' "$W/log" "$mname" "$lname" >> "$W/times"
    ls -l "$out"/checkpoints/ckpt-*.h5 | awk 'NR == 1 {print $5}' > "$W/size-$batch"
}

for r in $(seq 1 "$ROUNDS"); do
    for m in "${MODELS[@]}"; do
        for l in "${LAYOUTS[@]}"; do
            # the tiny model: only the oversubscribed pair
            case ${m%%|*}/${l%%|*} in 784-100-10*/"1 node"*|784-100-10*/"2 nodes x 1"*) continue ;; esac
            echo "round $r: ${m%%|*} on ${l%%|*}" >&2
            run "$m" "$l" "$r"
        done
    done
done
launch/cluster-down >/dev/null
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
flock -u 9

echo "| model (checkpoint size) | layout | checkpoints | median s | min s | max s | median train s/epoch |"
echo "|---|---|---:|---:|---:|---:|---:|"
for m in "${MODELS[@]}"; do
    IFS='|' read -r mname _ _ batch <<< "$m"
    for l in "${LAYOUTS[@]}"; do
        lname=${l%%|*}
        # (no checkpoints of this model on this layout: no line; grep's status must not stop the script)
        { grep -F "$mname|$lname|" "$W/times" || true; } | $PY -c '
import statistics, sys
rows = [l.rstrip("\n").split("|") for l in sys.stdin if l.strip()]
if rows:
    c = [float(r[2]) for r in rows]; t = [float(r[3]) for r in rows]
    print(f"| {sys.argv[1]} ({int(sys.argv[3]) / 1e6:.1f} MB) | {sys.argv[2]} | {len(c)} | {statistics.median(c):.3f} | "
          f"{min(c):.3f} | {max(c):.3f} | {statistics.median(t):.2f} |")
' "$mname" "$lname" "$(cat "$W/size-$batch")"
    done
done
