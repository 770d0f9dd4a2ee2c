"""A small AXI4-Lite master for cocotb 2.x testbenches, with protocol checks.

Signals are driven and sampled on the FALLING clock edge: the slave changes its outputs on rising edges, so a
falling-edge sample is exactly what the next rising edge will see. A transfer on a channel happens at the rising
edge after a falling edge where VALID and READY are both high; the helper then drops VALID at the next falling
edge. While the master holds READY low (back-pressure), the helper asserts that the slave keeps VALID high and its
payload stable (AXI rule: once VALID is asserted it stays until the handshake).
"""

from __future__ import annotations

import cocotb
from cocotb.triggers import FallingEdge

OKAY, SLVERR = 0, 2


class AxiLiteMaster:
    def __init__(self, dut, clk, prefix: str = "s_axil_"):
        self.dut, self.clk, self.p = dut, clk, prefix
        for name in ("awvalid", "wvalid", "bready", "arvalid", "rready"):
            self._sig(name).value = 0
        self._sig("awaddr").value = 0
        self._sig("araddr").value = 0
        self._sig("wdata").value = 0
        self._sig("wstrb").value = 0xF
        self._sig("awprot").value = 0
        self._sig("arprot").value = 0

    def _sig(self, name):
        return getattr(self.dut, self.p + name)

    async def _handshake(self, valid: str, ready: str) -> None:
        """VALID was raised at this falling edge; return at the falling edge after the transfer (VALID low)."""
        while True:
            fired = int(self._sig(ready).value) == 1
            await FallingEdge(self.clk)
            if fired:
                self._sig(valid).value = 0
                return

    async def _send_aw(self, addr: int) -> None:
        self._sig("awaddr").value = addr
        self._sig("awvalid").value = 1
        await self._handshake("awvalid", "awready")

    async def _send_w(self, data: int) -> None:
        self._sig("wdata").value = data & 0xFFFFFFFF
        self._sig("wvalid").value = 1
        await self._handshake("wvalid", "wready")

    async def _wait_cycles(self, n: int) -> None:
        for _ in range(n):
            await FallingEdge(self.clk)

    async def _response(self, valid: str, payload: list[str], ready: str, delay: int) -> list[int]:
        """Wait for VALID, hold READY low for ``delay`` cycles (checking stability), then accept."""
        while int(self._sig(valid).value) != 1:
            await FallingEdge(self.clk)
        seen = [int(self._sig(p).value) for p in payload]
        for _ in range(delay):
            await FallingEdge(self.clk)
            assert int(self._sig(valid).value) == 1, f"{valid} dropped before the handshake"
            now = [int(self._sig(p).value) for p in payload]
            assert now == seen, f"{payload} changed while {valid} was waiting: {seen} -> {now}"
        self._sig(ready).value = 1
        seen = [int(self._sig(p).value) for p in payload]
        await FallingEdge(self.clk)       # the transfer happened at the rising edge in between
        self._sig(ready).value = 0
        return seen

    async def write(self, addr: int, data: int, order: str = "together", gap: int = 0, bready_delay: int = 0) -> int:
        """One write; ``order``: together | addr_first | data_first (``gap`` idle cycles in between). Returns BRESP."""
        await FallingEdge(self.clk)
        if order == "together":
            aw = cocotb.start_soon(self._send_aw(addr))
            w = cocotb.start_soon(self._send_w(data))
            await aw
            await w
        elif order == "addr_first":
            await self._send_aw(addr)
            await self._wait_cycles(gap)
            await self._send_w(data)
        elif order == "data_first":
            await self._send_w(data)
            await self._wait_cycles(gap)
            await self._send_aw(addr)
        else:
            raise ValueError(order)
        (resp,) = await self._response("bvalid", ["bresp"], "bready", bready_delay)
        return resp

    async def read(self, addr: int, rready_delay: int = 0) -> tuple[int, int]:
        """One read; returns (RDATA, RRESP)."""
        await FallingEdge(self.clk)
        self._sig("araddr").value = addr
        self._sig("arvalid").value = 1
        await self._handshake("arvalid", "arready")
        data, resp = await self._response("rvalid", ["rdata", "rresp"], "rready", rready_delay)
        return data, resp
