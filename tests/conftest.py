"""Shared fixtures: the reference CSV, one trained model per test session, tool requirements."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_CSV = ROOT / "data" / "FuelConsumption.csv"
SHARED_CSV = ROOT.parent / "shared" / "data" / "FuelConsumption.csv"
#: The committed reference model (models/README.md): every export test runs on the model the firmware is made from.
REFERENCE_MODEL = ROOT / "models" / "reference"


def require_tool(*names: str) -> None:
    """Skip when a command-line tool is missing on a developer machine; fail under CI, where setup installs it."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        message = f"missing tools {missing}: run scripts/setup.sh --dev"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="session")
def reference_csv() -> Path:
    """The real FuelConsumption.csv (copied from ../shared/data when the checkout has none)."""
    if not REFERENCE_CSV.exists() and SHARED_CSV.exists():
        REFERENCE_CSV.parent.mkdir(exist_ok=True)
        shutil.copyfile(SHARED_CSV, REFERENCE_CSV)
    if not REFERENCE_CSV.exists():
        pytest.fail(f"{REFERENCE_CSV} missing: run `tinylstm data fetch`")
    return REFERENCE_CSV


@dataclass
class Trained:
    """The reference model (a private copy): its directory, bundle and the reference split in raw units."""

    model_dir: Path
    bundle: object
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    keras_test: np.ndarray  # Keras predictions on X_test, target units


@pytest.fixture(scope="session")
def trained(tmp_path_factory, reference_csv) -> Trained:
    """``models/reference`` copied into a temporary directory (tests may write siblings such as pruned models),
    with its Keras predictions on the test rows."""
    from tinylstm.data import to_sequences
    from tinylstm.modeldir import ModelDir
    from tinylstm.train import load_keras_model

    model_dir = tmp_path_factory.mktemp("session_model") / "model"
    shutil.copytree(REFERENCE_MODEL, model_dir)
    md = ModelDir.load(model_dir)
    X_train, y_train = md.rows("train", reference_csv)
    X_test, y_test = md.rows("test", reference_csv)
    sc = md.bundle.scaler
    keras = load_keras_model(model_dir)
    keras_test = sc.inverse_y(np.asarray(keras.predict(to_sequences(sc.transform_x(X_test)), verbose=0))[:, 0])
    return Trained(model_dir, md.bundle, X_train, y_train, X_test, y_test, keras_test)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600):
    """Run ``python -m tinylstm ARGS`` on this checkout's package; returns the CompletedProcess (text)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tinylstm", *args], cwd=cwd or ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
