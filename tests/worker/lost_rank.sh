#!/usr/bin/env bash
# A rank lost mid-run (SIGKILL: what the OOM killer or a dying node does), 3 ranks on one node:
#  - through launch/mpirun.sh: mpirun stops the others; then exactly one `nntrain: error:` line
#    names the lost rank, its host, the step and the newest intact checkpoint, the status file
#    says `failed exit 137 ...` (before: `running` forever), mpirun's exit code is kept and no
#    process of the job is left;
#  - through launch/nntrain-run: the same line, then a restart from that checkpoint that
#    finishes, with a model bitwise equal to the uninterrupted run's (same rank count: exact
#    resume), and the time from the loss to training again printed;
#  - NN_MAX_RESTARTS=0: no restart, exit 1; a failure that loses no rank (NNTRAIN_FAULT): not
#    restarted, nntrain's exit code.
# The cluster tests (tests/cluster/lost_node.sh) do the same across nodes.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir lostrank
L=$SRC_DIR/launch
"$NNDATA" make-moons 20000 "$T/d.h5" --seed 1 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 256, 256, 2
activation = tanh
[optimizer]
name = adam
lr = 0.003
[train]
epochs = 12
batch_size = 32
threads = 1
timeout = 20
[checkpoint]
every_steps = 250
INI
# 18000 training rows, batch 32: 563 steps per epoch, 6756 in all

# the uninterrupted run
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/ref" || fail "reference run"

# kill_rank_when DIR STEP RANK: once DIR has a checkpoint of STEP or later, SIGKILL that rank
# (its pid from its heartbeat file); prints the pid
kill_rank_when() {
    local i pid newest
    for i in $(seq 600); do
        newest=$(newest_ckpt "$1")
        [ -n "$newest" ] && [ "$newest" -ge "$2" ] && break
        sleep 0.05
    done
    pid=$(awk '{print $6}' "$1/.heartbeat/rank-$3" 2>/dev/null)
    [ -n "$pid" ] && kill -KILL "$pid" && echo "$pid" ||
        { echo "kill_rank_when $*: no pid to kill (newest checkpoint $newest): $(cat "$1/.heartbeat/rank-$3" 2>&1)" >&2; return 1; }
}
job_left() { pgrep -f "nntrain train --config $T/j.ini" > /dev/null; }

# 1) launch/mpirun.sh: no restart, the failure recorded
t0=$(date +%s.%N)
"$L/mpirun.sh" 3 "$NNTRAIN" train --config "$T/j.ini" --set output.dir="$T/a" > "$T/a.out" 2>&1 &
job=$!
pid=$(kill_rank_when "$T/a" 1000 2)
wait $job; rc=$?
t=$(echo "$(date +%s.%N) - $t0" | bc)
[ -n "$pid" ] || fail "rank 2 was not found to kill"
n=$(grep -c "^nntrain: error:" "$T/a.out")
line=$(grep "^nntrain: error:" "$T/a.out")
host=$(hostname)
if [ "$rc" = 137 ] && [ "$n" = 1 ] &&
   [[ $line =~ ^nntrain:\ error:\ rank\ 2\ \($host\)\ ended\ without\ a\ word\ \(killed,\ or\ its\ node\ lost\)\ (during\ step\ [0-9]+\ \(.*\)|after\ step\ [0-9]+)\;\ the\ launcher\ stopped\ the\ job\ \(exit\ 137\)\;\ newest\ intact\ checkpoint\ $T/a/checkpoints/ckpt-[0-9]+\.h5\ \(step\ [0-9]+\)$ ]]; then
    ok "killed rank 2: mpirun exit 137, one line: ${line#nntrain: error: }"
else fail "killed rank 2: rc $rc, $n error line(s): $(grep -v '^epoch' "$T/a.out")"; fi
read -r state rest < "$T/a/status"
[ "$state" = failed ] && [[ $rest == "exit 137 rank 2 ($host) ended without a word"* ]] &&
    ok "status: $state ${rest:0:60}..." || fail "status after the kill: '$state $rest'"
