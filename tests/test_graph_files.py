"""Graph files in the three layouts :func:`pimgen.gnn.graph_files.load_graph_file` reads, against SciPy.

Every layout is written by its own tool (``np.savez`` for pimgen files, ``scipy.sparse.save_npz`` for SciPy files,
``np.save`` for edge_index arrays) and read back; the graph is compared with SciPy's view of the same data:

- dense adjacency: the loaded graph's ``to_scipy().toarray()`` equals SciPy's ``toarray()`` (duplicates summed);
- edge order: csr equals the saved arrays, csc equals ``csc.tocsr()`` (SciPy also keeps duplicates and the stored
  order there); for coo and edge_index the expected order is built in the test with a plain Python loop over the
  stored entries (``coo.tocsr()`` sums duplicates and sorts the columns, so only the dense matrix and the per-row
  multisets are compared with it).

Every error message has its own case below; each is one line that names the file.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from pimgen.errors import InputError
from pimgen.gnn.graph_files import MAX_FILE_NODES, load_graph_file

PROJECT = Path(__file__).resolve().parent.parent


# Helpers.

def random_scipy(rng, n, nnz, duplicates=True, zeros=True):
    """A COO matrix n x n with ``nnz`` entries in random order, some duplicates and some explicit zeros."""
    rows = rng.integers(0, n, size=nnz)
    cols = rng.integers(0, n, size=nnz)
    if duplicates and nnz >= 4:
        rows[-2:], cols[-2:] = rows[:2], cols[:2]            # two repeated coordinates
    vals = rng.integers(-50, 50, size=nnz).astype(np.float64)
    if zeros and nnz >= 3:
        vals[nnz // 2] = 0.0                                  # an explicit zero
    return sp.coo_matrix((vals, (rows, cols)), shape=(n, n))


def rows_in_stored_order(n, rows, cols, vals):
    """Per row, the (column, value) pairs in the order they are stored: the expected CSR order."""
    expected = [[] for _ in range(n)]
    for r, c, v in zip(rows.tolist(), cols.tolist(), vals.tolist()):
        expected[r].append((c, v))
    return expected


def rows_of(graph, weights):
    """Per row, the (column, weight) pairs of a loaded graph in its CSR order."""
    ip, ix = graph.indptr, graph.indices
    w = np.ones(graph.nnz) if weights is None else weights
    return [list(zip(ix[ip[r]:ip[r + 1]].tolist(), w[ip[r]:ip[r + 1]].tolist())) for r in range(graph.num_nodes)]


def dense(graph, weights):
    """Dense adjacency of a loaded graph, duplicates summed (computed without the graph's own to_scipy)."""
    a = np.zeros((graph.num_nodes, graph.num_nodes))
    w = np.ones(graph.nnz) if weights is None else weights
    np.add.at(a, (graph.edge_rows(), graph.indices), w)
    return a


def load_error(path):
    """The message of the InputError that loading ``path`` raises; checks it is one line naming the file."""
    with pytest.raises(InputError) as info:
        load_graph_file(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"Graph file {path}"), message
    return message


# pimgen .npz files.

def test_pimgen_file_round_trip(tmp_path):
    path = tmp_path / "g.npz"
    x = np.arange(12).reshape(3, 4)
    np.savez(path, indptr=[0, 2, 2, 3], indices=[2, 0, 1], x=x, weights=np.array([5, -6, 7]))
    graph, gx, weights, kind = load_graph_file(path)
    assert kind == "pimgen"
    assert graph.indptr.tolist() == [0, 2, 2, 3]
    assert graph.indices.tolist() == [2, 0, 1]           # stored order, not sorted
    assert graph.weights is None                        # weights come beside the graph
    assert weights.tolist() == [5, -6, 7]
    assert np.array_equal(gx, x)


def test_pimgen_file_float_x_is_passed_as_is(tmp_path):
    path = tmp_path / "g.npz"
    np.savez(path, indptr=[0, 1, 2], indices=[1, 0], x=np.array([[0.5], [1.5]]))
    result = load_graph_file(path)
    assert result.x.dtype == np.float64 and result.x.tolist() == [[0.5], [1.5]]
    assert result.weights is None


# scipy.sparse.save_npz files.

@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("compressed", [True, False])
@pytest.mark.parametrize("cls", [sp.csr_matrix, sp.csr_array])
def test_scipy_csr_round_trip(tmp_path, seed, compressed, cls):
    """csr: the stored arrays exactly (unsorted columns, duplicates, explicit zeros), values as weights."""
    rng = np.random.default_rng(seed)
    coo = random_scipy(rng, int(rng.integers(1, 30)), int(rng.integers(0, 80)))
    # Build the csr from the coo's arrays directly, so the stored order is the random one (tocsr would sort).
    order = np.argsort(coo.row, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(coo.row, minlength=coo.shape[0]))])
    mat = cls((coo.data[order], coo.col[order], indptr), shape=coo.shape)
    path = tmp_path / "m.npz"
    sp.save_npz(path, mat, compressed=compressed)
    graph, x, weights, kind = load_graph_file(path)
    assert kind == "scipy" and x is None
    assert np.array_equal(graph.indptr, mat.indptr)
    assert np.array_equal(graph.indices, mat.indices)
    assert np.array_equal(weights, mat.data) and weights.dtype == mat.data.dtype
    assert np.array_equal(dense(graph, weights), mat.toarray())
    assert (weights == 0).sum() == (mat.data == 0).sum()        # explicit zeros kept as edges


