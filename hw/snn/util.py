"""Small gateware helpers shared by the SNN engine's parts: memory port signatures and multiplexer chains."""

from amaranth.hdl import Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .codes import PacketKind

__all__ = ["read_port", "write_port", "pick", "any_of", "send_tokens"]


def read_port(addr_shape, data_shape):
    """Signature of a synchronous memory read port, seen from the reader: ``data`` shows the word at ``addr`` one
    cycle after a cycle with ``en``, and holds while ``en`` is low."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": In(data_shape)})


def write_port(addr_shape, data_shape):
    """Signature of a memory write port, seen from the writer."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": Out(data_shape)})


def pick(values, index):
    """``values[index]`` as a multiplexer chain (``values[0]`` for an index out of range)."""
    out = values[0]
    for n, value in enumerate(values[1:], start=1):
        out = Mux(index == n, value, out)
    return out


def any_of(values):
    """The OR of ``values`` (a non-empty sequence of 1-bit values)."""
    out = values[0]
    for value in values[1:]:
        out = out | value
    return out


def send_tokens(m, send, successors, dest, source, step, done_state):
    """The body of a TOKENS state (cores and the input source share it): offer a token tagged ``step`` from
    ``source`` to core ``dest`` if bit ``dest`` of ``successors`` is set, step ``dest`` (a counter from 0) on when
    it is taken or not wanted, and go to ``done_state`` after the last core. One cycle per core, plus one."""
    with m.If(dest == len(successors)):
        m.next = done_state
    with m.Else():
        wanted = successors.bit_select(dest, 1)
        m.d.comb += [
            send.valid.eq(wanted),
            send.payload.dest.eq(dest),
            send.payload.packet.kind.eq(PacketKind.TOKEN),
            send.payload.packet.source.eq(source),
            send.payload.packet.axon.eq(0),
            send.payload.packet.tag.eq(step.as_unsigned()),
        ]
        with m.If(~wanted | send.ready):
            m.d.sync += dest.eq(dest + 1)
