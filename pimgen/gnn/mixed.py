"""Degree-aware mixed-precision node features (after MEGA and A2Q): the storage format, its quantiser, packer and
decoder.

Each node's features get a width ``b`` in 1..8 bits chosen by the node's in-degree group, are stored packed with a
4-bit per-node scale, and are decoded on the fly by the engine into its int16 fixed-point codes; the aggregation after
the decoder is the unchanged int16 ``weighted``/``sum``/... of docs/gnn.md. This module is the host side (plan,
quantise, pack) and the golden decoder (:func:`decode_mixed`); the hardware decoder is written against the format
below. It imports only NumPy and pimgen's input checks, so the host driver can import it.

Storage format
--------------

Symbols: ``N`` nodes, ``F`` features per node, ``L = lanes`` (the engine reads ``L`` lanes per cycle, one byte per
lane: 8-bit banks), ``G = ceil(F / L)`` feature groups per node, ``f`` the config's ``frac_bits``.

1. **Widths.** Node ``n`` with in-degree ``d`` (its row length in the CSR graph the engine aggregates over; self loops
   count) is in degree group ``i`` = the number of thresholds ``t`` with ``t <= d`` (thresholds strictly ascending,
   ``t >= 1``), and gets width ``b = widths[i]`` (:func:`widths_for_degrees`). Group 0 is ``d < thresholds[0]``, the
   last group ``d >= thresholds[-1]``.

2. **Width classes and relabelling.** Class ``c = 8 - b`` (class 0 holds the 8-bit nodes, class 7 the 1-bit ones).
   Nodes are renumbered so that each class is contiguous, classes in ascending ``c`` (widest first: ``b = 8, 7, ...,
   1``), and inside a class in ascending original number (stable). ``perm[i]`` is the original number of engine node
   ``i``; ``inverse_perm[n]`` the engine number of original node ``n``. The engine sees only engine numbers: the host
   permutes the graph (row ``i`` of the engine's graph is original row ``perm[i]`` with every column ``v`` replaced by
   ``inverse_perm[v]``, *the edge order inside the row kept*, so the CSR-order arithmetic is unchanged: see
   :func:`permute_graph`), the features, and un-permutes the results (``y_original = y_engine[inverse_perm]``).
   With ``count[c]`` nodes in class ``c``, ``first[c] = count[0] + ... + count[c - 1]`` (an empty class has the
   ``first`` of the class after it; ``first[c] = N`` for empty classes at the end). The class of engine node ``n``
   is the largest ``c`` with ``first[c] <= n``, i.e. ``c = #{c' in 1..7 : first[c'] <= n}``.

3. **Codes and scale.** Node ``n`` has a b-bit two's-complement code ``q[n, j]`` in ``-2**(b-1) .. 2**(b-1) - 1``
   per feature and one shift ``k[n]`` in ``0 .. 16 - b``. The decoder turns them into the int16 code
   ``q[n, j] << k[n]`` (always in range: ``|q << k| <= 2**(b-1) * 2**(16-b) = 2**15``, and the positive end is
   ``2**15 - 2**(16-b)``), i.e. the real value ``q * 2**(k - f)``. The quantiser (:func:`quantize_mixed`) scales the
   real features to ``v = x * 2**f``, picks ``k[n]`` as the smallest shift in ``0 .. 16 - b`` for which rounding
   the node's values does not clip, i.e. ``-2**(b-1) <= rint(v / 2**k) <= 2**(b-1) - 1`` for all of the node's
   ``v`` (``rint`` rounds half to even), or ``16 - b`` when there is none (those values clip), and stores
   ``q = clip(rint(v / 2**k), -2**(b-1), 2**(b-1) - 1)``. A node whose values are all zero has ``k = 0``.
   Note that ``b = 1`` codes are ``{-1, 0}``: positive values quantise to 0 (allowed, but of little use).

4. **Header.** ``k[n]`` is 4 bits; headers are packed two per byte in engine order: node ``n`` at byte ``n // 2``,
   bits ``[4 * (n % 2), 4 * (n % 2) + 4)`` (even nodes in the low nibble). ``ceil(N / 2)`` bytes; an unused high
   nibble (odd ``N``) is 0.

5. **Feature words.** A word is ``L`` bytes, byte ``l`` in lane ``l``'s bank. In class ``c`` (width ``b``) a word
   holds ``P = 8 // b`` *slots* (``P = 8, 4, 2, 2, 1, 1, 1, 1`` for ``b = 1..8``; ``b = 3`` uses 6 of the 8 bits,
   ``b = 5..7`` use ``b`` of them), and a slot holds one feature group of one node: lane ``l`` of slot ``s`` is the
   b-bit two's-complement pattern of ``q[n, g * L + l]`` at bits ``[(s % P) * b, (s % P) * b + b)`` of byte ``l`` of
   word ``base[c] + s // P``. The slots of a class run through its nodes and groups in order,
   ``s = (n - first[c]) * G + g``, so

   ``word(n, g) = base[c] + ((n - first[c]) * G + g) // P``,  ``bit(n, g) = (((n - first[c]) * G + g) % P) * b``,

   and class ``c`` takes ``words[c] = ceil(count[c] * G / P)`` words, ``base[c] = words[0] + ... + words[c - 1]``.
   Features ``j >= F`` of the last group, the unused bits of each byte, and the unused slots of a class's last word
   are 0. ``P`` is always a power of two (``b = 3`` leaves 2 bits of each byte unused to keep it so), so ``// P`` and
   ``% P`` are a shift and a mask; ``(n - first[c]) * G`` is the same multiply by the group count that the int16
   layout's ``n * groups`` needs.

   *Difference from the first draft of this format* (which put each node's groups in words of its own,
   ``ptr(n) = base[c] + (n - first[c]) * ceil(G / P)``): that wastes the sub-byte widths whenever ``G < P``, which is
   the common case for GCN layers (Cora: ``F = 16`` and ``F = 7`` with ``L = 8`` give ``G = 2`` and ``G = 1``: with
   ``G = 1`` every node took a full word whatever its width, more than int8, and mixed precision saved nothing: with
   the default widths it gave 7.52x and 3.29x fewer bytes than fp32 for Cora's two layers, this format 8.73x and
   7.14x). Running the slots through the class fixes it. When ``P`` divides ``G`` both formats place every group in
   the same word at the same bit offset, byte for byte.

6. **Class table.** 8 entries ``(first[c], base[c])``, counted as 4 bytes per entry (a 16-bit ``first`` and a 16-bit
   ``base``; wider graphs need wider fields, which the count ignores).

7. **Decoding** (what the hardware does per lane, for edge source ``n`` and group ``g``): class ``c`` from
   ``first``; ``b = 8 - c``; read word ``word(n, g)`` and header nibble ``k[n]``; per lane
   ``u = (byte >> bit(n, g)) & (2**b - 1)``, ``q = u - 2**b if u >= 2**(b-1) else u``, ``code = q << k``.

Bytes: ``feature_bytes = (sum of words[c]) * L``, ``header_bytes = ceil(N / 2)``, ``table_bytes = 32``;
``total_bytes`` is their sum, compared with ``N * F`` (int8), ``2 * N * F`` (int16) and ``4 * N * F`` (fp32).
The average width is ``avg_bits = sum over nodes of b * F / (N * F)``, the mean width.

Defaults and the experiment behind them
---------------------------------------

:data:`DEFAULT_THRESHOLDS` ``= (5, 8)``, :data:`DEFAULT_WIDTHS` ``= (4, 2, 4)``: in-degree (self loop included)
below 5 gets 4 bits, 5..7 gets 2 bits, 8 and above 4 bits. Chosen on the two-layer GCN of :mod:`sw_model.gcn`
(``mixed_aggregator``, int16 config, ``lanes = 8``, both aggregation inputs in the mixed format) over Cora and
CiteSeer and eight training seeds; the requirement was at most 4 bits per feature on average, at most 1.5 points of
test accuracy below float64, and at least 7x fewer bytes than fp32 for both of Cora's layer inputs
(``F = 16`` and ``F = 7``; the second pads 7 features to 8 lanes, so it needs ``stored_bits <= 4.57``).
Accuracy change against float64 in points (seed 0 / mean of seeds 0..7 / worst seed):

=================  ===========  ======  ==========  ==========  =====================  =====================
thresholds         widths       Cora    Cora fp32x  Cora fp32x  Cora                   CiteSeer
                                bits    layer 0     layer 1     seed0 / mean / worst   seed0 / mean / worst
=================  ===========  ======  ==========  ==========  =====================  =====================
()                 (8,)         8.00    3.88        3.29        +0.0 / -0.04 / -0.2    +0.0 / -0.03 / -0.2
()                 (4,)         4.00    7.52        6.21        -0.4 / -0.11 / -0.6    -0.2 / -0.44 / -1.1
()                 (2,)         2.00    14.18       11.15       -2.7 / -2.12 / -3.1    -3.1 / -4.25 / -6.6
(3, 8)             (2, 4, 8)    4.06    7.41        6.11        -1.1 / -0.42 / -1.2    -2.5 / -2.12 / -3.3
(4, 8)             (2, 4, 8)    3.63    8.23        6.75        -1.6 / -1.01 / -1.6    -2.5 / -2.79 / -5.1
(4,)               (2, 4)       3.21    9.23        7.52        -1.4 / -0.96 / -1.4    -2.4 / -2.81 / -5.3
(5,)               (4, 2)       3.20    9.27        7.54        -1.1 / -0.77 / -1.6    -0.6 / -1.22 / -1.7
(5, 16)            (4, 2, 1)    3.18    9.32        7.58        -3.8 / -3.54 / -5.4    -1.2 / -2.67 / -5.3
(4, 8)             (4, 2, 4)    3.00    9.83        7.97        -1.7 / -0.79 / -1.7    -0.7 / -1.34 / -2.6
(5, 7)             (4, 2, 4)    3.51    8.51        6.97        -0.1 / +0.00 / -0.4    +0.0 / -0.71 / -1.4
(5, 8) default     (4, 2, 4)    3.41    8.73        7.14        -0.9 / -0.20 / -0.9    -0.3 / -0.94 / -1.6
(5, 16)            (4, 2, 4)    3.24    9.16        7.47        -0.7 / -0.51 / -0.9    -0.7 / -1.10 / -1.6
=================  ===========  ======  ==========  ==========  =====================  =====================

Float64 test accuracy of seeds 0..7: Cora 0.820, 0.807, 0.816, 0.806, 0.823, 0.810, 0.816, 0.817; CiteSeer 0.703,
0.699, 0.699, 0.693, 0.701, 0.718, 0.714, 0.695. (5, 7) is as accurate but misses 7x on Cora's second layer.

What it shows: here the mixed features are the aggregation *inputs*, and the degree matters twice. A low-degree
node's own output leans on its own features (the self loop has weight ``1/d``), so the low-degree majority cannot drop
to 2 bits (MEGA-style monotone allocations, more bits only for high degree, lose up to 1.6 points on Cora and 2.5 to
5 on CiteSeer); hubs feed many rows (MEGA's and A2Q's argument) and are few, so 4 bits for them costs little. The
middle degrees are the cheap ones. Width 1 (codes ``{-1, 0}``) loses 1 to 5 points, and widths 3, 5, 6, 7 store
like 4, 8, 8, 8 (a word packs ``8 // b`` slots), so the defaults use 2 and 4 only. CiteSeer's second layer (``F = 6``
in 8 lanes) reaches 5.69x; its first 8.08x at 3.71 bits.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, InputTypeError
from .inputs import CsrGraph, check_graph, is_int

__all__ = ["MixedPlan", "MixedFeatures", "DEFAULT_THRESHOLDS", "DEFAULT_WIDTHS", "NUM_CLASSES", "HEADER_BITS",
           "TABLE_BYTES", "CODE_BITS", "slots_per_word", "width_of_class", "widths_for_degrees", "plan_mixed",
           "edge_order", "permute_graph", "quantize_mixed", "decode_mixed", "decode_mixed_original"]

#: Degree cut points of the default plan (in-degree of the aggregated graph, self loops included): group 0 is
#: ``d < 5``, group 1 ``5 <= d < 8``, group 2 ``d >= 8`` (see "Defaults and the experiment behind them").
DEFAULT_THRESHOLDS = (5, 8)
#: Width of each default degree group: 2 bits for the middle degrees, 4 for the low-degree nodes and the hubs.
DEFAULT_WIDTHS = (4, 2, 4)

#: Width classes: class ``c`` holds the nodes of width ``8 - c``.
NUM_CLASSES = 8
#: Bits of the per-node shift ``k`` (two headers per byte).
HEADER_BITS = 4
#: Bytes counted for the class table (8 entries of ``first`` and ``base``, 16 bits each).
TABLE_BYTES = NUM_CLASSES * 4
#: Width of the decoded codes (the engine's int16 format).
CODE_BITS = 16
_MAX_LANES = 64
_MAX_FRAC_BITS = CODE_BITS - 1


def slots_per_word(width):
    """``P = 8 // width``: feature groups (slots) per word of lane bytes for a width in 1..8."""
    return 8 // _check_width(width, "width")


