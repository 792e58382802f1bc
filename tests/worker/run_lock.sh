#!/usr/bin/env bash
# The run-directory lock (issue 13, item 3; src/worker/runlock.c): rank 0 holds an fcntl lock
# on <output.dir>/.lock for the whole run, so a second run into the same directory is refused.
#  - run A (2 ranks) frozen with SIGSTOP once its status says `running`: a second run B into
#    the same directory — plain, with --overwrite through launch/mpirun.sh (whose post-mortem
#    must not mark A failed), with --resume — exits 3 within 10 s with exactly one line
#    `nntrain: error: DIR: another run (host H, pid P) ...` naming A's host and rank-0 pid,
#    leaves no process behind, and A's directory is byte-identical (status still `running`);
#    A, continued, finishes with a model.h5 and metrics bitwise identical to a solo run;
#  - two runs started at the same moment into one directory: one trains, the other exits 3
#    with the one line naming the winner; the directory holds the winner's run, identical to
#    the solo run;
#  - a run killed with SIGKILL leaves .lock behind, but no lock: `--resume` continues.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir runlock
apids=
# a frozen run A must not outlive a script that stops early
# shellcheck disable=SC2086
trap '[ -n "$apids" ] && kill -KILL $apids 2> /dev/null; rm -rf "$T"' EXIT
L=$SRC_DIR/launch
host=$(hostname)

"$NNDATA" make-moons 4000 "$T/d.h5" --seed 4 > /dev/null
cat > "$T/a.ini" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 64, 64, 2
activation = tanh
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 150
batch_size = 50
threads = 1
INI
for n in b c s1 s2 k r; do cp "$T/a.ini" "$T/$n.ini"; done   # one file per run: pgrep tells them apart

# ranks CONFIG: the pids of the ranks (never mpirun) of the job run with CONFIG
ranks() { pgrep -f "^$NNTRAIN train --config $1( |\$)" | xargs; }
# wait_status DIR WORD: until DIR/status starts with WORD (10 s at most)
wait_status() {
    local i
    for i in $(seq 1000); do
        [[ $(cat "$1/status" 2>/dev/null) == "$2"* ]] && return 0
        sleep 0.01
    done
    return 1
}
# tree DIR: a hash of every file's name and bytes under DIR (.lock and .heartbeat included)
tree() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16); }
metrics() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) keep[i] = $i !~ /_s$|^samples_per_s$/ }
                    { o = ""; for (i = 1; i <= NF; i++) if (keep[i]) o = o $i ","; print o }' "$1"; }
lock_re() { echo "^nntrain: error: $1: another run \(host $host, pid $2\) is using this output directory; "; }

# the solo run every other run is compared with
mpi 2 "$NNTRAIN" train --config "$T/c.ini" --quiet --set output.dir="$T/ref" > "$T/ref.out" 2>&1 ||
    fail "solo run: $(tail -3 "$T/ref.out")"

# --- 1) a second run while A runs --------------------------------------------------------------
mpi 2 "$NNTRAIN" train --config "$T/a.ini" --quiet --set output.dir="$T/a" > "$T/a.out" 2>&1 &
ajob=$!
if ! wait_status "$T/a" running; then
    fail "run A: no status 'running' within 10 s: $(cat "$T/a/status" 2>&1) $(tail -3 "$T/a.out")"
    wait $ajob
    finish
fi
apids=$(ranks "$T/a.ini")
# shellcheck disable=SC2086
kill -STOP $apids   # frozen: nothing of A changes from here until SIGCONT
lhost= lpid=
read -r _ lhost _ lpid < "$T/a/.lock" 2> /dev/null
[ "$lhost" = "$host" ] && [[ " $apids " == *" $lpid "* ]] &&
    ok "A's .lock says host $lhost pid $lpid (one of A's ranks: $apids)" ||
    fail "A's .lock: '$(cat "$T/a/.lock")', A's ranks: $apids"
before=$(tree "$T/a")

# second ID NAME HOW ARGS...: run B (HOW: a rank count, or mpirun.sh for 2 ranks through
# launch/mpirun.sh) into A's directory: exit 3 within 10 s, one line naming A, nothing left
second() {
    local id=$1 name=$2 how=$3 t0 t rc n line
    shift 3
    t0=$(date +%s.%N)
    if [ "$how" = mpirun.sh ]; then
        timeout 60 "$L/mpirun.sh" 2 "$NNTRAIN" train --config "$T/b.ini" --set output.dir="$T/a" "$@" > "$T/$id.out" 2>&1
    else
        timeout 60 "$MPIEXEC" -np "$how" $MPI_PREFLAGS "$NNTRAIN" train --config "$T/b.ini" --set output.dir="$T/a" "$@" > "$T/$id.out" 2>&1
    fi
    rc=$?
    t=$(echo "$(date +%s.%N) - $t0" | bc)
    n=$(grep -c "^nntrain: error:" "$T/$id.out")
    line=$(grep "^nntrain: error:" "$T/$id.out")
    if [ "$rc" = 3 ] && [ "$n" = 1 ] && [[ $line =~ $(lock_re "$T/a" "$lpid") ]] && awk -v t="$t" 'BEGIN { exit !(t < 10) }'; then
        ok "$name: exit 3 after $(printf %.1f "$t") s, one line: ${line#nntrain: error: }"
    else
        fail "$name: rc $rc after $t s, $n error line(s): $(grep -v '^epoch' "$T/$id.out" | head -8)"
    fi
    [ -z "$(ranks "$T/b.ini")" ] || fail "$name: processes left: $(ranks "$T/b.ini")"
}
second b1 "B (2 ranks)" 2
second b2 "B --overwrite (launch/mpirun.sh)" mpirun.sh --overwrite
second b3 "B --resume (1 rank)" 1 --resume
after=$(tree "$T/a")
[ "$before" = "$after" ] && ok "A's directory byte-identical after the refused runs ($after)" ||
    fail "A's directory changed: $before -> $after: $(ls -la "$T/a")"
