# Shared set-up of the worker test scripts, sourced first thing (after `set -u`) with
#   . "$(dirname "$0")/lib.sh"
# (CTest runs them as `bash /abs/path/SCRIPT`). Defines fails=0 and the helpers below.

# nt_tmpdir NAME: T = a fresh directory /tmp/nntrain-NAME.XXXXXX, removed when the script exits.
nt_tmpdir() {
    T=$(mktemp -d "/tmp/nntrain-$1.XXXXXX")
    trap 'rm -rf "$T"' EXIT
}

fails=0
fail() { echo "FAIL: $*"; fails=$((fails+1)); }
ok() { echo "ok   $*"; }
# mpi NP CMD...: CMD on NP ranks (MPI_PREFLAGS: several words, split on purpose)
# shellcheck disable=SC2086
mpi() { local np=$1; shift; "$MPIEXEC" -np "$np" $MPI_PREFLAGS "$@"; }
# col CSV NAME: the value of column NAME in the last row
col() { awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i } END { print $c }' "$1"; }

# finish [MESSAGE]: print "N failure(s)" (or MESSAGE, if given, when nothing failed) and exit,
# non-zero if anything failed.
finish() {
    if [ $fails = 0 ] && [ $# -gt 0 ]; then echo "$1"; else echo "$fails failure(s)"; fi
    exit $((fails > 0))
}
