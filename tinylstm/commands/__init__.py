"""Extra ``tinylstm`` subcommands, one module each (discovered: adding a command means adding a module).

A module defines ``add_parser(sub, common)`` which adds its subparser to ``sub`` (with ``parents=[common]`` for
``--debug``/``--quiet``) and sets ``func=...`` taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse

from ..registry import import_modules


def add_all(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    for module in import_modules(__name__, __path__):
        module.add_parser(sub, common)
