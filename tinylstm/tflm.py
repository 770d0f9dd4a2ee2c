"""TensorFlow Lite flatbuffers for microcontrollers: compact serialisation, op inventory, and the two interpreters.

This module has no TensorFlow dependency. It

* re-serialises a converter flatbuffer into a compact, deterministic one (:func:`compact`): no tensor names,
  metadata, signature defs or calibration min/max, shared shape/quantisation vectors, one empty buffer for all
  activations, LSTM scratch "intermediates" shared, every constant buffer 16-byte aligned;
* lists the builtin ops of a flatbuffer and maps them to TensorFlow Lite Micro's ``MicroMutableOpResolver::Add*``
  registrations (:func:`ops`, :data:`TFLM_RESOLVER`), so a header registers exactly what the model uses;
* runs a flatbuffer on raw rows in LiteRT (``ai-edge-litert``) or in TFLite Micro's own interpreter (PyPI
  ``tflite-micro``), with the scaler and the input/output quantisation applied (:func:`predict`), resetting the
  LSTM state before every sample (the fused LSTM keeps h/c in variable tensors between invokes);
* finds the smallest tensor arena TFLM runs with, by bisection in subprocesses (:func:`min_arena`), because TFLM can
  segfault instead of failing cleanly when the arena is too small.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from functools import lru_cache

import flatbuffers
import numpy as np

#: Builtin ops TFLite Micro implements (its MicroMutableOpResolver), as TFLite schema names.
TFLM_OPS = (
    "ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND BROADCAST_ARGS "
    "BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D DEQUANTIZE "
    "DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND "
    "GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOG_SOFTMAX "
    "LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC MAX_POOL_2D MAXIMUM MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK "
    "PAD PADV2 PRELU QUANTIZE READ_VARIABLE REDUCE_MAX RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR "
    "ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT SPLIT_V SQRT SQUARE "
    "SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM "
    "UNPACK VAR_HANDLE WHILE ZEROS_LIKE"
).split()

_RESOLVER_EXCEPTIONS = {
    "AVERAGE_POOL_2D": "AveragePool2D", "BATCH_MATMUL": "BatchMatMul", "CONV_2D": "Conv2D", "CUMSUM": "CumSum",
    "DEPTHWISE_CONV_2D": "DepthwiseConv2D", "L2_POOL_2D": "L2Pool2D", "MAX_POOL_2D": "MaxPool2D", "PADV2": "PadV2",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "UnidirectionalSequenceLSTM",
}

#: TFLite op name → the ``MicroMutableOpResolver`` method that registers it (``AddFullyConnected`` …).
TFLM_RESOLVER = {op: "Add" + _RESOLVER_EXCEPTIONS.get(op, "".join(w.capitalize() for w in op.split("_")))
                 for op in TFLM_OPS}


def _schema():
    # deferred on purpose: importing the tflite_micro package loads TensorFlow Lite Micro's runtime (~0.5 s)
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    return schema


@lru_cache(maxsize=1)
def _op_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}


def _type_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.TensorType).items() if not k.startswith("_")}


def read(buf: bytes):
    """The flatbuffer as the schema's object tree (``ModelT``)."""
    s = _schema()
    return s.ModelT.InitFromObj(s.Model.GetRootAsModel(bytearray(buf), 0))


def _op_name(code) -> str:
    return _op_names()[max(code.builtinCode, code.deprecatedBuiltinCode)]


def ops(buf: bytes) -> list[str]:
    """Builtin op kinds of the model, in first-use order (``["UNIDIRECTIONAL_SEQUENCE_LSTM", ...]``)."""
    model = read(buf)
    seen: list[str] = []
    for sg in model.subgraphs:
        for op in sg.operators or []:
            name = _op_name(model.operatorCodes[op.opcodeIndex])
            if name not in seen:
                seen.append(name)
    return seen


