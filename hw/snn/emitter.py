"""Sends one spiking neuron's packets: the fan-out walk shared by the cores and the input source."""

import numbers

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from pimgen.snn.config import SnnConfig
from .codes import PacketKind
from .layouts import fanout_entry_layout, routed_layout
from .util import read_port

__all__ = ["FanoutEmitter"]


class FanoutEmitter(wiring.Component):
    """For neuron ``neuron`` spiking in step ``step``, sends a spike packet per fan-out entry ``(core, axon, delay)``:
    to ``core``, for ``axon``, tagged ``step + delay``, from source ``source``.

    Parameters
    ----------
    config : SnnConfig
    neurons : int
        Neurons of the owner (its ``fanout_ptr`` has ``neurons + 1`` entries).
    source : int
        The owner's source number (its core index, or K for the input source).

    Interface attributes
    --------------------
    start : In(1), neuron : In(range(neurons)), step : In(unsigned)
        A pulse starts the walk for ``neuron`` (sampled with it).
    busy : Out(1)
        High from the cycle after ``start`` until the last packet is accepted.
    fanout_ptr, fanout : Out(read_port)
        The owner's fan-out tables.
    send : Out(stream.Signature(routed_layout))
        The packets, one per cycle while the router takes them.

    Latency and throughput
    ----------------------
    The cycle ``start`` is high reads the neuron's first offset, the next cycle its last, the one after that the
    first entry (``busy`` high from the second cycle): the first packet is valid 3 cycles after the start, then one
    packet per cycle while ``send.ready`` is high. With no back pressure
    ``busy`` is high for ``2 + entries`` cycles (2 for a neuron without fan-out) and low again ``3 + entries`` cycles
    after the start. An owner that starts a neuron and waits for ``busy`` to fall (the cores and the input source)
    sees it low in that cycle, and can start the next neuron one cycle later: ``4 + entries`` cycles a neuron
    (``pimgen.snn.perf``).

    Raises
    ------
    TypeError
        ``config`` is not an :class:`SnnConfig`, ``neurons`` or ``source`` not an integer.
    ValueError
        ``neurons`` or ``source`` out of range.
    """

    def __init__(self, config, neurons, source):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        for name, value in (("Neurons", neurons), ("Source", source)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an integer, not {type(value).__name__}")
        if not 1 <= neurons <= max(config.neurons, config.input_neurons):
            raise ValueError(f"Neurons must be an integer in 1..{max(config.neurons, config.input_neurons)} (a "
                             f"core's or the input source's), not {neurons}")
        if not 0 <= source <= config.cores:
            raise ValueError(f"Source must be an integer in 0..{config.cores} (a core, or {config.cores} for the "
                             f"input source), not {source}")
        self._config = config
        self._neurons = int(neurons)
        self._source = int(source)
        ptr_shape = unsigned(ceil_log2(config.max_fanout + 1))
        super().__init__({
            "start": In(1),
            "neuron": In(range(max(neurons, 2))),
            "step": In(unsigned(config.step_bits)),
            "busy": Out(1),
            "fanout_ptr": Out(read_port(range(neurons + 1), ptr_shape)),
            "fanout": Out(read_port(range(max(config.max_fanout, 2)), fanout_entry_layout(config))),
            "send": Out(stream.Signature(routed_layout(config))),
        })

    @property
    def config(self):
        return self._config

    @property
    def neurons(self):
        return self._neurons

    @property
    def source(self):
        return self._source

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        neuron = Signal.like(self.neuron)
        step = Signal.like(self.step)
        entry = Signal(range(cfg.max_fanout + 1))
        end = Signal(range(cfg.max_fanout + 1))
        fields = self.fanout.data
        m.d.comb += [
            self.send.payload.dest.eq(fields.core),
            self.send.payload.packet.kind.eq(PacketKind.SPIKE),
            self.send.payload.packet.source.eq(self._source),
            self.send.payload.packet.axon.eq(fields.axon),
            self.send.payload.packet.tag.eq(step + fields.delay),
        ]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.comb += [self.fanout_ptr.addr.eq(self.neuron), self.fanout_ptr.en.eq(1)]
                    m.d.sync += [neuron.eq(self.neuron), step.eq(self.step)]
                    m.next = "FIRST"
            with m.State("FIRST"):
                m.d.comb += [self.busy.eq(1), self.fanout_ptr.addr.eq(neuron + 1), self.fanout_ptr.en.eq(1)]
                m.d.sync += entry.eq(self.fanout_ptr.data)
                m.next = "LAST"
            with m.State("LAST"):
                m.d.comb += self.busy.eq(1)
                m.d.sync += end.eq(self.fanout_ptr.data)
                with m.If(entry == self.fanout_ptr.data):
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += [self.fanout.addr.eq(entry), self.fanout.en.eq(1)]
                    m.next = "SEND"
            with m.State("SEND"):
                m.d.comb += [self.busy.eq(1), self.send.valid.eq(1)]
                with m.If(self.send.ready):
                    m.d.sync += entry.eq(entry + 1)
                    with m.If(entry + 1 == end):
                        m.next = "IDLE"
                    with m.Else():
                        m.d.comb += [self.fanout.addr.eq(entry + 1), self.fanout.en.eq(1)]
        return m
