#!/usr/bin/env python3
"""Make the ONNX test fixtures and their float64 PyTorch references.

Writes test/fixtures/onnx/:

  mlp/          model.onnx  torch.onnx.export (opset 13, dynamic batch) of
                              x [N, 2, 3] -> x.view(N, -1) -> fc1 Linear(6, 10) -> GELU (erf)
                              -> fc2 Linear(10, 8) -> tanh -> fc3 Linear(8, 4) -> log_softmax
                data.npz    x float32 [48, 2, 3], y int64 class labels
                reference.json
  cnn/          model.onnx  torch.onnx.export (opset 13, dynamic batch, training=PRESERVE so
                              BatchNorm stays a node) of x [N, 2, 8, 8] ->
                              features.0 Conv2d(2, 4, 3, padding=1) -> features.1 BatchNorm2d(4)
                              -> ReLU -> MaxPool2d(2) -> features.4 Conv2d(4, 3, 3, stride=2,
                              padding=1) -> tanh -> flatten -> fc Linear(12, 3) -> softmax
                data.npz    x float32 [40, 2, 8, 8] (NCHW), y int64 class labels
                reference.json
  cnn-external/ model.onnx + model.onnx.data: the cnn saved with external data
                (onnx.save_model(..., save_as_external_data=True, all_tensors_to_one_file=True,
                location="model.onnx.data", size_threshold=0)), the layout torch >= 2.9 writes
  ops/          <case>.onnx, one tiny model per group of mapped ops (torch.onnx.export where
                torch 1.13 emits the op; onnx.helper for Gelu (opset 20), Conv auto_pad SAME_UPPER
                with ReduceMean's axes as an input (opset 18), opset 11 Softmax/Squeeze/Unsqueeze and
                Gemm alpha/beta)
  ops.json      per case: the model file, x, y (targets), and the mean-squared-error loss
                L = mean((model(x) - y)^2), its gradient and one Hessian-vector product H v
                per parameter (by initializer name, flattened row-major), in float64
  bad/          ext-outside.onnx (external data location "../cnn-external/model.onnx.data"),
                ext-length.onnx (a length entry 4 bytes short), unknown-op.onnx (a Hardmax node)

reference.json (same fields as test/fixtures/models/*/reference.json): loss, gradient and Hessian
numbers of the mean loss over the data in float64 (torch.autograd.functional.hessian over the flat
vector of all parameters, in named_parameters order, PyTorch layout: Linear weight [out, in], Conv2d
weight [out, in, kh, kw]); the final softmax / log_softmax is fused into the cross-entropy (the
negative log-likelihood of log_softmax's output); BatchNorm in eval mode (running statistics are
constants). Layers are the modules owning parameters ("fc1", "features.0"); tensors are named as the
ONNX initializers are ("fc1.weight").

Self-checks: H symmetric; one Hessian column and one HVP agree with central differences of the float64
gradient; the float32 ONNX-exported model's output on x agrees with the float64 module's; ReLU
pre-activations and max-pool winners are not near ties (so float32 takes the same branches).

Run from the repository root:  /usr/bin/python3 scripts/make_onnx_fixtures.py
Needs numpy, torch (python3-torch 1.13) and onnx (python3-onnx 1.12). Deterministic (fixed seeds).
"""

import io
import json
import shutil
import sys
import zlib
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test" / "fixtures" / "onnx"


def export(module, x, opset=13, preserve=False):
    """torch.onnx.export to an onnx.ModelProto with a dynamic batch axis."""
    buf = io.BytesIO()
    kwargs = {"training": torch.onnx.TrainingMode.PRESERVE} if preserve else {}
    torch.onnx.export(
        module, x, buf, opset_version=opset, input_names=["x"], output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, **kwargs,
    )
    return onnx.load_from_string(buf.getvalue())


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, allow_nan=False) + "\n")


def flat_params(module):
    return [(n, p) for n, p in module.named_parameters()]


