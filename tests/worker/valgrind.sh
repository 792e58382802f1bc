#!/usr/bin/env bash
# valgrind memcheck over short runs of the real binaries (issue 13, "Sanitizers in CI"): every
# rank of every command runs under `valgrind --leak-check=full`, with tests/valgrind.supp for
# the MPI runtime's own noise (matched by library object only). Any memcheck error left —
# invalid read/write, use of uninitialised memory, bad free, syscall on undefined bytes, a
# definitely lost block — fails the test and is printed, with the count of those naming a
# frame of nntrain/nndata.
#  - nndata make-moons (train, test), nndata check;
#  - nntrain train on 2 ranks: 2 epochs, dropout, overlapped allreduce, a checkpoint per
#    epoch, validation and test sets, the watchdog thread;
#  - train --resume on 2 ranks to epoch 3 (checkpoint verification and load);
#  - eval and predict on 2 ranks;
#  - a training file that is not HDF5 on 2 ranks: exit 3 (an error path), still no error.
# About a minute here.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir valgrind
command -v valgrind > /dev/null ||
    { echo "FAIL: valgrind is not installed (apt-get install valgrind; ./launch/test installs it)"; exit 1; }

# Open MPI's plug-ins stay mapped at MPI_Finalize so the suppressions can name them (.supp)
export OMPI_MCA_mca_base_component_disable_dlclose=1
export OPENBLAS_NUM_THREADS=1
VG=(valgrind -q --error-exitcode=9 --num-callers=40 --leak-check=full
    --errors-for-leak-kinds=definite --show-leak-kinds=definite
    --suppressions="$SRC_DIR/tests/valgrind.supp" --gen-suppressions=all)

# vg WANT NAME NP CMD...: CMD under memcheck (on NP ranks through mpirun; NP 0: no mpirun), one
# log per process in $T/vg-NAME.PID; it must exit WANT (memcheck's own error exit is 9) and
# leave no error in any log.
vg() {
    local want=$1 name=$2 np=$3; shift 3
    local log=$T/vg-$name.%p rc=0 n own f
    if [ "$np" = 0 ]; then
        "${VG[@]}" --log-file="$log" "$@" > "$T/$name.out" 2>&1 || rc=$?
    else
        mpi "$np" "${VG[@]}" --log-file="$log" "$@" > "$T/$name.out" 2>&1 || rc=$?
    fi
    # a memcheck error starts with "==PID== " and a capital letter (the stack lines are
    # indented); leaks start with a byte count
    n=$(cat "$T"/vg-"$name".* 2> /dev/null | grep -cE '^==[0-9]+== ([A-Z]|[0-9,]+ bytes)') || true
    own=$(cat "$T"/vg-"$name".* 2> /dev/null | grep -cE "^==[0-9]+== +(at|by) .*\(in ($NNTRAIN|$NNDATA)\)") || true
    if [ "$rc" = "$want" ] && [ "$n" = 0 ]; then
        ok "$name: exit $rc, no memcheck error"
    else
        fail "$name: exit $rc (want $want), $n memcheck error line(s), $own stack frame(s) in nntrain/nndata"
        tail -5 "$T/$name.out"
        for f in "$T"/vg-"$name".*; do [ -s "$f" ] && { echo "--- $f"; cat "$f"; }; done
    fi
}

vg 0 make-train 0 "$NNDATA" make-moons 600 "$T/train.h5" --seed 1
vg 0 make-test 0 "$NNDATA" make-moons 200 "$T/test.h5" --seed 2
vg 0 check 0 "$NNDATA" check "$T/train.h5"

cat > "$T/run.ini" <<INI
[data]
train = $T/train.h5
test = $T/test.h5
val_fraction = 0.2
[model]
layers = 2, 16, 16, 2
activation = relu
dropout = 0.1
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 2
batch_size = 32
seed = 3
overlap = on
[output]
dir = $T/run
INI
vg 0 train 2 "$NNTRAIN" train --config "$T/run.ini"
[ -f "$T/run/model.h5" ] || fail "train wrote no model.h5"
vg 0 resume 2 "$NNTRAIN" train --config "$T/run.ini" --resume --set train.epochs=3
grep -q '^finished epochs 3 ' "$T/run/status" || fail "resume did not finish 3 epochs: $(cat "$T/run/status")"
vg 0 eval 2 "$NNTRAIN" eval --checkpoint "$T/run/model.h5" --data "$T/test.h5" --out "$T/eval.csv"
vg 0 predict 2 "$NNTRAIN" predict --checkpoint "$T/run/model.h5" --data "$T/test.h5" --out "$T/pred.h5"
echo "not HDF5" > "$T/bad.h5"
vg 3 bad-input 2 "$NNTRAIN" train --config "$T/run.ini" --set data.train="$T/bad.h5" --set output.dir="$T/bad"
finish