job_left && fail "a process of the job is left" || ok "no process of the job left ($(printf '%.1f' "$t") s from start to end)"
# the checkpoint it names is intact and the newest one
ck=$(sed -n 's/.*newest intact checkpoint \([^ ]*\) .*/\1/p' <<<"$line")
newest=$(newest_ckpt "$T/a")
[ "$ck" = "$T/a/checkpoints/ckpt-$newest.h5" ] && h5ls "$ck/state" > /dev/null 2>&1 &&
    ok "it names the newest checkpoint (ckpt-$newest.h5), which opens" || fail "named $ck, newest is ckpt-$newest.h5"
# `nntrain status` on the failed run repeats the recorded line; a second post-mortem changes nothing
s1=$(cat "$T/a/status")
"$NNTRAIN" status "$T/a" --launcher-exit 137 > "$T/pm.out" 2> "$T/pm.err"
[ "$(cat "$T/a/status")" = "$s1" ] && [ ! -s "$T/pm.err" ] && grep -q "^lost_hosts=$host$" "$T/pm.out" &&
    ok "a second post-mortem keeps the status and prints lost_hosts=$host" || fail "second post-mortem: $(cat "$T/pm.err" "$T/pm.out")"

# 2) launch/nntrain-run: restart from the checkpoint, finish, same model
NNTRAIN="$NNTRAIN" NN_NP=3 "$L/nntrain-run" "$T/j.ini" --set output.dir="$T/b" > "$T/b.out" 2>&1 &
job=$!
pid=$(kill_rank_when "$T/b" 2000 2)
wait $job; rc=$?
grep -v "^epoch" "$T/b.out" | grep -E "^nntrain-run|^nntrain: error|^resuming"
read -r state rest < "$T/b/status"
if [ $rc = 0 ] && [ "$state" = finished ] && [ "$(grep -c '^nntrain: error:' "$T/b.out")" = 1 ] &&
   grep -q "^nntrain-run: .* lost ranks on $host (exit 137): restart 1 of 3 on this machine from $T/b/checkpoints/ckpt-" "$T/b.out" &&
   grep -q "^resuming from $T/b/checkpoints/ckpt-" "$T/b.out"; then
    ok "nntrain-run: restarted after the loss and finished ($(grep -o 'training again [0-9.]* s' "$T/b.out"))"
else fail "nntrain-run: rc $rc, status '$state $rest'"; fi
grep -q "training again [0-9.]* s after the failed attempt ended" "$T/b.out" || fail "no time to recovery printed"
h5diff -q "$T/ref/model.h5" "$T/b/model.h5" && ok "restarted run's model.h5 bitwise equal to the uninterrupted run's" ||
    fail "restarted run's model differs: $(h5diff -c "$T/ref/model.h5" "$T/b/model.h5" | head -3)"

# 3) NN_MAX_RESTARTS=0: the loss is reported, no restart
NNTRAIN="$NNTRAIN" NN_NP=3 NN_MAX_RESTARTS=0 "$L/nntrain-run" "$T/j.ini" --set output.dir="$T/c" > "$T/c.out" 2>&1 &
job=$!
kill_rank_when "$T/c" 500 1 > /dev/null
wait $job; rc=$?
[ $rc = 1 ] && grep -q "giving up" "$T/c.out" && ! grep -q "^resuming" "$T/c.out" &&
    grep -q "^nntrain: error: rank 1 ($host) ended without a word" "$T/c.out" &&
    ok "NN_MAX_RESTARTS=0: exit 1 after the loss, no restart" || fail "NN_MAX_RESTARTS=0: rc $rc $(grep -v '^epoch' "$T/c.out")"

# 4) a failure that loses no rank is not retried
NNTRAIN_FAULT=1:40 NNTRAIN="$NNTRAIN" NN_NP=3 "$L/nntrain-run" "$T/j.ini" --set output.dir="$T/d" > "$T/d.out" 2>&1
rc=$?
[ $rc = 3 ] && [ "$(grep -c '^nntrain-run: .* attempt' "$T/d.out")" = 1 ] && grep -q "without a lost host: not restarting" "$T/d.out" &&
    ok "an injected read failure (NNTRAIN_FAULT): nntrain's exit 3, not restarted" || fail "fault: rc $rc $(cat "$T/d.out")"
job_left && fail "a process of the job is left at the end"
finish "all passed"
