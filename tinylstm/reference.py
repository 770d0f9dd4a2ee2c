"""The float golden model: a numpy forward pass over a :class:`~tinylstm.bundle.Bundle`.

It is the reference every float export is compared with (and is itself proven equal to Keras in the tests).
Arithmetic is float64 by default (the exact maths); pass ``dtype=np.float32`` to mimic a float32 engine.
"""

from __future__ import annotations

import numpy as np

from .bundle import Bundle, DenseLayer, LstmLayer, gate_slices
from .data import to_sequences


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic function, overflow-safe."""
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def lstm_forward(layer: LstmLayer, x_seq: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Run one LSTM layer on (n, steps, inputs); return (n, steps, H) or the last step (n, H)."""
    W, U, b = (np.asarray(a, dtype=dtype) for a in (layer.W, layer.U, layer.b))
    g = gate_slices(layer.units)
    n, steps, _ = x_seq.shape
    h = np.zeros((n, layer.units), dtype=dtype)
    c = np.zeros((n, layer.units), dtype=dtype)
    outputs = []
    for t in range(steps):
        z = np.asarray(x_seq[:, t, :], dtype=dtype) @ W + h @ U + b
        i, f, o = sigmoid(z[:, g["i"]]), sigmoid(z[:, g["f"]]), sigmoid(z[:, g["o"]])
        c = f * c + i * np.tanh(z[:, g["c"]])
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=1) if layer.return_sequences else h


def dense_forward(layer: DenseLayer, x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """``act(x @ W + b)``."""
    z = np.asarray(x, dtype=dtype) @ np.asarray(layer.W, dtype=dtype) + np.asarray(layer.b, dtype=dtype)
    if layer.activation == "relu":
        return np.maximum(z, 0)
    if layer.activation == "softmax":
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return z


def forward_scaled(bundle: Bundle, x_seq: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Network output (n, outputs) in standardised units for standardised sequences (n, steps, inputs)."""
    x = np.asarray(x_seq, dtype=dtype)
    for layer in bundle.lstm:
        x = lstm_forward(layer, x, dtype)
    for layer in bundle.dense:
        x = dense_forward(layer, x, dtype)
    return x


def predict(bundle: Bundle, X_raw: np.ndarray, dtype=np.float64) -> np.ndarray:
    """Raw rows (n, features) in CSV units → predictions (n,) in target units (scaler applied both ways)."""
    X_raw = np.atleast_2d(np.asarray(X_raw, dtype=np.float64))
    seq = to_sequences(bundle.scaler.transform_x(X_raw), bundle.layout).astype(np.float64)
    out = forward_scaled(bundle, seq, dtype)
    return bundle.scaler.inverse_y(out[:, 0])
