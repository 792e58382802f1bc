#!/usr/bin/env bash
# Early stopping ([train] early_stopping_patience, _metric, _min_delta; issue 15):
#  - 2 ranks, patience 3 on val_loss: training stops before the last epoch, 3 epochs after the
#    best one; best.h5 holds exactly the best epoch's weights (== that epoch's checkpoint's
#    /model), model.h5 the last epoch's; metrics.csv has best_epoch per row, the status file
#    and the console say early_stopped / the best epoch, the JSON log has an early_stop event;
#  - the same run stopped by a signal mid-way and resumed stops at the same epoch with the same
#    best epoch, best.h5 and model.h5 bitwise those of the uninterrupted run;
#  - a best.h5 written by an attempt after the checkpoint a resume starts from is moved aside
#    (best-epoch<E>-abandoned.h5) and rewritten with the history's best epoch, from the loaded
#    weights or from that epoch's checkpoint; best.h5 and model.h5 record their epoch;
#  - decisions do not depend on the rank count (deterministic mode, 1 vs 3 ranks: same epochs,
#    bitwise best.h5); val_acc with min_delta; a patience the run never reaches: all epochs,
#    best.h5 still written;
#  - without a validation split, or with a metric of the other task: one line, exit 3.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir early
"$NNDATA" make-moons 2500 "$T/d.h5" --seed 4 --noise 0.25 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
val_fraction = 0.2
[model]
layers = 2, 64, 64, 2
activation = relu
[optimizer]
name = adam
lr = 0.02
[train]
epochs = 60
batch_size = 50
threads = 1
early_stopping_patience = 3
[checkpoint]
keep = 1000
INI
run() { # run NAME NP ARGS...
    local name=$1 np=$2; shift 2
    mpi "$np" "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/$name" "$@" > "$T/$name.out" 2>&1 ||
        fail "$name: $(tail -3 "$T/$name.out")"
}
last_epoch() { tail -1 "$1/metrics.csv" | cut -d, -f1; }
# same_weights A B: every /model dataset bitwise equal (h5py; a checkpoint's datasets carry
# crc32 attributes that model files do not, so h5diff would report those)
same_weights() {
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
names = []
a["/model"].visit(lambda n: names.append(n) if isinstance(a["/model"][n], h5py.Dataset) else None)
assert names
for n in names:
    x, y = a["/model"][n][()], b["/model"][n][()]
    if x.shape != y.shape or x.tobytes() != y.tobytes(): sys.exit(1)
PY
}
ckpt_of_epoch() { # RUN EPOCH: the checkpoint written at the end of EPOCH (global step = EPOCH x 40)
    echo "$1/checkpoints/ckpt-$(($2 * 40)).h5"
}

run a 2
E=$(last_epoch "$T/a") B=$(col "$T/a/metrics.csv" best_epoch)
if [ "$E" -lt 60 ] && [ "$E" = $((B + 3)) ]; then ok "stopped after epoch $E of 60, 3 epochs after the best ($B)"
else fail "last epoch $E, best epoch $B"; fi
# the best epoch's val_loss is the smallest, and later ones are not below it
awk -F, -v b="$B" 'NR > 1 { if ($1 == b) best = $4; v[$1] = $4 } END { for (e in v) if (v[e] < best) exit 1 }' "$T/a/metrics.csv" &&
    ok "epoch $B has the smallest val_loss" || fail "epoch $B is not the best val_loss"
same_weights "$T/a/best.h5" "$(ckpt_of_epoch "$T/a" "$B")" &&
    ok "best.h5 == the weights after epoch $B (its checkpoint's /model)" || fail "best.h5 is not epoch $B's weights"
same_weights "$T/a/model.h5" "$(ckpt_of_epoch "$T/a" "$E")" && ok "model.h5 == the last epoch's weights" ||
    fail "model.h5 is not epoch $E's weights"
! same_weights "$T/a/model.h5" "$T/a/best.h5" && ok "  (and they differ)" || fail "best.h5 == model.h5"
grep -q "^finished epochs $E global_step $((E * 40)) model $T/a/model.h5 early_stopped best_epoch $B best $T/a/best.h5" "$T/a/status" &&
    ok "status: $(cut -c1-60 "$T/a/status")..." || fail "status: $(cat "$T/a/status")"
grep -q "^early stopping after epoch $E of 60: val_loss has not improved by more than 0 for 3 epochs; best epoch $B" "$T/a.out" &&
    ok "console says why and which epoch" || fail "console: $(grep -i early "$T/a.out")"
