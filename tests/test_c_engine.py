"""The runtime-free C engine (tinylstm export c): host builds with strict C99, accuracy against Keras, the integer
variant bit for bit against its numpy golden model, sanitizers, and the emulated Cortex-M4F."""

from __future__ import annotations

import argparse
import re
import subprocess

import numpy as np
import pytest
from conftest import require_tool, run_cli

from tinylstm import intgolden
from tinylstm.export import _cbuild as cb
from tinylstm.export.c import (
    FLOAT_TOLERANCE,
    INT_MAE_TOLERANCE,
    COptions,
    generate,
    library,
    selfcheck_inputs,
    write_library,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def libs(trained, tmp_path_factory):
    """Both variants exported into a temp dir and compiled for the host (-O2, strict warnings)."""
    require_tool("gcc")
    root = tmp_path_factory.mktemp("cengine")
    out = {}
    for variant in ("float32", "int8"):
        lib = root / variant
        write_library(trained.bundle, lib, variant)
        out[variant] = (lib, cb.build_host(lib, root / f"engine_{variant}"))
    return out


@pytest.fixture(scope="module")
def host_outputs(libs, trained):
    return {v: cb.run_host(exe, trained.X_test) for v, (lib, exe) in libs.items()}


def test_float_engine_matches_keras_on_whole_test_set(host_outputs, trained):
    y, q = host_outputs["float32"]
    assert q is None
    assert len(y) == len(trained.X_test) > 100
    assert np.max(np.abs(y - trained.keras_test)) <= FLOAT_TOLERANCE


def test_int_engine_bit_exact_with_golden_and_mae_close_to_float(host_outputs, trained):
    model = intgolden.quantize(trained.bundle)
    y, q = host_outputs["int8"]
    golden_q = intgolden.predict_q(model, trained.X_test)
    np.testing.assert_array_equal(q, golden_q)  # the integer network output, bit for bit
    np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(intgolden.predict(model, trained.X_test)))
    mae_int = np.mean(np.abs(y - trained.y_test))
    mae_float = np.mean(np.abs(trained.keras_test - trained.y_test))
    assert abs(mae_int - mae_float) <= INT_MAE_TOLERANCE
    # and it is really quantised, not the float model in disguise
    assert np.max(np.abs(y - trained.keras_test)) > 1e-4


def test_int_golden_is_close_to_float_reference(trained):
    """The integer scheme itself (numpy) stays near the float golden model on every test row."""
    from tinylstm.reference import predict

    y_int = intgolden.predict(intgolden.quantize(trained.bundle), trained.X_test)
    y_float = predict(trained.bundle, trained.X_test)
    assert np.max(np.abs(y_int - y_float)) < 0.25  # L/100km, worst single row
    assert abs(np.mean(np.abs(y_int - trained.y_test)) - np.mean(np.abs(y_float - trained.y_test))) <= INT_MAE_TOLERANCE


def test_sanitizers_clean_and_same_results(libs, host_outputs, trained, tmp_path):
    for variant, (lib, _) in libs.items():
        exe = cb.build_host(lib, tmp_path / f"asan_{variant}", opt="-O1", sanitize=True)
        y, q = cb.run_host(exe, trained.X_test)
        np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(host_outputs[variant][0]))


def test_fast_host_flags_give_the_same_bits(libs, host_outputs, trained, tmp_path):
    """The bench's fast host build (-O3 -march=native -fno-trapping-math, vectorised) computes the same bits."""
    from tinylstm.bench.cengine import CALLGRIND_HOST, FAST_HOST

    for variant, (lib, _) in libs.items():
        for k, flags in enumerate((FAST_HOST, CALLGRIND_HOST)):
            exe = cb.build_host(lib, tmp_path / f"fast_{variant}{k}", opt=flags[0], extra=flags[1:])
            y, _ = cb.run_host(exe, trained.X_test)
            np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(host_outputs[variant][0]))


