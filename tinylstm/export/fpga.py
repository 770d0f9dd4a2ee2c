"""``tinylstm export fpga``: the fixed-point network for the SystemVerilog core in ``tinylstm/hdl/``.

A pure generator (:func:`generate` returns the files' bytes; it writes and simulates nothing). The files:

* ``weights.memh`` — the weight memory in the RTL's schedule order: one word per line of ``LANES × W`` bits
  (lane 0 in the least significant bits); each round of a block is its bias slot, then one slot per operand
* ``sigmoid.memh`` / ``tanh.memh`` — the activation tables (see :class:`tinylstm.fixedpoint.Lut`)
* ``tinylstm_net_pkg.sv`` — the SystemVerilog package: widths, sizes, the pass schedule, register addresses
* ``rtl/`` — the RTL sources (copied from ``tinylstm/hdl/``), so the directory simulates on its own
* ``regmap.md`` — the AXI4-Lite register map (generated from the same constants as the package)
* ``manifest.json`` — format, layout, files, SHA-256 of each file, scaler, schedule

Every generated file carries a header naming the command and the model (bundle SHA-256, data SHA-256, seed), the
scaler and the tolerance (0 LSB against the golden model), and no date: the same bundle gives the same bytes.
The report text is :mod:`tinylstm.reports.fpga`; simulating the exported core is :mod:`tinylstm.hdlsim`.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import cgen
from ..bundle import Bundle
from ..errors import UnsupportedShape, UserError
from ..fixedpoint import DEFAULT_FORMAT, BoardScaler, FixedNet, QFormat
from ..modeldir import ModelDir
from ..options import option
from . import register

HDL_DIR = Path(__file__).resolve().parents[1] / "hdl"  # package data (tinylstm/hdl/)
RTL_FILES = ("tl_act_lut.sv", "tl_core.sv", "tl_axil.sv", "tl_tb_batch.sv")
BOARD_RTL = ("tl_uart.sv", "tl_board.sv", "tl_icebreaker.sv")
BOARDS = {"icebreaker": {"part": "up5k-sg48", "top": "tl_icebreaker", "pcf": "icebreaker.pcf", "osc_mhz": 12}}
SELFCHECK_CODES = (0.5, -1.0, 1.5, -0.25, 0.75, -2.0)  # self-check input values (cycled), in format units
DEFAULT_LANES = 4
VERSION = 0x544C0100  # "TL" 1.0

FIELDS = ("KIND", "A_BASE", "A_LEN", "B_BASE", "B_LEN", "LAST_RND", "KLEN", "NROWS", "WBASE", "WSTRIDE",
          "WSKIP", "DST_BASE", "DST_LEN", "DST_END", "C_BASE", "C_ZERO", "HZ")
# LAST_RND, KLEN, DST_END, HZ: derived (timing). HZ bit 0/1: segment A/B is the previous pass's destination (the
# hardware interlock applies to it)
KIND_LSTM, KIND_RELU, KIND_LINEAR = 0, 1, 2

# AXI4-Lite register map (byte addresses)
REGS = {
    "VERSION": (0x0000, "RO", "version: 0x544C0100 ('TL', major 1, minor 0)"),
    "CTRL": (0x0004, "WO", "bit 0: write 1 to start an inference on the current inputs (ignored while busy)"),
    "STATUS": (0x0008, "RO", "bit 0 busy, bit 1 done (output valid; cleared by a start), bit 2 overrun "
                             "(internal consistency error, never expected)"),
    "CYCLES": (0x000C, "RO", "clock cycles of the last inference (start to done)"),
    "INFO": (0x0010, "RO", "bits 7:0 word width W, 15:8 fractional bits, 23:16 MAC lanes, 31:24 input count"),
    "ARGMAX": (0x0014, "RO", "index of the largest output code of the last inference (the first on a tie; the "
                             "class index of a classifier; 0 for one output)"),
}
REG_INPUT, REG_OUTPUT, WIN_WEIGHTS = 0x0100, 0x0200, 0x8000


@dataclass
class Pass:
    kind: int
    a_base: int
    a_len: int
    b_base: int
    b_len: int
    nrounds: int
    wbase: int
    wstride: int
    wskip: int
    nrows: int
    dst_base: int
    dst_len: int
    c_base: int
    c_zero: int
    label: str = ""
    hz: int = 0

    @property
    def last_rnd(self) -> int:
        return self.nrounds - 1

    @property
    def klen(self) -> int:
        return self.a_len + self.b_len

    @property
    def dst_end(self) -> int:
        return self.dst_base + self.dst_len

    def values(self) -> list[int]:
        return [getattr(self, f.lower()) for f in FIELDS]


@dataclass
class Design:
    """The network laid out for the RTL: memories, schedule and sizes (everything the package holds)."""

    net: FixedNet
    lanes: int
    passes: list[Pass]
    wwords: list[list[int]]  # per slot: LANES integer codes (bias slots included)
    vm_depth: int
    c_depth: int
    grows: int
    n_in: int
    n_out: int
    out_base: int
    provenance: dict = field(default_factory=dict)
    #: (x_mean list, x_scale list, y_mean, y_scale) of the bundle's scaler, for the file headers
    scaler: tuple = ()
    lut_frac_given: bool = False
    #: class names in output order (a classifier: the outputs are logits, ARGMAX the class index), else empty
    classes: tuple = ()

    @property
    def fmt(self) -> QFormat:
        return self.net.fmt

    @property
    def lane_aw(self) -> int:
        return max(1, math.ceil(math.log2(self.lanes)))

    @property
    def issue_cycles(self) -> int:
        """Operand cycles of the schedule, bias slots included (the MAC lanes' busy time, without pipeline and
        interlock cycles)."""
        return sum(p.nrounds * (1 + p.a_len + p.b_len) for p in self.passes)

    @property
    def macs_issued(self) -> int:
        """Useful multiply-accumulates done (the t = 0 recurrent products with h = 0 are skipped)."""
        return sum(p.nrows * (p.a_len + p.b_len) for p in self.passes)


def _clog2(n: int) -> int:
    return max(1, math.ceil(math.log2(max(n, 2))))


def build_design(bundle: Bundle, fmt: QFormat | str = DEFAULT_FORMAT, lanes: int = DEFAULT_LANES,
                 lut_frac: int | None = None, bundle_sha256: str = "") -> Design:
    """Quantise the bundle and lay it out for the core: schedule, weight/bias memories, vector memory map.
    (:meth:`FixedNet.from_bundle` checks the network against :data:`tinylstm.fixedpoint.CAPABILITIES`.)"""
    if not 1 <= lanes <= 64:
        raise UserError(f"--lanes {lanes}: must be within 1..64")
    net = FixedNet.from_bundle(bundle, fmt, lut_frac)
    T, I0 = net.n_steps, net.lstm[0].inputs
    # ---- vector memory: inputs, two h buffers per LSTM layer, one buffer per dense layer
    addr = T * I0
    hb = []
    for layer in net.lstm:
        hb.append((addr, addr + layer.units))
        addr += 2 * layer.units
    dout = []
    for d in net.dense:
        dout.append(addr)
        addr += int(d.W.shape[1])
    vm_depth = addr
    cb, c_depth = [], 0
    for layer in net.lstm:
        cb.append(c_depth)
        c_depth += layer.units
    if net.fmt.int_bits < 2:
        raise UserError(f"{net.fmt.name}: the core needs 1.0 in range (the bias operand): at least 2 integer bits")
    wwords: list[list[int]] = []

    def add_block(rows_w: list[np.ndarray], biases: np.ndarray) -> tuple[int, int, int]:
        """rows_w[r] = operand-ordered weights of row r; each round is [bias slot, operand slots...];
        returns (wbase, wstride, nrounds)."""
        nrows = len(rows_w)
        nrounds = math.ceil(nrows / lanes)
        wbase = len(wwords)
        K = len(rows_w[0])
        for rnd in range(nrounds):
            rows = [rnd * lanes + p for p in range(lanes)]
            wwords.append([int(biases[r]) if r < nrows else 0 for r in rows])
            for k in range(K):
                wwords.append([int(rows_w[r][k]) if r < nrows else 0 for r in rows])
        return wbase, K + 1, nrounds

    blocks = {}
    for li, layer in enumerate(net.lstm):
        H = layer.units
        order = [(g, j) for j in range(H) for g in range(4)]  # row 4j+g: gate g of unit j
        bias = np.array([layer.b[g * H + j] for g, j in order])
        rows_full = [np.concatenate([layer.U[:, g * H + j], layer.W[:, g * H + j]]) for g, j in order]
        blocks[li] = add_block(rows_full, bias)
    passes: list[Pass] = []
    for t in range(T):
        for li, layer in enumerate(net.lstm):
            H = layer.units
            wb, ws, nr = blocks[li]
            if li == 0:
                b_base, b_len = t * I0, I0
            else:
                b_base, b_len = hb[li - 1][t % 2], net.lstm[li - 1].units
            if t == 0:  # h(-1) = 0: skip the recurrent slots of every round
                a_base, a_len, skip = 0, 0, H
            else:
                a_base, a_len, skip = hb[li][(t - 1) % 2], H, 0
            passes.append(Pass(KIND_LSTM, a_base, a_len, b_base, b_len, nr, wb, ws, skip, 4 * H, hb[li][t % 2], H,
                               cb[li], int(t == 0), f"lstm{li} t{t}"))
    src, src_len = hb[-1][(T - 1) % 2], net.lstm[-1].units
    for di, d in enumerate(net.dense):
        n_o = int(d.W.shape[1])
        wb, ws, nr = add_block([d.W[:, r] for r in range(n_o)], d.b)
        kind = KIND_RELU if d.activation == "relu" else KIND_LINEAR
        passes.append(Pass(kind, src, src_len, 0, 0, nr, wb, ws, 0, n_o, dout[di], n_o, 0, 0, f"dense{di}"))
        src, src_len = dout[di], n_o
    for prev, p in zip(passes, passes[1:]):
        lo, hi = prev.dst_base, prev.dst_base + prev.dst_len
        for bit, (base, n) in enumerate(((p.a_base, p.a_len), (p.b_base, p.b_len))):
            if n == 0:
                continue
            inside = lo <= base and base + n <= hi
            assert inside or base + n <= lo or base >= hi, "a segment partly overlaps the previous destination"
            p.hz |= int(inside) << bit
    grows = 1 << _clog2(max(p.nrounds for p in passes) * lanes)
    ls = 1 << max(1, math.ceil(math.log2(lanes)))
    if len(wwords) * ls * 4 > 0x10000 - WIN_WEIGHTS:
        raise UnsupportedShape(f"network too large for the 16-bit AXI4-Lite address map with {lanes} lanes")
    if T * I0 > (REG_OUTPUT - REG_INPUT) // 4:
        raise UnsupportedShape("too many input values for the register map (max 64)")
    if max(vm_depth, len(wwords), 4 * grows) >= 1 << 16:
        raise UnsupportedShape("network too large for the core's 16-bit schedule fields")
    prov = {"bundle_sha256": bundle_sha256 or "?", "data_sha256": bundle.meta.get("data_sha256", ""),
            "seed": bundle.meta.get("seed"), "architecture": bundle.describe()}
    sc = bundle.scaler
    scaler = ([float(v) for v in sc.x_mean], [float(v) for v in sc.x_scale], float(sc.y_mean), float(sc.y_scale))
    return Design(net, lanes, passes, wwords, vm_depth, c_depth, grows, T * I0, net.dense[-1].W.shape[1],
                  dout[-1], prov, scaler, lut_frac is not None,
                  tuple(bundle.classes) if bundle.is_classifier else ())


def weight_addresses(design: Design, param: str, index: tuple[int, ...]) -> list[int]:
    """AXI4-Lite byte addresses that hold one parameter of the bundle (one per parameter: every pass of a layer
    reads the same block). ``param`` is ``lstmK.W`` / ``lstmK.U`` / ``lstmK.b`` / ``denseK.W`` / ``denseK.b``;
    ``index`` is (row, column) in the bundle's layout (kernels inputs × 4H in gate order i, f, c, o; dense
    inputs × outputs) or (column,) for a bias."""
    layer, name = param.split(".")
    ls = 1 << design.lane_aw
    P = design.lanes
    out: set[int] = set()
    for p in design.passes:
        if not p.label.startswith(layer + " ") and p.label != layer:
            continue
        col = index[-1]
        is_lstm = layer.startswith("lstm")
        H = p.dst_len
        row = 4 * (col % H) + col // H if is_lstm else col
        rnd, lane = divmod(row, P)
        base = p.wbase + rnd * p.wstride
        if name == "b":
            k = 0
        elif name == "U" and is_lstm:
            k = 1 + index[0]
        elif name == "W" and is_lstm:
            k = 1 + H + index[0]
        elif name == "W":
            k = 1 + index[0]
        else:
            continue
        out.add(WIN_WEIGHTS + 4 * ((base + k) * ls + lane))
    if not out:
        raise UserError(f"no parameter {param}{list(index)} in this design")
    return sorted(out)


# ------------------------------------------------------------------------------------------ file writers
def _header_lines(design: Design, what: str) -> list[str]:
    p = design.provenance
    f = design.fmt
    sc = design.scaler
    out = (f"classifier {list(design.classes)}: outputs are logits (softmax on the host: p = softmax(code/2^"
           f"{f.frac_bits})), ARGMAX = class index") if design.classes else \
        (f"y = code/2^{f.frac_bits} * {sc[3]!r} + {sc[2]!r}" if sc else "")
    scaler = (f"scaler (host side): x_scaled = (x - {sc[0]}) / {sc[1]} (value i: feature i mod {len(sc[0])}), "
              f"quantised to {f.name}; {out}") if sc else \
        (f"scaler applied on the host (inputs standardised then quantised, output = code/2^{f.frac_bits}"
         f" * y_scale + y_mean)")
    return [f"{what}",
            f"generated by `tinylstm export fpga --format {f.name} --lanes {design.lanes}"
            + (f" --lut-frac {design.net.sig.lut_frac}`" if design.lut_frac_given else "`")
            + f" from {p['architecture']}",
            f"model: bundle sha256 {p.get('bundle_sha256', '?')}, data sha256 {p['data_sha256']}, seed {p['seed']}",
            f"format {f.name} (W={f.width}, {f.frac_bits} fractional bits), {design.lanes} MAC lanes; {scaler}",
            "tolerance: exact (0 LSB) against tinylstm.fixedpoint"]


def _memh(words: list[list[int]], width: int, header: list[str]) -> str:
    word = cgen.memh_word(width * len(words[0]))
    mask = (1 << width) - 1
    lines = [f"// {h}" for h in header]
    for lanes in words:
        v = 0
        for p, code in enumerate(lanes):
            v |= (code & mask) << (p * width)
        lines.append(word(v))
    return "\n".join(lines) + "\n"


def package_text(design: Design) -> str:
    f, net = design.fmt, design.net
    nf = 1 << _clog2(len(FIELDS))  # field stride padded to a power of two: the RTL's field select is a plain mux
    sched = 0
    for pi, p in enumerate(design.passes):
        for fi, v in enumerate(p.values()):
            assert 0 <= v < 1 << 16
            sched |= v << ((pi * nf + fi) * 16)
    bits = len(design.passes) * nf * 16
    info = f.width | (f.frac_bits << 8) | (design.lanes << 16) | (design.n_in << 24)
    h16, h32 = cgen.sv_hex(16), cgen.sv_hex(32)
    params = [
        ("W", f.width, "word width (bits)"),
        ("FRAC", f.frac_bits, "fractional bits"),
        ("ACC_W", net.acc_bits, "accumulator bits: 2W + clog2(max fan-in + 1), never wraps"),
        ("LANES", design.lanes, "parallel multiply-accumulate lanes"),
        ("LANE_AW", design.lane_aw, "lane index bits (lane stride of the AXI weight windows = 2^LANE_AW)"),
        ("NPASS", len(design.passes), "passes in the schedule"),
        ("PI_W", _clog2(len(design.passes)), "pass index bits"),
        ("NFIELD", nf, f"16-bit field slots per pass ({len(FIELDS)} used; a power of two)"),
        ("SCHED_BITS", bits, "bits of SCHED"),
        ("WSLOTS", len(design.wwords), "weight memory words (LANES*W bits each; bias slots included)"),
        ("WS_AW", _clog2(len(design.wwords)), "weight memory address bits"),
        ("VM_DEPTH", 1 << _clog2(design.vm_depth), "vector memory words (inputs, h buffers, dense outputs)"),
        ("VM_AW", _clog2(design.vm_depth), "vector memory address bits"),
        ("C_DEPTH", 1 << _clog2(design.c_depth), "cell-state memory words"),
        ("C_AW", _clog2(design.c_depth), "cell-state memory address bits"),
        ("GROWS", design.grows, "gate buffer rows per half (power of two)"),
        ("GB_AW", _clog2(2 * design.grows), "gate buffer address bits"),
        ("NIN", design.n_in, "input codes per inference (steps x inputs)"),
        ("IN_AW", _clog2(design.n_in), "input register index bits"),
        ("NOUT", design.n_out, "output codes"),
        ("OUT_BASE", design.out_base, "vector-memory address of output 0"),
        ("OI_W", _clog2(design.n_out), "output index bits (the argmax port)"),
        ("SIG_DEPTH", net.sig.depth, f"sigmoid table entries (|x| < {net.sig.in_range:g})"),
        ("SIG_AW", net.sig.addr_bits, "sigmoid table address bits"),
        ("TANH_DEPTH", net.tanh.depth, f"tanh table entries (|x| < {net.tanh.in_range:g})"),
        ("TANH_AW", net.tanh.addr_bits, "tanh table address bits"),
        ("LUT_SHIFT", net.sig.shift, "table index = (|x| + half) >> LUT_SHIFT"),
    ]
    lines = [f"// {h}" for h in _header_lines(design, "tinylstm_net_pkg: parameters of the exported network")]
    lines += ["`timescale 1ns/1ps", "package tinylstm_net_pkg;"]
    for name, v, doc in params:
        lines.append(f"    localparam int {name} = {v};  // {doc}")
    lines.append("    /* verilator lint_off UNUSEDPARAM */  // not every field is read by the RTL (e.g. B_LEN)")
    for fi, name in enumerate(FIELDS):
        lines.append(f"    localparam int F_{name} = {fi};")
    lines.append("    /* verilator lint_on UNUSEDPARAM */")
    lines.append(f"    localparam logic [31:0] VERSION = {h32(VERSION)};")
    lines.append(f"    localparam logic [31:0] INFO = {h32(info)};")
    for name, (a, _, _) in REGS.items():
        lines.append(f"    localparam logic [15:0] REG_{name} = {h16(a)};")
    lines += [f"    localparam logic [15:0] REG_INPUT = {h16(REG_INPUT)};",
              f"    localparam logic [15:0] REG_OUTPUT = {h16(REG_OUTPUT)};",
              f"    localparam logic [15:0] WIN_WEIGHTS = {h16(WIN_WEIGHTS)};"]
    lines.append("    // pass schedule: field f of pass p at bits [(p*NFIELD+f)*16 +: 16]")
    for pi, p in enumerate(design.passes):
        fields = ", ".join(f"{n.lower()}={v}" for n, v in zip(FIELDS, p.values()))
        lines.append(f"    //   pass {pi} ({p.label}): {fields}")
    lines.append(f"    localparam logic [SCHED_BITS-1:0] SCHED = {cgen.sv_hex(bits)(sched)};")
    lines.append("endpackage")
    return "\n".join(lines) + "\n"


def regmap_text(design: Design) -> str:
    f = design.fmt
    ls = 1 << design.lane_aw
    rows = [f"| `0x{a:04X}` | {name} | {acc} | {doc} |" for name, (a, acc, doc) in REGS.items()]
    rows += [f"| `0x{REG_INPUT:04X}` + 4·i | INPUT[i], i < {design.n_in} | RW | input code i (step i // inputs, "
             f"input i % inputs), {f.name} in bits {f.width - 1}:0 (sign-extended on read); writing INPUT"
             f"[{design.n_in - 1}] starts an inference; SLVERR while busy |",
             f"| `0x{REG_OUTPUT:04X}` + 4·o | OUTPUT[o], o < {design.n_out} | RO | output code o of the last "
             f"inference, {f.name}, sign-extended |",
             f"| `0x{WIN_WEIGHTS:04X}` + 4·(slot·{ls} + lane) | WEIGHT | RW | weight (or bias) word of `lane` in "
             f"slot `slot` (slot < {len(design.wwords)}, lane < {design.lanes}), sign-extended on read; SLVERR "
             f"while busy |"]
    head = _header_lines(design, "AXI4-Lite register map of tl_axil")
    return "\n".join([
        "# tinylstm FPGA core: AXI4-Lite register map", "",
        *[f"<!-- {h} -->" for h in head], "",
        "32-bit data, 16-bit byte addresses. WSTRB is honoured: a write changes only the bytes whose strobe is set "
        f"(of the {f.width}-bit fields; CTRL starts only with strobe 0). Writes to read-only or unmapped "
        "addresses and reads of write-only or unmapped addresses answer SLVERR.", "",
        "| address | name | access | meaning |", "|---|---|---|---|", *rows, "",
        f"Weight slot `s`, lane `p` holds the weight of row `round·{design.lanes} + p` (line `s` of `weights.memh`, "
        "lane p in bits `p·W`). A block (one per layer) is `nrounds` rounds of `wstride` slots: the bias slot, then "
        "one slot per operand; see `manifest.json` → `passes` (`wbase`, `wstride`, `wskip`). LSTM rows are "
        "unit-major: row `4j + g` is gate g (i, f, c, o) of unit j; an LSTM round's operands are h(t−1) (U), then "
        "x(t) (W); the t = 0 passes skip the U slots (h = 0). "
        "`tinylstm.export.fpga.weight_addresses(design, 'lstm0.W', (row, col))` lists every address of a "
        "parameter.", "",
        "Typical use: write INPUT[0..] with `round((raw − mean) / scale · 2^n)` (saturated; input i = step "
        "i // F, value i % F, scaled with feature i % F), poll STATUS until done (or wait for `irq`), then "
        + (f"read ARGMAX (the class index: {', '.join(design.classes)}) and, for probabilities, OUTPUT[0.."
           f"{design.n_out - 1}] (logits) and compute softmax(code / 2^{f.frac_bits})." if design.classes else
           f"read OUTPUT[0] and compute `code / 2^{f.frac_bits} · y_scale + y_mean`."), ""])


def ice40_pll(f_in: float, f_out: float) -> tuple[int, int, int, int]:
    """(DIVR, DIVF, DIVQ, FILTER_RANGE) of an SB_PLL40 (SIMPLE feedback) giving exactly ``f_out`` MHz."""
    best = None
    for divr in range(16):
        pfd = f_in / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divq in range(1, 7):
            for divf in range(128):
                vco = pfd * (divf + 1)
                if not 533 <= vco <= 1066:
                    continue
                err = abs(vco / 2 ** divq - f_out)
                if best is None or err < best[0] - 1e-9:
                    filt = 1 if pfd < 17 else 2 if pfd < 26 else 3 if pfd < 44 else 4 if pfd < 66 else 5 if pfd < 101 \
                        else 6
                    best = (err, (divr, divf, divq, filt))
    if best is None or best[0] > 1e-6:
        raise UserError(f"--clock-mhz {f_out:g}: no exact iCE40 PLL setting from {f_in:g} MHz")
    return best[1]


def board_banner(design: Design, bs: BoardScaler, step_inputs: int | None = None) -> str:
    """The board's banner (serial line protocol 2): ``outputs=``/``classes=`` for a classifier, ``step_inputs=``
    for a window model (F values per step)."""
    text = (f"tinylstm ready engine=fpga-{design.fmt.name.lower()} inputs={bs.n_vals} protocol=2 "
            f"max_line={bs.max_line}")
    if bs.classes:
        text += f" outputs={len(bs.classes)} classes={','.join(bs.classes)}"
    if step_inputs is not None:
        text += f" step_inputs={step_inputs}"
    return text


def board_messages(design: Design, bs: BoardScaler, step_inputs: int | None = None) -> dict[str, str]:
    """The board's message ROM strings (class names last, ``CLS<k>``)."""
    msgs = {"BANNER": board_banner(design, bs, step_inputs),
            "PASS": "selfcheck 0 PASS", "FAIL": "selfcheck 0 FAIL",
            "DONE_OK": "selfcheck done pass=1 fail=0", "DONE_BAD": "selfcheck done pass=0 fail=1",
            "EMPTY": "err empty line", "LONG": f"err line too long (max {bs.max_line} characters)",
            "VAL1": "err value ", "VAL2": " is not a number", "COUNT": f"err expected {bs.n_vals} values, got ",
            "OK": "ok ", "US": " us="}
    for k, name in enumerate(bs.classes):
        msgs[f"CLS{k}"] = name
    return msgs


