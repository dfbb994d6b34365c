"""The UART (hw/common/uart.py) and the UART bridge (fpga/bridge.py), on Amaranth's own simulator.

The UART is checked on its pin: a hand-decoded transmit waveform, hand-driven receive waveforms (framing error,
break, glitch, overrun) and a loopback of every byte value. The bridge is driven at the byte-stream level (no UART,
for speed) against a model bus slave, a dict memory that acknowledges after 0..2 cycles, with the protocol of
docs/fpga.md encoded here by hand (statuses and command bits written out as numbers, CRC from the catalog's software
model). A fuzz run mixes malformed frames with valid ones and checks that every request gets its reply within a
bound, that no bad frame writes the memory, and that valid frames keep working. One test runs the bridge behind a
UART pair at the pin level.

``PIMGEN_FUZZ_FRAMES`` sets the number of fuzz events (default 10**4, in four tests of a quarter each).
"""

import os
import random

import pytest
from amaranth.hdl import Cat, Elaboratable, Fragment, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.crc import catalog
from amaranth.sim import Simulator

from fpga.bridge import UartBridge
from hw.common.uart import UartRx, UartTx

# Argument-check tests build components that are never elaborated; that is the point, not a leak.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


def run_sim(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


# Host side of the protocol, written here from docs/fpga.md (independent of fpga/bridge.py).

CRC16 = catalog.CRC16_CCITT_FALSE(data_width=8)
WRITE, READ, FIXED = 0x00, 0x01, 0x02
OK, BAD_CRC, BAD_COMMAND, BAD_COUNT, TIMEOUT, OUT_OF_RANGE = range(6)


def le(value, size):
    return value.to_bytes(size, "little")


def request_body(cmd, addr, count, words=()):
    return bytes([cmd]) + le(addr, 4) + le(count, 2) + b"".join(le(w, 4) for w in words)


def request(cmd, addr, count, words=(), *, crc_xor=0):
    body = request_body(cmd, addr, count, words)
    return b"\x5a" + body + le(CRC16.compute(body) ^ crc_xor, 2)


def reply(status, words=()):
    body = bytes([status]) + le(len(words), 2) + b"".join(le(w, 4) for w in words)
    return b"\xa5" + body + le(CRC16.compute(body), 2)


def test_host_crc_is_ccitt_false():
    assert CRC16.compute(b"123456789") == 0x29B1      # the catalogue's check value
    assert request(READ, 0x12345678, 2)[:8] == bytes([0x5A, 0x01, 0x78, 0x56, 0x34, 0x12, 0x02, 0x00])


# UART.

@pytest.mark.parametrize("cls", [UartRx, UartTx])
@pytest.mark.parametrize("divisor, exc", [(3, ValueError), (0, ValueError), (-5, ValueError), (4.0, TypeError),
                                          (True, TypeError), ("8", TypeError)])
def test_uart_rejects_bad_divisor(cls, divisor, exc):
    with pytest.raises(exc, match=rf"^Divisor must be an integer >= 4, not {divisor!r}$"):
        cls(divisor)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_uart_divisor_property():
    """(The components are built only to read the property, never elaborated.)"""
    assert UartRx(4).divisor == 4
    assert UartTx(9).divisor == 9


def test_uart_tx_waveform():
    """The pin, bit by bit, for two bytes sent back to back: start, LSB first, stop, next start at once."""
    divisor = 5
    dut = UartTx(divisor)

    async def tb(ctx):
        assert ctx.get(dut.tx) == 1 and ctx.get(dut.stream.ready) == 1
        ctx.set(dut.stream.valid, 1)
        ctx.set(dut.stream.payload, 0x35)
        await ctx.tick()
        ctx.set(dut.stream.payload, 0xC0)
        ctx.set(dut.stream.valid, 0)
        pins, ready = [], []
        for _ in range(20 * divisor + 5):
            ready.append(ctx.get(dut.stream.ready))
            ctx.set(dut.stream.valid, len(pins) == 10 * divisor - 1)
            pins.append(ctx.get(dut.tx))
            await ctx.tick()
        # Ready in the last cycle of each stop bit (the second byte goes in there), then idle.
        assert [i for i, r in enumerate(ready) if r] == [10 * divisor - 1] + list(range(20 * divisor - 1, len(ready)))

        def bits(bit_values):
            return [b for b in bit_values for _ in range(divisor)]
        first = bits([0, 1, 0, 1, 0, 1, 1, 0, 0, 1])             # 0x35 = 0b00110101, LSB first
        second = bits([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])            # 0xC0
        assert pins == first + second + [1] * 5

    run_sim(dut, tb)


class Loopback(Elaboratable):
    def __init__(self, divisor):
        self.tx = UartTx(divisor)
        self.rx = UartRx(divisor)

    def elaborate(self, platform):
        m = Module()
        m.submodules.tx = self.tx
        m.submodules.rx = self.rx
        m.d.comb += self.rx.rx.eq(self.tx.tx)
        return m


@pytest.mark.parametrize("divisor", [4, 7])
def test_uart_loopback_all_bytes(divisor):
    """Every byte value through Tx into Rx, back to back, at the line rate, with no errors."""
    dut = Loopback(divisor)
    sent = list(range(256))
    random.Random(divisor).shuffle(sent)

    async def tb(ctx):
        received = []
        todo = list(sent)
        ctx.set(dut.rx.stream.ready, 1)
        cycles = 0
        while len(received) < len(sent):
            assert cycles < 10 * divisor * (len(sent) + 1) + 3 * divisor, "loopback slower than the line rate"
            ctx.set(dut.tx.stream.valid, bool(todo))
            if todo:
                ctx.set(dut.tx.stream.payload, todo[0])
                if ctx.get(dut.tx.stream.ready):
                    todo.pop(0)
            if ctx.get(dut.rx.stream.valid):
                received.append(ctx.get(dut.rx.stream.payload))
            assert not (ctx.get(dut.rx.overrun) or ctx.get(dut.rx.framing_error) or ctx.get(dut.rx.brk))
            await ctx.tick()
            cycles += 1
        assert received == sent

    run_sim(dut, tb)


async def drive_bits(ctx, dut, bit_values, divisor, watch):
    """Drive ``rx`` with each bit for ``divisor`` cycles; ``watch(ctx)`` is called every cycle."""
    for value in bit_values:
        ctx.set(dut.rx, value)
        for _ in range(divisor):
            watch(ctx)
            await ctx.tick()


def char_bits(byte, stop=1):
    return [0] + [(byte >> i) & 1 for i in range(8)] + [stop]


class RxWatch:
    """Records what a UartRx reports, cycle by cycle (the consumer is ready unless told otherwise)."""

    def __init__(self, dut):
        self.dut = dut
        self.cycle = 0
        self.bytes, self.framing, self.overrun, self.brk = [], [], [], []

    def __call__(self, ctx):
        dut = self.dut
        if ctx.get(dut.stream.valid) and ctx.get(dut.stream.ready):
            self.bytes.append((self.cycle, ctx.get(dut.stream.payload)))
        if ctx.get(dut.framing_error):
            self.framing.append(self.cycle)
        if ctx.get(dut.overrun):
            self.overrun.append(self.cycle)
        self.brk.append(ctx.get(dut.brk))
        self.cycle += 1


def test_uart_rx_latency_and_hand_driven_byte():
    divisor = 6
    dut = UartRx(divisor)
    watch = RxWatch(dut)

    async def tb(ctx):
        ctx.set(dut.stream.ready, 1)
        await drive_bits(ctx, dut, [1, 1], divisor, watch)
        edge = watch.cycle
        await drive_bits(ctx, dut, char_bits(0xA7) + [1, 1], divisor, watch)
        assert [b for _, b in watch.bytes] == [0xA7]
        # The docstring's latency: synchroniser, half a bit, nine bits, the output register.
        assert watch.bytes[0][0] - edge == 2 + divisor // 2 + 9 * divisor + 1
        assert not watch.framing and not watch.overrun and not any(watch.brk)

    run_sim(dut, tb)


def test_uart_rx_framing_error_then_recovers():
    divisor = 4
    dut = UartRx(divisor)
    watch = RxWatch(dut)

    async def tb(ctx):
        ctx.set(dut.stream.ready, 1)
        await drive_bits(ctx, dut, [1], divisor, watch)
        await drive_bits(ctx, dut, char_bits(0x3C, stop=0) + [1, 1], divisor, watch)
        assert len(watch.framing) == 1 and not watch.bytes
        await drive_bits(ctx, dut, char_bits(0x3C) + [1], divisor, watch)
        assert [b for _, b in watch.bytes] == [0x3C]
        assert len(watch.framing) == 1 and not watch.overrun and not any(watch.brk)

    run_sim(dut, tb)


def test_uart_rx_break():
    """A line held low: one framing error, ``brk`` from just past 10 bit times until the line goes high, no byte,
    and the next byte after the break is received."""
    divisor = 4
    dut = UartRx(divisor)
    watch = RxWatch(dut)

    async def tb(ctx):
        ctx.set(dut.stream.ready, 1)
        await drive_bits(ctx, dut, [1], divisor, watch)
        start = watch.cycle
        await drive_bits(ctx, dut, [0] * 30, divisor, watch)
        first_brk = watch.brk.index(1)
        # The pin reaches the break detector through the synchroniser (2 cycles), then 10 bit times + 1 cycle.
        assert first_brk - start == 2 + 10 * divisor + 1
        assert all(watch.brk[first_brk:])
        await drive_bits(ctx, dut, [1, 1], divisor, watch)
        assert watch.brk[-1] == 0 and watch.brk.index(0, first_brk) - (start + 30 * divisor) == 3
        assert len(watch.framing) == 1 and not watch.bytes
        await drive_bits(ctx, dut, char_bits(0x81) + [1], divisor, watch)
        assert [b for _, b in watch.bytes] == [0x81] and len(watch.framing) == 1

    run_sim(dut, tb)


def test_uart_rx_ignores_glitch_and_short_low_is_not_break():
    divisor = 8
    dut = UartRx(divisor)
    watch = RxWatch(dut)

    async def tb(ctx):
        ctx.set(dut.stream.ready, 1)
        await drive_bits(ctx, dut, [1], divisor, watch)
        ctx.set(dut.rx, 0)                               # shorter than half a bit
        for _ in range(divisor // 2 - 1):
            watch(ctx)
            await ctx.tick()
        await drive_bits(ctx, dut, [1] * 12, divisor, watch)
        assert not watch.bytes and not watch.framing
        # 0x00 is nine bit times low: a byte, not a break.
        await drive_bits(ctx, dut, char_bits(0x00) + [1], divisor, watch)
        assert [b for _, b in watch.bytes] == [0x00] and not any(watch.brk)

    run_sim(dut, tb)


def test_uart_rx_overrun_keeps_the_waiting_byte():
    """With the consumer not ready, the first byte waits; the second is dropped with ``overrun``; after the
    consumer takes the first, a third byte comes through."""
    divisor = 4
    dut = UartRx(divisor)
    watch = RxWatch(dut)

    async def tb(ctx):
        ctx.set(dut.stream.ready, 0)
        await drive_bits(ctx, dut, [1], divisor, watch)
        await drive_bits(ctx, dut, char_bits(0x11) + char_bits(0x22) + [1], divisor, watch)
        assert len(watch.overrun) == 1 and not watch.framing
        assert ctx.get(dut.stream.valid) and ctx.get(dut.stream.payload) == 0x11
        ctx.set(dut.stream.ready, 1)
        await drive_bits(ctx, dut, char_bits(0x33) + [1], divisor, watch)
        assert [b for _, b in watch.bytes] == [0x11, 0x33] and len(watch.overrun) == 1

    run_sim(dut, tb)


# The bridge at the byte-stream level.

def test_bridge_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"^Address width must be an integer in 0..32, not '8'$"):
        UartBridge("8", 10)
    with pytest.raises(ValueError, match=r"^Address width must be an integer in 0..32, not 33$"):
        UartBridge(33, 10)
    with pytest.raises(ValueError, match=r"^Address width must be an integer in 0..32, not -1$"):
        UartBridge(-1, 10)
    with pytest.raises(TypeError, match=r"^Timeout must be a positive integer number of cycles, not 1.5$"):
        UartBridge(8, 1.5)
    with pytest.raises(ValueError, match=r"^Timeout must be a positive integer number of cycles, not 0$"):
        UartBridge(8, 0)
    bridge = UartBridge(12, 100)
    Fragment.get(bridge, None)
    assert (bridge.addr_width, bridge.timeout_cycles) == (12, 100)


class Host:
    """One testbench's view of the bridge: sends request bytes, collects reply bytes, and is the bus slave.

    The slave is a dict memory (absent words read 0) that acknowledges each transaction after 0..2 cycles (drawn
    per transaction); ``fifo_addr``, if set, is a FIFO window instead (writes push, reads pop, empty reads 0). It
    checks the master's side of the bus protocol: never ``w_en`` with ``r_en``, the request held steady until
    ``ack``.
    """

    def __init__(self, ctx, dut, *, seed=0, delays=(0, 1, 2), tx_ready=None, fifo_addr=None):
        self.ctx, self.dut = ctx, dut
        self.rng = random.Random(seed)
        self.delays = delays
        self.tx_ready = tx_ready                  # None: always ready; else a list cycled through
        self.fifo_addr = fifo_addr
        self.mem = {}
        self.fifo = []
        self.replies = bytearray()
        self.seen = 0                             # reply bytes already matched by expect()
        self.cycle = 0
        self.writes = []                          # (cycle, addr, data)
        self.reads = []                           # (cycle, addr)
        self.reply_cycles = []                    # cycle of each reply byte
        self._wait = None
        self._request = None
        # Signals looked up once, and inputs set only when they change: each ``ctx.set`` settles the design, and
        # this loop runs a few hundred thousand cycles in the fuzz test.
        bus = dut.bus
        self._w_en, self._r_en, self._addr, self._w_data = bus.w_en, bus.r_en, bus.addr, bus.w_data
        self._ack, self._r_data, self._brk = bus.ack, bus.r_data, dut.brk
        self._rx_valid, self._rx_payload, self._tx_ready, self._tx_payload = (
            dut.rx.valid, dut.rx.payload, dut.tx.ready, dut.tx.payload)
        self._probe = Cat(bus.w_en, bus.r_en, dut.tx.valid, dut.rx.ready)
        self._inputs = {}                         # id(signal): the value last set
        self._set(self._tx_ready, 1)

    def _set(self, signal, value):
        if self._inputs.get(id(signal)) != value:
            self._inputs[id(signal)] = value
            self.ctx.set(signal, value)
            return True
        return False

    async def tick(self, brk=0):
        """One clock cycle; returns whether a request byte was taken in it."""
        ctx = self.ctx
        if brk:
            ctx.set(self._brk, 1)
        probe = ctx.get(self._probe)
        w_en, r_en = probe & 1, probe >> 1 & 1
        ack = 0
        if w_en or r_en:
            assert not (w_en and r_en), "w_en and r_en together"
            addr = ctx.get(self._addr)
            request = (w_en, addr, ctx.get(self._w_data) if w_en else None)
            if self._wait is None:
                self._wait = self.rng.choice(self.delays)
                self._request = request
            assert request == self._request, "the master changed its request before ack"
            if self._wait == 0:
                self._wait = None
                ack = 1
                if w_en:
                    self.writes.append((self.cycle, addr, request[2]))
                    if addr == self.fifo_addr:
                        self.fifo.append(request[2])
                    else:
                        self.mem[addr] = request[2]
                else:
                    self.reads.append((self.cycle, addr))
                    if addr == self.fifo_addr:
                        value = self.fifo.pop(0) if self.fifo else 0
                    else:
                        value = self.mem.get(addr, 0)
                    ctx.set(self._r_data, value)
            else:
                self._wait -= 1
        else:
            assert self._wait is None, "the master dropped its request before ack"
        changed = self._set(self._ack, ack)
        if self.tx_ready is not None:
            changed |= self._set(self._tx_ready, self.tx_ready[self.cycle % len(self.tx_ready)])
        if changed:
            probe = ctx.get(self._probe)
        if probe & 4 and self._inputs[id(self._tx_ready)]:
            self.replies.append(ctx.get(self._tx_payload))
            self.reply_cycles.append(self.cycle)
        taken = probe & 8 and self._inputs.get(id(self._rx_valid))
        await ctx.tick()
        self.cycle += 1
        if brk:
            ctx.set(self._brk, 0)
        return taken

    async def idle(self, cycles):
        for _ in range(cycles):
            await self.tick()

    async def send(self, data, *, gap=0, bound=100_000):
        """Send request bytes, each held until taken, with ``gap`` idle cycles after each."""
        for byte in data:
            self._set(self._rx_payload, byte)
            self._set(self._rx_valid, 1)
            start = self.cycle
            while not await self.tick():
                assert self.cycle - start < bound, "the bridge stopped taking bytes"
            if gap:
                self._set(self._rx_valid, 0)
                for _ in range(gap):
                    await self.tick()
        self._set(self._rx_valid, 0)

    async def expect(self, data, bound):
        """Wait (at most ``bound`` cycles) for the next reply bytes and compare them."""
        start = self.cycle
        while len(self.replies) < self.seen + len(data):
            assert self.cycle - start < bound, (
                f"no reply within {bound} cycles: expected {data.hex()}, got {self.replies[self.seen:].hex()}")
            await self.tick()
        got = bytes(self.replies[self.seen:self.seen + len(data)])
        assert got == data, f"expected {data.hex()}, got {got.hex()}"
        self.seen += len(data)
        return self.cycle - start

    async def exchange(self, req, rep, bound=2_000):
        await self.send(req)
        return await self.expect(rep, bound)

    def assert_quiet(self):
        assert len(self.replies) == self.seen, f"unexpected reply bytes {self.replies[self.seen:].hex()}"


def run_bridge(testbench, *, addr_width=8, timeout_cycles=20, **host_kwargs):
    dut = UartBridge(addr_width, timeout_cycles)

    async def tb(ctx):
        host = Host(ctx, dut, **host_kwargs)
        await testbench(host)
        await host.idle(timeout_cycles + 10)
        host.assert_quiet()

    run_sim(dut, tb)
    return dut


def words_of(rng, count):
    return [rng.getrandbits(32) for _ in range(count)]


def test_bridge_write_then_read_incrementing():
    rng = random.Random(1)

    async def tb(host):
        expected_mem = {}
        for count, addr in [(1, 0x00), (1, 0xFF), (3, 0x10), (256, 0x00)]:
            data = words_of(rng, count)
            before = len(host.writes)
            await host.exchange(request(WRITE, addr, count, data), reply(OK), bound=4_000)
            assert [(a, w) for _, a, w in host.writes[before:]] == [(addr + i, w) for i, w in enumerate(data)]
            # The reply starts only after the last write was acknowledged.
            assert host.reply_cycles[-len(reply(OK))] > host.writes[-1][0]
            expected_mem.update((addr + i, w) for i, w in enumerate(data))
            await host.send(request(READ, addr, count))
            last_request_byte = host.cycle - 1
            await host.expect(reply(OK, data), bound=4_000)
            # The docstring's latency: the frame is judged the cycle after its last byte, the reply starts next.
            assert host.reply_cycles[-len(reply(OK, data))] == last_request_byte + 2
        assert host.mem == expected_mem
        assert [a for _, a in host.reads] == [0, 0xFF, 0x10, 0x11, 0x12] + list(range(256))
        assert ctx_counters(host) == (8, 0, OK)

    run_bridge(tb)


def ctx_counters(host):
    dut = host.dut
    return (host.ctx.get(dut.frames_ok), host.ctx.get(dut.frames_bad), host.ctx.get(dut.last_status).value)


def test_bridge_fixed_address_is_a_fifo_window():
    """Fixed-address writes push every word to the same address in order; fixed reads pop one per word, each read
    from the bus as its turn comes."""
    fifo_addr = 0x21

    async def tb(host):
        await host.exchange(request(WRITE | FIXED, fifo_addr, 5, [1, 2, 3, 4, 5]), reply(OK))
        assert [a for _, a, _ in host.writes] == [fifo_addr] * 5 and host.fifo == [1, 2, 3, 4, 5]
        await host.exchange(request(READ | FIXED, fifo_addr, 3), reply(OK, [1, 2, 3]))
        await host.exchange(request(READ | FIXED, fifo_addr, 4), reply(OK, [4, 5, 0, 0]))
        # A plain word under a fixed read: the same value each time.
        await host.exchange(request(WRITE, 0x30, 1, [0xCAFEF00D]), reply(OK))
        await host.exchange(request(READ | FIXED, 0x30, 3), reply(OK, [0xCAFEF00D] * 3))
        # 256 words to one address.
        data = list(range(1000, 1256))
        await host.exchange(request(WRITE | FIXED, fifo_addr, 256, data), reply(OK), bound=4_000)
        await host.exchange(request(READ | FIXED, fifo_addr, 256), reply(OK, data), bound=4_000)
        # Each read happens between the words sent: not all before the first byte of data goes out.
        first_data_byte = host.reply_cycles[-len(reply(OK, data)) + 4]
        assert sum(c > first_data_byte for c, _ in host.reads[-256:]) == 255

    run_bridge(tb, fifo_addr=fifo_addr)


def test_bridge_with_tx_backpressure_and_combinational_slave():
    rng = random.Random(2)

    async def tb(host):
        data = words_of(rng, 9)
        await host.exchange(request(WRITE, 0x40, 9, data), reply(OK))
        # With a slave that acknowledges at once, the nine writes take nine consecutive cycles.
        cycles = [c for c, _, _ in host.writes]
        assert cycles == list(range(cycles[0], cycles[0] + 9))
        await host.exchange(request(READ, 0x40, 9), reply(OK, data))
        await host.exchange(request(READ, 0x3F, 1), reply(OK, [0]))

    run_bridge(tb, delays=(0,), tx_ready=[1, 0, 0, 1, 1, 0, 1])


def test_bridge_error_statuses():
    """Each status, with the bus untouched; and the order when a frame has several faults."""
    rng = random.Random(3)
    aw = 8
    top = 1 << aw

    async def tb(host):
        cases = [
            (request(WRITE, 0, 2, [1, 2], crc_xor=0x0001), BAD_CRC),
            (request(READ, 0, 2, crc_xor=0x8000), BAD_CRC),
            (request(0x04, 0, 1, [7]), BAD_COMMAND),
            (request(0x80 | READ, 0, 1), BAD_COMMAND),
            (request(0xFC | READ | FIXED, 0, 1), BAD_COMMAND),
            (request(WRITE, 0, 0), BAD_COUNT),
            (request(READ, 0, 0), BAD_COUNT),
            (request(READ, 0, 257), BAD_COUNT),
            (request(READ | FIXED, 0, 0xFFFF), BAD_COUNT),
            (request(WRITE, 0, 257, words_of(rng, 257)), BAD_COUNT),
            (request(WRITE | FIXED, 0, 300, words_of(rng, 300)), BAD_COUNT),
            (request(WRITE, top - 1, 2, [1, 2]), OUT_OF_RANGE),
            (request(READ, top - 255, 256), OUT_OF_RANGE),
            (request(WRITE | FIXED, top, 1, [1]), OUT_OF_RANGE),
            (request(READ | FIXED, 0xFFFFFFFF, 1), OUT_OF_RANGE),
            (request(READ, 0xFFFFFFFF, 2), OUT_OF_RANGE),
            # Several faults: CRC first, then command, count, range.
            (request(0x04, 0, 0, crc_xor=1), BAD_CRC),
            (request(0x08 | READ, top, 0), BAD_COMMAND),
            (request(READ, top, 0), BAD_COUNT),
        ]
        for req, status in cases:
            await host.exchange(req, reply(status), bound=200)
        assert not host.writes and not host.reads
        # The edges that are in range.
        await host.exchange(request(WRITE, top - 2, 2, [5, 6]), reply(OK))
        await host.exchange(request(READ, top - 256, 256), reply(OK, [0] * 254 + [5, 6]), bound=4_000)
        await host.exchange(request(READ | FIXED, top - 1, 256), reply(OK, [6] * 256), bound=4_000)
        assert ctx_counters(host) == (3, len(cases), OK)

    run_bridge(tb, addr_width=aw)


@pytest.mark.parametrize("addr_width", [0, 32])
def test_bridge_address_width_extremes(addr_width):
    async def tb(host):
        top = 1 << addr_width
        await host.exchange(request(WRITE, top - 1, 1, [0x5A5A5A5A]), reply(OK))
        await host.exchange(request(READ, top - 1, 1), reply(OK, [0x5A5A5A5A]))
        await host.exchange(request(READ, top - 1, 2), reply(OUT_OF_RANGE))
        await host.exchange(request(WRITE | FIXED, top - 1, 3, [1, 2, 3]), reply(OK))
        if addr_width < 32:
            await host.exchange(request(READ | FIXED, top, 1), reply(OUT_OF_RANGE))
        assert [a for _, a, _ in host.writes] == [(top - 1) & ((1 << max(addr_width, 1)) - 1)] * 4

    run_bridge(tb, addr_width=addr_width)


def test_bridge_timeout():
    """A gap of ``timeout_cycles`` idle cycles between two bytes of a frame is fine; one more ends the frame with
    status 4 at once; the bytes that follow are hunted through."""
    timeout = 12
    frame = request(WRITE, 3, 2, [0x11, 0x22])

    async def tb(host):
        await host.send(frame, gap=timeout)
        await host.expect(reply(OK), 100)
        for cut in (1, 2, 7, 9, len(frame) - 1):
            await host.send(frame[:cut])
            start = host.cycle
            await host.expect(reply(TIMEOUT)[:1], timeout + 3)
            assert host.cycle - start == timeout + 2          # the gap, the abort cycle, the sync byte out
            await host.expect(reply(TIMEOUT)[1:], 20)
        # The rest of a timed-out frame is garbage; without a sync byte in it nothing answers.
        await host.send(frame[:5])
        await host.expect(reply(TIMEOUT), timeout + 20)
        await host.send(frame[5:])
        await host.idle(2 * timeout)
        host.assert_quiet()
        assert host.mem == {3: 0x11, 4: 0x22} and len(host.writes) == 2

    run_bridge(tb, timeout_cycles=timeout)


def test_bridge_break():
    """A break inside a frame: status 4 at once. A break between frames, or while a complete frame is executed or
    answered, changes nothing."""
    frame = request(WRITE, 9, 3, [7, 8, 9])

    async def tb(host):
        for cut in (1, 6, len(frame) - 1):
            await host.send(frame[:cut])
            await host.tick(brk=1)
            await host.expect(reply(TIMEOUT), 10)
        await host.tick(brk=1)
        await host.idle(5)
        host.assert_quiet()
        assert not host.writes
        # Break held through the execution and the reply of a complete frame.
        await host.send(frame)
        for _ in range(20):
            await host.tick(brk=1)
        await host.expect(reply(OK), 10)
        assert host.mem == {9: 7, 10: 8, 11: 9}

    run_bridge(tb)


def test_bridge_hunts_through_garbage():
    async def tb(host):
        busy = []
        for byte in bytes(b for b in range(256) if b != 0x5A):
            await host.send([byte])
            busy.append(host.ctx.get(host.dut.busy))
        await host.idle(50)
        host.assert_quiet()
        assert not any(busy)
        # ``busy`` from the cycle after the sync byte to the cycle after the reply's last byte.
        await host.send(b"\x5a")
        assert host.ctx.get(host.dut.busy)
        await host.send(request(READ, 1, 1)[1:])
        await host.expect(reply(OK, [0]), 100)
        assert host.ctx.get(host.dut.busy) == 0 and host.reply_cycles[-1] == host.cycle - 1
        await host.exchange(b"\x00\xa5\xff" + request(WRITE, 1, 1, [42]), reply(OK))
        await host.exchange(request(READ, 1, 1), reply(OK, [42]))
        # Back to back: no idle cycle between frames or garbage.
        await host.send(request(READ, 1, 1) + b"\x13\x37" + request(READ | FIXED, 1, 2))
        await host.expect(reply(OK, [42]) + reply(OK, [42, 42]), 200)

    run_bridge(tb, delays=(2,))


# Fuzz: malformed frames interleaved with valid ones.

FUZZ_AW = 6
FUZZ_TIMEOUT = 8


class Fuzzer:
    """Makes fuzz events and what the bridge must answer to each (independently of the bridge's code)."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.top = 1 << FUZZ_AW

    def count(self):
        return self.rng.choice([1, 1, 1, 2, 2, 3, 4])

    def valid(self):
        rng = self.rng
        read, fixed = rng.random() < 0.5, rng.random() < 0.25
        count = self.count()
        addr = rng.randrange(self.top) if fixed else rng.randrange(self.top - count + 1)
        cmd = (READ if read else WRITE) | (FIXED if fixed else 0)
        return cmd, addr, count, [] if read else words_of(rng, count)

    def complete_frame(self):
        """Any complete frame (valid or not): for cutting short."""
        cmd, addr, count, data = self.valid()
        return request(cmd, addr, count, data)

    def bad(self):
        """A complete, malformed frame: ``(bytes, status, garbage after it)``."""
        rng = self.rng
        cmd, addr, count, data = self.valid()
        kind = rng.choices(["crc", "cmd", "count", "range", "long"], [4, 3, 3, 3, 2])[0]
        if kind == "crc":
            return request(cmd, addr, count, data, crc_xor=rng.randrange(1, 1 << 16)), BAD_CRC, b""
        if kind == "cmd":
            return request(cmd | rng.randrange(1, 64) << 2, addr, count, data), BAD_COMMAND, b""
        if kind == "count":
            addr = rng.getrandbits(32)
            if cmd & READ:
                count = rng.choice([0, rng.randrange(257, 1 << 16)])
            elif rng.random() < 0.01:
                count = 257
            else:
                count = 0
            return request(cmd, addr, count, words_of(rng, 0 if cmd & READ else count)), BAD_COUNT, b""
        if kind == "range":
            addr = rng.randrange(self.top if cmd & FIXED else self.top - count + 1, 1 << 32)
            return request(cmd, addr, count, data), OUT_OF_RANGE, b""
        # Longer than its header says: the bridge takes the first two extra bytes as the CRC (drawn so that they
        # are not the right one), and hunts through the rest.
        body = request_body(cmd, addr, count, data)
        while True:
            extra = bytes(rng.getrandbits(8) for _ in range(rng.randrange(2, 7)))
            if int.from_bytes(extra[:2], "little") != CRC16.compute(body):
                break
        whole = body + extra
        tail = extra[2:] + le(CRC16.compute(whole), 2)
        return b"\x5a" + body + extra[:2], BAD_CRC, tail

    def garbage(self):
        """Bytes between frames: no sync byte (no reply), or one followed by too few bytes for a frame."""
        rng = self.rng
        junk = bytes(rng.choice([b for b in range(256) if b != 0x5A]) for _ in range(rng.randrange(1, 12)))
        if rng.random() < 0.5:
            return junk, False
        return junk + b"\x5a" + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 9))), True


async def fuzz_run(host, fuzzer, events):
    rng = fuzzer.rng
    shadow = {}
    ok = bad = 0
    bound = FUZZ_TIMEOUT + 64
    stats = dict.fromkeys(["valid", "bad", "truncated", "break", "garbage"], 0)
    for _ in range(events):
        kind = rng.choices(list(stats), [35, 30, 12, 8, 15])[0]
        stats[kind] += 1
        if kind == "valid":
            cmd, addr, count, data = fuzzer.valid()
            if cmd & READ:
                expected = reply(OK, [shadow.get(addr if cmd & FIXED else addr + i, 0) for i in range(count)])
            else:
                expected = reply(OK)
                for i, word in enumerate(data):
                    shadow[addr if cmd & FIXED else addr + i] = word
            await host.exchange(request(cmd, addr, count, data), expected, bound)
            ok += 1
        elif kind == "bad":
            frame, status, tail = fuzzer.bad()
            await host.exchange(frame, reply(status), 4 * len(frame) + bound)
            bad += 1
            if tail:
                await host.send(tail)
                if 0x5A in tail:
                    await host.expect(reply(TIMEOUT), bound)
                    bad += 1
        elif kind == "truncated":
            frame = fuzzer.complete_frame()
            await host.send(frame[:rng.randrange(1, len(frame))])
            await host.expect(reply(TIMEOUT), bound)
            bad += 1
        elif kind == "break":
            frame = fuzzer.complete_frame()
            await host.send(frame[:rng.randrange(1, len(frame))])
            for _ in range(rng.randrange(1, 4)):
                await host.tick(brk=1)
            await host.expect(reply(TIMEOUT), 16)
            bad += 1
        else:
            junk, starts_frame = fuzzer.garbage()
            await host.send(junk)
            if not starts_frame and rng.random() < 0.3:
                await host.tick(brk=1)                      # a break between frames: no reply
            if starts_frame:
                await host.expect(reply(TIMEOUT), bound)
                bad += 1
            host.assert_quiet()
        assert host.mem == shadow, f"the memory differs from its shadow after a {kind} event"
    # Everything reads back through the bridge at the end, too.
    await host.exchange(request(READ, 0, fuzzer.top), reply(OK, [shadow.get(a, 0) for a in range(fuzzer.top)]),
                        2_000)
    ok += 1
    return ok, bad, stats


#: The fuzz run is split into this many tests with their own seeds, so that pytest-xdist spreads it over the cores.
FUZZ_PARTS = 4


@pytest.mark.parametrize("part", range(FUZZ_PARTS))
def test_bridge_fuzz(part):
    total = int(os.environ.get("PIMGEN_FUZZ_FRAMES", 10**4))
    events = total // FUZZ_PARTS + (part < total % FUZZ_PARTS)
    fuzzer = Fuzzer(seed=2024 + part)
    result = {}

    async def tb(host):
        result["counts"] = await fuzz_run(host, fuzzer, events)
        ok, bad, _ = result["counts"]
        assert ctx_counters(host)[:2] == (ok % (1 << 16), bad % (1 << 16))
        result["cycles"] = host.cycle

    run_bridge(tb, addr_width=FUZZ_AW, timeout_cycles=FUZZ_TIMEOUT, seed=5 + part)
    ok, bad, stats = result["counts"]
    assert stats["valid"] > events // 4 and min(stats.values()) > events // 20
    print(f"fuzz: {events} events {stats}, {ok} ok and {bad} bad replies, {result['cycles']} cycles")


# The bridge behind a UART pair, at the pin level.

class PinLevel(Elaboratable):
    """Host UART -> pin -> UartRx -> UartBridge -> UartTx -> pin -> host UART; ``hold_low`` forces the request line
    low (a break)."""

    def __init__(self, divisor, addr_width, timeout_cycles):
        self.host_tx = UartTx(divisor)
        self.host_rx = UartRx(divisor)
        self.rx = UartRx(divisor)
        self.tx = UartTx(divisor)
        self.bridge = UartBridge(addr_width, timeout_cycles)
        self.hold_low = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.host_tx = self.host_tx
        m.submodules.host_rx = self.host_rx
        m.submodules.rx = self.rx
        m.submodules.tx = self.tx
        m.submodules.bridge = self.bridge
        wiring.connect(m, self.rx.stream, self.bridge.rx)
        wiring.connect(m, self.bridge.tx, self.tx.stream)
        m.d.comb += [
            self.rx.rx.eq(self.host_tx.tx & ~self.hold_low),
            self.bridge.brk.eq(self.rx.brk),
            self.host_rx.rx.eq(self.tx.tx),
        ]
        return m


def test_bridge_over_uart_pins():
    divisor = 4
    timeout = 16 * 10 * divisor
    dut = PinLevel(divisor, 8, timeout)
    mem = {}

    async def tb(ctx):
        bus = dut.bridge.bus
        received = bytearray()
        ctx.set(dut.host_rx.stream.ready, 1)

        async def tick():
            ack = ctx.get(bus.w_en) or ctx.get(bus.r_en)
            if ctx.get(bus.w_en):
                mem[ctx.get(bus.addr)] = ctx.get(bus.w_data)
            ctx.set(bus.r_data, mem.get(ctx.get(bus.addr), 0))
            ctx.set(bus.ack, ack)
            if ctx.get(dut.host_rx.stream.valid):
                received.append(ctx.get(dut.host_rx.stream.payload))
            await ctx.tick()

        async def send(data):
            for byte in data:
                ctx.set(dut.host_tx.stream.valid, 1)
                ctx.set(dut.host_tx.stream.payload, byte)
                while not ctx.get(dut.host_tx.stream.ready):
                    await tick()
                await tick()
            ctx.set(dut.host_tx.stream.valid, 0)

        async def expect(data):
            for _ in range(timeout + 10 * divisor * (len(data) + 2)):
                if len(received) >= len(data):
                    break
                await tick()
            assert bytes(received) == data
            received.clear()

        await send(request(WRITE, 0x10, 2, [0x01020304, 0xA0B0C0D0]))
        await expect(reply(OK))
        assert mem == {0x10: 0x01020304, 0x11: 0xA0B0C0D0}
        await send(request(READ, 0x10, 2))
        await expect(reply(OK, [0x01020304, 0xA0B0C0D0]))
        # A break in the middle of a write: status 4, nothing written.
        await send(request(WRITE, 0x20, 1, [5])[:6])
        ctx.set(dut.hold_low, 1)
        for _ in range(12 * 10 * divisor):
            await tick()
        ctx.set(dut.hold_low, 0)
        await expect(reply(TIMEOUT))
        assert 0x20 not in mem
        # A frame cut short: status 4 after the timeout.
        await send(request(READ, 0x10, 1)[:4])
        await expect(reply(TIMEOUT))
        await send(request(READ, 0x11, 1))
        await expect(reply(OK, [0xA0B0C0D0]))

    run_sim(dut, tb)