def functional(module64, names_shapes):
    """f(theta, x): the module's output with parameters from the flat float64 vector theta."""
    def call(theta, x):
        params, o = {}, 0
        for name, shape in names_shapes:
            k = int(np.prod(shape)) if shape else 1
            params[name] = theta[o:o + k].reshape(shape)
            o += k
        return torch.nn.utils.stateless.functional_call(module64, params, (x,))
    return call


def f32(a):
    return np.asarray(a, dtype=np.float32)


def eig_summary(eigs):
    eigs = np.sort(eigs)
    return [float(v) for v in eigs[::-1][:3]], [float(v) for v in eigs[:3]]


def check_margins(module64, x):
    """Smallest |ReLU input| and smallest gap between a max-pool window's two largest entries."""
    margins = {"relu": np.inf, "pool": np.inf}

    def relu_hook(_m, inp, _out):
        margins["relu"] = min(margins["relu"], float(inp[0].abs().min()))

    def pool_hook(m, inp, _out):
        t = inp[0]
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        s = m.stride if isinstance(m.stride, int) else m.stride[0]
        p = m.padding if isinstance(m.padding, int) else m.padding[0]
        extra = k if m.ceil_mode else 0  # windows that start in this padding hold no real entry
        t = F.pad(t.reshape(-1, 1, *t.shape[2:]), (p, p + extra, p, p + extra), value=-np.inf)
        u = F.unfold(t, k, stride=s)  # [N*C, k*k, L]
        top2 = u.topk(2, dim=1).values
        # Windows whose maximum is a ReLU's zero have zero gradient whichever entry wins.
        keep = torch.isfinite(top2[:, 0]) & (top2[:, 0] != 0)
        gap = (top2[:, 0] - top2[:, 1])[keep]
        margins["pool"] = min(margins["pool"], float(gap.min()))

    hooks = []
    for m in module64.modules():
        if isinstance(m, nn.ReLU):
            hooks.append(m.register_forward_hook(relu_hook))
        if isinstance(m, nn.MaxPool2d):
            hooks.append(m.register_forward_hook(pool_hook))
    with torch.no_grad():
        module64(x)
    for h in hooks:
        h.remove()
    return margins


# --------------------------------------------------------------------------
# Whole models: mlp and cnn with full float64 Hessians
# --------------------------------------------------------------------------


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(6, 10)
        self.fc2 = nn.Linear(10, 8)
        self.fc3 = nn.Linear(8, 4)

    def forward(self, x):
        x = x.view(x.size(0), -1)
        return F.log_softmax(self.fc3(torch.tanh(self.fc2(F.gelu(self.fc1(x))))), dim=-1)


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(4, 3, 3, stride=2, padding=1), nn.Tanh(),
        )
        self.fc = nn.Linear(12, 3)

    def forward(self, x):
        return F.softmax(self.fc(torch.flatten(self.features(x), 1)), dim=1)


