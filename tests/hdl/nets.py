"""Helpers for the FPGA tests: random networks (saturation corners included) and the cocotb runner."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from tinylstm.bundle import Bundle, DenseLayer, LstmLayer
from tinylstm.data import Scaler

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def random_bundle(seed: int, lstm_units=(5, 3), dense=((4, "relu"), (2, "linear")), inputs: int = 2,
                  steps: int = 4, scale: float = 3.0, dense_scale: float = 10.0) -> Bundle:
    """A random LSTM/dense bundle; ``scale`` large enough that gates, cell state and outputs saturate."""
    rng = np.random.default_rng(seed)
    layers, n_in = [], inputs
    for k, H in enumerate(lstm_units):
        layers.append(LstmLayer(rng.normal(0, scale, (n_in, 4 * H)).astype(np.float32),
                                rng.normal(0, scale, (H, 4 * H)).astype(np.float32),
                                rng.normal(0, scale, 4 * H).astype(np.float32), k < len(lstm_units) - 1))
        n_in = H
    dl = []
    for units, act in dense:
        dl.append(DenseLayer(rng.normal(0, dense_scale, (n_in, units)).astype(np.float32),
                             rng.normal(0, dense_scale, units).astype(np.float32), act))
        n_in = units
    scaler = Scaler(np.zeros(inputs), np.ones(inputs), 0.0, 1.0)
    return Bundle(layers, dl, scaler, [f"x{i}" for i in range(inputs)], "y", layout="window",
                  meta={"window": steps, "seed": seed, "data_sha256": "random"})


def random_codes(fmt, n: int, steps: int, inputs: int, seed: int) -> np.ndarray:
    """Random input codes (n, steps, inputs) with the extreme codes qmin/qmax/0/±1 mixed in."""
    rng = np.random.default_rng(seed)
    x = rng.integers(fmt.qmin, fmt.qmax + 1, size=(n, steps, inputs))
    corners = np.array([fmt.qmin, fmt.qmax, 0, 1, -1, fmt.one, -fmt.one])
    mask = rng.random(x.shape) < 0.3
    x[mask] = rng.choice(corners, size=int(mask.sum()))
    x[0], x[1] = fmt.qmax, fmt.qmin
    return x


def cocotb_run(sources: list[Path], toplevel: str, module: str, test_dir: Path, env: dict[str, str]) -> None:
    """Build with Icarus (-g2012, timescale) and run the cocotb module; raise if any cocotb test failed."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    runner = get_runner("icarus")
    build = Path(test_dir) / f"build_{toplevel}"
    runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel, build_dir=build,
                 timescale=("1ns", "1ps"), always=True, log_file=build / "build.log")
    # the runner hands this process's sys.path to the simulator's Python as PYTHONPATH
    added = [p for p in (str(HERE), str(ROOT)) if p not in sys.path]
    sys.path[:0] = added
    try:
        results = runner.test(test_module=module, hdl_toplevel=toplevel, build_dir=build, test_dir=test_dir,
                              extra_env=env, results_xml=str(Path(test_dir) / f"{module}.xml"),
                              log_file=Path(test_dir) / f"{module}.log")
    finally:
        for p in added:
            sys.path.remove(p)
    n, failed = get_results(Path(results))
    assert n > 0 and failed == 0, f"cocotb {module}: {failed} of {n} tests failed (log {test_dir}/{module}.log)"
