"""The fixed-point golden model: an integer numpy forward pass the FPGA RTL matches bit for bit.

Number format
    Signed two's complement ``Qm.n``: ``W = m + n`` bits, ``n`` fractional bits, value = integer / 2**n,
    range ``[-2**(m-1), 2**(m-1) - 2**-n]``. Default ``Q5.11`` (16 bits), picked by data (``tinylstm bench
    --only fpga``): the 16-bit format with the most fractional bits that keeps at least 2x headroom over the
    largest magnitude of any input or intermediate value of the float model on the training rows (4.01 for the
    reference network: Q4.12 has 1.99x, Q5.11 4x). Against Q8.8 (the reference design's format, 32x headroom)
    it lowers the mean |fixed - float| on the test set from 0.020 to 0.014 L/100km; both are far inside the
    0.05 L/100km MAE budget.

Quantisation of weights, biases and inputs (done once, in software)
    ``q = clip(rint(v * 2**n), -2**(W-1), 2**(W-1)-1)`` — round to nearest (ties to even, numpy ``rint``) and
    saturate.

Arithmetic inside the network (identical in the RTL)
    * Products of two Qm.n values are exact 2W-bit integers with 2n fractional bits.
    * A gate/neuron pre-activation is accumulated exactly: ``acc = (b << n) + sum_k w_k * x_k``. Every term is at
      most ``2**(2W-2)`` in magnitude, so with fan-in ``K`` the sum needs ``2W - 1 + ceil(log2(K+1))`` bits; the
      RTL accumulator is :func:`acc_width` = ``2W + ceil(log2(K_max+1))`` bits (one spare), so it never wraps
      (38 bits for Q8.8 and the reference network, K_max = 32). The model asserts this.
    * Requantisation ``rq(acc) = sat((acc + 2**(n-1)) >> n)``: round to nearest, ties towards +inf, arithmetic
      shift, then saturate to W bits. Used for gate pre-activations, the cell state, h, and dense outputs.
    * LSTM cell, gates in Keras order i, f, c(g), o::

          i, f, o = SIG(rq(acc_i)), SIG(rq(acc_f)), SIG(rq(acc_o));  g = TANH(rq(acc_g))
          c = rq(f * c_prev + i * g)          # the two products summed exactly first
          h = rq(o * TANH(c))

    * Dense: ``y = rq(acc)``, then ``max(y, 0)`` for ReLU.

Sigmoid and tanh (see :class:`Lut`)
    Tables over ``|x|`` only (symmetry: ``sig(-x) = 1 - sig(x)``, ``tanh(-x) = -tanh(x)``), input step
    ``2**-lut_frac`` (default ``min(n, 8)``: for Q8.8 one entry per LSB like the reference design), entries
    ``rint(f(k * step) * 2**n)``, depth = first index whose entry reaches the saturated value 1.0 (or the whole
    input range). Index ``k = (|x| + half_step) >> (n - lut_frac)`` (round half up); ``k >= depth`` gives the
    saturated value.

Shapes and classifiers
    The input is W steps of F values (``x[t*F + f]``, step-major; the ``feature_per_step`` reference model is W
    steps of one value); the output is the K values of the last dense layer. For a classifier (softmax head) the
    core computes the pre-softmax logits ``y = rq(acc)`` like a linear layer, and the index of the largest logit
    (the first one on a tie, as ``numpy.argmax``) — :meth:`FixedNet.argmax`, the core's ``ARGMAX`` register; the
    host applies softmax to ``y / 2**n`` for probabilities (:meth:`FixedNet.outputs_to_target`).

Scaler
    Applied at the boundary, not folded in: the host standardises raw inputs ``(raw - mean) / scale`` and
    quantises them to Qm.n before writing the input registers, and maps the Qm.n output back with
    ``y * y_scale + y_mean``. (Folding it into the first layer would need raw inputs such as CO2 emissions of
    ~500 g/km, outside Q8.8's ±128 range.)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from . import cgen
from .bundle import Bundle
from .data import LAYOUTS
from .errors import UserError
from .numerics import Capabilities, check_supported, forward

GATES = ("i", "f", "c", "o")
DEFAULT_FORMAT = "Q5.11"

#: What the fixed-point golden model and the FPGA core run: regression or classification (a softmax head: the core
#: gives the logits and their argmax), stacked LSTMs feeding a relu/linear dense head; any number of inputs per
#: step and of outputs (the register map limits W*F to 64).
CAPABILITIES = Capabilities("fixed-point/FPGA", layouts=LAYOUTS, tasks=("regression", "classification"),
                            max_outputs=None,
                            max_inputs_per_step=None, dense_activations=("relu", "linear"), stacked_lstm_only=True)


# ---------------------------------------------------------------------------------------------------- formats
@dataclass(frozen=True)
class QFormat:
    """Signed Qm.n: ``int_bits`` = m (including the sign bit), ``frac_bits`` = n."""

    int_bits: int
    frac_bits: int

    @classmethod
    def parse(cls, text: str) -> "QFormat":
        m = re.fullmatch(r"[Qq]?(\d+)\.(\d+)", str(text).strip())
        if not m:
            raise UserError(f"fixed-point format {text!r}: expected Qm.n, e.g. Q8.8")
        fmt = cls(int(m.group(1)), int(m.group(2)))
        if fmt.int_bits < 2 or fmt.frac_bits < 1 or not 4 <= fmt.width <= 24:
            raise UserError(f"fixed-point format {text!r}: need m >= 2, n >= 1 and 4 <= m+n <= 24 bits")
        return fmt

    @property
    def width(self) -> int:
        return self.int_bits + self.frac_bits

    @property
    def name(self) -> str:
        return f"Q{self.int_bits}.{self.frac_bits}"

    @property
    def qmin(self) -> int:
        return -(1 << (self.width - 1))

    @property
    def qmax(self) -> int:
        return (1 << (self.width - 1)) - 1

    @property
    def one(self) -> int:
        return 1 << self.frac_bits

    def quantize(self, v) -> np.ndarray:
        """Float → integer codes: round to nearest (ties to even) and saturate."""
        q = np.rint(np.asarray(v, dtype=np.float64) * self.one)
        return np.clip(q, self.qmin, self.qmax).astype(np.int64)

    def to_float(self, q) -> np.ndarray:
        return np.asarray(q, dtype=np.float64) / self.one

    def sat(self, q: np.ndarray) -> np.ndarray:
        return np.clip(q, self.qmin, self.qmax)

    def rq(self, acc: np.ndarray) -> np.ndarray:
        """Requantise a value with 2n fractional bits: round to nearest (ties up), then saturate."""
        acc = np.asarray(acc, dtype=np.int64)
        return self.sat((acc + (1 << (self.frac_bits - 1))) >> self.frac_bits)


def acc_width(fmt: QFormat, max_fanin: int) -> int:
    """Accumulator bits that can never wrap for ``max_fanin`` products plus the bias (one spare bit)."""
    return 2 * fmt.width + math.ceil(math.log2(max_fanin + 1))


# ---------------------------------------------------------------------------------------------------- LUTs
def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


@dataclass
class Lut:
    """One activation table over |x| (see the module docstring): ``kind`` is ``sigmoid`` or ``tanh``."""

    kind: str
    fmt: QFormat
    lut_frac: int
    table: np.ndarray = field(repr=False)  # int64 entries, f(k * step) in Qm.n

    @classmethod
    def build(cls, kind: str, fmt: QFormat, lut_frac: int | None = None) -> "Lut":
        lut_frac = min(fmt.frac_bits, 8) if lut_frac is None else lut_frac
        if not 0 <= lut_frac <= fmt.frac_bits:
            raise ValueError(f"lut_frac {lut_frac} must be within 0..{fmt.frac_bits}")
        fn = _sigmoid if kind == "sigmoid" else np.tanh
        shift = fmt.frac_bits - lut_frac
        # largest index reachable: |x| = 2**(W-1) (the most negative code)
        kmax = ((1 << (fmt.width - 1)) + ((1 << (shift - 1)) if shift else 0)) >> shift
        ks = np.arange(kmax + 1)
        vals = np.rint(fn(ks / float(1 << lut_frac)) * fmt.one).astype(np.int64)
        sat = np.nonzero(vals >= fmt.one)[0]
        depth = int(sat[0]) if sat.size else kmax + 1
        return cls(kind, fmt, lut_frac, vals[:depth].copy())

    @property
    def depth(self) -> int:
        return int(self.table.size)

    @property
    def shift(self) -> int:
        return self.fmt.frac_bits - self.lut_frac

    @property
    def addr_bits(self) -> int:
        return max(1, math.ceil(math.log2(self.depth)))

    @property
    def in_range(self) -> float:
        """|x| below which the table is used; at and beyond it the output is saturated."""
        return self.depth / float(1 << self.lut_frac)

    def __call__(self, q: np.ndarray) -> np.ndarray:
        """Apply to Qm.n integer codes (any shape); returns Qm.n codes — the hardware's exact output."""
        q = np.asarray(q, dtype=np.int64)
        a = np.abs(q)
        idx = (a + ((1 << (self.shift - 1)) if self.shift else 0)) >> self.shift
        inside = idx < self.depth
        pos = np.where(inside, self.table[np.minimum(idx, self.depth - 1)], self.fmt.one)
        if self.kind == "sigmoid":
            return np.where(q < 0, self.fmt.one - pos, pos)
        return np.where(q < 0, -pos, pos)

    def memh(self, header: str = "") -> str:
        """The table as ``$readmemh`` text, one W-bit hex word per line, entry k at address k."""
        word = cgen.memh_word(self.fmt.width)
        lines = [f"// {line}" for line in header.splitlines()] if header else []
        lines += [word(v) for v in self.table]
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------- network
@dataclass
class QLstm:
    W: np.ndarray  # (inputs, 4H) int codes, Keras gate order i, f, c, o
    U: np.ndarray  # (H, 4H)
    b: np.ndarray  # (4H,)
    return_sequences: bool

    @property
    def units(self) -> int:
        return int(self.U.shape[0])

    @property
    def inputs(self) -> int:
        return int(self.W.shape[0])


