"""Sends one spiking neuron's packets: the fan-out walk shared by the cores and the input source."""

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from pimgen.snn.config import SnnConfig
from .codes import PacketKind
from .layouts import FANOUT_DELAY_BITS, routed_layout

__all__ = ["FanoutEmitter", "read_port", "write_port", "decode_fanout"]


def read_port(addr_shape, data_shape):
    """Signature of a synchronous memory read port, seen from the reader: ``data`` shows the word at ``addr`` one
    cycle after a cycle with ``en``, and holds while ``en`` is low."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": In(data_shape)})


def write_port(addr_shape, data_shape):
    """Signature of a memory write port, seen from the writer."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": Out(data_shape)})


def decode_fanout(config, entry):
    """``(core, axon, delay)`` of a packed fan-out entry (see ``hw.snn.layouts.fanout_layout``)."""
    axon_bits = max(ceil_log2(config.axons), 1)
    delay = entry[:FANOUT_DELAY_BITS]
    axon = entry[FANOUT_DELAY_BITS:FANOUT_DELAY_BITS + axon_bits]
    core = entry[FANOUT_DELAY_BITS + axon_bits:]
    return core, axon, delay


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
    3 cycles to the first packet (two offset reads and the first entry), then one packet per cycle; ``2 + entries``
    cycles per neuron with no back pressure, 3 for a neuron without fan-out.
    """

    def __init__(self, config, neurons, source):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {config!r}")
        self._config = config
        self._source = source
        ptr_shape = unsigned(ceil_log2(config.max_fanout + 1))
        super().__init__({
            "start": In(1),
            "neuron": In(range(max(neurons, 2))),
            "step": In(unsigned(config.step_bits)),
            "busy": Out(1),
            "fanout_ptr": Out(read_port(range(neurons + 1), ptr_shape)),
            "fanout": Out(read_port(range(max(config.max_fanout, 2)), unsigned(config.fanout_entry_bits))),
            "send": Out(stream.Signature(routed_layout(config))),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        neuron = Signal.like(self.neuron)
        step = Signal.like(self.step)
        entry = Signal(range(cfg.max_fanout + 1))
        end = Signal(range(cfg.max_fanout + 1))
        core, axon, delay = decode_fanout(cfg, self.fanout.data)
        m.d.comb += [
            self.send.payload.dest.eq(core),
            self.send.payload.packet.kind.eq(PacketKind.SPIKE),
            self.send.payload.packet.source.eq(self._source),
            self.send.payload.packet.axon.eq(axon),
            self.send.payload.packet.tag.eq(step + delay),
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
