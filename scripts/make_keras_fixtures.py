#!/usr/bin/env python3
"""Make Keras model files (.keras and legacy .h5) from the TF.js fixtures.

Keras cannot be installed here, so the files are written with h5py and zipfile
in the exact layout that Keras writes.  Each one holds the SAME weights as a
TF.js fixture in test/fixtures/models/<name> (read back from its model.json and
.bin), so that test/keras.test.ts can check that the Keras file gives that
fixture's float64 reference numbers (reference.json, data.npz).

Writes test/fixtures/keras/:

  <name>.keras   imitates Keras 3.6 `model.save("m.keras")` (keras/src/saving/
                 saving_lib.py): a stored zip of metadata.json, config.json
                 (serialize_keras_object of the model: "module", "class_name",
                 "config", "registered_name", "build_config", "compile_config";
                 layers with Keras 3 configs: InputLayer "batch_shape", dtype
                 policies, functional "inbound_nodes" as {"args": [...
                 "__keras_tensor__" ... "keras_history"], "kwargs": {}}) and
                 model.weights.h5 (H5IOStore): the model's own empty "vars",
                 "layers/<slot>/vars/<i>" where <slot> is the layer CLASS in
                 snake case numbered per class in model.layers (a Sequential's
                 list leaves out its InputLayer; a Functional's includes it)
                 and <i> the variable index (trainable, then non-trainable),
                 an empty "vars" group for weightless layers, and the
                 optimizer's variables under "optimizer/vars".
                 mlp.keras and rescnn.keras give their layers names that are
                 NOT their slots (mlp's second Dense is called "dense", but its
                 slot is "dense_1"), so a reader that looked weights up by
                 layer name would read the wrong ones.
  <name>.h5      imitates tf.keras 2.15 `model.save("m.h5")` (keras/src/saving/
                 legacy/hdf5_format.py): root attributes keras_version and
                 backend (str), model_config and training_config (JSON bytes);
                 group "model_weights" with attributes layer_names (bytes
                 list), backend, keras_version, and one group per layer (in
                 name order) with attribute weight_names (bytes list, e.g.
                 b"dense/kernel:0") and the datasets at those names, e.g.
                 "model_weights/dense/dense/kernel:0"; "optimizer_weights".
                 The model_config is the TF.js fixture's, which the TF.js
                 converter copied from tf.keras 2.15.
  mlp-keras3.h5  the mlp as Keras 3.6's legacy `model.save("m.h5")` writes it
                 (keras/src/legacy/saving/legacy_h5_format.py): weight_names are
                 variable paths ("sequential/dense/kernel"), layer configs are
                 Keras 3's, plus an empty "top_level_model_weights" group.
  bad/           broken files for the error tests: a legacy .h5 and a .keras
                 each missing one layer's weight group, a .keras and a .h5
                 with a Lambda layer, and a weights-only .weights.h5.

Deterministic (fixed dates, sorted members).  Run from the repository root:

  /usr/bin/python3 scripts/make_keras_fixtures.py

Needs numpy and h5py (Debian: apt-get install python3-numpy python3-h5py).
"""

import copy
import io
import json
import re
import zipfile
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "test" / "fixtures" / "models"
OUT = ROOT / "test" / "fixtures" / "keras"
KERAS3_VERSION = "3.6.0"
KERAS2_VERSION = "2.15.0"
DATE = (2026, 1, 1, 0, 0, 0)

POLICY = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": None}

# Keras 3 renames for mlp and rescnn (see the docstring).
RENAMES = {
    "mlp": {"dense": "hidden", "dense_1": "dense", "dropout": "drop", "dense_2": "logits"},
    "rescnn": {"input_1": "pixels", "conv2d": "stem", "batch_normalization": "stem_bn", "conv2d_1": "conv2d",
               "batch_normalization_1": "batch_normalization", "dense": "head"},
    "cnn": {},
}

