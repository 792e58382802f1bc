#!/usr/bin/env bash
# Checkpoints and resume:
#  - stopping after k steps (several k, mid-epoch and at an epoch boundary) and resuming with
#    the same rank count gives bit-identical weights and metrics (h5diff, exact);
#  - a checkpoint written by 4 ranks resumes on 2, and 2 -> 3: weights agree to 1e-5 relative;
#  - SIGTERM to one rank of a 3-rank job: all ranks stop at a step boundary, write a
#    checkpoint, exit 0 with the resume command; resuming finishes bit-identical;
#  - incompatible configuration on resume is one clear error; a stale .tmp is never taken for a
#    checkpoint; keep = K keeps the newest K; the file holds the documented layout.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir ckpt

"$NNDATA" make-moons 400 "$T/m.h5" --seed 3 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/m.h5
test = $T/m.h5
[model]
layers = 2, 16, 16, 2
activation = tanh
dropout = 0.1
[optimizer]
name = adam
lr = 0.01
[schedule]
name = cosine
unit = step
warmup = 10
[train]
epochs = 4
batch_size = 32
INI
# 360 training rows, batch 32: 12 steps per epoch, 48 in all
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/full3" || fail "uninterrupted np=3"
for k in 1 12 17 40; do
    d="$T/stop$k"
    NNTRAIN_STOP_AT_STEP=$k mpi 3 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet \
        --set output.dir="$d" > "$d.out" 2>&1
    rc=$?
    [ $rc = 0 ] && grep -q "checkpoint $d/checkpoints/ckpt-$k.h5 written" "$d.out" || { fail "stop at $k: rc $rc $(cat "$d.out")"; continue; }
    [ -e "$d/model.h5" ] && fail "stop at $k: a stopped run must not write model.h5"
    read -r state rest < "$d/status"
    [ "$state" = stopped ] && [[ "$rest" == "global_step $k checkpoint "* ]] || fail "stop at $k: status '$state $rest'"
    mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$d" --resume || fail "resume after $k"
    read -r state rest < "$d/status"
    [ "$state" = finished ] || fail "resumed after $k: status '$state $rest'"
    if h5diff -q "$T/full3/model.h5" "$d/model.h5" &&
       cmp -s <(cut -d, -f1-5,8-10 "$T/full3/metrics.csv") <(cut -d, -f1-5,8-10 "$d/metrics.csv"); then
        ok "stop after step $k, resume on 3 ranks: bit-identical weights and metrics"
    else fail "stop after step $k: resumed run differs from the uninterrupted one"; fi
done

# different rank counts: 4 -> 2 and 2 -> 3 (float tolerance)
# the O(1)-memory Feistel sample order resumes exactly too, and is a different order
F="--set data.permutation=feistel"
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet $F --set output.dir="$T/full3f" || fail "feistel np=3"
NNTRAIN_STOP_AT_STEP=17 mpi 3 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet $F \
    --set output.dir="$T/f17" > /dev/null
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet $F --set output.dir="$T/f17" --resume || fail "feistel resume"
h5diff -q "$T/full3f/model.h5" "$T/f17/model.h5" && ok "feistel order: stop after 17 steps + resume is bit-identical" \
    || fail "feistel resume differs"
h5diff -q "$T/full3/model.h5" "$T/full3f/model.h5" > /dev/null && fail "feistel and table orders gave the same weights"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/full2" || fail "uninterrupted np=2"
mpi 4 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/full4" || fail "uninterrupted np=4"
NNTRAIN_STOP_AT_STEP=17 mpi 4 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/p42" > /dev/null
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/p42" --resume | grep -q "written by 4 ranks" || fail "4->2 resume message"
h5diff -q --relative=1e-5 "$T/full4/model.h5" "$T/p42/model.h5" && ok "4 ranks -> 2 ranks: weights within 1e-5 of the uninterrupted run" || fail "4 -> 2 resume differs beyond 1e-5"
NNTRAIN_STOP_AT_STEP=30 mpi 2 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/p23" > /dev/null
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/p23" --resume || fail "2->3 resume"
h5diff -q --relative=1e-5 "$T/full2/model.h5" "$T/p23/model.h5" && ok "2 ranks -> 3 ranks: weights within 1e-5 of the uninterrupted run" || fail "2 -> 3 resume differs beyond 1e-5"

