#!/usr/bin/python3
"""PyTorch reference side of nntrain's benchmark (see bench/README.md).

Trains the same MLP nntrain trains, on the same HDF5 files, and reports training
throughput (samples/s) and test accuracy:

    /usr/bin/python3 bench/torch_mlp.py --train data/fashion-train.h5 \
        --test data/fashion-test.h5 --layers 784,256,256,10 --activation relu \
        --optimizer adam --lr 0.001 --batch 128 --epochs 1 --threads 2 [--json]

Time-to-accuracy options (bench/time_to_accuracy.sh): --dropout P (after every hidden
activation, as nntrain's [model] dropout), --schedule cosine (CosineAnnealingLR over the
--epochs, stepped once per epoch, as nntrain's [schedule] name = cosine), --label-smoothing,
--eval-every-epoch (test accuracy after every epoch, printed to stderr and listed in the
JSON as epoch_test_acc; not timed). --warmup-steps 0 trains from the initial model.

Dataset layout (the one nntrain reads): /X (N, D) uint8 or float32 with an optional
float attribute "scale" (multiplied in on read) and optional float arrays "mean" and "std"
(D values each: x = (stored * scale - mean) / std, as nntrain), /y (N) integer labels 0..K-1.

The training loop is what an efficient PyTorch user writes: the whole train set is a
float32 tensor in memory, each epoch is a torch.randperm(N) cut into contiguous batches
(the last partial batch kept), no DataLoader. Only the training steps of the timed
epochs are timed; loading, the --warmup-steps untimed steps before them and the test
evaluation are not.
"""
import argparse
import json
import os
import sys
import time

PROG = "torch_mlp.py"


def fail(msg):
    print(f"{PROG}: {msg}", file=sys.stderr)
    sys.exit(1)


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {s!r}")
    return v


def nonneg_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {s!r}")
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {s!r}")
    return v


def layer_list(s):
    try:
        v = [int(t) for t in s.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated sizes like 784,256,10: {s!r}")
    if len(v) < 2 or any(n < 1 for n in v):
        raise argparse.ArgumentTypeError(f"need at least 2 sizes, all >= 1: {s!r}")
    return v


def parse_args(argv):
    try:
        default_threads = len(os.sched_getaffinity(0))
    except AttributeError:
        default_threads = os.cpu_count() or 1
    p = argparse.ArgumentParser(prog=PROG, description="PyTorch MLP reference for nntrain's benchmark")
    p.add_argument("--train", default="data/fashion-train.h5", help="train HDF5 file (default %(default)s)")
    p.add_argument("--test", default="data/fashion-test.h5", help="test HDF5 file (default %(default)s)")
    p.add_argument("--layers", type=layer_list, default=layer_list("784,256,256,10"),
                   help="layer sizes, input first, classes last (default 784,256,256,10)")
    p.add_argument("--activation", choices=("relu", "sigmoid", "tanh"), default="relu")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam")
    p.add_argument("--lr", type=float, default=0.001)
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum (default %(default)s)")
    p.add_argument("--batch", type=positive_int, default=128)
    p.add_argument("--epochs", type=positive_int, default=1, help="timed epochs (default %(default)s)")
    p.add_argument("--threads", type=positive_int, default=default_threads,
                   help="torch.set_num_threads (default: usable cores, %(default)s)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--warmup-steps", type=nonneg_int, default=20,
                   help="untimed training steps before the timed epochs (default %(default)s)")
    p.add_argument("--dropout", type=float, default=0.0,
                   help="drop probability after every hidden activation (default %(default)s)")
    p.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                   help="learning rate schedule: cosine = CosineAnnealingLR(T_max=--epochs), stepped per epoch")
    p.add_argument("--label-smoothing", type=float, default=0.0,
                   help="CrossEntropyLoss(label_smoothing=...) (default %(default)s)")
    p.add_argument("--eval-every-epoch", action="store_true",
                   help="test accuracy after every epoch (untimed; stderr, and epoch_test_acc in the JSON)")
    p.add_argument("--flush-denormal", action="store_true",
                   help="torch.set_flush_denormal(True), as nntrain's default flush_denormals")
    p.add_argument("--json", action="store_true", help="print one JSON object line instead of the human line")
    return p.parse_args(argv)


def load(path, what):
    """Return (X float32 numpy (N, D), y int64 numpy (N,)) from an nntrain dataset file."""
    import h5py
    import numpy as np
    if not os.path.exists(path):
        fail(f"{what} data file not found: {path}")
    try:
        with h5py.File(path, "r") as f:
            if "X" not in f or "y" not in f:
                fail(f"{path}: not an nntrain dataset (needs /X and /y)")
            dx, dy = f["X"], f["y"]
            if dx.ndim != 2 or dy.ndim != 1 or dx.shape[0] != dy.shape[0]:
                fail(f"{path}: bad shapes /X {dx.shape}, /y {dy.shape} (want (N, D) and (N))")
            X = dx[...]
            scale = None
            if "scale" in dx.attrs:
                scale = float(np.asarray(dx.attrs["scale"]).reshape(-1)[0])
            mean = std = None
            if "mean" in dx.attrs and "std" in dx.attrs:
                mean = np.asarray(dx.attrs["mean"], dtype=np.float32).reshape(-1)
                std = np.asarray(dx.attrs["std"], dtype=np.float32).reshape(-1)
                if mean.shape[0] != dx.shape[1] or std.shape[0] != dx.shape[1]:
                    fail(f"{path}: /X mean/std attributes have {mean.shape[0]}/{std.shape[0]} values, want {dx.shape[1]}")
            y = dy[...]
    except OSError as e:
        fail(f"{path}: cannot read: {e}")
    if not (np.issubdtype(X.dtype, np.floating) or X.dtype == np.uint8):
        fail(f"{path}: /X has dtype {X.dtype} (want uint8 or float)")
    if not np.issubdtype(y.dtype, np.integer):
        fail(f"{path}: /y has dtype {y.dtype} (want integer labels)")
    X = X.astype(np.float32, copy=False)
    if scale is not None:
        X *= np.float32(scale)
    if mean is not None:
        X -= mean
        X /= std
    return np.ascontiguousarray(X), y.astype(np.int64)


