"""Control and status registers: a field/register/map model and the block that puts it on the bus.

Modelled on amaranth-soc's CSR layer (not released on PyPI): a :class:`Register` is a list of :class:`Field` s,
each with an :class:`Access` behaviour; a :class:`RegisterMap` lays registers out at word addresses; a
:class:`CsrBlock` implements the map behind a :class:`~hw.common.bus.BusSignature` slave port. The map's
:meth:`RegisterMap.describe` output goes into manifest.json, and the host driver reads every address and field
position from there.
"""

import enum
from dataclasses import dataclass

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from .bus import DATA_WIDTH, BusSignature
from amaranth.utils import ceil_log2

__all__ = ["Access", "Field", "Register", "RegisterArray", "RegisterMap", "CsrBlock"]


class Access(enum.Enum):
    """How the bus and the design see a field."""
    #: Read-only, driven by the design.
    RO = "ro"
    #: Read-write storage with an initial value, read by the design.
    RW = "rw"
    #: Write pulse: writing 1 to a bit pulses it for one cycle; reads as 0.
    WP = "wp"
    #: Sticky status: the design sets it with a pulse, writing 1 clears it.
    W1C = "w1c"


@dataclass(frozen=True)
class Field:
    """One field of a register.

    Parameters
    ----------
    name : str
        Lower-case identifier, unique in its register.
    width : int
        1..32 bits.
    access : Access
    init : int
        Reset value (``RW`` and ``W1C`` only).
    doc : str
        One line for the manifest and docs.
    enum : amaranth.lib.enum.Enum subclass, optional
        The codes the field holds (an op, a mode): the manifest lists them by name, and the driver writes names.
    """
    name: str
    width: int
    access: Access
    init: int = 0
    doc: str = ""
    enum: type = None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"Field name must be an identifier, not {self.name!r}")
        if not isinstance(self.width, int) or not 1 <= self.width <= DATA_WIDTH:
            raise ValueError(f"Field {self.name!r} width must be an integer in 1..{DATA_WIDTH}, not {self.width!r}")
        if not isinstance(self.access, Access):
            raise TypeError(f"Field {self.name!r} access must be an Access, not {self.access!r}")
        if not 0 <= self.init < (1 << self.width):
            raise ValueError(f"Field {self.name!r} init {self.init} does not fit in {self.width} bits")
        if self.init and self.access in (Access.RO, Access.WP):
            raise ValueError(f"Field {self.name!r} has access {self.access.value}, which takes no init value")
        if self.enum is not None:
            if not (isinstance(self.enum, type) and issubclass(self.enum, enum.Enum)):
                raise TypeError(f"Field {self.name!r} enum must be an Enum class, not {self.enum!r}")
            too_wide = [m.name for m in self.enum if not 0 <= m.value < (1 << self.width)]
            if too_wide:
                raise ValueError(f"Field {self.name!r} of {self.width} bits cannot hold the enum value(s) "
                                 f"{', '.join(too_wide)}")

    def describe(self, lsb):
        d = {"name": self.name, "lsb": lsb, "width": self.width, "access": self.access.value, "init": self.init,
             "doc": self.doc}
        if self.enum is not None:
            d["enum"] = {m.name.lower(): m.value for m in self.enum}
        return d


class Register:
    """A 32-bit register made of fields packed from bit 0 upwards.

    Parameters
    ----------
    name : str
        Upper-case name, unique in the map.
    fields : list of Field
    doc : str
    """

    def __init__(self, name, fields, doc=""):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Register name must be an identifier, not {name!r}")
        names = [f.name for f in fields]
        if len(set(names)) != len(names):
            raise ValueError(f"Register {name!r} has duplicate field names: {names}")
        self.name = name
        self.fields = list(fields)
        self.doc = doc
        self.offsets = {}
        lsb = 0
        for f in self.fields:
            self.offsets[f.name] = lsb
            lsb += f.width
        if lsb > DATA_WIDTH:
            raise ValueError(f"Register {name!r} fields take {lsb} bits, more than {DATA_WIDTH}")

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"Register {self.name} has no field {name!r}")


class RegisterArray:
    """``count`` registers of the same fields at consecutive addresses, one per PE or core: ``NAME[0]``, ...

    Parameters
    ----------
    name : str
        Upper-case name of the array; element ``i`` is the register ``NAME[i]``.
    count : int
        Number of elements (at least 1).
    fields : list of Field
    doc : str
    """

    def __init__(self, name, count, fields, doc=""):
        template = Register(name, fields, doc)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"Register array {name!r} count must be a positive integer, not {count!r}")
        self.name = name
        self.count = count
        self.fields = template.fields
        self.offsets = template.offsets
        self.doc = doc
        self.elements = []
        for i in range(count):
            element = Register(name, fields, doc)
            element.name = self.element_name(i)
            self.elements.append(element)

    def element_name(self, index):
        return f"{self.name}[{index}]"


