"""Float backends: the Keras model itself and the numpy golden model over the weight bundle."""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
from pathlib import Path

import numpy as np

from ..bundle import Bundle
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
    p.add_argument("--numpy-dtype", choices=("float64", "float32"), default="float64",
                   help="numpy: arithmetic of the golden model (default %(default)s, the exact maths; float32 is "
                        "about 2.4x faster and within ~3e-7 relative of it)")


def _forward(model_dir: Path, args: argparse.Namespace) -> BatchForward:
    return BatchForward(Bundle.load(model_dir), np.dtype(getattr(args, "numpy_dtype", None) or "float64"))


@contextlib.contextmanager
def _numpy_session(model_dir: Path, args: argparse.Namespace):
    """One batch computed in a worker thread while the caller reads the next (numpy releases the GIL)."""
    forward = _forward(model_dir, args)

    def run(batches):
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            ahead = None
            for X in batches:
                job = pool.submit(forward, X)
                if ahead is not None:
                    yield ahead.result()
                ahead = job
            if ahead is not None:
                yield ahead.result()

    yield run


@register("numpy", "the float golden model: numpy forward pass over the weight bundle (no TensorFlow)",
          add_arguments=_add_numpy_args, session=_numpy_session)
def predict_numpy(model_dir, X_raw, args):
    return _forward(model_dir, args)(X_raw)
