"""Testbench plumbing shared by every engine's cocotb module: clock, reset, backend and driver construction, and the
job files through which pytest hands inputs in and gets results out.
"""

import itertools
import os
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from .host.cocotb_backend import CocotbBusBackend
from .host.manifest import Manifest

__all__ = ["TB", "job_paths", "CLOCK_NS"]

#: Simulated clock period. 10 ns = 100 MHz, near what the ECP5 build reaches; it only scales simulated time.
CLOCK_NS = 10


class TB:
    """Clock, reset and a bus backend around an engine DUT; ``driver_cls`` builds the engine's host driver."""

    def __init__(self, dut, driver_cls):
        self.dut = dut
        self.manifest = Manifest.load(os.environ["PIMGEN_MANIFEST"])
        cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
        self.backend = CocotbBusBackend(dut, dut.clk, prefix=self.manifest.data["bus"]["prefix"], irq=dut.irq,
                                        period_ns=CLOCK_NS, gaps=bus_gaps())
        self.driver = driver_cls(self.backend, self.manifest)

    async def reset(self, cycles=4):
        self.dut.rst.value = 1
        await ClockCycles(self.dut.clk, cycles)
        self.dut.rst.value = 0
        await RisingEdge(self.dut.clk)

    def now_cycles(self):
        return int(cocotb.utils.get_sim_time(unit="ns") // CLOCK_NS)


def bus_gaps():
    """Idle cycles between bus transactions from ``PIMGEN_BUS_GAPS`` (e.g. ``0,0,0,2``, repeated), or None."""
    text = os.environ.get("PIMGEN_BUS_GAPS", "")
    if not text:
        return None
    return itertools.cycle(int(v) for v in text.split(","))


def job_paths():
    """Job files named by ``PIMGEN_JOBS`` (``os.pathsep``-separated)."""
    return [Path(p) for p in os.environ.get("PIMGEN_JOBS", "").split(os.pathsep) if p]
