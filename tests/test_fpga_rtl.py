"""The FPGA export and the SystemVerilog core: files, lint gate, and bit-exactness (0 LSB) against the golden
model in Icarus Verilog — batch simulations of the whole network, random saturating networks, and cocotb 2.x
testbenches for the activation tables (exhaustive) and the AXI4-Lite wrapper."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import require_tool, run_cli
from tests.hdl.nets import HERE, cocotb_run, random_bundle, random_codes
from tinylstm import fixedpoint as fx
from tinylstm import hdlsim
from tinylstm.export import fpga

N_ROWS = 60  # test-set rows simulated per network-level test (>= 50)
LINT_SOURCES = ("tinylstm_net_pkg.sv", "rtl/tl_act_lut.sv", "rtl/tl_core.sv", "rtl/tl_axil.sv")


@pytest.fixture(scope="module")
def export_dir(trained, tmp_path_factory) -> Path:
    """The trained model exported with the CLI at its defaults (Q8.8, 4 lanes)."""
    out = tmp_path_factory.mktemp("fpga") / "q88"
    res = run_cli("export", "fpga", "--model", str(trained.model_dir), "--out", str(out))
    assert res.returncode == 0, res.stderr
    return out


def _decode_memh(path: Path, lanes: int, width: int) -> np.ndarray:
    words = [int(l, 16) for l in path.read_text().splitlines() if l and not l.startswith("//")]
    mask = (1 << width) - 1
    codes = [[(w >> (p * width)) & mask for p in range(lanes)] for w in words]
    codes = np.array(codes, dtype=np.int64)
    return np.where(codes >= 1 << (width - 1), codes - (1 << width), codes)


def test_export_files_decode_to_the_quantised_bundle(trained, export_dir):
    """Reading weights.memh back through the manifest's schedule (per round: bias slot, then one slot per operand;
    t = 0 passes skip the recurrent slots) gives exactly the quantised kernels and biases."""
    man = json.loads((export_dir / "manifest.json").read_text())
    fmt = fx.QFormat.parse(man["format"]["name"])
    P, b = man["lanes"], trained.bundle
    W = _decode_memh(export_dir / "weights.memh", P, fmt.width)
    seen = set()
    for p in man["passes"]:
        K = p["a_len"] + p["b_len"]
        rows = np.zeros((p["nrows"], K), dtype=np.int64)
        bias = np.zeros(p["nrows"], dtype=np.int64)
        for r in range(p["nrows"]):
            base = p["wbase"] + (r // P) * p["wstride"]
            bias[r] = W[base, r % P]
            ops = list(range(base + 1, base + 1 + p["a_len"])) + \
                list(range(base + 1 + p["a_len"] + p["wskip"], base + 1 + p["a_len"] + p["wskip"] + p["b_len"]))
            rows[r] = W[ops, r % P]
        if p["label"].startswith("lstm"):
            li, t = (int(v) for v in re.findall(r"\d+", p["label"]))
            layer = b.lstm[li]
            H = layer.units
            assert p["wskip"] == (H if t == 0 else 0)
            cols = [g * H + j for j in range(H) for g in range(4)]  # unit-major rows
            want = np.concatenate([layer.U, layer.W], axis=0) if t else layer.W
            assert np.array_equal(rows, fmt.quantize(want[:, cols].T)), p["label"]
            assert np.array_equal(bias, fmt.quantize(layer.b[cols]))
        else:
            d = b.dense[int(p["label"][5:])]
            assert np.array_equal(rows, fmt.quantize(d.W.T)) and np.array_equal(bias, fmt.quantize(d.b))
        seen.add(p["label"])
    assert len(seen) == len(b.lstm) * b.n_steps + len(b.dense)
    # one copy of every parameter: the memory holds exactly the bundle's parameters plus idle-lane padding
    n_params = sum(layer.W.size + layer.U.size + layer.b.size for layer in b.lstm) + \
        sum(d.W.size + d.b.size for d in b.dense)
    assert len(W) * P >= n_params and (P > 1 or len(W) == n_params)
    # every file listed with its hash; LUT files are the golden tables
    for name, sha in man["files"].items():
        assert hashlib.sha256((export_dir / name).read_bytes()).hexdigest() == sha
    net = fx.FixedNet.from_bundle(b, fmt)
    for lut in (net.sig, net.tanh):
        got = _decode_memh(export_dir / f"{lut.kind}.memh", 1, fmt.width)[:, 0]
        assert np.array_equal(got, lut.table)


def test_export_is_deterministic_and_dated_nowhere(trained, export_dir, tmp_path):
    again = tmp_path / "again"
    res = run_cli("export", "fpga", "--model", str(trained.model_dir), "--out", str(again))
    assert res.returncode == 0, res.stderr
    files = sorted(p.relative_to(export_dir) for p in export_dir.rglob("*") if p.is_file()
                   and not p.name.startswith(("build_", "cocotb_")) and p.suffix in (".memh", ".sv", ".md", ".json"))
    assert len(files) >= 10
    sha = trained.bundle.meta["data_sha256"]
    for rel in files:
        if rel.parts[0] == "rtl":
            continue
        text = (export_dir / rel).read_text()
        assert text == (again / rel).read_text(), rel
        assert not re.search(r"20\d\d-\d\d-\d\d", text), rel
        if rel.suffix in (".memh", ".sv"):
            assert sha in text and "seed" in text, rel
    assert "0x8000" in (export_dir / "regmap.md").read_text()


def test_export_rejects_bad_options(trained, tmp_path):
    for opts in (["--format", "Q9"], ["--lanes", "0"], ["--format", "Q1.15"]):
        res = run_cli("export", "fpga", "--model", str(trained.model_dir), "--out", str(tmp_path / "x"), *opts)
        assert res.returncode == 2 and "error" in res.stderr, (opts, res.stderr)


@pytest.mark.parametrize("lanes", [1, 4, 12])
def test_verilator_lint_clean(trained, tmp_path, lanes):
    """The synthesizable RTL (AXI wrapper, core, tables) passes `verilator --lint-only -Wall` with no warning."""
    require_tool("verilator")
    b = trained.bundle
    hdlsim.write_design(fpga.build_design(b, "Q8.8", lanes), b, tmp_path)
    res = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "tl_axil", *LINT_SOURCES],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr[-2000:]


def test_verilator_lint_clean_classifier(digits, tmp_path):
    """The core with its argmax (10 outputs, 8 inputs per step) behind tl_axil lints clean too."""
    require_tool("verilator")
    md = digits[0]
    hdlsim.write_design(fpga.design_for(md, fpga.FpgaOptions()), md.bundle, tmp_path)
    res = subprocess.run(["verilator", "--lint-only", "-Wall", "--top-module", "tl_axil", *LINT_SOURCES],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0 and "%Warning" not in res.stderr, res.stderr[-2000:]


@pytest.mark.parametrize("fmt,lanes", [("Q8.8", 1), ("Q8.8", 4), ("Q8.8", 12), ("Q4.12", 12)])
def test_whole_network_rtl_equals_golden(trained, tmp_path, fmt, lanes):
    """The trained network on N_ROWS test-set rows, one Icarus simulation: output codes differ by 0 LSB."""
    require_tool("iverilog", "vvp")
    b = trained.bundle
    design = fpga.build_design(b, fmt, lanes)
    hdlsim.write_design(design, b, tmp_path)
    xq = design.net.quantize_inputs(b, trained.X_test[:N_ROWS])
    got, cycles, _ = hdlsim.simulate_batch(tmp_path, xq, design.n_out)
    want = design.net.forward(xq)
    assert got.shape == want.shape == (N_ROWS, 1)
    assert np.array_equal(got, want), f"{int((got != want).sum())} rows differ"
    assert len(set(cycles.tolist())) == 1  # data-independent timing


@pytest.mark.parametrize("case", [
    dict(seed=3, fmt="Q8.8", lanes=3, kw={}),                                              # 2 LSTM + 2 dense
    dict(seed=4, fmt="Q2.10", lanes=8, kw={}),                                             # cell state saturates
    dict(seed=5, fmt="Q4.12", lanes=5, kw=dict(lstm_units=(6,), dense=((3, "linear"),))),  # one layer
    dict(seed=6, fmt="Q6.10", lanes=1, kw=dict(lstm_units=(4, 4, 3), inputs=3, steps=5)),  # three layers
    dict(seed=7, fmt="Q10.14", lanes=64, kw=dict(lstm_units=(16,))),                       # 24-bit, 64 lanes
    dict(seed=8, fmt="Q3.5", lanes=2, kw={}),                                              # 8-bit words
])
def test_random_networks_with_saturation_rtl_equals_golden(tmp_path, case):
    """Random networks and random input codes including qmin/qmax (gates, dense values and — in Q2.10 — the
    cell state saturate): the core equals the golden model bit for bit."""
    require_tool("iverilog", "vvp")
    b = random_bundle(case["seed"], **case["kw"])
    design = fpga.build_design(b, case["fmt"], case["lanes"])
    hdlsim.write_design(design, b, tmp_path)
    net = design.net
    xq = random_codes(net.fmt, 40, b.n_steps, b.values_per_step, seed=case["seed"])
    trace: dict = {}
    want = net.forward(xq, trace)
    zs = np.concatenate([v.ravel() for k, v in trace.items() if k.endswith("_z")])
    assert zs.max() == net.fmt.qmax and zs.min() == net.fmt.qmin  # corners really exercised
    got, _, argmax = hdlsim.simulate_batch(tmp_path, xq, design.n_out)
    assert np.array_equal(got, want), f"{int((got != want).any(axis=1).sum())} of {len(xq)} rows differ"
    assert np.array_equal(argmax, np.argmax(want, axis=1))  # the core's argmax register (0 for one output)


def _classifier(b, classes: int):
    """The random bundle as a classifier: its last layer a softmax over ``classes`` named outputs."""
    b.task = "classification"
    b.dense[-1].activation = "softmax"
    b.meta["classes"] = [f"k{i}" for i in range(classes)]
    return b


@pytest.mark.parametrize("case", [
    dict(seed=11, fmt="Q5.11", lanes=4, kw=dict(inputs=3, steps=6, dense=((6, "relu"), (7, "softmax")))),
    dict(seed=17, fmt="Q4.12", lanes=3, kw=dict(lstm_units=(6,), inputs=5, steps=3, dense=((4, "softmax"),))),
])
def test_random_classifiers_rtl_logits_and_argmax_equal_golden(tmp_path, case):
    """Random window classifiers (F inputs per step, K classes; saturating, so equal logits — ties — occur): the
    core's K logits equal the golden model's bit for bit, and its argmax register is numpy's argmax of those logits
    (the first of equal maxima)."""
    require_tool("iverilog", "vvp")
    kw = dict(case["kw"])
    K = kw["dense"][-1][0]
    kw["dense"] = tuple((u, "linear" if a == "softmax" else a) for u, a in kw["dense"])
    b = _classifier(random_bundle(case["seed"], **kw), K)
    design = fpga.build_design(b, case["fmt"], case["lanes"])
    assert design.n_in == b.n_steps * b.values_per_step and design.n_out == K
    hdlsim.write_design(design, b, tmp_path)
    net = design.net
    xq = random_codes(net.fmt, 40, b.n_steps, b.values_per_step, seed=case["seed"])
    want = net.forward(xq)
    got, _, argmax = hdlsim.simulate_batch(tmp_path, xq, K)
    assert np.array_equal(got, want), f"{int((got != want).any(axis=1).sum())} of {len(xq)} rows differ"
    first = np.array([next(k for k in range(K) if row[k] == row.max()) for row in want])  # first maximum
    assert np.array_equal(argmax, first)
    ties = (want == want.max(axis=1, keepdims=True)).sum(axis=1) > 1
    assert ties.any() and len(set(first.tolist())) >= 2, "the case should exercise ties and several classes"


@pytest.fixture(scope="module")
def w6f3k4():
    from tests.shapes import keras_outputs, raw_windows, window_model

    model, b = window_model(6, 3, 4)
    X = raw_windows(b, 48, seed=2)
    return b, X, keras_outputs(model, b, X)


def test_w6f3k4_classifier_rtl_equals_golden_and_keras(w6f3k4, tmp_path):
    """A W=6, F=3, K=4 window classifier (tests/shapes.py): the core on 48 windows equals the golden model (logits
    and argmax, 0 LSB); the golden probabilities (host softmax of the Q5.11 logits) are within 0.01 of Keras and
    pick Keras' class on every window."""
    require_tool("iverilog", "vvp")
    b, X, keras_p = w6f3k4
    design = fpga.build_design(b, fx.DEFAULT_FORMAT, fpga.DEFAULT_LANES)
    hdlsim.write_design(design, b, tmp_path)
    xq = design.net.quantize_inputs(b, X)
    assert xq.shape == (48, 6, 3)
    got, cycles, argmax = hdlsim.simulate_batch(tmp_path, xq, 4)
    want = design.net.forward(xq)
    assert np.array_equal(got, want) and np.array_equal(argmax, np.argmax(want, axis=1))
    p = design.net.outputs_to_target(b, got)
    assert p.shape == (48, 4) and np.allclose(p.sum(axis=1), 1.0)
    assert np.abs(p - keras_p).max() <= 0.01
    assert np.array_equal(argmax, keras_p.argmax(axis=1))
    assert len(set(cycles.tolist())) == 1


