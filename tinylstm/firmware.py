"""The committed generated firmware files: which generator writes each, from which committed model.

``tinylstm export firmware`` regenerates every one of them from ``models/`` (or from ``--model DIR``, to put a
user's own model into the firmware project); ``--check`` writes nothing and lists each file that differs from
what would be written. Engine sources copied into ``firmware/esp32/lib/tinylstm_c`` (PlatformIO wants them
there) are generated copies too, so they are checked like the data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from . import atomic, export
from .errors import UserError
from .modeldir import ModelDir

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_MODEL = Path("models/reference")
REFERENCE_PRUNED = Path("models/reference_pruned_50")


@dataclass(frozen=True)
class Entry:
    """One generated directory of the firmware tree.

    ``files``: which of the generator's files go there (``None``: all). ``owned``: the directory holds only
    generated files (plus ``keep``), so a file there that the generator no longer writes is reported too.
    """

    dest: Path
    target: str
    options: Callable[[], Any]
    pruned: bool = False
    files: frozenset[str] | None = None
    owned: bool = True
    keep: frozenset[str] = field(default_factory=frozenset)


def entries() -> list[Entry]:
    from .export.c import COptions
    from .export.header import HeaderOptions
    from .export.riscv import RiscvOptions

    return [
        Entry(Path("firmware/esp32/include"), "header", lambda: HeaderOptions(variant="firmware"),
              files=frozenset({"model.h"}), owned=False),
        Entry(Path("firmware/esp32/lib/tinylstm_c"), "c", lambda: COptions(variant="float32"),
              keep=frozenset({"README.md"})),
        Entry(Path("firmware/esp32/lib/tinylstm_c_int8"), "c", lambda: COptions(variant="int8"),
              keep=frozenset({"README.md"})),
        Entry(Path("firmware/riscv"), "riscv", lambda: RiscvOptions(strict_inputs=True), pruned=True,
              files=frozenset({"model.h"}), owned=False),
    ]


@dataclass
class Outcome:
    written: list[Path]
    differing: list[str]


def _expected(entry: Entry, model: ModelDir, pruned: ModelDir) -> dict[str, bytes]:
    target = export.get(entry.target)
    files = export.files_for(target, pruned if entry.pruned else model, entry.options())
    if entry.files is not None:
        files = {k: v for k, v in files.items() if k in entry.files}
    return files


def _models(model: Path | None, pruned: Path | None, root: Path) -> tuple[ModelDir, ModelDir]:
    m = ModelDir.load(model or root / REFERENCE_MODEL)
    if pruned is not None:
        p = ModelDir.load(pruned)
    elif model is None:
        p = ModelDir.load(root / REFERENCE_PRUNED)
    else:  # a user's model: its pruned sibling, made by the riscv target's prepare step (fine-tunes if missing)
        p = export.get("riscv").prepare(m, export.get("riscv").options())  # type: ignore[misc]
    if not p.is_pruned:
        raise UserError(f"{p.path}: not a pruned model directory (make one with tinylstm prune)")
    return m, p


def run(check: bool, model: Path | None = None, pruned: Path | None = None, root: Path | None = None) -> Outcome:
    """Regenerate (or, with ``check``, compare) every generated firmware file under ``root`` (the checkout)."""
    root = Path(root or ROOT)
    m, p = _models(model, pruned, root)
    plan = [(entry, _expected(entry, m, p)) for entry in entries()]  # everything generated before anything is written
    differing: list[str] = []
    written: list[Path] = []
    for entry, files in plan:
        dest = root / entry.dest
        for rel, data in sorted(files.items()):
            path = dest / rel
            if not path.is_file() or path.read_bytes() != data:
                differing.append(str(entry.dest / rel))
        stale = []
        if entry.owned and dest.is_dir():
            stale = [f for f in sorted(dest.rglob("*")) if f.is_file()
                     and str(f.relative_to(dest)) not in files and f.name not in entry.keep]
            differing += [str(entry.dest / f.relative_to(dest)) for f in stale]
        if not check:
            written += atomic.publish_files(dest, files)
            for f in stale:
                f.unlink()
    return Outcome(written, differing)


