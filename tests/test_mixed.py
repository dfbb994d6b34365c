"""Degree-aware mixed-precision features (pimgen/gnn/mixed.py) and the GCN's "mixed" codec (sw_model/gcn.py).

References computed here, independently of the code under test: the widths from the degrees by a loop, the node
shift and codes per element with Python's ``round`` (half to even on floats) and ``math.ldexp``, the class table and
every element's word and bit offset from the format's formulas (module docstring of pimgen.gnn.mixed), a per-element
decoder of the packed bytes, and for a tiny example the bytes written out by hand.

The Cora and CiteSeer accuracies and byte counts are recorded as test properties (``--junitxml``) and printed with
``-s``.
"""

import dataclasses
import math

import numpy as np
import pytest

from pimgen.errors import InputError, InputTypeError
from pimgen.gnn.config import GNN_OPS, GnnConfig
from pimgen.gnn.inputs import CsrGraph
from pimgen.gnn.mixed import (DEFAULT_THRESHOLDS, DEFAULT_WIDTHS, MixedFeatures, decode_mixed,
                              decode_mixed_original, edge_order, permute_graph, plan_mixed, quantize_mixed,
                              widths_for_degrees)
from sw_model import gcn
from sw_model.datasets import load_dataset
from sw_model.gnn import aggregate, gcn_norm_weights

# Degree d -> width 8 - min(d, 7): every width 1..8 appears in a graph with degrees 0..9.
ALL_THRESHOLDS = (1, 2, 3, 4, 5, 6, 7)
ALL_WIDTHS = (8, 7, 6, 5, 4, 3, 2, 1)


# References.

def ref_widths(degrees, thresholds, widths):
    out = []
    for d in degrees:
        group = 0
        for t in thresholds:
            if d >= t:
                group += 1
        out.append(widths[group])
    return out


def ref_node(values, b, frac_bits):
    """(k, int16 codes) of one node: smallest k in 0..16-b with no clipping, Python's round (half to even)."""
    lo, hi = -(1 << (b - 1)), (1 << (b - 1)) - 1
    for k in range(0, 17 - b):
        qs = [round(math.ldexp(v, frac_bits - k)) for v in values]
        if all(lo <= q <= hi for q in qs):
            break
    else:
        k = 16 - b
        qs = [min(max(round(math.ldexp(v, frac_bits - k)), lo), hi) for v in values]
    return k, [q << k for q in qs]


