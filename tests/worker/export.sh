#!/usr/bin/env bash
# nntrain export (issue 15): ONNX models checked by real consumers. python3-onnx's checker
# (full_check) accepts every export; ONNX Runtime (onnxruntime-node, npm) runs them and its
# outputs equal `nntrain predict`'s: a Fashion-MNIST model (standardised pixels) on the 10,000
# test rows, and one small model per activation (all ten, on synthetic data plus rows of zeros
# and of large values): logits within 1e-5 (relative above 1), probabilities within 1e-5,
# identical classes. Bad input: one line naming the file, the table's exit code, no .onnx left.
# Usage: export.sh BUILD_DIR   (ONNX Runtime is installed once into BUILD_DIR/onnxruntime)
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir export
trap 'umount "$T/ro" 2>/dev/null; umount "$T/full" 2>/dev/null; rm -rf "$T"' EXIT
PY=/usr/bin/python3
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?usage: export.sh BUILD_DIR}

# ONNX Runtime: missing is a failure, not a skip (launch/test installs it the same way)
. "$SRC_DIR/launch/common.sh"
if ! nn_install_onnxruntime "$BUILD/onnxruntime" > "$T/npm.log" 2>&1; then
    cat "$T/npm.log"
    echo "FAIL: onnxruntime-node could not be installed into $BUILD/onnxruntime (npm install --ignore-scripts $NN_ORT_PACKAGE); the ONNX Runtime checks cannot run"
    exit 1
fi
export NODE_PATH="$BUILD/onnxruntime/node_modules"
$PY -c 'import onnx, h5py, numpy' || { echo "FAIL: python3-onnx, h5py or numpy missing (apt-get install python3-onnx python3-h5py python3-numpy)"; exit 1; }

