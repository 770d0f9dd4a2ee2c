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

from tinylstm import tflm

FLOAT_MAX_ABS = 1e-4
INT8_MAE_INCREASE = 0.02
RUNTIMES = ("litert", "tflm")


@pytest.fixture(scope="module")
def exported(trained, reference_csv, tmp_path_factory):
    from tinylstm.export import get

    out = tmp_path_factory.mktemp("tflite")
    args = argparse.Namespace(data=reference_csv, calib_samples=0, keep_slice=False, no_arena=False)
    written = get("tflite").export(trained.model_dir, out, args)
    return out, written


def _fb(exported, variant):
    return (exported[0] / f"model_{variant}.tflite").read_bytes()


def test_writes_both_flatbuffers_and_report(exported):
    names = sorted(p.name for p in exported[1])
    assert names == ["model_float.tflite", "model_int8.tflite", "tflite.json", "tflite.report.md"]
    text = (exported[0] / "tflite.report.md").read_text()
    assert "| int8 |" in text and "| float |" in text and "| lstm0 |" in text


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


def test_same_bundle_same_bytes(exported, trained, reference_csv):
    from tinylstm.export.tflite import build

    again = build(trained.model_dir, reference_csv, arena=False, use_cache=False)
    assert again.float_fb == _fb(exported, "float")
    assert again.int8_fb == _fb(exported, "int8")


def test_compact_is_idempotent(exported):
    fb = _fb(exported, "int8")
    assert tflm.compact(fb) == fb


@pytest.mark.parametrize("name,variant,runtime", [("tflite-float", "float", "litert"), ("tflite-int8", "int8", "litert"),
                                                  ("tflm-float", "float", "tflm"), ("tflm-int8", "int8", "tflm")])
def test_backends(exported, trained, name, variant, runtime):
    from tinylstm import backends

    X = trained.X_test[:8]
    y = backends.run(name, trained.model_dir, X, argparse.Namespace(tflite_dir=exported[0]))
    expect = tflm.predict(_fb(exported, variant), trained.bundle, X, runtime)
    np.testing.assert_allclose(y, expect, rtol=0, atol=1e-9)


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
    from conftest import run_cli

    import shutil

    other = tmp_path / "other.csv"
    from conftest import REFERENCE_CSV

    shutil.copyfile(REFERENCE_CSV, other)
    with other.open("a") as f:
        f.write("2014,X,Y,SUV,2.0,4,A6,X,9.9,230\n")
    r = run_cli("export", "tflite", "--model", str(trained.model_dir), "--data", str(other), "--out",
                str(tmp_path / "o"))
    assert r.returncode == 2 and "not the file this model was trained on" in r.stderr
    r = run_cli("export", "tflite", "--model", str(trained.model_dir), "--calib-samples", "-1", "--out",
                str(tmp_path / "o"))
    assert r.returncode == 2 and "--calib-samples" in r.stderr


def test_training_csv_found_through_run_report(trained, reference_csv, tmp_path):
    """`tinylstm run --data X.csv` calls exporters with default options: they find X.csv via report.json."""
    import json
    import shutil

    from tinylstm.export.tflite import load_rows

    out = tmp_path / "artifacts"
    shutil.copytree(trained.model_dir, out / "model")
    copy = tmp_path / "renamed.csv"
    shutil.copyfile(reference_csv, copy)
    (out / "report.json").write_text(json.dumps({"data": {"file": str(copy)}}))
    rows = load_rows(out / "model", trained.bundle, tmp_path / "missing.csv")
    assert rows.data_file == copy
    np.testing.assert_array_equal(rows.X_test, trained.X_test)


def test_keep_slice_and_calibration_subset(trained, reference_csv):
    """--keep-slice keeps the (1, 1) output (STRIDED_SLICE); --calib-samples N calibrates on N rows and says so."""
    from tinylstm.export.tflite import build

    b = build(trained.model_dir, reference_csv, calib_samples=100, keep_slice=True, arena=False, use_cache=False)
    assert "on 100 of" in b.calibration
    for fb in (b.float_fb, b.int8_fb):
        assert "STRIDED_SLICE" in tflm.ops(fb) and tflm.io_quant(fb).output_shape == (1, 1)
        assert set(tflm.ops(fb)) <= set(tflm.TFLM_OPS)
    y = tflm.predict(b.float_fb, trained.bundle, trained.X_test, "tflm")
    assert np.abs(y - trained.keras_test).max() <= FLOAT_MAX_ABS
    q = tflm.predict(b.int8_fb, trained.bundle, trained.X_test, "tflm")
    assert np.isfinite(q).all() and np.abs(q - trained.keras_test).mean() < 0.2