def train_briefly(module, x, y, steps=30, lr=0.02):
    """A few Adam steps on the cross-entropy so the curvature is not that of a random init."""
    opt = torch.optim.Adam(module.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(steps):
        opt.zero_grad()
        out = module(xt)
        logp = out if module.__class__ is MLP else torch.log(out)
        F.nll_loss(logp, yt).backward()
        opt.step()


def build_model(name, module, x, y, preserve):
    """Export, write data, and compute the float64 reference of the NLL of the log-probabilities."""
    module.eval()
    for p in module.parameters():
        p.data = torch.from_numpy(f32(p.data.numpy()))
    proto = export(module, torch.from_numpy(x[:1]), preserve=preserve)
    out = OUT / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    onnx.save_model(proto, str(out / "model.onnx"))
    np.savez(out / "data.npz", x=x, y=y)

    m64 = __import__("copy").deepcopy(module).double().eval()
    names_shapes = [(n, tuple(p.shape)) for n, p in flat_params(m64)]
    theta = torch.cat([p.detach().reshape(-1) for _, p in flat_params(m64)]).clone()
    fwd = functional(m64, names_shapes)
    xt, yt = torch.from_numpy(x.astype(np.float64)), torch.from_numpy(y)
    log_probs = (lambda t: fwd(t, xt)) if isinstance(module, MLP) else (lambda t: torch.log_softmax(torch.log(fwd(t, xt)), -1))
    # The CNN's softmax output: cross-entropy on its logits = NLL of log(softmax); recompute the logits
    # path exactly (log of softmax is log_softmax of the logits up to round-off) through a hook-free
    # forward of the logits instead, for float64 accuracy.
    if not isinstance(module, MLP):
        def logits(t):
            params, o = {}, 0
            for n, s in names_shapes:
                k = int(np.prod(s))
                params[n] = t[o:o + k].reshape(s)
                o += k
            feats = torch.nn.utils.stateless.functional_call(m64.features, {k[len("features."):]: v for k, v in params.items() if k.startswith("features.")}, (xt,))
            return F.linear(torch.flatten(feats, 1), params["fc.weight"], params["fc.bias"])
        log_probs = lambda t: torch.log_softmax(logits(t), -1)
        with torch.no_grad():
            assert torch.allclose(torch.softmax(logits(theta), -1), fwd(theta, xt), atol=1e-12)
    f = lambda t: F.nll_loss(log_probs(t), yt)

    t = theta.clone().requires_grad_(True)
    loss = f(t)
    (g,) = torch.autograd.grad(loss, t)
    H = torch.autograd.functional.hessian(f, theta).numpy()
    sym = float(np.abs(H - H.T).max())
    assert sym <= 1e-12 * max(np.abs(H).max(), 1.0), sym
    H = 0.5 * (H + H.T)
    gn = g.numpy()
    Hg = H @ gn
    top, bottom = eig_summary(np.linalg.eigvalsh(H))

    # Finite-difference self-check (float64): one column and one random direction.
    rng = np.random.default_rng(1)
    def grad_at(tt):
        tt = tt.clone().requires_grad_(True)
        return torch.autograd.grad(f(tt), tt)[0].numpy()
    for d in [np.eye(theta.numel())[int(rng.integers(theta.numel()))], rng.standard_normal(theta.numel())]:
        d = d / np.linalg.norm(d)
        eps = 1e-5
        dt = torch.from_numpy(d)
        fd = (grad_at(theta + eps * dt) - grad_at(theta - eps * dt)) / (2 * eps)
        err = np.abs(fd - H @ d).max() / np.abs(H @ d).max()
        assert err < 1e-6, f"{name}: finite differences disagree ({err})"

    # The exported float32 graph computes what the float64 module does (checked through torch's own
    # float32 forward, which the exporter traced).
    with torch.no_grad():
        out32 = module(torch.from_numpy(x)).numpy()
        out64 = m64(xt).numpy()
    assert np.abs(out32 - out64).max() < 1e-4, "float32 and float64 forward passes differ"
    margins = check_margins(m64, xt)
    assert margins["relu"] > 1e-5 and margins["pool"] > 1e-5, margins

    diag = np.diag(H)
    layers, o = [], 0
    for n, s in names_shapes:
        layer = n.rsplit(".", 1)[0]
        k = int(np.prod(s))
        if not layers or layers[-1]["name"] != layer:
            layers.append({"name": layer, "start": o, "tensors": []})
        layers[-1]["tensors"].append({"name": n, "shape": list(s), "diagonal": [float(v) for v in diag[o:o + k]]})
        o += k
        layers[-1]["end"] = o
    ops_of = {n.input[1]: n.op_type for n in proto.graph.node if len(n.input) > 1}
    ref_layers = []
    for l in layers:
        idx = np.arange(l["start"], l["end"])
        bt, bb = eig_summary(np.linalg.eigvalsh(H[np.ix_(idx, idx)]))
        ref_layers.append({
            "name": l["name"], "className": ops_of.get(l["tensors"][0]["name"], "?"), "parameters": int(idx.size),
            "trace": float(diag[idx].sum()), "top": bt, "bottom": bb, "tensors": l["tensors"],
        })
    ref = {
        "lossName": "sparse-categorical-cross-entropy",
        "loss": float(loss), "parameters": int(theta.numel()), "examples": int(x.shape[0]),
        "gradientNorm": float(np.linalg.norm(gn)), "hessianGradientNorm": float(np.linalg.norm(Hg)),
        "gradientCurvature": float(gn @ Hg / (gn @ gn)), "trace": float(np.trace(H)),
        "top": top, "bottom": bottom, "hessianSymmetryError": sym, "layers": ref_layers,
    }
    write_json(out / "reference.json", ref)
    print(f"{name:5s} P={ref['parameters']} N={ref['examples']} loss={ref['loss']:.6f} trace={ref['trace']:.6f} "
          f"lmax={top[0]:.6f} lmin={bottom[0]:.4g} margins relu={margins['relu']:.2g} pool={margins['pool']:.2g}")
    return proto


def make_mlp():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    module = MLP()
    x = f32(rng.standard_normal((48, 2, 3)))
    teacher = rng.standard_normal((6, 4))
    y = np.argmax(x.reshape(48, -1) @ teacher + 0.5 * rng.standard_normal((48, 4)), axis=1).astype(np.int64)
    train_briefly(module, x, y)
    build_model("mlp", module, x, y, preserve=False)


def make_cnn():
    torch.manual_seed(2)
    rng = np.random.default_rng(2)
    module = CNN()
    x = f32(rng.standard_normal((40, 2, 8, 8)))
    y = rng.integers(0, 3, size=40).astype(np.int64)
    train_briefly(module, x, y, steps=20)
    bn = module.features[1]
    # Distinct eval statistics and affine parameters (torch deduplicates equal initializers).
    bn.running_mean.copy_(torch.from_numpy(f32(0.1 * rng.standard_normal(4))))
    bn.running_var.copy_(torch.from_numpy(f32(0.5 + rng.random(4))))
    proto = build_model("cnn", module, x, y, preserve=True)
    assert any(n.op_type == "BatchNormalization" for n in proto.graph.node)

    ext = OUT / "cnn-external"
    if ext.exists():
        shutil.rmtree(ext)
    ext.mkdir()
    m = onnx.load_from_string(proto.SerializeToString())
    onnx.save_model(m, str(ext / "model.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="model.onnx.data", size_threshold=0)
    assert (ext / "model.onnx.data").stat().st_size > 0

    bad = OUT / "bad"
    if bad.exists():
        shutil.rmtree(bad)
    bad.mkdir()
    # External data outside the model's folder.
    m = onnx.load(str(ext / "model.onnx"), load_external_data=False)
    for t in m.graph.initializer:
        for e in t.external_data:
            if e.key == "location":
                e.value = "../cnn-external/model.onnx.data"
    onnx.save_model(m, str(bad / "ext-outside.onnx"))
    # A length that disagrees with the tensor's dims.
    m = onnx.load(str(ext / "model.onnx"), load_external_data=False)
    t = m.graph.initializer[0]
    for e in t.external_data:
        if e.key == "length":
            e.value = str(int(e.value) - 4)
    onnx.save_model(m, str(bad / "ext-length.onnx"))
    shutil.copy(ext / "model.onnx.data", bad / "model.onnx.data")
    # An op outside the supported set.
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "fc.weight", "fc.bias"], ["h"], name="/fc/Gemm", transB=1),
         helper.make_node("Hardmax", ["h"], ["y"], name="/Hardmax", axis=-1)],
        "unknown", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(f32(np.ones((2, 3))), "fc.weight"), numpy_helper.from_array(f32(np.zeros(2)), "fc.bias")],
    )
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), str(bad / "unknown-op.onnx"))


