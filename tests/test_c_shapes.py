"""The C engine (API 2) beyond the reference shape: windows of W steps x F features, K outputs, softmax, streaming.

For random window networks of tests/shapes.py (W6 F3 K4 classifier, W5 F2 K1 regression) and the committed
models/digits (W8 F8, 10 classes): the int8 C engine equals its numpy golden model bit for bit (int32 outputs and
the float32 user-unit outputs), the float32 C engine stays within the stated tolerance of Keras (1e-4 target units,
1e-5 per probability), tinylstm_argmax picks the class of the largest probability, and a reset followed by W
tinylstm_step calls gives the tinylstm_predict result (int8 bit for bit, float32 <= 1e-6) on the host and on the
emulated Cortex-M4. Stepping on past W without a reset is held against the float64 numpy reference and the
golden ``intgolden.Stream`` over the whole sequence since the reset (docs/cengine.md, "C API version 2").
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import ROOT, require_tool
from shapes import keras_outputs, raw_windows, window_model

from tinylstm import intgolden, reference
from tinylstm.export import _cbuild as cb
from tinylstm.export.c import FLOAT_TOLERANCE, PROBA_TOLERANCE, write_library

pytestmark = pytest.mark.slow

SHAPES = {"w6f3k4": dict(window=6, features=3, outputs=4), "w5f2k1": dict(window=5, features=2, outputs=1)}
N_ROWS = 48


class Case:
    def __init__(self, bundle, X, keras_y, root):
        self.bundle, self.X, self.keras_y = bundle, X, keras_y
        self.libs, self.exes = {}, {}
        for v in ("float32", "int8"):
            lib = root / v
            write_library(bundle, lib, v)
            self.libs[v] = lib
            self.exes[v] = cb.build_host(lib, root / f"engine_{v}")


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    require_tool("gcc")
    out = {}
    for name, kw in SHAPES.items():
        model, bundle = window_model(**kw)
        X = raw_windows(bundle, N_ROWS, seed=5)
        out[name] = Case(bundle, X, keras_outputs(model, bundle, X), tmp_path_factory.mktemp(name))
    from tinylstm import examples
    from tinylstm.modeldir import ModelDir
    from tinylstm.train import load_keras_model

    csv = examples.write("digits", tmp_path_factory.mktemp("data") / "digits.csv")
    md = ModelDir.load(ROOT / "models" / "digits")
    X, _ = md.rows("test", csv)
    keras_y = keras_outputs(load_keras_model(md.path), md.bundle, X)
    out["digits"] = Case(md.bundle, X, keras_y, tmp_path_factory.mktemp("digits"))
    return out


def _scaled_steps(bundle, steps: np.ndarray) -> np.ndarray:
    """Raw steps (m, F) of the window layout standardised per feature (float64)."""
    return (np.asarray(steps, np.float64) - bundle.scaler.x_mean) / bundle.scaler.x_scale


@pytest.mark.parametrize("name", ["w6f3k4", "w5f2k1", "digits"])
def test_int8_bit_exact_with_golden(cases, name):
    c = cases[name]
    model = intgolden.quantize(c.bundle)
    y, q = cb.run_host(c.exes["int8"], c.X)
    np.testing.assert_array_equal(q, intgolden.predict_q(model, c.X))
    np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(intgolden.predict(model, c.X)))
    if c.bundle.is_classifier:  # and it is a quantised network that still classifies like Keras
        assert np.mean(np.argmax(y, axis=1) == np.argmax(c.keras_y, axis=1)) >= 0.9
        np.testing.assert_allclose(np.sum(y, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["w6f3k4", "w5f2k1", "digits"])
def test_float_matches_keras_and_argmax(cases, name):
    c = cases[name]
    text = cb.host_text(c.exes["float32"], c.X)
    y, q = cb.parse_outputs(text, len(c.X))
    assert q is None
    tol = PROBA_TOLERANCE if c.bundle.is_classifier else FLOAT_TOLERANCE
    assert y.shape == c.keras_y.shape
    assert np.max(np.abs(y - c.keras_y)) <= tol
    a = cb.parse_argmax(text)
    if c.bundle.is_classifier:
        np.testing.assert_array_equal(a, np.argmax(c.keras_y, axis=1))  # the class Keras picks
        np.testing.assert_array_equal(a, np.argmax(y, axis=1))
        if name == "digits":
            assert len(set(a.tolist())) == 10  # every class is answered somewhere (not a constant answer)
    else:
        assert (a == 0).all()


def test_header_names_classes_and_shape(cases):
    c = cases["digits"]
    h = (c.libs["int8"] / "tinylstm_model.h").read_text()
    for line in ("#define TINYLSTM_API_VERSION 2", "#define TINYLSTM_NUM_INPUTS 64", "#define TINYLSTM_NUM_STEPS 8",
                 "#define TINYLSTM_STEP_INPUTS 8", "#define TINYLSTM_NUM_OUTPUTS 10", "#define TINYLSTM_IS_CLASSIFIER 1",
                 '#define TINYLSTM_CLASS_NAMES {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}'):
        assert line in h, line
    h = (cases["w5f2k1"].libs["float32"] / "tinylstm_model.h").read_text()
    assert "#define TINYLSTM_IS_CLASSIFIER 0" in h and "#define TINYLSTM_CLASS_NAMES" not in h


@pytest.mark.parametrize("name", ["w6f3k4", "w5f2k1", "digits"])
def test_reset_and_w_steps_equal_the_batch_call(cases, name):
    c = cases[name]
    W, F = c.bundle.n_steps, c.bundle.values_per_step
    X = c.X[:16]
    steps = X.reshape(len(X) * W, F)
    for v in ("float32", "int8"):
        y_b, q_b = cb.run_host(c.exes[v], X)
        y_s, q_s = cb.run_host_stream(c.exes[v], steps, reset_every=W)
        last = np.arange(W - 1, len(steps), W)
        if v == "int8":
            np.testing.assert_array_equal(q_s[last], q_b)
            np.testing.assert_array_equal(cb.float_bits(y_s[last]), cb.float_bits(y_b))
        else:
            assert np.max(np.abs(y_s[last] - y_b)) <= 1e-6


@pytest.mark.parametrize("name", ["w6f3k4", "w5f2k1"])
def test_stepping_past_w_continues_the_sequence(cases, name):
    """No reset after W steps: the output after step n is the network over all n steps since the reset - float32
    C vs the float64 numpy reference over that prefix, int8 C vs the golden Stream bit for bit."""
    c = cases[name]
    b = c.bundle
    W, F = b.n_steps, b.values_per_step
    steps = c.X[:4].reshape(-1, F)  # 4 W steps, one stream
    y_f, _ = cb.run_host_stream(c.exes["float32"], steps)
    want = np.array([b.outputs(reference.forward_scaled(b, _scaled_steps(b, steps[:n])[None]))[0]
                     for n in range(1, len(steps) + 1)])
    tol = PROBA_TOLERANCE if b.is_classifier else FLOAT_TOLERANCE
    assert np.max(np.abs(y_f - want)) <= tol
    # beyond W it is not a window over the last W steps (what tinylstm_predict on a ring buffer would give)
    window_y = reference.predict(b, steps[W:2 * W].reshape(1, -1))[0]
    assert np.max(np.abs(y_f[2 * W - 1] - window_y)) > 10 * tol
    y_q, q = cb.run_host_stream(c.exes["int8"], steps)
    model = intgolden.quantize(b)
    stream = intgolden.Stream(model, 1)
    golden_q = np.array([stream.step(s[None])[0] for s in steps])
    golden_q = golden_q[:, 0] if golden_q.shape[1] == 1 else golden_q
    np.testing.assert_array_equal(q, golden_q)
    np.testing.assert_array_equal(cb.float_bits(y_q), cb.float_bits(intgolden.outputs(model, golden_q)))


def test_non_finite_input_is_an_error_and_leaves_the_stream(cases):
    c = cases["w6f3k4"]
    F = c.bundle.values_per_step
    steps = c.X[:1].reshape(-1, F)
    bad = steps.copy()
    bad[2, 1] = np.nan
    for v in ("float32", "int8"):
        out = cb._run([str(c.exes[v]), "--stream"], stdin=cb.stream_text(np.concatenate([bad[:3], steps[2:]]), None))
        lines = [ln for ln in out.splitlines() if ln != "reset"]
        assert lines[2] == "err -1"
        ok = cb.run_host_stream(c.exes[v], steps)[0]
        got = cb.parse_outputs("\n".join(lines[:2] + lines[3:]), len(steps))[0]
        np.testing.assert_array_equal(cb.float_bits(got), cb.float_bits(ok))  # the failed step changed nothing
        assert "err -1" in cb.host_text(c.exes[v], bad.reshape(1, -1))


def test_cortex_m4_batch_and_stream(cases, tmp_path):
    """-Os on the emulated Cortex-M4F: int8 == golden bit for bit (batch), float32 within the Keras tolerance, and
    reset + W steps == the batch call (int8 bit for bit, float32 <= 1e-6) for the W6 F3 K4 classifier."""
    require_tool("arm-none-eabi-gcc", "qemu-system-arm")
    c = cases["w6f3k4"]
    W, F = c.bundle.n_steps, c.bundle.values_per_step
    X = c.X[:12]
    model = intgolden.quantize(c.bundle)
    for v in ("float32", "int8"):
        elf = cb.build_m4(c.libs[v], tmp_path / v / "test.elf", "test", X, opt="-Os")
        text = cb.m4_text(elf)
        y_b, q_b = cb.parse_outputs(text, len(X))
        np.testing.assert_array_equal(cb.parse_argmax(text), np.argmax(y_b, axis=1))
        elf = cb.build_m4(c.libs[v], tmp_path / f"{v}_stream" / "test.elf", "test", X.reshape(-1, F), opt="-Os",
                          stream_resets=W)
        y_s, q_s = cb.parse_outputs(cb.m4_text(elf), len(X) * W)
        last = np.arange(W - 1, len(X) * W, W)
        if v == "int8":
            np.testing.assert_array_equal(q_b, intgolden.predict_q(model, X))
            np.testing.assert_array_equal(cb.float_bits(y_b), cb.float_bits(intgolden.predict(model, X)))
            np.testing.assert_array_equal(q_s[last], q_b)
            np.testing.assert_array_equal(cb.float_bits(y_s[last]), cb.float_bits(y_b))
        else:
            assert np.max(np.abs(y_b - c.keras_y[:12])) <= PROBA_TOLERANCE
            assert np.max(np.abs(y_s[last] - y_b)) <= 1e-6


def test_cortex_m4_reference_model_stream(trained, tmp_path):
    """The reference model (feature_per_step: step t uses the scaler of column t) on the Cortex-M4: reset + 3 steps
    == tinylstm_predict, int8 bit for bit with the golden model."""
    require_tool("arm-none-eabi-gcc", "qemu-system-arm")
    X = trained.X_test[:10]
    lib = tmp_path / "lib"
    write_library(trained.bundle, lib, "int8")
    elf = cb.build_m4(lib, tmp_path / "s" / "test.elf", "test", X.reshape(-1, 1), opt="-Os", stream_resets=3)
    y_s, q_s = cb.parse_outputs(cb.m4_text(elf), len(X) * 3)
    model = intgolden.quantize(trained.bundle)
    np.testing.assert_array_equal(q_s[2::3], intgolden.predict_q(model, X))
    np.testing.assert_array_equal(cb.float_bits(y_s[2::3]), cb.float_bits(intgolden.predict(model, X)))
