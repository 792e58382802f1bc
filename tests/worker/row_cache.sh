#!/usr/bin/env bash
# The training rows are read once and kept decoded in memory when they fit [data] cache_mb
# (src/worker/stream.c, nt_stream_load; issue 12), instead of being read through the page cache
# and converted again every epoch:
#  - bytes read from the training file (counted by an LD_PRELOAD shim over read/pread/preadv,
#    summed over the ranks): a 6-epoch run reads no more than a 1-epoch run (before: 2.8-4x);
#  - with cache_mb too small for the decoded rows (0.03 MiB) the file is read every epoch;
#  - both give a bitwise identical model.h5 and metrics (without timing), at 1 and 3 ranks,
#    and identical to a streaming run (read windows of a few steps);
#  - a NaN in a training row is reported at start-up, naming the row and column (exit 3).
# Argument: the count_reads.so shim.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir rowcache
SHIM=$1
"$NNDATA" make-moons 6000 "$T/d.h5" --seed 4 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 32, 32, 2
activation = tanh
dropout = 0.1
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 6
batch_size = 50
threads = 1
INI
bytes() { awk '{ s += $2 } END { print s + 0 }' "$1"; }
counted() { # counted NAME NP ARGS...: a run with the shim; prints the bytes its ranks read
    local name=$1 np=$2; shift 2
    rm -f "$T/$name.reads"
    mpi "$np" -x LD_PRELOAD="$SHIM" -x COUNT_READS_SUFFIX=/d.h5 -x COUNT_READS_OUT="$T/$name.reads" \
        "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/$name" "$@" > "$T/$name.out" 2>&1 ||
        fail "$name: $(tail -3 "$T/$name.out")"
    bytes "$T/$name.reads"
}
metrics() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /_s$|^samples_per_s$/ }
                    { o = ""; for (i = 1; i <= NF; i++) if (keep[i]) o = o $i ","; print o }' "$1"; }

for np in 1 3; do
    one=$(counted e1-$np $np --set train.epochs=1)
    six=$(counted e6-$np $np)
    sone=$(counted s1-$np $np --set data.cache_mb=0.03 --set train.epochs=1)
    ssix=$(counted sm-$np $np --set data.cache_mb=0.03)
    echo "--- $np rank(s): bytes read from d.h5 in 1 and 6 epochs: in memory $one, $six; cache_mb 0.03: $sone, $ssix"
    [ "$one" -gt 0 ] && [ "$six" -le $((one * 11 / 10)) ] &&
        ok "$np rank(s): 6 epochs read as much as 1 ($six and $one bytes): the rows are read once" ||
        fail "$np rank(s): 6 epochs read $six bytes, 1 epoch $one"
    [ "$ssix" -gt $((sone * 3 / 2)) ] && ok "$np rank(s): rows that do not fit are read every epoch ($sone, $ssix bytes)" ||
        fail "$np rank(s): with cache_mb 0.03, 6 epochs read $ssix bytes, 1 epoch $sone"
    grep -q "rows (resident)" "$T/e6-$np.out" || fail "banner does not say resident: $(grep '^data:' "$T/e6-$np.out")"
    h5diff -q "$T/e6-$np/model.h5" "$T/sm-$np/model.h5" && [ "$(metrics "$T/e6-$np/metrics.csv")" = "$(metrics "$T/sm-$np/metrics.csv")" ] &&
        ok "$np rank(s): in memory and read every epoch: model.h5 and metrics bitwise identical" ||
        fail "$np rank(s): cached and uncached runs differ"
done
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/st" --set data.cache_mb=0.005 || fail "streaming run"
grep -q . "$T/st/metrics.csv" && h5diff -q "$T/e6-3/model.h5" "$T/st/model.h5" &&
    ok "a streaming run (cache_mb 0.005: windows of a few steps) gives the same model.h5" || fail "streaming run differs"

# a NaN in a training row: reported when the rows are loaded, before the first step
"$NNDATA" make-moons 600 "$T/nan.h5" --seed 5 > /dev/null
/usr/bin/python3 - "$T/nan.h5" <<'PY' 2>/dev/null || h5ls "$T/nan.h5" > /dev/null
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    f["X"][123, 1] = np.nan
PY
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set data.train="$T/nan.h5" --set data.val_fraction=0 \
        --set output.dir="$T/nan" > "$T/nan.out" 2>&1
    rc=$?
    rows=0; [ -e "$T/nan/metrics.csv" ] && rows=$(($(wc -l < "$T/nan/metrics.csv") - 1))
    [ $rc = 3 ] && grep -q "^nntrain: error: $T/nan.h5: /X\[123, 1\] is not finite" "$T/nan.out" && [ "$rows" -le 0 ] &&
        ok "a NaN at /X[123, 1]: exit 3 at start-up, the line names the cell" || fail "NaN: rc $rc $(cat "$T/nan.out")"
else
    echo "--- not run: the NaN check (no h5py to write the NaN)"
fi
finish "all passed"
