"""Bench section ``training``: test MAE over several seeds on the reference split, and run wall time."""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import register


@register("training", "test MAE min/median/max over --seeds seeds; tinylstm run wall time")
def bench_training(model_dir: Path, args: argparse.Namespace) -> str:
    import json

    rows, maes, walls = [], [], []
    for seed in range(args.seeds):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "tinylstm", "run", "--quiet", "--no-exports", "--seed", str(seed),
                   "--data", str(args.data), "--out", f"{tmp}/artifacts", "--figures", f"{tmp}/figures"]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            report = json.loads(Path(f"{tmp}/artifacts/report.json").read_text())
        mae = report["metrics"]["test"]["mae"]
        maes.append(mae)
        walls.append(wall)
        rows.append(f"| {seed} | {mae:.4f} | {report['metrics']['test']['rmse']:.4f} | "
                    f"{report['metrics']['test']['r2']:.4f} | {report['model']['epochs_run']} | "
                    f"{report['timing_s']['train_evaluate_figures']:.1f} | {wall:.1f} |")
    base = report["baselines"]
    unit = report["data"]["units"].get(report["data"]["target"], "")
    return "\n".join([
        f"Test MAE [{unit}] on the reference split (70/30, random_state=42), `tinylstm run --no-exports --seed S`:", "",
        "| seed | test MAE | RMSE | R² | epochs | train+evaluate+figures s | whole run s (process) |",
        "|---|---|---|---|---|---|---|", *rows, "",
        f"MAE min / median / max over {len(maes)} seeds: **{min(maes):.4f} / {statistics.median(maes):.4f} / "
        f"{max(maes):.4f}**; linear regression {base['linear_regression']['mae']:.4f}, gradient boosting "
        f"{base['gradient_boosting']['mae']:.4f}. Median whole-run wall time {statistics.median(walls):.1f} s.",
    ])
