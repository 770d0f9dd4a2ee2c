"""TFLM streaming: the one-step flatbuffer (``Input((1, F))``, LSTM state in variable tensors between invokes).

Claims, each against the W-step flatbuffer of the same export (its head runs on every step, so its output row t is
the network's output after step t) or against the numpy reference model:

* ``Reset()`` and then W invokes of one step give, after every step t, the W-step model's row t: int8 bit-exact
  (same weights, same quantisation, same kernels), float <= 1e-5 — in LiteRT and in TFLM, for the random shapes
  and models/digits;
* the state really is kept between invokes (without it the stream would equal a 1-step window) and ``Reset()``
  clears it (stepping on into a second window without it differs from starting afresh);
* stepping on past W without a reset continues the sequence: after 2W steps the float stream equals the numpy
  reference model run on the 2W-step concatenation (<= 1e-5);
* the stream flatbuffer is the W-step one with only its shapes changed (constant buffers and quantisation equal).
"""

from __future__ import annotations

import numpy as np
import pytest
from tflite_cases import SHAPES, digits, shape_case

from tinylstm import tflm
from tinylstm.reference import forward_scaled

RUNTIMES = ("litert", "tflm")
FLOAT_TOL = 1e-5
IDS = [f"W{w}F{f}K{k}" for w, f, k in SHAPES]


def _cases():
    return [pytest.param(lambda s=s: shape_case(*s)[1:4], id=i) for s, i in zip(SHAPES, IDS)] + \
        [pytest.param(lambda: (lambda d: (d[0].bundle, d[1], d[2][:120]))(digits()), id="digits")]


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("case", _cases())
def test_stream_equals_the_w_step_model_after_every_step(case, runtime):
    bundle, b, X = case()
    seqs = bundle.sequences(X)
    w = bundle.n_steps
    for variant in ("float", "int8"):
        rows = tflm.run_rows(b.flatbuffer(variant), seqs, runtime)
        stream = tflm.run_stream(b.flatbuffer(f"stream_{variant}"), seqs, runtime)
        assert stream.shape == rows.shape == (len(X), w, bundle.n_outputs)
        if variant == "int8":
            np.testing.assert_array_equal(stream, rows, err_msg=f"{runtime}: int8 stream is not bit-exact")
        else:
            assert np.abs(stream - rows).max() <= FLOAT_TOL


@pytest.mark.parametrize("case", _cases())
def test_stream_io_and_same_constants(case):
    bundle, b, _ = case()
    for variant in ("float", "int8"):
        batch, stream = tflm.read(b.flatbuffer(variant)), tflm.read(b.flatbuffer(f"stream_{variant}"))
        q = tflm.io_quant(b.flatbuffer(f"stream_{variant}"))
        assert q.input_shape == (1, 1, bundle.values_per_step) and q.output_shape == (1, bundle.n_outputs)
        assert tflm.ops(b.flatbuffer(variant)) == tflm.ops(b.flatbuffer(f"stream_{variant}"))

        def constants(m):
            return [bytes(np.asarray(x.data, np.uint8)) for x in m.buffers if x.data is not None and len(x.data)]

        def quant(m):
            return [(None if t.quantization is None or t.quantization.scale is None else
                     (tuple(np.float32(t.quantization.scale)), tuple(t.quantization.zeroPoint)), int(t.type),
                     bool(t.isVariable)) for t in m.subgraphs[0].tensors]

        assert constants(stream) == constants(batch)
        assert quant(stream) == quant(batch)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_state_is_kept_between_invokes_and_reset_clears_it(runtime):
    bundle, b, X = shape_case(*SHAPES[1])[1:4]
    seqs = bundle.sequences(X[:8])
    fb = b.flatbuffer("stream_float")
    kept = tflm.run_stream(fb, seqs, runtime)
    # each step alone (a reset before every invoke) is not what the stream gives after step 2..W
    alone = np.stack([tflm.run_stream(fb, seqs[:, t:t + 1], runtime)[:, 0] for t in range(bundle.n_steps)], axis=1)
    assert np.abs(kept[:, 1:] - alone[:, 1:]).max() > 1e-3
    # without Reset() the second window starts from the first one's state
    on = tflm.run_stream(fb, seqs, runtime, reset=False)
    np.testing.assert_array_equal(on[0], kept[0])
    assert np.abs(on[1:] - kept[1:]).max() > 1e-3


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("shape", SHAPES, ids=IDS)
def test_stepping_past_w_continues_the_sequence(shape, runtime):
    """Two windows streamed without a reset between them = one 2W-step sequence through the numpy reference."""
    _, bundle, b, X, _ = shape_case(*shape)
    seqs = bundle.sequences(X[:16])
    pairs = np.concatenate([seqs[0::2], seqs[1::2]], axis=1)  # (8, 2W, F)
    got = np.stack([tflm.run_stream(b.flatbuffer("stream_float"), p[None].reshape(2, bundle.n_steps, -1), runtime,
                                    reset=False)[-1, -1] for p in pairs])
    want = forward_scaled(bundle, pairs.astype(np.float64))
    assert np.abs(got - want).max() <= FLOAT_TOL
