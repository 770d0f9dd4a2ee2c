"""Report section of ``tinylstm export c``: which files each variant got and its weight + constant bytes."""

from __future__ import annotations

from pathlib import Path

from .. import intgolden
from ..export.c import VARIANTS, COptions, packed_weight_bytes
from ..modeldir import ModelDir


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
    lines += ["", "Flash/RAM on Cortex-M4 and speed vs TFLM: `tinylstm bench --only cengine`.",
              "ESP32 firmware library: `tinylstm export firmware` (or `tinylstm export c --variant float32 --out "
              "firmware/esp32/lib/tinylstm_c`), then `pio run -e esp32dev-c`."]
    return "\n".join(lines) + "\n"
