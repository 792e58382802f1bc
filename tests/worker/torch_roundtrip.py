#!/usr/bin/python3
"""Round trip to PyTorch: load an nntrain checkpoint's /model into a torch.nn.Sequential with
h5py (the snippet in docs/checkpoints.md), run it on the dataset, and compare with nntrain's
`predict` output: identical predicted classes, probabilities within 1e-5.
usage: torch_roundtrip.py CHECKPOINT DATA.h5 PREDICTIONS.h5"""
import sys
import h5py
import numpy as np
import torch
nn = torch.nn


def load_sequential(path):
    f = h5py.File(path, "r")
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "selu": nn.SELU,
            "gelu": nn.GELU, "softplus": nn.Softplus}
    mods, i = [], 0
    while f"model/layer{i}" in f:
        g = f[f"model/layer{i}"]
        w = torch.tensor(g["weight"][()])
        lin = nn.Linear(w.shape[1], w.shape[0], bias="bias" in g)
        lin.weight.data = w
        if "bias" in g:
            lin.bias.data = torch.tensor(g["bias"][()])
        mods.append(lin)
        a = g.attrs["activation"]
        a = a.decode() if isinstance(a, bytes) else a
        if a in acts:
            mods.append(acts[a]())
        elif a == "leaky_relu":
            mods.append(nn.LeakyReLU(float(g.attrs["negative_slope"])))
        elif a == "elu":
            mods.append(nn.ELU(float(g.attrs["alpha"])))
        i += 1
    return nn.Sequential(*mods)


def main():
    ckpt, data, pred = sys.argv[1:4]
    model = load_sequential(ckpt).eval()
    d = h5py.File(data, "r")
    x = d["X"][()].astype(np.float32)
    if "scale" in d["X"].attrs:
        x = x * np.float32(d["X"].attrs["scale"])
    with torch.no_grad():
        z = model(torch.from_numpy(x))
        p = torch.softmax(z, dim=1).numpy() if z.shape[1] > 1 else torch.sigmoid(z).numpy()
        c = z.argmax(dim=1).numpy() if z.shape[1] > 1 else (z[:, 0] > 0).numpy().astype(np.int32)
    q = h5py.File(pred, "r")
    qp, qc = q["probabilities"][()], q["predictions"][()]
    worst = float(np.abs(qp - p).max())
    same = int((qc == c).sum())
    print(f"torch round trip: {same}/{len(c)} predictions identical, max |prob diff| {worst:.2e}")
    ok = same == len(c) and worst <= 1e-5 and len(c) == x.shape[0]
    sys.exit(0 if ok else 1)


main()
