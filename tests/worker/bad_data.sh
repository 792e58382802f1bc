#!/usr/bin/env bash
# Bad data (issue 13 item 4), on 3 ranks: a NaN/Inf anywhere in the rows nntrain holds in
# memory (training rows, the validation split, the test set) and a dataset whose declared
# size its storage does not back (a huge dataspace never written, chunks never written, a
# contiguous /X never allocated) must each stop the run at start-up with exit 3 and exactly one
# "nntrain: error:" line naming the file and the cell or dataset, every rank gone within
# seconds, and nothing written into the output directory (an earlier run's files byte-
# identical; a directory that did not exist is not created by a data-layout failure).
# nndata check rejects the same layout problems (exit 3, one line). A NaN in validation rows
# that are streamed (larger than [data] cache_mb) is found at the end of the epoch: still the
# one line naming the cell, from the rank that read it, and exit 3.
set -u
shopt -s lastpipe  # run_ ends pipelines: its failure count must reach this shell
MKDATA=$1
NP=3
PY=/usr/bin/python3
. "$(dirname "$0")/lib.sh"
nt_tmpdir baddata

"$NNDATA" make-moons 300 "$T/good.h5" --seed 3 > /dev/null || { echo "FAIL: nndata make-moons"; exit 1; }
VROW=$("$MKDATA" valrow 300 0.1 1 $NP $((NP - 1))) || { echo "FAIL: nt_mkdata valrow"; exit 1; }
# the datasets, from good.h5 (300 x 2 float32, labels 0/1)
$PY - "$T" "$VROW" <<'PY' || { echo "FAIL: python set-up"; exit 1; }
import sys, shutil, h5py, numpy as np
t, vrow = sys.argv[1], int(sys.argv[2])
with h5py.File(f"{t}/good.h5", "r") as f:
    X = f["X"][...]
    y = f["y"][...]
def write(name, x=X, labels=y, xkw={}, ykw={}, xrows=None, yrows=None):
    with h5py.File(f"{t}/{name}.h5", "w") as f:
        dx = f.create_dataset("X", shape=x.shape, dtype=x.dtype, **xkw)
        dy = f.create_dataset("y", shape=labels.shape, dtype=labels.dtype, **ykw)
        if xrows is None: dx[...] = x
        elif xrows > 0: dx[:xrows] = x[:xrows]
        if yrows is None: dy[...] = labels
        elif yrows > 0: dy[:yrows] = labels[:yrows]
# non-finite values: a validation row evaluated by the last rank; a training row (all rows
# train with val_fraction = 0); a test row of the last rank's share (rows 200..299)
for name, row, col, v in (("val_nan", vrow, 1, np.nan), ("train_inf", 17, 0, np.inf),
                          ("test_nan", 250, 1, np.nan)):
    x = X.copy(); x[row, col] = v; write(name, x)
# half-written: the first 128 rows of 300 in chunks of 64 rows (2 of 5 chunks), /X or /y
write("half_x", xkw=dict(chunks=(64, 2)), ykw=dict(chunks=(64,)), xrows=128)
write("half_y", xkw=dict(chunks=(64, 2)), ykw=dict(chunks=(64,)), yrows=128)
write("half_gzip", xkw=dict(chunks=(64, 2), compression="gzip"), ykw=dict(chunks=(64,)), xrows=128)
write("unwritten_contig", xrows=0)                 # contiguous /X, never allocated
# complete files in the same layouts (no false alarms): edge chunks, gzip, contiguous
write("full_chunked", xkw=dict(chunks=(64, 2)), ykw=dict(chunks=(64,)))
write("full_gzip", xkw=dict(chunks=(64, 2), compression="gzip"), ykw=dict(chunks=(64,)))
write("full_contig")
# huge declared dataspaces, chunked, nothing written (also compressed: more chunks than bytes)
for name, n, kw in (("huge40", 2**40, {}), ("huge62", 2**62, {}), ("huge40_gzip", 2**40, dict(compression="gzip"))):
    with h5py.File(f"{t}/{name}.h5", "w") as f:
        f.create_dataset("X", shape=(n, 2), dtype="f4", chunks=(1024, 2), **kw)
        f.create_dataset("y", shape=(n,), dtype="i4", chunks=(1024,))
# regression: a NaN target in the test set (the last rank's share)
with h5py.File(f"{t}/reg.h5", "w") as f:
    f["X"] = X
    f["y"] = X[:, :1] * 2
with h5py.File(f"{t}/reg_test_nan.h5", "w") as f:
    f["X"] = X
    yt = X[:, :1] * 2
    yt[260, 0] = np.nan
    f["y"] = yt
PY

base_ini() { # $1 = train file, $2 = output dir
    cat <<INI
[data]
train = $1
val_fraction = 0.1
[model]
layers = 2, 8, 2
[optimizer]
name = sgd
lr = 0.1
[train]
epochs = 2
batch_size = 16
[output]
dir = $2
INI
}

