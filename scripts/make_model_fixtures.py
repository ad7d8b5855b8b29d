#!/usr/bin/env python3
"""Make the tiny TF.js model fixtures and their float64 Hessian references.

Writes, for each model, test/fixtures/models/<name>/:

  model.json            TF.js layers-model topology + weights manifest
  group1-shard1of1.bin  little-endian float32 weights, manifest order
  data.npz              x (float32; int32 token ids for textclf) and y (int64
                        labels or float32 targets)
  reference.json        loss, gradient, full-Hessian and per-layer-block
                        curvature numbers computed with torch in float64

Models (all < 1000 parameters, < 100 examples):

  mlp         5 -> Dense 12 tanh -> Dense 10 relu -> Dropout 0.1 -> Dense 4 softmax
              64 examples, sparse categorical cross-entropy, np.savez
  cnn         8x8x2 -> Conv2D 4 3x3 same relu -> MaxPooling2D 2x2
              -> Conv2D 3 3x3 stride 2 same tanh -> Flatten -> Dense 3 softmax
              40 examples, sparse categorical cross-entropy, np.savez_compressed
  regression  4 -> Dense 2 linear, 30 examples, mean squared error
  logistic    3 -> Dense 1 sigmoid, 50 examples, binary cross-entropy
  mlp-tfjs    the mlp's weights and data, with model.json in the format that
              TF.js' own model.save() writes (no InputLayer, tfjs layer names)
  rescnn      Functional: 8x8x2 -> Conv2D 4 3x3 same -> BatchNormalization -> relu
              -> Conv2D 4 3x3 same -> BatchNormalization -> Add(with the first
              relu) -> relu -> GlobalAveragePooling2D -> Dense 3 softmax
              40 examples, sparse categorical cross-entropy, np.savez_compressed
  textclf     Functional: int tokens [N, 6] -> Embedding(12, 4) -> LayerNormalization
              -> Flatten -> Dense 3 softmax; x int32 token ids (the InputLayer
              says float32, Keras' default; Embedding casts ids to int), 48
              examples, sparse categorical cross-entropy, np.savez

The other model.json files use the format tensorflowjs_converter writes
from tf.keras 2.x (Keras layer names, InputLayer, training_config); rescnn and
textclf as Keras "Functional" configs (layers with name and inbound_nodes,
input_layers, output_layers; axes written as Keras stores them after build:
BatchNormalization "axis": [3], LayerNormalization "axis": [2]).

Weights are initialised as Keras does (Glorot-uniform kernels, zero biases and
betas, unit gammas, U(-0.05, 0.05) embeddings) and then trained for a few Adam steps
on synthetic data labelled by a random "teacher", so the gradient is not zero
and the curvature is not that of a random init.  Everything is seeded.

Reference conventions (float64, weights and data = the float32 values written):
  * the loss is the mean over examples; the output layer's softmax/sigmoid is
    fused into the loss (log_softmax / BCE-with-logits on the pre-activation);
    MSE is the mean over examples and outputs (Keras' definition);
  * dropout is the identity;
  * BatchNormalization is in inference mode: gamma*(x - moving_mean)
    / sqrt(moving_variance + epsilon) + beta over the last axis, epsilon 1e-3
    (Keras' default, from the config).  The moving statistics are constants:
    stored in the manifest (gamma, beta, moving_mean, moving_variance per layer)
    and the shard but not in the parameter vector (the BN block is gamma and
    beta).  rescnn is trained with batch statistics (Keras' training mode); the
    moving statistics are then set to the training data's per-channel mean and
    biased variance under the final weights, layer by layer (as if the moving
    averages had converged), rounded to float32;
  * LayerNormalization: mean and biased variance of x over the last axis,
    (x - mean) / sqrt(var + epsilon) * gamma + beta, epsilon 1e-3;
  * Embedding: row lookup table[ids]; the table is a parameter;
  * the parameter vector is every trainable tensor, flattened row-major in
    its TF.js layout (Dense kernel [in, out], Conv2D kernel HWIO, embeddings
    [vocabulary, dim]), concatenated in weights-manifest order;
  * H = torch.autograd.functional.hessian of the loss in that vector.

Self-checks (the script fails if any does not hold):
  * H is symmetric to round-off;
  * two random Hessian columns and one Hessian-vector product agree with
    central finite differences of the autograd gradient (1e-6 relative);
  * an independent numpy forward pass, which reads only model.json, the .bin
    and the .npz back from disk (Sequential or Functional), reproduces the
    reference loss;
  * ReLU pre-activations and max-pool winners are far enough from ties that a
    float32 evaluation takes the same branches.

Run from the repository root:

  /usr/bin/python3 scripts/make_model_fixtures.py

Needs numpy and torch (Debian: apt-get install python3-numpy python3-torch).
Output is deterministic: rerunning reproduces every file byte for byte.
"""

import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "test" / "fixtures" / "models"
SHARD = "group1-shard1of1.bin"

torch.set_default_dtype(torch.float64)

# --------------------------------------------------------------------------
# Model specification
#
# A model is an input shape (without the batch dimension) and a list of layer
# dicts such as {"class": "Dense", "units": 12, "activation": "tanh"}.
# Activations are applied between layers; the LAST layer's activation
# (softmax / sigmoid / linear) is fused into the loss instead.
# --------------------------------------------------------------------------

KERAS_PREFIX = {
    "Dense": "dense",
    "Conv2D": "conv2d",
    "MaxPooling2D": "max_pooling2d",
    "Flatten": "flatten",
    "Dropout": "dropout",
}

LOSS_BY_OUTPUT = {
    "softmax": "sparse-categorical-cross-entropy",
    "sigmoid": "binary-cross-entropy",
    "linear": "mean-squared-error",
}
KERAS_LOSS = {
    "sparse-categorical-cross-entropy": "sparse_categorical_crossentropy",
    "binary-cross-entropy": "binary_crossentropy",
    "mean-squared-error": "mean_squared_error",
}


def name_layers(layers, style):
    """Layer names as a fresh Keras session ("keras": dense, dense_1, ...) or a
    fresh TF.js session ("tfjs": dense_Dense1, dense_Dense2, ...) gives them."""
    counts = {}
    names = []
    for layer in layers:
        cls = layer["class"]
        n = counts.get(cls, 0)
        counts[cls] = n + 1
        prefix = KERAS_PREFIX[cls]
        if style == "keras":
            names.append(prefix if n == 0 else f"{prefix}_{n}")
        else:
            names.append(f"{prefix}_{cls}{n + 1}")
    return names


