#!/usr/bin/env bash
# Refactoring guard: run the same scenarios with two builds and compare their results bit for
# bit (model.h5's and the newest checkpoint's /model and /optimizer datasets and the attributes
# the old build writes, through h5py; metrics.csv without the timing columns samples_per_s, elapsed_s,
# data_wait_s, allreduce_s, allreduce_exposed_s). Scenarios: the three examples (2 ranks), a streaming run (read windows far
# smaller than an epoch), a run stopped at step 17 and resumed, and a 3-rank run.
#   bench/same_results.sh OLD_BIN_DIR NEW_BIN_DIR [WORK_DIR]
# Each *_BIN_DIR holds nntrain and nndata. Data is generated once with OLD's nndata.
# Prints one line per scenario (identical / DIFFERENT) and exits non-zero if any differ.
# NN_NEW_ARGS (words) are added to every NEW run: after a deliberate change of a default, pass
# the old value (e.g. NN_NEW_ARGS='--set train.exchange=allreduce') to check that nothing else
# moved.
set -u
. "$(dirname "$0")/../launch/common.sh"
OLD=$(cd "$1" && pwd); NEW=$(cd "$2" && pwd)
W=${3:-$(mktemp -d /tmp/same_results.XXXXXX)}
EX="$NN_ROOT/examples"
mkdir -p "$W/data"
D="$W/data"
export OMPI_MCA_btl=self,vader
if [ ! -f "$D/done" ]; then
    bash "$NN_ROOT/datasets/fashion-mnist.sh" "$OLD/nndata" "$D" > /dev/null || exit 1
    "$OLD/nndata" make-circles 4000 "$D/ct.h5" --noise 0.1 --factor 0.5 --seed 1 > /dev/null
    "$OLD/nndata" make-circles 1000 "$D/cv.h5" --noise 0.1 --factor 0.5 --seed 2 > /dev/null
    "$OLD/nndata" make-regression 8000 "$D/rt.h5" --features 2 --noise 0.1 --seed 1 > /dev/null
    "$OLD/nndata" make-regression 2000 "$D/rv.h5" --features 2 --noise 0.1 --seed 2 > /dev/null
    touch "$D/done"
fi

# scenario NAME NP CONFIG [--set ...]: run with both builds into $W/{old,new}/NAME
scenario() {
    local name=$1 np=$2 cfg=$3; shift 3
    local side bin base=("$@")
    for side in old new; do
        bin=$OLD; set -- "${base[@]}"
        if [ $side = new ]; then bin=$NEW; set -- "$@" ${NN_NEW_ARGS:-}; fi
        rm -rf "${W:?}/$side/$name"
        if [ "$name" = resumed ]; then
            NNTRAIN_STOP_AT_STEP=17 nn_mpirun "$np" "$bin/nntrain" train --config "$cfg" --quiet "$@" \
                --set output.dir="$W/$side/$name" > "$W/$side.$name.log" 2>&1
            nn_mpirun "$np" "$bin/nntrain" train --config "$cfg" --quiet --resume "$@" \
                --set output.dir="$W/$side/$name" >> "$W/$side.$name.log" 2>&1
        else
            nn_mpirun "$np" "$bin/nntrain" train --config "$cfg" --quiet "$@" \
                --set output.dir="$W/$side/$name" > "$W/$side.$name.log" 2>&1
        fi || { echo "$name: $side run failed (see $W/$side.$name.log)"; return 1; }
    done
    compare "$name"
}

# metrics.csv without timing columns
untimed() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /^(samples_per_s|elapsed_s|data_wait_s|allreduce_s|allreduce_exposed_s)$/ }
             { s = ""; for (i = 1; i <= NF; i++) if (keep[i]) s = s $i ","; print s }' "$1"
}

# same_h5 OLD.h5 NEW.h5 GROUP...: every dataset under each GROUP bitwise equal, and every
# attribute OLD has (on the root and under the groups) equal in NEW; attributes only NEW has
# (a format addition, e.g. model.h5's epoch and input_scale) are allowed and listed on stderr
same_h5() {
    /usr/bin/python3 - "$@" <<'PY'
import sys, h5py, numpy as np
a, b = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
bad, added = [], []
def attrs(p):
    x, y = a[p].attrs, b[p].attrs
    for k in x:
        if k not in y or not np.array_equal(np.asarray(x[k]), np.asarray(y[k])): bad.append(f"{p}@{k}")
    added.extend(f"{p}@{k}" for k in y if k not in x)
attrs("/")
for g in sys.argv[3:]:
    if g not in b: bad.append(g); continue
    attrs(g)
    def visit(n, o):
        p = f"{g}/{n}"
        if p not in b: bad.append(p); return
        attrs(p)
        if isinstance(o, h5py.Dataset) and o[()].tobytes() != b[p][()].tobytes(): bad.append(p)
    a[g].visititems(visit)
if added: print("  (new attributes: " + ", ".join(sorted(set(added))) + ")", file=sys.stderr)
if bad: print("  differ: " + ", ".join(bad[:10]), file=sys.stderr)
sys.exit(1 if bad else 0)
PY
}

bad=0
compare() {
    local a="$W/old/$1" b="$W/new/$1"
    local ck="" same=1 f
    # the newest checkpoint's weights and optimizer state (its /state and /metrics hold timings)
    f=$(ls "$a/checkpoints" 2>/dev/null | sort -t- -k2 -n | tail -1)
    if [ -n "$f" ]; then
        ck=", $f /model and /optimizer"
        same_h5 "$a/checkpoints/$f" "$b/checkpoints/$f" /model /optimizer || same=0
    fi
    if [ $same = 1 ] && same_h5 "$a/model.h5" "$b/model.h5" /model && cmp -s <(untimed "$a/metrics.csv") <(untimed "$b/metrics.csv"); then
        echo "$1: identical (model.h5, metrics.csv without timing, $(($(wc -l < "$a/metrics.csv") - 1)) epochs$ck)"
    else
        echo "$1: DIFFERENT"; bad=1
    fi
}

F="--set data.train=$D/fashion-train.h5 --set data.test=$D/fashion-test.h5"
scenario fashion 2 "$EX/fashion-mnist.ini" $F
scenario circles 2 "$EX/circles-binary.ini" --set data.train="$D/ct.h5" --set data.test="$D/cv.h5"
scenario regression 2 "$EX/regression.ini" --set data.train="$D/rt.h5" --set data.test="$D/rv.h5"
scenario streaming 2 "$EX/fashion-mnist.ini" $F --set data.cache_mb=2 --set train.epochs=2
scenario resumed 3 "$EX/circles-binary.ini" --set data.train="$D/ct.h5" --set data.test="$D/cv.h5" \
    --set checkpoint.every_epochs=5
scenario np3 3 "$EX/regression.ini" --set data.train="$D/rt.h5" --set data.test="$D/rv.h5" \
    --set model.dropout=0.1 --set data.cache_mb=0.05
exit $bad
