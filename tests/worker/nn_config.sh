#!/usr/bin/env bash
# End-to-end CLI checks on 1 rank: --help/--version, usage errors (exit 2), a tiny real run
# writes metrics.csv with the documented columns and a model.h5 in the documented layout.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir cli

"$NNTRAIN" --help | grep -q "usage: nntrain COMMAND" || fail "--help"
"$NNTRAIN" train --help | grep -q "usage: nntrain train --config FILE" || fail "train --help"
"$NNTRAIN" --version | grep -Eq '^nntrain [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version"
"$NNTRAIN" 2>/dev/null; [ $? = 2 ] || fail "no command should exit 2"
"$NNTRAIN" fly 2> "$T/e"; [ $? = 2 ] && grep -q "unknown command 'fly'" "$T/e" || fail "unknown command"
"$NNTRAIN" train 2> "$T/e"; [ $? = 2 ] && grep -q "needs --config" "$T/e" || fail "missing --config"
"$NNTRAIN" train --config "$T/none.ini" 2> "$T/e"; [ $? = 3 ] && grep -q "none.ini: cannot open config" "$T/e" || fail "missing config file"
"$NNTRAIN" train --config x.ini --bogus 2> "$T/e"; [ $? = 2 ] && grep -q "unknown option '--bogus'" "$T/e" || fail "unknown option"
# every command's options go through one getopt_long helper: one line naming option and command
usage_err() { # pattern args...: exit 2, exactly one error line, matching pattern
    local pat=$1; shift
    "$NNTRAIN" "$@" > /dev/null 2> "$T/e"
    local rc=$?
    [ $rc = 2 ] && [ "$(wc -l < "$T/e")" = 1 ] && grep -q -e "^nntrain: error: $pat" "$T/e" || fail "nntrain $*: rc $rc: $(cat "$T/e")"
}
usage_err "unknown option '--bogus' for train (try: nntrain train --help)" train --config x.ini --bogus
usage_err "missing value after '--config' for train" train --config
usage_err "option '--overwrite' takes no value for train" train --config x.ini --overwrite=yes
usage_err "unexpected argument 'extra' for train" train --config x.ini extra
usage_err "unknown option '-x' for train" train -x
usage_err "unknown option '--bogus' for summary (try: nntrain summary --help)" summary --bogus
usage_err "missing value after '--batch' for summary" summary --config x.ini --batch
usage_err "unknown option '--bogus' for eval (try: nntrain eval --help)" eval --bogus
usage_err "unknown option '--bogus' for predict" predict --checkpoint m.h5 --data d.h5 --bogus
usage_err "--cache-mb '0' must be a number > 0" eval --checkpoint m.h5 --data d.h5 --cache-mb 0
usage_err "unknown option '--bogus' (try: nntrain --help)" --bogus
# whole option names only, as nndata: an abbreviation would change meaning when an option is added
usage_err "unknown option '--conf' for train" train --conf x.ini
usage_err "unknown option '--ou' for plot" plot --ou x.png run
"$NNTRAIN" train --bogus --help | grep -q "^usage: nntrain train " || fail "--help after a bad option shows the help"
"$NNTRAIN" eval --version | grep -Eq '^nntrain [0-9]' || fail "eval --version"
"$NNTRAIN" summary --set=model.bias=false --config=x.ini 2> "$T/e"; [ $? = 3 ] && grep -q "x.ini: cannot open config" "$T/e" || fail "--opt=value forms: $(cat "$T/e")"

