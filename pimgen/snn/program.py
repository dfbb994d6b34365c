"""What the SNN engine runs: a compiled program (per-core weights, neuron parameters, fan-out tables; the input
source's fan-out) and the input spike trains, with the checks both the driver and the golden model apply (NumPy only).

A program is what ``pimgen.snn.compiler`` produces from a network of populations and projections; it can also be
written by hand (tests do). Every check raises :class:`~pimgen.errors.InputError` naming the core, the table and
the limit.
"""

from dataclasses import dataclass, field

import numpy as np

from ..arrays import int_codes
from ..errors import InputError, InputTypeError
from .config import RESET_MODES, SnnConfig

__all__ = ["CoreProgram", "SnnProgram", "SpikeTrains", "NO_EDGE", "encode_fanout", "decode_spikes"]

#: ``SnnProgram.dependencies`` entry for "no edge from this source".
NO_EDGE = -1


def encode_fanout(config, entries):
    """Fan-out words of ``(core, axon, delay)`` rows ``[E, 3]``, packed as :attr:`SnnConfig.fanout_fields` says (the
    layout the hardware decodes, ``hw.snn.layouts.fanout_entry_layout``); int64 ``[E]``."""
    entries = np.asarray(entries, dtype=np.int64).reshape(-1, 3)
    columns = {"core": entries[:, 0], "axon": entries[:, 1], "delay": entries[:, 2]}
    words, shift = np.zeros(len(entries), dtype=np.int64), 0
    for name, bits in config.fanout_fields:
        words |= columns[name] << shift
        shift += bits
    return words


def decode_spikes(config, words):
    """``(step, neuron)`` rows ``[S, 2]`` of spike-record words, unpacked as :attr:`SnnConfig.spike_fields` says (the
    layout the hardware writes, ``hw.snn.layouts.spike_record_layout``)."""
    words = np.asarray(words, dtype=np.int64).reshape(-1)
    fields, shift = {}, 0
    for name, bits in config.spike_fields:
        fields[name] = (words >> shift) & ((1 << bits) - 1)
        shift += bits
    return np.stack([fields["step"], fields["neuron"]], axis=1)


def _fanout(name, ptr, entries, config, rows):
    """Check a fan-out table: ``ptr[rows + 1]`` offsets into ``entries[E, 3]`` of ``(core, axon, delay)``."""
    ptr = int_codes(ptr, f"{name} fanout_ptr", 1, 0, config.max_fanout, "offset")
    if ptr.shape != (rows + 1,) or ptr[0] != 0 or (np.diff(ptr) < 0).any():
        raise InputError(f"{name} fanout_ptr must be {rows + 1} non-decreasing offsets from 0, not {ptr.tolist()[:8]}"
                         + ("..." if len(ptr) > 8 else ""))
    entries = np.asarray(entries if entries is not None else [])
    if entries.size == 0:
        entries = np.zeros((0, 3), dtype=np.int64)
    if entries.ndim != 2 or entries.shape[1] != 3:
        raise InputError(f"{name} fanout must be an E x 3 array of (core, axon, delay), not shape {entries.shape}")
    if len(entries) != ptr[-1]:
        raise InputError(f"{name} fanout has {len(entries)} entries but fanout_ptr ends at {ptr[-1]}")
    if len(entries) > config.max_fanout:
        raise InputError(f"{name} fanout has {len(entries)} entries, more than max_fanout = {config.max_fanout}")
    entries = int_codes(entries, f"{name} fanout", 2, 0, max(config.cores, config.axons, config.max_delay + 1), "")
    for col, what, hi in ((0, "core", config.cores - 1), (1, "axon", config.axons - 1),
                          (2, "delay", config.max_delay)):
        bad = np.flatnonzero(entries[:, col] > hi)
        if bad.size:
            raise InputError(f"{name} fanout[{bad[0]}] has {what} {entries[bad[0], col]}, beyond 0..{hi}")
    return ptr, entries


