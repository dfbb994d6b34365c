"""Element layouts of the SNN engine's windows and its packet format (the data both the engine and the driver use)."""

from amaranth.hdl import Shape, unsigned
from amaranth.lib import data
from amaranth.utils import ceil_log2

from pimgen.layout import WindowLayout
from pimgen.snn.config import FANOUT_DELAY_BITS
from .codes import PacketKind

__all__ = ["weight_layout", "bias_layout", "fanout_ptr_layout", "fanout_layout", "fanout_entry_layout",
           "spike_layout", "spike_record_layout", "in_ptr_layout", "in_neuron_layout", "in_fanout_ptr_layout",
           "packet_layout", "routed_layout", "FANOUT_DELAY_BITS"]


def _bits(n):
    return max(ceil_log2(n), 1)


def weight_layout(config):
    """``W[axon, neuron]`` of one core: ``lanes`` banks, word ``axon * groups + neuron // lanes``."""
    return WindowLayout([("axon", config.axons), ("neuron", config.neurons)], element_bits=config.weight_bits,
                        signed=True, banks=config.lanes, banked="neuron", packed=True)


def bias_layout(config):
    """``bias[neuron]`` of one core: ``lanes`` banks, word ``neuron // lanes``."""
    return WindowLayout([("neuron", config.neurons)], element_bits=config.potential_bits, signed=True,
                        banks=config.lanes, banked="neuron", packed=True)


def fanout_ptr_layout(config, neurons):
    """``ptr[neuron]`` (``neurons + 1`` offsets into the fan-out table)."""
    return WindowLayout([("index", neurons + 1)], element_bits=ceil_log2(config.max_fanout + 1), signed=False)


def fanout_entry_layout(config):
    """One fan-out entry as the hardware reads it: the fields of ``config.fanout_fields`` (delay, axon, destination
    core, least significant first), the packing the host writes with ``pimgen.snn.program.encode_fanout``."""
    return data.StructLayout({name: unsigned(bits) for name, bits in config.fanout_fields})


def fanout_layout(config):
    """Fan-out entries ``(core, axon, delay)``, one :func:`fanout_entry_layout` word per element."""
    return WindowLayout([("entry", config.max_fanout)], element_bits=Shape.cast(fanout_entry_layout(config)).width,
                        signed=False)


def spike_record_layout(config):
    """One spike-record word as a core writes it: the fields of ``config.spike_fields`` (neuron, then step), which
    the host reads with ``pimgen.snn.program.decode_spikes``."""
    return data.StructLayout({name: unsigned(bits) for name, bits in config.spike_fields})


def spike_layout(config):
    """The spike record of one core: a :func:`spike_record_layout` word per spike, in the order the core fired."""
    return WindowLayout([("spike", config.max_spikes)], element_bits=Shape.cast(spike_record_layout(config)).width,
                        signed=False)


def in_ptr_layout(config):
    """The input source's ``ptr[step]`` (``max_steps + 1`` offsets into its spike list)."""
    return WindowLayout([("step", config.max_steps + 1)], element_bits=ceil_log2(config.max_input_spikes + 1),
                        signed=False)


def in_neuron_layout(config):
    """The input source's spiking neurons, step after step."""
    return WindowLayout([("spike", config.max_input_spikes)], element_bits=_bits(config.input_neurons), signed=False)


def in_fanout_ptr_layout(config):
    """The input source's ``ptr[neuron]`` (``input_neurons + 1`` offsets into its fan-out table ``in_fanout``)."""
    return fanout_ptr_layout(config, config.input_neurons)


def packet_layout(config):
    """A packet as a core receives it: kind, source (0..K, K the input source), axon, tag (a step)."""
    return data.StructLayout({
        "kind": PacketKind,
        "source": unsigned(ceil_log2(config.sources)),
        "axon": unsigned(_bits(config.axons)),
        "tag": unsigned(config.step_bits),
    })


def routed_layout(config):
    """A packet as a source sends it: its destination core and the packet."""
    return data.StructLayout({"dest": unsigned(_bits(config.cores)), "packet": packet_layout(config)})
