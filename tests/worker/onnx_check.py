"""Helpers of tests/worker/export.sh (python3-onnx, h5py, numpy):

  onnx_check.py checker FILE.onnx...             onnx.checker.check_model(full_check=True) on each
  onnx_check.py prepare MODEL.h5 DATA.h5 DIR [--extra]
      DIR/probe.h5      DATA's rows as nntrain reads them (stored x scale, float32; the /X mean
                        and std attributes kept), with --extra also rows of zeros and rows
                        scaled by +-40 (pre-activations past softplus's threshold, exact 0)
      DIR/probe.f32     the same rows, raw float32, for ONNX Runtime
      DIR/logits.h5     MODEL with /model@loss = mse, and DIR/logits-data.h5 the probe rows with
                        zero float targets: `nntrain predict` then writes the raw outputs (logits)
  onnx_check.py compare DIR LOSS K ORT_OUT.f32 [ORT_PROBS.f32]
      ORT's outputs against DIR/pred.h5 (nntrain predict: /probabilities and /predictions, or
      /outputs) and DIR/pred-logits.h5 (/outputs = logits). Prints the largest differences and
      the argmax agreement; exits 1 when logits differ by more than 1e-5 (relative to the
      logit's size where it is above 1), probabilities by more than 1e-5, or a class differs.
"""
import shutil
import sys

import h5py
import numpy as np

TOL = 1e-5


def checker(paths):
    import onnx
    bad = 0
    for p in paths:
        m = onnx.load(p)
        try:
            onnx.checker.check_model(m, full_check=True)
            ops = sorted({n.op_type for n in m.graph.node})
            print(f"checker ok: {p} (ir {m.ir_version}, opset {m.opset_import[0].version}, "
                  f"{' '.join(ops)})")
        except Exception as e:  # the checker's ValidationError, or shape inference's
            print(f"checker FAILED: {p}: {e}")
            bad += 1
    return 1 if bad else 0


def prepare(model, data, d, extra):
    with h5py.File(data, "r") as f:
        X = f["X"][...]
        scale = np.float32(f["X"].attrs.get("scale", 1.0))
        y = f["y"][...]
        norm = {k: f["X"].attrs[k] for k in ("mean", "std") if k in f["X"].attrs}
    X = X.astype(np.float32) * scale  # as nntrain converts a row: float(stored) * scale
    if extra:
        n = min(len(X), 50)
        X = np.concatenate([X, np.zeros((20, X.shape[1]), np.float32), X[:n] * np.float32(40),
                            X[:n] * np.float32(-40)])
        y = np.concatenate([y, y[:20], y[:n], y[:n]])
    X = np.ascontiguousarray(X, dtype=np.float32)
    with h5py.File(f"{d}/probe.h5", "w") as f:
        f["X"] = X
        f["y"] = y
        for k, v in norm.items():
            f["X"].attrs[k] = v
    X.tofile(f"{d}/probe.f32")
    shutil.copy(model, f"{d}/logits.h5")
    with h5py.File(f"{d}/logits.h5", "a") as f:
        K = f["model"][f"layer{len([k for k in f['model'] if k.startswith('layer')]) - 1}"]["weight"].shape[0]
        if "loss" in f["model"].attrs:
            del f["model"].attrs["loss"]
        f["model"].attrs.create("loss", np.bytes_("mse"))
    with h5py.File(f"{d}/logits-data.h5", "w") as f:
        f["X"] = X
        f["y"] = np.zeros((len(X), K), np.float32)
        for k, v in norm.items():
            f["X"].attrs[k] = v
    return 0


def load_f32(path, k):
    return np.fromfile(path, dtype=np.float32).reshape(-1, k)


def compare(d, loss, k, ort_out, ort_probs=None):
    k = int(k)
    z = load_f32(ort_out, k)
    with h5py.File(f"{d}/pred-logits.h5", "r") as f:
        ref = f["outputs"][...]
    assert ref.shape == z.shape, (ref.shape, z.shape)
    diff = np.abs(z.astype(np.float64) - ref)
    bound = TOL * np.maximum(1.0, np.abs(ref))
    worst = int(np.argmax(diff / bound))
    ok = bool((diff <= bound).all())
    msg = (f"{z.shape[0]} rows: logits max |ORT - predict| {diff.max():.3g} (largest |logit| "
           f"{np.abs(ref).max():.3g}; worst relative to bound {diff.flat[worst] / bound.flat[worst]:.3g})")
    if loss in ("cross_entropy", "bce_with_logits"):
        with h5py.File(f"{d}/pred.h5", "r") as f:
            prob, pred = f["probabilities"][...], f["predictions"][...]
        cls = (z[:, 0] > 0).astype(np.int32) if k == 1 else np.argmax(z, axis=1)
        same = int((cls == pred).sum())
        ok &= same == len(pred)
        msg += f"; argmax agrees on {same}/{len(pred)}"
        if ort_probs:
            p = load_f32(ort_probs, k)
            pd = np.abs(p.astype(np.float64) - prob).max()
            pcls = (p[:, 0] > 0.5).astype(np.int32) if k == 1 else np.argmax(p, axis=1)
            psame = int((pcls == pred).sum())
            ok &= pd <= TOL and psame == len(pred)
            msg += f"; probabilities max |ORT - predict| {pd:.3g}, argmax agrees on {psame}/{len(pred)}"
    print(("ok   " if ok else "FAIL ") + msg)
    return 0 if ok else 1


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "checker":
        return checker(args)
    if cmd == "prepare":
        return prepare(args[0], args[1], args[2], "--extra" in args[3:])
    if cmd == "compare":
        return compare(*args)
    raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
