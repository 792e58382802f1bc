#!/usr/bin/env bash
# Using a trained model: eval (sharded, equals the training run's own test metrics; per-class
# table and confusion matrix; CSV), predict (collective HDF5 output; equals eval), the PyTorch
# round trip, and --init-from (exact start, shape mismatch is one clear error).
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir infer

"$NNDATA" make-moons 3000 "$T/tr.h5" --seed 1 --noise 0.2 > /dev/null
"$NNDATA" make-moons 1003 "$T/te.h5" --seed 2 --noise 0.2 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/tr.h5
test = $T/te.h5
[model]
layers = 2, 32, 32, 2
activation = gelu
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 5
batch_size = 64
[output]
dir = $T/run
INI
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet || fail "training"
want=$(col "$T/run/metrics.csv" test_acc)
ck=$(ls "$T/run/checkpoints"/ckpt-*.h5 | tail -1)
for np in 1 3; do
    for file in "$T/run/model.h5" "$ck"; do
        mpi $np "$NNTRAIN" eval --checkpoint "$file" --data "$T/te.h5" --out "$T/ev$np.csv" > "$T/ev$np.txt" || fail "eval np=$np"
        got=$(awk '/^accuracy/ {print $2}' "$T/ev$np.txt")
        [ "$got" = "$want" ] && ok "eval np=$np $(basename "$file"): accuracy $got = the run's test_acc" || fail "eval np=$np $(basename "$file"): $got vs $want"
    done
done
# the confusion matrix accounts for every row once, and its diagonal is the accuracy
awk -F, 'NR > 1 { for (j = 6; j <= NF; j++) { n += $j; if (j - 6 == $1) d += $j } } END { exit !(n == 1003) }' "$T/ev3.csv" \
    && ok "confusion matrix counts all 1003 rows" || fail "confusion matrix total"
acc=$(awk -F, 'NR > 1 { for (j = 6; j <= NF; j++) { n += $j; if (j - 6 == $1) d += $j } } END { printf "%.6f", d / n }' "$T/ev3.csv")
[ "$acc" = "$want" ] && ok "confusion-matrix diagonal = accuracy" || fail "diagonal $acc vs $want"
grep -q "precision" "$T/ev3.txt" && grep -q "confusion matrix" "$T/ev3.txt" || fail "eval printout"

# predict (3 ranks, collective writes) and its agreement with eval
mpi 3 "$NNTRAIN" predict --checkpoint "$ck" --data "$T/te.h5" --out "$T/p.h5" --quiet || fail "predict"
h5dump -H "$T/p.h5" | grep -A2 '"probabilities"' | grep -q "( 1003, 2 )" || fail "probabilities shape"
h5dump -H "$T/p.h5" | grep -A2 '"predictions"' | grep -q "( 1003 )" || fail "predictions shape"
mpi 2 "$NNTRAIN" predict --checkpoint "$ck" --data "$T/te.h5" --out "$T/p.h5" --quiet 2> "$T/pe"
[ $? = 3 ] && grep -q "exists; pass --overwrite" "$T/pe" && ok "predict refuses to overwrite" || fail "predict overwrote"
mpi 2 "$NNTRAIN" predict --checkpoint "$ck" --data "$T/te.h5" --out "$T/p2.h5" --quiet
# rows fall into different GEMM batch shapes on 2 and 3 ranks, so probabilities may differ in
# the last bits; predicted classes must not
h5diff -q "$T/p.h5" "$T/p2.h5" /predictions /predictions &&
h5diff -q --relative=1e-5 "$T/p.h5" "$T/p2.h5" /probabilities /probabilities \
    && ok "predict on 2 and 3 ranks: same classes, probabilities within 1e-5" || fail "predict differs across rank counts"

# PyTorch round trip (h5py -> torch.nn.Sequential)
# --cache-mb bounds the rows read at once: 0.005 MiB = 218 rows of 2 floats + label, so 3
# ranks read their 334 rows in 2 windows each; results identical to one window
mpi 3 "$NNTRAIN" predict --checkpoint "$ck" --data "$T/te.h5" --out "$T/p3.h5" --quiet --cache-mb 0.005 || fail "predict --cache-mb"
h5diff -q "$T/p.h5" "$T/p3.h5" && ok "predict with --cache-mb 0.005 (several windows per rank) = one window" || fail "predict --cache-mb differs"
mpi 3 "$NNTRAIN" eval --checkpoint "$ck" --data "$T/te.h5" --cache-mb 0.005 > "$T/evc.txt" || fail "eval --cache-mb"
[ "$(awk '/^accuracy/ {print $2}' "$T/evc.txt")" = "$(awk '/^accuracy/ {print $2}' "$T/ev3.txt")" ] \
    && ok "eval with --cache-mb 0.005 = default" || fail "eval --cache-mb: $(cat "$T/evc.txt")"
/usr/bin/python3 "$SRC_DIR/tests/worker/torch_roundtrip.py" "$ck" "$T/te.h5" "$T/p.h5" && ok "PyTorch reproduces nntrain's predictions" || fail "torch round trip"

# --init-from: with lr 1e-30, SGD leaves every weight exactly where it started
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/init" --set optimizer.name=sgd \
    --set optimizer.lr=1e-30 --set train.epochs=1 --init-from "$T/run/model.h5" || fail "init-from run"
h5diff -q "$T/run/model.h5" "$T/init/model.h5" /model/layer0/weight /model/layer0/weight &&
h5diff -q "$T/run/model.h5" "$T/init/model.h5" /model/layer2/bias /model/layer2/bias \
    && ok "--init-from starts from the file's weights exactly" || fail "init-from weights differ"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/bad" --set "model.layers=2, 16, 2" \
    --init-from "$T/run/model.h5" 2> "$T/ie"
[ $? = 3 ] && [ "$(grep -c '^nntrain: error' "$T/ie")" = 1 ] && grep -q "layer0/weight has shape (32, 2), the model needs (16, 2)" "$T/ie" \
    && ok "init-from shape mismatch: $(grep error "$T/ie")" || fail "init-from mismatch: $(cat "$T/ie")"

# a NaN in the data: eval and predict name the exact cell (on whichever rank holds it)
/usr/bin/python3 - "$T" <<'PY' || fail "python: NaN file"
import sys, shutil, h5py, numpy as np
t = sys.argv[1]
shutil.copy(f"{t}/te.h5", f"{t}/nan.h5")
with h5py.File(f"{t}/nan.h5", "a") as f:
    f["X"][700, 1] = np.nan
PY
mpi 3 "$NNTRAIN" eval --checkpoint "$T/run/model.h5" --data "$T/nan.h5" > /dev/null 2> "$T/ne"
[ $? = 3 ] && [ "$(grep -c '^nntrain: error' "$T/ne")" = 1 ] && grep -q 'nan.h5: /X\[700, 1\] is not finite' "$T/ne" \
    && ok "eval names the NaN cell: $(grep error "$T/ne")" || fail "eval NaN: $(cat "$T/ne")"
mpi 3 "$NNTRAIN" predict --checkpoint "$T/run/model.h5" --data "$T/nan.h5" --out "$T/nanpred.h5" > /dev/null 2> "$T/ne"
[ $? = 3 ] && [ "$(grep -c '^nntrain: error' "$T/ne")" = 1 ] && grep -q 'nan.h5: /X\[700, 1\] is not finite' "$T/ne" \
    && [ ! -e "$T/nanpred.h5" ] && ok "predict names the NaN cell and writes nothing" || fail "predict NaN: $(cat "$T/ne"; ls "$T")"

finish
