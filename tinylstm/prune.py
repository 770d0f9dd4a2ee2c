"""Magnitude pruning of the LSTM matrices, with optional fine-tuning under the mask (Keras: this is training).

Each of the 2·L LSTM matrices (``W1 U1 W2 U2`` for two layers) gets its own target sparsity ``s``: the
``round(s · size)`` entries of smallest magnitude are set to zero (ties broken by position, a stable sort).
``pattern="balanced"`` is an eSELL-friendly variant: inside every group of 4 consecutive inputs of a gate unit
(one row segment of an eSELL block column) the same number of smallest entries is removed, so all rows of a chunk
have equal width and eSELL stores no padding; matrices narrower than 4 inputs fall back to unstructured.

Fine-tuning continues training the saved Keras model on the model's own training rows (its split, read through
:class:`~tinylstm.modeldir.ModelDir`, which also finds the training CSV) with
the zeros re-imposed after every batch, keeping the weights of the best validation epoch. The result is a model
directory of its own (``bundle.npz``, ``model.keras``, ``split.json``, ``prune.json``), by default beside the
source: ``<model>_pruned_50`` for 50 % everywhere.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import atomic, esell, reference
from .bundle import Bundle
from .errors import UserError
from .modeldir import ModelDir

DEFAULT_SPARSITY = 0.5
DEFAULT_FINETUNE_EPOCHS = 80
DEFAULT_FINETUNE_LR = 1e-3
PATTERNS = ("unstructured", "balanced")


def matrix_names(n_layers: int) -> list[str]:
    return [f"{m}{k + 1}" for k in range(n_layers) for m in ("W", "U")]


def parse_sparsities(values: Sequence[float] | None, n_layers: int) -> tuple[float, ...]:
    """``--ws`` values → one fraction per matrix (W1 U1 W2 U2 ...). One value applies to all; values > 1 are
    percentages. ``None`` is the default (50 % everywhere)."""
    n = 2 * n_layers
    if values is None or len(values) == 0:
        return (DEFAULT_SPARSITY,) * n
    vals = [float(v) / 100.0 if float(v) > 1 else float(v) for v in values]
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise UserError(f"--ws: give 1 or {n} sparsities ({' '.join(matrix_names(n_layers))}), got {len(values)}")
    for name, v in zip(matrix_names(n_layers), vals):
        if not 0.0 <= v < 1.0:
            raise UserError(f"--ws: sparsity of {name} must be in [0, 1) (or a percentage < 100), got {v:g}")
    return tuple(vals)


def tag(ws: Sequence[float], finetune: bool = True, pattern: str = "unstructured") -> str:
    """Directory tag: ``50`` for 50 % everywhere, ``50-50-30-30`` otherwise; ``_raw`` without fine-tuning."""
    pct = [f"{round(100 * v, 2):g}" for v in ws]
    base = pct[0] if len(set(pct)) == 1 else "-".join(pct)
    return base + ("" if pattern == "unstructured" else f"_{pattern}") + ("" if finetune else "_raw")


def magnitude_mask(m: np.ndarray, sparsity: float, pattern: str = "unstructured") -> np.ndarray:
    """Boolean keep-mask of a bundle kernel (inputs × 4H) removing the smallest ``sparsity`` share."""
    m = np.asarray(m)
    keep = np.ones(m.shape, bool)
    if pattern == "balanced" and m.shape[0] >= 4:
        # groups of 4 consecutive inputs per output column (eSELL block-column row segments)
        rows = m.shape[0]
        for c0 in range(0, rows, 4):
            seg = np.abs(m[c0:c0 + 4])                      # (<=4, 4H)
            drop = int(round(sparsity * seg.shape[0]))
            if drop:
                order = np.argsort(seg, axis=0, kind="stable")[:drop]
                np.put_along_axis(keep[c0:c0 + 4], order, False, axis=0)
        return keep
    k = int(round(sparsity * m.size))
    if k:
        idx = np.argsort(np.abs(m).ravel(), kind="stable")[:k]
        keep.ravel()[idx] = False
    return keep


def masks_for(bundle: Bundle, ws: Sequence[float],
              pattern: str = "unstructured") -> list[tuple[np.ndarray, np.ndarray]]:
    if pattern not in PATTERNS:
        raise UserError(f"--pattern must be one of {', '.join(PATTERNS)}, got {pattern!r}")
    return [(magnitude_mask(l.W, ws[2 * k], pattern), magnitude_mask(l.U, ws[2 * k + 1], pattern))
            for k, l in enumerate(bundle.lstm)]


def apply_masks(bundle: Bundle, masks) -> Bundle:
    out = copy.deepcopy(bundle)
    for layer, (mw, mu) in zip(out.lstm, masks):
        layer.W = (np.asarray(layer.W) * mw).astype(np.float32)
        layer.U = (np.asarray(layer.U) * mu).astype(np.float32)
    return out


def achieved(bundle: Bundle) -> dict[str, float]:
    """Actual zero share per LSTM matrix."""
    out = {}
    for name, m in zip(matrix_names(len(bundle.lstm)), [a for l in bundle.lstm for a in (l.W, l.U)]):
        out[name] = float(np.mean(np.asarray(m) == 0))
    return out


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def training_csv(model: ModelDir, data: Path | None) -> Path:
    """The training CSV for fine-tuning (:meth:`ModelDir.data_path`); when none is found, the error says that
    fine-tuning needs it."""
    try:
        return model.data_path(data)
    except UserError as err:
        if data is not None:
            raise
        name = model.bundle.meta.get("data_file", "the training CSV")
        want = str(model.bundle.meta.get("data_sha256"))[:16]
        raise UserError(f"fine-tuning needs the training CSV {name!r} (SHA-256 {want}…): pass --data FILE "
                        f"({err})") from err


@dataclass
class PruneResult:
    out_dir: Path
    bundle: Bundle
    info: dict


def finetune(model_dir: Path, bundle: Bundle, masks, data: Path | None, epochs: int, lr: float,
             quiet: bool = True):
    """Continue training the Keras model under the masks; return (keras model, history dict)."""
    from .model import keras  # TensorFlow: imported only when fine-tuning
    from .train import STEPS_PER_EXECUTION, load_keras_model, set_determinism

    model_dir = Path(model_dir)
    model_info = ModelDir.load(model_dir)
    csv = training_csv(model_info, data)
    if model_info.split is None:
        raise UserError(f"{model_dir / 'split.json'}: missing (fine-tuning needs the model's training split)")
    X_train, y_train = model_info.rows("train", csv)
    seed = int(bundle.meta.get("seed", 0))
    set_determinism(seed)
    k = keras()
    model = load_keras_model(model_dir)
    cells = [layer.cell for layer in model.layers if isinstance(layer, k.layers.LSTM)]
    if len(cells) != len(masks):
        raise UserError(f"{model_dir}: Keras model has {len(cells)} LSTM layers, bundle {len(masks)}")
    fmasks = [(mw.astype(np.float32), mu.astype(np.float32)) for mw, mu in masks]

    def impose():
        for cell, (mw, mu) in zip(cells, fmasks):
            cell.kernel.assign(cell.kernel * mw)
            cell.recurrent_kernel.assign(cell.recurrent_kernel * mu)

    # the zeros are re-imposed after every optimizer step inside the compiled train step (a variable constraint:
    # Keras applies it right after the update, the same product an after-batch callback computes, without a
    # Python round trip per batch), so several steps can run per call (train.STEPS_PER_EXECUTION)
    for cell, (mw, mu) in zip(cells, fmasks):
        cell.kernel.constraint = _Mask(mw)
        cell.recurrent_kernel.constraint = _Mask(mu)
    impose()
    x = bundle.sequences(X_train)
    y = bundle.scaler.transform_y(y_train).astype(np.float32)
    cfg = bundle.meta.get("train_config", {})
    model.compile(optimizer=k.optimizers.Adam(learning_rate=lr), loss=cfg.get("loss", "mae"),
                  steps_per_execution=STEPS_PER_EXECUTION)
    hist = {"loss": [], "val_loss": []}
    if epochs > 0:
        stop = k.callbacks.EarlyStopping(monitor="val_loss", patience=finetune_patience(epochs),
                                         restore_best_weights=True)
        h = model.fit(x, y, epochs=epochs, batch_size=int(cfg.get("batch_size", 16)),
                      validation_split=float(cfg.get("validation_split", 0.2)), shuffle=True, verbose=0,
                      callbacks=[stop])
        hist = {key: [float(v) for v in vals] for key, vals in h.history.items()}
    impose()
    return model, hist


def finetune_patience(epochs: int) -> int:
    """Early-stopping patience of the fine-tune (epochs without a lower validation loss): 10 for the default 80.

    Chosen on the validation rows of the reference model at 50 %: its validation loss is lowest at epoch 18, and the
    next 20 epochs never go below it, so patience 10 keeps the same best epoch (the same weights) as the earlier
    ``epochs // 4`` = 20 and stops after 28 epochs instead of 38; 3, 5 and 8 stop at an earlier, worse minimum
    (epoch 5, validation loss 0.0813 vs 0.0759 standardised MAE)."""
    return max(5, epochs // 8)


class _Mask:
    """A Keras variable constraint: the variable times a fixed 0/1 mask (float32, the variable's shape)."""

    def __init__(self, mask: np.ndarray) -> None:
        self.mask = mask

    def __call__(self, variable):
        return variable * self.mask


def prune_model(model_dir: Path, out_dir: Path | None = None, ws: Sequence[float] | None = None,
                epochs: int = DEFAULT_FINETUNE_EPOCHS, lr: float = DEFAULT_FINETUNE_LR, data: Path | None = None,
                pattern: str = "unstructured", quiet: bool = True) -> PruneResult:
    """Prune ``model_dir``'s LSTM matrices (and fine-tune for ``epochs`` > 0); write a model directory."""
    model_dir = Path(model_dir)
    src = Bundle.load(model_dir)
    ws = parse_sparsities(ws, len(src.lstm))
    out_dir = Path(out_dir) if out_dir else default_dir(model_dir, ws, epochs > 0, pattern)
    masks = masks_for(src, ws, pattern)
    start = time.perf_counter()
    info = {"source_bundle_sha256": _sha(model_dir / "bundle.npz"), "sparsity_target": dict(
        zip(matrix_names(len(src.lstm)), ws)), "pattern": pattern, "finetune_epochs": int(epochs),
        "finetune_lr": lr}
    if epochs > 0:
        from .model import bundle_from_keras

        model, hist = finetune(model_dir, src, masks, data, epochs, lr, quiet)
        tuned = bundle_from_keras(model, src.scaler, src.features, src.target, src.units, dict(src.meta),
                                  layout=src.layout)
        pruned = apply_masks(tuned, masks)
        info["finetune_epochs_run"] = len(hist["loss"])
        info["finetune_best_val_loss"] = min(hist["val_loss"]) if hist["val_loss"] else None
        with atomic.atomic_path(out_dir / "model.keras", suffix=".keras") as tmp:
            model.save(tmp)
    else:
        pruned = apply_masks(src, masks)
    info["sparsity_achieved"] = achieved(pruned)
    info["seconds"] = round(time.perf_counter() - start, 2)
    pruned.meta = {**src.meta, "pruning": {k: v for k, v in info.items() if k != "seconds"}}
    pruned.save(out_dir / "bundle.npz")
    for name in ("split.json", "config.json", "history.json"):
        if (model_dir / name).exists():
            atomic.write_bytes(out_dir / name, (model_dir / name).read_bytes())
    atomic.write_json(out_dir / "prune.json", info)
    if not quiet:
        ach = ", ".join(f"{k} {100 * v:.1f} %" for k, v in info["sparsity_achieved"].items())
        print(f"prune: {ach}; fine-tuned {info.get('finetune_epochs_run', 0)} epochs in {info['seconds']} s; "
              f"wrote {out_dir}")
    return PruneResult(out_dir, pruned, info)


def default_dir(model_dir: Path, ws: Sequence[float], finetune: bool = True, pattern: str = "unstructured") -> Path:
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.name}_pruned_{tag(ws, finetune, pattern)}"


