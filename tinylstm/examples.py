"""Example data sets for the window layout, written as CSV from what the project already installs (no download).

* ``digits``: scikit-learn's 8×8 handwritten digits (1,797 images) as a sequence classification — each image is
  8 CSV rows (one per pixel row) of 8 pixel columns ``p0``..``p7``, with its ``image`` id, the ``row`` index (the
  time column) and the ``label``. ``--layout window --window 8 --group-column image --time-column row
  --task classify`` reads it as E-LSTM's row-by-row MNIST, small.
* ``forecast``: a generated 3-channel series with a known dynamic (``load`` follows a daily cycle, the
  ``temperature`` and its own past; ``price`` is an AR(1) drift) — a forecast of ``load`` one step ahead from a
  window of all three, ``--time-column time`` holds timestamps. Seeded: same seed, same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from . import atomic

NAMES = ("digits", "forecast")
#: The command-line options that read each example as it is meant to be read.
OPTIONS = {
    "digits": "--layout window --window 8 --group-column image --time-column row --task classify "
              "--split random --features p0,p1,p2,p3,p4,p5,p6,p7 --target label",
    "forecast": "--layout window --window 12 --horizon 1 --time-column time --features load,temperature,price "
                "--target load",
}


def digits_csv() -> str:
    from sklearn.datasets import load_digits

    d = load_digits()
    out = io.StringIO()
    out.write("image,row," + ",".join(f"p{j}" for j in range(8)) + ",label\n")
    for i, (img, label) in enumerate(zip(d.images.astype(int), d.target)):
        for r in range(8):
            out.write(f"{i},{r}," + ",".join(str(v) for v in img[r]) + f",{label}\n")
    return out.getvalue()


def forecast_csv(steps: int = 2400, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    t = np.arange(steps)
    temperature = 15 + 8 * np.sin(2 * np.pi * (t - 30) / 96) + rng.normal(0, 0.8, steps)
    price = np.empty(steps)
    price[0] = 50.0
    for k in range(1, steps):
        price[k] = 50 + 0.95 * (price[k - 1] - 50) + rng.normal(0, 1.5)
    load = np.empty(steps)
    load[:2] = 100.0
    for k in range(2, steps):
        daily = 20 * np.sin(2 * np.pi * k / 96)
        load[k] = (0.7 * load[k - 1] + 0.3 * (100 + daily) - 0.6 * (temperature[k - 1] - 15)
                   - 0.2 * (price[k - 2] - 50) + rng.normal(0, 1.0))
    stamps = np.datetime64("2026-01-01T00:00") + t.astype("timedelta64[m]") * 15
    out = io.StringIO()
    out.write("time,load,temperature,price\n")
    for s, a, b, c in zip(stamps, load, temperature, price):
        out.write(f"{str(s).replace('T', ' ')},{a:.3f},{b:.3f},{c:.3f}\n")
    return out.getvalue()


def write(name: str, dest: Path) -> Path:
    """Write example ``name`` to ``dest`` (atomically)."""
    text = {"digits": digits_csv, "forecast": forecast_csv}[name]()
    return atomic.write_text(Path(dest), text)
