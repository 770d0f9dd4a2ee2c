"""cocotb: the AXI4-Lite master helper (axil.py) against a deliberately slow slave (tb_slow_slave.sv) whose
RDATA is poison (0xDEADBEEF) outside RVALID: every ordering and back-pressure case reads back what it wrote."""

import cocotb
from axil import OKAY, AxiLiteMaster
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles


@cocotb.test()
async def helper_against_slow_slave(dut):
    cocotb.start_soon(Clock(dut.aclk, 10, unit="ns").start())
    bus = AxiLiteMaster(dut, dut.aclk)
    dut.aresetn.value = 0
    await ClockCycles(dut.aclk, 3)
    dut.aresetn.value = 1
    # reset contents first (word i = i * 0x01010101)
    for i in range(16):
        data, resp = await bus.read(4 * i, rready_delay=i % 3)
        assert (data, resp) == (i * 0x01010101, OKAY), (i, hex(data))
    orders = [("together", 0), ("addr_first", 0), ("addr_first", 4), ("data_first", 0), ("data_first", 3)]
    for k in range(16):
        order, gap = orders[k % len(orders)]
        value = (0xA5000000 | (k << 8) | (0xFF - k))
        assert await bus.write(4 * k, value, order=order, gap=gap, bready_delay=k % 4) == OKAY
    for k in range(16):
        data, _ = await bus.read(4 * ((k * 7) % 16), rready_delay=(k + 1) % 5)
        j = (k * 7) % 16
        assert data == (0xA5000000 | (j << 8) | (0xFF - j)), (j, hex(data))
