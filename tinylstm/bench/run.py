"""Bench section ``run``: ``tinylstm run`` (train, evaluate, figures, every export with its verification) three
times on the reference data; wall time per phase (min / median / max) beside the process CPU time."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from . import register

RUNS = 3


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


@register("run", f"tinylstm run {RUNS} times: wall time per phase (min/median/max) and CPU time")
def bench_run(model_dir: Path, args: argparse.Namespace) -> str:
    reports, walls, cpus, loads = [], [], [], []
    for _ in range(RUNS):
        loads.append(os.getloadavg()[0])
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "-m", "tinylstm", "run", "--quiet", "--data", str(args.data), "--out",
                   f"{tmp}/artifacts"]
            cpu0, start = _children_cpu(), time.perf_counter()
            subprocess.run(cmd, check=True)
            walls.append(time.perf_counter() - start)
            cpus.append(_children_cpu() - cpu0)
            reports.append(json.loads(Path(f"{tmp}/artifacts/report.json").read_text())["timing_s"])
    names = [name for name, _ in reports[0]["phases"]]
    rows = []
    for name in names:
        v = [dict(r["phases"])[name] for r in reports]
        rows.append(f"| {name} | {min(v):.1f} | {statistics.median(v):.1f} | {max(v):.1f} |")
    return "\n".join([
        f"`tinylstm run` (defaults, every export) {RUNS} times on `{args.data}`; seconds of wall clock per phase "
        "(from each run's `report.json`), and the whole process as the shell sees it:", "",
        "| phase | min | median | max |", "|---|---|---|---|", *rows,
        f"| **whole process, wall** | {min(walls):.1f} | {statistics.median(walls):.1f} | {max(walls):.1f} |",
        f"| whole process, CPU (user + system, with children) | {min(cpus):.1f} | {statistics.median(cpus):.1f} | "
        f"{max(cpus):.1f} |",
        "", "A shared 2-core VM: wall times swing with other jobs; CPU time is the steadier figure.",
        *_cpu_rows(reports, names, loads),
    ])


def _cpu_rows(reports: list[dict], names: list[str], loads: list[float]) -> list[str]:
    """CPU seconds per phase (``timing_s.phases_cpu``: the run's process plus the children reaped in that phase;
    a worker started earlier counts where it is collected) and the machine's 1-minute load average at the start
    of each run (the other jobs the wall times shared the 2 cores with)."""
    lines = ["", "Load average (1 min) at the start of each run: " + ", ".join(f"{v:.2f}" for v in loads) + "."]
    if all("phases_cpu" in r for r in reports):
        lines += ["", "CPU seconds per phase (min / median / max):", "", "| phase | min | median | max |",
                  "|---|---|---|---|"]
        for name in names:
            v = [dict(r["phases_cpu"]).get(name, 0.0) for r in reports]
            lines.append(f"| {name} | {min(v):.1f} | {statistics.median(v):.1f} | {max(v):.1f} |")
    return lines
