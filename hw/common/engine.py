"""What every pimgen engine has around its datapath: registers, counters, memory windows and the bus decoder.

An engine subclasses :class:`EngineComponent`, hands it its own registers, counter names and memory windows, and in
``elaborate`` starts from :meth:`EngineComponent.elaborate_frame`. The frame gives every engine the same control
interface, so the host driver, the manifest and the CLI treat all engines alike:

=============  ===================================================================================================
register       fields
=============  ===================================================================================================
ID             ``magic`` = 0x50494D47 ("PIMG")
VERSION        ``minor``, ``major``, ``engine`` (1 gnn, 2 cim, 3 snn)
CONFIG_HASH    first 32 bits of the config hash (also in the Verilog top name)
CTRL           ``start`` (write 1: start a run), ``soft_reset`` (write 1: abort, clear status, counters, registers)
STATUS         ``busy``, ``done`` (sticky, write 1 to clear; also the ``irq`` pin), ``error`` (code, 0 = none),
               ``bus_error`` (sticky: a window was accessed while the engine ran)
<engine>       the engine's own registers
CNT_<name>     32-bit performance counters, cleared at start
CFG_<name>     config readback, one register per parameter
=============  ===================================================================================================
"""

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bus import BusDecoder, BusSignature
from .csr import Access, CsrBlock, Field, Register, RegisterMap
from pimgen.config import ceil_log2

__all__ = ["EngineComponent", "ID_MAGIC", "COUNTER_WIDTH"]

ID_MAGIC = 0x50494D47
COUNTER_WIDTH = 32


def _common_registers():
    return [
        Register("ID", [Field("magic", 32, Access.RO, doc="0x50494D47, 'PIMG'")], "identifies a pimgen engine"),
        Register("VERSION", [
            Field("minor", 8, Access.RO), Field("major", 8, Access.RO),
            Field("engine", 8, Access.RO, doc="1 gnn, 2 cim, 3 snn"),
        ], "engine kind and hardware version"),
        Register("CONFIG_HASH", [Field("hash", 32, Access.RO)], "first 32 bits of the config hash"),
        Register("CTRL", [
            Field("start", 1, Access.WP, doc="write 1 to start a run (ignored while busy)"),
            Field("soft_reset", 1, Access.WP, doc="write 1 to abort and return registers to reset values"),
        ], "control"),
        Register("STATUS", [
            Field("busy", 1, Access.RO, doc="a run is in progress"),
            Field("done", 1, Access.W1C, doc="a run finished (sticky, drives irq); write 1 to clear"),
            Field("error", 8, Access.RO, doc="error code of the last run, 0 = none"),
            Field("bus_error", 1, Access.W1C, doc="a memory window was accessed while busy (access dropped)"),
        ], "status"),
    ]