"$NNDATA" make-circles 500 "$T/c.h5" --seed 2 > /dev/null
cat > "$T/job.ini" <<INI
[data]
train = $T/c.h5
test = $T/c.h5
[model]
layers = 2, 16, 2
activation = tanh
[optimizer]
name = adam
lr = 0.02
[train]
epochs = 40
batch_size = 32
[output]
dir = $T/run
INI
"$MPIEXEC" -np 1 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/job.ini" > "$T/out" 2>&1 || { fail "tiny run failed"; cat "$T/out"; }
head -1 "$T/run/metrics.csv" | grep -qx "epoch,train_loss,train_acc,val_loss,val_acc,samples_per_s,elapsed_s,lr,test_loss,test_acc,data_wait_s,allreduce_s,allreduce_exposed_s" || fail "metrics.csv header: $(head -1 "$T/run/metrics.csv")"
[ "$(wc -l < "$T/run/metrics.csv")" = 41 ] || fail "metrics.csv should have 40 epoch rows"
grep -q "^epoch 40/40" "$T/out" || fail "no per-epoch line"
grep -q "^test accuracy: " "$T/out" || fail "no final test accuracy line"
# model.h5 layout, checked with h5dump (HDF5's own tool, independent of nntrain's reader)
h5dump -H "$T/run/model.h5" > "$T/h" || fail "h5dump model.h5"
grep -A2 'DATASET "weight"' "$T/h" | grep -q "( 16, 2 )" || fail "layer0/weight must be (16, 2)"
grep -q 'GROUP "layer1"' "$T/h" || fail "no /model/layer1"
h5dump -a /model/layer0/activation "$T/run/model.h5" | grep -q '"tanh"' || fail "layer0 activation attribute"
h5dump -a /model/layer1/activation "$T/run/model.h5" | grep -q '"identity"' || fail "layer1 activation attribute"
# the model must have learned the circles (better than chance by far)
acc=$(tail -1 "$T/run/metrics.csv" | awk -F, '{print $10}')
(( $(echo "$acc > 0.9" | bc) )) || fail "test accuracy $acc on circles should exceed 0.9"
# summary: 2-16-2 has 2*16+16 + 16*2+2 = 82 parameters, 64 without biases; mult-adds per
# forward of 4 rows = (2*16 + 16*2) * 4 = 256; no MPI needed
"$NNTRAIN" summary --config "$T/job.ini" --batch 4 > "$T/sum" 2>&1 || fail "summary exit"
grep -q "^Total params: 82 " "$T/sum" || fail "summary total: $(grep Total "$T/sum")"
grep -q "Mult-adds per forward pass of 4: 256 " "$T/sum" || fail "summary mult-adds"
grep -Eq "^layer0 \(Linear\) +\[4, 2\] +\[4, 16\] +tanh" "$T/sum" || fail "summary layer0 row"
"$NNTRAIN" summary --config "$T/job.ini" --set model.bias=false | grep -q "^Total params: 64 " || fail "summary without bias"
"$NNTRAIN" summary --config "$T/job.ini" --set data.permutation=random 2> "$T/e"; [ $? = 3 ] && grep -q "permutation.*must be auto, table or feistel" "$T/e" || fail "bad [data] permutation: $(cat "$T/e")"
"$NNTRAIN" summary --config "$T/job.ini" --set optimizer.rho=0.5 2> "$T/e"; [ $? = 3 ] && grep -q "rho does not apply to adam" "$T/e" || fail "summary: key for another optimizer"

# bias = false: model.h5 has no bias datasets; leaky_relu records its slope
"$MPIEXEC" -np 2 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/job.ini" --quiet --set output.dir="$T/nb" \
    --set train.epochs=1 --set model.bias=false --set model.activation=leaky_relu --set model.leaky_slope=0.2 || fail "bias=false run"
h5dump -H "$T/nb/model.h5" > "$T/nbh" || fail "h5dump bias=false model"
grep -q 'DATASET "bias"' "$T/nbh" && fail "bias=false model.h5 has bias datasets"
h5dump -a /model/layer0/negative_slope "$T/nb/model.h5" | grep -q "0.2" || fail "negative_slope attribute"

# init aliases: he_normal is kaiming_normal
"$NNTRAIN" summary --config "$T/job.ini" --set model.init=he_normal | grep -q "Init: kaiming_normal" || fail "he_normal alias"

# the same config and seed reproduce the run bit for bit (h5diff compares exactly by default)
"$MPIEXEC" -np 2 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/job.ini" --quiet --set output.dir="$T/r1" --set train.epochs=3 || fail "run r1"
"$MPIEXEC" -np 2 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/job.ini" --quiet --set output.dir="$T/r2" --set train.epochs=3 || fail "run r2"
h5diff -q "$T/r1/model.h5" "$T/r2/model.h5" || fail "two identical runs gave different model.h5"
cmp -s <(cut -d, -f1-5,8-10 "$T/r1/metrics.csv") <(cut -d, -f1-5,8-10 "$T/r2/metrics.csv") || fail "two identical runs gave different metrics"
finish
