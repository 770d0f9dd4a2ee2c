"""Pareto-front figures of a ``tinylstm sweep``: validation error against each measured cost, one figure per
target (flash, RAM and, for the C engines, Cortex-M4 instructions per inference; RV32 instructions for esell,
cycles for fpga and, when the sweep placed the designs (``[fpga] part``), their LUT4 count)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from .plots import _plt, _save

COSTS = (("flash_bytes", "flash (B)"), ("ram_bytes", "RAM (B)"), ("instructions", "Cortex-M4 instructions / inference"),
         ("cycles", "FPGA cycles / inference"), ("luts", "LUT4 (placed, [fpga] part)"))


def _value(row: dict[str, Any], key: str) -> float | None:
    v = row.get(key)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def _cost_label(target: str, key: str, label: str) -> str:
    return "RV32 instructions / inference (QEMU)" if (target, key) == ("esell", "instructions") else label


def _label(row: dict[str, Any], target: str = "") -> str:
    """``LSTM units/dense units``, with the FPGA format × lanes or the eSELL sparsity when that target searched
    them."""
    text = f"{row.get('lstm_units')}/{row.get('dense_units') or '-'}"
    if target == "fpga" and row.get("fpga_format"):
        text += f" {row['fpga_format']}×{row.get('fpga_lanes')}"
    if target == "esell" and _value(row, "esell_sparsity") is not None:
        text += f" {100 * _value(row, 'esell_sparsity'):g}%"
    return text


def front(points: Sequence[tuple[float, float, Any]]) -> list[tuple[float, float, Any]]:
    """The non-dominated (cost, error, label) points, by increasing cost: no other point is at most as costly
    and at most as wrong with one of the two strictly smaller."""
    out: list[tuple[float, float, Any]] = []
    for p in sorted(points, key=lambda p: (p[0], p[1])):
        if not out or p[1] < out[-1][1]:
            out.append(p)
    return out


def pareto_figure(rows: Sequence[dict[str, Any]], target: str, path: Path, unit: str = "",
                  mark: dict[str, Any] | None = None) -> Path | None:
    """One figure, a panel per cost measured for ``target``: every finished trial, its Pareto front joined and
    labelled with the architecture (LSTM units / dense units); ``mark``: a row drawn as a star (e.g. the default
    architecture). None when no finished trial has a validation error for the target."""
    err_key = f"{target}.val_error"
    ok = [r for r in rows if r.get("status") == "ok" and _value(r, err_key) is not None]
    costs = [(k, label) for k, label in COSTS if any(_value(r, f"{target}.{k}") is not None for r in ok)]
    if not ok or not costs:
        return None
    plt = _plt()
    fig, axes = plt.subplots(1, len(costs), figsize=(5.2 * len(costs), 4.2), squeeze=False)
    what = "validation MAE" + (f" [{unit}]" if unit else "")
    for ax, (key, label) in zip(axes[0], costs):
        pts = [(_value(r, f"{target}.{key}"), _value(r, err_key), _label(r, target))
               for r in ok if _value(r, f"{target}.{key}") is not None]
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, color="0.6", label=f"trials ({len(pts)})")
        fr = front(pts)
        ax.step([p[0] for p in fr], [p[1] for p in fr], where="post", color="C3", lw=1.5)
        ax.scatter([p[0] for p in fr], [p[1] for p in fr], s=30, color="C3", label="Pareto front", zorder=3)
        for x, y, text in fr:
            ax.annotate(text, (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        if mark is not None and _value(mark, f"{target}.{key}") is not None:
            ax.scatter([_value(mark, f"{target}.{key}")], [_value(mark, err_key)], marker="*", s=140, color="C0",
                       label=f"default {mark.get('lstm_units')}/{mark.get('dense_units')}", zorder=4)
        ax.set_xscale("log")
        ax.set_xlabel(_cost_label(target, key, label))
        ax.set_ylabel(what)
        ax.legend(fontsize=7)
    fig.suptitle(f"{target}: validation error against cost ({len(ok)} finished trials)")
    fig.tight_layout()
    return _save(fig, path)


def pareto_figures(rows: Sequence[dict[str, Any]], targets: Sequence[str], out: Path, unit: str = "",
                   mark: dict[str, Any] | None = None) -> list[Path]:
    """``out/pareto_<target>.png`` for every target with a finished trial."""
    paths = [pareto_figure(rows, t, Path(out) / f"pareto_{t}.png", unit, mark) for t in targets]
    return [p for p in paths if p is not None]
