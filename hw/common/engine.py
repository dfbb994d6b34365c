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
CNT_<name>     32-bit performance counters, cleared at start; a counter may add more than one per cycle, and a
               counter array (``CNT_<name>[i]``) has one register per PE or core
CFG_<name>     config readback, one register per parameter
=============  ===================================================================================================
"""

import enum

from amaranth.hdl import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from pimgen.config import EngineConfig
from .bus import BusDecoder, BusSignature
from .csr import Access, CsrBlock, Field, Register, RegisterArray, RegisterMap
from .stream_window import StreamWindow
from .window import WindowedMemory

__all__ = ["EngineComponent", "Counter", "ID_MAGIC", "COUNTER_WIDTH", "ERROR_WIDTH", "CSR_REGION"]

ID_MAGIC = 0x50494D47
COUNTER_WIDTH = 32
ERROR_WIDTH = 8
#: Name of the register block's region on the bus (no window may take it).
CSR_REGION = "csr"


class Counter:
    """A performance counter ``CNT_<NAME>`` (or an array of them), cleared when a run starts.

    Parameters
    ----------
    name : str
        Lower-case identifier.
    doc : str
        What it counts (goes into the manifest).
    max_increment : int
        Largest amount added in one cycle (synaptic operations, ADC conversions); the increment input is
        ``ceil_log2(max_increment + 1)`` bits wide.
    count : int or None
        None: one counter. An integer: an array of that many (one per PE or core), ``CNT_<NAME>[i]``.
    """

    def __init__(self, name, doc, *, max_increment=1, count=None):
        if not isinstance(name, str):
            raise TypeError(f"Counter name must be a lower-case identifier, not {name!r}")
        if not name.isidentifier() or name != name.lower():
            raise ValueError(f"Counter name must be a lower-case identifier, not {name!r}")
        if isinstance(max_increment, bool) or not isinstance(max_increment, int) or max_increment < 1:
            raise ValueError(f"Counter {name!r} max_increment must be a positive integer, not {max_increment!r}")
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
            raise ValueError(f"Counter {name!r} count must be None or a positive integer, not {count!r}")
        self.name = name
        self.doc = doc
        self.max_increment = max_increment
        self.count = count

    @property
    def increment_width(self):
        return ceil_log2(self.max_increment + 1)

    @property
    def register_name(self):
        return f"CNT_{self.name.upper()}"

    def describe(self):
        return {"name": self.name, "register": self.register_name, "doc": self.doc,
                "max_increment": self.max_increment, "count": self.count}


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
            Field("error", ERROR_WIDTH, Access.RO, doc="error code of the last run, 0 = none"),
            Field("bus_error", 1, Access.W1C, doc="a window access was dropped: a memory window while busy, a full "
                                                  "input FIFO or an empty output FIFO"),
        ], "status"),
    ]


def _check_errors(errors):
    """``errors`` maps members of one Enum (nonzero values that fit STATUS.error) to their meanings."""
    if not isinstance(errors, dict):
        raise TypeError(f"Errors must be a dict of Enum member -> meaning, not {errors!r}")
    kinds = {type(code) for code in errors}
    if errors and (len(kinds) != 1 or not issubclass(kinds.pop(), enum.Enum)):
        raise TypeError(f"Errors must be keyed by the members of one Enum, not {sorted(map(repr, errors))}")
    for code, meaning in errors.items():
        if not isinstance(code.value, int) or not 1 <= code.value < (1 << ERROR_WIDTH):
            raise ValueError(f"Error code {code!r} must have a value in 1..{(1 << ERROR_WIDTH) - 1}, "
                             f"not {code.value!r}")
        if not isinstance(meaning, str) or not meaning:
            raise ValueError(f"Error code {code!r} must have a meaning (a non-empty string), not {meaning!r}")
    if errors:
        missing = [m.name for m in type(next(iter(errors))) if m.value and m not in errors]
        if missing:
            raise ValueError(f"Every nonzero error code must have a meaning; missing: {', '.join(missing)}")


class EngineComponent(wiring.Component):
    """Base of every engine: a bus slave with registers, counters and windows.

    Parameters
    ----------
    config : pimgen.config.EngineConfig
    registers : list of Register or RegisterArray
        Engine-specific registers, placed after the common ones.
    counters : list of Counter or (str, str)
        Performance counters (``(name, doc)`` is a counter adding at most 1 per cycle), cleared when a run starts.
    windows : dict of str -> WindowedMemory or StreamWindow
        Memories and FIFOs visible on the bus, laid out after the registers at addresses aligned to their size.
    errors : dict of Enum member -> str
        Meaning of each nonzero ``STATUS.error`` code; the keys are the members of the engine's error enum
        (an ``amaranth.lib.enum.Enum``), which the hardware drives into :attr:`error`.

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        The one control port.
    irq : Out(1)
        Mirrors ``STATUS.done``.

    Attributes available to the subclass
    ------------------------------------
    start : Signal, pulse when a run starts (``CTRL.start`` while idle)
    soft_reset : Signal, pulse on ``CTRL.soft_reset`` (also flushes the FIFO windows)
    busy : Signal, driven by the subclass
    finish : Signal, pulsed by the subclass when a run ends (sets ``STATUS.done``)
    error : Signal(8), driven by the subclass; latched into ``STATUS.error`` when ``finish`` pulses
    counter_inc : dict of name -> Signal (or list of Signals for an array), the amount to add this cycle

    Raises
    ------
    TypeError, ValueError
        On a bad argument; the message names it, what is allowed and what was given.
    """

    def __init__(self, config, registers, counters, windows, errors=None):
        if not isinstance(config, EngineConfig):
            raise TypeError(f"Config must be an engine config (an EngineConfig), not {config!r}")
        if not isinstance(registers, (list, tuple)) or \
                not all(isinstance(r, (Register, RegisterArray)) for r in registers):
            raise TypeError(f"Registers must be a list of Register or RegisterArray, not {registers!r}")
        if not isinstance(counters, (list, tuple)) or \
                not all(isinstance(c, Counter) or (isinstance(c, tuple) and len(c) == 2) for c in counters):
            raise TypeError(f"Counters must be a list of Counter or (name, doc), not {counters!r}")
        counters = [c if isinstance(c, Counter) else Counter(*c) for c in counters]
        if not isinstance(windows, dict):
            raise TypeError(f"Windows must be a dict of name -> WindowedMemory or StreamWindow, not {windows!r}")
        for name, window in windows.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise ValueError(f"Window name must be an identifier, not {name!r}")
            if name == CSR_REGION:
                raise ValueError(f"Window name must not be {CSR_REGION!r} (the register block's region), "
                                 f"not {name!r}")
            if not isinstance(window, (WindowedMemory, StreamWindow)):
                raise TypeError(f"Window {name!r} must be a WindowedMemory or StreamWindow, not {window!r}")
        errors = {} if errors is None else errors
        _check_errors(errors)
        errors = dict(errors)

        self.config = config
        self.errors = errors
        self.register_map = RegisterMap()
        for reg in _common_registers() + list(registers):
            self.register_map.add(reg)
        self.counters = counters
        for counter in counters:
            fields = [Field("count", COUNTER_WIDTH, Access.RO)]
            if counter.count is None:
                self.register_map.add(Register(counter.register_name, fields, counter.doc))
            else:
                self.register_map.add(RegisterArray(counter.register_name, counter.count, fields, counter.doc))
        self._readback = config.readback()
        for name, _ in self._readback:
            self.register_map.add(Register(f"CFG_{name.upper()}", [Field("value", 32, Access.RO)],
                                           f"config readback: {name}"))
        self.csr = CsrBlock(self.register_map)
        self.windows = dict(windows)

        # Lay out the CSR block at 0 and the windows above it, each aligned to its own size.
        regions = [(CSR_REGION, self.register_map.addr_width)]
        regions += [(name, len(w.bus.addr)) for name, w in self.windows.items()]
        end = 0
        for _, bits in regions:
            size = 1 << bits
            end = -(-end // size) * size + size
        self.decoder = BusDecoder(ceil_log2(end))
        self._window_buses = {}
        for name, bits in regions:
            self._window_buses[name] = self.decoder.add(name, bits)

        self.start = Signal()
        self.soft_reset = Signal()
        self.busy = Signal()
        self.finish = Signal()
        self.error = Signal(ERROR_WIDTH)
        self.counter_inc = {}
        for c in counters:
            if c.count is None:
                self.counter_inc[c.name] = Signal(c.increment_width, name=f"inc_{c.name}")
            else:
                self.counter_inc[c.name] = [Signal(c.increment_width, name=f"inc_{c.name}{i}")
                                            for i in range(c.count)]
        super().__init__({"bus": In(BusSignature(self.decoder.addr_width)), "irq": Out(1)})

    @property
    def addr_width(self):
        return self.signature.members["bus"].signature.addr_width

    def window_base(self, name):
        return self._window_buses[name][0]

    def window_owner(self, name):
        """When the engine owns memory window ``name`` (the host's accesses are dropped): while busy, by default.

        An engine whose host talks to a memory during a run returns a narrower condition for that window. FIFO
        windows (:class:`StreamWindow`) are never owned.
        """
        return self.busy

    def describe_windows(self):
        """Windows as JSON-ready data for the manifest: ``[{name, kind, base, size, ...}]``.

        ``kind`` is ``"memory"`` (with ``element_bits, signed, banks, elements_per_word, slot_bits, depth`` and
        ``layout``, the :class:`~pimgen.layout.WindowLayout` that gives every element's address) or ``"fifo"``
        (see :meth:`StreamWindow.describe`).
        """
        out = []
        for name, w in self.windows.items():
            base, sub = self._window_buses[name]
            entry = {"name": name, "base": base, "size": 1 << len(sub.addr)}
            if isinstance(w, StreamWindow):
                entry.update(w.describe())
            else:
                entry.update({"kind": "memory", "element_bits": w.shape.width, "signed": w.shape.signed,
                              "banks": w.banks, "elements_per_word": w.elements_per_word,
                              "slot_bits": w.slot_bits, "depth": w.depth, "layout": w.layout.describe()})
            out.append(entry)
        return out

    def describe_counters(self):
        return [c.describe() for c in self.counters]

    def describe_errors(self):
        """``{code: {"name": ..., "meaning": ...}}`` for the manifest."""
        return {str(code.value): {"name": code.name.lower(), "meaning": meaning}
                for code, meaning in sorted(self.errors.items(), key=lambda item: item[0].value)}

    def elaborate_frame(self):
        """Module with the CSR block, decoder, windows, counters and common status logic; returns it."""
        m = Module()
        cfg = self.config
        m.submodules.csr = csr = self.csr
        m.submodules.decoder = self.decoder
        wiring.connect(m, wiring.flipped(self.bus), self.decoder.bus)
        wiring.connect(m, self._window_buses[CSR_REGION][1], csr.bus)
        dropped = Const(0)
        for name, window in self.windows.items():
            m.submodules[f"win_{name}"] = window
            wiring.connect(m, self._window_buses[name][1], window.bus)
            if isinstance(window, StreamWindow):
                m.d.comb += window.flush.eq(self.soft_reset)
            else:
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
        error = Signal(ERROR_WIDTH)
        with m.If(self.soft_reset | self.start):
            m.d.sync += error.eq(0)
        with m.Elif(self.finish):
            m.d.sync += error.eq(self.error)
        m.d.comb += csr.value("STATUS", "error").eq(error)

        for c in self.counters:
            incs = [self.counter_inc[c.name]] if c.count is None else self.counter_inc[c.name]
            for i, inc in enumerate(incs):
                reg = c.register_name if c.count is None else f"{c.register_name}[{i}]"
                count = Signal(COUNTER_WIDTH, name=f"cnt_{c.name}{'' if c.count is None else i}")
                with m.If(self.start | self.soft_reset):
                    m.d.sync += count.eq(0)
                with m.Elif(inc.any()):
                    m.d.sync += count.eq(count + inc)
                m.d.comb += csr.value(reg, "count").eq(count)
        return m