# Variables per class, in Keras' order (trainable first), as in the TF.js manifest's suffixes.
VARS = {
    "Dense": ["kernel", "bias"],
    "Conv2D": ["kernel", "bias"],
    "BatchNormalization": ["gamma", "beta", "moving_mean", "moving_variance"],
}


def snake(name):
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def read_tfjs(name):
    d = MODELS / name
    m = json.loads((d / "model.json").read_text())
    raw = (d / "group1-shard1of1.bin").read_bytes()
    weights, off = {}, 0
    for group in m["weightsManifest"]:
        for w in group["weights"]:
            assert w["dtype"] == "float32"
            n = int(np.prod(w["shape"]))
            weights[w["name"]] = np.frombuffer(raw, "<f4", n, off).reshape(w["shape"]).copy()
            off += 4 * n
    assert off == len(raw)
    return m["modelTopology"], weights


def layer_weights(layer, weights):
    cls, name = layer["class_name"], layer["config"]["name"]
    return [(v, weights[f"{name}/{v}"]) for v in VARS.get(cls, []) if f"{name}/{v}" in weights]


# ---------------------------------------------------------------- Keras 3 .keras

def keras3_layer_config(layer):
    cls = layer["class_name"]
    c = copy.deepcopy(layer["config"])
    if cls == "InputLayer":
        return {"batch_shape": c["batch_input_shape"], "dtype": "float32", "sparse": False, "name": c["name"]}
    c["dtype"] = POLICY
    for k in ("kernel_initializer", "bias_initializer", "beta_initializer", "gamma_initializer",
              "moving_mean_initializer", "moving_variance_initializer"):
        if isinstance(c.get(k), dict):
            c[k] = {"module": "keras.initializers", **c[k], "registered_name": None}
    c.pop("activity_regularizer", None)
    if cls == "BatchNormalization":
        c["axis"] = -1
        c["synchronized"] = False
    return c


