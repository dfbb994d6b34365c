"""Unit tests for the shared gateware in hw/common, on Amaranth's own simulator (no Verilator).

Covers the register bus protocol (as a small bus master), the CSR block, the field/register/map model's argument
checks, the bus decoder, the windowed memory and ``fit_signed``.
"""

import pytest
from amaranth.hdl import Elaboratable, Fragment, Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hw.common.bus import BusDecoder, BusSignature
from hw.common.csr import Access, CsrBlock, Field, Register, RegisterMap
from hw.common.fixed import fit_signed
from hw.common.window import WindowedMemory

# Argument-check tests build components that are never elaborated; that is the point, not a leak.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")

MAX_WAIT = 8  # cycles a bus transaction may take before the helpers give up


# Bus master helpers (the protocol in hw/common/bus.py).

async def _transact(ctx, bus, addr, *, write, value=0):
    """Drive one request, wait for ``ack`` (sampled combinationally, before the tick), tick, deassert.

    Returns ``(r_data in the ack cycle, cycles from request to ack inclusive)``.
    """
    ctx.set(bus.addr, addr)
    if write:
        ctx.set(bus.w_data, value)
        ctx.set(bus.w_en, 1)
    else:
        ctx.set(bus.r_en, 1)
    cycles = 1
    while not ctx.get(bus.ack):
        assert cycles < MAX_WAIT, f"no ack for {'write' if write else 'read'} at {addr:#x} in {MAX_WAIT} cycles"
        await ctx.tick()
        cycles += 1
    r_data = ctx.get(bus.r_data)
    await ctx.tick()
    ctx.set(bus.w_en, 0)
    ctx.set(bus.r_en, 0)
    return r_data, cycles


async def bus_write(ctx, bus, addr, value):
    """Write ``value`` at word ``addr``; returns the number of cycles until ``ack`` (1 = same cycle)."""
    _, cycles = await _transact(ctx, bus, addr, write=True, value=value)
    return cycles


async def bus_read_timed(ctx, bus, addr):
    """Read word ``addr``; returns ``(data, cycles until ack)``."""
    return await _transact(ctx, bus, addr, write=False)


async def bus_read(ctx, bus, addr):
    """Read word ``addr``; returns the data."""
    data, _ = await bus_read_timed(ctx, bus, addr)
    return data


def unelaborated(component):
    """A component built only to inspect its interface: elaborate it once, so Amaranth knows it was used."""
    Fragment.get(component, None)
    return component


def run_sim(dut, testbench, *, clock=True):
    sim = Simulator(dut)
    if clock:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


# CSR block.

def make_csr_map():
    regmap = RegisterMap()
    regmap.add(Register("CTRL", [
        Field("mode", 3, Access.RW, init=5),
        Field("start", 1, Access.WP),
        Field("level", 4, Access.RW),
    ]))
    regmap.add(Register("STATUS", [
        Field("count", 8, Access.RO),
        Field("done", 1, Access.W1C),
        Field("err", 2, Access.W1C, init=2),
    ]))
    regmap.add(Register("SCRATCH", [Field("value", 32, Access.RW, init=0xDEADBEEF)]))
    return regmap


class CsrHarness(Elaboratable):
    """A CsrBlock with a design side: a free-running counter drives STATUS.count (RO), and ``starts`` counts the
    cycles CTRL.start (WP) is high."""

    def __init__(self, regmap):
        self.csr = CsrBlock(regmap)
        self.counter = Signal(8)
        self.starts = Signal(8)

    def elaborate(self, platform):
        m = Module()
        m.submodules.csr = self.csr
        m.d.sync += self.counter.eq(self.counter + 1)
        m.d.comb += self.csr.value("STATUS", "count").eq(self.counter)
        with m.If(self.csr.value("CTRL", "start")):
            m.d.sync += self.starts.eq(self.starts + 1)
        return m


def test_csr_write_one_cycle_read_two_cycles():
    dut = CsrHarness(make_csr_map())
    bus = dut.csr.bus

    async def tb(ctx):
        assert await bus_write(ctx, bus, 2, 0x12345678) == 1
        data, cycles = await bus_read_timed(ctx, bus, 2)
        assert cycles == 2
        assert data == 0x12345678
        # Back-to-back writes, one per cycle: the next request goes out right after the tick.
        assert await bus_write(ctx, bus, 2, 1) == 1
        assert await bus_write(ctx, bus, 2, 2) == 1
        assert await bus_read(ctx, bus, 2) == 2
        # Back-to-back reads: the slave does not ack a request twice (ack low in the first cycle of each).
        assert await bus_read_timed(ctx, bus, 0) == (5, 2)
        assert await bus_read_timed(ctx, bus, 2) == (2, 2)

    run_sim(dut, tb)


