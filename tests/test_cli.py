"""The CLI end to end on the real CSV (few epochs), and every kind of bad input a user hits.

One ``tinylstm run --epochs 3`` makes a good artifacts directory; every failing command then targets that same
directory and must exit 2 with one line on stderr (no traceback) and leave every file byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

FIGURES = ("loss", "residuals", "residual_histograms", "predicted_vs_actual", "series", "pairplot", "spearman")
#: Keras (float32, TensorFlow) vs the numpy golden model (float64) through ``tinylstm predict``, target units.
BACKEND_TOL = 1e-5


def _tree(root: Path) -> dict[str, str]:
    """SHA-256 of every file under ``root`` (new or leftover temp files show up as new keys)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, reference_csv) -> Path:
    root = tmp_path_factory.mktemp("cli")
    out = root / "artifacts"
    # --no-exports: the exporters of the other areas test themselves; this file tests the foundation's run
    proc = run_cli("run", "--epochs", "3", "--no-exports", "--data", str(reference_csv), "--out", str(out),
                   "--figures", str(out / "figs"), "--quiet")
    assert proc.returncode == 0, proc.stderr
    pred = run_cli("predict", "--model", str(out / "model"), "--data", str(reference_csv),
                   "--out", str(out / "pred.csv"), "--backend", "numpy", "--quiet")
    assert pred.returncode == 0, pred.stderr
    return out


# ------------------------------------------------------------------------------------------- end to end
def test_run_writes_report_and_every_figure(run_dir, reference_csv):
    report = json.loads((run_dir / "report.json").read_text())
    assert set(report["figures"]) == set(FIGURES)
    for name in FIGURES:
        png = run_dir / "figs" / Path(report["figures"][name]).name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000, name
    d = report["data"]
    assert d["sha256"] == "46cf0d3a2d59074d98d97f361acdf1bd20681b78de4a8b5248a3fe5e517a334e"
    assert (d["cleaning"]["rows_read"], d["cleaning"]["rows_kept"], d["rows_train"], d["rows_test"]) == \
        (639, 638, 446, 192)
    assert report["model"]["params"] == 2321 and report["model"]["epochs_run"] == 3
    assert report["bundle_vs_keras_max_abs"] <= BACKEND_TOL
    for split in ("train", "test"):
        assert set(report["metrics"][split]) >= {"mae", "rmse", "r2", "max_error", "residual_mean", "residual_std"}
    assert set(report["baselines"]) == {"linear_regression", "gradient_boosting", "random_forest"}
    assert report["timing_s"]["train_evaluate_figures"] > 0
    md = (run_dir / "report.md").read_text()
    assert "| test |" in md and "linear regression baseline" in md
    links = dict(re.findall(r"- \[(\w+)\]\(([^)]+)\)", md))
    assert set(links) == set(FIGURES)
    for name, link in links.items():  # every figure link in report.md resolves from report.md's directory
        assert (run_dir / link).resolve() == (run_dir / "figs" / Path(report["figures"][name]).name).resolve()
    # the model directory a later export reads
    assert {p.name for p in (run_dir / "model").iterdir()} >= {"bundle.npz", "model.keras", "config.json",
                                                              "history.json", "split.json"}


def test_predict_backends_agree_and_keep_extra_columns(run_dir, reference_csv, tmp_path):
    out = tmp_path / "keras.csv"
    proc = run_cli("predict", "--model", str(run_dir / "model"), "--data", str(reference_csv), "--out", str(out),
                   "--backend", "keras")
    assert proc.returncode == 0, proc.stderr
    assert "639 rows" in proc.stdout
    with open(reference_csv, newline="") as f:
        original = list(csv.reader(f))
    with open(out, newline="") as f:
        keras_rows = list(csv.reader(f))
    with open(run_dir / "pred.csv", newline="") as f:
        numpy_rows = list(csv.reader(f))
    assert keras_rows[0] == [c.strip() for c in original[0]] + ["FUEL CONSUMPTION_predicted"]
    assert len(keras_rows) == len(numpy_rows) == len(original) == 640
    for orig, k in zip(original[1:], keras_rows[1:]):
        assert k[:-1] == orig  # every input column (MAKE, MODEL, ... and the target) carried along unchanged
    k = np.array([float(r[-1]) for r in keras_rows[1:]])
    n = np.array([float(r[-1]) for r in numpy_rows[1:]])
    # the CSV holds 9 significant digits (float32 round-trips): allow that rounding on top of the tolerance
    assert np.abs(k - n).max() <= BACKEND_TOL + 1e-8 * np.abs(k).max()
    assert 3 < k.min() and k.max() < 30  # L/100km, not standardised units