def tf_same_padding(size, k, s):
    """TensorFlow 'same' padding along one axis: (before, after)."""
    out = math.ceil(size / s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def out_size(size, k, s, padding):
    return math.ceil(size / s) if padding == "same" else (size - k) // s + 1


def weight_shapes(input_shape, layers):
    """Shape inference.  Returns, per layer, a list of (suffix, shape) for its
    trainable tensors (kernel then bias), and the final output shape."""
    shape = tuple(input_shape)
    per_layer = []
    for layer in layers:
        cls = layer["class"]
        tensors = []
        if cls == "Dense":
            assert len(shape) == 1, "Dense expects a flat input here"
            tensors = [("kernel", (shape[0], layer["units"])), ("bias", (layer["units"],))]
            shape = (layer["units"],)
        elif cls == "Conv2D":
            h, w, c = shape
            kh, kw = layer["kernel_size"]
            sh, sw = layer["strides"]
            tensors = [("kernel", (kh, kw, c, layer["filters"])), ("bias", (layer["filters"],))]
            shape = (out_size(h, kh, sh, layer["padding"]), out_size(w, kw, sw, layer["padding"]), layer["filters"])
        elif cls == "MaxPooling2D":
            h, w, c = shape
            (ph, pw), (sh, sw) = layer["pool_size"], layer["strides"]
            shape = (out_size(h, ph, sh, layer["padding"]), out_size(w, pw, sw, layer["padding"]), c)
        elif cls == "Flatten":
            shape = (int(np.prod(shape)),)
        elif cls == "Dropout":
            pass
        else:
            raise ValueError(cls)
        per_layer.append(tensors)
    return per_layer, shape


class Model:
    def __init__(self, input_shape, layers):
        self.input_shape = tuple(input_shape)
        self.layers = layers
        self.tensors_per_layer, self.output_shape = weight_shapes(input_shape, layers)
        self.output_activation = [l for l in layers if "activation" in l][-1]["activation"]
        self.loss_name = LOSS_BY_OUTPUT[self.output_activation]
        # flat index ranges, manifest order
        self.slices = []  # (layer index, suffix, shape, start, stop)
        offset = 0
        for i, tensors in enumerate(self.tensors_per_layer):
            for suffix, shape in tensors:
                size = int(np.prod(shape))
                self.slices.append((i, suffix, shape, offset, offset + size))
                offset += size
        self.num_params = offset

    def unflatten(self, theta):
        """Flat parameter vector -> per-layer dict {"kernel": t, "bias": t}."""
        params = [dict() for _ in self.layers]
        for i, suffix, shape, a, b in self.slices:
            params[i][suffix] = theta[a:b].reshape(shape)
        return params

    # ---- torch forward (NHWC between layers, like TF.js) -------------------
    def logits(self, theta, x):
        params = self.unflatten(theta)
        last_weighted = max(i for i, t in enumerate(self.tensors_per_layer) if t)
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            cls = layer["class"]
            if cls == "Dense":
                x = x @ p["kernel"] + p["bias"]
            elif cls == "Conv2D":
                x = torch_conv2d_nhwc(x, p["kernel"], p["bias"], layer["strides"], layer["padding"])
            elif cls == "MaxPooling2D":
                x = torch_maxpool_nhwc(x, layer["pool_size"], layer["strides"], layer["padding"])
            elif cls == "Flatten":
                x = x.reshape(x.shape[0], -1)  # NHWC -> H, W, C row-major
            elif cls == "Dropout":
                pass  # identity at inference / for the Hessian
            if "activation" in layer and i != last_weighted:
                x = torch_activation(x, layer["activation"])
        return x

    def loss(self, theta, x, y):
        return torch_loss(self.loss_name, self.logits(theta, x), y)


def torch_conv2d_nhwc(x, kernel_hwio, bias, strides, padding):
    xc = x.permute(0, 3, 1, 2)
    kh, kw = kernel_hwio.shape[:2]
    if padding == "same":
        top, bottom = tf_same_padding(xc.shape[2], kh, strides[0])
        left, right = tf_same_padding(xc.shape[3], kw, strides[1])
        xc = F.pad(xc, (left, right, top, bottom))
    y = F.conv2d(xc, kernel_hwio.permute(3, 2, 0, 1), bias, stride=tuple(strides))
    return y.permute(0, 2, 3, 1)


def torch_maxpool_nhwc(x, pool, strides, padding):
    xc = x.permute(0, 3, 1, 2)
    if padding == "same":
        top, bottom = tf_same_padding(xc.shape[2], pool[0], strides[0])
        left, right = tf_same_padding(xc.shape[3], pool[1], strides[1])
        xc = F.pad(xc, (left, right, top, bottom), value=-math.inf)
    y = F.max_pool2d(xc, tuple(pool), tuple(strides))
    return y.permute(0, 2, 3, 1)


def torch_activation(x, name):
    return {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda t: t}[name](x)


def torch_loss(loss_name, logits, y):
    if loss_name == "sparse-categorical-cross-entropy":
        return F.cross_entropy(logits, y)  # mean of -log_softmax[label]
    if loss_name == "binary-cross-entropy":
        return F.binary_cross_entropy_with_logits(logits, y)  # mean over all
    if loss_name == "mean-squared-error":
        return ((logits - y) ** 2).mean()  # mean over examples and outputs
    raise ValueError(loss_name)


# --------------------------------------------------------------------------
# Initialisation and brief training
# --------------------------------------------------------------------------


def glorot_uniform(model, rng):
    parts = []
    for i, suffix, shape, a, b in model.slices:
        if suffix == "kernel":
            if len(shape) == 2:
                fan_in, fan_out = shape
            else:  # HWIO
                receptive = shape[0] * shape[1]
                fan_in, fan_out = receptive * shape[2], receptive * shape[3]
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            parts.append(rng.uniform(-limit, limit, size=shape).ravel())
        else:
            parts.append(np.zeros(shape).ravel())
    return np.concatenate(parts)


def train(model, theta0, x, y, steps, lr):
    """Full-batch Adam in float64; returns the float32-rounded parameters."""
    theta = torch.tensor(theta0, requires_grad=True)
    xt, yt = torch.from_numpy(x.astype(np.float64)), torch_targets(model, y)
    opt = torch.optim.Adam([theta], lr=lr)
    for _ in range(steps):
        opt.zero_grad()
        loss = model.loss(theta, xt, yt)
        loss.backward()
        opt.step()
    return theta.detach().numpy().astype(np.float32)


def torch_targets(model, y):
    if model.loss_name == "sparse-categorical-cross-entropy":
        return torch.from_numpy(y.astype(np.int64))
    return torch.from_numpy(y.astype(np.float64))


def accuracy(model, theta32, x, y):
    with torch.no_grad():
        logits = model.logits(torch.from_numpy(theta32.astype(np.float64)), torch.from_numpy(x.astype(np.float64)))
    return float((logits.argmax(1).numpy() == y).mean())


# --------------------------------------------------------------------------
# TF.js files
# --------------------------------------------------------------------------

INITIALIZERS_KERAS = {
    "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
    "bias_initializer": {"class_name": "Zeros", "config": {}},
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
}

# what tfjs-layers' default glorotNormal kernel initializer serialises to
INITIALIZERS_TFJS = {
    "kernel_initializer": {
        "class_name": "VarianceScaling",
        "config": {"scale": 1, "mode": "fan_avg", "distribution": "normal", "seed": None},
    },
    "bias_initializer": {"class_name": "Zeros", "config": {}},
    "kernel_regularizer": None,
    "bias_regularizer": None,
    "activity_regularizer": None,
    "kernel_constraint": None,
    "bias_constraint": None,
}


def keras_layer_config(layer, name):
    """Layer config as tf.keras 2.15 get_config() writes it (key order too)."""
    cls = layer["class"]
    base = {"name": name, "trainable": True, "dtype": "float32"}
    if cls == "Dense":
        return {**base, "units": layer["units"], "activation": layer["activation"], "use_bias": True, **INITIALIZERS_KERAS}
    if cls == "Conv2D":
        return {
            **base,
            "filters": layer["filters"],
            "kernel_size": list(layer["kernel_size"]),
            "strides": list(layer["strides"]),
            "padding": layer["padding"],
            "data_format": "channels_last",
            "dilation_rate": [1, 1],
            "groups": 1,
            "activation": layer["activation"],
            "use_bias": True,
            **INITIALIZERS_KERAS,
        }
    if cls == "MaxPooling2D":
        return {
            **base,
            "pool_size": list(layer["pool_size"]),
            "padding": layer["padding"],
            "strides": list(layer["strides"]),
            "data_format": "channels_last",
        }
    if cls == "Flatten":
        return {**base, "data_format": "channels_last"}
    if cls == "Dropout":
        return {**base, "rate": layer["rate"], "noise_shape": None, "seed": None}
    raise ValueError(cls)


def tfjs_layer_config(layer, name, first, input_shape):
    """Layer config as tfjs-layers 4.22 model.save() writes it (key order too):
    the class's own fields, then name/trainable, and on the first layer
    batch_input_shape and dtype."""
    cls = layer["class"]
    if cls == "Dense":
        own = {"units": layer["units"], "activation": layer["activation"], "use_bias": True, **INITIALIZERS_TFJS}
    elif cls == "Conv2D":
        own = {
            "filters": layer["filters"],
            "kernel_initializer": INITIALIZERS_TFJS["kernel_initializer"],
            "kernel_regularizer": None,
            "kernel_constraint": None,
            "kernel_size": list(layer["kernel_size"]),
            "strides": list(layer["strides"]),
            "padding": layer["padding"],
            "data_format": "channelsLast",
            "dilation_rate": [1, 1],
            "activation": layer["activation"],
            "use_bias": True,
            "bias_initializer": INITIALIZERS_TFJS["bias_initializer"],
            "bias_regularizer": None,
            "activity_regularizer": None,
            "bias_constraint": None,
        }
    elif cls == "MaxPooling2D":
        own = {
            "pool_size": list(layer["pool_size"]),
            "padding": layer["padding"],
            "strides": list(layer["strides"]),
            "data_format": "channelsLast",
        }
    elif cls == "Flatten":
        own = {"data_format": "channelsLast"}
    elif cls == "Dropout":
        own = {"rate": layer["rate"], "noise_shape": None, "seed": None}
    else:
        raise ValueError(cls)
    config = {**own, "name": name, "trainable": True}
    if first:
        config["batch_input_shape"] = [None, *input_shape]
        config["dtype"] = "float32"
    return config


def manifest(model, names, path):
    weights = [
        {"name": f"{names[i]}/{suffix}", "shape": list(shape), "dtype": "float32"}
        for i, suffix, shape, a, b in model.slices
    ]
    return [{"paths": [path], "weights": weights}]


def converter_model_json(model):
    """model.json as tensorflowjs_converter writes it from a tf.keras 2.15 model."""
    names = name_layers(model.layers, "keras")
    first = names[0] + "_input"
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, *model.input_shape],
                "dtype": "float32",
                "sparse": False,
                "ragged": False,
                "name": first,
            },
        }
    ]
    layers += [{"class_name": l["class"], "config": keras_layer_config(l, n)} for l, n in zip(model.layers, names)]
    loss = KERAS_LOSS[model.loss_name]
    metrics = [] if model.loss_name == "mean-squared-error" else ["accuracy"]
    return {
        "format": "layers-model",
        "generatedBy": "keras v2.15.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "modelTopology": {
            "keras_version": "2.15.0",
            "backend": "tensorflow",
            "model_config": {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}},
            "training_config": {
                "loss": loss,
                "metrics": metrics,
                "weighted_metrics": None,
                "loss_weights": None,
                "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
            },
        },
        "weightsManifest": manifest(model, names, SHARD),
    }, names


