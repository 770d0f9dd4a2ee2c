"""Report section of ``tinylstm export fpga``: format, lanes, passes, table sizes, MACs and MAC cycles."""

from __future__ import annotations

from pathlib import Path

from ..export.fpga import FpgaOptions, design_for
from ..modeldir import ModelDir


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
           if opts.board != "none" else ""), ""])
