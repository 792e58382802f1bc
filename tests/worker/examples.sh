#!/usr/bin/env bash
# The examples/ configs reach the results their comments state, on data generated here:
#   fashion-mnist.ini (softmax CE, 10 classes)  test accuracy >= 0.87 after 5 epochs, 2 ranks
#   circles-binary.ini (BCE with logits)        test accuracy >= 0.97
#   regression.ini (MSE)                        test RMSE <= 0.12 (noise floor 0.10)
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir examples
EX="$SRC_DIR/examples"
run() { # config, extra --set args...
    local cfg=$1; shift
    "$MPIEXEC" -np 2 $MPI_PREFLAGS "$NNTRAIN" train --config "$EX/$cfg" --quiet "$@"
}

bash "$SRC_DIR/datasets/fashion-mnist.sh" "$NNDATA" "$T" > /dev/null || fail "fashion-mnist.sh"
run fashion-mnist.ini --set data.train="$T/fashion-train.h5" --set data.test="$T/fashion-test.h5" \
    --set output.dir="$T/fashion" || fail "fashion run"
acc=$(col "$T/fashion/metrics.csv" test_acc)
echo "fashion-mnist.ini: test_acc $acc"
(( $(echo "$acc >= 0.87" | bc) )) || fail "fashion-mnist test accuracy $acc < 0.87"

"$NNDATA" make-circles 4000 "$T/ct.h5" --noise 0.1 --factor 0.5 --seed 1 > /dev/null
"$NNDATA" make-circles 1000 "$T/cv.h5" --noise 0.1 --factor 0.5 --seed 2 > /dev/null
run circles-binary.ini --set data.train="$T/ct.h5" --set data.test="$T/cv.h5" --set output.dir="$T/circles" || fail "circles run"
acc=$(col "$T/circles/metrics.csv" test_acc)
echo "circles-binary.ini: test_acc $acc"
(( $(echo "$acc >= 0.97" | bc) )) || fail "circles test accuracy $acc < 0.97"

"$NNDATA" make-regression 8000 "$T/rt.h5" --features 2 --noise 0.1 --seed 1 > /dev/null
"$NNDATA" make-regression 2000 "$T/rv.h5" --features 2 --noise 0.1 --seed 2 > /dev/null
run regression.ini --set data.train="$T/rt.h5" --set data.test="$T/rv.h5" --set output.dir="$T/reg" || fail "regression run"
head -1 "$T/reg/metrics.csv" | grep -q "test_loss,test_rmse,test_mae" || fail "regression metrics columns: $(head -1 "$T/reg/metrics.csv")"
rmse=$(col "$T/reg/metrics.csv" test_rmse)
echo "regression.ini: test_rmse $rmse"
(( $(echo "$rmse <= 0.12 && $rmse > 0" | bc) )) || fail "regression test RMSE $rmse > 0.12"

finish
