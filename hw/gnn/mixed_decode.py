"""Address and lane decoder of the degree-aware mixed-precision feature format (pimgen.gnn.mixed).

The format is defined exactly in the module docstring of :mod:`pimgen.gnn.mixed` (items 2, 4, 5 and 7); these two
components are its hardware side, checked against that module's plan (``MixedPlan.location``) and golden decoder
(``decode_mixed``) in tests/test_mixed_decode.py. In the processing element they sit between the index read (the
edge's source node ``n`` and the group ``g``) and the term stage: :class:`MixedAddress` gives the word to read and
the slot's bit offset, :class:`MixedDecode` turns the word read (plus the node's header shift ``k``) into the
``lanes`` int16 codes the unchanged aggregation consumes.
"""

from amaranth.hdl import Array, Module, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import exact_log2

from pimgen.gnn.mixed import CODE_BITS, HEADER_BITS, NUM_CLASSES, slots_per_word, width_of_class

__all__ = ["MixedAddress", "MixedDecode", "MAX_LANES"]

#: Largest ``lanes`` accepted (the host format's limit, ``pimgen.gnn.mixed``).
MAX_LANES = 64
#: Bits of a lane byte.
LANE_BITS = 8


def _check_positive(name, value, limit=None):
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be a positive integer, not {value!r}")
    if value < 1 or (limit is not None and value > limit):
        allowed = "a positive integer" if limit is None else f"an integer in 1..{limit}"
        raise ValueError(f"{name} must be {allowed}, not {value}")
    return value


class MixedAddress(wiring.Component):
    """Word address and bit offset of engine node ``node``'s feature group ``group`` (format items 2 and 5).

    ``c = #{c' in 1..7 : first[c'] <= node}``, ``b = 8 - c``, ``P = 8 // b`` (a power of two),
    ``s = (node - first[c]) * groups + group``, ``word = base[c] + s // P``, ``shift_bits = (s % P) * b``.
    ``// P`` and ``% P`` are a shift and a mask per class; ``(node - first[c]) * groups`` is one multiplier.

    Parameters
    ----------
    max_nodes : int
        Largest node count ``N`` of a run (at least 1).
    groups_max : int
        Largest group count ``G = ceil(F / lanes)`` of a run (at least 1).
    registered : bool
        ``False`` (default): combinational, latency 0. ``True``: the outputs are registered, latency 1 (the outputs
        show the inputs of the previous cycle), one address per cycle.

    Interface attributes
    --------------------
    node : In(range(max_nodes))
        Engine node number ``n``, below the run's ``N``.
    group : In(range(groups_max))
        Feature group ``g``, below ``groups``.
    groups : In(range(groups_max + 1))
        The run's ``G``, at least 1.
    first : In(range(max_nodes + 1)).array(8)
        ``first[c]`` of the class table: non-decreasing, ``first[0] = 0``.
    base : In(range(max_words + 1)).array(8)
        ``base[c]`` of the class table.
    cls : Out(range(8))
        The node's class ``c``.
    width : Out(range(9))
        Its width ``b = 8 - c`` in 1..8.
    word : Out(range(max_words))
        The word that holds the slot.
    shift_bits : Out(range(8))
        Bit offset of the slot in every lane byte of that word.

    Attributes
    ----------
    max_nodes, groups_max, registered
        The parameters.
    max_words : int
        ``max_nodes * groups_max``: no plan of at most ``max_nodes`` nodes and ``groups_max`` groups needs more words
        (each class takes ``ceil(count * G / P) <= count * G``).

    Raises
    ------
    TypeError
        If ``max_nodes`` or ``groups_max`` is not an integer or ``registered`` not a bool.
    ValueError
        If ``max_nodes`` or ``groups_max`` is below 1.

    Inputs outside the ranges above (a node at or above the run's ``N``, a decreasing ``first``) give unspecified
    but harmless outputs.
    """

    def __init__(self, *, max_nodes, groups_max, registered=False):
        self._max_nodes = _check_positive("max_nodes", max_nodes)
        self._groups_max = _check_positive("groups_max", groups_max)
        if not isinstance(registered, bool):
            raise TypeError(f"registered must be a bool, not {registered!r}")
        self._registered = registered
        super().__init__({
            "node":       In(range(max(max_nodes, 2))),
            "group":      In(range(max(groups_max, 2))),
            "groups":     In(range(groups_max + 1)),
            "first":      In(range(max_nodes + 1)).array(NUM_CLASSES),
            "base":       In(range(self.max_words + 1)).array(NUM_CLASSES),
            "cls":        Out(range(NUM_CLASSES)),
            "width":      Out(range(LANE_BITS + 1)),
            "word":       Out(range(max(self.max_words, 2))),
            "shift_bits": Out(range(LANE_BITS)),
        })

    @property
    def max_nodes(self):
        return self._max_nodes

    @property
    def groups_max(self):
        return self._groups_max

    @property
    def registered(self):
        return self._registered

    @property
    def max_words(self):
        return self._max_nodes * self._groups_max

    def elaborate(self, platform):
        m = Module()
        out = m.d.sync if self._registered else m.d.comb

        # Class: first[] is non-decreasing, so the comparisons form a thermometer code and c is their count.
        cls = Signal(range(NUM_CLASSES))
        m.d.comb += cls.eq(sum(self.first[c] <= self.node for c in range(1, NUM_CLASSES)))
        first = Array(self.first)[cls]
        base = Array(self.base)[cls]

        rank = Signal(range(max(self._max_nodes, 2)))           # n - first[c] >= 0
        slot = Signal(range(max(self.max_words, 2)))            # (n - first[c]) * G + g < N * G
        m.d.comb += [
            rank.eq(self.node - first),
            slot.eq(rank * self.groups + self.group),
        ]

        out += [self.cls.eq(cls), self.width.eq(LANE_BITS - cls)]
        with m.Switch(cls):
            for c in range(NUM_CLASSES):
                b = width_of_class(c)
                log_p = exact_log2(slots_per_word(b))
                with m.Case(c):
                    out += [
                        self.word.eq(base + (slot >> log_p)),
                        self.shift_bits.eq(slot[:log_p] * b if log_p else 0),
                    ]
        return m


