"""Graph files users hand to pimgen, read with NumPy only, in three layouts detected from the content.

========================  =========================================================================================
``kind``                  what the file holds
========================  =========================================================================================
``"pimgen"``              an .npz with ``indptr`` and ``indices`` (CSR over in-edges, as :class:`CsrGraph`) and
                          optionally ``x`` (features) and ``weights`` (one per edge); :data:`GRAPH_FILE_KEYS`
``"scipy"``               an .npz written by ``scipy.sparse.save_npz`` for a square matrix in format csr, csc or coo
``"edge_index"``          a 2 x E integer array (PyTorch Geometric's ``Data.edge_index``: row 0 sources, row 1
                          targets), as a .npy file or as the array ``edge_index`` of an .npz, which may also hold
                          ``num_nodes`` (a scalar) and ``x``; :data:`EDGE_INDEX_KEYS`
========================  =========================================================================================

The layout is chosen from the content, never from the file name: a single array (.npy) is an edge_index; an .npz with
an array ``format`` is a SciPy file; an .npz with an array ``edge_index`` is an edge_index file; any other .npz is a
pimgen file. Every array name outside the chosen layout's list is an error that lists the allowed ones, so a misspelt
name is never ignored.

Ordering rules (the engine aggregates the edges of a row in CSR order, which decides fp16 and saturated results):

- pimgen: the file's CSR order, as stored.
- scipy csr: the stored order; duplicates stay separate entries.
- scipy csc and coo: the stored entries sorted by row, stably, so the entries of a row keep their stored order (for
  csc that is by column, then the order inside a column: the order ``csc.tocsr()`` gives). Duplicates stay separate
  (``coo.tocsr()`` would sum them and sort the columns).
- edge_index: edges sorted by target, stably, so the edges of a row keep their order in the file.

Explicit zeros of a SciPy file are kept: a stored ``A[r, c] = 0`` is an edge ``c -> r`` with weight 0.

This module imports only NumPy and pimgen's input checks (no SciPy): the host driver reads graph files on a board host
without SciPy.
"""

import zipfile
import zlib
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import InputError
from .inputs import CsrGraph

__all__ = ["GraphFile", "load_graph_file", "GRAPH_FILE_KEYS", "EDGE_INDEX_KEYS", "SCIPY_FORMATS",
           "GRAPH_FILE_KINDS", "MAX_FILE_NODES", "MAX_ARRAY_BYTES"]

#: Arrays a pimgen graph .npz may hold, and what each is.
GRAPH_FILE_KEYS = {
    "indptr": "row offsets (N + 1 integers)",
    "indices": "source node of every edge (integers)",
    "x": "feature codes X[N, F] (integers of the format)",
    "weights": "edge weight codes, one per edge (for --op weighted)",
}

#: Arrays an edge_index .npz may hold, and what each is.
EDGE_INDEX_KEYS = {
    "edge_index": "2 x E integers: row 0 the source, row 1 the target of every edge",
    "num_nodes": "node count N (a scalar integer); default: the largest node number + 1",
    "x": "feature codes X[N, F] (integers of the format)",
}

#: The scipy.sparse formats read, and the index arrays each needs besides ``data``, ``format`` and ``shape``.
SCIPY_FORMATS = {
    "csr": ("indptr", "indices"),
    "csc": ("indptr", "indices"),
    "coo": ("row", "col"),          # or coords (2 x nnz), which newer SciPy may write instead
}

#: Arrays that scipy.sparse.save_npz may add and that say nothing about the graph; they are read past.
_SCIPY_METADATA = ("_is_array", "has_canonical_format", "has_sorted_indices")

#: The values of :attr:`GraphFile.kind`.
GRAPH_FILE_KINDS = ("pimgen", "scipy", "edge_index")

#: The most nodes a graph file may declare (``num_nodes``, a SciPy shape, the largest edge_index node number + 1).
#: Far above any engine's ``max_nodes`` (at most 65536); it stops a wrong count from allocating gigabytes of row
#: offsets before the config check names the real limit.
MAX_FILE_NODES = 1 << 24