def width_of_class(c):
    """Width ``8 - c`` of class ``c`` (0..7)."""
    return NUM_CLASSES - c


# Argument checks (InputTypeError for a wrong type, InputError for a value out of range).

def _check_int(name, value, lo, hi=None):
    if not is_int(value):
        raise InputTypeError(f"{name} must be an integer, not {value!r}")
    value = int(value)
    if value < lo or (hi is not None and value > hi):
        allowed = f"in {lo}..{hi}" if hi is not None else f"at least {lo}"
        raise InputError(f"{name} must be an integer {allowed}, not {value}")
    return value


def _check_width(width, name):
    return _check_int(name, width, 1, 8)


def _int_tuple(values, name):
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise InputTypeError(f"{name} must be a sequence of integers, not {values!r}")
    values = tuple(values)
    for v in values:
        if not is_int(v):
            raise InputTypeError(f"{name} must be a sequence of integers, not {values!r}")
    return tuple(int(v) for v in values)


def _check_groups(thresholds, widths):
    thresholds = _int_tuple(thresholds, "thresholds")
    widths = _int_tuple(widths, "widths")
    if any(t < 1 for t in thresholds):
        raise InputError(f"thresholds must be in-degrees of at least 1, not {thresholds}")
    if any(a >= b for a, b in zip(thresholds, thresholds[1:])):
        raise InputError(f"thresholds must be strictly ascending, not {thresholds}")
    if len(widths) != len(thresholds) + 1:
        raise InputError(f"widths must have one entry per degree group (len(thresholds) + 1 = "
                         f"{len(thresholds) + 1}), not {len(widths)}")
    bad = [w for w in widths if not 1 <= w <= 8]
    if bad:
        raise InputError(f"widths must be bit widths in 1..8, not {bad[0]}")
    return thresholds, widths


