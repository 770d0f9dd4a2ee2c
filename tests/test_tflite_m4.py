"""The firmware's TFLM engine (firmware/esp32/src/engine_tflm.cpp + the committed model.h) on a 32-bit MCU.

TensorFlow Lite Micro is built from the sources of the runtime platformio.ini pins (tflm_esp32, reference kernels)
for Cortex-M4F and run in QEMU (mps2-an386). The boot self-check must PASS (every vector within the header's
tolerance of the host TFLM result) and the header's TF_ARENA_SIZE must cover the 32-bit minimum found by bisection.
Needs ``TINYLSTM_TFLM_SRC=<tflm_esp32 checkout>/src`` (not vendored here); skipped without it. The TFLM library
is built once into build/tflm-m4 (several minutes on 2 cores).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import ROOT, require_tool

HEADER_DIR = ROOT / "firmware" / "esp32" / "include"


@pytest.fixture(scope="module")
def elf(tmp_path_factory):
    src = os.environ.get("TINYLSTM_TFLM_SRC")
    if not src:
        pytest.skip("set TINYLSTM_TFLM_SRC to tflm_esp32's src/ to build TFLM for Cortex-M4")
    require_tool("arm-none-eabi-g++", "qemu-system-arm", "make")
    from tinylstm.bench.tflm_m4 import build_app, build_lib

    work = ROOT / "build" / "tflm-m4"
    work.mkdir(parents=True, exist_ok=True)
    lib = build_lib(Path(src).resolve(), work)
    return build_app(Path(src).resolve(), lib, HEADER_DIR, tmp_path_factory.mktemp("m4") / "app.elf")


def test_boot_self_check_passes_on_cortex_m4(elf):
    from tinylstm.bench.tflm_m4 import run

    rc, out = run(elf)
    assert rc == 0 and "self-check PASS" in out, out
    assert len(re.findall(r"^vector \d+: .* PASS$", out, re.M)) == 5


def test_header_arena_covers_the_32_bit_minimum(elf):
    from tinylstm.bench.tflm_m4 import min_arena, run

    defined = int(re.search(r"#define TF_ARENA_SIZE (\d+)", (HEADER_DIR / "model.h").read_text()).group(1))
    minimum = min_arena(elf)
    assert minimum <= defined
    assert run(elf, minimum - 1)[0] != 0


def test_firmware_app_with_tflm_engine_on_cortex_m4(elf, tmp_path):
    """src/app.cpp (the serial protocol) + the TFLM engine, fed request lines: answers match TFLM on the host."""
    import numpy as np

    from tinylstm import tflm
    from tinylstm.bench.tflm_m4 import HARNESS, build_app, run
    from test_header import tflm_bytes

    src = Path(os.environ["TINYLSTM_TFLM_SRC"]).resolve()
    app = build_app(src, ROOT / "build" / "tflm-m4" / "libtflm.a", HEADER_DIR, tmp_path / "app.elf",
                    (HARNESS / "app_main.cpp", ROOT / "firmware" / "esp32" / "src" / "app.cpp"))
    rc, out = run(app)
    lines = out.splitlines()
    assert rc == 0, out
    assert lines[0].startswith("tinylstm ready engine=tflm-int8 inputs=3")
    assert "selfcheck done pass=5 fail=0" in lines
    answers = [l for l in lines[lines.index("selfcheck done pass=5 fail=0") + 1:]]
    assert [a.split()[0] for a in answers] == ["ok", "ok", "ok", "err", "err", "err", "err", "err", "err", "ok"]
    # the host TFLM interpreter on the same raw rows, with the header's scaler and quantisation
    text = (HEADER_DIR / "model.h").read_text()

    def floats(name):
        body = re.search(name + r"\[\d+\] = \{([^}]*)\}", text).group(1)
        return np.array([float(v.strip().rstrip("f")) for v in body.split(",")])

    def define(name):
        return float(re.search(rf"#define {name} \(?([-0-9.e]+)f?\)?", text).group(1))

    X = np.array([[2.0, 4, 196], [5.9, 8, 423], [1.6, 4, 205], [3.0, 6, 290]])
    fb = tflm_bytes(HEADER_DIR / "model.h")
    seqs = ((X - floats("tinylstm_x_mean")) / floats("tinylstm_x_scale"))[:, :, None]
    y = tflm.run_scaled(fb, seqs, "tflm") * define("TINYLSTM_Y_SCALE") + define("TINYLSTM_Y_MEAN")
    got = [float(a.split()[1]) for a in answers if a.startswith("ok")]
    tol = float(re.search(r"tinylstm_vector_tolerance = ([0-9.e-]+)f", text).group(1))
    np.testing.assert_allclose(got, y, rtol=0, atol=tol)