_READ_ERRORS = (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error)
#: Largest array a graph file may declare: far above what the largest engine holds (32 Mbit of memories), far below
#: what would exhaust the host's memory when a corrupt header declares an absurd shape.
MAX_ARRAY_BYTES = 1 << 30


class GraphFile(NamedTuple):
    """What :func:`load_graph_file` returns; unpacks as ``graph, x, weights, kind``."""
    graph: CsrGraph
    """The graph, unweighted (the weights are returned beside it)."""
    x: np.ndarray
    """The array ``x`` as stored (any dtype; the caller checks it), or None."""
    weights: np.ndarray
    """One value per edge in the graph's CSR order, as stored (any dtype), or None."""
    kind: str
    """One of :data:`GRAPH_FILE_KINDS`."""


def load_graph_file(path):
    """Read a graph file in any of the layouts of this module: ``(graph, x or None, weights or None, kind)``.

    Parameters
    ----------
    path : str or os.PathLike
        A pimgen .npz, a ``scipy.sparse.save_npz`` file, or an edge_index (.npy, or .npz with ``edge_index``).

    Returns
    -------
    GraphFile
        ``graph`` is a :class:`CsrGraph` over in-edges: row ``r`` lists the sources aggregated into node ``r``.

        - pimgen: ``x`` and ``weights`` are the file's arrays of those names (or None).
        - scipy: the matrix is an adjacency with rows = destinations: a stored ``A[r, c]`` is the edge ``c -> r``,
          aggregated into ``r``. ``weights`` are the stored values (explicit zeros included), ``x`` is None.
        - edge_index: column ``e`` of the array is the edge ``edge_index[0, e] -> edge_index[1, e]``; ``x`` is the
          .npz's ``x`` (or None), ``weights`` is None. The node count is ``num_nodes`` if given, else the largest
          node number + 1 (0 for no edges).

        The order of the edges inside a row follows the rules in the module docstring.

    Raises
    ------
    InputError (a ValueError)
        One line that names the file and the offending element: a missing path or a directory; a file NumPy cannot
        read; a corrupt member (a broken compressed stream or a CRC mismatch); an array name the layout does not
        allow (the message lists the allowed ones) or a missing array; a malformed CSR; a SciPy format other than
        csr, csc, coo, a matrix that is not square, sizes that disagree (shape, indptr, nnz), an index out of range;
        an edge_index that is not a 2 x E integer array, a negative or too large node number (the message names the
        edge, the value and the allowed range), a ``num_nodes`` that is not a scalar integer or is smaller than a
        node number; more than :data:`MAX_FILE_NODES` nodes.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Graph file {path} does not exist" if not path.exists() else
                         f"Graph file {path} is not a file")
    try:
        zipped = zipfile.is_zipfile(path)
        if not zipped:
            with open(path, "rb") as f:
                _check_declared_size(path, "the array", f)
        data = np.load(path, allow_pickle=False)
    except InputError:
        raise
    except _READ_ERRORS as exc:
        raise InputError(f"Graph file {path} is not a readable .npz or .npy file ({exc})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        return _from_edge_index(path, data, None, None, single=True)
    with data:
        names = set(data.files)
        if "format" in names:
            return _load_scipy(path, data)
        if "edge_index" in names:
            arrays = _read_members(path, data, EDGE_INDEX_KEYS, ("edge_index",), "an edge_index .npz")
            return _from_edge_index(path, arrays["edge_index"], arrays.get("num_nodes"), arrays.get("x"))
        arrays = _read_members(path, data, GRAPH_FILE_KEYS, ("indptr", "indices"), None)
    try:
        graph = CsrGraph(arrays["indptr"], arrays["indices"])
    except InputError as exc:
        raise InputError(f"Graph file {path}: {exc}") from None
    return GraphFile(graph, arrays.get("x"), arrays.get("weights"), "pimgen")


# Reading members.

def _check_declared_size(path, what, f):
    """Refuse an array whose header declares more than :data:`MAX_ARRAY_BYTES` before NumPy allocates it."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(f)
    size = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if size > MAX_ARRAY_BYTES:
        raise InputError(f"Graph file {path}: {what} declares shape {shape} ({size} bytes), more than the "
                         f"{MAX_ARRAY_BYTES} bytes a graph the engines can hold needs")


