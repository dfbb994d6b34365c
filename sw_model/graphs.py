"""Graphs in CSR over in-edges, validated at construction, and seeded random graph generators.

Row ``r`` of a :class:`CsrGraph` lists the source nodes ``indices[indptr[r]:indptr[r + 1]]`` whose features are
aggregated into node ``r`` (see docs/gnn.md). Duplicate columns and empty rows are allowed; the order of the columns
inside a row is kept as given, because the aggregation is sequential in CSR order.

This module imports only NumPy and SciPy.
"""

import numpy as np
import scipy.sparse

__all__ = ["CsrGraph", "from_scipy", "random_graph", "power_law_graph"]

_INT64_MAX = np.iinfo(np.int64).max


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_array(values, name):
    """Return ``values`` as a fresh read-only 1-D int64 array, or raise ValueError naming ``name``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D integer array, not an array of shape {arr.shape}")
    if arr.size == 0 and arr.dtype == np.float64:
        arr = arr.astype(np.int64)          # np.asarray([]) is float64; an empty list is a fine empty index array
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be a 1-D integer array, not an array of dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > _INT64_MAX:
        raise ValueError(f"{name} must fit in int64, but holds {int(arr.max())}")
    out = arr.astype(np.int64, copy=True)
    out.setflags(write=False)
    return out


class CsrGraph:
    """Directed graph in compressed sparse row form over in-edges.

    Parameters
    ----------
    indptr : array_like of int, shape (N + 1,)
        Row offsets: ``indptr[0] = 0``, non-decreasing, ``indptr[N] = len(indices)``.
    indices : array_like of int, shape (nnz,)
        Source node of every edge, each in ``0..N-1``; row ``r`` owns ``indices[indptr[r]:indptr[r + 1]]``.
    num_nodes : int, optional
        Number of nodes ``N``; defaults to ``len(indptr) - 1`` and, when given, must equal it.
    weights : array_like, shape (nnz,), optional
        One value per edge (integer codes or floats), kept with its dtype.

    Attributes
    ----------
    indptr, indices : numpy.ndarray of int64
        Read-only copies of the inputs.
    weights : numpy.ndarray or None
        Read-only copy of the weights.
    num_nodes : int

    Raises
    ------
    ValueError
        If an array is not 1-D integer, ``indptr`` is empty, does not start at 0 or decreases, the lengths disagree,
        ``num_nodes`` differs from ``len(indptr) - 1``, or a column index is outside ``0..N-1``. The message names
        the first offending position.
    TypeError
        If ``num_nodes`` is not an integer.
    """

    __slots__ = ("_indptr", "_indices", "_num_nodes", "_weights")

    def __init__(self, indptr, indices, num_nodes=None, weights=None):
        indptr = _int_array(indptr, "indptr")
        indices = _int_array(indices, "indices")
        _check_indptr(indptr, len(indices))
        num_nodes = _check_num_nodes(num_nodes, len(indptr) - 1)
        _check_indices(indptr, indices, num_nodes)
        self._indptr = indptr
        self._indices = indices
        self._num_nodes = num_nodes
        self._weights = _check_weights(weights, len(indices))

    # Read-only attributes.

    @property
    def indptr(self):
        return self._indptr

    @property
    def indices(self):
        return self._indices

    @property
    def num_nodes(self):
        return self._num_nodes

    @property
    def weights(self):
        return self._weights

    # Derived quantities.

    @property
    def nnz(self):
        """Number of edges (stored entries, duplicates included)."""
        return len(self._indices)

    @property
    def in_degree(self):
        """In-degree of every node, ``np.diff(indptr)`` (int64, length N)."""
        return np.diff(self._indptr)

    @property
    def max_degree(self):
        """Largest in-degree (0 for a graph without edges or nodes)."""
        return int(self.in_degree.max()) if self._num_nodes else 0

    def edge_rows(self):
        """Destination row of every edge in CSR order (int64, length nnz)."""
        return np.repeat(np.arange(self._num_nodes, dtype=np.int64), self.in_degree)

    def to_scipy(self):
        """Adjacency as a ``scipy.sparse.csr_matrix`` of shape (N, N), in the stored order.

        Entries are the weights, or ones when the graph has none. The dtype is int64 unless the weights are floats
        (then float64). Duplicate entries stay separate; scipy sums them in products.
        """
        if self._weights is None:
            data = np.ones(self.nnz, dtype=np.int64)
        elif np.issubdtype(self._weights.dtype, np.integer):
            data = self._weights.astype(np.int64)
        else:
            data = self._weights.astype(np.float64)
        n = self._num_nodes
        return scipy.sparse.csr_matrix((data, self._indices.copy(), self._indptr.copy()), shape=(n, n))

    def with_self_loops(self, loop_weight=None):
        """Return a new graph with the edge ``(r, r)`` added to every row ``r``.

        The existing edges keep their order; the self loop goes just before the first edge of the row whose column
        is greater than ``r`` (at the end when there is none), so a row whose columns are sorted stays sorted. A row
        that already has a self loop gets a second one (duplicates count twice).

        Parameters
        ----------
        loop_weight : scalar, optional
            Weight of the new edges; required when the graph has weights, not allowed otherwise.

        Raises
        ------
        ValueError
            If ``loop_weight`` is missing for a weighted graph or given for an unweighted one.
        """
        if (self._weights is None) != (loop_weight is None):
            state = "has weights" if self._weights is not None else "has no weights"
            raise ValueError(f"loop_weight must be given exactly when the graph has weights; this graph {state}")
        n, nnz = self._num_nodes, self.nnz
        rows = self.edge_rows()
        local = np.arange(nnz, dtype=np.int64) - self._indptr[rows]
        # Position of the loop in its row: first edge with column > row, else the row's degree.
        pos = self.in_degree.copy()
        after = self._indices > rows
        np.minimum.at(pos, rows[after], local[after])
        # Sort keys: existing edge at slot 2 * local + 1, the loop at 2 * pos, inside each row.
        key_rows = np.concatenate([rows, np.arange(n, dtype=np.int64)])
        key_slot = np.concatenate([2 * local + 1, 2 * pos])
        order = np.lexsort((key_slot, key_rows))
        indices = np.concatenate([self._indices, np.arange(n, dtype=np.int64)])[order]
        indptr = self._indptr + np.arange(n + 1, dtype=np.int64)
        weights = None
        if self._weights is not None:
            loops = np.full(n, loop_weight, dtype=np.result_type(self._weights.dtype, np.min_scalar_type(loop_weight)))
            weights = np.concatenate([self._weights, loops])[order]
        return CsrGraph(indptr, indices, n, weights)

    def __repr__(self):
        w = "" if self._weights is None else f", weights={self._weights.dtype}"
        return f"CsrGraph(num_nodes={self._num_nodes}, nnz={self.nnz}, max_degree={self.max_degree}{w})"


def _check_indptr(indptr, nnz):
    if len(indptr) < 1:
        raise ValueError("indptr must have at least one entry (N + 1 entries for N nodes), but it is empty")
    if indptr[0] != 0:
        raise ValueError(f"indptr[0] must be 0, not {int(indptr[0])}")
    drops = np.flatnonzero(indptr[1:] < indptr[:-1])
    if drops.size:
        i = int(drops[0]) + 1
        raise ValueError(f"indptr must be non-decreasing, but indptr[{i}] = {int(indptr[i])} "
                         f"< indptr[{i - 1}] = {int(indptr[i - 1])}")
    if indptr[-1] != nnz:
        raise ValueError(f"indptr[-1] must equal len(indices) (length mismatch): "
                         f"indptr[-1] = {int(indptr[-1])}, len(indices) = {nnz}")


def _check_num_nodes(num_nodes, rows):
    if num_nodes is None:
        return rows
    if not _is_int(num_nodes):
        raise TypeError(f"num_nodes must be an integer, not {num_nodes!r}")
    if num_nodes != rows:
        raise ValueError(f"num_nodes must equal len(indptr) - 1 = {rows}, not {num_nodes}")
    return int(num_nodes)


def _check_indices(indptr, indices, num_nodes):
    bad = np.flatnonzero((indices < 0) | (indices >= num_nodes))
    if bad.size:
        e = int(bad[0])
        row = int(np.searchsorted(indptr, e, side="right")) - 1
        raise ValueError(f"indices must be node numbers in 0..{num_nodes - 1}, "
                         f"but edge {e} (row {row}) has column {int(indices[e])}")


def _check_weights(weights, nnz):
    if weights is None:
        return None
    w = np.array(weights, copy=True)
    if w.ndim != 1:
        raise ValueError(f"weights must be a 1-D array, not an array of shape {w.shape}")
    if len(w) != nnz:
        raise ValueError(f"weights must have one entry per edge (length mismatch): "
                         f"len(weights) = {len(w)}, len(indices) = {nnz}")
    if not (np.issubdtype(w.dtype, np.integer) or np.issubdtype(w.dtype, np.floating)):
        raise ValueError(f"weights must be integers or floats, not dtype {w.dtype}")
    w.setflags(write=False)
    return w


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
    if not _is_int(value):
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