def tfjs_saved_model_json(model):
    """model.json as TF.js' own LayersModel.save() writes it (no optimizer)."""
    names = name_layers(model.layers, "tfjs")
    layers = [
        {"class_name": l["class"], "config": tfjs_layer_config(l, n, i == 0, model.input_shape)}
        for i, (l, n) in enumerate(zip(model.layers, names))
    ]
    return {
        "modelTopology": {
            "class_name": "Sequential",
            "config": {"name": "sequential_1", "layers": layers},
            "keras_version": "tfjs-layers 4.22.0",
            "backend": "tensor_flow.js",
        },
        "format": "layers-model",
        "generatedBy": "TensorFlow.js tfjs-layers v4.22.0",
        "convertedBy": None,
        "weightsManifest": manifest(model, names, "./" + SHARD),
    }, names


def write_weights(path, theta32):
    path.write_bytes(np.asarray(theta32, dtype="<f4").tobytes())


def write_json(path, obj):
    path.write_text(json.dumps(obj, indent=1, allow_nan=False) + "\n")


# --------------------------------------------------------------------------
# Reference curvature
# --------------------------------------------------------------------------


def first(values, k):
    return [float(v) for v in values[:k]]


def eig_summary(eigs):
    eigs = np.sort(eigs)
    return first(eigs[::-1], 3), first(eigs, 3)


def compute_reference(model, theta32, x, y):
    theta = torch.from_numpy(theta32.astype(np.float64))
    xt, yt = torch.from_numpy(x.astype(np.float64)), torch_targets(model, y)
    f = lambda t: model.loss(t, xt, yt)

    t = theta.clone().requires_grad_(True)
    loss = f(t)
    (g,) = torch.autograd.grad(loss, t)
    H = torch.autograd.functional.hessian(f, theta)

    Hn, gn = H.numpy(), g.numpy()
    symmetry = float(np.abs(Hn - Hn.T).max())
    scale = float(np.abs(Hn).max())
    assert symmetry <= 1e-12 * max(scale, 1.0), f"Hessian not symmetric: {symmetry}"
    Hs = 0.5 * (Hn + Hn.T)
    Hg = Hs @ gn
    eigs = np.linalg.eigvalsh(Hs)
    top, bottom = eig_summary(eigs)

    ref = {
        "lossName": model.loss_name,
        "loss": float(loss),
        "parameters": model.num_params,
        "examples": int(x.shape[0]),
        "gradientNorm": float(np.linalg.norm(gn)),
        "hessianGradientNorm": float(np.linalg.norm(Hg)),
        "gradientCurvature": float(gn @ Hg / (gn @ gn)),
        "trace": float(np.trace(Hs)),
        "top": top,
        "bottom": bottom,
        "hessianSymmetryError": symmetry,
        "layers": [],
    }
    diag = np.diag(Hs)
    ggn = ggn_diagonal(model, theta, xt, yt)
    for i, tensors in enumerate(model.tensors_per_layer):
        if not tensors:
            continue
        slices = [s for s in model.slices if s[0] == i]
        idx = np.arange(slices[0][3], slices[-1][4])
        block_top, block_bottom = eig_summary(np.linalg.eigvalsh(Hs[np.ix_(idx, idx)]))
        ref["layers"].append(
            {
                "layerIndex": i,  # replaced by the name in name_reference()
                "className": model.layers[i]["class"],
                "parameters": int(idx.size),
                "trace": float(diag[idx].sum()),
                "top": block_top,
                "bottom": block_bottom,
                "tensors": [
                    {"suffix": suffix, "shape": list(shape), "diagonal": [float(v) for v in diag[a:b]],
                     "ggnDiagonal": [float(v) for v in ggn[a:b]]}
                    for _, suffix, shape, a, b in slices
                ],
            }
        )
    return ref, H, f, theta


