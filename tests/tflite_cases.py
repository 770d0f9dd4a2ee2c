"""The networks the TFLite window/stream tests share, built once per test process.

* :func:`shape_case`: a random window network of ``tests/shapes.py`` (the Keras model is the reference), its
  flatbuffers (:func:`tinylstm.tflite_build.build_bundle`, int8 calibrated on 256 random windows drawn with
  another seed than the 64 test windows).
* :func:`digits`: the committed ``models/digits`` with its CSV (``tinylstm data example digits``, written to
  ``data/digits.csv`` when the checkout has none) and its default ``export tflite`` build (arenas measured).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from shapes import keras_outputs, raw_windows, window_model

ROOT = Path(__file__).resolve().parents[1]
DIGITS_MODEL = ROOT / "models" / "digits"
DIGITS_CSV = ROOT / "data" / "digits.csv"
#: (W, F, K): a 4-class classifier and a one-output regression.
SHAPES = ((6, 3, 4), (5, 2, 1))


@lru_cache(maxsize=None)
def shape_case(window: int, features: int, outputs: int):
    """(keras_model, bundle, build, X_test raw (64, W*F), Keras outputs on X_test)."""
    from tinylstm import tflite_build

    keras_model, bundle = window_model(window, features, outputs)
    calib = bundle.sequences(raw_windows(bundle, 256, seed=2))
    b = tflite_build.build_bundle(bundle, calib)
    X = raw_windows(bundle, 64, seed=1)
    return keras_model, bundle, b, X, keras_outputs(keras_model, bundle, X)


def digits_csv() -> Path:
    from tinylstm import examples

    if not DIGITS_CSV.exists():
        examples.write("digits", DIGITS_CSV)
    return DIGITS_CSV


@lru_cache(maxsize=None)
def digits():
    """(ModelDir, build, X_test raw, y_test class indices, Keras probabilities on X_test)."""
    from tinylstm import tflite_build
    from tinylstm.modeldir import ModelDir
    from tinylstm.train import load_keras_model

    csv = digits_csv()
    model = ModelDir.load(DIGITS_MODEL)
    b = tflite_build.build(model, csv)
    X, y = model.rows("test", csv)
    keras = load_keras_model(DIGITS_MODEL)
    ker = model.bundle.outputs(np.asarray(keras.predict(model.bundle.sequences(X), verbose=0)))
    return model, b, X, y, ker
