# Shared by launch/quickstart, launch/test and bench/: install what is missing (Debian 12,
# apt-get; as root or via sudo), configure and build with CMake, and run mpirun with the
# flags this machine needs. Source it; it defines functions only.

NN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build and run-time packages (Debian 12 names).
NN_PACKAGES="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
 libhdf5-openmpi-dev hdf5-tools libcmocka-dev libinih-dev zlib1g-dev dataset-fashion-mnist
 bc procps gnuplot-nox groff-base valgrind libprotobuf-c-dev protobuf-c-compiler python3-onnx"

nn_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# nn_install PKG... : apt-get install the packages that are not installed yet.
nn_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { echo "error: need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
        sudo=sudo
    fi
    nn_log "installing ${missing[*]}"
    $sudo apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

nn_install_deps() { nn_install $NN_PACKAGES; }

# ONNX Runtime for the export test (tests/worker/export.sh): onnxruntime-node from the npm
# registry; --ignore-scripts keeps the CPU library the package ships and skips its install
# script (which would download CUDA libraries).
NN_ORT_PACKAGE=onnxruntime-node@1.30.0

# nn_install_node: node and npm (Debian's nodejs and npm) unless some node with npm is there.
nn_install_node() {
    command -v node >/dev/null && command -v npm >/dev/null && return 0
    nn_install nodejs npm
}

# nn_install_onnxruntime DIR: DIR/node_modules/onnxruntime-node, installed once.
nn_install_onnxruntime() {
    local dir=$1
    [ -f "$dir/node_modules/onnxruntime-node/package.json" ] && return 0
    nn_install_node || return 1
    mkdir -p "$dir" || return 1
    nn_log "npm install $NN_ORT_PACKAGE into $dir"
    npm install --prefix "$dir" --ignore-scripts --no-audit --no-fund --loglevel=error \
        "$NN_ORT_PACKAGE" >&2
}

# nn_build [extra cmake args...] : configure (once) and build into build/.
nn_build() {
    cmake -S "$NN_ROOT" -B "$NN_ROOT/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null || return 1
    cmake --build "$NN_ROOT/build" -j "$(nproc)" -- --no-print-directory >/dev/null || {
        cmake --build "$NN_ROOT/build" -j1; return 1; }
}

# nn_mpirun NP CMD... : mpirun with --allow-run-as-root for root and --oversubscribe when
# NP exceeds the cores; ranks are not bound so nntrain's thread logic (cores per node /
# ranks per node) decides BLAS threads. NN_HOSTS (e.g. node1:2,node2:2) becomes --host; when
# every host in it is a node of launch/cluster-up, Open MPI is also told to start its daemons
# through launch/cluster-rsh and to use only the cluster's network (nn_cluster_mpi_flags).
nn_mpirun() {
    local np=$1; shift
    local flags=(-np "$np" --bind-to none)
    [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
    [ "$np" -gt "$(nproc)" ] && flags+=(--oversubscribe)
    if [ -n "${NN_HOSTS:-}" ]; then
        flags+=(--host "$NN_HOSTS")
        local h on_cluster=1
        for h in ${NN_HOSTS//,/ }; do nn_node_pid "${h%%:*}" >/dev/null || on_cluster=0; done
        if [ $on_cluster = 1 ]; then
            flags+=($(nn_cluster_mpi_flags))
            # the nodes share this machine's cores, but Open MPI counts the slots given in
            # --host, so it does not see the oversubscription: without yielding, waiting ranks
            # spin and a step or checkpoint takes 10-50x longer (measured: 13 s vs 0.8 s)
            [ "$np" -gt "$(nproc)" ] && flags+=(--mca mpi_yield_when_idle 1)
        fi
    fi
    # Open MPI gives ranks a pseudo-terminal even when our output is a file, so nntrain
    # cannot tell by itself: say whether a live progress bar makes sense
    { [ -t 1 ] || [ "${NN_STDOUT_IS_TTY:-}" = 1 ]; } && flags+=(-x NNTRAIN_PROGRESS=1)
    [ -n "${NN_MPIRUN_SHOW:-}" ] && echo "mpirun ${flags[*]} $*" >&2
    # NN_MPIRUN_EXEC=1: replace the (background sub)shell, so its pid is mpirun's and a signal
    # sent to it reaches mpirun, which forwards it to the ranks
    ${NN_MPIRUN_EXEC:+exec} mpirun "${flags[@]}" "$@"
}

# --- the cluster on one machine (launch/cluster-up, cluster-exec, cluster-down, cluster-rsh) ---
# Node K (1..N) is network namespace nn-nodeK (address 198.18.0.K on bridge nnbr0, which has
# 198.18.0.254 in this machine's own namespace) plus a holder process that owns the node's
# UTS namespace (host name nodeK) and, where one can be made, a private mount namespace.
# Everything run on a node enters the holder's namespaces (nn_node_enter).
NN_CLUSTER_DIR=${NN_CLUSTER_DIR:-/run/nntrain-cluster}
NN_CLUSTER_NET=198.18.0
NN_CLUSTER_BRIDGE=nnbr0
# nn_node_pid NODE: the pid of node NODE's holder (NODE is nodeK or K); fails when it is not up.
nn_node_pid() {
    local k=${1#node} pid
    case $k in ''|*[!0-9]*) return 1 ;; esac
    pid=$(cat "$NN_CLUSTER_DIR/node$k.pid" 2>/dev/null) || return 1
    # the holder is alive, in the node's network namespace and has the node's name
    [ -e "/proc/$pid" ] && [ "$(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null)" = \
        "$(stat -L -c %i "/run/netns/nn-node$k" 2>/dev/null)" ] &&
        [ "$(nsenter -t "$pid" --uts cat /proc/sys/kernel/hostname 2>/dev/null)" = "node$k" ] || return 1
    echo "$pid"
}

# nn_node_enter NODE: nsenter's arguments to enter NODE's namespaces (fails when it is not up):
# network and UTS, and mount where the holder has its own (not in a chroot: see cluster-up)
nn_node_enter() {
    local pid
    pid=$(nn_node_pid "$1") || return 1
    echo "-t $pid --net --uts"
    [ "$(stat -L -c %i "/proc/$pid/ns/mnt")" = "$(stat -L -c %i /proc/self/ns/mnt)" ] || echo "--mount"
}

# nn_cluster_mpi_flags: mpirun's options for a job across the nodes of launch/cluster-up:
# daemons started by launch/cluster-rsh (each in its node's namespaces; no tree spawn, so
# mpirun starts them all), Open MPI's own traffic (oob) and the ranks' (btl: tcp between
# nodes, vader shared memory within one) only on the cluster's network.
nn_cluster_mpi_flags() {
    echo "--mca plm_rsh_agent $NN_ROOT/launch/cluster-rsh --mca plm_rsh_no_tree_spawn 1" \
         "--mca oob_tcp_if_include $NN_CLUSTER_NET.0/24 --mca btl_tcp_if_include $NN_CLUSTER_NET.0/24" \
         "--mca btl tcp,vader,self"
}

# --- after a training job ended -----------------------------------------------------------
# nn_train_sets ARGS...: the --set options among nntrain train's arguments, one per line as
# `--set=KEY=VALUE` (for `nntrain status --config FILE`, which accepts only those).
nn_train_sets() {
    local prev= a
    for a in "$@"; do
        case $a in --set=*) echo "$a" ;; esac
        [ "$prev" = --set ] && echo "--set=$a"
        prev=$a
    done
}

# nn_post_mortem RC NNTRAIN CONFIG ARGS... : after the launcher of `NNTRAIN train --config
# CONFIG ARGS...` exited RC (not 0), `nntrain status --launcher-exit`: when the run still says
# `running` (a rank was killed and the launcher stopped the others before nntrain could say
# why), it prints the one error line naming the lost ranks and hosts and records the failure in
# the status file. Prints lost_hosts=... and checkpoint=... on stdout.
nn_post_mortem() {
    local rc=$1 bin=$2 config=$3; shift 3
    local sets=()
    mapfile -t sets < <(nn_train_sets "$@")
    "$bin" status --config "$config" "${sets[@]}" --launcher-exit "$rc"
}