def is_pruned(model_dir: Path) -> bool:
    return "pruning" in Bundle.load(model_dir).meta


def ensure_pruned(model_dir: Path, ws: Sequence[float] | None = None, epochs: int = DEFAULT_FINETUNE_EPOCHS,
                  data: Path | None = None, pattern: str = "unstructured", quiet: bool = True) -> Path:
    """The pruned model directory for ``model_dir`` at ``ws`` (default 50 %), built if missing or stale.

    A ``model_dir`` that is itself a pruned model is returned as is when no ``ws`` is asked for.
    """
    model_dir = Path(model_dir)
    src = Bundle.load(model_dir)
    if "pruning" in src.meta:
        have = src.meta["pruning"].get("sparsity_target", {})
        if ws is None or have == dict(zip(matrix_names(len(src.lstm)), parse_sparsities(ws, len(src.lstm)))):
            return model_dir
        raise UserError(f"{model_dir}: already pruned ({', '.join(f'{k} {100 * v:g} %' for k, v in have.items())}); "
                        f"give the unpruned model to prune to other sparsities")
    wsv = parse_sparsities(ws, len(src.lstm))
    out = default_dir(model_dir, wsv, epochs > 0, pattern)
    if (out / "bundle.npz").exists():
        meta = Bundle.load(out).meta.get("pruning", {})
        if (meta.get("source_bundle_sha256") == _sha(model_dir / "bundle.npz")
                and meta.get("finetune_epochs") == epochs and meta.get("pattern") == pattern
                and meta.get("sparsity_target") == dict(zip(matrix_names(len(src.lstm)), wsv))):
            return out
    return prune_model(model_dir, out, wsv, epochs, DEFAULT_FINETUNE_LR, data, pattern, quiet).out_dir


