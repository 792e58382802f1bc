#!/usr/bin/python3
"""Tables and scaling projection from the results of bench/cluster.sh (build/bench-cluster/).

    /usr/bin/python3 bench/project.py [--results build/bench-cluster] [--epochs 2]

Reads CONFIG-LAYOUT-rROUND.csv (nntrain metrics.csv of one run) and allreduce-*.txt
(bench/allreduce_bench.c output) and prints markdown:

1. per config and layout: samples/s, ratio to 1 node x 2 ranks, gradient allreduce and its
   exposed part per step (ms), exposed / allreduce, gradient bytes per step (params x 4);
   figures over epochs 2..EPOCHS of the round with the best samples/s;
2. the alpha-beta fit of each allreduce sweep (medians of the blocking MPI_Allreduce):
   T(P, n) = 2(P-1) alpha + 2(P-1)/P n beta (ring allreduce), alpha from the smallest message,
   beta by least squares on relative error over --fit-min..--fit-max (1..16 MiB);
3. the projection for configs b and c at P = 2..1024 ranks (strong scaling: the configured
   global batch; weak scaling: batch per rank fixed), 10gbit (the fit) and 100gbit (beta / 10,
   alpha unchanged), for three exchange models:
     none:    exposed = T_ar (no overlap);
     now:     exposed = f x T_ar, f = exposed / allreduce measured on 2 nodes x 1 rank, 10gbit;
     overlap: exposed = max(0, T_ar - backward), backward = 2/3 of the per-rank compute;
   per-rank compute per step = (t1 - u) / P + u, with t1 the 1-rank step time and u the part
   that does not shrink with P (optimizer update etc.), u = 2 t2 - t1 with t2 the compute part
   (step minus exposed allreduce) of 1 node x 2 ranks;
4. the projection against the measured 2- and 4-rank runs.
"""
import argparse
import csv
import glob
import math
import os
import sys

import numpy as np

CONFIGS = {  # name: (description, layers, global batch)
    "a": ("784-100-10 sigmoid Adam b64", [784, 100, 10], 64),
    "b": ("784-256-256-10 ReLU Adam b128", [784, 256, 256, 10], 128),
    "c": ("784-1024-1024-10 ReLU SGD-m b256", [784, 1024, 1024, 10], 256),
}
LAYOUTS = [  # name, description, ranks
    ("1x2", "1 node x 2 ranks (shared memory)", 2),
    ("2x1-10g", "2 nodes x 1 rank, 10gbit", 2),
    ("2x1-1g", "2 nodes x 1 rank, 1gbit", 2),
    ("1x1", "1 rank x 1 thread", 1),
    ("2x2-10g", "2 nodes x 2 ranks, 10gbit (4 ranks on 2 cores)", 4),
]
TRAIN_ROWS = 60000


def params(layers):
    return sum(a * b + b for a, b in zip(layers, layers[1:]))


def run_figures(path, epochs, batch):
    """samples/s, allreduce s/step, exposed s/step over epochs 2..E (1 when E = 1)."""
    with open(path) as f:
        rows = [r for r in csv.DictReader(f)]
    rows = [r for r in rows if epochs == 1 or int(r["epoch"]) > 1]
    steps = math.ceil(TRAIN_ROWS / batch) * len(rows)
    t = sum(TRAIN_ROWS / float(r["samples_per_s"]) for r in rows)
    return (TRAIN_ROWS * len(rows) / t, sum(float(r["allreduce_s"]) for r in rows) / steps,
            sum(float(r["allreduce_exposed_s"]) for r in rows) / steps)


def best_run(res, cfg, layout, epochs):
    runs = [run_figures(p, epochs, CONFIGS[cfg][2]) for p in glob.glob(f"{res}/{cfg}-{layout}-r*.csv")]
    return max(runs) if runs else None


def read_sweep(path):
    d = np.loadtxt(path, comments="#")
    return d[:, 0], int(d[0, 1]), d[:, 3]  # bytes, ranks, median seconds


def fit(n, P, t, lo):
    """alpha, beta of T = 2(P-1) alpha + 2(P-1)/P n beta: alpha from the smallest message,
    beta by least squares on relative error over the sizes >= lo (alpha fixed). The links'
    tbf burst (5 ms at the rate) lets small messages through at the veth's speed, so one
    line through all sizes fits neither end."""
    alpha = t[0] / (2 * (P - 1))
    sel = n >= lo
    x = 2 * (P - 1) / P * n[sel] / t[sel]
    y = (t[sel] - 2 * (P - 1) * alpha) / t[sel]
    beta = float(x @ y / (x @ x))
    return alpha, beta


def t_ar(P, n, alpha, beta):
    return 0.0 if P == 1 else 2 * (P - 1) * alpha + 2 * (P - 1) / P * n * beta


