"""The hls4ml peer of the bench (``tinylstm bench --only fpga-peer``): the skip path, the figures against Keras and
the runner's error path run everywhere; the real hls4ml C simulation only where ``TINYLSTM_HLS4ML_PYTHON`` names an
interpreter with hls4ml (not in CI: the peer is a bench row)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REFERENCE_MODEL

from tinylstm.bench import hls4ml_peer as peer
from tinylstm.bundle import Bundle
from tinylstm.errors import UserError


def test_skip_without_interpreter_runs_nothing(monkeypatch):
    def no_subprocess(*a, **k):
        raise AssertionError("the peer must not start a process without an interpreter")

    monkeypatch.delenv(peer.ENV, raising=False)
    monkeypatch.setattr(subprocess, "run", no_subprocess)
    text = peer.section(REFERENCE_MODEL, type("Args", (), {"data": None, "only": "fpga-peer"})())
    assert "hls4ml: skipped — hls4ml not installed" in text
    assert peer.ENV in text


def test_peer_runs_once_when_the_fpga_section_runs(monkeypatch):
    """``bench`` and ``bench --only fpga,...``: the fpga section ends with the peer table, fpga-peer only points."""
    monkeypatch.setattr(peer, "table", lambda *a, **k: pytest.fail("the peer table must not run twice"))
    for only in (None, "fpga", "cengine, fpga"):
        text = peer.section(REFERENCE_MODEL, type("Args", (), {"data": None, "only": only})())
        assert "`fpga` section" in text


def test_figures_are_against_keras_in_target_units():
    """An hls4ml output 0.1 (standardised) above Keras on every row is 0.1 × y_scale target units off Keras."""
    bundle = Bundle.load(REFERENCE_MODEL)
    rng = np.random.default_rng(0)
    keras_std = rng.normal(size=(40, 1))
    y = bundle.outputs(keras_std) + rng.normal(scale=0.3, size=40)
    answer = {"hls4ml": "x", "keras": "y", "keras_out": keras_std.tolist(),
              "runs": [{"label": "shifted", "out": (keras_std + 0.1).tolist(), "error": None, "cpu_s": 1.0},
                       {"label": "broken", "out": None, "error": "Exception: Failed to compile", "cpu_s": 0.5}]}
    keras = bundle.outputs(keras_std)
    res = peer.compare(bundle, answer, keras, y)
    assert res.keras_agreement == 0.0
    f = res.runs[0].figures
    step = 0.1 * bundle.scaler.y_scale
    assert f.max_abs == pytest.approx(step, rel=1e-9) and f.mean_abs == pytest.approx(step, rel=1e-9)
    assert f.mae == pytest.approx(np.mean(np.abs(keras + step - y)))
    assert f.d_mae == pytest.approx(np.mean(np.abs(keras + step - y)) - np.mean(np.abs(keras - y)))
    assert res.runs[1].figures is None and "Failed to compile" in res.runs[1].error


def test_as_good_as_the_core_compares_printed_figures():
    core = peer.Figures(0.2976, 0.0005, 0.060, 0.01)
    assert peer.Figures(0.30, 0.00049, 0.0601, 0.0).no_worse_than(core)  # prints +0.0005, 0.060
    assert peer.Figures(0.30, -0.0004, 0.035, 0.0).no_worse_than(core)
    assert not peer.Figures(0.30, 0.0019, 0.047, 0.0).no_worse_than(core)
    assert not peer.Figures(0.30, 0.0001, 0.061, 0.0).no_worse_than(core)


def test_runner_without_hls4ml_is_one_line_error():
    """The project's own interpreter has no hls4ml: the runner fails and the bench says so in one line."""
    opts = peer.PeerOptions(python=sys.executable, configs=(peer.PeerConfig("ap_fixed<16,6>"),), timeout_s=300)
    with pytest.raises(UserError) as err:
        peer.run_peer(REFERENCE_MODEL, np.zeros((2, 3, 1), np.float32), opts)
    msg = str(err.value)
    assert "\n" not in msg and "exited" in msg and "hls4ml" in msg


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(peer.ENV), reason=f"{peer.ENV} not set (hls4ml runs in its own venv)")
def test_hls4ml_c_simulation_agrees_with_keras_when_wide(trained):
    """The runner's whole path (inputs scaled here, converted and simulated there, outputs scaled back): at
    ap_fixed<32,12> with 65,536-entry tables hls4ml must be within 0.06 L/100km of Keras on every row (measured
    0.035 on the 192 test rows); a wrong scaler, row order or output mapping is off by whole L/100km."""
    n = 32
    X = trained.X_test[:n]
    cfg = peer.PeerConfig("ap_fixed<32,12>", 65536, (("table", "ap_fixed<32,8>"),))
    opts = peer.PeerOptions.from_env(configs=(cfg,))
    answer = peer.run_peer(trained.model_dir, trained.bundle.sequences(X), opts)
    res = peer.compare(trained.bundle, answer, trained.keras_test[:n], trained.y_test[:n])
    assert res.keras_agreement < 1e-4
    assert res.runs[0].error is None
    assert res.runs[0].figures.max_abs < 0.06
