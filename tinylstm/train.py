"""Deterministic training of the Keras model on a :class:`~tinylstm.data.Dataset`."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import atomic
from .bundle import Bundle
from .data import Dataset, Scaler, Split, split, to_sequences
from .errors import UserError

#: Training steps per compiled call (``model.compile(steps_per_execution=...)``): one call per epoch for the
#: reference data (23 batches), instead of a Python round trip per batch. The weights are the same bytes as with
#: 1 (the same ops in the same order; tests/test_reference_model.py remakes the committed reference byte for
#: byte); no callback here acts per batch.
STEPS_PER_EXECUTION = 64


@dataclass
class TrainConfig:
    """Everything that determines the trained weights (with the data file)."""

    seed: int = 0
    epochs: int = 300
    batch_size: int = 16
    learning_rate: float = 5e-3
    optimizer: str = "adam"
    loss: str = "mae"
    lstm_units: list[int] = field(default_factory=lambda: [12, 12])
    dense_units: list[int] = field(default_factory=lambda: [32])
    patience: int = 80
    #: Halve the learning rate after this many epochs without val_loss improvement (0 disables).
    lr_plateau_patience: int = 20
    min_learning_rate: float = 1e-4
    validation_split: float = 0.2
    test_size: float = 0.3
    split_seed: int = 42


@dataclass
class TrainResult:
    model: Any
    bundle: Bundle
    scaler: Scaler
    split: Split
    history: dict[str, list[float]]
    config: TrainConfig
    seconds: float
    best_epoch: int
    dataset: Dataset | None  # the cleaned data the model was trained on (callers need not read the CSV again)
    #: window layout: the series, its windows and the spec (``split`` is then a WindowSplit)
    windows: Any = None


def set_determinism(seed: int) -> None:
    """Seed Python, numpy and TensorFlow, and force deterministic single-threaded TF kernels."""
    from .model import keras

    k = keras()  # first: imports TensorFlow quietly
    import tensorflow as tf

    k.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    try:
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.threading.set_intra_op_parallelism_threads(1)
    except RuntimeError:
        pass  # already initialised in this process: the settings from the first call stay


def _optimizer(name: str, lr: float):
    from .model import keras

    opts = {"adam": "Adam", "rmsprop": "RMSprop", "sgd": "SGD", "adamw": "AdamW", "nadam": "Nadam"}
    if name.lower() not in opts:
        raise UserError(f"unknown optimizer {name!r}; choose one of {', '.join(opts)}")
    return getattr(keras().optimizers, opts[name.lower()])(learning_rate=lr)


class _EpochBar:
    """A tqdm progress bar over epochs showing loss and val_loss (silent with ``quiet``)."""

    def __new__(cls, total: int, quiet: bool):
        from tqdm.auto import tqdm

        from .model import keras

        class Bar(keras().callbacks.Callback):
            def on_train_begin(self, logs=None):
                self.bar = tqdm(total=total, desc="train", unit="epoch", disable=quiet, leave=False)

            def on_epoch_end(self, epoch, logs=None):
                logs = logs or {}
                self.bar.set_postfix(loss=f"{logs.get('loss', float('nan')):.4f}",
                                     val=f"{logs.get('val_loss', float('nan')):.4f}")
                self.bar.update(1)

            def on_train_end(self, logs=None):
                self.bar.close()

        return Bar()


def _callbacks(config: TrainConfig, quiet: bool) -> list:
    """Early stopping on val_loss (best weights restored), the epoch bar, and the plateau learning-rate halving."""
    from .model import keras

    k = keras()
    stop = k.callbacks.EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)
    callbacks = [stop, _EpochBar(config.epochs, quiet)]
    if config.lr_plateau_patience:
        callbacks.append(k.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, verbose=0,
                                                       patience=config.lr_plateau_patience,
                                                       min_lr=config.min_learning_rate))
    return callbacks


def train(ds: Dataset, config: TrainConfig, quiet: bool = False) -> TrainResult:
    """Split, scale (train statistics only), build and fit the model with early stopping."""
    from .model import build_model, bundle_from_keras

    set_determinism(config.seed)
    sp = split(len(ds.y), config.test_size, config.split_seed)
    scaler = Scaler.fit(ds.X[sp.train], ds.y[sp.train], ds.features, ds.target, ds.path)
    x_train = to_sequences(scaler.transform_x(ds.X[sp.train]))
    y_train = scaler.transform_y(ds.y[sp.train]).astype(np.float32)
    if int(len(y_train) * config.validation_split) < 1:
        raise UserError(f"{ds.path}: too few training rows ({len(y_train)}) for a validation split")

    model = build_model(x_train.shape[1], x_train.shape[2], config.lstm_units, config.dense_units)
    model.compile(optimizer=_optimizer(config.optimizer, config.learning_rate), loss=config.loss,
                  steps_per_execution=STEPS_PER_EXECUTION)
    callbacks = _callbacks(config, quiet)
    start = time.perf_counter()
    hist = model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size,
                     validation_split=config.validation_split, shuffle=True, verbose=0, callbacks=callbacks)
    seconds = time.perf_counter() - start
    history = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    meta = {"seed": config.seed, "data_file": ds.path.name, "data_sha256": ds.sha256,
            "train_config": asdict(config), "best_epoch": best_epoch,
            "rows": {"train": int(len(sp.train)), "test": int(len(sp.test))}}
    bundle = bundle_from_keras(model, scaler, ds.features, ds.target, ds.units, meta)
    return TrainResult(model, bundle, scaler, sp, history, config, seconds, best_epoch, ds)


def window_scaler(X_train: np.ndarray, y_train: np.ndarray, classify: bool, features, target: str, path) -> Scaler:
    """The scaler of a window model, fitted on its training windows ``X_train`` (n, W, F): per feature column over
    every row of those windows; the target standardised too for a regression, left as it is (class indices) for a
    classifier. A constant column is an error naming it."""
    rows = X_train.reshape(-1, X_train.shape[2])
    if not classify:
        return Scaler.fit(rows, y_train, features, target, path)
    x_scale = rows.std(axis=0)
    for name, sd in zip(features, x_scale):
        if not sd > 0:
            raise UserError(f"{path}: column {name!r} is constant in the training windows (zero variance)")
    return Scaler(rows.mean(axis=0), x_scale, 0.0, 1.0)


def train_windows(series, spec, config: TrainConfig, quiet: bool = False) -> TrainResult:
    """Train on windows of a time series (``--layout window``): regression (MAE loss, as the feature_per_step
    model) or classification (softmax head, sparse categorical cross-entropy), early stopping on the validation
    windows (the end of the training windows, purged: see :mod:`tinylstm.series`)."""
    from .model import build_model, bundle_from_keras
    from .series import check_classes, split_windows, windows

    set_determinism(config.seed)
    w = windows(series, spec)
    sp = split_windows(w, spec, series.path)
    classify = spec.task == "classify"
    if classify:
        check_classes(w, series.classes, series.path, series.target)
    scaler = window_scaler(w.X[sp.train], w.y[sp.train], classify, series.features, series.target, series.path)

    def xs(idx):
        return np.asarray((w.X[idx] - scaler.x_mean) / scaler.x_scale, dtype=np.float32)

    def ys(idx):
        return (w.y[idx].astype(np.int64) if classify else scaler.transform_y(w.y[idx]).astype(np.float32))

    K = len(series.classes) if classify else 1
    model = build_model(spec.window, len(series.features), config.lstm_units, config.dense_units, K,
                        "softmax" if classify else "linear")
    loss = "sparse_categorical_crossentropy" if classify else config.loss
    model.compile(optimizer=_optimizer(config.optimizer, config.learning_rate), loss=loss,
                  metrics=["accuracy"] if classify else None, steps_per_execution=STEPS_PER_EXECUTION)
    callbacks = _callbacks(config, quiet)
    start = time.perf_counter()
    hist = model.fit(xs(sp.train), ys(sp.train), epochs=config.epochs, batch_size=config.batch_size,
                     validation_data=(xs(sp.validation), ys(sp.validation)), shuffle=True, verbose=0,
                     callbacks=callbacks)
    seconds = time.perf_counter() - start
    history = {key: [float(v) for v in vals] for key, vals in hist.history.items()}
    best_epoch = int(np.argmin(history["val_loss"])) + 1
    meta = {"seed": config.seed, "data_file": series.path.name, "data_sha256": series.sha256,
            "train_config": {**asdict(config), "loss": loss}, "best_epoch": best_epoch,
            "window": spec.window, "horizon": spec.h, "series": spec.as_dict(),
            "rows": {"train": int(len(sp.train)), "validation": int(len(sp.validation)), "test": int(len(sp.test))}}
    if classify:
        meta["classes"] = list(series.classes)
    bundle = bundle_from_keras(model, scaler, series.features, series.target, {}, meta, layout="window")
    return TrainResult(model, bundle, scaler, sp, history, config, seconds, best_epoch, None, (series, w, spec))


def save(result: TrainResult, model_dir: Path, in_place: bool = False) -> None:
    """Write ``model.keras``, ``bundle.npz``, ``config.json``, ``history.json`` and ``split.json``.

    All five are written into a temporary sibling directory and swapped in as one directory, so an interrupted
    save leaves the previous model directory as it was (``in_place``: ``model_dir`` is itself a fresh staging
    directory, write straight into it).
    """
    model_dir = Path(model_dir)
    stage = model_dir if in_place else atomic.stage_dir(model_dir)
    try:
        stage.mkdir(parents=True, exist_ok=True)
        result.model.save(stage / "model.keras")
        result.bundle.save(stage / "bundle.npz")
        atomic.write_json(stage / "config.json", asdict(result.config))
        atomic.write_json(stage / "history.json", result.history)
        split = {"train": result.split.train.tolist(), "test": result.split.test.tolist()}
        if result.windows is not None:  # window indices (tinylstm.series), validation stored too
            split = {"unit": "window", **split, "validation": result.split.validation.tolist()}
        atomic.write_json(stage / "split.json", split)
        if not in_place:
            atomic.swap_in(stage, model_dir)
    finally:
        if not in_place and stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def load_config(model_dir: Path) -> TrainConfig:
    return TrainConfig(**json.loads((Path(model_dir) / "config.json").read_text()))


def load_keras_model(model_dir: Path):
    from .model import keras

    path = Path(model_dir) / "model.keras"
    if not path.exists():
        raise UserError(f"{path}: no Keras model (train one first: tinylstm train --out DIR)")
    return keras().models.load_model(path, compile=False)