def _readonly(arr):
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


# Widths and the plan.

def widths_for_degrees(in_degree, thresholds=DEFAULT_THRESHOLDS, widths=DEFAULT_WIDTHS):
    """Width of every node from its in-degree: ``widths[i]`` with ``i = #{t in thresholds : t <= d}``.

    Parameters
    ----------
    in_degree : array_like of int, shape (N,)
        Non-negative in-degrees.
    thresholds : sequence of int
        Strictly ascending degree cut points, each at least 1 (may be empty: one group).
    widths : sequence of int
        One width in 1..8 per group, ``len(thresholds) + 1`` of them.

    Returns
    -------
    numpy.ndarray of int64, shape (N,)

    Raises
    ------
    InputError
        If the thresholds are not strictly ascending or below 1, the widths are out of 1..8 or not one per group,
        or ``in_degree`` is not a 1-D array of non-negative integers.
    InputTypeError
        If ``thresholds`` or ``widths`` is not a sequence of integers.
    """
    thresholds, widths = _check_groups(thresholds, widths)
    deg = np.asarray(in_degree)
    if deg.ndim != 1 or not (np.issubdtype(deg.dtype, np.integer) or deg.size == 0):
        raise InputError(f"in_degree must be a 1-D integer array, not an array of shape {deg.shape} and dtype "
                         f"{deg.dtype}")
    deg = deg.astype(np.int64)
    if deg.size and deg.min() < 0:
        raise InputError(f"in_degree must be non-negative, not {int(deg.min())}")
    group = np.searchsorted(np.array(thresholds, dtype=np.int64), deg, side="right")
    return np.array(widths, dtype=np.int64)[group]


