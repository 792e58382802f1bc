# Shared by launch/quickstart, launch/test and bench/: install what is missing (Debian 12,
# apt-get; as root or via sudo), configure and build with CMake, and run mpirun with the
# flags this machine needs. Source it; it defines functions only.

NN_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Build and run-time packages (Debian 12 names).
NN_PACKAGES="build-essential cmake pkg-config libopenmpi-dev openmpi-bin libopenblas-dev
 libhdf5-openmpi-dev hdf5-tools libcmocka-dev libinih-dev zlib1g-dev dataset-fashion-mnist
 bc procps gnuplot-nox groff-base"

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

# nn_build [extra cmake args...] : configure (once) and build into build/.
nn_build() {
    cmake -S "$NN_ROOT" -B "$NN_ROOT/build" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null || return 1
    cmake --build "$NN_ROOT/build" -j "$(nproc)" -- --no-print-directory >/dev/null || {
        cmake --build "$NN_ROOT/build" -j1; return 1; }
}

# nn_mpirun NP CMD... : mpirun with --allow-run-as-root for root and --oversubscribe when
# NP exceeds the cores; ranks are not bound so nntrain's thread logic (cores per node /
# ranks per node) decides BLAS threads.
nn_mpirun() {
    local np=$1; shift
    local flags=(-np "$np" --bind-to none)
    [ "$(id -u)" = 0 ] && flags+=(--allow-run-as-root)
    [ "$np" -gt "$(nproc)" ] && flags+=(--oversubscribe)
    # Open MPI gives ranks a pseudo-terminal even when our output is a file, so nntrain
    # cannot tell by itself: say whether a live progress bar makes sense
    [ -t 1 ] && flags+=(-x NNTRAIN_PROGRESS=1)
    mpirun "${flags[@]}" "$@"
}
