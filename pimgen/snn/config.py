"""Configuration of the many-core SNN processor (plain Python: imported by the design, the golden and the driver).

docs/snn.md gives the exact semantics every parameter enters; the golden model in ``sw_model.snn`` defines them.
"""

from dataclasses import dataclass
from typing import ClassVar

from ..config import MAX_MEMORY_BITS, ConfigError, EngineConfig, ceil_log2, check_int, param

__all__ = ["SnnConfig", "SNN_MODES", "RESET_MODES", "FANOUT_DELAY_BITS"]

#: Scheduling modes (the ``MODE`` register): per-core dependencies, or a global barrier every step.
SNN_MODES = ("async", "sync")
#: What a spike does to the potential (the ``RESET[k]`` registers).
RESET_MODES = ("zero", "subtract")
#: Bits of the delay field of a fan-out entry and of a ``DEP`` register (delays 0..7, the range of ``max_delay``).
FANOUT_DELAY_BITS = 3


def _bits(n):
    """Bits of an index in ``0..n - 1`` (at least 1)."""
    return max(ceil_log2(n), 1)


@dataclass(frozen=True)
class SnnConfig(EngineConfig):
    """Many-core integer LIF processor: ``cores`` cores of ``neurons`` neurons and ``axons`` input lines each, an input
    source replaying the host's spike trains, a router of FIFOs, and a scheduler per core (docs/snn.md)."""

    engine: ClassVar[str] = "snn"
    engine_code: ClassVar[int] = 3
    version: ClassVar[tuple] = (1, 0)

    cores: int = param(4, "neuron cores K (2..16)")
    neurons: int = param(64, "neurons per core N (16..256)")
    axons: int = param(128, "input lines (axons) per core A (16..1024)")
    lanes: int = param(4, "neurons a core updates or integrates per cycle (1..16, dividing neurons)")
    weight_bits: int = param(8, "signed synaptic weight width (2..16)")
    potential_bits: int = param(16, "signed membrane potential width V, saturating (8..32)")
    max_delay: int = param(1, "largest edge delay in timesteps (0..7)")
    step_slots: int = param(4, "timesteps of input spikes a core buffers (max_delay + 1..16)")
    fifo_depth: int = param(8, "depth of each router FIFO (2..64)")
    max_steps: int = param(64, "timesteps one run may take (1..4096)")
    input_neurons: int = param(64, "neurons of the input source (1..1024)")
    max_input_spikes: int = param(8192, "input spikes of one run (1..65536)")
    max_fanout: int = param(1024, "fan-out entries per core and of the input source (1..16384)")
    max_spikes: int = param(4096, "spikes a core records per run (1..65536)")

    def __post_init__(self):
        self._set("cores", check_int("cores", self.cores, 2, 16))
        self._set("neurons", check_int("neurons", self.neurons, 16, 256))
        self._set("axons", check_int("axons", self.axons, 16, 1024))
        self._set("lanes", check_int("lanes", self.lanes, 1, 16))
        if self.neurons % self.lanes:
            raise ConfigError("lanes", f"lanes must divide neurons ({self.neurons}), not {self.lanes}")
        self._set("weight_bits", check_int("weight_bits", self.weight_bits, 2, 16))
        self._set("potential_bits", check_int("potential_bits", self.potential_bits, 8, 32))
        self._set("max_delay", check_int("max_delay", self.max_delay, 0, 7))
        self._set("step_slots", check_int("step_slots", self.step_slots, self.max_delay + 1, 16))
        self._set("fifo_depth", check_int("fifo_depth", self.fifo_depth, 2, 64))
        self._set("max_steps", check_int("max_steps", self.max_steps, 1, 4096))
        self._set("input_neurons", check_int("input_neurons", self.input_neurons, 1, 1024))
        self._set("max_input_spikes", check_int("max_input_spikes", self.max_input_spikes, 1, 65536))
        self._set("max_fanout", check_int("max_fanout", self.max_fanout, 1, 16384))
        self._set("max_spikes", check_int("max_spikes", self.max_spikes, 1, 65536))
        if self.memory_bits > MAX_MEMORY_BITS:
            raise ConfigError("axons", f"The memories of this config would hold {self.memory_bits} bits, more than "
                                       f"the {MAX_MEMORY_BITS} (32 Mbit) pimgen generates; lower cores, axons, "
                                       "neurons or the record depths")

    # Derived quantities: the one place widths come from.

    @property
    def sources(self):
        """Packet sources: the K cores and the input source (number K)."""
        return self.cores + 1

    @property
    def groups(self):
        """Lane groups per core: neurons / lanes."""
        return self.neurons // self.lanes

    @property
    def potential_range(self):
        return (-(1 << (self.potential_bits - 1)), (1 << (self.potential_bits - 1)) - 1)

    @property
    def weight_range(self):
        return (-(1 << (self.weight_bits - 1)), (1 << (self.weight_bits - 1)) - 1)

    @property
    def acc_bits(self):
        """Width of the exact step accumulator u (docs/snn.md)."""
        return self.potential_bits + self.weight_bits + ceil_log2(self.axons + 1) + 1

    @property
    def step_bits(self):
        """Width of a step number or tag: holds max_steps - 1 + max_delay, and -1."""
        return ceil_log2(self.max_steps + self.max_delay + 1) + 1

    @property
    def slots(self):
        """Step slots as a core builds them: ``step_slots`` rounded up to a power of two (a slot is a tag's low
        bits)."""
        return 1 << ceil_log2(self.step_slots)

    @property
    def fanout_fields(self):
        """The fields of a packed fan-out entry, least significant first, as ``(name, bits)``: the delay, the axon and
        the destination core. The one definition of the packing: the hardware decodes with
        ``hw.snn.layouts.fanout_entry_layout``, the host encodes with ``pimgen.snn.program.encode_fanout``."""
        return (("delay", FANOUT_DELAY_BITS), ("axon", _bits(self.axons)), ("core", _bits(self.cores)))

    @property
    def fanout_entry_bits(self):
        """A fan-out entry: delay, axon, destination core (:attr:`fanout_fields`)."""
        return sum(bits for _, bits in self.fanout_fields)

    @property
    def spike_fields(self):
        """The fields of a spike-record word, least significant first, as ``(name, bits)``: the neuron and the step
        (``hw.snn.layouts.spike_record_layout`` writes them, ``pimgen.snn.program.decode_spikes`` reads them)."""
        return (("neuron", _bits(self.neurons)), ("step", self.step_bits))

    @property
    def memory_bits(self):
        """Bits of all memories as the hardware builds them: per core the weights, potentials, biases, input slots
        (:attr:`slots` of ``axons`` entries), fan-out and spike record; the input source's spike trains and fan-out."""
        per_core = (self.axons * self.neurons * self.weight_bits + 2 * self.neurons * self.potential_bits
                    + self.slots * self.axons * _bits(self.axons)
                    + (self.neurons + 1) * ceil_log2(self.max_fanout + 1) + self.max_fanout * self.fanout_entry_bits
                    + self.max_spikes * sum(bits for _, bits in self.spike_fields))
        source = ((self.max_steps + 1) * ceil_log2(self.max_input_spikes + 1)
                  + self.max_input_spikes * _bits(self.input_neurons)
                  + (self.input_neurons + 1) * ceil_log2(self.max_fanout + 1)
                  + self.max_fanout * self.fanout_entry_bits)
        return self.cores * per_core + source
