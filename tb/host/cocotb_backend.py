"""Simulation backend: a cocotb master on the engine's register bus pins (``bus__addr``, ``bus__w_en``, ...)."""

from cocotb.triggers import ClockCycles, First, ReadOnly, RisingEdge, Timer

from .backend import Backend

__all__ = ["BusPins", "CocotbBusBackend"]


class BusPins:
    """The bus signals of a DUT, found by prefix with Amaranth's ``__`` separator."""

    NAMES = ("addr", "w_data", "w_en", "r_en", "r_data", "ack")

    def __init__(self, dut, prefix="bus"):
        for name in self.NAMES:
            setattr(self, name, getattr(dut, f"{prefix}__{name}"))


class CocotbBusBackend(Backend):
    """Bus master for cocotb: writes take one cycle against slaves that acknowledge at once, reads two.

    Parameters
    ----------
    dut : cocotb handle of the engine top
    clk : clock handle (already driven by a ``Clock``)
    prefix : str
        Bus port prefix.
    irq : handle or None
        The engine's ``irq`` pin, so that :meth:`wait_irq` can wait for it at full simulation speed.
    period_ns : int
        Clock period, to turn cycle timeouts into a simulated-time timer (a ``ClockCycles`` trigger would wake
        Python on every cycle).
    gaps : iterable of int or None
        Idle cycles to leave after each transaction, e.g. ``itertools.cycle([0, 0, 0, 2])``, so that tests also
        run with gaps between bus accesses. None: back to back.
    """

    def __init__(self, dut, clk, prefix="bus", irq=None, period_ns=10, gaps=None):
        self.bus = BusPins(dut, prefix)
        self.clk = clk
        self.irq = irq
        self.period_ns = period_ns
        self.gaps = iter(gaps) if gaps is not None else None
        self.bus.w_en.value = 0
        self.bus.r_en.value = 0
        self.bus.addr.value = 0
        self.bus.w_data.value = 0
        self.transactions = 0

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
        await self._transaction(addr, value & 0xFFFF_FFFF)

    async def wait_irq(self, timeout_cycles):
        if self.irq is None:
            return None
        if not self.irq.value:
            await First(RisingEdge(self.irq), Timer(timeout_cycles * self.period_ns, unit="ns"))
            await RisingEdge(self.clk)
        return bool(self.irq.value)

    async def idle(self, cycles):
        await Timer(cycles * self.period_ns, unit="ns")
        await RisingEdge(self.clk)