checked=0
# verify NAME MODEL.h5 TEST.h5 LOSS K [--extra] [--probabilities]: export (logits; with
# --probabilities also probabilities), onnx.checker, run with ORT, compare with nntrain predict
verify() {
    local name=$1 model=$2 data=$3 loss=$4 k=$5 extra='' probs='' d="$T/v-$1" a pf='' line
    shift 5
    for a in "$@"; do
        [ "$a" = --extra ] && extra=--extra
        [ "$a" = --probabilities ] && probs=1
    done
    mkdir -p "$d"
    $PY "$HERE/onnx_check.py" prepare "$model" "$data" "$d" $extra || { fail "$name: prepare"; return; }
    "$NNTRAIN" export "$model" "$d/m.onnx" || { fail "$name: export"; return; }
    local files=("$d/m.onnx")
    if [ -n "$probs" ]; then
        "$NNTRAIN" export "$model" "$d/p.onnx" --probabilities || { fail "$name: export --probabilities"; return; }
        files+=("$d/p.onnx")
    fi
    $PY "$HERE/onnx_check.py" checker "${files[@]}" > "$d/checker.txt" || { cat "$d/checker.txt"; fail "$name: onnx.checker"; return; }
    checked=$((checked + ${#files[@]}))
    mpi 1 "$NNTRAIN" predict --checkpoint "$model" --data "$d/probe.h5" --out "$d/pred.h5" --quiet || { fail "$name: predict"; return; }
    mpi 1 "$NNTRAIN" predict --checkpoint "$d/logits.h5" --data "$d/logits-data.h5" --out "$d/pred-logits.h5" --quiet \
        || { fail "$name: predict (logits)"; return; }
    node "$HERE/ort_run.js" "$d/m.onnx" "$d/probe.f32" "$d/ort.f32" > "$d/ort.txt" || { fail "$name: ONNX Runtime"; return; }
    if [ -n "$probs" ]; then
        node "$HERE/ort_run.js" "$d/p.onnx" "$d/probe.f32" "$d/ortp.f32" >> "$d/ort.txt" || { fail "$name: ONNX Runtime (probabilities)"; return; }
        pf="$d/ortp.f32"
    fi
    if line=$($PY "$HERE/onnx_check.py" compare "$d" "$loss" "$k" "$d/ort.f32" $pf); then
        ok "$name: ${line#ok   }"
    else
        fail "$name: ${line#FAIL }"
    fi
}

# ---- Fashion-MNIST: 784-64-10 ReLU on standardised pixels, 1 epoch, 10,000 test rows -------
bash "$SRC_DIR/datasets/fashion-mnist.sh" "$NNDATA" "$T" > /dev/null || fail "fashion-mnist.sh"
{ "$NNDATA" standardize "$T/fashion-train.h5" &&
  "$NNDATA" standardize "$T/fashion-test.h5" --stats-from "$T/fashion-train.h5"; } > /dev/null || fail "standardize"
cat > "$T/fm.ini" <<INI
[data]
train = $T/fashion-train.h5
[model]
layers = 784, 64, 10
activation = relu
[optimizer]
name = adam
lr = 0.001
[train]
epochs = 1
batch_size = 128
[output]
dir = $T/fm
INI
mpi 2 "$NNTRAIN" train --config "$T/fm.ini" --quiet || fail "fashion training"
verify fashion "$T/fm/model.h5" "$T/fashion-test.h5" cross_entropy 10 --probabilities
# --raw-input: the stored uint8 pixels themselves; the graph multiplies by the recorded
# /model@input_scale (1/255) before standardising. The same logits and classes as nntrain
# predict on the 10,000 test rows; the model without --raw-input on the same raw values is far
# off (so the comparison can fail); a model without input_scale is refused (exit 3, one line).
d="$T/v-fashion"
"$NNTRAIN" export "$T/fm/model.h5" "$d/raw.onnx" --raw-input || fail "export --raw-input"
$PY -c 'import h5py, numpy as np, sys; h5py.File(sys.argv[1], "r")["X"][...].astype(np.float32).tofile(sys.argv[2])' \
    "$T/fashion-test.h5" "$d/raw.f32" || fail "raw.f32"
if node "$HERE/ort_run.js" "$d/raw.onnx" "$d/raw.f32" "$d/ort-raw.f32" > /dev/null &&
   line=$($PY "$HERE/onnx_check.py" compare "$d" cross_entropy 10 "$d/ort-raw.f32") &&
   $PY - "$d/raw.onnx" <<'PY'; then
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
md = {p.key: p.value for p in m.metadata_props}
assert [n.op_type for n in m.graph.node][:3] == ["Mul", "Sub", "Div"], [n.op_type for n in m.graph.node]
assert abs(float(md["input_scale"]) - 1 / 255) < 1e-9 and md["input"].startswith("the stored values ("), md
PY
    ok "--raw-input on the stored pixels: Mul by input_scale $(awk 'BEGIN { printf "%.6g", 1/255 }'), ${line#ok   }"
    checked=$((checked + 1))
else fail "--raw-input: ${line:-ORT or metadata}"; fi
node "$HERE/ort_run.js" "$d/m.onnx" "$d/raw.f32" "$d/ort-raw-wrong.f32" > /dev/null &&
    ! $PY "$HERE/onnx_check.py" compare "$d" cross_entropy 10 "$d/ort-raw-wrong.f32" > /dev/null &&
    ok "without --raw-input the raw pixels give other logits (the comparison fails)" || fail "raw pixels on m.onnx compared equal"
cp "$T/fm/model.h5" "$T/noscale.h5"
$PY -c 'import h5py, sys; del h5py.File(sys.argv[1], "a")["model"].attrs["input_scale"]' "$T/noscale.h5"
"$NNTRAIN" export "$T/noscale.h5" "$T/noscale.onnx" --raw-input > "$T/ns.out" 2>&1
rc=$?
[ $rc = 3 ] && [ "$(wc -l < "$T/ns.out")" = 1 ] && grep -q "input_scale" "$T/ns.out" && [ ! -e "$T/noscale.onnx" ] &&
    ok "--raw-input without /model@input_scale: $(cat "$T/ns.out")" || fail "no input_scale: exit $rc $(cat "$T/ns.out")"
# a checkpoint exports too (the same /model; its /config becomes metadata)
ck=$(ls "$T/fm/checkpoints"/ckpt-*.h5 | tail -1)
"$NNTRAIN" export "$ck" "$T/ck.onnx" || fail "checkpoint export"
if $PY - "$T/ck.onnx" <<'PY'; then
import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
md = {p.key: p.value for p in m.metadata_props}
assert m.producer_name == "nntrain" and md["nntrain_version"] and "[model]" in md["config"], md
assert [i.name for i in m.graph.input] == ["input"] and [o.name for o in m.graph.output] == ["logits"]
assert m.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"
assert m.graph.input[0].type.tensor_type.shape.dim[1].dim_value == 784
assert m.ir_version == 7 and m.opset_import[0].version == 13
assert [n.op_type for n in m.graph.node][:2] == ["Sub", "Div"]
PY
    ok "checkpoint export: checker ok; input [N, 784], Sub/Div, output logits, metadata nntrain_version + config, producer nntrain"
    checked=$((checked + 1))
else
    fail "checkpoint export: graph or metadata"
fi

# ---- one model per activation, on small synthetic data --------------------------------------
{ "$NNDATA" make-blobs 1200 "$T/b.h5" --centers 3 --features 5 --std 2 --seed 1 &&
  "$NNDATA" make-blobs 300 "$T/bt.h5" --centers 3 --features 5 --std 2 --seed 2 &&
  cp "$T/b.h5" "$T/bs.h5" && cp "$T/bt.h5" "$T/bst.h5" &&
  "$NNDATA" standardize "$T/bs.h5" && "$NNDATA" standardize "$T/bst.h5" --stats-from "$T/bs.h5" &&
  "$NNDATA" make-moons 1200 "$T/m.h5" --seed 1 --noise 0.2 &&
  "$NNDATA" make-moons 300 "$T/mt.h5" --seed 2 --noise 0.2 &&
  "$NNDATA" make-regression 1200 "$T/r.h5" --features 4 --seed 1 &&
  "$NNDATA" make-regression 300 "$T/rt.h5" --features 4 --seed 2; } > /dev/null || fail "synthetic data"
# activation, train and test file, loss, outputs, extra options (bs: standardised blobs)
while read -r act tr te loss k extra <&3; do
    case $tr in b|bs) d=5;; m) d=2;; *) d=4;; esac
    cat > "$T/$act.ini" <<INI
