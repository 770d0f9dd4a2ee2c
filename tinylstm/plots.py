"""Figures (PNG, titled, axes with units). Every function writes one file atomically and returns its path."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from . import atomic


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "svg.hashsalt": "tinylstm"})
    return plt


def _save(fig, path: Path) -> Path:
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return Path(path)


def _unit(unit: str) -> str:
    return f" [{unit}]" if unit else ""


def loss_curves(history: dict[str, list[float]], y_scale: float, unit: str, path: Path) -> Path:
    """Training vs validation loss per epoch, converted from standardised MAE to target units."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax.plot(epochs, np.asarray(history["loss"]) * y_scale, label="training")
    ax.plot(epochs, np.asarray(history["val_loss"]) * y_scale, label="validation")
    best = int(np.argmin(history["val_loss"])) + 1
    ax.axvline(best, color="grey", ls="--", lw=1, label=f"best epoch {best} (weights restored)")
    ax.set(title="Training vs validation loss (MAE)", xlabel="epoch", ylabel=f"MAE{_unit(unit)}", yscale="log")
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no fractional epochs on short runs
    # plain numbers (0.3, 0.5, 1, 2) rather than 3×10⁻¹; label minor ticks at mantissas 2, 3, 5 only
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(FuncFormatter(
        lambda v, _: f"{v:g}" if v > 0 and round(v / 10 ** np.floor(np.log10(v)), 6) in (2, 3, 5) else ""))
    ax.legend()
    return _save(fig, path)


def _resid_lines(ax, resid: np.ndarray, vertical: bool) -> None:
    mean, std = resid.mean(), resid.std()
    line = ax.axvline if vertical else ax.axhline
    line(mean, color="k", lw=1.2, label=f"mean {mean:+.3f}")
    line(mean + 2 * std, color="r", ls="--", lw=1, label=f"±2σ (σ={std:.3f})")
    line(mean - 2 * std, color="r", ls="--", lw=1)


def residuals(splits: dict[str, tuple[np.ndarray, np.ndarray]], unit: str, path: Path) -> Path:
    """Residual (actual − predicted) vs predicted, one panel per split, with mean and ±2σ lines."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4), sharey=True)
    for ax, (name, (y, p)) in zip(np.atleast_1d(axes), splits.items()):
        resid = y - p
        ax.scatter(p, resid, s=10, alpha=0.6)
        _resid_lines(ax, resid, vertical=False)
        ax.set(title=f"Residuals vs predicted ({name})", xlabel=f"predicted{_unit(unit)}",
               ylabel=f"residual{_unit(unit)}")
        ax.legend(fontsize=8)
    return _save(fig, path)


def residual_histograms(splits: dict[str, tuple[np.ndarray, np.ndarray]], unit: str, path: Path) -> Path:
    """Histogram of residuals per split with mean and ±2σ lines."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(splits), figsize=(6 * len(splits), 4))
    for ax, (name, (y, p)) in zip(np.atleast_1d(axes), splits.items()):
        resid = y - p
        ax.hist(resid, bins=30, alpha=0.75)
        _resid_lines(ax, resid, vertical=True)
        ax.set(title=f"Residual histogram ({name})", xlabel=f"residual{_unit(unit)}", ylabel="rows")
        ax.legend(fontsize=8)
    return _save(fig, path)


def predicted_vs_actual(splits: dict[str, tuple[np.ndarray, np.ndarray]], label: str, unit: str,
                        path: Path) -> Path:
    """Scatter of predicted vs actual with the identity line."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    lo = min(min(y.min(), p.min()) for y, p in splits.values())
    hi = max(max(y.max(), p.max()) for y, p in splits.values())
    for name, (y, p) in splits.items():
        ax.scatter(y, p, s=10, alpha=0.6, label=name)
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="identity")
    ax.set(title=f"Predicted vs actual {label}", xlabel=f"actual{_unit(unit)}", ylabel=f"predicted{_unit(unit)}")
    ax.legend()
    return _save(fig, path)


def series(y: np.ndarray, p: np.ndarray, label: str, unit: str, path: Path) -> Path:
    """Actual and predicted values over the test rows (in split order)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4))
    x = np.arange(len(y))
    ax.plot(x, y, lw=1, label="actual")
    ax.plot(x, p, lw=1, label="predicted")
    ax.set(title=f"{label}: test rows, actual vs predicted", xlabel="test row", ylabel=f"{label}{_unit(unit)}")
    ax.legend()
    return _save(fig, path)


def pairplot(columns: dict[str, np.ndarray], path: Path) -> Path:
    """Seaborn pairplot of the used columns (names carry units)."""
    import pandas as pd
    import seaborn as sns

    _plt()
    grid = sns.pairplot(pd.DataFrame(columns), corner=True, plot_kws={"s": 10, "alpha": 0.6})
    grid.figure.suptitle("Pairwise relationships of the used columns", y=1.02)
    return _save(grid.figure, path)


def spearman_heatmap(columns: dict[str, np.ndarray], path: Path) -> Path:
    """Spearman rank correlation heatmap of the used columns."""
    import pandas as pd
    import seaborn as sns

    plt = _plt()
    corr = pd.DataFrame(columns).corr(method="spearman")
    fig, ax = plt.subplots(figsize=(6, 5))
    sns.heatmap(corr, annot=True, fmt=".2f", cmap="vlag", vmin=-1, vmax=1, ax=ax, square=True,
                cbar_kws={"label": "Spearman ρ"})
    ax.grid(False)  # the rc grid would cross the cells
    ax.set_title("Spearman correlation of the used columns")
    return _save(fig, path)


def labelled(names: Sequence[str], units: dict[str, str]) -> list[str]:
    """Column names with units appended, for plots: ``ENGINE SIZE [L]``."""
    return [f"{n}{_unit(units.get(n, ''))}" for n in names]


def confusion_matrix(confusion: Sequence[Sequence[int]], classes: Sequence[str], title: str, path: Path) -> Path:
    """Confusion matrix of the test windows: counts, rows actual, columns predicted, row-normalised colour."""
    plt = _plt()
    cm = np.asarray(confusion, dtype=np.int64)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 0.8 + 0.5 * k))
    rates = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if rates[i, j] > 0.5 else "black")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45 if k > 8 else 0)
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.grid(False)
    ax.set(title=title, xlabel="predicted class", ylabel="actual class")
    return _save(fig, path)
