"""The ``--layout window`` commands end to end: train/run/evaluate/predict on a generated forecast series and a
generated multi-channel classification, and every bad input of the issue → one line, exit 2, nothing touched.

Few epochs and tiny networks: these test the plumbing (columns, splits, class names, files); the accuracy of the
committed window models is measured in the bench (``tinylstm bench --only tasks``).
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

SMALL = ("--epochs", "2", "--lstm-units", "4", "--dense-units", "4", "--batch-size", "64", "--quiet")
CLASSES = ("idle", "run", "walk")


def _tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def _forecast_csv(path: Path, n: int = 300) -> Path:
    """A 2-channel series with a daily cycle; times as dates, rows written in shuffled order."""
    rng = np.random.default_rng(0)
    t = np.arange(n)
    load = 100 + 10 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 0.5, n)
    temp = 10 + 3 * np.cos(2 * np.pi * t / 24) + rng.normal(0, 0.2, n)
    order = rng.permutation(n)
    rows = [f"2026-03-{1 + k // 24:02d}T{k % 24:02d}:00:00,{load[k]:.3f},{temp[k]:.3f}\n" for k in order]
    path.write_text("when,load,temp\n" + "".join(rows))
    return path


def _activity_csv(path: Path, sessions: int = 60, steps: int = 6) -> Path:
    """Sessions of 2 channels; the class (text label) sets the signal's frequency and amplitude."""
    rng = np.random.default_rng(1)
    lines = []
    for s in range(sessions):
        label = CLASSES[s % 3]
        f, a = {"idle": (0.0, 0.1), "walk": (0.5, 1.0), "run": (1.5, 3.0)}[label]
        for k in range(steps):
            ax = a * np.sin(f * k + rng.uniform(0, 6)) + rng.normal(0, 0.1)
            ay = a * np.cos(f * k) + rng.normal(0, 0.1)
            lines.append(f"s{s:03d},{k},{ax:.4f},{ay:.4f},{label}\n")
    path.write_text("session,k,ax,ay,activity\n" + "".join(lines))
    return path


FORECAST = ("--layout", "window", "--window", "6", "--time-column", "when", "--features", "load,temp",
            "--target", "load")
ACTIVITY = ("--layout", "window", "--window", "6", "--group-column", "session", "--time-column", "k",
            "--task", "classify", "--split", "random", "--features", "ax,ay", "--target", "activity")


