#!/usr/bin/env bash
# What the operator sees (issue 6): start-up banner, one line per epoch when the output is not
# a terminal, a live progress bar when it is (or with --progress), --verbose placement and
# timing, --log-format json (every line one JSON object whose numbers equal metrics.csv),
# --quiet, the oversubscription warning, per-command --help and usage errors.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir op
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # the singleton runs below
PY=/usr/bin/python3
CORES=$(nproc)

"$NNDATA" make-moons 4000 "$T/d.h5" --seed 1 > /dev/null
"$NNDATA" make-moons 500 "$T/te.h5" --seed 2 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
test = $T/te.h5
[model]
layers = 2, 16, 2
[train]
epochs = 3
batch_size = 40
threads = 1
[output]
dir = $T/run
INI

# default text, output to a file: banner + one line per epoch, no carriage returns
mpi 2 "$NNTRAIN" train --config "$T/j.ini" > "$T/text.out" 2> "$T/text.err" || fail "text run"
grep -q "^nntrain [0-9.]* | 2 ranks on 1 node x 1 BLAS thread ([A-Za-z0-9_]*) | config $T/j.ini -> $T/run$" "$T/text.out" &&
grep -q "^model 2-16-2 relu, 82 params | cross_entropy loss | adam lr 0.001 | zero1: optimizer state 512 bytes per rank$" "$T/text.out" &&
grep -q "^data: train 3600, val 400, test 500 rows (resident) | batch 40 global, 20-20 per rank, 90 steps/epoch x 3 epochs$" "$T/text.out" \
    && ok "banner: version, ranks/nodes/threads, config, model, data sizes, batch" || fail "banner: $(head -3 "$T/text.out")"
[ "$(grep -c '^epoch [1-3]/3  train loss' "$T/text.out")" = 3 ] && ! grep -q $'\r' "$T/text.out" \
    && ok "not a terminal: one line per epoch, no progress bar" || fail "epoch lines: $(cat -A "$T/text.out" | head)"
[ ! -s "$T/text.err" ] && ok "no warning at 2 ranks x 1 thread on $CORES cores" || fail "unexpected stderr: $(cat "$T/text.err")"

# --progress: the bar is drawn (carriage returns, steps, rate, ETA) and cleared before each epoch line
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --overwrite --progress > "$T/prog.out" || fail "progress run"
tr '\r' '\n' < "$T/prog.out" | grep -q '^epoch 1/3 \[#*\.*\] [0-9]*/90 [0-9.k]* samples/s ETA [0-9:-]* loss [0-9.]*' &&
tr '\r' '\n' < "$T/prog.out" | grep -q '^epoch 3/3 \[####################\] 90/90 ' \
    && ok "--progress: live bar with step/steps, samples/s, ETA, running loss and accuracy" || fail "progress bar: $(cat -A "$T/prog.out" | head -8)"
[ "$(tr '\r' '\n' < "$T/prog.out" | grep -c $'^\e\[Kepoch [1-3]/3  train loss')" = 3 ] \
    && ok "the bar is cleared before each epoch line" || fail "bar not cleared: $(cat -A "$T/prog.out" | tail -5)"
# a real terminal without mpirun (a singleton run under script(1)): on by itself
if command -v script > /dev/null; then
    script -qec "$NNTRAIN train --config $T/j.ini --overwrite" /dev/null > "$T/tty.out" 2>&1
    grep -q $'\r''epoch 2/3 \[' "$T/tty.out" && ok "singleton on a terminal: progress bar by default" || fail "terminal: $(cat -A "$T/tty.out" | head)"
    "$NNTRAIN" train --config "$T/j.ini" --overwrite > "$T/notty.out" 2>&1
    ! grep -q $'\r' "$T/notty.out" && ok "singleton into a file: no progress bar" || fail "file output has a bar"
    # launch/mpirun.sh on a terminal turns the bar on through NNTRAIN_PROGRESS (mpirun alone cannot)
    script -qec "$SRC_DIR/launch/mpirun.sh 2 $NNTRAIN train --config $T/j.ini --overwrite" /dev/null > "$T/mr.out" 2>&1
    grep -q $'\r''epoch 2/3 \[' "$T/mr.out" && ok "launch/mpirun.sh on a terminal: progress bar" || fail "mpirun.sh: $(cat -A "$T/mr.out" | head)"
fi
NNTRAIN_PROGRESS=1 mpi 2 -x NNTRAIN_PROGRESS "$NNTRAIN" train --config "$T/j.ini" --overwrite > "$T/env.out" || fail "NNTRAIN_PROGRESS run"
grep -q $'\r''epoch 2/3 \[' "$T/env.out" && ok "NNTRAIN_PROGRESS=1: progress bar" || fail "NNTRAIN_PROGRESS=1 drew no bar"
NNTRAIN_PROGRESS=1 mpi 2 -x NNTRAIN_PROGRESS "$NNTRAIN" train --config "$T/j.ini" --overwrite --no-progress > "$T/np.out" || fail "--no-progress run"
! grep -q $'\r' "$T/np.out" && ok "--no-progress wins over NNTRAIN_PROGRESS=1" || fail "--no-progress drew a bar"