def ggn_diagonal(model, theta, xt, yt):
    """diag of the generalised Gauss-Newton matrix G = Jᵀ H_z J, built densely: J the Jacobian of all
    logits (every example and output) in θ, H_z the Hessian of the loss in the logits (block diagonal
    over examples). No square-root factorisation, no per-example trick: an independent reference."""
    J = torch.autograd.functional.jacobian(lambda t: model.logits(t, xt), theta)
    z = model.logits(theta, xt).detach()
    Hz = torch.autograd.functional.hessian(lambda zz: torch_loss(model.loss_name, zz, yt), z)
    n = z.numel()
    Jf = J.reshape(n, -1)
    G = Jf.T @ Hz.reshape(n, n) @ Jf
    return np.diag(G.numpy())


def name_reference(ref, names):
    """Fill in layer/tensor names for one naming style (key order kept tidy)."""
    out = {k: v for k, v in ref.items() if k != "layers"}
    out["layers"] = []
    for layer in ref["layers"]:
        name = names[layer["layerIndex"]]
        entry = {"name": name}
        entry.update({k: v for k, v in layer.items() if k not in ("layerIndex", "tensors")})
        entry["tensors"] = [
            {"name": f"{name}/{t['suffix']}", "shape": t["shape"], "diagonal": t["diagonal"], "ggnDiagonal": t["ggnDiagonal"]}
            for t in layer["tensors"]
        ]
        out["layers"].append(entry)
    return out


def check_finite_differences(model, H, f, theta, rng):
    """Two random Hessian columns and one random-direction HVP against central
    differences of the autograd gradient, all in float64."""

    def grad(t):
        t = t.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(t), t)
        return g

    Hn = H.numpy()
    columns = rng.choice(np.flatnonzero(np.abs(Hn).max(0) > 0), size=2, replace=False)
    directions = [np.eye(model.num_params)[j] for j in columns]
    v = rng.standard_normal(model.num_params)
    directions.append(v / np.linalg.norm(v))
    worst = 0.0
    for d in directions:
        eps = 1e-5
        dt = torch.from_numpy(d)
        fd = ((grad(theta + eps * dt) - grad(theta - eps * dt)) / (2 * eps)).numpy()
        exact = Hn @ d
        err = np.abs(fd - exact).max() / np.abs(exact).max()
        worst = max(worst, err)
        assert err < 1e-6, f"finite-difference Hessian mismatch: rel err {err:.3g}"
    return worst, [int(c) for c in columns]


# --------------------------------------------------------------------------
# Independent numpy re-read: model.json + .bin + .npz -> loss
# --------------------------------------------------------------------------


def np_conv2d_nhwc(x, k, b, strides, padding):
    n, h, w, c = x.shape
    kh, kw, _, co = k.shape
    sh, sw = strides
    if padding == "same":
        x = np.pad(x, ((0, 0), tf_same_padding(h, kh, sh), tf_same_padding(w, kw, sw), (0, 0)))
    ho, wo = out_size(h, kh, sh, padding), out_size(w, kw, sw, padding)
    out = np.zeros((n, ho, wo, co)) + b
    for i in range(kh):
        for j in range(kw):
            patch = x[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :]
            out += np.einsum("nhwc,co->nhwo", patch, k[i, j])
    return out


def np_maxpool_nhwc(x, pool, strides, padding):
    n, h, w, c = x.shape
    (ph, pw), (sh, sw) = pool, strides
    if padding == "same":
        x = np.pad(x, ((0, 0), tf_same_padding(h, ph, sh), tf_same_padding(w, pw, sw), (0, 0)), constant_values=-np.inf)
    ho, wo = out_size(h, ph, sh, padding), out_size(w, pw, sw, padding)
    windows = [
        x[:, i : i + sh * (ho - 1) + 1 : sh, j : j + sw * (wo - 1) + 1 : sw, :] for i in range(ph) for j in range(pw)
    ]
    stacked = np.stack(windows)
    return stacked.max(0), stacked


def np_layer_norm(x, axes, gamma, beta, eps):
    """Normalise over `axes` (mean and biased variance), eps inside the sqrt."""
    axes = tuple(axes)
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    return (x - mean) / np.sqrt(var + eps) * gamma.reshape(shape) + beta.reshape(shape)


def positive_axes(axis, ndim):
    axes = axis if isinstance(axis, list) else [axis]
    return [a % ndim for a in axes]


