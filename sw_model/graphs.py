"""Graph workloads: conversion from SciPy and seeded random graph generators.

:class:`CsrGraph` itself (CSR over in-edges, validated at construction) lives in :mod:`pimgen.gnn.inputs`, which the
host driver shares; it is re-exported here. Row ``r`` lists the source nodes ``indices[indptr[r]:indptr[r + 1]]``
whose features are aggregated into node ``r`` (see docs/gnn.md).

This module imports only NumPy, SciPy and pimgen's plain-Python input checks.
"""

import numpy as np
import scipy.sparse

from pimgen.gnn.inputs import CsrGraph, is_int

__all__ = ["CsrGraph", "from_scipy", "random_graph", "power_law_graph"]



def from_scipy(mat, keep_weights=False):
    """Build a :class:`CsrGraph` from a square scipy.sparse matrix (rows = destinations), keeping its stored order.

    Parameters
    ----------
    mat : scipy.sparse matrix or array
        Square adjacency; converted to CSR. Duplicates are kept, entries are not sorted.
    keep_weights : bool
        Keep the stored values as edge weights (otherwise the graph is unweighted).

    Raises
    ------
    TypeError
        If ``mat`` is not a scipy.sparse matrix.
    ValueError
        If ``mat`` is not square.
    """
    if not scipy.sparse.issparse(mat):
        raise TypeError(f"mat must be a scipy.sparse matrix, not {type(mat).__name__}")
    if mat.shape[0] != mat.shape[1]:
        raise ValueError(f"mat must be square (an adjacency matrix), not of shape {mat.shape}")
    csr = mat.tocsr()
    weights = np.asarray(csr.data) if keep_weights else None
    return CsrGraph(csr.indptr, csr.indices, csr.shape[0], weights)


def _check_count(name, value, lo, hi):
    if not is_int(value):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value}")
    return int(value)


def _check_real(name, value, lo):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, not {value!r}")
    if not (np.isfinite(value) and value >= lo):
        raise ValueError(f"{name} must be a finite number >= {lo}, not {value}")
    return float(value)


def _graph_from_degrees(degrees, sources, rng, num_nodes):
    """Rows with the given in-degrees, columns drawn without replacement from ``sources`` and sorted."""
    indptr = np.zeros(num_nodes + 1, dtype=np.int64)
    np.cumsum(degrees, out=indptr[1:])
    indices = np.empty(int(indptr[-1]), dtype=np.int64)
    for r in np.flatnonzero(degrees):
        cols = rng.choice(sources, size=int(degrees[r]), replace=False)
        indices[indptr[r]:indptr[r + 1]] = np.sort(cols)
    return CsrGraph(indptr, indices, num_nodes)


def _pick_empty(rng, num_nodes, empty_rows, isolated_nodes):
    """Choose the isolated nodes and the other empty rows; return (empty mask, allowed sources)."""
    if empty_rows + isolated_nodes > num_nodes:
        raise ValueError(f"empty_rows + isolated_nodes must be at most num_nodes ({num_nodes}), "
                         f"not {empty_rows} + {isolated_nodes}")
    chosen = rng.permutation(num_nodes)
    isolated = chosen[:isolated_nodes]
    empty = np.zeros(num_nodes, dtype=bool)
    empty[chosen[:isolated_nodes + empty_rows]] = True
    sources = np.setdiff1d(np.arange(num_nodes, dtype=np.int64), isolated)
    return empty, sources


def random_graph(num_nodes, avg_degree, seed, empty_rows=0, isolated_nodes=0, max_degree=None):
    """Random graph without duplicate edges, with chosen empty rows and isolated nodes (deterministic per seed).

    Every non-empty row gets in-degree ``1 + Poisson(avg_degree - 1)``, capped by ``max_degree`` and by the number of
    possible sources; its columns are distinct, drawn uniformly from the non-isolated nodes, and sorted. Self loops
    may occur (a node can be its own source).

    Parameters
    ----------
    num_nodes : int
        Number of nodes (>= 1).
    avg_degree : float
        Mean in-degree of the non-empty rows (>= 1) before capping.
    seed : int
        Seed of ``numpy.random.default_rng``.
    empty_rows : int
        Rows with no in-edges that may still be sources of other rows.
    isolated_nodes : int
        Nodes with no in-edges that are never a source either.
    max_degree : int, optional
        Cap on every in-degree.

    Returns
    -------
    CsrGraph
    """
    num_nodes = _check_count("num_nodes", num_nodes, 1, 1 << 24)
    avg_degree = _check_real("avg_degree", avg_degree, 1)
    empty_rows = _check_count("empty_rows", empty_rows, 0, num_nodes)
    isolated_nodes = _check_count("isolated_nodes", isolated_nodes, 0, num_nodes)
    cap = num_nodes if max_degree is None else _check_count("max_degree", max_degree, 1, 1 << 24)
    rng = np.random.default_rng(seed)
    empty, sources = _pick_empty(rng, num_nodes, empty_rows, isolated_nodes)
    degrees = 1 + rng.poisson(avg_degree - 1, size=num_nodes)
    degrees = np.minimum(degrees, min(cap, len(sources)))
    degrees[empty] = 0
    return _graph_from_degrees(degrees, sources, rng, num_nodes)


def power_law_graph(num_nodes, avg_degree, seed, exponent=2.5, max_degree=None):
    """Random graph whose in-degrees follow a power law (a few hubs, many low-degree rows), no duplicate edges.

    In-degrees are ``floor(c * x)`` with ``x`` Pareto-distributed (density ~ ``x**-exponent`` for ``x >= 1``) and
    ``c`` chosen so that the sample mean is ``avg_degree``; they are capped by ``max_degree`` and ``num_nodes``, so
    rows of degree 0 appear naturally. Columns are distinct, uniform and sorted.

    Parameters
    ----------
    num_nodes : int
    avg_degree : float
        Target mean in-degree before capping (>= 1).
    seed : int
        Seed of ``numpy.random.default_rng``.
    exponent : float
        Power-law exponent (> 2, so the mean exists).
    max_degree : int, optional
        Cap on every in-degree.

    Returns
    -------
    CsrGraph
    """
    num_nodes = _check_count("num_nodes", num_nodes, 1, 1 << 24)
    avg_degree = _check_real("avg_degree", avg_degree, 1)
    exponent = _check_real("exponent", exponent, 2)
    if exponent == 2:
        raise ValueError("exponent must be greater than 2 (the mean degree must exist), not 2")
    cap = num_nodes if max_degree is None else _check_count("max_degree", max_degree, 1, 1 << 24)
    rng = np.random.default_rng(seed)
    x = rng.pareto(exponent - 1, size=num_nodes) + 1
    degrees = np.floor(x * (avg_degree / x.mean())).astype(np.int64)
    degrees = np.minimum(degrees, min(cap, num_nodes))
    return _graph_from_degrees(degrees, np.arange(num_nodes, dtype=np.int64), rng, num_nodes)