@dataclass(frozen=True, eq=False)
class MixedPlan:
    """Where every node's packed features live: widths, the relabelling and the class table (module docstring).

    Build it with :func:`plan_mixed`. All arrays are read-only.

    Attributes
    ----------
    lanes : int
        ``L``, bytes per word (one per lane).
    num_features : int
        ``F``.
    thresholds, widths : tuple of int
        The degree groups and their widths.
    perm : numpy.ndarray of int64, shape (N,)
        ``perm[i]`` is the original number of engine node ``i``.
    inverse_perm : numpy.ndarray of int64, shape (N,)
        ``inverse_perm[n]`` is the engine number of original node ``n``.
    node_width : numpy.ndarray of int64, shape (N,)
        Width of every engine node (non-increasing).
    first, count, base, class_words : numpy.ndarray of int64, shape (8,)
        Per class ``c`` (width ``8 - c``): first engine node, number of nodes, first word, number of words.
    """

    lanes: int
    num_features: int
    thresholds: tuple
    widths: tuple
    perm: np.ndarray
    inverse_perm: np.ndarray
    node_width: np.ndarray
    first: np.ndarray
    count: np.ndarray
    base: np.ndarray
    class_words: np.ndarray

    # Sizes.

    @property
    def num_nodes(self):
        return len(self.perm)

    @property
    def groups(self):
        """``G = ceil(F / L)`` feature groups per node."""
        return -(-self.num_features // self.lanes)

    @property
    def num_words(self):
        """Words of ``L`` bytes that hold the features."""
        return int(self.class_words.sum())

    @property
    def feature_bytes(self):
        return self.num_words * self.lanes

    @property
    def header_bytes(self):
        return (self.num_nodes + 1) // 2

    @property
    def table_bytes(self):
        return TABLE_BYTES

    @property
    def total_bytes(self):
        """Feature words, headers and the class table."""
        return self.feature_bytes + self.header_bytes + self.table_bytes

    @property
    def int8_bytes(self):
        return self.num_nodes * self.num_features

    @property
    def int16_bytes(self):
        return 2 * self.num_nodes * self.num_features

    @property
    def fp32_bytes(self):
        return 4 * self.num_nodes * self.num_features

    @property
    def avg_bits(self):
        """Mean width over the nodes, ``sum_n b_n * F / (N * F)`` (0.0 for no nodes)."""
        return float(self.node_width.mean()) if self.num_nodes else 0.0

    @property
    def stored_bits(self):
        """Bits stored per feature, everything included: ``8 * total_bytes / (N * F)``."""
        return 8.0 * self.total_bytes / max(1, self.num_nodes * self.num_features)

    def byte_counts(self):
        """The sizes above as a dict, with ``fp32_ratio = fp32_bytes / total_bytes`` (and likewise int8, int16)."""
        return {"feature_bytes": self.feature_bytes, "header_bytes": self.header_bytes,
                "table_bytes": self.table_bytes, "total_bytes": self.total_bytes, "int8_bytes": self.int8_bytes,
                "int16_bytes": self.int16_bytes, "fp32_bytes": self.fp32_bytes, "avg_bits": self.avg_bits,
                "stored_bits": self.stored_bits, "int8_ratio": self.int8_bytes / self.total_bytes,
                "int16_ratio": self.int16_bytes / self.total_bytes, "fp32_ratio": self.fp32_bytes / self.total_bytes}

    # Addresses.

    def class_of(self, node):
        """Class of engine node ``node``: the largest ``c`` with ``first[c] <= node``."""
        node = _check_int("node", node, 0, self.num_nodes - 1)
        return int(np.count_nonzero(self.first[1:] <= node))

    def location(self, node, group):
        """``(word, bit)`` of engine node ``node``'s feature group ``group`` (the formula of the module docstring)."""
        c = self.class_of(node)
        group = _check_int("group", group, 0, self.groups - 1)
        per = slots_per_word(width_of_class(c))
        slot = (int(node) - int(self.first[c])) * self.groups + group
        return int(self.base[c]) + slot // per, (slot % per) * width_of_class(c)

    # Order.

    def to_engine(self, rows):
        """Rows in original order to engine order: ``rows[perm]``."""
        return np.asarray(rows)[self.perm]

    def to_original(self, rows):
        """Rows in engine order back to original order: ``rows[inverse_perm]``."""
        return np.asarray(rows)[self.inverse_perm]


def plan_mixed(graph, thresholds=DEFAULT_THRESHOLDS, widths=DEFAULT_WIDTHS, *, lanes, num_features):
    """Widths from in-degrees, the relabelling and the class table for ``graph``.

    Parameters
    ----------
    graph : CsrGraph
        The graph the engine aggregates over (for a GCN, the one with self loops): in-degree = row length.
    thresholds, widths : sequence of int
        Degree groups and their widths, see :func:`widths_for_degrees`.
    lanes : int
        ``L`` in 1..64, the engine's lanes.
    num_features : int
        ``F``, at least 1.

    Returns
    -------
    MixedPlan

    Raises
    ------
    InputError, InputTypeError
        On a bad argument (see :func:`widths_for_degrees`).
    """
    check_graph(graph)
    thresholds, widths = _check_groups(thresholds, widths)
    lanes = _check_int("lanes", lanes, 1, _MAX_LANES)
    num_features = _check_int("num_features", num_features, 1)
    node_width = widths_for_degrees(graph.in_degree, thresholds, widths)
    node_class = NUM_CLASSES - node_width
    perm = np.argsort(node_class, kind="stable").astype(np.int64)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(len(perm), dtype=np.int64)
    count = np.bincount(node_class, minlength=NUM_CLASSES).astype(np.int64)
    first = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    groups = -(-num_features // lanes)
    per = np.array([slots_per_word(width_of_class(c)) for c in range(NUM_CLASSES)], dtype=np.int64)
    class_words = -(-(count * groups) // per)
    base = np.concatenate([[0], np.cumsum(class_words)[:-1]]).astype(np.int64)
    return MixedPlan(lanes=lanes, num_features=num_features, thresholds=thresholds, widths=widths,
                     perm=_readonly(perm), inverse_perm=_readonly(inverse), node_width=_readonly(node_width[perm]),
                     first=_readonly(first), count=_readonly(count), base=_readonly(base),
                     class_words=_readonly(class_words))


def _check_plan(plan):
    if not isinstance(plan, MixedPlan):
        raise InputTypeError(f"plan must be a MixedPlan, not {type(plan).__name__}")


# The relabelled graph.

def edge_order(graph, plan):
    """Edge ``e`` of the engine's graph is edge ``edge_order(graph, plan)[e]`` of ``graph`` (int64, length nnz).

    Use it to permute per-edge arrays (weights) the same way :func:`permute_graph` permutes the edges.
    """
    check_graph(graph)
    _check_plan(plan)
    if graph.num_nodes != plan.num_nodes:
        raise InputError(f"graph must have the plan's {plan.num_nodes} nodes, not {graph.num_nodes}")
    deg = graph.in_degree[plan.perm]
    starts = graph.indptr[:-1][plan.perm]
    new_indptr = np.concatenate([[0], np.cumsum(deg)]).astype(np.int64)
    return np.repeat(starts - new_indptr[:-1], deg) + np.arange(graph.nnz, dtype=np.int64)


def permute_graph(graph, plan):
    """The graph in engine numbering: row ``i`` is original row ``perm[i]``, columns renamed by ``inverse_perm``.

    The edges of a row keep their order, so aggregation in CSR order gives the same values:
    ``aggregate(permute_graph(g), plan.to_engine(x))[i] == aggregate(g, x)[perm[i]]`` for every op. Per-edge weights
    of ``graph``, if any, move with their edges.

    Raises
    ------
    InputError
        If the graph's node count differs from the plan's.
    """
    order = edge_order(graph, plan)
    indptr = np.concatenate([[0], np.cumsum(graph.in_degree[plan.perm])]).astype(np.int64)
    indices = plan.inverse_perm[graph.indices[order]]
    weights = None if graph.weights is None else graph.weights[order]
    return CsrGraph(indptr, indices, graph.num_nodes, weights)


# Quantiser and packer.

@dataclass(frozen=True, eq=False)
class MixedFeatures:
    """Features in the packed format, plus the unpacked values the packer used (all in engine order, read-only).

    Attributes
    ----------
    plan : MixedPlan
    frac_bits : int
        Fraction bits of the decoded int16 codes.
    codes : numpy.ndarray of int8, shape (N, F)
        ``q``, the b-bit codes (engine order).
    shifts : numpy.ndarray of uint8, shape (N,)
        ``k`` per engine node.
    words : numpy.ndarray of uint8, shape (num_words, lanes)
        The feature words; ``words[w, l]`` is byte ``l`` (lane ``l``) of word ``w``.
    header : numpy.ndarray of uint8, shape (ceil(N / 2),)
        The shifts, two per byte (even nodes in the low nibble).
    clipped : int
        Features whose value clipped (needed a shift beyond ``16 - b``).
    """

    plan: MixedPlan
    frac_bits: int
    codes: np.ndarray
    shifts: np.ndarray
    words: np.ndarray
    header: np.ndarray
    clipped: int

    def byte_counts(self):
        """:meth:`MixedPlan.byte_counts` of the plan."""
        return self.plan.byte_counts()


def _node_shifts(v, width):
    """Smallest ``k`` in ``0..16-b`` per node with no clipping of ``rint(v / 2**k)``, else ``16 - b``."""
    n = v.shape[0]
    hi = v.max(axis=1, initial=-np.inf)
    lo = v.min(axis=1, initial=np.inf)
    qmax = (1 << (width - 1)) - 1
    qmin = -(1 << (width - 1))
    kmax = CODE_BITS - width
    k = kmax.copy()
    found = np.zeros(n, dtype=bool)
    for s in range(CODE_BITS):
        ok = (~found & (s <= kmax) & (np.rint(np.ldexp(hi, -s)) <= qmax) & (np.rint(np.ldexp(lo, -s)) >= qmin))
        k[ok] = s
        found |= ok
    return k


def quantize_mixed(x_float, plan, frac_bits):
    """Quantise real features to the mixed format and pack them (module docstring, items 3 to 5).

    Parameters
    ----------
    x_float : array_like of float, shape (N, F)
        Real features in **original** node order (the plan permutes them).
    plan : MixedPlan
    frac_bits : int
        Fraction bits of the engine's int16 codes, 0..15: a decoded code ``q << k`` means ``q * 2**(k - frac_bits)``.

    Returns
    -------
    MixedFeatures

    Raises
    ------
    InputError
        If ``x_float`` is not an ``(N, F)`` array of the plan's sizes or holds NaN or infinity, or ``frac_bits``
        is out of range.
    """
    _check_plan(plan)
    frac_bits = _check_int("frac_bits", frac_bits, 0, _MAX_FRAC_BITS)
    x = np.asarray(x_float)
    shape = (plan.num_nodes, plan.num_features)
    if x.shape != shape:
        raise InputError(f"x_float must be an array of the plan's shape {shape}, not {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise InputError(f"x_float must hold real numbers, not dtype {x.dtype}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all():
        pos = tuple(int(i) for i in np.argwhere(~np.isfinite(x))[0])
        raise InputError(f"x_float must be finite, not x_float[{pos[0]}, {pos[1]}] = {x[pos]}")
    v = np.ldexp(x[plan.perm], frac_bits)                   # engine order; scaling by 2**f is exact
    width = plan.node_width
    k = _node_shifts(v, width)
    scaled = np.rint(np.ldexp(v, -k[:, None]))
    qmax = ((1 << (width - 1)) - 1)[:, None]
    qmin = -(1 << (width - 1))[:, None]
    clipped = int(np.count_nonzero((scaled > qmax) | (scaled < qmin)))
    q = np.clip(scaled, qmin, qmax).astype(np.int64)
    return MixedFeatures(plan=plan, frac_bits=frac_bits, codes=_readonly(q.astype(np.int8)),
                         shifts=_readonly(k.astype(np.uint8)), words=_readonly(_pack_words(q, plan)),
                         header=_readonly(_pack_header(k)), clipped=clipped)


def _classes(plan):
    """``(c, first, count, b, per)`` of every non-empty class: its first engine node, node count, width and slots per
    word (what the packer and the decoder both walk)."""
    for c in range(NUM_CLASSES):
        count = int(plan.count[c])
        if count:
            b = width_of_class(c)
            yield c, int(plan.first[c]), count, b, slots_per_word(b)


def _pack_words(q, plan):
    lanes, groups, f = plan.lanes, plan.groups, plan.num_features
    words = np.zeros((plan.num_words, lanes), dtype=np.uint8)
    for c, first, count, b, per in _classes(plan):
        padded = np.zeros((count, groups * lanes), dtype=np.int64)
        padded[:, :f] = q[first:first + count]
        slots = padded.reshape(count * groups, lanes) & ((1 << b) - 1)
        nwords = int(plan.class_words[c])
        slots = np.concatenate([slots, np.zeros((nwords * per - len(slots), lanes), dtype=np.int64)])
        fields = slots.reshape(nwords, per, lanes) << (np.arange(per, dtype=np.int64) * b)[None, :, None]
        base = int(plan.base[c])
        words[base:base + nwords] = fields.sum(axis=1).astype(np.uint8)   # disjoint bit fields: sum == or
    return words


def _pack_header(k):
    k = np.asarray(k, dtype=np.int64)
    if len(k) % 2:
        k = np.concatenate([k, [0]])
    return (k[0::2] | (k[1::2] << HEADER_BITS)).astype(np.uint8)


# Decoder (the golden of the hardware decoder).

def decode_mixed(mixed):
    """Decode the packed words and headers into the engine's int16 codes, in **engine** order.

    Reads only ``mixed.words``, ``mixed.header`` and the plan's class table (never ``mixed.codes``), exactly as
    item 7 of the module docstring: this is what the engine aggregates. Row ``i`` is engine node ``i``, i.e.
    original node ``plan.perm[i]``; :func:`decode_mixed_original` gives original order.

    Returns
    -------
    numpy.ndarray of int64, shape (N, F)
        Codes in -32768..32767 (the int16 format with ``mixed.frac_bits`` fraction bits).
    """
    if not isinstance(mixed, MixedFeatures):
        raise InputTypeError(f"mixed must be a MixedFeatures, not {type(mixed).__name__}")
    plan = mixed.plan
    lanes, groups, f = plan.lanes, plan.groups, plan.num_features
    k = np.empty(2 * len(mixed.header), dtype=np.int64)
    k[0::2] = mixed.header & ((1 << HEADER_BITS) - 1)
    k[1::2] = mixed.header >> HEADER_BITS
    k = k[:plan.num_nodes]
    out = np.zeros((plan.num_nodes, f), dtype=np.int64)
    words = mixed.words.astype(np.int64)
    for c, first, count, b, per in _classes(plan):
        slot = np.arange(count * groups, dtype=np.int64)
        byte = words[int(plan.base[c]) + slot // per]                 # (slots, lanes)
        u = (byte >> ((slot % per) * b)[:, None]) & ((1 << b) - 1)
        q = np.where(u >= (1 << (b - 1)), u - (1 << b), u)
        out[first:first + count] = q.reshape(count, groups * lanes)[:, :f] << k[first:first + count, None]
    return out


def decode_mixed_original(mixed):
    """:func:`decode_mixed` in **original** node order (row ``n`` is original node ``n``)."""
    codes = decode_mixed(mixed)
    return mixed.plan.to_original(codes)
