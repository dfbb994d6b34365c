"""Where each element of a memory window lives: one description that the hardware and the host both compute from.

A window holds elements indexed by named dimensions (``node``, ``feature`` for GNN features). The engine sees the
window as ``banks`` memories side by side and reads one word of every bank per cycle; the host sees it as 32-bit bus
words. :class:`WindowLayout` is the one formula connecting the three views:

* one dimension may be *banked*: its index ``i`` goes to bank ``i % banks`` and contributes ``i // banks`` to the
  word; every other dimension contributes its index;
* the word inside each bank is ``sum(stride[d] * q[d])`` over the dimensions (``q[d]`` the contribution above);
* on the bus, ``elements_per_word`` consecutive banks share one 32-bit word (packing): bank ``b`` is in *slot*
  ``b // elements_per_word`` at bits ``[(b % elements_per_word) * element_bits, +element_bits)``, and the bus offset
  of a slot is ``(word << slot_bits) | slot``.

The generator writes :meth:`WindowLayout.describe` into manifest.json; the driver rebuilds the layout with
:meth:`WindowLayout.from_dict` and calls :meth:`locate` on NumPy arrays, the engine calls :meth:`bank_word` on
Amaranth values. Plain Python (no Amaranth, no NumPy import): the arithmetic works on ints, arrays and Values alike.
"""

import numbers

from .config import ceil_log2
from .errors import InputError, InputTypeError

__all__ = ["WindowLayout", "DATA_WIDTH"]

#: Width of a bus word (the register bus of every engine).
DATA_WIDTH = 32


