"""The ``tinylstm export TARGET`` registry: one module per target, each reading only the weight bundle.

A target module calls :func:`register` when imported; modules are discovered, so adding a target means adding a
module. Exporters with ``in_run=True`` are also run by ``tinylstm run`` (into ``<out>/<default_subdir>`` with their default options).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..registry import Registry

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


_REGISTRY: Registry[Exporter] = Registry(__name__, __path__, "export target")


def register(name: str, help: str, add_arguments: ArgsFn | None = None, default_subdir: str = "",
             in_run: bool = True) -> Callable[[ExportFn], ExportFn]:
    """Decorator: register ``fn(model_dir, out_dir, args) -> [paths]`` as ``tinylstm export name``."""

    def deco(fn: ExportFn) -> ExportFn:
        _REGISTRY.add(name, Exporter(name, help, fn, add_arguments, default_subdir or name, in_run))
        return fn

    return deco


def all_exporters() -> list[Exporter]:
    return _REGISTRY.all()


def get(name: str) -> Exporter:
    return _REGISTRY.get(name)


def default_args(exporter: Exporter) -> argparse.Namespace:
    """The exporter's options at their defaults (what ``tinylstm run`` uses)."""
    parser = argparse.ArgumentParser(add_help=False)
    if exporter.add_arguments:
        exporter.add_arguments(parser)
    return parser.parse_args([])