def test_csr_rw_storage_and_init():
    dut = CsrHarness(make_csr_map())
    csr = dut.csr

    async def tb(ctx):
        assert ctx.get(csr.value("SCRATCH", "value")) == 0xDEADBEEF
        assert ctx.get(csr.value("CTRL", "mode")) == 5
        assert await bus_read(ctx, csr.bus, 2) == 0xDEADBEEF
        await bus_write(ctx, csr.bus, 2, 0x0BADF00D)
        assert ctx.get(csr.value("SCRATCH", "value")) == 0x0BADF00D
        assert await bus_read(ctx, csr.bus, 2) == 0x0BADF00D
        # Idle cycles keep the value.
        await ctx.tick().repeat(3)
        assert ctx.get(csr.value("SCRATCH", "value")) == 0x0BADF00D
        # A write to another register leaves it alone.
        await bus_write(ctx, csr.bus, 0, 0)
        assert await bus_read(ctx, csr.bus, 2) == 0x0BADF00D

    run_sim(dut, tb)


def test_csr_ro_reflects_design_signal():
    dut = CsrHarness(make_csr_map())
    csr = dut.csr

    async def tb(ctx):
        await ctx.tick().repeat(5)
        for _ in range(3):
            # The read data is registered in the cycle the request is presented.
            at_request = ctx.get(dut.counter)
            word = await bus_read(ctx, csr.bus, 1)
            assert word & 0xFF == at_request
            await ctx.tick().repeat(2)
        # Writing an RO field does nothing to it (the design keeps driving it).
        await bus_write(ctx, csr.bus, 1, 0xFF)
        before = ctx.get(dut.counter)
        assert ctx.get(csr.value("STATUS", "count")) == before
        assert (await bus_read(ctx, csr.bus, 1)) & 0xFF == before

    run_sim(dut, tb)


def test_csr_wp_pulses_one_cycle_and_reads_zero():
    regmap = make_csr_map()
    dut = CsrHarness(regmap)
    csr = dut.csr
    start_lsb = regmap["CTRL"][1].offsets["start"]

    async def tb(ctx):
        assert ctx.get(csr.value("CTRL", "start")) == 0
        # Manually, to look at the pulse in the write cycle.
        ctx.set(csr.bus.addr, 0)
        ctx.set(csr.bus.w_data, (1 << start_lsb) | 5)
        ctx.set(csr.bus.w_en, 1)
        assert ctx.get(csr.bus.ack) == 1
        assert ctx.get(csr.value("CTRL", "start")) == 1
        await ctx.tick()
        ctx.set(csr.bus.w_en, 0)
        assert ctx.get(csr.value("CTRL", "start")) == 0
        await ctx.tick().repeat(3)
        assert ctx.get(dut.starts) == 1
        # Writing 0 to it does not pulse; it always reads as 0.
        await bus_write(ctx, csr.bus, 0, 5)
        await ctx.tick()
        assert ctx.get(dut.starts) == 1
        await bus_write(ctx, csr.bus, 0, (1 << start_lsb) | 5)
        await ctx.tick()
        assert ctx.get(dut.starts) == 2
        assert (await bus_read(ctx, csr.bus, 0)) >> start_lsb & 1 == 0

    run_sim(dut, tb)


def test_csr_w1c_set_stick_clear():
    regmap = make_csr_map()
    dut = CsrHarness(regmap)
    csr = dut.csr
    done_lsb = regmap["STATUS"][1].offsets["done"]
    done = csr.value("STATUS", "done")
    done_set = csr.set("STATUS", "done")

    async def tb(ctx):
        assert ctx.get(done) == 0
        # Set by a one-cycle pulse, then stays set.
        ctx.set(done_set, 1)
        await ctx.tick()
        ctx.set(done_set, 0)
        assert ctx.get(done) == 1
        await ctx.tick().repeat(4)
        assert ctx.get(done) == 1
        assert (await bus_read(ctx, csr.bus, 1)) >> done_lsb & 1 == 1
        # Writing 0 to it leaves it set.
        await bus_write(ctx, csr.bus, 1, 0)
        assert ctx.get(done) == 1
        # Writing 1 clears it.
        await bus_write(ctx, csr.bus, 1, 1 << done_lsb)
        assert ctx.get(done) == 0
        assert (await bus_read(ctx, csr.bus, 1)) >> done_lsb & 1 == 0
        # A set in the same cycle as a clearing write wins.
        ctx.set(done_set, 1)
        await bus_write(ctx, csr.bus, 1, 1 << done_lsb)
        ctx.set(done_set, 0)
        assert ctx.get(done) == 1
        await ctx.tick()
        assert ctx.get(done) == 1

    run_sim(dut, tb)


