#!/usr/bin/env bash
# Per-feature standardisation stored as /X attributes mean, std (issue 5): nntrain applies
# (x * scale - mean) / std on read. Training on a file with the attributes must give exactly
# the weights of training on the same data standardised beforehand by numpy (float32), both
# resident and streaming; the model records the statistics; eval/predict and a test set
# refuse data prepared differently; malformed attributes are one clear error.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir std
PY=/usr/bin/python3

"$NNDATA" make-blobs 1500 "$T/raw.h5" --centers 3 --features 6 --std 2 --seed 3 > /dev/null
"$NNDATA" make-blobs 500 "$T/rawte.h5" --centers 3 --features 6 --std 2 --seed 4 > /dev/null
# attrs.h5 = raw + mean/std attributes; pre.h5 = the standardised values, no attributes
$PY - "$T" <<'PY' || fail "python set-up"
import sys, shutil, h5py, numpy as np
t = sys.argv[1]
with h5py.File(f"{t}/raw.h5", "r") as f:
    X = f["X"][...].astype(np.float32)
    y = f["y"][...]
mean = X.astype(np.float64).mean(0).astype(np.float32)
std = X.astype(np.float64).std(0).astype(np.float32)
for name in ("attrs", "attrs_te", "other_te"):
    src = "raw" if name == "attrs" else "rawte"
    shutil.copy(f"{t}/{src}.h5", f"{t}/{name}.h5")
    with h5py.File(f"{t}/{name}.h5", "a") as f:   # other_te: statistics that differ
        f["X"].attrs["mean"] = mean + (1 if name == "other_te" else 0)
        f["X"].attrs["std"] = std
with h5py.File(f"{t}/pre.h5", "w") as f:
    f["X"] = (X - mean) / std          # float32 arithmetic, as nntrain does it
    f["y"] = y
np.save(f"{t}/mean.npy", mean)
PY

cat > "$T/j.ini" <<INI
[data]
train = $T/attrs.h5
[model]
layers = 6, 16, 3
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 3
batch_size = 50
[output]
dir = $T/a
INI
weights_equal() { # run dir 1, run dir 2
    local l
    for l in 0 1; do
        for d in weight bias; do
            h5diff -q "$1/model.h5" "$2/model.h5" "/model/layer$l/$d" || return 1
        done
    done
}
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet || fail "train on attrs.h5"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set data.train="$T/pre.h5" --set output.dir="$T/p" || fail "train on pre.h5"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set data.train="$T/raw.h5" --set output.dir="$T/r" || fail "train on raw.h5"
weights_equal "$T/a" "$T/p" && ok "attributes applied on read = numpy-standardised file (bit-identical weights)" \
    || fail "standardised-on-read run differs from the pre-standardised one"
weights_equal "$T/a" "$T/r" && fail "raw and standardised training gave the same weights (attributes ignored?)"
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set data.cache_mb=0.01 --set output.dir="$T/s" || fail "streaming run"
weights_equal "$T/a" "$T/s" && ok "streaming (cache 10 KB) applies them too: bit-identical to resident" || fail "streaming run differs"

# the model records the statistics
$PY - "$T" <<'PY' && ok "model.h5 /model input_mean, input_std = the file's attributes" || fail "model.h5 lacks the statistics"
import sys, h5py, numpy as np
t = sys.argv[1]
with h5py.File(f"{t}/a/model.h5", "r") as f, h5py.File(f"{t}/attrs.h5", "r") as d:
    assert np.array_equal(f["model"].attrs["input_mean"], d["X"].attrs["mean"])
    assert np.array_equal(f["model"].attrs["input_std"], d["X"].attrs["std"])
with h5py.File(f"{t}/p/model.h5", "r") as f:
    assert "input_mean" not in f["model"].attrs
PY

# eval / predict: data must be prepared as the model expects
expect_err() { # name pattern cmd...
    local name=$1 pat=$2; shift 2
    "$@" > "$T/o" 2> "$T/e"
    local rc=$?
    if [ $rc = 3 ] && [ "$(grep -c '^nntrain: error:' "$T/e")" = 1 ] && grep -q "$pat" "$T/e"; then
        ok "$name: $(grep '^nntrain: error:' "$T/e")"
    else fail "$name: rc $rc $(cat "$T/e")"; fi
}
mpi 2 "$NNTRAIN" eval --checkpoint "$T/a/model.h5" --data "$T/attrs_te.h5" > /dev/null || fail "eval standardised model on standardised data"
expect_err "eval: standardised model, raw data" "is not standardised but .*a/model.h5 was trained on standardised" \
    mpi 2 "$NNTRAIN" eval --checkpoint "$T/a/model.h5" --data "$T/rawte.h5"
expect_err "predict: raw model, standardised data" "is standardised (attributes mean, std) but" \
    mpi 2 "$NNTRAIN" predict --checkpoint "$T/r/model.h5" --data "$T/attrs_te.h5" --out "$T/pred.h5"
[ -e "$T/pred.h5" ] && fail "predict wrote output after refusing"
expect_err "test set prepared differently" "rawte.h5: /X is not standardised, unlike .*attrs.h5" \
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set data.test="$T/rawte.h5" --set output.dir="$T/t"
expect_err "test set standardised with other statistics" "other_te.h5: /X is standardised with other statistics than .*attrs.h5" \
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set data.test="$T/other_te.h5" --set output.dir="$T/t2"
expect_err "eval: data standardised with other statistics" "other_te.h5: /X is standardised with other statistics than .*a/model.h5" \
    mpi 2 "$NNTRAIN" eval --checkpoint "$T/a/model.h5" --data "$T/other_te.h5"

# malformed attributes
$PY - "$T" <<'PY'
import sys, shutil, h5py, numpy as np
t = sys.argv[1]
def variant(name, **attrs):
    shutil.copy(f"{t}/raw.h5", f"{t}/{name}.h5")
    with h5py.File(f"{t}/{name}.h5", "a") as f:
        for k, v in attrs.items():
            f["X"].attrs[k] = v
variant("only_mean", mean=np.zeros(6, np.float32))
variant("zero_std", mean=np.zeros(6, np.float32), std=np.array([1, 1, 0, 1, 1, 1], np.float32))
variant("short_std", mean=np.zeros(6, np.float32), std=np.ones(5, np.float32))
PY
expect_err "mean without std" "only_mean.h5: /X attribute mean without std" \
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set data.train="$T/only_mean.h5" --set output.dir="$T/x1"
expect_err "std of 0" "zero_std.h5: /X attribute std\[2\] is 0, expected > 0" \
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set data.train="$T/zero_std.h5" --set output.dir="$T/x2"
expect_err "std of the wrong length" "short_std.h5: /X attribute std has 5 values, expected D = 6" \
    mpi 2 "$NNTRAIN" train --config "$T/j.ini" --set data.train="$T/short_std.h5" --set output.dir="$T/x3"

finish "all standardisation checks passed"
