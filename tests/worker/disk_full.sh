#!/usr/bin/env bash
# A full disk during a checkpoint (issue 13, item 1): the output directory is a small tmpfs
# (8000 KiB) that holds the first two checkpoints of a 2-512-512-2 adam model (3.1 MB each)
# but not the third. A run stopped after step 10 (ckpt-5, ckpt-10) is resumed and fails
# writing ckpt-15.h5. At 1 and 3 ranks, for each way the failure is caught
# (src/worker/ckpt.c, nt_ckpt_save):
#   default  - the free-space check before the file is created;
#   reserve  - (check skipped) rank 0 cannot reserve the file's space (fallocate);
#   off      - (check and reservation skipped) the writes run out of space: the agreement
#              after the dataset writes (one rank: H5Dwrite fails; three ranks: Open MPI's
#              collective write loses the error, the free-space look after the writes sees it);
# it asserts: exit code 1 within 20 s (before: a hang at 3 ranks, a segfault in MPI_Finalize,
# exit 139, at one), exactly one `nntrain: error:` line naming ckpt-15.h5 and "No space left
# on device", no .tmp left, ckpt-5 and ckpt-10 byte-identical (sha256), status `failed exit 1`.
# Also model.h5 at the end of training on a full disk (1 and 3 ranks; before: exit 139).
# Then the success path is durable: strace shows the .tmp fsynced before the rename and the
# directory fsynced after it.
# Needs root (mount -t tmpfs) and strace; fails, not skips, without them.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir diskfull
M=$T/m
mkdir -p "$M"
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
if ! mount -t tmpfs -o size=8000k tmpfs "$M" 2> "$T/mount.err"; then
    echo "FAIL: cannot mount a tmpfs (needs root): $(cat "$T/mount.err")"
    exit 1
fi
"$NNDATA" make-moons 2000 "$T/d.h5" --seed 4 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/d.h5
[model]
layers = 2, 512, 512, 2
[optimizer]
name = adam
lr = 0.001
[train]
epochs = 1
batch_size = 50
threads = 1
[checkpoint]
every_steps = 5
keep = 10
INI

for np in 1 3; do
    for mode in default reserve off; do
        name="$np rank(s), $mode"
        R=$M/r
        rm -rf "$R"
        # ckpt-5 and ckpt-10, then a stop (exit 0)
        mpi "$np" -x NNTRAIN_STOP_AT_STEP=10 "$NNTRAIN" train --config "$T/j.ini" --quiet \
            --set output.dir="$R" > "$T/first.out" 2>&1 || { fail "$name: first run: $(tail -3 "$T/first.out")"; continue; }
        before=$(cd "$R/checkpoints" && sha256sum ckpt-5.h5 ckpt-10.h5)
        [ "$(ls "$R/checkpoints")" = "$(printf 'ckpt-10.h5\nckpt-5.h5')" ] ||
            { fail "$name: first run left $(ls "$R/checkpoints" | tr '\n' ' ')"; continue; }
        t0=$(date +%s%N)
        env_mode=; [ "$mode" = default ] || env_mode=$mode
        # shellcheck disable=SC2086
        timeout -k 10 60 "$MPIEXEC" -np "$np" $MPI_PREFLAGS -x NNTRAIN_CKPT_SPACE_CHECK="$env_mode" \
            "$NNTRAIN" train --config "$T/j.ini" --quiet --resume --set output.dir="$R" > "$T/full.out" 2>&1
        rc=$?
        secs=$(( ($(date +%s%N) - t0) / 1000000000 ))
        echo "--- $name: exit $rc after ${secs}s: $(grep '^nntrain: error:' "$T/full.out")"
        [ "$rc" = 1 ] && [ "$secs" -lt 20 ] &&
            ok "$name: exit 1 after ${secs}s" || fail "$name: exit $rc after ${secs}s (124: hung; 139: segfault): $(tail -5 "$T/full.out")"
        errs=$(grep -c '^nntrain: error:' "$T/full.out")
        [ "$errs" = 1 ] && grep '^nntrain: error:' "$T/full.out" | grep -q "$R/checkpoints/ckpt-15.h5: .*No space left on device" &&
            ok "$name: one line naming ckpt-15.h5 and the error" || fail "$name: $errs error line(s): $(grep 'error' "$T/full.out")"
        grep -qiE 'segmentation fault|signal 11|core dumped' "$T/full.out" && fail "$name: a crash: $(grep -iE 'segmentation|signal' "$T/full.out")"
        tmps=$(ls -a "$R/checkpoints" | grep -c '\.tmp$')
        [ "$tmps" = 0 ] && ok "$name: no .tmp left" || fail "$name: left $(ls "$R/checkpoints" | tr '\n' ' ')"
        after=$(cd "$R/checkpoints" && sha256sum ckpt-5.h5 ckpt-10.h5 2>&1)
        [ "$before" = "$after" ] && [ "$(ls "$R/checkpoints" | grep -c '^ckpt-.*\.h5$')" = 2 ] &&
            ok "$name: ckpt-5 and ckpt-10 untouched (sha256), no other checkpoint" ||
            fail "$name: checkpoints changed: $(ls "$R/checkpoints" | tr '\n' ' ') $after"
        grep -q '^failed exit 1' "$R/status" && ok "$name: status '$(cat "$R/status")'" ||
            fail "$name: status '$(cat "$R/status" 2>&1)'"
    done
