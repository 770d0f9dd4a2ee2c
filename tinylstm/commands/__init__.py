"""Extra ``tinylstm`` subcommands, one module each (discovered: adding a command means adding a module).

A module defines ``add_parser(sub, common)`` which adds its subparser to ``sub`` (with ``parents=[common]`` for
``--debug``/``--quiet``) and sets ``func=...`` taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil


def add_all(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}").add_parser(sub, common)
