"""Engine-independent host driver: identity check, start, wait for done, errors and counters.

Every engine's driver subclasses :class:`EngineDriver`; it needs a :class:`~tb.host.backend.Backend` and the
engine's :class:`~tb.host.manifest.Manifest`, and works the same over the simulated bus and over a board's UART.
"""

import time

import numpy as np

from .manifest import Manifest

__all__ = ["EngineDriver", "EngineError", "EngineMismatch", "EngineTimeout"]


class EngineError(RuntimeError):
    """The engine finished a run with a nonzero error code."""

    def __init__(self, code, meaning):
        super().__init__(f"Engine reported error {code}: {meaning}")
        self.code = code


class EngineMismatch(RuntimeError):
    """The hardware on the bus is not the engine the manifest describes."""


class EngineTimeout(RuntimeError):
    """A run did not finish within the allowed cycles (a failure, not bad input: not an OSError)."""


class EngineDriver:
    """Register-level access shared by all engines.

    Parameters
    ----------
    backend : Backend
    manifest : Manifest or path
    """

    #: Engine name this driver is for (checked against the manifest).
    engine = None

    def __init__(self, backend, manifest):
        if not isinstance(manifest, Manifest):
            manifest = Manifest.load(manifest)
        if self.engine is not None and manifest.engine != self.engine:
            raise EngineMismatch(f"{type(self).__name__} drives the {self.engine} engine, "
                                 f"but the manifest is for {manifest.engine}")
        self.backend = backend
        self.manifest = manifest
        #: Wall-clock seconds of the last :meth:`run` (host side, includes simulation).
        self.last_run_seconds = None

    # Registers

    async def read_reg(self, name):
        return await self.backend.read(self.manifest.reg(name).addr)

    async def read_field(self, reg, field):
        info = self.manifest.reg(reg)
        return info.field(field).extract(await self.backend.read(info.addr))

    async def write_reg(self, name, **fields):
        """Write a register from field values; fields not named are written as 0."""
        info = self.manifest.reg(name)
        word = 0
        for field, value in fields.items():
            word |= info.field(field).insert(int(value))
        await self.backend.write(info.addr, word)

    # Identity

    async def check_identity(self):
        """Check ID, VERSION, CONFIG_HASH and every config readback register against the manifest."""
        magic, want = await self.read_reg("ID"), self.manifest.data["id_magic"]
        if magic != want:
            raise EngineMismatch(f"ID register reads {magic:#010x}, expected {want:#010x}: no pimgen engine")
        version = self.manifest.reg("VERSION")
        word = await self.backend.read(version.addr)
        got = (version.field("engine").extract(word), version.field("major").extract(word),
               version.field("minor").extract(word))
        want = (self.manifest.engine_code, *self.manifest.version)
        if got != want:
            raise EngineMismatch(f"VERSION reads engine/major/minor {got}, manifest says {want}")
        config_hash = await self.read_reg("CONFIG_HASH")
        if config_hash != int(self.manifest.config_hash, 16):
            raise EngineMismatch(f"CONFIG_HASH reads {config_hash:08x}, manifest says {self.manifest.config_hash}: "
                                 "the bitstream or model was built from another config")
        for key, want in self.manifest.data["config_readback"].items():
            value = await self.read_reg(f"CFG_{key.upper()}")
            if value != (want & 0xFFFF_FFFF):
                raise EngineMismatch(f"CFG_{key.upper()} reads {value}, the manifest says {want}")

    # Control

    async def soft_reset(self):
        await self.write_reg("CTRL", soft_reset=1)

    async def start(self):
        await self.write_reg("STATUS", done=1, bus_error=1)   # clear the sticky bits
        await self.write_reg("CTRL", start=1)

    async def wait_done(self, timeout_cycles=10_000_000, poll_cycles=256):
        """Wait for STATUS.done (through the irq pin when the backend sees it, else by polling)."""
        status = self.manifest.reg("STATUS")
        irq = await self.backend.wait_irq(timeout_cycles)
        if irq is not None:
            word = await self.backend.read(status.addr)
            if status.field("done").extract(word):
                return word
            if not irq:
                raise EngineTimeout(f"The {self.manifest.engine} engine did not finish within "
                                    f"{timeout_cycles} cycles")
        waited = 0
        while waited <= timeout_cycles:
            word = await self.backend.read(status.addr)
            if status.field("done").extract(word):
                return word
            await self.backend.idle(poll_cycles)
            waited += poll_cycles
        raise EngineTimeout(f"The {self.manifest.engine} engine did not finish within {timeout_cycles} cycles")

    async def run(self, timeout_cycles=10_000_000):
        """Start, wait for done, raise :class:`EngineError` on a nonzero error code; returns the counters."""
        t0 = time.perf_counter()
        await self.start()
        word = await self.wait_done(timeout_cycles)
        self.last_run_seconds = time.perf_counter() - t0
        code = self.manifest.reg("STATUS").field("error").extract(word)
        if code:
            raise EngineError(code, self.manifest.errors.get(code, "unknown error code"))
        return await self.read_counters()

    async def read_counters(self):
        """All ``CNT_*`` registers as ``{name: value}``."""
        return {name: await self.read_reg(f"CNT_{name.upper()}") for name in self.manifest.counters}

    # Memory windows

    async def write_elements(self, name, offsets, elements, values):
        """Write element values into window ``name`` at (word offset, element index), packing shared words."""
        window = self.manifest.window(name)
        word_offsets, words = window.pack(offsets, elements, values)
        await self.backend.write_many([window.base + int(o) for o in word_offsets], [int(w) for w in words])

    async def read_elements(self, name, offsets, elements):
        """Element values of window ``name`` at (word offset, element index); each word is read once."""
        window = self.manifest.window(name)
        word_offsets, where = np.unique(offsets, return_inverse=True)
        words = await self.backend.read_many([window.base + int(o) for o in word_offsets])
        return window.unpack(words, where, elements)
