"""Simulation backend: a cocotb master on the engine's register bus pins (``bus__addr``, ``bus__w_en``, ...), with
bursts through the adapter of the simulation top (:mod:`tb.sim_top`).

It lives outside ``tb/host``, which holds only what a board host needs: nothing there imports cocotb.
"""

from pathlib import Path

import numpy as np
from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer
from cocotb.utils import get_sim_time

from .host.backend import Backend
from .sim_top import BURST_IN, BURST_OUT, BURST_PORTS

__all__ = ["BusPins", "BurstPins", "CocotbBusBackend", "period_ps"]

_WORD_MASK = 0xFFFF_FFFF


class BusPins:
    """The bus signals of a DUT, found by prefix with Amaranth's ``__`` separator."""

    NAMES = ("addr", "w_data", "w_en", "r_en", "r_data", "ack")

    def __init__(self, dut, prefix="bus"):
        for name in self.NAMES:
            setattr(self, name, getattr(dut, f"{prefix}__{name}"))


class BurstPins:
    """The burst ports of the simulation top (:data:`tb.sim_top.BURST_PORTS`), as ``write``, ``read``, ``count``,
    ``done``."""

    def __init__(self, dut):
        for port in BURST_PORTS:
            setattr(self, port.partition("__")[2], getattr(dut, port))

    @staticmethod
    def present(dut):
        return all(hasattr(dut, port) for port in BURST_PORTS)


def period_ps(clock_hz):
    """Clock period in whole picoseconds, even, so that the clock's two halves are whole too."""
    return 2 * round(5e11 / clock_hz)


class CocotbBusBackend(Backend):
    """Bus master for cocotb: writes take one cycle against slaves that acknowledge at once, reads two.

    :meth:`read_many`, :meth:`write_many` and :meth:`write_burst` go through the burst adapter when there is one and
    no ``gaps`` are asked for: one file and three triggers per burst of up to ``burst_depth`` words instead of three
    triggers per word, with the same bus timing (see :mod:`tb.sim_top`). Otherwise they go word by word.

    Parameters
    ----------
    dut : cocotb handle of the simulation top (or of a bare engine, without bursts)
    clk : clock handle (already driven by a ``Clock`` of the same ``clock_hz``)
    prefix : str
        Bus port prefix.
    irq : handle or None
        The engine's ``irq`` pin, so that :meth:`wait_irq` can wait for it at full simulation speed.
    clock_hz : int or float
        Clock frequency, to turn cycles into simulated time (a ``ClockCycles`` trigger would wake Python on every
        cycle) and simulated time into :meth:`now_cycles`.
    gaps : iterable of int or None
        Idle cycles to leave after each transaction, e.g. ``itertools.cycle([0, 0, 0, 2])``, so that tests also
        run with gaps between bus accesses. None: back to back.
    burst_depth : int or None
        Words the adapter buffers (:func:`tb.sim_top.burst_depth`); None: no bursts. Where ``dut`` has burst ports
        they are held low in any case: inputs nobody drives start random.
    """

    def __init__(self, dut, clk, prefix="bus", irq=None, clock_hz=100_000_000, gaps=None, burst_depth=None):
        self.bus = BusPins(dut, prefix)
        self.burst = BurstPins(dut) if BurstPins.present(dut) else None
        self.burst_depth = burst_depth if self.burst is not None else None
        self.clk = clk
        self.irq = irq
        self.clock_hz = clock_hz
        self.gaps = iter(gaps) if gaps is not None else None
        self.addr_limit = 1 << len(self.bus.addr)
        for pin in (self.bus.w_en, self.bus.r_en, self.bus.addr, self.bus.w_data):
            pin.value = 0
        if self.burst is not None:
            self.burst.write.value = 0
            self.burst.read.value = 0
        self.transactions = 0

    @property
    def period_ps(self):
        return period_ps(self.clock_hz)

    def now_cycles(self):
        return int(get_sim_time(unit="ps")) // self.period_ps

    async def _transaction(self, addr, value=None):
        bus = self.bus
        bus.addr.value = addr
        if value is None:
            bus.r_en.value = 1
        else:
            bus.w_data.value = value
            bus.w_en.value = 1
        while True:
            await ReadOnly()
            if bus.ack.value:
                data = int(bus.r_data.value) if value is None else None
                await RisingEdge(self.clk)
                break
            await RisingEdge(self.clk)
        bus.r_en.value = 0
        bus.w_en.value = 0
        self.transactions += 1
        if self.gaps is not None:
            idle = next(self.gaps, 0)
            if idle:
                await ClockCycles(self.clk, idle)
        return data

    async def read(self, addr):
        return await self._transaction(addr)

    async def write(self, addr, value):
        await self._transaction(addr, value & _WORD_MASK)

    def _bursts(self):
        return self.burst_depth is not None and self.gaps is None

    async def _burst(self, addrs, values=None):
        """Issue reads (``values`` None) or writes at ``addrs`` through the adapter; returns the read data."""
        addrs = np.asarray(addrs, dtype=np.int64).reshape(-1)
        bad = addrs[(addrs < 0) | (addrs >= self.addr_limit)]
        if len(bad):
            raise ValueError(f"Bus address must be in 0..{self.addr_limit - 1}, not {bad[0]}")
        words = addrs.astype(np.uint64) << np.uint64(32)
        if values is not None:
            words |= (np.asarray(values, dtype=np.int64).reshape(-1) & _WORD_MASK).astype(np.uint64)
        start = self.burst.read if values is None else self.burst.write
        data = []
        for first in range(0, len(words), self.burst_depth):
            chunk = words[first:first + self.burst_depth]
            Path(BURST_IN).write_text("\n".join(map("{:x}".format, chunk.tolist())) + "\n")
            self.burst.count.value = len(chunk)
            start.value = 1
            await RisingEdge(self.clk)
            start.value = 0
            await RisingEdge(self.burst.done)
            if values is None:
                data += [int(word, 16) for word in Path(BURST_OUT).read_text().split()]
            self.transactions += len(chunk)
        return data

    async def read_many(self, addrs):
        if not self._bursts():
            return await super().read_many(addrs)
        return await self._burst(addrs)

    async def write_many(self, addrs, values):
        if not self._bursts():
            return await super().write_many(addrs, values)
        if len(addrs) != len(values):
            raise ValueError(f"Addresses and values must have the same length, not {len(addrs)} and {len(values)}")
        await self._burst(addrs, values)

    async def write_burst(self, addr, values):
        await self.write_many(range(addr, addr + len(values)), values)

    async def wait_irq(self, timeout_cycles):
        if self.irq is None:
            return None
        if not self.irq.value:
            await First(RisingEdge(self.irq), Timer(timeout_cycles * self.period_ps, unit="ps"))
            await RisingEdge(self.clk)
        return bool(self.irq.value)

    async def idle(self, cycles):
        await Timer(cycles * self.period_ps, unit="ps")
        await RisingEdge(self.clk)
