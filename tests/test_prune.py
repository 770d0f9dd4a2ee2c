"""Magnitude pruning and fine-tuning under the mask; the eSELL fp16 golden model against Keras and float."""

from __future__ import annotations

import numpy as np
import pytest

from tinylstm import esell, prune, reference
from tinylstm.bundle import Bundle

#: fp16 weights against the float32 Keras model of the same (pruned, fine-tuned) weights, L/100km.
GOLDEN_VS_KERAS_MAX = 0.02
#: Required test-MAE increase bound at 50 % sparsity after fine-tuning (issue 6), L/100km.
MAE_INCREASE_MAX = 0.03


@pytest.fixture(scope="session")
def pruned50(trained, reference_csv):
    """The default pruned model (50 % on every matrix, fine-tuned), made beside the session model."""
    return prune.ensure_pruned(trained.model_dir, None, data=reference_csv)


def test_masks_hit_the_target_per_matrix_and_keep_the_largest():
    rng = np.random.default_rng(0)
    m = rng.normal(size=(12, 48)).astype(np.float32)
    for s in (0.0, 0.3, 0.5, 0.9):
        keep = prune.magnitude_mask(m, s)
        assert (~keep).sum() == round(s * m.size)
        if 0 < s:
            assert np.abs(m[keep]).min() >= np.abs(m[~keep]).max()
    bal = prune.magnitude_mask(m, 0.5, "balanced")
    assert np.all(bal.reshape(3, 4, 48).sum(axis=1) == 2)  # 2 of every 4 inputs kept per gate unit


def test_parse_sparsities():
    assert prune.parse_sparsities(None, 2) == (0.5,) * 4
    assert prune.parse_sparsities([30], 2) == (0.3,) * 4
    assert prune.parse_sparsities([0.1, 0.2, 0.3, 0.4], 2) == (0.1, 0.2, 0.3, 0.4)
    from tinylstm.errors import UserError

    with pytest.raises(UserError, match="give 1 or 4"):
        prune.parse_sparsities([0.1, 0.2], 2)
    with pytest.raises(UserError, match="must be in"):
        prune.parse_sparsities([1.0], 2)


def test_finetuned_model_keeps_the_mask_and_the_accuracy(trained, pruned50):
    src, pb = trained.bundle, Bundle.load(pruned50)
    assert pruned50.name == f"{trained.model_dir.name}_pruned_50"
    masks = prune.masks_for(src, (0.5,) * 4)
    for layer, (mw, mu) in zip(pb.lstm, masks):
        assert np.all(layer.W[~mw] == 0) and np.all(layer.U[~mu] == 0)
        assert np.mean(layer.W == 0) == pytest.approx(0.5, abs=1e-9)
        assert np.mean(layer.U == 0) == pytest.approx(0.5, abs=1e-9)
    y = trained.y_test
    mae_float = np.mean(np.abs(y - reference.predict(src, trained.X_test)))
    mae_esell = np.mean(np.abs(y - esell.predict(pb, trained.X_test)))
    raw = prune.apply_masks(src, masks)
    mae_raw = np.mean(np.abs(y - esell.predict(raw, trained.X_test)))
    print(f"test MAE float {mae_float:.4f}, pruned 50 % {mae_raw:.4f}, fine-tuned eSELL fp16 {mae_esell:.4f}")
    assert mae_esell - mae_float <= MAE_INCREASE_MAX
    assert mae_esell < mae_raw  # fine-tuning recovered something


def test_finetuning_remakes_the_committed_pruned_reference_byte_for_byte(pruned50):
    """`tinylstm prune` with its defaults on models/reference gives models/reference_pruned_50's weights exactly:
    the fine-tune's speed-ups (several steps per compiled call, the mask as a variable constraint) kept the
    weights the after-batch callback made."""
    from conftest import REFERENCE_MODEL

    committed = REFERENCE_MODEL.parent / "reference_pruned_50" / "bundle.npz"
    assert (pruned50 / "bundle.npz").read_bytes() == committed.read_bytes()


def test_esell_golden_matches_keras_of_the_pruned_model(trained, pruned50):
    from tinylstm.data import to_sequences
    from tinylstm.train import load_keras_model

    pb = Bundle.load(pruned50)
    model = load_keras_model(pruned50)
    seq = to_sequences(pb.scaler.transform_x(trained.X_test))
    keras = pb.scaler.inverse_y(model.predict(seq, verbose=0)[:, 0])
    golden = esell.predict(pb, trained.X_test)
    assert np.max(np.abs(golden - keras)) <= GOLDEN_VS_KERAS_MAX
    # the float golden model on the same weights is Keras to float32 precision
    assert np.max(np.abs(reference.predict(pb, trained.X_test) - keras)) <= 1e-4


def test_ensure_pruned_reuses_the_cached_directory(trained, pruned50, reference_csv):
    stamp = (pruned50 / "bundle.npz").stat().st_mtime_ns
    assert prune.ensure_pruned(trained.model_dir, [50], data=reference_csv) == pruned50
    assert (pruned50 / "bundle.npz").stat().st_mtime_ns == stamp
    assert prune.ensure_pruned(pruned50) == pruned50  # a pruned model is used as is
    assert prune.ensure_pruned(pruned50, [0.5]) == pruned50
    from tinylstm.errors import UserError

    with pytest.raises(UserError, match="already pruned"):
        prune.ensure_pruned(pruned50, [0.7])


def test_prune_cli_without_finetuning(trained, tmp_path):
    from conftest import run_cli

    out = tmp_path / "p"
    res = run_cli("prune", "--quiet", "--model", str(trained.model_dir), "--out", str(out), "--ws", "30", "60",
                  "0", "90", "--epochs", "0")
    assert res.returncode == 0, res.stderr
    ach = Bundle.load(out).meta["pruning"]["sparsity_achieved"]
    # round(s * size) zeros
    assert ach == pytest.approx({"W1": 14 / 48, "U1": 346 / 576, "W2": 0.0, "U2": 518 / 576}, abs=1e-9)
    bad = run_cli("prune", "--model", str(trained.model_dir), "--ws", "0.1", "0.2")
    assert bad.returncode == 2 and "give 1 or 4" in bad.stderr
