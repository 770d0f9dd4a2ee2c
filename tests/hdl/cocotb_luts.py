"""cocotb: the sigmoid/tanh table modules over EVERY input code vs the golden model (expected values in a file
named by $TL_EXPECTED: one line per code x = -2^(W-1) .. 2^(W-1)-1: "sig tanh")."""

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge


@cocotb.test()
async def luts_exhaustive(dut):
    W = int(os.environ["TL_W"])
    expected = [tuple(int(v) for v in line.split()) for line in open(os.environ["TL_EXPECTED"])]
    assert len(expected) == 1 << W
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    mask = (1 << W) - 1
    bad = []
    prev = None
    for n, x in enumerate(range(-(1 << (W - 1)), 1 << (W - 1))):
        dut.x.value = x & mask
        await FallingEdge(dut.clk)   # rising edge in between registers f(x)
        got = (dut.y_sig.value.to_signed(), dut.y_tanh.value.to_signed())
        if got != expected[n]:
            bad.append((x, got, expected[n]))
        prev = x
    assert prev == (1 << (W - 1)) - 1
    assert not bad, f"{len(bad)} mismatches, first: {bad[:5]}"