# an earlier run's results in $T/out, which no failing run may touch (.lock's content is the
# holder's host and pid by design, so only its presence is compared)
mkdir -p "$T/out"
echo "epoch,old" > "$T/out/metrics.csv"
echo "old model" > "$T/out/model.h5"
echo "finished epochs 1 global_step 1 model old" > "$T/out/status"
: > "$T/out/.lock"
snap() { (cd "$1" 2>/dev/null && find . -type f ! -name .lock -exec sha256sum {} + | sort; find . | sort) ; }
before=$(snap "$T/out")

# Baseline: a 3-rank job that fails on a usage error; the bound per case is 10 s on top of it
# (some environments, a chroot, take several seconds per mpirun at 3 ranks). A hang runs into
# the 60-s timeout and fails either way.
t0=$(date +%s.%N)
timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train > /dev/null 2>&1
base_rc=$?
BOUND=$(echo "$(date +%s.%N) - $t0 + 10" | bc)
[ $base_rc = 2 ] || fail "baseline: a usage error should exit 2, got $base_rc"
printf 'baseline: usage error on %d ranks exits in %.1fs; bound per case %.1fs\n' $NP "$(echo "$BOUND - 10" | bc)" "$BOUND"

# run_ NAME EXPECTED_EXIT REGEX OUTDIR_MODE (config on stdin) [extra args]: OUTDIR_MODE
# "kept": $T/out must be as before; "absent": the run's dir ($T/NAME.run) must not exist after
run_() {
    local name=$1 want=$2 regex=$3 mode=$4; shift 4
    cat > "$T/$name.ini"
    local t0 t1 rc secs nerr msg ok=1
    t0=$(date +%s.%N)
    timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/$name.ini" "$@" \
        > "$T/$name.out" 2> "$T/$name.err"
    rc=$?; t1=$(date +%s.%N)
    secs=$(echo "$t1 - $t0" | bc)
    nerr=$(grep -c '^nntrain: error:' "$T/$name.err")
    msg=$(grep '^nntrain: error:' "$T/$name.err" | head -1)
    [ "$rc" = "$want" ] || { echo "FAIL $name: exit $rc, expected $want"; ok=0; }
    [ "$nerr" = 1 ] || { echo "FAIL $name: $nerr error lines, expected exactly 1"; ok=0; }
    echo "$msg" | grep -Eq -- "$regex" || { echo "FAIL $name: message '$msg' does not match /$regex/"; ok=0; }
    (( $(echo "$secs < $BOUND" | bc) )) || { echo "FAIL $name: took ${secs}s (bound ${BOUND}s)"; ok=0; }
    case $mode in
        kept) [ "$before" = "$(snap "$T/out")" ] || { echo "FAIL $name: output directory was modified"; ok=0; } ;;
        absent) [ -e "$T/$name.run" ] && { echo "FAIL $name: created $T/$name.run ($(ls -A "$T/$name.run" | tr '\n' ' '))"; ok=0; } ;;
        # a fresh [output] dir: the run's lock creates it with .lock (README), and nothing else
        lockonly) [ "$(ls -A "$T/$name.run" 2>/dev/null)" = .lock ] ||
                      { echo "FAIL $name: $T/$name.run holds '$(ls -A "$T/$name.run" 2>/dev/null | tr '\n' ' ')', expected only .lock"; ok=0; } ;;
    esac
    if [ $ok = 1 ]; then printf 'ok   %-18s %5.1fs  %s\n' "$name" "$secs" "$msg"
    else fails=$((fails+1)); head -5 "$T/$name.err"; fi
}

# 1. NaN in a validation row held by the last rank
base_ini "$T/val_nan.h5" "$T/out" | run_ val_nan 3 "val_nan\.h5: /X\[$VROW, 1\] is not finite" kept --overwrite
base_ini "$T/val_nan.h5" "$T/val_nan_fresh.run" | run_ val_nan_fresh 3 "val_nan\.h5: /X\[$VROW, 1\] is not finite" lockonly
# 4. Inf in a training row; NaN in the test set (the last rank's share)
base_ini "$T/train_inf.h5" "$T/out" | sed 's/^val_fraction = 0.1/val_fraction = 0/' |
    run_ train_inf 3 "train_inf\.h5: /X\[17, 0\] is not finite" kept --overwrite
{ base_ini "$T/good.h5" "$T/out" | sed "s#^train = .*#&\ntest = $T/test_nan.h5#"; } |
    run_ test_nan 3 "test_nan\.h5: /X\[250, 1\] is not finite" kept --overwrite
{ base_ini "$T/reg.h5" "$T/out" | sed "s#^train = .*#&\ntest = $T/reg_test_nan.h5#; s/^layers = 2, 8, 2/layers = 2, 8, 1\n[loss]\nname = mse/"; } |
    run_ test_target_nan 3 "reg_test_nan\.h5: /y\[260, 0\] is not finite" kept --overwrite
