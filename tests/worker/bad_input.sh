#!/usr/bin/env bash
# Bad input at start-up, on 3 ranks: each case must print exactly one "nntrain: error:" line
# naming the file/key/value, exit non-zero (3 = input error), have every rank gone within
# seconds, and leave an earlier run's files in the output directory untouched.
# Also: a rank killed mid-training ends the whole job promptly instead of hanging.
set -u
shopt -s lastpipe  # case_ ends pipelines: its failure count must reach this shell
MKDATA=$1
NP=3
. "$(dirname "$0")/lib.sh"
nt_tmpdir bad
"$NNDATA" make-moons 300 "$T/moons.h5" --seed 3 >/dev/null || { echo "FAIL: nndata make-moons"; exit 1; }
"$MKDATA" badlabel "$T/badlabel.h5" && "$MKDATA" empty "$T/empty.h5" && "$MKDATA" nan "$T/nan.h5" || { echo "FAIL: mkdata"; exit 1; }
echo "not hdf5" > "$T/text.h5"

# an earlier run's results, which no failing run may touch
mkdir -p "$T/out"
echo "epoch,old" > "$T/out/metrics.csv"
echo "old model" > "$T/out/model.h5"
before=$(cd "$T/out" && sha256sum metrics.csv model.h5)

base_ini() { # $1 = train file, $2 = layers
    cat <<INI
[data]
train = $1
val_fraction = 0.1
[model]
layers = $2
[optimizer]
name = sgd
lr = 0.1
[train]
epochs = 1
batch_size = 16
[output]
dir = $T/out
INI
}

# Baseline: how long a 3-rank job takes here to start, fail on a usage error and exit. Some
# environments (a chroot) take ~10 s per mpirun at 3 ranks, so the bound for each case is the
# baseline plus 15 s; a real hang runs into the 60-s timeout and fails either way.
t0=$(date +%s.%N)
timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train > /dev/null 2>&1
base_rc=$?
BOUND=$(echo "$(date +%s.%N) - $t0 + 15" | bc)
[ $base_rc = 2 ] || { echo "FAIL baseline: a usage error should exit 2, got $base_rc"; fails=$((fails+1)); }
printf 'baseline: usage error on %d ranks exits in %.1fs; bound per case %.1fs\n' $NP "$(echo "$BOUND - 15" | bc)" "$BOUND"

# case NAME EXPECTED_EXIT REGEX (config on stdin) [extra args]
case_() {
    local name=$1 want=$2 regex=$3; shift 3
    cat > "$T/$name.ini"
    local t0=$(date +%s.%N)
    timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/$name.ini" --overwrite "$@" \
        > "$T/$name.out" 2> "$T/$name.err"
    local rc=$? t1=$(date +%s.%N)
    local secs=$(echo "$t1 - $t0" | bc)
    local nerr=$(grep -c '^nntrain: error:' "$T/$name.err")
    local msg=$(grep '^nntrain: error:' "$T/$name.err" | head -1)
    local ok=1
    [ "$rc" = "$want" ] || { echo "FAIL $name: exit $rc, expected $want"; ok=0; }
    [ "$nerr" = 1 ] || { echo "FAIL $name: $nerr error lines, expected exactly 1"; ok=0; }
    echo "$msg" | grep -Eq -- "$regex" || { echo "FAIL $name: message '$msg' does not match /$regex/"; ok=0; }
    (( $(echo "$secs < $BOUND" | bc) )) || { echo "FAIL $name: took ${secs}s (bound ${BOUND}s)"; ok=0; }
    after=$(cd "$T/out" && sha256sum metrics.csv model.h5)
    [ "$before" = "$after" ] || { echo "FAIL $name: output directory was modified"; ok=0; }
    [ -e "$T/out/model.h5.tmp" ] && { echo "FAIL $name: left model.h5.tmp"; ok=0; }
    if [ $ok = 1 ]; then printf 'ok   %-18s %5.1fs  %s\n' "$name" "$secs" "$msg"; else fails=$((fails+1)); cat "$T/$name.err" | head -5; fi
}

base_ini "$T/missing.h5" "2, 8, 2"   | case_ missing_file 3 "missing\.h5: no such file"
base_ini "$T/text.h5" "2, 8, 2"      | case_ not_hdf5 3 "text\.h5: not an HDF5 file"
base_ini "$T/moons.h5" "5, 8, 2"     | case_ width_mismatch 3 "moons\.h5: /X has 2 columns but \[model\] layers starts with 5"
base_ini "$T/badlabel.h5" "2, 8, 2"  | case_ label_range 3 "badlabel\.h5: /y\[150\] = 7 is outside 0\.\.1"
base_ini "$T/empty.h5" "2, 8, 2"     | case_ empty_dataset 3 "empty\.h5: no rows \(N = 0\)"
{ base_ini "$T/moons.h5" "2, 8, 2"; echo "[train]"; echo "epochs = 2"; } | case_ duplicate_key 3 "\[train\] epochs is set twice"
{ base_ini "$T/moons.h5" "2, 8, 2" | sed 's/^lr = 0.1/lr = 0.1\nlearning_rate = 3/'; } | case_ unknown_key 3 "unknown key 'learning_rate' in \[optimizer\]"
{ base_ini "$T/moons.h5" "2, 8, 2"; echo "[extra]"; echo "a = 1"; } | case_ unknown_section 3 "unknown section \[extra\]"
{ base_ini "$T/moons.h5" "2, 8, 2" | sed 's/^lr = 0.1/lr = fast/'; } | case_ malformed_lr 3 "lr = 'fast'"
{ base_ini "$T/moons.h5" "2, x, 2"; } | case_ malformed_layers 3 "layers = '2, x, 2': 'x' is not a positive integer"
{ base_ini "$T/moons.h5" "2, 8, 2" | sed 's/^batch_size = 16/batch_size = 0/'; } | case_ batch_zero 3 "batch_size = '0' must be an integer >= 1"
base_ini "$T/moons.h5" "2, 8, 2" | case_ bad_set 3 "train\.epochs = 'two'|epochs = 'two'" --set train.epochs=two
base_ini "$T/moons.h5" "2, 8, 2" | case_ bad_activation 3 "activation = 'swish'" --set model.activation=swish

