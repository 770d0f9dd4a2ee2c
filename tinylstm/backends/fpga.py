"""FPGA backends: ``fixed`` (the integer golden model, :mod:`tinylstm.fixedpoint`) and ``rtl`` (the exported
SystemVerilog core simulated in Icarus Verilog, one inference per row, all rows in one simulation)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from .. import hdlsim
from ..export.fpga import DEFAULT_LANES, FpgaOptions, design_for
from ..fixedpoint import DEFAULT_FORMAT, predict
from ..modeldir import ModelDir
from . import register


def _fixed_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fixed-format", default=None, help="fixed-point format Qm.n for backends fixed and rtl "
                   "(default: the FPGA export default)")


def _rtl_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--rtl-lanes", type=int, default=None, help="MAC lanes of the simulated core (default: the "
                   "FPGA export default)")


def _fmt(args) -> str:
    return getattr(args, "fixed_format", None) or DEFAULT_FORMAT


@register("fixed", "fixed-point golden model (integer numpy, bit-exact with the FPGA core)", add_arguments=_fixed_args)
def predict_fixed(model_dir, X_raw, args):
    return predict(ModelDir.load(model_dir).bundle, X_raw, _fmt(args))


@register("rtl", "the FPGA core exported and simulated in Icarus Verilog (slow, exact)", add_arguments=_rtl_args)
def predict_rtl(model_dir, X_raw, args):
    model = ModelDir.load(model_dir)
    bundle = model.bundle
    design = design_for(model, FpgaOptions(format=_fmt(args), lanes=getattr(args, "rtl_lanes", None) or DEFAULT_LANES))
    with tempfile.TemporaryDirectory(prefix="tinylstm-fpga-") as tmp:
        hdlsim.write_design(design, bundle, Path(tmp))
        yq, _, _ = hdlsim.simulate_batch(Path(tmp), design.net.quantize_inputs(bundle, X_raw), design.n_out)
    return design.net.outputs_to_target(bundle, yq)
