"""Networks of any shape for the target tests: a Keras model with seeded random weights and its bundle.

``window_model(W, F, K)`` gives a ``window``-layout network taking W steps of F values with K outputs (softmax
when ``K > 1`` or ``task="classification"``), the Keras model beside it as the reference. Weights are Keras'
seeded initialisers, with the biases and the head scaled up so that a classifier's probabilities are not all near
1/K (argmax agreement would otherwise be decided by rounding noise). The trained models of ``models/`` are what
the figures use; these are for shape coverage.
"""

from __future__ import annotations

import numpy as np

from tinylstm.data import Scaler


def window_model(window: int = 6, features: int = 3, outputs: int = 1, task: str | None = None,
                 lstm_units=(8, 8), dense_units=(16,), seed: int = 0):
    """(keras_model, bundle) of a random window network. Raw inputs are roughly N(mean, scale) per feature."""
    from tinylstm.model import build_model, bundle_from_keras, keras

    task = task or ("classification" if outputs > 1 else "regression")
    k = keras()
    k.utils.set_random_seed(seed)
    model = build_model(window, features, list(lstm_units), list(dense_units), outputs,
                        "softmax" if task == "classification" else "linear")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        w = layer.get_weights()
        if w:
            w[-1] = rng.normal(0, 0.5, w[-1].shape).astype(np.float32)  # non-zero biases
            if layer.name == "head":
                w[0] = w[0] * 3.0
            layer.set_weights(w)
    names = [f"ch{j}" for j in range(features)]
    x_mean = rng.normal(0, 5, features)
    x_scale = rng.uniform(0.5, 3.0, features)
    if task == "classification":
        scaler = Scaler(x_mean, x_scale, 0.0, 1.0)
        meta = {"window": window, "horizon": 0, "classes": [f"c{k_}" for k_ in range(outputs)]}
    else:
        scaler = Scaler(x_mean, x_scale, 10.0, 2.0)
        meta = {"window": window, "horizon": 1}
    meta["seed"] = seed
    bundle = bundle_from_keras(model, scaler, names, "label" if task == "classification" else "ch0", {}, meta,
                               layout="window")
    return model, bundle


def raw_windows(bundle, n: int = 64, seed: int = 1) -> np.ndarray:
    """n raw samples (n, W*F), step-major, drawn around the scaler's statistics."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.2, (n, bundle.n_steps, bundle.values_per_step))
    X = z * bundle.scaler.x_scale + bundle.scaler.x_mean
    return X.reshape(n, -1)


def keras_outputs(model, bundle, X_raw: np.ndarray) -> np.ndarray:
    """The Keras reference in user units ((n,) target units or (n, K) probabilities)."""
    return bundle.outputs(np.asarray(model(bundle.sequences(X_raw), training=False)))
