"""``tinylstm import-keras``: a user's own Keras model becomes a model directory, or is refused in one line.

The expected values come from outside the importer: the committed reference model's own bundle (the importer
must rebuild it from its ``model.keras`` and the reference CSV), and the user's Keras model run by the test on
inputs the test standardises itself.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, run_cli

from tinylstm.bundle import Bundle


def _keras():
    from tinylstm.model import keras

    return keras()


def _series(path: Path, n: int = 240) -> Path:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    a = np.sin(t / 5) + rng.normal(0, 0.1, n)
    b = np.cos(t / 7) * 3 + 10 + rng.normal(0, 0.1, n)
    path.write_text("t,a,b\n" + "".join(f"{k},{a[k]:.5f},{b[k]:.5f}\n" for k in range(n)))
    return path


def test_reference_model_reimported_equals_its_bundle(tmp_path, reference_csv):
    """models/reference/model.keras + the reference CSV → the same weights and scaler as the committed bundle."""
    out = tmp_path / "imported"
    proc = run_cli("import-keras", str(ROOT / "models" / "reference" / "model.keras"), "--data", str(reference_csv),
                   "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    got, want = Bundle.load(out), Bundle.load(ROOT / "models" / "reference")
    assert got.features == want.features and got.target == want.target and got.layout == want.layout
    for a, b in zip([*got.lstm, *got.dense], [*want.lstm, *want.dense]):
        for x, y in zip(vars(a).values(), vars(b).values()):
            if isinstance(x, np.ndarray):
                assert np.array_equal(x, y)
    for f in ("x_mean", "x_scale", "y_mean", "y_scale"):
        assert np.allclose(getattr(got.scaler, f), getattr(want.scaler, f), rtol=0, atol=1e-12), f
    want_split = json.loads((ROOT / "models" / "reference" / "split.json").read_text())
    assert json.loads((out / "split.json").read_text()) == want_split


def test_users_window_model_with_own_scaler_predicts_like_keras(tmp_path):
    """A user's Sequential (own names, Dropout, no bias on one LSTM) with the scaler they trained with."""
    k = _keras()
    k.utils.set_random_seed(1)
    W, F = 5, 2
    model = k.Sequential([k.Input((W, F)), k.layers.LSTM(6, return_sequences=True, name="enc", use_bias=False),
                          k.layers.Dropout(0.2), k.layers.LSTM(4, name="dec"), k.layers.Dense(8, "relu"),
                          k.layers.Dense(1, name="out")])
    mfile = tmp_path / "mine.keras"
    model.save(mfile)
    data = _series(tmp_path / "s.csv")
    scaler = {"x_mean": [0.1, 9.5], "x_scale": [0.7, 2.0], "y_mean": 0.05, "y_scale": 0.6}
    (tmp_path / "scaler.json").write_text(json.dumps(scaler))
    out = tmp_path / "m"
    proc = run_cli("import-keras", str(mfile), "--data", str(data), "--layout", "window", "--window", str(W),
                   "--time-column", "t", "--features", "a,b", "--target", "a", "--scaler",
                   str(tmp_path / "scaler.json"), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    pred = tmp_path / "p.csv"
    proc = run_cli("predict", "--model", str(out), "--data", str(data), "--out", str(pred), "--backend", "numpy")
    assert proc.returncode == 0, proc.stderr
    rows = list(csv.DictReader(pred.open()))
    X = np.array([[float(r["a"]), float(r["b"])] for r in rows])
    # the user's own pipeline: standardise, window, predict, un-standardise (horizon 1: row k+W is predicted)
    Z = (X - scaler["x_mean"]) / scaler["x_scale"]
    seqs = np.stack([Z[i:i + W] for i in range(len(X) - W)]).astype(np.float32)
    want = np.asarray(model(seqs, training=False))[:, 0] * scaler["y_scale"] + scaler["y_mean"]
    got = np.array([float(r["a_predicted"]) for r in rows[W:]])
    assert np.max(np.abs(got - want)) <= 1e-5


@pytest.mark.parametrize("case", [
    ("gru", lambda k: [k.layers.GRU(4), k.layers.Dense(1)], "'gru' (GRU): GRU cells are not supported"),
    ("bi", lambda k: [k.layers.Bidirectional(k.layers.LSTM(4), name="bi"), k.layers.Dense(1)],
     "'bi' (Bidirectional): bidirectional"),
    ("back", lambda k: [k.layers.LSTM(4, go_backwards=True, name="back"), k.layers.Dense(1)],
     "'back' (LSTM): go_backwards=True"),
    ("stateful", lambda k: [k.layers.LSTM(4, stateful=True, name="st"), k.layers.Dense(1)],
     "'st' (LSTM): stateful=True"),
    ("act", lambda k: [k.layers.LSTM(4), k.layers.Dense(3, activation="tanh", name="th"), k.layers.Dense(1)],
     "'th' (Dense): activation 'tanh'"),
    ("hard", lambda k: [k.layers.LSTM(4, recurrent_activation="hard_sigmoid", name="hs"), k.layers.Dense(1)],
     "'hs' (LSTM): activation 'tanh'/recurrent_activation 'hard_sigmoid'"),
    ("conv", lambda k: [k.layers.Conv1D(2, 2, name="cv"), k.layers.LSTM(4), k.layers.Dense(1)],
     "'cv' (Conv1D): this layer type is not supported"),
])
def test_unsupported_layers_are_refused_naming_the_layer(tmp_path, case):
    """In process (one Keras import for all cases); the CLI's exit code and untouched files: the GRU case."""
    from tinylstm.errors import UserError
    from tinylstm.keras_import import ImportOptions, import_keras

    name, layers, want = case
    k = _keras()
    batch = 1 if name == "stateful" else None
    model = k.Sequential([k.Input((3, 1), batch_size=batch), *layers(k)])
    mfile = tmp_path / f"{name}.keras"
    model.save(mfile)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("previous")
    data = ROOT / "data" / "FuelConsumption.csv"
    with pytest.raises(UserError) as err:
        import_keras(ImportOptions(mfile, data, ("ENGINE SIZE", "CYLINDERS", "COEMISSIONS"), "FUEL CONSUMPTION", out))
    assert want in str(err.value) and "\n" not in str(err.value)
    if name == "gru":
        proc = run_cli("import-keras", str(mfile), "--data", str(data), "--out", str(out))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and want in lines[0], proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mfile.name, "out"])
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_wrong_input_shape_and_class_count(tmp_path):
    k = _keras()
    model = k.Sequential([k.Input((4, 2)), k.layers.LSTM(3), k.layers.Dense(1)])
    mfile = tmp_path / "m.keras"
    model.save(mfile)
    proc = run_cli("import-keras", str(mfile), "--data", str(ROOT / "data" / "FuelConsumption.csv"),
                   "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "input shape (4, 2) does not match" in proc.stderr
    data = tmp_path / "c.csv"
    data.write_text("a,b,y\n" + "".join(f"{i},{i % 5},{'xyz'[i % 3]}\n" for i in range(120)))
    clf = k.Sequential([k.Input((4, 2)), k.layers.LSTM(3), k.layers.Dense(2, activation="softmax")])
    clf.save(mfile)
    proc = run_cli("import-keras", str(mfile), "--data", str(data), "--layout", "window", "--window", "4",
                   "--task", "classify", "--features", "a,b", "--target", "y", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "2 outputs, but column 'y' holds 3 classes" in proc.stderr, proc.stderr
    assert not (tmp_path / "o").exists()


def test_layout_flags_on_predict_must_match_the_model(tmp_path, reference_csv):
    proc = run_cli("predict", "--model", str(ROOT / "models" / "reference"), "--data", str(reference_csv),
                   "--out", str(tmp_path / "p.csv"), "--window", "4")
    assert proc.returncode == 2 and "is a feature_per_step model" in proc.stderr
    assert not (tmp_path / "p.csv").exists()
    digest = hashlib.sha256(reference_csv.read_bytes()).hexdigest()
    assert digest == "46cf0d3a2d59074d98d97f361acdf1bd20681b78de4a8b5248a3fe5e517a334e"