def numpy_forward(model_dir):
    """Loads model_dir/model.json (either format, Sequential or Functional) with
    its shard and returns (probabilities or outputs, loss name from the output
    activation, margins)."""
    mj = json.loads((model_dir / "model.json").read_text())
    topo = mj["modelTopology"]
    model_config = topo.get("model_config", topo)
    functional = model_config["class_name"] == "Functional"
    layers = model_config["config"]["layers"]
    blob = b"".join((model_dir / p.lstrip("./")).read_bytes() for group in mj["weightsManifest"] for p in group["paths"])
    flat = np.frombuffer(blob, dtype="<f4").astype(np.float64)
    weights, offset = {}, 0
    for group in mj["weightsManifest"]:
        for spec in group["weights"]:
            size = int(np.prod(spec["shape"]))
            weights[spec["name"]] = flat[offset : offset + size].reshape(spec["shape"])
            offset += size
    assert offset == flat.size, "shard size does not match manifest"

    data = np.load(model_dir / "data.npz")
    x = data["x"].astype(np.float64)
    relu_margin, pool_margin = np.inf, np.inf
    act = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "linear": lambda z: z}
    act["sigmoid"] = lambda z: 1 / (1 + np.exp(-z))
    act["softmax"] = lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)
    output_activation = None
    outputs = {}  # Functional: layer name -> its output
    for layer in layers:
        cls, cfg = layer["class_name"], layer["config"]
        if cls == "InputLayer":
            outputs[cfg["name"]] = x
            continue
        name = cfg["name"]
        if functional:
            assert len(layer["inbound_nodes"]) == 1, "one call per layer"
            inputs = [outputs[inbound[0]] for inbound in layer["inbound_nodes"][0]]
            x = inputs[0]
        else:
            inputs = [x]
        if cls == "Dense":
            x = x @ weights[name + "/kernel"] + weights[name + "/bias"]
        elif cls == "Conv2D":
            x = np_conv2d_nhwc(x, weights[name + "/kernel"], weights[name + "/bias"], cfg["strides"], cfg["padding"])
        elif cls == "MaxPooling2D":
            x, stacked = np_maxpool_nhwc(x, cfg["pool_size"], cfg["strides"], cfg["padding"])
            top2 = np.sort(stacked, axis=0)[-2:]
            live = top2[1] > 0  # windows whose max is not a (harmless) tie of ReLU zeros
            if live.any():
                pool_margin = min(pool_margin, float((top2[1] - top2[0])[live].min()))
        elif cls == "Flatten":
            x = x.reshape(x.shape[0], -1)
        elif cls == "Dropout":
            pass
        elif cls == "BatchNormalization":
            # inference: the moving statistics; gamma/beta over the (last) axis
            assert positive_axes(cfg["axis"], x.ndim) == [x.ndim - 1]
            mean, var = weights[name + "/moving_mean"], weights[name + "/moving_variance"]
            x = (x - mean) / np.sqrt(var + cfg["epsilon"]) * weights[name + "/gamma"] + weights[name + "/beta"]
        elif cls == "LayerNormalization":
            axes = positive_axes(cfg["axis"], x.ndim)
            x = np_layer_norm(x, axes, weights[name + "/gamma"], weights[name + "/beta"], cfg["epsilon"])
        elif cls == "Embedding":
            ids = x.astype(np.int64)
            assert np.array_equal(ids, x) and ids.min() >= 0 and ids.max() < cfg["input_dim"]
            x = weights[name + "/embeddings"][ids]
        elif cls == "Add":
            x = sum(inputs[1:], inputs[0])
        elif cls == "GlobalAveragePooling2D":
            x = x.mean(axis=(1, 2))
        elif cls == "Activation":
            pass  # applied below, from cfg["activation"]
        else:
            raise ValueError(cls)
        if "activation" in cfg:
            if cfg["activation"] == "relu":
                relu_margin = min(relu_margin, float(np.abs(x).min()))
            output_activation = cfg["activation"]
            x = act[cfg["activation"]](x)
        outputs[name] = x
    if functional:
        (out_name, _, _), = model_config["config"]["output_layers"]
        x = outputs[out_name]
        output_activation = next(l["config"] for l in layers if l["config"]["name"] == out_name)["activation"]
    return x, LOSS_BY_OUTPUT[output_activation], data, relu_margin, pool_margin


def numpy_loss(model_dir):
    out, loss_name, data, relu_margin, pool_margin = numpy_forward(model_dir)
    y = data["y"]
    if loss_name == "sparse-categorical-cross-entropy":
        loss = -np.log(out[np.arange(len(y)), y]).mean()
    elif loss_name == "binary-cross-entropy":
        loss = -(y * np.log(out) + (1 - y) * np.log(1 - out)).mean()
    else:
        loss = ((out - y) ** 2).mean()
    return float(loss), loss_name, relu_margin, pool_margin


# --------------------------------------------------------------------------
# Functional (graph) models: BatchNormalization, Add, GlobalAveragePooling2D,
# Embedding, LayerNormalization, Activation
# --------------------------------------------------------------------------

BN_EPSILON = 1e-3  # Keras' default for BatchNormalization and LayerNormalization


def graph_layer_shapes(layer, in_shapes):
    """Output shape (no batch dim) and the layer's weights in Keras / manifest
    order as (suffix, shape, trainable)."""
    cls = layer["class"]
    shape = in_shapes[0]
    if cls in ("Dense", "Conv2D", "Flatten", "MaxPooling2D", "Dropout"):
        (tensors,), out = weight_shapes(shape, [layer])
        return out, [(suffix, s, True) for suffix, s in tensors]
    if cls == "BatchNormalization":
        c = (shape[-1],)
        return shape, [("gamma", c, True), ("beta", c, True), ("moving_mean", c, False), ("moving_variance", c, False)]
    if cls == "LayerNormalization":
        c = (shape[-1],)
        return shape, [("gamma", c, True), ("beta", c, True)]
    if cls == "Embedding":
        assert shape == (layer["input_length"],)
        return (*shape, layer["output_dim"]), [("embeddings", (layer["input_dim"], layer["output_dim"]), True)]
    if cls == "Add":
        assert all(s == shape for s in in_shapes), in_shapes
        return shape, []
    if cls == "GlobalAveragePooling2D":
        return (shape[-1],), []
    if cls == "Activation":
        return shape, []
    raise ValueError(cls)