# --------------------------------------------------------------------------
# Per-op gradcheck cases: MSE of a tiny model, gradient and one HVP in float64
# --------------------------------------------------------------------------


class Lambda(nn.Module):
    def __init__(self, fn, **mods):
        super().__init__()
        for k, v in mods.items():
            setattr(self, k, v)
        self.fn = fn

    def forward(self, x):
        return self.fn(self, x)


def op_cases():
    cases = []

    def add(name, module, in_shape, opset=13, preserve=False, tokens=None, proto=None):
        cases.append((name, module, in_shape, opset, preserve, tokens, proto))

    add("gemm_leakyrelu_tanh_sigmoid", Lambda(lambda s, x: torch.sigmoid(s.b(torch.tanh(F.leaky_relu(s.a(x), 0.1)))), a=nn.Linear(4, 5), b=nn.Linear(5, 3)), (4,))
    add("relu", Lambda(lambda s, x: s.b(F.relu(s.a(x))), a=nn.Linear(4, 6), b=nn.Linear(6, 2)), (4,))
    add("gelu_erf", Lambda(lambda s, x: s.b(F.gelu(s.a(x))), a=nn.Linear(4, 5), b=nn.Linear(5, 2)), (4,))
    add("gelu_tanh_opset20", None, (4,), opset=20)
    add("conv_same_upper_reducemean_opset18", None, (2, 6, 5), opset=18)
    add("softmax_squeeze_opset11", None, (4,), opset=11)
    add("matmul_bias_3d", Lambda(lambda s, x: s.b(torch.tanh(s.a(x))).mean(1), a=nn.Linear(4, 5), b=nn.Linear(5, 2, bias=False)), (3, 4))
    add("layernorm_decomposed", Lambda(lambda s, x: s.b(s.ln(s.a(x))), a=nn.Linear(4, 5), ln=nn.LayerNorm(5), b=nn.Linear(5, 2)), (4,))
    add("layernorm_opset17", Lambda(lambda s, x: s.b(s.ln(s.a(x))), a=nn.Linear(4, 5), ln=nn.LayerNorm(5), b=nn.Linear(5, 2)), (4,), opset=17)
    add("conv_groups_depthwise", Lambda(lambda s, x: torch.flatten(s.dw(torch.tanh(s.g(x))), 1),
                                        g=nn.Conv2d(4, 4, 3, padding=1, groups=2), dw=nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=4)), (4, 5, 5))
    add("conv_dilated_avgpool_nopad", Lambda(lambda s, x: torch.flatten(F.avg_pool2d(torch.tanh(s.c(x)), 2, stride=1, padding=1, count_include_pad=False), 1),
                                             c=nn.Conv2d(2, 3, 3, dilation=2, padding=2)), (2, 5, 5))
    add("pools_global", Lambda(lambda s, x: s.fc(torch.flatten(F.adaptive_avg_pool2d(F.avg_pool2d(s.mp(s.c(x)), 2), 1), 1)),
                               c=nn.Conv2d(2, 3, 3, padding=(1, 0)), mp=nn.MaxPool2d(3, stride=2, padding=1), fc=nn.Linear(3, 2)), (2, 9, 10))
    add("maxpool_ceil", Lambda(lambda s, x: torch.flatten(s.mp(s.c(x)), 1), c=nn.Conv2d(1, 2, 2), mp=nn.MaxPool2d(2, ceil_mode=True)), (1, 6, 6))
    add("batchnorm", Lambda(lambda s, x: torch.flatten(torch.tanh(s.bn(s.c(x))), 1), c=nn.Conv2d(2, 3, 2), bn=nn.BatchNorm2d(3)), (2, 4, 4), preserve=True)
    add("embedding", Lambda(lambda s, x: s.fc(torch.tanh(s.emb(x)).mean(1)), emb=nn.Embedding(7, 3), fc=nn.Linear(3, 2)), (5,), tokens=7)
    add("shapes_concat_gather_slice", Lambda(lambda s, x: shapes_fn(s, x), a=nn.Linear(6, 6), b=nn.Linear(4, 2)), (6,))
    add("elementwise", Lambda(lambda s, x: elementwise_fn(s, x), a=nn.Linear(3, 4), b=nn.Linear(3, 4)), (3,))
    add("softmax_logsoftmax_mid", Lambda(lambda s, x: s.c(F.log_softmax(s.b(F.softmax(s.a(x), dim=-1)), dim=-1)), a=nn.Linear(4, 5), b=nn.Linear(5, 4), c=nn.Linear(4, 2)), (4,))
    add("softmax_axis1_3d", Lambda(lambda s, x: s.b(F.softmax(s.a(x), dim=1)).flatten(1), a=nn.Linear(3, 4), b=nn.Linear(4, 2)), (3, 3))
    return cases


