#!/usr/bin/env bash
# Workstation launcher: launch/mpirun.sh NP build/nntrain train --config job.ini [...]
# Adds the flags mpirun needs here (root, more ranks than cores) and leaves BLAS threads
# to nntrain (cores per node / ranks per node, unless [train] threads or
# OPENBLAS_NUM_THREADS says otherwise).
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 2 ] || { echo "usage: launch/mpirun.sh NP COMMAND [ARGS...]" >&2; exit 2; }
nn_mpirun "$@"