def interp(n_meas, t_meas, n):
    return float(np.exp(np.interp(np.log(n), np.log(n_meas), np.log(t_meas))))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default="build/bench-cluster")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=0, help="only printed")
    ap.add_argument("--fit-min", type=float, default=1 << 20,
                    help="beta from message sizes from this many bytes (default 1 MiB)")
    ap.add_argument("--fit-max", type=float, default=16 << 20,
                    help="fit on message sizes up to this many bytes (default 16 MiB: the "
                         "gradients are 0.3-7.5 MB; above, tbf's queue makes the time grow faster)")
    a = ap.parse_args()
    res = a.results
    B = {}
    print(f"### Throughput and gradient exchange per layout (best of {a.rounds or '?'} rounds, "
          f"epochs {'2..' + str(a.epochs) if a.epochs > 1 else '1'})\n")
    print("| config | grad bytes/step | layout | samples/s | ratio to 1x2 | allreduce ms/step "
          "| exposed ms/step | exposed / allreduce |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for c, (desc, layers, batch) in CONFIGS.items():
        ref = best_run(res, c, "1x2", a.epochs)
        for lname, ldesc, P in LAYOUTS:
            r = best_run(res, c, lname, a.epochs)
            if r is None:
                continue
            B[c, lname] = r
            sps, ar, ex = r
            frac = f"{ex / ar:.2f}" if ar > 5e-6 else "-"
            print(f"| {desc} | {params(layers) * 4 / 1e6:.2f} MB | {ldesc} | {sps:.0f} | "
                  f"{sps / ref[0]:.2f} | {ar * 1e3:.2f} | {ex * 1e3:.2f} | {frac} |")

    print("\n### Allreduce vs message size (blocking MPI_Allreduce, as nntrain reduces a gradient that fits one bucket; median of up to 200 calls)\n")
    sweeps = {}
    for p in sorted(glob.glob(f"{res}/allreduce-*.txt")):
        key = os.path.basename(p)[len("allreduce-"):-4]
        sweeps[key] = read_sweep(p)
    keys = list(sweeps)
    n0 = sweeps[keys[0]][0]
    print("| bytes | " + " | ".join(f"{k} ms" for k in keys) + " |")
    print("|---:|" + "---:|" * len(keys))
    for i, n in enumerate(n0):
        print(f"| {int(n)} | " + " | ".join(f"{sweeps[k][2][i] * 1e3:.3f}" for k in keys) + " |")
    fits = {}
    print(f"\nFit T(P, n) = 2(P-1) alpha + 2(P-1)/P n beta (ring allreduce) to the medians: "
          f"alpha from the 4 KiB time, beta by least squares on relative error over "
          f"{a.fit_min / 1048576:.0f}..{a.fit_max / 1048576:.0f} MiB; the error is the largest "
          f"relative one over that range (below 1 MiB the links' tbf burst lets messages through "
          f"faster than the fit says):\n")
    print("| sweep | P | alpha (us) | 1/beta (Gbit/s) | max rel. error |")
    print("|---|---:|---:|---:|---:|")
    for k, (n, P, t) in sweeps.items():
        sel = n <= a.fit_max
        al, be = fit(n[sel], P, t[sel], a.fit_min)
        fits[k] = (al, be)
        big = sel & (n >= a.fit_min)
        err = max(abs(t_ar(P, x, al, be) - y) / y for x, y in zip(n[big], t[big]))
        print(f"| {k} | {P} | {al * 1e6:.1f} | {8 / be / 1e9:.2f} | {err:.0%} |")

    # ---- the compute model ----
    al10, be10 = fits["2x1-10gbit"]
    links = {"10gbit": (al10, be10), "100gbit": (al10, be10 / 10)}
    model = {}
    print("\n### Compute model (per step, from the 1-rank and 1 node x 2 ranks runs)\n")
    print("| config | t1 = 1-rank step (ms) | 2-rank compute t2 (ms) | u = 2 t2 - t1 (ms) "
          "| exposed fraction f (2x1, 10gbit) |")
    print("|---|---:|---:|---:|---:|")
    for c in ("b", "c"):
        desc, layers, batch = CONFIGS[c]
        t1 = batch / B[c, "1x1"][0]
        sps2, ar2, ex2 = B[c, "1x2"]
        t2 = batch / sps2 - ex2
        u = min(max(0.0, 2 * t2 - t1), t1)
        ar, ex = B[c, "2x1-10g"][1:]
        f = ex / ar if ar > 0 else 1.0
        model[c] = (t1, u, f, batch, params(layers) * 4)
        print(f"| {desc} | {t1 * 1e3:.2f} | {t2 * 1e3:.2f} | {u * 1e3:.2f} | {f:.2f} |")

    def step(c, P, link, mode, per_rank_batch=None, cores=None):
        t1, u, f, batch, nbytes = model[c]
        al, be = link
        if per_rank_batch is None:  # strong scaling
            comp = (t1 - u) / P + u
        else:  # weak scaling
            comp = (t1 - u) * per_rank_batch / batch + u
        if cores and P > cores:  # more ranks than cores: they take turns
            comp *= P / cores
        T = t_ar(P, nbytes, al, be)
        exposed = {"none": T, "now": f * T, "overlap": max(0.0, T - 2 / 3 * (comp - u))}[mode]
        return comp, T, exposed

    print("\n### Projection: strong scaling (global batch as configured)\n")
    print("samples/s (parallel efficiency = samples/s / (P x 1-rank samples/s)); exchange "
          "models: none = no overlap, now = measured exposed fraction, overlap = hidden behind "
          "backward (2/3 of compute). 100gbit: beta / 10, alpha as measured.\n")
    Ps = [2 ** k for k in range(1, 11)]
    for c in ("b", "c"):
        t1, u, f, batch, nbytes = model[c]
        print(f"{CONFIGS[c][0]} (1 rank: {batch / t1:.0f} samples/s, {nbytes / 1e6:.2f} MB per allreduce)\n")
        cols = [(ln, m) for ln in links for m in ("none", "now", "overlap")]
        print("| P | T_ar 10gbit (ms) | " + " | ".join(f"{ln} {m}" for ln, m in cols) + " |")
        print("|---:|---:|" + "---:|" * len(cols))
        for P in Ps:
            if batch / P < 1:
                break
            cells = []
            for ln, m in cols:
                comp, T, ex = step(c, P, links[ln], m)
                sps = batch / (comp + ex)
                cells.append(f"{sps:.0f} ({sps / (P * batch / t1):.0%})")
            T10 = t_ar(P, nbytes, *links["10gbit"])
            print(f"| {P} | {T10 * 1e3:.2f} | " + " | ".join(cells) + " |")
        print()

    print("### Projection: weak scaling (batch per rank fixed at half the configured batch)\n")
    print("| config | P | " + " | ".join(f"{ln} {m}" for ln in links for m in ("none", "overlap")) + " |")
    print("|---|---:|" + "---:|" * 4)
    for c in ("b", "c"):
        t1, u, f, batch, nbytes = model[c]
        for P in (2, 16, 128, 1024):
            cells = []
            for ln in links:
                for m in ("none", "overlap"):
                    comp, T, ex = step(c, P, links[ln], m, per_rank_batch=batch / 2)
                    sps = P * batch / 2 / (comp + ex)
                    cells.append(f"{sps:.0f} ({sps / (P * batch / t1):.0%})")
            print(f"| {c} | {P} | " + " | ".join(cells) + " |")

    print("\n### Projection vs measurement\n")
    print("Predicted with the 'now' model (the measured exposed fraction of 2x1 10gbit) and the "
          "fit of the layout's sweep (2x1); 2x2: 4 ranks on 2 cores, so compute x 2 "
          "(ranks take turns), T_ar from the 2x1 10gbit fit at P = 4.\n")
    print("Second pair of columns: the same compute model with T_ar read off the layout's own "
          "sweep at the gradient size (interpolated) instead of the fit.\n")
    print("| config | layout | allreduce ms/step: fit | sweep | nntrain measured "
          "| samples/s predicted (fit) | (sweep) | measured | pred / meas (fit) | (sweep) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    checks = [("2x1-10g", 2, "2x1-10gbit", "2x1-10gbit"), ("2x1-1g", 2, "2x1-1gbit", "2x1-1gbit"),
              ("2x2-10g", 4, "2x1-10gbit", "2x2-10gbit")]
    for c in ("b", "c"):
        for lname, P, fk, sk in checks:
            if (c, lname) not in B or fk not in fits or sk not in sweeps:
                continue
            comp, T, ex = step(c, P, fits[fk], "now", cores=2)
            f = model[c][2]
            Ts = interp(sweeps[sk][0], sweeps[sk][2], model[c][4])
            sps_p, sps_s = model[c][3] / (comp + ex), model[c][3] / (comp + f * Ts)
            sps_m, ar_m, _ = B[c, lname]
            print(f"| {c} | {lname} | {T * 1e3:.2f} | {Ts * 1e3:.2f} | {ar_m * 1e3:.2f} | {sps_p:.0f} | "
                  f"{sps_s:.0f} | {sps_m:.0f} | {sps_p / sps_m:.2f} | {sps_s / sps_m:.2f} |")
    if "2x2-10gbit" in sweeps:
        n, P, t = sweeps["2x2-10gbit"]
        print("\nAllreduce at P = 4 (2 nodes x 2 ranks, 10gbit): the 2x1 fit's prediction vs the sweep:\n")
        print("| bytes | predicted ms | measured ms |")
        print("|---:|---:|---:|")
        for c in ("b", "c"):
            nb = model[c][4]
            print(f"| {nb} ({c}) | {t_ar(4, nb, al10, be10) * 1e3:.2f} | {interp(n, t, nb) * 1e3:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