def ref_layout(degrees, thresholds, widths, lanes, num_features):
    """Engine order, per-class first and base, from the format's rules (class c = 8 - b, widest first, stable)."""
    w = ref_widths(degrees, thresholds, widths)
    order = sorted(range(len(w)), key=lambda n: (8 - w[n], n))
    groups = -(-num_features // lanes)
    first, base, n0, w0 = [], [], 0, 0
    for c in range(8):
        b = 8 - c
        count = sum(1 for v in w if v == b)
        first.append(n0)
        base.append(w0)
        n0 += count
        w0 += -(-count * groups // (8 // b))
    return order, first, base, w0, groups


def ref_decode(words, header, degrees, thresholds, widths, lanes, num_features):
    """Every element decoded from the packed bytes, one at a time, by the format's formulas (original order)."""
    order, first, base, _, groups = ref_layout(degrees, thresholds, widths, lanes, num_features)
    out = [[None] * num_features for _ in order]
    for n, orig in enumerate(order):
        c = max(c for c in range(8) if first[c] <= n)
        b = 8 - c
        per = 8 // b
        k = (int(header[n // 2]) >> (4 * (n % 2))) & 0xF
        for j in range(num_features):
            g, lane = divmod(j, lanes)
            slot = (n - first[c]) * groups + g
            byte = int(words[base[c] + slot // per][lane])
            u = (byte >> ((slot % per) * b)) & ((1 << b) - 1)
            q = u - (1 << b) if u >= (1 << (b - 1)) else u
            out[orig][j] = q << k
    return out


def random_graph(n, seed, max_degree=9):
    """Degrees 0..max_degree (each at least once, in shuffled rows), columns uniform with duplicates and in no
    particular order."""
    rng = np.random.default_rng(seed)
    deg = rng.integers(0, max_degree + 1, size=n)
    deg[rng.permutation(n)[:max_degree + 1]] = np.arange(max_degree + 1)
    indptr = np.concatenate([[0], np.cumsum(deg)])
    return CsrGraph(indptr, rng.integers(0, n, size=int(deg.sum())), n)


def random_features(n, f, seed, frac_bits):
    """Node-specific scales over 2**-12 .. 2**9 LSB, some zero rows, some ties, some all-negative rows, and three
    rows beyond what any width reaches (they clip)."""
    rng = np.random.default_rng(seed)
    scale = np.ldexp(1.0, rng.integers(-12, 10, size=n) - frac_bits)
    x = rng.normal(size=(n, f)) * scale[:, None] * rng.uniform(0.5, 60.0, size=(n, 1))
    x[rng.random(n) < 0.1] = 0.0
    ties = rng.random((n, f)) < 0.15
    x[ties] = np.ldexp(rng.integers(-20, 20, size=ties.sum()) + 0.5, rng.integers(-3, 6, size=ties.sum()) - frac_bits)
    neg = rng.random(n) < 0.1
    x[neg] = -np.abs(x[neg])
    huge = rng.permutation(n)[:3]
    x[huge] = np.ldexp(rng.choice([-1.0, 1.0], size=(3, f)) * rng.uniform(3e4, 1e5, size=(3, f)), -frac_bits)
    return x


# The format: round trips and the packed bytes.

@pytest.mark.parametrize("lanes, num_features", [(1, 1), (1, 5), (3, 7), (4, 13), (8, 7), (8, 16), (2, 3)])
@pytest.mark.parametrize("frac_bits", [0, 4, 8])
def test_round_trip_equals_per_element_reference(lanes, num_features, frac_bits):
    n = 40
    seed = lanes * 1000 + num_features * 10 + frac_bits
    g = random_graph(n, seed)
    x = random_features(n, num_features, seed, frac_bits)
    plan = plan_mixed(g, ALL_THRESHOLDS, ALL_WIDTHS, lanes=lanes, num_features=num_features)
    mixed = quantize_mixed(x, plan, frac_bits)
    widths = ref_widths(g.in_degree.tolist(), ALL_THRESHOLDS, ALL_WIDTHS)
    assert set(widths) == set(range(1, 9))
    expect = [ref_node(x[i].tolist(), widths[i], frac_bits)[1] for i in range(n)]
    got = decode_mixed_original(mixed)
    assert got.tolist() == expect
    assert decode_mixed(mixed).tolist() == [expect[i] for i in plan.perm]
    # The packed bytes, decoded element by element from the format's formulas, give the same codes.
    assert ref_decode(mixed.words, mixed.header, g.in_degree.tolist(), ALL_THRESHOLDS, ALL_WIDTHS, lanes,
                      num_features) == expect
    # Every decoded code is an int16 code, and q << k agrees.
    assert got.min() >= -32768 and got.max() <= 32767
    assert np.array_equal(decode_mixed(mixed), mixed.codes.astype(np.int64) << mixed.shifts[:, None])
    assert mixed.clipped > 0                  # the huge rows clip (the reference clips them the same way)


def test_half_to_even_and_smallest_shift():
    """Ties round to even; the shift is the smallest that does not clip, the negative end counting one more."""
    g = CsrGraph([0, 0, 0, 0, 0], [], 4)          # all in-degree 0: one group
    x = np.array([[2.5, -2.5, 1.5, 0.5],          # b = 4: fits at k = 0: 2, -2, 2, 0
                  [7.5, 0.0, 0.0, 0.0],           # 7.5 -> 8 > 7 at k = 0; k = 1: 3.75 -> 4
                  [-8.0, 3.0, 0.0, 0.0],          # -8 fits (negative end), k = 0
                  [-8.5, 0.0, 0.0, 0.0]])         # -8.5 -> -8 (half to even) fits at k = 0
    plan = plan_mixed(g, (), (4,), lanes=4, num_features=4)
    mixed = quantize_mixed(x, plan, 0)
    assert mixed.shifts.tolist() == [0, 1, 0, 0]
    assert decode_mixed_original(mixed).tolist() == [[2, -2, 2, 0], [8, 0, 0, 0], [-8, 3, 0, 0], [-8, 0, 0, 0]]
    assert mixed.clipped == 0


def test_one_bit_codes_are_minus_one_and_zero():
    g = CsrGraph([0, 0, 0], [], 2)
    x = np.array([[-3.0, 1.0, -1.0], [2.0, 0.4, 0.0]])
    mixed = quantize_mixed(x, plan_mixed(g, (), (1,), lanes=2, num_features=3), 0)
    # Node 0: k = 2 (-3/4 -> -1, 1/4 -> 0, -1/4 -> 0); node 1 (all >= 0): 2 / 2**2 = 0.5 -> 0, k = 2.
    assert mixed.shifts.tolist() == [2, 2]
    assert decode_mixed_original(mixed).tolist() == [[-4, 0, 0], [0, 0, 0]]


def tiny_example():
    """Five nodes, lanes = 2, F = 3 (G = 2, lane 1 of group 1 is padding), thresholds (2, 3) and widths (8, 3, 2)."""
    g = CsrGraph([0, 2, 2, 5, 7, 8], [1, 4, 0, 1, 3, 2, 4, 0], 5)     # in-degrees 2, 0, 3, 2, 1
    x = np.array([[1.0, -4.0, 2.0],          # n0: b = 3, k = 0, q = 1, -4, 2
                  [3.0, -2.0, 100.0],        # n1: b = 8, k = 0, q = 3, -2, 100
                  [-2.0, 1.0, -3.0],         # n2: b = 2, k = 1, q = -1, 0 (0.5 -> 0), -2 (-1.5 -> -2)
                  [6.0, -3.0, 7.0],          # n3: b = 3, k = 2, q = 2 (1.5 -> 2), -1, 2 (1.75 -> 2)
                  [-300.0, 5.0, 0.0]])       # n4: b = 8, k = 2, q = -75, 1 (1.25 -> 1), 0
    plan = plan_mixed(g, (2, 3), (8, 3, 2), lanes=2, num_features=3)
    return g, x, plan, quantize_mixed(x, plan, 0)


def test_tiny_example_bytes_by_hand():
    _, _, plan, mixed = tiny_example()
    # Engine order: class 0 (b = 8) n1, n4; class 5 (b = 3) n0, n3; class 6 (b = 2) n2.
    assert plan.perm.tolist() == [1, 4, 0, 3, 2]
    assert plan.inverse_perm.tolist() == [2, 0, 4, 3, 1]
    assert plan.node_width.tolist() == [8, 8, 3, 3, 2]
    assert plan.count.tolist() == [2, 0, 0, 0, 0, 2, 1, 0]
    assert plan.first.tolist() == [0, 2, 2, 2, 2, 2, 4, 5]
    assert plan.base.tolist() == [0, 4, 4, 4, 4, 4, 6, 7]
    assert mixed.words.tolist() == [
        [0x03, 0xFE],   # n1 group 0: 3, -2
        [0x64, 0x00],   # n1 group 1: 100, padding
        [0xB5, 0x01],   # n4 group 0: -75, 1
        [0x00, 0x00],   # n4 group 1: 0, padding
        [0x11, 0x04],   # n0 groups 0 (bits 0..2: 1, -4 = 0b100) and 1 (bits 3..5: 2 = 0b010, padding)
        [0x12, 0x07],   # n3 groups 0 (2, -1 = 0b111) and 1 (2, padding)
        [0x0B, 0x00],   # n2 groups 0 (bits 0..1: -1 = 0b11, 0) and 1 (bits 2..3: -2 = 0b10, padding); 2 slots free
    ]
    assert mixed.header.tolist() == [0x20, 0x20, 0x01]     # k = 0, 2 | 0, 2 | 1 (even engine node in the low nibble)
    assert decode_mixed_original(mixed).tolist() == [[1, -4, 2], [3, -2, 100], [-2, 0, -4], [8, -4, 8],
                                                     [-300, 4, 0]]
    assert [plan.location(n, g) for n in range(5) for g in range(2)] == [
        (0, 0), (1, 0), (2, 0), (3, 0), (4, 0), (4, 3), (5, 0), (5, 3), (6, 0), (6, 2)]
    assert [plan.class_of(n) for n in range(5)] == [0, 0, 5, 5, 6]


def test_tiny_example_byte_counts_by_hand():
    _, _, plan, mixed = tiny_example()
    assert mixed.byte_counts() == {
        "feature_bytes": 14, "header_bytes": 3, "table_bytes": 32, "total_bytes": 49, "int8_bytes": 15,
        "int16_bytes": 30, "fp32_bytes": 60, "avg_bits": (8 + 8 + 3 + 3 + 2) / 5, "stored_bits": 49 * 8 / 15,
        "int8_ratio": 15 / 49, "int16_ratio": 30 / 49, "fp32_ratio": 60 / 49}


def test_byte_counts_of_a_larger_case_by_hand():
    """100 nodes: 30 of degree 0 (8 bits), 50 of degree 4 (4 bits), 20 of degree 9 (2 bits); F = 7, lanes = 8.

    G = 1: 30 words of 8-bit nodes, ceil(50 / 2) = 25 of 4-bit and ceil(20 / 4) = 5 of 2-bit nodes, 60 words of 8
    bytes; 50 header bytes; 32 table bytes.
    """
    deg = [0] * 30 + [4] * 50 + [9] * 20
    g = CsrGraph(np.concatenate([[0], np.cumsum(deg)]), np.zeros(sum(deg), dtype=int), 100)
    plan = plan_mixed(g, (3, 8), (8, 4, 2), lanes=8, num_features=7)
    assert plan.num_words == 60
    assert (plan.feature_bytes, plan.header_bytes, plan.total_bytes) == (480, 50, 562)
    assert (plan.int8_bytes, plan.int16_bytes, plan.fp32_bytes) == (700, 1400, 2800)
    assert plan.avg_bits == (30 * 8 + 50 * 4 + 20 * 2) / 100
    # F = 16, G = 2: 30 * 2 + 50 * 2 / 2 + ceil(20 * 2 / 4) words (a node with words of its own, as in the first
    # draft of the format, would take 20 words for the 2-bit nodes instead of 10).
    assert plan_mixed(g, (3, 8), (8, 4, 2), lanes=8, num_features=16).num_words == 60 + 50 + 10
    # F = 32, G = 4, a multiple of every P here: the same words as a node with words of its own.
    assert plan_mixed(g, (3, 8), (8, 4, 2), lanes=8, num_features=32).num_words == 30 * 4 + 50 * 2 + 20 * 1


def test_decoder_reads_only_the_packed_bytes():
    _, x, plan, mixed = tiny_example()
    blank = dataclasses.replace(mixed, codes=np.zeros_like(mixed.codes), shifts=np.zeros_like(mixed.shifts))
    assert np.array_equal(decode_mixed(blank), decode_mixed(mixed))
    spoiled = dataclasses.replace(mixed, header=np.zeros_like(mixed.header))
    assert not np.array_equal(decode_mixed(spoiled), decode_mixed(mixed))


def test_widths_for_degrees_matches_loop():
    deg = np.arange(0, 30)
    for thresholds, widths in [((), (5,)), ((5, 8), (4, 2, 4)), (ALL_THRESHOLDS, ALL_WIDTHS), ((1, 20), (1, 7, 3))]:
        assert widths_for_degrees(deg, thresholds, widths).tolist() == ref_widths(deg.tolist(), thresholds, widths)
    assert widths_for_degrees(deg).tolist() == ref_widths(deg.tolist(), DEFAULT_THRESHOLDS, DEFAULT_WIDTHS)


def test_empty_and_single_node_graphs():
    empty = plan_mixed(CsrGraph([0], [], 0), lanes=4, num_features=3)
    mixed = quantize_mixed(np.zeros((0, 3)), empty, 8)
    assert decode_mixed(mixed).shape == (0, 3) and mixed.header.size == 0 and empty.total_bytes == 32
    one = plan_mixed(CsrGraph([0, 1], [0], 1), lanes=4, num_features=3)
    m1 = quantize_mixed(np.array([[0.5, -0.25, 0.0]]), one, 8)
    assert decode_mixed_original(m1).tolist() == [[128, -64, 0]] and m1.header.tolist() == [m1.shifts[0]]


# Relabelling.

def test_relabelling_keeps_csr_order_within_rows():
    g = random_graph(60, seed=7, max_degree=12)
    plan = plan_mixed(g, ALL_THRESHOLDS, ALL_WIDTHS, lanes=4, num_features=5)
    pg = permute_graph(g, plan)
    for i in range(g.num_nodes):
        old = plan.perm[i]
        old_cols = g.indices[g.indptr[old]:g.indptr[old + 1]]
        new_cols = pg.indices[pg.indptr[i]:pg.indptr[i + 1]]
        assert plan.perm[new_cols].tolist() == old_cols.tolist()
    assert np.array_equal(pg.in_degree, g.in_degree[plan.perm])
    assert np.all(np.diff(plan.node_width) <= 0)          # classes contiguous, widest first
    for b in range(1, 9):                                  # stable inside a class
        assert np.all(np.diff(plan.perm[plan.node_width == b]) > 0)


@pytest.mark.parametrize("op", GNN_OPS)
def test_aggregate_on_permuted_graph_equals_original(op):
    """Saturating 8-bit accumulator, so the order of each row's edges decides the result (checked as well)."""
    cfg = GnnConfig(format="int8", lanes=4, acc_width=8, weight_bits=8)
    rng = np.random.default_rng(3)
    g = random_graph(50, seed=11, max_degree=14)
    x = rng.integers(-128, 128, size=(50, 6))
    w = rng.integers(-128, 128, size=g.nnz)
    plan = plan_mixed(g, ALL_THRESHOLDS, ALL_WIDTHS, lanes=4, num_features=6)
    pg = permute_graph(CsrGraph(g.indptr, g.indices, 50, weights=w), plan)
    assert np.array_equal(pg.weights, w[edge_order(g, plan)])
    want = aggregate(cfg, g, x, op, weights=w)
    got = aggregate(cfg, pg, plan.to_engine(x), op, weights=pg.weights)
    assert np.array_equal(plan.to_original(got), want)
    if op != "max":
        # Not vacuous: the same rows with their edges reversed give other values somewhere.
        rev = np.concatenate([np.arange(g.indptr[r + 1] - 1, g.indptr[r] - 1, -1) for r in range(50)])
        flipped = CsrGraph(g.indptr, g.indices[rev], 50)
        assert not np.array_equal(aggregate(cfg, flipped, x, op, weights=w[rev]), want)


# The GCN with mixed-precision features.

@pytest.fixture(scope="module")
def trained():
    out = {}
    for name in ("cora", "citeseer"):
        ds = load_dataset(name)
        out[name] = (ds, gcn.train_gcn(ds))
    return out


def report(record_property, key, value):
    record_property(key, value)
    print(f"{key} = {value}")


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_gcn_accuracy_and_compression(request, record_property, trained, name):
    """Default widths: <= 4 bits on average, within 1.5 points of float64 (seed 0: Cora 0.820 -> 0.811, CiteSeer
    0.703 -> 0.700), and on Cora >= 7x fewer bytes than fp32 for both aggregation inputs (8.73x, 7.14x)."""
    ds, params = trained[name]
    reference = gcn.accuracy(gcn.gcn_forward(params, ds, gcn.float_aggregator(ds)), ds)
    agg = gcn.mixed_aggregator(GnnConfig(format="int16"), ds)
    acc = gcn.accuracy(gcn.gcn_forward(params, ds, agg), ds)
    report(record_property, f"{name}_float64_test_accuracy", reference)
    report(record_property, f"{name}_mixed_test_accuracy", acc)
    for layer in (0, 1):
        counts = agg.mixed[layer].byte_counts()
        report(record_property, f"{name}_mixed_layer{layer}_bytes", counts)
        assert counts["avg_bits"] <= 4.0
        if name == "cora" or layer == 0:
            assert counts["fp32_ratio"] >= 7.0, (layer, counts)
    assert agg.clipped == {0: 0, 1: 0}
    assert abs(acc - reference) <= 0.015, (acc, reference)


def test_gcn_mixed_engine_hook_and_error_bound(trained):
    """The engine gets the engine-order graph, weights and packed features; the encoding error per node is at most
    half its step, 2**(k - frac_bits - shift - 1)."""
    ds, params = trained["cora"]
    config = GnnConfig(format="int16")
    seen = []

    def engine(cfg, graph, mixed, op, weights=None):
        seen.append((graph, mixed, op, weights))
        return gcn.golden_mixed_engine(cfg, graph, mixed, op, weights=weights)

    h = np.asarray(gcn.preprocess_features(ds) @ params.w1)
    agg = gcn.mixed_aggregator(config, ds, engine=engine)
    got = agg(0, h)
    graph, mixed, op, weights = seen[0]
    plan = mixed.plan
    assert op == "weighted" and isinstance(mixed, MixedFeatures)
    assert np.array_equal(plan.to_original(plan.node_width),
                          widths_for_degrees(gcn.gcn_graph(ds).in_degree, DEFAULT_THRESHOLDS, DEFAULT_WIDTHS))
    assert np.array_equal(graph.indptr, permute_graph(gcn.gcn_graph(ds), plan).indptr)
    assert np.array_equal(weights, gcn_norm_weights(graph, config))        # the same weights, renumbered
    codes = decode_mixed(mixed)
    expect = gcn.decode_features(plan.to_original(aggregate(config, graph, codes, "weighted", weights=weights)),
                                 config, agg.shifts[0])
    assert np.array_equal(got, expect)
    shift = agg.shifts[0]
    assert shift == gcn.feature_shift(h, config, 1)
    back = gcn.decode_features(decode_mixed_original(mixed), config, shift)
    step = np.ldexp(1.0, plan.to_original(mixed.shifts.astype(np.int64)) - config.frac_bits - shift - 1)
    err = np.abs(back - h)
    assert (err <= step[:, None]).all()
    assert (err / step[:, None]).max() > 0.9                # the bound is reached, not vacuous


# Bad arguments.

@pytest.mark.parametrize("kwargs, error, message", [
    (dict(widths=(4, 9, 4)), InputError, r"^widths must be bit widths in 1\.\.8, not 9$"),
    (dict(widths=(0, 2, 4)), InputError, r"^widths must be bit widths in 1\.\.8, not 0$"),
    (dict(thresholds=(8, 5)), InputError, r"^thresholds must be strictly ascending, not \(8, 5\)$"),
    (dict(thresholds=(5, 5)), InputError, r"^thresholds must be strictly ascending, not \(5, 5\)$"),
    (dict(thresholds=(0, 5)), InputError, r"^thresholds must be in-degrees of at least 1, not \(0, 5\)$"),
    (dict(widths=(4, 2)), InputError,
     r"^widths must have one entry per degree group \(len\(thresholds\) \+ 1 = 3\), not 2$"),
    (dict(widths=(4, 2.0, 4)), InputTypeError, r"^widths must be a sequence of integers, not \(4, 2\.0, 4\)$"),
    (dict(thresholds=5), InputTypeError, r"^thresholds must be a sequence of integers, not 5$"),
    (dict(lanes=0), InputError, r"^lanes must be an integer in 1\.\.64, not 0$"),
    (dict(lanes=65), InputError, r"^lanes must be an integer in 1\.\.64, not 65$"),
    (dict(lanes=True), InputTypeError, r"^lanes must be an integer, not True$"),
    (dict(num_features=0), InputError, r"^num_features must be an integer at least 1, not 0$"),
])
def test_plan_rejects_bad_arguments(kwargs, error, message):
    g, _, _, _ = tiny_example()
    args = {"lanes": 2, "num_features": 3, **kwargs}
    with pytest.raises(error, match=message):
        plan_mixed(g, **args)


def test_other_functions_reject_bad_arguments():
    g, x, plan, mixed = tiny_example()
    with pytest.raises(InputTypeError, match=r"^graph must be a CsrGraph, not list$"):
        plan_mixed([0, 1], lanes=2, num_features=3)
    with pytest.raises(InputError, match=r"^frac_bits must be an integer in 0\.\.15, not 16$"):
        quantize_mixed(x, plan, 16)
    with pytest.raises(InputError, match=r"^x_float must be an array of the plan's shape \(5, 3\), not \(5, 4\)$"):
        quantize_mixed(np.zeros((5, 4)), plan, 0)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match=r"^x_float must be finite, not x_float\[3, 1\] = nan$"):
        quantize_mixed(bad, plan, 0)
    with pytest.raises(InputTypeError, match=r"^plan must be a MixedPlan, not dict$"):
        quantize_mixed(x, {}, 0)
    with pytest.raises(InputTypeError, match=r"^mixed must be a MixedFeatures, not ndarray$"):
        decode_mixed(x)
    with pytest.raises(InputError, match=r"^graph must have the plan's 5 nodes, not 2$"):
        permute_graph(CsrGraph([0, 0, 0], [], 2), plan)
    with pytest.raises(InputError, match=r"^in_degree must be non-negative, not -1$"):
        widths_for_degrees([3, -1])
    with pytest.raises(InputError, match=r"^node must be an integer in 0\.\.4, not 5$"):
        plan.location(5, 0)
    with pytest.raises(InputError, match=r"^group must be an integer in 0\.\.1, not 2$"):
        plan.location(0, 2)


def test_mixed_aggregator_rejects_bad_arguments(trained):
    ds, _ = trained["cora"]
    with pytest.raises(ValueError, match=r"^config\.format must be one of int16, mixed for mixed-precision features"):
        gcn.mixed_aggregator(GnnConfig(format="int8"), ds)
    with pytest.raises(InputError, match=r"^widths must be bit widths in 1\.\.8, not 12$"):
        gcn.mixed_aggregator(GnnConfig(format="int16"), ds, widths=(4, 12, 4))
    with pytest.raises(TypeError, match=r"^engine must be callable like golden_mixed_engine, not int$"):
        gcn.mixed_aggregator(GnnConfig(format="int16"), ds, engine=3)
