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
#: Epochs for the session model: enough for a model whose errors mean something, few enough for CI.
SESSION_EPOCHS = 60


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
    """One trained model shared by the session: its directory, bundle and the reference split in raw units."""

    model_dir: Path
    bundle: object
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    keras_test: np.ndarray  # Keras predictions on X_test, target units


@pytest.fixture(scope="session")
def trained(tmp_path_factory, reference_csv) -> Trained:
    from tinylstm import pipeline
    from tinylstm.data import DEFAULT_FEATURES, DEFAULT_TARGET, to_sequences
    from tinylstm.train import TrainConfig

    model_dir = tmp_path_factory.mktemp("session_model") / "model"
    result = pipeline.train_only(reference_csv, DEFAULT_FEATURES, DEFAULT_TARGET,
                                 TrainConfig(seed=0, epochs=SESSION_EPOCHS), model_dir, quiet=True)
    ds = result.dataset
    sp, sc = result.split, result.scaler
    keras_test = sc.inverse_y(result.model.predict(to_sequences(sc.transform_x(ds.X[sp.test])), verbose=0)[:, 0])
    return Trained(model_dir, result.bundle, ds.X[sp.train], ds.y[sp.train], ds.X[sp.test], ds.y[sp.test],
                   keras_test)


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600):
    """Run ``python -m tinylstm ARGS`` on this checkout's package; returns the CompletedProcess (text)."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tinylstm", *args], cwd=cwd or ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
