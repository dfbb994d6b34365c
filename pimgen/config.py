"""What every engine configuration shares: hashing, dict form, readback values, argument checks.

Each engine has one frozen dataclass (``pimgen.gnn.config.GnnConfig``, ...), validated on construction. The same config
object feeds the Amaranth component (``hw``), the golden model (``sw_model``), the register map and manifest
(``rtl_gen``), the testbench and the driver (``tb``). It is plain Python, so the design and the golden model can
import it without importing each other.

Every field carries metadata used by the command line (``help``) and by the register map (config readback). A bad value
raises :class:`ConfigError` (a :class:`ValueError`) or :class:`ConfigTypeError` (a :class:`TypeError`) whose message
names the parameter, what is allowed and what was given; ``.param`` holds the parameter's name, so that the command
line can name its option instead.
"""

import dataclasses
import hashlib
import json
import numbers
from dataclasses import field
from typing import ClassVar

from .errors import InputError, InputTypeError

__all__ = ["MANIFEST_VERSION", "EngineConfig", "ConfigError", "ConfigTypeError", "Derived", "MAX_MEMORY_BITS",
           "ceil_log2", "param", "check_int", "check_bool", "check_choice"]

#: Format of manifest.json: rtl_gen.generate writes it, tb.host.manifest refuses any other. Here, among the sources
#: every model's build cache is keyed on, so that a new format rebuilds (and rewrites) every manifest.
MANIFEST_VERSION = 2

#: Largest total memory of a generated engine. Beyond it yosys' Verilog (one line per memory word before pimgen strips
#: the zero initial values) and Verilator's model take minutes; 32 Mbit is ~10x an ECP5-85F's block RAM.
MAX_MEMORY_BITS = 1 << 25


class ConfigError(InputError):
    """A config parameter is out of range or inconsistent; ``param`` names it."""

    def __init__(self, param, message):
        super().__init__(message)
        self.param = param


class ConfigTypeError(InputTypeError):
    """A config parameter has the wrong type; ``param`` names it."""

    def __init__(self, param, message):
        super().__init__(message)
        self.param = param


def ceil_log2(n):
    """Smallest ``k`` with ``2**k >= n`` (0 for ``n <= 1``)."""
    return max(0, (int(n) - 1).bit_length())


class Derived(int):
    """An integer parameter the config derived from others because it was not given (``frac_bits`` from
    ``format``, say). It compares, hashes and serialises as the integer; ``dataclasses.replace`` hands it back to the
    constructor, which derives it again from the new values instead of keeping the old one."""

    def __repr__(self):
        return int.__repr__(self)


def param(default, help, choices=None):
    """A config field: its default, a one-line help for the CLI, and the allowed choices if it has a fixed set."""
    return field(default=default, metadata={"help": help, "choices": choices})


def check_int(name, value, lo, hi):
    """``value`` as a plain int (NumPy integers are accepted) if it is an integer in ``lo..hi``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigTypeError(name, f"{name} must be an integer, not {value!r}")
    value = int(value)
    if not lo <= value <= hi:
        raise ConfigError(name, f"{name} must be an integer in {lo}..{hi}, not {value}")
    return value


def check_bool(name, value):
    if not isinstance(value, bool):
        raise ConfigTypeError(name, f"{name} must be a bool, not {value!r}")
    return value


def check_choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(name, f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


class EngineConfig:
    """Common behaviour of engine configs: hashing, dict form, readback values."""

    #: Short engine name used by the CLI, the manifest and build directories.
    engine: ClassVar[str] = ""
    #: Engine code in the VERSION register (1 = gnn, 2 = cim, 3 = snn; tests may use others).
    engine_code: ClassVar[int] = 0
    #: Hardware version of the engine, (major, minor), in the VERSION register.
    version: ClassVar[tuple] = (1, 0)

    def _set(self, name, value):
        """Store a checked or derived value on the frozen instance (only from ``__post_init__``); a value that was
        derived stays marked as such."""
        if isinstance(getattr(self, name), Derived) and not isinstance(value, Derived):
            value = Derived(value)
        object.__setattr__(self, name, value)

    def _derive(self, name, value):
        """Fill parameter ``name`` with ``value`` unless the caller gave it (``Derived`` counts as not given)."""
        current = getattr(self, name)
        if current is None or isinstance(current, Derived):
            self._set(name, Derived(value))

    def to_dict(self):
        return {f.name: (int(v) if isinstance(v, Derived) else v)
                for f in dataclasses.fields(self) for v in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls, values):
        if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
            raise ConfigTypeError("config", f"A {cls.engine} config must be a dict of parameter names to values, "
                                            f"not {values!r}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(unknown[0], f"Unknown {cls.engine} parameter(s) {', '.join(unknown)}; "
                                          f"allowed: {', '.join(sorted(names))}")
        return cls(**values)

    @property
    def config_hash(self):
        """First 8 hex digits of SHA-256 over the engine name, version and parameters (stable across runs)."""
        text = json.dumps({"engine": self.engine, "version": self.version, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def top_name(self):
        """Verilog top module name; carries the hash so different parameter sets never collide."""
        return f"pimgen_{self.engine}_{self.config_hash}"

    def readback(self):
        """Parameters as (name, integer) pairs for the CFG_* readback registers, in field order.

        Integers, booleans and choices (read back as their index) have a register; other kinds (a float, a tuple of
        per-column values) have none: the CONFIG_HASH register covers them.
        """
        values = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if choices is not None:
                values.append((f.name, list(choices).index(v)))
            elif isinstance(v, (bool, int)):
                values.append((f.name, int(v)))
        return values

