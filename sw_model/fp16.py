"""Golden model of the GNN engine's ``fp16`` format, bit-exact with docs/gnn.md ("fp16 format").

Features, edge weights and results are IEEE binary16 bit patterns (``uint16``). ``sum``, ``mean`` and ``weighted``
accumulate strictly sequentially in CSR order, rounding to binary16 after every add (``acc = t_0``, then
``acc = fl16(acc + t_k)``); ``weighted`` rounds each product ``w * x`` first; ``mean`` multiplies by the rounded
reciprocal ``R16[d] = fl16(1/d)``; ``max`` is ``np.maximum(acc, t)`` in CSR order. With ``fp32_acc=True`` the
accumulation runs in binary32 and the result is rounded to binary16 once (the mean twice: binary32, then binary16).
Every NaN result is the canonical ``0x7E00``; empty rows give ``+0``.

The arithmetic is NumPy's float16 and float32 scalar arithmetic, vectorised over the rows that have a ``k``-th edge
and sequential along each row. NumPy computes a float16 ``+`` or ``*`` in float32 and rounds once to float16, which
is the correctly rounded binary16 result (binary32 has ``24 >= 2 * 11 + 2`` bits, so the double rounding is
innocuous); docs/gnn.md gives the argument and tests/test_fp16.py checks it.

Imports NumPy and pimgen's plain-Python input checks only; never the design (``hw.gnn.fp16``).
"""

import numpy as np

from pimgen.errors import InputError, InputTypeError
from pimgen.gnn.inputs import check_graph, check_op

__all__ = [
    "NAN16", "NAN32",
    "to_bits", "from_bits", "canonical", "to_bits32", "from_bits32", "canonical32",
    "reciprocals16", "reciprocals32", "aggregate_fp16",
]

#: The canonical binary16 NaN the engine writes (quiet, positive, no payload).
NAN16 = 0x7E00
#: The canonical binary32 NaN of the fp32 accumulator.
NAN32 = 0x7FC00000


# Bit patterns.

def to_bits(x):
    """Values to binary16 bit patterns: ``np.asarray(x, float16).view(uint16)`` (floats are rounded to nearest even,
    NaNs keep whatever pattern the conversion gives; see :func:`canonical`)."""
    return np.asarray(x, dtype=np.float16).view(np.uint16)


def from_bits(bits, name="bits"):
    """Binary16 bit patterns (integers ``0..65535``) to a float16 array of the same shape.

    Raises
    ------
    TypeError
        If ``bits`` is not an integer array.
    ValueError
        If a pattern is outside ``0..65535``; the message names the first one.
    """
    return _patterns(bits, name, 16).view(np.float16)


def canonical(bits):
    """Binary16 bit patterns with every NaN replaced by :data:`NAN16` (a new ``uint16`` array)."""
    bits = _patterns(bits, "bits", 16).copy()
    bits[((bits & 0x7C00) == 0x7C00) & ((bits & 0x03FF) != 0)] = NAN16
    return bits


def to_bits32(x):
    """Values to binary32 bit patterns, ``np.asarray(x, float32).view(uint32)``."""
    return np.asarray(x, dtype=np.float32).view(np.uint32)


def from_bits32(bits, name="bits"):
    """Binary32 bit patterns (integers ``0..2**32-1``) to a float32 array; errors as :func:`from_bits`."""
    return _patterns(bits, name, 32).view(np.float32)


def canonical32(bits):
    """Binary32 bit patterns with every NaN replaced by :data:`NAN32` (a new ``uint32`` array)."""
    bits = _patterns(bits, "bits", 32).copy()
    bits[((bits & 0x7F800000) == 0x7F800000) & ((bits & 0x007FFFFF) != 0)] = NAN32
    return bits


def _patterns(bits, name, width):
    dtype = np.uint16 if width == 16 else np.uint32
    arr = np.asarray(bits)
    if arr.dtype == dtype:
        return arr
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputTypeError(f"{name} must be binary{width} bit patterns (integers), not an array of dtype "
                             f"{arr.dtype}")
    bad = (arr < 0) | (arr > (1 << width) - 1)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(f"{name} must be binary{width} bit patterns in 0..{(1 << width) - 1}, but "
                         f"{name}[{', '.join(map(str, first))}] is {int(arr[first])}")
    return arr.astype(dtype)


def _float16_input(values, name, ndim):
    """A float16 array from float16 values or binary16 bit patterns, with the dimension checked."""
    arr = np.asarray(values)
    if arr.ndim != ndim:
        raise InputError(f"{name} must be a {ndim}-D array, not an array of shape {arr.shape}")
    if arr.dtype == np.float16:
        return arr
    return from_bits(arr, name)


# The mean op's reciprocals.

def reciprocals16(max_degree):
    """``R16[d] = fl16(1/d)`` for ``d = 0..max_degree`` as float16, ``R16[0] = +0``.

    ``1/d`` is computed in float64 and rounded to float16: for ``d`` not a power of two ``1/d`` is not a dyadic
    rational, so it is never a rounding tie, and float64 is close enough to it not to cross a binary16 rounding
    boundary (docs/gnn.md).
    """
    return _reciprocals(max_degree, np.float16)


def reciprocals32(max_degree):
    """``R32[d] = fl32(1/d)`` for ``d = 0..max_degree`` as float32, ``R32[0] = +0`` (the fp32 accumulator's mean)."""
    return _reciprocals(max_degree, np.float32)


