"""The float golden model: a numpy forward pass over a :class:`~tinylstm.bundle.Bundle`.

It is the reference every float export is compared with (and is itself proven equal to Keras in the tests).
Arithmetic is float64 by default (the exact maths); pass ``dtype=np.float32`` to mimic a float32 engine.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from .bundle import Bundle, DenseLayer, LstmLayer, gate_slices


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
    """Raw samples (n, n_inputs) in CSV units → predictions: (n,) in target units for a regression (scaler applied
    both ways), (n, K) class probabilities for a classifier (see :meth:`~tinylstm.bundle.Bundle.outputs`)."""
    seq = bundle.sequences(X_raw).astype(np.float64)
    return bundle.outputs(forward_scaled(bundle, seq, dtype))


# ------------------------------------------------------------------------------------- batched (fast) path
#: Samples per BLAS call in :class:`BatchForward` (a fixed shape: see :meth:`BatchForward.__call__`).
BLOCK = 2048


class BatchForward:
    """The same forward pass for large batches, laid out feature-major: state and gates are (H, n), (4H, n).

    Arithmetic per sample is that of :func:`predict` (same inputs rounded to float32 after scaling, same gate
    formulas); only the memory layout and the BLAS call shapes differ, so float64 results agree with
    :func:`predict` to rounding (~1e-15 relative). ``dtype=np.float32`` computes in float32 (about 1e-6 relative,
    far inside the 1e-4 L/100km the float engines are held to against Keras). A sample's result does not depend
    on the batch it is computed in (checked in the tests), so chunked prediction equals one-shot prediction.
    """

    def __init__(self, bundle: Bundle, dtype=np.float64):
        self.dtype = np.dtype(dtype)
        self.bundle = bundle
        d = self.dtype
        self.lstm = [(np.ascontiguousarray(np.asarray(layer.W, d).T), np.ascontiguousarray(np.asarray(layer.U, d).T),
                      np.asarray(layer.b, d)[:, None], layer.units, layer.return_sequences) for layer in bundle.lstm]
        self.dense = [(np.ascontiguousarray(np.asarray(layer.W, d).T), np.asarray(layer.b, d)[:, None],
                       layer.activation) for layer in bundle.dense]

    def scaled_sequences(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw samples (n, n_inputs) → standardised float32-rounded inputs, feature-major (steps, inputs, n)."""
        seq = self.bundle.sequences(X_raw)
        return np.ascontiguousarray(seq.transpose(1, 2, 0), dtype=self.dtype)

    def _lstm(self, Wt, Ut, b, H, return_sequences, xs):
        steps, _, n = xs.shape
        d = self.dtype
        h = np.zeros((H, n), d)
        c = np.zeros((H, n), d)
        z = np.empty((4 * H, n), d)
        tmp = np.empty((4 * H, n), d)
        outs = np.empty((steps, H, n), d) if return_sequences else None
        gi, gf, gc, go = (slice(k * H, (k + 1) * H) for k in range(4))
        for t in range(steps):
            x = xs[t]
            if x.shape[0] == 1:  # one value per step: an outer product, no sum
                np.multiply(Wt, x, out=z)
            else:
                np.matmul(Wt, x, out=z)
            if t:  # h = 0 at t = 0
                np.matmul(Ut, h, out=tmp)
                z += tmp
            z += b
            # sigmoid(v) = 0.5 * (1 + tanh(v / 2)) on the i, f, o rows; tanh on the c rows
            for g in (gi, gf, go):
                zg = z[g]
                zg *= 0.5
                np.tanh(zg, out=zg)
                zg += 1.0
                zg *= 0.5
            np.tanh(z[gc], out=z[gc])
            c *= z[gf]
            np.multiply(z[gi], z[gc], out=tmp[:H])
            c += tmp[:H]
            np.tanh(c, out=h)
            h *= z[go]
            if outs is not None:
                outs[t] = h
        return outs if return_sequences else h

    def forward_scaled_fm(self, xs: np.ndarray) -> np.ndarray:
        """Feature-major standardised inputs (steps, inputs, n) → outputs (outputs, n) in standardised units."""
        x = xs
        for Wt, Ut, b, H, rs in self.lstm:
            x = self._lstm(Wt, Ut, b, H, rs, x)
        for Wt, b, act in self.dense:
            x = Wt @ x + b
            if act == "relu":
                np.maximum(x, 0, out=x)
            elif act == "softmax":
                e = np.exp(x - x.max(axis=0, keepdims=True))
                x = e / e.sum(axis=0, keepdims=True)
        return x

    def __call__(self, X_raw: np.ndarray) -> np.ndarray:
        """Raw samples (n, n_inputs) → predictions as :func:`predict` gives them ((n,) or (n, K)), float64.

        Rows go through in blocks of exactly :data:`BLOCK` samples (the last one zero-padded): BLAS picks its code
        path by matrix size and column position, so a fixed block shape makes row ``r``'s result depend only on
        its values and ``r % BLOCK``. Calls whose row offsets are multiples of ``BLOCK`` therefore give
        bit-identical results however the rows are split between calls.
        """
        X_raw = np.asarray(X_raw, dtype=np.float64)
        n = 1 if X_raw.ndim == 1 else X_raw.shape[0]
        xs = self.scaled_sequences(X_raw)
        out = np.empty((n, self.bundle.n_outputs), dtype=np.float64)
        with threadpool_limits(1, user_api="blas"):  # one thread: BLAS threads only slow down such thin products
            for start in range(0, n, BLOCK):
                block = xs[:, :, start:start + BLOCK]
                m = block.shape[2]
                if m < BLOCK:
                    block = np.concatenate([block, np.zeros(block.shape[:2] + (BLOCK - m,), self.dtype)], axis=2)
                out[start:start + m] = self.forward_scaled_fm(np.ascontiguousarray(block))[:, :m].T
        return self.bundle.outputs(out)
