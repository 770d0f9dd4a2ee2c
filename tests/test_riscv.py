"""The RISC-V engine under QEMU against the numpy eSELL golden model (bit for bit), the header, the backends."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import require_tool, run_cli

from tinylstm import esell, prune
from tinylstm.backends import riscv as rvb
from tinylstm.bundle import Bundle
from tinylstm.export import riscv as rv


@pytest.fixture(scope="module")
def pruned50(trained, reference_csv):
    return prune.ensure_pruned(trained.model_dir, None, data=reference_csv)


@pytest.fixture(scope="module")
def tools():
    require_tool(rvb.CC, rvb.QEMU)


def _inputs(trained, bundle, n=24):
    # test rows plus out-of-range rows (extrapolation stresses the activations)
    X = np.vstack([trained.X_test[:n], trained.X_test[:4] * 1.8, trained.X_test[:2] * 0.3])
    return esell.scale_inputs(bundle, X)


@pytest.mark.parametrize("ht", [0.0, 0.25])
def test_engine_equals_golden_bit_for_bit(trained, pruned50, tools, ht):
    bundle = Bundle.load(pruned50)
    net = esell.build_net(bundle, ht)
    xs = _inputs(trained, bundle)
    run = rvb.run_engine(net, bundle, xs, {}, ht)
    golden = esell.forward(net, xs)
    assert run.y_esell.dtype == np.float32 and run.y_esell.shape == (len(xs), 1)
    assert np.array_equal(run.y_esell, golden)
    # the dense fp16 baseline computes the same pruned network (without hidden-state pruning)
    assert np.array_equal(run.y_dense, esell.forward(net, xs, ht=0.0))
    assert np.all(run.instr_esell > 0) and np.all(run.instr_dense > 0)
    if ht > 0:
        assert not np.array_equal(run.y_esell, run.y_dense)  # the threshold did prune something


def test_engine_on_unpruned_and_very_sparse_weights(trained, tools):
    for s in (0.0, 0.3, 0.7, 0.9):  # many chunk widths / row-count patterns, empty rows and chunks
        bundle = prune.apply_masks(trained.bundle, prune.masks_for(trained.bundle, (s,) * 4))
        net = esell.build_net(bundle)
        xs = _inputs(trained, bundle, 8)
        run = rvb.run_engine(net, bundle, xs, {}, 0.0)
        assert np.array_equal(run.y_esell, esell.forward(net, xs))
        assert np.array_equal(run.y_dense, run.y_esell)


def test_header_is_deterministic_and_complete(trained, pruned50, tmp_path):
    bundle = Bundle.load(pruned50)
    net = esell.build_net(bundle)
    xs = _inputs(trained, bundle, 4)
    a = rv.render_header(net, bundle, xs, {"W1": 0.5}, 0.0, "src")
    assert a == rv.render_header(esell.build_net(Bundle.load(pruned50)), bundle, xs, {"W1": 0.5}, 0.0, "src")
    for decl in ("static const uint64_t w[]", "static const uint64_t u[]", "static const uint64_t w_offset[]",
                 "static const uint64_t u_offset[]", "static const uint64_t bias[]", "static const float x[]"):
        assert decl in a
    assert bundle.meta["data_sha256"] in a and "2026" not in a and "generated" in a.lower()
    # no date or time stamp of any form (ISO/numeric dates, clock times, month names with a year, epochs)
    for pattern in DATE_PATTERNS:
        assert not re.search(pattern, a, re.IGNORECASE), pattern
    # the whole export is byte-identical across two fresh interpreters (different hash seeds, clocks, pids)
    outs = [_generate_in_subprocess(pruned50, tmp_path / f"run{k}", seed) for k, seed in enumerate(("1", "2"))]
    assert outs[0] == outs[1]
    assert set(outs[0]) >= {"model.h", "esell_lstm.c", "esell_engine.h", "Makefile"}
    for pattern in DATE_PATTERNS:
        assert not re.search(pattern, outs[0]["model.h"].decode(), re.IGNORECASE), pattern


#: What a date or time stamp looks like in generated text.
DATE_PATTERNS = (
    r"\b(19|20)\d\d[-/.](0?[1-9]|1[0-2])[-/.](0?[1-9]|[12]\d|3[01])\b",     # 2026-12-02, 2026/1/2
    r"\b(0?[1-9]|[12]\d|3[01])[-/.](0?[1-9]|1[0-2])[-/.](19|20)\d\d\b",     # 02.12.2026
    r"\b([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?\b",                              # 03:54, 03:54:14
    r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? +\d{1,2},? +(19|20)\d\d\b",
    r"\b\d{1,2} +(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* +(19|20)\d\d\b",
    r"\b(mon|tue|wed|thu|fri|sat|sun)\w* +(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    r"\b1[6-9]\d{8}\b",                                                        # a Unix time in seconds
)


def _generate_in_subprocess(model_dir, out_dir, hash_seed: str) -> dict:
    """Run the generator in a new interpreter; returns {relative path: bytes} of what it wrote."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    code = ("import sys; from pathlib import Path; from tinylstm import atomic; from tinylstm.export import riscv; "
            "from tinylstm.modeldir import ModelDir; "
            "atomic.publish_files(Path(sys.argv[2]), riscv.generate(ModelDir.load(sys.argv[1]), riscv.RiscvOptions()))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": hash_seed}
    res = subprocess.run([sys.executable, "-c", code, str(model_dir), str(out_dir)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return {p.relative_to(out_dir).as_posix(): p.read_bytes() for p in sorted(out_dir.rglob("*")) if p.is_file()}


def test_export_cli_writes_header_sources_and_report(trained, pruned50, tmp_path, tools):
    out = tmp_path / "riscv"
    res = run_cli("export", "riscv", "--quiet", "--model", str(trained.model_dir), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert {p.name for p in out.iterdir()} >= {"model.h", "esell_lstm.c", "esell_engine.h", "Makefile",
                                                "riscv.report.md"}
    report = (out / "riscv.report.md").read_text()
    assert "bit for bit: **yes**" in report
    first = (out / "model.h").read_bytes()
    res = run_cli("export", "riscv", "--quiet", "--model", str(pruned50), "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert (out / "model.h").read_bytes() == first  # same pruned bundle -> same bytes


def test_backends_esell_and_riscv_agree(trained, pruned50, tmp_path, tools):
    import csv

    path = tmp_path / "rows.csv"
    feats = trained.bundle.features
    with path.open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(feats)
        wr.writerows(trained.X_test[:10].tolist())
    outs = {}
    for backend in ("esell", "riscv"):
        res = run_cli("predict", "--quiet", "--model", str(trained.model_dir), "--data", str(path),
                      "--out", str(tmp_path / f"{backend}.csv"), "--backend", backend)
        assert res.returncode == 0, res.stderr
        with (tmp_path / f"{backend}.csv").open() as fh:
            rows = list(csv.reader(fh))
        outs[backend] = np.array([float(r[-1]) for r in rows[1:]])
    assert np.array_equal(outs["esell"], outs["riscv"])
    expected = esell.predict(Bundle.load(pruned50), trained.X_test[:10])
    assert np.allclose(outs["esell"], expected, rtol=0, atol=1e-4)  # the CSV keeps 6 significant digits


def test_export_without_training_csv_falls_back_to_pruning_without_finetuning(trained, tmp_path):
    import shutil

    model = tmp_path / "model"
    model.mkdir()
    shutil.copy(trained.model_dir / "split.json", model / "split.json")
    # a model whose training CSV exists nowhere (ModelDir also looks in the checkout's data/, so the recorded
    # file name and SHA-256 name a CSV that no directory holds)
    b = Bundle.load(trained.model_dir)
    b.meta = {**b.meta, "data_file": "not_here.csv", "data_sha256": "0" * 64}
    b.save(model / "bundle.npz")
    env_cwd = tmp_path / "elsewhere"
    env_cwd.mkdir()
    res = run_cli("export", "riscv", "--quiet", "--model", str(model), "--out", str(tmp_path / "out"), cwd=env_cwd)
    assert res.returncode == 0, res.stderr
    assert "without fine-tuning" in res.stderr
    raw = Bundle.load(tmp_path / "model_pruned_50_raw")
    assert raw.meta["pruning"]["finetune_epochs"] == 0
    assert "static const uint64_t w[]" in (tmp_path / "out" / "model.h").read_text()
    bad = run_cli("export", "riscv", "--model", str(model), "--out", str(tmp_path / "o2"), "--ws", "1.5", "0.2")
    assert bad.returncode == 2 and "--ws" in bad.stderr
