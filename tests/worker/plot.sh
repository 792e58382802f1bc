#!/usr/bin/env bash
# nntrain plot: learning curves of real runs as PNG (gnuplot).
#  - a classification run (validation split + test set) and a regression run without a
#    validation split (val columns are nan) both plot: PNG signature, IHDR width/height as
#    requested (default 1000x450, --size), a plausible file size;
#  - --out to a path with spaces and a quote; --help;
#  - errors: missing run directory, header-only metrics.csv, garbage CSV, a bad row, --out into
#    a missing directory, gnuplot not on PATH, usage errors: each is exactly one
#    "nntrain: error:" line naming the file, the documented exit code, and no PNG (not even a
#    partial one or a .tmp) is left behind; a good curves.png is never replaced by a failure.
set -u
. "$(dirname "$0")/lib.sh"
nt_tmpdir plot

command -v gnuplot > /dev/null || { echo "FAIL: gnuplot is not installed (apt-get install gnuplot-nox; launch/test installs it)"; exit 1; }

# png_check FILE W H: PNG signature, IHDR size, 10 KiB .. 2 MiB
png_check() {
    local f=$1 w=$2 h=$3
    [ -f "$f" ] || { fail "$f: missing"; return 1; }
    local sig dims size
    sig=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
    [ "$sig" = 89504e470d0a1a0a ] || { fail "$f: not a PNG (signature $sig)"; return 1; }
    [ "$(od -An -c -j12 -N4 "$f" | tr -d ' \n')" = IHDR ] || { fail "$f: no IHDR chunk first"; return 1; }
    dims=$(od -An -tu1 -j16 -N8 "$f" | awk '{ printf "%dx%d", (($1*256+$2)*256+$3)*256+$4, (($5*256+$6)*256+$7)*256+$8 }')
    [ "$dims" = "${w}x${h}" ] || { fail "$f: IHDR $dims, expected ${w}x${h}"; return 1; }
    size=$(stat -c %s "$f")
    [ "$size" -gt 10000 ] && [ "$size" -lt 2000000 ] || { fail "$f: implausible size $size bytes"; return 1; }
    ok "$(basename "$f"): PNG ${dims}, $size bytes"
}

# expect_err RC PATTERN CMD...: exactly one stderr line, "nntrain: error: ..." matching PATTERN
expect_err() {
    local want=$1 pat=$2; shift 2
    "$@" > "$T/out" 2> "$T/err"
    local rc=$? n
    n=$(wc -l < "$T/err")
    if [ $rc = "$want" ] && [ "$n" = 1 ] && grep -q "^nntrain: error: .*$pat" "$T/err"; then
        ok "exit $rc: $(cat "$T/err")"
    else
        fail "$*: rc $rc (want $want), $n stderr line(s): $(cat "$T/err")"
    fi
}
no_png() { # DIR: no *.png or *.png.tmp.* left
    local left
    left=$(find "$1" -maxdepth 1 -name '*.png*' 2> /dev/null)
    [ -z "$left" ] || fail "left behind: $left"
}

# ---- a classification run: validation split and test set --------------------------------------
"$NNDATA" make-moons 600 "$T/d.h5" --noise 0.2 --seed 1 > /dev/null
"$NNDATA" make-moons 300 "$T/t.h5" --noise 0.2 --seed 2 > /dev/null
cat > "$T/c.ini" <<INI
[data]
train = $T/d.h5
test = $T/t.h5
val_fraction = 0.2
[model]
layers = 2, 16, 16, 2
activation = tanh
[optimizer]
lr = 0.01
[train]
epochs = 4
batch_size = 32
[output]
dir = $T/cls
INI
mpi 2 "$NNTRAIN" train --config "$T/c.ini" --quiet || fail "classification training"
"$NNTRAIN" plot "$T/cls" > "$T/out" 2> "$T/err" && [ ! -s "$T/err" ] || fail "plot cls: $(cat "$T/err")"
grep -q "curves.png: 4 epochs plotted" "$T/out" || fail "plot message: $(cat "$T/out")"
png_check "$T/cls/curves.png" 1000 450
"$NNTRAIN" plot "$T/cls" --out "$T/cls-small.png" --size 640x480 > /dev/null || fail "plot --size"
png_check "$T/cls-small.png" 640 480
[ -z "$(find "$T/cls" -name '*.tmp*')" ] || fail "a .tmp file was left in $T/cls"

