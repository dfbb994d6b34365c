"""The engine-agnostic frame in Amaranth's simulator: FIFO windows, counters that add more than one per cycle,
register arrays, window layouts shared by hardware and driver, and the argument checks of the frame's parts.
"""

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Fragment, Module, Signal, signed, unsigned
from amaranth.lib import enum

from hw.common.bus import BusDecoder
from hw.common.csr import Access, CsrBlock, Field, Register, RegisterArray, RegisterMap
from hw.common.engine import Counter, EngineComponent
from hw.common.stream_window import StreamWindow
from hw.common.window import WindowedMemory
from hw.gnn.codes import GnnOp
from hw.gnn.engine import GnnEngine
from pimgen.gnn.config import GNN_OPS, GnnConfig
from rtl_gen.generate import manifest_for
from tb.host.manifest import Manifest

from mini_engine import register_mini
from mini_engine.config import MiniConfig
from mini_engine.hw import MiniEngine
from test_common_hw import bus_read, bus_write, run_sim, unelaborated

register_mini()
# Argument-check tests build components whose constructors refuse them; those are never elaborated, on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


# FIFO windows.

def test_stream_window_in():
    """Host pushes at offset 0 while the level at offset 1 counts free entries; the engine side pops in order; a
    push into a full FIFO is dropped and flagged; flush empties it."""
    dut = StreamWindow(signed(10), depth=3, direction="in")

    async def tb(ctx):
        assert await bus_read(ctx, dut.bus, 1) == 3
        for v in (5, -7, 511):
            assert await bus_write(ctx, dut.bus, 0, v & 0xFFFF_FFFF) == 1
        assert await bus_read(ctx, dut.bus, 1) == 0
        ctx.set(dut.bus.addr, 0)
        ctx.set(dut.bus.w_data, 99)
        ctx.set(dut.bus.w_en, 1)
        assert ctx.get(dut.dropped) == 1                  # full: the fourth push is dropped
        await ctx.tick()
        ctx.set(dut.bus.w_en, 0)
        got = []
        ctx.set(dut.stream.ready, 1)
        for _ in range(6):
            if ctx.get(dut.stream.valid):
                got.append(ctx.get(dut.stream.payload))
            await ctx.tick()
        ctx.set(dut.stream.ready, 0)
        assert got == [5, -7, 511]
        assert await bus_read(ctx, dut.bus, 1) == 3
        await bus_write(ctx, dut.bus, 0, 1)
        ctx.set(dut.flush, 1)
        await ctx.tick()
        ctx.set(dut.flush, 0)
        assert await bus_read(ctx, dut.bus, 1) == 3

    run_sim(dut, tb)


def test_stream_window_out():
    """The engine pushes; the host reads the waiting count at offset 1 and pops at offset 0 (sign-extended); a pop
    from an empty FIFO reads 0 and is flagged."""
    dut = StreamWindow(signed(8), depth=4, direction="out")

    async def tb(ctx):
        assert await bus_read(ctx, dut.bus, 1) == 0
        for v in (3, -1, -128):
            ctx.set(dut.stream.payload, v)
            ctx.set(dut.stream.valid, 1)
            assert ctx.get(dut.stream.ready)
            await ctx.tick()
        ctx.set(dut.stream.valid, 0)
        await ctx.tick()
        assert await bus_read(ctx, dut.bus, 1) == 3
        assert [await bus_read(ctx, dut.bus, 0) for _ in range(3)] == [3, 0xFFFF_FFFF, 0xFFFF_FF80]
        ctx.set(dut.bus.addr, 0)
        ctx.set(dut.bus.r_en, 1)
        assert ctx.get(dut.dropped) == 1
        await ctx.tick()
        assert ctx.get(dut.bus.ack) and ctx.get(dut.bus.r_data) == 0
        ctx.set(dut.bus.r_en, 0)

    run_sim(dut, tb)


def test_stream_window_rejects_bad_parameters():
    with pytest.raises(ValueError, match="Element width must be at most 32 bits, not 33"):
        StreamWindow(unsigned(33), 4, "in")
    with pytest.raises(ValueError, match=r"Depth must be an integer in 1\.\.65535, not 0"):
        StreamWindow(unsigned(8), 0, "in")
    with pytest.raises(ValueError, match="Direction must be 'in' or 'out', not 'both'"):
        StreamWindow(unsigned(8), 4, "both")


