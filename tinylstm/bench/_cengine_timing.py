"""Run by the cengine bench in a subprocess: host time per inference of TFLM, LiteRT and the C engine (ctypes).

``python _cengine_timing.py CONFIG_JSON`` prints one JSON line. CONFIG: root (checkout, put on sys.path), model
(model directory), rows (raw rows), libs ({name: shared library path}), passes, repeat, arena, tflite_out (where
the float TFLite model of the same bundle is written), ref_std (float golden outputs, standardised units).
TensorFlow is imported here, in its own process, so the bench itself never loads it.
"""

import ctypes
import json
import os
import statistics
import sys
import time

os.environ["TF_USE_LEGACY_KERAS"] = "1"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402


def tflite_model(bundle) -> bytes:
    """A float TFLite flatbuffer of the bundle (tf_keras, Input(batch_size=1), fused LSTM ops)."""
    import tensorflow as tf
    import tf_keras

    inp = tf_keras.Input((bundle.n_steps, 1), batch_size=1)
    h = inp
    for layer in bundle.lstm:
        h = tf_keras.layers.LSTM(layer.units, return_sequences=layer.return_sequences)(h)
    for d in bundle.dense:
        h = tf_keras.layers.Dense(d.units, activation=d.activation)(h)
    model = tf_keras.Model(inp, h)
    weights = []
    for layer in bundle.lstm:
        weights += [layer.W, layer.U, layer.b]
    for d in bundle.dense:
        weights += [d.W, d.b]
    model.set_weights(weights)
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def main(cfg: dict) -> dict:
    sys.path.insert(0, cfg["root"])
    from tinylstm.bundle import Bundle

    bundle = Bundle.load(cfg["model"])
    X = np.array(cfg["rows"], dtype=np.float64)
    seq = bundle.sequences(X)
    tfl = tflite_model(bundle)
    with open(cfg["tflite_out"], "wb") as fh:
        fh.write(tfl)
    passes, repeat = cfg["passes"], cfg["repeat"]

    def best(fn):
        times = []
        for _ in range(passes):
            t0 = time.thread_time()
            for _ in range(repeat):
                out = fn()
            times.append((time.thread_time() - t0) / (repeat * len(X)) * 1e6)
        return statistics.median(times), out

    def invoke_only(fn):
        return statistics.median(sum(fn() for _ in range(repeat)) / (repeat * len(X)) * 1e6 for _ in range(passes))

    res = {"tflite_bytes": len(tfl)}
    inputs = [s[None].astype(np.float32) for s in seq]

    from tflite_micro import runtime

    tflm = runtime.Interpreter.from_bytes(tfl, arena_size=cfg["arena"])

    def run_tflm():
        out = []
        for s in seq:
            tflm.reset()
            tflm.set_input(s[None].astype(np.float32), 0)
            tflm.invoke()
            out.append(float(tflm.get_output(0).reshape(-1)[0]))
        return np.array(out)

    def tflm_invoke():
        # invoke() alone: reset/set_input outside the timed region (one Python call per row remains)
        total = 0.0
        for s in inputs:
            tflm.reset()
            tflm.set_input(s, 0)
            t0 = time.thread_time()
            tflm.invoke()
            total += time.thread_time() - t0
        return total

    res["tflm_us"], y = best(run_tflm)
    res["tflm_invoke_us"] = invoke_only(tflm_invoke)
    res["tflm_maxdiff_std"] = float(np.max(np.abs(y - cfg["ref_std"])))

    from ai_edge_litert.interpreter import Interpreter

    lite = Interpreter(model_content=tfl)
    lite.allocate_tensors()
    i_in, i_out = lite.get_input_details()[0]["index"], lite.get_output_details()[0]["index"]

    def run_lite():
        out = []
        for s in seq:
            lite.reset_all_variables()
            lite.set_tensor(i_in, s[None].astype(np.float32))
            lite.invoke()
            out.append(float(lite.get_tensor(i_out).reshape(-1)[0]))
        return np.array(out)

    def lite_invoke():
        total = 0.0
        for s in inputs:
            lite.reset_all_variables()
            lite.set_tensor(i_in, s)
            t0 = time.thread_time()
            lite.invoke()
            total += time.thread_time() - t0
        return total

    res["litert_us"], y = best(run_lite)
    res["litert_invoke_us"] = invoke_only(lite_invoke)
    res["litert_maxdiff_std"] = float(np.max(np.abs(y - cfg["ref_std"])))

    X32 = X.astype(np.float32)
    for name, path in cfg["libs"].items():
        lib = ctypes.CDLL(path)
        lib.tinylstm_predict.restype = ctypes.c_int
        rows = [(ctypes.c_float * X32.shape[1])(*r) for r in X32]
        f = lib.tinylstm_predict
        y_buf = (ctypes.c_float * 64)()  # C API 2: outputs through y[] (room for K <= 64)

        def run_c():
            out = []
            for r in rows:
                f(r, y_buf)
                out.append(y_buf[0])
            return np.array(out)

        res[f"c_{name}_us"], _ = best(run_c)
    return res


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