class MixedDecode(wiring.Component):
    """Decodes the ``lanes`` bytes of a word into int16 codes (format item 7); combinational, latency 0.

    Per lane ``l``: ``u = (data[l] >> shift_bits) & (2**width - 1)``, ``q`` = ``u`` sign-extended from ``width`` bits
    (``u - 2**width`` if ``u >= 2**(width - 1)``), ``codes[l] = q << k``, kept to its low 16 bits.

    Parameters
    ----------
    lanes : int
        Bytes per word, 1..64.

    Interface attributes
    --------------------
    data : In(ArrayLayout(unsigned(8), lanes))
        The word read: byte ``l`` from lane ``l``'s bank.
    shift_bits : In(range(8))
        Bit offset of the slot (``MixedAddress.shift_bits``).
    width : In(range(9))
        The node's width ``b`` in 1..8 (``MixedAddress.width``); any other value gives codes 0.
    k : In(unsigned(4))
        The node's header shift. The host format keeps ``k <= 16 - b``, so ``q << k`` fits int16; a larger ``k``
        wraps (the low 16 bits of ``q << k``), as a 16-bit datapath would.
    codes : Out(ArrayLayout(signed(16), lanes))
        The decoded int16 codes.

    Attributes
    ----------
    lanes : int

    Raises
    ------
    TypeError
        If ``lanes`` is not an integer.
    ValueError
        If ``lanes`` is outside 1..64.
    """

    def __init__(self, lanes):
        self._lanes = _check_positive("lanes", lanes, MAX_LANES)
        super().__init__({
            "data":       In(data.ArrayLayout(unsigned(LANE_BITS), lanes)),
            "shift_bits": In(range(LANE_BITS)),
            "width":      In(range(LANE_BITS + 1)),
            "k":          In(unsigned(HEADER_BITS)),
            "codes":      Out(data.ArrayLayout(signed(CODE_BITS), lanes)),
        })

    @property
    def lanes(self):
        return self._lanes

    def elaborate(self, platform):
        m = Module()
        for lane in range(self._lanes):
            field = Signal(LANE_BITS, name=f"field_{lane}")
            q = Signal(signed(LANE_BITS), name=f"q_{lane}")
            m.d.comb += field.eq(self.data[lane] >> self.shift_bits)
            with m.Switch(self.width):
                for b in range(1, LANE_BITS + 1):
                    with m.Case(b):
                        m.d.comb += q.eq(field[:b].as_signed())    # sign-extends b bits to 8
                with m.Default():
                    m.d.comb += q.eq(0)
            m.d.comb += self.codes[lane].eq(q << self.k)           # truncates to 16 bits
        return m