def _check_class_names(names) -> None:
    for name in names:
        if not name or len(name) > 32 or not all(33 <= ord(c) < 127 and c != "," for c in name):
            raise UnsupportedShape(f"the board top prints class names as ROM strings: {name!r} must be 1-32 "
                                   "printable ASCII characters without spaces or commas (use --board none)")


def selfcheck_codes(design: Design) -> list[int]:
    f = design.fmt
    return [int(f.quantize(np.array([SELFCHECK_CODES[i % len(SELFCHECK_CODES)]]))[0]) for i in range(design.n_in)]


def board_files(design: Design, bundle: Bundle, board: str, clock_mhz: int, baud: int) -> dict[str, bytes]:
    """The board top's package (scaler and protocol constants, PLL), its ROMs and the pin constraints."""
    if board not in BOARDS:
        raise UserError(f"--board {board}: one of {', '.join(BOARDS)} or none")
    spec = BOARDS[board]
    f = design.fmt
    if design.n_in != bundle.n_inputs:
        raise UserError(f"the board top: the core takes {design.n_in} inputs, the bundle {bundle.n_inputs}")
    if not bundle.is_classifier and design.n_out != 1:
        raise UnsupportedShape(f"the board top prints one regression output, this network has {design.n_out}")
    if bundle.is_classifier:
        _check_class_names(bundle.classes)
        if len(bundle.classes) != design.n_out:
            raise UserError(f"{len(bundle.classes)} class names for {design.n_out} outputs")
    bs = BoardScaler.build(bundle, f)
    if bs.ne > 64:
        raise UserError(f"scaler table: {bs.ne} decimal exponents (the board top handles 64)")
    divr, divf, divq, filt = ice40_pll(spec["osc_mhz"], clock_mhz)
    cpb = int(round(clock_mhz * 1e6 / baud))
    if cpb < 4:
        raise UserError(f"--baud {baud}: too fast for a {clock_mhz} MHz clock")
    msgs = board_messages(design, bs, bundle.values_per_step if bundle.layout == "window" else None)
    rom, offs = [], {}
    for name, text in msgs.items():
        offs[name] = len(rom)
        rom += [ord(c) for c in text] + [0]
    msg_depth = 1 << _clog2(len(rom))
    kwords = 1 << _clog2(math.ceil(bs.AW / 16))  # a power of two (address = shift)
    krom = []
    for j in range(bs.n_feat):
        for kv in bs.K[j]:
            krom += [(kv >> (16 * (kwords - 1 - w))) & 0xFFFF for w in range(kwords)]
    k_depth = 1 << _clog2(len(krom))
    sc_codes = selfcheck_codes(design)
    sc_out = design.net.forward(np.array(sc_codes, dtype=np.int64).reshape(1, design.net.n_steps, -1))
    sc_expect, sc_argmax = int(sc_out[0, 0]), int(design.net.argmax(sc_out)[0])
    aw = bs.AW
    ctab = 0
    for j, c in enumerate(bs.C):
        ctab |= (c & ((1 << aw) - 1)) << (j * aw)
    ksat = 0
    for j in range(bs.n_feat):
        for e, flag in enumerate(bs.ksat[j]):
            ksat |= int(flag) << (j * bs.ne + e)
    codes = 0
    for i, c in enumerate(sc_codes):
        codes |= (c & ((1 << f.width) - 1)) << (i * f.width)
    head = _header_lines(design, f"tinylstm_board_pkg: {board} board top ({spec['top']}), {clock_mhz} MHz core clock, "
                                 f"{baud} baud")
    params = [("CLK_MHZ", clock_mhz, "core clock (MHz): the us= counter's prescaler"),
              ("CLKS_PER_BIT", cpb, f"UART bit time in core clocks ({baud} baud)"),
              ("PLL_DIVR", divr, f"SB_PLL40 from the {spec['osc_mhz']} MHz oscillator"), ("PLL_DIVF", divf, ""),
              ("PLL_DIVQ", divq, ""), ("PLL_FILTER", filt, ""),
              ("NRAW", bs.n_feat, "scaler features (value i of a request is feature i mod NRAW)"),
              ("NVAL", bs.n_vals, "raw input values per request (steps x values per step)"),
              ("IS_CLS", int(bool(bs.classes)), "1: classifier (reply the class name of the core's argmax)"),
              ("MAX_LINE", bs.max_line, "longest request line (characters)"),
              ("LW", (bs.max_line + 1).bit_length(), "line length counter bits"),
              ("CNTW", (bs.max_line + 1).bit_length(), "field counter bits (saturating)"),
              ("NE", bs.ne, "decimal exponents in the K table"),
              ("EMIN", bs.emin, "smallest decimal exponent of the K table (smaller: the value reads as 0)"),
              ("G", bs.G, "guard bits of the scaler"), ("AW", aw, "scaler accumulator bits"),
              ("KWORDS", kwords, "16-bit words per K entry (most significant first)"),
              ("KROM_DEPTH", k_depth, "K table words"), ("MSG_DEPTH", msg_depth, "message ROM bytes"),
              ("YW", bs.YW, "output conversion bits"), ("YS", bs.YS, "output conversion shift"),
              ("YD", bs.YD, "decimals printed")]
    params += [(f"M_{k}", v, repr(msgs[k])) for k, v in offs.items()]
    lines = [f"// {h}" for h in head] + ["`timescale 1ns/1ps", "package tinylstm_board_pkg;"]
    lines += [f"    localparam int {k} = {v};" + (f"  // {d}" if d else "") for k, v, d in params]
    hx = cgen.sv_hex
    cls_off = 0
    for k in range(design.n_out):
        cls_off |= offs.get(f"CLS{k}", 0) << (16 * k)
    oi_w = _clog2(design.n_out)
    lines += [f"    localparam logic [{bs.n_feat * aw - 1}:0] CTAB = {hx(bs.n_feat * aw)(ctab)};"
              "  // C[j], AW bits each",
              f"    localparam logic [{bs.n_feat * bs.ne - 1}:0] KSAT = {hx(bs.n_feat * bs.ne)(ksat)};  // K saturates",
              f"    localparam logic [{design.n_out * 16 - 1}:0] CLS_OFF = {hx(design.n_out * 16)(cls_off)};"
              "  // message ROM offset of class name k at [16k +: 16] (0: no class names)",
              f"    localparam logic [{bs.YW - 1}:0] YA = {hx(bs.YW)(bs.YA)};",
              f"    localparam logic [{bs.YW - 1}:0] YB = {hx(bs.YW)(bs.YB & ((1 << bs.YW) - 1))};",
              f"    localparam logic [{design.n_in * f.width - 1}:0] SC_CODES = {hx(design.n_in * f.width)(codes)};"
              f"  // self-check input codes {sc_codes}",
              f"    localparam logic [{f.width - 1}:0] SC_EXPECT = {hx(f.width)(sc_expect & ((1 << f.width) - 1))};"
              f"  // golden output code {sc_expect}",
              f"    localparam logic [{oi_w - 1}:0] SC_ARGMAX = {oi_w}'d{sc_argmax};  // golden argmax",
              "endpackage"]
    out = {"tinylstm_board_pkg.sv": "\n".join(lines) + "\n"}
    kh = [f"// {h}" for h in _header_lines(design, "board_k.memh: scaler K table, K[j][e - EMIN] as KWORDS words")]
    out["board_k.memh"] = "\n".join(kh + [cgen.memh_word(16)(v) for v in krom + [0] * (k_depth - len(krom))]) + "\n"
    mh = [f"// {h}" for h in _header_lines(design, "board_msg.memh: reply strings, zero-terminated")]
    out["board_msg.memh"] = "\n".join(mh + [cgen.memh_word(8)(v) for v in rom + [0] * (msg_depth - len(rom))]) + "\n"
    files = {k: v.encode() for k, v in out.items()}
    files[spec["pcf"]] = (HDL_DIR / spec["pcf"]).read_bytes()
    for name in BOARD_RTL:
        files[f"rtl/{name}"] = (HDL_DIR / name).read_bytes()
    return files


