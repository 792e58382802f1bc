#!/usr/bin/env bash
# Workstation launcher: launch/mpirun.sh NP build/nntrain train --config job.ini [...]
# Adds the flags mpirun needs here (root, more ranks than cores) and leaves BLAS threads
# to nntrain (cores per node / ranks per node, unless [train] threads or
# OPENBLAS_NUM_THREADS says otherwise).
# Several nodes: NN_HOSTS=node1:2,node2:2 launch/mpirun.sh 4 build/nntrain train ...
# (--host; on the nodes of launch/cluster-up also the launch agent and network flags: see
# docs/cluster.md, "A cluster on one machine"). NN_MPIRUN_SHOW=1 prints the mpirun command.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { echo "usage: [NN_HOSTS=HOST:SLOTS,...] launch/mpirun.sh NP COMMAND [ARGS...]" >&2; exit 2; }
nn_mpirun "$@"
