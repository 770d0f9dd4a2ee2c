"""The ``tinylstm bench`` registry: each section measures figures and returns a Markdown table.

Tests assert correctness; benchmarks report numbers. A section is a module of this package calling
:func:`register` on import. Report deterministic counts (bytes, instructions, cycles) beside any wall-clock time:
this kind of machine is shared and noisy.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..registry import Registry

SectionFn = Callable[[Path, argparse.Namespace], str]



@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: SectionFn


_REGISTRY: Registry[Section] = Registry(__name__, __path__, "bench section")


def register(name: str, help: str) -> Callable[[SectionFn], SectionFn]:
    def deco(fn: SectionFn) -> SectionFn:
        _REGISTRY.add(name, Section(name, help, fn))
        return fn

    return deco


def all_sections() -> list[Section]:
    """Every section; each module of this package registers its own (discovered, no central list)."""
    return _REGISTRY.all()


def select(only: str | None) -> list[Section]:
    sections = all_sections()
    if not only:
        return sections
    wanted = {_REGISTRY.get(w.strip()).name for w in only.split(",") if w.strip()}
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
