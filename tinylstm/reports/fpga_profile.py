"""FPGA section of ``tinylstm profile``: the default core's MACs and cycles per inference, and the placed figures of a
``tinylstm fpga build`` of it (logic cells, DSP, block RAM, Fmax) with inferences per second = Fmax ÷ cycles.

Cycles come from the schedule (MAC cycles, bias slots included) and, when Icarus Verilog is installed, from a
simulation of the exported RTL on a few rows (data-independent; checked 0 LSB against the golden model here).
The placed figures are read from ``report.json`` of a build directory (place and route takes minutes, so the
profile does not run it; ``tinylstm fpga build EXPORT --part up5k-sg48`` writes one).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .. import hdlsim
from ..export.fpga import FpgaOptions, design_for
from ..modeldir import ModelDir

SIM_ROWS = 4


def simulated_cycles(model: ModelDir, opts: FpgaOptions, X: np.ndarray) -> tuple[int, bool] | None:
    """(cycles per inference, RTL output equal to the golden model) from Icarus on ``X``'s rows, or None."""
    if not hdlsim.tools_available():
        return None
    cycles, lsb, _ = hdlsim.check_design(design_for(model, opts), model.bundle, X, SIM_ROWS)
    return cycles, lsb == 0


def read_build(build_dir: Path | None) -> dict | None:
    """The ``report.json`` of a ``tinylstm fpga build`` directory, or None if there is none."""
    if build_dir is None or not (Path(build_dir) / "report.json").exists():
        return None
    return json.loads((Path(build_dir) / "report.json").read_text())


def options_of_build(build_dir: Path | None) -> FpgaOptions:
    """The format and lanes of the export a build directory was made from (its parent's ``manifest.json``; a
    ``tinylstm fpga build`` writes into EXPORT/build_<part>_<top> by default), else the defaults."""
    man = Path(build_dir).parent / "manifest.json" if build_dir is not None else None
    if man is None or not man.exists():
        return FpgaOptions()
    m = json.loads(man.read_text())
    return FpgaOptions(format=m["format"]["name"], lanes=int(m["lanes"]))


def section(model: ModelDir, X: np.ndarray, build_dir: Path | None, opts: FpgaOptions | None = None) -> str:
    """Markdown: the core's schedule and simulated cycles, and the placed figures of ``build_dir`` if present."""
    opts = options_of_build(build_dir) if opts is None else opts
    design = design_for(model, opts)
    sim = simulated_cycles(model, opts, X)
    lines = ["### FPGA core (`tinylstm export fpga`, fixed point)", "",
             f"{design.fmt.name}, {design.lanes} MAC lanes: {design.net.macs():,} MACs per inference "
             f"({design.macs_issued:,} issued), {design.issue_cycles:,} MAC cycles in the schedule; "
             + (f"**{sim[0]:,} cycles per inference** simulated in Icarus ({SIM_ROWS} test rows, "
                f"{'0 LSB vs the golden model' if sim[1] else 'MISMATCH vs the golden model'})."
                if sim else "simulated cycles: Icarus Verilog not installed."), ""]
    rep = read_build(build_dir)
    if rep is None:
        lines += [f"Placed figures: no `report.json` in {build_dir} (run `tinylstm fpga build EXPORT --part "
                  "up5k-sg48 --out DIR` and pass `--fpga-build DIR`).", ""]
        return "\n".join(lines)
    util = rep.get("utilisation", {})
    fmax = min((v["achieved"] for v in rep.get("fmax_mhz", {}).values()), default=None)
    cycles = sim[0] if sim else None

    def used(k: str) -> str:
        return f"{util[k][0]:,} / {util[k][1]:,}" if k in util else "–"

    ips = f"{fmax * 1e6 / cycles:,.0f}" if (fmax and cycles) else "–"
    lines += ["| part | top | logic cells | LUT4 (yosys) | FF | DSP | block RAM | Fmax (MHz, seed "
              f"{rep.get('seed', '?')}) | cycles | inferences/s |", "|---|---|---|---|---|---|---|---|---|---|",
              f"| {rep.get('device', '?')} | `{rep.get('top', '?')}` | {used('LC')} | "
              f"{rep.get('resources', {}).get('LUT4', '–'):,} | {rep.get('resources', {}).get('FF', '–'):,} | "
              f"{used('DSP')} | {used('BRAM')} | {f'{fmax:.1f}' if fmax else '–'} | "
              f"{f'{cycles:,}' if cycles else '–'} | {ips} |", "",
              f"From `{Path(build_dir) / 'report.json'}` ({'fits' if rep.get('fits') else 'DOES NOT FIT'}; "
              "inferences/s = Fmax ÷ simulated cycles).", ""]
    return "\n".join(lines)