# --verbose: one placement line per rank, timing per epoch
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --overwrite --verbose > "$T/verb.out" 2> "$T/verb.err" || fail "verbose run"
[ "$(grep -c '^rank [0-2]: host .*, local rank [0-2] of 3, CPUs [0-9,-]*, 1 BLAS thread, OpenBLAS [A-Za-z0-9_]* kernels chosen by [^,]*, pid [0-9]*$' "$T/verb.out")" = 3 ] &&
[ "$(grep -c '^  timing: train [0-9.]* s (of which data wait [0-9.]* s, gradient allreduce [0-9.]* s of which [0-9.]* s not hidden behind backward), evaluation [0-9.]* s, checkpoint [0-9.]* s$' "$T/verb.out")" = 3 ] \
    && ok "--verbose: placement of 3 ranks and per-epoch timing" || fail "verbose: $(cat "$T/verb.out")"
if [ "$CORES" -lt 3 ]; then
    grep -q "^nntrain: warning: 3 ranks x 1 BLAS thread on a node with $CORES cores oversubscribes it" "$T/verb.err" \
        && ok "warning: 3 ranks on $CORES cores" || fail "no oversubscription warning: $(cat "$T/verb.err")"
fi
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --overwrite --quiet --set train.threads="$CORES" > "$T/thr.out" 2> "$T/thr.err" || fail "threads run"
[ "$(grep -c "^nntrain: warning: 2 ranks x $CORES BLAS threads on a node with $CORES cores oversubscribes it" "$T/thr.err")" = 1 ] \
    && ok "warning once (even with --quiet): 2 ranks x $CORES threads on $CORES cores" || fail "threads warning: $(cat "$T/thr.err")"
[ ! -s "$T/thr.out" ] && ok "--quiet: nothing on stdout" || fail "--quiet printed: $(cat "$T/thr.out")"

# --log-format json: every line is an object; the epoch numbers are metrics.csv's
mpi 2 "$NNTRAIN" train --config "$T/j.ini" --overwrite --log-format json > "$T/json.out" || fail "json run"
$PY - "$T/json.out" "$T/run/metrics.csv" <<'PY' && ok "--log-format json: start, 3 epochs = metrics.csv, finished" || fail "json log"
import sys, json, csv
lines = open(sys.argv[1]).read().splitlines()
ev = [json.loads(l) for l in lines]            # every line must parse
kinds = [e["event"] for e in ev]
assert kinds == ["start", "epoch", "epoch", "epoch", "finished"], kinds
s = ev[0]
assert (s["ranks"], s["model"], s["train_rows"], s["val_rows"], s["test_rows"], s["batch"]) == (2, "2-16-2", 3600, 400, 500, 40), s
rows = list(csv.DictReader(open(sys.argv[2])))
for e, r in zip(ev[1:4], rows):
    assert e["epoch"] == int(r["epoch"])
    for k in ("train_loss", "train_acc", "val_loss", "val_acc", "test_loss", "test_acc", "lr"):
        assert abs(e[k] - float(r[k])) <= 1e-6, (k, e[k], r[k])
assert "test accuracy" not in ev[-1]["message"] or ev[-1]["message"].endswith(rows[-1]["test_acc"][:6])
PY

# usage errors and help
expect_usage() { # name pattern args...
    local name=$1 pat=$2; shift 2
    mpi 1 "$NNTRAIN" "$@" > /dev/null 2> "$T/u.err"
    local rc=$?
    [ $rc = 2 ] && [ "$(grep -c '^nntrain: error:' "$T/u.err")" = 1 ] && grep -q -e "$pat" "$T/u.err" \
        && ok "$name: $(grep '^nntrain: error:' "$T/u.err")" || fail "$name: rc $rc $(cat "$T/u.err")"
}
expect_usage "bad --log-format" "--log-format 'xml' must be text or json" train --config "$T/j.ini" --log-format xml
expect_usage "--quiet with --verbose" "contradict" train --config "$T/j.ini" --quiet --verbose
for c in train summary eval predict plot; do
    "$NNTRAIN" $c --help > "$T/h.out" 2>&1 && head -1 "$T/h.out" | grep -q "^usage: nntrain $c " || fail "$c --help: $(head -2 "$T/h.out")"
done
ok "nntrain CMD --help for train, summary, eval, predict, plot"

finish "all operator-view checks passed"
