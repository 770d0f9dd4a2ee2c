"""``tinylstm fpga build``: synthesis, place and route (and the bitstream of a board top) of an FPGA export."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .. import atomic, fpgaflow
from ..errors import UserError


def add_parser(sub, common) -> None:
    p = sub.add_parser("fpga", parents=[common], help="FPGA tools on an export of `tinylstm export fpga`",
                       description="FPGA tools on an export directory of `tinylstm export fpga`.")
    fsub = p.add_subparsers(dest="fpga_command", required=True)
    b = fsub.add_parser("build", parents=[common], help="synthesise, place and route an export; write a report",
                        description="Synthesise (yosys), place and route (nextpnr, fixed --seed) an exported design "
                                    "with the YoWASP tools from PyPI and write <out>/report.md and report.json: "
                                    "LUT4 / FF / carry, DSP, block RAM, SPRAM, IO, Fmax of each clock, the ends of "
                                    "the critical path; for the board top also the bitstream. Default top: the "
                                    "manifest's board top on its part, else the AXI4-Lite core tl_axil.")
    b.add_argument("export_dir", type=Path, help="export directory (tinylstm export fpga --out ...)")
    b.add_argument("--part", choices=sorted(fpgaflow.PARTS), default="up5k-sg48", help="target part")
    b.add_argument("--top", default=None, help="top module (tl_icebreaker, tl_axil, tl_core)")
    b.add_argument("--seed", type=int, default=fpgaflow.DEFAULT_SEED, help="nextpnr seed (default %(default)s)")
    b.add_argument("--freq", type=float, default=None, help="nextpnr target MHz (default: the board clock)")
    b.add_argument("--no-place", action="store_true", help="synthesis only (e.g. the AXI core on the UP5K, whose "
                                                            "~120 ports exceed the package's 39 IOs)")
    b.add_argument("--out", type=Path, default=None, help="build directory (default: EXPORT_DIR/build_<part>_<top>)")
    b.set_defaults(func=run_build)


def run_build(args: argparse.Namespace) -> int:
    export_dir = Path(args.export_dir)
    if not (export_dir / "manifest.json").is_file():
        raise UserError(f"{export_dir}: not an FPGA export (no manifest.json)")
    man = json.loads((export_dir / "manifest.json").read_text())
    top = args.top
    board = man.get("board") or {}
    if top is None:
        top = board["top"] if board.get("part") == args.part else "tl_axil"
    out = args.out or export_dir / f"build_{args.part}_{top}"
    if not args.quiet:
        print(f"fpga build: {top} on {fpgaflow.PARTS[args.part].device} (seed {args.seed}) ...", flush=True)
    res = fpgaflow.build(export_dir, args.part, out, top=top, seed=args.seed, freq_mhz=args.freq,
                         place=not args.no_place)
    text = fpgaflow.report_text([res], f"FPGA build: {top} on {res.part.device}")
    atomic.write_text(out / "report.md", text)
    atomic.write_json(out / "report.json", res.to_json())
    if not args.quiet:
        print(text)
        if res.bitstream:
            print(f"bitstream: {res.bitstream}")
        print(f"wrote {out / 'report.md'} and {out / 'report.json'}")
    if not args.no_place and not res.placed:
        print(f"fpga build: place and route failed: {res.error}")
        return 1
    return 0
