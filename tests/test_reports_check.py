"""What ``tinylstm run`` checks in the C and FPGA report sections: the written C libraries built for the host and
run on the test rows against the golden models, and the fixed-point golden model's test error. A library that
does not compute the model's outputs is reported as a mismatch (the check can fail)."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from conftest import require_tool

from tinylstm.bundle import Bundle
from tinylstm.export import _cbuild as cb
from tinylstm.export.fpga import FpgaOptions, design_for
from tinylstm.modeldir import ModelDir
from tinylstm.reports.c import host_check
from tinylstm.reports.fpga import golden_line

pytestmark = pytest.mark.slow


def _libs(model_dir, root):
    return {v: cb.export_library(ModelDir.load(model_dir), v, root / v) for v in ("float32", "int8")}


def test_host_check_passes_for_the_models_own_libraries(trained, tmp_path):
    require_tool("gcc")
    model = ModelDir.load(trained.model_dir)
    text = "\n".join(host_check(model, _libs(trained.model_dir, tmp_path), trained.X_test, trained.y_test))
    assert f"run on the {len(trained.X_test)} test rows" in text
    float_row = next(line for line in text.splitlines() if line.startswith("| float32 |"))
    int_row = next(line for line in text.splitlines() if line.startswith("| int8 |"))
    assert "**yes**" in float_row and "**NO**" not in float_row
    assert int_row.count("**yes**") == 2 and "| 0.00e+00 |" in int_row  # bit for bit, ΔMAE within tolerance


def test_host_check_flags_libraries_of_other_weights(trained, tmp_path):
    require_tool("gcc")
    other = tmp_path / "other"
    shutil.copytree(trained.model_dir, other)
    b = Bundle.load(other / "bundle.npz")
    b.dense[-1].b = b.dense[-1].b + 0.05  # standardised units: a shift of the outputs, same shapes
    b.save(other / "bundle.npz")
    text = "\n".join(host_check(ModelDir.load(trained.model_dir), _libs(other, tmp_path), trained.X_test,
                                trained.y_test))
    float_row = next(line for line in text.splitlines() if line.startswith("| float32 |"))
    int_row = next(line for line in text.splitlines() if line.startswith("| int8 |"))
    assert "**NO**" in float_row
    assert "bit for bit: **NO**" in int_row


def test_fpga_golden_line_states_the_fixed_point_test_error(trained, reference_csv):
    from tinylstm import fixedpoint, reference

    model = ModelDir.load(trained.model_dir)
    line = golden_line(model, design_for(model, FpgaOptions()))
    mae = float(np.mean(np.abs(fixedpoint.predict(trained.bundle, trained.X_test) - trained.y_test)))
    mae_f = float(np.mean(np.abs(reference.predict(trained.bundle, trained.X_test) - trained.y_test)))
    got = re.search(r"test rows: MAE (\d+\.\d+) .*float golden (\d+\.\d+), Δ ([+-]\d+\.\d+)", line)
    assert got, line
    assert float(got[1]) == pytest.approx(mae, abs=5e-5) and float(got[2]) == pytest.approx(mae_f, abs=5e-5)
    assert abs(mae - mae_f) < 0.01  # Q5.11 keeps the float model's accuracy on this data
