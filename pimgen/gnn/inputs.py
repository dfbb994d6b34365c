"""What the GNN engine takes as input, and the checks its driver and its golden model both apply.

:class:`CsrGraph` (a graph in CSR over in-edges, validated on construction) and the checks of feature codes, weight
codes and config limits live here, in one module that imports only NumPy and the config, so that the host driver
(which must run on a board host without SciPy) and the golden model (``sw_model.gnn``) share them without either
importing the other. Every error is an :class:`~pimgen.errors.InputError` (a ValueError) or
:class:`~pimgen.errors.InputTypeError` (a TypeError) that names the offending element and what is allowed.
"""

import numpy as np

from ..arrays import int_codes
from ..errors import InputError, InputTypeError
from .config import GNN_OPS, GnnConfig

__all__ = ["CsrGraph", "format_range", "weight_range", "check_codes", "check_weight_codes", "check_fits",
           "check_op", "check_config", "check_graph", "check_row_offsets", "is_int",
           "limit_option"]


def _scipy_sparse():
    import scipy.sparse          # only for CsrGraph.to_scipy: the driver never calls it
    return scipy.sparse


def is_int(value):
    """``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


_INT64_MAX = np.iinfo(np.int64).max


def _int_array(values, name):
    """Return ``values`` as a fresh read-only 1-D int64 array, or raise ValueError naming ``name``."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D integer array, not an array of shape {arr.shape}")
    if arr.size == 0 and arr.dtype == np.float64:
        arr = arr.astype(np.int64)          # np.asarray([]) is float64; an empty list is a fine empty index array
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must be a 1-D integer array, not an array of dtype {arr.dtype}")
    if arr.dtype == np.uint64 and arr.size and arr.max() > _INT64_MAX:
        raise InputError(f"{name} must fit in int64, but holds {int(arr.max())}")
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
        return _scipy_sparse().csr_matrix((data, self._indices.copy(), self._indptr.copy()), shape=(n, n))

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
        InputError (a ValueError)
            If ``loop_weight`` is missing for a weighted graph or given for an unweighted one.
        """
        if (self._weights is None) != (loop_weight is None):
            state = "has weights" if self._weights is not None else "has no weights"
            raise InputError(f"loop_weight must be given exactly when the graph has weights; this graph {state}")
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


def check_row_offsets(indptr):
    """Raise InputError, naming the first offending entry, unless the non-empty integer array ``indptr`` starts at 0
    and never decreases."""
    if indptr[0] != 0:
        raise InputError(f"indptr[0] must be 0, not {int(indptr[0])}")
    drops = np.flatnonzero(indptr[1:] < indptr[:-1])
    if drops.size:
        i = int(drops[0]) + 1
        raise InputError(f"indptr must be non-decreasing, but indptr[{i}] = {int(indptr[i])} "
                         f"< indptr[{i - 1}] = {int(indptr[i - 1])}")


def _check_indptr(indptr, nnz):
    if len(indptr) < 1:
        raise InputError("indptr must have at least one entry (N + 1 entries for N nodes), but it is empty")
    check_row_offsets(indptr)
    if indptr[-1] != nnz:
        raise InputError(f"indptr[-1] must equal len(indices) (length mismatch): "
                         f"indptr[-1] = {int(indptr[-1])}, len(indices) = {nnz}")


def _check_num_nodes(num_nodes, rows):
    if num_nodes is None:
        return rows
    if not is_int(num_nodes):
        raise InputTypeError(f"num_nodes must be an integer, not {num_nodes!r}")
    if num_nodes != rows:
        raise InputError(f"num_nodes must equal len(indptr) - 1 = {rows}, not {num_nodes}")
    return int(num_nodes)


def _check_indices(indptr, indices, num_nodes):
    bad = np.flatnonzero((indices < 0) | (indices >= num_nodes))
    if bad.size:
        e = int(bad[0])
        row = int(np.searchsorted(indptr, e, side="right")) - 1
        raise InputError(f"indices must be node numbers in 0..{num_nodes - 1}, "
                         f"but edge {e} (row {row}) has column {int(indices[e])}")


def _check_weights(weights, nnz):
    if weights is None:
        return None
    w = np.array(weights, copy=True)
    if w.ndim != 1:
        raise InputError(f"weights must be a 1-D array, not an array of shape {w.shape}")
    if len(w) != nnz:
        raise InputError(f"weights must have one entry per edge (length mismatch): "
                         f"len(weights) = {len(w)}, len(indices) = {nnz}")
    if not (np.issubdtype(w.dtype, np.integer) or np.issubdtype(w.dtype, np.floating)):
        raise InputError(f"weights must be integers or floats, not dtype {w.dtype}")
    w.setflags(write=False)
    return w


def check_config(config):
    """Raise InputTypeError unless ``config`` is a GnnConfig."""
    if not isinstance(config, GnnConfig):
        raise InputTypeError(f"config must be a GnnConfig, not {type(config).__name__}")


def check_graph(graph):
    """Raise InputTypeError unless ``graph`` is a CsrGraph."""
    if not isinstance(graph, CsrGraph):
        raise InputTypeError(f"graph must be a CsrGraph, not {type(graph).__name__}")


def check_op(op):
    """Raise InputError unless ``op`` is one of :data:`~pimgen.gnn.config.GNN_OPS`."""
    if not isinstance(op, str) or op not in GNN_OPS:
        raise InputError(f"op must be one of {', '.join(GNN_OPS)}, not {op!r}")
    return op


def _signed_range(bits):
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


#: Range of IEEE binary16 bit patterns (the codes of format fp16, features and weights alike).
FP16_RANGE = (0, 0xFFFF)


def format_range(config):
    """Range ``(lo, hi)`` of feature codes: ``(-2**(W-1), 2**(W-1) - 1)`` with ``W = config.data_bits``, or the
    binary16 bit patterns ``0..65535`` for format fp16."""
    check_config(config)
    return FP16_RANGE if config.is_float else _signed_range(config.data_bits)


def weight_range(config):
    """Range ``(lo, hi)`` of edge weight codes: signed ``config.weight_bits``-bit integers, or binary16 bit patterns
    for format fp16."""
    check_config(config)
    return FP16_RANGE if config.is_float else _signed_range(config.weight_bits)


def check_codes(x, config, name="features"):
    """Check a feature array ``X[N, F]`` against the config's format and return it as int64.

    Parameters
    ----------
    x : array_like
        2-D array of integer codes.
    config : GnnConfig
    name : str
        Name used in error messages.

    Returns
    -------
    numpy.ndarray of int64, shape (N, F)

    Raises
    ------
    ValueError
        If ``x`` is not 2-D, not of an integer dtype, or has a value outside :func:`format_range`; the message names
        the first offending element (row, column, value) and the allowed range. Codes are never clipped silently.
    """
    lo, hi = format_range(config)
    return int_codes(x, name, 2, lo, hi, config.format)


def check_weight_codes(w, config, name="weights"):
    """Check edge weights ``w[nnz]`` against the config's ``weight_bits`` and return them as int64.

    Raises
    ------
    ValueError
        If ``w`` is not 1-D, not of an integer dtype, or has a value outside :func:`weight_range`; the message names
        the first offending edge and the allowed range.
    """
    lo, hi = weight_range(config)
    what = "fp16 bit-pattern" if config.is_float else f"signed {config.weight_bits}-bit"
    return int_codes(w, name, 1, lo, hi, what)


def limit_option(field):
    """How a config limit is named in messages: the field and the command-line option that sets it."""
    return f"{field} (--{field.replace('_', '-')})"


def check_fits(config, graph, num_features, op):
    """Check that a graph with ``num_features`` features per node fits the config's memories for ``op``.

    Call this before building or loading anything; the golden model and the driver call it too.

    Parameters
    ----------
    config : GnnConfig
    graph : CsrGraph
    num_features : int
        Features per node ``F``.
    op : str
        One of :data:`pimgen.gnn.config.GNN_OPS`.

    Raises
    ------
    InputError (a ValueError)
        If ``op`` is unknown, or the graph exceeds any limit: ``N > max_nodes``, ``nnz > max_edges``, ``F`` outside
        ``1..max_features``, or (``mean`` only) an in-degree above ``max_degree``. One message lists every limit
        exceeded, each with the config field, the option that sets it, the limit and the value.
    InputTypeError (a TypeError)
        If an argument has the wrong type.
    """
    check_config(config)
    check_graph(graph)
    check_op(op)
    if not is_int(num_features):
        raise InputTypeError(f"num_features must be an integer, not {num_features!r}")
    problems = []
    if graph.num_nodes > config.max_nodes:
        problems.append(f"{graph.num_nodes} nodes > {limit_option('max_nodes')} = {config.max_nodes}")
    if graph.nnz > config.max_edges:
        problems.append(f"{graph.nnz} edges > {limit_option('max_edges')} = {config.max_edges}")
    if num_features > config.max_features:
        problems.append(f"{num_features} features per node > {limit_option('max_features')} = "
                        f"{config.max_features}")
    if op == "mean" and graph.num_nodes and graph.max_degree > config.max_degree:
        row = int(np.argmax(graph.in_degree))
        problems.append(f"row {row} has in-degree {graph.max_degree} > {limit_option('max_degree')} = "
                        f"{config.max_degree} (the largest degree the mean op's reciprocal table holds)")
    if problems:
        raise InputError(f"The graph does not fit the config: {'; '.join(problems)}")
    if num_features < 1:
        raise InputError(f"features per node must be at least 1, not {num_features}")
