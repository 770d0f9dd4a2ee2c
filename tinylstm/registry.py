"""Plug-in registries discovered from a package's modules (``--backend``, ``export TARGET``, ``bench`` sections).

Every non-underscore module of the package is imported once, and registers its entries on import: adding a
target means adding a module, never editing a central list.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Generic, Iterable, TypeVar

from .errors import UserError

T = TypeVar("T")


def import_modules(package: str, path: Iterable[str]) -> list[object]:
    """Import every non-underscore module of ``package`` (whose ``__path__`` is ``path``), sorted by name."""
    return [importlib.import_module(f"{package}.{info.name}")
            for info in sorted(pkgutil.iter_modules(path), key=lambda m: m.name) if not info.name.startswith("_")]


class Registry(Generic[T]):
    """Named entries of one kind, filled by the modules of ``package`` on first use."""

    def __init__(self, package: str, path: Iterable[str], kind: str) -> None:
        self._package, self._path, self._kind = package, list(path), kind
        self._entries: dict[str, T] = {}
        self._discovered = False  # discovery runs once even if a module registered itself by a direct import

    def add(self, name: str, entry: T) -> None:
        if name in self._entries:
            raise ValueError(f"{self._kind} {name!r} registered twice")
        self._entries[name] = entry

    def all(self) -> list[T]:
        if not self._discovered:
            self._discovered = True
            import_modules(self._package, self._path)
        return list(self._entries.values())

    def names(self) -> list[str]:
        self.all()
        return list(self._entries)

    def get(self, name: str) -> T:
        self.all()
        if name not in self._entries:
            raise UserError(f"unknown {self._kind} {name!r}; available: {', '.join(self._entries) or 'none'}")
        return self._entries[name]
