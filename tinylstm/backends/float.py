"""Float backends: the Keras model itself and the numpy golden model over the weight bundle."""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import os
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from ..bundle import Bundle
from ..errors import UserError
from ..reference import BatchForward
from . import register


def _keras_model(model_dir):
    from ..train import load_keras_model

    return load_keras_model(model_dir)


def _keras_predict(bundle, model, X_raw):
    return bundle.outputs(np.asarray(model.predict(bundle.sequences(X_raw), verbose=0)))


@contextlib.contextmanager
def _keras_session(model_dir: Path, args: argparse.Namespace):
    bundle, model = Bundle.load(model_dir), _keras_model(model_dir)
    yield lambda batches: (_keras_predict(bundle, model, X) for X in batches)


@register("keras", "the trained Keras model (TensorFlow)", session=_keras_session)
def predict_keras(model_dir, X_raw, args):
    return _keras_predict(Bundle.load(model_dir), _keras_model(model_dir), X_raw)


def _add_numpy_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--numpy-dtype", choices=("float64", "float32"), default="float32",
                   help="numpy: arithmetic of the golden model (default %(default)s: about 2.4x faster than "
                        "float64, within ~3e-7 relative of it and held to the float engines' 1e-4 L/100km by the "
                        "tests; float64 is the exact maths the other targets are checked against)")
    p.add_argument("--numpy-workers", type=int, default=None,
                   help="numpy in tinylstm predict: threads computing batches side by side (default: the CPU count, "
                        "at most 4; the same bytes for every count)")


def _numpy_workers(args: argparse.Namespace) -> int:
    n = getattr(args, "numpy_workers", None)
    n = min(os.cpu_count() or 1, 4) if n is None else n
    if n < 1:
        raise UserError(f"--numpy-workers must be >= 1, got {n}")
    return n


def _forward(model_dir: Path, args: argparse.Namespace) -> BatchForward:
    return BatchForward(Bundle.load(model_dir), np.dtype(getattr(args, "numpy_dtype", None) or "float64"))


@contextlib.contextmanager
def _numpy_session(model_dir: Path, args: argparse.Namespace):
    """Batches computed by ``--numpy-workers`` threads side by side while the caller reads the next (numpy releases
    the GIL in its loops), results in order. A batch's result does not depend on the thread (each is one call of
    the same :class:`~tinylstm.reference.BatchForward`, BLAS held to one thread for the whole session: per-call
    limits would restore each other's settings across threads)."""
    forward = _forward(model_dir, args)
    workers = _numpy_workers(args)

    def run(batches):
        with threadpool_limits(1, user_api="blas"), concurrent.futures.ThreadPoolExecutor(workers) as pool:
            flight: collections.deque[concurrent.futures.Future] = collections.deque()
            for X in batches:
                flight.append(pool.submit(forward, X))
                if len(flight) > workers:
                    yield flight.popleft().result()
            while flight:
                yield flight.popleft().result()

    yield run


@register("numpy", "the float golden model: numpy forward pass over the weight bundle (no TensorFlow)",
          add_arguments=_add_numpy_args, session=_numpy_session)
def predict_numpy(model_dir, X_raw, args):
    return _forward(model_dir, args)(X_raw)