class EngineComponent(wiring.Component):
    """Base of every engine: a bus slave with registers, counters and memory windows.

    Parameters
    ----------
    config : pimgen.config.EngineConfig
    registers : list of Register
        Engine-specific registers, placed after the common ones.
    counters : list of (str, str)
        ``(name, doc)`` of 32-bit performance counters (``CNT_<NAME>``), cleared when a run starts.
    windows : dict of str -> WindowedMemory
        Memories visible on the bus, laid out after the registers at aligned addresses.
    errors : dict of int -> str
        Meaning of each nonzero ``STATUS.error`` code (goes into the manifest).

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        The one control port.
    irq : Out(1)
        Mirrors ``STATUS.done``.

    Attributes available to the subclass
    ------------------------------------
    start : Signal, pulse when a run starts (``CTRL.start`` while idle)
    soft_reset : Signal, pulse on ``CTRL.soft_reset``
    busy : Signal, driven by the subclass
    finish : Signal, pulsed by the subclass when a run ends (sets ``STATUS.done``)
    error : Signal(8), driven by the subclass; latched into ``STATUS.error`` when ``finish`` pulses
    """

    def __init__(self, config, registers, counters, windows, errors=None):
        self.config = config
        self.errors = dict(errors or {})
        self.register_map = RegisterMap()
        for reg in _common_registers() + list(registers):
            self.register_map.add(reg)
        self.counter_names = []
        for name, doc in counters:
            self.register_map.add(Register(f"CNT_{name.upper()}", [Field("count", COUNTER_WIDTH, Access.RO)], doc))
            self.counter_names.append(name)
        self._readback = config.readback()
        for name, _ in self._readback:
            self.register_map.add(Register(f"CFG_{name.upper()}", [Field("value", 32, Access.RO)],
                                           f"config readback: {name}"))
        self.csr = CsrBlock(self.register_map)
        self.windows = dict(windows)

        # Lay out the CSR block at 0 and the windows above it, each aligned to its own size.
        regions = [("csr", self.register_map.addr_width)]
        regions += [(name, len(w.bus.addr)) for name, w in self.windows.items()]
        end = 0
        for _, bits in regions:
            size = 1 << bits
            end = -(-end // size) * size + size
        addr_width = ceil_log2(end)
        self.decoder = BusDecoder(addr_width)
        self._window_buses = {}
        for name, bits in regions:
            self._window_buses[name] = self.decoder.add(name, bits)

        self.start = Signal()
        self.soft_reset = Signal()
        self.busy = Signal()
        self.finish = Signal()
        self.error = Signal(8)
        self.counter_inc = {name: Signal(name=f"inc_{name}") for name in self.counter_names}
        super().__init__({"bus": In(BusSignature(addr_width)), "irq": Out(1)})

    @property
    def addr_width(self):
        return self.signature.members["bus"].signature.addr_width

    def window_base(self, name):
        return self._window_buses[name][0]

    def window_owner(self, name):
        """When the engine owns window ``name`` (the host's accesses are dropped): while busy, by default.

        An engine whose host talks to it during a run (spike input and output per timestep, say) returns a
        narrower condition for that window.
        """
        return self.busy

    def window_layout(self, name):
        """Engine-specific layout of a window for the manifest (how elements map to offsets); override."""
        return {}

    def describe_windows(self):
        """Windows as JSON-ready data: ``[{name, base, size, element_bits, signed, banks, elements_per_word,
        slot_bits, depth, layout}]`` (see :class:`~hw.common.window.WindowedMemory` for slots)."""
        out = []
        for name, w in self.windows.items():
            base, sub = self._window_buses[name]
            out.append({"name": name, "base": base, "size": 1 << len(sub.addr),
                        "element_bits": w.shape.width, "signed": w.shape.signed, "banks": w.banks,
                        "elements_per_word": w.elements_per_word, "slot_bits": w.slot_bits, "depth": w.depth,
                        "layout": self.window_layout(name)})
        return out

    def elaborate_frame(self):
        """Module with the CSR block, decoder, windows, counters and common status logic; returns it."""
        m = Module()
        cfg = self.config
        m.submodules.csr = csr = self.csr
        m.submodules.decoder = self.decoder
        wiring.connect(m, wiring.flipped(self.bus), self.decoder.bus)
        csr_bus = self._window_buses["csr"][1]
        wiring.connect(m, csr_bus, csr.bus)
        dropped = Const(0)
        for name, window in self.windows.items():
            m.submodules[f"win_{name}"] = window
            wiring.connect(m, self._window_buses[name][1], window.bus)
            m.d.comb += window.owner.eq(self.window_owner(name))
            dropped = dropped | window.dropped

        major, minor = cfg.version
        m.d.comb += [
            csr.value("ID", "magic").eq(ID_MAGIC),
            csr.value("VERSION", "major").eq(major),
            csr.value("VERSION", "minor").eq(minor),
            csr.value("VERSION", "engine").eq(cfg.engine_code),
            csr.value("CONFIG_HASH", "hash").eq(int(cfg.config_hash, 16)),
        ]
        for name, value in self._readback:
            m.d.comb += csr.value(f"CFG_{name.upper()}", "value").eq(value & 0xFFFF_FFFF)

        m.d.comb += [
            self.soft_reset.eq(csr.value("CTRL", "soft_reset")),
            self.start.eq(csr.value("CTRL", "start") & ~self.busy & ~self.soft_reset),
            csr.clear.eq(self.soft_reset),
            csr.value("STATUS", "busy").eq(self.busy),
            csr.set("STATUS", "done").eq(self.finish),
            csr.set("STATUS", "bus_error").eq(dropped),
            self.irq.eq(csr.value("STATUS", "done")),
        ]
        error = Signal(8)
        with m.If(self.soft_reset | self.start):
            m.d.sync += error.eq(0)
        with m.Elif(self.finish):
            m.d.sync += error.eq(self.error)
        m.d.comb += csr.value("STATUS", "error").eq(error)

        for name in self.counter_names:
            count = Signal(COUNTER_WIDTH, name=f"cnt_{name}")
            with m.If(self.start | self.soft_reset):
                m.d.sync += count.eq(0)
            with m.Elif(self.counter_inc[name]):
                m.d.sync += count.eq(count + 1)
            m.d.comb += csr.value(f"CNT_{name.upper()}", "count").eq(count)
        return m