class GraphModel:
    """A Keras Functional model.  nodes: the InputLayer node then the layers in
    topological order, each a dict {"class", "name", "inputs": [node names],
    ...config}; the last layer is the (only) output, its softmax fused into the
    loss.  Has the attributes that compute_reference, check_finite_differences,
    name_reference, train and accuracy use (layers, tensors_per_layer, slices,
    num_params, loss_name, logits, loss): theta holds the TRAINABLE tensors only,
    in manifest order; the BatchNormalization moving statistics are constants
    (self.consts, float32, manifest order), set by calibrate()."""

    def __init__(self, input_shape, nodes, input_dtype="float32"):
        assert nodes[0]["class"] == "InputLayer"
        self.input_shape = tuple(input_shape)
        self.input_dtype = input_dtype
        self.input_name = nodes[0]["name"]
        self.layers = nodes[1:]
        self.names = [l["name"] for l in self.layers]
        shapes = {self.input_name: self.input_shape}
        self.in_shapes, self.weights_per_layer = [], []
        for layer in self.layers:
            ins = [shapes[n] for n in layer["inputs"]]
            out, weights = graph_layer_shapes(layer, ins)
            shapes[layer["name"]] = out
            self.in_shapes.append(ins)
            self.weights_per_layer.append(weights)
        self.output_shape = shapes[self.names[-1]]
        self.output_activation = self.layers[-1]["activation"]
        self.loss_name = LOSS_BY_OUTPUT[self.output_activation]
        self.tensors_per_layer = [[(sfx, s) for sfx, s, tr in w if tr] for w in self.weights_per_layer]
        self.slices, self.const_slices = [], []  # (layer index, suffix, shape, start, stop)
        offsets = {True: 0, False: 0}
        for i, weights in enumerate(self.weights_per_layer):
            for suffix, shape, trainable in weights:
                size = int(np.prod(shape))
                start = offsets[trainable]
                (self.slices if trainable else self.const_slices).append((i, suffix, shape, start, start + size))
                offsets[trainable] += size
        self.num_params, self.num_consts = offsets[True], offsets[False]
        self.consts = np.zeros(self.num_consts, dtype=np.float32)
        self.mode = "inference"  # "train": BatchNormalization uses the batch statistics

    def unflatten(self, theta, consts):
        params = [dict() for _ in self.layers]
        for vec, slices in ((theta, self.slices), (consts, self.const_slices)):
            for i, suffix, shape, a, b in slices:
                params[i][suffix] = vec[a:b].reshape(shape)
        return params

    def forward(self, theta, x, mode, consts=None):
        """mode "inference" (moving statistics from consts), "train" (batch
        statistics, as Keras' training=True), or "calibrate" (inference with
        moving statistics := the float32-rounded batch statistics of each BN
        input, computed layer by layer; returned as a float32 vector)."""
        consts = torch.from_numpy(self.consts.astype(np.float64)) if consts is None else consts
        params = self.unflatten(theta, consts)
        values = {self.input_name: x}
        stats = {}
        for i, (layer, p) in enumerate(zip(self.layers, params)):
            cls = layer["class"]
            ins = [values[n] for n in layer["inputs"]]
            z = ins[0]
            if cls == "Dense":
                y = z @ p["kernel"] + p["bias"]
            elif cls == "Conv2D":
                y = torch_conv2d_nhwc(z, p["kernel"], p["bias"], layer["strides"], layer["padding"])
            elif cls == "Flatten":
                y = z.reshape(z.shape[0], -1)
            elif cls == "BatchNormalization":
                if mode == "inference":
                    mean, var = p["moving_mean"], p["moving_variance"]
                else:
                    dims = tuple(range(z.dim() - 1))
                    mean = z.mean(dims)
                    var = ((z - mean) ** 2).mean(dims)  # biased, as Keras normalises in training
                    if mode == "calibrate":
                        mean = torch.from_numpy(mean.detach().numpy().astype(np.float32).astype(np.float64))
                        var = torch.from_numpy(var.detach().numpy().astype(np.float32).astype(np.float64))
                        stats[i] = {"moving_mean": mean, "moving_variance": var}
                y = p["gamma"] * (z - mean) / torch.sqrt(var + layer["epsilon"]) + p["beta"]
            elif cls == "LayerNormalization":
                mean = z.mean(-1, keepdim=True)
                var = ((z - mean) ** 2).mean(-1, keepdim=True)  # biased
                y = p["gamma"] * (z - mean) / torch.sqrt(var + layer["epsilon"]) + p["beta"]
            elif cls == "Embedding":
                y = p["embeddings"][z.long()]
            elif cls == "Add":
                y = ins[0]
                for other in ins[1:]:
                    y = y + other
            elif cls == "GlobalAveragePooling2D":
                y = z.mean(dim=(1, 2))
            elif cls == "Activation":
                y = torch_activation(z, layer["activation"])
            else:
                raise ValueError(cls)
            if cls != "Activation" and "activation" in layer and i != len(self.layers) - 1:
                y = torch_activation(y, layer["activation"])
            values[layer["name"]] = y
        out = values[self.names[-1]]
        if mode != "calibrate":
            return out
        consts = np.zeros(self.num_consts, dtype=np.float32)
        for i, suffix, shape, a, b in self.const_slices:
            consts[a:b] = stats[i][suffix].numpy().astype(np.float32)
        return out, consts

    def logits(self, theta, x):
        return self.forward(theta, x, self.mode)

    def loss(self, theta, x, y):
        return torch_loss(self.loss_name, self.logits(theta, x), y)

    def calibrate(self, theta32, x):
        with torch.no_grad():
            _, self.consts = self.forward(torch.from_numpy(theta32.astype(np.float64)),
                                          torch.from_numpy(x.astype(np.float64)), "calibrate")

    def blob(self, theta32):
        """All weights, trainable and constant, float32 in manifest order."""
        parts = []
        trainable = iter(self.slices)
        const = iter(self.const_slices)
        for weights in self.weights_per_layer:
            for _, _, tr in weights:
                _, _, _, a, b = next(trainable) if tr else next(const)
                parts.append((theta32 if tr else self.consts)[a:b])
        return np.concatenate(parts).astype(np.float32)


def graph_init(model, rng):
    """Keras initialisers: Glorot-uniform kernels, zero biases/betas, unit
    gammas, RandomUniform(-0.05, 0.05) embeddings."""
    parts = []
    for i, suffix, shape, a, b in model.slices:
        if suffix == "kernel":
            fan_in, fan_out = (shape if len(shape) == 2 else (shape[0] * shape[1] * shape[2], shape[0] * shape[1] * shape[3]))
            limit = math.sqrt(6.0 / (fan_in + fan_out))
            parts.append(rng.uniform(-limit, limit, size=shape).ravel())
        elif suffix == "embeddings":
            parts.append(rng.uniform(-0.05, 0.05, size=shape).ravel())
        elif suffix == "gamma":
            parts.append(np.ones(shape).ravel())
        else:  # bias, beta
            parts.append(np.zeros(shape).ravel())
    return np.concatenate(parts)


ZEROS = {"class_name": "Zeros", "config": {}}
ONES = {"class_name": "Ones", "config": {}}


def keras_graph_layer_config(model, i):
    """Layer config as tf.keras 2.15 get_config() writes it (key order too);
    axes are stored as Keras stores them after build(): positive, in a list."""
    layer = model.layers[i]
    cls, name = layer["class"], layer["name"]
    base = {"name": name, "trainable": True, "dtype": "float32"}
    ndim = len(model.in_shapes[i][0]) + 1  # with the batch dimension
    if cls in ("Dense", "Conv2D", "Flatten", "MaxPooling2D", "Dropout"):
        return keras_layer_config(layer, name)
    if cls == "BatchNormalization":
        return {
            **base,
            "axis": [ndim - 1],
            "momentum": 0.99,
            "epsilon": layer["epsilon"],
            "center": True,
            "scale": True,
            "beta_initializer": ZEROS,
            "gamma_initializer": ONES,
            "moving_mean_initializer": ZEROS,
            "moving_variance_initializer": ONES,
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        }
    if cls == "LayerNormalization":
        return {
            **base,
            "axis": [ndim - 1],
            "epsilon": layer["epsilon"],
            "center": True,
            "scale": True,
            "beta_initializer": ZEROS,
            "gamma_initializer": ONES,
            "beta_regularizer": None,
            "gamma_regularizer": None,
            "beta_constraint": None,
            "gamma_constraint": None,
        }
    if cls == "Embedding":
        return {
            **base,
            "batch_input_shape": [None, layer["input_length"]],
            "input_dim": layer["input_dim"],
            "output_dim": layer["output_dim"],
            "embeddings_initializer": {"class_name": "RandomUniform", "config": {"minval": -0.05, "maxval": 0.05, "seed": None}},
            "embeddings_regularizer": None,
            "activity_regularizer": None,
            "embeddings_constraint": None,
            "mask_zero": False,
            "input_length": layer["input_length"],
        }
    if cls == "Add":
        return base
    if cls == "GlobalAveragePooling2D":
        return {**base, "data_format": "channels_last", "keepdims": False}
    if cls == "Activation":
        return {**base, "activation": layer["activation"]}
    raise ValueError(cls)