def shapes_fn(s, x):
    h = torch.tanh(s.a(x)).view(x.size(0), 2, 3)  # Shape-Gather-Unsqueeze-Concat-Reshape
    h = h.transpose(1, 2)  # [N, 3, 2]
    h = torch.cat([h, 2 * h], dim=2)  # [N, 3, 4]
    first = h[:, 0]  # Gather, constant index
    rest = h[:, 1:3]  # Slice
    return s.b(first * rest.sum(1)).unsqueeze(1).squeeze(1)


def elementwise_fn(s, x):
    a, b = s.a(x), s.b(x)
    return torch.cat([a * b, a / (b * b + 1), a - b, torch.exp(-a.abs()), torch.log(b.abs() + 1), torch.sqrt(a * a + 1), -b], dim=1)


def gelu_tanh_model(rng):
    w = f32(0.5 * rng.standard_normal((5, 4)))
    b = f32(0.1 * rng.standard_normal(5))
    w2 = f32(0.5 * rng.standard_normal((2, 5)))
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "a.weight", "a.bias"], ["h"], name="/a/Gemm", transB=1),
         helper.make_node("Gelu", ["h"], ["g"], name="/Gelu", approximate="tanh"),
         helper.make_node("MatMul", ["g", "b.weight_t"], ["y"], name="/b/MatMul")],
        "gelu20", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(w, "a.weight"), numpy_helper.from_array(b, "a.bias"), numpy_helper.from_array(w2.T.copy(), "b.weight_t")],
    )
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20)])
    proto.ir_version = 8

    class G(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 5)
            self.b_weight_t = nn.Parameter(torch.from_numpy(w2.T.copy()))
            self.a.weight.data = torch.from_numpy(w)
            self.a.bias.data = torch.from_numpy(b)

        def forward(self, x):
            return F.gelu(self.a(x), approximate="tanh") @ self.b_weight_t

    return proto, G(), {"b_weight_t": "b.weight_t"}


