"""Host driver of the SNN engine (simulation or board, through any backend), and its job."""

from dataclasses import dataclass

import numpy as np

from pimgen.errors import InputError, InputTypeError
from pimgen.snn.config import RESET_MODES, SNN_MODES, SnnConfig
from pimgen.snn.program import NO_EDGE, CoreProgram, SnnProgram, SpikeTrains
from .driver import DriverStateError, EngineDriver
from .job import Job

__all__ = ["SnnDriver", "SnnJob", "encode_fanout"]


def encode_fanout(config, entries):
    """Pack ``(core, axon, delay)`` rows into fan-out words (``hw.snn.layouts.fanout_layout``)."""
    entries = np.asarray(entries, dtype=np.int64).reshape(-1, 3)
    axon_bits = max(int(config.axons - 1).bit_length(), 1)
    return entries[:, 2] | (entries[:, 1] << 3) | (entries[:, 0] << (3 + axon_bits))


@dataclass
class SnnJob(Job):
    """A compiled program and the input spike trains to run it on, in each mode.

    Parameters
    ----------
    program : SnnProgram
    inputs : SpikeTrains or list of SpikeTrains
        One run per input and mode (each run starts from zero potentials).
    modes : str or sequence of str
        ``async`` and/or ``sync``; runs are named ``<mode><input index>``.
    name : str
    """
    program: SnnProgram
    inputs: list
    modes: tuple = ("async",)
    name: str = "snn"

    def __post_init__(self):
        if not isinstance(self.program, SnnProgram):
            raise InputTypeError(f"Job program must be an SnnProgram, not {type(self.program).__name__}")
        if isinstance(self.inputs, SpikeTrains):
            self.inputs = [self.inputs]
        if not isinstance(self.inputs, (list, tuple)) or not self.inputs or \
                not all(isinstance(t, SpikeTrains) for t in self.inputs):
            raise InputError("Job inputs must be SpikeTrains or a non-empty list of them")
        if isinstance(self.modes, str):
            self.modes = (self.modes,)
        bad = [mode for mode in self.modes if mode not in SNN_MODES]
        if bad or not self.modes or len(set(self.modes)) != len(self.modes):
            raise InputError(f"Job modes must be distinct names from {', '.join(SNN_MODES)}, not {self.modes!r}")
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"Job name must be a non-empty string, not {self.name!r}")

    @property
    def runs(self):
        return tuple(f"{mode}{i}" for i in range(len(self.inputs)) for mode in self.modes)

    def run_input(self, run):
        """``(mode, SpikeTrains)`` of run ``run``."""
        mode = next(m for m in SNN_MODES if run.startswith(m))
        return mode, self.inputs[int(run[len(mode):])]

    def validate(self, config):
        self.program.validate(config)
        for trains in self.inputs:
            trains.validate(config)

    def to_arrays(self):
        arrays = {"name": np.array(self.name), "modes": np.array(list(self.modes)),
                  "input_fanout_ptr": self.program.input_fanout_ptr, "input_fanout": self.program.input_fanout,
                  "cores": np.array(len(self.program.cores)), "inputs": np.array(len(self.inputs))}
        for k, core in enumerate(self.program.cores):
            for key in ("weights", "bias", "fanout_ptr", "fanout"):
                arrays[f"core{k}_{key}"] = np.asarray(getattr(core, key))
            arrays[f"core{k}_params"] = np.array([core.threshold, core.leak, RESET_MODES.index(core.reset)])
        for i, trains in enumerate(self.inputs):
            arrays[f"input{i}_ptr"], arrays[f"input{i}_neurons"] = trains.ptr, trains.neurons
        return arrays

    @classmethod
    def from_arrays(cls, arrays):
        cores = []
        for k in range(int(arrays["cores"])):
            threshold, leak, reset = (int(v) for v in arrays[f"core{k}_params"])
            cores.append(CoreProgram(arrays[f"core{k}_weights"], arrays[f"core{k}_bias"], threshold, leak,
                                     RESET_MODES[reset], arrays[f"core{k}_fanout_ptr"], arrays[f"core{k}_fanout"]))
        program = SnnProgram(cores, arrays["input_fanout_ptr"], arrays["input_fanout"])
        inputs = [SpikeTrains(arrays[f"input{i}_ptr"], arrays[f"input{i}_neurons"])
                  for i in range(int(arrays["inputs"]))]
        return cls(program, inputs, tuple(str(m) for m in arrays["modes"]), str(arrays["name"]))