def op_counts(buf: bytes) -> dict[str, int]:
    model = read(buf)
    counts: dict[str, int] = {}
    for sg in model.subgraphs:
        for op in sg.operators or []:
            name = _op_name(model.operatorCodes[op.opcodeIndex])
            counts[name] = counts.get(name, 0) + 1
    return counts


@dataclass(frozen=True)
class IoQuant:
    """Type and affine quantisation of the model's input and output tensors (scale 0 = float)."""

    input_type: str
    input_scale: float
    input_zero_point: int
    output_type: str
    output_scale: float
    output_zero_point: int
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


def io_quant(buf: bytes) -> IoQuant:
    model = read(buf)
    sg = model.subgraphs[0]
    tn = _type_names()

    def q(t):
        if t.quantization is None or t.quantization.scale is None or len(t.quantization.scale) == 0:
            return 0.0, 0
        return float(t.quantization.scale[0]), int(t.quantization.zeroPoint[0])

    ti, to = sg.tensors[sg.inputs[0]], sg.tensors[sg.outputs[0]]
    return IoQuant(tn[ti.type], *q(ti), tn[to.type], *q(to), tuple(int(v) for v in ti.shape),
                   tuple(int(v) for v in to.shape))


def tensor_count(buf: bytes) -> int:
    return sum(len(sg.tensors) for sg in read(buf).subgraphs)


# ---------------------------------------------------------------------------------------------- transforms
# Small named transforms on the schema's object tree (tflite-micro ``tools`` style). Each keeps the model's outputs
# equal (tests/test_tflite.py runs the flatbuffer in TFLM before and after every one); :func:`serialize` writes the
# tree back compactly. :func:`compact` is their composition, the form every exported flatbuffer has.
#: Ops that work row by row, so the dense head may run on every step: FULLY_CONNECTED and a classifier's SOFTMAX
#: (over the last axis, one row per step).
_ROW_OPS = ("FULLY_CONNECTED", "SOFTMAX")


def drop_trailing_slice(model) -> None:
    """Drop the STRIDED_SLICE that takes the last LSTM step before the dense head; the head then runs on every step.

    ``FULLY_CONNECTED`` flattens a (1, steps, H) input to (steps, H) rows, so the graph output becomes (steps, K) and
    its last row is the prediction (a classifier's SOFTMAX works per row, so it follows unchanged). Saves an op
    kind, four tensors and their constants at the price of running the (tiny) head on every step. Raises
    ``ValueError`` when the pattern is not there.
    """
    sg = model.subgraphs[0]
    names = [_op_name(model.operatorCodes[op.opcodeIndex]) for op in sg.operators]
    for k, op in enumerate(sg.operators):
        if names[k] != "STRIDED_SLICE":
            continue
        src, dst = int(op.inputs[0]), int(op.outputs[0])
        producers = [j for j, o in enumerate(sg.operators) if src in list(o.outputs)]
        if not producers or names[producers[0]] != "UNIDIRECTIONAL_SEQUENCE_LSTM":
            continue
        steps = int(sg.tensors[src].shape[1])
        consumers = [o for o in sg.operators if dst in list(o.inputs)]
        if not consumers or any(_op_name(model.operatorCodes[o.opcodeIndex]) != "FULLY_CONNECTED" for o in consumers):
            continue
        # every tensor downstream of the slice gains the step axis as FC rows
        for o in consumers:
            o.inputs = [src if int(i) == dst else int(i) for i in o.inputs]
        frontier = [int(o.outputs[0]) for o in consumers]
        seen = set()
        while frontier:
            t = frontier.pop()
            if t in seen:
                continue
            seen.add(t)
            shape = [int(v) for v in sg.tensors[t].shape]
            sg.tensors[t].shape = np.array([steps, shape[-1]], dtype=np.int32)
            for o in sg.operators:
                if t in [int(i) for i in o.inputs]:
                    if _op_name(model.operatorCodes[o.opcodeIndex]) not in _ROW_OPS:
                        raise ValueError("drop_trailing_slice: only FULLY_CONNECTED layers (and a final SOFTMAX) "
                                         "may follow the last LSTM")
                    frontier.append(int(o.outputs[0]))
        del sg.operators[k]
        drop_unused_opcodes(model)
        return
    raise ValueError("drop_trailing_slice: no STRIDED_SLICE between the last LSTM and the dense head")