def conv_same_upper_model(rng):
    """Conv with auto_pad SAME_UPPER, stride 2 (pads: rows 0/1, columns 1/1 on a 6x5 input) -> tanh
    -> ReduceMean with axes as an input (opset 18)."""
    w = f32(0.4 * rng.standard_normal((3, 2, 3, 3)))
    b = f32(0.1 * rng.standard_normal(3))
    g = helper.make_graph(
        [helper.make_node("Conv", ["x", "c.weight", "c.bias"], ["h"], name="/c/Conv", auto_pad="SAME_UPPER", strides=[2, 2], kernel_shape=[3, 3]),
         helper.make_node("Tanh", ["h"], ["t"], name="/Tanh"),
         helper.make_node("ReduceMean", ["t", "axes"], ["y"], name="/ReduceMean", keepdims=0)],
        "same_upper", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 2, 6, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w, "c.weight"), numpy_helper.from_array(b, "c.bias"), numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "axes")],
    )
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    proto.ir_version = 8

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(2, 3, 3, stride=2)
            self.c.weight.data = torch.from_numpy(w)
            self.c.bias.data = torch.from_numpy(b)

        def forward(self, x):
            return torch.tanh(self.c(F.pad(x, (1, 1, 0, 1)))).mean((2, 3))

    return proto, M(), {}


