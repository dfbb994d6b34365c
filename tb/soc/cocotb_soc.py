"""Pin-level cocotb test of the SoC (fpga/soc.py): the host's own bridge framing and :class:`~tb.host.serial.
SerialBackend` drive the engine's driver through the UART pins, with cocotbext-uart as the wire.

``PIMGEN_SOC_DIVISOR`` gives the clock cycles per bit the SoC was built with; ``PIMGEN_JOBS`` the job files of
:func:`tb.jobs.simulate`'s format (their results are saved next to them, as the job module does).
"""

import importlib
import os
from pathlib import Path

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotbext.uart import UartSink, UartSource

from tb.cocotb_backend import period_ps
from tb.host.manifest import Manifest
from tb.host.serial import SerialBackend


class UartPins:
    """A byte transport over the SoC's pins: what :class:`~tb.host.serial.SerialBackend` needs."""

    def __init__(self, dut, baud):
        self.source = UartSource(dut.rx, baud=baud, bits=8, stop_bits=1)
        self.sink = UartSink(dut.tx, baud=baud, bits=8, stop_bits=1)

    async def send(self, data):
        await self.source.write(data)
        await self.source.wait()

    async def sleep(self, seconds):
        await Timer(max(seconds * 1e9, 1.0), "ns")

    async def receive(self, count, timeout_s):
        data = bytearray()
        deadline_ns = timeout_s * 1e9
        waited = 0.0
        step_ns = 2000.0
        while len(data) < count and waited <= deadline_ns:
            queued = self.sink.count()
            if queued:
                data += self.sink.read_nowait(min(queued, count - len(data)))
            if len(data) < count:
                await Timer(step_ns, "ns")
                waited += step_ns
        return bytes(data)


def _driver_class():
    module, _, name = os.environ["PIMGEN_DRIVER"].partition(":")
    return getattr(importlib.import_module(module), name)


@cocotb.test()
async def run_jobs(dut):
    """Reset, then each job through the driver's job loop over the serial backend; results saved beside the jobs."""
    manifest = Manifest.load(os.environ["PIMGEN_MANIFEST"])
    divisor = int(os.environ["PIMGEN_SOC_DIVISOR"])
    period = period_ps(manifest.clock_hz)
    dut.rx.value = 1
    cocotb.start_soon(Clock(dut.clk, period, unit="ps").start())
    dut.rst.value = 1
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 5)
    pins = UartPins(dut, baud=manifest.clock_hz / divisor)
    backend = SerialBackend(pins, reply_timeout_s=0.01)
    driver_cls = _driver_class()
    driver = driver_cls(backend, manifest)
    for path in [Path(p) for p in os.environ.get("PIMGEN_JOBS", "").split(os.pathsep) if p]:
        with np.load(path, allow_pickle=False) as arrays:
            job = driver_cls.job_cls.from_arrays({k: arrays[k] for k in arrays.files})
        [result] = await driver.run_jobs([job])
        result.save(path)
        cocotb.log.info("job %s over the UART: %d requests, %d retried", job.name, backend.requests, backend.retried)