@pytest.mark.parametrize("seed", range(4))
def test_scipy_csc_round_trip(tmp_path, seed):
    """csc: the same CSR as SciPy's own csc.tocsr(), which keeps duplicates and orders a row by stored position."""
    rng = np.random.default_rng(seed)
    coo = random_scipy(rng, int(rng.integers(1, 30)), int(rng.integers(0, 80)))
    order = np.argsort(coo.col, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(coo.col, minlength=coo.shape[1]))])
    mat = sp.csc_matrix((coo.data[order], coo.row[order], indptr), shape=coo.shape)   # unsorted rows per column
    path = tmp_path / "m.npz"
    sp.save_npz(path, mat)
    graph, _, weights, kind = load_graph_file(path)
    reference = mat.tocsr()
    assert kind == "scipy"
    assert reference.nnz == mat.nnz                              # SciPy kept the duplicates too
    assert np.array_equal(graph.indptr, reference.indptr)
    assert np.array_equal(graph.indices, reference.indices)
    assert np.array_equal(weights, reference.data)
    assert np.array_equal(dense(graph, weights), mat.toarray())
    # The order rule written out: entries of a row by column, then by position inside the column.
    cols = np.repeat(np.arange(mat.shape[1]), np.diff(mat.indptr))
    assert rows_of(graph, weights) == rows_in_stored_order(mat.shape[0], mat.indices, cols, mat.data)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("cls", [sp.coo_matrix, sp.coo_array])
def test_scipy_coo_round_trip(tmp_path, seed, cls):
    """coo: sorted by row, stably; duplicates stay separate (coo.tocsr() would sum them)."""
    rng = np.random.default_rng(seed)
    coo = random_scipy(rng, int(rng.integers(1, 30)), int(rng.integers(0, 80)))
    mat = cls((coo.data, (coo.row, coo.col)), shape=coo.shape)
    path = tmp_path / "m.npz"
    sp.save_npz(path, mat)
    graph, _, weights, kind = load_graph_file(path)
    assert kind == "scipy"
    assert graph.nnz == mat.nnz
    assert rows_of(graph, weights) == rows_in_stored_order(mat.shape[0], mat.row, mat.col, mat.data)
    assert np.array_equal(dense(graph, weights), mat.toarray())
    csr = mat.tocsr()                                            # duplicates summed, columns sorted
    for r, row in enumerate(rows_of(graph, weights)):
        assert sorted(set(c for c, _ in row)) == csr.indices[csr.indptr[r]:csr.indptr[r + 1]].tolist()


def test_scipy_coo_in_canonical_order_equals_tocsr(tmp_path):
    """Without duplicates and stored by (row, column), the coo file gives exactly SciPy's CSR."""
    rng = np.random.default_rng(7)
    mat = sp.random(40, 40, density=0.1, format="csr", random_state=rng).tocoo()
    assert mat.has_canonical_format
    path = tmp_path / "m.npz"
    sp.save_npz(path, mat)
    graph, _, weights, _ = load_graph_file(path)
    csr = mat.tocsr()
    assert np.array_equal(graph.indptr, csr.indptr)
    assert np.array_equal(graph.indices, csr.indices)
    assert np.array_equal(weights, csr.data)