def softmax_opset11_model(rng):
    """Opset 11: Softmax's default axis 1 on a matrix, Unsqueeze/Squeeze with axes attributes."""
    w = f32(0.5 * rng.standard_normal((5, 4)))
    b = f32(0.1 * rng.standard_normal(5))
    w2 = f32(0.5 * rng.standard_normal((2, 5)))
    b2 = f32(0.1 * rng.standard_normal(2))
    g = helper.make_graph(
        [helper.make_node("Gemm", ["x", "a.weight", "a.bias"], ["h"], name="/a/Gemm", transB=1),
         helper.make_node("Softmax", ["h"], ["s"], name="/Softmax"),
         helper.make_node("Unsqueeze", ["s"], ["u"], name="/Unsqueeze", axes=[1]),
         helper.make_node("Squeeze", ["u"], ["q"], name="/Squeeze", axes=[1]),
         helper.make_node("Gemm", ["q", "b.weight", "b.bias"], ["y"], name="/b/Gemm", transB=1, alpha=0.5, beta=2.0)],
        "softmax11", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 2])],
        [numpy_helper.from_array(w, "a.weight"), numpy_helper.from_array(b, "a.bias"), numpy_helper.from_array(w2, "b.weight"), numpy_helper.from_array(b2, "b.bias")],
    )
    proto = helper.make_model(g, opset_imports=[helper.make_opsetid("", 11)])
    proto.ir_version = 6

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 5)
            self.b = nn.Linear(5, 2)
            self.a.weight.data, self.a.bias.data = torch.from_numpy(w), torch.from_numpy(b)
            self.b.weight.data, self.b.bias.data = torch.from_numpy(w2), torch.from_numpy(b2)

        def forward(self, x):
            return 0.5 * F.linear(F.softmax(self.a(x), dim=1), self.b.weight) + 2.0 * self.b.bias

    return proto, M(), {}


HANDMADE = {"gelu_tanh_opset20": gelu_tanh_model, "conv_same_upper_reducemean_opset18": conv_same_upper_model, "softmax_squeeze_opset11": softmax_opset11_model}


def make_ops():
    d = OUT / "ops"
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    out = []
    for name, module, in_shape, opset, preserve, tokens, _ in op_cases():
        seed = zlib.crc32(name.encode())  # per case, so adding a case changes no other
        while True:
            case = make_case(name, module, in_shape, opset, preserve, tokens, seed)
            if case is not None:
                break
            seed += 1  # a max-pool near-tie: draw again
        out.append(case)
        print(f"op {name:36s} opset {opset} ops {','.join(case['ops'])} loss={case['loss']:.5f} seed={seed}")
    write_json(OUT / "ops.json", out)


