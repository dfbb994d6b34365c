"""The 32-bit register bus every engine exposes, and an address decoder for it.

Protocol (one transaction at a time, like Wishbone classic):

* The master drives ``addr`` (a word address), and either ``w_en`` with ``w_data`` or ``r_en``, and holds them
  until it sees ``ack``.
* The slave raises ``ack`` for exactly one cycle when the transaction completes. For a read, ``r_data`` is valid in
  that cycle. A slave may acknowledge in the same cycle as the request (combinational ack) or later.
* The cycle after ``ack`` the master may present the next request (or drop ``w_en``/``r_en``). A slave must not take
  a request it has just acknowledged a second time: slaves with a registered ack keep a ``pending`` state.
* ``w_en`` and ``r_en`` are never raised together.

Throughput: one write per cycle for slaves that acknowledge writes combinationally (the CSR block and the memory
windows do), one read per two cycles (reads come from synchronous memories).
"""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pimgen.layout import DATA_WIDTH

__all__ = ["BusSignature", "BusDecoder", "DATA_WIDTH"]


class BusSignature(wiring.Signature):
    """Register bus signature, seen from the master.

    Members
    -------
    addr : Out(addr_width)
        Word address.
    w_data : Out(32)
        Write data.
    w_en : Out(1)
        Write request.
    r_en : Out(1)
        Read request.
    r_data : In(32)
        Read data, valid while ``ack``.
    ack : In(1)
        Transaction done.
    """

    def __init__(self, addr_width):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int):
            raise TypeError(f"Address width must be a non-negative integer, not {addr_width!r}")
        if addr_width < 0:
            raise ValueError(f"Address width must be a non-negative integer, not {addr_width}")
        self._addr_width = addr_width
        super().__init__({
            "addr":   Out(max(addr_width, 1)),
            "w_data": Out(DATA_WIDTH),
            "w_en":   Out(1),
            "r_en":   Out(1),
            "r_data": In(DATA_WIDTH),
            "ack":    In(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    def __eq__(self, other):
        return isinstance(other, BusSignature) and other.addr_width == self.addr_width

    def __hash__(self):
        return hash(("BusSignature", self._addr_width))

    def __repr__(self):
        return f"BusSignature({self._addr_width})"


class BusDecoder(wiring.Component):
    """Splits one bus into windows at aligned, power-of-two sized address ranges.

    Windows are added with :meth:`add` before elaboration; each gets a base address aligned to its size. An access
    to an address no window covers is acknowledged at once, reads returning 0, and pulses ``unmapped``.

    Parameters
    ----------
    addr_width : int
        Width of the upstream address; must cover every window.

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        Upstream bus (from the host bridge or testbench).
    unmapped : Out(1)
        One-cycle pulse on an access outside every window.
    """

    def __init__(self, addr_width):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int):
            raise TypeError(f"Address width must be an integer in 0..32, not {addr_width!r}")
        if not 0 <= addr_width <= 32:
            raise ValueError(f"Address width must be an integer in 0..32, not {addr_width}")
        self._addr_width = addr_width
        self._windows = []  # (name, base, size_bits, bus)
        self._next_free = 0
        super().__init__({"bus": In(BusSignature(addr_width)), "unmapped": Out(1)})

    @property
    def addr_width(self):
        return self._addr_width

    def add(self, name, addr_width, base=None):
        """Reserve a window of ``2**addr_width`` words; returns ``(base, downstream bus)``.

        ``base`` (optional) places the window at a chosen address, which must be aligned to its size and must not
        overlap another window; by default the window goes at the next free aligned address. The returned bus is a
        master interface (``BusSignature(addr_width).create()``): connect it to the slave.
        """
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Window name must be an identifier, not {name!r}")
        if any(name == other for other, *_ in self._windows):
            raise ValueError(f"Window name must be unique, not {name!r} a second time")
        if isinstance(addr_width, bool) or not isinstance(addr_width, int):
            raise TypeError(f"Window {name!r} address width must be a non-negative integer, not {addr_width!r}")
        if addr_width < 0:
            raise ValueError(f"Window {name!r} address width must be a non-negative integer, not {addr_width}")
        size = 1 << addr_width
        if base is None:
            base = -(-self._next_free // size) * size
        elif isinstance(base, bool) or not isinstance(base, int) or base < 0 or base % size:
            raise ValueError(f"Window {name!r} base must be a non-negative multiple of its size {size}, "
                             f"not {base!r}")
        if base + size > (1 << self._addr_width):
            raise ValueError(f"Window {name!r} of {size} words does not fit below 2**{self._addr_width}")
        for other, other_base, other_bits, _ in self._windows:
            if base < other_base + (1 << other_bits) and other_base < base + size:
                raise ValueError(f"Window {name!r} at {base:#x}..{base + size - 1:#x} must not overlap window "
                                 f"{other!r} at {other_base:#x}..{other_base + (1 << other_bits) - 1:#x}")
        sub = BusSignature(addr_width).create(path=(name,))
        self._windows.append((name, base, addr_width, sub))
        self._next_free = max(self._next_free, base + size)
        return base, sub

    @property
    def windows(self):
        """``[(name, base, size_in_words)]`` in address order."""
        return [(name, base, 1 << bits) for name, base, bits, _ in self._windows]

    def elaborate(self, platform):
        m = Module()
        hit_any = Signal()
        for name, base, bits, sub in self._windows:
            hit = Signal(name=f"hit_{name}")
            m.d.comb += [
                hit.eq((self.bus.addr >> bits) == (base >> bits)),
                sub.addr.eq(self.bus.addr[:max(bits, 1)] if bits else Const(0)),
                sub.w_data.eq(self.bus.w_data),
                sub.w_en.eq(hit & self.bus.w_en),
                sub.r_en.eq(hit & self.bus.r_en),
            ]
            with m.If(hit):
                m.d.comb += [
                    hit_any.eq(1),
                    self.bus.r_data.eq(sub.r_data),
                    self.bus.ack.eq(sub.ack),
                ]
        with m.If(~hit_any & (self.bus.w_en | self.bus.r_en)):
            m.d.comb += [self.bus.ack.eq(1), self.unmapped.eq(1)]
        return m
