"""model.h: compiles as C and C++ (-Wall -Wextra -Werror) and with arm-none-eabi-g++, exposes EloquentTinyML's
names, registers exactly the flatbuffer's ops, and its constants/vectors agree with the Python model.

The C helpers of the header (scaling, int8 quantisation) are compiled and run on the host; their int8 inputs are
fed to TFLite Micro's interpreter and must reproduce the header's expected outputs within its stated tolerance.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, require_tool

from tinylstm import export, tflite_build, tflm
from tinylstm.export.header import HeaderOptions
from tinylstm.modeldir import ModelDir

FIRMWARE_HEADER = ROOT / "firmware" / "esp32" / "include" / "model.h"


@pytest.fixture(scope="module")
def model(trained):
    return ModelDir.load(trained.model_dir)


@pytest.fixture(scope="module")
def header(model, reference_csv, tmp_path_factory) -> tuple[Path, HeaderOptions]:
    """The firmware variant (int8 I/O, helpers): what firmware/esp32 compiles; tests/test_eloquent.py has the other."""
    out = tmp_path_factory.mktemp("header")
    opts = HeaderOptions(data=reference_csv, variant="firmware")
    (path,) = export.write(export.get("header"), model, out, opts)
    return path, opts


@pytest.fixture(scope="module", params=["firmware", "eloquent"])
def any_header(request, model, reference_csv, tmp_path_factory) -> tuple[Path, HeaderOptions]:
    """Both variants, for the compile checks."""
    if request.param == "firmware":
        return request.getfixturevalue("header")
    out = tmp_path_factory.mktemp("header_eloquent")
    opts = HeaderOptions(data=reference_csv, variant="eloquent")
    (path,) = export.write(export.get("header"), model, out, opts)
    return path, opts


def _compile(compiler: str, flags: list[str], src: Path, out: Path, include: Path) -> None:
    r = subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(include), str(src), "-o",
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0, f"{compiler} failed:\n{r.stderr}"


DUMP_C = r"""
#include <stdio.h>
#include "model.h"
int main(void) {
    unsigned k, j;
    printf("model");
    for (k = 0; k < sizeof tfModel; ++k) printf(" %u", tfModel[k]);
    printf("\nmean");
    for (k = 0; k < TINYLSTM_NUM_FEATURES; ++k) printf(" %.9g", tinylstm_x_mean[k]);
    printf("\nscale");
    for (k = 0; k < TINYLSTM_NUM_FEATURES; ++k) printf(" %.9g", tinylstm_x_scale[k]);
    printf("\ny %.9g %.9g\n", TINYLSTM_Y_MEAN, TINYLSTM_Y_SCALE);
    printf("tol %.9g\n", tinylstm_vector_tolerance);
    for (k = 0; k < TINYLSTM_NUM_VECTORS; ++k) {
        printf("vec %.9g", tinylstm_vector_expected[k]);
        for (j = 0; j < TINYLSTM_NUM_FEATURES; ++j)
            printf(" %d", (int)tinylstm_quantize_input(tinylstm_scale_input((int)j, tinylstm_vector_inputs[k][j])));
        printf("\n");
    }
    for (k = 0; k < 256; ++k)
        printf("deq %d %.9g\n", (int)k - 128,
               tinylstm_unscale_output(tinylstm_dequantize_output((signed char)((int)k - 128))));
    printf("arena %d %d\n", TF_ARENA_SIZE, TINYLSTM_ARENA_MIN_HOST);
    return 0;
}
"""

# What an EloquentTinyML (v3) sketch generated around `convert_model`'s header uses: TF_NUM_OPS as the resolver
# size, TF_NUM_INPUTS / TF_NUM_OUTPUTS, registerNetworkOps(tf) calling tf.resolver.Add*(), and tfModel.
ELOQUENT_SKETCH = r"""
#include "model.h"
#include <cstdio>
#include <cstring>
struct Resolver {
    int count = 0;
    char names[16][48];
    void add(const char *n) { std::strcpy(names[count++], n); }
%(methods)s
};
template <int NumOps> struct Sequential {
    Resolver resolver;
    int inputs = 0, outputs = 0;
    void setNumInputs(int n) { inputs = n; }
    void setNumOutputs(int n) { outputs = n; }
    bool begin(const unsigned char *model) { return model[4] == 'T' && model[5] == 'F' && model[6] == 'L'; }
};
int main() {
    Sequential<TF_NUM_OPS> tf;
    tf.setNumInputs(TF_NUM_INPUTS);
    tf.setNumOutputs(TF_NUM_OUTPUTS);
    registerNetworkOps(tf);
    if (!tf.begin(tfModel) || tf.resolver.count != TF_NUM_OPS) return 1;
    for (int k = 0; k < tf.resolver.count; ++k) std::printf("%%s\n", tf.resolver.names[k]);
    return 0;
}
"""


def _dump(header_path: Path, tmp_path: Path) -> dict:
    require_tool("gcc")
    src = tmp_path / "dump.c"
    src.write_text(DUMP_C)
    exe = tmp_path / "dump"
    _compile("gcc", ["-std=c99", "-pedantic"], src, exe, header_path.parent)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    d: dict = {"vec": [], "deq": {}}
    for line in out.splitlines():
        key, *vals = line.split()
        if key == "vec":
            d["vec"].append((float(vals[0]), [int(v) for v in vals[1:]]))
        elif key == "deq":
            d["deq"][int(vals[0])] = float(vals[1])
        else:
            d[key] = vals
    return d


def test_compiles_as_c_and_cpp(any_header, tmp_path):
    require_tool("gcc", "g++")
    path, _ = any_header
    for compiler, flags, name in (("gcc", ["-std=c99", "-pedantic", "-c"], "a.c"),
                                  ("gcc", ["-std=c11", "-c"], "b.c"),
                                  ("g++", ["-std=c++11", "-pedantic", "-c"], "c.cpp"),
                                  ("g++", ["-std=c++17", "-c"], "d.cpp")):
        src = tmp_path / name
        src.write_text('#include "model.h"\nint tinylstm_dummy(void) { return TF_NUM_OPS + TF_ARENA_SIZE; }\n')
        _compile(compiler, flags, src, tmp_path / (name + ".o"), path.parent)


def test_compiles_for_cortex_m(any_header, tmp_path):
    require_tool("arm-none-eabi-g++")
    path, _ = any_header
    src = tmp_path / "m4.cpp"
    src.write_text('#include "model.h"\nint tinylstm_size(void) { return (int)sizeof tfModel; }\n')
    _compile("arm-none-eabi-g++", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
                                   "-std=c++11", "-c"], src, tmp_path / "m4.o", path.parent)


def test_eloquent_sketch_names_and_exact_ops(any_header, tmp_path):
    require_tool("g++")
    path, _ = any_header
    ops = tflm.ops(tflm_bytes(path))
    methods = "\n".join(f"    void {m}() {{ add(\"{m}\"); }}" for m in sorted(set(tflm.TFLM_RESOLVER.values())))
    src = tmp_path / "sketch.cpp"
    src.write_text(ELOQUENT_SKETCH % {"methods": methods})
    _compile("g++", ["-std=c++11"], src, tmp_path / "sketch", path.parent)
    out = subprocess.run([str(tmp_path / "sketch")], capture_output=True, text=True)
    assert out.returncode == 0
    assert out.stdout.split() == [tflm.TFLM_RESOLVER[op] for op in ops]


def tflm_bytes(header_path: Path) -> bytes:
    """tfModel[] parsed back out of the header text."""
    text = header_path.read_text()
    body = text[text.index("tfModel["):]
    body = body[body.index("{") + 1:body.index("}")]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def test_constants_and_vectors_agree_with_python_model(header, model, trained, tmp_path):
    from tinylstm.reference import predict

    path, args = header
    d = _dump(path, tmp_path)
    fb = bytes(int(v) for v in d["model"])
    assert fb == tflm_bytes(path)
    build = tflite_build.build(model, args.data)  # cached: the build the header fixture used
    assert fb == build.int8_fb, "model.h does not embed the exported int8 flatbuffer"
    sc = trained.bundle.scaler
    np.testing.assert_array_equal(np.float32([float(v) for v in d["mean"]]), np.float32(sc.x_mean))
    np.testing.assert_array_equal(np.float32([float(v) for v in d["scale"]]), np.float32(sc.x_scale))
    assert np.float32(float(d["y"][0])) == np.float32(sc.y_mean)
    assert np.float32(float(d["y"][1])) == np.float32(sc.y_scale)
    tol = float(d["tol"][0])
    assert len(d["vec"]) == 5
    # the C helpers' int8 inputs through TFLM + the C dequantisation reproduce the expected outputs
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(fb, arena_size=int(d["arena"][0]))
    for expected, q_in in d["vec"]:
        it.reset()
        it.set_input(np.asarray(q_in, np.int8).reshape(1, -1, 1), 0)
        it.invoke()
        got = d["deq"][int(it.get_output(0).reshape(-1)[-1])]
        assert abs(got - expected) <= tol, (got, expected, tol)
    # the expected outputs are what the Python TFLM path computes for the same raw rows, and near the float model
    text = path.read_text()
    rows = re.search(r"tinylstm_vector_inputs\[\d+\]\[\d+\] = \{(.*?)\n\};", text, re.S).group(1)
    X = np.array([[float(v.rstrip("f")) for v in r.split(",")] for r in re.findall(r"\{([^{}]*)\}", rows)])
    y_py = tflm.predict(fb, trained.bundle, X, "tflm")
    np.testing.assert_allclose([e for e, _ in d["vec"]], y_py, atol=1e-5)
    worst = tflite_build.accuracy(model, fb, args.data).max_abs_vs_reference["tflm"]
    assert np.abs(y_py - predict(trained.bundle, X)).max() <= worst + 1e-9


def _op_kinds(fb: bytes) -> int:
    """Distinct builtin operator kinds of the operators in ``fb``, read straight from the schema (not tinylstm)."""
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    m = schema.Model.GetRootAsModel(bytearray(fb), 0)
    kinds = set()
    for s in range(m.SubgraphsLength()):
        sg = m.Subgraphs(s)
        for k in range(sg.OperatorsLength()):
            code = m.OperatorCodes(sg.Operators(k).OpcodeIndex())
            kinds.add(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
    return len(kinds)


def test_arena_and_self_description(header, model, tmp_path):
    path, opts = header
    d = _dump(path, tmp_path)
    arena, host_min = (int(v) for v in d["arena"])
    assert arena >= host_min and arena % 16 == 0
    text = path.read_text()
    fb = tflm_bytes(path)
    assert re.search(r"^#define TF_NUM_OPS (\d+)$", text, re.M).group(1) == str(_op_kinds(fb))
    # the accuracy the header states is the report's computation, to the digit
    unit = model.bundle.units.get(model.bundle.target, "")
    assert tflite_build.accuracy(model, fb, opts.data).line(unit) in text.replace("\n *   ", " ")
    for needle in ("SHA-256", "seed", "UNIDIRECTIONAL_SEQUENCE_LSTM", "Tensor arena"):
        assert needle in text
    assert not re.search(r"20\d\d-\d\d-\d\d", text), "generated header must not carry a date"


def test_same_bundle_same_header(header, model):
    from tinylstm.export.header import render

    path, opts = header
    assert render(model, opts) == path.read_text()


def test_committed_firmware_header_is_consistent(tmp_path):
    """The header committed for `pio run` on a fresh clone compiles, and its arena/vectors are self-consistent."""
    if not FIRMWARE_HEADER.exists():
        pytest.fail(f"{FIRMWARE_HEADER} missing: run `tinylstm export header`")
    d = _dump(FIRMWARE_HEADER, tmp_path)
    fb = bytes(int(v) for v in d["model"])
    assert set(tflm.ops(fb)) <= set(tflm.TFLM_OPS)
    arena = int(d["arena"][0])
    model = tmp_path / "fw.tflite"
    model.write_bytes(fb)
    assert tflm.runs_with_arena(str(model), arena)
    from tflite_micro.python.tflite_micro import runtime

    it = runtime.Interpreter.from_bytes(fb, arena_size=arena)
    tol = float(d["tol"][0])
    for expected, q_in in d["vec"]:
        it.reset()
        it.set_input(np.asarray(q_in, np.int8).reshape(1, -1, 1), 0)
        it.invoke()
        assert abs(d["deq"][int(it.get_output(0).reshape(-1)[-1])] - expected) <= tol


def test_platformio_ini_parses():
    """`pio project config` parses the firmware project offline; both engines' environments are as documented."""
    import importlib.util
    import json
    import os
    import sys

    if importlib.util.find_spec("platformio") is None:
        if os.environ.get("CI"):
            pytest.fail("platformio missing: pip install -e .[dev]")
        pytest.skip("platformio not installed")
    r = subprocess.run([sys.executable, "-m", "platformio", "project", "config", "-d", str(ROOT / "firmware/esp32"),
                        "--json-output"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    config = {name: dict(items) for name, items in json.loads(r.stdout)}
    tflm_env, c_env = config["env:esp32dev"], config["env:esp32dev-c"]
    for env in (tflm_env, c_env):
        assert (env["platform"], env["board"], env["framework"], env["monitor_speed"]) == \
            ("espressif32", "esp32dev", ["arduino"], 115200)
    assert "-DTINYLSTM_ENGINE_TFLM" in " ".join(tflm_env["build_flags"])
    assert "-DTINYLSTM_ENGINE_C" in " ".join(c_env["build_flags"])
    assert "lib_deps" not in c_env
    (dep,) = tflm_env["lib_deps"]
    assert re.search(r"tflm_esp32\.git#[0-9a-f]{40}$", dep), f"TFLM runtime not pinned to a commit: {dep}"
    # the cores without an FPU take the int8 C engine (lib/tinylstm_c_int8); every env links one C library
    c3, esp8266 = config["env:esp32-c3"], config["env:esp8266"]
    assert (c3["platform"], c3["board"], esp8266["platform"]) == ("espressif32", "esp32-c3-devkitm-1", "espressif8266")
    for env in (c3, esp8266):
        assert "-DTINYLSTM_ENGINE_C" in " ".join(env["build_flags"]) and env["lib_ignore"] == ["tinylstm_c"]
    assert tflm_env["lib_ignore"] == c_env["lib_ignore"] == ["tinylstm_c_int8"]


def test_default_variant_is_the_eloquent_drop_in():
    from tinylstm.cli import build_parser

    assert HeaderOptions().variant == "eloquent" and HeaderOptions().precision == "int8"
    assert build_parser().parse_args(["export", "header"]).variant == "eloquent"
    assert build_parser().parse_args(["export", "header", "--variant", "firmware"]).variant == "firmware"


def test_export_header_never_writes_into_the_checkout_by_default():
    """The committed firmware header changes only through `tinylstm export firmware` or an explicit --out."""
    from tinylstm.cli import build_parser

    args = build_parser().parse_args(["export", "header"])
    assert args.out == Path("artifacts/header")
    assert build_parser().parse_args(["export", "tflite"]).out == Path("artifacts/tflite")


# ------------------------------------------------------------------------------------------- window models
WINDOW_DUMP = ROOT / "tests" / "header" / "window_dump.c"


@pytest.fixture(scope="module")
def window_header(tmp_path_factory) -> tuple[Path, object]:
    """models/digits' firmware header (int8, W8 F8, 10 classes, with the streaming flatbuffer)."""
    from tflite_cases import digits

    model, b, _, _, _ = digits()
    out = tmp_path_factory.mktemp("header_window")
    (path,) = export.write(export.get("header"), model, out, HeaderOptions(data=model.data_path(),
                                                                             variant="firmware"))
    return path, b


def _array_bytes(text: str, name: str) -> bytes:
    body = text[re.search(rf"{name}\[\d+\] DATA_ALIGN_ATTRIBUTE = \{{", text).end():]
    body = body[:body.index("}")]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def test_window_header_compiles_everywhere(window_header, tmp_path):
    require_tool("gcc", "g++", "arm-none-eabi-g++")
    path, _ = window_header
    for compiler, flags, name in (("gcc", ["-std=c99", "-pedantic", "-c"], "a.c"),
                                  ("g++", ["-std=c++11", "-pedantic", "-c"], "c.cpp"),
                                  ("arm-none-eabi-g++", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard",
                                                         "-mfpu=fpv4-sp-d16", "-Os", "-std=c++11", "-c"], "m4.cpp")):
        src = tmp_path / name
        src.write_text('#include "model.h"\nint tinylstm_size(void) { return (int)sizeof tinylstm_stream_tflite; }\n')
        _compile(compiler, flags, src, tmp_path / (name + ".o"), path.parent)


def test_window_header_shape_macros_vectors_and_stream(window_header, tmp_path):
    """The header's own macros and C helpers (tests/header/window_dump.c) against the bundle, and its vectors'
    int8 inputs through TFLM: the W-step tfModel and the one-step stream flatbuffer fed step by step both give the
    header's expected probabilities within its tolerance, the stream bit-identical to the W-step output."""
    require_tool("gcc")
    from tflite_micro.python.tflite_micro import runtime

    from tinylstm.reference import predict

    path, b = window_header
    text = path.read_text()
    exe = tmp_path / "dump"
    _compile("gcc", ["-std=c99", "-pedantic"], WINDOW_DUMP, exe, path.parent)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    d: dict = {"vec": [], "exp": [], "deq": {}}
    for line in lines:
        key, *vals = line.split()
        if key in ("vec", "exp"):
            d[key].append([float(v) for v in vals])
        elif key == "deq":
            d["deq"][int(vals[0])] = float(vals[1])
        else:
            d[key] = vals
    from tflite_cases import digits

    model = digits()[0]
    bundle = model.bundle
    w, f, k = bundle.n_steps, bundle.values_per_step, bundle.n_outputs
    assert [int(v) for v in d["macros"]] == [w * f, w, f, k, 1, (w - 1) * k, w, w * f, w * k]
    assert d["classes"] == bundle.classes
    fb, stream_fb = _array_bytes(text, "tfModel"), _array_bytes(text, "tinylstm_stream_tflite")
    assert fb == b.int8_fb and stream_fb == b.stream_int8_fb
    has, s_arena, s_min, s_index, s_bytes = (int(v) for v in d["stream"])
    assert (has, s_index, s_bytes) == (1, 0, len(stream_fb)) and s_min == b.arena_min_host["stream_int8"]
    assert s_arena >= s_min
    tol = float(d["tol"][0])
    arena = int(d["arena"][0])
    batch = runtime.Interpreter.from_bytes(fb, arena_size=arena)
    stream = runtime.Interpreter.from_bytes(stream_fb, arena_size=s_arena)
    rows = re.search(r"tinylstm_vector_inputs\[\d+\]\[\d+\] = \{(.*?)\n\};", text, re.S).group(1)
    X = np.array([[float(v.rstrip("f")) for v in r.split(",")] for r in re.findall(r"\{([^{}]*)\}", rows)])
    assert len(d["vec"]) == len(X) == 5
    ref = predict(bundle, X)
    for q_in, expected, r in zip(d["vec"], d["exp"], ref):
        q = np.asarray(q_in, np.int8).reshape(1, w, f)
        batch.reset()
        batch.set_input(q, 0)
        batch.invoke()
        got = np.asarray(batch.get_output(0)).reshape(w, k)[-1]
        stream.reset()
        for t in range(w):
            stream.set_input(q[:, t:t + 1, :], 0)
            stream.invoke()
        got_stream = np.asarray(stream.get_output(0)).reshape(k)
        np.testing.assert_array_equal(got_stream, got)
        probs = np.array([d["deq"][int(v)] for v in got])
        assert np.abs(probs - np.asarray(expected)).max() <= tol
        assert int(np.argmax(probs)) == int(np.argmax(r)), "a self-check vector's class differs from the float model"
    # the header registers exactly the ops both flatbuffers use, and states its streaming check
    assert set(tflm.ops(stream_fb)) == set(tflm.ops(fb))
    flat = text.replace("\n *   ", " ")
    assert "STREAMING (TINYLSTM_HAS_STREAM_TFLITE)" in flat and "LiteRT bit-exact, TFLM bit-exact" in flat
    acc = tflite_build.accuracy(model, fb, model.data_path())
    assert acc.line("") in flat


def test_eloquent_variant_refuses_a_window_model_in_one_line():
    from tflite_cases import digits

    from tinylstm.errors import UserError
    from tinylstm.export.header import check

    model = digits()[0]
    with pytest.raises(UserError, match="--variant eloquent needs the feature_per_step layout"):
        check(model, HeaderOptions(variant="eloquent"))
