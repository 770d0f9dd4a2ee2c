"""Code-structure rules of the package, checked on its source (issue: one source of truth per target).

* no import cycle between tinylstm modules (module-level and function-local imports both count);
* no Python string constant holds more than 10 lines of C, C++ or SystemVerilog (code is a file);
* the export targets take typed options, never an ``argparse.Namespace``;
* ruff (pyflakes, import order, line length 120) is clean.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PKG = ROOT / "tinylstm"


def _modules() -> dict[str, Path]:
    mods = {}
    for f in PKG.rglob("*.py"):
        parts = f.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = f
    return mods


def import_graph() -> dict[str, set[str]]:
    """Edges module → tinylstm modules it imports anywhere in its source."""
    mods = _modules()
    graph: dict[str, set[str]] = {}
    for name, f in mods.items():
        base = name.split(".") if f.name == "__init__.py" else name.split(".")[:-1]
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    stem = ".".join(base[: len(base) - (node.level - 1)] + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in mods else stem for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            deps |= {t for t in targets if t in mods and t != name}
        graph[name] = deps
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(10000)

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles():
    assert cycles(import_graph()) == []


_CODE = re.compile(r"(#include|#define|#ifdef|\bmodule\b.*;|\bendmodule\b|\bstatic\b.*\(|\bint\s+main\s*\(|"
                   r"\bfor\s*\(.*;.*;|\breturn\b.*;\s*$|^\s*[{}]\s*$)", re.M)


def code_strings() -> list[tuple[str, int, int]]:
    """(file, line, lines) of every string constant with more than 10 lines that looks like C/C++/SV."""
    found = []
    for f in PKG.rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                n = node.value.count("\n")
                if n > 10 and len(_CODE.findall(node.value)) >= 3:
                    found.append((str(f.relative_to(ROOT)), node.lineno, n))
    return found


def test_code_detector_sees_c_in_a_string():
    src = "x = '''\n" + "#include <a.h>\nstatic int f(void)\n{\n    return 1;\n}\n" * 3 + "'''\n"
    tree = ast.parse(src)
    node = next(n for n in ast.walk(tree) if isinstance(n, ast.Constant))
    assert len(_CODE.findall(node.value)) >= 3 and node.value.count("\n") > 10


def test_no_code_in_python_strings():
    assert code_strings() == []


def test_export_targets_take_typed_options():
    for f in (PKG / "export").glob("*.py"):
        text = f.read_text()
        assert "getattr(args" not in text, f
        assert "argparse" not in text, f


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    proc = subprocess.run([ruff, "check", "--no-cache", "tinylstm", "tests"], cwd=ROOT, capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-1000:]
