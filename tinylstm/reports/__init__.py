"""Report text of every export target, in one package: ``tinylstm.reports.<target>`` defines
``section(model: ModelDir, options, out_dir: Path) -> str`` (Markdown).

A section may verify and measure (run LiteRT/TFLM, compilers, simulators): that is why it lives here and not in
the generator. ``tinylstm export TARGET`` writes it as ``<out>/<target>.report.md`` beside the generated files;
``tinylstm run`` puts every section into ``report.md``.
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any


def section(target: str, model: Any, options: Any, out_dir: Path) -> str | None:
    """The Markdown section of ``target`` for the export in ``out_dir``; ``None`` when the target has none."""
    name = f"{__name__}.{target}"
    if importlib.util.find_spec(name) is None:
        return None
    return importlib.import_module(name).section(model, options, Path(out_dir))
