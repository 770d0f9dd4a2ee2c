"""cocotb: the AXI4-Lite wrapper tl_axil with the exported network.

$TL_CASE names a JSON file: {"rows": [[input codes...], ...], "expected": [[output codes...], ...],
"modified": {"writes": [[addr, value], ...], "row": [...], "expected": [...]}, "regs": {...}}.
"""

import json
import os

import cocotb
from axil import OKAY, SLVERR, AxiLiteMaster
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge

CASE = json.load(open(os.environ["TL_CASE"])) if os.environ.get("TL_CASE") else {}


def s32(v: int) -> int:
    return v - (1 << 32) if v & (1 << 31) else v


async def setup(dut) -> AxiLiteMaster:
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    bus = AxiLiteMaster(dut, dut.aclk)
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    await ClockCycles(dut.aclk, 1)
    return bus


async def infer(bus: AxiLiteMaster, dut, codes, order: str = "together") -> list[int]:
    r = CASE["regs"]
    for i, c in enumerate(codes):            # the last input write starts the inference
        assert await bus.write(r["INPUT"] + 4 * i, c, order=order) == OKAY
    while int(dut.irq.value) != 1:
        await RisingEdge(dut.irq)
    status, resp = await bus.read(r["STATUS"])
    assert resp == OKAY and status & 0b111 == 0b010, f"STATUS {status:#x}"
    out = []
    for o in range(len(CASE["expected"][0])):
        v, resp = await bus.read(r["OUTPUT"] + 4 * o)
        assert resp == OKAY
        out.append(s32(v))
    if "ARGMAX" in r:                        # the core's argmax register: the first of the largest outputs
        am, resp = await bus.read(r["ARGMAX"])
        assert resp == OKAY and am == out.index(max(out)), f"ARGMAX {am} for outputs {out}"
    return out


@cocotb.test()
async def registers_and_helpers(dut):
    """Every write ordering and back-pressure case; reads return the data of THEIR address (helper check)."""
    bus = await setup(dut)
    r = CASE["regs"]
    v, resp = await bus.read(r["VERSION"])
    assert (v, resp) == (CASE["version"], OKAY)
    v, resp = await bus.read(r["INFO"], rready_delay=3)
    assert (v, resp) == (CASE["info"], OKAY)
    n_in = len(CASE["rows"][0])
    cases = [("together", 0, 0), ("addr_first", 0, 0), ("addr_first", 3, 2), ("data_first", 0, 0),
             ("data_first", 4, 5), ("together", 0, 7)]
    for k, (order, gap, bdelay) in enumerate(cases):
        # distinct values, negative ones included; never write the last input (that would start an inference)
        for i in range(max(1, n_in - 1)):
            if n_in > 1 and i == n_in - 1:
                continue
            val = (-1) ** (i + k) * (1000 * k + 17 * i + 3)
            assert await bus.write(r["INPUT"] + 4 * i, val, order=order, gap=gap, bready_delay=bdelay) == OKAY
            got, resp = await bus.read(r["INPUT"] + 4 * i, rready_delay=(k + i) % 4)
            assert resp == OKAY and s32(got) == val, f"{order}: INPUT[{i}] read {s32(got)}, wrote {val}"
        # back-to-back reads of different registers: each read must return its own register
        a, _ = await bus.read(r["VERSION"])
        b, _ = await bus.read(r["INPUT"], rready_delay=2)
        c, _ = await bus.read(r["VERSION"], rready_delay=1)
        assert a == c == CASE["version"] and b != a
    # errors: read of a write-only / unmapped address, write to a read-only register
    assert (await bus.read(r["CTRL"]))[1] == SLVERR
    assert (await bus.read(0x0FF0))[1] == SLVERR
    assert await bus.write(r["VERSION"], 1, order="addr_first", gap=1) == SLVERR
    assert (await bus.read(r["VERSION"]))[0] == CASE["version"]


@cocotb.test()
async def network_rows(dut):
    """The whole network through the bus on every row: output codes equal the golden model's (0 LSB)."""
    bus = await setup(dut)
    orders = ["together", "addr_first", "data_first"]
    bad = []
    cycles = set()
    for n, (codes, want) in enumerate(zip(CASE["rows"], CASE["expected"])):
        got = await infer(bus, dut, codes, orders[n % 3])
        if got != want:
            bad.append((n, got, want))
        cycles.add((await bus.read(CASE["regs"]["CYCLES"]))[0])
    assert not bad, f"{len(bad)} of {len(CASE['rows'])} rows differ: {bad[:5]}"
    assert len(cycles) == 1, f"cycle count varies: {cycles}"
    dut._log.info("rows %d, 0 LSB, cycles per inference %s", len(CASE["rows"]), cycles)


