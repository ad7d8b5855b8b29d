#!/usr/bin/env python3
"""Generate float64 gradcheck fixtures for every op Curvature Lens differentiates.

Run from the repository root:

    /usr/bin/python3 scripts/make_op_fixtures.py

It writes ``test/fixtures/ops.json`` (needs numpy and torch; deterministic: every
case draws from its own fixed seed, derived from the case name, so adding a case
never changes the others).

File format: a JSON list of cases, one per line. Each case is

    {"name", "op", "attrs",
     "inputs":  {NAME: {"shape": [...], "values": [...flat row-major...]}, ...},
     "wrt":     [NAME, ...],                 # inputs the derivatives are taken for
     "objective": "half-weighted-square" | "value",
     "c":       {"shape", "values"},         # only for "half-weighted-square"
     "v":       {NAME: [...flat...]},        # direction, one per wrt input
     "expected": {"f", "grad": {NAME: [...]}, "hvp": {NAME: [...]}, "outputShape"}}

Conventions:
* Layouts are TensorFlow / TF.js ones: images NHWC, conv kernels HWIO
  [kh, kw, in, out], dense kernels [in, out]; everything flattened row-major.
* Inputs, c and v are random, rounded to float32 and then used as float64, so
  TF.js sees exactly the numbers the reference used; they are written with full
  (float64 repr) precision. Integer labels carry "dtype": "int32"; everything
  else is float32.
* "half-weighted-square": f = 0.5 * sum(c * y**2) with y = op(inputs).
  "value": f = the op's scalar output (loss ops; means over the batch).
* expected.grad = df/d(wrt input); expected.hvp = H v, H the Hessian of f with
  respect to the concatenation of the wrt inputs (torch double backward:
  grad of <grad, v>). outputShape is the shape of y ([] for losses).
* Padding "same" follows TensorFlow: total = max((ceil(H/s)-1)*s + k - H, 0),
  before = floor(total/2), after = the rest (max pool pads with -inf).

The script checks itself: for 2 randomly chosen cases (fixed seed) the torch HVP
must agree with a central finite difference of the float64 gradient
(eps = 1e-6) to 1e-6 relative. ``--check-all`` checks every case.
"""

import json
import math
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_PATH = os.path.join(ROOT, "test", "fixtures", "ops.json")
BASE_SEED = 20240611


# ---------------------------------------------------------------- helpers

def rng_for(name):
    return np.random.default_rng([BASE_SEED, zlib.crc32(name.encode("utf-8"))])


