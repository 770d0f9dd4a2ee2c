"""The Keras network and its conversion to a :class:`~tinylstm.bundle.Bundle`.

This module and :mod:`tinylstm.train` are the only places that import Keras; exporters read the bundle.
"""

from __future__ import annotations

import os
import sys
from typing import Sequence

import numpy as np

from .bundle import Bundle, DenseLayer, LstmLayer
from .data import Scaler

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # plain kernels: the same numbers on every x86 machine


def _import_tensorflow_quietly() -> None:
    """Import TensorFlow with file descriptor 2 muted: TF 2.21 prints absl/CUDA notices at import that ignore
    ``TF_CPP_MIN_LOG_LEVEL``. Set ``TINYLSTM_TF_LOGS=1`` to see them."""
    if os.environ.get("TINYLSTM_TF_LOGS") or "tensorflow" in sys.modules:
        import tensorflow  # noqa: F401

        return
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def keras():
    """Import Keras (TensorFlow backend) without TensorFlow's start-up noise."""
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    _import_tensorflow_quietly()
    import keras as _keras

    return _keras


def build_model(
    n_steps: int,
    values_per_step: int = 1,
    lstm_units: Sequence[int] = (12, 12),
    dense_units: Sequence[int] = (32,),
    n_outputs: int = 1,
    head_activation: str = "linear",
):
    """``LSTM(12, return_sequences) → LSTM(12) → Dense(32, relu) → Dense(1)`` by default (2,321 params).

    ``head_activation="softmax"`` with ``n_outputs`` classes gives a classifier head.
    """
    k = keras()
    layers = [k.Input(shape=(n_steps, values_per_step), name="sequence")]
    for idx, units in enumerate(lstm_units):
        layers.append(k.layers.LSTM(units, return_sequences=idx < len(lstm_units) - 1, name=f"lstm{idx}"))
    for idx, units in enumerate(dense_units):
        layers.append(k.layers.Dense(units, activation="relu", name=f"dense{idx}"))
    layers.append(k.layers.Dense(n_outputs, activation=head_activation, name="head"))
    return k.Sequential(layers, name="tinylstm")


def bundle_from_keras(model, scaler: Scaler, features: Sequence[str], target: str,
                      units: dict[str, str] | None = None, meta: dict | None = None,
                      layout: str = "feature_per_step") -> Bundle:
    """Copy a trained Keras model's weights into a framework-free bundle (gate order i, f, c, o).

    A ``window`` layout needs ``meta["window"]`` (and ``meta["horizon"]``); a softmax head makes a classifier,
    whose class names are ``meta["classes"]``.
    """
    k = keras()
    lstm, dense = [], []
    for layer in model.layers:
        weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
        if isinstance(layer, k.layers.LSTM):
            if layer.recurrent_activation.__name__ != "sigmoid" or layer.activation.__name__ != "tanh":
                raise ValueError(f"{layer.name}: only sigmoid/tanh LSTMs are supported")
            if not layer.use_bias:
                weights.append(np.zeros(4 * layer.units, np.float32))
            lstm.append(LstmLayer(weights[0], weights[1], weights[2], bool(layer.return_sequences)))
        elif isinstance(layer, k.layers.Dense):
            dense.append(DenseLayer(weights[0], weights[1], layer.activation.__name__))
        else:
            raise ValueError(f"{layer.name}: layer type {type(layer).__name__} has no bundle form")
    task = "classification" if dense and dense[-1].activation == "softmax" else "regression"
    return Bundle(lstm, dense, scaler, list(features), target, dict(units or {}), layout, task, dict(meta or {}))
