"""The tutorial's EloquentTinyML sketch, unchanged, against the generated model.h (``--variant eloquent``).

CI cannot fetch EloquentTinyML, so :class:`Sequential` below is a stand-in with the real library's semantics
(EloquentTinyML 3.0.1, commit 5d3636f, ``src/eloquent_tinyml/tf.h``), running the header's ``tfModel`` in TensorFlow
Lite Micro's own interpreter (PyPI ``tflite-micro``):

* ``begin()`` (tf.h 81-158) takes TF_NUM_INPUTS / TF_NUM_OUTPUTS when the sketch set none (86-94), builds ONE
  interpreter over ``arena[tensorArenaSize]`` (146) and allocates it (148); the sketch calls it once.
* ``predict(float *x)`` (tf.h 163-188) writes ``in->data.f[i] = x[i]`` for i < numInputs (172): float32 values,
  whatever the input tensor's type; invokes (176); reads ``outputs[i] = out->data.f[i]`` for i < numOutputs (181):
  float32, whatever the output tensor's type.
* Nothing in the library calls ``Reset()`` (no ``Reset`` anywhere in src/ at that commit): LSTM state left in
  variable tensors carries over from one ``predict`` to the next.

Where the C code would write or read past a tensor (float data into an int8 tensor), the stand-in raises instead of
emulating undefined behaviour. The sketch's calls and inputs: the tutorial's ``{4.6, 8., 304.}``, then five test
rows in a row, then the tutorial's input again; each answer within the header's stated tolerance of Keras
(``tinylstm_keras_tolerance``), the repeated input bit-identical. The same drive on ``--variant firmware`` (today's
lean int8 header) fails, as the tutorial's sketch did; so does an eloquent flatbuffer without the in-graph reset.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, require_tool

from tinylstm import export, tflite_build, tflm
from tinylstm.errors import UserError
from tinylstm.export.header import HeaderOptions
from tinylstm.modeldir import ModelDir

STANDIN = ROOT / "tests" / "eloquent"
TUTORIAL_INPUT = (4.6, 8.0, 304.0)
ROWS = 5
SKETCH_ARENA = 30000


# ------------------------------------------------------------------------------------------- header parsing
def _define(text: str, name: str) -> int | None:
    m = re.search(rf"^#define {name} (\S+)", text, re.M)
    if m is None:
        return None
    value = m.group(1)
    return _define(text, value) if not value.lstrip("-").isdigit() else int(value)


def _float_const(text: str, name: str) -> float | None:
    m = re.search(rf"^const float {name} = ([^;]+);", text, re.M)
    return None if m is None else float(m.group(1).rstrip("f"))


def _tf_model(text: str) -> bytes:
    body = text[text.index("tfModel["):]
    body = body[body.index("{") + 1:body.index("}")]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def _registered(text: str) -> list[str]:
    body = text[text.index("void registerNetworkOps"):]
    return re.findall(r"nn\.resolver\.(Add\w+)\(\);", body[:body.index("}")])


# ------------------------------------------------------------------------------------------- the stand-in
class Sequential:
    """``Eloquent::TF::Sequential<numOps, tensorArenaSize>`` of EloquentTinyML 3.0.1 over TFLM's interpreter."""

    def __init__(self, num_ops: int, arena_size: int, header_text: str):
        self.num_ops, self.arena_size, self.header = num_ops, arena_size, header_text
        self.registered: list[str] = []
        self.num_inputs = self.num_outputs = 0
        self.interpreter = None
        self.outputs: list[float] = []

    # tf.h 54-64
    def setNumInputs(self, n: int) -> None:  # noqa: N802 - the library's names
        self.num_inputs = n

    def setNumOutputs(self, n: int) -> None:  # noqa: N802
        self.num_outputs = n

    def registerNetworkOps(self) -> None:  # noqa: N802 - the header's registerNetworkOps(tf)
        """MicroMutableOpResolver<numOps>: one slot per Add<Op>(); more registrations than slots fail."""
        for method in _registered(self.header):
            assert len(self.registered) < self.num_ops, "MicroMutableOpResolver: more ops than TF_NUM_OPS"
            self.registered.append(method)

    def begin(self, model: bytes) -> None:
        """tf.h 81-158: one interpreter over the arena, AllocateTensors(), outputs calloc'd once."""
        from tflite_micro.python.tflite_micro import runtime

        if not self.num_inputs:  # tf.h 86-89
            self.num_inputs = _define(self.header, "TF_NUM_INPUTS") or 0
        if not self.num_outputs:  # tf.h 91-94
            self.num_outputs = _define(self.header, "TF_NUM_OUTPUTS") or 0
        assert self.num_inputs and self.num_outputs, "You must set the number of inputs/outputs"
        missing = {tflm.TFLM_RESOLVER[op] for op in tflm.ops(model)} - set(self.registered)
        assert not missing, f"Didn't find op for builtin opcode: {sorted(missing)} not registered"
        # TFLM can crash instead of failing below the minimum arena: check in a subprocess first
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.tflite"
            path.write_bytes(model)
            assert tflm.runs_with_arena(str(path), self.arena_size), "AllocateTensors() failed"
        self.interpreter = runtime.Interpreter.from_bytes(model, arena_size=self.arena_size)  # tf.h 146-149
        self.outputs = [0.0] * self.num_outputs  # tf.h 155 calloc

    def predict(self, x) -> None:
        """tf.h 163-188: float writes into data.f, Invoke(), float reads from data.f; no Reset()."""
        it = self.interpreter
        d_in, d_out = it.get_input_details(0), it.get_output_details(0)
        n_in_bytes = int(np.prod(d_in["shape"])) * np.dtype(d_in["dtype"]).itemsize
        n_out_bytes = int(np.prod(d_out["shape"])) * np.dtype(d_out["dtype"]).itemsize
        # tf.h 171-172: for (i < numInputs) in->data.f[i] = x[i];
        if np.dtype(d_in["dtype"]) != np.float32 or 4 * self.num_inputs > n_in_bytes:
            raise AssertionError(f"tf.h:172 in->data.f[i] = x[i] writes {4 * self.num_inputs} bytes of float into a "
                                 f"{n_in_bytes}-byte {np.dtype(d_in['dtype']).name} input tensor")
        data = np.zeros(int(np.prod(d_in["shape"])), np.float32)
        data[:self.num_inputs] = np.asarray(x, np.float32)[:self.num_inputs]
        it.set_input(data.reshape(d_in["shape"]), 0)
        it.invoke()  # tf.h 176; never Reset()
        # tf.h 180-181: for (i < numOutputs) outputs[i] = out->data.f[i];
        if np.dtype(d_out["dtype"]) != np.float32 or 4 * self.num_outputs > n_out_bytes:
            raise AssertionError(f"tf.h:181 outputs[i] = out->data.f[i] reads {4 * self.num_outputs} bytes of float "
                                 f"from a {n_out_bytes}-byte {np.dtype(d_out['dtype']).name} output tensor")
        self.outputs = [float(v) for v in np.asarray(it.get_output(0), np.float32).reshape(-1)[:self.num_outputs]]


