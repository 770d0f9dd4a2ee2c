"""The ``tinylstm export TARGET`` registry: one module per target, each reading only the weight bundle.

A target module calls :func:`register` when imported; modules are discovered, so adding a target means adding a
module. Exporters with ``in_run=True`` are also run by ``tinylstm run`` (into ``<out>/<default_subdir>`` with their default options).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError

ExportFn = Callable[[Path, Path, argparse.Namespace], list[Path]]
ArgsFn = Callable[[argparse.ArgumentParser], None]



@dataclass(frozen=True)
class Exporter:
    """``export(model_dir, out_dir, args) -> written files``."""

    name: str
    help: str
    export: ExportFn
    add_arguments: ArgsFn | None = None
    default_subdir: str = ""
    in_run: bool = True


#: Discovery runs once even if a module already registered itself through a direct import.
_DISCOVERED: list[bool] = []
_REGISTRY: dict[str, Exporter] = {}


def register(name: str, help: str, add_arguments: ArgsFn | None = None, default_subdir: str = "",
             in_run: bool = True) -> Callable[[ExportFn], ExportFn]:
    """Decorator: register ``fn(model_dir, out_dir, args) -> [paths]`` as ``tinylstm export name``."""

    def deco(fn: ExportFn) -> ExportFn:
        if name in _REGISTRY:
            raise ValueError(f"exporter {name!r} registered twice")
        _REGISTRY[name] = Exporter(name, help, fn, add_arguments, default_subdir or name, in_run)
        return fn

    return deco


def _load() -> None:
    """Import every module of this package once: each registers itself (no central list to edit)."""
    if not _DISCOVERED:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _DISCOVERED.append(True)


def all_exporters() -> list[Exporter]:
    _load()
    return list(_REGISTRY.values())


def get(name: str) -> Exporter:
    _load()
    if name not in _REGISTRY:
        raise UserError(f"unknown export target {name!r}; available: {', '.join(_REGISTRY) or 'none'}")
    return _REGISTRY[name]


def default_args(exporter: Exporter) -> argparse.Namespace:
    """The exporter's options at their defaults (what ``tinylstm run`` uses)."""
    parser = argparse.ArgumentParser(add_help=False)
    if exporter.add_arguments:
        exporter.add_arguments(parser)
    return parser.parse_args([])