@pytest.fixture(scope="module")
def digits():
    from tests.conftest import ROOT
    from tinylstm.modeldir import ModelDir

    csv = ROOT / "data" / "digits.csv"
    if not csv.is_file():
        res = run_cli("data", "example", "digits")
        assert res.returncode == 0, res.stderr
    md = ModelDir.load(ROOT / "models" / "digits")
    X, y = md.rows("test", csv)
    return md, X, y.astype(int)


def test_digits_golden_accuracy_and_agreement_with_keras(digits):
    """models/digits (8 steps x 8 pixels, 10 classes) on all its test windows: the fixed-point golden model's
    class (argmax of its logits, what the core reports) is Keras' class on >= 99 % of the windows in the default
    Q5.11 and on every window in Q8.8; its accuracy is within 1 point of Keras'."""
    from tinylstm.train import load_keras_model

    md, X, y = digits
    b = md.bundle
    keras_p = b.outputs(np.asarray(load_keras_model(md.path)(b.sequences(X), training=False)))
    acc_k = (keras_p.argmax(axis=1) == y).mean()
    for fmt, need in (("Q5.11", 0.99), ("Q8.8", 1.0)):
        net = fx.FixedNet.from_bundle(b, fmt)
        cls = net.argmax(net.forward(net.quantize_inputs(b, X)))
        assert (cls == keras_p.argmax(axis=1)).mean() >= need, fmt
        assert abs((cls == y).mean() - acc_k) <= 0.01, fmt


