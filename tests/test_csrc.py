"""C unit tests of the hand-written engine sources (tinylstm/csrc), run from pytest.

``tests/c/test_csrc.c`` is compiled with strict C99 warnings as errors against a library that ``tinylstm export c``
generates for a tiny network, for the float engine and the int8 engine (each at -O2 and -O0); every C test case is
one pytest case. The numpy mirror of the activations
(:mod:`tinylstm.activations`, used by the RISC-V golden model) is compared with the compiled ``tl_act.h`` bit for bit.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import require_tool

from tinylstm import activations
from tinylstm.bundle import Bundle, DenseLayer, LstmLayer
from tinylstm.data import Scaler
from tinylstm.export._cbuild import HOST_CFLAGS
from tinylstm.export.c import library

TEST_C = Path(__file__).parent / "c" / "test_csrc.c"
BUILDS = {"float": ("float32", []), "float-o0": ("float32", ["-O0"]),
          "int8": ("int8", ["-DTL_TEST_INT8"]), "int8-o0": ("int8", ["-DTL_TEST_INT8", "-O0"])}
TESTS = {"float32": ["exp_relative_error", "sigmoid_tanh_vs_libm", "matvec_known", "dense_relu", "lstm_step_one_unit",
                     "fmaf_exact"],
         "int8": ["rshift_round", "requant", "tanh_table_interpolation", "sigmoid_q15", "matvec_q_known"]}


def tiny_bundle() -> Bundle:
    rng = np.random.default_rng(3)
    lstm = [LstmLayer(rng.normal(0, 0.5, (1, 8)).astype(np.float32), rng.normal(0, 0.5, (2, 8)).astype(np.float32),
                      rng.normal(0, 0.2, 8).astype(np.float32), False)]
    dense = [DenseLayer(rng.normal(0, 0.5, (2, 1)).astype(np.float32), np.zeros(1, np.float32), "linear")]
    scaler = Scaler(np.array([1.0, 2.0]), np.array([0.5, 2.0]), 10.0, 3.0)
    return Bundle(lstm, dense, scaler, ["a", "b"], "y", {"a": "", "b": "", "y": ""},
                  meta={"data_file": "none", "data_sha256": "0" * 64, "seed": 0})


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    require_tool("gcc")
    root = tmp_path_factory.mktemp("csrc")
    bundle = tiny_bundle()
    exes = {}
    for name, (variant, flags) in BUILDS.items():
        lib = root / name
        lib.mkdir()
        for rel, data in library(bundle, variant).items():
            (lib / rel).write_bytes(data)
        exe = root / f"test_{name}"
        subprocess.run(["gcc", *HOST_CFLAGS, "-O2", *flags, "-I", str(lib), str(TEST_C), "-o", str(exe), "-lm"],
                       check=True, capture_output=True, text=True)
        exes[name] = exe
    return exes


@pytest.mark.parametrize("build,test", [(b, t) for b, (v, _) in BUILDS.items() for t in TESTS[v]])
def test_c_unit(programs, build, test):
    res = subprocess.run([str(programs[build]), test], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == f"PASS {test}"


def test_every_c_test_is_run(programs):
    """The pytest list names every test of the C program (a new C test cannot be skipped by accident)."""
    for build, (variant, _) in BUILDS.items():
        out = subprocess.run([str(programs[build])], capture_output=True, text=True, timeout=300).stdout
        assert [line.split()[1] for line in out.splitlines()] == TESTS[variant]


def test_unknown_c_test_name_fails(programs):
    assert subprocess.run([str(programs["float"]), "no_such_test"], capture_output=True).returncode == 2


def test_numpy_activations_bit_exact_with_tl_act(programs):
    """tinylstm.activations (the RISC-V golden model's activations) == tl_act.h, bit for bit, on [-100, 100]."""
    out = subprocess.run([str(programs["float"]), "dump-act"], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    bits = np.array([[int(v, 16) for v in line.split()] for line in out.splitlines()], dtype=np.uint32)
    x = bits[:, 0].view(np.float32)
    for col, fn in ((1, activations.exp32), (2, activations.sigmoid32), (3, activations.tanh32)):
        np.testing.assert_array_equal(fn(x).view(np.uint32), bits[:, col], err_msg=fn.__name__)
    # and the clamp / NaN rules of the header
    assert activations.exp32(np.float32(np.nan)) == activations.exp32(np.float32(88.0))