def f32(a):
    """Round to float32, return as float64 (what TF.js will hold exactly)."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def normal(rng, shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def normal_away_from_zero(rng, shape, gap=0.05):
    x = rng.standard_normal(shape)
    while True:
        bad = np.abs(x) <= gap
        if not bad.any():
            break
        x[bad] = rng.standard_normal(int(bad.sum()))
    x = f32(x)
    assert np.all(np.abs(x) > gap)
    return x


def distinct(rng, shape):
    """Tie-free values: a random permutation of evenly spaced levels plus small
    noise (gap between any two values >= 0.5 level spacings), scaled to ~unit std."""
    n = int(np.prod(shape))
    levels = rng.permutation(n).astype(np.float64)
    levels += rng.uniform(-0.25, 0.25, n)
    x = f32((levels - (n - 1) / 2.0) / max(n / math.sqrt(12.0), 1.0))
    assert len(np.unique(x)) == n
    return x.reshape(shape)


def same_pad(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def tensor_spec(a, dtype=None):
    a = np.asarray(a)
    spec = {"shape": list(a.shape)}
    if dtype is not None:
        spec["dtype"] = dtype
    if a.dtype.kind in "iu":
        spec["values"] = [int(v) for v in a.ravel()]
    else:
        spec["values"] = [float(v) for v in a.ravel()]
    return spec


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


# ---------------------------------------------------------------- ops (torch, float64)

def conv2d_nhwc(x, kernel, bias, strides, padding):
    kh, kw = kernel.shape[0], kernel.shape[1]
    sh, sw = strides
    xc = x.permute(0, 3, 1, 2)                  # NHWC -> NCHW
    w = kernel.permute(3, 2, 0, 1)              # HWIO -> OIHW
    if padding == "same":
        top, bottom = same_pad(x.shape[1], kh, sh)
        left, right = same_pad(x.shape[2], kw, sw)
        xc = F.pad(xc, (left, right, top, bottom))
    y = F.conv2d(xc, w, bias, stride=(sh, sw))
    return y.permute(0, 2, 3, 1)                # NCHW -> NHWC


def maxpool_nhwc(x, pool, strides, padding):
    ph, pw = pool
    sh, sw = strides
    xc = x.permute(0, 3, 1, 2)
    if padding == "same":
        top, bottom = same_pad(x.shape[1], ph, sh)
        left, right = same_pad(x.shape[2], pw, sw)
        xc = F.pad(xc, (left, right, top, bottom), value=-math.inf)
    y = F.max_pool2d(xc, (ph, pw), stride=(sh, sw))
    return y.permute(0, 2, 3, 1)


def softmax_ce(logits, labels):
    return -(labels * F.log_softmax(logits, dim=-1)).sum(-1).mean()


ACTIVATIONS = {
    "relu": (lambda x: torch.relu(x), {}),
    "tanh": (lambda x: torch.tanh(x), {}),
    "sigmoid": (lambda x: torch.sigmoid(x), {}),
    "softmax": (lambda x: torch.softmax(x, dim=-1), {"axis": -1}),
    "linear": (lambda x: x, {}),
    "elu": (lambda x: F.elu(x, alpha=1.0), {"alpha": 1.0}),
    "softplus": (lambda x: torch.logaddexp(x, torch.zeros_like(x)), {}),
    "leaky_relu": (lambda x: F.leaky_relu(x, negative_slope=0.2), {"alpha": 0.2}),
    "gelu": (lambda x: 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0))), {"approximate": False}),
    "swish": (lambda x: x * torch.sigmoid(x), {}),
}
# Piecewise ops: keep inputs away from their kinks.
KINKED = {"relu", "leaky_relu", "elu"}


# ---------------------------------------------------------------- case machinery

CASES = []


def add_case(name, op, attrs, inputs, wrt, fn, objective, rng, dtypes=None):
    """inputs: dict name -> numpy array (float64 already float32-rounded, or int).
    fn: dict name -> torch tensor  ->  torch tensor (y, or scalar loss)."""
    dtypes = dtypes or {}
    case = {"name": name, "op": op, "attrs": attrs,
            "inputs": {k: tensor_spec(a, dtypes.get(k)) for k, a in inputs.items()},
            "wrt": list(wrt), "objective": objective}
    # Forward once to learn the output shape (and draw c with the right shape).
    with torch.no_grad():
        y0 = fn({k: torch.from_numpy(np.array(a)) for k, a in inputs.items()})
    out_shape = list(y0.shape)
    c = None
    if objective == "half-weighted-square":
        c = normal(rng, out_shape)
        case["c"] = tensor_spec(c)
    else:
        assert y0.dim() == 0, name
    v = {k: normal(rng, np.shape(inputs[k])) for k in wrt}
    case["v"] = {k: [float(e) for e in v[k].ravel()] for k in wrt}

    spec = {"inputs": inputs, "wrt": list(wrt), "fn": fn, "objective": objective, "c": c, "v": v}
    f, grads, hvps = derivatives(spec)
    case["expected"] = {"f": f,
                        "grad": {k: flat(g) for k, g in zip(wrt, grads)},
                        "hvp": {k: flat(h) for k, h in zip(wrt, hvps)},
                        "outputShape": out_shape}
    CASES.append((case, spec))


def objective_fn(spec):
    fn, objective, c = spec["fn"], spec["objective"], spec["c"]
    ct = None if c is None else torch.from_numpy(np.array(c))

    def f(tensors):
        y = fn(tensors)
        if objective == "half-weighted-square":
            return 0.5 * (ct * y * y).sum()
        return y
    return f


def leaves(spec, shift=None):
    """Fresh torch tensors for the inputs; wrt ones require grad. shift: dict of
    float64 arrays added to the wrt inputs (for finite differences)."""
    t = {}
    for k, a in spec["inputs"].items():
        a = np.array(a)
        if shift is not None and k in shift:
            a = a + shift[k]
        t[k] = torch.tensor(a, requires_grad=k in spec["wrt"])
    return t


def derivatives(spec):
    f_of = objective_fn(spec)
    t = leaves(spec)
    params = [t[k] for k in spec["wrt"]]
    f = f_of(t)
    grads = torch.autograd.grad(f, params, create_graph=True)
    vt = [torch.from_numpy(np.array(spec["v"][k])) for k in spec["wrt"]]
    gv = sum((g * v).sum() for g, v in zip(grads, vt))
    if gv.requires_grad:
        hvps = torch.autograd.grad(gv, params, allow_unused=True)
    else:
        hvps = [None] * len(params)
    hvps = [torch.zeros_like(p) if h is None else h for h, p in zip(hvps, params)]
    return float(f), [g.detach() for g in grads], [h.detach() for h in hvps]


def gradient_at(spec, shift):
    f_of = objective_fn(spec)
    t = leaves(spec, shift)
    params = [t[k] for k in spec["wrt"]]
    return torch.autograd.grad(f_of(t), params)


def fd_check(case, spec, eps=1e-6, rtol=1e-6):
    v = spec["v"]
    gp = gradient_at(spec, {k: eps * v[k] for k in spec["wrt"]})
    gm = gradient_at(spec, {k: -eps * v[k] for k in spec["wrt"]})
    fd = torch.cat([((a - b) / (2 * eps)).reshape(-1) for a, b in zip(gp, gm)])
    hvp = torch.cat([torch.tensor(case["expected"]["hvp"][k]) for k in spec["wrt"]])
    scale = float(hvp.abs().max())
    err = float((fd - hvp).abs().max())
    rel = err / scale if scale > 0 else err
    assert scale > 0, "%s: zero HVP, finite-difference check is vacuous" % case["name"]
    assert rel <= rtol, "%s: HVP vs finite difference rel err %.3g > %g" % (case["name"], rel, rtol)
    return rel


# ---------------------------------------------------------------- cases

def build():
    # dense
    r = rng_for("dense")
    add_case("dense", "dense", {},
             {"x": normal(r, (4, 5)), "kernel": normal(r, (5, 3)), "bias": normal(r, (3,))},
             ["x", "kernel", "bias"],
             lambda t: t["x"] @ t["kernel"] + t["bias"],
             "half-weighted-square", r)

    # activations on x [3, 7]
    for name, (act, attrs) in ACTIVATIONS.items():
        r = rng_for(name)
        x = normal_away_from_zero(r, (3, 7)) if name in KINKED else normal(r, (3, 7))
        add_case(name, name, dict(attrs), {"x": x}, ["x"],
                 (lambda a: lambda t: a(t["x"]))(act), "half-weighted-square", r)

    # conv2d (bias included everywhere)
    convs = [
        ("conv2d_valid_s1", (2, 6, 6, 2), (3, 3, 2, 3), 1, "valid"),
        ("conv2d_same_s1", (2, 5, 5, 2), (3, 3, 2, 3), 1, "same"),
        ("conv2d_same_s2", (2, 5, 5, 3), (3, 3, 3, 4), 2, "same"),
        ("conv2d_valid_s2", (1, 7, 7, 2), (3, 3, 2, 2), 2, "valid"),
        ("conv2d_same_even_kernel", (1, 6, 6, 2), (2, 2, 2, 3), 1, "same"),
    ]
    for name, xs, ks, s, pad in convs:
        r = rng_for(name)
        inputs = {"x": normal(r, xs), "kernel": normal(r, ks, 1.0 / math.sqrt(ks[0] * ks[1] * ks[2])),
                  "bias": normal(r, (ks[3],))}
        add_case(name, "conv2d", {"strides": [s, s], "padding": pad, "dilations": [1, 1]},
                 inputs, ["x", "kernel", "bias"],
                 (lambda s_, p_: lambda t: conv2d_nhwc(t["x"], t["kernel"], t["bias"], (s_, s_), p_))(s, pad),
                 "half-weighted-square", r)

    # max pool (wrt x; tie-free inputs)
    pools = [
        ("maxpool_valid_2", (2, 4, 4, 3), 2, 2, "valid"),
        ("maxpool_valid_3s2", (1, 7, 7, 2), 3, 2, "valid"),
        ("maxpool_same_2", (1, 5, 5, 2), 2, 2, "same"),
        ("maxpool_same_3s1", (1, 4, 4, 1), 3, 1, "same"),
    ]
    for name, xs, k, s, pad in pools:
        r = rng_for(name)
        add_case(name, "maxpool2d", {"poolSize": [k, k], "strides": [s, s], "padding": pad},
                 {"x": distinct(r, xs)}, ["x"],
                 (lambda k_, s_, p_: lambda t: maxpool_nhwc(t["x"], (k_, k_), (s_, s_), p_))(k, s, pad),
                 "half-weighted-square", r)

    # flatten / reshape
    r = rng_for("flatten")
    add_case("flatten", "flatten", {}, {"x": normal(r, (2, 3, 3, 2))}, ["x"],
             lambda t: t["x"].reshape(t["x"].shape[0], -1), "half-weighted-square", r)
    r = rng_for("reshape")
    add_case("reshape", "reshape", {"shape": [2, 9, 2]}, {"x": normal(r, (2, 3, 3, 2))}, ["x"],
             lambda t: t["x"].reshape(2, 9, 2), "half-weighted-square", r)

    # losses (objective "value", mean over the batch)
    r = rng_for("sparse_softmax_ce")
    labels = r.integers(0, 4, size=6).astype(np.int64)
    add_case("sparse_softmax_ce", "sparse_softmax_ce", {"reduction": "mean"},
             {"logits": normal(r, (6, 4)), "labels": labels}, ["logits"],
             lambda t: F.cross_entropy(t["logits"], t["labels"].long(), reduction="mean"),
             "value", r, dtypes={"labels": "int32"})

    r = rng_for("softmax_ce")
    logits = normal(r, (6, 4))
    hot = r.integers(0, 4, size=6)
    z = 0.5 * r.standard_normal((6, 4))
    z[np.arange(6), hot] += 3.0
    soft = np.exp(z - z.max(-1, keepdims=True))
    soft = f32(soft / soft.sum(-1, keepdims=True))
    assert np.allclose(soft.sum(-1), 1.0, atol=1e-6)
    add_case("softmax_ce", "softmax_ce", {"reduction": "mean"},
             {"logits": logits, "labels": soft}, ["logits"],
             lambda t: softmax_ce(t["logits"], t["labels"]), "value", r)

    r = rng_for("sigmoid_bce")
    add_case("sigmoid_bce", "sigmoid_bce", {"reduction": "mean"},
             {"logits": normal(r, (8, 1)), "labels": f32(r.integers(0, 2, size=(8, 1)))}, ["logits"],
             lambda t: F.binary_cross_entropy_with_logits(t["logits"], t["labels"], reduction="mean"),
             "value", r)

    r = rng_for("mse")
    add_case("mse", "mse", {"reduction": "mean"},
             {"pred": normal(r, (5, 3)), "targets": normal(r, (5, 3))}, ["pred"],
             lambda t: ((t["pred"] - t["targets"]) ** 2).mean(), "value", r)

    # composite: softmax-CE(dense2(tanh(dense1(x))))
    r = rng_for("mlp_chain")
    n, d, h, k = 4, 5, 6, 3
    onehot = np.zeros((n, k))
    onehot[np.arange(n), r.integers(0, k, size=n)] = 1.0
    inputs = {"x": normal(r, (n, d)),
              "kernel1": normal(r, (d, h), 1.0 / math.sqrt(d)), "bias1": normal(r, (h,), 0.5),
              "kernel2": normal(r, (h, k), 1.0 / math.sqrt(h)), "bias2": normal(r, (k,), 0.5),
              "labels": f32(onehot)}
    add_case("mlp_chain", "mlp_chain",
             {"layers": ["dense(kernel1,bias1)", "tanh", "dense(kernel2,bias2)"],
              "loss": "softmax_ce", "reduction": "mean"},
             inputs, ["x", "kernel1", "bias1", "kernel2", "bias2"],
             lambda t: softmax_ce(torch.tanh(t["x"] @ t["kernel1"] + t["bias1"]) @ t["kernel2"] + t["bias2"],
                                  t["labels"]),
             "value", r)


def main():
    check_all = "--check-all" in sys.argv[1:]
    build()
    names = [c["name"] for c, _ in CASES]
    assert len(set(names)) == len(names)

    picker = np.random.default_rng(BASE_SEED)
    idx = range(len(CASES)) if check_all else sorted(picker.choice(len(CASES), size=2, replace=False))
    for i in idx:
        case, spec = CASES[i]
        rel = fd_check(case, spec)
        print("fd check %-26s rel err %.2e" % (case["name"], rel))

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    text = "[\n" + ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c, _ in CASES) + "\n]\n"
    with open(OUT_PATH, "w") as fh:
        fh.write(text)
    print("wrote %s: %d cases, %d bytes" % (os.path.relpath(OUT_PATH, ROOT), len(CASES), len(text)))
    for c, _ in CASES:
        print("  %-26s wrt=%-38s out=%s" % (c["name"], ",".join(c["wrt"]), c["expected"]["outputShape"]))


if __name__ == "__main__":
    main()
