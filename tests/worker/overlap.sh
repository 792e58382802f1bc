#!/usr/bin/env bash
# The gradient allreduce overlapped with backward ([train] overlap; issue 12): buckets start as
# soon as backward has finished them and progress between pieces of backward's GEMMs.
#  - 2 ranks, overlap on with small buckets (0.1 MiB: ~40 of them) and 16-MFLOP pieces vs
#    overlap off (one blocking allreduce): model.h5 bitwise identical (a sum of two is the same
#    in either reduction; the pieces sum every element in the same order) and the same metrics
#    apart from timing; the banner says so; metrics.csv shows the overlap (allreduce_exposed_s
#    < allreduce_s with it, == without);
#  - 3 ranks (reduction order may differ): within the rank-count tolerance;
#  - auto on one node is the blocking allreduce (no "overlapped" in the banner, exposed ==
#    allreduce), and a bad value is one clear line, exit 3 (a configuration error).
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir overlap
"$NNDATA" make-moons 6000 "$T/d.h5" --seed 5 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 1024, 1024, 2
activation = relu
dropout = 0.1
[optimizer]
name = adam
lr = 0.001
[train]
epochs = 2
batch_size = 512
threads = 1
exchange = allreduce
INI
run() { # run NAME NP ARGS...
    local name=$1 np=$2; shift 2
    mpi "$np" "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/$name" "$@" > "$T/$name.out" 2>&1 ||
        fail "$name: $(tail -3 "$T/$name.out")"
}
# metrics without the timing columns
untimed() { cut -d, -f1-5,8 "$1/metrics.csv"; }
run off2 2 --set train.overlap=off
run on2 2 --set train.overlap=on --set train.bucket_mb=0.1 --set train.piece_mflop=16
if h5diff -q "$T/off2/model.h5" "$T/on2/model.h5" /model /model; then ok "2 ranks: overlapped == blocking, bitwise"
else fail "2 ranks: model.h5 differs with overlap ($(maxrel "$T/off2/model.h5" "$T/on2/model.h5"))"; fi
head -1 "$T/on2/metrics.csv" | grep -q "^epoch,train_loss,train_acc,val_loss,val_acc,samples_per_s," ||
    fail "metrics.csv columns moved: $(head -1 "$T/on2/metrics.csv")"
if [ "$(untimed "$T/off2")" = "$(untimed "$T/on2")" ]; then ok "2 ranks: same metrics"
else fail "2 ranks: metrics differ"; diff <(untimed "$T/off2") <(untimed "$T/on2"); fi
grep -q "allreduce overlapped, 0.1 MiB buckets" "$T/on2.out" && ok "banner names the overlap" ||
    fail "banner: $(sed -n 2p "$T/on2.out")"
! grep -q "overlapped" "$T/off2.out" || fail "overlap off: banner says overlapped"
a=$(col "$T/on2/metrics.csv" allreduce_s) x=$(col "$T/on2/metrics.csv" allreduce_exposed_s)
awk -v a="$a" -v x="$x" 'BEGIN { exit !(a > 0 && x < a) }' && ok "overlap: exposed $x s < allreduce $a s" ||
    fail "overlap on: exposed $x s, allreduce $a s"
a=$(col "$T/off2/metrics.csv" allreduce_s) x=$(col "$T/off2/metrics.csv" allreduce_exposed_s)
[ "$a" = "$x" ] && ok "overlap off: exposed == allreduce ($a s)" || fail "overlap off: exposed $x s, allreduce $a s"

run off3 3 --set train.overlap=off
run on3 3 --set train.overlap=on --set train.bucket_mb=0.1 --set train.piece_mflop=16
read -r m nw n <<< "$(maxrel "$T/off3/model.h5" "$T/on3/model.h5")"
awk -v w="$nw" -v n="$n" 'BEGIN { exit !(n > 1000000 && w < 1e-5) }' &&
    ok "3 ranks: overlapped vs blocking $nw norm-wise over $n values" || fail "3 ranks: $m $nw $n"

run auto2 2
! grep -q "overlapped" "$T/auto2.out" || fail "auto on one node: overlapped"
a=$(col "$T/auto2/metrics.csv" allreduce_s) x=$(col "$T/auto2/metrics.csv" allreduce_exposed_s)
[ "$a" = "$x" ] && ok "auto on one node: one blocking allreduce" || fail "auto: exposed $x s, allreduce $a s"

"$NNTRAIN" train --config "$T/j.ini" --set train.overlap=sometimes --set output.dir="$T/bad" > "$T/bad.out" 2>&1
rc=$?
[ $rc = 3 ] && [ "$(wc -l < "$T/bad.out")" = 1 ] && grep -q "overlap.*auto, on or off" "$T/bad.out" &&
    ok "bad value: $(cat "$T/bad.out")" || fail "bad value: exit $rc: $(cat "$T/bad.out")"
finish