def _reciprocals(max_degree, dtype):
    if isinstance(max_degree, (bool, np.bool_)) or not isinstance(max_degree, (int, np.integer)):
        raise InputTypeError(f"max_degree must be an integer, not {max_degree!r}")
    if max_degree < 0:
        raise InputError(f"max_degree must be at least 0, not {max_degree}")
    d = np.arange(1, int(max_degree) + 1, dtype=np.float64)
    return np.concatenate([[0.0], 1.0 / d]).astype(dtype)


# Aggregation.

class _Positions:
    """Rows sorted by decreasing in-degree, so that the rows with a ``k``-th edge are a prefix for every ``k``."""

    def __init__(self, graph):
        deg = graph.in_degree
        self.order = np.argsort(-deg, kind="stable")
        self.degree = deg[self.order]
        self.start = graph.indptr[:-1][self.order]
        self.count = np.searchsorted(-self.degree, -np.arange(graph.max_degree), side="left")

    def edges(self):
        """``(k, rows, edges)`` for every edge position ``k``: the sorted rows ``0..rows-1`` have a ``k``-th edge,
        which is ``edges`` (CSR positions, one per row)."""
        for k, rows in enumerate(self.count):
            yield k, rows, self.start[:rows] + k

    def unsort(self, y_sorted):
        y = np.empty_like(y_sorted)
        y[self.order] = y_sorted
        return y


def _terms(graph, x, w, edges, dtype):
    """The terms of one edge position: ``X[col]``, or for ``weighted`` the product ``w * X[col]``, in ``dtype``.

    float16: the product is rounded to binary16 (NumPy's float16 ``*``). float32: the float16 operands are
    converted exactly and their product is exact in binary32."""
    t = x[graph.indices[edges]].astype(dtype)
    if w is not None:
        t = t * w[edges, None].astype(dtype)
    return t


def aggregate_fp16(graph, x, op, weights=None, *, fp32_acc=False):
    """Golden fp16 aggregation ``Y[r, f]`` = op over the in-edges of row ``r`` of ``X[col, f]`` (docs/gnn.md).

    Parameters
    ----------
    graph : CsrGraph
        In-edges per destination row; edges are accumulated in CSR order.
    x : array_like, shape (N, F)
        Features: binary16 bit patterns (integers ``0..65535``) or a float16 array.
    op : str
        ``"sum"``, ``"mean"``, ``"max"`` or ``"weighted"``.
    weights : array_like, shape (nnz,), optional
        Edge weights for ``weighted`` (bit patterns or float16; ignored by the other ops); defaults to
        ``graph.weights``.
    fp32_acc : bool
        Accumulate in binary32 and round to binary16 at the end (``max`` is the same either way).

    Returns
    -------
    numpy.ndarray of uint16, shape (N, F)
        Result bit patterns; NaNs are :data:`NAN16`, empty rows ``+0``.

    Raises
    ------
    ValueError
        On an unknown op, features or weights that are not binary16 patterns of the right shape, or missing
        weights for ``weighted``.
    TypeError
        If ``graph`` is not a CsrGraph, or features or weights are neither float16 nor integers.
    """
    check_graph(graph)
    check_op(op)
    if not isinstance(fp32_acc, (bool, np.bool_)):
        raise InputTypeError(f"fp32_acc must be a bool, not {fp32_acc!r}")
    x = _float16_input(x, "features", 2)
    if x.shape[0] != graph.num_nodes:
        raise InputError(f"features must have one row per node ({graph.num_nodes}), not {x.shape[0]}")
    w = None
    if op == "weighted":
        w = graph.weights if weights is None else weights
        if w is None:
            raise InputError("the weighted op needs edge weights: pass weights= or a graph with weights")
        w = _float16_input(w, "weights", 1)
        if len(w) != graph.nnz:
            raise InputError(f"weights must have one entry per edge (length mismatch): "
                             f"len(weights) = {len(w)}, nnz = {graph.nnz}")
    pos = _Positions(graph)
    with np.errstate(over="ignore", invalid="ignore"):
        if op == "max":
            y = _max(graph, x, pos)
        else:
            dtype = np.float32 if fp32_acc else np.float16
            acc = _accumulate(graph, x, w, pos, dtype)
            if op == "mean":
                recip = _reciprocals(graph.max_degree, dtype)[pos.degree]
                acc = (acc * recip[:, None]).astype(dtype)
            y = acc.astype(np.float16)
    return canonical(pos.unsort(y).view(np.uint16))


def _accumulate(graph, x, w, pos, dtype):
    """``acc = t_0``, ``acc = fl(acc + t_k)`` in ``dtype`` (float16 or float32), rows vectorised; +0 if empty."""
    acc = np.zeros((graph.num_nodes, x.shape[1]), dtype=dtype)
    for k, rows, edges in pos.edges():
        t = _terms(graph, x, w, edges, dtype)
        acc[:rows] = t if k == 0 else acc[:rows] + t
    return acc


def _max(graph, x, pos):
    """``acc = t_0``, ``acc = np.maximum(acc, t_k)``: the first of equal values wins, NaN propagates."""
    acc = np.zeros((graph.num_nodes, x.shape[1]), dtype=np.float16)
    for k, rows, edges in pos.edges():
        t = x[graph.indices[edges]]
        acc[:rows] = t if k == 0 else np.maximum(acc[:rows], t)
    return acc
