"""manifest.json, read on the host: register addresses, field positions and codes, windows and their layouts.

The driver never holds a copy of an address, a field position, a code or an element layout; it asks the manifest.
Plain Python and NumPy: a board host needs nothing else.
"""

import json
import numbers
from pathlib import Path

import numpy as np

from pimgen.config import MANIFEST_VERSION
from pimgen.errors import InputError, InputTypeError
from pimgen.layout import WindowLayout

__all__ = ["Manifest", "RegisterInfo", "RegisterArrayInfo", "FieldInfo", "WindowInfo", "FifoInfo",
           "ManifestError", "MANIFEST_VERSION"]



class ManifestError(InputError):
    """A manifest is missing, unreadable or of another format version."""


def _element_range(bits, signed):
    """``(lo, hi)`` of an element of ``bits`` bits, two's complement when ``signed``."""
    lo = -(1 << (bits - 1)) if signed else 0
    return lo, lo + (1 << bits) - 1


class FieldInfo:
    """One register field: position, access and, for a coded field, its codes by name."""

    def __init__(self, d):
        self.name = d["name"]
        self.lsb = d["lsb"]
        self.width = d["width"]
        self.access = d["access"]
        self.init = d.get("init", 0)
        self.enum = dict(d.get("enum", {}))

    def extract(self, word):
        return (word >> self.lsb) & ((1 << self.width) - 1)

    def code(self, value):
        """The integer for ``value``: a code name of a coded field (``"sum"``), or an integer."""
        if isinstance(value, str):
            try:
                return self.enum[value]
            except KeyError:
                raise InputError(f"Field {self.name!r} takes one of {', '.join(self.enum) or 'no names'}, "
                                 f"not {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise InputTypeError(f"Field {self.name!r} takes an integer"
                                 + (f" or one of {', '.join(self.enum)}" if self.enum else "") + f", not {value!r}")
        return int(value)

    def insert(self, value):
        value = self.code(value)
        if not 0 <= value < (1 << self.width):
            raise InputError(f"Value {value} does not fit field {self.name!r} of {self.width} bits")
        return value << self.lsb


class RegisterInfo:
    def __init__(self, d, addr=None, name=None):
        self.name = d["name"] if name is None else name
        self.addr = d["addr"] if addr is None else addr
        self.doc = d.get("doc", "")
        self.fields = {f["name"]: FieldInfo(f) for f in d["fields"]}

    def field(self, name):
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"Register {self.name} has no field {name!r}; it has {', '.join(self.fields)}") from None


class RegisterArrayInfo:
    """``count`` registers of the same fields, ``NAME[i]`` at ``addr + i * stride``."""

    def __init__(self, d):
        self.name = d["name"]
        self.addr = d["addr"]
        self.count = d["count"]
        self.stride = d["stride"]
        self.elements = [RegisterInfo(d, addr=self.addr + i * self.stride, name=f"{self.name}[{i}]")
                         for i in range(self.count)]

    def __getitem__(self, index):
        return self.elements[index]


class WindowInfo:
    """A memory window: base, size and the :class:`~pimgen.layout.WindowLayout` of its elements."""

    kind = "memory"

    def __init__(self, d):
        self.name = d["name"]
        self.base = d["base"]
        self.size = d["size"]
        self.layout = WindowLayout.from_dict(d["layout"])
        self.element_bits = self.layout.element_bits
        self.signed = self.layout.signed
        self.banks = self.layout.banks
        self.elements_per_word = self.layout.elements_per_word
        self.slot_bits = self.layout.slot_bits
        self.depth = self.layout.depth

    @property
    def range(self):
        """``(lo, hi)`` of the element values the window holds."""
        return _element_range(self.element_bits, self.signed)

    def locate(self, **indices):
        """``(bus offsets, lsbs)`` of the elements at ``indices`` (see :meth:`WindowLayout.locate`), flattened."""
        arrays = [np.asarray(v) for v in indices.values()]
        for name, arr in zip(indices, arrays):
            if not np.issubdtype(arr.dtype, np.integer):
                raise InputTypeError(f"Index {name} of window {self.name!r} must be integers, not {arr.dtype}")
        grids = np.broadcast_arrays(*(arr.astype(np.int64) for arr in arrays))
        offsets, lsbs = self.layout.locate(**dict(zip(indices, grids)))
        return np.ravel(offsets), np.ravel(np.broadcast_to(lsbs, np.shape(offsets)))

    def pack(self, offsets, lsbs, values):
        """Element values placed at (bus offset, lsb) as bus words: ``(word offsets, words)``.

        Elements that share a word are OR-ed into it; values outside the window's range raise InputError.
        """
        values = np.asarray(values, dtype=np.int64).ravel()
        lo, hi = self.range
        bad = np.flatnonzero((values < lo) | (values > hi))
        if len(bad):
            raise InputError(f"Value {values[bad[0]]} is outside the {self.name!r} window's range {lo}..{hi}")
        codes = (values & ((1 << self.element_bits) - 1)) << np.asarray(lsbs, dtype=np.int64)
        word_offsets, where = np.unique(offsets, return_inverse=True)
        words = np.zeros(len(word_offsets), dtype=np.int64)
        np.bitwise_or.at(words, where, codes)
        return word_offsets, words

    def unpack(self, words, where, lsbs):
        """Element values out of bus ``words``: the element at bit ``lsbs[i]`` of ``words[where[i]]``."""
        bits = self.element_bits
        raw = (np.asarray(words, dtype=np.int64)[where] >> np.asarray(lsbs, dtype=np.int64)) & ((1 << bits) - 1)
        if self.signed:
            raw = raw - ((raw >> (bits - 1)) << bits)
        return raw

    def encode(self, value):
        """One element as an unpacked bus word (for single-element accesses)."""
        lo, hi = self.range
        if not lo <= value <= hi:
            raise InputError(f"Value {value} is outside the {self.name!r} window's range {lo}..{hi}")
        return value & 0xFFFF_FFFF