def test_predict_numpy_matches_golden_model_in_process(run_dir, reference_csv):
    """The CLI's numpy backend output (float32 arithmetic by default) = reference.predict (float64) on the same raw
    rows within the float engines' 1e-4 L/100km (float32 is ~3e-7 relative from it; float64 output's exact digits are
    checked in test_predict), and equal to the float32 golden model to the CSV's 9 digits."""
    from tinylstm import reference
    from tinylstm.bundle import Bundle
    from tinylstm.predict import read_features

    bundle = Bundle.load(run_dir / "model")
    _, _, X, _ = read_features(reference_csv, bundle.features)
    with open(run_dir / "pred.csv", newline="") as f:
        got = np.array([float(r[-1]) for r in list(csv.reader(f))[1:]])
    assert np.abs(got - reference.predict(bundle, X)).max() <= 1e-4
    # and it is the float32 golden model itself, to the CSV's 9 digits (float32 round-trips)
    np.testing.assert_allclose(got, reference.BatchForward(bundle, np.float32)(X), rtol=1e-8)


def test_evaluate_on_a_trained_dir(run_dir, reference_csv, tmp_path):
    from sklearn.metrics import mean_absolute_error

    from tinylstm import reference
    from tinylstm.bundle import Bundle
    from tinylstm.data import load_dataset

    out = tmp_path / "eval"
    proc = run_cli("evaluate", "--model", str(run_dir / "model"), "--data", str(reference_csv), "--out", str(out),
                   "--figures", str(out / "figs"))
    assert proc.returncode == 0, proc.stderr
    assert "test MAE" in proc.stdout
    report = json.loads((out / "report.json").read_text())
    first = json.loads((run_dir / "report.json").read_text())
    for split in ("train", "test"):
        for key, value in first["metrics"][split].items():
            assert report["metrics"][split][key] == pytest.approx(value, abs=1e-6), (split, key)
    assert len(list((out / "figs").glob("*.png"))) == len(FIGURES)
    # run drew its figures and fitted its baselines in its side process (tinylstm.sidework): the same as here
    assert report["baselines"] == first["baselines"]
    for png in (run_dir / "figs").glob("*.png"):
        assert png.read_bytes() == (out / "figs" / png.name).read_bytes(), png.name
    # independently: sklearn MAE of the golden model on the reference test rows
    ds = load_dataset(reference_csv)
    test_idx = json.loads((run_dir / "model" / "split.json").read_text())["test"]
    golden = reference.predict(Bundle.load(run_dir / "model"), ds.X[test_idx])
    assert report["metrics"]["test"]["mae"] == pytest.approx(mean_absolute_error(ds.y[test_idx], golden), abs=1e-5)


def test_help_everywhere():
    for cmd in ([], ["train"], ["evaluate"], ["run"], ["predict"], ["data", "fetch"]):
        proc = run_cli(*cmd, "--help")
        assert proc.returncode == 0 and "usage: tinylstm" in proc.stdout, cmd
    for cmd in (["train"], ["run"]):
        assert all(opt in run_cli(*cmd, "--help").stdout for opt in ("--out", "--seed", "--epochs", "--data"))


# ------------------------------------------------------------------------------------------ bad input
def _ref_lines(reference_csv: Path) -> list[str]:
    return reference_csv.read_text().splitlines()