def board_manifest(board: str, clock_mhz: int, baud: int) -> dict:
    spec = BOARDS[board]
    return {"name": board, "part": spec["part"], "top": spec["top"], "pcf": spec["pcf"], "clock_mhz": clock_mhz,
            "baud": baud, "osc_mhz": spec["osc_mhz"],
            "sources": ["tinylstm_net_pkg.sv", "tinylstm_board_pkg.sv", "rtl/tl_act_lut.sv", "rtl/tl_core.sv",
                        *[f"rtl/{n}" for n in BOARD_RTL]]}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def design_files(design: Design, bundle: Bundle, board: str = "none", clock_mhz: int = 30,
                 baud: int = 115200) -> dict[str, bytes]:
    """Every file of the export ({relative path: bytes}); nothing is written."""
    net, f = design.net, design.fmt
    text: dict[str, str] = {}
    what = (f"weights.memh: {len(design.wwords)} slots x {design.lanes} lanes x {f.width} bits, lane 0 in the LSBs; "
            "each round: bias slot, then one slot per operand")
    text["weights.memh"] = _memh(design.wwords, f.width, _header_lines(design, what))
    for lut in (net.sig, net.tanh):
        head = _header_lines(design, f"{lut.kind}.memh: f(k * 2^-{lut.lut_frac}) in {f.name}, k = 0..{lut.depth - 1} "
                                     f"({lut.addr_bits} address bits); index (|x| + half) >> {lut.shift}; |x| >= "
                                     f"{lut.in_range:g} saturates to 1.0; negative x by symmetry")
        text[f"{lut.kind}.memh"] = lut.memh("\n".join(head))
    text["tinylstm_net_pkg.sv"] = package_text(design)
    files = {k: v.encode() for k, v in text.items()}
    if not HDL_DIR.is_dir():
        raise UserError(f"{HDL_DIR}: RTL sources not found (package data missing from this install)")
    for name in RTL_FILES:
        files[f"rtl/{name}"] = (HDL_DIR / name).read_bytes()
    files["regmap.md"] = regmap_text(design).encode()
    if board != "none":
        files.update(board_files(design, bundle, board, clock_mhz, baud))
    sc = bundle.scaler
    manifest = {
        "generator": "tinylstm export fpga",
        "model": design.provenance,
        "format": {"name": f.name, "width": f.width, "frac_bits": f.frac_bits, "rounding": "nearest, ties up "
                   "(internal requantisation); weights/inputs: nearest, ties to even", "saturation": True,
                   "acc_width": net.acc_bits},
        "lanes": design.lanes,
        "luts": {lut.kind: {"file": f"{lut.kind}.memh", "depth": lut.depth, "addr_bits": lut.addr_bits,
                            "input_step": 2.0 ** -lut.lut_frac, "index_shift": lut.shift,
                            "saturates_at_abs": lut.in_range, "symmetry": "odd" if lut.kind == "tanh" else
                            "sigmoid(-x) = 1 - sigmoid(x)"} for lut in (net.sig, net.tanh)},
        "scaler": {"where": "host (boundary)", "x_mean": [float(v) for v in sc.x_mean],
                   "x_scale": [float(v) for v in sc.x_scale], "y_mean": float(sc.y_mean),
                   "y_scale": float(sc.y_scale), "features": bundle.features, "target": bundle.target},
        "inputs": {"count": design.n_in, "steps": net.n_steps, "per_step": net.lstm[0].inputs,
                   "order": "step-major: input i = step i // per_step, value i % per_step"},
        "outputs": design.n_out,
        "task": bundle.task,
        "classes": list(design.classes),
        "argmax": {"register": f"0x{REGS['ARGMAX'][0]:04X}", "port": "out_argmax",
                   "ties": "first (lowest index) of equal maxima"},
        "macs": net.macs(), "macs_issued": design.macs_issued, "issue_cycles": design.issue_cycles,
        "memories": {"weight_slots": len(design.wwords),
                     "vector_words": design.vm_depth, "cell_words": design.c_depth},
        "passes": [{"label": p.label, "nrows": p.nrows, "nrounds": p.nrounds,
                    **{n.lower(): v for n, v in zip(FIELDS, p.values())}}
                   for p in design.passes],
        "top": {"axi4_lite": "tl_axil", "core": "tl_core", "batch_testbench": "tl_tb_batch"},
        "board": board_manifest(board, clock_mhz, baud) if board != "none" else None,
        "simulate": "iverilog -g2012 -o tb.vvp -s tl_tb_batch tinylstm_net_pkg.sv rtl/tl_act_lut.sv "
                    "rtl/tl_core.sv rtl/tl_tb_batch.sv && vvp tb.vvp +rows=N +inputs=in.memh +out=out.txt",
        "files": {name: _sha(data) for name, data in sorted(files.items())},
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    return files


@dataclass(frozen=True)
class FpgaOptions:
    format: str = option(DEFAULT_FORMAT, "signed fixed-point format Qm.n")
    lanes: int = option(DEFAULT_LANES, "parallel MAC lanes", type=int)
    lut_frac: int | None = option(None, "fractional bits of the activation-table input step (default: min(n, 8))",
                                  type=int)
    board: str = option("icebreaker", "board top with a UART speaking the firmware's line protocol (none: core "
                        "only)", choices=("icebreaker", "none"))
    clock_mhz: int = option(30, "core clock of the board top (MHz, from the board's PLL)", type=int)
    baud: int = option(115200, "UART baud rate of the board top", type=int)


def bundle_sha256(model: ModelDir) -> str:
    path = model.path / "bundle.npz"
    return _sha(path.read_bytes()) if path.is_file() else "?"


def design_for(model: ModelDir, opts: FpgaOptions) -> Design:
    return build_design(model.bundle, opts.format, opts.lanes, opts.lut_frac, bundle_sha256(model))


@register("fpga", "fixed-point SystemVerilog core: memh weights, LUTs, package, register map (tinylstm/hdl/)",
          options=FpgaOptions, default_subdir="fpga")
def generate(model: ModelDir, opts: FpgaOptions) -> dict[str, bytes]:
    return design_files(design_for(model, opts), model.bundle, opts.board, opts.clock_mhz, opts.baud)
