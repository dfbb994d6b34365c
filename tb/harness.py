"""Testbench plumbing shared by every engine's cocotb module: clock, reset, backend and driver construction, and the
checks of the register frame that every engine has (identity, irq, soft reset, bus errors, unmapped addresses).
"""

import itertools
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .cocotb_backend import CocotbBusBackend, period_ps
from .host.manifest import Manifest
from .sim_top import burst_depth

__all__ = ["TB", "bus_gaps", "check_frame"]


class TB:
    """Clock, reset and a bus backend around an engine DUT; ``driver_cls`` builds the engine's host driver.

    Port names (clock, reset, bus prefix) and the clock frequency (``clock_hz``) come from the manifest named by
    ``PIMGEN_MANIFEST``. ``dut`` is the simulation top of
    :mod:`tb.sim_top`, whose burst adapter the backend then uses, or a bare engine.
    """

    def __init__(self, dut, driver_cls):
        self.dut = dut
        self.manifest = Manifest.load(os.environ["PIMGEN_MANIFEST"])
        data = self.manifest.data
        self.clock_hz = self.manifest.clock_hz
        self.clk = getattr(dut, data["clock"])
        self.rst = getattr(dut, data["reset"])
        cocotb.start_soon(Clock(self.clk, period_ps(self.clock_hz), unit="ps").start())
        self.backend = CocotbBusBackend(dut, self.clk, prefix=data["bus"]["prefix"], irq=dut.irq,
                                        clock_hz=self.clock_hz, gaps=bus_gaps(), burst_depth=burst_depth(data))
        self.driver = driver_cls(self.backend, self.manifest)

    async def reset(self, cycles=4):
        self.rst.value = 1
        await ClockCycles(self.clk, cycles)
        self.rst.value = 0
        await RisingEdge(self.clk)

    def now_cycles(self):
        """Clock cycles since the simulation started."""
        return self.backend.now_cycles()


def bus_gaps():
    """Idle cycles between bus transactions from ``PIMGEN_BUS_GAPS`` (e.g. ``0,0,0,2``, repeated), or None.

    With gaps the backend goes word by word, also for the bulk methods: bursts have none.
    """
    text = os.environ.get("PIMGEN_BUS_GAPS", "")
    if not text:
        return None
    return itertools.cycle(int(v) for v in text.split(","))


def _free_address(manifest):
    """An address inside the bus range that no register or window covers; None when the map is full (the regions
    fill the address space exactly, so there is no unmapped address to check)."""
    used = [(0, 1 << max(1, (len(manifest.registers) - 1).bit_length()))]
    used += [(w.base, w.base + w.size) for w in manifest.windows.values()]
    for addr in range(1, 1 << manifest.data["bus"]["addr_width"]):
        if all(not lo <= addr < hi for lo, hi in used):
            return addr
    return None


async def check_frame(tb, start_long_run, window):
    """Check the register frame every engine shares, against the manifest.

    ``start_long_run`` is an async callable that starts a run lasting at least a few hundred cycles and returns
    while it is busy; ``window`` names a memory window the host may write while the engine is idle. Checks:
    identity registers; ``irq`` following ``STATUS.done``; a window access while busy dropped and flagged in
    ``STATUS.bus_error``; soft reset aborting the run and returning every RW field, the counters and the status to
    their reset values; an unmapped address reading 0 without hanging the bus.
    """
    drv, dut, manifest = tb.driver, tb.dut, tb.manifest
    await drv.check_identity()
    assert await drv.read_reg("ID") == manifest.data["id_magic"]

    await start_long_run()
    assert await drv.read_field("STATUS", "busy") == 1
    win = manifest.window(window)
    await drv.backend.write(win.base, 123)
    assert await drv.backend.read(win.base) == 0
    assert await drv.read_field("STATUS", "bus_error") == 1

    await drv.soft_reset()
    assert await drv.read_field("STATUS", "busy") == 0
    assert await drv.read_field("STATUS", "bus_error") == 0
    for name, reg in manifest.registers.items():
        for field in reg.fields.values():
            if field.access == "rw":
                assert await drv.read_field(name, field.name) == field.init, f"{name}.{field.name} after soft reset"
    for name, value in (await drv.read_counters()).items():
        assert value == 0 or (isinstance(value, list) and not any(value)), f"counter {name} after soft reset: {value}"

    value = win.encode(-123 if win.signed else 123)
    await drv.backend.write(win.base, value)
    assert await drv.backend.read(win.base) == value

    await start_long_run()
    await drv.wait_done(timeout_cycles=10_000_000)
    assert dut.irq.value == 1
    await drv.write_reg("STATUS", done=1)
    assert await drv.read_field("STATUS", "done") == 0
    assert dut.irq.value == 0

    free = _free_address(manifest)
    if free is None:
        return
    assert await drv.backend.read(free) == 0
    await drv.backend.write(free, 1)
