"""Run by the cengine bench under valgrind: N TFLM invokes of a .tflite on saved rows.

``python _cengine_tflm_invoke.py MODEL.tflite ROWS.npy N`` (reset before every row, like the C engine's runs).
"""

import sys

import numpy as np
from tflite_micro import runtime


def main(model_path: str, rows_path: str, runs: int) -> None:
    with open(model_path, "rb") as fh:
        interp = runtime.Interpreter.from_bytes(fh.read(), arena_size=65536)
    rows = np.load(rows_path)
    for k in range(runs):
        interp.reset()
        interp.set_input(rows[k % len(rows)][None], 0)
        interp.invoke()
        interp.get_output(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