class FifoInfo:
    """A FIFO window (``kind: fifo``): push or pop elements at ``data``, read the level at ``status``."""

    kind = "fifo"

    def __init__(self, d):
        self.name = d["name"]
        self.base = d["base"]
        self.size = d["size"]
        self.direction = d["direction"]
        self.element_bits = d["element_bits"]
        self.signed = d["signed"]
        self.depth = d["depth"]
        self.data = self.base + d["data_offset"]
        self.status = self.base + d["status_offset"]
        self.status_mask = (1 << d["status_bits"]) - 1

    @property
    def range(self):
        """``(lo, hi)`` of the element values the FIFO holds."""
        return _element_range(self.element_bits, self.signed)

    def decode(self, word):
        value = word & ((1 << self.element_bits) - 1)
        if self.signed and value >> (self.element_bits - 1):
            value -= 1 << self.element_bits
        return value


class Manifest:
    """Parsed manifest.json of one generated engine."""

    def __init__(self, data):
        if not isinstance(data, dict):
            raise ManifestError(f"A manifest must be a JSON object, not {type(data).__name__}")
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise ManifestError(f"Manifest version must be {MANIFEST_VERSION}, not {data.get('manifest_version')!r}: "
                                "regenerate it with this pimgen (`pimgen generate`)")
        try:
            self._parse(data)
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"Manifest of {data.get('top', 'an engine')!r} is malformed "
                                f"({type(exc).__name__}: {exc})") from None

    def _parse(self, data):
        self.data = data
        self.engine = data["engine"]
        self.top = data["top"]
        self.config = data["config"]
        self.config_hash = data["config_hash"]
        self.version = tuple(data["version"])
        self.engine_code = data["engine_code"]
        self.clock_hz = data["clock_hz"]
        if isinstance(self.clock_hz, bool) or not isinstance(self.clock_hz, (int, float)) or not self.clock_hz > 0:
            raise ManifestError(f"Manifest clock_hz must be a positive number, not {self.clock_hz!r}")
        self.errors = {int(k): v for k, v in data.get("errors", {}).items()}
        self.counters = {c["name"]: c for c in data.get("counters", [])}
        self.registers = {}
        self.arrays = {}
        for r in data["registers"]:
            if r.get("kind") == "array":
                array = RegisterArrayInfo(r)
                self.arrays[r["name"]] = array
                for element in array.elements:
                    self.registers[element.name] = element
            else:
                self.registers[r["name"]] = RegisterInfo(r)
        self.windows = {}
        for w in data["windows"]:
            self.windows[w["name"]] = FifoInfo(w) if w["kind"] == "fifo" else WindowInfo(w)

    @classmethod
    def load(cls, path):
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            return cls(json.loads(path.read_text()))
        except FileNotFoundError:
            raise ManifestError(f"No manifest at {path}: run `pimgen generate` first") from None
        except IsADirectoryError:
            raise ManifestError(f"No manifest at {path}: run `pimgen generate` first") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"Manifest {path} is not a pimgen manifest ({exc})") from None

    def reg(self, name):
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(f"The {self.engine} manifest has no register {name!r}") from None

    def array(self, name):
        try:
            return self.arrays[name]
        except KeyError:
            raise KeyError(f"The {self.engine} manifest has no register array {name!r}") from None

    def window(self, name):
        try:
            return self.windows[name]
        except KeyError:
            raise KeyError(f"The {self.engine} manifest has no window {name!r}") from None

    def error_text(self, code):
        entry = self.errors.get(code)
        return f"{entry['name']}: {entry['meaning']}" if entry else "unknown error code"
