"""eSELL on RISC-V for window shapes: F inputs per step, K outputs, softmax head.

Per shape (tests/shapes.py: a W6 F3 K4 classifier, a W5 F2 K1 regression; the committed models/digits, W8 F8 K10):
* the fp16 eSELL golden model against Keras on the same weights within the stated tolerance
  (:data:`tinylstm.esell.PROB_ATOL` on probabilities, :data:`tinylstm.esell.REG_TOL_SCALED` × y_scale on a
  regression), and argmax agreement with Keras;
* the RV32 engine under QEMU against the golden model bit for bit (all K outputs, and the engine's argmax);
* for digits, the ``prepare`` path (magnitude pruning + fine-tuning on ``ModelDir.rows("train")`` windows) keeps
  the window layout and the classifier, and the exported pruned model agrees with its own Keras model on ≥ 99 %
  of the test windows.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import ROOT, require_tool, run_cli
from shapes import keras_outputs, raw_windows, window_model

from tinylstm import esell, examples, prune, reference
from tinylstm.backends import riscv as rvb
from tinylstm.export import riscv as rvx
from tinylstm.modeldir import ModelDir
from tinylstm.numerics import check_supported

SHAPES = {"W6F3K4": (6, 3, 4), "W5F2K1": (5, 2, 1)}


@pytest.fixture(scope="module")
def tools():
    require_tool(rvb.CC, rvb.QEMU)


@pytest.fixture(scope="module", params=list(SHAPES))
def shape(request):
    W, F, K = SHAPES[request.param]
    model, bundle = window_model(W, F, K)
    X = raw_windows(bundle, 48, seed=3)
    return request.param, model, bundle, X


def _tolerance(bundle) -> float:
    return esell.PROB_ATOL if bundle.is_classifier else esell.REG_TOL_SCALED * float(bundle.scaler.y_scale)


def test_window_shapes_are_supported_and_shaped(shape):
    name, _, bundle, X = shape
    check_supported(bundle, esell.CAPABILITIES)  # no UserError: layout window, F per step, K outputs
    net = esell.build_net(bundle)
    assert net.layers[0].inputs == bundle.values_per_step
    out = esell.predict(bundle, X)
    assert out.shape == ((len(X), bundle.n_outputs) if bundle.is_classifier else (len(X),))
    if bundle.is_classifier:
        assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5) and np.all(out >= 0)


def test_golden_matches_keras_within_fp16_tolerance(shape):
    name, model, bundle, X = shape
    ke = keras_outputs(model, bundle, X)
    got = esell.predict(bundle, X)
    assert np.abs(got - ke).max() <= _tolerance(bundle), name
    # the tolerance is one of fp16 weights: the float64 numpy reference is far closer to Keras
    assert np.abs(reference.predict(bundle, X) - ke).max() < _tolerance(bundle) / 20
    if bundle.is_classifier:
        assert np.array_equal(got.argmax(axis=1), ke.argmax(axis=1))


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.8])
def test_engine_equals_golden_bit_for_bit(shape, tools, sparsity):
    name, _, bundle, X = shape
    pb = prune.apply_masks(bundle, prune.masks_for(bundle, (sparsity,) * (2 * len(bundle.lstm))))
    net = esell.build_net(pb)
    xs = esell.scale_inputs(pb, X)
    assert xs.shape == (len(X), pb.n_steps, pb.values_per_step)
    run = rvb.run_engine(net, pb, xs, {}, 0.0)
    golden = esell.forward(net, xs)
    assert run.y_esell.shape == (len(X), pb.n_outputs)
    assert np.array_equal(run.y_esell, golden), name
    assert np.array_equal(run.y_dense, golden), name  # the dense fp16 baseline kernel, same weights
    assert np.array_equal(run.argmax_esell, golden.argmax(axis=1))
    assert np.all(run.instr_esell > 0) and np.all(run.mv_esell < run.instr_esell)
    if sparsity >= 0.5:
        assert np.median(run.mv_esell) < np.median(run.mv_dense)  # sparse products skip the zeros
    # the pruned weights' golden model stays within the fp16 tolerance of their float reference
    assert np.abs(esell.predict(pb, X) - reference.predict(pb, X)).max() <= _tolerance(pb)


def test_engine_softmax_is_the_golden_softmax_on_extreme_logits():
    # saturating logits (large spread, ties): the float32 softmax stays finite, sums to ~1, picks the first max
    z = np.array([[80.0, -80.0, 80.0, 0.0], [0.0, 0.0, 0.0, 0.0], [-50.0, -49.0, -300.0, -48.5]], np.float32)
    p = esell.softmax32(z)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0, atol=1e-6)
    assert list(p.argmax(axis=1)) == [0, 0, 3]
    e = np.exp(z.astype(np.float64) - z.max(axis=1, keepdims=True))
    assert np.allclose(p, e / e.sum(axis=1, keepdims=True), rtol=1e-6, atol=1e-30)


# ------------------------------------------------------------------------------------------------ digits
@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """models/digits copied to a temporary directory, with its training CSV (written from the example)."""
    root = tmp_path_factory.mktemp("digits")
    shutil.copytree(ROOT / "models" / "digits", root / "digits")
    csv = root / "digits.csv"
    csv.write_text(examples.digits_csv())
    md = ModelDir.load(root / "digits")
    X, y = md.rows("test", csv)
    return md, csv, X, y


def _keras_probs(model_dir, bundle, X):
    from tinylstm.train import load_keras_model

    return np.asarray(load_keras_model(model_dir)(bundle.sequences(X), training=False), np.float64)


def test_digits_unpruned_golden_agrees_with_keras(digits):
    md, _, X, y = digits
    ke = _keras_probs(md.path, md.bundle, X)
    got = esell.predict(md.bundle, X)
    assert np.abs(got - ke).max() <= esell.PROB_ATOL
    agree = np.mean(got.argmax(axis=1) == ke.argmax(axis=1))
    assert agree >= 0.99, agree


def test_digits_prepare_finetunes_windows_and_engine_is_bit_exact(digits, tools):
    md, csv, X, y = digits
    pruned = rvx.prepare(md, rvx.RiscvOptions(data=csv))
    pb = pruned.bundle
    assert pruned.path != md.path and pb.layout == "window" and pb.is_classifier
    assert (pb.n_steps, pb.values_per_step, pb.n_outputs, pb.classes) == (8, 8, 10, md.bundle.classes)
    assert pb.meta["pruning"]["finetune_epochs_run"] > 0
    assert all(abs(v - 0.5) < 0.01 for v in pb.meta["pruning"]["sparsity_achieved"].values())
    # the exported (pruned, fine-tuned) model against its own Keras model
    ke = _keras_probs(pruned.path, pb, X)
    got = esell.predict(pb, X)
    assert np.abs(got - ke).max() <= esell.PROB_ATOL
    assert np.mean(got.argmax(axis=1) == ke.argmax(axis=1)) >= 0.99
    assert np.mean(got.argmax(axis=1) == y) >= 0.85  # models/digits' Keras test accuracy is 90.5 %
    net = esell.build_net(pb)
    xs = esell.scale_inputs(pb, X)
    run = rvb.run_engine(net, pb, xs, {}, 0.0)
    golden = esell.forward(net, xs)
    assert np.array_equal(run.y_esell, golden) and np.array_equal(run.argmax_esell, golden.argmax(axis=1))
    by = net.lstm_bytes()
    assert by["esell"] < by["dense_fp16"]


def test_digits_export_cli_and_riscv_backend(digits, tools, tmp_path):
    md, csv, X, _ = digits
    out = tmp_path / "riscv"
    res = run_cli("export", "riscv", "--quiet", "--model", str(md.path), "--data", str(csv), "--out", str(out))
    assert res.returncode == 0, res.stderr
    header = (out / "model.h").read_text()
    assert "#define TL_N_IN 8" in header and "#define TL_STEPS 8" in header and "softmax probabilities" in header
    report = (out / "riscv.report.md").read_text()
    assert "bit for bit: **yes**" in report and "golden argmax: **yes**" in report and "Test accuracy" in report
    # the backends behind `tinylstm predict --backend esell|riscv`: (n, K) probabilities, engine == golden
    import argparse

    args = argparse.Namespace(ws=None, ht=0.0, train_data=csv)
    pe = rvb.predict_esell(md.path, X[:20], args)
    pr = rvb.predict_riscv(md.path, X[:20], args)
    assert pe.shape == (20, 10) and np.array_equal(pe, pr)
