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

# maxrel A B: over every dataset under /model of two model files, "LARGEST NORMWISE COUNT": the
# largest |a - b| / |a| (h5diff's relative), the norm-wise ||a - b|| / ||a|| (1 when A is all
# zeros and B is not) and the number of values
maxrel() {
    local d
    for d in $(h5ls -r "$1" | awk '$2 == "Dataset" && $1 ~ "^/model/" {print $1}'); do
        paste -d' ' <(h5dump -y -w 0 -m %.9g -d "$d" "$1" | sed -n '/DATA {/,/}/p' | tr -d ' ,' | grep -v '[{}]') \
                    <(h5dump -y -w 0 -m %.9g -d "$d" "$2" | sed -n '/DATA {/,/}/p' | tr -d ' ,' | grep -v '[{}]')
    done | awk 'function abs(x) { return x < 0 ? -x : x }
                { d = abs($1 - $2); r = $1 == 0 ? (d == 0 ? 0 : 1) : d / abs($1); if (r > m) m = r; n++; s += d * d; a += $1 * $1 }
                END { printf "%.3g %.3g %d\n", m, (a > 0 ? sqrt(s / a) : (s > 0 ? 1 : 0)), n }'
}

# newest_ckpt RUN_DIR: the step of the newest RUN_DIR/checkpoints/ckpt-<step>.h5 (empty if none)
newest_ckpt() { ls "$1/checkpoints" 2>/dev/null | sed -n 's/^ckpt-\([0-9]*\)\.h5$/\1/p' | sort -n | tail -1; }

# finish [MESSAGE]: print "N failure(s)" (or MESSAGE, if given, when nothing failed) and exit,
# non-zero if anything failed.
finish() {
    if [ $fails = 0 ] && [ $# -gt 0 ]; then echo "$1"; else echo "$fails failure(s)"; fi
    exit $((fails > 0))
}
