"""The small interface every host backend implements: word reads and writes on the register bus.

Backends: ``tb.cocotb_backend.CocotbBusBackend`` (simulation: drives the bus pins, or bursts through the simulation
wrapper) and, for boards, the UART bridge backend (FPGA issue). Drivers are written against this interface only and
never depend on cocotb.
"""

import abc
import asyncio

__all__ = ["Backend"]


class Backend(abc.ABC):
    """Word-addressed 32-bit register bus access, all ``async``.

    Subclasses implement :meth:`read` and :meth:`write`; the bulk methods have per-word defaults that a faster
    transport overrides. ``clock_hz`` is the engine clock (the driver sets it from the manifest); the default
    :meth:`idle` sleeps for that many cycles' worth of wall time, so a polling loop never spins.
    """

    #: Engine clock in Hz, set by the driver from the manifest's ``clock_hz``.
    clock_hz = 100_000_000
    #: Shortest sleep of the default :meth:`idle`, in seconds: polling over a real link faster than this is noise.
    MIN_IDLE_SECONDS = 1e-4

    @abc.abstractmethod
    async def read(self, addr):
        """Read one 32-bit word."""

    @abc.abstractmethod
    async def write(self, addr, value):
        """Write one 32-bit word."""

    async def read_many(self, addrs):
        """Read words at arbitrary addresses, in order."""
        return [await self.read(a) for a in addrs]

    async def write_many(self, addrs, values):
        """Write words at arbitrary addresses, in order."""
        for a, v in zip(addrs, values, strict=True):
            await self.write(a, v)

    async def write_burst(self, addr, values):
        """Write words at consecutive addresses."""
        await self.write_many(range(addr, addr + len(values)), values)

    async def wait_irq(self, timeout_cycles):
        """Wait up to ``timeout_cycles`` for the engine's ``irq``.

        Returns True if it is high, False if it stayed low for the whole time, and None if this backend cannot see
        the pin (drivers then poll STATUS).
        """
        return None

    async def idle(self, cycles):
        """Let the engine run for about ``cycles`` clock cycles (between status polls)."""
        await asyncio.sleep(max(cycles / self.clock_hz, self.MIN_IDLE_SECONDS))

    def now_cycles(self):
        """Clock cycles since the backend started, or None where it cannot tell (a board)."""
        return None
