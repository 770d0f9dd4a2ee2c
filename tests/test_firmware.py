"""The committed generated firmware files cannot drift: `tinylstm export firmware --check` regenerates them from the
committed reference models and compares byte for byte, and the committed pieces agree with each other."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, require_tool, run_cli

GENERATED = ["firmware/esp32/include/model.h", "firmware/esp32/lib/tinylstm_c/tinylstm_model.h",
             "firmware/esp32/lib/tinylstm_c/tinylstm_model_data.h", "firmware/esp32/lib/tinylstm_c/tinylstm_float.c",
             "firmware/esp32/lib/tinylstm_c/tl_act.h", "firmware/esp32/lib/tinylstm_c_int8/tinylstm_model_data.h",
             "firmware/riscv/model.h"]


def test_export_firmware_check_passes_on_the_checkout(reference_csv):
    proc = run_cli("export", "firmware", "--check")
    assert proc.returncode == 0, proc.stderr
    assert "up to date" in proc.stdout


@pytest.fixture(scope="module")
def checkout_copy(tmp_path_factory, reference_csv) -> Path:
    root = tmp_path_factory.mktemp("checkout")
    for part in ("firmware", "models"):
        shutil.copytree(ROOT / part, root / part)
    return root


def test_export_firmware_check_names_every_changed_stale_or_missing_file(checkout_copy):
    """One byte flipped in each committed generated file, a stale file in the generated C library and a missing
    RISC-V header: --check exits 1 and names exactly those files; the export then restores every byte."""
    originals = {rel: (checkout_copy / rel).read_bytes() for rel in GENERATED}
    for rel, data in originals.items():
        pos = len(data) // 2
        (checkout_copy / rel).write_bytes(data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:])
    stale = checkout_copy / "firmware/esp32/lib/tinylstm_c/old_engine.c"
    stale.write_text("/* left over */\n")
    proc = run_cli("export", "firmware", "--check", "--root", str(checkout_copy))
    assert proc.returncode == 1, proc.stderr
    named = set(re.findall(r"^differs: (\S+)$", proc.stderr, re.M))
    assert named == {*GENERATED, "firmware/esp32/lib/tinylstm_c/old_engine.c"}
    assert all((checkout_copy / rel).read_bytes() != data for rel, data in originals.items())  # wrote nothing

    (checkout_copy / "firmware/riscv/model.h").unlink()
    proc = run_cli("export", "firmware", "--root", str(checkout_copy), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert {rel: (checkout_copy / rel).read_bytes() for rel in GENERATED} == originals
    assert not stale.exists()
    assert (checkout_copy / "firmware/esp32/lib/tinylstm_c/README.md").exists()  # hand-written, kept


def test_missing_training_csv_is_one_line_naming_it(trained, tmp_path):
    """Generation that needs the training rows (calibration, self-check) says which CSV and how to get it."""
    from tinylstm.bundle import Bundle
    from tinylstm.errors import UserError
    from tinylstm.modeldir import ModelDir

    model = tmp_path / "model"
    shutil.copytree(trained.model_dir, model)
    b = Bundle.load(model)
    b.meta["data_sha256"] = "0" * 64  # no file anywhere has this hash
    b.save(model / "bundle.npz")
    with pytest.raises(UserError, match="needs its training CSV 'FuelConsumption.csv'.*tinylstm data fetch"):
        ModelDir.load(model).data_path()


def _c_floats(text: str, name: str) -> np.ndarray:
    body = re.search(rf"{name}\[[^=]*=\s*\{{(.*?)\}};", text, re.S).group(1)
    return np.array([float(v.rstrip("f")) for v in re.findall(r"-?[0-9][0-9.e+-]*f?", body)])


def test_committed_c_library_agrees_with_the_committed_header_self_check(tmp_path):
    """The five self-check rows of model.h (TFLM int8 answers) through the committed float C library: within the
    header's stated tolerance, so the two committed files describe one model."""
    require_tool("gcc")
    from tinylstm.export import _cbuild as cb

    header = (ROOT / "firmware/esp32/include/model.h").read_text()
    X = _c_floats(header, "tinylstm_vector_inputs").reshape(-1, 3)
    expected = _c_floats(header, "tinylstm_vector_expected")
    tol = float(re.search(r"tinylstm_vector_tolerance = ([0-9.e+-]+)f", header).group(1))
    lib = tmp_path / "lib"
    shutil.copytree(ROOT / "firmware/esp32/lib/tinylstm_c", lib)
    exe = cb.build_host(lib, tmp_path / "engine")
    y, _ = cb.run_host(exe, X)
    assert len(y) == len(expected) == 5
    assert np.abs(y - expected).max() <= tol, (y, expected, tol)
