"""Float backends: the Keras model itself and the numpy golden model over the weight bundle."""

from __future__ import annotations

import numpy as np

from . import register


@register("keras", "the trained Keras model (TensorFlow)")
def predict_keras(model_dir, X_raw, args):
    from ..bundle import Bundle
    from ..data import to_sequences
    from ..train import load_keras_model

    bundle = Bundle.load(model_dir)
    model = load_keras_model(model_dir)
    seq = to_sequences(bundle.scaler.transform_x(X_raw), bundle.layout)
    return bundle.scaler.inverse_y(np.asarray(model.predict(seq, verbose=0))[:, 0])


@register("numpy", "the float golden model: numpy forward pass over the weight bundle (no TensorFlow)")
def predict_numpy(model_dir, X_raw, args):
    from ..bundle import Bundle
    from ..reference import predict

    return predict(Bundle.load(model_dir), X_raw)
