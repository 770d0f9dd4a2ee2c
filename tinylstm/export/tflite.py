"""``tinylstm export tflite``: float32 + full-integer int8 flatbuffers (and ``tflite.json``), a pure generator.

A window model (``Input((W, F))``, K outputs, a classifier's softmax as TFLite's SOFTMAX) also gets the one-step
streaming flatbuffers ``model_stream_float.tflite`` / ``model_stream_int8.tflite`` (``Input((1, F))``, the LSTM
state kept in TFLM's variable tensors between invokes; ``Reset()`` between independent sequences).

The conversion (bundle → tf_keras → TFLite converter → :func:`tinylstm.tflm.compact`) and the TFLM arena
measurement live in :mod:`tinylstm.tflite_build`; verification in LiteRT / TFLite Micro is the report's
(:mod:`tinylstm.reports.tflite`) and the tests'.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from .. import tflite_build, tflite_worker
from ..modeldir import ModelDir
from ..options import option
from . import register


@dataclass(frozen=True)
class TFLiteOptions:
    data: Path | None = option(None, "the CSV the model was trained on: training rows calibrate int8, test rows "
                                     "verify (default: found beside the model, see ModelDir.data_path)",
                               type=Path, metavar="CSV")
    calib_samples: int = option(0, "calibrate int8 on the first N training rows (the split is shuffled); "
                                   "0 = all")
    calib_margin: float = option(tflite_build.DEFAULT_CALIB_MARGIN,
                                 "add two guard rows at each feature's training min - F*span and max + F*span to "
                                 "the int8 calibration, so inputs a little outside the training range do not "
                                 "saturate (0 = training rows only)")
    calib_clip: float = option(tflite_build.AUTO_CLIP,
                               "clip the int8 calibration values to their [100-P, P] percentiles before the guard "
                               f"rows (one input scale serves every feature); -1 = auto: {tflite_build.WINDOW_CLIP:g} "
                               "for window models, 0 (off) for feature_per_step", type=float, metavar="P")
    keep_slice: bool = option(False, "keep the STRIDED_SLICE before the dense head (output (1, 1) instead of one "
                                     "row per step)")
    no_arena: bool = option(False, "skip the TFLM arena bisection (faster)")


def build(model: ModelDir, opts: TFLiteOptions, arena: bool | None = None) -> tflite_build.Build:
    """The build these options describe (cached per bundle and options)."""
    return tflite_build.build(model, opts.data, opts.calib_samples, opts.calib_margin, opts.keep_slice,
                              arena=not opts.no_arena if arena is None else arena, calib_clip=opts.calib_clip)


class _HeadStart:
    """``tinylstm run``: the conversion worker starts (imports TensorFlow) before training and converts the trained
    bundle beside evaluation and the other exports; :func:`build` then collects its bytes."""

    def __init__(self) -> None:
        self.worker = tflite_worker.Worker()

    def warm(self, model: ModelDir, opts: TFLiteOptions) -> None:
        tflite_build.prefetch(model, opts.data, opts.calib_samples, opts.calib_margin, opts.calib_clip, self.worker)

    def close(self) -> None:
        tflite_build.discard(self.worker)


@register("tflite", "float32 + full-integer int8 TFLite flatbuffers for LiteRT and TFLite Micro",
          options=TFLiteOptions, default_subdir="tflite", head_start=_HeadStart)
def generate(model: ModelDir, opts: TFLiteOptions) -> dict[str, bytes]:
    b = build(model, opts)
    summary = json.dumps(tflite_build.summary(model, b), indent=2, sort_keys=True) + "\n"
    return {**{tflite_build.file_name(v): b.flatbuffer(v) for v in b.variants},
            tflite_build.SUMMARY_FILE: summary.encode()}