def test_scipy_coo_with_coords(tmp_path):
    """A 2-D coo saved with ``coords`` (what newer SciPy may write) reads like row and col."""
    rows, cols, vals = np.array([2, 0, 2, 1]), np.array([0, 1, 0, 2]), np.array([1.0, 2.0, 3.0, 0.0])
    path = tmp_path / "m.npz"
    np.savez(path, data=vals, coords=np.stack([rows, cols]), format=np.array(b"coo"), shape=np.array([3, 3]))
    graph, _, weights, kind = load_graph_file(path)
    assert kind == "scipy"
    assert graph.indptr.tolist() == [0, 1, 2, 4]
    assert graph.indices.tolist() == [1, 2, 0, 0]
    assert weights.tolist() == [2.0, 0.0, 1.0, 3.0]


def test_scipy_metadata_arrays_are_read_past(tmp_path):
    """has_canonical_format and _is_array (older and newer save_npz) are allowed and ignored."""
    path = tmp_path / "m.npz"
    np.savez(path, data=np.array([4, 5]), indices=np.array([1, 0]), indptr=np.array([0, 1, 2]),
             format=np.array("csr"), shape=np.array([2, 2]), has_canonical_format=np.array(True),
             _is_array=np.array(True))                                  # format as str (old SciPy), not bytes
    graph, _, weights, _ = load_graph_file(path)
    assert graph.indices.tolist() == [1, 0] and weights.tolist() == [4, 5]


def test_scipy_empty_matrix(tmp_path):
    path = tmp_path / "m.npz"
    sp.save_npz(path, sp.csr_matrix((0, 0)))
    graph, _, weights, _ = load_graph_file(path)
    assert graph.num_nodes == 0 and graph.nnz == 0 and len(weights) == 0


# edge_index arrays.

