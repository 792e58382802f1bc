#!/usr/bin/env bash
# The hang watchdog ([train] timeout, issue 11): 3 ranks on one node, timeout = 3 s.
#  - one rank SIGSTOPped mid-run: the job ends within timeout + a few seconds, exit code 1,
#    exactly one `nntrain: error:` line naming that rank, its host and the step, status
#    `failed exit 1 ...`, no nntrain process of the job left (the stopped one included);
#  - the same with SIGTERM sent to the other ranks while rank 0 is stopped (the stop request
#    cannot be agreed on): still ends at the timeout, and the line says so;
#  - the same with [train] exchange = zero1 and with deterministic = true;
#  - timeout = 0: no watchdog (no .heartbeat directory, no extra thread);
#  - timeout = 2 with epochs and an evaluation longer than 2 s: finishes normally and leaves
#    no .heartbeat directory.
# NNTRAIN_OLD=/path/to/an/older/nntrain additionally shows that one hangs (it has no timeout
# key: it is still running 15 s after the SIGSTOP).
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir watchdog
"$NNDATA" make-moons 20000 "$T/d.h5" --seed 1 > /dev/null
ini() { # FILE TIMEOUT-LINE: a run long enough to be stopped in (200 epochs of 625 steps)
    cat > "$1" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 32, 2
[train]
epochs = 200
batch_size = 32
threads = 1
$2
[output]
dir = $T/run
INI
}
ini "$T/j.ini" "timeout = 3"

# pids of ranks 0..2 from their heartbeat files (written every 0.5 s once running)
rank_pid() { awk '{print $6}' "$T/run/.heartbeat/rank-$1" 2> /dev/null; }
wait_ranks() { # until all 3 heartbeat files exist (at most 30 s)
    for _ in $(seq 300); do
        [ -n "$(rank_pid 0)" ] && [ -n "$(rank_pid 1)" ] && [ -n "$(rank_pid 2)" ] && return 0
        sleep 0.1
    done
    return 1
}
alive() { local s; s=$(ps -o stat= -p "$1" 2> /dev/null) && [ "${s#Z}" = "$s" ]; } # not a zombie

# scenario NAME STOP_RANK TERM_OTHERS: start 3 ranks, SIGSTOP one, optionally SIGTERM the
# others, and check how the job ends.
scenario() {
    local name=$1 victim=$2 term=$3
    rm -rf "$T/run"
    timeout 60 "$MPIEXEC" -np 3 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/j.ini" > "$T/$name.out" 2> "$T/$name.err" &
    local job=$!
    if ! wait_ranks; then fail "$name: no heartbeat files"; kill "$job"; wait "$job"; return; fi
    sleep 1 # some steps in
    local pids=("$(rank_pid 0)" "$(rank_pid 1)" "$(rank_pid 2)")
    local host; host=$(awk '{print $2}' "$T/run/.heartbeat/rank-$victim")
    kill -STOP "${pids[$victim]}"
    local t0; t0=$(date +%s.%N)
    if [ "$term" = 1 ]; then
        sleep 0.5
        for r in 0 1 2; do [ "$r" = "$victim" ] || kill -TERM "${pids[$r]}"; done
    fi
    wait "$job"
    local rc=$? t1; t1=$(date +%s.%N)
    local took; took=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    local left=""
    for p in "${pids[@]}"; do alive "$p" && left="$left $p"; done
    [ -n "$left" ] && kill -CONT $left 2> /dev/null && kill -KILL $left 2> /dev/null
    local lines; lines=$(grep -c '^nntrain: error:' "$T/$name.err")
    local line; line=$(grep '^nntrain: error:' "$T/$name.err")
    echo "     $name: rc $rc after ${took} s: $line"
    [ "$rc" = 1 ] && ok "$name: exit code 1" || fail "$name: exit code $rc (124: still running after 60 s)"
    awk -v t="$took" 'BEGIN { exit !(t <= 3 + 8) }' && ok "$name: ended ${took} s after the SIGSTOP (timeout 3 s)" \
        || fail "$name: took ${took} s"
    [ "$lines" = 1 ] && ok "$name: one error line" || fail "$name: $lines error lines: $(cat "$T/$name.err")"
    echo "$line" | grep -q "^nntrain: error: rank $victim ($host) has not reached step [0-9]* ([a-z /]*) for [0-9]* s.*; stopping the job$" \
        && ok "$name: names rank $victim, host $host, the step and phase" || fail "$name: line: $line"
    head -1 "$T/run/status" | grep -q "^failed exit 1 rank $victim ($host) has not reached step" \
        && ok "$name: status $(cut -c1-40 "$T/run/status")..." || fail "$name: status: $(cat "$T/run/status")"
    [ -z "$left" ] && ok "$name: no nntrain process of the job left" || fail "$name: left running:$left"
    if [ "$term" = 1 ]; then
        echo "$line" | grep -q "the SIGTERM could not be agreed on, no checkpoint written" \
            && ok "$name: the line says the SIGTERM could not be agreed on" || fail "$name: no SIGTERM note: $line"
    fi
}
scenario sigstop 2 0
scenario sigterm 0 1
# the other exchanges wait in other collectives (reduce-scatter, allgather, the exact sum's MAX)
ini "$T/j.ini" "timeout = 3
exchange = zero1"
scenario zero1-sigstop 1 0
ini "$T/j.ini" "timeout = 3
deterministic = true
deterministic_chunk = 8"
scenario deterministic-sigstop 2 0
ini "$T/j.ini" "timeout = 3"

