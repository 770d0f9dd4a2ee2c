"""The weight bundle reproduces Keras, round-trips through its file, and is byte-deterministic."""

import numpy as np

from tinylstm import reference
from tinylstm.bundle import Bundle, gate_slices

#: Float golden model vs Keras on the test set (target units). Keras runs float32, the golden model float64.
BUNDLE_VS_KERAS_TOL = 1e-5


def test_numpy_forward_reproduces_keras(trained):
    pred = reference.predict(trained.bundle, trained.X_test)
    assert np.abs(pred - trained.keras_test).max() <= BUNDLE_VS_KERAS_TOL


def test_saved_bundle_round_trips_and_matches_keras(trained):
    loaded = Bundle.load(trained.model_dir / "bundle.npz")
    for a, b in zip(loaded.to_arrays().values(), trained.bundle.to_arrays().values()):
        np.testing.assert_array_equal(a, b)
    assert loaded.header() == trained.bundle.header()
    assert np.abs(reference.predict(loaded, trained.X_test) - trained.keras_test).max() <= BUNDLE_VS_KERAS_TOL


def test_bundle_file_is_byte_deterministic(trained, tmp_path):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    trained.bundle.save(a)
    trained.bundle.save(b)
    assert a.read_bytes() == b.read_bytes() == (trained.model_dir / "bundle.npz").read_bytes()


def test_reference_architecture_facts(trained):
    b = trained.bundle
    assert b.params() == 2321
    assert b.macs() == 5744  # (12*4*1 + 12*48) * 3 + (12*48 + 12*48) * 3 + 12*32 + 32
    assert [l.units for l in b.lstm] == [12, 12] and b.lstm[0].inputs == 1
    assert gate_slices(12)["c"] == slice(24, 36)


#: Bias of each gate block in a test layer with zero kernels: every permutation of the gates gives other outputs.
GATE_BIAS = {"i": 0.125, "f": 0.75, "c": -0.375, "o": 1.25}  # exact in float32


def _sig(v: float) -> float:
    return 1.0 / (1.0 + np.exp(-v))


def _gate_probe_bundle(trained) -> Bundle:
    """The trained bundle with lstm0 replaced by a 1-unit-per-gate-block probe: W = U = 0, b per gate."""
    b = Bundle.load(trained.model_dir)
    H = b.lstm[0].units
    layer = b.lstm[0]
    layer.W[:] = 0.0
    layer.U[:] = 0.0
    for gate, value in GATE_BIAS.items():
        layer.b[gate_slices(H)[gate]] = value
    return b


def test_gate_order_is_keras_ifco_by_hand(trained):
    """With zero kernels the first layer's h after each step has a closed form in the four gate biases
    (computed here by hand, not by the code under test); any other gate order gives other values."""
    from tinylstm.reference import lstm_forward

    b = _gate_probe_bundle(trained)
    i, f, g, o = _sig(GATE_BIAS["i"]), _sig(GATE_BIAS["f"]), np.tanh(GATE_BIAS["c"]), _sig(GATE_BIAS["o"])
    c, expected = 0.0, []
    for _ in range(3):
        c = f * c + i * g
        expected.append(o * np.tanh(c))
    seq = np.zeros((1, 3, 1))
    h = lstm_forward(b.lstm[0], seq)  # (1, 3, H): return_sequences
    np.testing.assert_allclose(h[0, :, 0], expected, rtol=0, atol=1e-12)
    for perm in [("f", "i", "c", "o"), ("i", "f", "o", "c"), ("o", "f", "c", "i")]:  # a wrong order differs
        bi, bf, bc, bo = (GATE_BIAS[k] for k in perm)
        wrong = _sig(bo) * np.tanh(_sig(bi) * np.tanh(bc))
        assert abs(wrong - expected[0]) > 1e-3


def test_gate_order_matches_keras_lstm(trained):
    """The same probe through a real Keras LSTM layer: Keras's kernel layout is the bundle's (i, f, c, o)."""
    from tinylstm.model import keras
    from tinylstm.reference import lstm_forward

    b = _gate_probe_bundle(trained)
    rng = np.random.default_rng(0)
    layer = b.lstm[0]
    layer.W[:] = rng.normal(0, 0.5, layer.W.shape)  # non-zero kernels so that every block is exercised
    layer.U[:] = rng.normal(0, 0.5, layer.U.shape)
    k = keras()
    lstm = k.layers.LSTM(layer.units, return_sequences=True)
    x = rng.normal(0, 1, (4, 3, 1)).astype(np.float32)
    lstm.build((None, 3, 1))
    lstm.set_weights([layer.W, layer.U, layer.b])
    np.testing.assert_allclose(lstm_forward(layer, x), np.asarray(lstm(x)), rtol=0, atol=1e-5)
