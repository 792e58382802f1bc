#!/usr/bin/env bash
# Damaged checkpoints (issue 13): every array in a checkpoint carries a CRC-32 (attribute crc32,
# checkpoint format 2) verified on load, and --resume skips a newest checkpoint that cannot be
# read back intact for the newest one that can, saying so in one warning line.
# A run on 3 ranks stopped after step 30 holds ckpt-12, ckpt-24 and ckpt-30. For each damage
# of ckpt-30 (truncated to half, to 4 KiB, to 0 bytes; random bytes; one bit flipped in a
# layer's weights, in the optimizer state, in /metrics; the checksum attribute removed):
#  - --resume exits 0 with exactly one "nntrain: warning:" line naming ckpt-30, why, and
#    ckpt-24; the finished model.h5 is bitwise the uninterrupted run's (resume is exact);
#  - the damaged ckpt-30 is left as it was (not overwritten or removed).
# Also: every checkpoint damaged -> exit 3 and one error line naming the newest; a format-1
# checkpoint (no checksums, written before them) still resumes.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir ckptv
PY=/usr/bin/python3
"$NNDATA" make-moons 400 "$T/m.h5" --seed 3 > /dev/null
cat > "$T/j.ini" <<INI
[data]
train = $T/m.h5
[model]
layers = 2, 16, 16, 2
activation = tanh
dropout = 0.1
[optimizer]
name = adam
lr = 0.01
[train]
epochs = 4
batch_size = 32
[checkpoint]
keep = 10
INI
# 360 training rows, batch 32: 12 steps per epoch, 48 in all; a checkpoint every epoch
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/full" || fail "uninterrupted run"
NNTRAIN_STOP_AT_STEP=30 mpi 3 -x NNTRAIN_STOP_AT_STEP "$NNTRAIN" train --config "$T/j.ini" --quiet \
    --set output.dir="$T/stop" > "$T/stop.out" 2>&1 || fail "stop at 30: $(cat "$T/stop.out")"
[ "$(ls "$T/stop/checkpoints")" = "$(printf 'ckpt-12.h5\nckpt-24.h5\nckpt-30.h5')" ] ||
    fail "checkpoints after the stop: $(ls "$T/stop/checkpoints" | tr '\n' ' ')"
h5dump -a /model/layer0/weight/crc32 "$T/stop/checkpoints/ckpt-30.h5" | grep -q "H5T_STD_U32LE" ||
    fail "ckpt-30 has no crc32 attribute on /model/layer0/weight"

# flip BIT of the byte at OFFSET into dataset DSET's data (contiguous) of FILE
flip() {
    $PY - "$@" <<'PY'
import sys, h5py
f, dset, off = sys.argv[1], sys.argv[2], int(sys.argv[3])
with h5py.File(f, "r") as h:
    base = h[dset].id.get_offset()
with open(f, "r+b") as fp:
    fp.seek(base + off); b = fp.read(1); fp.seek(base + off); fp.write(bytes([b[0] ^ 0x10]))
PY
}
# damage NAME: breaks $T/NAME/checkpoints/ckpt-30.h5 in the way NAME says
damage() {
    local c="$T/$1/checkpoints/ckpt-30.h5" size
    size=$(stat -c %s "$c")
    case $1 in
        half) truncate -s $((size / 2)) "$c" ;;
        4k) truncate -s 4096 "$c" ;;
        empty) : > "$c" ;;
        random) head -c "$size" /dev/urandom > "$c" ;;
        weightbit) flip "$c" /model/layer1/weight 37 ;;
        statebit) flip "$c" /optimizer/state 100 ;;
        metricsbit) flip "$c" /metrics 8 ;;
        nocrc) $PY -c "import h5py,sys; h5py.File(sys.argv[1],'r+')['/optimizer/state'].attrs.__delitem__('crc32')" "$c" ;;
    esac
}
for d in half 4k empty random weightbit statebit metricsbit nocrc; do
    cp -a "$T/stop" "$T/$d"
    damage "$d"
    before=$(sha256sum < "$T/$d/checkpoints/ckpt-30.h5")
    mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/$d" --resume > "$T/$d.out" 2> "$T/$d.err"
    rc=$?
    # (3 ranks on this 2-core machine also warn about oversubscription: not counted)
    warn=$(grep -v oversubscribes "$T/$d.err" | grep -c "^nntrain: warning:")
    line=$(grep -v oversubscribes "$T/$d.err" | grep "^nntrain: warning:")
    if [ $rc = 0 ] && [ "$warn" = 1 ] && [[ "$line" == *"ckpt-30.h5"*"resuming from"*"ckpt-24.h5"* ]] &&
       ! grep -q "^nntrain: error" "$T/$d.err"; then ok "$d: ${line#nntrain: warning: }"
    else fail "$d: exit $rc, $warn warning(s): $(cat "$T/$d.err")"; fi
    h5diff -q "$T/full/model.h5" "$T/$d/model.h5" /model /model 2>/dev/null &&
        ok "$d: resumed from step 24, bitwise the uninterrupted run" || fail "$d: model differs from the uninterrupted run"
    [ "$(sha256sum < "$T/$d/checkpoints/ckpt-30.h5")" = "$before" ] || fail "$d: the damaged ckpt-30 was changed"
done
for w in weightbit statebit metricsbit; do
    grep -q "fails its checksum" "$T/$w.err" || fail "$w: the warning does not say the checksum failed"
done
grep -q "has no checksum" "$T/nocrc.err" || fail "nocrc: the warning does not say the checksum is missing"

# every checkpoint damaged: one error naming the newest, exit 3 (bad input)
cp -a "$T/stop" "$T/all"
for c in "$T"/all/checkpoints/ckpt-*.h5; do truncate -s 1000 "$c"; done
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/all" --resume > "$T/all.out" 2> "$T/all.err"
rc=$?
if [ $rc = 3 ] && [ "$(grep -c "^nntrain: error:" "$T/all.err")" = 1 ] &&
   grep -q "^nntrain: error: $T/all/checkpoints/ckpt-30.h5: .*no older checkpoint can be read either" "$T/all.err"; then
    ok "all damaged: $(grep "^nntrain: error:" "$T/all.err")"
else fail "all damaged: exit $rc: $(cat "$T/all.err")"; fi

# format 1 (before checksums): no crc32 attributes, checkpoint_format_version = 1 -> resumes
cp -a "$T/stop" "$T/v1"
$PY - "$T/v1/checkpoints/ckpt-30.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as h:
    h.attrs["checkpoint_format_version"] = np.int32(1)
    h.visititems(lambda n, o: o.attrs.__delitem__("crc32") if isinstance(o, h5py.Dataset) and "crc32" in o.attrs else None)
PY
mpi 3 "$NNTRAIN" train --config "$T/j.ini" --quiet --set output.dir="$T/v1" --resume > "$T/v1.out" 2> "$T/v1.err" &&
    ! grep -v oversubscribes "$T/v1.err" | grep -q "warning" && h5diff -q "$T/full/model.h5" "$T/v1/model.h5" /model /model &&
    ok "format 1 (no checksums) resumes from step 30, bitwise" || fail "format 1: $(cat "$T/v1.err")"
finish