def one_step(model) -> None:
    """The streaming form of a head-every-step flatbuffer (:func:`drop_trailing_slice` applied): every activation
    shape loses its W steps — input (1, 1, F), each LSTM output (1, 1, H), the head's rows (1, ·) — and nothing
    else changes: the same weights, the same quantisation (scales, zero points, the int16 cell scale), the same
    variable tensors for h/c. Each invoke is then one time step; the LSTM state stays in the variable tensors
    between invokes until ``Reset()`` / ``reset_all_variables()``. Raises ``ValueError`` on any other op pattern.
    """
    sg = model.subgraphs[0]
    inp = sg.tensors[int(sg.inputs[0])]
    if inp.shape is None or len(inp.shape) != 3:
        raise ValueError("one_step: the input must be (1, steps, values per step)")
    inp.shape = np.array([1, 1, int(inp.shape[2])], dtype=np.int32)
    for op in sg.operators:
        name = _op_name(model.operatorCodes[op.opcodeIndex])
        out = sg.tensors[int(op.outputs[0])]
        last = int(out.shape[-1])
        if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
            out.shape = np.array([1, 1, last], dtype=np.int32)
        elif name in _ROW_OPS:
            out.shape = np.array([1, last], dtype=np.int32)
        else:
            raise ValueError(f"one_step: {name} is not an LSTM or a row-wise head op (drop the STRIDED_SLICE first)")


def drop_unused_opcodes(model) -> None:
    """Remove operator codes no operator uses (renumbering ``opcodeIndex``)."""
    used = {int(o.opcodeIndex) for sg in model.subgraphs for o in sg.operators}
    keep = [j for j in range(len(model.operatorCodes)) if j in used]
    remap = {old: new for new, old in enumerate(keep)}
    model.operatorCodes = [model.operatorCodes[j] for j in keep]
    for sg in model.subgraphs:
        for o in sg.operators:
            o.opcodeIndex = remap[int(o.opcodeIndex)]


def share_lstm_intermediates(model) -> None:
    """Give every LSTM the same placeholder tensor for its four per-gate intermediates (LiteRT checks they exist;
    no kernel reads them without layer normalisation). Quantised intermediates are left alone."""
    sg = model.subgraphs[0]
    shared: int | None = None
    for op in sg.operators:
        if op.intermediates is not None and len(op.intermediates) == 5:
            inter = [int(v) for v in op.intermediates]
            for k in inter[:4]:
                t = sg.tensors[k]
                plain = t.quantization is None or t.quantization.scale is None or len(t.quantization.scale) == 0
                if not plain:
                    break
            else:
                shared = inter[0] if shared is None else shared
                op.intermediates = [shared] * 4 + inter[4:]


# Graph edits for the EloquentTinyML drop-in (``tinylstm export header --variant eloquent``): float32 raw-unit input,
# one float32 output in target units, state reset inside the graph. Each is checked against the numpy golden model
# through TFLM in tests/test_eloquent.py.
def _add_buffer(model, data: np.ndarray | None = None) -> int:
    s = _schema()
    buf = s.BufferT()
    if data is not None:
        buf.data = np.frombuffer(np.ascontiguousarray(data).tobytes(), dtype=np.uint8).copy()
    model.buffers.append(buf)
    return len(model.buffers) - 1


def _add_tensor(model, shape, ttype: int, data: np.ndarray | None = None, scale: float | None = None,
                zero_point: int = 0) -> int:
    """Append a tensor (a constant when ``data`` is given) to subgraph 0; returns its index."""
    s = _schema()
    sg = model.subgraphs[0]
    t = s.TensorT()
    t.shape = np.asarray(shape, dtype=np.int32)
    t.type = ttype
    t.buffer = _add_buffer(model, data) if data is not None else 0
    if scale is not None:
        q = s.QuantizationParametersT()
        q.scale, q.zeroPoint = [float(scale)], [int(zero_point)]
        t.quantization = q
    sg.tensors.append(t)
    return len(sg.tensors) - 1