class RegisterMap:
    """Registers (and register arrays) at consecutive word addresses, in the order they are added."""

    def __init__(self):
        self._registers = []
        self._by_name = {}
        self._entries = []         # (addr, Register or RegisterArray), for describe()

    def add(self, register):
        """Add a register or a :class:`RegisterArray` at the next free address and return that address."""
        if not isinstance(register, (Register, RegisterArray)):
            raise TypeError(f"Register must be a Register or RegisterArray, not {register!r}")
        names = [register.name] + ([e.name for e in register.elements] if isinstance(register, RegisterArray)
                                   else [])
        taken = [n for n in names if n in self._by_name or n in {e.name for _, e in self._entries}]
        if taken:
            raise ValueError(f"Register {register.name!r} is already in the map")
        addr = len(self._registers)
        self._entries.append((addr, register))
        for element in (register.elements if isinstance(register, RegisterArray) else [register]):
            self._by_name[element.name] = (len(self._registers), element)
            self._registers.append(element)
        return addr

    def __iter__(self):
        """Yields ``(addr, register)``."""
        return iter(enumerate(self._registers))

    def __len__(self):
        return len(self._registers)

    def __getitem__(self, name):
        """``(addr, register)`` of a register by name."""
        return self._by_name[name]

    @property
    def addr_width(self):
        return max(1, ceil_log2(len(self._registers)))

    def describe(self, base=0):
        """The map as JSON-ready data: ``[{name, kind, addr, doc, fields: [{name, lsb, width, access, init, doc
        [, enum]}]}]``; ``kind`` is ``"register"``, or ``"array"`` with ``count`` and ``stride`` (element ``i`` at
        ``addr + i * stride``)."""
        out = []
        for addr, reg in self._entries:
            d = {"name": reg.name, "kind": "register", "addr": base + addr, "doc": reg.doc,
                 "fields": [f.describe(reg.offsets[f.name]) for f in reg.fields]}
            if isinstance(reg, RegisterArray):
                d.update(kind="array", count=reg.count, stride=1)
            out.append(d)
        return out


class CsrBlock(wiring.Component):
    """Implements a :class:`RegisterMap` as a bus slave.

    Field signals are reached with :meth:`value` (``RO``: drive it; ``RW``/``W1C``: read the stored value; ``WP``:
    read the pulse) and :meth:`set` (``W1C``: pulse to set the sticky bit; a set wins over a clear in the same
    cycle).

    Latency: writes are acknowledged in the cycle they are presented; reads one cycle later (the read data is
    registered). ``clear`` (a design input) returns every ``RW`` and ``W1C`` field to its init value.

    Interface attributes
    --------------------
    bus : In(BusSignature(map.addr_width))
    """

    def __init__(self, regmap):
        self._map = regmap
        self._values = {}
        self._sets = {}
        for _, reg in regmap:
            for f in reg.fields:
                key = (reg.name, f.name)
                self._values[key] = Signal(f.width, init=f.init, name=f"{reg.name.lower()}_{f.name}")
                if f.access is Access.W1C:
                    self._sets[key] = Signal(f.width, name=f"{reg.name.lower()}_{f.name}_set")
        self.clear = Signal()
        super().__init__({"bus": In(BusSignature(regmap.addr_width))})

    def value(self, reg, field):
        return self._values[(reg, field)]

    def set(self, reg, field):
        return self._sets[(reg, field)]

    def elaborate(self, platform):
        m = Module()
        pending = Signal()
        m.d.comb += self.bus.ack.eq(self.bus.w_en | pending)
        m.d.sync += pending.eq(self.bus.r_en & ~pending)

        read_word = Signal(DATA_WIDTH)
        with m.Switch(self.bus.addr):
            for addr, reg in self._map:
                with m.Case(addr):
                    for f in reg.fields:
                        if f.access is not Access.WP:
                            lsb = reg.offsets[f.name]
                            m.d.comb += read_word[lsb:lsb + f.width].eq(self._values[(reg.name, f.name)])
        with m.If(self.bus.r_en & ~pending):
            m.d.sync += self.bus.r_data.eq(read_word)

        for addr, reg in self._map:
            written = self.bus.w_en & (self.bus.addr == addr)
            for f in reg.fields:
                key = (reg.name, f.name)
                lsb = reg.offsets[f.name]
                data = self.bus.w_data[lsb:lsb + f.width]
                value = self._values[key]
                if f.access is Access.RW:
                    with m.If(self.clear):
                        m.d.sync += value.eq(f.init)
                    with m.Elif(written):
                        m.d.sync += value.eq(data)
                elif f.access is Access.WP:
                    with m.If(written):
                        m.d.comb += value.eq(data)
                elif f.access is Access.W1C:
                    cleared = value & ~data
                    with m.If(self.clear):
                        m.d.sync += value.eq(f.init)
                    with m.Elif(written):
                        m.d.sync += value.eq(cleared | self._sets[key])
                    with m.Else():
                        m.d.sync += value.eq(value | self._sets[key])
        return m
