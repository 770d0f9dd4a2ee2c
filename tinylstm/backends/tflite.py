"""Backends running the exported flatbuffers: ``tflite-float``/``tflite-int8`` in LiteRT (``ai-edge-litert``) and
``tflm-float``/``tflm-int8`` in TensorFlow Lite Micro's own interpreter (PyPI ``tflite-micro``, the real kernels).

They read ``<model>/../tflite/model_{float,int8}.tflite`` (what ``tinylstm run`` writes), or ``--tflite-dir DIR``
(``tinylstm export tflite --out DIR``), and refuse flatbuffers exported from another weight bundle.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import tflite_build, tflm
from ..bundle import Bundle
from ..errors import UserError
from . import register


def _args(p) -> None:
    p.add_argument("--tflite-dir", type=Path, default=None,
                   help="directory with model_float.tflite / model_int8.tflite and tflite.json "
                        "(default: MODEL/../tflite)")


def load(model_dir: Path, variant: str, tflite_dir: Path | None = None) -> tuple[bytes, dict]:
    """The flatbuffer of ``variant`` and its summary; checks it was exported from this model's bundle."""
    folder = Path(tflite_dir) if tflite_dir else Path(model_dir).parent / "tflite"
    path = folder / tflite_build.file_name(variant)
    if not path.exists():
        raise UserError(f"{path}: no flatbuffer; run `tinylstm export tflite --model {model_dir} --out {folder}`")
    summary_path = folder / tflite_build.SUMMARY_FILE
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if summary.get("bundle_sha256") != tflite_build.bundle_digest(model_dir):
        raise UserError(f"{path}: exported from another weight bundle than {model_dir}; export it again")
    return path.read_bytes(), summary


def _predict(model_dir, X_raw, args, variant: str, runtime: str):
    buf, summary = load(model_dir, variant, getattr(args, "tflite_dir", None))
    arena = summary.get("variants", {}).get(variant, {}).get("tflm_arena_header", 1 << 16)
    return tflm.predict(buf, Bundle.load(model_dir), X_raw, runtime, arena_size=arena)


@register("tflite-float", "float32 flatbuffer in LiteRT (ai-edge-litert)", add_arguments=_args)
def predict_tflite_float(model_dir, X_raw, args):
    return _predict(model_dir, X_raw, args, "float", "litert")


@register("tflite-int8", "full-integer int8 flatbuffer in LiteRT (ai-edge-litert)")
def predict_tflite_int8(model_dir, X_raw, args):
    return _predict(model_dir, X_raw, args, "int8", "litert")


@register("tflm-float", "float32 flatbuffer in TensorFlow Lite Micro's interpreter (tflite-micro)")
def predict_tflm_float(model_dir, X_raw, args):
    return _predict(model_dir, X_raw, args, "float", "tflm")


@register("tflm-int8", "int8 flatbuffer in TensorFlow Lite Micro's interpreter, with the header's arena size")
def predict_tflm_int8(model_dir, X_raw, args):
    return _predict(model_dir, X_raw, args, "int8", "tflm")