def _opcode(model, name: str, version: int = 1) -> int:
    """Index of the operator code ``name`` (added when missing)."""
    s = _schema()
    code = getattr(s.BuiltinOperator, name)
    for k, c in enumerate(model.operatorCodes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
            return k
    c = s.OperatorCodeT()
    c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), version
    model.operatorCodes.append(c)
    return len(model.operatorCodes) - 1


def _make_op(model, name: str, inputs: list[int], outputs: list[int], options=None, options_type: str = ""):
    s = _schema()
    op = s.OperatorT()
    op.opcodeIndex = _opcode(model, name)
    op.inputs, op.outputs = list(inputs), list(outputs)
    if options is not None:
        op.builtinOptions, op.builtinOptionsType = options, getattr(s.BuiltinOptions, options_type)
    return op


def float_edges(model, x_mul: np.ndarray, x_add: np.ndarray, y_weights: np.ndarray, y_bias: float) -> None:
    """Float32 graph input and output around the model: ``input * x_mul + x_add`` (the scaler, per element, in
    float) → QUANTIZE into the old (int8) input; the old output → DEQUANTIZE → FULLY_CONNECTED with weights
    ``y_weights`` (1, n_out) and bias ``y_bias`` → a (1, 1) float output. With ``y_weights`` = (0, …, 0, y_scale)
    the last FC both picks the last row of a head-every-step output and maps it to target units.

    A float model gets the same MUL/ADD in front and the FC behind (no QUANTIZE/DEQUANTIZE).
    """
    s = _schema()
    sg = model.subgraphs[0]
    F32 = s.TensorType.FLOAT32
    old_in, old_out = int(sg.inputs[0]), int(sg.outputs[0])
    t_in, t_out = sg.tensors[old_in], sg.tensors[old_out]
    in_shape = [int(v) for v in t_in.shape]
    quantized_in = t_in.type != F32
    quantized_out = t_out.type != F32
    x_mul = np.asarray(x_mul, np.float32).reshape(in_shape)
    x_add = np.asarray(x_add, np.float32).reshape(in_shape)
    new_in = _add_tensor(model, in_shape, F32)
    mul_c, add_c = _add_tensor(model, in_shape, F32, x_mul), _add_tensor(model, in_shape, F32, x_add)
    scaled = _add_tensor(model, in_shape, F32)
    front = [_make_op(model, "MUL", [new_in, mul_c], [scaled], s.MulOptionsT(), "MulOptions")]
    if quantized_in:
        std = _add_tensor(model, in_shape, F32)
        front += [_make_op(model, "ADD", [scaled, add_c], [std], s.AddOptionsT(), "AddOptions"),
                  _make_op(model, "QUANTIZE", [std], [old_in])]
    else:
        front += [_make_op(model, "ADD", [scaled, add_c], [old_in], s.AddOptionsT(), "AddOptions")]
    n_out = int(np.prod([int(v) for v in t_out.shape]))
    w = np.asarray(y_weights, np.float32).reshape(1, n_out)
    out_shape = [int(v) for v in t_out.shape]
    back = []
    src = old_out
    if quantized_out:
        src = _add_tensor(model, out_shape, F32)
        back.append(_make_op(model, "DEQUANTIZE", [old_out], [src]))
    w_c = _add_tensor(model, [1, n_out], F32, w)
    b_c = _add_tensor(model, [1], F32, np.asarray([y_bias], np.float32))
    new_out = _add_tensor(model, [1, 1], F32)
    back.append(_make_op(model, "FULLY_CONNECTED", [src, w_c, b_c], [new_out], s.FullyConnectedOptionsT(),
                         "FullyConnectedOptions"))
    sg.operators = front + list(sg.operators) + back
    sg.inputs, sg.outputs = [new_in], [new_out]


