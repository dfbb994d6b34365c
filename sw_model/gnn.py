"""Golden model of the GNN aggregation engine, bit-exact with docs/gnn.md.

``Y[r, f]`` = op over the in-edges of row ``r`` (CSR order) of ``X[col, f]``, for the ops in
:data:`pimgen.gnn.config.GNN_OPS`: ``sum``, ``mean`` (reciprocal table), ``max`` and ``weighted`` (per-edge fixed-point
weights, e.g. GCN's ``1/sqrt(deg_s * deg_d)``). Features and results are integer codes of the config's format
(``int8`` or ``int16`` with ``frac_bits`` fraction bits); the accumulator has ``acc_width`` bits and saturates or
wraps after every add, in CSR order.

The public checks (:func:`check_codes`, :func:`check_weight_codes`, :func:`check_fits`) are the boundary: a driver
can call them before building anything, and :func:`aggregate` calls them on every input.

This module imports only NumPy, SciPy and pimgen's plain-Python config and input checks (:mod:`pimgen.gnn.inputs`, which
the host driver shares).
"""

import functools

import numpy as np
import scipy.sparse

from pimgen.config import ceil_log2
from pimgen.gnn.inputs import (check_codes, check_config, check_fits, check_graph, check_op, check_weight_codes,
                               format_range, weight_range)

from .fp16 import aggregate_fp16

__all__ = [
    "format_range", "weight_range", "quantize", "quantize_features", "dequantize",
    "check_codes", "check_weight_codes", "check_fits",
    "gcn_norm_weights", "mean_reciprocal_table", "aggregate",
]


# Formats and quantisation (the range and boundary checks are pimgen.gnn.inputs', shared with the driver).

def quantize(x, frac_bits, bits):
    """Real values to signed fixed-point codes: ``clip(round_half_even(x * 2**frac_bits))`` to ``bits`` bits.

    Parameters
    ----------
    x : array_like of float or scipy.sparse matrix
        Values; converted to float64 (a sparse matrix becomes dense). Infinities clip to the range ends.
    frac_bits : int
        Fraction bits, ``0..bits-1``.
    bits : int
        Code width, ``2..62``.

    Returns
    -------
    numpy.ndarray of int64
        Codes in ``-2**(bits-1) .. 2**(bits-1) - 1``, same shape as ``x``.

    Raises
    ------
    ValueError
        If ``x`` holds NaN or a width is out of range.
    """
    bits = _check_small_int("bits", bits, 2, 62)
    frac_bits = _check_small_int("frac_bits", frac_bits, 0, bits - 1)
    if scipy.sparse.issparse(x):
        x = x.toarray()
    x = np.asarray(x, dtype=np.float64)
    if np.isnan(x).any():
        first = tuple(int(i) for i in np.argwhere(np.isnan(x))[0])
        raise ValueError(f"x must not contain NaN, but x[{', '.join(map(str, first))}] is NaN")
    lo, hi = _signed_range(bits)
    scaled = np.rint(x * float(1 << frac_bits))      # scaling by 2**k is exact; np.rint rounds half to even
    return np.clip(scaled, lo, hi).astype(np.int64)


def quantize_features(x, config):
    """Real features to codes of the config's format (``frac_bits`` fraction bits, ``data_bits`` wide), or to
    binary16 bit patterns (round to nearest even) for format fp16."""
    check_config(config)
    if config.is_float:
        return _fp16_codes(x)
    return quantize(x, config.frac_bits, config.data_bits)


def _fp16_codes(x):
    """Real values to binary16 bit patterns as int64 (NumPy's float16 conversion rounds to nearest even)."""
    if scipy.sparse.issparse(x):
        x = x.toarray()
    return np.asarray(x, dtype=np.float64).astype(np.float16).view(np.uint16).astype(np.int64)


def dequantize(codes, frac_bits):
    """Codes back to real values, ``codes / 2**frac_bits`` in float64."""
    frac_bits = _check_small_int("frac_bits", frac_bits, 0, 62)
    return np.asarray(codes, dtype=np.float64) / float(1 << frac_bits)


def _signed_range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _check_small_int(name, value, lo, hi):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value}")
    return int(value)


# Boundary checks.

# Edge weights and the reciprocal table.

