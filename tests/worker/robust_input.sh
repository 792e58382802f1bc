#!/usr/bin/env bash
# Hostile or unusual input at start-up (issue 13, items 5 and 6), each: the documented exit
# code and exactly one "nntrain: error:" line naming the culprit (or success where the input is
# legitimate):
#  - INI lines longer than libinih's 200-byte buffer: a long comment and a long path (600+
#    characters; data, model and checkpoints under it, 2 ranks) are read and the run trains,
#    a long malformed line is reported at its own line number (was: any
#    200+ character line "malformed", at the wrong line);
#  - a configuration path that is a directory: "Is a directory" (was: "[data] train is
#    required");
#  - --init-from a text file, random bytes, a missing file, on 2 ranks: exit 3 (was 255 /
#    "failed exit -1");
#  - a read-only output file system (missing and existing output dir): exit 3, one line;
#  - a stopped run's printed resume command repeats the --set overrides, shell-quoted; run as
#    printed it finishes bitwise equal to the uninterrupted run (was: dropped, so it failed).
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir robust
"$NNDATA" make-moons 300 "$T/m.h5" --seed 2 > /dev/null
base() { printf '[data]\ntrain = %s\n[model]\nlayers = 2, 8, 2\n[train]\nepochs = 2\nbatch_size = 30\n' "$1"; }
# expect NAME CODE PATTERN CMD...: CMD exits CODE with exactly one error line matching PATTERN
expect() {
    local name=$1 code=$2 pat=$3; shift 3
    "$@" > "$T/$name.out" 2> "$T/$name.err"
    local rc=$? n
    n=$(grep -c "^nntrain: error:" "$T/$name.err")
    local good=0
    if [ "$code" = 0 ]; then [ $rc = 0 ] && [ "$n" = 0 ] && good=1
    else [ $rc = "$code" ] && [ "$n" = 1 ] && grep -q "^nntrain: error: .*$pat" "$T/$name.err" && good=1; fi
    if [ $good = 1 ]; then
        ok "$name: exit $rc${pat:+ $(grep "^nntrain: error:" "$T/$name.err")}"
    else fail "$name: exit $rc (want $code), $n error line(s): $(cat "$T/$name.err")"; fi
}
long=$(printf 'x%.0s' $(seq 300))

{ base "$T/m.h5"; echo "# $long"; } > "$T/comment.ini"
expect long-comment 0 "" "$NNTRAIN" train --config "$T/comment.ini" --quiet --set output.dir="$T/o1"

# (also past Open MPI's 256-byte file-name buffer in its lockedfile component, which aborted the
# rank with "buffer overflow detected" before nntrain left that component out)
deep="$T/$(printf 'd%.0s' $(seq 200))/$(printf 'e%.0s' $(seq 200))/$(printf 'f%.0s' $(seq 200))"
mkdir -p "$deep" && cp "$T/m.h5" "$deep/moons.h5"
base "$deep/moons.h5" > "$T/path.ini"
[ "$(wc -L < "$T/path.ini")" -gt 250 ] || fail "the long path line is not long"
expect long-path 0 "" mpi 2 "$NNTRAIN" train --config "$T/path.ini" --quiet --set output.dir="$deep/out"
[ -s "$deep/out/model.h5" ] && ls "$deep"/out/checkpoints/ckpt-*.h5 > /dev/null 2>&1 || fail "long-path: no model.h5 or checkpoint"

{ base "$T/m.h5"; echo "[output]"; echo "$long"; echo "dir = $T/o3"; } > "$T/bad.ini"
expect long-malformed 3 "bad.ini:9: malformed line" "$NNTRAIN" train --config "$T/bad.ini" --quiet

mkdir -p "$T/cfgdir"
expect config-is-dir 3 "cfgdir: cannot read config: Is a directory" "$NNTRAIN" train --config "$T/cfgdir" --quiet

base "$T/m.h5" > "$T/j.ini"
echo "not hdf5" > "$T/text.h5"
head -c 5000 /dev/urandom > "$T/random.h5"
for f in text random missing; do
    expect "init-from-$f" 3 "$f.h5: cannot open as HDF5" mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet \
        --set output.dir="$T/i-$f" --init-from "$T/$f.h5"
done