def test_csr_w1c_clear_only_touches_written_bits():
    regmap = make_csr_map()
    dut = CsrHarness(regmap)
    csr = dut.csr
    err_lsb = regmap["STATUS"][1].offsets["err"]
    err = csr.value("STATUS", "err")

    async def tb(ctx):
        assert ctx.get(err) == 2  # init
        ctx.set(csr.set("STATUS", "err"), 1)
        await ctx.tick()
        ctx.set(csr.set("STATUS", "err"), 0)
        assert ctx.get(err) == 3
        await bus_write(ctx, csr.bus, 1, 2 << err_lsb)
        assert ctx.get(err) == 1

    run_sim(dut, tb)


def test_csr_clear_returns_fields_to_init():
    regmap = make_csr_map()
    dut = CsrHarness(regmap)
    csr = dut.csr

    async def tb(ctx):
        await bus_write(ctx, csr.bus, 2, 0x1234)
        await bus_write(ctx, csr.bus, 0, 0b1111_0_010)  # level = 15, mode = 2
        ctx.set(csr.set("STATUS", "done"), 1)
        ctx.set(csr.set("STATUS", "err"), 1)
        await ctx.tick()
        ctx.set(csr.set("STATUS", "done"), 0)
        ctx.set(csr.set("STATUS", "err"), 0)
        assert ctx.get(csr.value("SCRATCH", "value")) == 0x1234
        assert ctx.get(csr.value("CTRL", "mode")) == 2
        assert ctx.get(csr.value("CTRL", "level")) == 15
        assert ctx.get(csr.value("STATUS", "done")) == 1
        assert ctx.get(csr.value("STATUS", "err")) == 3
        ctx.set(csr.clear, 1)
        await ctx.tick()
        ctx.set(csr.clear, 0)
        assert ctx.get(csr.value("SCRATCH", "value")) == 0xDEADBEEF
        assert ctx.get(csr.value("CTRL", "mode")) == 5
        assert ctx.get(csr.value("CTRL", "level")) == 0
        assert ctx.get(csr.value("STATUS", "done")) == 0
        assert ctx.get(csr.value("STATUS", "err")) == 2
        # The RO field is still the design's.
        assert ctx.get(csr.value("STATUS", "count")) == ctx.get(dut.counter)

    run_sim(dut, tb)


def test_csr_address_past_the_map_reads_zero():
    dut = CsrHarness(make_csr_map())  # 3 registers, 2 address bits: address 3 is free
    csr = dut.csr

    async def tb(ctx):
        assert await bus_write(ctx, csr.bus, 3, 0xFFFFFFFF) == 1
        assert await bus_read_timed(ctx, csr.bus, 3) == (0, 2)
        assert ctx.get(csr.value("SCRATCH", "value")) == 0xDEADBEEF
        assert ctx.get(csr.value("CTRL", "mode")) == 5
        assert ctx.get(dut.starts) == 0

    run_sim(dut, tb)