class SnnDriver(EngineDriver):
    """Loads a compiled program and input spike trains, runs them in either mode, reads the spike records.

    As a job loop (the same on every backend)::

        drv = SnnDriver(backend, manifest)
        [result] = await drv.run_jobs([SnnJob(program, trains, modes=("async", "sync"))])
        spikes = result.runs["async0"].outputs      # core<k>: (step, neuron) rows
    """

    engine = "snn"
    config_cls = SnnConfig
    job_cls = SnnJob
    #: A run may take this many cycles per step, per input spike and per fan-out entry before it counts as hung.
    TIMEOUT_FIXED = 10_000

    def __init__(self, backend, manifest, progress=None):
        super().__init__(backend, manifest, progress)
        self.program = None
        self.steps = None

    async def load_program(self, program):
        """Write every core's weights, biases, parameters and fan-out, the input source's fan-out and the
        dependency table."""
        cfg = self.config
        program.validate(cfg)
        self.steps = None
        for k, core in enumerate(program.cores):
            await self.write_window(f"weights{k}", core.weights, axon=np.arange(cfg.axons)[:, None],
                                    neuron=np.arange(cfg.neurons)[None, :])
            await self.write_window(f"bias{k}", core.bias, neuron=np.arange(cfg.neurons))
            await self.write_window(f"fanout_ptr{k}", core.fanout_ptr, index=np.arange(cfg.neurons + 1))
            if len(core.fanout):
                await self.write_window(f"fanout{k}", encode_fanout(cfg, core.fanout),
                                        entry=np.arange(len(core.fanout)))
            await self.write_reg(f"THRESHOLD[{k}]", value=core.threshold)
            await self.write_reg(f"LEAK[{k}]", value=core.leak)
            await self.write_reg(f"RESET[{k}]", code=core.reset)
        await self.write_window("in_fanout_ptr", program.input_fanout_ptr, index=np.arange(cfg.input_neurons + 1))
        if len(program.input_fanout):
            await self.write_window("in_fanout", encode_fanout(cfg, program.input_fanout),
                                    entry=np.arange(len(program.input_fanout)))
        for k in range(cfg.cores):
            for p in range(cfg.sources):
                d, reach = int(program.dependencies[k, p]), int(program.credit_delays[k, p])
                await self.write_reg(f"DEP[{k * cfg.sources + p}]", enabled=int(d != NO_EDGE), delay=max(d, 0),
                                     max_delay=max(reach, 0))
        self.program = program

    async def load_inputs(self, trains):
        """Write the input source's spike trains and set NUM_STEPS to their length."""
        trains.validate(self.config)
        await self.write_window("in_ptr", trains.ptr, step=np.arange(len(trains.ptr)))
        if len(trains.neurons):
            await self.write_window("in_neurons", trains.neurons, spike=np.arange(len(trains.neurons)))
        await self.write_reg("NUM_STEPS", value=trains.steps)
        self.steps = trains.steps

    async def read_spikes(self, counters):
        """Each core's recorded spikes as ``{"core<k>": (step, neuron) rows}``; ``counters`` gives their number."""
        if self.steps is None:
            raise DriverStateError("No spikes to read: load a program and inputs and run first")
        cfg = self.config
        bits = max(int(cfg.neurons - 1).bit_length(), 1)
        out = {}
        for k in range(cfg.cores):
            n = min(int(counters["spikes"][k]), cfg.max_spikes)
            words = await self.read_window(f"spikes{k}", spike=np.arange(n)) if n else np.zeros(0, dtype=np.int64)
            out[f"core{k}"] = np.stack([words >> bits, words & ((1 << bits) - 1)], axis=1).reshape(-1, 2)
        return out

    # The job loop's steps

    async def load(self, job):
        await self.load_program(job.program)

    async def prepare(self, job, run):
        mode, trains = job.run_input(run)
        await self.load_inputs(trains)
        await self.write_reg("MODE", code=mode)

    def timeout_cycles(self, job, run):
        _, trains = job.run_input(run)
        cfg = self.config
        work = sum(len(c.fanout) for c in job.program.cores) + len(job.program.input_fanout)
        per_step = cfg.cores * (cfg.groups * (cfg.axons + 3) + cfg.neurons * 4 + cfg.cores + 8) + work
        return self.TIMEOUT_FIXED + 4 * trains.steps * per_step + 4 * len(trains.neurons)

    async def read_outputs(self, job, run):
        return await self.read_spikes(await self.read_counters())
