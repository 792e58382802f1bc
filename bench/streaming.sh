#!/usr/bin/env bash
# Streaming vs resident, measured in the same run: a generated regression dataset of
# N x D float32 (default 400000 x 256 = 410 MB) trained on 2 ranks with
#   resident:  [data] cache_mb = 4096 (each rank's epoch share fits in one window)
#   streaming: [data] cache_mb = CACHE (default 64; the file must be > 4x it), windows of CACHE/2 read ahead
# Reports samples/s of the last epoch, the share of step time spent waiting for data
# (data_wait_s / epoch time) and the peak RSS of each rank (GNU time).
#   bench/streaming.sh [N] [D] [EPOCHS] [CACHE]
set -euo pipefail
cd "$(dirname "$0")/.."
export OMPI_MCA_btl=self,vader # one node
. launch/common.sh
N=${1:-400000} D=${2:-256} E=${3:-3} CACHE=${4:-64}
nn_install_deps
nn_install time
nn_build
W=$(mktemp -d /tmp/nntrain-stream.XXXXXX)
trap 'rm -rf "$W"' EXIT
build/nndata make-regression "$N" "$W/big.h5" --features "$D" --seed 1 > /dev/null
size_mb=$(( $(stat -c %s "$W/big.h5") / 1048576 ))
cat > "$W/job.ini" <<INI
[data]
train = $W/big.h5
val_fraction = 0
[model]
layers = $D, 256, 1
activation = relu
[loss]
name = mse
[optimizer]
name = adam
lr = 0.001
[train]
epochs = $E
batch_size = 256
[checkpoint]
every_epochs = 0
INI
run() { # name cache_mb
    nn_mpirun 2 /usr/bin/time -f "rss_kb %M" build/nntrain train --config "$W/job.ini" --quiet \
        --set data.cache_mb="$2" --set output.dir="$W/$1" 2> "$W/$1.time" || { cat "$W/$1.time" >&2; exit 1; }
    col() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i } END { print $c }' "$2"; }
    local sps; sps=$(col samples_per_s "$W/$1/metrics.csv")
    local wait; wait=$(col data_wait_s "$W/$1/metrics.csv")
    local secs; secs=$(awk -v n="$N" -v s="$sps" 'BEGIN { print n / s }')
    local rss; rss=$(grep -o 'rss_kb [0-9]*' "$W/$1.time" | awk '{printf "%s%.0f MB", sep, $2 / 1024; sep = ", "}')
    printf '| %s | %s | %.0f | %.2f %% | %s |\n' "$1" "$2" "$sps" "$(echo "100 * $wait / $secs" | bc -l)" "$rss"
    echo "$sps" > "$W/$1.sps"
}
echo "dataset: $N x $D float32, $size_mb MB on disk; 2 ranks; model $D-256-1 MSE, Adam, batch 256"
echo
echo "| mode | cache_mb | samples/s (last epoch) | data wait / epoch | peak RSS per rank |"
echo "|---|---:|---:|---:|---|"
run resident 4096
run streaming "$CACHE"
printf '\nstreaming / resident throughput: %.3f\n' "$(echo "$(cat "$W/streaming.sps") / $(cat "$W/resident.sps")" | bc -l)"