@dataclass
class QDense:
    W: np.ndarray  # (inputs, outputs)
    b: np.ndarray
    activation: str


@dataclass
class FixedNet:
    """The quantised network plus its LUTs; :meth:`forward` is the golden integer model."""

    fmt: QFormat
    lstm: list[QLstm]
    dense: list[QDense]
    sig: Lut
    tanh: Lut
    n_steps: int
    acc_bits: int

    @classmethod
    def from_bundle(cls, bundle: Bundle, fmt: QFormat | str | None = None, lut_frac: int | None = None) -> "FixedNet":
        fmt = QFormat.parse(fmt or DEFAULT_FORMAT) if not isinstance(fmt, QFormat) else fmt
        check_supported(bundle, CAPABILITIES)
        lstm = [QLstm(fmt.quantize(l.W), fmt.quantize(l.U), fmt.quantize(l.b), l.return_sequences)
                for l in bundle.lstm]
        dense = [QDense(fmt.quantize(d.W), fmt.quantize(d.b), d.activation) for d in bundle.dense]
        fanins = [l.inputs + l.units for l in lstm] + [int(d.W.shape[0]) for d in dense]
        return cls(fmt, lstm, dense, Lut.build("sigmoid", fmt, lut_frac), Lut.build("tanh", fmt, lut_frac),
                   bundle.n_steps, acc_width(fmt, max(fanins)))

    # ------------------------------------------------------------------ arithmetic helpers
    def _acc(self, x: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
        acc = x @ W + (b << self.fmt.frac_bits)
        lim = 1 << (self.acc_bits - 1)
        assert np.all(acc < lim) and np.all(acc >= -lim), "accumulator would wrap"  # cannot happen by construction
        return acc

    def lstm_step(self, layer: QLstm, x: np.ndarray, h: np.ndarray, c: np.ndarray,
                  trace: dict | None = None, key: str = "") -> tuple[np.ndarray, np.ndarray]:
        """One time step for integer codes x (n, inputs), h, c (n, H); returns (h, c)."""
        f = self.fmt
        H = layer.units
        z = f.rq(self._acc(np.concatenate([x, h], axis=1), np.concatenate([layer.W, layer.U], axis=0), layer.b))
        if trace is not None:
            trace[f"{key}_z"] = z
        i, fg, g, o = (z[:, k * H:(k + 1) * H] for k in range(4))
        i, fg, o, g = self.sig(i), self.sig(fg), self.sig(o), self.tanh(g)
        c = f.rq(fg * c + i * g)
        h = f.rq(o * self.tanh(c))
        return h, c

    def forward(self, xq: np.ndarray, trace: dict | None = None) -> np.ndarray:
        """Integer input codes (n, steps, inputs) → integer output codes (n, outputs), on the one LSTM driver
        (:func:`tinylstm.numerics.forward`) with this format's cell (:class:`FixedCells`).

        ``trace`` (a dict) receives the h/c codes of every layer and step and the dense outputs.
        """
        cells = FixedCells(self, trace)
        return forward(cells, self.lstm, self.dense, np.asarray(xq, dtype=np.int64),
                       on_step=cells.on_step if trace is not None else None)

    # ------------------------------------------------------------------ boundary (scaler) helpers
    def quantize_inputs(self, bundle: Bundle, X_raw: np.ndarray) -> np.ndarray:
        """Raw rows (n, features) → standardised, quantised input codes (n, steps, inputs)."""
        X_raw = np.atleast_2d(np.asarray(X_raw, dtype=np.float64))
        return self.fmt.quantize(bundle.sequences(X_raw).astype(np.float64))

    @staticmethod
    def argmax(yq: np.ndarray) -> np.ndarray:
        """Index of the largest output code per row, the first one on a tie (what the core's ARGMAX holds)."""
        return np.argmax(np.atleast_2d(np.asarray(yq, dtype=np.int64)), axis=1)

    def outputs_to_target(self, bundle: Bundle, yq: np.ndarray) -> np.ndarray:
        """Output codes (n, K) → what :meth:`Bundle.outputs` gives: predictions (n,) in target units (first
        output) for a regression; for a classifier the K probabilities, softmax of the logits ``code / 2**n``
        computed on the host in float64."""
        y = self.fmt.to_float(np.atleast_2d(np.asarray(yq)))
        if bundle.is_classifier:
            e = np.exp(y - y.max(axis=1, keepdims=True))
            return e / e.sum(axis=1, keepdims=True)
        return bundle.scaler.inverse_y(y[:, 0])

    def predict(self, bundle: Bundle, X_raw: np.ndarray) -> np.ndarray:
        """Raw rows → :meth:`outputs_to_target` of this net's forward pass (target units, or probabilities)."""
        return self.outputs_to_target(bundle, self.forward(self.quantize_inputs(bundle, X_raw)))

    def macs(self) -> int:
        return sum((l.inputs + l.units) * 4 * l.units for l in self.lstm) * self.n_steps + \
            sum(int(d.W.size) for d in self.dense)


class FixedCells:
    """:class:`FixedNet`'s arithmetic as a :class:`tinylstm.numerics.CellFormat` (integer codes), recording the
    trace keys of :meth:`FixedNet.forward` when given a dict."""

    def __init__(self, net: FixedNet, trace: dict | None = None):
        self.net, self.trace = net, trace
        self._z: np.ndarray | None = None
        self._dense = 0

    def init_state(self, layer: QLstm, n: int) -> tuple[np.ndarray, np.ndarray]:
        h = np.zeros((n, layer.units), dtype=np.int64)
        return h, np.zeros_like(h)

    def lstm_step(self, layer: QLstm, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sub: dict | None = {} if self.trace is not None else None
        h, c = self.net.lstm_step(layer, x, h, c, sub, "")
        self._z = sub["_z"] if sub else None
        return h, c

    def on_step(self, li: int, t: int, h: np.ndarray, c: np.ndarray) -> None:
        if self.trace is not None:
            key = f"lstm{li}_t{t}"
            self.trace[f"{key}_z"], self.trace[f"{key}_h"], self.trace[f"{key}_c"] = self._z, h, c

    def dense(self, layer: QDense, x: np.ndarray, last: bool) -> np.ndarray:
        x = self.net.fmt.rq(self.net._acc(x, layer.W, layer.b))
        if layer.activation == "relu":
            x = np.maximum(x, 0)
        if self.trace is not None:
            self.trace[f"dense{self._dense}"] = x
        self._dense += 1
        return x


def predict(bundle: Bundle, X_raw: np.ndarray, fmt: QFormat | str | None = None,
            lut_frac: int | None = None) -> np.ndarray:
    """Raw rows → predictions through the fixed-point golden model: (n,) target units for a regression, (n, K)
    probabilities for a classifier (softmax of the fixed-point logits)."""
    return FixedNet.from_bundle(bundle, fmt or DEFAULT_FORMAT, lut_frac).predict(bundle, X_raw)



# ------------------------------------------------------------------------------------------ board (UART) model
MAX_LINE = 96  # the shortest line limit (the reference model's); longer requests get max_line(n)
CHARS_PER_VALUE = 12  # line budget per value of a request ("-123.456789" and a separator)
_SPACES = (" ", "\t")
_FIELD_NEXT = {
    "lead": lambda ch, dig, sp, sg, e: ("lead" if sp else "sign" if sg else "int" if dig
                                        else "dot0" if ch == "." else "bad"),
    "sign": lambda ch, dig, sp, sg, e: "int" if dig else "dot0" if ch == "." else "bad",
    "int": lambda ch, dig, sp, sg, e: "int" if dig else "frac" if ch == "." else "e" if e else "trail" if sp else "bad",
    "dot0": lambda ch, dig, sp, sg, e: "frac" if dig else "bad",
    "frac": lambda ch, dig, sp, sg, e: "frac" if dig else "e" if e else "trail" if sp else "bad",
    "e": lambda ch, dig, sp, sg, e: "esign" if sg else "exp" if dig else "bad",
    "esign": lambda ch, dig, sp, sg, e: "exp" if dig else "bad",
    "exp": lambda ch, dig, sp, sg, e: "exp" if dig else "trail" if sp else "bad",
    "trail": lambda ch, dig, sp, sg, e: "trail" if sp else "bad",
}


def _next_state(st: str, ch: str) -> str:
    fn = _FIELD_NEXT.get(st)
    return fn(ch, ch.isascii() and ch.isdigit(), ch in _SPACES, ch in "+-", ch in "eE") if fn else "bad"


def max_line(n_values: int) -> int:
    """The board's request line limit (characters, ``\r`` excluded) for ``n_values`` values per request."""
    return max(MAX_LINE, CHARS_PER_VALUE * n_values)


def split_fields(line: str) -> list[str]:
    """A request line's fields as the board top separates them (protocol 2): a comma ends a field, and so does
    the first character after a number and the spaces that follow it ("1 2,3" is three fields; "1 , 2" two;
    "1,,2" three, the second empty; a malformed field such as "1e 5" is not split)."""
    fields, cur, st = [], "", "lead"
    for ch in line:
        if ch == ",":
            fields.append(cur)
            cur, st = "", "lead"
            continue
        if st == "trail" and ch not in _SPACES:
            fields.append(cur)
            cur, st = "", "lead"
        cur += ch
        st = _next_state(st, ch)
    fields.append(cur)
    return fields


@dataclass(frozen=True)
class BoardScaler:
    """Bit-exact model of the board top's fixed-point scaler and line protocol (``tinylstm/hdl/tl_board.sv``).

    A request carries ``n_vals`` = W×F raw values (step-major; value ``i`` is feature ``j = i % n_feat`` of the
    scaler, ``n_feat`` = F, or the W features of the ``feature_per_step`` reference model), separated by commas
    and/or spaces (:func:`split_fields`).
    A decimal value ``M * 10^e`` (``M``: its first 9 significant digits; further integer digits raise ``e``,
    further fraction digits are dropped) of feature ``j`` becomes the code
    ``sat((±M * K[j][e] - C[j] + 2^(G-1)) >> G)`` with ``K[j][e] = round(10^e * 2^(n+G) / x_scale[j])`` and
    ``C[j] = round(x_mean[j] * 2^(n+G) / x_scale[j])`` (exact rationals, ties to even); ``e`` below the table
    reads as 0, a product of ``2^(AW-2)`` or more (or ``e`` above the table) saturates. A regression's output
    code ``q`` prints as ``(q * YA + YB + 2^(YS-1)) >> YS`` in units of ``10^-YD`` with ``YA = round(y_scale *
    10^YD * 2^YS / 2^n)`` and ``YB = round(y_mean * 10^YD * 2^YS)``; a classifier replies the name of the class
    of the largest output code (the core's argmax, the first on a tie)."""

    fmt: QFormat
    n_feat: int
    n_vals: int
    G: int
    AW: int
    emin: int
    ne: int
    K: tuple  # K[j][e - emin] (0 where saturating)
    ksat: tuple  # ksat[j][e - emin]
    C: tuple
    YA: int
    YB: int
    YS: int
    YD: int
    YW: int
    classes: tuple = ()  # class names in output order (a classifier), else empty
    max_line: int = MAX_LINE

    @property
    def count_max(self) -> int:
        """The largest field count the board reports ("got <c>" saturates there)."""
        return (1 << (self.max_line + 1).bit_length()) - 1

    @classmethod
    def build(cls, bundle: Bundle, fmt: QFormat | str, G: int = 33, YS: int = 20, YD: int = 4) -> "BoardScaler":
        fmt = QFormat.parse(fmt) if isinstance(fmt, str) else fmt
        sc = bundle.scaler
        n = fmt.frac_bits
        sig = [Fraction(float(v)) for v in sc.x_scale]
        C = tuple(int(round(Fraction(float(m)) * 2 ** (n + G) / s)) for m, s in zip(sc.x_mean, sig))
        B = max(max(abs(c) for c in C).bit_length(), G + fmt.width) + 1
        AW = B + 2
        lim = 1 << (AW - 2)

        def k(j: int, e: int) -> int:
            return int(round(Fraction(10) ** e * 2 ** (n + G) / sig[j]))

        emin = min(next(e for e in range(-60, 60) if k(j, e) >= 1) for j in range(len(sig)))
        emax = max(next(e for e in range(60, -60, -1) if k(j, e) < lim) for j in range(len(sig)))
        ne = emax - emin + 1
        K = tuple(tuple(k(j, e) if k(j, e) < lim else 0 for e in range(emin, emax + 1)) for j in range(len(sig)))
        ksat = tuple(tuple(k(j, e) >= lim for e in range(emin, emax + 1)) for j in range(len(sig)))
        YA = int(round(Fraction(float(sc.y_scale)) * 10 ** YD * 2 ** YS / 2 ** n))
        YB = int(round(Fraction(float(sc.y_mean)) * 10 ** YD * 2 ** YS))
        YW = max((YA << (fmt.width - 1)).bit_length(), abs(YB).bit_length()) + 3
        n_vals = int(bundle.n_inputs)
        classes = tuple(bundle.classes) if bundle.is_classifier else ()
        return cls(fmt, len(sig), n_vals, G, AW, emin, ne, K, ksat, C, YA, YB, YS, YD, YW, classes,
                   max_line(n_vals))

    # ---------------------------------------------------------------- inputs
    def parse_field(self, text: str) -> tuple[bool, bool, int, int]:
        """(valid, negative, M, e) of one field, exactly as the RTL's field state machine."""
        st, neg, eneg, m, frac, adj, x, ln = "lead", False, False, 0, 0, 0, 0, 0
        for ch in text:
            dig = ch.isascii() and ch.isdigit()
            if ch not in _SPACES:
                ln = min(ln + 1, 127)
            old = st
            st = _next_state(old, ch)
            if old == "lead" and ch == "-":
                neg = True
            if old == "e" and ch == "-":
                eneg = True
            if dig and old in ("lead", "sign", "int", "dot0", "frac"):
                if m < 100_000_000:
                    m = m * 10 + int(ch)
                    frac += old in ("dot0", "frac")
                elif old not in ("dot0", "frac"):
                    adj += 1
            if dig and old in ("e", "esign", "exp"):
                x = x * 10 + int(ch) if x < 100 else 999
        valid = st in ("int", "frac", "exp", "trail") and ln <= 40
        return valid, neg, m, (-x if eneg else x) + adj - frac

    def code(self, j: int, neg: bool, m: int, e: int) -> int:
        f = self.fmt
        if m == 0 or e < self.emin:
            p, ovf = 0, False
        elif e >= self.emin + self.ne or self.ksat[j][e - self.emin]:
            p, ovf = 0, True
        else:
            p = m * self.K[j][e - self.emin]
            ovf = p >= 1 << (self.AW - 2)
        if ovf:
            return f.qmin if neg else f.qmax
        v = ((-p if neg else p) - self.C[j] + (1 << (self.G - 1))) >> self.G
        return int(min(max(v, f.qmin), f.qmax))

    def codes(self, line: str) -> list[int] | None:
        """Input codes of a request line (None when the line is not a valid request)."""
        fields = split_fields(line)
        out = []
        for i, fld in enumerate(fields[: self.n_vals]):
            valid, neg, m, e = self.parse_field(fld)
            if not valid:
                return None
            out.append(self.code(i % self.n_feat, neg, m, e))
        return out if len(fields) == self.n_vals else None

    # ---------------------------------------------------------------- outputs
    def y_units(self, q: int) -> int:
        """Output code → prediction in units of 10^-YD (what the board prints)."""
        return (int(q) * self.YA + self.YB + (1 << (self.YS - 1))) >> self.YS

    def y_text(self, q: int) -> str:
        v = self.y_units(q)
        s = f"{abs(v):0{self.YD + 1}d}"
        return ("-" if v < 0 else "") + s[: -self.YD] + "." + s[-self.YD:]

    def reply(self, line: str, banner: str, predict_codes) -> str:
        """The board's reply to one received line (without '\n'; '\r' removed), ``predict_codes(codes) ->
        output codes (K,)``; the ``us=`` value is left as ``{us}`` for the caller to fill in."""
        line = line.replace("\r", "")
        if len(line) > self.max_line:
            return f"err line too long (max {self.max_line} characters)"
        p = line.lstrip(" \t")
        if not p.strip(" \t"):
            return "err empty line"
        if p == "info":
            return banner
        if p == "selfcheck":
            return "selfcheck"
        fields = split_fields(line)
        for i, fld in enumerate(fields[: self.n_vals]):
            if not self.parse_field(fld)[0]:
                return f"err value {i + 1} is not a number"
        if len(fields) != self.n_vals:
            return f"err expected {self.n_vals} values, got {min(len(fields), self.count_max)}"
        out = np.asarray(predict_codes(self.codes(line))).reshape(-1)
        if self.classes:
            return f"ok {self.classes[int(np.argmax(out))]} us={{us}}"
        return f"ok {self.y_text(int(out[0]))} us={{us}}"
