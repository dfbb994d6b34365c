"""A banked memory shared between an engine and the register bus."""

from amaranth.hdl import Module, Shape, Signal
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from amaranth.utils import ceil_log2

from pimgen.layout import WindowLayout
from .bus import DATA_WIDTH, BusSignature

__all__ = ["WindowedMemory", "HOST_BANK_PREFIX"]

#: Name prefix of the memories behind a window. rtl_gen drops their all-zero initial values from the Verilog
#: (the host loads them), and only theirs.
HOST_BANK_PREFIX = "host_bank"


class WindowedMemory(wiring.Component):
    """``banks`` synchronous memories of ``depth`` words, read (and optionally written) by the engine while it owns
    them, and by the bus while it does not.

    The bus sees the banks of a memory word in *slots* of ``elements_per_word`` elements: window address
    ``(word << slot_bits) | slot`` holds banks ``slot * elements_per_word + k`` at bits ``[k * width, (k + 1) *
    width)``. Unpacked (the default) a slot is one element, sign-extended on read when signed; packed, a 32-bit bus
    word carries ``min(banks, 32 // width)`` elements (two int16, four int8), so loading and reading back take 2 to
    4 times fewer bus transactions. Each bank has one write port and one read port, which is what a simple
    dual-port block RAM offers; the engine and the bus share them through a multiplexer selected by ``owner``.

    Parameters
    ----------
    shape : Shape
        Element shape (signed or unsigned, at most 32 bits).
    depth : int
        Words per bank.
    banks : int
        Elements read or written side by side by the engine (feature lanes).
    engine_write : bool
        Whether the engine writes the memory (result memories) or only reads it.
    packed : bool
        Several elements per bus word (see above).
    layout : WindowLayout, optional
        How the host's element indices map to banks and words (:class:`pimgen.layout.WindowLayout`); it goes into
        the manifest, and the engine computes its addresses with ``layout.bank_word``. Its depth, banks, element
        shape and packing must agree with the other parameters (use :meth:`from_layout`). By default one dimension,
        ``index``, of ``depth * banks`` elements, spread over the banks.

    Interface attributes
    --------------------
    bus : In(BusSignature(ceil_log2(depth) + slot_bits))
        Host access. Writes are acknowledged in the same cycle, reads one cycle later. While ``owner`` is high an
        access is acknowledged at once and dropped (reads return 0), and ``dropped`` pulses.
    owner : In(1)
        High while the engine owns the memory.
    dropped : Out(1)
    rd_addr : In(range(max(depth, 2))), rd_en : In(1), rd_data : Out(ArrayLayout(shape, banks))
        Engine read port: ``rd_data`` shows the word at ``rd_addr`` one cycle after a cycle with ``rd_en``, and holds
        while ``rd_en`` is low.
    wr_addr : In(range(max(depth, 2))), wr_en : In(1), wr_data : In(ArrayLayout(shape, banks))
        Engine write port (only with ``engine_write``): the banks set in ``wr_mask`` (all by default).
    wr_mask : In(banks)
        Banks the engine write port writes (only with ``engine_write``); unconnected it writes all of them.

    With ``copies`` > 1 the memory is held ``copies`` times, one copy per engine port (one per processing element, so
    that they never wait on each other): a bus write goes to every copy, a bus read comes from copy ``bus_copy``, and
    each engine port above becomes an array of ``copies`` (``rd_addr[i]`` ...). Then also:

    bus_copy : In(range(copies))
        The copy a bus read returns (sampled with the request); the engine derives it from ``bus_word``.
    bus_word : Out(range(max(depth, 2)))
        The word the bus addresses now.

    (Addresses are at least one bit wide even for a one-word memory: a zero-width vector is `[-1:0]` in Verilog.)
    """

    def __init__(self, shape, depth, banks=1, engine_write=False, packed=False, layout=None, copies=1):
        shape = Shape.cast(shape)
        if shape.width > DATA_WIDTH:
            raise ValueError(f"Element width {shape.width} is wider than the {DATA_WIDTH}-bit bus")
        for what, value in (("Depth", depth), ("Banks", banks), ("Copies", copies)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{what} must be a positive integer, not {value!r}")
            if value < 1:
                raise ValueError(f"{what} must be a positive integer, not {value}")
        default = WindowLayout([("index", depth * banks)], element_bits=shape.width, signed=shape.signed,
                               banks=banks, banked="index", packed=packed)
        if layout is None:
            layout = default
        elif not isinstance(layout, WindowLayout):
            raise TypeError(f"Layout must be a WindowLayout, not {layout!r}")

        def storage(lay):
            return lay.element_bits, lay.signed, lay.banks, lay.depth, lay.elements_per_word, lay.slot_bits
        if storage(layout) != storage(default):
            raise ValueError(f"Layout {layout!r} of depth {layout.depth} does not describe a memory of {shape!r}, "
                             f"depth {depth}, {banks} banks, packed={packed}")
        self._layout = layout
        self._shape = shape
        self._depth = depth
        self._banks = banks
        self._engine_write = engine_write
        self._per_word = min(banks, DATA_WIDTH // shape.width) if packed else 1
        self._slots = -(-banks // self._per_word)
        self._slot_bits = ceil_log2(self._slots)
        word_bits = max(ceil_log2(depth), 1)
        self._copies = copies
        engine_ports = {
            "rd_addr": In(range(max(depth, 2))),
            "rd_en":   In(1),
            "rd_data": Out(data.ArrayLayout(shape, banks)),
        }
        if engine_write:
            engine_ports.update({
                "wr_addr": In(range(max(depth, 2))),
                "wr_en":   In(1),
                "wr_data": In(data.ArrayLayout(shape, banks)),
                "wr_mask": In(banks, init=(1 << banks) - 1),
            })
        if copies > 1:
            engine_ports = {name: member.array(copies) for name, member in engine_ports.items()}
            engine_ports.update({"bus_copy": In(range(copies)), "bus_word": Out(range(max(depth, 2)))})
        super().__init__({
            "bus":     In(BusSignature(word_bits + self._slot_bits)),
            "owner":   In(1),
            "dropped": Out(1),
            **engine_ports,
        })

    @classmethod
    def from_layout(cls, layout, *, engine_write=False, copies=1):
        """The memory a :class:`~pimgen.layout.WindowLayout` describes."""
        shape = Shape(layout.element_bits, layout.signed)
        return cls(shape, layout.depth, layout.banks, engine_write=engine_write,
                   packed=layout.elements_per_word > 1, layout=layout, copies=copies)

    @property
    def copies(self):
        return self._copies

    @property
    def layout(self):
        return self._layout

    @property
    def shape(self):
        return self._shape

    @property
    def depth(self):
        return self._depth

    @property
    def banks(self):
        return self._banks

    @property
    def elements_per_word(self):
        return self._per_word

    @property
    def slot_bits(self):
        return self._slot_bits

    def engine_port(self, name, copy):
        """Engine port ``name`` (``rd_addr``, ``rd_data``, ...) of copy ``copy``: the port itself when the memory has
        one copy, else its element ``copy``."""
        port = getattr(self, name)
        return port[copy] if self._copies > 1 else port

    def elaborate(self, platform):
        m = Module()
        slot_bits, per_word, width = self._slot_bits, self._per_word, self._shape.width
        word = self.bus.addr[slot_bits:]
        slot = self.bus.addr[:slot_bits] if slot_bits else 0
        host = ~self.owner
        pending = Signal()
        pending_slot = Signal(max(slot_bits, 1))
        pending_copy = Signal(range(self._copies)) if self._copies > 1 else None

        request = self.bus.w_en | (self.bus.r_en & ~pending)
        m.d.comb += self.dropped.eq(self.owner & request)
        m.d.comb += self.bus.ack.eq(self.bus.w_en | pending | (self.owner & self.bus.r_en))
        m.d.sync += pending.eq(host & self.bus.r_en & ~pending)
        m.d.sync += pending_slot.eq(slot)
        if self._copies > 1:
            m.d.comb += self.bus_word.eq(word)
            m.d.sync += pending_copy.eq(self.bus_copy)

        for c in range(self._copies):
            rd_addr, rd_en, rd_data = (self.engine_port(n, c) for n in ("rd_addr", "rd_en", "rd_data"))
            for i in range(self._banks):
                bank_slot, k = divmod(i, per_word)
                mem = Memory(shape=self._shape, depth=max(self._depth, 2), init=[])   # no zero-width address
                suffix = f"_{c}" if self._copies > 1 else ""
                m.submodules[f"{HOST_BANK_PREFIX}{i}{suffix}"] = mem
                rd = mem.read_port()
                wr = mem.write_port()
                element = rd.data
                m.d.comb += rd_data[i].eq(element)
                with m.If(host):
                    m.d.comb += [
                        rd.addr.eq(word),
                        rd.en.eq(self.bus.r_en & ~pending),
                        wr.addr.eq(word),
                        wr.data.eq(self.bus.w_data[k * width:(k + 1) * width]),
                        wr.en.eq(self.bus.w_en & (slot == bank_slot)),
                    ]
                    this_copy = (pending_copy == c) if pending_copy is not None else 1
                    with m.If(pending & (pending_slot == bank_slot) & this_copy):
                        if per_word > 1:
                            m.d.comb += self.bus.r_data[k * width:(k + 1) * width].eq(element.as_unsigned())
                        elif self._shape.signed:
                            m.d.comb += self.bus.r_data.eq(element.as_signed())
                        else:
                            m.d.comb += self.bus.r_data.eq(element)
                with m.Else():
                    m.d.comb += [rd.addr.eq(rd_addr), rd.en.eq(rd_en)]
                    if self._engine_write:
                        wr_addr, wr_en, wr_data, wr_mask = (self.engine_port(n, c)
                                                            for n in ("wr_addr", "wr_en", "wr_data", "wr_mask"))
                        m.d.comb += [
                            wr.addr.eq(wr_addr),
                            wr.data.eq(wr_data[i]),
                            wr.en.eq(wr_en & wr_mask[i]),
                        ]
        return m