def test_csr_multi_field_packing_matches_describe():
    regmap = RegisterMap()
    regmap.add(Register("ID", [Field("magic", 16, Access.RW, init=0xC5A1)]))
    fields = [
        Field("a", 3, Access.RW, init=5),
        Field("b", 1, Access.RO),
        Field("c", 4, Access.W1C, init=9),
        Field("d", 8, Access.RW, init=0xA5),
        Field("e", 2, Access.WP),
        Field("f", 14, Access.RW, init=0x2001),
    ]
    assert regmap.add(Register("PACK", fields, doc="packing")) == 1
    described = regmap.describe(base=0x40)
    assert [r["name"] for r in described] == ["ID", "PACK"]
    assert [r["addr"] for r in described] == [0x40, 0x41]
    layout = {f["name"]: (f["lsb"], f["width"], f["access"], f["init"]) for f in described[1]["fields"]}
    assert layout == {
        "a": (0, 3, "rw", 5), "b": (3, 1, "ro", 0), "c": (4, 4, "w1c", 9),
        "d": (8, 8, "rw", 0xA5), "e": (16, 2, "wp", 0), "f": (18, 14, "rw", 0x2001),
    }

    def pack(**values):
        return sum(v << layout[k][0] for k, v in values.items())

    csr = CsrBlock(regmap)

    async def tb(ctx):
        ctx.set(csr.value("PACK", "b"), 1)
        assert await bus_read(ctx, csr.bus, 1) == pack(a=5, b=1, c=9, d=0xA5, f=0x2001)
        assert await bus_read(ctx, csr.bus, 0) == 0xC5A1
        # Write a distinct value into each field; W1C c: bits 0 and 3 written as 1 are cleared.
        await bus_write(ctx, csr.bus, 1, pack(a=2, b=0, c=0b1001, d=0x3C, e=0, f=0x1ABC))
        assert ctx.get(csr.value("PACK", "a")) == 2
        assert ctx.get(csr.value("PACK", "c")) == 0
        assert ctx.get(csr.value("PACK", "d")) == 0x3C
        assert ctx.get(csr.value("PACK", "f")) == 0x1ABC
        assert await bus_read(ctx, csr.bus, 1) == pack(a=2, b=1, c=0, d=0x3C, f=0x1ABC)
        # The WP field's two bits land at its lsb.
        ctx.set(csr.bus.addr, 1)
        ctx.set(csr.bus.w_data, pack(a=2, d=0x3C, e=0b10, f=0x1ABC))
        ctx.set(csr.bus.w_en, 1)
        assert ctx.get(csr.value("PACK", "e")) == 0b10
        await ctx.tick()
        ctx.set(csr.bus.w_en, 0)
        assert ctx.get(csr.value("PACK", "e")) == 0
        # The other register is untouched.
        assert await bus_read(ctx, csr.bus, 0) == 0xC5A1

    run_sim(csr, tb)