@dataclass
class CoreProgram:
    """One core: weights ``W[axon, neuron]``, per-neuron ``bias``, its ``threshold``, ``leak`` and ``reset``, and the
    fan-out of its neurons (``fanout[fanout_ptr[n]:fanout_ptr[n + 1]]`` are neuron ``n``'s ``(core, axon, delay)``).
    Arrays smaller than the core (fewer neurons or axons) are padded with zeros by :meth:`validate`."""
    weights: np.ndarray
    bias: np.ndarray
    threshold: int
    leak: int
    reset: str = "zero"
    fanout_ptr: np.ndarray = None
    fanout: np.ndarray = None

    def validate(self, config, name):
        lo, hi = config.weight_range
        w = int_codes(self.weights, f"{name} weights", 2, lo, hi, f"{config.weight_bits}-bit signed weight")
        if w.shape[0] > config.axons or w.shape[1] > config.neurons:
            raise InputError(f"{name} weights are {w.shape[0]} x {w.shape[1]}, larger than a core's axons x neurons "
                             f"= {config.axons} x {config.neurons}")
        self.weights = np.zeros((config.axons, config.neurons), dtype=np.int64)
        self.weights[:w.shape[0], :w.shape[1]] = w
        plo, phi = config.potential_range
        bias = int_codes(self.bias, f"{name} bias", 1, plo, phi, f"{config.potential_bits}-bit signed potential")
        if len(bias) > config.neurons:
            raise InputError(f"{name} bias has {len(bias)} entries, more than neurons = {config.neurons}")
        self.bias = np.zeros(config.neurons, dtype=np.int64)
        self.bias[:len(bias)] = bias
        for what, value, lo, hi in (("threshold", self.threshold, 1, phi), ("leak", self.leak, 0,
                                                                             config.potential_bits - 1)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
                raise InputError(f"{name} {what} must be an integer in {lo}..{hi}, not {value!r}")
        self.threshold, self.leak = int(self.threshold), int(self.leak)
        if self.reset not in RESET_MODES:
            raise InputError(f"{name} reset must be one of {', '.join(RESET_MODES)}, not {self.reset!r}")
        if self.fanout_ptr is None:
            self.fanout_ptr = np.zeros(config.neurons + 1, dtype=np.int64)
        ptr = np.asarray(self.fanout_ptr)
        if ptr.ndim == 1 and len(ptr) < config.neurons + 1:            # fewer neurons: no fan-out for the rest
            ptr = np.concatenate([ptr, np.full(config.neurons + 1 - len(ptr), ptr[-1] if len(ptr) else 0)])
        self.fanout_ptr, self.fanout = _fanout(name, ptr, self.fanout, config, config.neurons)


@dataclass
class SnnProgram:
    """A whole program: one :class:`CoreProgram` per core (``cores`` of them; missing ones are idle) and the input
    source's fan-out (``input_fanout_ptr[input_neurons + 1]``, ``input_fanout[E, 3]``)."""
    cores: list
    input_fanout_ptr: np.ndarray
    input_fanout: np.ndarray
    name: str = "snn"
    #: ``[cores, sources]``: the smallest delay of the edges from each source into each core (NO_EDGE: none); a core
    #: waits for a source's token of step ``t - dependencies[k, p]`` (docs/snn.md, rule 1). Set by :meth:`validate`.
    dependencies: np.ndarray = field(default=None, repr=False)
    #: ``[cores, sources]``: the largest such delay; a source's spikes reach that far ahead (rule 2, credits).
    credit_delays: np.ndarray = field(default=None, repr=False)

    def validate(self, config):
        """Check every table against ``config``, pad to the config's sizes, and derive :attr:`dependencies`."""
        if not isinstance(config, SnnConfig):
            raise InputTypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        if not isinstance(self.cores, (list, tuple)) or not all(isinstance(c, CoreProgram) for c in self.cores):
            raise InputTypeError("Program cores must be a list of CoreProgram")
        if len(self.cores) > config.cores:
            raise InputError(f"The program needs {len(self.cores)} cores, the engine has cores = {config.cores}")
        self.cores = list(self.cores) + [CoreProgram(np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64),
                                                     1, 0) for _ in range(config.cores - len(self.cores))]
        for k, core in enumerate(self.cores):
            core.validate(config, f"core {k}")
        ptr = np.asarray(self.input_fanout_ptr)
        if ptr.ndim == 1 and len(ptr) < config.input_neurons + 1:
            ptr = np.concatenate([ptr, np.full(config.input_neurons + 1 - len(ptr), ptr[-1] if len(ptr) else 0)])
        self.input_fanout_ptr, self.input_fanout = _fanout("input source", ptr, self.input_fanout, config,
                                                           config.input_neurons)
        self._check_axons(config)
        self.dependencies = self._dependencies(config)
        self._check_zero_delay_cycles(config)
        return self

    def fanouts(self):
        """``(fanout_ptr, fanout)`` of every source: the cores in order, then the input source."""
        return [(c.fanout_ptr, c.fanout) for c in self.cores] + [(self.input_fanout_ptr, self.input_fanout)]

    def _check_axons(self, config):
        """Each axon of a core is fed by one (source, neuron, delay) at most, so that it spikes at most once per
        step (docs/snn.md)."""
        seen = {}
        for p, (ptr, entries) in enumerate(self.fanouts()):
            owner = np.repeat(np.arange(len(ptr) - 1), np.diff(ptr))
            for (core, axon, delay), n in zip(entries.tolist(), owner.tolist()):
                key = (core, axon)
                if key in seen and seen[key] == (p, n, delay):
                    raise InputError(f"Source {p} neuron {n} lists axon {axon} of core {core} twice (delay {delay}): "
                                     "it would spike twice into one axon in one step")
                if key in seen and seen[key] != (p, n, delay):
                    raise InputError(f"Axon {axon} of core {core} is fed twice (by source {seen[key][0]} neuron "
                                     f"{seen[key][1]} and source {p} neuron {n}); every (source neuron, delay) needs "
                                     "its own axon")
                seen[key] = (p, n, delay)

    def _dependencies(self, config):
        """``dep[k, p]``: the smallest delay of an edge from source ``p`` into core ``k``, or NO_EDGE; also sets
        :attr:`credit_delays`, the largest."""
        dep = np.full((config.cores, config.sources), NO_EDGE, dtype=np.int64)
        largest = np.full((config.cores, config.sources), NO_EDGE, dtype=np.int64)
        for p, (_, entries) in enumerate(self.fanouts()):
            for core, _, delay in entries.tolist():
                if dep[core, p] == NO_EDGE or delay < dep[core, p]:
                    dep[core, p] = delay
                largest[core, p] = max(largest[core, p], delay)
        self.credit_delays = largest
        return dep

    def _check_zero_delay_cycles(self, config):
        """Zero-delay edges must not form a cycle (a core would wait on itself within one step)."""
        zero = {k: [p for p in range(config.cores) if self.dependencies[k, p] == 0] for k in range(config.cores)}
        state = {}

        def visit(k, path):
            state[k] = "open"
            for p in zero[k]:
                if state.get(p) == "open":
                    cycle = path[path.index(p):] + [p]
                    raise InputError("Zero-delay edges form a cycle between cores "
                                     + " -> ".join(map(str, reversed(cycle)))
                                     + ": within one step each would wait on the other; give one edge a delay >= 1")
                if p not in state:
                    visit(p, path + [p])
            state[k] = "done"

        for k in range(config.cores):
            if k not in state:
                visit(k, [k])

    def zero_delay_order(self, config):
        """The cores in an order where every zero-delay source comes before the cores it feeds."""
        order, placed = [], set()
        while len(order) < config.cores:
            for k in range(config.cores):
                if k not in placed and all(p in placed for p in range(config.cores)
                                           if self.dependencies[k, p] == 0):
                    order.append(k)
                    placed.add(k)
        return order