def sweep(model_dir: Path, levels: Sequence[float], out_root: Path, epochs: int = DEFAULT_FINETUNE_EPOCHS,
          data: Path | None = None, pattern: str = "unstructured", quiet: bool = True) -> list[dict]:
    """Test MAE (target units) of the float model, the pruned model and the fine-tuned one per sparsity level,
    each evaluated with the eSELL fp16 golden model (and the float golden for the pruned weights)."""
    model_dir = Path(model_dir)
    model = ModelDir.load(model_dir)
    src = model.bundle
    X, y = model.rows("test", training_csv(model, data))
    mae = lambda p: float(np.mean(np.abs(y - p)))  # noqa: E731
    base = mae(reference.predict(src, X))
    rows = []
    for s in levels:
        ws = (float(s),) * (2 * len(src.lstm))
        raw = apply_masks(src, masks_for(src, ws, pattern))
        row = {"sparsity": float(s), "float_mae": base, "pruned_float_mae": mae(reference.predict(raw, X)),
               "pruned_esell_mae": mae(esell.predict(raw, X))}
        if epochs > 0:
            res = prune_model(model_dir, Path(out_root) / f"pruned_{tag(ws, True, pattern)}", ws, epochs,
                              DEFAULT_FINETUNE_LR, data, pattern, quiet)
            row["finetuned_float_mae"] = mae(reference.predict(res.bundle, X))
            row["finetuned_esell_mae"] = mae(esell.predict(res.bundle, X))
            row["finetuned_dir"] = str(res.out_dir)
        rows.append(row)
    return rows


def plot_sweep(rows: list[dict], unit: str, path: Path) -> Path:
    """Test MAE vs sparsity: float model, magnitude-pruned (no fine-tuning), fine-tuned under the mask."""
    from .plots import _plt, _save

    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    s = [100 * r["sparsity"] for r in rows]
    ax.axhline(rows[0]["float_mae"], color="k", lw=1, ls="--", label="float model (dense, fp32)")
    ax.plot(s, [r["pruned_esell_mae"] for r in rows], "o-", label="pruned, eSELL fp16 (no fine-tuning)")
    if "finetuned_esell_mae" in rows[0]:
        ax.plot(s, [r["finetuned_esell_mae"] for r in rows], "s-", label="pruned + fine-tuned, eSELL fp16")
    ax.set(title="Test accuracy vs LSTM weight sparsity (same sparsity on W1 U1 W2 U2)",
           xlabel="weight sparsity [%]", ylabel=f"test MAE [{unit}]" if unit else "test MAE", yscale="log")
    ax.legend()
    return _save(fig, path)