# Field / Register / RegisterMap argument checks.

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(name="1bad", width=1, access=Access.RW), ValueError, r"Field name must be an identifier, not '1bad'"),
    (dict(name="has space", width=1, access=Access.RW), ValueError, r"identifier, not 'has space'"),
    (dict(name="", width=1, access=Access.RW), ValueError, r"identifier, not ''"),
    (dict(name=3, width=1, access=Access.RW), ValueError, r"identifier, not 3"),
    (dict(name="f", width=0, access=Access.RW), ValueError, r"Field 'f' width must be an integer in 1\.\.32, not 0"),
    (dict(name="f", width=33, access=Access.RW), ValueError, r"in 1\.\.32, not 33"),
    (dict(name="f", width=1.0, access=Access.RW), ValueError, r"in 1\.\.32, not 1\.0"),
    (dict(name="f", width=4, access="rw"), TypeError, r"Field 'f' access must be an Access, not 'rw'"),
    (dict(name="f", width=4, access=Access.RW, init=16), ValueError, r"Field 'f' init 16 does not fit in 4 bits"),
    (dict(name="f", width=4, access=Access.W1C, init=-1), ValueError, r"init -1 does not fit in 4 bits"),
    (dict(name="f", width=4, access=Access.RO, init=1), ValueError,
     r"Field 'f' has access ro, which takes no init value"),
    (dict(name="f", width=4, access=Access.WP, init=1), ValueError, r"has access wp, which takes no init value"),
])
def test_field_rejects_bad_arguments(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        Field(**kwargs)


def test_field_accepts_limits():
    assert Field("wide", 32, Access.RW, init=0xFFFFFFFF).init == 0xFFFFFFFF
    assert Field("narrow", 1, Access.W1C, init=1).width == 1
    assert Field("ro", 8, Access.RO).init == 0


@pytest.mark.parametrize("name", ["9REG", "A-B", "", None])
def test_register_rejects_bad_name(name):
    with pytest.raises(ValueError, match=r"Register name must be an identifier, not "):
        Register(name, [Field("f", 1, Access.RW)])


def test_register_rejects_fields_wider_than_32_bits():
    with pytest.raises(ValueError, match=r"Register 'WIDE' fields take 33 bits, more than 32"):
        Register("WIDE", [Field("a", 16, Access.RW), Field("b", 17, Access.RO)])
    assert Register("FULL", [Field("a", 16, Access.RW), Field("b", 16, Access.RO)]).offsets == {"a": 0, "b": 16}


def test_register_rejects_duplicate_field():
    with pytest.raises(ValueError, match=r"Register 'DUP' has duplicate field names: \['x', 'y', 'x'\]"):
        Register("DUP", [Field("x", 1, Access.RW), Field("y", 1, Access.RW), Field("x", 2, Access.RO)])


def test_register_field_lookup():
    reg = Register("R", [Field("x", 1, Access.RW)])
    assert reg.field("x").width == 1
    with pytest.raises(KeyError, match=r"Register R has no field 'y'"):
        reg.field("y")


def test_register_map_rejects_duplicate_register():
    regmap = RegisterMap()
    assert regmap.add(Register("A", [Field("x", 1, Access.RW)])) == 0
    assert regmap.add(Register("B", [Field("x", 1, Access.RW)])) == 1
    with pytest.raises(ValueError, match=r"Register 'A' is already in the map"):
        regmap.add(Register("A", [Field("y", 2, Access.RO)]))
    assert len(regmap) == 2
    assert regmap["B"][0] == 1


@pytest.mark.parametrize("count, width", [(1, 1), (2, 1), (3, 2), (4, 2), (5, 3), (9, 4)])
def test_register_map_addr_width(count, width):
    regmap = RegisterMap()
    for i in range(count):
        regmap.add(Register(f"R{i}", [Field("x", 1, Access.RW)]))
    assert regmap.addr_width == width
    assert unelaborated(CsrBlock(regmap)).bus.addr.shape().width == width


# Bus decoder.


def test_decoder_windows_aligned_to_size():
    dec = unelaborated(BusDecoder(8))
    sizes = {"a": 0, "b": 3, "c": 1, "d": 4, "e": 0, "f": 2}
    for name, bits in sizes.items():
        base, sub = dec.add(name, bits)
        assert base % (1 << bits) == 0
        assert sub.signature == BusSignature(bits)
    assert dec.windows == [("a", 0, 1), ("b", 8, 8), ("c", 16, 2), ("d", 32, 16), ("e", 48, 1), ("f", 52, 4)]
    # Windows never overlap.
    spans = [(base, base + size) for _, base, size in dec.windows]
    assert all(end <= next_base for (_, end), (next_base, _) in zip(spans, spans[1:]))


def test_decoder_window_too_large():
    dec = unelaborated(BusDecoder(4))
    with pytest.raises(ValueError, match=r"Window 'big' of 32 words does not fit below 2\*\*4"):
        dec.add("big", 5)
    dec.add("a", 2)  # 0..3
    dec.add("b", 3)  # 8..15
    with pytest.raises(ValueError, match=r"Window 'c' of 1 words does not fit below 2\*\*4"):
        dec.add("c", 0)
    assert dec.windows == [("a", 0, 4), ("b", 8, 8)]


class DecoderHarness(Elaboratable):
    """Decoder with a two-register CSR block at window "csr" (2 words) and an 8-word memory at window "mem"."""

    def __init__(self):
        self.dec = BusDecoder(6)
        regmap = RegisterMap()
        regmap.add(Register("R0", [Field("v", 32, Access.RW, init=0x1111)]))
        regmap.add(Register("R1", [Field("v", 32, Access.RW, init=0x2222)]))
        self.csr = CsrBlock(regmap)
        self.mem = WindowedMemory(unsigned(32), depth=8)
        self.csr_base, self._csr_bus = self.dec.add("csr", 1)
        self.mem_base, self._mem_bus = self.dec.add("mem", 3)

    def elaborate(self, platform):
        m = Module()
        m.submodules.dec = self.dec
        m.submodules.csr = self.csr
        m.submodules.mem = self.mem
        wiring.connect(m, self._csr_bus, self.csr.bus)
        wiring.connect(m, self._mem_bus, self.mem.bus)
        return m


def test_decoder_routes_to_the_right_slave():
    dut = DecoderHarness()
    bus = dut.dec.bus
    assert (dut.csr_base, dut.mem_base) == (0, 8)

    async def tb(ctx):
        assert await bus_read(ctx, bus, dut.csr_base + 0) == 0x1111
        assert await bus_read(ctx, bus, dut.csr_base + 1) == 0x2222
        assert await bus_write(ctx, bus, dut.csr_base + 1, 0xCAFE) == 1
        assert ctx.get(dut.csr.value("R1", "v")) == 0xCAFE
        assert ctx.get(dut.csr.value("R0", "v")) == 0x1111
        for word in range(8):
            assert await bus_write(ctx, bus, dut.mem_base + word, 0xA000 + word) == 1
        # The memory writes did not touch the CSRs.
        assert ctx.get(dut.csr.value("R0", "v")) == 0x1111
        assert ctx.get(dut.csr.value("R1", "v")) == 0xCAFE
        for word in (5, 0, 7):
            assert await bus_read_timed(ctx, bus, dut.mem_base + word) == (0xA000 + word, 2)
        assert await bus_read_timed(ctx, bus, dut.csr_base + 1) == (0xCAFE, 2)

    run_sim(dut, tb)


def test_decoder_unmapped_access():
    dut = DecoderHarness()
    bus = dut.dec.bus

    async def tb(ctx):
        assert ctx.get(dut.dec.unmapped) == 0
        for addr in (2, 7, 16, 63):  # the gap below "mem" and above it
            for write in (True, False):
                ctx.set(bus.addr, addr)
                ctx.set(bus.w_data, 0xFFFFFFFF)
                ctx.set(bus.w_en if write else bus.r_en, 1)
                assert ctx.get(bus.ack) == 1
                assert ctx.get(dut.dec.unmapped) == 1
                assert ctx.get(bus.r_data) == 0
                await ctx.tick()
                ctx.set(bus.w_en, 0)
                ctx.set(bus.r_en, 0)
                assert ctx.get(dut.dec.unmapped) == 0
                assert ctx.get(bus.ack) == 0
        # Through the helpers: one cycle each, reads give 0, nothing written anywhere.
        assert await bus_write(ctx, bus, 20, 0x5555) == 1
        assert await bus_read_timed(ctx, bus, 20) == (0, 1)
        assert ctx.get(dut.csr.value("R0", "v")) == 0x1111
        assert ctx.get(dut.csr.value("R1", "v")) == 0x2222
        # A mapped access does not pulse unmapped.
        ctx.set(bus.addr, dut.mem_base)
        ctx.set(bus.w_en, 1)
        assert ctx.get(dut.dec.unmapped) == 0
        await ctx.tick()
        ctx.set(bus.w_en, 0)

    run_sim(dut, tb)


# Windowed memory.

def test_window_bus_timing():
    dut = WindowedMemory(unsigned(16), depth=4)

    async def tb(ctx):
        assert await bus_write(ctx, dut.bus, 1, 0xBEEF) == 1
        assert await bus_write(ctx, dut.bus, 2, 0x1234) == 1
        assert await bus_read_timed(ctx, dut.bus, 1) == (0xBEEF, 2)
        assert await bus_read_timed(ctx, dut.bus, 2) == (0x1234, 2)
        assert ctx.get(dut.dropped) == 0

    run_sim(dut, tb)


@pytest.mark.parametrize("written, expected", [
    (0x7F, 0x7F), (0xFF, 0xFFFFFFFF), (0x80, 0xFFFFFF80), (0x00, 0x00), (0x12345681, 0xFFFFFF81), (0x123, 0x23),
])
def test_window_signed_elements_sign_extended(written, expected):
    dut = WindowedMemory(signed(8), depth=4)

    async def tb(ctx):
        await bus_write(ctx, dut.bus, 3, written)
        assert await bus_read(ctx, dut.bus, 3) == expected

    run_sim(dut, tb)


def test_window_unsigned_elements_zero_extended():
    dut = WindowedMemory(unsigned(8), depth=4)

    async def tb(ctx):
        for addr, value in enumerate([0xFF, 0x80, 0x7F, 0x12345681]):
            await bus_write(ctx, dut.bus, addr, value)
        assert [await bus_read(ctx, dut.bus, a) for a in range(4)] == [0xFF, 0x80, 0x7F, 0x81]

    run_sim(dut, tb)


@pytest.mark.parametrize("shape, banks, per_word, slot_bits", [
    (signed(16), 5, 2, 2),      # two int16 per word, three slots, the last one half full
    (signed(8), 3, 3, 0),       # three int8 in one word
    (unsigned(8), 8, 4, 1),     # four per word, two slots
])
def test_window_packed_layout(shape, banks, per_word, slot_bits):
    """Packed: bus word (word << slot_bits) | slot holds banks slot * per_word + k at bits [k * width, ...)."""
    depth = 4
    width = shape.width
    dut = WindowedMemory(shape, depth=depth, banks=banks, engine_write=True, packed=True)
    assert (dut.elements_per_word, dut.slot_bits) == (per_word, slot_bits)
    assert dut.bus.addr.shape().width == 2 + slot_bits
    lo = -(1 << (width - 1)) if shape.signed else 0

    def element(word, bank):
        return lo + (word * 37 + bank * 11) % (1 << width)

    def packed(word, slot):
        value = 0
        for k in range(per_word):
            bank = slot * per_word + k
            if bank < banks:
                value |= (element(word, bank) & ((1 << width) - 1)) << (k * width)
        return value

    slots = -(-banks // per_word)

    async def tb(ctx):
        for word in range(depth):
            for slot in range(slots):
                await bus_write(ctx, dut.bus, word << slot_bits | slot, packed(word, slot))
        for word in (2, 0, 3, 1):
            for slot in range(slots):
                assert await bus_read(ctx, dut.bus, word << slot_bits | slot) == packed(word, slot)
        # The engine reads all banks at once, and writes them back negated; the bus sees the packed result.
        ctx.set(dut.owner, 1)
        ctx.set(dut.rd_en, 1)
        ctx.set(dut.rd_addr, 2)
        await ctx.tick()
        assert list(ctx.get(dut.rd_data)) == [element(2, bank) for bank in range(banks)]
        ctx.set(dut.wr_addr, 1)
        ctx.set(dut.wr_data, [element(3, bank) for bank in range(banks)])
        ctx.set(dut.wr_en, 1)
        await ctx.tick()
        ctx.set(dut.wr_en, 0)
        ctx.set(dut.owner, 0)
        for slot in range(slots):
            assert await bus_read(ctx, dut.bus, 1 << slot_bits | slot) == packed(3, slot)

    run_sim(dut, tb)


@pytest.mark.parametrize("banks", [4, 3])
def test_window_banked_layout(banks):
    depth = 4
    dut = WindowedMemory(signed(8), depth=depth, banks=banks)
    bank_bits = (banks - 1).bit_length()
    assert dut.bus.addr.shape().width == 2 + bank_bits

    def element(word, bank):
        return (word * 16 + bank) * (-1 if (word + bank) % 2 else 1)

    async def tb(ctx):
        for word in range(depth):
            for bank in range(banks):
                await bus_write(ctx, dut.bus, word << bank_bits | bank, element(word, bank) & 0xFFFFFFFF)
        # The bus reads them back one element per word (sign-extended).
        for word in (2, 0, 3):
            for bank in range(banks):
                data = await bus_read(ctx, dut.bus, word << bank_bits | bank)
                assert data == element(word, bank) & 0xFFFFFFFF
        # The engine sees each word as all banks at once.
        ctx.set(dut.owner, 1)
        ctx.set(dut.rd_en, 1)
        for word in (1, 3, 0, 2):
            ctx.set(dut.rd_addr, word)
            await ctx.tick()
            assert list(ctx.get(dut.rd_data)) == [element(word, bank) for bank in range(banks)]

    run_sim(dut, tb)


def test_window_engine_write_visible_to_bus():
    depth, banks = 8, 2
    dut = WindowedMemory(signed(6), depth=depth, banks=banks, engine_write=True)

    def row(word):
        return [(-1) ** word * (word + 1), -(word * 3) % 31 - 32]

    async def tb(ctx):
        ctx.set(dut.owner, 1)
        ctx.set(dut.wr_en, 1)
        for word in range(depth):
            ctx.set(dut.wr_addr, word)
            ctx.set(dut.wr_data, row(word))
            await ctx.tick()
        ctx.set(dut.wr_en, 0)
        # The engine reads its own results back.
        ctx.set(dut.rd_en, 1)
        ctx.set(dut.rd_addr, 5)
        await ctx.tick()
        assert list(ctx.get(dut.rd_data)) == row(5)
        ctx.set(dut.rd_en, 0)
        ctx.set(dut.owner, 0)
        for word in range(depth):
            for bank in range(banks):
                assert await bus_read(ctx, dut.bus, word << 1 | bank) == row(word)[bank] & 0xFFFFFFFF

    run_sim(dut, tb)


def test_window_engine_write_port_idle_while_bus_owns():
    dut = WindowedMemory(unsigned(8), depth=4, engine_write=True)

    async def tb(ctx):
        await bus_write(ctx, dut.bus, 2, 0x11)
        # owner low: the engine write port is ignored.
        ctx.set(dut.wr_en, 1)
        ctx.set(dut.wr_addr, 2)
        ctx.set(dut.wr_data, [0x99])
        await ctx.tick()
        ctx.set(dut.wr_en, 0)
        assert await bus_read(ctx, dut.bus, 2) == 0x11

    run_sim(dut, tb)


def test_window_access_while_owned_is_dropped():
    dut = WindowedMemory(unsigned(16), depth=4)

    async def tb(ctx):
        await bus_write(ctx, dut.bus, 1, 0x1234)
        ctx.set(dut.owner, 1)
        # A write: acked at once, dropped pulses in that cycle.
        ctx.set(dut.bus.addr, 1)
        ctx.set(dut.bus.w_data, 0xFFFF)
        ctx.set(dut.bus.w_en, 1)
        assert ctx.get(dut.bus.ack) == 1
        assert ctx.get(dut.dropped) == 1
        await ctx.tick()
        ctx.set(dut.bus.w_en, 0)
        assert ctx.get(dut.dropped) == 0
        # A read: acked at once with 0.
        ctx.set(dut.bus.r_en, 1)
        assert ctx.get(dut.bus.ack) == 1
        assert ctx.get(dut.dropped) == 1
        assert ctx.get(dut.bus.r_data) == 0
        await ctx.tick()
        ctx.set(dut.bus.r_en, 0)
        assert ctx.get(dut.dropped) == 0
        assert ctx.get(dut.bus.ack) == 0
        # Through the helpers, both take one cycle.
        assert await bus_write(ctx, dut.bus, 3, 0xAAAA) == 1
        assert await bus_read_timed(ctx, dut.bus, 1) == (0, 1)
        # Neither write landed.
        ctx.set(dut.owner, 0)
        assert await bus_read(ctx, dut.bus, 1) == 0x1234
        assert await bus_read(ctx, dut.bus, 3) == 0
        assert ctx.get(dut.dropped) == 0

    run_sim(dut, tb)


def test_window_rd_en_low_holds_read_data():
    dut = WindowedMemory(unsigned(8), depth=4)

    async def tb(ctx):
        for word, value in enumerate([0x10, 0x21, 0x32, 0x43]):
            await bus_write(ctx, dut.bus, word, value)
        ctx.set(dut.owner, 1)
        ctx.set(dut.rd_addr, 1)
        ctx.set(dut.rd_en, 1)
        await ctx.tick()
        assert ctx.get(dut.rd_data)[0] == 0x21
        ctx.set(dut.rd_en, 0)
        ctx.set(dut.rd_addr, 3)
        for _ in range(3):
            await ctx.tick()
            assert ctx.get(dut.rd_data)[0] == 0x21
        ctx.set(dut.rd_en, 1)
        assert ctx.get(dut.rd_data)[0] == 0x21  # not before the clock edge
        await ctx.tick()
        assert ctx.get(dut.rd_data)[0] == 0x43

    run_sim(dut, tb)


def test_window_rejects_bad_parameters():
    with pytest.raises(ValueError, match=r"Element width 33 is wider than the 32-bit bus"):
        WindowedMemory(signed(33), depth=4)
    with pytest.raises(ValueError, match=r"Depth must be a positive integer, not 0"):
        WindowedMemory(unsigned(8), depth=0)
    with pytest.raises(ValueError, match=r"Banks must be a positive integer, not 0"):
        WindowedMemory(unsigned(8), depth=4, banks=0)


# fit_signed.

def clamp(x, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return min(max(x, lo), hi)


def wrap(x, bits):
    x &= (1 << bits) - 1
    return x - (1 << bits) if x >> (bits - 1) else x


class FitHarness(Elaboratable):
    """``o`` = ``fit_signed(i, out_bits, saturate)``; ``o_wide`` takes the same result into a signal 3 bits wider,
    which only holds the fitted value if the result is a signed value in range (not just the right low bits)."""

    def __init__(self, in_bits, out_bits, saturate):
        self.i = Signal(signed(in_bits))
        self.o = Signal(signed(out_bits))
        self.o_wide = Signal(signed(out_bits + 3))
        self.out_bits = out_bits
        self.saturate = saturate

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.o.eq(fit_signed(self.i, self.out_bits, self.saturate))
        m.d.comb += self.o_wide.eq(fit_signed(self.i, self.out_bits, self.saturate))
        return m


@pytest.mark.parametrize("in_bits, out_bits", [(6, 4), (5, 1), (8, 3), (4, 4), (3, 5)])
@pytest.mark.parametrize("saturate", [True, False])
def test_fit_signed_exhaustive(in_bits, out_bits, saturate):
    dut = FitHarness(in_bits, out_bits, saturate)
    model = clamp if saturate else wrap
    results = {}

    async def tb(ctx):
        for x in range(-(1 << (in_bits - 1)), 1 << (in_bits - 1)):
            ctx.set(dut.i, x)
            results[x] = ctx.get(dut.o)
            assert ctx.get(dut.o_wide) == results[x], f"fit_signed({x}) is not a signed {out_bits}-bit value"

    run_sim(dut, tb, clock=False)
    expected = {x: model(x, out_bits) for x in results}
    assert len(results) == 1 << in_bits
    assert results == expected
