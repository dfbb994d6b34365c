"""Engine-independent host driver: identity, control, windows, FIFOs, counters, and the job loop.

Every engine's driver subclasses :class:`EngineDriver` and fills in the steps of :meth:`EngineDriver.run_job`
(``load``, ``prepare``, ``read_outputs`` and, where needed, ``during_run`` and ``timeout_cycles``); the loop itself
(load, then for each run start, wait for done, check the error code, read the counters and the outputs) is here,
once, and works the same over the simulated bus and over a board's UART. Plain Python and NumPy: no cocotb, no
SciPy, no golden model.
"""

import os
import time

import numpy as np

from pimgen.errors import InputError, InputTypeError, RunFailed
from .backend import Backend
from .job import Job, JobResult, RunResult
from .manifest import Manifest

__all__ = ["EngineDriver", "EngineError", "EngineMismatch", "EngineTimeout", "DriverStateError"]


class EngineError(RunFailed):
    """The engine finished a run with a nonzero error code."""

    def __init__(self, code, meaning):
        super().__init__(f"Engine reported error {code} ({meaning})")
        self.code = code


class EngineMismatch(RunFailed):
    """The hardware on the bus is not the engine the manifest describes."""


class EngineTimeout(RunFailed):
    """A run did not finish within the allowed cycles."""


class DriverStateError(InputError):
    """A driver method was called out of order (reading a result before any run, say)."""