# A whole engine frame: the test-only engine (FIFO window, memory window, a counter adding 2 per cycle).

def test_mini_engine_frame_in_amaranth():
    cfg = MiniConfig(width=8, depth=16, fifo_depth=2)
    dut = MiniEngine(cfg)
    regs = {name: addr for addr, name in ((a, r.name) for a, r in dut.register_map)}
    inbox, data = dut.window_base("inbox"), dut.window_base("data")
    values = [7, 250, 3, 9, 0, 255]

    async def tb(ctx):
        await bus_write(ctx, dut.bus, regs["COUNT"], len(values))
        await bus_write(ctx, dut.bus, regs["CTRL"], 1)                     # start
        for v in values:                                                   # feed while it runs
            while await bus_read(ctx, dut.bus, inbox + 1) == 0:
                pass
            await bus_write(ctx, dut.bus, inbox, v)
        for _ in range(10):
            if await bus_read(ctx, dut.bus, regs["STATUS"]) & 0b10:
                break
        else:
            raise AssertionError("not done")
        got = [await bus_read(ctx, dut.bus, data + i) for i in range(len(values))]
        assert got == [(v + i) % 256 for i, v in enumerate(values)]
        assert await bus_read(ctx, dut.bus, regs["CNT_OPS"]) == 2 * len(values)
        assert [await bus_read(ctx, dut.bus, regs[f"CNT_PARITY[{i}]"]) for i in (0, 1)] == [3, 3]
        assert await bus_read(ctx, dut.bus, regs["STATUS"]) >> 10 & 1 == 0       # no dropped access

    run_sim(dut, tb)


# Register arrays.

def test_register_array_in_the_map_and_on_the_bus():
    regmap = RegisterMap()
    regmap.add(Register("A", [Field("x", 4, Access.RW)]))
    assert regmap.add(RegisterArray("PE_BUSY", 3, [Field("count", 16, Access.RO)], doc="per PE")) == 1
    regmap.add(Register("B", [Field("y", 8, Access.RW, init=9)]))
    assert [r.name for _, r in regmap] == ["A", "PE_BUSY[0]", "PE_BUSY[1]", "PE_BUSY[2]", "B"]
    described = regmap.describe()
    assert [(d["name"], d["kind"], d["addr"]) for d in described] == \
        [("A", "register", 0), ("PE_BUSY", "array", 1), ("B", "register", 4)]
    assert (described[1]["count"], described[1]["stride"]) == (3, 1)
    with pytest.raises(ValueError, match="already in the map"):
        regmap.add(Register("PE_BUSY", [Field("x", 1, Access.RW)]))
    with pytest.raises(ValueError, match="count must be a positive integer, not 0"):
        RegisterArray("X", 0, [Field("x", 1, Access.RW)])

    class Harness(Elaboratable):
        def __init__(self):
            self.csr = CsrBlock(regmap)

        def elaborate(self, platform):
            m = Module()
            m.submodules.csr = self.csr
            for i in range(3):
                m.d.comb += self.csr.value(f"PE_BUSY[{i}]", "count").eq(100 + i)
            return m

    dut = Harness()

    async def tb(ctx):
        assert [await bus_read(ctx, dut.csr.bus, a) for a in range(5)] == [0, 100, 101, 102, 9]

    run_sim(dut, tb)


def test_counter_array_in_manifest():
    """A counter array becomes a register array in the manifest (read back by the driver as a list: see
    tests/test_mini_engine.py), and a counter adding 2 says so."""
    m = Manifest(manifest_for(MiniConfig()))
    assert m.counters["ops"]["max_increment"] == 2
    array = m.array("CNT_PARITY")
    assert array.count == 2 and [e.name for e in array.elements] == ["CNT_PARITY[0]", "CNT_PARITY[1]"]
    assert array[1].addr == array[0].addr + 1
    assert m.window("inbox").kind == "fifo" and m.window("inbox").direction == "in"
    assert m.window("data").kind == "memory"