def run_sketch(header_text: str, inputs: list) -> list[float]:
    """The tutorial's sketch: Sequential<TF_NUM_OPS, ARENA_SIZE> tf; setNumInputs/Outputs; registerNetworkOps(tf);
    tf.begin(tfModel) once; then tf.predict(input); tf.outputs[0] per input, in a row."""
    # a header without ARENA_SIZE: the sketch defines its own (EloquentTinyML's LSTMExample.ino line 21: 30000)
    arena = _define(header_text, "ARENA_SIZE") or SKETCH_ARENA
    tf = Sequential(_define(header_text, "TF_NUM_OPS"), arena, header_text)
    tf.setNumInputs(_define(header_text, "TF_NUM_INPUTS"))
    tf.setNumOutputs(_define(header_text, "TF_NUM_OUTPUTS"))
    tf.registerNetworkOps()
    tf.begin(_tf_model(header_text))
    out = []
    for x in inputs:
        tf.predict(x)
        out.append(tf.outputs[0])
    return out


# ------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model() -> ModelDir:
    return ModelDir.load(ROOT / "models" / "reference")


@pytest.fixture(scope="module")
def keras_of(model):
    """Keras predictions (target units) of the reference model for raw rows."""
    import keras

    from tinylstm.data import to_sequences

    km = keras.models.load_model(model.path / "model.keras", compile=False)
    sc = model.bundle.scaler

    def predict(X):
        X = np.atleast_2d(np.asarray(X, np.float64))
        return sc.inverse_y(km.predict(to_sequences(sc.transform_x(X)), verbose=0)[:, 0])

    return predict