# 2. huge declared dataspaces (hung at full CPU in the label check)
base_ini "$T/huge40.h5" "$T/huge40.run" | run_ huge40 3 "huge40\.h5: /X .*(1099511627776|2\^40)" absent
base_ini "$T/huge62.h5" "$T/huge62.run" | run_ huge62 3 "huge62\.h5: /X .*(4611686018427387904|2\^62)" absent
base_ini "$T/huge40.h5" "$T/out" | run_ huge40_kept 3 "huge40\.h5: /X " kept --overwrite
base_ini "$T/huge40_gzip.h5" "$T/huge40_gzip.run" | run_ huge40_gzip 3 "huge40_gzip\.h5: /X .*1099511627776" absent
# 3. half-written datasets (trained on fill values)
base_ini "$T/half_x.h5" "$T/half_x.run" | run_ half_x 3 "half_x\.h5: /X .*only 2 of 5 chunks written" absent
base_ini "$T/half_y.h5" "$T/half_y.run" | run_ half_y 3 "half_y\.h5: /y .*only 2 of 5 chunks written" absent
base_ini "$T/half_gzip.h5" "$T/half_gzip.run" | run_ half_gzip 3 "half_gzip\.h5: /X .*only 2 of 5 chunks written" absent
base_ini "$T/unwritten_contig.h5" "$T/out" | run_ unwritten_contig 3 "unwritten_contig\.h5: /X .*only 0 of 2400 bytes written" kept --overwrite
# the same as a test set, and through eval
{ base_ini "$T/good.h5" "$T/out" | sed "s#^train = .*#&\ntest = $T/half_x.h5#"; } |
    run_ half_x_test 3 "half_x\.h5: /X .*only 2 of 5 chunks written" kept --overwrite

# a NaN in validation rows that are streamed ([data] cache_mb below one evaluation share) is
# found when the epoch's evaluation reads it: the cell's line from the rank that read it, exit 3
base_ini "$T/val_nan.h5" "$T/stream.run" | sed 's/^\[data\]/&\ncache_mb = 0.00002/' > "$T/val_stream.ini"
t0=$(date +%s.%N)
timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/val_stream.ini" > /dev/null 2> "$T/val_stream.err"
rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
msg=$(grep '^nntrain: error:' "$T/val_stream.err")
if [ $rc = 3 ] && [ "$(grep -c '^nntrain: error:' "$T/val_stream.err")" = 1 ] &&
   echo "$msg" | grep -q "val_nan\.h5: /X\[$VROW, 1\] is not finite" && (( $(echo "$secs < $BOUND" | bc) )) &&
   [ "$(cat "$T/stream.run/status" 2>/dev/null)" = "failed exit 3" ]; then
    printf 'ok   %-18s %5.1fs  %s\n' val_nan_streamed "$secs" "$msg"
else fail "val_nan_streamed: rc=$rc ${secs}s status '$(cat "$T/stream.run/status" 2>/dev/null)': $(cat "$T/val_stream.err")"; fi

# complete files in the layouts above still train (no false alarms)
for f in full_chunked full_gzip full_contig; do
    base_ini "$T/$f.h5" "$T/$f.run" > "$T/$f.ini"
    if timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/$f.ini" --quiet > "$T/$f.out" 2>&1 &&
       [ -e "$T/$f.run/model.h5" ]; then ok "$f trains"
    else fail "$f: $(cat "$T/$f.out")"; fi
done

# nndata check: the same layout problems, one line, exit 3; complete files are ok
for f in half_x half_y half_gzip unwritten_contig huge40 huge62 huge40_gzip; do
    t0=$(date +%s.%N)
    timeout 60 "$NNDATA" check "$T/$f.h5" > "$T/check_$f.out" 2> "$T/check_$f.err"
    rc=$?
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    lines=$(cat "$T/check_$f.out" "$T/check_$f.err" | wc -l)
    if [ $rc = 3 ] && [ "$lines" = 1 ] && grep -Eq "$f\.h5: /[Xy] .*(only [0-9]+ of [0-9]+ (chunks|bytes) written|declares)" "$T/check_$f.err" &&
       (( $(echo "$secs < 10" | bc) )); then
        printf 'ok   nndata check %-16s %5.1fs  %s\n' "$f" "$secs" "$(cat "$T/check_$f.err")"
    else fail "nndata check $f: exit $rc, ${secs}s: $(cat "$T/check_$f.out" "$T/check_$f.err")"; fi
done
for f in full_chunked full_gzip full_contig; do
    if "$NNDATA" check "$T/$f.h5" | grep -q ": ok "; then ok "nndata check $f"; else fail "nndata check $f"; fi
done

finish
