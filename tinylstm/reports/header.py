"""Report of ``tinylstm export header``: what went into ``model.h`` and how it was checked.

The accuracy line is :func:`tinylstm.tflite_build.accuracy` of the embedded flatbuffer, the same computation as
the header's own provenance comment and the tflite report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import tflite_build, tflm
from ..export.header import HEADER_FILE, HeaderOptions, build, vector_tolerance
from ..modeldir import ModelDir


def section(model: ModelDir, options: Any, out_dir: Path) -> str:
    opts = options if isinstance(options, HeaderOptions) else HeaderOptions()
    b = build(model, opts)
    fb = b.flatbuffer(opts.variant)
    unit = model.bundle.units.get(model.bundle.target, "")
    acc = tflite_build.accuracy(model, fb, opts.data)
    host = b.arena_min_host[opts.variant]
    return "\n".join([
        "## model.h (TFLite Micro / EloquentTinyML)", "",
        f"`{Path(out_dir) / HEADER_FILE}`: the {opts.variant} flatbuffer ({len(fb):,} B, "
        f"{len(tflm.ops(fb))} op kinds: {', '.join(tflm.ops(fb))}), TF_ARENA_SIZE "
        f"{tflite_build.header_arena(host):,} B (host minimum {host:,} B; {tflite_build.ARENA_RULE}), "
        f"{opts.vectors} self-check vectors within {vector_tolerance(opts.variant, fb, model.bundle):.4g} {unit}.",
        "", f"Accuracy on {acc.test_rows} test rows vs the numpy golden model: {acc.line(unit)}.", ""])
