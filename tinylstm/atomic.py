"""Atomic file output: write to a temporary file beside the target, then rename over it.

A failed or interrupted run therefore never leaves a half-written artifact, and never clobbers the previous
good one.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's directory; rename it onto ``target`` if the block succeeds.

    ``suffix`` lets writers that infer a format from the extension (matplotlib, numpy, Keras) see the right
    one; by default the target's own suffix is used.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix or "".join(target.suffixes) or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp creates 0600; give the file the mode a plain open() would (0666 & ~umask)
            os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_bytes(target: str | os.PathLike[str], data: bytes) -> Path:
    """Atomically write ``data`` to ``target``; return the target path."""
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)
    return Path(target)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Atomically write UTF-8 ``text`` (with ``\\n`` line ends) to ``target``."""
    return write_bytes(target, text.encode("utf-8"))


def write_json(target: str | os.PathLike[str], obj: Any) -> Path:
    """Atomically write ``obj`` as stable, sorted, indented JSON."""
    return write_text(target, json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n")


def _stage(parent: Path, name: str) -> Path:
    """A new staging directory ``.<name>.staging-<pid>-XXXX`` in ``parent``, with the mode ``mkdir`` would give
    it (it becomes the published directory); stale ones (their process is gone, e.g. killed) are removed first."""
    parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{name}.staging-"
    for old in parent.glob(f"{glob_escape(prefix)}*"):
        pid = old.name[len(prefix):].split("-", 1)[0]
        if old.is_dir() and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))
    os.chmod(stage, 0o777 & ~_umask())  # mkdtemp makes it 0700: published, it is an ordinary directory
    return stage


def glob_escape(text: str) -> str:
    return "".join(f"[{ch}]" if ch in "*?[" else ch for ch in text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stage_dir(target: str | os.PathLike[str]) -> Path:
    """A new empty temporary sibling directory of ``target`` (same file system, so it can be renamed onto it)."""
    target = Path(target)
    recover(target)
    return _stage(target.parent, target.name)


def _write_tree(root: Path, files: dict[str, bytes]) -> None:
    for rel, data in sorted(files.items()):
        rel_path = Path(rel)
        if rel_path.is_absolute() or ".." in rel_path.parts:
            raise ValueError(f"{rel}: generated paths must be relative and stay inside the output directory")
        dest = root / rel_path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        os.chmod(dest, 0o666 & ~_umask())


def publish_files(out_dir: str | os.PathLike[str], files: dict[str, bytes]) -> list[Path]:
    """Publish ``files`` ({relative path: bytes}) into ``out_dir``, all of them or none.

    Every file is first written into a temporary sibling directory of ``out_dir`` (same file system), then
    renamed into place; a failure while writing leaves ``out_dir`` untouched. Files of ``out_dir`` that are not
    in ``files`` are left alone (``out_dir`` may be a directory the user shares, such as a firmware project).
    """
    out_dir = Path(out_dir)
    stage = _stage(out_dir.parent, out_dir.name)
    try:
        _write_tree(stage, files)
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for rel in sorted(files):
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, dest)
            written.append(dest)
        return written
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def swap_in(staged: Path, target: Path) -> None:
    """Replace ``target`` (a file, a directory, or nothing) by ``staged`` (a sibling on the same file system).

    A directory cannot be renamed over a non-empty one: the old one is moved aside, the new one renamed in,
    then the old one deleted. Between the two renames ``target`` is absent for an instant; an interrupted swap
    is repaired by :func:`recover` (the aside copy is renamed back).
    """
    staged, target = Path(staged), Path(target)
    if target.is_dir() and not target.is_symlink():
        aside = target.parent / f".{target.name}.old"
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(target, aside)
        os.replace(staged, target)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(staged, target)


def recover(target: Path) -> None:
    """Undo a swap interrupted between its two renames (``target`` missing, ``.target.old`` present)."""
    target = Path(target)
    aside = target.parent / f".{target.name}.old"
    if aside.is_dir() and not target.exists():
        os.replace(aside, target)
    elif aside.is_dir():
        shutil.rmtree(aside, ignore_errors=True)


def publish_dir(out_dir: str | os.PathLike[str], files: dict[str, bytes]) -> list[Path]:
    """Make ``out_dir`` hold exactly ``files`` (a directory the export owns), swapped in at once."""
    out_dir = Path(out_dir)
    recover(out_dir)
    stage = _stage(out_dir.parent, out_dir.name)
    try:
        _write_tree(stage, files)
        swap_in(stage, out_dir)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [out_dir / rel for rel in sorted(files)]
