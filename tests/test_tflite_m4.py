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