/usr/bin/python3 -c 'import sys, h5py; f = h5py.File(sys.argv[1], "r"); assert f["/model/layer0/weight"].shape == (64, 2)' \
    "$T/a/best.h5" && ok "best.h5 reads with h5py like model.h5" || fail "best.h5 not readable as a model by h5py"

# stopped by a signal inside epoch B + 1 and resumed: the same end
K=$((B * 40 + 17))
NNTRAIN_STOP_AT_STEP=$K run r 2
grep -q "stopped early" "$T/r.out" || fail "stop at $K: $(tail -2 "$T/r.out")"
run r 2 --resume
if [ "$(last_epoch "$T/r")" = "$E" ] && [ "$(col "$T/r/metrics.csv" best_epoch)" = "$B" ] &&
   h5diff -q "$T/a/best.h5" "$T/r/best.h5" /model /model && h5diff -q "$T/a/model.h5" "$T/r/model.h5" /model /model; then
    ok "stopped at step $K, resumed: stops after epoch $E, best epoch $B, best.h5 and model.h5 bitwise the same"
else fail "resumed run: last epoch $(last_epoch "$T/r"), best $(col "$T/r/metrics.csv" best_epoch)"; fi
# resumed from the checkpoint of the stopping epoch itself (model.h5 lost): finishes at once
rm "$T/r/model.h5"
run r 2 --resume
h5diff -q "$T/a/model.h5" "$T/r/model.h5" /model /model && [ "$(last_epoch "$T/r")" = "$E" ] &&
    ok "resumed after the stopping epoch's checkpoint: no more epochs, same model.h5" ||
    fail "resume after the stop: last epoch $(last_epoch "$T/r")"

# best.h5 rewritten by an attempt after the checkpoint a resume starts from (newer checkpoints
# damaged and skipped, or removed): moved aside, and best.h5 written again with the history's
# best epoch P — from the loaded weights when the checkpoint ends epoch P, else from the
# checkpoint that ended epoch P. P: the last improving epoch before B.
P=$(awk -F, -v b="$B" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "best_epoch") c = i; next }
                       $1 < b && $c == $1 { p = $1 } END { print p }' "$T/a/metrics.csv")