state=$(cat "$T/a/status")
[[ $state == running* ]] && ok "A's status still says: $state" || fail "A's status: $state"
# shellcheck disable=SC2086
kill -CONT $apids
wait $ajob; rc=$?
apids=
[ "$rc" = 0 ] && [[ $(cat "$T/a/status") == finished* ]] || fail "A: rc $rc, status $(cat "$T/a/status"): $(tail -3 "$T/a.out")"
h5diff -q "$T/ref/model.h5" "$T/a/model.h5" && [ "$(metrics "$T/ref/metrics.csv")" = "$(metrics "$T/a/metrics.csv")" ] &&
    ok "A finished: model.h5 and metrics bitwise identical to the solo run" || fail "A's model or metrics differ from the solo run"

# --- 2) two runs started at once into one directory (before the lock both passed) ---------------
mpi 2 "$NNTRAIN" train --config "$T/s1.ini" --quiet --set output.dir="$T/s" > "$T/s1.out" 2>&1 & j1=$!
mpi 2 "$NNTRAIN" train --config "$T/s2.ini" --quiet --set output.dir="$T/s" > "$T/s2.out" 2>&1 & j2=$!
wait $j1; r1=$?
wait $j2; r2=$?
lines=$(cat "$T/s1.out" "$T/s2.out" | grep -c "^nntrain: error:")
line=$(cat "$T/s1.out" "$T/s2.out" | grep "^nntrain: error:")
# the loser meets the winner's lock (a loser so late that the winner has finished would be
# refused by the earlier-run check instead; the winner trains for more than a second)
if [ "$(echo "$r1 $r2" | tr ' ' '\n' | sort | xargs)" = "0 3" ] && [ "$lines" = 1 ] &&
   [[ $line =~ $(lock_re "$T/s" "[0-9]+") ]]; then
    ok "simultaneous runs: exits $r1 and $r2, one line: ${line#nntrain: error: }"
else
    fail "simultaneous runs: exits $r1 and $r2, $lines error line(s): $(grep -hv '^epoch' "$T/s1.out" "$T/s2.out" | head -12)"
fi
[[ $(cat "$T/s/status") == finished* ]] && h5diff -q "$T/ref/model.h5" "$T/s/model.h5" &&
    [ "$(metrics "$T/ref/metrics.csv")" = "$(metrics "$T/s/metrics.csv")" ] &&
    ok "simultaneous runs: the directory holds the winner's run, identical to the solo run" ||
    fail "simultaneous runs: status '$(cat "$T/s/status")', model or metrics differ from the solo run"

# --- 3) a stale lock file (the run was killed) blocks nothing -----------------------------------
mpi 2 "$NNTRAIN" train --config "$T/k.ini" --quiet --set output.dir="$T/k" > "$T/k.out" 2>&1 &
kjob=$!
for i in $(seq 1000); do [ -n "$(newest_ckpt "$T/k")" ] && break; sleep 0.01; done
kpids=$(ranks "$T/k.ini")
# shellcheck disable=SC2086
[ -n "$(newest_ckpt "$T/k")" ] && [ -n "$kpids" ] && kill -KILL $kpids
wait $kjob
step=$(newest_ckpt "$T/k")
if [[ $(cat "$T/k/status") == running* ]] && [ -s "$T/k/.lock" ] && [ -n "$step" ]; then
    ok "killed run: status running, .lock left ($(cat "$T/k/.lock")), checkpoint of step $step"
    mpi 2 "$NNTRAIN" train --config "$T/r.ini" --quiet --set output.dir="$T/k" --resume > "$T/r.out" 2>&1; rc=$?
    [ "$rc" = 0 ] && [[ $(cat "$T/k/status") == finished* ]] && h5diff -q "$T/ref/model.h5" "$T/k/model.h5" &&
        ok "--resume after the kill: exit 0, finished, model identical to the solo run" ||
        fail "--resume after the kill: rc $rc, status $(cat "$T/k/status"): $(grep -v '^epoch' "$T/r.out" | head -5)"
else
    fail "killing run K mid-run: status '$(cat "$T/k/status" 2>&1)', .lock '$(cat "$T/k/.lock" 2>&1)', checkpoint '$step'"
fi
finish
