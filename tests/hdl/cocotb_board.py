"""cocotb: the iCEBreaker board top tl_icebreaker (PLL bypassed in simulation) driven through its UART pins.

A UART model sends every request bit by bit on RX and decodes TX bit by bit (8N1, the board's bit time, sampled
mid-bit). $TL_CASE names a JSON file: {"clks_per_bit": N, "banner": str, "exchanges": [[request, reply], ...],
"us": [lo, hi]}; a reply containing "{us}" matches any us= value in [lo, hi].
"""

import json
import os
import re

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge

CASE = json.load(open(os.environ["TL_CASE"])) if os.environ.get("TL_CASE") else {}


class Uart:
    def __init__(self, dut, clks_per_bit: int):
        self.dut, self.n = dut, clks_per_bit

    async def send_byte(self, b: int) -> None:
        dut = self.dut
        for bit in [0] + [(b >> i) & 1 for i in range(8)] + [1]:
            dut.RX.value = bit
            await ClockCycles(dut.CLK, self.n)

    async def send_line(self, text: str) -> None:
        for ch in text.encode("ascii") + b"\n":
            await self.send_byte(ch)

    async def recv_byte(self, timeout_bits: int = 2000) -> int:
        dut = self.dut
        if str(dut.TX.value) != "0":  # wait for the start bit's edge (not cycle by cycle: the simulation is faster)
            timeout = ClockCycles(dut.CLK, timeout_bits * self.n)
            if await First(FallingEdge(dut.TX), timeout) is timeout:
                raise AssertionError("no start bit on TX")
        await FallingEdge(dut.CLK)   # the first falling clock edge with TX low, as a receiver sampling each cycle
        await ClockCycles(dut.CLK, self.n // 2)
        assert int(dut.TX.value) == 0, "start bit glitch"
        v = 0
        for i in range(8):
            await ClockCycles(dut.CLK, self.n)
            v |= int(dut.TX.value) << i
        await ClockCycles(dut.CLK, self.n)
        assert int(dut.TX.value) == 1, "framing error (stop bit low)"
        return v

    async def recv_line(self) -> str:
        out = bytearray()
        while True:
            b = await self.recv_byte()
            if b == 0x0A:
                return out.decode("ascii")
            out.append(b)


@cocotb.test()
async def protocol(dut):
    """Boot banner, then every request of the case: the reply equals the bit-exact model's."""
    cocotb.start_soon(Clock(dut.CLK, 10, unit="ns").start())
    dut.RX.value = 1
    uart = Uart(dut, CASE["clks_per_bit"])
    await RisingEdge(dut.CLK)
    assert await uart.recv_line() == CASE["banner"]
    lo, hi = CASE["us"]
    bad = []
    for request, want in CASE["exchanges"]:
        await uart.send_line(request)
        got = [await uart.recv_line()]
        if want.startswith("selfcheck"):
            got.append(await uart.recv_line())
            want_lines = want.split("\n")
            if got != want_lines:
                bad.append((request, got, want_lines))
            continue
        got = got[0]
        if "{us}" in want:
            m = re.fullmatch(re.escape(want).replace(re.escape("{us}"), r"(\d+)"), got)
            if not m or not lo <= int(m.group(1)) <= hi:
                bad.append((request, got, want))
        elif got != want:
            bad.append((request, got, want))
    assert not bad, f"{len(bad)} of {len(CASE['exchanges'])} replies differ: {bad[:4]}"
    dut._log.info("%d exchanges, all replies as the model", len(CASE["exchanges"]))