def _member(path, data, key):
    try:
        with data.zip.open(f"{key}.npy") as f:
            _check_declared_size(path, f"array {key!r}", f)
        return data[key]
    except InputError:
        raise
    except _READ_ERRORS as exc:
        raise InputError(f"Graph file {path}: array {key!r} is corrupt ({exc})") from None


def _read_members(path, data, allowed, required, layout):
    """Check the member names against ``allowed`` and ``required``, then read them all; ``layout`` None = pimgen."""
    unknown = sorted(set(data.files) - set(allowed))
    if unknown:
        hint = "" if layout is not None else (" (or edge_index with optional num_nodes and x, or a file written by "
                                              "scipy.sparse.save_npz)")
        what = "" if layout is None else f" for {layout}"
        raise InputError(f"Graph file {path} has the unknown array(s) {', '.join(unknown)}; allowed{what}: "
                         f"{', '.join(allowed)}{hint}")
    missing = [k for k in required if k not in data.files]
    if missing:
        if layout is None:
            raise InputError(f"Graph file {path} lacks the array(s) {', '.join(missing)}; "
                             "it needs indptr and indices (and may have x, weights)")
        raise InputError(f"Graph file {path} lacks the array(s) {', '.join(missing)}; {layout} needs "
                         f"{', '.join(required)}")
    return {key: _member(path, data, key) for key in data.files}


def _fail(path, message):
    return InputError(f"Graph file {path}: {message}")


