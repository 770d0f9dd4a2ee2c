"""The C engines on the ESP32 family's cores that install here: the ESP32-C3's RV32IMC (soft float) in
qemu-system-riscv32 (outputs, retired instructions, flash apart from libgcc), the firmware app on that core driven by
`tinylstm monitor` through QEMU's serial pty like a board, and the Xtensa LX106 (ESP8266) build."""

from __future__ import annotations

import os
import re
import time

import numpy as np
import pytest
from conftest import ROOT, require_tool, run_cli

from tinylstm import crossbuild as xb
from tinylstm import export, intgolden
from tinylstm.export import _cbuild as cb
from tinylstm.export.c import FLOAT_TOLERANCE, COptions, packed_weight_bytes
from tinylstm.modeldir import ModelDir

pytestmark = pytest.mark.slow

#: Soft-float entry points of libgcc: what the float engine must call on a core without an FPU.
SOFT_FLOAT = {"addsf3.o", "mulsf3.o"}


@pytest.fixture(scope="module")
def libs(trained, tmp_path_factory):
    root = tmp_path_factory.mktemp("cores")
    model = ModelDir.load(trained.model_dir)
    return {v: cb.export_library(model, v, root / v) for v in ("float32", "int8")}


@pytest.fixture(scope="module")
def c3_runs(libs, trained, tmp_path_factory):
    require_tool(xb.RV_CC, xb.RV_QEMU, xb.RV_SIZE)
    root = tmp_path_factory.mktemp("c3")
    return {v: xb.rv_run(lib, trained.X_test, root / v) for v, lib in libs.items()}


def test_c3_int8_is_bit_exact_with_the_golden_model(c3_runs, trained):
    run = c3_runs["int8"]
    model = intgolden.quantize(trained.bundle)
    np.testing.assert_array_equal(run.q, intgolden.predict_q(model, trained.X_test))
    np.testing.assert_array_equal(run.y, intgolden.predict(model, trained.X_test).astype(np.float32))


def test_c3_soft_float_engine_matches_keras_and_the_host_bits(c3_runs, libs, trained, tmp_path):
    y = c3_runs["float32"].y.astype(np.float64)
    assert len(y) == len(trained.X_test) > 100
    assert np.max(np.abs(y - trained.keras_test)) <= FLOAT_TOLERANCE
    # libgcc's soft float rounds like the host's FPU: the same operations in the same order give the same bits
    host, _ = cb.run_host(cb.build_host(libs["float32"], tmp_path / "host"), trained.X_test)
    np.testing.assert_array_equal(c3_runs["float32"].y.view(np.uint32), host.view(np.uint32))


def test_c3_instruction_counts_are_exact_and_repeatable(c3_runs, libs, trained, tmp_path):
    for variant, run in c3_runs.items():
        assert (run.instructions > 5_000).all(), variant  # at least one instruction per MAC
    # int8 is integer arithmetic (a few soft-float calls at the input and output): far cheaper than soft float
    assert np.median(c3_runs["int8"].instructions) * 5 < np.median(c3_runs["float32"].instructions)
    again = xb.rv_run(libs["int8"], trained.X_test, tmp_path)  # the same program again: the same counts
    np.testing.assert_array_equal(again.instructions, c3_runs["int8"].instructions)


def test_c3_flash_counts_the_engine_apart_from_libgcc(libs, tmp_path):
    require_tool(xb.RV_CC, xb.RV_SIZE)
    flash = {v: xb.rv_flash(lib, tmp_path / v) for v, lib in libs.items()}
    for v, f in flash.items():
        assert f["obj"]["data"] == f["obj"]["bss"] == 0, v  # no static RAM
        growth = f["image"]["text"] - f["base"]["text"]
        helpers = sum(f["libgcc"].values())
        assert SOFT_FLOAT <= set(f["libgcc"]), v  # the float input/output (int8) or every operation (float)
        assert growth > f["obj"]["text"] // 2 and growth <= f["obj"]["text"] + helpers + 64, v
    assert "divsf3.o" in flash["float32"]["libgcc"] and "divsf3.o" not in flash["int8"]["libgcc"]
    assert flash["int8"]["obj"]["text"] < flash["float32"]["obj"]["text"] / 2


