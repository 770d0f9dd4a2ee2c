"""The ``tinylstm bench`` registry: each section measures figures and returns a Markdown table.

Tests assert correctness; benchmarks report numbers. A section is a module of this package calling
:func:`register` on import. Report deterministic counts (bytes, instructions, cycles) beside any wall-clock time: this kind of machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import UserError

SectionFn = Callable[[Path, argparse.Namespace], str]



@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: SectionFn


#: Discovery runs once even if a module already registered itself through a direct import.
_DISCOVERED: list[bool] = []
_REGISTRY: dict[str, Section] = {}


def register(name: str, help: str) -> Callable[[SectionFn], SectionFn]:
    def deco(fn: SectionFn) -> SectionFn:
        _REGISTRY[name] = Section(name, help, fn)
        return fn

    return deco


def all_sections() -> list[Section]:
    """Every section; each module of this package registers its own (discovered, no central list)."""
    if not _DISCOVERED:
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
            if not info.name.startswith("_"):
                importlib.import_module(f"{__name__}.{info.name}")
        _DISCOVERED.append(True)
    return list(_REGISTRY.values())


def select(only: str | None) -> list[Section]:
    sections = all_sections()
    if not only:
        return sections
    wanted = [w.strip() for w in only.split(",") if w.strip()]
    unknown = [w for w in wanted if w not in _REGISTRY]
    if unknown:
        raise UserError(f"unknown bench section(s) {unknown}; available: {', '.join(_REGISTRY)}")
    return [s for s in sections if s.name in wanted]


def run_cli(args: argparse.Namespace) -> Path:
    """Run the selected sections and write one Markdown file of tables (atomic)."""
    from .. import atomic

    parts = ["# tinylstm benchmarks", "",
             "Deterministic counts (bytes, instructions, cycles) are exact; wall-clock times come from a shared "
             "2-core VM and swing between runs, so compare ratios measured in the same run.", ""]
    for section in select(args.only):
        if not args.quiet:
            print(f"bench: {section.name} ...", flush=True)
        parts += [f"## {section.name}", "", section.run(Path(args.model), args).rstrip(), ""]
    text = "\n".join(parts)
    atomic.write_text(args.out, text)
    if not args.quiet:
        print(text)
    return Path(args.out)
