"""A run or export that fails or is killed at any point leaves the previous output directory byte-identical."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow
EPOCHS = "3"  # the weights do not matter here, only which files exist with which bytes


def _run(out: Path, csv: Path, seed: int, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("TINYLSTM_FAULT", None)
    if fault:
        env["TINYLSTM_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "tinylstm", "run", "--data", str(csv), "--out", str(out),
                           "--epochs", EPOCHS, "--seed", str(seed), "--quiet"], cwd=out.parent, env=env, text=True,
                          capture_output=True, timeout=900)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (hidden ones too) with its SHA-256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, reference_csv) -> Path:
    out = tmp_path_factory.mktemp("atomic") / "A"
    proc = _run(out, reference_csv, seed=0)
    assert proc.returncode == 0, proc.stderr
    (out / "bench.md").write_text("a file the run does not own\n")
    return out


@pytest.mark.parametrize("fault", ["kill:after-train", "kill:export:header", "raise:export:riscv",
                                   "kill:before-publish"])
def test_interrupted_run_leaves_previous_outputs_byte_identical(finished, reference_csv, fault):
    before = snapshot(finished)
    assert {"model/bundle.npz", "report.json", "c/c.report.md", "tflite/model_int8.tflite"} <= set(before) or \
        {"model/bundle.npz", "report.json"} <= set(before)
    proc = _run(finished, reference_csv, seed=1, fault=fault)
    if fault.startswith("kill:"):
        assert proc.returncode == -signal.SIGKILL, proc.stderr
    else:
        assert proc.returncode == 2 and "injected failure at export:riscv" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert snapshot(finished) == before


def test_a_finished_run_replaces_its_outputs_and_keeps_foreign_files(finished, reference_csv):
    before = snapshot(finished)
    proc = _run(finished, reference_csv, seed=1)
    assert proc.returncode == 0, proc.stderr
    after = snapshot(finished)
    assert after["bench.md"] == before["bench.md"]
    assert after["model/bundle.npz"] != before["model/bundle.npz"]  # seed 1's weights
    assert not [p for p in finished.parent.iterdir() if ".staging-" in p.name or p.name.endswith(".old")]


def test_run_reports_where_its_time_went(finished):
    import json

    timing = json.loads((finished / "report.json").read_text())["timing_s"]
    names = [name for name, _ in timing["phases"]]
    assert names[:2] == ["train (load data, fit, save)", "evaluate (metrics, baselines, figures)"]
    for target in ("c", "fpga", "header", "riscv", "tflite"):
        assert f"export {target} (generate, write)" in names and f"report {target} (verify, measure)" in names
    assert sum(sec for _, sec in timing["phases"]) <= timing["total"] + 0.05
    assert timing["cpu_total"] > 0
    assert "## Where the time went" in (finished / "report.md").read_text()


def test_published_directories_have_the_ordinary_mode(tmp_path):
    """A staged directory becomes the published one: it gets the mode mkdir gives (0777 & ~umask), not mkdtemp's
    0700 - for stage_dir + swap_in (train, sweep trials) and publish_dir (exports) alike."""
    import stat

    from tinylstm import atomic

    umask = os.umask(0o022)
    os.umask(umask)
    stage = atomic.stage_dir(tmp_path / "model")
    atomic.swap_in(stage, tmp_path / "model")
    atomic.publish_dir(tmp_path / "export", {"a.txt": b"x"})
    for d in ("model", "export"):
        assert stat.S_IMODE((tmp_path / d).stat().st_mode) == 0o777 & ~umask, d
