"""Bring your own Keras model: a user's trained ``Sequential`` of LSTM and Dense layers → a model directory.

People train in Jupyter. :func:`import_keras` reads their ``.keras`` (or ``.h5``) file, refuses in one line
anything the engines cannot run exactly (naming the layer), splits the CSV the way ``tinylstm train`` would
(so ``split.json`` names the rows every export calibrates and is checked on), takes the scaler fitted on the
training rows or the user's own (``--scaler FILE``), and writes ``bundle.npz``, ``model.keras``, ``split.json``,
``config.json`` and ``import.json`` atomically. The bundle is checked against the Keras model on the test rows
before anything is written (:data:`MAX_ABS_DIFF`).

Supported: ``InputLayer``; ``LSTM`` (tanh/sigmoid, any ``use_bias``/``unit_forget_bias``, dropout — identity at
inference); ``Dense`` with relu/linear (and softmax as the last layer: a classifier); ``Dropout`` (identity at
inference, skipped). Refused: GRU, SimpleRNN, Bidirectional, ``go_backwards``, ``stateful``, peephole cells,
other activations, Conv/Flatten/anything else, a dense layer before an LSTM, an LSTM returning sequences into
the head, a model that is not a plain chain.

The scaler file is JSON: ``{"x_mean": [...F], "x_scale": [...F], "y_mean": m, "y_scale": s}`` (``y_*``
optional: identity, for a model that predicts raw target units or a classifier); ``--scaler identity`` for a
model trained on raw inputs.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from . import atomic
from .data import Scaler, load_dataset, sha256_of, split
from .errors import UserError

#: The largest |bundle − Keras| on the test rows (target units, or probability) an import accepts. float32
#: Keras against the float64 numpy reference differ by ~1e-6; a wrongly read layer differs by far more.
MAX_ABS_DIFF = 1e-4

_REFUSED = {
    "GRU": "GRU cells are not supported (LSTM only)",
    "SimpleRNN": "SimpleRNN cells are not supported (LSTM only)",
    "Bidirectional": "bidirectional layers are not supported (a device sees the sequence once, forwards)",
    "ConvLSTM1D": "ConvLSTM layers are not supported", "ConvLSTM2D": "ConvLSTM layers are not supported",
    "RNN": "generic RNN wrappers (e.g. peephole cells) are not supported: use keras.layers.LSTM",
    "TimeDistributed": "TimeDistributed is not supported",
    "Masking": "masking is not supported (a window has no padding)",
}


@dataclass(frozen=True)
class ImportOptions:
    """What ``tinylstm import-keras`` takes (the CLI maps its flags onto this)."""

    model: Path
    data: Path
    features: tuple[str, ...]
    target: str
    out: Path
    layout: str = "feature_per_step"
    #: window layout: a tinylstm.series.SeriesSpec (window, horizon, time/group columns, task, split)
    spec: Any = None
    #: None: fit on the training rows; "identity"; or a JSON file (module docstring)
    scaler: str | None = None
    test_size: float = 0.3
    split_seed: int = 42


def check_layers(model, path: Path) -> list:
    """The model's layers that carry weights, in order; raise one line naming the first unsupported one."""
    from .model import keras

    k = keras()
    if not isinstance(model, k.Sequential):
        # a functional model that is a plain chain is fine; anything with branches is not
        for layer in model.layers:
            if len(getattr(layer, "_inbound_nodes", [])) > 1:
                raise UserError(f"{path}: layer {layer.name!r} is used twice; only plain chains are supported")
    kept, seen_lstm, seen_dense = [], False, False
    layers = [ly for ly in model.layers if type(ly).__name__ != "InputLayer"]
    for i, layer in enumerate(layers):
        kind = type(layer).__name__
        where = f"{path}: layer {layer.name!r} ({kind})"
        if kind in _REFUSED:
            raise UserError(f"{where}: {_REFUSED[kind]}")
        if kind == "Dropout" or kind in ("SpatialDropout1D", "GaussianDropout", "GaussianNoise"):
            continue  # identity at inference
        if kind == "LSTM":
            if seen_dense:
                raise UserError(f"{where}: a dense layer before an LSTM is not supported")
            if layer.go_backwards:
                raise UserError(f"{where}: go_backwards=True is not supported")
            if layer.stateful:
                raise UserError(f"{where}: stateful=True is not supported (tinylstm's streaming API keeps the "
                                f"state on the device; train stateless)")
            act, rec = layer.activation.__name__, layer.recurrent_activation.__name__
            if act != "tanh" or rec != "sigmoid":
                raise UserError(f"{where}: activation {act!r}/recurrent_activation {rec!r}; only tanh/sigmoid")
            nxt = next((ly for ly in layers[i + 1:] if type(ly).__name__ not in ("Dropout",)), None)
            wants_seq = nxt is not None and type(nxt).__name__ == "LSTM"
            if bool(layer.return_sequences) != wants_seq:
                raise UserError(f"{where}: return_sequences={layer.return_sequences} — every LSTM but the last "
                                f"must return sequences, the last must not")
            seen_lstm = True
        elif kind == "Dense":
            if not seen_lstm:
                raise UserError(f"{where}: the model must start with an LSTM layer")
            act = layer.activation.__name__
            last = i == len(layers) - 1 or all(type(ly).__name__ == "Dropout" for ly in layers[i + 1:])
            if act not in ("relu", "linear") and not (act == "softmax" and last):
                raise UserError(f"{where}: activation {act!r} is not supported (relu, linear; softmax on the "
                                f"last layer)")
        else:
            raise UserError(f"{where}: this layer type is not supported (LSTM, Dense and Dropout only)")
        kept.append(layer)
    if not seen_lstm or not kept or type(kept[-1]).__name__ != "Dense":
        raise UserError(f"{path}: the model must be LSTM layer(s) followed by Dense layer(s)")
    return kept