# incompatible configuration
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/p23" --resume --set "model.layers=2, 8, 2" 2> "$T/inc.err"
rc=$?
[ $rc = 3 ] && [ "$(grep -c '^nntrain: error:' "$T/inc.err")" = 1 ] && grep -q "ckpt-.*\.h5: .*layer0/weight has shape (16, 2), the model needs (8, 2)" "$T/inc.err" \
    && ok "incompatible layers: $(grep '^nntrain: error' "$T/inc.err")" || fail "incompatible resume: rc $rc $(cat "$T/inc.err")"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/none" --resume 2> "$T/none.err"
[ $? = 3 ] && grep -q "no checkpoint to resume from" "$T/none.err" && ok "--resume without a checkpoint is an error" || fail "--resume without checkpoint"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/p23" 2> "$T/again.err"
[ $? = 3 ] && grep -q "holds checkpoints of an earlier run" "$T/again.err" && ok "a fresh run refuses a directory with checkpoints" || fail "fresh run over checkpoints: $(cat "$T/again.err")"

# atomicity and keep: a stale .tmp (a crash mid-write) is ignored; keep = 2 keeps two
NNTRAIN_STOP_AT_STEP=20 mpi 2 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set output.dir="$T/atom" --set checkpoint.every_steps=5 --set checkpoint.keep=2 > /dev/null
echo "half a file" > "$T/atom/checkpoints/ckpt-999.h5.tmp"
n=$(ls "$T/atom/checkpoints" | grep -c '^ckpt-[0-9]*\.h5$')
[ "$n" = 2 ] && ok "keep = 2: $(ls "$T/atom/checkpoints" | tr '\n' ' ')" || fail "keep=2 left $n checkpoints"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/atom" --resume | grep -q "resuming from $T/atom/checkpoints/ckpt-20.h5" \
    && ok "resume ignores a stale ckpt-999.h5.tmp" || fail "resume picked the wrong file"
h5diff -q "$T/full2/model.h5" "$T/atom/model.h5" && ok "every_steps checkpoints + resume on 2 ranks: bit-identical" || fail "atom resume differs"

# layout (HDF5's own tool)
c="$T/atom/checkpoints/$(ls "$T/atom/checkpoints" | grep '\.h5$' | tail -1)"
h5dump -H "$c" > "$T/h"
for want in 'GROUP "model"' 'DATASET "weight"' 'GROUP "optimizer"' 'DATASET "state"' 'GROUP "state"' \
            'ATTRIBUTE "global_step"' 'ATTRIBUTE "step_in_epoch"' 'ATTRIBUTE "world_size"' \
            'GROUP "config"' 'DATASET "metrics"' 'ATTRIBUTE "format_version"'; do
    grep -q "$want" "$T/h" || fail "checkpoint lacks $want"
done
grep -A3 'DATASET "state"' "$T/h" | grep -q "( 2, 354 )" && ok "checkpoint layout (adam state 2 x 354)" || fail "optimizer state shape"

# SIGTERM to one rank of a 3-rank job
"$NNDATA" make-moons 60000 "$T/big.h5" --seed 5 > /dev/null
sed "s#$T/m.h5#$T/big.h5#g; s/^epochs = 4/epochs = 3/; s/^layers = .*/layers = 2, 128, 128, 2/" "$T/j.ini" > "$T/big.ini"
mpi 3 "$NNTRAIN" train --config "$T/big.ini" --quiet --set output.dir="$T/bigfull" || fail "big uninterrupted"
mpi 3 "$NNTRAIN" train --config "$T/big.ini" --set output.dir="$T/sig" > "$T/sig.out" 2>&1 &
mpid=$!
for i in $(seq 1 200); do grep -q "^nntrain .*ranks" "$T/sig.out" && break; sleep 0.1; done
victim=$(pgrep -f "^$NNTRAIN train --config $T/big.ini --set output.dir=$T/sig" | tail -1)  # a rank, never mpirun
t0=$(date +%s.%N)
kill -TERM "$victim"
wait $mpid; rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
if [ $rc = 0 ] && grep -q "stopped early" "$T/sig.out" && grep -q -- "--resume" "$T/sig.out" &&
   [ ! -e "$T/sig/model.h5" ]; then
    ok "SIGTERM to one of 3 ranks: checkpoint and exit 0 in ${secs}s"
else fail "SIGTERM: rc $rc $(tail -3 "$T/sig.out")"; fi
mpi 3 "$NNTRAIN" train --config "$T/big.ini" --quiet --set output.dir="$T/sig" --resume || fail "resume after SIGTERM"
h5diff -q "$T/bigfull/model.h5" "$T/sig/model.h5" && ok "resumed after SIGTERM: bit-identical to the uninterrupted run" || fail "after SIGTERM the resumed run differs"

# (a second SIGTERM exiting at once is tested on the handler itself: test_signals.c)

finish
