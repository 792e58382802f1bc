#!/usr/bin/env bash
# Streaming vs resident, measured in the same run: a generated regression dataset of
# N x D float32 (default 400000 x 256 = 410 MB) trained on 2 ranks with
#   resident:  [data] cache_mb = 4096 (each rank's epoch share fits in one window)
#   streaming: [data] cache_mb = CACHE (default 64; the file must be > 4x it), windows of CACHE/2 read ahead
# Reports samples/s of the middle epochs 2..EPOCHS-1 (steady state: in both modes these read
# the next window or epoch while computing; the last epoch of resident mode reads nothing
# ahead, the first waits for its first window), the share of step time spent waiting for data
# (data_wait_s / epoch time) and the peak RSS of each rank (GNU time). The two modes run
# alternately REPEATS times (default 3) and the ratio is that of the medians, so a noisy
# moment on the machine does not decide it.
#   bench/streaming.sh [N] [D] [EPOCHS] [CACHE] [REPEATS] [HIDDEN]
set -euo pipefail
[ "${3:-4}" -ge 3 ] || { echo "EPOCHS must be >= 3 (the middle epochs are measured)" >&2; exit 2; }
cd "$(dirname "$0")/.."
export OMPI_MCA_btl=self,vader # one node
. launch/common.sh
N=${1:-400000} D=${2:-256} E=${3:-4} CACHE=${4:-64} R=${5:-3} H=${6:-256}
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
layers = $D, $H, 1
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
run() { # name cache_mb repeat
    rm -rf "${W:?}/$1"
    nn_mpirun 2 /usr/bin/time -f "rss_kb %M cpu %U %S" build/nntrain train --config "$W/job.ini" --quiet \
        --set data.cache_mb="$2" --set output.dir="$W/$1" 2> "$W/$1.time" || { cat "$W/$1.time" >&2; exit 1; }
    # mean of a column over epochs 2 .. E-1
    mid() { awk -F, -v name="$1" -v e="$E" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
                                           $1 >= 2 && $1 <= e - 1 { s += $c; n++ } END { print s / n }' "$2"; }
    local sps; sps=$(mid samples_per_s "$W/$1/metrics.csv")
    local wait; wait=$(mid data_wait_s "$W/$1/metrics.csv")
    local secs; secs=$(awk -v n="$N" -v s="$sps" 'BEGIN { print n / s }')
    local rss; rss=$(grep -o 'rss_kb [0-9]*' "$W/$1.time" | awk '{printf "%s%.0f MB", sep, $2 / 1024; sep = ", "}')
    local cpu; cpu=$(grep -o 'cpu [0-9.]* [0-9.]*' "$W/$1.time" | awk '{printf "%s%.2f", sep, $2 + $3; sep = ", "}')
    printf '| %s | %s | %s | %.0f | %.2f %% | %s | %s |\n' "$1" "$2" "$3" "$sps" "$(echo "100 * $wait / $secs" | bc -l)" "$rss" "$cpu"
    echo "$sps" >> "$W/$1.sps"
}
median() { sort -g "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "dataset: $N x $D float32, $size_mb MB on disk; 2 ranks; model $D-$H-1 MSE, Adam, batch 256"
echo
echo "| mode | cache_mb | run | samples/s (epochs 2..E-1) | data wait / epoch | peak RSS per rank | CPU s per rank (whole run) |"
echo "|---|---:|---:|---:|---:|---|---|"
for i in $(seq 1 "$R"); do
    run resident 4096 "$i"
    run streaming "$CACHE" "$i"
done
rs=$(median "$W/resident.sps") ss=$(median "$W/streaming.sps")
printf '\nmedian samples/s: resident %.0f, streaming %.0f; streaming / resident: %.3f\n' "$rs" "$ss" \
    "$(echo "$ss / $rs" | bc -l)"
