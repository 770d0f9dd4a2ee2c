"""The integer golden model: the exact integer arithmetic of the ``c-int8`` engine, in numpy.

:func:`quantize` turns a float :class:`~tinylstm.bundle.Bundle` into an :class:`IntModel` (every constant the
generated C holds), and :func:`predict_q` runs it bit for bit as the C does, so the tests can require
``C output == golden output`` exactly instead of "within a tolerance". The C generator
(:mod:`tinylstm.export.c`) prints the constants of the same :class:`IntModel`: one source of truth.

The scheme (documented for users in ``docs/cengine.md``)
--------------------------------------------------------
* **Weights** int8, symmetric, one scale per output column: ``s_j = max|col_j| / 127``, ``q = round(w / s_j)``.
  For an LSTM the column j of the input kernel W and of the recurrent kernel U share ``s_j`` (they feed the
  same gate pre-activation), so one int32 accumulator sums ``x·W + h·U``; and the four gate columns of one
  unit share one scale (the max over them): one multiplier per unit (test rows: ΔMAE vs float 1.8e-4).
* **Activations** int16 fixed point with ``frac`` fractional bits (value = q / 2**frac):

  - network input (standardised features) and every LSTM output ``h``: Q12 (range ±8; inputs beyond ±8
    standard deviations saturate; ``|h| < 1`` always);
  - gate pre-activations ``z`` and the cell state ``c``: Q12 in int32;
  - gate outputs: ``tanh`` Q15, the sigmoid gates Q16 (1.0 = 65536), in int32;
  - dense outputs: a per-layer ``frac`` chosen from a **worst-case bound** of the layer's output
    (``|z_j| <= B_in * sum_i |W_ij| + |b_j|``, with ``B_in = 1`` after an LSTM), so they can never saturate.
    Hidden dense outputs are int16; the final output is int32.
* **Requantisation** of an accumulator to its output format: ``z = ((acc * M_j + 2**(sh-1)) >> sh) + bias_j``
  with an int32 multiplier ``M_j`` per column, one shift ``sh`` per layer (int64 product) and an int32 bias
  already in the output format. Right shifts are arithmetic (every GCC/Clang target), rounding half up.
  ``sh = 32`` whenever the layer's multipliers allow it (every LSTM layer here): the rounded high word of a
  32x32 product plus the bias, one ``SMMLAR`` instruction on a Cortex-M4.
* **sigmoid/tanh**: one 257-entry int16 table of ``tanh`` on [-8, 8] in steps of 1/16 (Q15, capped at ±32767),
  the argument saturated to [-8, 8), linear interpolation from the entry below (floor index, rounding half up);
  ``sigmoid(x) = (32768 + tanh(x / 2)) / 2`` (Q15); the LSTM gates i, f, o keep it in Q16 (``32768 + tanh(x / 2)``)
  and the cell update is ``c = rnd(f * c >> 16) + rnd(i * g >> 19)``, ``h = rnd(o * tanh(c) >> 19)``.
* **Input** (float in, the only float step before the output): ``t = raw - mean`` (float32), ``p = t * k``
  with ``k = 2**16 / scale`` (float32), ``v = trunc(p)`` (clamped to ±2**30 first), ``x = sat16((v + 8) >> 4)``.
  No multiply-add pair, so a compiler contracting to FMA cannot change the bits.
* **Output**: the int32 network output ``y_q`` (Q ``out_frac``, standardised units) is the bit-exact result;
  ``y = float(y_q) * (y_scale / 2**out_frac) + y_mean`` in float32 gives target units.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .bundle import Bundle, gate_slices
from .errors import UserError
from .numerics import Capabilities, check_supported, forward

ACT_FRAC = 12  # Q format of the network input, h, gate pre-activations and the cell state
GATE_FRAC = 15  # Q format of sigmoid/tanh outputs
LUT_STEP_BITS = 4  # table step 1/16 (257 entries: 514 B of flash)
LUT_RANGE = 8  # table covers [-8, 8]
LUT_SIZE = 2 * LUT_RANGE * (1 << LUT_STEP_BITS) + 1  # 257 entries, k = -128 .. 128
LUT_MID = LUT_RANGE * (1 << LUT_STEP_BITS)  # index of tanh(0)
INPUT_EXTRA_BITS = 4  # the float->int input conversion keeps 4 more bits, then rounds them off
Q15_ONE = 1 << GATE_FRAC
INT16_MAX = 32767
ACC_LIMIT = 1 << 30  # requantised values are clamped to ±2**30 (never reached by a sane model)
#: The requantisation shift of every layer whose largest real multiplier is <= 1/4 (every LSTM layer of a sane
#: model): ``(acc * M + 2**31) >> 32`` is the high word of a rounded 32x32 product, one instruction on a Cortex-M4
#: (SMMLAR, with the bias added), and it cannot leave ±2**30 (so the clamp is a no-op there).
REQUANT_SHIFT = 32


def _tanh_table() -> np.ndarray:
    k = np.arange(-LUT_MID, LUT_MID + 1, dtype=np.float64) / (1 << LUT_STEP_BITS)
    return np.clip(np.round(np.tanh(k) * Q15_ONE), -INT16_MAX, INT16_MAX).astype(np.int64)


TANH_TABLE = _tanh_table()


@dataclass
class IntLayer:
    """One quantised layer: int8 weights, per-column multipliers, one shift, int32 bias in the output format."""

    kind: str  # "lstm" or "dense"
    Wq: np.ndarray  # (inputs, cols) int8
    Uq: np.ndarray | None  # (H, 4H) int8 for LSTM
    bias: np.ndarray  # (cols,) int32, in the output format
    mult: np.ndarray  # (cols,) int32
    shift: int
    in_frac: int
    out_frac: int
    activation: str = "linear"  # dense only
    return_sequences: bool = False
    units: int = 0
    col_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))  # float weight scales (for docs/tests)


@dataclass
class IntModel:
    layers: list[IntLayer]
    x_mean: np.ndarray  # float32 (F,)
    x_k: np.ndarray  # float32 (F,) = 2**(ACT_FRAC+INPUT_EXTRA_BITS) / scale
    y_k: np.float32  # y_scale / 2**out_frac
    y_mean: np.float32
    out_frac: int
    n_steps: int
    n_inputs: int
    step_inputs: int = 1  # F raw values per time step
    scaler_rows: int = 1  # rows of F scaler entries: W (feature_per_step: one per step) or 1 (window layout)
    classifier: bool = False


def _quantize_columns(mats: list[np.ndarray], units: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Symmetric int8 with one scale per column shared across ``mats`` (same column count); with ``units`` (an
    LSTM layer's H) one scale per unit, shared by its four gate columns."""
    col_max = np.max(np.stack([np.abs(np.asarray(m, np.float64)).max(axis=0) for m in mats]), axis=0)
    if units:
        col_max = np.tile(col_max.reshape(4, units).max(axis=0), 4)
    scale = np.where(col_max > 0, col_max / 127.0, 1.0)
    qs = [np.clip(np.round(np.asarray(m, np.float64) / scale), -127, 127).astype(np.int64) for m in mats]
    return qs, scale


