"""C literals: the one place that turns numbers and arrays into C99 source text (as emlearn's ``cgen.py``).

Every generator (C engine data, ``model.h``, the RISC-V data header, self-check vectors, test programs' row tables)
formats through these functions, so the same value always prints the same way and reads back exactly.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np

Formatter = Callable[[object], str]


def c_float(v: float) -> str:
    """A C ``float`` literal that reads back as exactly the float32 nearest ``v`` (shortest round-trip digits)."""
    f = np.float32(v)
    if not np.isfinite(f):
        raise ValueError(f"{v!r} has no C float literal")
    a = abs(float(f))
    if a != 0.0 and (a < 1e-4 or a >= 1e8):
        text = np.format_float_scientific(f, unique=True, trim="0", exp_digits=2)
    else:
        text = np.format_float_positional(f, unique=True, trim="0")
        if "." not in text:
            text += ".0"
        if text.endswith("."):
            text += "0"
    return text + "f"


def c_int(v: object) -> str:
    """A C integer literal for an int8/int16/int32 value (``INT32_MIN`` written so that it stays an ``int32_t``)."""
    v = int(v)  # type: ignore[arg-type]
    if v == -(2 ** 31):
        return "(-2147483647 - 1)"
    if not -(2 ** 31) <= v < 2 ** 31:
        raise ValueError(f"{v} does not fit an int32_t")
    return str(v)


def c_hex(width_bits: int) -> Formatter:
    """Formatter for unsigned words of ``width_bits`` (16, 32 or 64) as hex literals (``ull`` for 64 bits)."""
    digits = width_bits // 4
    suffix = {64: "ull", 32: "u"}.get(width_bits, "")

    def fmt(v: object) -> str:
        return f"0x{int(v):0{digits}x}{suffix}"  # type: ignore[arg-type]

    return fmt


def c_string(text: str) -> str:
    """A C string literal (ASCII; quotes, backslashes and control characters escaped)."""
    out = []
    for ch in str(text):
        if ch in "\\\"":
            out.append("\\" + ch)
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        else:
            for byte in ch.encode("utf-8"):
                out.append(f"\\{byte:03o}")
    return '"' + "".join(out) + '"'


def c_values(values: Iterable[object] | np.ndarray, fmt: Formatter, per_line: int = 8, indent: str = "    ") -> str:
    """The comma-separated body of an initialiser, ``per_line`` values a line (no braces, no trailing newline)."""
    vals = [fmt(v) for v in np.asarray(values).reshape(-1)]
    lines = [", ".join(vals[i:i + per_line]) for i in range(0, len(vals), per_line)]
    return ",\n".join(indent + line for line in lines)


def c_array(ctype: str, name: str, values: Iterable[object] | np.ndarray, fmt: Formatter, per_line: int = 8,
            comment: str = "", qualifiers: str = "static const", dims: Sequence[int] | None = None) -> str:
    """``static const TYPE NAME[N] = { ... };`` (a 1-element zero array stands in for an empty one: C forbids
    empty arrays). ``dims`` gives a multi-dimensional declaration over the same flat values."""
    arr = np.asarray(values)
    flat = arr.reshape(-1)
    if flat.size == 0:
        flat = np.zeros(1, dtype=arr.dtype if arr.dtype != object else np.int64)
    shape = "".join(f"[{d}]" for d in (dims or [flat.size]))
    note = f"/* {comment} */\n" if comment else ""
    if dims and len(dims) > 1:
        inner = int(np.prod(dims[1:]))
        rows = [flat[i:i + inner] for i in range(0, flat.size, inner)]
        body = ",\n".join("    {" + ", ".join(fmt(v) for v in r) + "}" for r in rows)
    else:
        body = c_values(flat, fmt, per_line)
    return f"{note}{qualifiers} {ctype} {name}{shape} = {{\n{body}\n}};\n"


def c_define(name: str, value: object, comment: str = "") -> str:
    """``#define NAME VALUE`` with an optional trailing comment."""
    return f"#define {name} {value}" + (f" /* {comment} */" if comment else "")


def c_comment(lines: Sequence[str]) -> str:
    """A block comment, one `` * `` line per entry (``*/`` inside a line is defused)."""
    body = "".join((f" * {line}".rstrip() + "\n").replace("*/", "* /") for line in lines)
    return "/*\n" + body + " */\n"


# ------------------------------------------------------------------------ HDL literals (memh files, SV packages)
def memh_word(width_bits: int) -> Formatter:
    """Formatter for ``$readmemh`` words: ``width_bits`` two's-complement bits as bare, zero-padded hex digits."""
    digits = (width_bits + 3) // 4
    mask = (1 << width_bits) - 1

    def fmt(v: object) -> str:
        return format(int(v) & mask, f"0{digits}x")  # type: ignore[arg-type]

    return fmt


def sv_hex(width_bits: int) -> Formatter:
    """Formatter for SystemVerilog sized hex literals, e.g. ``16'h8000`` (upper-case digits)."""
    digits = (width_bits + 3) // 4

    def fmt(v: object) -> str:
        return f"{width_bits}'h{int(v):0{digits}X}"  # type: ignore[arg-type]

    return fmt
