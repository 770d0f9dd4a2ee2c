"""Bench section ``predict``: ``tinylstm predict`` throughput and peak memory on generated CSVs of 10 k – 1 M rows.

The CSVs hold the reference feature columns, rows drawn with a fixed seed from the model's own data file, so the
same command gives the same files. Each run is a fresh ``python -m tinylstm predict`` process measured by a small
parent process: wall time, CPU time (user + system of the process and its engine processes) and the peak RSS
of the largest of them (``ru_maxrss`` of ``RUSAGE_CHILDREN``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..data import read_features_exact
from ..modeldir import ModelDir
from . import register

SIZES = (10_000, 100_000, 1_000_000)
BACKENDS = (("numpy", []), ("numpy", ["--numpy-dtype", "float64"]), ("c-int8", []), ("c-float", []))
SEED = 0
#: Goal of issue 13 for 1 M rows.
GOAL_S, GOAL_MB = 5.0, 400.0

_MEASURE = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter(); r = subprocess.run(sys.argv[1:]); wall = time.perf_counter() - t\n"
    "u = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "print(json.dumps({'rc': r.returncode, 'wall': wall, 'cpu': u.ru_utime + u.ru_stime, 'rss_kb': u.ru_maxrss}))\n"
)


def generate_csv(source: Path, features: list[str], n: int, out: Path, seed: int = SEED) -> Path:
    """``n`` rows of ``features`` drawn (with replacement, ``seed``) from the rows of ``source``, as text."""
    header, rows, _, _ = read_features_exact(source, features)
    idx = [header.index(f) for f in features]
    cells = [",".join(row[i] for i in idx) for row in rows]
    pick = np.random.default_rng(seed).integers(0, len(cells), n)
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(features) + "\n")
        for start in range(0, n, 100_000):
            f.write("".join(cells[i] + "\n" for i in pick[start:start + 100_000]))
    return out


def measure(model_dir: Path, csv: Path, out: Path, backend: str, extra: list[str]) -> dict:
    cmd = [sys.executable, "-c", _MEASURE, sys.executable, "-m", "tinylstm", "predict", "--quiet",
           "--model", str(model_dir), "--data", str(csv), "--out", str(out), "--backend", backend, *extra]
    res = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    if res["rc"] != 0:
        raise RuntimeError(f"predict {backend} on {csv} failed (exit {res['rc']})")
    return res


@register("predict", "tinylstm predict rows/s and peak memory on generated 10 k / 100 k / 1 M-row CSVs")
def bench_predict(model_dir: Path, args: argparse.Namespace) -> str:
    model = ModelDir.load(model_dir)
    source = model.data_path(getattr(args, "data", None))
    sizes = [int(s) for s in str(getattr(args, "predict_rows", "") or "").split(",") if s] or list(SIZES)
    lines = []
    with tempfile.TemporaryDirectory(prefix="tinylstm-bench-predict-") as tmp:
        for n in sizes:
            csv = generate_csv(source, list(model.bundle.features), n, Path(tmp) / f"rows{n}.csv")
            mb = csv.stat().st_size / 1e6
            for backend, extra in BACKENDS:
                r = measure(model_dir, csv, Path(tmp) / "pred.csv", backend, extra)
                name = backend + (" " + " ".join(extra) if extra else "")
                rss = r["rss_kb"] / 1024
                goal = ""
                if n == 1_000_000:
                    goal = " ✔" if r["wall"] <= GOAL_S and rss <= GOAL_MB else " ✘"
                lines.append(f"| {n:,} ({mb:.1f} MB) | `{name}` | {r['wall']:.2f}{goal} | {r['cpu']:.2f} | "
                             f"{n / r['wall']:,.0f} | {rss:.0f} |")
    return "\n".join([
        f"`tinylstm predict --model {model_dir} --data rowsN.csv --out pred.csv --backend B` on CSVs of the "
        f"feature columns drawn with seed {SEED} from `{source}` (goal for 1 M rows: ≤ {GOAL_S:g} s and "
        f"≤ {GOAL_MB:g} MB). CPU s = user + system of the predict process and its engine processes; peak RSS is "
        "that of the largest single process (the C engines' own processes are a few MB). Wall times on this "
        "shared 2-core VM swing with other load: compare CPU s too.", "",
        "| rows | backend | wall s | CPU s | rows/s (wall) | peak RSS MB |", "|---|---|---|---|---|---|", *lines,
    ])
