"""The ``--backend`` registry of ``tinylstm predict``: one name per way of running the trained model.

Each backend is a module in this package that calls :func:`register` when imported; modules are discovered, so
adding a backend means adding a module. A backend takes the model directory and raw input samples (n, n_inputs) in CSV
units (step-major: W×F values for a window model) and returns predictions as
:meth:`~tinylstm.bundle.Bundle.outputs` gives them: (n,) in target units for a regression, (n, K) class
probabilities for a classifier — so every target can be compared on the same samples.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator

import numpy as np

from ..registry import Registry

PredictFn = Callable[[Path, np.ndarray, argparse.Namespace], np.ndarray]
ArgsFn = Callable[[argparse.ArgumentParser], None]
#: ``run(batches) -> predictions per batch``: many batches through one loaded model / built engine.
BatchRunner = Callable[[Iterable[np.ndarray]], Iterator[np.ndarray]]
#: ``session(model_dir, args)``: a context manager yielding a :data:`BatchRunner` (optional per backend).
SessionFn = Callable[[Path, argparse.Namespace], ContextManager[BatchRunner]]



@dataclass(frozen=True)
class Backend:
    name: str
    help: str
    predict: PredictFn
    add_arguments: ArgsFn | None = None
    session: SessionFn | None = None


_REGISTRY: Registry[Backend] = Registry(__name__, __path__, "backend")


def register(name: str, help: str, add_arguments: ArgsFn | None = None,
             session: SessionFn | None = None) -> Callable[[PredictFn], PredictFn]:
    """Decorator: register ``fn(model_dir, X_raw, args) -> y`` as backend ``name`` (``session``: see
    :func:`session`)."""

    def deco(fn: PredictFn) -> PredictFn:
        _REGISTRY.add(name, Backend(name, help, fn, add_arguments, session))
        return fn

    return deco


def all_backends() -> list[Backend]:
    return _REGISTRY.all()


def get(name: str) -> Backend:
    return _REGISTRY.get(name)


def run(name: str, model_dir: Path, X_raw: np.ndarray, args: argparse.Namespace | None = None) -> np.ndarray:
    """Predict raw samples with backend ``name``; returns (n,) float64 in target units, or (n, K) probabilities."""
    return _shaped(get(name).predict(Path(model_dir), np.asarray(X_raw, dtype=np.float64),
                                     args or argparse.Namespace()))


def _shaped(y) -> np.ndarray:
    """float64; (n,) for one output per sample, (n, K) for K > 1."""
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        return y[:, 0]
    return y if y.ndim == 2 else y.reshape(-1)


@contextlib.contextmanager
def session(name: str, model_dir: Path, args: argparse.Namespace | None = None) -> Iterator[BatchRunner]:
    """Predict many batches of raw rows with backend ``name``: yields ``run(batches) -> iterator of (n,) float64``.

    A backend with its own session loads its model / builds its engine once (and may overlap batches); any other
    backend is called once per batch.
    """
    backend, args = get(name), args or argparse.Namespace()

    def cast(ys: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        for y in ys:
            yield _shaped(y)

    if backend.session is None:
        yield lambda batches: cast(backend.predict(Path(model_dir), np.asarray(X, dtype=np.float64), args)
                                   for X in batches)
        return
    with backend.session(Path(model_dir), args) as run:
        yield lambda batches: cast(run(np.asarray(X, dtype=np.float64) for X in batches))