def reset_state_in_graph(model) -> None:
    """Write zeros into every variable (LSTM h/c state) tensor at the start of each invoke, so the answer does not
    depend on the previous call and nobody has to call ``Reset()``: a QUANTIZE of a constant float zero tensor
    (int8/int16 state; zero maps to the tensor's zero point) or, for a float state, a MUL of that constant by itself
    (TFLM refuses a tensor that is both input and output of one op)."""
    s = _schema()
    sg = model.subgraphs[0]
    F32 = s.TensorType.FLOAT32
    zeros: dict[tuple, int] = {}
    ops = []
    for k, t in enumerate(list(sg.tensors)):
        if not t.isVariable:
            continue
        shape = tuple(int(v) for v in t.shape)
        if shape not in zeros:
            zeros[shape] = _add_tensor(model, shape, F32, np.zeros(shape, np.float32))
        if t.type == F32:
            ops.append(_make_op(model, "MUL", [zeros[shape], zeros[shape]], [k], s.MulOptionsT(), "MulOptions"))
        else:
            ops.append(_make_op(model, "QUANTIZE", [zeros[shape]], [k]))
    if not ops:
        raise ValueError("reset_state_in_graph: the model has no variable tensors")
    sg.operators = ops + list(sg.operators)


def referenced_tensors(sg) -> list[int]:
    """Tensor indices the subgraph uses (inputs, operator inputs/outputs/intermediates, outputs), first-use order."""
    ref: list[int] = []
    for idx in [*sg.inputs, *(i for op in sg.operators for i in [*op.inputs, *op.outputs,
                                                                  *(op.intermediates if op.intermediates is not None
                                                                    else [])]), *sg.outputs]:
        if idx >= 0 and idx not in ref:
            ref.append(int(idx))
    return ref


def transform(buf: bytes, *steps) -> bytes:
    """``buf`` read, each of ``steps`` (functions of the model tree) applied in order, then :func:`serialize`d."""
    model = read(buf)
    if len(model.subgraphs) != 1:
        raise ValueError(f"expected one subgraph, got {len(model.subgraphs)}")
    for step in steps:
        step(model)
    return serialize(model)


def compact(buf: bytes, head_every_step: bool = False) -> bytes:
    """A single-subgraph converter flatbuffer in its compact deterministic form: :func:`drop_trailing_slice` (with
    ``head_every_step``), :func:`share_lstm_intermediates`, then :func:`serialize`."""
    return transform(buf, *([drop_trailing_slice] if head_every_step else []), share_lstm_intermediates)


