#!/usr/bin/env bash
# Convert Debian's Fashion-MNIST IDX files (package dataset-fashion-mnist) into nntrain's HDF5
# layout: OUTDIR/fashion-train.h5 (60000 images) and OUTDIR/fashion-test.h5 (10000 images).
# Usage: datasets/fashion-mnist.sh [NNDATA] [OUTDIR]   (defaults: build/nndata, data)
set -euo pipefail

nndata=${1:-build/nndata}
outdir=${2:-data}
# FASHION_MNIST_DIR overrides the package's location (the tests use it for the missing case).
src=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}

die() { echo "fashion-mnist.sh: error: $*" >&2; exit 1; }

[[ -d $src ]] || die "$src: not found; apt-get install dataset-fashion-mnist"
[[ -x $nndata ]] || die "$nndata: nndata not found or not executable (build it first)"
mkdir -p -- "$outdir"

# IDX prefix in the package -> output name.
for pair in train:fashion-train t10k:fashion-test; do
    prefix=${pair%%:*}
    out=$outdir/${pair#*:}.h5
    if [[ -e $out ]]; then
        echo "$out exists, skipping"
        continue
    fi
    images=$src/$prefix-images-idx3-ubyte.gz
    labels=$src/$prefix-labels-idx1-ubyte.gz
    for f in "$images" "$labels"; do
        [[ -r $f ]] || die "$f: missing; apt-get install dataset-fashion-mnist"
    done
    "$nndata" import-idx "$images" "$labels" "$out"
done