# an older build without the watchdog hangs (shown when NNTRAIN_OLD is given)
if [ -n "${NNTRAIN_OLD:-}" ]; then
    ini "$T/old.ini" ""
    rm -rf "$T/run"
    "$MPIEXEC" -np 3 $MPI_PREFLAGS "$NNTRAIN_OLD" train --config "$T/old.ini" > /dev/null 2> "$T/old.err" &
    job=$!
    sleep 3
    pids=$(pgrep -P "$job" -d ' ' 2> /dev/null)
    victim=$(echo "$pids" | awk '{print $3}')
    kill -STOP "$victim"
    sleep 15
    if kill -0 "$job" 2> /dev/null; then
        ok "old build: still running 15 s after the SIGSTOP (hung; status $(cat "$T/run/status"))"
    else
        fail "old build ended"
    fi
    kill -CONT "$victim"; kill -KILL $pids "$job" 2> /dev/null; wait "$job" 2> /dev/null
fi

# timeout = 0: no watchdog at all
ini "$T/off.ini" "timeout = 0"
sed -i 's/epochs = 200/epochs = 3/' "$T/off.ini"
rm -rf "$T/run"
"$MPIEXEC" -np 3 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/off.ini" > "$T/off.out" 2>&1 &
job=$!
seen=0 threads_on=""
while kill -0 "$job" 2> /dev/null; do
    [ -d "$T/run/.heartbeat" ] && seen=1
    sleep 0.2
done
wait "$job" && ok "timeout = 0: the run finishes" || fail "timeout = 0 run: $(cat "$T/off.out")"
[ $seen = 0 ] && ok "timeout = 0: no watchdog (no .heartbeat directory at any time)" || fail "timeout = 0 made .heartbeat"
# the thread: one more task per rank with the watchdog than without
count_tasks() { # CONFIG: the largest number of threads of a rank seen during the run
    rm -rf "$T/run"
    "$MPIEXEC" -np 1 $MPI_PREFLAGS "$NNTRAIN" train --config "$1" > /dev/null 2>&1 &
    local job=$! most=0 n p
    while kill -0 "$job" 2> /dev/null; do
        for p in $(pgrep -P "$job"); do
            n=$(ls "/proc/$p/task" 2> /dev/null | wc -l)
            [ "$n" -gt "$most" ] && most=$n
        done
        sleep 0.1
    done
    wait "$job"
    echo "$most"
}
sed 's/epochs = 3/epochs = 60/' "$T/off.ini" > "$T/off60.ini" # about 1 s on one rank
sed 's/timeout = 0/timeout = 5/' "$T/off60.ini" > "$T/on60.ini"
n_off=$(count_tasks "$T/off60.ini") n_on=$(count_tasks "$T/on60.ini")
[ "$n_on" = $((n_off + 1)) ] && ok "the watchdog is one thread: $n_off threads per rank with timeout = 0, $n_on with 5" \
    || fail "threads per rank: $n_off with timeout = 0, $n_on with 5"

# timeout = 2 and a run whose epoch's training and evaluation each take longer than 2 s (about
# 5 s each here): the heartbeat advances per step and per evaluation batch, so it finishes
"$NNDATA" make-moons 300000 "$T/big.h5" --seed 1 > /dev/null
cat > "$T/long.ini" <<INI
[data]
train = $T/big.h5
val_fraction = 0.5
[model]
layers = 2, 1024, 1024, 2
[train]
epochs = 1
batch_size = 8192
threads = 1
timeout = 2
[output]
dir = $T/long
INI
mpi 2 "$NNTRAIN" train --config "$T/long.ini" --verbose > "$T/long.out" 2> "$T/long.err"
rc=$?
timing=$(grep 'timing:' "$T/long.out" | head -1)
echo "     timeout = 2: $timing"
[ $rc = 0 ] && grep -q '^finished' "$T/long/status" && ok "timeout = 2, epochs longer than 2 s: finished" \
    || fail "long run: rc $rc $(cat "$T/long.err")"
awk '/timing:/ { split($0, a, /train |, evaluation | s[,(]/); t = a[2] + 0; e = a[3] + 0 } END { exit !(t > 2 && e > 2) }' "$T/long.out" \
    && ok "  (training and evaluation each took more than 2 s)" || echo "     note: shorter than 2 s here: $timing"
[ ! -e "$T/long/.heartbeat" ] && ok "timeout = 2: no .heartbeat directory left" || fail ".heartbeat left: $(ls -a "$T/long/.heartbeat")"

finish "all watchdog checks passed"