@cocotb.test()
async def weights_by_address_and_busy(dut):
    """Weights/biases written over the bus change the result exactly as the golden model predicts; inputs and
    weights are refused (SLVERR) while an inference runs."""
    bus = await setup(dut)
    r = CASE["regs"]
    m = CASE["modified"]
    for k, (addr, value) in enumerate(m["writes"]):
        assert await bus.write(addr, value, order=("addr_first", "data_first", "together")[k % 3], gap=k % 2) == OKAY
    # start an inference and poke while busy
    for i, c in enumerate(m["row"]):
        assert await bus.write(r["INPUT"] + 4 * i, c) == OKAY
    status, _ = await bus.read(r["STATUS"])
    assert status & 1, "not busy right after the last input write"
    assert await bus.write(r["INPUT"], 5) == SLVERR
    assert await bus.write(m["writes"][0][0], 0) == SLVERR
    while int(dut.irq.value) != 1:
        await RisingEdge(dut.irq)
    out, _ = await bus.read(r["OUTPUT"])
    assert s32(out) == m["expected"][0], f"modified network: got {s32(out)}, golden {m['expected'][0]}"
    # CTRL start re-runs the same inputs
    assert await bus.write(r["CTRL"], 1) == OKAY
    await FallingEdge(dut.aclk)
    while int(dut.irq.value) != 1:
        await RisingEdge(dut.irq)
    out2, _ = await bus.read(r["OUTPUT"])
    assert out2 == out


@cocotb.test()
async def weight_readback(dut):
    """Every weight word (bias slots included) reads back over the bus as weights.memh holds it; reads past the
    memory and reads while busy answer SLVERR."""
    bus = await setup(dut)
    bad = []
    rewritten = dict(CASE["modified"]["writes"])  # memories keep their contents across the tests of one simulation
    for k, (addr, want) in enumerate(CASE["readback"]):
        want = rewritten.get(addr, want)
        got, resp = await bus.read(addr, rready_delay=k % 3)
        if resp != OKAY or s32(got) != want:
            bad.append((hex(addr), s32(got), want, resp))
    assert not bad, f"{len(bad)} of {len(CASE['readback'])} weight words read back wrong: {bad[:5]}"
    assert (await bus.read(CASE["weights_end"]))[1] == SLVERR
    # a weight write reads back; while busy the read is refused
    addr = CASE["readback"][7][0]
    assert await bus.write(addr, -1234) == OKAY
    assert s32((await bus.read(addr))[0]) == -1234
    r = CASE["regs"]
    for i, c in enumerate(CASE["rows"][0]):
        assert await bus.write(r["INPUT"] + 4 * i, c) == OKAY
    assert (await bus.read(addr))[1] == SLVERR, "weight read while busy must be refused"
    while int(dut.irq.value) != 1:
        await RisingEdge(dut.irq)


@cocotb.test()
async def wstrb_honoured(dut):
    """WSTRB: only the bytes whose strobe is set change (weights and inputs); CTRL without strobe 0 does not start."""
    bus = await setup(dut)
    r = CASE["regs"]
    addr, orig = CASE["readback"][3]
    w = 0xFFFF
    for strb, data in ((0x1, 0x00AB), (0x2, 0xCD00), (0x0, 0x7777), (0xC, 0x12340000)):
        dut.s_axil_wstrb.value = strb
        assert await bus.write(addr, data) == OKAY
        dut.s_axil_wstrb.value = 0xF
        mask = sum(0xFF << (8 * b) for b in range(2) if strb >> b & 1)
        orig = ((orig & 0xFFFF) & ~mask | data & mask) & w
        want = orig - 0x10000 if orig & 0x8000 else orig
        got = s32((await bus.read(addr))[0])
        assert got == want, f"WSTRB {strb:#x}: weight {got}, expected {want}"
    # inputs: write a full value, then only the high byte
    if len(CASE["rows"][0]) > 1:
        assert await bus.write(r["INPUT"], 0x1234) == OKAY
        dut.s_axil_wstrb.value = 0x2
        assert await bus.write(r["INPUT"], 0x5600) == OKAY
        dut.s_axil_wstrb.value = 0xF
        assert s32((await bus.read(r["INPUT"]))[0]) == 0x5634
    # CTRL with strobe 0 clear: no start
    dut.s_axil_wstrb.value = 0xE
    assert await bus.write(r["CTRL"], 1) == OKAY
    dut.s_axil_wstrb.value = 0xF
    await ClockCycles(dut.aclk, 3)
    status, _ = await bus.read(r["STATUS"])
    assert status & 1 == 0, "CTRL write without strobe 0 started an inference"
