"""The walkthrough notebook runs top to bottom on a small epoch budget and draws its figures."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "01_train_evaluate.ipynb"
FIGURES = ("pairplot.png", "spearman.png", "loss.png", "residuals.png", "residual_hist.png", "pred_vs_actual.png",
           "test_series.png")


def test_notebook_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_notebook_executes_and_produces_its_figures(tmp_path, reference_csv, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    out = tmp_path / "nb"
    for key, value in {"TINYLSTM_EPOCHS": "3", "TINYLSTM_DATA": str(reference_csv), "TINYLSTM_OUT": str(out),
                       "TINYLSTM_FIGURES": str(tmp_path / "figs"), "TINYLSTM_SEED": "1",
                       # the kernel must import this checkout, whatever tinylstm the interpreter has installed
                       "PYTHONPATH": os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH")] if p)
                       }.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=600,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    # the "python3" kernel spec starts `python`, which jupyter_client maps to this interpreter
    assert Path(sys.executable).exists()
    client.execute()

    for name in FIGURES:
        png = tmp_path / "figs" / name
        assert png.exists() and png.read_bytes()[:4] == b"\x89PNG", name
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["epochs_run"] == 3 and report["model"]["seed"] == 1
    assert report["data"]["cleaning"]["rows_kept"] == 638
    assert (out / "model" / "bundle.npz").exists()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 7  # 2 EDA figures + 5 result figures displayed inline
    text = json.dumps([o.get("data", {}).get("text/plain", "") for o in outputs])
    assert "keras" in text and "numpy" in text  # the backend comparison table


NOTEBOOK2 = ROOT / "notebooks" / "02_sequences_to_targets.ipynb"


def test_notebook2_is_committed_without_outputs():
    nb = json.loads(NOTEBOOK2.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c["outputs"] == [] and c["execution_count"] is None for c in code)


def test_notebook2_runs_digits_through_every_target(tmp_path, monkeypatch):
    """Few epochs and 16 test windows: the notebook's cells run, show the confusion matrix, the fidelity table
    (every backend: a result or its one-line reason) and the footprint chart."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")

    out = tmp_path / "nb2"
    for key, value in {"TINYLSTM_EPOCHS": "2", "TINYLSTM_OUT": str(out), "TINYLSTM_WINDOWS": "16",
                       "PYTHONPATH": os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH")] if p)
                       }.items():
        monkeypatch.setenv(key, value)
    nb = nbformat.read(NOTEBOOK2, as_version=4)
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=900,
                                     resources={"metadata": {"path": str(NOTEBOOK2.parent)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    report = json.loads((out / "report.json").read_text())
    assert report["model"]["epochs_run"] == 2
    assert set(report["metrics"]["test"]["recall"]) == {str(d) for d in range(10)}
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 2  # the confusion matrix and the footprint chart
    text = json.dumps([o.get("data", {}).get("text/plain", "") for o in outputs])
    for name in ("c-int8", "tflite-int8", "flash_bytes"):
        assert name in text, name
    import csv

    rows = {r[""]: r for r in csv.DictReader((out / "fidelity.csv").open())}
    assert {"keras", "numpy", "c-float", "c-int8", "cortex-m4", "tflm-int8", "fixed", "rtl", "riscv"} <= set(rows)
    refused = {name: r["note"] for name, r in rows.items() if r["note"]}
    assert not refused, refused  # every target takes the digits' shape (W8 F8 K10)
    for name in ("numpy", "c-float"):  # float targets pick Keras' class on every window
        assert float(rows[name]["same class as Keras"]) == 1.0, name