done

# model.h5 at the end of training on a full disk (written the same way since nt_model_save_safe;
# before: the old close-and-rename, which could hang or crash like the checkpoints did): the
# tmpfs is filled until ~0.5 MB is left, less than the 1.1 MB model; no checkpoints
for np in 1 3; do
    umount "$M" 2>/dev/null; mount -t tmpfs -o size=8000k tmpfs "$M" || fail "remount"
    avail=$(df -B1 --output=avail "$M" | tail -1)
    head -c $((avail - 512 * 1024)) /dev/zero > "$M/filler"
    d="$M/model$np"
    t0=$SECONDS
    timeout 60 "$MPIEXEC" -np $np $MPI_PREFLAGS "$NNTRAIN" train --config "$T/j.ini" --quiet \
        --set output.dir="$d" --set checkpoint.every_epochs=0 --set checkpoint.every_steps=0 > "$T/model$np.out" 2> "$T/model$np.err"
    rc=$?
    n=$(grep -c "^nntrain: error:" "$T/model$np.err")
    if [ $rc = 1 ] && [ "$n" = 1 ] && [ $((SECONDS - t0)) -lt 30 ] &&
       grep -q "^nntrain: error: $d/model.h5: model not written: No space left on device" "$T/model$np.err"; then
        ok "model.h5 on a full disk, $np rank(s): $(grep "^nntrain: error:" "$T/model$np.err")"
    else fail "model.h5 on a full disk, $np rank(s): exit $rc after $((SECONDS - t0)) s, $n error line(s): $(cat "$T/model$np.err")"; fi
    [ ! -e "$d/model.h5" ] && [ ! -e "$d/model.h5.tmp" ] || fail "model$np: model.h5 or its .tmp left: $(ls "$d")"
    [[ $(cat "$d/status" 2>/dev/null) == "failed exit 1"* ]] || fail "model$np: status '$(cat "$d/status" 2>/dev/null)'"
done
umount "$M" 2>/dev/null; mount -t tmpfs -o size=8000k tmpfs "$M" || fail "remount"

# durable when it succeeds: the file is fsynced (after the reservation beyond its end is
# given back) before the rename, and the directory after it
if ! command -v strace > /dev/null; then
    fail "strace is not installed (apt-get install strace; launch/test installs it)"
else
    rm -rf "$T/ok"
    # shellcheck disable=SC2086
    strace -f -qq -y -e trace=fsync,ftruncate,rename -o "$T/strace.txt" \
        "$MPIEXEC" -np 1 $MPI_PREFLAGS "$NNTRAIN" train --config "$T/j.ini" --quiet \
        --set output.dir="$T/ok" --set checkpoint.every_steps=0 > "$T/ok.out" 2>&1 || fail "strace run: $(tail -3 "$T/ok.out")"
    c=$T/ok/checkpoints
    f=$(ls "$c"/ckpt-*.h5 | head -1)
    calls=$(grep -E "fsync|ftruncate|rename" "$T/strace.txt" | grep -F "$c" | sed 's/^[0-9]* *//')
    echo "$calls"
    echo "$calls" | awk -v f="$f.tmp" -v d="$c" '
        index($0, "fsync(") == 1 && index($0, "<" f ">") { synced = 1 }
        index($0, "rename(") == 1 && index($0, f) { renamed = synced; after = 1 }
        after && index($0, "fsync(") == 1 && index($0, "<" d ">") { dir = 1 }
        END { exit !(renamed && dir) }' &&
        ok "$(basename "$f").tmp fsynced before its rename, the directory after it" ||
        fail "no fsync of the file before the rename and of the directory after it"
    [ "$(stat -c %s "$f")" -le $(( $(stat -c %b "$f") * 512 )) ] &&
        [ $(( $(stat -c %b "$f") * 512 )) -lt $(( $(stat -c %s "$f") + 65536 )) ] &&
        ok "no reserved space left beyond the checkpoint's end" ||
        fail "$f: $(stat -c '%s bytes, %b blocks' "$f")"
fi
finish "all passed"