def test_mul16_product_path_is_exact_and_gives_the_same_bits(libs, host_outputs, trained, tmp_path):
    """TL_MUL16 (cores without a 32 x 32 -> 64 multiply: the product from four 16 x 16-bit ones): tl_mul64 equals
    the exact product on edge and random operands, and the whole engine built with it (ASan/UBSan) computes the
    golden model's integers on every test row."""
    lib, _ = libs["int8"]
    edges = [0, 1, -1, 2, -2, 0x7FFF, 0x8000, -0x8000, -0x8001, 0xFFFF, 0x10000, -0x10000, 0x7FFFFFFF, -0x7FFFFFFF,
             -0x80000000, 0x12345678, -0x12345678, 0x7FFF8000, -0x7FFF8000]
    rng = np.random.default_rng(0)
    pairs = [(a, b) for a in edges for b in edges] + [tuple(int(v) for v in p) for p in
                                                      rng.integers(-2**31, 2**31, size=(2000, 2))]
    main = tmp_path / "mul.c"
    main.write_text('#include <stdio.h>\n#include <stdint.h>\nint64_t tinylstm_test_mul64(int32_t a, int32_t b);\n'
                    'int main(void) { long long a, b; while (scanf("%lld %lld", &a, &b) == 2)'
                    ' printf("%lld\\n", (long long)tinylstm_test_mul64((int32_t)a, (int32_t)b)); return 0; }\n')
    stdin = "".join(f"{a} {b}\n" for a, b in pairs)
    for flags in ([], ["-DTINYLSTM_MUL16_REQUANT"]):
        exe = tmp_path / f"mul{len(flags)}"
        subprocess.run(["gcc", *cb.HOST_CFLAGS, *cb.SANITIZE, *flags, "-DTINYLSTM_TEST_HOOKS", "-I", str(lib),
                        str(cb.engine_source(lib)), str(main), "-o", str(exe)], check=True)
        out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout
        assert [int(v) for v in out.split()] == [a * b for a, b in pairs], flags
    exe = cb.build_host(lib, tmp_path / "engine_mul16", opt="-O1", sanitize=True, extra=["-DTINYLSTM_MUL16_REQUANT"])
    y, q = cb.run_host(exe, trained.X_test)
    np.testing.assert_array_equal(q, intgolden.predict_q(intgolden.quantize(trained.bundle), trained.X_test))
    np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(host_outputs["int8"][0]))