def _edit_cell(lines: list[str], line_no: int, column: str, value: str) -> list[str]:
    header = [h.strip() for h in lines[0].split(",")]
    row = lines[line_no - 1].split(",")
    row[header.index(column)] = value
    return [*lines[: line_no - 1], ",".join(row), *lines[line_no:]]


def _files(reference_csv: Path) -> dict[str, bytes]:
    """Bad CSVs derived from the real one (line numbers are file lines; the header is line 1)."""
    lines = _ref_lines(reference_csv)
    join = lambda ls: ("\n".join(ls) + "\n").encode()  # noqa: E731
    constant = [lines[0]] + [",".join(r.split(",")[:5] + ["4"] + r.split(",")[6:]) for r in lines[1:]]
    return {
        "empty.csv": b"",
        "header_only.csv": join(lines[:1]),
        "nonnumeric.csv": join(_edit_cell(lines, 6, "CYLINDERS", "four")),
        "huge.csv": join(_edit_cell(lines, 8, "COEMISSIONS", "1e308")),
        "inf.csv": join(_edit_cell(lines, 9, "ENGINE SIZE", "inf")),
        "constant.csv": join(constant),
        "few_rows.csv": join(lines[:6]),
        "binary.csv": bytes(range(256)) * 16,
        "dup_columns.csv": join([lines[0].replace("MODEL", "CYLINDERS"), *lines[1:]]),
        "ragged.csv": join([*lines[:11], lines[11] + ",extra,cells", *lines[12:]]),
        "no_coemissions.csv": join([",".join(r.split(",")[:-1]) for r in lines]),
        "blank_feature.csv": join(_edit_cell(lines, 4, "ENGINE SIZE", "")),
        "short.csv": join(lines[:300]),
        "workbook.xlsx": b"PK\x03\x04\x14\x00\x06\x00" + bytes(200),
        "spaces.txt": join([line.replace(" ", "_").replace(",", " ") for line in lines]),
        "blank_column.csv": join([lines[0], *(",".join(r.split(",")[:5] + [""] + r.split(",")[6:])
                                              for r in lines[1:])]),
    }