def _header(model, reference_csv, tmp_path_factory, **kw) -> Path:
    out = tmp_path_factory.mktemp("hdr")
    (path,) = export.write(export.get("header"), model, out, HeaderOptions(data=reference_csv, **kw))
    return path


@pytest.fixture(scope="module")
def eloquent(model, reference_csv, tmp_path_factory) -> Path:
    return _header(model, reference_csv, tmp_path_factory)  # the default variant


@pytest.fixture(scope="module")
def firmware(model, reference_csv, tmp_path_factory) -> Path:
    return _header(model, reference_csv, tmp_path_factory, variant="firmware")


def _inputs(model) -> tuple[np.ndarray, list]:
    X_test, _ = model.rows("test")
    rows = X_test[:ROWS]
    return rows, [list(TUTORIAL_INPUT), *rows.tolist(), list(TUTORIAL_INPUT)]


# ------------------------------------------------------------------------------------------- tests
def test_tutorial_sketch_unchanged_matches_keras(eloquent, model, keras_of):
    text = eloquent.read_text()
    assert "--variant eloquent" in text and "--variant firmware" in text  # says which it is, and how to get the other
    rows, inputs = _inputs(model)
    got = np.asarray(run_sketch(text, inputs))
    want = keras_of(np.vstack([TUTORIAL_INPUT, rows, TUTORIAL_INPUT]))
    tol = _float_const(text, "tinylstm_keras_tolerance")
    assert tol is not None and 0 < tol < 0.5
    assert np.all(np.abs(got - want) <= tol), list(zip(got, want))
    assert got[0] == got[-1], "the same input gave a different answer later: state leaks between predict() calls"


def test_same_answer_on_every_call(eloquent, model):
    """Five predictions of one row after five different rows, begin() once: bit-identical, no Reset() anywhere."""
    rows, _ = _inputs(model)
    seq = [*rows.tolist(), *[rows[0].tolist()] * 5]
    got = run_sketch(eloquent.read_text(), seq)
    assert len(set(got[ROWS:] + [got[0]])) == 1, got


def test_firmware_header_fails_the_tutorial_sketch(firmware, model):
    """Today's lean int8 header, driven the same way, fails (int8 input/output tensors, 3 outputs)."""
    text = firmware.read_text()
    assert "--variant firmware" in text and "--variant eloquent" in text
    _, inputs = _inputs(model)
    with pytest.raises(AssertionError, match=r"tf\.h:172 .* into a 3-byte int8 input tensor"):
        run_sketch(text, inputs)