def test_digits_rtl_equals_golden(digits, tmp_path):
    """models/digits exported at the defaults (Q5.11, 4 lanes): 24 test windows through the core in Icarus equal
    the golden model (10 logits and the argmax, 0 LSB); `predict --backend fixed` / `rtl` return the same (n, 10)
    probabilities."""
    require_tool("iverilog", "vvp")
    from tinylstm import backends

    md, X, y = digits
    b = md.bundle
    design = fpga.design_for(md, fpga.FpgaOptions())
    hdlsim.write_design(design, b, tmp_path)
    xq = design.net.quantize_inputs(b, X[:24])
    got, cycles, argmax = hdlsim.simulate_batch(tmp_path, xq, 10)
    want = design.net.forward(xq)
    assert np.array_equal(got, want) and np.array_equal(argmax, np.argmax(want, axis=1))
    assert len(set(argmax.tolist())) >= 5
    fixed = backends.run("fixed", md.path, X[:6])
    rtl = backends.run("rtl", md.path, X[:6])
    assert fixed.shape == (6, 10) and np.array_equal(fixed, rtl) and np.allclose(rtl.sum(axis=1), 1.0)
    assert np.array_equal(rtl.argmax(axis=1), argmax[:6])


def test_rtl_and_fixed_backends_agree_exactly(trained, tmp_path):
    """`tinylstm predict --backend rtl` (simulation) and `--backend fixed` (golden) give identical predictions,
    within 0.25 L/100km of the float model."""
    require_tool("iverilog", "vvp")
    from tinylstm import backends, reference

    X = trained.X_test[:8]
    fixed = backends.run("fixed", trained.model_dir, X)
    rtl = backends.run("rtl", trained.model_dir, X)
    assert np.array_equal(fixed, rtl)
    assert np.abs(fixed - reference.predict(trained.bundle, X)).max() <= 0.25


