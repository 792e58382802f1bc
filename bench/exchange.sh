#!/usr/bin/env bash
# Exchange modes (issue 14): [train] exchange = allreduce | zero1 and deterministic = true,
# measured in one run on one machine, 2 ranks x 1 BLAS thread. Prints three markdown tables:
#   bench/exchange.sh [ROUNDS]       (default 3 rounds: about 10 min here, 5 rounds about 14 min)
#   bench/exchange.sh --tables       (the tables again, from the last run's build/bench-exchange/)
# 1. Memory: 784-4096-4096-10 ReLU Adam b128 (20.0 M parameters), 1 epoch on 6000 rows of
#    Fashion-MNIST (nndata split; the same rows serve as test set, to keep it short), no
#    checkpoints. Per exchange mode: optimizer_state_bytes_per_rank from the JSON banner, and
#    each rank's peak RSS (/usr/bin/time -f %M around each rank); the fall of the largest rank's
#    RSS from allreduce's, as a % of the (P-1)/P share of allreduce's optimizer state that
#    zero1 should no longer hold (issue 14's target: >= 80 %). One run per mode (the peak RSS
#    does not depend on the machine's load). The deterministic modes are listed too (they hold
#    chunk buffers and an int64 accumulator).
# 2. Throughput: configs a, b, c of bench/vs_pytorch.sh, 2 epochs on all 60000 rows,
#    val_fraction = 0, no checkpoints; rate = epoch 2's samples_per_s of metrics.csv (epoch 1
#    is warm-up). Variants: allreduce, zero1, deterministic (allreduce), deterministic + zero1,
#    deterministic with deterministic_chunk = 64 (default 32). Each round runs every config's
#    variants back to back, in an order rotated by one each round; each figure is the best of
#    ROUNDS rounds, ratio = variant / allreduce. Also the exchange time per step (allreduce_s of
#    epoch 2 / steps, median over rounds: the gradient reduction and, with zero1, the allgather
#    of the parameters).
# The machine is shared: run it alone, e.g. under the cluster lock:
#   flock /tmp/nn-cluster.lock bench/exchange.sh 3
# (it does not take the lock itself, so it can run inside such a flock). Raw metrics stay in
# build/bench-exchange/. Ranks are started by nn_mpirun (unbound, as vs_pytorch.sh);
# nntrain picks its OpenBLAS kernels itself.
set -euo pipefail
cd "$(dirname "$0")/.."
. launch/common.sh
ROUNDS=${1:-3}
NP=2
TABLES_ONLY=0
[ "$ROUNDS" = --tables ] && { TABLES_ONLY=1; ROUNDS=$(cat build/bench-exchange/rounds); }
OUT=build/bench-exchange
START=$SECONDS

# variant name | --set options
VARIANTS=(
  "allreduce|train.exchange=allreduce"
  "zero1|train.exchange=zero1"
  "deterministic|train.exchange=allreduce train.deterministic=true"
  "deterministic+zero1|train.exchange=zero1 train.deterministic=true"
  "deterministic chunk 64|train.exchange=allreduce train.deterministic=true train.deterministic_chunk=64"
)
vsets() { local s; for s in $1; do printf -- '--set\n%s\n' "$s"; done; }
MEM=(0 1 2 3)   # memory: indices into VARIANTS
# name | layers | activation | optimizer | lr | momentum | batch
CONFIGS=(
  "a|784,100,10|sigmoid|adam|0.001|0|64"
  "b|784,256,256,10|relu|adam|0.001|0|128"
  "c|784,1024,1024,10|relu|sgd|0.01|0.9|256"
)
NV=${#VARIANTS[@]}

if [ $TABLES_ONLY = 0 ]; then
nn_install_deps
nn_install time
nn_build
datasets/fashion-mnist.sh build/nndata data >/dev/null
rm -rf "$OUT" && mkdir -p "$OUT"
echo "$ROUNDS" > "$OUT/rounds"
W=$(mktemp -d /tmp/nntrain-bench-exchange.XXXXXX)
trap 'rm -rf "$W"' EXIT
build/nndata split data/fashion-train.h5 "$W/small" --fractions 0.1,0.9 --seed 1 >/dev/null
# each rank under /usr/bin/time: its peak RSS (KiB) into FILE.RANK
cat > "$W/rss.sh" <<'EOF'
#!/bin/sh
out=$1; shift
exec /usr/bin/time -f %M -o "$out.${OMPI_COMM_WORLD_RANK:-0}" "$@"
EOF
chmod +x "$W/rss.sh"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)" | tee "$OUT/load"


# ---- 1. memory ----------------------------------------------------------------------------
for i in "${MEM[@]}"; do
    IFS='|' read -r name vs <<< "${VARIANTS[$i]}"
    echo "memory: $name" >&2
    mapfile -t extra < <(vsets "$vs")
    rm -rf "$W/run"
    nn_mpirun "$NP" "$W/rss.sh" "$OUT/mem-$i.rss" build/nntrain train --config examples/fashion-mnist.ini \
        --log-format json --set "model.layers=784, 4096, 4096, 10" --set optimizer.name=adam \
        --set train.batch_size=128 --set train.epochs=1 --set train.threads=1 \
        --set "data.train=$W/small-train.h5" --set "data.test=$W/small-train.h5" --set data.val_fraction=0 \
        --set checkpoint.every_epochs=0 --set "output.dir=$W/run" "${extra[@]}" > "$OUT/mem-$i.log" 2>&1 ||
        { cat "$OUT/mem-$i.log" >&2; exit 1; }
    head -1 "$OUT/mem-$i.log" | sed -n 's/.*"optimizer_state_bytes_per_rank":\([0-9.e+]*\).*/\1/p' > "$OUT/mem-$i.state"