[data]
train = $T/$tr.h5
[model]
layers = $d, 12, 12, $k
activation = $act
[loss]
name = $loss
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 1
batch_size = 64
[output]
dir = $T/$act
INI
    # shellcheck disable=SC2086
    mpi 1 "$NNTRAIN" train --config "$T/$act.ini" --quiet $extra || { fail "$act: training"; continue; }
    if [ "$loss" = mse ]; then
        verify "$act" "$T/$act/model.h5" "$T/$te.h5" "$loss" "$k" --extra
    else
        verify "$act" "$T/$act/model.h5" "$T/$te.h5" "$loss" "$k" --extra --probabilities
    fi
done 3<<'ACTS'
identity b bt cross_entropy 3
binary_step b bt cross_entropy 3 --set model.bias=false
sigmoid bs bst cross_entropy 3
tanh m mt bce_with_logits 1
relu bs bst cross_entropy 3
leaky_relu b bt cross_entropy 3 --set model.leaky_slope=0.2
elu r rt mse 1 --set model.elu_alpha=0.7
selu bs bst cross_entropy 3
gelu m mt bce_with_logits 1
softplus b bt cross_entropy 3
ACTS
# the activation parameters and the bias-less layers reached the graph
if $PY - "$T/v-leaky_relu/m.onnx" "$T/v-elu/m.onnx" "$T/v-binary_step/m.onnx" <<'PY'; then
import sys, onnx
def op(p, t): return [n for n in onnx.load(p).graph.node if n.op_type == t]
assert abs(op(sys.argv[1], "LeakyRelu")[0].attribute[0].f - 0.2) < 1e-7
assert abs(op(sys.argv[2], "Elu")[0].attribute[0].f - 0.7) < 1e-7
g = op(sys.argv[3], "Gemm")
assert len(g) == 3 and all(len(n.input) == 2 for n in g)
PY
    ok "graphs: LeakyRelu alpha 0.2, Elu alpha 0.7, bias-less Gemm with 2 inputs"