# Argument checks of the frame's parts ("X must be ..., not v").

class _Tiny(EngineComponent):
    def elaborate(self, platform):
        return self.elaborate_frame()


class _Codes(enum.Enum, shape=8):
    NONE = 0
    BAD = 1
    WORSE = 2


def _memory():
    return WindowedMemory(unsigned(8), 4)


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(config="gnn"), TypeError, r"Config must be an engine config \(an EngineConfig\), not 'gnn'"),
    (dict(registers=[("NUM", 8)]), TypeError, r"Registers must be a list of Register or RegisterArray"),
    (dict(windows={"csr": "memory"}), ValueError, r"Window name must not be 'csr' \(the register block's region\)"),
    (dict(windows={"2x": "memory"}), ValueError, r"Window name must be an identifier, not '2x'"),
    (dict(windows={"data": [1, 2]}), TypeError, r"Window 'data' must be a WindowedMemory or StreamWindow, not"),
    (dict(windows=[("data", None)]), TypeError, r"Windows must be a dict of name -> WindowedMemory or StreamWindow"),
    (dict(errors={1: "bad"}), TypeError, r"Errors must be keyed by the members of one Enum"),
    (dict(errors={_Codes.BAD: "bad"}), ValueError, r"Every nonzero error code must have a meaning; missing: WORSE"),
    (dict(errors={_Codes.BAD: "", _Codes.WORSE: "x"}), ValueError, r"must have a meaning \(a non-empty string\)"),
    (dict(counters=[("Cycles", "doc")]), ValueError, r"Counter name must be a lower-case identifier, not 'Cycles'"),
])
def test_engine_component_checks_arguments(kwargs, exc, match):
    args = dict(config=MiniConfig(), registers=[], counters=[], windows={}, errors=None)
    args.update(kwargs)
    with pytest.raises(exc, match=match):
        _Tiny(**args)


def test_counter_checks_arguments():
    with pytest.raises(ValueError, match=r"Counter 'ops' max_increment must be a positive integer, not 0"):
        Counter("ops", "", max_increment=0)
    with pytest.raises(ValueError, match=r"Counter 'ops' count must be None or a positive integer, not -1"):
        Counter("ops", "", count=-1)
    assert Counter("ops", "", max_increment=5).increment_width == 3


@pytest.mark.parametrize("adds, match", [
    ([("a", 2, None), ("b", 3, 2)], r"Window 'b' base must be a non-negative multiple of its size 8, not 2"),
    ([("a", 3, None), ("b", 2, 4)], r"Window 'b' at 0x4\.\.0x7 must not overlap window 'a' at 0x0\.\.0x7"),
    ([("a", 2, None), ("a", 2, None)], r"Window name must be unique, not 'a' a second time"),
    ([("my window", 2, None)], r"Window name must be an identifier, not 'my window'"),
    ([("a", 5, None)], r"Window 'a' of 32 words does not fit below 2\*\*4"),
])
def test_decoder_checks_windows(adds, match):
    dec = unelaborated(BusDecoder(4))
    with pytest.raises(ValueError, match=match):
        for name, bits, base in adds:
            dec.add(name, bits, base=base)


def test_decoder_checks_address_width():
    with pytest.raises(ValueError, match=r"Address width must be an integer in 0\.\.32, not 40"):
        BusDecoder(40)
    with pytest.raises(TypeError, match=r"Address width must be an integer in 0\.\.32, not '8'"):
        BusDecoder("8")


def test_decoder_explicit_base():
    dec = unelaborated(BusDecoder(6))
    assert dec.add("high", 3, base=32)[0] == 32
    assert dec.add("low", 3)[0] == 40                    # after the highest window so far
    assert dec.add("gap", 4, base=0)[0] == 0


# Codes: one enum per engine, shared by the hardware, the manifest and the driver.

def test_gnn_op_enum_matches_the_op_names():
    assert [op.name.lower() for op in GnnOp] == list(GNN_OPS)
    assert [op.value for op in GnnOp] == list(range(len(GNN_OPS)))
    m = Manifest(manifest_for(GnnConfig(lanes=2, max_nodes=8, max_edges=8, max_features=2, max_degree=4)))
    assert m.reg("OP").field("code").enum == {op.name.lower(): op.value for op in GnnOp}


