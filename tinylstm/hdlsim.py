"""Simulating the exported FPGA core in Icarus Verilog: one inference per row, all rows in one simulation.

:func:`write_design` publishes an export (:func:`tinylstm.export.fpga.design_files`) into a directory and
:func:`simulate_batch` runs integer input codes through it with the batch testbench ``tinylstm/hdl/tl_tb_batch.sv``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from . import atomic
from .bundle import Bundle
from .errors import UserError
from .export.fpga import Design, design_files

SIM_SOURCES = ("tinylstm_net_pkg.sv", "rtl/tl_act_lut.sv", "rtl/tl_core.sv", "rtl/tl_tb_batch.sv")
MAX_SIM_ROWS = 65536  # tl_tb_batch's input buffer


def write_design(design: Design, bundle: Bundle, out_dir: Path) -> list[Path]:
    """Publish the export files of ``design`` into ``out_dir`` (atomically)."""
    return atomic.publish_files(Path(out_dir), design_files(design, bundle))


def tools_available() -> bool:
    return shutil.which("iverilog") is not None and shutil.which("vvp") is not None


def simulate_batch(export_dir: Path, xq: np.ndarray, n_out: int,
                   timeout: float = 1800) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run integer input codes (rows, steps, inputs) through the exported core in Icarus Verilog, one inference
    per row in ONE simulation (per 65,536 rows); returns (output codes (rows, n_out), cycles per inference, the
    core's argmax output per row)."""
    if len(xq) > MAX_SIM_ROWS:
        parts = [simulate_batch(export_dir, xq[i:i + MAX_SIM_ROWS], n_out, timeout)
                 for i in range(0, len(xq), MAX_SIM_ROWS)]
        return tuple(np.concatenate([p[k] for p in parts]) for k in range(3))
    export_dir = Path(export_dir)
    if not tools_available():
        raise UserError("the rtl backend needs Icarus Verilog (iverilog, vvp): apt-get install iverilog")
    xq = np.asarray(xq, dtype=np.int64).reshape(len(xq), -1)
    width = json.loads((export_dir / "manifest.json").read_text())["format"]["width"]
    with tempfile.TemporaryDirectory(prefix="tinylstm-rtl-") as tmp:
        tmp = Path(tmp)
        (tmp / "in.memh").write_text("".join(format(int(v) & ((1 << width) - 1), "x") + "\n" for v in xq.reshape(-1)))
        build = subprocess.run(["iverilog", "-g2012", "-o", str(tmp / "tb.vvp"), "-s", "tl_tb_batch",
                                *[str(export_dir / s) for s in SIM_SOURCES]], capture_output=True, text=True)
        if build.returncode:
            raise UserError(f"{export_dir}: iverilog failed: {build.stderr.strip().splitlines()[-1:]}")
        run = subprocess.run(["vvp", "-n", str(tmp / "tb.vvp"), f"+rows={len(xq)}", f"+inputs={tmp / 'in.memh'}",
                              f"+out={tmp / 'out.txt'}"], cwd=export_dir, capture_output=True, text=True,
                             timeout=timeout)
        if run.returncode or not (tmp / "out.txt").exists():
            raise UserError(f"{export_dir}: simulation failed: {(run.stderr or run.stdout).strip()[-300:]}")
        res = np.loadtxt(tmp / "out.txt", dtype=np.int64, ndmin=2)
    if res.shape != (len(xq), n_out + 3):
        raise UserError(f"{export_dir}: simulation returned {res.shape[0]} rows, expected {len(xq)}")
    if res[:, -1].any():
        raise UserError(f"{export_dir}: the core flagged an internal overrun")
    return res[:, :n_out], res[:, n_out + 1], res[:, n_out]


def check_design(design: Design, bundle: Bundle, X_raw: np.ndarray, rows: int,
                 export_dir: Path | None = None) -> tuple[int, int, int]:
    """The first ``rows`` raw rows of ``X_raw`` through the RTL of ``design`` in Icarus and through its fixed-point
    golden model: (cycles per inference (data-independent: the first row's), the largest |RTL − golden| in LSB,
    rows simulated). ``export_dir``: an export of ``design`` already written there (e.g. with board files);
    without it the core is written into a temporary directory."""
    xq = design.net.quantize_inputs(bundle, X_raw[:rows])
    if export_dir is None:
        with tempfile.TemporaryDirectory(prefix="tinylstm-rtl-check-") as tmp:
            write_design(design, bundle, Path(tmp))
            got, cycles, _ = simulate_batch(Path(tmp), xq, design.n_out)
    else:
        got, cycles, _ = simulate_batch(Path(export_dir), xq, design.n_out)
    lsb = int(np.max(np.abs(np.asarray(got, np.int64) - np.asarray(design.net.forward(xq), np.int64))))
    return int(cycles[0]), lsb, len(xq)
