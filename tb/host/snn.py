"""Host driver of the SNN engine (simulation or board, through any backend), and its job."""

from dataclasses import dataclass

import numpy as np

from pimgen.errors import InputError, InputTypeError
from pimgen.snn.config import RESET_MODES, SNN_MODES, SnnConfig
from pimgen.snn.perf import ROUTER_LATENCY, source_work, step_work
from pimgen.snn.program import NO_EDGE, CoreProgram, SnnProgram, SpikeTrains, decode_spikes, encode_fanout
from .driver import DriverStateError, EngineDriver
from .job import Job

__all__ = ["SnnDriver", "SnnJob"]


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
    #: The timeout of a run (:meth:`timeout_cycles`) is this many times its worst case ...
    TIMEOUT_MARGIN = 2
    #: ... plus this many cycles (the start, the bus around a run, the last packets draining).
    TIMEOUT_FIXED = 10_000

    def __init__(self, backend, manifest, progress=None):
        super().__init__(backend, manifest, progress)
        self.program = None
        self.steps = None

    async def soft_reset(self):
        """Abort a run and return the registers to their reset values: the thresholds, leaks, resets, dependencies,
        ``MODE`` and ``NUM_STEPS`` are gone, so a program and inputs must be loaded again before the next run."""
        await super().soft_reset()
        self.program = None
        self.steps = None

    async def start(self):
        """Start a run of the loaded program on the loaded inputs."""
        if self.program is None or self.steps is None:
            raise DriverStateError("Load a program and inputs before running (a soft reset clears the program's "
                                   "registers)")
        await super().start()

    async def load_program(self, program):
        """Write every core's weights, biases, parameters and fan-out, the input source's fan-out and the
        dependency table."""
        cfg = self.config
        program.validate(cfg)
        self.program = self.steps = None
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
        out = {}
        for k in range(cfg.cores):
            n = min(int(counters["spikes"][k]), cfg.max_spikes)
            words = await self.read_window(f"spikes{k}", spike=np.arange(n)) if n else np.zeros(0, dtype=np.int64)
            out[f"core{k}"] = decode_spikes(cfg, words)
        return out

    # The job loop's steps

    async def load(self, job):
        await self.load_program(job.program)

    async def prepare(self, job, run):
        mode, trains = job.run_input(run)
        await self.load_inputs(trains)
        await self.write_reg("MODE", code=mode)

    def timeout_cycles(self, job, run):
        """Cycles a run may take before it counts as hung: :attr:`TIMEOUT_MARGIN` times its worst case, plus
        :attr:`TIMEOUT_FIXED`.

        The worst case adds up, per step, the most work every unit can have (``pimgen.snn.perf``): the input source
        its actual spikes of that step (:func:`~pimgen.snn.perf.source_work`); each core every neuron firing and a
        spike on every axon its fan-in reaches (:func:`~pimgen.snn.perf.step_work`); one unit after the other, as a
        chain of zero-delay edges or the barrier can make them. Each packet of the step (every fan-out entry, and a
        token per edge between units) may be held up: :data:`~pimgen.snn.perf.ROUTER_LATENCY` cycles in the router
        and one cycle for each other sender served before it by a receiver's round robin. The start (the potentials
        zeroed, ``groups`` cycles) comes once."""
        _, trains = job.run_input(run)
        cfg, program = self.config, job.program
        program.validate(cfg)
        fanouts = program.fanouts()
        fan_in = np.zeros(cfg.cores, dtype=np.int64)
        for _, entries in fanouts:
            fan_in += np.bincount(entries[:, 0], minlength=cfg.cores)[:cfg.cores]
        cores = sum(step_work(cfg, int(fan_in[k]), np.diff(fanouts[k][0]).tolist())[1] for k in range(cfg.cores))
        source_fan = np.diff(fanouts[cfg.cores][0])
        packets = sum(len(entries) for _, entries in fanouts) + int((program.dependencies >= 0).sum())
        per_packet = ROUTER_LATENCY + cfg.sources
        worst = 1 + cfg.groups
        for t in range(trains.steps):
            spiking = trains.neurons[trains.ptr[t]:trains.ptr[t + 1]]
            worst += source_work(cfg, source_fan[spiking].tolist())[1] + cores + packets * per_packet
        return self.TIMEOUT_FIXED + self.TIMEOUT_MARGIN * worst

    async def read_outputs(self, job, run):
        return await self.read_spikes(await self.read_counters())
