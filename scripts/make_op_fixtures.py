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
  before = floor(total/2), after = the rest (max pool pads with -inf; average
  pool averages over the in-bounds entries only, the padding is not counted).
* Layer ops (build_layer_ops):
  depthwise_conv2d  kernel [kh, kw, in, mult], bias [in*mult]; output channel
                    c*mult + m is input channel c filtered by kernel[..., c, m];
  avgpool2d         attrs poolSize/strides/padding as maxpool2d;
  global_avgpool2d  mean over H and W: [N, H, W, C] -> [N, C];
  batchnorm         inference: gamma*(x - moving_mean)/sqrt(moving_variance + eps)
                    + beta over the last axis, eps = 1e-3 (Keras' default); the
                    moving statistics are constant inputs (not in wrt);
  layernorm         the same with mean and biased variance of x over the last
                    axis (eps 1e-3 inside the sqrt);
  embedding         y = table[indices], indices "int32" (a constant input);
  add / multiply / concatenate (axis -1) of two inputs.

The script checks itself: for 2 randomly chosen cases (fixed seed) and for every
layer-op case the torch HVP must agree with a central finite difference of the
float64 gradient (eps = 1e-6) to 1e-6 relative. ``--check-all`` checks every case.
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


def depthwise_conv2d_nhwc(x, kernel, bias, strides, padding):
    """TF depthwise conv: kernel [kh, kw, in, mult]; output channel c*mult + m
    = sum over the window of x[..., c] * kernel[..., c, m]."""
    kh, kw, cin, mult = kernel.shape
    sh, sw = strides
    xc = x.permute(0, 3, 1, 2)
    # torch groups=cin: output o belongs to group o // mult, i.e. o = c*mult + m.
    w = kernel.permute(2, 3, 0, 1).reshape(cin * mult, 1, kh, kw)
    if padding == "same":
        top, bottom = same_pad(x.shape[1], kh, sh)
        left, right = same_pad(x.shape[2], kw, sw)
        xc = F.pad(xc, (left, right, top, bottom))
    y = F.conv2d(xc, w, bias, stride=(sh, sw), groups=cin)
    return y.permute(0, 2, 3, 1)


def avgpool_nhwc(x, pool, strides, padding):
    """TF average pool: with "same" padding the mean is over the in-bounds
    window entries only (padding is not counted)."""
    ph, pw = pool
    sh, sw = strides
    xc = x.permute(0, 3, 1, 2)
    if padding == "same":
        top, bottom = same_pad(x.shape[1], ph, sh)
        left, right = same_pad(x.shape[2], pw, sw)
        ones = torch.ones_like(xc[:1, :1])
        total = F.avg_pool2d(F.pad(xc, (left, right, top, bottom)), (ph, pw), stride=(sh, sw))
        count = F.avg_pool2d(F.pad(ones, (left, right, top, bottom)), (ph, pw), stride=(sh, sw))
        y = total / count
    else:
        y = F.avg_pool2d(xc, (ph, pw), stride=(sh, sw))
    return y.permute(0, 2, 3, 1)


def batchnorm_inference(x, mean, variance, gamma, beta, eps):
    """Keras BatchNormalization at inference (last axis): moving statistics."""
    return gamma * (x - mean) / torch.sqrt(variance + eps) + beta


def layernorm_last(x, gamma, beta, eps):
    """Keras LayerNormalization over the last axis: biased variance, eps inside the sqrt."""
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return gamma * (x - mean) / torch.sqrt(var + eps) + beta


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

    # layer ops (added later; written before mlp_chain so that ops.json only
    # gains lines: every old line, mlp_chain's included, stays byte-identical)
    build_layer_ops()

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


LAYER_OP_CASES = []   # names of the cases made by build_layer_ops(); fd-checked by default


def build_layer_ops():
    start = len(CASES)

    # depthwise conv2d: kernel [kh, kw, in, depth_multiplier], bias [in * mult]
    dws = [
        ("depthwise_conv2d_same_s1", (2, 5, 5, 3), (3, 3, 3, 2), 1, "same"),
        ("depthwise_conv2d_valid_s2", (1, 7, 7, 2), (3, 3, 2, 1), 2, "valid"),
    ]
    for name, xs, ks, s, pad in dws:
        r = rng_for(name)
        inputs = {"x": normal(r, xs), "kernel": normal(r, ks, 1.0 / math.sqrt(ks[0] * ks[1])),
                  "bias": normal(r, (ks[2] * ks[3],))}
        add_case(name, "depthwise_conv2d", {"strides": [s, s], "padding": pad, "dilations": [1, 1]},
                 inputs, ["x", "kernel", "bias"],
                 (lambda s_, p_: lambda t: depthwise_conv2d_nhwc(t["x"], t["kernel"], t["bias"], (s_, s_), p_))(s, pad),
                 "half-weighted-square", r)

    # average pool (wrt x); "same" averages over the in-bounds entries only
    avgs = [
        ("avgpool_valid_2", (2, 4, 4, 3), 2, 2, "valid"),
        ("avgpool_same_3s2", (1, 5, 5, 2), 3, 2, "same"),
    ]
    for name, xs, k, s, pad in avgs:
        r = rng_for(name)
        add_case(name, "avgpool2d", {"poolSize": [k, k], "strides": [s, s], "padding": pad},
                 {"x": normal(r, xs)}, ["x"],
                 (lambda k_, s_, p_: lambda t: avgpool_nhwc(t["x"], (k_, k_), (s_, s_), p_))(k, s, pad),
                 "half-weighted-square", r)

    r = rng_for("global_avgpool2d")
    add_case("global_avgpool2d", "global_avgpool2d", {"keepdims": False},
             {"x": normal(r, (2, 3, 4, 5))}, ["x"],
             lambda t: t["x"].mean(dim=(1, 2)), "half-weighted-square", r)

    # batch normalization at inference: moving statistics are constant inputs
    r = rng_for("batchnorm_inference")
    inputs = {"x": normal(r, (4, 3, 3, 2)),
              "gamma": f32(r.uniform(0.5, 1.5, 2) * r.choice([-1.0, 1.0], 2)),
              "beta": normal(r, (2,), 0.5),
              "moving_mean": normal(r, (2,), 0.5),
              "moving_variance": f32(r.uniform(0.3, 2.0, 2))}
    add_case("batchnorm_inference", "batchnorm", {"epsilon": 1e-3, "axis": -1},
             inputs, ["x", "gamma", "beta"],
             lambda t: batchnorm_inference(t["x"], t["moving_mean"], t["moving_variance"],
                                           t["gamma"], t["beta"], 1e-3),
             "half-weighted-square", r)

    # layer normalization over the last axis (statistics computed from x)
    r = rng_for("layernorm")
    inputs = {"x": normal(r, (3, 4, 6)),
              "gamma": f32(r.uniform(0.5, 1.5, 6) * r.choice([-1.0, 1.0], 6)),
              "beta": normal(r, (6,), 0.5)}
    add_case("layernorm", "layernorm", {"axis": -1, "epsilon": 1e-3},
             inputs, ["x", "gamma", "beta"],
             lambda t: layernorm_last(t["x"], t["gamma"], t["beta"], 1e-3),
             "half-weighted-square", r)

    # embedding lookup: y = table[indices]; derivatives wrt the table only
    r = rng_for("embedding")
    indices = r.integers(0, 7, size=(3, 4)).astype(np.int64)
    assert len(np.unique(indices)) < indices.size  # some index repeats (12 draws from 7)
    add_case("embedding", "embedding", {},
             {"indices": indices, "table": normal(r, (7, 5))}, ["table"],
             lambda t: t["table"][t["indices"].long()], "half-weighted-square", r,
             dtypes={"indices": "int32"})

    # merge ops
    r = rng_for("add")
    add_case("add", "add", {}, {"a": normal(r, (3, 4)), "b": normal(r, (3, 4))}, ["a", "b"],
             lambda t: t["a"] + t["b"], "half-weighted-square", r)
    r = rng_for("multiply")
    add_case("multiply", "multiply", {}, {"a": normal(r, (3, 4)), "b": normal(r, (3, 4))}, ["a", "b"],
             lambda t: t["a"] * t["b"], "half-weighted-square", r)
    r = rng_for("concatenate")
    add_case("concatenate", "concatenate", {"axis": -1},
             {"a": normal(r, (2, 3, 4)), "b": normal(r, (2, 3, 2))}, ["a", "b"],
             lambda t: torch.cat([t["a"], t["b"]], dim=-1), "half-weighted-square", r)

    LAYER_OP_CASES.extend(c["name"] for c, _ in CASES[start:])


def main():
    check_all = "--check-all" in sys.argv[1:]
    build()
    names = [c["name"] for c, _ in CASES]
    assert len(set(names)) == len(names)

    picker = np.random.default_rng(BASE_SEED)
    idx = range(len(CASES)) if check_all else sorted(picker.choice(len(CASES), size=2, replace=False))
    if not check_all:  # plus every layer-op case (cheap)
        idx = sorted(set(idx) | {i for i, (c, _) in enumerate(CASES) if c["name"] in LAYER_OP_CASES})
    worst = 0.0
    for i in idx:
        case, spec = CASES[i]
        rel = fd_check(case, spec)
        print("fd check %-26s rel err %.2e" % (case["name"], rel))
        worst = max(worst, rel)
    print("fd check: %d cases, worst rel err %.2e" % (len(idx), worst))

    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    text = "[\n" + ",\n".join(json.dumps(c, separators=(",", ":"), allow_nan=False) for c, _ in CASES) + "\n]\n"
    with open(OUT_PATH, "w") as fh:
        fh.write(text)
    print("wrote %s: %d cases, %d bytes" % (os.path.relpath(OUT_PATH, ROOT), len(CASES), len(text)))
    for c, _ in CASES:
        print("  %-26s wrt=%-38s out=%s" % (c["name"], ",".join(c["wrt"]), c["expected"]["outputShape"]))


if __name__ == "__main__":
    main()