BAD_RUNS = [
    # (id, argv with {f}=a bad file / {tmp} / {out} / {model} / {csv}=the real CSV, expected text in the line)
    ("missing file", ["run", "--data", "{tmp}/nope.csv"], "nope.csv: no such file"),
    ("directory", ["run", "--data", "{tmp}"], "is a directory, not a CSV file"),
    ("empty file", ["run", "--data", "{f:empty.csv}"], "empty file"),
    ("header only", ["run", "--data", "{f:header_only.csv}"], "header only, no data rows"),
    ("missing feature", ["run", "--features", "ENGINE SIZE,CYLINDER,COEMISSIONS"],
     "no column 'CYLINDER' (did you mean 'CYLINDERS'?); available columns: Year, MAKE, MODEL, VEHICLE CLASS, "
     "ENGINE SIZE, CYLINDERS, TRANSMISSION, FUEL, FUEL CONSUMPTION, COEMISSIONS"),
    ("missing target", ["train", "--target", "MPG"], "no column 'MPG'; available columns: Year,"),
    ("non-numeric", ["run", "--data", "{f:nonnumeric.csv}"], "line 6, column 'CYLINDERS': 'four' is not a number"),
    ("1e308", ["run", "--data", "{f:huge.csv}"], "line 8, column 'COEMISSIONS': '1e308' is an absurd magnitude"),
    ("inf", ["train", "--data", "{f:inf.csv}"], "line 9, column 'ENGINE SIZE': 'inf' is an absurd magnitude"),
    ("constant column", ["run", "--data", "{f:constant.csv}"],
     "column 'CYLINDERS' is constant in the training rows (zero variance)"),
    ("too few rows", ["run", "--data", "{f:few_rows.csv}"], "too few rows to split and train"),
    ("binary", ["run", "--data", "{f:binary.csv}"], "binary content"),
    ("duplicate columns", ["run", "--data", "{f:dup_columns.csv}"],
     "column 'CYLINDERS' appears 2 times in the header (columns 3 and 6)"),
    ("ragged row", ["run", "--data", "{f:ragged.csv}"], "line 12: 12 fields, header has 10"),
    ("target is a feature", ["run", "--target", "CYLINDERS"], "target column 'CYLINDERS' is also a feature"),
    ("no features", ["train", "--features", ","], "no feature columns given"),
    ("epochs 0", ["run", "--epochs", "0"], "--epochs must be >= 1, got 0"),
    ("batch size 0", ["train", "--batch-size", "0"], "--batch-size must be >= 1"),
    ("bad optimizer", ["run", "--optimizer", "adamm"], "unknown optimizer 'adamm'"),
    ("bad units", ["run", "--lstm-units", "12,x"], "--lstm-units: expected comma-separated integers"),
    ("unknown command", ["trian"], "invalid choice: 'trian'"),
    ("excel workbook", ["run", "--data", "{f:workbook.xlsx}"], "a ZIP archive (an Excel .xlsx"),
    ("space-delimited", ["run", "--data", "{f:spaces.txt}", "--features", "ENGINE_SIZE,CYLINDERS"],
     "the header is a single column"),
    ("all-blank column", ["run", "--data", "{f:blank_column.csv}"],
     "too few rows to split and train: 639 rows read; dropped 1 duplicate row(s) and 638 row(s) with missing "
     "values (blank/NaN cells by column: CYLINDERS: 638); 0 rows kept (need 10)"),
    ("--out is a file", ["train", "--out", "{out}/report.json"], "is a file, not a directory"),
    ("--figures is a file", ["run", "--figures", "{out}/report.md/figs"], "report.md is a file, not a directory"),
    # predict
    ("predict --out is a directory", ["predict", "--model", "{model}", "--data", "{csv}", "--out", "{out}"],
     "is a directory; give the output CSV's file name"),
    ("predict lacks a feature", ["predict", "--model", "{model}", "--data", "{f:no_coemissions.csv}",
                                 "--out", "{out}/pred.csv"], "no column 'COEMISSIONS'"),
    ("predict blank feature", ["predict", "--model", "{model}", "--data", "{f:blank_feature.csv}",
                               "--out", "{out}/pred.csv"],
     "line 4, column 'ENGINE SIZE': missing value, cannot predict this row"),
    ("predict unknown backend", ["predict", "--model", "{model}", "--data", "{csv}", "--out", "{out}/pred.csv",
                                 "--backend", "tpu"], "argument --backend: invalid choice: 'tpu'"),
    ("predict no model", ["predict", "--model", "{tmp}/nomodel", "--data", "{csv}", "--out", "{out}/pred.csv"],
     "no weight bundle"),
    ("predict binary", ["predict", "--model", "{model}", "--data", "{f:binary.csv}", "--out", "{out}/pred.csv"],
     "binary content"),
    # evaluate
    ("evaluate no model", ["evaluate", "--model", "{tmp}/nomodel", "--out", "{out}", "--figures", "{out}/figs"],
     "no weight bundle"),
    ("evaluate wrong data", ["evaluate", "--model", "{model}", "--data", "{f:short.csv}", "--out", "{out}",
                             "--figures", "{out}/figs"], "fewer than the model's split; wrong --data?"),
    ("evaluate missing file", ["evaluate", "--model", "{model}", "--data", "{tmp}/nope.csv", "--out", "{out}",
                               "--figures", "{out}/figs"], "no such file"),
]


def _argv(template: list[str], run_dir: Path, tmp: Path, reference_csv: Path, files: dict[str, bytes]) -> list[str]:
    argv = []
    for arg in template:
        if arg.startswith("{f:"):
            name = arg[3:-1]
            (tmp / name).write_bytes(files[name])
            arg = str(tmp / name)
        argv.append(arg.format(tmp=tmp, out=run_dir, model=run_dir / "model", csv=reference_csv))
    cmd = argv[0]
    if cmd in ("run", "train"):
        if "--data" not in argv:
            argv += ["--data", str(reference_csv)]
        if "--out" not in argv:
            argv += ["--out", str(run_dir if cmd == "run" else run_dir / "model")]
        if cmd == "run" and "--figures" not in argv:
            argv += ["--figures", str(run_dir / "figs")]
    return argv


