"""An 8N1 UART: a receiver and a transmitter with byte streams on the design side.

Both take ``divisor``, the number of clock cycles per bit (the clock frequency over the baud rate, rounded), and
frame bytes the same way: one start bit (low), eight data bits least significant first, one stop bit (high); the
line idles high. They are what carries the bridge protocol of docs/fpga.md between the host and ``fpga.bridge``.
"""

from amaranth.hdl import Cat, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UartRx", "UartTx", "MIN_DIVISOR", "DATA_BITS", "BREAK_BITS"]

#: The smallest divisor: the receiver samples a bit in its middle, and needs a few cycles per bit to find it.
MIN_DIVISOR = 4
#: Data bits per character.
DATA_BITS = 8
#: A line held low for longer than this many bit times is a break (a character, with its stop bit, is 10 bits).
BREAK_BITS = 10


def _check_divisor(divisor):
    if isinstance(divisor, bool) or not isinstance(divisor, int):
        raise TypeError(f"Divisor must be an integer >= {MIN_DIVISOR}, not {divisor!r}")
    if divisor < MIN_DIVISOR:
        raise ValueError(f"Divisor must be an integer >= {MIN_DIVISOR}, not {divisor}")
    return divisor


class UartRx(wiring.Component):
    """UART receiver, 8N1.

    The pin goes through a two-flop synchroniser. A falling edge starts a character; the start bit is checked again
    half a bit later (a shorter low pulse is ignored as a glitch), then each data bit and the stop bit are sampled
    in the middle of their bit time. The receiver looks for the next start bit from the middle of the stop bit on,
    so back-to-back characters (and a transmitter up to a few percent fast) are received.

    A received byte waits in an output register, with ``stream.valid`` high, until the consumer takes it. If the
    next byte completes while that one has still not been taken, the new byte is dropped and ``overrun`` pulses:
    the consumer has a whole character time (``10 * divisor`` cycles) to take each byte. A stop bit that reads low
    drops the byte and pulses ``framing_error``; the receiver then waits for the line to go high before it looks for
    a start bit again, so a break gives one framing error, not a stream of them.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Interface attributes
    --------------------
    rx : In(1)
        The pin, asynchronous, idle high.
    stream : Out(stream.Signature(8))
        Received bytes.
    overrun : Out(1)
        One-cycle pulse: a byte completed while the previous one was still waiting; the new byte is dropped.
    framing_error : Out(1)
        One-cycle pulse: the stop bit was low; the byte is dropped.
    brk : Out(1)
        High while the line has been low for more than :data:`BREAK_BITS` bit times (a break), until it goes high.

    Latency: ``stream.valid`` rises ``2 + divisor // 2 + 9 * divisor + 1`` cycles after the falling edge of the start
    bit reaches ``rx`` (2 for the synchroniser, then the middle of the stop bit). Throughput: one byte per
    ``10 * divisor`` cycles, the line rate.

    Raises
    ------
    TypeError, ValueError
        On a divisor that is not an integer of at least :data:`MIN_DIVISOR`.
    """

    def __init__(self, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "rx": In(1, init=1),
            "stream": Out(stream.Signature(DATA_BITS)),
            "overrun": Out(1),
            "framing_error": Out(1),
            "brk": Out(1),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        line = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, line, init=1)

        # Break detector: counts the cycles the line has been low, saturating one past the limit.
        break_limit = BREAK_BITS * divisor + 1
        low = Signal(range(break_limit + 1))
        with m.If(line):
            m.d.sync += low.eq(0)
        with m.Elif(low != break_limit):
            m.d.sync += low.eq(low + 1)
        m.d.comb += self.brk.eq(low == break_limit)

        # Output register: a byte stays valid until it is taken.
        with m.If(self.stream.ready):
            m.d.sync += self.stream.valid.eq(0)

        timer = Signal(range(divisor))
        bit = Signal(range(DATA_BITS))
        shreg = Signal(DATA_BITS)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~line):
                    m.d.sync += timer.eq(divisor // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):                 # too short for a start bit: a glitch
                    m.next = "IDLE"
                with m.Else():
                    m.d.sync += [timer.eq(divisor - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Else():
                    m.d.sync += [shreg.eq(Cat(shreg[1:], line)), bit.eq(bit + 1), timer.eq(divisor - 1)]
                    with m.If(bit == DATA_BITS - 1):
                        m.next = "STOP"
            with m.State("STOP"):
                with m.If(timer != 0):
                    m.d.sync += timer.eq(timer - 1)
                with m.Elif(line):
                    with m.If(self.stream.valid & ~self.stream.ready):
                        m.d.comb += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.stream.payload.eq(shreg), self.stream.valid.eq(1)]
                    m.next = "IDLE"
                with m.Else():
                    m.d.comb += self.framing_error.eq(1)
                    m.next = "WAIT_HIGH"
            with m.State("WAIT_HIGH"):
                with m.If(line):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """UART transmitter, 8N1.

    Takes a byte from ``stream`` and sends a start bit, the eight data bits least significant first and a stop
    bit, each ``divisor`` cycles long. ``tx`` is a register (no glitches on the pin) and idles high.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit, at least :data:`MIN_DIVISOR`.

    Interface attributes
    --------------------
    stream : In(stream.Signature(8))
        Bytes to send. ``ready`` is high while the transmitter is idle and in the last cycle of a stop bit, and does
        not depend on ``valid``.
    tx : Out(1)
        The pin.

    Latency: the start bit begins on ``tx`` the cycle after the byte is taken. Throughput: one byte per
    ``10 * divisor`` cycles when ``valid`` is held high (stop bit followed directly by the next start bit).

    Raises
    ------
    TypeError, ValueError
        On a divisor that is not an integer of at least :data:`MIN_DIVISOR`.
    """

    def __init__(self, divisor):
        self._divisor = _check_divisor(divisor)
        super().__init__({
            "stream": In(stream.Signature(DATA_BITS)),
            "tx": Out(1, init=1),
        })

    @property
    def divisor(self):
        return self._divisor

    def elaborate(self, platform):
        m = Module()
        divisor = self._divisor

        busy = Signal()
        timer = Signal(range(divisor))
        left = Signal(range(DATA_BITS + 2))        # bits still to put on the line after the current one
        shreg = Signal(DATA_BITS + 1)              # data bits, then the stop bit
        last_cycle = busy & (timer == 0) & (left == 0)
        m.d.comb += self.stream.ready.eq(~busy | last_cycle)

        with m.If(self.stream.valid & self.stream.ready):
            m.d.sync += [
                self.tx.eq(0),
                shreg.eq(Cat(self.stream.payload, 1)),
                left.eq(DATA_BITS + 1),
                timer.eq(divisor - 1),
                busy.eq(1),
            ]
        with m.Elif(busy):
            with m.If(timer != 0):
                m.d.sync += timer.eq(timer - 1)
            with m.Elif(left == 0):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += [
                    self.tx.eq(shreg[0]),
                    shreg.eq(shreg >> 1),
                    left.eq(left - 1),
                    timer.eq(divisor - 1),
                ]
        return m