def serialize(model) -> bytes:
    """Write the model tree compactly and deterministically.

    Keeps everything the interpreters read (shapes, types, constant data, scale/zero-point, options, variable
    flags, operator wiring); drops names, metadata, signature defs, calibration min/max and unreferenced tensors;
    shares identical vectors and quantisation tables; one empty buffer for all activations; every constant buffer
    16-byte aligned.
    """
    s = _schema()
    sg = model.subgraphs[0]
    ref = referenced_tensors(sg)
    remap = {old: new for new, old in enumerate(ref)}
    remap[-1] = -1
    tensors = [sg.tensors[i] for i in ref]

    b = flatbuffers.Builder(4096)
    cache: dict[tuple, int] = {}

    def vec(kind: str, values) -> int:
        values = [v.item() if hasattr(v, "item") else v for v in values]
        key = (kind, tuple(values))
        if key not in cache:
            size, prepend = {"i32": (4, b.PrependInt32), "f32": (4, b.PrependFloat32),
                             "i64": (8, b.PrependInt64)}[kind]
            b.StartVector(size, len(values), size)
            for v in reversed(values):
                prepend(v)
            cache[key] = b.EndVector()
        return cache[key]

    def offsets(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for off in reversed(items):
            b.PrependUOffsetTRelative(off)
        return b.EndVector()

    # Constant data first (16-byte aligned), in tensor order; buffer 0 is the empty sentinel.
    data_offsets: list[int] = []
    buffer_index: dict[int, int] = {}
    for k, t in enumerate(tensors):
        data = model.buffers[t.buffer].data
        if data is None or len(data) == 0:
            buffer_index[k] = 0
            continue
        raw = bytes(np.asarray(data, dtype=np.uint8))
        b.StartVector(1, len(raw), 16)
        b.head -= len(raw)
        b.Bytes[b.head:b.head + len(raw)] = raw
        data_offsets.append(b.EndVector())
        buffer_index[k] = len(data_offsets)

    quant_cache: dict[tuple, int] = {}

    def quant(q) -> int | None:
        if q is None or q.scale is None or len(q.scale) == 0:
            return None
        scale = [float(np.float32(v)) for v in q.scale]
        zp = [int(v) for v in (q.zeroPoint if q.zeroPoint is not None else [0] * len(scale))]
        key = (tuple(scale), tuple(zp), int(q.quantizedDimension))
        if key not in quant_cache:
            so, zo = vec("f32", scale), vec("i64", zp)
            s.QuantizationParametersStart(b)
            s.QuantizationParametersAddScale(b, so)
            s.QuantizationParametersAddZeroPoint(b, zo)
            if q.quantizedDimension:
                s.QuantizationParametersAddQuantizedDimension(b, int(q.quantizedDimension))
            quant_cache[key] = s.QuantizationParametersEnd(b)
        return quant_cache[key]

    tensor_offsets = []
    for k, t in enumerate(tensors):
        shape = vec("i32", [int(v) for v in t.shape]) if t.shape is not None else None
        qo = quant(t.quantization)
        s.TensorStart(b)
        if shape is not None:
            s.TensorAddShape(b, shape)
        s.TensorAddType(b, int(t.type))
        s.TensorAddBuffer(b, buffer_index[k])
        if qo is not None:
            s.TensorAddQuantization(b, qo)
        if t.isVariable:
            s.TensorAddIsVariable(b, True)
        tensor_offsets.append(s.TensorEnd(b))

    op_offsets = []
    for op in sg.operators:
        ins = vec("i32", [remap[int(i)] for i in op.inputs])
        outs = vec("i32", [remap[int(i)] for i in op.outputs])
        inter = vec("i32", [remap[int(i)] for i in op.intermediates]) if op.intermediates is not None else None
        opts = op.builtinOptions.Pack(b) if op.builtinOptions is not None else None
        s.OperatorStart(b)
        s.OperatorAddOpcodeIndex(b, int(op.opcodeIndex))
        s.OperatorAddInputs(b, ins)
        s.OperatorAddOutputs(b, outs)
        if opts is not None:
            s.OperatorAddBuiltinOptionsType(b, int(op.builtinOptionsType))
            s.OperatorAddBuiltinOptions(b, opts)
        if inter is not None:
            s.OperatorAddIntermediates(b, inter)
        op_offsets.append(s.OperatorEnd(b))

    tv, ov = offsets(tensor_offsets), offsets(op_offsets)
    iv = vec("i32", [remap[int(i)] for i in sg.inputs])
    outv = vec("i32", [remap[int(i)] for i in sg.outputs])
    s.SubGraphStart(b)
    s.SubGraphAddTensors(b, tv)
    s.SubGraphAddInputs(b, iv)
    s.SubGraphAddOutputs(b, outv)
    s.SubGraphAddOperators(b, ov)
    sgo = s.SubGraphEnd(b)

    code_offsets = []
    for code in model.operatorCodes:
        s.OperatorCodeStart(b)
        s.OperatorCodeAddDeprecatedBuiltinCode(b, int(code.deprecatedBuiltinCode))
        s.OperatorCodeAddBuiltinCode(b, int(code.builtinCode))
        s.OperatorCodeAddVersion(b, int(code.version))
        code_offsets.append(s.OperatorCodeEnd(b))

    buffer_offsets = []
    s.BufferStart(b)
    buffer_offsets.append(s.BufferEnd(b))
    for off in data_offsets:
        s.BufferStart(b)
        s.BufferAddData(b, off)
        buffer_offsets.append(s.BufferEnd(b))

    cv, sv, bv = offsets(code_offsets), offsets([sgo]), offsets(buffer_offsets)
    s.ModelStart(b)
    s.ModelAddVersion(b, int(model.version))
    s.ModelAddOperatorCodes(b, cv)
    s.ModelAddSubgraphs(b, sv)
    s.ModelAddBuffers(b, bv)
    b.Finish(s.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def buffer_alignment(buf: bytes) -> list[int]:
    """File offset modulo 16 of every non-empty constant buffer (all 0 when aligned)."""
    s = _schema()
    model = s.Model.GetRootAsModel(bytearray(buf), 0)
    out = []
    for k in range(model.BuffersLength()):
        b = model.Buffers(k)
        if b.DataLength():
            o = b._tab.Offset(4)
            out.append(b._tab.Vector(o) % 16)
    return out


# ---------------------------------------------------------------------------------------------- inference
def quantize_input(x_scaled: np.ndarray, q: IoQuant) -> np.ndarray:
    """Standardised float inputs → the model's input tensor type (int8 via its scale/zero point)."""
    if q.input_type == "INT8":
        v = np.asarray(x_scaled, np.float64) / q.input_scale
        v = np.sign(v) * np.floor(np.abs(v) + 0.5)  # half away from zero, as the header's C helper
        return np.clip(v + q.input_zero_point, -128, 127).astype(np.int8)
    return np.asarray(x_scaled, dtype=np.float32)


def dequantize_output(y: np.ndarray, q: IoQuant) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if q.output_type == "INT8":
        return (y - q.output_zero_point) * q.output_scale
    return y


class _Session:
    """One interpreter (LiteRT's builtin kernels or TFLM's) behind the same five calls."""

    def __init__(self, buf: bytes, runtime: str, arena_size: int = 65536):
        self.q = io_quant(buf)
        self.runtime = runtime
        if runtime == "litert":
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            # TFLite's own builtin kernels, no XNNPACK delegate (it handles no LSTM and only adds console noise)
            self.it = Interpreter(model_content=bytes(buf), num_threads=1,
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
            self.it.allocate_tensors()
            self.i_idx = self.it.get_input_details()[0]["index"]
            self.o_idx = self.it.get_output_details()[0]["index"]
        elif runtime == "tflm":
            from tflite_micro.python.tflite_micro import runtime as micro

            self.it = micro.Interpreter.from_bytes(bytes(buf), arena_size=arena_size)
        else:
            raise ValueError(f"unknown runtime {runtime!r}")

    def reset(self) -> None:
        """Clear the LSTM's h/c variable tensors (a new, independent sequence)."""
        if self.runtime == "litert":
            self.it.reset_all_variables()
        else:
            self.it.reset()

    def run(self, x_scaled: np.ndarray) -> np.ndarray:
        """One invoke on standardised input (the input tensor's shape); every output row (rows, K), dequantised."""
        x = quantize_input(np.asarray(x_scaled).reshape(self.q.input_shape), self.q)
        if self.runtime == "litert":
            self.it.set_tensor(self.i_idx, x)
            self.it.invoke()
            y = self.it.get_tensor(self.o_idx)
        else:
            self.it.set_input(x, 0)
            self.it.invoke()
            y = self.it.get_output(0)
        return dequantize_output(y, self.q).reshape(-1, self.q.output_shape[-1])


def run_scaled(buf: bytes, seqs: np.ndarray, runtime: str, arena_size: int = 65536) -> np.ndarray:
    """Network output in standardised units for standardised sequences (n, steps, values per step): (n,) for one
    output, (n, K) for K; the last output row of each invoke, the LSTM state reset before every sequence."""
    s = _Session(buf, runtime, arena_size)
    out = []
    for seq in seqs:
        s.reset()  # independent samples: clear the LSTM's h/c variable tensors
        out.append(s.run(seq[None])[-1])
    y = np.asarray(out, dtype=np.float64).reshape(len(seqs), -1)
    return y[:, 0] if y.shape[1] == 1 else y


def run_rows(buf: bytes, seqs: np.ndarray, runtime: str, arena_size: int = 65536) -> np.ndarray:
    """Every output row of a head-every-step W-step flatbuffer (n, W, K): row t is the output after step t."""
    s = _Session(buf, runtime, arena_size)
    out = []
    for seq in seqs:
        s.reset()
        out.append(s.run(seq[None]))
    return np.asarray(out, dtype=np.float64)


def run_stream(buf: bytes, seqs: np.ndarray, runtime: str, arena_size: int = 65536,
               reset: bool = True) -> np.ndarray:
    """A one-step (:func:`one_step`) flatbuffer fed step by step: (n, steps, K), the output after every step.

    ``reset``: ``Reset()`` before each sequence (independent sequences); without it the state runs on from the
    previous sequence, as if the sequences were one long series. One interpreter for all of them.
    """
    s = _Session(buf, runtime, arena_size)
    out = []
    for seq in seqs:
        if reset:
            s.reset()
        out.append([s.run(step[None, None])[0] for step in seq])
    return np.asarray(out, dtype=np.float64)


def predict(buf: bytes, bundle, X_raw: np.ndarray, runtime: str, arena_size: int = 65536) -> np.ndarray:
    """Raw samples (n, n_inputs) → what :meth:`Bundle.outputs` gives ((n,) target units or (n, K) probabilities)
    through the flatbuffer in ``runtime``."""
    seqs = bundle.sequences(np.atleast_2d(X_raw))
    return bundle.outputs(run_scaled(buf, seqs, runtime, arena_size))


# ---------------------------------------------------------------------------------------------- arena
def runs_with_arena(path: str, arena_size: int, timeout: float = 60) -> bool:
    """Whether TFLM allocates and invokes the model with ``arena_size`` bytes, in a fresh process (it may crash)."""
    r = subprocess.run([sys.executable, "-m", "tinylstm.arena_probe", str(path), "--check", str(arena_size)],
                       capture_output=True, text=True, timeout=timeout)
    return r.returncode == 0 and r.stdout.strip().endswith("ok")


def min_arena(path: str, hi: int = 1 << 16, timeout: float = 300) -> int:
    """The smallest ``arena_size`` (bytes) with which TFLM's host interpreter allocates and runs the model
    (exact bisection, each probe in a forked child: :mod:`tinylstm.arena_probe`)."""
    r = subprocess.run([sys.executable, "-m", "tinylstm.arena_probe", str(path), "--hi", str(hi)],
                       capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"{path}: arena bisection failed: {(r.stderr or r.stdout).strip()[-500:]}")
    return int(r.stdout.split()[-1])


def recorded_arena(buf: bytes, arena_size: int = 1 << 16) -> str:
    """TFLM's RecordingMicroAllocator breakdown (text) after one invoke."""
    with tempfile.NamedTemporaryFile(suffix=".tflite", delete=False) as f:
        f.write(buf)
    try:
        r = subprocess.run([sys.executable, "-m", "tinylstm.arena_probe", f.name, "--allocations", str(arena_size)],
                           capture_output=True, text=True, timeout=60)
    finally:
        os.unlink(f.name)
    return "\n".join(line for line in (r.stdout + r.stderr).splitlines() if "RecordingMicroAllocator" in line)


def summary(buf: bytes) -> dict:
    """Facts about a flatbuffer for reports: bytes, op kinds and counts, tensors, I/O quantisation."""
    q = io_quant(buf)
    return {"bytes": len(buf), "ops": ops(buf), "op_counts": op_counts(buf), "tensors": tensor_count(buf),
            "io": json.loads(json.dumps(q.__dict__))}