def _multipliers(real: np.ndarray, name: str) -> tuple[np.ndarray, int]:
    """int32 multipliers M_j and one shift with M_j / 2**shift ~= real_j: the largest M_j just below 2**30, or
    shift :data:`REQUANT_SHIFT` (32) whenever that keeps every M_j below 2**30 (top <= 1/4; at least as precise as
    24 bits for the LSTM layers of a sane model)."""
    top = float(np.max(real))
    if not top > 0:
        return np.zeros_like(real, dtype=np.int64), 1
    shift = int(30 - np.ceil(np.log2(top)))
    if shift >= REQUANT_SHIFT:  # top <= 1/4: the one-instruction form (SMMLAR on a Cortex-M4), M_j < 2**31
        shift = REQUANT_SHIFT
    if shift < 1 or shift > 62:
        raise UserError(f"{name}: weight scale {top:g} cannot be requantised with an int32 multiplier; "
                        "use the float32 variant")
    return np.round(real * 2.0 ** shift).astype(np.int64), shift


def _frac_for_bound(bound: float, limit: int, name: str, cap: int) -> int:
    """Largest fractional bit count (<= cap) with bound * 2**frac <= limit."""
    frac = min(cap, int(np.floor(np.log2(limit / max(bound, 1e-9)))))
    if frac < 0:
        raise UserError(f"{name}: output bound {bound:g} too large for the integer variant; use float32")
    return frac


