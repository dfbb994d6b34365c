"""The SoC top: a UART, the bridge to the register bus (docs/fpga.md), and one engine."""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hw.common.uart import UartRx, UartTx
from pimgen.config import EngineConfig
from pimgen.engines import engine_for
from .bridge import UartBridge

__all__ = ["Soc", "soc_top_name", "FRAME_TIMEOUT_BYTES"]

#: A frame that stops for this many byte times is dropped (docs/fpga.md).
FRAME_TIMEOUT_BYTES = 16


def soc_top_name(config):
    """Verilog top name of the SoC around ``config``'s engine."""
    return f"{config.top_name}_soc"


class Soc(wiring.Component):
    """One engine behind a UART bridge: what goes on a board, and what the pin-level simulation drives.

    Parameters
    ----------
    config : EngineConfig
        The engine's config.
    divisor : int
        Clock cycles per UART bit (the clock over the baud rate), at least 4.

    Interface attributes
    --------------------
    rx : In(1)
        UART receive pin (idle high).
    tx : Out(1)
        UART transmit pin.
    irq : Out(1)
        The engine's ``STATUS.done`` (an LED on a board).
    busy : Out(1)
        A bridge frame is in progress (an LED).

    Latency and throughput
    ----------------------
    Ten bit times per byte each way: a one-word write takes 11 bytes in and 6 out, a read 9 in and 10 out; a burst
    of n words adds 4 bytes per word one way.
    """

    def __init__(self, config, divisor):
        if not isinstance(config, EngineConfig):
            raise TypeError(f"Config must be an engine config, not {type(config).__name__}")
        if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 4:
            raise ValueError(f"Divisor must be an integer >= 4, not {divisor!r}")
        self.config = config
        self.divisor = divisor
        self.engine = engine_for(config).component(config)
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1), "irq": Out(1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.engine = engine = self.engine
        m.submodules.uart_rx = uart_rx = UartRx(self.divisor)
        m.submodules.uart_tx = uart_tx = UartTx(self.divisor)
        m.submodules.bridge = bridge = UartBridge(engine.addr_width, FRAME_TIMEOUT_BYTES * 10 * self.divisor)
        m.d.comb += [uart_rx.rx.eq(self.rx), self.tx.eq(uart_tx.tx), bridge.brk.eq(uart_rx.brk),
                     self.irq.eq(engine.irq), self.busy.eq(bridge.busy)]
        wiring.connect(m, uart_rx.stream, bridge.rx)
        wiring.connect(m, bridge.tx, uart_tx.stream)
        wiring.connect(m, bridge.bus, engine.bus)
        return m