def check_data(path, X, y, layers):
    if X.shape[0] == 0:
        fail(f"{path}: empty dataset")
    if X.shape[1] != layers[0]:
        fail(f"{path}: /X has {X.shape[1]} features but --layers starts with {layers[0]}")
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= layers[-1]:
        fail(f"{path}: labels span {lo}..{hi} but --layers ends with {layers[-1]} classes")


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if not 0.0 <= args.dropout < 1.0:
        fail(f"--dropout must be in [0, 1): {args.dropout}")

    # Thread budget. Debian's torch does its GEMMs in the system OpenBLAS (pthreads build),
    # whose thread pool torch.set_num_threads does not control: by default it starts one
    # thread per core next to torch's OpenMP pool, and the two pools busy-wait against each
    # other (measured on 2 cores: ~9.5k samples/s for 784-256-256-10 at --threads 2, against
    # ~23k with this setting). So size OpenBLAS's pool to --threads too (overriding any
    # OPENBLAS_NUM_THREADS inherited from a driver that set it for nntrain's ranks), and let
    # OpenMP threads sleep rather than spin between parallel regions unless the caller chose
    # otherwise. Both are read when the libraries load, so this precedes importing
    # torch/numpy. With an MKL build of torch (PyPI wheels) they change nothing.
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    import torch
    import torch.nn as nn

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.flush_denormal:
        torch.set_flush_denormal(True)

    Xtr_np, ytr_np = load(args.train, "train")
    check_data(args.train, Xtr_np, ytr_np, args.layers)
    Xte_np, yte_np = load(args.test, "test")
    check_data(args.test, Xte_np, yte_np, args.layers)
    Xtr, ytr = torch.from_numpy(Xtr_np), torch.from_numpy(ytr_np)
    Xte, yte = torch.from_numpy(Xte_np), torch.from_numpy(yte_np)
    n = Xtr.shape[0]

    act = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[args.activation]
    mods = []
    for i in range(len(args.layers) - 1):
        if i > 0:
            mods.append(act())
            if args.dropout > 0:
                mods.append(nn.Dropout(args.dropout))
        mods.append(nn.Linear(args.layers[i], args.layers[i + 1]))
    model = nn.Sequential(*mods)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    if args.optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    else:
        opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    sched = None
    if args.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    model.train()

    def test_accuracy():
        model.eval()
        correct = 0
        with torch.no_grad():
            for s in range(0, Xte.shape[0], 4096):
                correct += int((model(Xte[s:s + 4096]).argmax(1) == yte[s:s + 4096]).sum())
        model.train()
        return correct / Xte.shape[0]

    def step(idx):
        xb = Xtr[idx]
        yb = ytr[idx]
        loss = loss_fn(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    # Warm-up: same model, same kind of batches, not counted.
    done = 0
    while done < args.warmup_steps:
        perm = torch.randperm(n)
        for s in range(0, n, args.batch):
            if done == args.warmup_steps:
                break
            step(perm[s:s + args.batch])
            done += 1

    secs = 0.0
    epoch_acc = []
    for e in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        for s in range(0, n, args.batch):
            step(perm[s:s + args.batch])
        if sched is not None:
            sched.step()
        secs += time.perf_counter() - t0
        if args.eval_every_epoch:
            epoch_acc.append(test_accuracy())
            print(f"epoch {e + 1}/{args.epochs} test_acc {epoch_acc[-1]:.4f} ({secs:.1f} s training)",
                  file=sys.stderr, flush=True)
    samples = n * args.epochs
    sps = samples / secs

    acc = epoch_acc[-1] if epoch_acc else test_accuracy()

    layers = "-".join(str(v) for v in args.layers)
    if args.json:
        out = {
            "layers": layers, "activation": args.activation, "optimizer": args.optimizer,
            "batch": args.batch, "threads": args.threads, "epochs": args.epochs,
            "samples_per_s": round(sps, 1), "train_seconds": round(secs, 4),
            "test_acc": round(acc, 4), "torch_version": torch.__version__,
        }
        if args.dropout > 0 or args.schedule != "constant" or args.label_smoothing > 0 or args.eval_every_epoch:
            out.update({"dropout": args.dropout, "schedule": args.schedule,
                        "label_smoothing": args.label_smoothing})
        if args.eval_every_epoch:
            out["epoch_test_acc"] = [round(a, 4) for a in epoch_acc]
        print(json.dumps(out))
    else:
        print(f"torch  {layers} {args.activation} {args.optimizer} b{args.batch} threads={args.threads}: "
              f"{sps:.0f} samples/s, test_acc {acc:.4f}, {secs:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