# ---- a regression run without a validation split (val columns are nan) ------------------------
"$NNDATA" make-regression 800 "$T/r.h5" --features 2 --noise 0.1 --seed 1 > /dev/null
cat > "$T/r.ini" <<INI
[data]
train = $T/r.h5
val_fraction = 0
[model]
layers = 2, 32, 1
activation = tanh
[loss]
name = mse
[optimizer]
lr = 0.01
[train]
epochs = 5
batch_size = 32
[output]
dir = $T/reg
INI
mpi 2 "$NNTRAIN" train --config "$T/r.ini" --quiet || fail "regression training"
head -1 "$T/reg/metrics.csv" | grep -q "train_rmse" && grep -q "nan" "$T/reg/metrics.csv" \
    || fail "regression metrics.csv without validation: $(head -2 "$T/reg/metrics.csv")"
mkdir -p "$T/it's a dir"
"$NNTRAIN" plot "$T/reg/" --out "$T/it's a dir/reg curves.png" > /dev/null 2> "$T/err" || fail "plot reg: $(cat "$T/err")"
png_check "$T/it's a dir/reg curves.png" 1000 450

# ---- help and usage ---------------------------------------------------------------------------
"$NNTRAIN" plot --help > "$T/help" && grep -q "usage: nntrain plot RUN_DIR" "$T/help" && ok "plot --help" || fail "plot --help"
expect_err 2 "plot needs RUN_DIR" "$NNTRAIN" plot
expect_err 2 "unknown option '--bogus'" "$NNTRAIN" plot "$T/cls" --bogus
expect_err 2 "--size" "$NNTRAIN" plot "$T/cls" --size 10x10

# ---- bad input: exit 3, one line naming the file, no PNG --------------------------------------
expect_err 3 "$T/nope" "$NNTRAIN" plot "$T/nope"
mkdir -p "$T/hdr" "$T/garbage" "$T/badrow" "$T/empty" "$T/nocsv"
head -1 "$T/cls/metrics.csv" > "$T/hdr/metrics.csv"
expect_err 3 "$T/hdr/metrics.csv: no epochs yet" "$NNTRAIN" plot "$T/hdr"
no_png "$T/hdr"
printf 'this is not,a metrics file\n\x01\x02 garbage\n' > "$T/garbage/metrics.csv"
expect_err 3 "$T/garbage/metrics.csv:1: not an nntrain metrics.csv" "$NNTRAIN" plot "$T/garbage"
no_png "$T/garbage"
{ head -3 "$T/cls/metrics.csv"; echo "3,0.5,abc,0.4,0.8,1000,1.0,0.01,0.4,0.8,0.0,0.0,0.0"; } > "$T/badrow/metrics.csv"
expect_err 3 "$T/badrow/metrics.csv:4: .*'abc' is not a number" "$NNTRAIN" plot "$T/badrow"
no_png "$T/badrow"
: > "$T/empty/metrics.csv"
expect_err 3 "$T/empty/metrics.csv: empty" "$NNTRAIN" plot "$T/empty"
expect_err 3 "$T/nocsv/metrics.csv: no such file" "$NNTRAIN" plot "$T/nocsv"
no_png "$T/nocsv"

# ---- runtime failures: exit 1 -----------------------------------------------------------------
expect_err 1 "$T/missing/dir/c.png: cannot create" "$NNTRAIN" plot "$T/cls" --out "$T/missing/dir/c.png"
[ -e "$T/missing" ] && fail "--out into a missing directory created something"
expect_err 1 "gnuplot not found; apt-get install gnuplot-nox" env PATH=/nonexistent "$NNTRAIN" plot "$T/cls" --out "$T/nogp.png"
no_png "$T/nogp.png"
[ -e "$T/nogp.png" ] && fail "gnuplot missing, yet $T/nogp.png exists"

# a failure never replaces a good image
cp "$T/cls/curves.png" "$T/good.png"
cp "$T/cls/metrics.csv" "$T/cls/metrics.good"
echo "garbage row" >> "$T/cls/metrics.csv"
expect_err 3 "$T/cls/metrics.csv:6: " "$NNTRAIN" plot "$T/cls"
cmp -s "$T/good.png" "$T/cls/curves.png" && ok "failed plot left the earlier curves.png untouched" || fail "curves.png changed by a failed plot"
[ -z "$(find "$T/cls" -name '*.tmp*')" ] || fail "a .tmp file was left in $T/cls"

finish
