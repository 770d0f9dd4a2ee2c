"""The ``--backend`` registry of ``tinylstm predict``: one name per way of running the trained model.

Each backend is a module in this package that calls :func:`register` when imported; modules are discovered, so
adding a backend means adding a module. A backend takes the model directory and raw input rows (n, features) in CSV
units and returns
predictions (n,) in target units, so every target can be compared on the same rows.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..registry import Registry

PredictFn = Callable[[Path, np.ndarray, argparse.Namespace], np.ndarray]
ArgsFn = Callable[[argparse.ArgumentParser], None]



@dataclass(frozen=True)
class Backend:
    name: str
    help: str
    predict: PredictFn
    add_arguments: ArgsFn | None = None


_REGISTRY: Registry[Backend] = Registry(__name__, __path__, "backend")


def register(name: str, help: str, add_arguments: ArgsFn | None = None) -> Callable[[PredictFn], PredictFn]:
    """Decorator: register ``fn(model_dir, X_raw, args) -> y`` as backend ``name``."""

    def deco(fn: PredictFn) -> PredictFn:
        _REGISTRY.add(name, Backend(name, help, fn, add_arguments))
        return fn

    return deco


def all_backends() -> list[Backend]:
    return _REGISTRY.all()


def get(name: str) -> Backend:
    return _REGISTRY.get(name)


def run(name: str, model_dir: Path, X_raw: np.ndarray, args: argparse.Namespace | None = None) -> np.ndarray:
    """Predict raw rows with backend ``name``; returns (n,) float64 in target units."""
    y = get(name).predict(Path(model_dir), np.asarray(X_raw, dtype=np.float64), args or argparse.Namespace())
    return np.asarray(y, dtype=np.float64).reshape(-1)
