#!/usr/bin/env bash
# Workstation launcher: launch/mpirun.sh NP build/nntrain train --config job.ini [...]
# Adds the flags mpirun needs here (root, more ranks than cores) and leaves BLAS threads
# to nntrain (cores per node / ranks per node, unless [train] threads or
# OPENBLAS_NUM_THREADS says otherwise).
# Several nodes: NN_HOSTS=node1:2,node2:2 launch/mpirun.sh 4 build/nntrain train ...
# (--host; on the nodes of launch/cluster-up also the launch agent and network flags: see
# docs/cluster.md, "A cluster on one machine"). NN_MPIRUN_SHOW=1 prints the mpirun command.
# For `nntrain train --config FILE ...` that fails without saying why (a rank killed, a node
# lost), it runs `nntrain status --launcher-exit`, which names the lost ranks in one line and
# marks the run failed. launch/nntrain-run also restarts such a run on the hosts that are left.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { echo "usage: [NN_HOSTS=HOST:SLOTS,...] launch/mpirun.sh NP COMMAND [ARGS...]" >&2; exit 2; }
if [ "$(basename "$2")" = nntrain ] && [ "${3:-}" = train ]; then
    # the configuration: --config FILE or --config=FILE among the arguments
    config= prev=
    for a in "${@:4}"; do
        case $a in --config=*) config=${a#--config=} ;; esac
        [ "$prev" = --config ] && config=$a
        prev=$a
    done
    mapfile -t sets < <(nn_train_sets "${@:4}")
    bin=$2
    run_state() { "$bin" status --config "$config" "${sets[@]}" 2>/dev/null || true; }
    NN_MPIRUN_EXEC=1 nn_mpirun "$@" &
    pid=$! # mpirun itself (before: a subshell, so SIGTERM here killed the subshell and left
           # mpirun and the ranks running unsignalled)
    trap 'kill -TERM $pid 2>/dev/null' TERM INT
    trap 'kill -USR1 $pid 2>/dev/null' USR1
    # When the watchdog has ended the run (status `failed`) because a node is unreachable, mpirun
    # cannot reach that node's daemon either and would wait for it for many minutes: give it
    # NN_MPIRUN_GRACE seconds (default 5) to finish, then stop it.
    failed_at=
    while kill -0 $pid 2>/dev/null; do
        # a second, or less when mpirun ends first (then the loop ends at once)
        sleep 1 & tick=$!
        wait -n $pid $tick 2>/dev/null || true
        kill $tick 2>/dev/null || true
        kill -0 $pid 2>/dev/null || break
        [ -n "$config" ] || continue
        case $(run_state) in
            failed*) failed_at=${failed_at:-$SECONDS}
                     if [ $((SECONDS - failed_at)) -ge "${NN_MPIRUN_GRACE:-5}" ]; then
                         echo "launch/mpirun.sh: the run failed (its status file says so) and mpirun has not ended for ${NN_MPIRUN_GRACE:-5} s (an unreachable node?): stopping mpirun" >&2
                         kill -TERM $pid 2>/dev/null; sleep 3; kill -KILL $pid 2>/dev/null
                     fi ;;
        esac
    done
    # (`wait` returns early when a trapped signal arrives: wait again until mpirun has ended)
    while :; do wait $pid && rc=0 || rc=$?; kill -0 $pid 2>/dev/null || break; done
    # mpirun exits non-zero after forwarding SIGTERM/SIGINT even when every rank stopped at a
    # step boundary, wrote its checkpoint and exited 0: the status file says which it was
    if [ $rc != 0 ] && [ -n "$config" ] &&
       [[ $(run_state) == stopped* ]]; then
        rc=0
    fi
    if [ $rc != 0 ] && [ -n "$config" ]; then nn_post_mortem $rc "$2" "$config" "${@:4}" > /dev/null || true; fi
    exit $rc
fi
nn_mpirun "$@"