class EngineDriver:
    """Register-level access and the job loop shared by all engines.

    Parameters
    ----------
    backend : Backend
    manifest : Manifest or path
    progress : callable or None
        Receives one-line progress messages from :meth:`run_job` (loading, each run, reading back).

    Attributes
    ----------
    config : EngineConfig
        The engine's config, rebuilt from the manifest.
    """

    #: Engine name this driver is for (checked against the manifest).
    engine = None
    #: The engine's config class (``GnnConfig``, ...).
    config_cls = None
    #: The engine's job class (a :class:`~tb.host.job.Job`).
    job_cls = None
    #: Default limit on the cycles of one run.
    DEFAULT_TIMEOUT_CYCLES = 10_000_000
    #: Cycles between two STATUS polls when the backend cannot wait for the irq pin.
    POLL_CYCLES = 256

    def __init__(self, backend, manifest, progress=None):
        if not isinstance(backend, Backend):
            raise InputTypeError(f"Backend must be a tb.host.backend.Backend, not {backend!r}")
        if isinstance(manifest, (str, os.PathLike)):
            manifest = Manifest.load(manifest)
        elif not isinstance(manifest, Manifest):
            raise InputTypeError(f"Manifest must be a Manifest or the path of manifest.json, not {manifest!r}")
        if self.engine is not None and manifest.engine != self.engine:
            raise EngineMismatch(f"{type(self).__name__} drives the {self.engine} engine, "
                                 f"but the manifest is for {manifest.engine}")
        self.backend = backend
        self.backend.clock_hz = manifest.clock_hz
        self.manifest = manifest
        self.config = self.config_cls.from_dict(manifest.config) if self.config_cls else None
        self.progress = progress
        #: Wall-clock seconds of the last :meth:`run` (host side, includes simulation).
        self.last_run_seconds = None

    def _report(self, message):
        if self.progress is not None:
            self.progress(message)

    # Registers

    async def read_reg(self, name):
        return await self.backend.read(self.manifest.reg(name).addr)

    async def read_field(self, reg, field):
        info = self.manifest.reg(reg)
        return info.field(field).extract(await self.backend.read(info.addr))

    async def write_reg(self, name, **fields):
        """Write a register from field values (integers, or code names for coded fields); fields not named are 0."""
        info = self.manifest.reg(name)
        word = 0
        for field, value in fields.items():
            word |= info.field(field).insert(value)
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

    async def wait_done(self, timeout_cycles=DEFAULT_TIMEOUT_CYCLES):
        """Wait for STATUS.done (through the irq pin when the backend sees it, else by polling); returns STATUS."""
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
            await self.backend.idle(self.POLL_CYCLES)
            waited += self.POLL_CYCLES
        raise EngineTimeout(f"The {self.manifest.engine} engine did not finish within {timeout_cycles} cycles")

    async def run(self, timeout_cycles=DEFAULT_TIMEOUT_CYCLES):
        """Start, wait for done, raise :class:`EngineError` on a nonzero error code; returns the counters."""
        await self.start()
        return await self.finish_run(timeout_cycles)

    async def finish_run(self, timeout_cycles=DEFAULT_TIMEOUT_CYCLES):
        """The second half of :meth:`run`, after :meth:`start`: wait for done, check the error code, read the
        counters."""
        t0 = time.perf_counter()
        word = await self.wait_done(timeout_cycles)
        self.last_run_seconds = time.perf_counter() - t0
        code = self.manifest.reg("STATUS").field("error").extract(word)
        if code:
            raise EngineError(code, self.manifest.error_text(code))
        return await self.read_counters()

    async def read_counters(self):
        """All counters as ``{name: value}`` (a list of values for a counter array)."""
        values = {}
        for name, counter in self.manifest.counters.items():
            if counter.get("count") is None:
                values[name] = await self.read_reg(counter["register"])
            else:
                array = self.manifest.array(counter["register"])
                values[name] = await self.backend.read_many([element.addr for element in array.elements])
        return values

    # Memory windows

    async def write_window(self, name, values, **indices):
        """Write ``values`` into memory window ``name`` at the elements ``indices`` (per dimension of the window's
        layout, arrays that broadcast to the shape of ``values``); words shared by several elements are packed."""
        window = self.manifest.window(name)
        values = np.asarray(values)
        grids = {k: np.broadcast_to(np.asarray(v), values.shape) for k, v in indices.items()}
        offsets, lsbs = window.locate(**grids)
        word_offsets, words = window.pack(offsets, lsbs, values)
        addrs = window.base + word_offsets
        if len(addrs) and addrs[-1] - addrs[0] == len(addrs) - 1:
            await self.backend.write_burst(int(addrs[0]), [int(w) for w in words])
        else:
            await self.backend.write_many([int(a) for a in addrs], [int(w) for w in words])

    async def read_window(self, name, **indices):
        """Values of memory window ``name`` at the elements ``indices`` (arrays that broadcast); each bus word is read
        once. Returns an int64 array of the broadcast shape."""
        window = self.manifest.window(name)
        shape = np.broadcast_shapes(*(np.shape(v) for v in indices.values()))
        offsets, lsbs = window.locate(**indices)
        word_offsets, where = np.unique(offsets, return_inverse=True)
        words = await self.backend.read_many([window.base + int(o) for o in word_offsets])
        return window.unpack(words, where, lsbs).reshape(shape)

    # FIFO windows

    async def write_stream(self, name, values, timeout_cycles=DEFAULT_TIMEOUT_CYCLES):
        """Push ``values`` into input FIFO window ``name``, as fast as the FIFO has room."""
        fifo = self._fifo(name, "in")
        values = [int(v) for v in np.asarray(values).ravel()]
        lo, hi = fifo.range
        bad = [v for v in values if not lo <= v <= hi]
        if bad:
            raise InputError(f"Value {bad[0]} is outside the {name!r} FIFO's range {lo}..{hi}")
        sent = waited = 0
        while sent < len(values):
            free = (await self.backend.read(fifo.status)) & fifo.status_mask
            if not free:
                if waited > timeout_cycles:
                    raise EngineTimeout(f"FIFO {name!r} stayed full for {timeout_cycles} cycles")
                await self.backend.idle(self.POLL_CYCLES)
                waited += self.POLL_CYCLES
                continue
            chunk = values[sent:sent + free]
            await self.backend.write_many([fifo.data] * len(chunk), [v & 0xFFFF_FFFF for v in chunk])
            sent += len(chunk)

    async def read_stream(self, name, count=None):
        """Pop up to ``count`` elements (all that are waiting when None) from output FIFO window ``name``."""
        fifo = self._fifo(name, "out")
        level = (await self.backend.read(fifo.status)) & fifo.status_mask
        n = level if count is None else min(level, count)
        words = await self.backend.read_many([fifo.data] * n)
        return np.array([fifo.decode(w) for w in words], dtype=np.int64)

    def _fifo(self, name, direction):
        fifo = self.manifest.window(name)
        if fifo.kind != "fifo" or fifo.direction != direction:
            raise InputError(f"Window {name!r} must be an {direction!r} FIFO, not a {fifo.kind} window"
                             + (f" ({fifo.direction})" if fifo.kind == "fifo" else ""))
        return fifo

    # The job loop

    async def load(self, job):
        """Write the job's inputs into the engine (engine-specific)."""
        raise NotImplementedError

    async def prepare(self, job, run):
        """Set the registers of one run of the job (engine-specific)."""
        raise NotImplementedError

    async def during_run(self, job, run):
        """Talk to the engine while a run is in progress (feed or drain FIFO windows); nothing by default."""

    async def read_outputs(self, job, run):
        """The outputs of the run just made, as ``{name: array}`` (engine-specific)."""
        raise NotImplementedError

    def timeout_cycles(self, job, run):
        """Cycles a run of the job may take before it counts as hung."""
        return self.DEFAULT_TIMEOUT_CYCLES

    async def run_job(self, job):
        """Load ``job``, make each of its runs, read back outputs and counters; returns a :class:`JobResult`.

        The job is validated first, so bad input touches nothing.
        """
        self._check_job(job)
        return await self._run_checked_job(job)

    def _check_job(self, job):
        if not isinstance(job, self.job_cls or Job):
            raise InputTypeError(f"Job must be a {(self.job_cls or Job).__name__}, not {type(job).__name__}")
        job.validate(self.config)

    async def _run_checked_job(self, job):
        t0, c0 = time.perf_counter(), self.backend.now_cycles()
        self._report(f"{job.name}: loading")
        await self.load(job)
        load_seconds = time.perf_counter() - t0
        load_cycles = None if c0 is None else self.backend.now_cycles() - c0
        self._report(f"{job.name}: loaded in {load_seconds:.2f} s")
        runs = {}
        for run in job.runs:
            await self.prepare(job, run)
            t0, c0 = time.perf_counter(), self.backend.now_cycles()
            await self.start()
            await self.during_run(job, run)
            counters = await self.finish_run(self.timeout_cycles(job, run))
            run_seconds = time.perf_counter() - t0
            waited = None if c0 is None else self.backend.now_cycles() - c0
            t0 = time.perf_counter()
            outputs = await self.read_outputs(job, run)
            read_seconds = time.perf_counter() - t0
            runs[run] = RunResult(outputs=outputs, counters=counters, cycles_waited=waited,
                                  run_seconds=run_seconds, read_seconds=read_seconds)
            self._report(f"{job.name}: {run} done, {counters.get('cycles', '?')} cycles; read back in "
                         f"{read_seconds:.2f} s")
        return JobResult(name=job.name, runs=runs, load_seconds=load_seconds, load_cycles=load_cycles, job=job)

    async def run_jobs(self, jobs):
        """:meth:`run_job` for each job in turn (identity checked first); returns the results in order."""
        jobs = list(jobs)
        for job in jobs:                        # every job before any touches the engine
            self._check_job(job)
        await self.check_identity()
        return [await self._run_checked_job(job) for job in jobs]