#: What the C engine (both variants) runs: stacked LSTMs over F values per time step (either layout), relu/linear
#: dense layers, K outputs: a regression, or a classifier's softmax head.
CAPABILITIES = Capabilities("the C engine", layouts=("feature_per_step", "window"),
                            tasks=("regression", "classification"), max_outputs=None, max_inputs_per_step=None,
                            dense_activations=("relu", "linear"), stacked_lstm_only=True)


def quantize(bundle: Bundle) -> IntModel:
    """The integer model of ``bundle`` (deterministic: same bundle -> same constants)."""
    check_supported(bundle, CAPABILITIES)
    layers: list[IntLayer] = []
    for k, l in enumerate(bundle.lstm):
        (Wq, Uq), scale = _quantize_columns([l.W, l.U], units=l.units)
        mult, shift = _multipliers(scale, f"lstm{k}")  # acc (Q12 * s) -> Q12: multiply by s
        if (l.inputs + l.units) * INT16_MAX * 127 >= 2 ** 31:
            raise UserError(f"lstm{k}: {l.inputs + l.units} inputs overflow the int32 accumulator")
        bias = np.round(np.asarray(l.b, np.float64) * 2 ** ACT_FRAC).astype(np.int64)
        layers.append(IntLayer("lstm", Wq, Uq, bias, mult, shift, ACT_FRAC, ACT_FRAC,
                               return_sequences=l.return_sequences, units=l.units, col_scale=scale))
    in_frac, in_bound = ACT_FRAC, 1.0  # |h| < 1
    for k, d in enumerate(bundle.dense):
        W = np.asarray(d.W, np.float64)
        bound = float(np.max(in_bound * np.abs(W).sum(axis=0) + np.abs(np.asarray(d.b, np.float64))))
        last = k == len(bundle.dense) - 1
        out_frac = _frac_for_bound(bound, (1 << 24) if last else INT16_MAX, f"dense{k}", 24 if last else 14)
        (Wq,), scale = _quantize_columns([W])
        if d.W.shape[0] * INT16_MAX * 127 >= 2 ** 31:
            raise UserError(f"dense{k}: {d.W.shape[0]} inputs overflow the int32 accumulator")
        mult, shift = _multipliers(scale * 2.0 ** (out_frac - in_frac), f"dense{k}")
        bias = np.round(np.asarray(d.b, np.float64) * 2 ** out_frac).astype(np.int64)
        layers.append(IntLayer("dense", Wq, None, bias, mult, shift, in_frac, out_frac, activation=d.activation,
                               units=d.units, col_scale=scale))
        in_frac, in_bound = out_frac, bound
    sc = bundle.scaler
    x_k = (np.float32(2 ** (ACT_FRAC + INPUT_EXTRA_BITS)) / np.asarray(sc.x_scale, np.float32)).astype(np.float32)
    out_frac = layers[-1].out_frac
    return IntModel(layers, np.asarray(sc.x_mean, np.float32), x_k,
                    np.float32(np.float32(sc.y_scale) / np.float32(2 ** out_frac)), np.float32(sc.y_mean),
                    out_frac, bundle.n_steps, bundle.n_inputs, bundle.values_per_step,
                    len(np.atleast_1d(sc.x_mean)) // bundle.values_per_step, bundle.is_classifier)


# ------------------------------------------------------------------------------------------ arithmetic
def rshift_round(x: np.ndarray, s: int) -> np.ndarray:
    """``(x + 2**(s-1)) >> s`` on int64 (arithmetic shift), as the C does."""
    return (x + (1 << (s - 1))) >> s


def sat(x: np.ndarray, lo: int, hi: int) -> np.ndarray:
    return np.clip(x, lo, hi)


def tanh_q15(a: np.ndarray, frac: int) -> np.ndarray:
    """tanh of ``a`` (int, ``frac`` fractional bits, frac > LUT_STEP_BITS) as Q15, by the interpolated table:
    ``a`` saturates to [-8, 8) (``-2**(frac+3)`` .. ``2**(frac+3) - 1``: one SSAT), the index is ``a >> sh``
    (floor, sh = frac - LUT_STEP_BITS) into the signed table, the fraction ``a & (2**sh - 1)`` interpolates
    towards the next entry, rounding half up. No absolute value, no sign restore: five instructions fewer per
    activation on a Cortex-M4 than the symmetric form, for a table of 257 instead of 129 entries."""
    a = np.asarray(a, np.int64)
    sh = frac - LUT_STEP_BITS
    lim = 1 << (frac + 3)
    a = np.clip(a, -lim, lim - 1)
    idx = (a >> sh) + LUT_MID
    fr = a & ((1 << sh) - 1)
    lo, hi = TANH_TABLE[idx], TANH_TABLE[idx + 1]
    return lo + (((hi - lo) * fr + (1 << (sh - 1))) >> sh)


def sigmoid_q15(z: np.ndarray, frac: int) -> np.ndarray:
    """sigmoid(z) = (1 + tanh(z/2)) / 2 in Q15; z/2 is z read with one more fractional bit."""
    return (Q15_ONE + tanh_q15(z, frac + 1)) >> 1


def sigmoid_q16(z: np.ndarray, frac: int) -> np.ndarray:
    """sigmoid(z) = (1 + tanh(z/2)) / 2 in Q16 (32768 + the Q15 tanh: nothing rounded off), what the LSTM gates
    use; the products with it are the rounded high words of 32x32 products on a Cortex-M4 (SMMULR)."""
    return Q15_ONE + tanh_q15(z, frac + 1)


def requant(acc: np.ndarray, layer: IntLayer) -> np.ndarray:
    z = rshift_round(acc * layer.mult, layer.shift)
    return sat(z, -ACC_LIMIT, ACC_LIMIT) + layer.bias


def quantize_inputs(model: IntModel, X_raw: np.ndarray, row: np.ndarray | int | None = None) -> np.ndarray:
    """Raw float values to int16-range Q12 inputs, exactly as the C converts them: whole windows (n, W*F) when
    ``row`` is None, or one time step (n, F) standardised with scaler row ``row``."""
    X = np.asarray(X_raw, dtype=np.float64).astype(np.float32)
    F = model.step_inputs
    table_mean = np.asarray(model.x_mean, np.float32).reshape(model.scaler_rows, F)
    table_k = np.asarray(model.x_k, np.float32).reshape(model.scaler_rows, F)
    if row is None:
        reps = X.shape[-1] // (model.scaler_rows * F)
        mean, k = np.tile(table_mean.reshape(-1), reps), np.tile(table_k.reshape(-1), reps)
    else:
        mean, k = table_mean[row], table_k[row]
    t = (X - mean).astype(np.float32)
    p = (t * k).astype(np.float32)
    lim = np.float32(2 ** 30)
    p = np.where(p >= -lim, p, -lim)  # also maps NaN to -lim, as the C does
    p = np.where(p > lim, lim, p)
    v = np.trunc(p).astype(np.int64)
    return sat(rshift_round(v, INPUT_EXTRA_BITS), -INT16_MAX, INT16_MAX)


class IntCell:
    """The integer arithmetic of one LSTM step and one dense layer (a :class:`tinylstm.numerics.CellFormat`)."""

    def init_state(self, layer: IntLayer, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((n, layer.units), np.int64), np.zeros((n, layer.units), np.int64)

    def lstm_step(self, layer: IntLayer, x: np.ndarray, h: np.ndarray, c: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        g = gate_slices(layer.units)
        z = requant(x @ layer.Wq + h @ layer.Uq, layer)
        i = sigmoid_q16(z[:, g["i"]], ACT_FRAC)
        f = sigmoid_q16(z[:, g["f"]], ACT_FRAC)
        gg = tanh_q15(z[:, g["c"]], ACT_FRAC)
        o = sigmoid_q16(z[:, g["o"]], ACT_FRAC)
        c = rshift_round(f * c, GATE_FRAC + 1) + rshift_round(i * gg, 2 * GATE_FRAC + 1 - ACT_FRAC)
        h = rshift_round(o * tanh_q15(c, ACT_FRAC), 2 * GATE_FRAC + 1 - ACT_FRAC)
        return h, c

    def dense(self, layer: IntLayer, x: np.ndarray, last: bool) -> np.ndarray:
        z = requant(x @ layer.Wq, layer)
        if layer.activation == "relu":
            z = np.maximum(z, 0)
        return z if last else sat(z, -INT16_MAX, INT16_MAX)


def _layers(model: IntModel) -> tuple[list[IntLayer], list[IntLayer]]:
    return [L for L in model.layers if L.kind == "lstm"], [L for L in model.layers if L.kind == "dense"]


def _single(model: IntModel, y: np.ndarray) -> np.ndarray:
    return y[:, 0] if y.shape[1] == 1 else y


def predict_q(model: IntModel, X_raw: np.ndarray) -> np.ndarray:
    """The int32 network outputs in Q ``model.out_frac`` standardised units (logits for a classifier), bit-exact
    with the C: (n,) for one output, (n, K) otherwise. X_raw: (n, W*F) raw windows, step-major."""
    x = quantize_inputs(model, np.atleast_2d(X_raw))
    seq = x.reshape(x.shape[0], model.n_steps, model.step_inputs)
    lstm, dense = _layers(model)
    return _single(model, forward(IntCell(), lstm, dense, seq))


def head_q(model: IntModel, h_last: np.ndarray) -> np.ndarray:
    """The dense head on the last LSTM layer's h (n, H) -> (n, K) int32 outputs."""
    _, dense = _layers(model)
    x = h_last
    for k, layer in enumerate(dense):
        x = IntCell().dense(layer, x, k == len(dense) - 1)
    return x


class Stream:
    """The C's ``tinylstm_reset`` / ``tinylstm_step_q`` for ``n`` independent streams at once: the state (h, c of
    every layer) and the step count; each :meth:`step` takes one time step of raw values (n, F) and returns the
    (n, K) int32 outputs after it. The scaler row of step t is ``t mod scaler_rows`` (feature_per_step: the step's
    own statistics, starting over every W steps; window layout: the one row)."""

    def __init__(self, model: IntModel, n: int):
        self.model = model
        lstm, _ = _layers(model)
        self.state = [IntCell().init_state(layer, n) for layer in lstm]
        self.steps = 0

    def step(self, x_raw: np.ndarray) -> np.ndarray:
        model = self.model
        x = quantize_inputs(model, np.atleast_2d(x_raw), self.steps % model.scaler_rows)
        lstm, _ = _layers(model)
        for k, layer in enumerate(lstm):
            h, c = IntCell().lstm_step(layer, x, *self.state[k])
            self.state[k] = (h, c)
            x = h
        self.steps += 1
        return head_q(model, x)


def outputs(model: IntModel, q: np.ndarray) -> np.ndarray:
    """int32 outputs -> user units, the C's last step (float32): regression ``float(q) * y_k + y_mean``; a
    classifier's softmax ``exp((q - max) * 2**-out_frac)`` (tl_act.h's exp, :func:`tinylstm.activations.exp32`)
    summed in output order, each divided by the sum."""
    q = np.asarray(q, np.int64)
    if not model.classifier:
        yf = q.astype(np.float32)
        return ((yf * model.y_k).astype(np.float32) + model.y_mean).astype(np.float32)
    from .activations import exp32

    q2 = np.atleast_2d(q)
    d = ((q2 - q2.max(axis=1, keepdims=True)).astype(np.float32) * np.float32(2.0 ** -model.out_frac)).astype(
        np.float32)
    e = exp32(d)
    total = np.zeros(len(q2), np.float32)
    for k in range(e.shape[1]):
        total = (total + e[:, k]).astype(np.float32)
    return (e / total[:, None]).astype(np.float32)


def dequantize(model: IntModel, y_q: np.ndarray) -> np.ndarray:
    """int32 outputs -> float32 user units (see :func:`outputs`)."""
    return outputs(model, y_q)


def predict(model: IntModel, X_raw: np.ndarray) -> np.ndarray:
    """Predictions in user units (float32 values), bit-exact with the C engine on the same rows: (n,) for a
    regression, (n, K) probabilities for a classifier."""
    return dequantize(model, predict_q(model, X_raw))
