"""Report of ``tinylstm export header``: what went into ``model.h`` and how it was checked.

The accuracy line is the header's own (:func:`tinylstm.export.header.accuracy`): for ``--variant firmware`` the
tflite report's computation (LiteRT and TFLM, state reset per sample), for ``--variant eloquent`` TFLM run the
way EloquentTinyML runs it (one interpreter, no ``Reset()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import tflite_build, tflm
from ..export.header import HEADER_FILE, HeaderOptions, accuracy, embedded, keras_tolerance, vector_tolerance
from ..modeldir import ModelDir


def section(model: ModelDir, options: Any, out_dir: Path) -> str:
    opts = options if isinstance(options, HeaderOptions) else HeaderOptions()
    e = embedded(model, opts)
    fb = e.fb
    unit = model.bundle.units.get(model.bundle.target, "")
    acc = accuracy(model, opts, e)
    io = tflm.io_quant(fb)
    lines = [
        "## model.h (TFLite Micro / EloquentTinyML)", "",
        f"`{Path(out_dir) / HEADER_FILE}`: variant **{opts.variant}** ({opts.precision} inside, "
        f"{io.input_type.lower()} input, {io.output_type.lower()} output of {int(sum(1 for _ in io.output_shape))}-D "
        f"shape {tuple(io.output_shape)}), {len(fb):,} B, {len(tflm.ops(fb))} op kinds "
        f"({', '.join(f'{k}×{v}' for k, v in tflm.op_counts(fb).items())}), TF_ARENA_SIZE "
        f"{tflite_build.header_arena(e.arena_min):,} B (host minimum {e.arena_min:,} B; {tflite_build.ARENA_RULE}), "
        f"{opts.vectors} self-check vectors within {vector_tolerance(opts.precision, e.inner, model.bundle):.4g} "
        f"{unit}.", "",
        f"Accuracy on {acc.test_rows} test rows vs the numpy golden model"
        + (" (TFLM, one interpreter, no Reset(), as EloquentTinyML runs it)" if opts.variant == "eloquent" else "")
        + f": {acc.line(unit)}.",
    ]
    if e.stream_fb:
        gap = tflite_build.stream_gap(model, e.fb, e.stream_fb, opts.data)
        lines += ["", f"Streaming: `tinylstm_stream_tflite[]` ({len(e.stream_fb):,} B, input (1, 1, "
                      f"{model.bundle.values_per_step}), TINYLSTM_STREAM_ARENA_SIZE "
                      f"{tflite_build.header_arena(e.stream_arena_min):,} B, host minimum {e.stream_arena_min:,} B); "
                      "after every step of every test window vs tfModel's output row: "
                  + ", ".join(f"{tflite_build.RUNTIME_NAMES[r]} {'bit-exact' if g == 0 else f'max |diff| {g:.3g}'}"
                              for r, g in gap.items()) + "."]
    if opts.variant == "eloquent":
        lines += ["", f"Stated tolerance against Keras: {keras_tolerance(opts.precision, e.inner, model.bundle):.4g} "
                      f"{unit}. The project's firmware uses `--variant firmware` (int8 I/O, explicit Reset())."]
    return "\n".join(lines + [""])