# without --overwrite, an existing run is refused (and stays untouched)
base_ini "$T/moons.h5" "2, 8, 2" > "$T/norun.ini"
timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/norun.ini" > /dev/null 2> "$T/norun.err"
rc=$?
if [ $rc = 3 ] && grep -q "already holds a run" "$T/norun.err" && [ "$before" = "$(cd "$T/out" && sha256sum metrics.csv model.h5)" ]; then
    echo "ok   existing_run       refused: $(head -1 "$T/norun.err")"
else echo "FAIL existing_run: rc=$rc $(cat "$T/norun.err")"; fails=$((fails+1)); fi

# a NaN feature is found when its batch is read (a runtime error, in training or validation):
# one line naming file, row and column, exit 3, every rank gone, no model.h5
base_ini "$T/nan.h5" "2, 8, 2" | sed "s#^dir = .*#dir = $T/nanrun#" > "$T/nan.ini"
t0=$(date +%s.%N)
timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/nan.ini" > /dev/null 2> "$T/nan.err"
rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
msg=$(grep '^nntrain: error:' "$T/nan.err")
if [ $rc = 3 ] && [ "$(grep -c '^nntrain: error:' "$T/nan.err")" = 1 ] && echo "$msg" | grep -q 'nan\.h5: /X\[123, 1\] is not finite' &&
   (( $(echo "$secs < $BOUND" | bc) )) && [ ! -e "$T/nanrun/model.h5" ]; then
    printf 'ok   nan_feature        %5.1fs  %s\n' "$secs" "$msg"
else echo "FAIL nan_feature: rc=$rc: $(cat "$T/nan.err")"; fails=$((fails+1)); fi

# a rank that fails mid-training (injected) stops every rank at that step with its message
base_ini "$T/moons.h5" "2, 8, 2" | sed "s#^dir = .*#dir = $T/faultrun#; s/^epochs = 1/epochs = 5/" > "$T/fault.ini"
t0=$(date +%s.%N)
NNTRAIN_FAULT=2:7 timeout 60 "$MPIEXEC" -np $NP $MPI_PREFLAGS -x NNTRAIN_FAULT "$NNTRAIN" train --config "$T/fault.ini" > "$T/fault.out" 2> "$T/fault.err"
rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
msg=$(grep '^nntrain: error:' "$T/fault.err")
if [ $rc = 3 ] && [ "$(grep -c '^nntrain: error:' "$T/fault.err")" = 1 ] && \
   echo "$msg" | grep -q "fault injected by NNTRAIN_FAULT on rank 2 at step 7" && \
   (( $(echo "$secs < $BOUND" | bc) )) && [ ! -e "$T/faultrun/model.h5" ] && \
   [ "$(cat "$T/faultrun/status")" = "failed exit 3" ]; then
    printf 'ok   runtime_fault      %5.1fs  %s\n' "$secs" "$msg"
else echo "FAIL runtime_fault: rc=$rc ${secs}s: $(cat "$T/fault.err")"; fails=$((fails+1)); fi

# a rank that dies mid-training ends the whole job within seconds (no hang)
"$NNDATA" make-moons 200000 "$T/big.h5" --seed 4 >/dev/null
base_ini "$T/big.h5" "2, 256, 256, 2" | sed "s#^dir = .*#dir = $T/killrun#; s/^epochs = 1/epochs = 50/" > "$T/kill.ini"
"$MPIEXEC" -np $NP $MPI_PREFLAGS "$NNTRAIN" train --config "$T/kill.ini" > "$T/kill.out" 2> "$T/kill.err" &
mpipid=$!
for i in $(seq 1 100); do grep -q "^epoch 1/" "$T/kill.out" 2>/dev/null && break; sleep 0.2; done
victim=$(pgrep -f "^$NNTRAIN train --config $T/kill.ini" | tail -1)  # a rank, never mpirun
t0=$(date +%s.%N)
kill -9 "$victim"
for i in $(seq 1 150); do kill -0 $mpipid 2>/dev/null || break; sleep 0.1; done
secs=$(echo "$(date +%s.%N) - $t0" | bc)
if kill -0 $mpipid 2>/dev/null; then
    echo "FAIL killed_rank: job still running ${secs}s after a rank was killed"; fails=$((fails+1))
    pkill -9 -f "$T/kill.ini"
else
    wait $mpipid; rc=$?
    leftover=$(pgrep -f "$T/kill.ini" | wc -l)
    if [ $rc != 0 ] && [ "$leftover" = 0 ]; then printf 'ok   killed_rank        job ended %.1fs after kill -9 of one rank (exit %d)\n' "$secs" $rc
    else echo "FAIL killed_rank: exit $rc, $leftover processes left"; fails=$((fails+1)); fi
fi

finish
