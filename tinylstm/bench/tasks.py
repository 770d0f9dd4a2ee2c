"""Bench section ``tasks``: the window models of ``models/`` (digits: classify; forecast: regress) through every
backend on their test windows.

For each model: the Keras figure (accuracy or MAE on the test windows, beside the report's baselines) and, per
``--backend``, the same figure and its agreement with Keras (share of windows with the same class; max |Δ| in
target units for a forecast). A backend that cannot take the shape prints its one-line reason. The example CSVs
are written by :mod:`tinylstm.examples` when ``data/`` lacks them (same bytes: seeded). The C engines' flash and
Cortex-M4 instructions per inference for these shapes come from :mod:`tinylstm.footprint` (a table per model).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from .. import backends, examples, export, footprint
from ..data import DEFAULT_CSV
from ..errors import UserError
from ..modeldir import ModelDir
from . import register

ROOT = Path(__file__).resolve().parents[2]
MODELS = ("digits", "forecast")
#: Backends too slow to run on every test window here (RTL simulation, emulators) get this many windows.
SLOW = {"rtl": 64, "cortex-m4": 128, "riscv": 128}


def _data(name: str, tmp: Path) -> Path:
    path = ROOT / "data" / f"{name}.csv"
    return path if path.is_file() else examples.write(name, tmp / f"{name}.csv")


def model_table(md: ModelDir, data: Path) -> list[str]:
    b = md.bundle
    X, y = md.rows("test", data)
    keras = np.asarray(backends.run("keras", md.path, X))
    if b.is_classifier:
        head = "| backend | windows | accuracy | same class as Keras | s |"
    else:
        head = f"| backend | windows | MAE | max \\|Δ\\| vs Keras ({b.target}) | s |"
    lines = [head, "|---|---|---|---|---|"]
    for be in backends.all_backends():
        n = min(len(X), SLOW.get(be.name, len(X)))
        t0 = time.perf_counter()
        try:
            out = np.asarray(backends.run(be.name, md.path, X[:n]))
        except UserError as err:
            lines.append(f"| {be.name} | – | – | {str(err)[:140]} | – |")
            continue
        except Exception as err:  # noqa: BLE001 - a missing simulator/compiler shows as a row, the bench goes on
            lines.append(f"| {be.name} | – | – | failed: {type(err).__name__}: {str(err)[:100]} | – |")
            continue
        sec = time.perf_counter() - t0
        if b.is_classifier:
            cls, ref = np.argmax(out, axis=1), np.argmax(keras[:n], axis=1)
            lines.append(f"| {be.name} | {n} | {np.mean(cls == y[:n]):.4f} | {np.mean(cls == ref):.2%} | {sec:.1f} |")
        else:
            lines.append(f"| {be.name} | {n} | {np.mean(np.abs(out - y[:n])):.4f} | "
                         f"{np.max(np.abs(out - keras[:n])):.2g} | {sec:.1f} |")
    return lines


@register("tasks", "the window models (digits classify, forecast regress) through every backend on test windows")
def bench_tasks(model_dir: Path, args: argparse.Namespace) -> str:
    lines = ["Reproduce: `tinylstm bench --only tasks` (models/digits, models/forecast; their CSVs from "
             "`tinylstm data example`). eSELL/riscv run the 50 %-pruned, fine-tuned sibling that "
             "`tinylstm export riscv` makes (its agreement is with the unpruned Keras model).", ""]
    # ``bench --layout window --model DIR [--data CSV]``: the user's own window model instead of the two examples
    own = getattr(args, "layout", None) == "window"
    sources = [(Path(model_dir).name, Path(model_dir))] if own else [(n, ROOT / "models" / n) for n in MODELS]
    with tempfile.TemporaryDirectory(prefix="tinylstm-bench-tasks-") as td:
        for name, src in sources:
            # a copy: targets that prepare a sibling (eSELL's pruned model) and the LiteRT backends' export
            # (``<model>/../tflite``) then live in the temporary directory, not beside the model
            work = Path(td) / name
            shutil.copytree(src, work / "model")
            md = ModelDir.load(work / "model")
            if own:
                given = getattr(args, "data", None)
                data = md.data_path(given if given is not None and Path(given).name != DEFAULT_CSV.name else None)
            else:
                data = _data(name, Path(td))
            tfl = export.get("tflite")
            export.write(tfl, md, work / "tflite", tfl.options(data=data))
            b = md.bundle
            shape = f"W={b.n_steps}, F={b.values_per_step}, K={b.n_outputs}"
            lines += [f"### {name} ({b.task}; {shape}; {b.describe()}, {b.params():,} params)", ""]
            lines += model_table(md, data)
            lines += ["", "| target | flash (B) | RAM (B) | instructions per inference | measured as |",
                      "|---|---|---|---|---|"]
            X = md.rows("test", data)[0][:5]
            for r in footprint.measure(md, X):
                cells = ["–" if r[k] is None else f"{r[k]:,}" for k in ("flash_bytes", "ram_bytes", "instructions")]
                lines.append(f"| {r['target']} | {' | '.join(cells)} | {r['note'][:140]} |")
            lines.append("")
    lines.append("Slow backends run the first windows only (" + ", ".join(f"{k}: {v}" for k, v in SLOW.items())
                 + "); s = wall-clock seconds on this shared machine, for orientation only.")
    return "\n".join(lines)
