"""Report section of ``tinylstm export fpga``: format, lanes, passes, table sizes, MACs and MAC cycles, and — when
the model's CSV is found — the fixed-point golden model of the exported design (the RTL equals it bit for bit:
``tests/test_fpga_rtl.py``; simulating the test rows in Icarus costs minutes, so ``run`` does not) against the
float golden model on the test rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import reference
from ..export.fpga import FpgaOptions, design_for
from ..modeldir import ModelDir
from .c import rows_or_none


def golden_line(model: ModelDir, design) -> str:
    """One line: the design's fixed-point golden model vs the float golden model on the test rows ("" without
    the CSV)."""
    rows = rows_or_none(model)
    if rows is None:
        return ""
    X, y = rows
    bundle = model.bundle
    fixed = np.asarray(design.net.predict(bundle, X), np.float64)
    fl = reference.predict(bundle, X).reshape(fixed.shape)
    gap = float(np.max(np.abs(fixed - fl)))
    if bundle.is_classifier:
        return (f"Fixed-point golden model ({design.fmt.name}) on the {len(y)} test rows: accuracy "
                f"{100 * np.mean(fixed.argmax(1) == y):.2f} % (float {100 * np.mean(fl.argmax(1) == y):.2f} %), "
                f"classes agree on {100 * np.mean(fixed.argmax(1) == fl.argmax(1)):.2f} %; max |Δ| of the "
                f"probabilities {gap:.2e}.")
    unit = bundle.units.get(bundle.target, "")
    mae, mae_f = float(np.mean(np.abs(fixed - y))), float(np.mean(np.abs(fl - y)))
    return (f"Fixed-point golden model ({design.fmt.name}) on the {len(y)} test rows: MAE {mae:.4f} {unit} (float "
            f"golden {mae_f:.4f}, Δ {mae - mae_f:+.4f}); max |Δ| vs float {gap:.4f} {unit}.")


def section(model: ModelDir, opts: FpgaOptions | None, out_dir: Path) -> str:
    opts = FpgaOptions() if opts is None else opts
    design = design_for(model, opts)
    net, f = design.net, design.fmt
    ratio = design.issue_cycles / (net.macs() / design.lanes)
    return "\n".join([
        "## FPGA export", "",
        f"{f.name} fixed point ({f.width}-bit words, {net.acc_bits}-bit accumulators), "
        f"{design.lanes} MAC lanes, {len(design.passes)} passes; sigmoid table {net.sig.depth} entries, tanh "
        f"{net.tanh.depth}; {net.macs()} MACs per inference ({design.macs_issued} issued: h(t=0) = 0 products are "
        f"skipped), {design.issue_cycles} MAC cycles (bias slots included; {ratio:.3f} × MACs/lanes) plus "
        "pipeline/interlock cycles. "
        f"Inputs: {design.n_in} codes per inference ({net.n_steps} steps × {net.lstm[0].inputs}, step-major); "
        + (f"outputs: the {design.n_out} logits of a classifier ({', '.join(design.classes)}) and their argmax "
           "(register ARGMAX; softmax on the host). " if design.classes else f"outputs: {design.n_out}. ")
        + "Simulate: see `manifest.json` → `simulate`; register map: `regmap.md`."
        + (f" Board top `tl_icebreaker` (iCEBreaker, {opts.clock_mhz} MHz core clock from the PLL, UART "
           f"{opts.baud} baud, the firmware's line protocol: `tinylstm monitor --port`); synthesise, place and "
           "route and write the bitstream with `tinylstm fpga build <this directory> --part up5k-sg48`."
           if opts.board != "none" else ""), "", golden_line(model, design), ""])
