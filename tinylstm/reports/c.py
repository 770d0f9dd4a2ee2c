"""Report section of ``tinylstm export c``: which files each variant got and its weight + constant bytes, and —
when the host C compiler is installed and the model's CSV is found — each written library compiled for the host
(strict C99, -O2) and run on the model's test rows: float32 against the numpy float golden model (max |Δ| within
:data:`~tinylstm.export.c.FLOAT_TOLERANCE`), int8 bit for bit against the integer golden model
(:mod:`tinylstm.intgolden`) and its test MAE against the float model's (within
:data:`~tinylstm.export.c.INT_MAE_TOLERANCE`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .. import intgolden, reference
from ..errors import UserError
from ..export import _cbuild as cb
from ..export.c import FLOAT_TOLERANCE, INT_MAE_TOLERANCE, VARIANTS, COptions, packed_weight_bytes
from ..modeldir import ModelDir


def rows_or_none(model: ModelDir) -> tuple[np.ndarray, np.ndarray] | None:
    """The model's raw test rows (X, y), or None when its CSV is not found."""
    try:
        return model.rows("test")
    except (UserError, OSError, KeyError, ValueError):
        return None


def _mark(ok: bool) -> str:
    return "**yes**" if ok else "**NO**"


def host_check(model: ModelDir, libs: dict[str, Path], X: np.ndarray, y: np.ndarray) -> list[str]:
    """Markdown lines: every library of ``libs`` (variant → directory) built for the host and run on ``X``."""
    bundle = model.bundle
    golden = reference.predict(bundle, X)
    lines = [f"Host check: each library built with `gcc` (strict C99, -O2) and run on the {len(X)} test rows:", "",
             "| variant | compared with | max abs Δ | within tolerance | test error (engine → float golden) |",
             "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="tinylstm-c-report-") as tmp:
        for variant, lib in libs.items():
            got, _ = cb.run_host(cb.build_host(lib, Path(tmp) / f"engine_{variant}"), X)
            got = np.asarray(got, np.float64).reshape(golden.shape)
            if bundle.is_classifier:
                err = (f"accuracy {100 * np.mean(got.argmax(1) == y):.2f} % → "
                       f"{100 * np.mean(golden.argmax(1) == y):.2f} %")
            else:
                mae, mae_f = float(np.mean(np.abs(got - y))), float(np.mean(np.abs(golden - y)))
                err = f"MAE {mae:.4f} → {mae_f:.4f} (Δ {mae - mae_f:+.4f})"
                mae_ok = abs(mae - mae_f) <= INT_MAE_TOLERANCE
            if variant == "float32":
                gap = float(np.max(np.abs(got - golden)))
                lines.append(f"| float32 | numpy float golden model | {gap:.2e} | {_mark(gap <= FLOAT_TOLERANCE)} "
                             f"(≤ {FLOAT_TOLERANCE:g}) | {err} |")
            else:
                ig = intgolden.predict(intgolden.quantize(bundle), X).reshape(golden.shape)
                exact = bool(np.array_equal(cb.float_bits(got), cb.float_bits(ig)))
                lines.append(f"| int8 | integer golden model (`tinylstm.intgolden`) | "
                             f"{float(np.max(np.abs(got - ig))):.2e} | bit for bit: {_mark(exact)}"
                             + ("" if bundle.is_classifier else
                                f"; ΔMAE within ±{INT_MAE_TOLERANCE:g}: {_mark(mae_ok)}") + f" | {err} |")
    return lines


def section(model: ModelDir, options: COptions, out_dir: Path) -> str:
    bundle = model.bundle
    out_dir = Path(out_dir)
    variants = VARIANTS if options.variant == "both" else (options.variant,)
    lines = ["### C engine (`tinylstm export c`)", "",
             "| variant | files | weights + constants (bytes, int8: as laid out for the kernel) |", "|---|---|---|"]
    for variant in variants:
        lib = out_dir / variant if options.variant == "both" else out_dir
        files = sorted(p for p in lib.iterdir() if p.suffix in (".h", ".c")) if lib.is_dir() else []
        nbytes = 4 * bundle.params() if variant == "float32" else packed_weight_bytes(intgolden.quantize(bundle))
        lines.append(f"| {variant} | {', '.join(f'`{p}`' for p in files)} | {nbytes:,} |")
    rows = rows_or_none(model)
    libs = {v: out_dir / v if options.variant == "both" else out_dir for v in variants}
    if rows is not None and cb.tool("gcc") and all((lib / "tinylstm_model.h").is_file() for lib in libs.values()):
        lines += ["", *host_check(model, libs, *rows)]
    else:
        lines += ["", "(`gcc` or the model's CSV not found: the engine was not built or run on the test rows.)"]
    lines += ["", "Flash/RAM on Cortex-M4 and speed vs TFLM: `tinylstm bench --only cengine`.",
              "ESP32 firmware library: `tinylstm export firmware` (or `tinylstm export c --variant float32 --out "
              "firmware/esp32/lib/tinylstm_c`), then `pio run -e esp32dev-c`."]
    return "\n".join(lines) + "\n"