def test_firmware_app_on_rv32imc_answers_tinylstm_monitor(libs, trained, tmp_path):
    """The app (src/app.cpp + engine_c.cpp + the int8 engine + the 16550 shim) in qemu -serial pty: banner, boot
    self-check PASS, every test row answered within tolerance of the integer golden model."""
    require_tool(xb.RV_CC, xb.RV_CXX, xb.RV_QEMU)
    elf = xb.rv_build_app(libs["int8"], tmp_path / "app" / "app.elf")
    csv = tmp_path / "rows.csv"
    csv.write_text("ENGINE SIZE,CYLINDERS,COEMISSIONS,FUEL CONSUMPTION\n"
                   + "".join(f"{a},{b},{c},0\n" for a, b, c in trained.X_test))
    with xb.QemuBoard(elf) as board:
        assert re.fullmatch(r"/dev/pts/\d+", board.port)
        res = run_cli("monitor", "--port", board.port, "--data", str(csv), "--model", str(trained.model_dir),
                      "--timeout", "10", "--tolerance", "1e-4", timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "engine c-int8" in res.stdout and "self-check pass=8 fail=0" in res.stdout
    assert f"rows sent and answered: {len(trained.X_test)}" in res.stdout
    m = re.search(r"max \|delta\| vs integer golden model: (\S+)", res.stdout)
    assert m and float(m.group(1)) <= 1e-5, res.stdout


def _read_lines(fd: int, n: int, timeout: float = 20) -> list[str]:
    got = b""
    deadline = time.monotonic() + timeout
    while got.count(b"\n") < n and time.monotonic() < deadline:
        try:
            got += os.read(fd, 4096)
        except BlockingIOError:
            time.sleep(0.02)
    return got.decode("latin-1").splitlines()


def test_firmware_app_on_rv32imc_boot_output_and_error_lines(libs, trained, tmp_path):
    require_tool(xb.RV_CC, xb.RV_CXX, xb.RV_QEMU)
    import tty

    elf = xb.rv_build_app(libs["int8"], tmp_path / "app" / "app.elf")
    with xb.QemuBoard(elf) as board:
        fd = os.open(board.port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            tty.setraw(fd)
            os.write(fd, b"info\nselfcheck\n")
            lines = _read_lines(fd, 10)
            assert lines[0].startswith("tinylstm ready engine=c-int8 inputs=3 protocol=2 max_line=96"), lines
            assert sum(" PASS " in ln for ln in lines[1:9]) == 8 and lines[9] == "selfcheck done pass=8 fail=0"
            requests = ["", "1,2", "1,2,3,4", "a,b,c", "nan,4,200", "1" * 200, "2.0,4,1e999", "2.0,4,196"]
            os.write(fd, "".join(r + "\n" for r in requests).encode())
            replies = _read_lines(fd, len(requests))
        finally:
            os.close(fd)
        assert board.proc.poll() is None  # still running
    assert replies[:7] == ["err empty line", "err expected 3 values, got 2", "err expected 3 values, got 4",
                           "err value 1 is not a number", "err value 1 is not a number",
                           "err line too long (max 96 characters)", "err value 3 is not a number"], replies
    m = re.fullmatch(r"ok (\S+) us=(\d+)", replies[7])
    assert m, replies
    want = intgolden.predict(intgolden.quantize(trained.bundle), np.array([[2.0, 4, 196]]))[0]
    assert float(m.group(1)) == pytest.approx(float(want), abs=1e-5)


def test_xtensa_lx106_compiles_both_engines(libs, trained):
    require_tool(xb.XT_CC, xb.XT_SIZE)
    sizes = {v: xb.xt_flash(lib, lib.parent / f"xt_{v}") for v, lib in libs.items()}
    weights = {"float32": 4 * trained.bundle.params(), "int8": packed_weight_bytes(intgolden.quantize(trained.bundle))}
    for v, s in sizes.items():
        assert s["data"] == s["bss"] == 0, v
        assert weights[v] <= s["rodata"] < s["text"], (v, s, weights[v])  # the tables are constants, not code
    assert sizes["int8"]["text"] < sizes["float32"]["text"] / 2


def test_committed_int8_firmware_library_is_the_generator_output():
    """firmware/esp32/lib/tinylstm_c_int8 ([env:esp32-c3], [env:esp8266]) = `tinylstm export c --variant int8` of
    the committed reference model, byte for byte."""
    lib = ROOT / "firmware" / "esp32" / "lib" / "tinylstm_c_int8"
    files = export.files_for(export.get("c"), ModelDir.load(ROOT / "models" / "reference"), COptions(variant="int8"))
    assert sorted(p.name for p in lib.iterdir() if p.name != "README.md") == sorted(files)
    stale = [name for name, data in files.items() if (lib / name).read_bytes() != data]
    assert not stale, f"{stale} differ: regenerate with tinylstm export c --variant int8 --out {lib}"