def shapes_through(layers, input_shape):
    """Per-example output shapes of the fixtures' layer kinds (for build_config and keras tensors)."""
    out = {}
    for l in layers:
        cls, c = l["class_name"], l["config"]
        ins = [out[s[0]] for s in l.get("_inputs", [])] or [input_shape]
        s = ins[0]
        if cls == "InputLayer":
            s = c["batch_input_shape"][1:]
        elif cls == "Conv2D":
            if c["padding"] == "same":
                h, w = [-(-d // st) for d, st in zip(s[:2], c["strides"])]
            else:
                h, w = [(d - k) // st + 1 for d, k, st in zip(s[:2], c["kernel_size"], c["strides"])]
            s = [h, w, c["filters"]]
        elif cls == "MaxPooling2D":
            s = [(d - k) // st + 1 for d, k, st in zip(s[:2], c["pool_size"], c["strides"])] + [s[2]]
        elif cls == "Flatten":
            s = [int(np.prod(s))]
        elif cls == "GlobalAveragePooling2D":
            s = [s[2]]
        elif cls == "Dense":
            s = s[:-1] + [c["units"]]
        out[c["name"]] = list(s)
    return out


def keras3_config(name, topo):
    mc = copy.deepcopy(topo["model_config"])
    ren = RENAMES[name]
    rn = lambda n: ren.get(n, n)
    functional = mc["class_name"] == "Functional"
    src_layers = mc["config"]["layers"]
    for l in src_layers:
        l["_inputs"] = [ref for node in l.get("inbound_nodes", []) for ref in node]
    first = src_layers[0]["config"]["batch_input_shape"]
    shapes = shapes_through(src_layers, first[1:])
    layers = []
    for l in src_layers:
        c = keras3_layer_config(l)
        c["name"] = rn(c["name"])
        entry = {"module": "keras.layers", "class_name": l["class_name"], "config": c, "registered_name": None}
        if l["class_name"] != "InputLayer":
            ins = [[None] + shapes[s[0]] for s in l["_inputs"]] or [first]
            entry["build_config"] = {"input_shape": ins[0] if len(ins) == 1 else ins}
        if functional:
            entry["name"] = c["name"]
            tensors = [{"class_name": "__keras_tensor__", "config": {"shape": [None] + shapes[s[0]], "dtype": "float32",
                        "keras_history": [rn(s[0]), 0, 0]}} for s in l["_inputs"]]
            entry["inbound_nodes"] = [] if not tensors else [{"args": [tensors] if len(tensors) > 1 else tensors, "kwargs": {}}]
        layers.append(entry)
    config = {"name": mc["config"]["name"], "trainable": True, "dtype": POLICY, "layers": layers}
    if functional:
        config["input_layers"] = [rn(x[0]) for x in mc["config"]["input_layers"]][0:1] + [0, 0]
        config["output_layers"] = [rn(x[0]) for x in mc["config"]["output_layers"]][0:1] + [0, 0]
    else:
        config["build_input_shape"] = first
    loss = topo["training_config"]["loss"]
    return {
        "module": "keras.src.models.functional" if functional else "keras",
        "class_name": mc["class_name"],
        "config": config,
        "registered_name": "Functional" if functional else None,
        "build_config": {"input_shape": first},
        "compile_config": {
            "optimizer": {"module": "keras.optimizers", "class_name": "Adam", "config": {"name": "adam", "learning_rate": 0.001,
                          "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None, "use_ema": False,
                          "ema_momentum": 0.99, "ema_overwrite_frequency": None, "loss_scale_factor": None,
                          "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-07, "amsgrad": False},
                          "registered_name": None},
            "loss": loss, "loss_weights": None, "metrics": ["accuracy"], "weighted_metrics": None,
            "run_eagerly": False, "steps_per_execution": 1, "jit_compile": False,
        },
    }


def keras3_weights_h5(topo, weights, skip_slot=None):
    mc = topo["model_config"]
    layers = mc["config"]["layers"]
    listed = layers[1:] if mc["class_name"] == "Sequential" and layers[0]["class_name"] == "InputLayer" else layers
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.create_group("vars")  # the model's own (none)
        used = {}
        trainable = 0
        for l in listed:
            base = snake(l["class_name"])
            if base in used:
                used[base] += 1
                slot = f"{base}_{used[base]}"
            else:
                used[base] = 0
                slot = base
            if slot == skip_slot:
                continue
            g = f.create_group(f"layers/{slot}").create_group("vars")
            for i, (v, arr) in enumerate(layer_weights(l, weights)):
                g[str(i)] = arr
                trainable += v not in ("moving_mean", "moving_variance")
        opt = f.create_group("optimizer").create_group("vars")
        opt["0"] = np.array(25, dtype="<i8")  # iterations
        opt["1"] = np.array(0.001, dtype="<f4")  # learning_rate
        k = 2
        for l in listed:
            for v, arr in layer_weights(l, weights):
                if v in ("moving_mean", "moving_variance"):
                    continue
                for _ in ("m", "v"):  # Adam momentums and velocities
                    opt[str(k)] = np.full(arr.shape, 1e-3, dtype="<f4")
                    k += 1
    return buf.getvalue()


def write_zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:  # Keras: ZIP_STORED, this member order
        for name, data in members:
            info = zipfile.ZipInfo(name, DATE)
            zf.writestr(info, data)


def write_keras(path, config, weights_h5):
    meta = json.dumps({"keras_version": KERAS3_VERSION, "date_saved": "2026-01-01@00:00:00"})
    write_zip(path, [("metadata.json", meta.encode()), ("config.json", json.dumps(config).encode()),
                     ("model.weights.h5", weights_h5)])


# ---------------------------------------------------------------- tf.keras 2.15 .h5

def write_legacy_h5(path, topo, weights, skip_group=None, keras3=False):
    """keras3: as Keras 3's legacy_h5_format writes it: weight_names are variable paths
    ("sequential/dense/kernel", no ":0"), layer configs are Keras 3's (InputLayer "batch_shape"),
    and a "top_level_model_weights" group (empty here) follows the layers."""
    mc = copy.deepcopy(topo["model_config"])
    if keras3:
        for l in mc["config"]["layers"]:
            l["config"] = keras3_layer_config(l)
    layers = mc["config"]["layers"]
    model_layers = layers[1:] if mc["class_name"] == "Sequential" and layers[0]["class_name"] == "InputLayer" else layers
    with h5py.File(path, "w", track_order=False) as f:
        f.attrs["keras_version"] = KERAS2_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(mc).encode("utf8")
        f.attrs["training_config"] = json.dumps(topo["training_config"]).encode("utf8")
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = [l["config"]["name"].encode("utf8") for l in model_layers]
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = KERAS2_VERSION.encode("utf8")
        for l in sorted(model_layers, key=lambda l: l["config"]["name"]):
            name = l["config"]["name"]
            if name == skip_group:
                continue
            g = mw.create_group(name)
            ws = layer_weights(l, weights)
            names = [(f"{mc['config']['name']}/{name}/{v}" if keras3 else f"{name}/{v}:0").encode("utf8") for v, _ in ws]
            g.attrs["weight_names"] = names if names else np.array([], dtype=np.float64)
            for n, (_, arr) in zip(names, ws):
                g.create_dataset(n.decode(), data=arr)
        if keras3:
            mw.create_group("top_level_model_weights").attrs["weight_names"] = np.array([], dtype=np.float64)
        ow = f.create_group("optimizer_weights")
        ow.attrs["weight_names"] = [b"Adam/iter:0"]
        ow.create_dataset("Adam/iter:0", data=np.array(25, dtype="<i8"))


# ---------------------------------------------------------------- broken files

LAMBDA_K3 = {"module": "keras.layers", "class_name": "Lambda", "config": {
    "name": "scale", "trainable": True, "dtype": POLICY,
    "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwApAk7pAgAAAKkAKQHaAXhyAgAAAHICAAAA+gg8c3RkaW4+2gg8bGFtYmRhPgEAAADzAAAAAA==",
                 "defaults": None, "closure": None}}, "arguments": {}}, "registered_name": None,
    "build_config": {"input_shape": [None, 12]}}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    bad = OUT / "bad"
    bad.mkdir(exist_ok=True)
    for name in ("mlp", "cnn", "rescnn"):
        topo, weights = read_tfjs(name)
        write_keras(OUT / f"{name}.keras", keras3_config(name, topo), keras3_weights_h5(topo, weights))
        write_legacy_h5(OUT / f"{name}.h5", topo, weights)
    topo, weights = read_tfjs("mlp")
    write_legacy_h5(OUT / "mlp-keras3.h5", topo, weights, keras3=True)
    write_legacy_h5(bad / "missing-group.h5", topo, weights, skip_group="dense_1")
    write_keras(bad / "missing-group.keras", keras3_config("mlp", topo), keras3_weights_h5(topo, weights, skip_slot="dense_1"))
    lam = keras3_config("mlp", topo)
    lam["config"]["layers"].insert(2, LAMBDA_K3)
    write_keras(bad / "lambda.keras", lam, keras3_weights_h5(topo, weights))
    t2 = copy.deepcopy(topo)
    t2["model_config"]["config"]["layers"].insert(2, {"class_name": "Lambda", "config": {
        "name": "scale", "trainable": True, "dtype": "float32",
        "function": ["4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwA=", None, None],
        "function_type": "lambda", "module": "__main__", "output_shape": None, "output_shape_type": "raw",
        "output_shape_module": None, "arguments": {}}})
    write_legacy_h5(bad / "lambda.h5", t2, weights)
    # save_weights output (Keras 3 .weights.h5): weights only, no config
    (bad / "model.weights.h5").write_bytes(keras3_weights_h5(topo, weights))
    print("wrote", sorted(str(p.relative_to(ROOT)) for p in OUT.rglob("*") if p.is_file()))


if __name__ == "__main__":
    main()
