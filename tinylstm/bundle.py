"""The weight bundle: the framework-free trained network that every exporter reads.

A bundle holds, in float32:

* LSTM layers, each with input kernel ``W`` (inputs × 4H), recurrent kernel ``U`` (H × 4H) and bias ``b`` (4H).
  The 4H gate axis is in **Keras order i, f, c, o** (input gate, forget gate, cell candidate, output gate),
  each block H wide. Gates use sigmoid (i, f, o) and tanh (c); ``h = o * tanh(c)``. Exporters that want another
  order (E-LSTM uses f, i, c, o) reorder with :func:`gate_slices`.
* Dense layers ``y = act(x @ W + b)`` with ``W`` (inputs × outputs) and ``act`` in ``relu``/``linear``/``softmax``.
* The :class:`~tinylstm.data.Scaler` (raw CSV units ⇄ standardised units), feature/target names and units.
* The input layout: ``feature_per_step`` means a raw row of F features becomes F time steps of one value;
  ``window`` means a sample is W consecutive rows of a time series, F feature values per step (``meta["window"]``
  = W, ``meta["horizon"]`` = H). A sample's raw values are step-major either way: ``x[t * F + f]``.
* The task: ``regression`` (one output, in target units through the scaler) or ``classification`` (a softmax over
  K classes named, in output order, by ``meta["classes"]``; the target scaler is the identity).
* ``meta``: provenance (data file SHA-256, seed, training config, metrics) for generated-file headers.

On disk it is one ``.npz`` file (arrays + a ``meta.json`` member) written with fixed zip timestamps, so the same
weights always give the same bytes.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .data import Scaler

GATE_ORDER = ("i", "f", "c", "o")
ACTIVATIONS = ("relu", "linear", "softmax")
BUNDLE_FORMAT = 1


def gate_slices(units: int) -> dict[str, slice]:
    """Column slices of each gate in a 4H-wide kernel in bundle (Keras) order."""
    return {g: slice(k * units, (k + 1) * units) for k, g in enumerate(GATE_ORDER)}


@dataclass
class LstmLayer:
    """One LSTM layer: W (inputs × 4H), U (H × 4H), b (4H), gate order i, f, c, o."""

    W: np.ndarray
    U: np.ndarray
    b: np.ndarray
    return_sequences: bool

    @property
    def units(self) -> int:
        return int(self.U.shape[0])

    @property
    def inputs(self) -> int:
        return int(self.W.shape[0])

    def params(self) -> int:
        return int(self.W.size + self.U.size + self.b.size)

    def macs_per_step(self) -> int:
        """Multiply-accumulates per time step for the gate pre-activations (W·x + U·h)."""
        return int(self.W.size + self.U.size)


@dataclass
class DenseLayer:
    """A dense layer: ``act(x @ W + b)``, W (inputs × outputs)."""

    W: np.ndarray
    b: np.ndarray
    activation: str

    @property
    def units(self) -> int:
        return int(self.W.shape[1])

    def params(self) -> int:
        return int(self.W.size + self.b.size)


@dataclass
class Bundle:
    """The trained network, its scaler and its provenance. See the module docstring for conventions."""

    lstm: list[LstmLayer]
    dense: list[DenseLayer]
    scaler: Scaler
    features: list[str]
    target: str
    units: dict[str, str] = field(default_factory=dict)
    layout: str = "feature_per_step"
    task: str = "regression"
    meta: dict[str, Any] = field(default_factory=dict)

    # ---------------------------------------------------------------- shape facts exporters need
    @property
    def n_steps(self) -> int:
        """Time steps per sample (``feature_per_step``: one per feature; ``window``: the window length W)."""
        return len(self.features) if self.layout == "feature_per_step" else int(self.meta["window"])

    @property
    def values_per_step(self) -> int:
        """Raw values per time step (``feature_per_step``: 1; ``window``: F, one per feature column)."""
        return 1 if self.layout == "feature_per_step" else len(self.features)

    @property
    def n_inputs(self) -> int:
        """Raw input values per sample, step-major (``x[t * values_per_step + f]``): W×F for a window."""
        return self.n_steps * self.values_per_step

    @property
    def n_outputs(self) -> int:
        """Network outputs K (1 for a regression, one probability per class for a classifier)."""
        return self.dense[-1].units

    @property
    def horizon(self) -> int:
        """Steps from a window's last row to the row its target is read from (0: that row; feature_per_step: 0)."""
        return int(self.meta.get("horizon", 0))

    @property
    def classes(self) -> list[str]:
        """Class names in output order (sorted labels, numbers numerically); empty for a regression."""
        return [str(c) for c in self.meta.get("classes", [])]

    @property
    def is_classifier(self) -> bool:
        return self.task == "classification"

    def input_mean(self) -> np.ndarray:
        """Scaler mean per raw input value (length :attr:`n_inputs`, step-major), float64."""
        return np.tile(np.asarray(self.scaler.x_mean, np.float64), self.n_inputs // len(self.scaler.x_mean))

    def input_scale(self) -> np.ndarray:
        """Scaler scale per raw input value (length :attr:`n_inputs`, step-major), float64."""
        return np.tile(np.asarray(self.scaler.x_scale, np.float64), self.n_inputs // len(self.scaler.x_scale))

    def sequences(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw samples → standardised network input (n, steps, values_per_step), float32.

        ``X_raw`` is (n, n_inputs) step-major raw values (a window may also be given as (n, W, F)); one sample
        may be given as a 1-D array.
        """
        X = np.asarray(X_raw, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        X = X.reshape(X.shape[0], self.n_steps, self.values_per_step)
        if self.layout == "feature_per_step":
            scaled = self.scaler.transform_x(X[:, :, 0])[:, :, None]
        else:
            scaled = self.scaler.transform_x(X)
        return np.asarray(scaled, dtype=np.float32)

    def outputs(self, out_scaled: np.ndarray) -> np.ndarray:
        """Network outputs (n, K) → the user's units: (n,) target units for a regression (the scaler inverted),
        (n, K) class probabilities for a classifier (as they are)."""
        out = np.asarray(out_scaled, dtype=np.float64)
        if out.ndim == 1:
            out = out[:, None]
        if self.is_classifier:
            return out
        return self.scaler.inverse_y(out[:, 0])

    def params(self) -> int:
        return sum(layer.params() for layer in [*self.lstm, *self.dense])

    def macs(self) -> int:
        """Multiply-accumulates per inference (LSTM gate products over all steps + dense layers)."""
        lstm = sum(layer.macs_per_step() for layer in self.lstm) * self.n_steps
        return lstm + sum(int(d.W.size) for d in self.dense)

    def describe(self) -> str:
        parts = [f"LSTM({l.units}{', seq' if l.return_sequences else ''})" for l in self.lstm]
        parts += [f"Dense({d.units}, {d.activation})" for d in self.dense]
        return " -> ".join(parts)

    # ---------------------------------------------------------------- persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for k, layer in enumerate(self.lstm):
            arrays[f"lstm{k}_W"], arrays[f"lstm{k}_U"], arrays[f"lstm{k}_b"] = layer.W, layer.U, layer.b
        for k, layer in enumerate(self.dense):
            arrays[f"dense{k}_W"], arrays[f"dense{k}_b"] = layer.W, layer.b
        arrays["scaler_x_mean"] = self.scaler.x_mean
        arrays["scaler_x_scale"] = self.scaler.x_scale
        arrays["scaler_y"] = np.array([self.scaler.y_mean, self.scaler.y_scale])
        return arrays

    def header(self) -> dict[str, Any]:
        """The JSON metadata stored beside the arrays."""
        return {
            "format": BUNDLE_FORMAT,
            "gate_order": "".join(GATE_ORDER),
            "lstm": [{"units": l.units, "inputs": l.inputs, "return_sequences": l.return_sequences}
                     for l in self.lstm],
            "dense": [{"units": d.units, "activation": d.activation} for d in self.dense],
            "features": self.features,
            "target": self.target,
            "units": self.units,
            "layout": self.layout,
            "task": self.task,
            "meta": self.meta,
        }

    def save(self, path: str | Path) -> Path:
        """Write the bundle as one deterministic ``.npz`` file (atomic)."""
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            members = {f"{k}.npy": v for k, v in self.to_arrays().items()}
            for name, arr in sorted(members.items()):
                npy = io.BytesIO()
                np.lib.format.write_array(npy, np.ascontiguousarray(arr), allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), npy.getvalue(),
                            compress_type=zipfile.ZIP_DEFLATED)
            meta = json.dumps(self.header(), indent=2, sort_keys=True).encode()
            zf.writestr(zipfile.ZipInfo("meta.json", date_time=(1980, 1, 1, 0, 0, 0)), meta,
                        compress_type=zipfile.ZIP_DEFLATED)
        return atomic.write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> "Bundle":
        from .errors import UserError

        path = Path(path)
        if path.is_dir():
            path = path / "bundle.npz"
        if not path.exists():
            raise UserError(f"{path}: no weight bundle (train a model first: tinylstm train --out DIR)")
        try:
            with zipfile.ZipFile(path) as zf:
                head = json.loads(zf.read("meta.json"))
                arrays = {n[:-4]: np.lib.format.read_array(io.BytesIO(zf.read(n)), allow_pickle=False)
                          for n in zf.namelist() if n.endswith(".npy")}
        except (zipfile.BadZipFile, KeyError, ValueError) as err:
            raise UserError(f"{path}: not a tinylstm weight bundle ({err})") from err
        if head.get("format") != BUNDLE_FORMAT:
            raise UserError(f"{path}: bundle format {head.get('format')} is not {BUNDLE_FORMAT}")
        lstm = [LstmLayer(arrays[f"lstm{k}_W"], arrays[f"lstm{k}_U"], arrays[f"lstm{k}_b"], l["return_sequences"])
                for k, l in enumerate(head["lstm"])]
        dense = [DenseLayer(arrays[f"dense{k}_W"], arrays[f"dense{k}_b"], d["activation"])
                 for k, d in enumerate(head["dense"])]
        y_mean, y_scale = (float(v) for v in arrays["scaler_y"])
        scaler = Scaler(arrays["scaler_x_mean"], arrays["scaler_x_scale"], y_mean, y_scale)
        return cls(lstm, dense, scaler, head["features"], head["target"], head["units"], head["layout"],
                   head["task"], head["meta"])