done

# ---- 2. throughput ------------------------------------------------------------------------
for r in $(seq 1 "$ROUNDS"); do
    for c in "${CONFIGS[@]}"; do
        IFS='|' read -r cname layers act opt lr mom batch <<< "$c"
        for k in $(seq 0 $((NV - 1))); do
            i=$(( (k + r - 1) % NV ))
            IFS='|' read -r name vs <<< "${VARIANTS[$i]}"
            echo "round $r: config $cname $name" >&2
            mapfile -t extra < <(vsets "$vs")
            sets=(--set "model.layers=${layers//,/, }" --set "model.activation=$act" --set "optimizer.name=$opt"
                  --set "optimizer.lr=$lr" --set "train.batch_size=$batch" --set "train.epochs=2"
                  --set "train.threads=1" --set "data.val_fraction=0" --set "checkpoint.every_epochs=0"
                  --set "output.dir=$W/run")
            [ "$opt" = sgd ] && sets+=(--set "optimizer.momentum=$mom")
            rm -rf "$W/run"
            nn_mpirun "$NP" build/nntrain train --config examples/fashion-mnist.ini --quiet "${sets[@]}" "${extra[@]}" \
                > "$W/log" 2>&1 || { cat "$W/log" >&2; exit 1; }
            cp "$W/run/metrics.csv" "$OUT/$cname-v$i-r$r.csv"
        done
    done
done
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/load"
fi

# ---- tables -------------------------------------------------------------------------------
echo
echo "Memory: 784-4096-4096-10 ReLU Adam b128, $NP ranks x 1 thread, 1 epoch on 6000 rows (one run per mode):"
echo
echo "| exchange | optimizer state / rank | peak RSS rank 0 | peak RSS rank 1 | fall of the larger RSS | (P-1)/P of the state | fall / share (target >= 80 %) |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for i in "${MEM[@]}"; do
    IFS='|' read -r name _ <<< "${VARIANTS[$i]}"
    b=$((i % 2 ? i - 1 : i))   # zero1 against allreduce, deterministic+zero1 against deterministic
    awk -v n="$name" -v st="$(cat "$OUT/mem-$i.state")" -v bst="$(cat "$OUT/mem-$b.state")" \
        -v r0="$(cat "$OUT/mem-$i.rss.0")" -v r1="$(cat "$OUT/mem-$i.rss.1")" \
        -v rss="$(cat "$OUT/mem-$i.rss".* | sort -g | tail -1)" -v brss="$(cat "$OUT/mem-$b.rss".* | sort -g | tail -1)" \
        -v P="$NP" -v i="$i" -v b="$b" -v bn="$(cut -d'|' -f1 <<< "${VARIANTS[$b]}")" 'BEGIN {
        share = bst * (P - 1) / P; fall = (brss - rss) * 1024
        printf "| %s | %.1f MB | %.1f MB | %.1f MB |", n, st / 1e6, r0 * 1024 / 1e6, r1 * 1024 / 1e6
        if (i == b) print " (baseline) | | |"
        else { pc = sprintf("%.0f", 100 * fall / share); if (pc == "-0") pc = "0"
               printf " %.1f MB vs %s | %.1f MB | %s %% |\n", fall / 1e6, bn, share / 1e6, pc } }'
done

rate() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } $1 == 2 { print $c["samples_per_s"] }' "$1"; }
exch_ms() { awk -F, -v b="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
                               $1 == 2 { printf "%.3f\n", 1000 * $c["allreduce_s"] / int((60000 + b - 1) / b) }' "$1"; }
best() { sort -g | tail -1; }
med() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
echo
echo "Throughput: $NP ranks x 1 thread, samples/s of epoch 2, best of $ROUNDS interleaved rounds (ratio = / allreduce):"
echo
hdr="| config |" sep="|---|"
for v in "${VARIANTS[@]}"; do
    IFS='|' read -r name _ <<< "$v"
    hdr+=" $name |"; sep+="---:|"
    [ "$name" = allreduce ] || { hdr+=" ratio |"; sep+="---:|"; }
done
echo "$hdr"; echo "$sep"
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r cname layers act opt lr mom batch <<< "$c"
    line="| $cname ${layers//,/-} $act $opt b$batch |"
    base=$(for f in "$OUT/$cname-v0"-r*.csv; do rate "$f"; done | best)
    for i in $(seq 0 $((NV - 1))); do
        s=$(for f in "$OUT/$cname-v$i"-r*.csv; do rate "$f"; done | best)
        line+=$(awk -v s="$s" -v b="$base" -v i="$i" 'BEGIN { printf " %.0f |", s; if (i > 0) printf " %.2f |", s / b }')
    done
    echo "$line"
done
echo
echo "Exchange time per step (ms, epoch 2's allreduce_s / steps, median over rounds: the gradient"
echo "reduction and, with zero1, the allgather of the parameters after the update):"
echo
hdr="| config |" sep="|---|"
for v in "${VARIANTS[@]}"; do IFS='|' read -r name _ <<< "$v"; hdr+=" $name |"; sep+="---:|"; done
echo "$hdr"; echo "$sep"
for c in "${CONFIGS[@]}"; do
    IFS='|' read -r cname layers act opt lr mom batch <<< "$c"
    line="| $cname |"
    for i in $(seq 0 $((NV - 1))); do
        line+=" $(for f in "$OUT/$cname-v$i"-r*.csv; do exch_ms "$f" "$batch"; done | med) |"
    done
    echo "$line"
done
[ $TABLES_ONLY = 1 ] || { echo; echo "took $((SECONDS - START)) s"; }
