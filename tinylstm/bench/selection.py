"""Bench section ``selection``: how the tuned defaults are chosen — on validation rows only, never on test rows.

* **Early-stopping patience** (``TrainConfig.patience``): for each candidate, train seeds 0-4 and score the model on
  the validation rows (the last 20 % of the training rows, Keras ``validation_split``); the score is the validation
  MAE of the restored best epoch (loss = MAE, so ``min(val_loss) × y_scale``, in target units). 89 rows are noisy,
  hence the median over 5 seeds.
* **int8 calibration margin** (``tflite_build.DEFAULT_CALIB_MARGIN``): the reference model converted with each
  margin; score = int8 MAE increase over the float golden model on the validation rows, in TFLite Micro.

The test split is not read by this section.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..data import DEFAULT_FEATURES, DEFAULT_TARGET, load_dataset, split
from ..modeldir import ModelDir, validation_rows
from ..train import TrainConfig, train
from . import register

PATIENCE = (40, 60, 80, 120)
MARGINS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
SEEDS = 5


def patience_table(data: Path, seeds: int) -> str:
    ds = load_dataset(data, DEFAULT_FEATURES, DEFAULT_TARGET)
    rows, medians = [], {}
    for patience in PATIENCE:
        scores, epochs = [], []
        for seed in range(seeds):
            r = train(ds, replace(TrainConfig(), seed=seed, patience=patience), quiet=True)
            scores.append(min(r.history["val_loss"]) * r.scaler.y_scale)
            epochs.append(len(r.history["loss"]))
        medians[patience] = statistics.median(scores)
        rows.append(f"| {patience} | {' / '.join(f'{s:.4f}' for s in scores)} | **{medians[patience]:.4f}** | "
                    f"{statistics.median(epochs):.0f} |")
    best = min(medians, key=lambda p: (round(medians[p], 4), p))
    sp = split(len(ds.y))
    return "\n".join([
        f"Early-stopping patience, scored on the {int(len(sp.train) * TrainConfig().validation_split)} validation "
        f"rows (median over seeds 0-{seeds - 1}; ties → the smaller patience):", "",
        "| patience | validation MAE per seed | median | median epochs |", "|---|---|---|---|", *rows, "",
        f"Lowest median: patience {best} (default: {TrainConfig().patience}).",
    ])


def margin_table(model: ModelDir) -> str:
    from .. import tflite_build, tflm
    from ..reference import predict as ref_predict

    Xv, yv = validation_rows(model)
    ref_mae = float(np.abs(ref_predict(model.bundle, Xv) - yv).mean())
    rows, score = [], {}
    for margin in MARGINS:
        b = tflite_build.build(model, calib_margin=margin, arena=False)
        y = tflm.predict(b.int8_fb, model.bundle, Xv, "tflm")
        score[margin] = float(np.abs(y - yv).mean()) - ref_mae
        gap = float(np.abs(y - ref_predict(model.bundle, Xv)).max())
        rows.append(f"| {margin:g} | {score[margin]:+.4f} | {gap:.3f} |")
    best = min(score, key=lambda m: (round(score[m], 4), m))
    return "\n".join([
        f"int8 calibration margin on `{model.path}`, scored on its {len(yv)} validation rows in TFLite Micro:", "",
        "| margin | int8 MAE − float MAE | max \\|Δ\\| vs float |", "|---|---|---|", *rows, "",
        f"Lowest: margin {best:g} (default: {tflite_build.DEFAULT_CALIB_MARGIN:g}).",
    ])


@register("selection", "how defaults are chosen: patience and int8 calibration margin on validation rows only")
def bench_selection(model_dir: Path, args: argparse.Namespace) -> str:
    return patience_table(Path(args.data), min(args.seeds, SEEDS)) + "\n\n" + margin_table(ModelDir.load(model_dir))
