#!/usr/bin/env python3
"""Make the two example models under examples/: small, briefly trained
TF.js layers models with their training data.

Writes examples/<name>/model.json, group1-shard1of1.bin and data.npz
(x float32, y int64 class labels), in the format tensorflowjs_converter
writes from tf.keras 2.x (see scripts/make_model_fixtures.py, whose helpers
this script reuses):

  mlp  three-class 2-D spirals, 512 examples;
       2 -> Dense 32 tanh -> Dense 32 relu -> Dense 3 softmax
  cnn  12x12x1 images of three synthetic classes (a horizontal bar, a
       vertical bar, a cross; random position and length, pixel noise),
       256 examples;
       Conv2D 8 3x3 relu (valid) -> MaxPooling2D 2 -> Conv2D 8 3x3 relu
       (valid) -> Flatten -> Dense 3 softmax

Each is trained with full-batch Adam for a few hundred steps with torch
(seconds on a CPU) and the final train accuracy is printed.  Seeds are fixed.
No reference.json is written for the examples.

Run from the repository root:

  /usr/bin/python3 scripts/make_examples.py
"""

import shutil
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_model_fixtures import (  # noqa: E402
    SHARD,
    Model,
    accuracy,
    converter_model_json,
    glorot_uniform,
    numpy_loss,
    train,
    write_json,
    write_weights,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def spirals(rng, n=512, classes=3):
    """Interleaved spiral arms (about one turn each), one per class, with enough
    angular noise that the arms overlap a little (~90% is reachable)."""
    y = np.arange(n) % classes
    rng.shuffle(y)
    t = rng.uniform(0.0, 1.0, n)
    radius = 0.1 + 0.9 * t
    angle = y * (2 * np.pi / classes) + 7.0 * t + 0.7 * rng.standard_normal(n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x.astype(np.float32), y.astype(np.int64)


def bars(rng, n=256, size=12):
    """Class 0: horizontal bar, 1: vertical bar, 2: cross.  Random centre and
    arm length, Gaussian pixel noise, values quantised to 8 bits in [0, 1]."""
    y = np.arange(n) % 3
    rng.shuffle(y)
    x = np.zeros((n, size, size, 1))
    for i, label in enumerate(y):
        r, c = rng.integers(2, size - 2, size=2)
        half = rng.integers(1, 4)
        intensity = rng.uniform(0.4, 1.0)
        if label in (0, 2):
            x[i, r, max(c - half, 0) : c + half + 1, 0] = intensity
        if label in (1, 2):
            x[i, max(r - half, 0) : r + half + 1, c, 0] = intensity
    x += 0.35 * rng.standard_normal(x.shape)
    x = np.round(np.clip(x, 0.0, 1.0) * 255) / 255
    return x.astype(np.float32), y.astype(np.int64)


EXAMPLE_MAKERS = {
    "mlp": dict(
        seed=2001,
        model=Model(
            (2,),
            [
                {"class": "Dense", "units": 32, "activation": "tanh"},
                {"class": "Dense", "units": 32, "activation": "relu"},
                {"class": "Dense", "units": 3, "activation": "softmax"},
            ],
        ),
        data=spirals,
        training=dict(steps=400, lr=0.01),
        npz=np.savez,
    ),
    "cnn": dict(
        seed=2002,
        model=Model(
            (12, 12, 1),
            [
                {"class": "Conv2D", "filters": 8, "kernel_size": (3, 3), "strides": (1, 1), "padding": "valid", "activation": "relu"},
                {"class": "MaxPooling2D", "pool_size": (2, 2), "strides": (2, 2), "padding": "valid"},
                {"class": "Conv2D", "filters": 8, "kernel_size": (3, 3), "strides": (1, 1), "padding": "valid", "activation": "relu"},
                {"class": "Flatten"},
                {"class": "Dense", "units": 3, "activation": "softmax"},
            ],
        ),
        data=bars,
        training=dict(steps=200, lr=0.003),
        npz=np.savez_compressed,
    ),
}


def build(name, spec):
    rng = np.random.default_rng(spec["seed"])
    torch.manual_seed(spec["seed"])
    model = spec["model"]
    x, y = spec["data"](rng)
    theta32 = train(model, glorot_uniform(model, rng), x, y, **spec["training"])

    out = EXAMPLES / name
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model_json, _ = converter_model_json(model)
    write_json(out / "model.json", model_json)
    write_weights(out / SHARD, theta32)
    spec["npz"](out / "data.npz", x=x, y=y)

    loss, _, _, _ = numpy_loss(out)  # re-read from disk as a sanity check
    acc = accuracy(model, theta32, x, y)
    print(f"{name}: {model.num_params} parameters, {len(y)} examples, train loss {loss:.4f}, train accuracy {acc:.3f}")


def main():
    for name, spec in EXAMPLE_MAKERS.items():
        build(name, spec)


if __name__ == "__main__":
    sys.exit(main())