def load_model(path: Path):
    from .model import keras

    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    k = keras()
    try:
        return k.models.load_model(path, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises many types for a bad file; name the file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path}: not a Keras model this Keras {k.__version__} can read ({first[:160]})") from None


def _read_scaler(opt: ImportOptions, n_features: int) -> Scaler | None:
    if opt.scaler is None:
        return None
    if opt.scaler == "identity":
        return Scaler(np.zeros(n_features), np.ones(n_features), 0.0, 1.0)
    p = Path(opt.scaler)
    try:
        d = json.loads(p.read_text())
        xm, xs = np.asarray(d["x_mean"], np.float64), np.asarray(d["x_scale"], np.float64)
        ym, ys = float(d.get("y_mean", 0.0)), float(d.get("y_scale", 1.0))
    except FileNotFoundError:
        raise UserError(f"{p}: no such scaler file") from None
    except (ValueError, KeyError, TypeError) as err:
        raise UserError(f"{p}: not a scaler file (JSON with x_mean, x_scale[, y_mean, y_scale]): {err}") from None
    if xm.shape != (n_features,) or xs.shape != (n_features,):
        raise UserError(f"{p}: x_mean/x_scale need {n_features} values (one per feature), got {xm.size}/{xs.size}")
    if not (np.all(np.isfinite(xm)) and np.all(xs > 0) and ys > 0):
        raise UserError(f"{p}: scales must be > 0 and every value finite")
    return Scaler(xm, xs, ym, ys)


