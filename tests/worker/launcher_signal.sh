#!/usr/bin/env bash
# SIGTERM or SIGINT to launch/mpirun.sh (what a batch system or Ctrl-C sends it) reaches the
# ranks through mpirun: they stop at a step boundary, write a checkpoint, and the launcher
# exits 0 (mpirun itself exits 1 after forwarding a signal; the status file says `stopped`),
# leaving no process behind; --resume through the launcher then continues (issue 13 item 6).
# Before: the signal killed the launcher's subshell (exit 143) and mpirun and the ranks went
# on training, unsignalled.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir lsig
LAUNCH="$SRC_DIR/launch/mpirun.sh"
"$NNDATA" make-moons 400 "$T/m.h5" --seed 1 > /dev/null
printf '[data]\ntrain = %s\n[model]\nlayers = 2, 64, 2\n[train]\nepochs = 100000\nbatch_size = 20\n' "$T/m.h5" > "$T/j.ini"
# a background job of a script starts with SIGINT ignored (and bash cannot trap a signal
# ignored at entry); a launcher in a terminal or under a batch system has it: restore it
default_int() { exec /usr/bin/python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"; }
for sig in TERM INT; do
    d="$T/run-$sig"
    default_int "$LAUNCH" 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$d" > "$T/$sig.out" 2>&1 &
    pid=$!
    for _ in $(seq 100); do [[ $(cat "$d/status" 2>/dev/null) == running*epoch* ]] && break; sleep 0.2; done
    t0=$SECONDS
    kill -$sig $pid
    for _ in $(seq 150); do kill -0 $pid 2>/dev/null || break; sleep 0.2; done
    if kill -0 $pid 2>/dev/null; then fail "SIG$sig: the launcher still runs after 30 s"; kill -KILL $pid; fi
    wait $pid
    rc=$?
    [ $rc = 0 ] && ok "SIG$sig: launcher exit 0 after $((SECONDS - t0)) s" || fail "SIG$sig: launcher exit $rc: $(cat "$T/$sig.out")"
    [[ $(cat "$d/status") == "stopped global_step "*" checkpoint $d/checkpoints/ckpt-"*.h5 ]] &&
        ok "SIG$sig: $(cat "$d/status")" || fail "SIG$sig: status '$(cat "$d/status")'"
    sleep 1
    left=$(pgrep -f "output.dir=$d" | wc -l)
    [ "$left" = 0 ] || { fail "SIG$sig: $left processes left running"; pkill -KILL -f "output.dir=$d"; }
done
# continue one of them for a few more steps, through the launcher, and stop it the same way
"$LAUNCH" 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/run-TERM" --resume > "$T/resume.out" 2>&1 &
pid=$!
sleep 4
kill -TERM $pid; wait $pid
rc=$?
grep -q "^resuming from" "$T/resume.out" || true
[ $rc = 0 ] && [ "$(ls "$T/run-TERM/checkpoints" | wc -l)" -ge 2 ] && ok "resumed through the launcher and stopped again" ||
    fail "resume: exit $rc: $(cat "$T/resume.out")"
finish