cp -r "$T/a" "$T/s"
for f in "$T/s/checkpoints"/ckpt-*.h5; do
    n=${f##*ckpt-}; n=${n%.h5}; [ "$n" -gt $((P * 40)) ] && rm "$f"
done
rm -f "$T/s/model.h5"
NNTRAIN_STOP_AT_STEP=$((P * 40 + 17)) run s 2 --resume
ep() { /usr/bin/python3 -c 'import sys, h5py; print(h5py.File(sys.argv[1], "r").attrs.get("epoch", 0))' "$1"; }
if grep -q "warning: $T/s/best.h5 held epoch $B's weights from an attempt after the checkpoint; moved to $T/s/best-epoch$B-abandoned.h5; best.h5 rewritten with the best epoch so far, $P (from the checkpoint resumed from)" "$T/s.out" &&
   same_weights "$T/s/best.h5" "$(ckpt_of_epoch "$T/s" "$P")" && [ "$(ep "$T/s/best.h5")" = "$P" ] &&
   same_weights "$T/s/best-epoch$B-abandoned.h5" "$T/a/best.h5"; then
    ok "stale best.h5 (epoch $B) on a resume from the end of epoch $P: moved aside, rewritten with epoch $P's weights"
else fail "stale best.h5, resume at epoch $P: epoch $(ep "$T/s/best.h5"); $(grep -i 'best' "$T/s.out" | head -3)"; fi
# again from the mid-epoch checkpoint just written (step P*40+17): P's weights come from its
# end-of-epoch checkpoint
cp "$T/a/best.h5" "$T/s/best.h5"
NNTRAIN_STOP_AT_STEP=$((P * 40 + 25)) run s 2 --resume
if grep -q "moved to $T/s/best-epoch$B-abandoned-2.h5; best.h5 rewritten with the best epoch so far, $P (from $(ckpt_of_epoch "$T/s" "$P"))" "$T/s.out" &&
   same_weights "$T/s/best.h5" "$(ckpt_of_epoch "$T/s" "$P")" && [ "$(ep "$T/s/best.h5")" = "$P" ] &&
   same_weights "$T/s/best-epoch$B-abandoned-2.h5" "$T/a/best.h5" && [ "$(ep "$T/a/best.h5")" = "$B" ] &&
   [ "$(ep "$T/a/model.h5")" = "$E" ]; then
    ok "stale best.h5 on a mid-epoch resume: rewritten from ckpt of epoch $P, the earlier aside file kept; best.h5/model.h5 record their epochs"
else fail "stale best.h5, mid-epoch resume: $(grep -i 'best' "$T/s.out" | head -3)"; fi
# and with epoch P's checkpoint gone too: moved aside, no best.h5 until the next improvement
cp "$T/a/best.h5" "$T/s/best.h5"
rm "$(ckpt_of_epoch "$T/s" "$P")"
NNTRAIN_STOP_AT_STEP=$((P * 40 + 30)) run s 2 --resume
grep -q "moved to $T/s/best-epoch$B-abandoned-3.h5; the best epoch so far, $P, has no weights on disk any more (its checkpoint is not kept); best.h5 is written at the next improvement" "$T/s.out" &&
    [ ! -e "$T/s/best.h5" ] && ok "  without epoch $P's checkpoint: moved aside, one warning, best.h5 at the next improvement" ||
    fail "stale best.h5, no checkpoint of epoch $P: $(grep -i 'warning' "$T/s.out" | head -3)"
# the resumed run ends as the uninterrupted one
run s 2 --resume
same_weights "$T/s/best.h5" "$T/a/best.h5" && h5diff -q "$T/a/model.h5" "$T/s/model.h5" /model /model &&
    ok "  and finishes with the uninterrupted run's best.h5 and model.h5" || fail "stale best.h5: the run ends elsewhere"

# decisions independent of the rank count (deterministic mode: the same bits)
D=(--set train.deterministic=true --set train.deterministic_chunk=10)
run d1 1 "${D[@]}"
run d3 3 "${D[@]}"
if [ "$(last_epoch "$T/d1")" = "$(last_epoch "$T/d3")" ] && [ "$(col "$T/d1/metrics.csv" best_epoch)" = "$(col "$T/d3/metrics.csv" best_epoch)" ] &&
   h5diff -q "$T/d1/best.h5" "$T/d3/best.h5" /model /model; then
    ok "deterministic: 1 and 3 ranks stop after epoch $(last_epoch "$T/d1") (best $(col "$T/d1/metrics.csv" best_epoch)), best.h5 bitwise equal"
else fail "deterministic 1 vs 3 ranks: epochs $(last_epoch "$T/d1") / $(last_epoch "$T/d3")"; fi

# val_acc with a min_delta; a patience never reached
run acc 2 --set train.early_stopping_metric=val_acc --set train.early_stopping_min_delta=0.001 --log-format json
Ea=$(last_epoch "$T/acc") Ba=$(col "$T/acc/metrics.csv" best_epoch)
grep -q '"event":"early_stop".*best epoch '"$Ba"' (val_acc' "$T/acc.out" && grep -q '"event":"epoch".*"best_epoch":'"$Ba" "$T/acc.out" &&
    ok "JSON: early_stop event and best_epoch per epoch" || fail "JSON: $(grep -c early_stop "$T/acc.out") early_stop events"
[ "$Ea" = $((Ba + 3)) ] && [ -e "$T/acc/best.h5" ] && ok "val_acc, min_delta 0.001: stopped after epoch $Ea, best $Ba" ||
    fail "val_acc: last $Ea best $Ba"
run long 2 --set train.epochs=4 --set train.early_stopping_patience=50
[ "$(last_epoch "$T/long")" = 4 ] && [ -e "$T/long/best.h5" ] && ! grep -q early_stopped "$T/long/status" &&
    grep -q "best_epoch [1-4] best $T/long/best.h5" "$T/long/status" &&
    ok "patience not reached: all 4 epochs, best.h5 written, status $(cut -d' ' -f1-6,8- "$T/long/status" | cut -c1-70)..." ||
    fail "patience 50: $(cat "$T/long/status")"

for bad in "data.val_fraction=0|needs a validation split" "train.early_stopping_metric=val_rmse|val_rmse needs a regression loss" \
           "train.early_stopping_metric=loss|early_stopping_metric.*val_loss, val_acc or val_rmse"; do
    kv=${bad%%|*} pat=${bad#*|}
    "$NNTRAIN" train --config "$T/j.ini" --set "$kv" --set output.dir="$T/bad" > "$T/bad.out" 2>&1
    rc=$?
    [ $rc = 3 ] && [ "$(wc -l < "$T/bad.out")" = 1 ] && grep -q "$pat" "$T/bad.out" && [ ! -e "$T/bad" ] &&
        ok "$kv: $(cat "$T/bad.out")" || fail "$kv: exit $rc: $(cat "$T/bad.out")"
done
finish
