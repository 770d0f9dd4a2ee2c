"""The RISC-V engine under QEMU against the numpy eSELL golden model (bit for bit), the header, the backends."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import require_tool, run_cli
from tinylstm import esell, prune
from tinylstm.bundle import Bundle
from tinylstm.export import riscv as rv


@pytest.fixture(scope="module")
def pruned50(trained, reference_csv):
    return prune.ensure_pruned(trained.model_dir, None, data=reference_csv)


@pytest.fixture(scope="module")
def tools():
    require_tool(rv.CC, rv.QEMU)


def _inputs(trained, bundle, n=24):
    # test rows plus out-of-range rows (extrapolation stresses the activations)
    X = np.vstack([trained.X_test[:n], trained.X_test[:4] * 1.8, trained.X_test[:2] * 0.3])
    return esell.scale_inputs(bundle, X)


@pytest.mark.parametrize("ht", [0.0, 0.25])
def test_engine_equals_golden_bit_for_bit(trained, pruned50, tools, ht):
    bundle = Bundle.load(pruned50)
    net = esell.build_net(bundle, ht)
    xs = _inputs(trained, bundle)
    run = rv.run_engine(net, bundle, xs, {}, ht)
    golden = esell.forward(net, xs)[:, 0]
    assert run.y_esell.dtype == np.float32 and len(run.y_esell) == len(xs)
    assert np.array_equal(run.y_esell, golden)
    # the dense fp16 baseline computes the same pruned network (without hidden-state pruning)
    assert np.array_equal(run.y_dense, esell.forward(net, xs, ht=0.0)[:, 0])
    assert np.all(run.instr_esell > 0) and np.all(run.instr_dense > 0)
    if ht > 0:
        assert not np.array_equal(run.y_esell, run.y_dense)  # the threshold did prune something


def test_engine_on_unpruned_and_very_sparse_weights(trained, tools):
    for s in (0.0, 0.3, 0.7, 0.9):  # many chunk widths / row-count patterns, empty rows and chunks
        bundle = prune.apply_masks(trained.bundle, prune.masks_for(trained.bundle, (s,) * 4))
        net = esell.build_net(bundle)
        xs = _inputs(trained, bundle, 8)
        run = rv.run_engine(net, bundle, xs, {}, 0.0)
        assert np.array_equal(run.y_esell, esell.forward(net, xs)[:, 0])
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
    for name in ("bundle.npz", "split.json"):
        shutil.copy(trained.model_dir / name, model / name)
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
