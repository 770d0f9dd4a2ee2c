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


def test_gate_order_is_keras_ifco(trained):
    """Perturbing only the forget-gate bias block must change the output the way a forget gate does."""
    b = Bundle.load(trained.model_dir)
    f = gate_slices(b.lstm[0].units)["f"]
    b.lstm[0].b[f] = -50.0  # forget gate closed: the first layer's c only keeps the current step
    closed = reference.predict(b, trained.X_test[:5])
    b.lstm[0].b[f] = 50.0
    opened = reference.predict(b, trained.X_test[:5])
    assert not np.allclose(closed, opened)
