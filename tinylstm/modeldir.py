"""One trained model directory, loaded once: the weight bundle, the split, the training config, the data.

Layout (written by ``tinylstm train`` / :func:`tinylstm.train.save`)::

    bundle.npz    the weight bundle (:class:`~tinylstm.bundle.Bundle`)
    split.json    {"train": [row indices], "test": [row indices]} into the cleaned training CSV; for the window
                  layout {"unit": "window", "train", "validation", "test": [window indices]} (tinylstm.series)
    config.json   the training configuration
    history.json  loss curves (optional)
    model.keras   the Keras model (optional: not needed by any exporter)
    prune.json    present in a pruned model directory (``tinylstm prune``)

Every reader of a model directory goes through :class:`ModelDir`, so there is one rule for finding the training
CSV (:meth:`ModelDir.data_path`) and one error for each thing that is missing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .bundle import Bundle
from .data import DEFAULT_CSV, Dataset, Split, load_dataset, sha256_of
from .errors import UserError


@dataclass
class ModelDir:
    """A model directory. ``bundle`` and ``split`` are loaded eagerly; the dataset on first use."""

    path: Path
    bundle: Bundle
    split: Split | None
    config: dict[str, Any] = field(default_factory=dict)
    #: window layout: validation window indices (the train/test ones are in ``split``)
    validation: np.ndarray | None = None
    prune: dict[str, Any] | None = None
    _datasets: dict[str, Dataset] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, path: str | Path) -> "ModelDir":
        path = Path(path)
        bundle = Bundle.load(path)
        split_file = path / "split.json"
        split, validation = None, None
        if split_file.exists():
            try:
                obj = json.loads(split_file.read_text())
                split = Split(np.asarray(obj["train"], dtype=np.int64), np.asarray(obj["test"], dtype=np.int64))
                if obj.get("unit") == "window":
                    validation = np.asarray(obj["validation"], dtype=np.int64)
            except (ValueError, KeyError, TypeError) as err:
                raise UserError(f"{split_file}: not a tinylstm split file ({err})") from err
        config = _json_or_empty(path / "config.json")
        prune = _json_or_empty(path / "prune.json") or None
        return cls(path, bundle, split, config, prune=prune, validation=validation)

    @property
    def is_pruned(self) -> bool:
        return self.prune is not None

    # ------------------------------------------------------------------ the training CSV
    def data_path(self, data: str | Path | None = None) -> Path:
        """The CSV this model was trained on: ``data`` when given (checked against the bundle's SHA-256), else
        the first of ``data/<recorded name>``, the default CSV, the recorded name, and the CSV that
        ``tinylstm run`` recorded in ``<model>/../report.json``, whose SHA-256 matches the bundle's."""
        want = self.bundle.meta.get("data_sha256")
        name = self.bundle.meta.get("data_file", DEFAULT_CSV.name)
        if data is not None:
            data = Path(data)
            if not data.is_file():
                raise UserError(f"{data}: no such file (the CSV the model {self.path} was trained on)")
            if want and sha256_of(data) != want:
                raise UserError(f"{data}: not the file the model {self.path} was trained on (SHA-256 differs); "
                                f"pass --data with {name}")
            return data
        candidates = [Path("data") / name, DEFAULT_CSV, Path(name), _ROOT / "data" / name]
        report = self.path.parent / "report.json"
        if report.is_file():
            try:
                candidates.append(Path(json.loads(report.read_text()).get("data", {}).get("file", "")))
            except ValueError:
                pass
        for cand in candidates:
            if cand.is_file() and (not want or sha256_of(cand) == want):
                return cand
        hint = " (tinylstm data fetch downloads it)" if name == DEFAULT_CSV.name else ""
        raise UserError(f"{self.path}: needs its training CSV {name!r} (SHA-256 {str(want)[:16]}…), not found in "
                        f"data/{hint}; pass --data FILE")

    def dataset(self, data: str | Path | None = None) -> Dataset:
        """The cleaned training data (loaded once per path)."""
        path = self.data_path(data)
        key = str(path.resolve())
        if key not in self._datasets:
            self._datasets[key] = load_dataset(path, self.bundle.features, self.bundle.target)
        return self._datasets[key]

    @property
    def series_spec(self):
        """The :class:`~tinylstm.series.SeriesSpec` of a window-layout model (None for feature_per_step)."""
        from .series import SeriesSpec

        meta = self.bundle.meta.get("series")
        return SeriesSpec.from_dict(meta) if self.bundle.layout == "window" and meta else None

    def windows(self, data: str | Path | None = None):
        """(series, windows) of a window-layout model's training CSV (loaded once per path)."""
        from .series import load_series, windows

        path = self.data_path(data)
        key = "windows:" + str(path.resolve())
        if key not in self._datasets:
            spec = self.series_spec
            target = self.bundle.target
            series = load_series(path, self.bundle.features, target, spec,
                                 self.bundle.classes if self.bundle.is_classifier else None)
            self._datasets[key] = (series, windows(series, spec))
        return self._datasets[key]

    def rows(self, which: str, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Raw ``(X, y)`` of the ``train``, ``test`` (or, window layout, ``validation``) samples of this model's
        split: X (n, n_inputs) step-major raw values; y target units, or the class index for a classifier."""
        if self.split is None:
            raise UserError(f"{self.path / 'split.json'}: missing (the model directory must come from tinylstm train)")
        if which not in ("train", "test", "validation"):
            raise ValueError(which)
        if self.bundle.layout == "window":
            _, w = self.windows(data)
            idx = self.validation if which == "validation" else getattr(self.split, which)
            if idx is None or (len(idx) and int(idx.max()) >= len(w)):
                raise UserError(f"{self.path}: its split does not match the windows of its CSV; wrong --data?")
            return w.X[idx].reshape(len(idx), -1), w.y[idx]
        if which == "validation":
            raise UserError(f"{self.path}: a feature_per_step model keeps no validation rows (Keras' split)")
        ds = self.dataset(data)
        idx = getattr(self.split, which)
        if len(idx) and int(idx.max()) >= len(ds.y):
            raise UserError(f"{ds.path}: has {len(ds.y)} rows, fewer than the model's split; wrong --data?")
        return ds.X[idx], ds.y[idx]


def validation_rows(model: ModelDir, data: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Raw ``(X, y)`` of a model's validation samples (what model selection scores on; the test rows are not
    read): the validation windows (window layout), or the tail of the training rows that Keras'
    ``validation_split`` held out while training (feature_per_step; 89 rows for the reference data)."""
    if model.bundle.layout == "window":
        return model.rows("validation", data)
    from .train import TrainConfig

    X, y = model.rows("train", data)
    cfg = TrainConfig(**{k: v for k, v in model.config.items() if k in TrainConfig.__dataclass_fields__})
    n_val = int(len(y) * cfg.validation_split)
    return X[len(y) - n_val:], y[len(y) - n_val:]


_ROOT = Path(__file__).resolve().parents[1]


def _json_or_empty(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as err:
        raise UserError(f"{path}: not valid JSON ({err})") from err