def test_stateful_flatbuffer_fails_the_stand_in(eloquent, model, keras_of):
    """Without the in-graph reset, the stand-in's begin()-once/no-Reset semantics show the drift."""
    text = eloquent.read_text()
    b = tflite_build.build(model)
    stateful = tflm.transform(b.int8_fb, lambda m: tflm.float_edges(
        m, 1 / np.asarray(model.bundle.scaler.x_scale), -np.asarray(model.bundle.scaler.x_mean)
        / np.asarray(model.bundle.scaler.x_scale), np.r_[np.zeros(2), model.bundle.scaler.y_scale],
        float(model.bundle.scaler.y_mean)))
    hex_body = ",".join(f"0x{v:02x}" for v in stateful)
    patched = re.sub(r"(tfModel\[)\d+(\][^{]*\{)[^}]*\}", lambda m: f"{m.group(1)}{len(stateful)}{m.group(2)}"
                     f"{hex_body}}}", text)
    rows, inputs = _inputs(model)
    got = np.asarray(run_sketch(patched, inputs))
    want = keras_of(np.vstack([TUTORIAL_INPUT, rows, TUTORIAL_INPUT]))
    tol = _float_const(text, "tinylstm_keras_tolerance")
    assert got[0] != got[-1] or np.any(np.abs(got - want) > tol)


def test_header_states_arena_minimum_and_margin(eloquent):
    text = eloquent.read_text()
    arena, host_min = _define(text, "TF_ARENA_SIZE"), _define(text, "TINYLSTM_ARENA_MIN_HOST")
    assert arena == tflite_build.header_arena(host_min) and arena > host_min
    assert re.search(r"#ifndef ARENA_SIZE\n#define ARENA_SIZE TF_ARENA_SIZE\n#endif", text)
    assert f"= {host_min} bytes" in text and f"margin {arena - host_min} B" in text.replace("\n *   ", " ")
    path = Path(eloquent.parent / "m.tflite")
    path.write_bytes(_tf_model(text))
    assert tflm.runs_with_arena(str(path), host_min) and not tflm.runs_with_arena(str(path), host_min - 1)


def test_eloquent_io_and_ops(eloquent):
    fb = _tf_model(eloquent.read_text())
    q = tflm.io_quant(fb)
    assert (q.input_type, q.output_type, q.output_shape) == ("FLOAT32", "FLOAT32", (1, 1))
    counts = tflm.op_counts(fb)
    assert counts["UNIDIRECTIONAL_SEQUENCE_LSTM"] == 2 and counts["DEQUANTIZE"] == 1
    assert _define(eloquent.read_text(), "TF_NUM_OPS") == len(counts)


def _compile(compiler: str, flags: list[str], src: Path, out: Path, include: Path, extra: list[str]) -> None:
    r = subprocess.run([compiler, *flags, "-Wall", "-Wextra", "-Werror", "-I", str(include), "-I", str(STANDIN),
                        *extra, str(src), "-o", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, f"{compiler} failed:\n{r.stderr}"


def test_tutorial_sketch_compiles_unchanged(eloquent, tmp_path):
    """The sketch compiles against model.h with the library's interface (host g++ and arm-none-eabi-g++, -Werror),
    with the header's ARENA_SIZE and with the sketch's own defined first (no redefinition)."""
    require_tool("g++")
    src = STANDIN / "sketch.cpp"
    for extra in ([], ["-DTINYLSTM_SKETCH_ARENA=30000"]):
        exe = tmp_path / "sketch"
        _compile("g++", ["-std=c++11"], src, exe, eloquent.parent, extra)
        r = subprocess.run([str(exe)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout.startswith("predicted = "), (r.returncode, r.stdout)
    require_tool("arm-none-eabi-g++")
    _compile("arm-none-eabi-g++", ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-Os",
                                   "-std=c++11", "-c"], src, tmp_path / "sketch.o", eloquent.parent, [])


def test_unsupported_model_one_line_error(model, reference_csv):
    from dataclasses import replace

    from tinylstm.export.header import check

    with pytest.raises(UserError, match="--vectors must be >= 1"):
        check(model, HeaderOptions(data=reference_csv, vectors=0))
    windowed = replace(model, bundle=replace(model.bundle, layout="window", meta={**model.bundle.meta, "window": 3}))
    with pytest.raises(UserError, match="--variant eloquent needs the feature_per_step layout") as e:
        check(windowed, HeaderOptions(data=reference_csv))
    assert "\n" not in str(e.value)
    check(windowed, HeaderOptions(data=reference_csv, variant="firmware"))  # the firmware header takes it