# start-up failures write nothing into the output directory (no status, no metrics.csv; the
# lock file and empty directories apart): --init-from another architecture, a checkpoint
# directory under a file, a model too large for memory
untouched() { # untouched NAME DIR: DIR holds no file but .lock
    local extra
    extra=$(find "$2" -type f ! -name .lock 2>/dev/null)
    [ -z "$extra" ] && ok "$1: nothing written into the output directory" || fail "$1: wrote $extra"
}
expect init-from-arch 3 "o1/model.h5: /model/layer0/weight has shape (8, 2), the model needs (9, 2)" mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set "model.layers=2, 9, 2" --set output.dir="$T/arch" --init-from "$T/o1/model.h5"
untouched init-from-arch "$T/arch"
touch "$T/afile"
expect ckpt-dir-under-file 3 "afile/ck: cannot create directory: Not a directory" mpi 2 "$NNTRAIN" train \
    --config "$T/j.ini" --quiet --set output.dir="$T/ckf" --set checkpoint.dir="$T/afile/ck"
untouched ckpt-dir-under-file "$T/ckf"
expect out-of-memory 1 "the run needs about .* GiB per rank" "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set "model.layers=2, 1000000, 1000000, 2" --set output.dir="$T/oom"
untouched out-of-memory "$T/oom"

# the memory preflight: with the node's available memory set (test hook) below what a
# 2-rank run of a 2-2000-2000-2 adam model needs (~2 x 70 MiB), one line naming the parts and
# the host, exit 1, before allocating, nothing written; with enough it trains
expect mem-preflight 1 "the run needs about .* MiB per rank (parameters and gradients .*) x 2 ranks on $(hostname) = .* MiB, but $(hostname) has 100.0 MiB available" \
    mpi 2 -x NNTRAIN_TEST_MEM_AVAILABLE_MB=100 "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set "model.layers=2, 2000, 2000, 2" --set optimizer.name=adam --set output.dir="$T/mem"
untouched mem-preflight "$T/mem"
expect mem-enough 0 "" mpi 2 -x NNTRAIN_TEST_MEM_AVAILABLE_MB=400 "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set "model.layers=2, 2000, 2000, 2" --set optimizer.name=adam --set train.epochs=1 --set output.dir="$T/mem2"

# a read-only output file system (as root, permissions do not stop writes: a read-only tmpfs
# does): one line naming the path and the errno, exit 3, on 2 ranks, a missing output dir and an
# existing empty one
mkdir -p "$T/ro"
if mount -t tmpfs -o size=1m tmpfs "$T/ro" && mkdir "$T/ro/empty" && mount -o remount,ro "$T/ro"; then
    expect read-only-new 3 "ro/new: cannot create directory: Read-only file system" mpi 2 "$NNTRAIN" train \
        --config "$T/j.ini" --quiet --set output.dir="$T/ro/new"
    expect read-only-existing 3 "ro/empty/.lock: cannot create the run's lock file: Read-only file system" \
        mpi 2 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/ro/empty"
    umount "$T/ro"
else
    fail "read-only: cannot mount a tmpfs at $T/ro (root needed)"
    umount "$T/ro" 2>/dev/null
fi

# the resume command of a stopped run, run as printed
sets=(--set "model.layers=2, 12, 2" --set "train.epochs=3" --set "optimizer.name=sgd" --set "output.dir=$T/s")
"$NNTRAIN" train --config "$T/j.ini" --quiet "${sets[@]:0:6}" --set output.dir="$T/full" || fail "uninterrupted run"
NNTRAIN_STOP_AT_STEP=5 "$NNTRAIN" train --config "$T/j.ini" "${sets[@]}" > "$T/stop.out" 2>&1 || fail "stopped run: $(cat "$T/stop.out")"
cmd=$(grep -A1 "continue with" "$T/stop.out" | tail -1)
if [[ "$cmd" == *"--set 'model.layers=2, 12, 2' --set train.epochs=3 --set optimizer.name=sgd --set output.dir=$T/s --resume" ]]; then
    ok "resume command repeats the overrides: $cmd"
else fail "resume command: '$cmd'"; fi
(eval "${cmd/nntrain/\"\$NNTRAIN\"} --quiet") > "$T/resume.out" 2>&1 || fail "the printed resume command failed: $(cat "$T/resume.out")"
h5diff -q "$T/full/model.h5" "$T/s/model.h5" /model /model && ok "the printed command resumes to the uninterrupted result" ||
    fail "resumed as printed: model differs"
finish