def converter_functional_model_json(model):
    """model.json as tensorflowjs_converter writes it from a tf.keras 2.15
    Functional model (layers with name and inbound_nodes)."""
    layers = [
        {
            "class_name": "InputLayer",
            "config": {
                "batch_input_shape": [None, *model.input_shape],
                "dtype": model.input_dtype,
                "sparse": False,
                "ragged": False,
                "name": model.input_name,
            },
            "name": model.input_name,
            "inbound_nodes": [],
        }
    ]
    for i, layer in enumerate(model.layers):
        layers.append(
            {
                "class_name": layer["class"],
                "config": keras_graph_layer_config(model, i),
                "name": layer["name"],
                "inbound_nodes": [[[n, 0, 0, {}] for n in layer["inputs"]]],
            }
        )
    weights = [
        {"name": f"{layer['name']}/{suffix}", "shape": list(shape), "dtype": "float32"}
        for layer, ws in zip(model.layers, model.weights_per_layer)
        for suffix, shape, _ in ws
    ]
    return {
        "format": "layers-model",
        "generatedBy": "keras v2.15.0",
        "convertedBy": "TensorFlow.js Converter v4.22.0",
        "modelTopology": {
            "keras_version": "2.15.0",
            "backend": "tensorflow",
            "model_config": {
                "class_name": "Functional",
                "config": {
                    "name": "model",
                    "trainable": True,
                    "layers": layers,
                    "input_layers": [[model.input_name, 0, 0]],
                    "output_layers": [[model.names[-1], 0, 0]],
                },
            },
            "training_config": {
                "loss": KERAS_LOSS[model.loss_name],
                "metrics": ["accuracy"],
                "weighted_metrics": None,
                "loss_weights": None,
                "optimizer_config": {"class_name": "Adam", "config": {"learning_rate": 0.001}},
            },
        },
        "weightsManifest": [{"paths": [SHARD], "weights": weights}],
    }, model.names


def conv(name, inputs, filters, activation="linear"):
    return {"class": "Conv2D", "name": name, "inputs": [inputs], "filters": filters, "kernel_size": (3, 3),
            "strides": (1, 1), "padding": "same", "activation": activation}


def make_rescnn(rng):
    """8x8x2 -> conv -> BN -> relu -> conv -> BN -> (+ the first relu) -> relu
    -> global average pool -> Dense 3 softmax."""
    model = GraphModel(
        (8, 8, 2),
        [
            {"class": "InputLayer", "name": "input_1"},
            conv("conv2d", "input_1", 4),
            {"class": "BatchNormalization", "name": "batch_normalization", "inputs": ["conv2d"], "epsilon": BN_EPSILON},
            {"class": "Activation", "name": "activation", "inputs": ["batch_normalization"], "activation": "relu"},
            conv("conv2d_1", "activation", 4),
            {"class": "BatchNormalization", "name": "batch_normalization_1", "inputs": ["conv2d_1"], "epsilon": BN_EPSILON},
            {"class": "Add", "name": "add", "inputs": ["batch_normalization_1", "activation"]},
            {"class": "Activation", "name": "activation_1", "inputs": ["add"], "activation": "relu"},
            {"class": "GlobalAveragePooling2D", "name": "global_average_pooling2d", "inputs": ["activation_1"]},
            {"class": "Dense", "name": "dense", "inputs": ["global_average_pooling2d"], "units": 3, "activation": "softmax"},
        ],
    )
    n = 40
    x = (rng.standard_normal((n, 8, 8, 2)) + np.array([0.3, -0.2])).astype(np.float32)
    # class = which image statistic is largest: mean of channel 0, of channel 1, of their product
    z = np.stack([x[..., 0].mean((1, 2)), x[..., 1].mean((1, 2)), (x[..., 0] * x[..., 1]).mean((1, 2))], 1)
    y = np.argmax((z - z.mean(0)) / z.std(0) + 0.3 * rng.standard_normal((n, 3)), axis=1)  # int64
    return model, x, y, dict(steps=40, lr=0.02), "savez_compressed"


def make_textclf(rng):
    """int tokens [N, 6] -> Embedding(12, 4) -> LayerNormalization -> Flatten
    -> Dense 3 softmax."""
    vocab, length, dim = 12, 6, 4
    model = GraphModel(
        (length,),
        [
            {"class": "InputLayer", "name": "input_1"},
            {"class": "Embedding", "name": "embedding", "inputs": ["input_1"], "input_dim": vocab, "output_dim": dim,
             "input_length": length},
            {"class": "LayerNormalization", "name": "layer_normalization", "inputs": ["embedding"], "epsilon": BN_EPSILON},
            {"class": "Flatten", "name": "flatten", "inputs": ["layer_normalization"]},
            {"class": "Dense", "name": "dense", "inputs": ["flatten"], "units": 3, "activation": "softmax"},
        ],
        input_dtype="float32",  # Keras' default Input dtype; Embedding casts the ids to int32
    )
    n = 48
    x = rng.integers(0, vocab, size=(n, length)).astype(np.int32)
    teacher = rng.standard_normal((vocab, 3))
    y = np.argmax(teacher[x].sum(1) + 0.5 * rng.standard_normal((n, 3)), axis=1)  # int64
    return model, x, y, dict(steps=20, lr=0.03), "savez"


GRAPH_FIXTURE_MAKERS = {
    "rescnn": (make_rescnn, 1005),
    "textclf": (make_textclf, 1006),
}


# --------------------------------------------------------------------------
# The fixtures
# --------------------------------------------------------------------------


def make_mlp(rng):
    model = Model(
        (5,),
        [
            {"class": "Dense", "units": 12, "activation": "tanh"},
            {"class": "Dense", "units": 10, "activation": "relu"},
            {"class": "Dropout", "rate": 0.1},
            {"class": "Dense", "units": 4, "activation": "softmax"},
        ],
    )
    x = rng.standard_normal((64, 5)).astype(np.float32)
    teacher = rng.standard_normal((5, 4))
    y = np.argmax(np.tanh(x @ teacher) + 0.3 * rng.standard_normal((64, 4)), axis=1)  # int64
    return model, x, y, dict(steps=40, lr=0.01), "savez"


def make_cnn(rng):
    model = Model(
        (8, 8, 2),
        [
            {"class": "Conv2D", "filters": 4, "kernel_size": (3, 3), "strides": (1, 1), "padding": "same", "activation": "relu"},
            {"class": "MaxPooling2D", "pool_size": (2, 2), "strides": (2, 2), "padding": "valid"},
            {"class": "Conv2D", "filters": 3, "kernel_size": (3, 3), "strides": (2, 2), "padding": "same", "activation": "tanh"},
            {"class": "Flatten"},
            {"class": "Dense", "units": 3, "activation": "softmax"},
        ],
    )
    x = rng.standard_normal((40, 8, 8, 2)).astype(np.float32)
    teacher = rng.standard_normal((8 * 8 * 2, 3))
    y = np.argmax(x.reshape(40, -1) @ teacher, axis=1)  # int64
    return model, x, y, dict(steps=40, lr=0.01), "savez_compressed"


