"""Small gateware helpers shared by the SNN engine's parts: memory port signatures and multiplexer chains."""

from amaranth.hdl import Mux
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["read_port", "write_port", "pick", "any_of"]


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