else
    fail "activation parameters or bias-less layers in the graph"
fi
echo "onnx.checker (full_check) accepted $checked exports"

# ---- bad input: one line naming the file, the table's exit code, nothing written ------------
bad() { # NAME WANT_RC WANT_TEXT ARGS...
    local name=$1 want=$2 text=$3 rc
    shift 3
    "$NNTRAIN" export "$@" > "$T/bad.out" 2> "$T/bad.err"
    rc=$?
    if [ $rc = "$want" ] && [ "$(wc -l < "$T/bad.err")" = 1 ] && grep -q "^nntrain: error: .*$text" "$T/bad.err" &&
       [ ! -s "$T/bad.out" ]; then
        ok "$name: exit $rc, $(cat "$T/bad.err")"
    else
        fail "$name: exit $rc (want $want), stderr: $(cat "$T/bad.err")"
    fi
}
echo "not a model" > "$T/text.h5"
bad "text file" 3 "text.h5: not an HDF5 file" "$T/text.h5" "$T/o1.onnx"
bad "missing file" 3 "nope.h5: no such file" "$T/nope.h5" "$T/o1.onnx"
bad "dataset, not a model" 3 "b.h5: no /model group" "$T/b.h5" "$T/o1.onnx"
cp "$T/relu/model.h5" "$T/badact.h5"
$PY -c 'import sys, h5py, numpy as np
g = h5py.File(sys.argv[1], "a")["model/layer1"]
del g.attrs["activation"]
g.attrs.create("activation", np.bytes_("swish"))' "$T/badact.h5" || fail "python: badact.h5"
bad "unknown activation" 3 "badact.h5: /model/layer1: unknown activation 'swish'" "$T/badact.h5" "$T/o1.onnx"
bad "regression --probabilities" 3 "model.h5: a regression model" "$T/elu/model.h5" "$T/o1.onnx" --probabilities
[ ! -e "$T/o1.onnx" ] && [ ! -e "$T/o1.onnx.tmp" ] && ok "no .onnx or .onnx.tmp left by bad input" || fail "bad input left a file"
bad "existing output" 3 "m.onnx: exists; pass --overwrite" "$T/relu/model.h5" "$T/v-relu/m.onnx"
"$NNTRAIN" export "$T/relu/model.h5" "$T/v-relu/m.onnx" --overwrite && ok "--overwrite replaces it" || fail "--overwrite"
bad "missing output directory" 1 "nodir/o.onnx.tmp: cannot create: No such file or directory" "$T/relu/model.h5" "$T/nodir/o.onnx"
# an unwritable output directory: a read-only tmpfs (root writes through permission bits)
mkdir "$T/ro"
if mount -t tmpfs -o size=1m,ro tmpfs "$T/ro" 2> "$T/mount.err"; then
    bad "read-only output directory" 1 "ro/o.onnx.tmp: cannot create: Read-only file system" "$T/relu/model.h5" "$T/ro/o.onnx"
    umount "$T/ro"
else
    fail "cannot mount a read-only tmpfs (root needed): $(cat "$T/mount.err")"
fi
# a disk that fills up part-way: the .tmp is removed
mkdir "$T/full"
if mount -t tmpfs -o size=64k tmpfs "$T/full" 2> "$T/mount.err"; then
    bad "full disk" 1 "o.onnx.tmp: cannot write: No space left on device" "$T/fm/model.h5" "$T/full/o.onnx"
    [ -z "$(ls -A "$T/full")" ] && ok "full disk: no .onnx or .onnx.tmp left" || fail "full disk left $(ls "$T/full")"
    umount "$T/full"
else
    fail "cannot mount a tmpfs (root needed): $(cat "$T/mount.err")"
fi
bad "usage: one argument" 2 "missing MODEL.h5 or OUT.onnx for export" "$T/relu/model.h5"
"$NNTRAIN" export --help | grep -q "opset 13" && ok "export --help" || fail "export --help"
finish