def import_keras(opt: ImportOptions) -> dict[str, Any]:
    """Write the model directory ``opt.out``; returns the import summary (also written as ``import.json``)."""
    from .model import bundle_from_keras
    from .reference import predict as reference_predict
    from .train import TrainConfig, TrainResult, save, window_scaler

    model = load_model(opt.model)
    layers = check_layers(model, opt.model)
    shape = tuple(model.inputs[0].shape)[1:] if getattr(model, "inputs", None) else None
    features = list(opt.features)
    F = len(features)
    if opt.layout == "window":
        if opt.spec is None:
            raise UserError("--layout window needs --window")
        W, want = opt.spec.window, (opt.spec.window, F)
    else:
        W, want = F, (F, 1)
    if shape is None or len(shape) != 2:
        raise UserError(f"{opt.model}: input shape {shape}; an LSTM model takes (steps, values per step)")
    if (shape[0] is not None and shape[0] != want[0]) or shape[1] != want[1]:
        hint = (f"--layout window --window {W} with {F} feature(s)" if opt.layout == "window"
                else f"{F} feature(s) read as {F} steps of one value (the feature_per_step layout)")
        raise UserError(f"{opt.model}: input shape {tuple(shape)} does not match {hint}: expected {want}")
    K = int(layers[-1].units)
    softmax = layers[-1].activation.__name__ == "softmax"
    meta: dict[str, Any] = {"imported_from": opt.model.name, "keras_sha256": sha256_of(opt.model)}
    if opt.layout == "window":
        from .series import check_classes, load_series, split_windows, windows

        spec = opt.spec
        if softmax != (spec.task == "classify"):
            raise UserError(f"{opt.model}: the last layer is {'softmax' if softmax else 'not softmax'} but "
                            f"--task is {spec.task}")
        series = load_series(opt.data, features, opt.target, spec)
        w = windows(series, spec)
        sp = split_windows(w, spec, series.path)
        if softmax:
            check_classes(w, series.classes, series.path, series.target)
            if K != len(series.classes):
                raise UserError(f"{opt.model}: {K} outputs, but column {opt.target!r} holds "
                                f"{len(series.classes)} classes")
            meta["classes"] = list(series.classes)
        elif K != 1:
            raise UserError(f"{opt.model}: {K} outputs; a regression has one")
        scaler = _read_scaler(opt, F) or window_scaler(w.X[sp.train], w.y[sp.train], softmax, features,
                                                       opt.target, series.path)
        meta.update({"seed": 0, "data_file": series.path.name, "data_sha256": series.sha256, "window": W,
                     "horizon": spec.h, "series": spec.as_dict(),
                     "rows": {"train": int(len(sp.train)), "validation": int(len(sp.validation)),
                              "test": int(len(sp.test))}})
        X_test = w.X[sp.test].reshape(len(sp.test), -1)
        ds, windows_state = None, (series, w, spec)
    else:
        if softmax or K != 1:
            raise UserError(f"{opt.model}: the feature_per_step layout takes a one-output regression; use "
                            f"--layout window --task classify for a classifier")
        ds = load_dataset(opt.data, features, opt.target)
        sp = split(len(ds.y), opt.test_size, opt.split_seed)
        scaler = _read_scaler(opt, F) or Scaler.fit(ds.X[sp.train], ds.y[sp.train], features, opt.target, opt.data)
        meta.update({"seed": 0, "data_file": Path(opt.data).name, "data_sha256": sha256_of(opt.data)})
        X_test = ds.X[sp.test]
        windows_state = None
    # the bundle from the weight-carrying layers only (Dropout skipped: identity at inference)
    bundle = bundle_from_keras(SimpleNamespace(layers=layers), scaler, features, opt.target, {}, meta,
                               layout=opt.layout)
    ref = np.asarray(bundle.outputs(np.asarray(model(bundle.sequences(X_test), training=False))))
    got = np.asarray(reference_predict(bundle, X_test))
    diff = float(np.max(np.abs(ref - got))) if len(X_test) else 0.0
    if not diff <= MAX_ABS_DIFF:
        raise UserError(f"{opt.model}: the imported network differs from Keras by {diff:.3g} on the test rows "
                        f"(> {MAX_ABS_DIFF}); a layer option is not reproduced")
    lstm_units = [int(ly.units) for ly in layers if type(ly).__name__ == "LSTM"]
    dense_units = [int(ly.units) for ly in layers if type(ly).__name__ == "Dense"][:-1]
    config = TrainConfig(lstm_units=lstm_units, dense_units=dense_units, epochs=0,
                         test_size=opt.spec.test_size if opt.spec else opt.test_size,
                         split_seed=opt.spec.split_seed if opt.spec else opt.split_seed)
    result = TrainResult(model, bundle, scaler, sp, {}, config, 0.0, 0, ds, windows_state)
    summary = {"model": str(opt.model), "keras_sha256": meta["keras_sha256"], "layers": [ly.name for ly in layers],
               "scaler": "fitted on the training rows" if opt.scaler is None else str(opt.scaler),
               "test_rows": int(len(X_test)), "bundle_vs_keras_max_abs": diff, "params": bundle.params()}
    out = Path(opt.out)
    stage = atomic.stage_dir(out)
    try:
        save(result, stage, in_place=True)
        atomic.write_json(stage / "import.json", summary)
        atomic.swap_in(stage, out)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
    return summary


__all__ = ["ImportOptions", "import_keras", "check_layers", "MAX_ABS_DIFF"]
