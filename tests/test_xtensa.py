"""The int8 C engine on the ESP8266's Xtensa LX106 core in ``qemu-system-xtensa -M sim -cpu lx106`` (firmware/
xtensa-lx106: own start-up, linker script, simcall console/exit, the soft-float/64-bit helpers Debian's lx106 libgcc
lacks): outputs bit for bit against tinylstm.intgolden, retired instructions per inference from CCOUNT under icount,
and the hand-written helpers against the host's FPU."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REFERENCE_MODEL, ROOT, require_tool

from tinylstm import crossbuild as xb
from tinylstm import examples, intgolden
from tinylstm.errors import UserError
from tinylstm.export import _cbuild as cb
from tinylstm.modeldir import ModelDir

pytestmark = pytest.mark.slow


def _require_lx106() -> None:
    require_tool(xb.XT_CC, xb.XT_QEMU)
    if not Path(xb.XT_SPECS).exists():
        message = f"{xb.XT_SPECS} missing (Debian package picolibc-xtensa-lx106-elf): run scripts/setup.sh --dev"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _first_output(a: np.ndarray) -> np.ndarray:
    """The harness prints output 0 of each row (the regression target, or class 0's probability / logit)."""
    return a if a.ndim == 1 else a[:, 0]


@pytest.fixture(scope="module")
def reference(reference_csv, tmp_path_factory):
    _require_lx106()
    md = ModelDir.load(REFERENCE_MODEL)
    X = md.rows("test", reference_csv)[0].astype(np.float32).astype(np.float64)
    lib = cb.export_library(md, "int8", tmp_path_factory.mktemp("xt_lib") / "int8")
    work = tmp_path_factory.mktemp("xt_run")
    elf = xb.xt_build_test(lib, work / "test.elf", X)
    return md, X, lib, elf, xb.xt_run_test(elf, len(X))


def test_lx106_runtime_helpers_match_the_host_fpu(tmp_path):
    """lx106_rt.c's __addsf3/__subsf3/__mulsf3/__floatsisf/__muldi3 (compiled for the host under other names) give
    the host FPU's bits on 1M random operand pairs of every class plus edge cases."""
    require_tool("gcc")
    exe = tmp_path / "softfloat_check"
    d = ROOT / "firmware" / "xtensa-lx106"
    cb._run(["gcc", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-DLX106_RT_PREFIX=rt_",
             str(d / "lx106_rt.c"), str(d / "softfloat_check.c"), "-o", str(exe)])
    proc = subprocess.run([str(exe), "1000000"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().endswith("mismatches 0") and "checked 1000484" in proc.stdout, proc.stdout


def test_lx106_int8_is_bit_exact_with_the_golden_model(reference):
    md, X, _, _, run = reference
    model = intgolden.quantize(md.bundle)
    assert len(X) > 100
    np.testing.assert_array_equal(run.q, _first_output(intgolden.predict_q(model, X)))
    np.testing.assert_array_equal(run.y, _first_output(intgolden.predict(model, X)).astype(np.float32))


def test_lx106_int8_engine_calls_no_64_bit_multiply(reference, tmp_path):
    """The LX106 has no MUL32_HIGH: the engine's requantisation builds its products from 16 x 16-bit ones (TL_MUL16,
    on by default for FPU-less Xtensa) instead of calling __muldi3; -DTINYLSTM_NO_MUL16_REQUANT brings the call back
    (so this test sees the difference it names)."""
    _, _, lib, _, _ = reference
    undefined = {}
    for tag, flags in (("default", []), ("off", ["-DTINYLSTM_NO_MUL16_REQUANT"])):
        obj = tmp_path / f"{tag}.o"
        cb._run([xb.XT_CC, *xb.XT_FLAGS, "-Os", *flags, "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{lib}", "-c",
                 str(cb.engine_source(lib)), "-o", str(obj)])
        undefined[tag] = set(cb._run(["xtensa-lx106-elf-nm", "-u", str(obj)]).split())
    assert "__muldi3" not in undefined["default"] and "__muldi3" in undefined["off"]


def test_lx106_instruction_counts_do_not_depend_on_the_icount_scale(reference):
    """CCOUNT runs at 40.96 cycles per instruction under shift=10 and 10.24 under shift=8: the same program gives
    the same instruction counts both ways (the conversion is right), twice the same (deterministic)."""
    _, X, _, elf, run = reference
    assert (run.instructions > 5_000).all()  # at least one instruction per MAC
    again = xb.xt_run_test(elf, len(X), shift=8)
    np.testing.assert_array_equal(again.instructions, run.instructions)
    np.testing.assert_array_equal(again.q, run.q)


@pytest.mark.parametrize("name", ["digits", "forecast"])
def test_lx106_int8_window_models_are_bit_exact(name, tmp_path):
    """The classifier (softmax through tl_exp in soft float) and the forecaster, on their test rows."""
    _require_lx106()
    md = ModelDir.load(ROOT / "models" / name)
    X = md.rows("test", examples.write(name, tmp_path / f"{name}.csv"))[0].astype(np.float32).astype(np.float64)
    run = xb.xt_run(cb.export_library(md, "int8", tmp_path / "lib"), X, tmp_path / "run")
    model = intgolden.quantize(md.bundle)
    np.testing.assert_array_equal(run.q, _first_output(intgolden.predict_q(model, X)))
    np.testing.assert_array_equal(run.y, _first_output(intgolden.predict(model, X)).astype(np.float32))


def test_lx106_soft_float_engine_gives_the_host_bits(reference, tmp_path):
    """The float engine in soft float (lx106_rt.c's single and double helpers, the exact FMA emulation) on 16 test
    rows: the host build's bits (the host build is held to Keras by tests/test_c_engine.py), at least 50x the
    int8 engine's instruction count."""
    require_tool("gcc")
    md, X, _, _, int8 = reference
    lib = cb.export_library(md, "float32", tmp_path / "f32")
    rows = X[:16]
    run = xb.xt_run(lib, rows, tmp_path / "run")
    host, _ = cb.run_host(cb.build_host(lib, tmp_path / "host"), rows)
    assert run.q is None
    np.testing.assert_array_equal(run.y.view(np.uint32), np.asarray(host, np.float32).view(np.uint32))
    assert (run.instructions > 50 * int8.instructions[:16]).all()


def test_lx106_count_conversion_rejects_a_wrong_clock():
    assert xb.xt_instructions(819282) == 20002  # the calibration loop's CCOUNT at shift=10
    with pytest.raises(UserError, match="not whole instructions"):
        xb.xt_instructions(819282 + 20)  # half an instruction off: the 40 MHz assumption would be wrong


def test_bench_cores_lx106_rows_report_the_run(reference, tmp_path):
    """`tinylstm bench --only cores`: the LX106 rows carry the run's median count and the golden-model verdict."""
    from tinylstm.bench import cores

    md, X, lib, _, run = reference
    q = intgolden.predict_q(intgolden.quantize(md.bundle), X)
    lines = cores._lx106_run_table({"int8": lib}, X, q, None, "", tmp_path, "the test rows")
    row = next(ln for ln in lines if ln.startswith("| C int8 -Os |"))
    assert f"| {int(np.median(run.instructions)):,} (" in row and row.endswith("(output 0): yes |"), row
    wrong = q.copy()
    wrong[0] += 1  # a golden model that disagrees in one row must be reported
    assert any("**NO**" in ln for ln in cores._lx106_run_table({"int8": lib}, X, wrong, None, "", tmp_path / "w", "r"))