def make_regression(rng):
    model = Model((4,), [{"class": "Dense", "units": 2, "activation": "linear"}])
    x = rng.standard_normal((30, 4)).astype(np.float32)
    a, b = rng.standard_normal((4, 2)), rng.standard_normal(2)
    y = (x @ a + b + 0.1 * rng.standard_normal((30, 2))).astype(np.float32)
    return model, x, y, dict(steps=40, lr=0.02), "savez"


def make_logistic(rng):
    model = Model((3,), [{"class": "Dense", "units": 1, "activation": "sigmoid"}])
    x = rng.standard_normal((50, 3)).astype(np.float32)
    w = rng.standard_normal((3, 1)) * 2
    p = 1 / (1 + np.exp(-(x @ w + 0.3)))
    y = (rng.uniform(size=(50, 1)) < p).astype(np.float32)
    return model, x, y, dict(steps=40, lr=0.02), "savez"


FIXTURE_MAKERS = {
    "mlp": (make_mlp, 1001),
    "cnn": (make_cnn, 1002),
    "regression": (make_regression, 1003),
    "logistic": (make_logistic, 1004),
}


def save_npz(path, x, y, how):
    if how == "savez":
        np.savez(path, x=x, y=y)
    else:
        np.savez_compressed(path, x=x, y=y)


def build(name, maker, seed):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model, x, y, training, npz = maker(rng)
    assert model.num_params < 1000 and x.shape[0] < 100
    theta32 = train(model, glorot_uniform(model, rng), x, y, **training)

    outputs = [(name, converter_model_json(model))]
    if name == "mlp":
        outputs.append(("mlp-tfjs", tfjs_saved_model_json(model)))

    ref, H, f, theta = compute_reference(model, theta32, x, y)
    fd_err, columns = check_finite_differences(model, H, f, theta, rng)

    for out_name, (model_json, names) in outputs:
        out = FIXTURES / out_name
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        write_json(out / "model.json", model_json)
        write_weights(out / SHARD, theta32)
        save_npz(out / "data.npz", x, y, npz)
        named = name_reference(ref, names)
        write_json(out / "reference.json", named)

        # independent re-read from disk
        loss_np, loss_name_np, relu_margin, pool_margin = numpy_loss(out)
        rel = abs(loss_np - named["loss"]) / abs(named["loss"])
        assert loss_name_np == named["lossName"], (loss_name_np, named["lossName"])
        assert rel < 1e-12, f"{out_name}: numpy loss {loss_np} vs torch {named['loss']}"
        assert relu_margin > 1e-5 and pool_margin > 1e-5, f"{out_name}: near-tie {relu_margin} {pool_margin}"

        summary = (
            f"{out_name:11s} P={named['parameters']:4d} N={named['examples']:3d} loss={named['loss']:.6f} "
            f"trace={named['trace']:.6f} lmax={named['top'][0]:.6f} lmin={named['bottom'][0]:.6g}"
        )
        print(summary)
        print(
            f"{'':11s} |g|={named['gradientNorm']:.4g} sym={named['hessianSymmetryError']:.2g} "
            f"fd(cols {columns} + 1 hvp) rel err={fd_err:.2g} numpy-loss rel err={rel:.2g} "
            f"relu margin={relu_margin:.2g} pool margin={pool_margin:.2g}"
        )
        if model.loss_name != "mean-squared-error" and model.loss_name != "binary-cross-entropy":
            print(f"{'':11s} train accuracy={accuracy(model, theta32, x, y):.3f}")


def build_graph(name, maker, seed):
    """A Functional fixture: init, brief training (BatchNormalization in training
    mode: batch statistics), then the moving statistics are set to the training
    data's statistics under the final float32 weights (as if the moving averages
    had converged), and everything else is computed in inference mode."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model, x, y, training, npz = maker(rng)
    assert model.num_params < 1000 and x.shape[0] < 100
    model.mode = "train"
    theta32 = train(model, graph_init(model, rng), x, y, **training)
    with torch.no_grad():
        train_loss = float(model.loss(torch.from_numpy(theta32.astype(np.float64)),
                                      torch.from_numpy(x.astype(np.float64)), torch_targets(model, y)))
    model.mode = "inference"
    model.calibrate(theta32, x)

    ref, H, f, theta = compute_reference(model, theta32, x, y)
    fd_err, columns = check_finite_differences(model, H, f, theta, rng)
    model_json, names = converter_functional_model_json(model)
    assert names == model.names

    out = FIXTURES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    write_json(out / "model.json", model_json)
    write_weights(out / SHARD, model.blob(theta32))
    save_npz(out / "data.npz", x, y, npz)
    named = name_reference(ref, names)
    write_json(out / "reference.json", named)

    loss_np, loss_name_np, relu_margin, pool_margin = numpy_loss(out)
    rel = abs(loss_np - named["loss"]) / abs(named["loss"])
    assert loss_name_np == named["lossName"], (loss_name_np, named["lossName"])
    assert rel < 1e-12, f"{name}: numpy loss {loss_np} vs torch {named['loss']}"
    assert relu_margin > 1e-5 and pool_margin > 1e-5, f"{name}: near-tie {relu_margin} {pool_margin}"
    manifest_size = sum(int(np.prod(w["shape"])) for w in model_json["weightsManifest"][0]["weights"])
    assert manifest_size == model.num_params + model.num_consts == (out / SHARD).stat().st_size // 4

    print(
        f"{name:11s} P={named['parameters']:4d} (+{model.num_consts} constants) N={named['examples']:3d} "
        f"loss={named['loss']:.6f} trace={named['trace']:.6f} lmax={named['top'][0]:.6f} lmin={named['bottom'][0]:.6g}"
    )
    print(
        f"{'':11s} |g|={named['gradientNorm']:.4g} sym={named['hessianSymmetryError']:.2g} "
        f"fd(cols {columns} + 1 hvp) rel err={fd_err:.2g} numpy-loss rel err={rel:.2g} "
        f"relu margin={relu_margin:.2g} training-mode loss={train_loss:.6f} "
        f"train accuracy={accuracy(model, theta32, x, y):.3f}"
    )
    params = model.unflatten(theta32, model.consts)
    for i, layer in enumerate(model.layers):
        if layer["class"] in ("BatchNormalization", "LayerNormalization"):
            print(f"{'':11s} {layer['name']}: " + " ".join(f"{k}={[round(float(e), 3) for e in v]}" for k, v in params[i].items()))


def main():
    for name, (maker, seed) in FIXTURE_MAKERS.items():
        build(name, maker, seed)
    for name, (maker, seed) in GRAPH_FIXTURE_MAKERS.items():
        build_graph(name, maker, seed)
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"wrote {FIXTURES.relative_to(ROOT)} ({total / 1024:.0f} KiB)")


if __name__ == "__main__":
    sys.exit(main())
