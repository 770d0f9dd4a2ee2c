"""Run by the ``fpga-peer`` bench under hls4ml's own interpreter (``TINYLSTM_HLS4ML_PYTHON``), not the project's.

``python _hls4ml_run.py REQUEST.json`` converts a Keras model with hls4ml, builds its C simulation
(``hls_model.compile()``: g++ on the generated HLS C++ with the bundled ap_types headers) once per requested
precision and predicts the given inputs. The only thing written to stdout is one JSON object (everything hls4ml
and g++ print goes to stderr)::

    request:  {"model": "model.keras", "inputs": "x.npy" (n, steps, values) float32, standardised,
               "workdir": "DIR", "backend": "Vitis", "io_type": "io_parallel",
               "configs": [{"label": str, "precision": "ap_fixed<16,6>",
                            "table_size": int | null, "types": {"accum": str, "table": str} | null}]}
    answer:   {"hls4ml": version, "keras": version, "keras_out": [[...]],
               "runs": [{"label", "precision", "table_size", "types", "out": [[...]] | null,
                         "error": str | null, "cpu_s": compile + predict CPU seconds of this process and g++}]}

This file imports nothing from tinylstm: it runs in a separate virtual environment.
"""

from __future__ import annotations

import json
import os
import resource
import sys


def _cpu() -> float:
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _config(hls4ml, model, backend: str, cfg: dict) -> dict:
    """hls4ml's default configuration (``granularity="model"``: one precision for every weight, bias, result,
    accumulator) at ``cfg["precision"]``; then, if given, ``cfg["table_size"]`` (entries of the LSTM layers'
    sigmoid/tanh tables) and ``cfg["types"]`` ({"accum": ..., "table": ...}: those types of the LSTM and Dense
    layers; "table" only exists in the LSTM layers)."""
    conf = hls4ml.utils.config_from_keras_model(model, granularity="model", backend=backend,
                                                default_precision=cfg["precision"])
    types = cfg.get("types") or {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind not in ("LSTM", "Dense"):
            continue
        lc = {}
        if kind == "LSTM" and cfg.get("table_size"):
            lc["TableSize"] = int(cfg["table_size"])
        prec = {k: v for k, v in types.items() if kind == "LSTM" or k != "table"}
        if prec:
            lc["Precision"] = prec
        if lc:
            conf.setdefault("LayerName", {})[layer.name] = lc
    return conf


def run(req: dict) -> dict:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import hls4ml
    import keras
    import numpy as np

    model = keras.models.load_model(req["model"], compile=False)
    x = np.ascontiguousarray(np.load(req["inputs"]), dtype=np.float32)
    answer = {"hls4ml": hls4ml.__version__, "keras": keras.__version__,
              "keras_out": np.asarray(model.predict(x, verbose=0), np.float64).tolist(), "runs": []}
    for k, cfg in enumerate(req["configs"]):
        entry = {key: cfg.get(key) for key in ("label", "precision", "table_size", "types")}
        cpu0 = _cpu()
        try:
            hls_model = hls4ml.converters.convert_from_keras_model(
                model, hls_config=_config(hls4ml, model, req["backend"], cfg), backend=req["backend"],
                io_type=req["io_type"], output_dir=os.path.join(req["workdir"], f"prj{k}"))
            hls_model.compile()
            out = np.asarray(hls_model.predict(x), np.float64).reshape(len(x), -1)
            entry.update(out=out.tolist(), error=None)
        except Exception as err:  # noqa: BLE001 - one precision failing is a row of the table, not the end
            entry.update(out=None, error=f"{type(err).__name__}: {str(err)[:300]}")
        entry["cpu_s"] = round(_cpu() - cpu0, 2)
        answer["runs"].append(entry)
    return answer


def main(argv: list[str]) -> int:
    with open(argv[1]) as fh:
        req = json.load(fh)
    # hls4ml prints its progress and the compiler its warnings on stdout (fd 1, partly from child processes):
    # send fd 1 to stderr while working, keep the real stdout for the JSON answer
    real = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        answer = run(req)
    finally:
        sys.stdout.flush()
        os.dup2(real, 1)
        os.close(real)
        sys.stdout = sys.__stdout__
    json.dump(answer, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
