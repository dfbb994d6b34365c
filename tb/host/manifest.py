"""manifest.json, read on the host: register addresses, field positions, memory windows.

The driver never holds a copy of an address or a field position; it asks the manifest.
"""

import json
from pathlib import Path

import numpy as np

__all__ = ["Manifest", "RegisterInfo", "FieldInfo", "WindowInfo"]


class FieldInfo:
    def __init__(self, d):
        self.name = d["name"]
        self.lsb = d["lsb"]
        self.width = d["width"]
        self.access = d["access"]
        self.mask = ((1 << self.width) - 1) << self.lsb

    def extract(self, word):
        return (word >> self.lsb) & ((1 << self.width) - 1)

    def insert(self, value):
        if not 0 <= value < (1 << self.width):
            raise ValueError(f"Value {value} does not fit field {self.name!r} of {self.width} bits")
        return value << self.lsb


class RegisterInfo:
    def __init__(self, d):
        self.name = d["name"]
        self.addr = d["addr"]
        self.doc = d.get("doc", "")
        self.fields = {f["name"]: FieldInfo(f) for f in d["fields"]}

    def field(self, name):
        try:
            return self.fields[name]
        except KeyError:
            raise KeyError(f"Register {self.name} has no field {name!r}; it has {', '.join(self.fields)}") from None


class WindowInfo:
    def __init__(self, d):
        self.name = d["name"]
        self.base = d["base"]
        self.size = d["size"]
        self.element_bits = d["element_bits"]
        self.signed = d["signed"]
        self.banks = d["banks"]
        self.elements_per_word = d["elements_per_word"]
        self.slot_bits = d["slot_bits"]
        self.depth = d["depth"]
        self.layout = d.get("layout", {})

    def decode(self, word):
        """A 32-bit bus word as the element value (sign-extended for signed windows)."""
        value = word & ((1 << self.element_bits) - 1)
        if self.signed and value >> (self.element_bits - 1):
            value -= 1 << self.element_bits
        return value

    def pack(self, offsets, elements, values):
        """Element values placed at (word offset, element index) as bus words: ``(word offsets, words)``.

        Elements that share a word are OR-ed into it, element 0 in the low bits; values outside the element's range
        raise ValueError.
        """
        values = np.asarray(values, dtype=np.int64).ravel()
        lo = -(1 << (self.element_bits - 1)) if self.signed else 0
        hi = lo + (1 << self.element_bits) - 1
        bad = np.flatnonzero((values < lo) | (values > hi))
        if len(bad):
            raise ValueError(f"Value {values[bad[0]]} is outside the {self.name!r} window's range {lo}..{hi}")
        codes = (values & ((1 << self.element_bits) - 1)) << (np.asarray(elements) * self.element_bits)
        word_offsets, where = np.unique(offsets, return_inverse=True)
        words = np.zeros(len(word_offsets), dtype=np.int64)
        np.bitwise_or.at(words, where, codes)
        return word_offsets, words

    def unpack(self, words, where, elements):
        """Element values out of bus ``words``: element ``elements[i]`` of ``words[where[i]]`` (sign-extended)."""
        bits = self.element_bits
        raw = (np.asarray(words, dtype=np.int64)[where] >> (np.asarray(elements) * bits)) & ((1 << bits) - 1)
        if self.signed:
            raw = raw - ((raw >> (bits - 1)) << bits)
        return raw

    def encode(self, value):
        lo = -(1 << (self.element_bits - 1)) if self.signed else 0
        hi = (1 << (self.element_bits - 1)) - 1 if self.signed else (1 << self.element_bits) - 1
        if not lo <= value <= hi:
            raise ValueError(f"Value {value} is outside the {self.name!r} window's range {lo}..{hi}")
        return value & 0xFFFF_FFFF


class Manifest:
    """Parsed manifest.json of one generated engine."""

    def __init__(self, data):
        self.data = data
        self.engine = data["engine"]
        self.top = data["top"]
        self.config = data["config"]
        self.config_hash = data["config_hash"]
        self.version = tuple(data["version"])
        self.engine_code = data["engine_code"]
        self.errors = {int(k): v for k, v in data.get("errors", {}).items()}
        self.counters = list(data.get("counters", []))
        self.registers = {r["name"]: RegisterInfo(r) for r in data["registers"]}
        self.windows = {w["name"]: WindowInfo(w) for w in data["windows"]}

    @classmethod
    def load(cls, path):
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        try:
            return cls(json.loads(path.read_text()))
        except FileNotFoundError:
            raise FileNotFoundError(f"No manifest at {path}: run `pimgen generate` first") from None

    def reg(self, name):
        try:
            return self.registers[name]
        except KeyError:
            raise KeyError(f"The {self.engine} manifest has no register {name!r}") from None

    def window(self, name):
        try:
            return self.windows[name]
        except KeyError:
            raise KeyError(f"The {self.engine} manifest has no window {name!r}") from None
