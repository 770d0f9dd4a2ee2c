"""Typed options: a frozen dataclass per target/command, with its command-line flags derived from its fields.

Defaults are written once, in the dataclass. The library takes the dataclass; only the CLI sees argparse::

    @dataclass(frozen=True)
    class COptions:
        variant: str = option("both", "float32, int8 or both", choices=("float32", "int8", "both"))

    add_arguments(parser, COptions)       # --variant {float32,int8,both}
    opts = from_namespace(COptions, args)  # COptions(variant=...)
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Sequence, TypeVar

T = TypeVar("T")


def option(default: Any, help: str, *, choices: Sequence[Any] | None = None, flag: str | None = None,
           type: Any = None, nargs: str | int | None = None, metavar: str | None = None, cli: bool = True) -> Any:
    """A dataclass field with its command-line description (``cli=False``: library-only, no flag)."""
    meta = {"help": help, "choices": choices, "flag": flag, "type": type, "nargs": nargs, "metavar": metavar,
            "cli": cli}
    if isinstance(default, (list, dict, set)):
        return dataclasses.field(default_factory=lambda: type_copy(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def type_copy(value: Any) -> Any:
    return value.copy()


def flag_of(f: dataclasses.Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser | Any, cls: type) -> None:
    """Add one flag per CLI field of the options dataclass ``cls`` (defaults come from the dataclass)."""
    for f in dataclasses.fields(cls):
        meta = f.metadata
        if not meta.get("cli", True):
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        help_text = str(meta.get("help", "")).replace("%", "%%")
        kwargs: dict[str, Any] = {"dest": f.name, "default": default}
        if isinstance(default, bool) and meta.get("type") is None:
            kwargs["action"] = "store_false" if default else "store_true"
        else:
            kwargs["help"] = help_text + (" (default: %(default)s)" if default is not None else "")
            for key in ("choices", "type", "nargs", "metavar"):
                if meta.get(key) is not None:
                    kwargs[key] = meta[key]
            if "type" not in kwargs and default is not None and not isinstance(default, (list, tuple, str)):
                kwargs["type"] = builtin_type(default)
        kwargs.setdefault("help", help_text)
        parser.add_argument(flag_of(f), **kwargs)


def builtin_type(default: Any) -> Any:
    return type(default)


def from_namespace(cls: type[T], args: argparse.Namespace, **overrides: Any) -> T:
    """The options dataclass from parsed arguments (fields without a flag keep their defaults)."""
    given = vars(args)
    values = {f.name: given[f.name] for f in dataclasses.fields(cls)  # type: ignore[arg-type]
              if f.metadata.get("cli", True) and f.name in given}
    values.update(overrides)
    return cls(**values)