def test_cocotb_luts_exhaustive(export_dir):
    """cocotb: the sigmoid and tanh table modules on all 65,536 codes (default format) equal the golden tables."""
    require_tool("iverilog", "vvp")
    man = json.loads((export_dir / "manifest.json").read_text())
    fmt = fx.QFormat.parse(man["format"]["name"])
    net_luts = (fx.Lut.build("sigmoid", fmt), fx.Lut.build("tanh", fmt))
    q = np.arange(fmt.qmin, fmt.qmax + 1)
    exp = export_dir / "lut_expected.txt"
    exp.write_text("".join(f"{s} {t}\n" for s, t in zip(net_luts[0](q), net_luts[1](q))))
    cocotb_run([export_dir / "tinylstm_net_pkg.sv", export_dir / "rtl/tl_act_lut.sv", HERE / "tb_luts.sv"],
               "tb_luts", "cocotb_luts", export_dir, {"TL_EXPECTED": str(exp), "TL_W": str(fmt.width)})


def test_cocotb_axi4_lite(trained, export_dir):
    """cocotb on tl_axil: register access in every write ordering with back-pressure, error responses, N_ROWS
    test rows through the bus at 0 LSB, weights rewritten by address, busy rejection."""
    require_tool("iverilog", "vvp")
    b = trained.bundle
    man = json.loads((export_dir / "manifest.json").read_text())
    net = fx.FixedNet.from_bundle(b, man["format"]["name"])
    xq = net.quantize_inputs(b, trained.X_test[:N_ROWS])
    want = net.forward(xq)
    # rewrite: last dense bias and weight k=5 of output 0, and LSTM0 recurrent weight U[3, f-gate of unit 2]
    P, ls = man["lanes"], 1 << max(1, (man["lanes"] - 1).bit_length())
    passes = {p["label"]: p for p in man["passes"]}
    d_last, l0 = passes[f"dense{len(b.dense) - 1}"], passes["lstm0 t1"]
    H = b.lstm[0].units
    row = 4 * 2 + 1                              # unit 2, gate f
    u_slot = l0["wbase"] + (row // P) * l0["wstride"] + 1 + 3    # after the bias slot: operand 3 = h[3]
    # the hand-computed addresses agree with the library's address lookup (one copy of every parameter)
    design = fpga.build_design(b, man["format"]["name"], P)
    addr = fpga.weight_addresses(design, f"dense{len(b.dense) - 1}.b", (0,))
    assert addr == [fpga.WIN_WEIGHTS + 4 * d_last["wbase"] * ls]
    assert fpga.weight_addresses(design, "lstm0.U", (3, 1 * H + 2)) == [fpga.WIN_WEIGHTS + 4 * (u_slot * ls + row % P)]
    assert len(fpga.weight_addresses(design, "lstm0.W", (0, 5))) == 1
    writes = [(fpga.WIN_WEIGHTS + 4 * (d_last["wbase"] * ls), -300),
              (fpga.WIN_WEIGHTS + 4 * ((d_last["wbase"] + 1 + 5) * ls), 1000),
              (fpga.WIN_WEIGHTS + 4 * (u_slot * ls + row % P), -700)]
    net.dense[-1].b[0], net.dense[-1].W[5, 0], net.lstm[0].U[3, 1 * H + 2] = -300, 1000, -700
    # and an input-kernel entry of LSTM layer 1 (output gate of unit 1, input 2)
    H1 = b.lstm[1].units
    writes += [(a, 555) for a in fpga.weight_addresses(design, "lstm1.W", (2, 3 * H1 + 1))]
    net.lstm[1].W[2, 3 * H1 + 1] = 555
    # read-back: every weight word of the export, as weights.memh holds it (sign-extended)
    wq = _decode_memh(export_dir / "weights.memh", P, net.fmt.width)
    readback = [[fpga.WIN_WEIGHTS + 4 * (s * ls + p), int(wq[s, p])] for s in range(len(wq)) for p in range(P)]
    mod_expected = net.forward(xq[:1])[0].tolist()
    assert mod_expected != want[0].tolist()
    f = net.fmt
    case = {"rows": xq.reshape(len(xq), -1).tolist(), "expected": want.tolist(),
            "regs": {"INPUT": fpga.REG_INPUT, "OUTPUT": fpga.REG_OUTPUT,
                     **{k: a for k, (a, _, _) in fpga.REGS.items()}},
            "version": fpga.VERSION,
            "info": f.width | (f.frac_bits << 8) | (P << 16) | (xq[0].size << 24),
            "modified": {"writes": writes, "row": xq[0].reshape(-1).tolist(), "expected": mod_expected},
            "readback": readback, "weights_end": fpga.WIN_WEIGHTS + 4 * len(wq) * ls}
    (export_dir / "axil_case.json").write_text(json.dumps(case))
    sources = [export_dir / s for s in LINT_SOURCES]
    cocotb_run(sources, "tl_axil", "cocotb_axil", export_dir, {"TL_CASE": str(export_dir / "axil_case.json")})


def test_cocotb_bus_helper_against_slow_slave(tmp_path):
    """The AXI4-Lite master helper itself: a slow test slave (late READYs and responses, poison RDATA outside
    RVALID) must read back exactly what the helper wrote in every ordering and back-pressure case."""
    require_tool("iverilog", "vvp")
    cocotb_run([HERE / "tb_slow_slave.sv"], "tb_slow_slave", "cocotb_helpers", tmp_path, {})


def test_export_refuses_what_the_core_or_board_cannot_take(tmp_path):
    """One clear line, before any file is written: more than 64 input values (the register window), class names
    the board's ROM strings cannot carry (the core alone still exports)."""
    from tinylstm.errors import UserError

    big = random_bundle(1, inputs=9, steps=8)  # 72 values
    with pytest.raises(UserError, match="max 64"):
        fpga.build_design(big, "Q8.8", 4)
    b = _classifier(random_bundle(2, dense=((4, "relu"), (3, "linear"))), 3)
    b.meta["classes"] = ["walk", "run fast", "sit"]
    d = fpga.build_design(b, "Q8.8", 4)
    with pytest.raises(UserError, match="'run fast'"):
        fpga.design_files(d, b, "icebreaker")
    assert "tinylstm_net_pkg.sv" in fpga.design_files(d, b, "none")
    b.meta["classes"] = ["walk", "run", "sit"]
    pkg = fpga.design_files(d, b, "icebreaker")["tinylstm_board_pkg.sv"].decode()
    assert "classes=walk,run,sit" in pkg and "localparam int IS_CLS = 1;" in pkg
