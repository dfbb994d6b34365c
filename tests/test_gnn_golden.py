"""The GNN golden model against independent references (docs/gnn.md, "Error bounds against references").

References: scipy.sparse integer products, float64 NumPy, per-row np.max, and a plain-Python-integer loop that applies
the formulas of docs/gnn.md literally (its reciprocal comes from fractions.Fraction, not from the golden's table).
"""

from fractions import Fraction

import numpy as np
import pytest

from pimgen.gnn.config import GNN_OPS, GnnConfig
from sw_model.datasets import DATASETS, load_dataset, project_features
from sw_model.gnn import (aggregate, check_fits, dequantize, format_range, gcn_norm_weights, mean_reciprocal_table,
                          quantize, quantize_features, weight_range)
from sw_model.graphs import CsrGraph, from_scipy, power_law_graph, random_graph

FORMATS = ("int8", "int16")
F = 13          # deliberately not a multiple of the lane count
LANES = 4


# References.

def fit(v, bits, saturate):
    """docs/gnn.md fit_A / fit_W on one Python int."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if saturate:
        return max(lo, min(hi, v))
    return (v - lo) % (1 << bits) + lo


def ceil_log2_loop(d):
    s = 0
    while (1 << s) < d:
        s += 1
    return s


def literal(config, graph, x, op, weights=None, rows=None):
    """The formulas of docs/gnn.md applied literally with Python ints; returns the listed rows (all by default)."""
    a_bits, w_bits, sat = config.acc_width, config.data_bits, config.saturate
    wf, p = config.weight_frac_bits, config.recip_bits
    indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
    xs = x.tolist()
    ws = None if weights is None else [int(v) for v in weights]
    rows = range(graph.num_nodes) if rows is None else rows
    out = []
    for r in rows:
        edges = range(indptr[r], indptr[r + 1])
        d = len(edges)
        line = []
        for f in range(x.shape[1]):
            if d == 0:
                line.append(0)
                continue
            if op == "max":
                line.append(max(xs[indices[e]][f] for e in edges))
                continue
            acc = 0
            for e in edges:
                term = xs[indices[e]][f] * (ws[e] if op == "weighted" else 1)
                acc = fit(acc + term, a_bits, sat)
            if op == "sum":
                y = acc
            elif op == "weighted":
                y = (acc + (1 << (wf - 1))) // (1 << wf) if wf else acc
            else:
                s = p + ceil_log2_loop(d)
                recip = int(Fraction(2 ** s, d) + Fraction(1, 2))      # floor, as the value is positive
                y = (acc * recip + 2 ** (s - 1)) // 2 ** s
            line.append(fit(y, w_bits, sat))
        out.append(line)
    return np.array(out, dtype=np.int64).reshape(len(out), x.shape[1])


def fit_array(v, bits, saturate):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return np.clip(v, lo, hi) if saturate else (v - lo) % (1 << bits) + lo


def exact_product(graph, x, weights=None):
    """A @ X (or A_w @ X) exactly, in int64, by scipy.sparse."""
    a = graph.to_scipy()
    if weights is not None:
        a = a.copy()
        a.data = np.asarray(weights, dtype=np.int64)
    out = a @ x
    assert out.dtype == np.int64
    return np.asarray(out)


def row_max(graph, x):
    out = np.zeros_like(x)
    for r in range(graph.num_nodes):
        cols = graph.indices[graph.indptr[r]:graph.indptr[r + 1]]
        if len(cols):
            out[r] = np.max(x[cols], axis=0)
    return out


# Workloads.

def config(fmt, **kw):
    kw.setdefault("max_features", 16)
    return GnnConfig(format=fmt, lanes=LANES, **kw)


def graph_with_duplicates(seed=5, n=40):
    """Rows with duplicate columns in unsorted order, self loops, and empty rows."""
    rng = np.random.default_rng(seed)
    deg = rng.integers(0, 7, size=n)
    deg[[0, 7, 19]] = 0
    indptr = np.concatenate([[0], np.cumsum(deg)])
    indices = rng.integers(0, n, size=int(indptr[-1]))
    return CsrGraph(indptr, indices)


@pytest.fixture(scope="module")
def cora():
    return load_dataset("cora")


@pytest.fixture(scope="module")
def graphs(cora):
    citeseer = load_dataset("citeseer")
    return {
        "random": random_graph(30, 4, seed=1, empty_rows=3, isolated_nodes=2),
        "duplicates": graph_with_duplicates(),
        "power_law": power_law_graph(300, 6, seed=2, max_degree=200),
        "cora": cora.graph.with_self_loops(),
        "citeseer": citeseer.graph,          # no self loops: 48 empty rows
    }


GRAPHS = ("random", "duplicates", "power_law", "cora", "citeseer")
SMALL_GRAPHS = ("random", "duplicates")


def random_codes(cfg, n, seed):
    lo, hi = format_range(cfg)
    return np.random.default_rng(seed).integers(lo, hi + 1, size=(n, F), dtype=np.int64)


def extreme_codes(cfg, n, seed):
    """Codes that saturate quickly: half at +-max, the rest uniform."""
    lo, hi = format_range(cfg)
    rng = np.random.default_rng(seed)
    x = rng.integers(lo, hi + 1, size=(n, F), dtype=np.int64)
    ends = rng.choice(np.array([lo, lo + 1, hi - 1, hi]), size=(n, F))
    pick = rng.random((n, F)) < 0.5
    return np.where(pick, ends, x)


def random_weights(cfg, nnz, seed):
    lo, hi = weight_range(cfg)
    return np.random.default_rng(seed).integers(lo, hi + 1, size=nnz, dtype=np.int64)


def cora_codes(cfg, cora, spread=1 / 16):
    """Cora's bag of words projected by a seeded Gaussian matrix to F = 13 features, then quantised.

    ``spread`` is the standard deviation as a fraction of the format's largest value (3/4 saturates sums quickly).
    """
    scale = spread * 2.0 ** (cfg.data_bits - 1 - cfg.frac_bits)
    return quantize_features(scale * project_features(cora.features, F, seed=0), cfg)


# Quantisation.

@pytest.mark.parametrize("fmt, lo, hi", [("int8", -128, 127), ("int16", -32768, 32767)])
def test_format_range(fmt, lo, hi):
    assert format_range(config(fmt)) == (lo, hi)


@pytest.mark.parametrize("x, frac, expected", [
    ([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5], 0, [0, 2, 2, 4, 0, -2, -2]),
    ([1 / 32, 3 / 32, 5 / 32, -3 / 32, 0.0624], 4, [0, 2, 2, -2, 1]),
    ([0.49999999, 0.50000001, -0.50000001], 0, [0, 1, -1]),
])
def test_quantize_round_half_even(x, frac, expected):
    assert quantize(np.array(x), frac, 8).tolist() == expected


def test_quantize_clips_to_the_format():
    x = np.array([1000.0, -1000.0, 127.5 / 16, -8.0, -8.04, np.inf, -np.inf])
    assert quantize(x, 4, 8).tolist() == [127, -128, 127, -128, -128, 127, -128]
    assert quantize(np.array([200.0, -200.0]), 8, 16).tolist() == [32767, -32768]


def test_quantize_rejects_nan():
    with pytest.raises(ValueError, match=r"x must not contain NaN, but x\[1\] is NaN"):
        quantize(np.array([0.0, np.nan]), 4, 8)


@pytest.mark.parametrize("fmt", FORMATS)
def test_dequantize_inverts_quantize_on_the_grid(fmt):
    cfg = config(fmt)
    codes = random_codes(cfg, 50, 3)
    assert np.array_equal(quantize_features(dequantize(codes, cfg.frac_bits), cfg), codes)


# Reciprocal table of the mean op.

@pytest.mark.parametrize("recip_bits, max_degree", [(8, 1024), (12, 4000), (18, 1023), (18, 65535), (20, 65535)])
def test_reciprocal_table(recip_bits, max_degree):
    cfg = config("int16", recip_bits=recip_bits, max_degree=max_degree)
    r, s = mean_reciprocal_table(cfg)
    p = recip_bits
    assert r.dtype == s.dtype == np.int64
    assert len(r) == len(s) == max_degree + 1
    assert (r[0], s[0]) == (0, 1)
    assert (r[1], s[1]) == (2 ** p, p)
    d = np.arange(1, max_degree + 1)
    assert np.array_equal(s[1:], p + np.array([ceil_log2_loop(int(v)) for v in d]))
    assert np.all(r[1:] >= 2 ** p) and np.all(r[1:] < 2 ** (p + 1))
    assert int(s.max()) == cfg.recip_shift_max
    # |R/2**s - 1/d| <= 2**-(s+1), i.e. |2 R d - 2**(s+1)| <= d, in exact integers.
    err = np.abs(2 * r[1:] * d - (np.int64(1) << (s[1:] + 1)))
    assert np.all(err <= d)
    for v in (1, 2, 3, 5, 7, max_degree):
        assert r[v] == int(Fraction(2 ** int(s[v]), v) + Fraction(1, 2))


def test_reciprocal_reaches_two_to_p_plus_one_beyond_four_times_two_to_p():
    """docs/gnn.md says R[d] < 2**(P+1); that holds only for d <= 2**(P+2) (here P = 8: d = 1025 gives 512)."""
    r, _ = mean_reciprocal_table(config("int16", recip_bits=8, max_degree=2048))
    assert np.all(r[1:1025] < 2 ** 9)
    assert r[1025] == 2 ** 9
    assert np.all(r <= 2 ** 9)


# Ops against the references, no saturation in the accumulator.

@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GRAPHS)
def test_sum_equals_scipy_product(graphs, name, fmt, saturate):
    g = graphs[name]
    cfg = config(fmt, saturate=saturate)
    x = random_codes(cfg, g.num_nodes, 10)
    exact = exact_product(g, x)
    assert np.abs(exact).max() < 2 ** (cfg.acc_width - 1)          # the accumulator never saturates here
    assert np.array_equal(aggregate(cfg, g, x, "sum"), fit_array(exact, cfg.data_bits, saturate))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GRAPHS)
def test_sum_in_wrap_mode_is_modular_for_any_accumulator(graphs, name, fmt):
    g = graphs[name]
    cfg = config(fmt, saturate=False, acc_width=config(fmt).data_bits)
    x = extreme_codes(cfg, g.num_nodes, 11)
    assert np.array_equal(aggregate(cfg, g, x, "sum"), fit_array(exact_product(g, x), cfg.data_bits, False))


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GRAPHS)
def test_max_equals_row_max(graphs, name, fmt):
    g = graphs[name]
    cfg = config(fmt, saturate=False, acc_width=config(fmt).data_bits)      # nothing to saturate for max
    x = extreme_codes(cfg, g.num_nodes, 12)
    assert np.array_equal(aggregate(cfg, g, x, "max"), row_max(g, x))


@pytest.mark.parametrize("weight_bits, weight_frac_bits", [(16, None), (18, 17), (8, 0), (2, 1)])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GRAPHS)
def test_weighted_within_half_lsb(graphs, name, fmt, weight_bits, weight_frac_bits):
    g = graphs[name]
    cfg = config(fmt, weight_bits=weight_bits, weight_frac_bits=weight_frac_bits, acc_width=44)
    x = random_codes(cfg, g.num_nodes, 13)
    w = random_weights(cfg, g.nnz, 14)
    exact = exact_product(g, x, w)
    assert np.abs(exact).max() < 2 ** 43
    y = aggregate(cfg, g, x, "weighted", weights=w)
    wf = cfg.weight_frac_bits
    ref = np.clip(exact / 2.0 ** wf, *format_range(cfg))
    assert np.all(np.abs(y - ref) <= 0.5)
    rounded = (exact + (1 << (wf - 1))) >> wf if wf else exact
    assert np.array_equal(y, fit_array(rounded, cfg.data_bits, True))


@pytest.mark.parametrize("recip_bits", [8, 12, 18, 20])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", GRAPHS)
def test_mean_within_bound(graphs, name, fmt, recip_bits):
    """Saturating fit_W only moves Y toward acc / d (which is in range); wrap mode is covered by the literal loop."""
    g = graphs[name]
    cfg = config(fmt, recip_bits=recip_bits)
    x = extreme_codes(cfg, g.num_nodes, 15)
    exact = exact_product(g, x)
    deg = g.in_degree
    y = aggregate(cfg, g, x, "mean")
    nonempty = deg > 0
    ref = exact[nonempty] / deg[nonempty, None].astype(np.float64)
    bound = 0.5 + 2.0 ** (cfg.data_bits - 2 - recip_bits)
    assert np.all(np.abs(y[nonempty] - ref) <= bound)
    assert np.all(y[~nonempty] == 0)


# With saturation (or wrap) in the accumulator: equal to the literal Python-integer loop.

@pytest.mark.parametrize("op", GNN_OPS)
@pytest.mark.parametrize("acc_extra", [0, 2])
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", SMALL_GRAPHS)
def test_narrow_accumulator_equals_literal_loop(graphs, name, fmt, saturate, acc_extra, op):
    g = graphs[name]
    cfg = config(fmt, saturate=saturate, acc_width=config(fmt).data_bits + acc_extra, weight_bits=10)
    x = extreme_codes(cfg, g.num_nodes, 16)
    w = random_weights(cfg, g.nnz, 17) if op == "weighted" else None
    assert np.array_equal(aggregate(cfg, g, x, op, weights=w), literal(cfg, g, x, op, w))


@pytest.mark.parametrize("fmt", FORMATS)
def test_accumulator_saturation_changes_the_sum(graphs, fmt):
    """The literal comparison above is not vacuous: the accumulator clamps and both output ends are reached."""
    g = graphs["random"]
    cfg = config(fmt, acc_width=config(fmt).data_bits)
    x = extreme_codes(cfg, g.num_nodes, 16)
    y = aggregate(cfg, g, x, "sum")
    lo, hi = format_range(cfg)
    assert (y == hi).any() and (y == lo).any()
    assert not np.array_equal(y, fit_array(exact_product(g, x), cfg.data_bits, True))


@pytest.mark.parametrize("op", GNN_OPS)
@pytest.mark.parametrize("saturate", [True, False])
@pytest.mark.parametrize("fmt", FORMATS)
def test_cora_equals_literal_loop(cora, graphs, fmt, saturate, op):
    """Cora + self loops, F = 13 with 4 lanes, large features and a narrow accumulator; the max-degree row included."""
    g = graphs["cora"]
    cfg = config(fmt, saturate=saturate, acc_width=config(fmt).data_bits + 2)
    x = cora_codes(cfg, cora, spread=0.75)
    w = gcn_norm_weights(g, cfg) if op == "weighted" else None
    deg = g.in_degree
    top = int(np.argmax(deg))
    assert deg[top] == g.max_degree == 169
    rng = np.random.default_rng(18)
    rows = [top] + np.flatnonzero(deg == deg.min())[:5].tolist() + rng.choice(g.num_nodes, 150, replace=False).tolist()
    y = aggregate(cfg, g, x, op, weights=w)
    assert np.array_equal(y[rows], literal(cfg, g, x, op, w, rows))


@pytest.mark.parametrize("fmt", FORMATS)
def test_cora_sum_saturates_at_both_ends(cora, graphs, fmt):
    g = graphs["cora"]
    cfg = config(fmt, acc_width=config(fmt).data_bits)
    x = cora_codes(cfg, cora, spread=0.75)
    y = aggregate(cfg, g, x, "sum")
    lo, hi = format_range(cfg)
    assert (y == hi).sum() > 100 and (y == lo).sum() > 100
    top = int(np.argmax(g.in_degree))
    assert np.array_equal(y[top], literal(cfg, g, x, "sum", rows=[top])[0])


def test_csr_order_decides_under_saturation():
    """int8 with an 8-bit accumulator: 100 + 100 - 100 clamps to 27, -100 + 100 + 100 gives 100."""
    cfg = GnnConfig(format="int8", lanes=1, max_features=1, acc_width=8)
    g = CsrGraph([0, 3, 6, 6], [0, 0, 1, 1, 0, 0], num_nodes=3)
    x = np.array([[100], [-100], [5]])
    assert aggregate(cfg, g, x, "sum")[:, 0].tolist() == [27, 100, 0]
    wrap = GnnConfig(format="int8", lanes=1, max_features=1, acc_width=8, saturate=False)
    assert aggregate(wrap, g, x, "sum")[:, 0].tolist() == [100, 100, 0]


@pytest.mark.parametrize("op", GNN_OPS)
def test_empty_rows_give_zero(op):
    cfg = config("int8")
    g = CsrGraph([0, 0, 2, 2], [2, 2])
    x = np.array([[-128] * F, [7] * F, [-5] * F])
    y = aggregate(cfg, g, x, op, weights=np.array([1 << 14, 1 << 14]))
    assert np.all(y[[0, 2]] == 0)
    assert np.all(y[1] == {"sum": -10, "mean": -5, "max": -5, "weighted": -10}[op])


def test_graph_without_nodes():
    cfg = config("int8")
    y = aggregate(cfg, CsrGraph([0], []), np.zeros((0, F), dtype=np.int8), "mean")
    assert y.shape == (0, F)


def test_mean_reciprocal_rounding_can_overflow_in_wrap_mode():
    """int16 with P = 8: R[5] = 410 > 2**11 / 5, so the mean of five 32767s is 32799 before fit_W.

    Saturation clamps it to 32767; wrap mode turns it into -32737. This follows docs/gnn.md literally (the bound
    0.5 + 2**(W-2-P) exceeds half an LSB when P < W - 1), and it is what the hardware must do as well.
    """
    g = CsrGraph([0, 5, 1030], [0] * 5 + [1] * 1025)
    x = np.full((2, F), 32767)
    sat = config("int16", recip_bits=8, max_degree=2048)
    wrap = config("int16", recip_bits=8, max_degree=2048, saturate=False)
    assert np.all(aggregate(sat, g, x, "mean") == 32767)
    y = aggregate(wrap, g, x, "mean")
    assert np.all(y[0] == 32799 - 65536) and np.all(y[1] == 32799 - 65536)      # R[1025] = 2**9 overshoots too
    assert np.array_equal(y, literal(wrap, g, x, "mean"))


# GCN weights.

@pytest.mark.parametrize("weight_bits, weight_frac_bits", [(16, None), (10, 8), (12, 11)])
@pytest.mark.parametrize("name", ["random", "cora", "power_law"])
def test_gcn_norm_weights_within_half_lsb(graphs, name, weight_bits, weight_frac_bits):
    g = graphs[name].with_self_loops() if name != "cora" else graphs[name]
    cfg = config("int16", weight_bits=weight_bits, weight_frac_bits=weight_frac_bits)
    w = gcn_norm_weights(g, cfg)
    deg = g.in_degree.astype(float)
    rows = np.repeat(np.arange(g.num_nodes), g.in_degree)
    exact = 1 / np.sqrt(deg[rows] * deg[g.indices]) * 2 ** cfg.weight_frac_bits
    lo, hi = weight_range(cfg)
    assert np.all(np.abs(w - np.clip(exact, lo, hi)) <= 0.5)
    assert w.min() >= 0 and w.max() <= hi


def test_gcn_weights_cora_sum_to_about_one_per_row(graphs):
    """Rows of D^-1/2 (A+I) D^-1/2 applied to ones: a sanity check of the orientation on Cora."""
    g = graphs["cora"]
    cfg = config("int16")
    w = gcn_norm_weights(g, cfg)
    ones = np.full((g.num_nodes, 1), 1 << cfg.frac_bits)
    cfg1 = GnnConfig(format="int16", lanes=1, max_features=1)
    y = dequantize(aggregate(cfg1, g, ones, "weighted", weights=w), cfg.frac_bits)[:, 0]
    a = g.to_scipy().astype(float)
    d = np.asarray(a.sum(axis=1)).ravel()
    expected = np.asarray((a @ (1 / np.sqrt(d))) / np.sqrt(d)).ravel()
    assert np.all(np.abs(y - expected) <= 0.5 * 2 ** -cfg.frac_bits + g.in_degree * 2 ** -cfg.weight_frac_bits)


# Graphs and datasets.

def test_with_self_loops_keeps_sorted_rows_sorted():
    g = load_dataset("cora").graph
    h = g.with_self_loops()
    assert h.nnz == g.nnz + g.num_nodes
    assert np.array_equal(h.in_degree, g.in_degree + 1)
    rows = h.edge_rows()
    assert np.all((np.diff(h.indices) > 0) | (np.diff(rows) != 0))
    a = (h.to_scipy() - g.to_scipy()).toarray()
    assert np.array_equal(a, np.eye(g.num_nodes, dtype=np.int64))


def test_with_self_loops_on_unsorted_rows_and_weights():
    g = CsrGraph([0, 3, 3, 5], [2, 0, 1, 0, 2], weights=[5, 6, 7, 8, 9])
    h = g.with_self_loops(loop_weight=1)
    assert h.indptr.tolist() == [0, 4, 5, 8]
    # The loop goes before the first column greater than the row (row 0: before the 2), else at the end.
    assert h.indices.tolist() == [0, 2, 0, 1, 1, 0, 2, 2]
    assert h.weights.tolist() == [1, 5, 6, 7, 1, 8, 9, 1]


def test_random_graph_properties():
    g = random_graph(200, 5, seed=3, empty_rows=10, isolated_nodes=7, max_degree=9)
    deg = g.in_degree
    assert (deg == 0).sum() >= 17 and g.max_degree <= 9
    sources = set(g.indices.tolist())
    isolated = [v for v in np.flatnonzero(deg == 0) if v not in sources]
    assert len(isolated) >= 7
    rows = g.edge_rows()
    assert np.all((np.diff(g.indices) > 0) | (np.diff(rows) != 0))     # sorted, no duplicates
    h = random_graph(200, 5, seed=3, empty_rows=10, isolated_nodes=7, max_degree=9)
    assert np.array_equal(g.indptr, h.indptr) and np.array_equal(g.indices, h.indices)


def test_power_law_graph_has_hubs():
    g = power_law_graph(2000, 5, seed=4)
    assert g.max_degree > 10 * np.median(g.in_degree)
    assert abs(g.nnz / g.num_nodes - 5) < 1.5


def test_from_scipy_round_trip(graphs):
    g = graphs["duplicates"]
    h = from_scipy(g.to_scipy())
    assert np.array_equal(g.indptr, h.indptr) and np.array_equal(g.indices, h.indices) and h.weights is None
    w = from_scipy(g.to_scipy() * 3, keep_weights=True)
    assert np.all(w.weights == 3)


@pytest.mark.parametrize("name, nodes, edges, features, classes", [
    ("cora", 2708, 10556, 1433, 7), ("citeseer", 3327, 9104, 3703, 6)])
def test_load_dataset(name, nodes, edges, features, classes):
    assert name in DATASETS
    ds = load_dataset(name)
    assert (ds.graph.num_nodes, ds.graph.nnz, ds.features.shape, ds.num_classes) == (
        nodes, edges, (nodes, features), classes)
    assert ds.features.dtype == np.float32 and ds.features.format == "csr"
    a = ds.graph.to_scipy()
    assert (a != a.T).nnz == 0 and a.diagonal().sum() == 0
    assert ds.train_mask.sum() == 20 * classes and ds.val_mask.sum() == 500 and ds.test_mask.sum() == 1000
    check_fits(config("int16"), ds.graph.with_self_loops(), F, "mean")