def gcn_norm_weights(graph, config):
    """GCN normalisation ``w_e = 1 / sqrt(deg(src) * deg(dst))`` as weight codes, one per edge in CSR order.

    ``deg`` is the in-degree in ``graph`` (the row length), which counts self loops when the graph has them. Pass
    ``graph.with_self_loops()`` to get GCN's ``D^-1/2 (A + I) D^-1/2``; for a symmetric graph (Cora, CiteSeer)
    in- and out-degrees agree. Each weight is computed in float64 and quantised once with ``weight_frac_bits``
    fraction bits (round half to even, then clipped to ``weight_bits``), never as a product of two rounded roots.

    Parameters
    ----------
    graph : CsrGraph
    config : GnnConfig

    Returns
    -------
    numpy.ndarray of int64, shape (nnz,)

    Raises
    ------
    ValueError
        If an edge comes from a node with in-degree 0 (its weight would be infinite); add self loops first.
    """
    check_config(config)
    check_graph(graph)
    deg = graph.in_degree
    rows = graph.edge_rows()
    cols = graph.indices
    zero = np.flatnonzero(deg[cols] == 0)
    if zero.size:
        e = int(zero[0])
        raise ValueError(f"gcn_norm_weights needs every source node to have in-degree >= 1 (use with_self_loops()), "
                         f"but edge {e} (row {int(rows[e])}) comes from node {int(cols[e])} with in-degree 0")
    w = 1.0 / np.sqrt(deg[rows].astype(np.float64) * deg[cols].astype(np.float64))
    if config.is_float:
        return _fp16_codes(w)
    return quantize(w, config.weight_frac_bits, config.weight_bits)


@functools.lru_cache(maxsize=16)
def _reciprocal_table(recip_bits, max_degree):
    d = np.arange(1, max_degree + 1, dtype=np.int64)
    s = recip_bits + np.array([ceil_log2(int(v)) for v in d], dtype=np.int64)
    r = ((np.int64(1) << (s + 1)) + d) // (2 * d)           # floor(2**s / d + 1/2), exact in integers
    table_r = np.concatenate([[0], r]).astype(np.int64)
    table_s = np.concatenate([[1], s]).astype(np.int64)
    table_r.setflags(write=False)
    table_s.setflags(write=False)
    return table_r, table_s


def mean_reciprocal_table(config):
    """Reciprocal table of the mean op: ``(R, s)``, int64 arrays of length ``max_degree + 1``.

    For ``d >= 1``: ``s[d] = P + ceil_log2(d)`` and ``R[d] = floor(2**s[d] / d + 1/2)`` with ``P = recip_bits``,
    so that ``mean = floor((acc * R[d] + 2**(s[d]-1)) / 2**s[d])``. ``R[0] = 0`` and ``s[0] = 1`` make an empty row
    give 0.

    ``2**P <= R[d] <= 2**(P+1)``; the upper end is reached (``R[d] = 2**(P+1)``, one bit more than
    ``config.recip_width``) only for ``d > 2**(P+2)``, e.g. ``d = 1025`` with ``P = 8``.
    """
    check_config(config)
    r, s = _reciprocal_table(config.recip_bits, config.max_degree)
    return r.copy(), s.copy()


# Aggregation.

def _fit(v, bits, saturate):
    """``fit`` of docs/gnn.md: clamp to, or wrap into, signed ``bits`` bits (int64 arrays)."""
    half = 1 << (bits - 1)
    if saturate:
        return np.clip(v, -half, half - 1)
    return ((v + half) & ((1 << bits) - 1)) - half


def _edge_weights(config, graph, op, weights):
    if op != "weighted":
        return None
    if weights is None:
        weights = graph.weights
    if weights is None:
        raise ValueError("the weighted op needs edge weights: pass weights= or a graph with weights")
    w = check_weight_codes(weights, config)
    if len(w) != graph.nnz:
        raise ValueError(f"weights must have one entry per edge (length mismatch): "
                         f"len(weights) = {len(w)}, nnz = {graph.nnz}")
    return w


class _RowOrder:
    """Rows sorted by decreasing in-degree, so that the rows with degree > k are a prefix for every k."""

    def __init__(self, graph):
        deg = graph.in_degree
        self.order = np.argsort(-deg, kind="stable")
        self.degree = deg[self.order]
        self.start = graph.indptr[:-1][self.order]
        ks = np.arange(graph.max_degree, dtype=np.int64)
        self.count = np.searchsorted(-self.degree, -ks, side="left")   # rows with degree > k

    def unsort(self, y_sorted):
        y = np.empty_like(y_sorted)
        y[self.order] = y_sorted
        return y