def test_int_tanh_table_matches_golden_everywhere(libs, tmp_path):
    """The interpolated tanh/sigmoid of the C, over a sweep of arguments (both Q formats), against numpy."""
    lib, _ = libs["int8"]
    main = tmp_path / "hook.c"
    main.write_text('#include <stdio.h>\n#include <stdint.h>\nint32_t tinylstm_test_tanh_q15(int32_t a, int frac);\n'
                    'int main(void) { long a; int f; for (f = 12; f <= 13; ++f) for (a = -70000; a <= 70000; a += 3)'
                    ' printf("%ld\\n", (long)tinylstm_test_tanh_q15((int32_t)a, f)); return 0; }\n')
    exe = tmp_path / "hook"
    subprocess.run(["gcc", *cb.HOST_CFLAGS, "-DTINYLSTM_TEST_HOOKS", "-I", str(lib), str(cb.engine_source(lib)),
                    str(main), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    got = np.array(out.split(), dtype=np.int64)
    a = np.arange(-70000, 70001, 3)
    want = np.concatenate([intgolden.tanh_q15(a, 12), intgolden.tanh_q15(a, 13)])
    np.testing.assert_array_equal(got, want)
    # and the table is a good tanh: max error 4e-4 (step 1/16: Q15 rounding + interpolation), stated in docs/cengine.md
    x = np.concatenate([a / 4096.0, a / 8192.0])
    assert np.max(np.abs(want / 32768.0 - np.tanh(x))) < 4e-4


def test_own_float_activations_error(libs, tmp_path):
    """The libm-free sigmoid/tanh of the float variant: max abs error <= 3e-7 over [-20, 20] (stated in the docs)."""
    lib, _ = libs["float32"]
    main = tmp_path / "act.c"
    main.write_text('#include <stdio.h>\nfloat tinylstm_test_sigmoid(float x);\nfloat tinylstm_test_tanh(float x);\n'
                    'int main(void) { int k; for (k = -200000; k <= 200000; ++k) { float x = (float)k * 1e-4f;'
                    ' printf("%.9g %.9g %.9g\\n", x, tinylstm_test_sigmoid(x), tinylstm_test_tanh(x)); } return 0; }\n')
    exe = tmp_path / "act"
    subprocess.run(["gcc", *cb.HOST_CFLAGS, "-DTINYLSTM_TEST_HOOKS", "-I", str(lib), str(cb.engine_source(lib)),
                    str(main), "-o", str(exe)], check=True)
    vals = np.loadtxt(subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines())
    x = vals[:, 0]
    assert np.max(np.abs(vals[:, 1] - 1 / (1 + np.exp(-x)))) <= 3e-7
    assert np.max(np.abs(vals[:, 2] - np.tanh(x))) <= 3e-7


def test_libm_variant_also_matches_keras(trained, tmp_path):
    lib = tmp_path / "libm"
    write_library(trained.bundle, lib, "float32", math="libm")
    assert "#define TINYLSTM_MATH_LIBM 1" in (lib / "tinylstm_model.h").read_text()
    exe = cb.build_host(lib, tmp_path / "engine")
    syms = subprocess.run(["nm", str(exe)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\b(expf|tanhf)\b", syms)  # really the libm build
    y, _ = cb.run_host(exe, trained.X_test)
    assert np.max(np.abs(y - trained.keras_test)) <= FLOAT_TOLERANCE


def test_generated_files_deterministic_with_provenance_and_no_libm(trained):
    from tinylstm.export.c import CSRC, ENGINE_FILES

    for variant in ("float32", "int8"):
        a = {k: v.decode() for k, v in library(trained.bundle, variant).items()}
        assert a == {k: v.decode() for k, v in library(trained.bundle, variant).items()}
        header = a["tinylstm_model.h"]
        assert trained.bundle.meta["data_sha256"] in header
        assert f"seed {trained.bundle.meta['seed']}" in header
        assert "x_mean" in header and "TOLERANCE" in header
        for name, text in a.items():
            assert not re.search(r"\b(19|20)\d\d-\d\d-\d\d\b", text)  # no dates: same bundle, same bytes
            assert "malloc(" not in text
            if name not in ENGINE_FILES[variant]:  # generated: data only; the engine sources are copies
                assert "math.h" not in text and "TINYLSTM_MATH_LIBM" not in text
                assert text.startswith("/*\n * Generated by tinylstm")
            else:
                assert text == (CSRC / name).read_text()
        assert "static const" in a["tinylstm_model_data.h"]
        assert "static " not in a["tinylstm_model.h"]  # no code in the generated header (only the API)


def test_selfcheck_vectors_expected_values(trained, libs):
    """The self-check file's expected outputs are what the engine computes (float: within the stated tolerance)."""
    X = selfcheck_inputs(trained.bundle)
    for variant, (lib, exe) in libs.items():
        text = (lib / "tinylstm_selfcheck.c").read_text()
        body = text.split("tinylstm_vector_expected")[1].split("=", 1)[1].split(";")[0]
        expected = np.array([float(v.rstrip("f")) for v in re.findall(r"-?[0-9][0-9.e+-]*f", body)])
        assert len(expected) == len(X)
        y, _ = cb.run_host(exe, X)
        assert np.max(np.abs(y - expected)) <= 1e-4


def test_cortex_m4_emulated_matches_host_bit_for_bit(libs, host_outputs, trained, tmp_path):
    """-Os, hard float, under qemu mps2-an386: the same bits as the host build (int8: == golden)."""
    require_tool("arm-none-eabi-gcc", "qemu-system-arm")
    X = trained.X_test
    for variant, (lib, _) in libs.items():
        elf = cb.build_m4(lib, tmp_path / variant / "test.elf", "test", X, opt="-Os")
        y, q = cb.run_m4(elf, len(X))
        np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(host_outputs[variant][0]))
        if variant == "int8":
            np.testing.assert_array_equal(q, intgolden.predict_q(intgolden.quantize(trained.bundle), X))
        else:
            assert np.max(np.abs(y - trained.keras_test)) <= FLOAT_TOLERANCE


def test_cortex_m4_other_builds_same_bits(libs, host_outputs, trained, tmp_path):
    """-O2, and the portable C paths (-DTINYLSTM_NO_SIMD: no SXTB16/SMLAD/SMMLAR, no VLDMIA) on the Cortex-M4: the
    same bits as the host (int8: the golden model's), so the DSP paths and their fallback are interchangeable."""
    require_tool("arm-none-eabi-gcc", "qemu-system-arm")
    X = trained.X_test[:40]
    for variant, (lib, _) in libs.items():
        for tag, opt, extra in (("o2", "-O2", []), ("nosimd", "-Os", ["-DTINYLSTM_NO_SIMD"])):
            elf = cb.build_m4(lib, tmp_path / f"{variant}_{tag}" / "test.elf", "test", X, opt=opt, extra=extra)
            y, q = cb.run_m4(elf, len(X))
            np.testing.assert_array_equal(cb.float_bits(y), cb.float_bits(host_outputs[variant][0][:40]))
            if variant == "int8":
                np.testing.assert_array_equal(q, intgolden.predict_q(intgolden.quantize(trained.bundle), X))


def test_cortex_m4_figures_within_the_goals(libs, trained, tmp_path):
    """The reference model on the Cortex-M4 at -Os (whole program, QEMU trace of 5 minus 1 inferences, / 4):
    float32 <= 25,000 instructions per inference, and each state struct <= 400 B; the stack depth of one
    tinylstm_predict measured by painting covers at least the state struct (goals of docs/cengine.md)."""
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-nm", "qemu-system-arm")
    X = trained.X_test[:5]
    for variant, (lib, _) in libs.items():
        state = cb.m4_state_bytes(lib, tmp_path)
        assert state <= 400, (variant, state)
        assert cb.m4_stack_bytes(lib, tmp_path, X) >= state
        counts = cb.m4_program_instructions(lib, tmp_path, X, "-Os")
        assert counts["whole"] >= counts["functions"] > 0
        if variant == "float32":
            assert counts["whole"] <= 25_000, counts


def test_cli_export_and_backends(trained, tmp_path):
    out = tmp_path / "c"
    res = run_cli("export", "c", "--model", str(trained.model_dir), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    for v, engine in (("float32", "tinylstm_float.c"), ("int8", "tinylstm_int8.c")):
        assert (out / v / "tinylstm_model.h").exists() and (out / v / engine).exists()
    csv = tmp_path / "rows.csv"
    rows = trained.X_test[:20]
    csv.write_text("ENGINE SIZE,CYLINDERS,COEMISSIONS\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    for backend in ("c-float", "c-int8"):
        pred = tmp_path / f"{backend}.csv"
        res = run_cli("predict", "--model", str(trained.model_dir), "--data", str(csv), "--out", str(pred),
                      "--backend", backend, "--quiet")
        assert res.returncode == 0, res.stderr
        got = np.loadtxt(pred, delimiter=",", skiprows=1)[:, -1]
        want = trained.keras_test[:20] if backend == "c-float" else \
            intgolden.predict(intgolden.quantize(trained.bundle), rows)
        assert np.max(np.abs(got - want)) <= 1e-4  # the CSV keeps 6 significant digits


def test_export_writes_nothing_into_the_firmware_project(trained, tmp_path):
    """`tinylstm export c` (and so `tinylstm run`) inside a project with firmware/esp32 leaves it alone; a single
    variant gives flat files (what `tinylstm export firmware` publishes into firmware/esp32/lib/tinylstm_c)."""
    (tmp_path / "firmware" / "esp32").mkdir(parents=True)
    res = run_cli("export", "c", "--model", str(trained.model_dir), "--out", "artifacts/c", "--quiet", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "firmware" / "esp32" / "lib").exists()
    res = run_cli("export", "c", "--model", str(trained.model_dir), "--out", "flat", "--variant", "float32", "--quiet",
                  cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    for name, data in library(trained.bundle, "float32").items():
        exported = (tmp_path / "artifacts" / "c" / "float32" / name).read_bytes()
        assert (tmp_path / "flat" / name).read_bytes() == data == exported
    assert not (tmp_path / "flat" / "float32").exists()


def test_cortex_m4_backend(trained):
    require_tool("arm-none-eabi-gcc", "qemu-system-arm")
    from tinylstm import backends

    rows = trained.X_test[:10]
    y = backends.run("cortex-m4", trained.model_dir, rows, argparse.Namespace(m4_variant="int8"))
    np.testing.assert_array_equal(cb.float_bits(y.astype(np.float32)),
                                  cb.float_bits(intgolden.predict(intgolden.quantize(trained.bundle), rows)))


def test_unsupported_networks_are_user_errors(trained):
    import copy

    from tinylstm.errors import UserError

    b = copy.deepcopy(trained.bundle)
    b.dense[-1].activation = "softmax"  # a softmax head on a regression
    with pytest.raises(UserError, match="softmax"):
        library(b, "float32")
    b = copy.deepcopy(trained.bundle)
    b.dense[0].activation = "tanh"
    with pytest.raises(UserError, match="tanh"):
        library(b, "int8")
    b = copy.deepcopy(trained.bundle)
    b.lstm[0].return_sequences = False
    with pytest.raises(UserError, match="return_sequences"):
        library(b, "int8")
    with pytest.raises(UserError, match="variant"):
        library(trained.bundle, "int4")


def test_other_architectures_generate_and_match(trained, tmp_path):
    """Not only the reference network: three stacked LSTMs of odd sizes and two hidden dense layers, random weights."""
    import copy

    from tinylstm.bundle import DenseLayer, LstmLayer
    from tinylstm.reference import predict

    rng = np.random.default_rng(7)
    sizes, dense = [5, 7, 3], [(6, "relu"), (4, "linear"), (1, "linear")]
    lstm, n_in = [], 1
    for k, H in enumerate(sizes):
        lstm.append(LstmLayer(rng.normal(0, 0.6, (n_in, 4 * H)).astype(np.float32),
                              rng.normal(0, 0.6, (H, 4 * H)).astype(np.float32),
                              rng.normal(0, 0.3, 4 * H).astype(np.float32), k < len(sizes) - 1))
        n_in = H
    layers = []
    for units, act in dense:
        layers.append(DenseLayer(rng.normal(0, 0.5, (n_in, units)).astype(np.float32),
                                 rng.normal(0, 0.2, units).astype(np.float32), act))
        n_in = units
    b = copy.deepcopy(trained.bundle)
    b.lstm, b.dense = lstm, layers
    X = trained.X_test
    for variant in ("float32", "int8"):
        lib = tmp_path / variant
        write_library(b, lib, variant)
        y, q = cb.run_host(cb.build_host(lib, tmp_path / f"e_{variant}"), X)
        if variant == "float32":
            assert np.max(np.abs(y - predict(b, X))) <= 1e-4
        else:
            model = intgolden.quantize(b)
            np.testing.assert_array_equal(q, intgolden.predict_q(model, X))
            assert np.max(np.abs(y - predict(b, X))) < 0.1


def test_cortex_m4_build_has_no_static_ram_no_libm_no_printf(libs, tmp_path):
    """Properties the bench figures rely on: the engine object has no data/bss (state on the stack), the libm-free
    float build links no expf/tanhf, and the size program links no printf/semihosting."""
    require_tool("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm")
    from tinylstm.bench.cengine import _m4_sizes

    for variant, (lib, _) in libs.items():
        sizes = _m4_sizes(lib, tmp_path)
        assert sizes["obj"]["data"] == 0 and sizes["obj"]["bss"] == 0
        assert sizes["image"]["text"] > sizes["base"]["text"]  # the engine is really linked (sizes: the bench)
        syms = subprocess.run(["arm-none-eabi-nm", str(tmp_path / f"{lib.name}-Os_size" / "size.elf")],
                              capture_output=True, text=True, check=True).stdout
        for bad in ("printf", "expf", "tanhf", "initialise_monitor_handles", "malloc"):
            assert not re.search(rf"\b_?{bad}\b", syms), bad


def test_generate_is_pure_and_lays_out_variants(trained, tmp_path):
    """The registered generator returns bytes for both variants under float32/ and int8/, one variant flat."""
    from tinylstm import export
    from tinylstm.modeldir import ModelDir

    model = ModelDir.load(trained.model_dir)
    both = generate(model, COptions())
    assert set(both) == {f"{v}/{name}" for v in ("float32", "int8") for name in library(trained.bundle, v)}
    assert generate(model, COptions(variant="int8")) == library(trained.bundle, "int8")
    assert export.files_for(export.get("c"), model, COptions(variant="float32", math="libm")) == \
        library(trained.bundle, "float32", "libm")
    assert not list(tmp_path.iterdir())  # nothing written
