"""The FPGA section of `tinylstm profile`: simulated cycles of the exported RTL and the placed figures of a build
report, with inferences/s = Fmax ÷ cycles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.conftest import require_tool
from tinylstm import hdlsim
from tinylstm.export.fpga import FpgaOptions, design_for
from tinylstm.modeldir import ModelDir
from tinylstm.reports import fpga_profile

ROOT = Path(__file__).resolve().parents[1]

# a build report as `tinylstm fpga build` writes it (fields the section reads), with figures of our own
REPORT = {"device": "iCE40 UP5K-SG48", "top": "tl_icebreaker", "seed": 1, "fits": True, "placed": True,
          "fmax_mhz": {"clk": {"achieved": 31.25, "constraint": 30.0}},
          "resources": {"LUT4": 3174, "FF": 1864, "DSP": 7, "BRAM": 27},
          "utilisation": {"LC": [4032, 5280], "DSP": [7, 8], "BRAM": [27, 30]}}


def test_profile_fpga_section_reads_the_build_and_simulates_the_cycles(tmp_path):
    require_tool("iverilog")
    model = ModelDir.load(ROOT / "models/reference")
    X = np.random.default_rng(0).normal(0, 1, (4, model.bundle.n_steps)) * 20 + 50
    build = tmp_path / "fpga" / "build_up5k-sg48_tl_icebreaker"
    build.mkdir(parents=True)
    (build / "report.json").write_text(json.dumps(REPORT))
    (tmp_path / "fpga" / "manifest.json").write_text(json.dumps({"format": {"name": "Q8.8"}, "lanes": 2}))
    # the cycles, independently: the same RTL (Q8.8, 2 lanes, as the manifest says) simulated here
    design = design_for(model, FpgaOptions(format="Q8.8", lanes=2))
    hdlsim.write_design(design, model.bundle, tmp_path / "x")
    _, cycles, _ = hdlsim.simulate_batch(tmp_path / "x", design.net.quantize_inputs(model.bundle, X), design.n_out)
    c = int(cycles[0])
    text = fpga_profile.section(model, X, build)
    assert "Q8.8, 2 MAC lanes" in text and f"**{c:,} cycles per inference**" in text and "0 LSB" in text
    row = next(line for line in text.splitlines() if line.startswith("| iCE40 UP5K"))
    assert "| 4,032 / 5,280 |" in row and "| 7 / 8 |" in row and "| 27 / 30 |" in row and "| 31.2 |" in row
    assert row.rstrip(" |").endswith(f"{31.25e6 / c:,.0f}")


def test_profile_fpga_section_without_a_build_says_how_to_make_one(tmp_path):
    model = ModelDir.load(ROOT / "models/reference")
    text = fpga_profile.section(model, np.zeros((1, model.bundle.n_steps)), tmp_path / "none")
    assert "no `report.json`" in text and "tinylstm fpga build" in text
