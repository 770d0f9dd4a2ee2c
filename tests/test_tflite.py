"""TFLite float + int8 export: op set, size, accuracy in LiteRT and TFLite Micro, arena, determinism, backends.

Tolerances (stated by the issue, in target units, L/100km for the reference data):
* float flatbuffer vs the Keras model on every test row: max |diff| <= 1e-4, in LiteRT and in TFLM;
* int8 flatbuffer: MAE increase over the Keras model's MAE <= 0.02, in LiteRT and in TFLM.
Raw rows go through the scaler and the exported int8 quantisation; the LSTM state is reset before each row.
"""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from tinylstm import export, reports, tflite_build, tflm
from tinylstm.export.tflite import TFLiteOptions
from tinylstm.modeldir import ModelDir

FLOAT_MAX_ABS = 1e-4
INT8_MAE_INCREASE = 0.02
RUNTIMES = ("litert", "tflm")


@pytest.fixture(scope="module")
def model(trained):
    return ModelDir.load(trained.model_dir)


@pytest.fixture(scope="module")
def exported(model, reference_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("tflite")
    opts = TFLiteOptions(data=reference_csv)
    written = export.write(export.get("tflite"), model, out, opts)
    return out, written, opts


def _fb(exported, variant):
    return (exported[0] / f"model_{variant}.tflite").read_bytes()


def test_writes_both_flatbuffers_and_report(exported, model):
    names = sorted(p.name for p in exported[1])
    assert names == ["model_float.tflite", "model_int8.tflite", "tflite.json"]
    text = reports.section("tflite", model, exported[2], exported[0])
    assert "| int8 |" in text and "| float |" in text and "| lstm0 |" in text
    for variant in ("float", "int8"):
        acc = tflite_build.accuracy(model, _fb(exported, variant), exported[2].data)
        assert f"{acc.mae_increase['litert']:+.4f} / {acc.mae_increase['tflm']:+.4f}" in text


def _tflm_outputs(fb, trained):
    """Every output value of the flatbuffer in TFLM for the test rows (state reset per row)."""
    from tflite_micro.python.tflite_micro import runtime

    from tinylstm.data import to_sequences

    q = tflm.io_quant(fb)
    it = runtime.Interpreter.from_bytes(bytes(fb), arena_size=1 << 16)
    out = []
    for seq in to_sequences(trained.bundle.scaler.transform_x(trained.X_test)):
        it.reset()
        it.set_input(tflm.quantize_input(seq[None], q), 0)
        it.invoke()
        out.append(np.asarray(it.get_output(0)).reshape(-1).copy())
    return np.asarray(out)


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_each_flatbuffer_transform_keeps_the_outputs(exported, model, trained, variant):
    """raw converter output → serialize → share_lstm_intermediates → drop_trailing_slice: the TFLM outputs on the
    test rows stay equal at every step (the slice drop keeps the last row, the prediction)."""
    b = tflite_build.build(model, exported[2].data)
    raw = b.raw(variant)
    before = _tflm_outputs(raw, trained)
    serialized = tflm.transform(raw)
    np.testing.assert_array_equal(_tflm_outputs(serialized, trained), before)
    shared = tflm.transform(raw, tflm.share_lstm_intermediates)
    if variant == "int8":  # only the int8 LSTMs carry per-gate intermediates
        assert tflm.tensor_count(shared) < tflm.tensor_count(serialized)
    np.testing.assert_array_equal(_tflm_outputs(shared, trained), before)
    sliced = tflm.transform(raw, tflm.drop_trailing_slice)
    assert "STRIDED_SLICE" in tflm.ops(raw) and "STRIDED_SLICE" not in tflm.ops(sliced)
    np.testing.assert_array_equal(_tflm_outputs(sliced, trained)[:, -1], before[:, -1])
    both = tflm.transform(raw, tflm.drop_trailing_slice, tflm.share_lstm_intermediates)
    assert both == b.flatbuffer(variant) == tflm.compact(raw, head_every_step=True)
    with pytest.raises(ValueError, match="no STRIDED_SLICE"):
        tflm.transform(sliced, tflm.drop_trailing_slice)


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_only_tflm_ops(exported, variant):
    ops = tflm.ops(_fb(exported, variant))
    unsupported = [op for op in ops if op not in tflm.TFLM_OPS]
    assert not unsupported, f"ops TFLite Micro cannot run: {unsupported}"
    assert "UNIDIRECTIONAL_SEQUENCE_LSTM" in ops


def test_int8_is_full_integer(exported):
    fb = _fb(exported, "int8")
    q = tflm.io_quant(fb)
    assert (q.input_type, q.output_type) == ("INT8", "INT8")
    model = tflm.read(fb)
    types = {tflm._type_names()[t.type] for t in model.subgraphs[0].tensors if t.buffer}
    assert "FLOAT32" not in types, "a constant stayed float in the int8 model"
    assert len(tflm.ops(fb)) <= 8


@pytest.mark.parametrize("variant", ["float", "int8"])
def test_constant_buffers_are_16_byte_aligned(exported, variant):
    assert set(tflm.buffer_alignment(_fb(exported, variant))) == {0}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_float_matches_keras(exported, trained, runtime):
    y = tflm.predict(_fb(exported, "float"), trained.bundle, trained.X_test, runtime)
    gap = np.abs(y - trained.keras_test).max()
    assert gap <= FLOAT_MAX_ABS, f"{runtime}: float flatbuffer differs from Keras by {gap:.3g}"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_int8_mae_increase(exported, trained, runtime):
    y = tflm.predict(_fb(exported, "int8"), trained.bundle, trained.X_test, runtime)
    mae_keras = np.abs(trained.keras_test - trained.y_test).mean()
    increase = np.abs(y - trained.y_test).mean() - mae_keras
    assert increase <= INT8_MAE_INCREASE, f"{runtime}: int8 MAE increase {increase:.4f}"


def test_lstm_state_must_be_reset_between_samples(exported, trained):
    """The fused LSTM carries h/c across invokes: without reset predictions drift (why predict() resets)."""
    from tflite_micro.python.tflite_micro import runtime

    from tinylstm.data import to_sequences

    fb = _fb(exported, "float")
    seqs = to_sequences(trained.bundle.scaler.transform_x(trained.X_test[:20]))
    it = runtime.Interpreter.from_bytes(fb, arena_size=1 << 16)
    no_reset = []
    for s in seqs:
        it.set_input(s[None].astype(np.float32), 0)
        it.invoke()
        no_reset.append(it.get_output(0).reshape(-1)[-1])
    with_reset = tflm.run_scaled(fb, seqs, "tflm")
    assert np.abs(np.asarray(no_reset) - with_reset).max() > 1e-3


def test_arena_is_the_measured_minimum(exported):
    import json

    summary = json.loads((exported[0] / "tflite.json").read_text())
    path = exported[0] / "model_int8.tflite"
    arena = summary["variants"]["int8"]["tflm_arena_min_host"]
    assert tflm.runs_with_arena(str(path), arena)
    assert not tflm.runs_with_arena(str(path), arena - 16)
    assert summary["variants"]["int8"]["tflm_arena_header"] >= arena


def test_same_bundle_same_bytes(exported, model, reference_csv):
    again = tflite_build.build(model, reference_csv, arena=False, use_cache=False)
    assert again.float_fb == _fb(exported, "float")
    assert again.int8_fb == _fb(exported, "int8")


def test_compact_is_idempotent(exported):
    fb = _fb(exported, "int8")
    assert tflm.compact(fb) == fb


@pytest.mark.parametrize("name,variant,runtime", [("tflite-float", "float", "litert"),
                                                  ("tflite-int8", "int8", "litert"),
                                                  ("tflm-float", "float", "tflm"), ("tflm-int8", "int8", "tflm")])
def test_backends(exported, trained, name, variant, runtime):
    """Each backend against the Keras model's own predictions, with the stated tolerance of its variant."""
    from tinylstm import backends

    y = backends.run(name, trained.model_dir, trained.X_test, argparse.Namespace(tflite_dir=exported[0]))
    assert y.shape == trained.keras_test.shape
    if variant == "float":
        gap = np.abs(y - trained.keras_test).max()
        assert gap <= FLOAT_MAX_ABS, f"{name}: differs from Keras by {gap:.3g}"
    else:
        increase = np.abs(y - trained.y_test).mean() - np.abs(trained.keras_test - trained.y_test).mean()
        assert increase <= INT8_MAE_INCREASE, f"{name}: int8 MAE increase {increase:.4f} over Keras"
        assert np.abs(y - trained.keras_test).max() < 1.0, f"{name}: a prediction far from Keras"


def test_backend_refuses_flatbuffer_of_another_bundle(exported, trained, tmp_path):
    import json
    import shutil

    from tinylstm import backends
    from tinylstm.errors import UserError

    stale = tmp_path / "tflite"
    shutil.copytree(exported[0], stale)
    summary = json.loads((stale / "tflite.json").read_text())
    summary["bundle_sha256"] = "0" * 64
    (stale / "tflite.json").write_text(json.dumps(summary))
    with pytest.raises(UserError, match="another weight bundle"):
        backends.run("tflm-int8", trained.model_dir, trained.X_test[:2], argparse.Namespace(tflite_dir=stale))


def test_profile_command(exported, trained, tmp_path):
    from conftest import run_cli

    out = tmp_path / "profile.md"
    r = run_cli("profile", "--quiet", "--model", str(trained.model_dir), "--tflite-dir", str(exported[0]),
                "--out", str(out))
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    b = trained.bundle
    assert f"**{b.params():,}**" in text and f"**{b.macs():,}**" in text
    assert f"{len(_fb(exported, 'int8')):,}" in text


def test_wrong_training_csv_is_a_user_error(trained, tmp_path):
    import shutil

    from conftest import run_cli

    other = tmp_path / "other.csv"
    from conftest import REFERENCE_CSV

    shutil.copyfile(REFERENCE_CSV, other)
    with other.open("a") as f:
        f.write("2014,X,Y,SUV,2.0,4,A6,X,9.9,230\n")
    r = run_cli("export", "tflite", "--model", str(trained.model_dir), "--data", str(other), "--out",
                str(tmp_path / "o"))
    assert r.returncode == 2 and "not the file the model" in r.stderr and "was trained on" in r.stderr
    r = run_cli("export", "tflite", "--model", str(trained.model_dir), "--calib-samples", "-1", "--out",
                str(tmp_path / "o"))
    assert r.returncode == 2 and "--calib-samples" in r.stderr


def test_training_csv_found_without_data_option(trained, tmp_path):
    """Exporters called with default options (`tinylstm run`) find the training CSV through ModelDir and read the
    model's own split from it."""
    import shutil

    from tinylstm.data import sha256_of

    out = tmp_path / "artifacts"
    shutil.copytree(trained.model_dir, out / "model")
    model = ModelDir.load(out / "model")
    assert sha256_of(model.data_path()) == trained.bundle.meta["data_sha256"]
    X_test, y_test = model.rows("test")
    np.testing.assert_array_equal(X_test, trained.X_test)
    np.testing.assert_array_equal(y_test, trained.y_test)


def test_keep_slice_and_calibration_subset(model, trained, reference_csv):
    """--keep-slice keeps the (1, 1) output (STRIDED_SLICE); --calib-samples N calibrates on N rows and says so."""
    b = tflite_build.build(model, reference_csv, calib_samples=100, keep_slice=True, arena=False, use_cache=False)
    assert "on 100 of" in b.calibration
    for fb in (b.float_fb, b.int8_fb):
        assert "STRIDED_SLICE" in tflm.ops(fb) and tflm.io_quant(fb).output_shape == (1, 1)
        assert set(tflm.ops(fb)) <= set(tflm.TFLM_OPS)
    y = tflm.predict(b.float_fb, trained.bundle, trained.X_test, "tflm")
    assert np.abs(y - trained.keras_test).max() <= FLOAT_MAX_ABS
    q = tflm.predict(b.int8_fb, trained.bundle, trained.X_test, "tflm")
    assert np.isfinite(q).all() and np.abs(q - trained.keras_test).mean() < 0.2
