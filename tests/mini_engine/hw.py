"""Gateware of the test-only engine."""

from amaranth.hdl import Mux, Signal, unsigned
from amaranth.lib import enum
from amaranth.utils import ceil_log2

from hw.common.csr import Access, Field, Register
from hw.common.engine import Counter, EngineComponent
from hw.common.stream_window import StreamWindow
from hw.common.window import WindowedMemory


class MiniError(enum.Enum, shape=8):
    NONE = 0
    COUNT = 1


class MiniEngine(EngineComponent):
    """Pops ``COUNT`` elements ``v_i`` from the ``inbox`` FIFO window and writes ``v_i + i`` (wrapping) to word ``i`` of
    the ``data`` window; an empty FIFO stalls it. Counters: ``cycles`` (busy cycles), ``ops`` (+2 per element),
    ``parity`` (an array of two: elements at even and at odd ``i``). ``COUNT`` above the memory depth is error
    ``count``."""

    def __init__(self, config):
        registers = [Register("COUNT", [Field("value", ceil_log2(config.depth + 2), Access.RW)], "elements")]
        counters = [Counter("cycles", "busy cycles"),
                    Counter("ops", "two per element moved", max_increment=2),
                    Counter("parity", "elements moved at even and at odd positions", count=2)]
        windows = {
            "data": WindowedMemory(unsigned(config.width), config.depth, engine_write=True),
            "inbox": StreamWindow(unsigned(config.width), config.fifo_depth, "in"),
        }
        super().__init__(config, registers, counters, windows,
                         errors={MiniError.COUNT: "COUNT is larger than the data memory"})

    def elaborate(self, platform):
        m = self.elaborate_frame()
        cfg = self.config
        count = Signal.like(self.csr.value("COUNT", "value"))
        index = Signal.like(count)
        bad = self.csr.value("COUNT", "value") > cfg.depth
        inbox = self.windows["inbox"].stream
        data = self.windows["data"]
        take = self.busy & (index != count) & inbox.valid
        m.d.comb += [
            inbox.ready.eq(self.busy & (index != count)),
            data.wr_addr.eq(index),
            data.wr_data[0].eq(inbox.payload + index),
            data.wr_en.eq(take),
            self.counter_inc["cycles"].eq(self.busy),
            self.counter_inc["ops"].eq(Mux(take, 2, 0)),
            self.counter_inc["parity"][0].eq(take & ~index[0]),
            self.counter_inc["parity"][1].eq(take & index[0]),
        ]
        failed = Signal()
        m.d.sync += failed.eq(self.start & bad)
        with m.If(self.start & ~bad):
            m.d.sync += [self.busy.eq(1), count.eq(self.csr.value("COUNT", "value")), index.eq(0)]
        with m.Elif(self.soft_reset):
            m.d.sync += self.busy.eq(0)
        with m.Elif(take):
            m.d.sync += index.eq(index + 1)
        done = self.busy & (index == count)
        with m.If(done):
            m.d.sync += self.busy.eq(0)
        m.d.comb += [
            self.finish.eq(done | failed),
            self.error.eq(Mux(failed, MiniError.COUNT, MiniError.NONE)),
        ]
        return m
