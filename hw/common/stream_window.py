"""A FIFO on the register bus: the host pushes elements into an engine's input stream, or pops its output stream,
while the engine runs (spike injection and readout, say)."""

from amaranth.hdl import Module, Mux, ResetInserter, Shape, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .bus import DATA_WIDTH, BusSignature

__all__ = ["StreamWindow", "STREAM_DATA", "STREAM_STATUS"]

#: Word offsets inside a stream window.
STREAM_DATA = 0
STREAM_STATUS = 1
#: Width of the level field of the STATUS word, and so the largest FIFO depth.
STATUS_BITS = 16
STATUS_MAX = (1 << STATUS_BITS) - 1


class StreamWindow(wiring.Component):
    """A ``depth``-entry FIFO between the bus and an engine stream, in one direction.

    Bus view (two words):

    =========  ========================================================================================================
    offset     meaning
    =========  ========================================================================================================
    0 (DATA)   ``"in"``: a write pushes the element (low ``width`` bits). ``"out"``: a read pops the oldest element
               (sign-extended when signed). A write to a full input FIFO or a read from an empty output FIFO is
               dropped (a read returns 0) and pulses ``dropped``, which the engine frame latches in
               ``STATUS.bus_error``.
    1 (STATUS) bits [STATUS_BITS-1:0]: ``"in"``: free entries; ``"out"``: entries waiting. Writes are ignored.
    =========  ========================================================================================================

    The window is never owned by the engine: the host may use it while a run is in progress. ``flush`` empties the
    FIFO (soft reset).

    Parameters
    ----------
    shape : Shape
        Element shape, at most 32 bits.
    depth : int
        FIFO entries (1..:data:`STATUS_MAX`).
    direction : str
        ``"in"`` (host to engine) or ``"out"`` (engine to host).

    Interface attributes
    --------------------
    bus : In(BusSignature(1))
        Writes are acknowledged in the cycle they are presented, reads one cycle later.
    stream : Out(stream.Signature(shape)) for ``"in"``, In(stream.Signature(shape)) for ``"out"``
        The engine's side.
    dropped : Out(1)
    flush : In(1)

    Latency: an element pushed by the bus is valid on ``stream`` two cycles later (the FIFO's output register);
    throughput one element per cycle on the engine side.
    """

    def __init__(self, shape, depth, direction):
        shape = Shape.cast(shape)
        if shape.width > DATA_WIDTH:
            raise ValueError(f"Element width must be at most {DATA_WIDTH} bits, not {shape.width}")
        if isinstance(depth, bool) or not isinstance(depth, int):
            raise TypeError(f"Depth must be an integer in 1..{STATUS_MAX}, not {depth!r}")
        if not 1 <= depth <= STATUS_MAX:
            raise ValueError(f"Depth must be an integer in 1..{STATUS_MAX}, not {depth}")
        if direction not in ("in", "out"):
            raise ValueError(f"Direction must be 'in' or 'out', not {direction!r}")
        self._shape = shape
        self._depth = depth
        self._direction = direction
        flow = Out if direction == "in" else In
        super().__init__({
            "bus": In(BusSignature(1)),
            "stream": flow(stream.Signature(shape)),
            "dropped": Out(1),
            "flush": In(1),
        })

    @property
    def shape(self):
        return self._shape

    @property
    def depth(self):
        return self._depth

    @property
    def direction(self):
        return self._direction

    def describe(self):
        """JSON-ready description for the manifest (kind ``fifo``)."""
        return {"kind": "fifo", "direction": self._direction, "element_bits": self._shape.width,
                "signed": self._shape.signed, "depth": self._depth, "data_offset": STREAM_DATA,
                "status_offset": STREAM_STATUS, "status_bits": STATUS_BITS}

    def elaborate(self, platform):
        m = Module()
        width = self._shape.width
        fifo = SyncFIFOBuffered(width=width, depth=self._depth)
        m.submodules.fifo = ResetInserter(self.flush)(fifo)

        at_data = self.bus.addr == STREAM_DATA
        pending = Signal()
        pending_data = Signal()
        read = self.bus.r_en & ~pending
        m.d.sync += [pending.eq(read), pending_data.eq(at_data)]
        m.d.comb += self.bus.ack.eq(self.bus.w_en | pending)

        level = Signal(STATUS_BITS)
        answer = Signal(DATA_WIDTH)                 # what a read in progress returns
        if self._direction == "in":
            push = self.bus.w_en & at_data
            m.d.comb += [
                fifo.w_data.eq(self.bus.w_data[:width]),
                fifo.w_en.eq(push),
                self.dropped.eq(push & ~fifo.w_rdy),
                level.eq(self._depth - fifo.level),
            ]
            wiring.connect(m, fifo.r_stream, wiring.flipped(self.stream))
            with m.If(read):
                m.d.sync += answer.eq(Mux(at_data, 0, level))
        else:
            pop = read & at_data
            m.d.comb += [
                fifo.r_en.eq(pop),
                self.dropped.eq(pop & ~fifo.r_rdy),
                level.eq(fifo.level),
            ]
            wiring.connect(m, wiring.flipped(self.stream), fifo.w_stream)
            element = fifo.r_data.as_signed() if self._shape.signed else fifo.r_data
            with m.If(read):
                m.d.sync += answer.eq(Mux(at_data, Mux(fifo.r_rdy, element, 0), level))
        with m.If(pending):
            m.d.comb += self.bus.r_data.eq(answer)
        return m