def _index_array(path, arr, name):
    """``arr`` if it is a 1-D integer array, else raise naming ``name``; values are checked by the caller."""
    if arr.ndim != 1:
        raise _fail(path, f"{name} must be a 1-D integer array, not an array of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise _fail(path, f"{name} must be a 1-D integer array, not an array of dtype {arr.dtype}")
    return arr


def _check_node_count(path, n, what):
    if n > MAX_FILE_NODES:
        raise _fail(path, f"{what} = {n} is more than the {MAX_FILE_NODES} nodes a graph file may have")


def _in_edge_csr(path, n, rows, cols, weights, kind):
    """The graph whose row ``rows[k]`` gets the edge ``cols[k]``, entries of a row in their given order."""
    order = np.argsort(rows, kind="stable")
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    try:
        graph = CsrGraph(indptr, cols[order], n)
    except InputError as exc:               # not reachable after the checks of the callers; named all the same
        raise _fail(path, str(exc)) from None
    return GraphFile(graph, None, None if weights is None else weights[order], kind)


# scipy.sparse.save_npz files.

def _load_scipy(path, data):
    fmt_arr = _member(path, data, "format")
    if fmt_arr.ndim != 0 or fmt_arr.dtype.kind not in "SU":
        raise _fail(path, f"format must be a string such as 'csr' (the scipy.sparse format), not an array of "
                          f"shape {fmt_arr.shape} and dtype {fmt_arr.dtype}")
    fmt = fmt_arr.item()
    if isinstance(fmt, bytes):
        fmt = fmt.decode("ascii", errors="replace")
    if fmt not in SCIPY_FORMATS:
        raise InputError(f"Graph file {path} holds a scipy.sparse matrix in format {fmt!r}; pimgen reads "
                         f"{', '.join(SCIPY_FORMATS)} (save mat.tocsr() instead)")
    index_keys = SCIPY_FORMATS[fmt]
    if fmt == "coo" and "coords" in data.files:
        index_keys = ("coords",)
    required = ("data", *index_keys, "format", "shape")
    arrays = _read_members(path, data, (*required, *_SCIPY_METADATA), required, f"a scipy.sparse {fmt} file")
    n = _scipy_shape(path, arrays["shape"], fmt)
    values = arrays["data"]
    if values.ndim != 1:
        raise _fail(path, f"data must be a 1-D array (one value per stored entry), not an array of shape "
                          f"{values.shape}")
    if fmt == "coo":
        if index_keys == ("coords",):
            coords = arrays["coords"]
            if coords.ndim != 2 or coords.shape[0] != 2:
                raise _fail(path, f"coords must be a 2 x nnz integer array (rows, columns) for a matrix, not an "
                                  f"array of shape {coords.shape}")
            if not np.issubdtype(coords.dtype, np.integer):
                raise _fail(path, f"coords must be a 2 x nnz integer array (rows, columns), not an array of dtype "
                                  f"{coords.dtype}")
            rows, cols, row_name, col_name = coords[0], coords[1], "coords[0]", "coords[1]"
        else:
            rows = _index_array(path, arrays["row"], "row")
            cols = _index_array(path, arrays["col"], "col")
            row_name, col_name = "row", "col"
        if not len(rows) == len(cols) == len(values):
            raise _fail(path, f"{row_name}, {col_name} and data must have one entry per stored value (nnz "
                              f"mismatch): lengths {len(rows)}, {len(cols)} and {len(values)}")
        _check_entries(path, rows, n, row_name, "row")
        _check_entries(path, cols, n, col_name, "column")
        return _in_edge_csr(path, n, rows.astype(np.int64), cols.astype(np.int64), values, "scipy")
    indptr = _index_array(path, arrays["indptr"], "indptr")
    indices = _index_array(path, arrays["indices"], "indices")
    major, minor = ("row", "column") if fmt == "csr" else ("column", "row")
    _check_compressed(path, fmt, indptr, indices, n, major, minor)
    if len(values) != len(indices):
        raise _fail(path, f"data must have one value per stored entry (nnz mismatch): len(data) = {len(values)}, "
                          f"len(indices) = {len(indices)}")
    indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    if fmt == "csr":
        return _in_edge_csr(path, n, np.repeat(np.arange(n), np.diff(indptr)), indices, values, "scipy")
    return _in_edge_csr(path, n, indices, np.repeat(np.arange(n), np.diff(indptr)), values, "scipy")


def _scipy_shape(path, shape, fmt):
    """The node count of a square matrix's ``shape`` array, after checking it."""
    if shape.ndim != 1 or len(shape) != 2 or not np.issubdtype(shape.dtype, np.integer) or (shape < 0).any():
        raise _fail(path, f"shape must be two non-negative integers (rows, columns), not {shape.tolist()!r}")
    rows, cols = (int(v) for v in shape)
    if rows != cols:
        raise InputError(f"Graph file {path} holds a {rows} x {cols} scipy.sparse {fmt} matrix; an adjacency matrix "
                         "must be square (rows = destinations, columns = sources)")
    _check_node_count(path, rows, "the matrix size")
    return rows


def _check_compressed(path, fmt, indptr, indices, n, major, minor):
    """Check the csr/csc arrays against the shape ``n x n``; ``major`` is what indptr counts (row or column)."""
    if len(indptr) != n + 1:
        raise _fail(path, f"indptr must have {n + 1} entries for a {n} x {n} {fmt} matrix (one per {major} + 1), "
                          f"not {len(indptr)} (shape mismatch)")
    if indptr[0] != 0:
        raise _fail(path, f"indptr[0] must be 0, not {int(indptr[0])}")
    drops = np.flatnonzero(indptr[1:] < indptr[:-1])
    if drops.size:
        i = int(drops[0]) + 1
        raise _fail(path, f"indptr must be non-decreasing, but indptr[{i}] = {int(indptr[i])} < "
                          f"indptr[{i - 1}] = {int(indptr[i - 1])}")
    if indptr[-1] != len(indices):
        raise _fail(path, f"indptr[-1] must equal len(indices) (nnz mismatch): indptr[-1] = {int(indptr[-1])}, "
                          f"len(indices) = {len(indices)}")
    bad = np.flatnonzero((indices < 0) | (indices >= n))
    if bad.size:
        k = int(bad[0])
        owner = int(np.searchsorted(indptr, k, side="right")) - 1
        raise _fail(path, f"indices must be {minor} numbers in {_span(n)}, but entry {k} ({major} {owner}) has "
                          f"{minor} {int(indices[k])}")


def _span(n):
    return f"0..{n - 1}" if n else "an empty range (the matrix is 0 x 0)"


def _check_entries(path, arr, n, name, what):
    bad = np.flatnonzero((arr < 0) | (arr >= n))
    if bad.size:
        k = int(bad[0])
        raise _fail(path, f"{name} must hold {what} numbers in {_span(n)}, but entry {k} has {what} {int(arr[k])}")


# edge_index arrays.

def _from_edge_index(path, edge_index, num_nodes, x, single=False):
    if single:
        def bad_array(what):
            return InputError(f"Graph file {path} holds a single array, which must be an edge_index: a 2 x E "
                              f"integer array (row 0 sources, row 1 targets), not an array of {what}; a graph in "
                              "CSR must be an .npz with indptr and indices")
    else:
        def bad_array(what):
            return _fail(path, f"edge_index must be a 2 x E integer array (row 0 sources, row 1 targets), not an "
                               f"array of {what}")
    if edge_index.ndim != 2 or edge_index.shape[0] != 2:
        transpose = " (transpose an E x 2 edge list)" if edge_index.ndim == 2 and edge_index.shape[1] == 2 else ""
        raise bad_array(f"shape {edge_index.shape}{transpose}")
    if not np.issubdtype(edge_index.dtype, np.integer):
        raise bad_array(f"dtype {edge_index.dtype}")
    if num_nodes is not None:
        if num_nodes.ndim != 0:
            raise _fail(path, f"num_nodes must be a scalar integer, not an array of shape {num_nodes.shape}")
        if not np.issubdtype(num_nodes.dtype, np.integer):
            raise _fail(path, f"num_nodes must be a scalar integer, not an array of dtype {num_nodes.dtype}")
        n = int(num_nodes)
        if n < 0:
            raise _fail(path, f"num_nodes must be a non-negative integer, not {n}")
        _check_node_count(path, n, "num_nodes")
        if n == 0 and edge_index.shape[1]:
            raise _fail(path, f"num_nodes = 0, but edge_index has {edge_index.shape[1]} edges")
        allowed = f"0..{n - 1} (num_nodes = {n})"
    else:
        n = None
        allowed = f"0..{MAX_FILE_NODES - 1} (a graph file has at most {MAX_FILE_NODES} nodes)"
    roles = ("source", "target")
    limit = MAX_FILE_NODES if n is None else n
    negative = edge_index < 0
    over = edge_index >= limit
    bad_edges = np.flatnonzero((negative | over).any(axis=0))
    if bad_edges.size:
        e = int(bad_edges[0])
        side = 0 if negative[0, e] or over[0, e] else 1
        value = int(edge_index[side, e])
        where = f"edge_index[{side}, {e}] (the {roles[side]} of edge {e}) = {value}"
        if value >= 0 and n is not None:
            raise _fail(path, f"num_nodes = {n} is smaller than a node number in edge_index: {where}; node "
                              f"numbers must be in 0..{n - 1}")
        raise _fail(path, f"edge_index must hold node numbers in {allowed}, but {where}")
    src, tgt = edge_index.astype(np.int64)
    if n is None:
        n = int(edge_index.max()) + 1 if edge_index.size else 0
    result = _in_edge_csr(path, n, tgt, src, None, "edge_index")
    return result._replace(x=x)