def _accumulate(config, graph, x, w, rows):
    """Sequential ``acc = fit_A(acc + term)`` over edge position k, for all rows with degree > k at once."""
    acc = np.zeros((graph.num_nodes, x.shape[1]), dtype=np.int64)
    for k, cnt in enumerate(rows.count):
        edges = rows.start[:cnt] + k
        term = x[graph.indices[edges]]
        if w is not None:
            term = term * w[edges, None]
        acc[:cnt] = _fit(acc[:cnt] + term, config.acc_width, config.saturate)
    return acc


def _max_rows(graph, x, rows):
    out = np.zeros((graph.num_nodes, x.shape[1]), dtype=np.int64)
    for k, cnt in enumerate(rows.count):
        term = x[graph.indices[rows.start[:cnt] + k]]
        out[:cnt] = term if k == 0 else np.maximum(out[:cnt], term)
    return out


def _round_shift(v, shift):
    """``floor((v + 2**(shift-1)) / 2**shift)`` (round half up); ``v`` unchanged when ``shift`` is 0."""
    if shift == 0:
        return v
    return (v + (1 << (shift - 1))) >> shift


def _mean_finish(config, acc, degree):
    table_r, table_s = mean_reciprocal_table(config)
    r = table_r[degree][:, None]
    s = table_s[degree][:, None]
    biggest = int(np.abs(acc).max(initial=0)) * int(table_r.max()) + (1 << (int(table_s.max()) - 1))
    assert biggest < 1 << 63, "acc * R[d] must fit int64"
    return (acc * r + (np.int64(1) << (s - 1))) >> s


def aggregate(config, graph, x_codes, op, weights=None):
    """Golden aggregation ``Y[r, f]`` = op over the in-edges of row ``r`` of ``X[col, f]``, exactly as docs/gnn.md.

    Parameters
    ----------
    config : GnnConfig
        Format, ``acc_width``, ``saturate``, weight format, ``recip_bits`` and the memory limits.
    graph : CsrGraph
        In-edges per destination row; edges are accumulated in CSR order.
    x_codes : array_like of int, shape (N, F)
        Feature codes of the config's format (see :func:`check_codes`; never clipped).
    op : str
        ``"sum"``, ``"mean"``, ``"max"`` or ``"weighted"``.
    weights : array_like of int, shape (nnz,), optional
        Signed ``weight_bits`` codes with ``weight_frac_bits`` fraction bits, for ``weighted`` only (ignored by the
        other ops); defaults to ``graph.weights``.

    Returns
    -------
    numpy.ndarray of int64, shape (N, F)
        Output codes, same format and fraction bits as ``X``; 0 for empty rows.

    Raises
    ------
    ValueError
        On an unknown op, bad codes, a feature row count other than ``N``, missing or bad weights for
        ``weighted``, or a graph that does not fit the config (:func:`check_fits`).
    TypeError
        If ``config`` is not a GnnConfig or ``graph`` not a CsrGraph.
    """
    check_config(config)
    check_graph(graph)
    check_op(op)
    x = check_codes(x_codes, config)
    if x.shape[0] != graph.num_nodes:
        raise ValueError(f"features must have one row per node ({graph.num_nodes}), not {x.shape[0]}")
    check_fits(config, graph, x.shape[1], op)
    w = _edge_weights(config, graph, op, weights)
    if config.is_float:             # binary16 throughout: sw_model.fp16 (docs/gnn.md, fp16 format)
        return aggregate_fp16(graph, x.astype(np.uint16), op, None if w is None else w.astype(np.uint16),
                              fp32_acc=config.fp32_acc).astype(np.int64)
    rows = _RowOrder(graph)
    if op == "max":
        return rows.unsort(_max_rows(graph, x, rows))
    acc = _accumulate(config, graph, x, w, rows)
    if op == "sum":
        y = acc
    elif op == "weighted":
        y = _round_shift(acc, config.weight_frac_bits)
    else:
        y = _mean_finish(config, acc, rows.degree)
    return rows.unsort(_fit(y, config.data_bits, config.saturate))