@pytest.mark.parametrize("case", BAD_RUNS, ids=[c[0] for c in BAD_RUNS])
def test_bad_input_one_line_exit_2_artifacts_untouched(case, run_dir, reference_csv, tmp_path):
    _, template, expected = case
    before = _tree(run_dir)
    argv = _argv(template, run_dir, tmp_path, reference_csv, _files(reference_csv))
    proc = run_cli(*argv, timeout=120)
    assert proc.returncode == 2, (argv, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("tinylstm: error: ") and expected in lines[0], lines[0]
    assert _tree(run_dir) == before, "a failing command changed the previous artifacts"


def test_common_flags_before_the_command():
    proc = run_cli("--quiet", "run", "--epochs", "0")
    assert proc.returncode == 2 and proc.stderr.strip() == "tinylstm: error: --epochs must be >= 1, got 0"
    proc = run_cli("--debug", "run", "--epochs", "0")
    assert "Traceback" in proc.stderr and "--epochs must be >= 1" in proc.stderr


def test_damaged_model_file(run_dir, reference_csv, tmp_path):
    """A truncated model.keras (an interrupted copy): one line naming the file, the report left alone."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(run_dir / "model", model)
    blob = (model / "model.keras").read_bytes()
    (model / "model.keras").write_bytes(blob[: len(blob) // 2])
    before = _tree(run_dir)
    proc = run_cli("evaluate", "--model", str(model), "--data", str(reference_csv), "--out", str(run_dir),
                   "--figures", str(run_dir / "figs"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "model.keras: cannot load the Keras model" in lines[0]
    assert _tree(run_dir) == before


def test_debug_shows_a_traceback(run_dir, reference_csv, tmp_path):
    before = _tree(run_dir)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(_files(reference_csv)["nonnumeric.csv"])
    proc = run_cli("run", "--data", str(bad), "--out", str(run_dir), "--figures", str(run_dir / "figs"), "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "'four' is not a number" in proc.stderr
    assert _tree(run_dir) == before


def test_messy_but_valid_file_trains(tmp_path, reference_csv):
    """cp1252 text, ';' delimiter, decimal commas, an Excel ``sep=`` line and blank/NaN cells: decoded,
    detected, cleaned and counted; training goes ahead."""
    lines = _ref_lines(reference_csv)
    lines = _edit_cell(_edit_cell(_edit_cell(lines, 3, "ENGINE SIZE", ""), 5, "COEMISSIONS", "NaN"),
                       7, "ENGINE SIZE", "n/a")
    lines = [lines[0] + ",NOTE"] + [f"{line},Citroën 10 €" for line in lines[1:]]
    text = "sep=;\n" + "\n".join(line.replace(",", ";").replace(".", ",") for line in lines) + "\n"
    path = tmp_path / "messy.csv"
    path.write_bytes(text.encode("cp1252"))
    proc = run_cli("train", "--data", str(path), "--epochs", "1", "--out", str(tmp_path / "model"))
    assert proc.returncode == 0, proc.stderr
    assert "639 rows read; dropped 1 duplicate row(s) and 3 row(s) with missing values" in proc.stdout
    assert "ENGINE SIZE: 2" in proc.stdout and "COEMISSIONS: 1" in proc.stdout and "635 rows kept" in proc.stdout
    assert (tmp_path / "model" / "bundle.npz").exists()


def test_file_system_refusal_is_one_line(trained, reference_csv, tmp_path, monkeypatch, capsys):
    """A full disk while writing (simulated): one line with the path and the OS reason, exit 2, nothing written."""
    import errno

    from tinylstm import atomic, cli

    def full_disk(target, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(target))

    monkeypatch.setattr(atomic, "write_bytes", full_disk)
    out = tmp_path / "pred.csv"
    code = cli.main(["predict", "--model", str(trained.model_dir), "--data", str(reference_csv), "--out", str(out),
                     "--backend", "numpy", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"tinylstm: error: {out}: No space left on device"]
    assert not out.exists()