def random_edge_index(rng, n, e):
    ei = rng.integers(0, n, size=(2, e))
    if e >= 3:
        ei[:, -1] = ei[:, 0]                                   # a duplicate edge
    return ei


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("container", ["npy", "npz", "npz with num_nodes"])
def test_edge_index_round_trip(tmp_path, seed, container):
    """Row = target, column = source; the edges of a row in file order; against coo_matrix((1, (tgt, src)))."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 30))
    ei = random_edge_index(rng, n, int(rng.integers(0, 80)))
    x = rng.standard_normal((n + 2, 3))
    if container == "npy":
        path = tmp_path / "e.npy"
        np.save(path, ei)
        nodes = int(ei.max()) + 1 if ei.size else 0
    elif container == "npz":
        path = tmp_path / "e.npz"
        np.savez(path, edge_index=ei, x=x)
        nodes = int(ei.max()) + 1 if ei.size else 0
    else:
        path = tmp_path / "e.npz"
        nodes = n + 2                                              # two isolated nodes at the end
        np.savez(path, edge_index=ei, num_nodes=np.int64(nodes))
    graph, gx, weights, kind = load_graph_file(path)
    assert kind == "edge_index" and weights is None
    assert graph.num_nodes == nodes
    src, tgt = ei
    reference = sp.coo_matrix((np.ones(ei.shape[1]), (tgt, src)), shape=(nodes, nodes))
    assert np.array_equal(dense(graph, None), reference.toarray())
    assert rows_of(graph, None) == rows_in_stored_order(nodes, tgt, src, np.ones(ei.shape[1]))
    csr = reference.tocsr()                                        # same rows as multisets
    for r in range(nodes):
        cols = np.repeat(csr.indices[csr.indptr[r]:csr.indptr[r + 1]],
                         csr.data[csr.indptr[r]:csr.indptr[r + 1]].astype(int))
        assert sorted(graph.indices[graph.indptr[r]:graph.indptr[r + 1]].tolist()) == cols.tolist()
    if container == "npz":
        assert np.array_equal(gx, x)                               # float x passed on as it is
    else:
        assert gx is None


def test_edge_index_order_written_out(tmp_path):
    path = tmp_path / "e.npy"
    np.save(path, np.array([[3, 0, 1, 2, 0], [1, 2, 1, 0, 1]], dtype=np.int32))
    graph, _, _, _ = load_graph_file(path)
    assert graph.num_nodes == 4
    assert graph.indptr.tolist() == [0, 1, 4, 5, 5]
    assert graph.indices.tolist() == [2, 3, 1, 0, 0]               # row 1 gets 3, 1, 0 in file order


def test_edge_index_without_edges(tmp_path):
    np.save(tmp_path / "e.npy", np.zeros((2, 0), dtype=np.int64))
    np.savez(tmp_path / "n.npz", edge_index=np.zeros((2, 0), dtype=np.int64), num_nodes=5)
    assert load_graph_file(tmp_path / "e.npy").graph.num_nodes == 0
    graph = load_graph_file(tmp_path / "n.npz").graph
    assert graph.num_nodes == 5 and graph.nnz == 0


def test_layout_is_detected_from_the_content_not_the_name(tmp_path):
    """A SciPy file named .bin and an edge_index .npy named .npz read by what they hold."""
    with open(tmp_path / "matrix.bin", "wb") as f:
        sp.save_npz(f, sp.csr_matrix(np.array([[0, 1], [1, 0]])))
    with open(tmp_path / "edges.npz", "wb") as f:
        np.save(f, np.array([[0], [1]]))
    assert load_graph_file(tmp_path / "matrix.bin").kind == "scipy"
    assert load_graph_file(tmp_path / "edges.npz").kind == "edge_index"


def test_loader_imports_no_scipy(tmp_path):
    """The driver reads graph files on a host without SciPy: loading every layout imports neither SciPy nor the
    golden model."""
    sp.save_npz(tmp_path / "s.npz", sp.csc_matrix(np.array([[0, 1], [1, 0]])))
    np.save(tmp_path / "e.npy", np.array([[0], [1]]))
    np.savez(tmp_path / "p.npz", indptr=[0, 1], indices=[0])
    code = (
        "import sys\n"
        "from pimgen.gnn.graph_files import load_graph_file\n"
        f"kinds = [load_graph_file(p).kind for p in {[str(tmp_path / n) for n in ('s.npz', 'e.npy', 'p.npz')]!r}]\n"
        "assert kinds == ['scipy', 'edge_index', 'pimgen'], kinds\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('scipy', 'sw_model'))\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


# Errors: one case per message.

def write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def write_npy(path, array):
    np.save(path, array)
    return path


def scipy_csr(path, **overrides):
    """A valid 3 x 3 csr save_npz file, with arrays replaced or (None) removed."""
    arrays = dict(data=np.array([1.0, 2.0, 3.0]), indices=np.array([2, 0, 1]), indptr=np.array([0, 1, 1, 3]),
                  format=np.array(b"csr"), shape=np.array([3, 3]))
    arrays.update(overrides)
    return write_npz(path, **{k: v for k, v in arrays.items() if v is not None})


def scipy_coo(path, **overrides):
    arrays = dict(data=np.array([1.0, 2.0]), row=np.array([0, 2]), col=np.array([1, 1]),
                  format=np.array(b"coo"), shape=np.array([3, 3]))
    arrays.update(overrides)
    return write_npz(path, **{k: v for k, v in arrays.items() if v is not None})


def corrupt_member(path):
    """A compressed .npz whose ``indices`` member has a broken compressed stream."""
    n = 3000
    np.savez_compressed(path, indptr=np.arange(n + 1), indices=np.random.default_rng(0).integers(0, n, size=n))
    data = bytearray(path.read_bytes())
    start = data.find(b"indices.npy") + 200
    data[start:start + 16] = bytes(16)
    path.write_bytes(bytes(data))
    return path


def corrupt_crc(path):
    """A stored member whose bytes no longer match its CRC."""
    np.savez(path, indptr=np.arange(3001), indices=np.zeros(3000, dtype=np.int64))
    data = bytearray(path.read_bytes())
    start = data.find(b"indices.npy") + 300
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def make_dir(path):
    path.mkdir()
    return path


def write_text(path, text):
    path.write_text(text)
    return path


def save_scipy(path, mat):
    sp.save_npz(path, mat)
    return path


BIG = 1 << 62


def error_cases():
    """case -> (function of tmp_path that writes the file and returns its path, regex of the message after
    "Graph file <path>")."""
    return {
        # The file itself, and pimgen .npz files.
        "missing file": (
            lambda t: t / "absent.npz",
            r" does not exist$"),
        "directory": (
            lambda t: make_dir(t / "dir.npz"),
            r" is not a file$"),
        "not npz or npy": (
            lambda t: write_text(t / "junk.npz", "not a zip file\n"),
            r" is not a readable \.npz or \.npy file \("),
        "corrupt compressed member": (
            lambda t: corrupt_member(t / "zipped.npz"),
            r": array 'indices' is corrupt \("),
        "member with a bad CRC": (
            lambda t: corrupt_crc(t / "crc.npz"),
            r": array 'indices' is corrupt \("),
        "unknown key": (
            lambda t: write_npz(t / "weight.npz", indptr=[0, 1], indices=[0], weight=[1]),
            r" has the unknown array\(s\) weight; allowed: indptr, indices, x, weights \(or edge_index with optional "
            r"num_nodes and x, or a file written by scipy.sparse.save_npz\)$"),
        "missing key": (
            lambda t: write_npz(t / "noindices.npz", indptr=[0, 1]),
            r" lacks the array\(s\) indices; it needs indptr and indices \(and may have x, weights\)$"),
        "malformed csr": (
            lambda t: write_npz(t / "nonmono.npz", indptr=[0, 2, 1, 3], indices=[0, 1, 2]),
            r": indptr must be non-decreasing, but indptr\[2\] = 1 < indptr\[1\] = 2$"),
        "single array of the wrong shape": (
            lambda t: write_npy(t / "indptr.npy", np.arange(4)),
            r" holds a single array, which must be an edge_index: a 2 x E integer array \(row 0 sources, row 1 "
            r"targets\), not an array of shape \(4,\); a graph in CSR must be an \.npz with indptr and indices$"),
        "single array of floats": (
            lambda t: write_npy(t / "float.npy", np.zeros((2, 3))),
            r" holds a single array, which must be an edge_index: .* not an array of dtype float64; "),
        # scipy.sparse.save_npz files.
        "scipy bsr": (
            lambda t: save_scipy(t / "bsr.npz", sp.bsr_matrix(np.eye(4))),
            r" holds a scipy.sparse matrix in format 'bsr'; pimgen reads csr, csc, coo \(save mat.tocsr\(\) "
            r"instead\)$"),
        "scipy dia": (
            lambda t: save_scipy(t / "dia.npz", sp.dia_matrix(np.eye(3))),
            r" holds a scipy.sparse matrix in format 'dia'; "),
        "scipy format not a string": (
            lambda t: scipy_csr(t / "fmt.npz", format=np.array([1, 2])),
            r": format must be a string such as 'csr' \(the scipy.sparse format\), not an array of shape \(2,\) and "
            r"dtype int64$"),
        "scipy not square": (
            lambda t: save_scipy(t / "rect.npz", sp.csr_matrix(np.ones((3, 4)))),
            r" holds a 3 x 4 scipy.sparse csr matrix; an adjacency matrix must be square \(rows = destinations, "
            r"columns = sources\)$"),
        "scipy bad shape": (
            lambda t: scipy_csr(t / "shape.npz", shape=np.array([3, 3, 1])),
            r": shape must be two non-negative integers \(rows, columns\), not \[3, 3, 1\]$"),
        "scipy too large": (
            lambda t: scipy_coo(t / "huge.npz", data=np.zeros(0), row=np.zeros(0, int), col=np.zeros(0, int),
                                shape=np.array([MAX_FILE_NODES + 1] * 2)),
            rf": the matrix size = {MAX_FILE_NODES + 1} is more than the {MAX_FILE_NODES} nodes a graph file may "
            r"have$"),
        "scipy unknown key": (
            lambda t: scipy_csr(t / "extra.npz", x=np.zeros((3, 1))),
            r" has the unknown array\(s\) x; allowed for a scipy.sparse csr file: data, indptr, indices, format, "
            r"shape, _is_array, has_canonical_format, has_sorted_indices$"),
        "scipy missing key": (
            lambda t: scipy_csr(t / "noshape.npz", shape=None),
            r" lacks the array\(s\) shape; a scipy.sparse csr file needs data, indptr, indices, format, shape$"),
        "scipy indices not integer": (
            lambda t: scipy_csr(t / "fidx.npz", indices=np.array([2.0, 0.0, 1.0])),
            r": indices must be a 1-D integer array, not an array of dtype float64$"),
        "scipy indptr not 1-D": (
            lambda t: scipy_csr(t / "ip2d.npz", indptr=np.array([[0, 1], [1, 3]])),
            r": indptr must be a 1-D integer array, not an array of shape \(2, 2\)$"),
        "scipy data not 1-D": (
            lambda t: scipy_csr(t / "data2d.npz", data=np.ones((3, 1))),
            r": data must be a 1-D array \(one value per stored entry\), not an array of shape \(3, 1\)$"),
        "scipy indptr length": (
            lambda t: scipy_csr(t / "iplen.npz", indptr=np.array([0, 1, 3])),
            r": indptr must have 4 entries for a 3 x 3 csr matrix \(one per row \+ 1\), not 3 \(shape mismatch\)$"),
        "scipy indptr start": (
            lambda t: scipy_csr(t / "ip0.npz", indptr=np.array([1, 1, 1, 3])),
            r": indptr\[0\] must be 0, not 1$"),
        "scipy indptr decreasing": (
            lambda t: scipy_csr(t / "ipdec.npz", indptr=np.array([0, 2, 1, 3])),
            r": indptr must be non-decreasing, but indptr\[2\] = 1 < indptr\[1\] = 2$"),
        "scipy indptr end": (
            lambda t: scipy_csr(t / "ipend.npz", indptr=np.array([0, 1, 1, 2])),
            r": indptr\[-1\] must equal len\(indices\) \(nnz mismatch\): indptr\[-1\] = 2, len\(indices\) = 3$"),
        "scipy data length": (
            lambda t: scipy_csr(t / "datalen.npz", data=np.array([1.0, 2.0])),
            r": data must have one value per stored entry \(nnz mismatch\): len\(data\) = 2, len\(indices\) = 3$"),
        "scipy csr column out of range": (
            lambda t: scipy_csr(t / "col.npz", indices=np.array([2, 0, 3])),
            r": indices must be column numbers in 0\.\.2, but entry 2 \(row 2\) has column 3$"),
        "scipy csc row out of range": (
            lambda t: scipy_csr(t / "csc.npz", format=np.array(b"csc"), indices=np.array([2, -1, 1])),
            r": indices must be row numbers in 0\.\.2, but entry 1 \(column 2\) has row -1$"),
        "scipy coo lengths": (
            lambda t: scipy_coo(t / "coolen.npz", col=np.array([1, 1, 0])),
            r": row, col and data must have one entry per stored value \(nnz mismatch\): lengths 2, 3 and 2$"),
        "scipy coo row out of range": (
            lambda t: scipy_coo(t / "coorow.npz", row=np.array([0, 3])),
            r": row must hold row numbers in 0\.\.2, but entry 1 has row 3$"),
        "scipy coo column negative": (
            lambda t: scipy_coo(t / "coocol.npz", col=np.array([-1, 1])),
            r": col must hold column numbers in 0\.\.2, but entry 0 has column -1$"),
        "scipy coo in an empty matrix": (
            lambda t: scipy_coo(t / "coo0.npz", shape=np.array([0, 0])),
            r": row must hold row numbers in an empty range \(the matrix is 0 x 0\), but entry 0 has row 0$"),
        "scipy coords shape": (
            lambda t: scipy_coo(t / "coords.npz", row=None, col=None, coords=np.zeros((3, 2), int)),
            r": coords must be a 2 x nnz integer array \(rows, columns\) for a matrix, not an array of shape "
            r"\(3, 2\)$"),
        "scipy coords dtype": (
            lambda t: scipy_coo(t / "coordsf.npz", row=None, col=None, coords=np.zeros((2, 2))),
            r": coords must be a 2 x nnz integer array \(rows, columns\), not an array of dtype float64$"),
        # edge_index arrays.
        "edge_index shape": (
            lambda t: write_npz(t / "ei3.npz", edge_index=np.zeros((3, 4), int)),
            r": edge_index must be a 2 x E integer array \(row 0 sources, row 1 targets\), not an array of shape "
            r"\(3, 4\)$"),
        "edge_index transposed": (
            lambda t: write_npz(t / "eiT.npz", edge_index=np.zeros((4, 2), int)),
            r": edge_index must be .* not an array of shape \(4, 2\) \(transpose an E x 2 edge list\)$"),
        "edge_index not integer": (
            lambda t: write_npz(t / "eif.npz", edge_index=np.zeros((2, 4))),
            r": edge_index must be a 2 x E integer array \(row 0 sources, row 1 targets\), not an array of dtype "
            r"float64$"),
        "edge_index negative source": (
            lambda t: write_npy(t / "neg.npy", np.array([[0, 1, -2], [1, 0, 1]])),
            rf": edge_index must hold node numbers in 0\.\.{MAX_FILE_NODES - 1} \(a graph file has at most "
            rf"{MAX_FILE_NODES} nodes\), but edge_index\[0, 2\] \(the source of edge 2\) = -2$"),
        "edge_index negative target with num_nodes": (
            lambda t: write_npz(t / "negt.npz", edge_index=np.array([[0, 1, 2], [1, -1, 1]]), num_nodes=4),
            r": edge_index must hold node numbers in 0\.\.3 \(num_nodes = 4\), but edge_index\[1, 1\] \(the target of "
            r"edge 1\) = -1$"),
        "edge_index node too large": (
            lambda t: write_npy(t / "huge.npy", np.array([[0, BIG], [1, 0]], dtype=np.uint64)),
            rf": edge_index must hold node numbers in 0\.\.{MAX_FILE_NODES - 1} \(.*\), but edge_index\[0, 1\] "
            rf"\(the source of edge 1\) = {BIG}$"),
        "num_nodes smaller than a node": (
            lambda t: write_npz(t / "small.npz", edge_index=np.array([[0, 1, 2], [1, 5, 1]]), num_nodes=4),
            r": num_nodes = 4 is smaller than a node number in edge_index: edge_index\[1, 1\] \(the target of edge "
            r"1\) = 5; node numbers must be in 0\.\.3$"),
        "num_nodes zero with edges": (
            lambda t: write_npz(t / "zero.npz", edge_index=np.array([[0], [0]]), num_nodes=0),
            r": num_nodes = 0, but edge_index has 1 edges$"),
        "num_nodes not a scalar": (
            lambda t: write_npz(t / "nn1.npz", edge_index=np.array([[0], [0]]), num_nodes=[3]),
            r": num_nodes must be a scalar integer, not an array of shape \(1,\)$"),
        "num_nodes not an integer": (
            lambda t: write_npz(t / "nnf.npz", edge_index=np.array([[0], [0]]), num_nodes=3.0),
            r": num_nodes must be a scalar integer, not an array of dtype float64$"),
        "num_nodes negative": (
            lambda t: write_npz(t / "nnneg.npz", edge_index=np.zeros((2, 0), int), num_nodes=-1),
            r": num_nodes must be a non-negative integer, not -1$"),
        "num_nodes too large": (
            lambda t: write_npz(t / "nnbig.npz", edge_index=np.zeros((2, 0), int), num_nodes=MAX_FILE_NODES + 1),
            rf": num_nodes = {MAX_FILE_NODES + 1} is more than the {MAX_FILE_NODES} nodes a graph file may have$"),
        "edge_index unknown key": (
            lambda t: write_npz(t / "attr.npz", edge_index=np.array([[0], [0]]), edge_attr=[1.0], indptr=[0, 1]),
            r" has the unknown array\(s\) edge_attr, indptr; allowed for an edge_index \.npz: edge_index, num_nodes, "
            r"x$"),
    }


ERROR_CASES = error_cases()


@pytest.mark.parametrize("case", ERROR_CASES)
def test_load_error(tmp_path, case):
    write, match = ERROR_CASES[case]
    path = write(tmp_path)
    message = load_error(path)
    rest = message[len(f"Graph file {path}"):]
    assert re.search(match, rest), message