def _positive_int(what, value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise InputTypeError(f"{what} must be a positive integer, not {value!r}")
    if value < 1:
        raise InputError(f"{what} must be a positive integer, not {value}")
    return value


class WindowLayout:
    """Element layout of a memory window.

    Parameters
    ----------
    dims : list of (str, int)
        Dimension names and sizes, outermost first, e.g. ``[("node", 4096), ("feature", 32)]``.
    element_bits : int
        Width of one element (1..32).
    signed : bool
        Elements are two's-complement (sign-extended when read back).
    banks : int
        Memories side by side; the engine reads or writes one word of each per access.
    banked : str or None
        The dimension spread over the banks (required when ``banks > 1``).
    strides : dict of str -> int, optional
        Word stride of each dimension; by default row-major over the per-bank extents (``ceil(size / banks)`` for the
        banked dimension, ``size`` for the others).
    packed : bool
        Pack ``min(banks, 32 // element_bits)`` banks into one bus word (otherwise one element per bus word).

    Attributes
    ----------
    depth : int
        Words per bank: one more than the largest word any element maps to.
    elements_per_word, slot_bits : int
        Packing on the bus (see the module docstring).
    """

    def __init__(self, dims, *, element_bits, signed, banks=1, banked=None, strides=None, packed=False):
        if not isinstance(dims, (list, tuple)) or not dims:
            raise InputError(f"Layout dims must be a non-empty list of (name, size), not {dims!r}")
        self.dims = []
        for entry in dims:
            if not (isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
                    and entry[0].isidentifier()):
                raise InputError(f"Layout dimension must be a (name, size) pair with an identifier name, "
                                 f"not {entry!r}")
            self.dims.append((entry[0], _positive_int(f"Size of dimension {entry[0]!r}", entry[1])))
        names = [name for name, _ in self.dims]
        if len(set(names)) != len(names):
            raise InputError(f"Layout dimension names must be unique, not {names}")
        if isinstance(element_bits, bool) or not isinstance(element_bits, int) or not 1 <= element_bits <= DATA_WIDTH:
            raise InputError(f"Element bits must be an integer in 1..{DATA_WIDTH}, not {element_bits!r}")
        self.element_bits = element_bits
        if not isinstance(signed, bool):
            raise InputTypeError(f"Signed must be a bool, not {signed!r}")
        self.signed = signed
        self.banks = _positive_int("Banks", banks)
        if (banks > 1 or banked is not None) and banked not in names:
            raise InputError(f"The banked dimension must be one of {', '.join(names)}"
                             + (f" (a layout with {banks} banks needs one)" if banks > 1 else "")
                             + f", not {banked!r}")
        self.banked = banked if banks > 1 else None
        extents = {name: (-(-size // banks) if name == self.banked else size) for name, size in self.dims}
        if strides is None:
            strides, step = {}, 1
            for name, _ in reversed(self.dims):
                strides[name] = step
                step *= extents[name]
        elif set(strides) != set(names):
            raise InputError(f"Layout strides must give one stride per dimension ({', '.join(names)}), "
                             f"not {sorted(strides)}")
        self.strides = {name: _positive_int(f"Stride of {name!r}", strides[name]) for name in names}
        # No two elements may share a word: each stride must step over everything the smaller strides reach.
        reach = 0
        for name in sorted(names, key=lambda n: self.strides[n]):
            if self.strides[name] <= reach and extents[name] > 1:
                raise InputError(f"Stride of {name!r} must be more than {reach} (the words the dimensions with "
                                 f"smaller strides span), not {self.strides[name]}: elements would share words")
            reach += self.strides[name] * (extents[name] - 1)
        self.depth = 1 + sum(self.strides[name] * (extents[name] - 1) for name in names)
        self.elements_per_word = min(self.banks, DATA_WIDTH // element_bits) if packed else 1
        self.slot_bits = ceil_log2(-(-self.banks // self.elements_per_word))
        self.word_bits = max(ceil_log2(self.depth), 1)

    @property
    def addr_width(self):
        """Bus address bits the window needs: word bits plus slot bits."""
        return self.word_bits + self.slot_bits

    @property
    def shape(self):
        """Sizes of the dimensions, in order."""
        return tuple(size for _, size in self.dims)

    def bank_word(self, **quotients):
        """Word inside each bank of the element whose per-dimension contributions are given: for the banked
        dimension pass its index divided by ``banks`` (the engine's feature group, say), for the others the index.
        Works on ints, NumPy arrays and Amaranth Values (constant multiplies and adds only)."""
        self._check_names(quotients)
        word = 0
        for name, _ in self.dims:
            stride = self.strides[name]
            q = quotients[name]
            word = word + (q if stride == 1 else q * stride)
        return word

    def locate(self, **indices):
        """Host view of elements: ``(bus_offset, lsb)`` of the element(s) at ``indices`` (ints or NumPy arrays that
        broadcast). ``bus_offset`` is the word address inside the window; the element occupies bits
        ``[lsb, lsb + element_bits)`` of that bus word."""
        self._check_names(indices)
        for name, size in self.dims:
            index = indices[name]
            if hasattr(index, "dtype"):
                if index.dtype.kind not in "iu":
                    raise InputTypeError(f"Index {name} must be integers, not {index.dtype}")
                bad = index[(index < 0) | (index >= size)]
                if bad.size:
                    raise InputError(f"Index {name} must be in 0..{size - 1}, not {bad.flat[0]}")
            elif isinstance(index, bool) or not isinstance(index, numbers.Integral):
                raise InputTypeError(f"Index {name} must be an integer, not {index!r}")
            elif not 0 <= index < size:
                raise InputError(f"Index {name} must be in 0..{size - 1}, not {index}")
        quotients = dict(indices)
        bank = 0
        if self.banked is not None:
            bank = indices[self.banked] % self.banks
            quotients[self.banked] = indices[self.banked] // self.banks
        word = self.bank_word(**quotients)
        offset = (word << self.slot_bits) | (bank // self.elements_per_word)
        lsb = (bank % self.elements_per_word) * self.element_bits
        return offset, lsb

    def _check_names(self, given):
        names = [name for name, _ in self.dims]
        if set(given) != set(names):
            raise InputError(f"Window layout takes the indices {', '.join(names)}, not {', '.join(sorted(given))}")

    def describe(self):
        """JSON-ready form for manifest.json (what :meth:`from_dict` reads back)."""
        return {
            "dims": [{"name": name, "size": size, "stride": self.strides[name], "banked": name == self.banked}
                     for name, size in self.dims],
            "banks": self.banks,
            "element_bits": self.element_bits,
            "signed": self.signed,
            "elements_per_word": self.elements_per_word,
            "slot_bits": self.slot_bits,
            "depth": self.depth,
            "offset": "(sum(stride[d] * q[d]) << slot_bits) | (bank // elements_per_word), where q[d] = i[d] // banks "
                      "and bank = i[d] % banks for the banked dimension, q[d] = i[d] for the others",
            "lsb": "(bank % elements_per_word) * element_bits",
        }

    @classmethod
    def from_dict(cls, d):
        banked = [dim["name"] for dim in d["dims"] if dim.get("banked")]
        layout = cls([(dim["name"], dim["size"]) for dim in d["dims"]], element_bits=d["element_bits"],
                     signed=d["signed"], banks=d["banks"], banked=banked[0] if banked else None,
                     strides={dim["name"]: dim["stride"] for dim in d["dims"]},
                     packed=d["elements_per_word"] > 1)
        if (layout.elements_per_word, layout.slot_bits, layout.depth) != \
                (d["elements_per_word"], d["slot_bits"], d["depth"]):
            raise InputError(f"Window layout {d!r} is inconsistent: packing or depth differ from what its "
                             "dimensions give")
        return layout

    def __eq__(self, other):
        return isinstance(other, WindowLayout) and self.describe() == other.describe()

    def __repr__(self):
        dims = ", ".join(f"{n}[{s}]" + ("*" if n == self.banked else "") for n, s in self.dims)
        return (f"WindowLayout({dims}, {'s' if self.signed else 'u'}{self.element_bits}, banks={self.banks}, "
                f"per_word={self.elements_per_word})")
