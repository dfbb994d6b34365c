"""The UART bridge: request/reply frames from the host (docs/fpga.md) turned into register bus transactions.

Frame handling, including the choices docs/fpga.md leaves open:

* **Hunting.** Between frames every byte that is not :data:`REQUEST_SYNC` is dropped without a reply.
* **Every frame is read to the end its header gives** (``cmd`` bit 0 and ``count``), whatever its fields hold: a
  read ends after the count, a write after ``4 * count`` data bytes (any count, 0..65535; only the first
  :data:`MAX_COUNT` words are kept, the rest are only checksummed), then come the two CRC bytes. Only then is the
  frame judged, so a malformed but complete frame gets exactly one reply and leaves the bridge hunting at the byte
  after its CRC; the bytes of a bad frame are never parsed again as a new one. A bad command is judged by bit 0
  for the length, like a good one.
* **The reply status of a complete frame** is the first of: 1 (bad CRC: then no other field can be trusted), 2 (bad
  command: a bit above bit 1 set), 3 (bad count: 0 or above 256), 5 (address out of range: ``addr``, or with an
  incrementing address ``addr + count - 1``, at or above ``2**addr_width``), 0 (ok).
* **Timeout and break (status 4).** From the sync byte to the last CRC byte, a gap of more than ``timeout_cycles``
  cycles between two bytes, or ``brk`` high in any cycle, drops the frame: the bridge replies status 4 at once and
  hunts again. (A write frame with a corrupted, too large count therefore ends in status 4 after the host falls
  silent.) Once the last CRC byte is in, the frame is complete: a break during its bus transactions or its reply
  changes nothing.
* **Writes** are buffered whole in a :data:`MAX_COUNT` x 32 memory; the bus sees them only after every check has
  passed, then one after the other, and the reply (status 0, count 0) follows the last ``ack``.
* **Reads** start after the checks: the reply header (sync, status 0, count) goes out first, then each word, read
  from the bus just before its four bytes are sent, then the CRC.
* **While a frame is being judged, executed or answered the bridge does not take bytes** (``rx.ready`` is low):
  they wait upstream (the UART receiver holds one; further ones overrun there). The host waits for each reply.

The request CRC covers ``cmd`` .. the last data byte, the reply CRC ``status`` .. the last data byte; both go out
low byte first. One :class:`amaranth.lib.crc.Processor` computes both, fed one byte per transfer.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal
from amaranth.lib import enum, stream, wiring
from amaranth.lib.crc import catalog
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hw.common.bus import DATA_WIDTH, BusSignature

__all__ = ["UartBridge", "Status", "REQUEST_SYNC", "REPLY_SYNC", "CMD_READ", "CMD_FIXED", "MAX_COUNT",
           "CRC_ALGORITHM", "ADDR_BYTES", "COUNT_BYTES", "CRC_BYTES"]

#: First byte of a request, and of a reply.
REQUEST_SYNC = 0x5A
REPLY_SYNC = 0xA5
#: ``cmd`` bits: read (else write), fixed address (else incrementing). The other bits must be 0.
CMD_READ = 0x01
CMD_FIXED = 0x02
#: Largest word count of a request (the depth of the write buffer).
MAX_COUNT = 256
#: Field sizes in bytes.
ADDR_BYTES = 4
COUNT_BYTES = 2
CRC_BYTES = 2
WORD_BYTES = DATA_WIDTH // 8
#: CRC-16/CCITT-FALSE, one byte at a time; ``.compute(bytes)`` is the host's software model of the same thing.
CRC_ALGORITHM = catalog.CRC16_CCITT_FALSE(data_width=8)


class Status(enum.Enum, shape=8):
    """Reply status byte."""
    OK = 0
    BAD_CRC = 1
    BAD_COMMAND = 2
    BAD_COUNT = 3
    TIMEOUT = 4
    OUT_OF_RANGE = 5


class UartBridge(wiring.Component):
    """Register bus master driven by request frames from a byte stream (docs/fpga.md; choices in the module
    docstring).

    Parameters
    ----------
    addr_width : int
        Word address width of the bus, 0..32; addresses at or above ``2**addr_width`` are out of range.
    timeout_cycles : int
        The longest gap, in cycles, allowed between two bytes of a frame (docs/fpga.md: 16 byte times, so
        ``160 * divisor`` behind a UART); at least 1.

    Interface attributes
    --------------------
    rx : In(stream.Signature(8))
        Request bytes (from :class:`hw.common.uart.UartRx`). Taken at one per cycle while a frame is being received
        or hunted for; ``ready`` is low while a frame is judged, executed or answered.
    tx : Out(stream.Signature(8))
        Reply bytes (to :class:`hw.common.uart.UartTx`).
    brk : In(1)
        Break on the line (:attr:`hw.common.uart.UartRx.brk`): ends a frame in progress with status 4.
    bus : Out(BusSignature(addr_width))
        The bus, as its master.
    frames_ok : Out(16)
        Replies with status 0 sent (wraps).
    frames_bad : Out(16)
        Replies with another status sent (wraps).
    last_status : Out(Status)
        Status of the last reply sent.
    busy : Out(1)
        A frame is in progress: high from the cycle after its sync byte is taken until the cycle after the last byte
        of its reply is (everything but hunting).

    Latency: the bridge judges a frame the cycle after its last CRC byte, and puts the reply's sync byte on ``tx``
    the cycle after that (a write: the cycle after its last ``ack``); a timeout or break is answered the cycle after
    it is seen. Throughput: request bytes at one per cycle, reply bytes at one per cycle when ``tx`` is ready,
    writes at one per cycle with a slave that acknowledges in the same cycle, reads at one per ``1 + slave latency
    + 4`` cycles (the bus read, then its four bytes). Behind a UART the line rate is the only limit.

    Raises
    ------
    TypeError, ValueError
        On an address width that is not an integer in 0..32, or a timeout that is not a positive integer.
    """

    def __init__(self, addr_width, timeout_cycles):
        if isinstance(addr_width, bool) or not isinstance(addr_width, int):
            raise TypeError(f"Address width must be an integer in 0..{8 * ADDR_BYTES}, not {addr_width!r}")
        if not 0 <= addr_width <= 8 * ADDR_BYTES:
            raise ValueError(f"Address width must be an integer in 0..{8 * ADDR_BYTES}, not {addr_width}")
        if isinstance(timeout_cycles, bool) or not isinstance(timeout_cycles, int):
            raise TypeError(f"Timeout must be a positive integer number of cycles, not {timeout_cycles!r}")
        if timeout_cycles < 1:
            raise ValueError(f"Timeout must be a positive integer number of cycles, not {timeout_cycles}")
        self._addr_width = addr_width
        self._timeout_cycles = timeout_cycles
        super().__init__({
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "brk": In(1),
            "bus": Out(BusSignature(addr_width)),
            "frames_ok": Out(16),
            "frames_bad": Out(16),
            "last_status": Out(Status),
            "busy": Out(1),
        })

    @property
    def addr_width(self):
        return self._addr_width

    @property
    def timeout_cycles(self):
        return self._timeout_cycles

    def elaborate(self, platform):
        m = Module()
        aw = self._addr_width
        rx, tx, bus = self.rx, self.tx, self.bus

        m.submodules.crc = crc = CRC_ALGORITHM.create()
        m.submodules.buffer = buffer = Memory(shape=DATA_WIDTH, depth=MAX_COUNT, init=[])
        buf_w = buffer.write_port()
        buf_r = buffer.read_port()

        cmd = Signal(8)
        addr = Signal(8 * ADDR_BYTES)          # the request's address, then the current bus address
        count = Signal(8 * COUNT_BYTES)
        crc_rx = Signal(8 * CRC_BYTES)
        shift = Signal(DATA_WIDTH - 8)         # the first bytes of a data word
        k = Signal(2)                          # byte within a field
        words = Signal(8 * COUNT_BYTES)        # words received, written or sent
        gap = Signal(range(self._timeout_cycles + 1))
        status = Signal(Status)
        reply_count = Signal(8 * COUNT_BYTES)
        word = Signal(DATA_WIDTH)              # a word read from the bus, being sent

        is_read = cmd[0]
        fixed = cmd[1]
        m.d.comb += [
            bus.addr.eq(addr[:aw] if aw else Const(0)),
            bus.w_data.eq(buf_r.data),
            buf_w.addr.eq(words),
            buf_w.data.eq(Cat(shift, rx.payload)),
        ]

        def receive(on_byte, *, checksum=True, first=False):
            """Common part of the states that take a frame's bytes: timeout, break, gap counter, CRC feed."""
            m.d.comb += rx.ready.eq(1)
            with m.If(self.brk | (~rx.valid & (gap == self._timeout_cycles))):
                m.d.sync += [status.eq(Status.TIMEOUT), reply_count.eq(0)]
                m.next = "REPLY_SYNC"
            with m.Elif(rx.valid):
                m.d.sync += gap.eq(0)
                if checksum:
                    m.d.comb += [crc.data.eq(rx.payload), crc.valid.eq(1), crc.start.eq(first)]
                on_byte(rx.payload)
            with m.Else():
                m.d.sync += gap.eq(gap + 1)

        def send(payload, next_state, *, checksum=True, first=False):
            """Put one reply byte on ``tx``; returns the transfer condition."""
            m.d.comb += [tx.valid.eq(1), tx.payload.eq(payload)]
            done = tx.ready
            if checksum:
                m.d.comb += [crc.data.eq(payload), crc.valid.eq(done), crc.start.eq(first & done)]
            with m.If(done):
                if next_state is not None:
                    m.next = next_state
            return done

        verdict = Signal(Status)
        last = Signal(8 * ADDR_BYTES + 1)
        m.d.comb += last.eq(addr + Mux(fixed, 0, (count - 1)[:8 * COUNT_BYTES]))
        with m.If(crc_rx != crc.crc):
            m.d.comb += verdict.eq(Status.BAD_CRC)
        with m.Elif(cmd[2:] != 0):
            m.d.comb += verdict.eq(Status.BAD_COMMAND)
        with m.Elif((count == 0) | (count > MAX_COUNT)):
            m.d.comb += verdict.eq(Status.BAD_COUNT)
        with m.Elif(last[aw:] != 0):
            m.d.comb += verdict.eq(Status.OUT_OF_RANGE)
        with m.Else():
            m.d.comb += verdict.eq(Status.OK)

        with m.FSM() as fsm:
            with m.State("HUNT"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid & (rx.payload == REQUEST_SYNC)):
                    m.d.sync += gap.eq(0)
                    m.next = "CMD"

            with m.State("CMD"):
                def on_cmd(b):
                    m.d.sync += [cmd.eq(b), k.eq(0)]
                    m.next = "ADDR"
                receive(on_cmd, first=True)

            with m.State("ADDR"):
                def on_addr(b):
                    m.d.sync += [addr.eq(Cat(addr[8:], b)), k.eq(k + 1)]
                    with m.If(k == ADDR_BYTES - 1):
                        m.d.sync += k.eq(0)
                        m.next = "COUNT"
                receive(on_addr)

            with m.State("COUNT"):
                def on_count(b):
                    new_count = Cat(count[8:], b)
                    m.d.sync += [count.eq(new_count), k.eq(k + 1), words.eq(0)]
                    with m.If(k == COUNT_BYTES - 1):
                        m.d.sync += k.eq(0)
                        with m.If(~is_read & (new_count != 0)):
                            m.next = "DATA"
                        with m.Else():
                            m.next = "CRC"
                receive(on_count)

            with m.State("DATA"):
                def on_data(b):
                    m.d.sync += [shift.eq(Cat(shift[8:], b)), k.eq(k + 1)]
                    with m.If(k == WORD_BYTES - 1):
                        m.d.sync += words.eq(words + 1)
                        m.d.comb += buf_w.en.eq(words < MAX_COUNT)
                        with m.If(words + 1 == count):
                            m.next = "CRC"
                receive(on_data)

            with m.State("CRC"):
                def on_crc(b):
                    m.d.sync += [crc_rx.eq(Cat(crc_rx[8:], b)), k.eq(k + 1)]
                    with m.If(k == CRC_BYTES - 1):
                        m.d.sync += k.eq(0)
                        m.next = "CHECK"
                receive(on_crc, checksum=False)

            with m.State("CHECK"):
                m.d.sync += [status.eq(verdict), words.eq(0), k.eq(0), reply_count.eq(0)]
                with m.If(verdict == Status.OK):
                    with m.If(is_read):
                        m.d.sync += reply_count.eq(count)
                        m.next = "REPLY_SYNC"
                    with m.Else():
                        m.next = "WRITE"
                with m.Else():
                    m.next = "REPLY_SYNC"

            with m.State("WRITE"):
                # The buffer's read port looks one word ahead once the current one is acknowledged.
                m.d.comb += [bus.w_en.eq(1), buf_r.addr.eq(Mux(bus.ack, words + 1, words))]
                with m.If(bus.ack):
                    m.d.sync += words.eq(words + 1)
                    with m.If(~fixed):
                        m.d.sync += addr.eq(addr + 1)
                    with m.If(words + 1 == count):
                        m.d.sync += words.eq(0)
                        m.next = "REPLY_SYNC"

            with m.State("REPLY_SYNC"):
                send(REPLY_SYNC, "REPLY_STATUS", checksum=False)
            with m.State("REPLY_STATUS"):
                send(status.as_value(), "REPLY_COUNT0", first=True)
            with m.State("REPLY_COUNT0"):
                send(reply_count[:8], "REPLY_COUNT1")
            with m.State("REPLY_COUNT1"):
                with m.If(send(reply_count[8:], None)):
                    m.next = "REPLY_CRC0"
                    with m.If(reply_count != 0):
                        m.next = "READ"

            with m.State("READ"):
                m.d.comb += bus.r_en.eq(1)
                with m.If(bus.ack):
                    m.d.sync += [word.eq(bus.r_data), k.eq(0)]
                    m.next = "REPLY_WORD"
            with m.State("REPLY_WORD"):
                with m.If(send(word.word_select(k, 8), None)):
                    m.d.sync += k.eq(k + 1)
                    with m.If(k == WORD_BYTES - 1):
                        m.d.sync += words.eq(words + 1)
                        with m.If(~fixed):
                            m.d.sync += addr.eq(addr + 1)
                        with m.If(words + 1 == reply_count):
                            m.next = "REPLY_CRC0"
                        with m.Else():
                            m.next = "READ"

            with m.State("REPLY_CRC0"):
                send(crc.crc[:8], "REPLY_CRC1", checksum=False)
            with m.State("REPLY_CRC1"):
                with m.If(send(crc.crc[8:], "HUNT", checksum=False)):
                    m.d.sync += self.last_status.eq(status)
                    with m.If(status == Status.OK):
                        m.d.sync += self.frames_ok.eq(self.frames_ok + 1)
                    with m.Else():
                        m.d.sync += self.frames_bad.eq(self.frames_bad + 1)
        m.d.comb += self.busy.eq(~fsm.ongoing("HUNT"))
        return m
