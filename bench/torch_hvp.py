"""PyTorch peer for `npm run bench` (bench/hvp.ts): gradient and exact HVP (double backward) times.

Usage: /usr/bin/python3 bench/torch_hvp.py '<spec json>'
spec: {"input": [H, W, C] or [D], "layers": [...], "examples": N, "threads": T, "reps": R}
layers: {"type": "dense", "units": U, "activation": A} | {"type": "conv", "filters": F, "kernel": K,
"activation": A} (valid padding, stride 1) | {"type": "maxpool", "size": 2} | {"type": "flatten"};
activations relu, tanh, linear; the last layer's output are the logits of a softmax cross-entropy
(mean over the examples), as the engine differentiates it. Same architecture and batch as the tfjs
rows; random data. Prints one JSON line: params, gradient ms, HVP ms (medians after one warm-up).
The HVP is Hv = d/dw <dL/dw, v> (torch.autograd.grad with create_graph), forward included, like the
engine's Objective.hvp.
"""
import json
import statistics
import sys
import time

import torch


def build(spec):
    torch.manual_seed(0)
    shape = list(spec["input"])
    mods = []
    if len(shape) == 3:
        c, h, w = shape[2], shape[0], shape[1]
        cur = ("img", c, h, w)
    else:
        cur = ("vec", shape[0])
    for layer in spec["layers"]:
        t = layer["type"]
        if t == "dense":
            if cur[0] != "vec":
                raise ValueError("dense after an image: add flatten")
            mods.append(torch.nn.Linear(cur[1], layer["units"]))
            cur = ("vec", layer["units"])
        elif t == "conv":
            k = layer["kernel"]
            mods.append(torch.nn.Conv2d(cur[1], layer["filters"], k))
            cur = ("img", layer["filters"], cur[2] - k + 1, cur[3] - k + 1)
        elif t == "maxpool":
            s = layer["size"]
            mods.append(torch.nn.MaxPool2d(s))
            cur = ("img", cur[1], cur[2] // s, cur[3] // s)
        elif t == "flatten":
            mods.append(torch.nn.Flatten())
            cur = ("vec", cur[1] * cur[2] * cur[3])
        else:
            raise ValueError(t)
        act = layer.get("activation", "linear")
        if act == "relu":
            mods.append(torch.nn.ReLU())
        elif act == "tanh":
            mods.append(torch.nn.Tanh())
        elif act not in ("linear", "softmax"):
            raise ValueError(act)
    return torch.nn.Sequential(*mods), cur[1]


def median_ms(f, reps):
    f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append((time.perf_counter() - t0) * 1000)
    return statistics.median(ts)


def blas_library():
    """The BLAS actually mapped into this process (Debian picks it by update-alternatives)."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() or "mkl" in line.lower() or "blis" in line.lower()}
    except OSError:
        return "unknown"
    return ", ".join(sorted(libs)) or "none mapped"


def main():
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    model, classes = build(spec)
    params = [p for p in model.parameters()]
    n = spec["examples"]
    shape = spec["input"]
    x = torch.rand(n, shape[2], shape[0], shape[1]) if len(shape) == 3 else torch.rand(n, shape[0])
    y = torch.arange(n) % classes
    v = [torch.randn_like(p) for p in params]
    loss_fn = torch.nn.CrossEntropyLoss()

    def grad():
        loss = loss_fn(model(x), y)
        return torch.autograd.grad(loss, params)

    def hvp():
        loss = loss_fn(model(x), y)
        g = torch.autograd.grad(loss, params, create_graph=True)
        return torch.autograd.grad(g, params, grad_outputs=v)

    reps = spec.get("reps", 7)
    out = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "params": sum(p.numel() for p in params),
        "gradient_ms": median_ms(grad, reps),
        "hvp_ms": median_ms(hvp, reps),
        "blas": blas_library(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
