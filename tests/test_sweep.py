"""``tinylstm sweep`` on Ray Tune: a 3-trial grid sweep on the reference data (tiny epochs, the c-int8 target only)
with one deliberately failing trial, run in two parts (``--trials 2``, then ``--resume --trials 3 --budget``).

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
names = ["c-int8"]
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
    require_tool("arm-none-eabi-gcc", "qemu-system-arm", "gcc")
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
    return {"out": out, "first": first, "again": again, "second": second, "table1": table1, "mtime": mtime,
            "csv": reference_csv}


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
    t = pd.read_csv(out / "results.csv")
    assert list(t["lstm_units"].astype(str)) == ["3", "4", "5"]
    assert set(pd.read_parquet(out / "results.parquet")["key"]) == set(t["key"])
    assert list(t["status"]) == ["ok", "failed", "ok"]
    k3 = swept["table1"]["key"].iloc[0]
    assert (out / "trials" / k3 / "result.json").stat().st_mtime_ns == swept["mtime"][k3]  # not trained again
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
    best = json.loads((out / "best.json").read_text())
    assert best["key"] == want["key"]
    md = ModelDir.load(out / "best")
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
                      ("[modle]\n", "unknown table")):
        bad.write_text(text)
        with pytest.raises(UserError, match=msg):
            load_space(bad)
    space = tmp_path / "s.toml"
    space.write_text("[search]\nalgorithm = 'random'\n")
    s = load_space(space)
    assert planned_trials(s, 5, 7) == planned_trials(s, 5, 7) != planned_trials(s, 5, 8)


def test_pareto_front_and_summary():
    from tinylstm.sweep import summary
    from tinylstm.sweep_plots import front

    pts = [(100, 0.5, "a"), (200, 0.4, "b"), (150, 0.6, "c"), (300, 0.4, "d"), (400, 0.3, "e")]
    assert [p[2] for p in front(pts)] == ["a", "b", "e"]

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
    from tinylstm.modeldir import ModelDir
    from tinylstm.sweep import _measure_fpga, validation_rows

    md = ModelDir.load(ROOT / "models" / "reference")
    Xv, _ = validation_rows(md)
    one = _measure_fpga(md, {"fpga_format": "Q8.8", "fpga_lanes": 1}, Xv, tmp_path / "l1", 30.0)
    four = _measure_fpga(md, {"fpga_format": "Q8.8", "fpga_lanes": 4}, Xv, tmp_path / "l4", 30.0)
    assert one["verify_max_abs"] == four["verify_max_abs"] == 0.0
    assert four["cycles"] < one["cycles"] and one["cycles"] >= md.bundle.macs() * 0.5
    assert four["latency_us"] == round(four["cycles"] / 30.0, 3)