@dataclass
class SpikeTrains:
    """The input source's spikes: in step ``t`` the neurons ``neurons[ptr[t]:ptr[t + 1]]`` spike (``steps`` steps)."""
    ptr: np.ndarray
    neurons: np.ndarray

    @classmethod
    def from_raster(cls, raster):
        """From a boolean raster ``[steps, input_neurons]``."""
        raster = np.asarray(raster, dtype=bool)
        steps, neurons = np.nonzero(raster)
        return cls(np.concatenate([[0], np.cumsum(raster.sum(axis=1))]).astype(np.int64), neurons.astype(np.int64))

    @property
    def steps(self):
        return len(self.ptr) - 1

    def validate(self, config):
        """Check the trains against ``config`` (steps, spikes, neurons); an error names the config's limit."""
        ptr = np.asarray(self.ptr)
        if ptr.ndim == 1 and len(ptr) and np.issubdtype(ptr.dtype, np.number) and ptr[-1] > config.max_input_spikes:
            raise InputError(f"The input has {ptr[-1]} spikes, more than max_input_spikes = "
                             f"{config.max_input_spikes}")
        ptr = int_codes(self.ptr, "input spike ptr", 1, 0, config.max_input_spikes, "offset")
        if len(ptr) < 2 or ptr[0] != 0 or (np.diff(ptr) < 0).any():
            raise InputError("input spike ptr must be steps + 1 non-decreasing offsets from 0 (at least one step)")
        if len(ptr) - 1 > config.max_steps:
            raise InputError(f"The input has {len(ptr) - 1} steps, more than max_steps = {config.max_steps}")
        neurons = np.asarray(self.neurons)
        if neurons.size == 0:
            neurons = np.zeros(0, dtype=np.int64)
        neurons = int_codes(neurons, "input spike neurons", 1, 0, config.input_neurons - 1, "input neuron")
        if len(neurons) != ptr[-1]:
            raise InputError(f"input spike neurons has {len(neurons)} entries but ptr ends at {ptr[-1]}")
        for t in range(len(ptr) - 1):
            step = neurons[ptr[t]:ptr[t + 1]]
            if len(np.unique(step)) != len(step):
                raise InputError(f"input neuron {step[np.argmax(np.bincount(step))]} spikes twice in step {t}")
        self.ptr, self.neurons = ptr, neurons
        return self