def make_case(name, module, in_shape, opset, preserve, tokens, seed):
    module = __import__("copy").deepcopy(module)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    for m in module.modules() if module is not None else []:
        if m is not module and hasattr(m, "reset_parameters"):
            m.reset_parameters()  # this case's own seed, whatever the other cases are
    rename = {}
    if name in HANDMADE:
        proto, module, rename = HANDMADE[name](rng)
    n = 6
    if tokens:
        x = rng.integers(0, tokens, size=(n, *in_shape)).astype(np.int64)
    else:
        x = f32(rng.standard_normal((n, *in_shape)))
    module.eval()
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.from_numpy(f32(0.2 * rng.standard_normal(m.num_features))))
            m.running_var.copy_(torch.from_numpy(f32(0.5 + rng.random(m.num_features))))
            m.weight.data = torch.from_numpy(f32(1 + 0.3 * rng.standard_normal(m.num_features)))
            m.bias.data = torch.from_numpy(f32(0.2 * rng.standard_normal(m.num_features)))
        if isinstance(m, nn.LayerNorm):
            m.weight.data = torch.from_numpy(f32(1 + 0.3 * rng.standard_normal(m.weight.shape)))
            m.bias.data = torch.from_numpy(f32(0.2 * rng.standard_normal(m.bias.shape)))
    for p in module.parameters():
        p.data = torch.from_numpy(f32(p.data.numpy()))
    if name not in HANDMADE:
        proto = export(module, torch.from_numpy(x[:1]), opset=opset, preserve=preserve)
    init_names = {t.name for t in proto.graph.initializer}

    m64 = __import__("copy").deepcopy(module).double().eval()
    names_shapes = [(pn, tuple(p.shape)) for pn, p in m64.named_parameters()]
    onnx_name = {pn: rename.get(pn, pn) for pn, _ in names_shapes}
    # torch exports a Linear on 3-D data as MatMul with the transposed weight, named onnx::MatMul_*.
    transposed = set()
    for pn, s in names_shapes:
        if onnx_name[pn] not in init_names and pn.endswith(".weight") and len(s) == 2:
            node = next((nd for nd in proto.graph.node if nd.op_type == "MatMul" and nd.name == f"/{pn[:-len('.weight')]}/MatMul"), None)
            if node is not None and node.input[1] in init_names:
                onnx_name[pn] = node.input[1]
                transposed.add(pn)
    missing = [onnx_name[pn] for pn, _ in names_shapes if onnx_name[pn] not in init_names]
    assert not missing, f"{name}: parameters not named in the ONNX file: {missing} (have {sorted(init_names)})"
    theta = torch.cat([p.detach().reshape(-1) for _, p in m64.named_parameters()])
    fwd = functional(m64, names_shapes)
    xt = torch.from_numpy(x) if tokens else torch.from_numpy(x.astype(np.float64))
    # Max-pool winners must stay put under the test's finite-difference steps (1e-4 along v).
    if check_margins(m64, xt)["pool"] < 1e-2:
        return None
    onnx.save_model(proto, str(OUT / "ops" / f"{name}.onnx"))
    with torch.no_grad():
        y0 = fwd(theta, xt)
    y = f32(y0.numpy() + 0.5 * rng.standard_normal(tuple(y0.shape)))
    yt = torch.from_numpy(y.astype(np.float64))
    f = lambda t: ((fwd(t, xt) - yt) ** 2).mean()
    v = torch.from_numpy(f32(rng.standard_normal(theta.numel())).astype(np.float64))
    t = theta.clone().requires_grad_(True)
    loss = f(t)
    (g,) = torch.autograd.grad(loss, t, create_graph=True)
    (hv,) = torch.autograd.grad(g @ v, t)
    # finite-difference self-check of the HVP
    def grad_at(tt):
        tt = tt.clone().requires_grad_(True)
        return torch.autograd.grad(f(tt), tt)[0]
    eps = 1e-6
    fd = (grad_at(theta + eps * v) - grad_at(theta - eps * v)) / (2 * eps)
    err = float((fd - hv).norm() / hv.norm())
    assert err < 1e-6, f"{name}: HVP vs finite differences {err}"
    if any(isinstance(m, nn.ReLU) for m in m64.modules()) or "relu" in name:
        with torch.no_grad():
            pre = m64.a(xt)
        assert float(pre.abs().min()) > 1e-4, f"{name}: ReLU near a kink"

    def split(vec):
        res, o = {}, 0
        for pn, s in names_shapes:
            k = int(np.prod(s))
            part = vec[o:o + k].reshape(s)
            res[onnx_name[pn]] = [float(q) for q in (part.T if pn in transposed else part).reshape(-1)]
            o += k
        return res

    return {
        "name": name, "file": f"ops/{name}.onnx", "opset": opset,
        "ops": sorted({nd.op_type for nd in proto.graph.node}),
        "x": {"shape": list(x.shape), "values": [float(q) for q in x.reshape(-1)], "dtype": "int64" if tokens else "float32"},
        "y": {"shape": list(y.shape), "values": [float(q) for q in y.reshape(-1)]},
        "loss": float(loss), "v": split(v.numpy()), "grad": split(g.detach().numpy()), "hvp": split(hv.numpy()),
    }


def main():
    torch.set_num_threads(1)
    OUT.mkdir(parents=True, exist_ok=True)
    make_mlp()
    make_cnn()
    make_ops()


if __name__ == "__main__":
    sys.exit(main())
