"""The ``tinylstm export TARGET`` registry: one module per target, each a pure generator over a model directory.

A target module registers ``generate(model: ModelDir, options) -> {relative path: bytes}`` with a frozen options
dataclass (defaults written once; the CLI derives its flags from it, see :mod:`tinylstm.options`). Generators
read the model and return bytes; they write nothing, run no simulator and fine-tune nothing. Writing is
:func:`write`: every file of one export is staged in a temporary sibling directory and published at once
(:func:`tinylstm.atomic.publish`), so a failure leaves the previous export byte-identical.

Targets with ``in_run=True`` are also exported by ``tinylstm run`` (into ``<out>/<default_subdir>``, default options).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from .. import atomic
from ..modeldir import ModelDir
from ..registry import Registry

Files = dict[str, bytes]
GenerateFn = Callable[[ModelDir, Any], Files]
PrepareFn = Callable[[ModelDir, Any], ModelDir]


@dataclass(frozen=True)
class Target:
    """An export target: ``generate(model, options) -> files``; ``options`` is its options dataclass.

    ``prepare`` (optional) turns the model the user names into the one the generator reads (e.g. the pruned
    sibling for eSELL); it may train or fine-tune, so it runs in the command, never inside ``generate``.
    """

    name: str
    help: str
    generate: GenerateFn
    options: type
    default_subdir: str
    in_run: bool = True
    prepare: PrepareFn | None = None


_REGISTRY: Registry[Target] = Registry(__name__, __path__, "export target")


def register(name: str, help: str, options: type, default_subdir: str = "", in_run: bool = True,
             prepare: PrepareFn | None = None) -> Callable[[GenerateFn], GenerateFn]:
    """Decorator: register ``fn(model, options) -> {path: bytes}`` as ``tinylstm export name``."""

    def deco(fn: GenerateFn) -> GenerateFn:
        _REGISTRY.add(name, Target(name, help, fn, options, default_subdir or name, in_run, prepare))
        return fn

    return deco


def all_targets() -> list[Target]:
    return _REGISTRY.all()


def get(name: str) -> Target:
    return _REGISTRY.get(name)


def files_for(target: Target, model: ModelDir, options: Any = None, prepared: bool = False) -> Files:
    """The target's files for ``model`` (``prepare`` applied first unless ``prepared``); nothing is written."""
    options = target.options() if options is None else options
    if target.prepare is not None and not prepared:
        model = target.prepare(model, options)
    files = target.generate(model, options)
    return {str(k): (v.encode("utf-8") if isinstance(v, str) else bytes(v)) for k, v in files.items()}


def write(target: Target, model: ModelDir | str | Path, out_dir: str | Path, options: Any = None) -> list[Path]:
    """Generate and publish one export into ``out_dir`` (atomically: all files or none)."""
    if not isinstance(model, ModelDir):
        model = ModelDir.load(model)
    files = files_for(target, model, options)
    return atomic.publish_files(Path(out_dir), files)


def to_text(files: Mapping[str, bytes]) -> dict[str, str]:
    return {k: v.decode("utf-8") for k, v in files.items()}