# Window layouts: the driver's addresses (from the manifest) and the hardware's (from the layout object, on
# Amaranth values) reach the same element.

LAYOUT_CONFIGS = [
    GnnConfig(lanes=3, format="int16", max_nodes=20, max_edges=40, max_features=7, max_degree=8),
    GnnConfig(lanes=8, format="int8", max_nodes=9, max_edges=30, max_features=20, max_degree=8),
    GnnConfig(lanes=1, format="int16", max_nodes=12, max_edges=16, max_features=3, max_degree=8),
    GnnConfig(lanes=5, format="int8", max_nodes=7, max_edges=10, max_features=11, max_degree=8),
]


class _LayoutHarness(Elaboratable):
    """A window memory whose engine read port is addressed by ``layout.bank_word`` of index signals, exactly as the
    engine computes it (the banked dimension contributes its group, the others their index)."""

    def __init__(self, memory):
        self.memory = memory
        self.layout = memory.layout
        self.index = {name: Signal(range(size + 1), name=f"i_{name}") for name, size in self.layout.dims}

    def elaborate(self, platform):
        m = Module()
        m.submodules.memory = self.memory
        m.d.comb += [self.memory.rd_addr.eq(self.layout.bank_word(**self.index)), self.memory.rd_en.eq(1)]
        return m


@pytest.mark.parametrize("cfg", LAYOUT_CONFIGS, ids=lambda c: f"lanes{c.lanes}-{c.format}")
def test_window_layouts_agree_between_driver_and_hardware(cfg):
    engine = unelaborated(GnnEngine(cfg))
    manifest = Manifest(manifest_for(cfg))
    rng = np.random.default_rng(cfg.lanes)
    for name, memory in engine.windows.items():
        window = manifest.window(name)                  # the driver's view: JSON only
        assert window.layout == memory.layout
        dims = window.layout.dims
        # Every element for small windows, else corners and a random sample.
        total = int(np.prod([size for _, size in dims]))
        if total <= 400:
            flat = np.arange(total)
        else:
            flat = np.unique(np.concatenate([[0, total - 1], rng.integers(0, total, 300)]))
        coords = np.unravel_index(flat, [size for _, size in dims])
        indices = dict(zip([n for n, _ in dims], coords))
        lo, hi = window.range
        values = rng.integers(lo, hi + 1, size=len(flat))
        offsets, lsbs = window.locate(**indices)
        word_offsets, words = window.pack(offsets, lsbs, values)
        harness = _LayoutHarness(WindowedMemory.from_layout(memory.layout))
        layout = memory.layout

        async def tb(ctx):
            ctx.set(harness.memory.owner, 0)
            for offset, word in zip(word_offsets, words):
                await bus_write(ctx, harness.memory.bus, int(offset), int(word) & 0xFFFF_FFFF)
            ctx.set(harness.memory.owner, 1)
            for k in range(len(flat)):
                for dim, _ in dims:
                    i = int(indices[dim][k])
                    ctx.set(harness.index[dim], i // layout.banks if dim == layout.banked else i)
                await ctx.tick()
                bank = int(indices[layout.banked][k]) % layout.banks if layout.banked else 0
                got = ctx.get(harness.memory.rd_data[bank])
                assert got == values[k], f"{name}{tuple(int(indices[d][k]) for d, _ in dims)}: {got} != {values[k]}"

        run_sim(harness, tb)


def test_manifest_layout_roundtrip_is_checked():
    m = manifest_for(GnnConfig(lanes=4, max_nodes=8, max_edges=8, max_features=8, max_degree=4))
    w = next(w for w in m["windows"] if w["name"] == "features")
    w["layout"]["depth"] += 1
    with pytest.raises(ValueError, match="inconsistent"):
        Manifest(m)


def test_mini_engine_registers_without_touching_the_table_code():
    from pimgen.engines import ENGINES
    spec = register_mini()
    assert ENGINES["mini"] is spec
    assert register_mini() is spec                       # idempotent
    Fragment.get(MiniEngine(MiniConfig()), None)