@pytest.fixture(scope="module")
def forecast(tmp_path_factory):
    root = tmp_path_factory.mktemp("forecast")
    data = _forecast_csv(root / "f.csv")
    out = root / "art"
    proc = run_cli("run", "--data", str(data), *FORECAST, *SMALL, "--no-exports", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    return data, out


@pytest.fixture(scope="module")
def activity(tmp_path_factory):
    root = tmp_path_factory.mktemp("activity")
    data = _activity_csv(root / "a.csv")
    model = root / "model"
    proc = run_cli("train", "--data", str(data), *ACTIVITY, *SMALL, "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    return data, model


# ------------------------------------------------------------------------------------------- forecast
def test_run_report_has_windows_split_and_forecast_baselines(forecast):
    _, out = forecast
    r = json.loads((out / "report.json").read_text())
    d = r["data"]
    assert d["layout"] == "window" and d["series"]["window"] == 6 and d["series"]["horizon"] == 1
    # 300 rows → 295 windows of 6 with a target 1 row later; 30 % of them test
    assert "300 rows → 294 windows" in d["windows"]
    assert d["rows_test"] == round(294 * 0.3)
    assert d["rows_train"] + d["rows_validation"] + d["rows_test"] <= 294
    assert set(r["baselines"]) == {"persistence", "linear_regression"}
    for split in ("train", "validation", "test"):
        assert {"mae", "rmse"} <= set(r["metrics"][split])
    split = json.loads((out / "model" / "split.json").read_text())
    assert split["unit"] == "window"
    assert not set(split["train"]) & set(split["test"]) and not set(split["validation"]) & set(split["test"])


def test_persistence_baseline_is_last_value_of_target(forecast):
    """Recomputed here from the CSV: persistence predicts the target row's predecessor (the window's last load)."""
    data, out = forecast
    r = json.loads((out / "report.json").read_text())
    rows = sorted(csv.DictReader(data.open()), key=lambda row: row["when"])
    load = np.array([float(row["load"]) for row in rows])
    split = json.loads((out / "model" / "split.json").read_text())
    last = np.array(split["test"]) + 5  # window k covers rows k..k+5 (no window is dropped in this series)
    want = np.mean(np.abs(load[last + 1] - load[last]))
    assert r["baselines"]["persistence"]["mae"] == pytest.approx(want, rel=1e-9)


def test_predict_writes_every_row_and_predictions_where_a_window_ends(forecast, tmp_path):
    data, out = forecast
    pred = tmp_path / "p.csv"
    proc = run_cli("predict", "--model", str(out / "model"), "--data", str(data), "--out", str(pred), "--next")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(pred.open()))
    src = list(csv.DictReader(data.open()))
    assert [r["when"] for r in rows] == [r["when"] for r in src]  # file order, every row
    by_time = sorted(rows, key=lambda r: r["when"])
    filled = [r["load_predicted"] != "" for r in by_time]
    assert filled == [False] * 6 + [True] * 294  # rows 6.. are predicted by the window ending one row before
    assert "next: load 1 step(s) after line" in proc.stdout


def test_predict_numpy_backend_equals_keras(forecast, tmp_path):
    data, out = forecast
    got = {}
    for backend in ("keras", "numpy"):
        p = tmp_path / f"{backend}.csv"
        proc = run_cli("predict", "--model", str(out / "model"), "--data", str(data), "--out", str(p),
                       "--backend", backend, "--quiet")
        assert proc.returncode == 0, proc.stderr
        got[backend] = np.array([float(r["load_predicted"]) for r in csv.DictReader(p.open())
                                 if r["load_predicted"]])
    assert np.max(np.abs(got["keras"] - got["numpy"])) <= 1e-4  # L/100km-style target units, float32 vs float64


def test_proba_is_refused_for_a_forecast(forecast, tmp_path):
    data, out = forecast
    proc = run_cli("predict", "--model", str(out / "model"), "--data", str(data), "--out", str(tmp_path / "p.csv"),
                   "--proba")
    assert proc.returncode == 2 and "--proba" in proc.stderr and "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------- classification
def test_classifier_bundle_names_classes_in_sorted_order(activity):
    from tinylstm.bundle import Bundle

    _, model = activity
    b = Bundle.load(model)
    assert b.classes == list(CLASSES) and b.n_outputs == 3 and b.is_classifier
    assert (b.n_steps, b.values_per_step, b.n_inputs) == (6, 2, 12)


def test_evaluate_classifier_metrics_baselines_and_confusion(activity, tmp_path):
    data, model = activity
    out = tmp_path / "ev"
    proc = run_cli("evaluate", "--model", str(model), "--data", str(data), "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    r = json.loads((out / "report.json").read_text())
    m = r["metrics"]["test"]
    assert {"accuracy", "macro_f1", "recall"} <= set(m)
    assert set(m["recall"]) == set(CLASSES)
    assert set(r["baselines"]) == {"majority_class", "gradient_boosting"}
    assert 0.2 <= r["baselines"]["majority_class"]["accuracy"] <= 0.5  # 3 balanced classes
    png = out / "figures" / Path(r["figures"]["confusion"]).name
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_classifier_class_names_and_proba(activity, tmp_path):
    data, model = activity
    pred = tmp_path / "p.csv"
    proc = run_cli("predict", "--model", str(model), "--data", str(data), "--out", str(pred), "--proba", "--quiet")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(pred.open()))
    assert len(rows) == 360
    cols = [f"activity_p_{c}" for c in CLASSES]
    assert list(rows[0])[-4:] == ["activity_predicted", *cols]
    done = [r for r in rows if r["activity_predicted"]]
    assert len(done) == 60  # one window (the whole session of 6 rows) per session, on its last row
    assert all(r["k"] == "5" for r in done)
    for r in done:
        p = np.array([float(r[c]) for c in cols])
        assert abs(p.sum() - 1) < 1e-5 and CLASSES[int(np.argmax(p))] == r["activity_predicted"]


# ------------------------------------------------------------------------------------------- bad input
def _fails(args, root: Path, want: str):
    before = _tree(root)
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert want in lines[0], lines[0]
    assert _tree(root) == before  # previous artifacts byte-identical, no temporary files left


@pytest.mark.parametrize("case", [
    dict(extra=("--window", "400"), want="longer than the series"),
    dict(extra=("--window", "290", "--horizon", "20"), want="reaches past the end of the series"),
    dict(extra=("--time-column", "load"), want="also a feature"),
])
def test_bad_window_options_leave_artifacts_untouched(forecast, case):
    data, out = forecast
    args = [a for a in FORECAST]
    for flag, value in zip(case["extra"][::2], case["extra"][1::2]):
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag, value]
    _fails(["run", "--data", str(data), *args, *SMALL, "--no-exports", "--out", str(out)], out.parent, case["want"])


def test_duplicated_and_unparseable_times(forecast, tmp_path):
    data, out = forecast
    lines = data.read_text().splitlines(keepends=True)
    dup = tmp_path / "dup.csv"
    dup.write_text("".join(lines + [lines[1]]))
    _fails(["train", "--data", str(dup), *FORECAST, *SMALL, "--out", str(out / "model")], out.parent,
           "the same time")
    bad = tmp_path / "bad.csv"
    bad.write_text("".join(lines[:3] + ["last tuesday,1,2\n"] + lines[3:]))
    _fails(["train", "--data", str(bad), *FORECAST, *SMALL, "--out", str(out / "model")], out.parent,
           "line 4, column 'when'")


def test_window_layout_without_features(forecast):
    data, out = forecast
    args = [a for a in FORECAST if a not in ("--features", "load,temp")]
    _fails(["train", "--data", str(data), *args, *SMALL, "--out", str(out / "model")], out.parent, "--features")


def test_class_with_one_sample_and_mixed_labels(activity, tmp_path):
    data, model = activity
    lines = data.read_text().splitlines(keepends=True)
    one = tmp_path / "one.csv"  # session s000's label changed on its last row: class 'jump' has 1 window
    one.write_text("".join(lines[:6] + [lines[6].replace(",idle", ",jump")] + lines[7:]))
    _fails(["train", "--data", str(one), *ACTIVITY, *SMALL, "--out", str(model)], model.parent,
           "class 'jump' has 1 window(s)")
    mixed = tmp_path / "mixed.csv"
    mixed.write_text("".join(lines[:1] + [ln.replace(",idle", ",3") for ln in lines[1:]]))
    _fails(["train", "--data", str(mixed), *ACTIVITY, *SMALL, "--out", str(model)], model.parent,
           "labels must be all numbers or all text")


def test_too_many_classes_for_a_target(tmp_path):
    rows = "".join(f"{k},{k % 7},{k // 2}\n" for k in range(600))  # 300 classes of 2 windows each
    data = tmp_path / "many.csv"
    data.write_text("k,x,y\n" + rows)
    _fails(["train", "--data", str(data), "--layout", "window", "--window", "1", "--task", "classify",
            "--features", "x", "--target", "y", "--split", "random", *SMALL, "--out", str(tmp_path / "m")],
           tmp_path, "at most 256")
