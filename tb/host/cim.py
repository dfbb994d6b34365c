"""Host driver of the compute-in-memory VMM tile (simulation or board, through any backend), and its job."""

from dataclasses import dataclass

import numpy as np

from pimgen.cim.config import CimConfig
from pimgen.cim.inputs import check_gain_offset, check_inputs, check_weights
from pimgen.errors import InputError, InputTypeError
from .driver import DriverStateError, EngineDriver
from .job import Job

__all__ = ["CimDriver", "CimJob"]


@dataclass
class CimJob(Job):
    """One weight matrix and a batch of input vectors: ``Y = x @ W`` through the tile.

    Parameters
    ----------
    weights : array_like of int, shape (rows, cols)
        Weight codes (``weight_bits`` signed; symmetric with differential pairs).
    x : array_like of int, shape (V, rows)
        Input codes (``input_bits`` signed; symmetric in sign-magnitude). Cut into runs of ``max_vectors`` vectors
        (``batch0``, ``batch1``, ...), each with its own noise counter from vector 0 (docs/cim.md).
    gain, offset : array_like of int, shape (cols,), optional
        Per-column tables (``gain_offset`` configs; by default unit gain and no offset).
    name : str
    """
    weights: np.ndarray
    x: np.ndarray
    gain: np.ndarray = None
    offset: np.ndarray = None
    name: str = "vmm"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"Job name must be a non-empty string, not {self.name!r}")
        self._max_vectors = None

    @property
    def runs(self):
        if self._max_vectors is None:
            raise DriverStateError("Validate the job against a config before asking for its runs")
        return tuple(f"batch{b}" for b in range(-(-len(self.x) // self._max_vectors)))

    def batch(self, run):
        """The vectors of run ``batchN`` (one of :attr:`runs`): a slice of ``x``."""
        runs = self.runs
        if run not in runs:
            raise InputError(f"run must be one of this job's runs, batch0..batch{len(runs) - 1}, not {run!r}")
        b = runs.index(run)
        return slice(b * self._max_vectors, min((b + 1) * self._max_vectors, len(self.x)))

    def validate(self, config):
        if not isinstance(config, CimConfig):
            raise InputTypeError(f"Config must be a CimConfig, not {type(config).__name__}")
        self.weights = check_weights(self.weights, config)
        self.x = check_inputs(self.x, config)
        if config.gain_offset or self.gain is not None or self.offset is not None:
            self.gain, self.offset = check_gain_offset(self.gain, self.offset, config)
        self._max_vectors = config.max_vectors

    def to_arrays(self):
        arrays = {"weights": np.asarray(self.weights, dtype=np.int64), "x": np.asarray(self.x, dtype=np.int64),
                  "name": np.array(self.name)}
        if self.gain is not None:
            arrays.update(gain=np.asarray(self.gain, dtype=np.int64), offset=np.asarray(self.offset, dtype=np.int64))
        return arrays

    @classmethod
    def from_arrays(cls, arrays):
        return cls(arrays["weights"], arrays["x"], arrays["gain"] if "gain" in arrays else None,
                   arrays["offset"] if "offset" in arrays else None, str(arrays["name"]))


class CimDriver(EngineDriver):
    """Loads weights (and gain/offset tables), runs batches of input vectors, reads the outputs.

    As a job loop (the same on every backend)::

        drv = CimDriver(backend, manifest)
        [result] = await drv.run_jobs([CimJob(w_codes, x_codes)])
        y = result.runs["batch0"].outputs["y"]

    or step by step::

        await drv.check_identity()
        await drv.load_weights(w_codes)
        await drv.load_inputs(x_codes)           # at most max_vectors
        counters = await drv.run_batch()
        y = await drv.read_outputs_now()
    """

    engine = "cim"
    config_cls = CimConfig
    job_cls = CimJob
    #: A run that takes this many times its formula cycles (plus the fixed part) is hung, not slow.
    TIMEOUT_MARGIN = 4
    TIMEOUT_FIXED = 1000

    def __init__(self, backend, manifest, progress=None):
        super().__init__(backend, manifest, progress)
        self.weights_loaded = False
        self.vectors = None               # vectors in the inputs memory
        self.result_ready = False

    async def load_weights(self, weights, gain=None, offset=None):
        """Write weight codes ``W[rows, cols]`` and, with ``gain_offset``, the tables (unit gain, no offset when
        None)."""
        cfg = self.config
        weights = check_weights(weights, cfg)
        gain, offset = check_gain_offset(gain, offset, cfg)
        self.result_ready = False
        await self.write_window("weights", weights, row=np.arange(cfg.rows)[:, None], col=np.arange(cfg.cols)[None, :])
        if cfg.gain_offset:
            await self.write_window("gain", gain, col=np.arange(cfg.cols))
            await self.write_window("offset", offset, col=np.arange(cfg.cols))
        self.weights_loaded = True

    async def load_inputs(self, x):
        """Write input codes ``x[V, rows]``, ``V <= max_vectors``, and set NUM_VECTORS."""
        cfg = self.config
        x = check_inputs(x, cfg)
        if len(x) > cfg.max_vectors:
            raise InputError(f"A run holds at most max_vectors = {cfg.max_vectors} input vectors, not {len(x)} "
                             "(a CimJob cuts longer batches into runs)")
        self.result_ready = False
        await self.write_window("inputs", x, vector=np.arange(len(x))[:, None], row=np.arange(cfg.rows)[None, :])
        await self.write_reg("NUM_VECTORS", value=len(x))
        self.vectors = len(x)

    async def run_batch(self, timeout_cycles=None):
        """Run the loaded inputs through the loaded weights; returns the counters."""
        if not self.weights_loaded or self.vectors is None:
            raise DriverStateError("Load weights and inputs before running")
        return await self.run(self._timeout(self.vectors) if timeout_cycles is None else timeout_cycles)

    async def finish_run(self, timeout_cycles=EngineDriver.DEFAULT_TIMEOUT_CYCLES):
        counters = await super().finish_run(timeout_cycles)
        self.result_ready = True
        return counters

    async def read_outputs_now(self):
        """Outputs ``y[V, cols]`` (int64) of the last completed run."""
        if not self.result_ready:
            raise DriverStateError("No result to read: load weights and inputs and run first (a new load discards "
                                   "the last result)")
        cfg = self.config
        return await self.read_window("outputs", vector=np.arange(self.vectors)[:, None],
                                      col=np.arange(cfg.cols)[None, :])

    def _timeout(self, vectors):
        return self.TIMEOUT_FIXED + self.TIMEOUT_MARGIN * self.config.cycles(vectors)

    # The job loop's steps

    async def load(self, job):
        await self.load_weights(job.weights, job.gain, job.offset)

    async def prepare(self, job, run):
        await self.load_inputs(job.x[job.batch(run)])

    def timeout_cycles(self, job, run):
        return self._timeout(self.vectors)

    async def read_outputs(self, job, run):
        return {"y": await self.read_outputs_now()}
