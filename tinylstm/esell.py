"""eSELL: E-LSTM's sparse weight format (fp16 values packed four per 64-bit word), encoder, decoder, golden model.

Format (our own implementation of the layout described in E-LSTM, Shi et al., DAC 2019):

* A weight matrix is (4H × n): one row per gate unit in the order **f, i, c, o** (the bundle stores i, f, c, o
  column blocks of an (n × 4H) kernel; :func:`lstm_matrix` transposes and reorders), one column per input.
* **Padding.** Rows are padded with all-zero rows up to a multiple of 8, columns with all-zero columns up to a
  multiple of 4 (our first layer has n = 1: columns 1..3 are zero padding; the engine's input vector is padded with
  zeros to match). Padded rows/columns hold no non-zeros, so they cost only their (empty) chunk headers.
* Columns are split into **block columns 4 wide**; in each, rows into **blocks of 8**. The 8 rows of a block are
  sorted by non-zero count, descending (ties keep the original order: a stable sort), and cut into **2 chunks of
  4 rows**. A chunk's width ``w_chk`` (0..4) is the non-zero count of its longest row; shorter rows are padded with
  fp16 zeros. A row's values are compacted to the left in column order.
* Each row carries a 3-bit **column code** into :data:`CODEBOOK`: the lowest code whose column tuple starts with
  the row's sorted non-zero columns (an empty row uses 0). Padded value positions beyond a row's non-zeros hold
  0x0000; the engine multiplies them with the column the (extended) tuple names there, see :data:`CODE_COLUMNS`.
* Chunk header (32 bits): ``w_chk`` in bits [2:0], the four rows' column codes in bits [14:3] (3 bits per row,
  row 0 lowest), the four rows' 3-bit original row positions (within the 8-row block) in bits [26:15].
  Block header word = chunk0 | chunk1 << 32.
* After the header: ``w_chk`` value words of chunk 0, then of chunk 1; word t holds the t-th value of the chunk's
  rows 0..3 as fp16 in bits [16·r+15 : 16·r].
* Stream: for each block column, for each 8-row block: [header, chunk-0 words, chunk-1 words]. The number of
  64-bit words of each block column goes into the offset table (uint16, four per 64-bit word, first in the low
  bits).

"Zero" means fp16 zero: a weight that rounds to ±0 in fp16 is not stored (decoded as +0.0).

The golden model (:func:`forward`) computes on the decoded fp16 values with float32 arithmetic in exactly the
order of the RISC-V engine (``firmware/riscv/esell_lstm.c``): per gate row, ``acc = bias``; then ``acc += w·x``
for every non-zero of W in ascending column order; then the same for U and ``h``; each product and each sum
rounded to float32 (no fused multiply-add: the firmware is built with ``-ffp-contract=off``). Zero weights add
nothing (the golden adds ``0·x = ±0``, which leaves a non-zero sum unchanged). The activations are the engine's
float32 ``exp`` of ``tinylstm/csrc/tl_act.h`` (Cody-Waite range reduction + degree-7 polynomial), mirrored
operation by operation in :mod:`tinylstm.activations`.

Shapes: the first layer's W has one column per input of a time step (1 for the ``feature_per_step`` layout, F for
a ``window`` of W steps × F features; the host standardises each raw value with its feature's scaler and hands
the engine the sequence step-major, ``x[t][f]``). The dense head ends in a linear output (a regression: output 0,
the scaler inverted on the host) or in a softmax over K outputs (a classifier: :func:`softmax32`, the engine's
float32 softmax with the same ``exp``; the class is the first index of the largest probability).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import activations, numerics
from .numerics import Capabilities, check_supported

#: Column tuples of the 3-bit column codes (E-LSTM's codebook).
CODEBOOK: tuple[tuple[int, ...], ...] = (
    (0, 1, 2, 3), (0, 1, 3), (0, 2, 3), (0, 3), (1, 2, 3), (1, 3), (2, 3), (3,),
)
#: The codebook tuples extended to 4 positions by repeating their last column: the column a padded (zero)
#: value position is multiplied with. Any in-range column would do; this is the one the engine uses.
CODE_COLUMNS: tuple[tuple[int, int, int, int], ...] = tuple(
    tuple(list(t) + [t[-1]] * (4 - len(t))) for t in CODEBOOK)  # type: ignore[misc]

BLOCK_COLS = 4  # block column width
SIGMA = 8       # rows per block
CHUNK = 4       # rows per chunk (C)

#: What the eSELL golden model and the RISC-V engine run: feature-per-step or window sequences (any number of
#: inputs per step, step-major), stacked LSTMs feeding a relu/linear dense head, a regression (one output) or a
#: classifier (K outputs through a softmax: probabilities; the engine also reports the argmax).
CAPABILITIES = Capabilities("riscv/eSELL", layouts=("feature_per_step", "window"),
                            tasks=("regression", "classification"), max_outputs=None, max_inputs_per_step=None,
                            dense_activations=("relu", "linear"), stacked_lstm_only=True)

#: Stated tolerance of the fp16 golden model against Keras on the same weights (tests/test_riscv_shapes.py):
#: a classifier's probabilities (absolute) and a regression's output (relative to the target's scale, y_scale).
PROB_ATOL = 5e-3
REG_TOL_SCALED = 1e-3

#: Dense activation codes of the engine's layer descriptor (``tl_dense_t.act``).
ACT_CODES = {"linear": 0, "relu": 1, "softmax": 2}

#: Bundle gate order is i, f, c, o; eSELL rows are f, i, c, o. ESELL_GATES[k] = bundle gate block of eSELL block k.
ESELL_GATES = (1, 0, 2, 3)


def _code_for(cols: tuple[int, ...]) -> int:
    if not cols:
        return 0
    for code, tup in enumerate(CODEBOOK):
        if tup[: len(cols)] == cols:
            return code
    raise AssertionError(f"no codebook entry starts with {cols}")  # every subset of 0..3 has one


#: Code for every non-zero pattern of a 4-wide row (bit j set = column j non-zero).
_PATTERN_CODE = tuple(_code_for(tuple(j for j in range(4) if (m >> j) & 1)) for m in range(16))


# --------------------------------------------------------------------------------------------- fp16 helpers
def to_fp16(a: np.ndarray, what: str = "matrix") -> np.ndarray:
    """float → float16 (round to nearest even); overflow or NaN is an error, not a silent inf."""
    a = np.asarray(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{what}: NaN or infinity cannot be stored as fp16")
    with np.errstate(over="ignore"):
        h = a.astype(np.float16)
    if not np.all(np.isfinite(h)):
        raise ValueError(f"{what}: |value| {np.abs(a).max():g} overflows fp16 (max 65504)")
    h[h == 0] = 0  # canonical +0
    return h


def fp16_bits(h: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(h, dtype=np.float16)).view(np.uint16)


def pack16(values: np.ndarray) -> np.ndarray:
    """uint16 sequence → uint64 words, four per word, element k of a group in bits [16k+15:16k]; zero-padded."""
    v = np.asarray(values, dtype=np.uint16).ravel()
    v = np.concatenate([v, np.zeros((-len(v)) % 4, np.uint16)]).astype(np.uint64)
    if not len(v):
        return np.zeros(0, np.uint64)
    g = v.reshape(-1, 4)
    return g[:, 0] | (g[:, 1] << np.uint64(16)) | (g[:, 2] << np.uint64(32)) | (g[:, 3] << np.uint64(48))


def unpack16(words: np.ndarray, count: int) -> np.ndarray:
    w = np.asarray(words, dtype=np.uint64)
    parts = [(w >> np.uint64(16 * k)) & np.uint64(0xFFFF) for k in range(4)]
    return np.stack(parts, axis=1).ravel()[:count].astype(np.uint16)


# ------------------------------------------------------------------------------------------------ matrices
def lstm_matrix(kernel: np.ndarray) -> np.ndarray:
    """Bundle kernel (n × 4H, gates i,f,c,o) → eSELL matrix (4H × n, gate rows f,i,c,o)."""
    k = np.asarray(kernel)
    H = k.shape[1] // 4
    return np.concatenate([k[:, g * H:(g + 1) * H].T for g in ESELL_GATES], axis=0)


def bundle_kernel(matrix: np.ndarray) -> np.ndarray:
    """Inverse of :func:`lstm_matrix`."""
    m = np.asarray(matrix)
    H = m.shape[0] // 4
    blocks = {g: m[k * H:(k + 1) * H].T for k, g in enumerate(ESELL_GATES)}
    return np.concatenate([blocks[g] for g in range(4)], axis=1)


def lstm_vector(b: np.ndarray) -> np.ndarray:
    """Bundle bias (4H, i,f,c,o) → eSELL order f,i,c,o."""
    b = np.asarray(b)
    H = b.shape[0] // 4
    return np.concatenate([b[g * H:(g + 1) * H] for g in ESELL_GATES])


@dataclass
class EsellMatrix:
    """One matrix in eSELL: the word stream and per-block-column word counts."""

    rows: int                 # logical rows (before padding to a multiple of 8)
    cols: int                 # logical columns (before padding to a multiple of 4)
    words: np.ndarray         # uint64 stream
    counts: np.ndarray        # uint16 words per block column
    nnz: int = 0
    stored_values: int = 0    # value slots in the stream (non-zeros + chunk padding)

    @property
    def padded_rows(self) -> int:
        return -(-self.rows // SIGMA) * SIGMA

    @property
    def padded_cols(self) -> int:
        return -(-self.cols // BLOCK_COLS) * BLOCK_COLS

    @property
    def block_cols(self) -> int:
        return self.padded_cols // BLOCK_COLS

    def offset_words(self) -> np.ndarray:
        return pack16(self.counts)

    def nbytes(self) -> int:
        """Stream plus offset table, in bytes (8 per 64-bit word)."""
        return 8 * (len(self.words) + len(self.offset_words()))


def encode(matrix: np.ndarray) -> EsellMatrix:
    """A (rows × cols) float matrix → :class:`EsellMatrix` (values rounded to fp16)."""
    m16 = to_fp16(matrix)
    if m16.ndim != 2:
        raise ValueError(f"matrix must be 2-D, got shape {m16.shape}")
    rows, cols = m16.shape
    pr, pc = -(-rows // SIGMA) * SIGMA, -(-cols // BLOCK_COLS) * BLOCK_COLS
    bits = np.zeros((pr, pc), np.uint16)
    bits[:rows, :cols] = fp16_bits(m16)
    nz = (bits & 0x7FFF) != 0
    words: list[int] = []
    counts: list[int] = []
    stored = 0
    for bc in range(pc // BLOCK_COLS):
        start = len(words)
        c0 = bc * BLOCK_COLS
        for blk in range(pr // SIGMA):
            r0 = blk * SIGMA
            sub_nz = nz[r0:r0 + SIGMA, c0:c0 + BLOCK_COLS]
            sub_bits = bits[r0:r0 + SIGMA, c0:c0 + BLOCK_COLS]
            counts_r = sub_nz.sum(axis=1)
            order = sorted(range(SIGMA), key=lambda r: -int(counts_r[r]))  # stable: ties keep original order
            header = 0
            value_words: list[int] = []
            for ch in range(SIGMA // CHUNK):
                chunk_rows = order[ch * CHUNK:(ch + 1) * CHUNK]
                w_chk = int(max(counts_r[r] for r in chunk_rows))
                hdr = w_chk
                vals = np.zeros((w_chk, CHUNK), np.uint64)
                for k, r in enumerate(chunk_rows):
                    mask = int(sum(1 << j for j in range(4) if sub_nz[r, j]))
                    hdr |= _PATTERN_CODE[mask] << (3 + 3 * k)
                    hdr |= r << (15 + 3 * k)
                    nzcols = [j for j in range(4) if sub_nz[r, j]]
                    for t, j in enumerate(nzcols):
                        vals[t, k] = sub_bits[r, j]
                for t in range(w_chk):
                    value_words.append(int(vals[t, 0] | (vals[t, 1] << 16) | (vals[t, 2] << 32)
                                           | (vals[t, 3] << 48)))
                stored += CHUNK * w_chk
                header |= hdr << (32 * ch)
            words.append(header)
            words.extend(value_words)
        n_words = len(words) - start
        if n_words > 0xFFFF:
            raise ValueError(f"block column {bc}: {n_words} words do not fit a 16-bit offset")
        counts.append(n_words)
    return EsellMatrix(rows, cols, np.array(words, dtype=np.uint64), np.array(counts, dtype=np.uint16),
                       int(nz.sum()), stored)


def decode(e: EsellMatrix) -> np.ndarray:
    """:class:`EsellMatrix` → (rows × cols) float16 matrix (exact inverse of :func:`encode` on fp16 values).

    Also checks what the RISC-V engine relies on: each row's values are compacted to the left, the 8 rows of a
    block (chunk 0 then chunk 1) have non-increasing non-zero counts, and a chunk's first row has ``w_chk``."""
    pr, pc = e.padded_rows, e.padded_cols
    bits = np.zeros((pr, pc), np.uint16)
    words = [int(w) for w in e.words]
    if len(e.counts) != pc // BLOCK_COLS:
        raise ValueError(f"{len(e.counts)} block-column counts for {pc // BLOCK_COLS} block columns")
    pos = 0
    for bc in range(pc // BLOCK_COLS):
        end = pos + int(e.counts[bc])
        for blk in range(pr // SIGMA):
            header = words[pos]
            pos += 1
            prev = CHUNK  # non-zero count of the previous row in block order (the engine relies on the order)
            for ch in range(2):
                hdr = (header >> (32 * ch)) & 0xFFFFFFFF
                w_chk = hdr & 7
                if w_chk > 4:
                    raise ValueError(f"block column {bc}, block {blk}: chunk width {w_chk} > 4")
                for k in range(CHUNK):
                    code = (hdr >> (3 + 3 * k)) & 7
                    row = blk * SIGMA + ((hdr >> (15 + 3 * k)) & 7)
                    cols = CODE_COLUMNS[code]
                    n = 0
                    for t in range(w_chk):
                        v = (words[pos + t] >> (16 * k)) & 0xFFFF
                        if v & 0x7FFF:
                            if t >= len(CODEBOOK[code]):
                                raise ValueError(f"block column {bc}, block {blk}: value beyond code {code}")
                            if n != t:
                                raise ValueError(f"block column {bc}, block {blk}: values not compacted left")
                            n += 1
                            bits[row, bc * BLOCK_COLS + cols[t]] = v
                    if n > prev or (k == 0 and n != w_chk):
                        raise ValueError(f"block column {bc}, block {blk}: rows not sorted by non-zero count")
                    prev = n
                pos += w_chk
        if pos != end:
            raise ValueError(f"block column {bc}: stream has {pos - end:+d} words against its offset entry")
    return bits[:e.rows, :e.cols].view(np.float16).copy()


def csr_bytes(matrix: np.ndarray) -> int:
    """CSR size of the fp16 matrix: fp16 values + uint16 column indices + uint16 row pointers (rows + 1)."""
    nz = int(np.count_nonzero(to_fp16(matrix)))
    return 2 * nz + 2 * nz + 2 * (np.asarray(matrix).shape[0] + 1)


def dense_fp16_bytes(matrix: np.ndarray) -> int:
    return 2 * int(np.asarray(matrix).size)


# --------------------------------------------------------------------------------------------- the network
@dataclass
class EsellLayer:
    """One LSTM layer ready for the engine: eSELL W and U, fp16 bias, all in f,i,c,o row order."""

    W: EsellMatrix
    U: EsellMatrix
    bias16: np.ndarray        # float16 (4H)
    Wd: np.ndarray            # decoded float16 (4H × n)
    Ud: np.ndarray            # decoded float16 (4H × H)
    return_sequences: bool

    @property
    def units(self) -> int:
        return self.Ud.shape[1]

    @property
    def inputs(self) -> int:
        return self.Wd.shape[1]


@dataclass
class EsellNet:
    """The whole network as the RISC-V engine sees it (fp16 everywhere, eSELL for the LSTM matrices)."""

    layers: list[EsellLayer]
    dense: list[tuple[np.ndarray, np.ndarray, str]]   # (W fp16 (out × in), b fp16, activation)
    ht: float = 0.0
    meta: dict = field(default_factory=dict)

    def lstm_bytes(self) -> dict[str, int]:
        """Weight bytes of the four LSTM matrices: eSELL (stream + offsets), dense fp16, CSR fp16."""
        es = sum(l.W.nbytes() + l.U.nbytes() for l in self.layers)
        dn = sum(dense_fp16_bytes(l.Wd) + dense_fp16_bytes(l.Ud) for l in self.layers)
        cs = sum(csr_bytes(l.Wd) + csr_bytes(l.Ud) for l in self.layers)
        return {"esell": es, "dense_fp16": dn, "csr_fp16": cs}


def build_net(bundle, ht: float = 0.0) -> EsellNet:
    """Encode a (pruned) bundle for the engine; zeros in the bundle's LSTM matrices are not stored."""
    check_supported(bundle, CAPABILITIES)
    layers = []
    for k, layer in enumerate(bundle.lstm):
        W = encode(lstm_matrix(layer.W))
        U = encode(lstm_matrix(layer.U))
        layers.append(EsellLayer(W, U, to_fp16(lstm_vector(layer.b), f"lstm{k} bias"), decode(W), decode(U),
                                 layer.return_sequences))
    dense = [(to_fp16(np.asarray(d.W).T, f"dense{k} W"), to_fp16(d.b, f"dense{k} bias"), d.activation)
             for k, d in enumerate(bundle.dense)]
    return EsellNet(layers, dense, float(ht))


# ------------------------------------------------------------------------------- float32 engine arithmetic
F = np.float32


# the engine's activations: tinylstm/csrc/tl_act.h, mirrored bit for bit by tinylstm.activations
exp32 = activations.exp32
sigmoid32 = activations.sigmoid32
tanh32 = activations.tanh32


def hidden_prune(h: np.ndarray, ht: float) -> np.ndarray:
    """E-LSTM hidden-state pruning (group 4): a group of 4 h values (h zero-padded to a multiple of 4) is zeroed
    when Σ|h| < ht and every |h_k| < ht/2. Sum order ((|h0|+|h1|)+|h2|)+|h3| in float32."""
    h = np.asarray(h, F)
    if ht <= 0:
        return h
    n, H = h.shape
    pad = np.zeros((n, -(-H // 4) * 4), F)
    pad[:, :H] = h
    a = np.abs(pad).reshape(n, -1, 4)
    s = ((a[..., 0] + a[..., 1]) + a[..., 2]) + a[..., 3]
    th = F(ht)
    drop = (s < th) & np.all(a < th * F(0.5), axis=-1)
    pad = pad.reshape(n, -1, 4)
    pad[drop] = 0
    return pad.reshape(n, -1)[:, :H]


def _accumulate(acc: np.ndarray, M16: np.ndarray, x: np.ndarray) -> np.ndarray:
    """acc (n × R) += M (R × C) · x (n × C), column by column in ascending order, float32."""
    M = np.asarray(M16, F)
    for j in range(M.shape[1]):
        acc = acc + x[:, j:j + 1] * M[:, j][None, :]
    return acc


class EsellCells:
    """The engine's float32 arithmetic on the decoded fp16 weights as a :class:`tinylstm.numerics.CellFormat`
    (``ht``: hidden-state pruning threshold applied to h before the recurrent product)."""

    def __init__(self, ht: float = 0.0):
        self.ht = ht

    def init_state(self, layer: EsellLayer, n: int) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((n, layer.units), F), np.zeros((n, layer.units), F)

    def lstm_step(self, layer: EsellLayer, x: np.ndarray, h: np.ndarray, c: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
        n, H = x.shape[0], layer.units
        acc = np.broadcast_to(np.asarray(layer.bias16, F), (n, 4 * H)).copy()
        acc = _accumulate(acc, layer.Wd, np.asarray(x, F))
        acc = _accumulate(acc, layer.Ud, hidden_prune(h, self.ht))
        f, i, g, o = (acc[:, k * H:(k + 1) * H] for k in range(4))
        f, i, o = sigmoid32(f), sigmoid32(i), sigmoid32(o)
        c = (f * c + i * tanh32(g)).astype(F)
        h = (o * tanh32(c)).astype(F)
        return h, c

    def dense(self, layer: tuple[np.ndarray, np.ndarray, str], x: np.ndarray, last: bool) -> np.ndarray:
        W16, b16, act = layer
        z = _accumulate(np.broadcast_to(np.asarray(b16, F), (x.shape[0], W16.shape[0])).copy(), W16, x)
        if act == "softmax":
            return softmax32(z)
        return np.maximum(z, F(0)) if act == "relu" else z


def softmax32(z: np.ndarray) -> np.ndarray:
    """The engine's softmax over the last axis, float32 in its order: m = max z (first to last), e_k =
    exp32(z_k - m), s = e_0 + e_1 + ... (left to right), p_k = e_k / s."""
    z = np.asarray(z, F)
    m = z[:, :1].copy()
    for k in range(1, z.shape[1]):
        m = np.where(z[:, k:k + 1] > m, z[:, k:k + 1], m)
    e = exp32((z - m).astype(F))
    s = np.zeros((z.shape[0], 1), F)
    for k in range(z.shape[1]):
        s = (s + e[:, k:k + 1]).astype(F)
    return (e / s).astype(F)


def lstm_layer32(layer: EsellLayer, x_seq: np.ndarray, ht: float = 0.0) -> np.ndarray:
    """One LSTM layer over (n, steps, inputs) (the driver's :func:`~tinylstm.numerics.run_lstm`)."""
    return numerics.run_lstm(EsellCells(ht), layer, np.asarray(x_seq, F))[0]


def forward(net: EsellNet, x_seq: np.ndarray, ht: float | None = None) -> np.ndarray:
    """Golden forward pass in standardised units: (n, steps, inputs) float32 → (n, outputs) float32."""
    ht = net.ht if ht is None else ht
    return numerics.forward(EsellCells(ht), net.layers, net.dense, np.asarray(x_seq, F))


def scale_inputs(bundle, X_raw: np.ndarray) -> np.ndarray:
    """Raw rows → standardised float32 sequences, as the host hands them to the engine."""
    return bundle.sequences(np.atleast_2d(np.asarray(X_raw, np.float64)))


def predict(bundle, X_raw: np.ndarray, ht: float = 0.0) -> np.ndarray:
    """Raw rows → predictions through the eSELL golden model, as :meth:`~tinylstm.bundle.Bundle.outputs` gives
    them: (n,) target units for a regression, (n, K) class probabilities for a classifier."""
    out = forward(build_net(bundle, ht), scale_inputs(bundle, X_raw))
    return bundle.outputs(out.astype(np.float64))
