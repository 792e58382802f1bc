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
    rc=0
    nn_mpirun "$@" || rc=$?
    if [ $rc != 0 ]; then
        # the configuration: --config FILE or --config=FILE among the arguments
        config= prev=
        for a in "${@:4}"; do
            case $a in --config=*) config=${a#--config=} ;; esac
            [ "$prev" = --config ] && config=$a
            prev=$a
        done
        [ -n "$config" ] && nn_post_mortem $rc "$2" "$config" "${@:4}" > /dev/null
    fi
    exit $rc
fi
nn_mpirun "$@"
