"""Every bad input at the boundary raises with a message that names the parameter, the limit and the value."""

import numpy as np
import pytest
import scipy.sparse

from pimgen.gnn.config import GnnConfig
from sw_model.datasets import load_dataset, project_features
from sw_model.gnn import aggregate, check_codes, check_fits, check_weight_codes, gcn_norm_weights, quantize
from sw_model.graphs import CsrGraph, from_scipy, random_graph


def small_graph():
    return CsrGraph([0, 2, 3, 3], [1, 2, 0])


# CsrGraph.

@pytest.mark.parametrize("indptr, indices, match", [
    ([0, 2, 1, 3], [0, 1, 2], r"indptr must be non-decreasing, but indptr\[2\] = 1 < indptr\[1\] = 2"),
    ([0, 3, 7, 3, 5, 5], [0] * 5, r"indptr must be non-decreasing, but indptr\[3\] = 3 < indptr\[2\] = 7"),
    ([1, 2, 3], [0, 1], r"indptr\[0\] must be 0, not 1"),
    ([], [], r"indptr must have at least one entry"),
    ([0, 2, 5], [0, 1, 1, 0], r"indptr\[-1\] must equal len\(indices\) \(length mismatch\): "
                              r"indptr\[-1\] = 5, len\(indices\) = 4"),
    ([0, 1, 2], [0, 1, 0], r"length mismatch\): indptr\[-1\] = 2, len\(indices\) = 3"),
    ([0, 1, 3], [0, -1, 1], r"indices must be node numbers in 0\.\.1, but edge 1 \(row 1\) has column -1"),
    ([0, 1, 3], [0, 1, 2], r"indices must be node numbers in 0\.\.1, but edge 2 \(row 1\) has column 2"),
    ([0.0, 1.0], [0], r"indptr must be a 1-D integer array, not an array of dtype float64"),
    ([0, 1], [0.5], r"indices must be a 1-D integer array, not an array of dtype float64"),
    ([[0, 1]], [0], r"indptr must be a 1-D integer array, not an array of shape \(1, 2\)"),
])
def test_bad_csr_raises(indptr, indices, match):
    with pytest.raises(ValueError, match=match):
        CsrGraph(indptr, indices)


def test_num_nodes_must_match_indptr():
    with pytest.raises(ValueError, match=r"num_nodes must equal len\(indptr\) - 1 = 3, not 4"):
        CsrGraph([0, 2, 3, 3], [1, 2, 0], num_nodes=4)
    with pytest.raises(TypeError, match=r"num_nodes must be an integer, not '3'"):
        CsrGraph([0, 2, 3, 3], [1, 2, 0], num_nodes="3")


def test_weights_length_mismatch():
    with pytest.raises(ValueError, match=r"weights must have one entry per edge \(length mismatch\): "
                                         r"len\(weights\) = 2, len\(indices\) = 3"):
        CsrGraph([0, 2, 3, 3], [1, 2, 0], weights=[1, 2])


def test_graph_is_read_only():
    g = small_graph()
    with pytest.raises(ValueError):
        g.indices[0] = 2
    with pytest.raises(AttributeError):
        g.num_nodes = 5


def test_self_loop_weight_rules():
    with pytest.raises(ValueError, match=r"loop_weight must be given exactly when the graph has weights; "
                                         r"this graph has weights"):
        CsrGraph([0, 1], [0], weights=[3]).with_self_loops()
    with pytest.raises(ValueError, match=r"this graph has no weights"):
        small_graph().with_self_loops(loop_weight=1)


def test_from_scipy_checks():
    with pytest.raises(TypeError, match=r"mat must be a scipy.sparse matrix, not ndarray"):
        from_scipy(np.eye(3))
    with pytest.raises(ValueError, match=r"mat must be square \(an adjacency matrix\), not of shape \(2, 3\)"):
        from_scipy(scipy.sparse.csr_matrix(np.ones((2, 3))))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(num_nodes=0, avg_degree=2, seed=0), ValueError, r"num_nodes must be an integer in 1\.\."),
    (dict(num_nodes=10, avg_degree=0.5, seed=0), ValueError, r"avg_degree must be a finite number >= 1, not 0.5"),
    (dict(num_nodes=10, avg_degree=2, seed=0, empty_rows=6, isolated_nodes=5), ValueError,
     r"empty_rows \+ isolated_nodes must be at most num_nodes \(10\), not 6 \+ 5"),
    (dict(num_nodes=10.0, avg_degree=2, seed=0), TypeError, r"num_nodes must be an integer, not 10.0"),
])
def test_random_graph_checks(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        random_graph(**kwargs)


# Features and weights.

@pytest.mark.parametrize("fmt, x, match", [
    ("int8", [[0, 1], [128, 0]], r"features must be int8 codes in -128\.\.127, but features\[1, 0\] = 128"),
    ("int8", [[0, -129], [128, 0]], r"features\[0, 1\] = -129"),
    ("int16", [[0, -32769]], r"features must be int16 codes in -32768\.\.32767, but features\[0, 1\] = -32769"),
    ("int16", [[0.0, 1.0]], r"features must hold integer codes \(int16\), not dtype float64"),
    ("int8", [[True, False]], r"features must hold integer codes \(int8\), not dtype bool"),
    ("int8", [0, 1], r"features must be a 2-D integer array, not an array of shape \(2,\)"),
])
def test_bad_feature_codes(fmt, x, match):
    with pytest.raises(ValueError, match=match):
        check_codes(np.array(x), GnnConfig(format=fmt))


def test_uint64_features_out_of_range():
    with pytest.raises(ValueError, match=r"features\[0, 0\] = 18446744073709551615"):
        check_codes(np.array([[2 ** 64 - 1]], dtype=np.uint64), GnnConfig(format="int16"))


def test_bad_weight_codes():
    cfg = GnnConfig(weight_bits=8)
    with pytest.raises(ValueError, match=r"weights must be signed 8-bit codes in -128\.\.127, but weights\[2\] = 200"):
        check_weight_codes(np.array([1, 2, 200]), cfg)
    with pytest.raises(ValueError, match=r"weights must hold integer codes \(signed 8-bit\), not dtype float64"):
        check_weight_codes(np.array([0.5]), cfg)


def test_aggregate_checks_features_and_rows():
    cfg, g = GnnConfig(format="int8", lanes=1, max_features=4), small_graph()
    with pytest.raises(ValueError, match=r"features must be int8 codes in -128\.\.127, but features\[2, 0\] = 128"):
        aggregate(cfg, g, np.array([[0], [1], [128]]), "sum")
    with pytest.raises(ValueError, match=r"features must hold integer codes \(int8\), not dtype float32"):
        aggregate(cfg, g, np.zeros((3, 1), dtype=np.float32), "sum")
    with pytest.raises(ValueError, match=r"features must have one row per node \(3\), not 2"):
        aggregate(cfg, g, np.zeros((2, 1), dtype=np.int8), "sum")


def test_weighted_needs_valid_weights():
    cfg, g, x = GnnConfig(format="int8", lanes=1, max_features=4), small_graph(), np.ones((3, 1), dtype=np.int8)
    with pytest.raises(ValueError, match=r"the weighted op needs edge weights"):
        aggregate(cfg, g, x, "weighted")
    with pytest.raises(ValueError, match=r"weights must have one entry per edge \(length mismatch\): "
                                         r"len\(weights\) = 2, nnz = 3"):
        aggregate(cfg, g, x, "weighted", weights=np.array([1, 2]))
    with pytest.raises(ValueError, match=r"weights\[0\] = -32769"):
        aggregate(cfg, g, x, "weighted", weights=np.array([-32769, 0, 0]))


@pytest.mark.parametrize("op", ["avg", "SUM", "", None])
def test_unknown_op(op):
    cfg, g = GnnConfig(format="int8", lanes=1, max_features=4), small_graph()
    with pytest.raises(ValueError, match=r"op must be one of sum, mean, max, weighted, not "):
        aggregate(cfg, g, np.zeros((3, 1), dtype=np.int8), op)
    with pytest.raises(ValueError, match=r"op must be one of sum, mean, max, weighted"):
        check_fits(cfg, g, 1, op)


def test_wrong_types_at_the_boundary():
    g = small_graph()
    with pytest.raises(TypeError, match=r"config must be a GnnConfig, not dict"):
        aggregate({}, g, np.zeros((3, 1), dtype=np.int8), "sum")
    with pytest.raises(TypeError, match=r"graph must be a CsrGraph, not tuple"):
        aggregate(GnnConfig(), (g.indptr, g.indices), np.zeros((3, 1), dtype=np.int8), "sum")
    with pytest.raises(TypeError, match=r"num_features must be an integer, not 2.0"):
        check_fits(GnnConfig(), g, 2.0, "sum")


def test_unknown_dataset():
    with pytest.raises(ValueError, match=r"dataset must be one of cora, citeseer, not 'pubmed'"):
        load_dataset("pubmed")


def test_project_features_checks():
    with pytest.raises(ValueError, match=r"num_features must be at least 1, not 0"):
        project_features(np.ones((2, 3)), 0, seed=0)


def test_quantize_checks():
    with pytest.raises(ValueError, match=r"frac_bits must be an integer in 0\.\.7, not 8"):
        quantize(np.zeros(2), 8, 8)
    with pytest.raises(ValueError, match=r"bits must be an integer in 2\.\.62, not 1"):
        quantize(np.zeros(2), 0, 1)


def test_gcn_weights_need_source_degree():
    with pytest.raises(ValueError, match=r"gcn_norm_weights needs every source node to have in-degree >= 1 "
                                         r"\(use with_self_loops\(\)\), but edge 1 \(row 0\) comes from node 2 "
                                         r"with in-degree 0"):
        gcn_norm_weights(small_graph(), GnnConfig())


# Graph too large for the config.

def test_too_many_nodes():
    cfg = GnnConfig(max_nodes=4)
    g = CsrGraph(np.zeros(6, dtype=int), [])
    with pytest.raises(ValueError, match=r"5 nodes > max_nodes \(--max-nodes\) = 4"):
        check_fits(cfg, g, 1, "sum")
    with pytest.raises(ValueError, match=r"max_nodes \(--max-nodes\) = 4"):
        aggregate(cfg, g, np.zeros((5, 1), dtype=np.int16), "sum")


def test_too_many_edges():
    cfg = GnnConfig(max_edges=2)
    with pytest.raises(ValueError, match=r"3 edges > max_edges \(--max-edges\) = 2"):
        check_fits(cfg, small_graph(), 1, "max")


@pytest.mark.parametrize("num_features, match", [
    (0, r"features per node must be at least 1, not 0"),
    (9, r"9 features per node > max_features \(--max-features\) = 8"),
])
def test_features_outside_limit(num_features, match):
    cfg = GnnConfig(lanes=4, max_features=8)
    with pytest.raises(ValueError, match=match):
        check_fits(cfg, small_graph(), num_features, "sum")
    if num_features:
        with pytest.raises(ValueError, match=match):
            aggregate(cfg, small_graph(), np.zeros((3, num_features), dtype=np.int16), "sum")


def test_every_exceeded_limit_in_one_message():
    cfg = GnnConfig(lanes=4, max_nodes=2, max_edges=2, max_features=4, max_degree=1)
    with pytest.raises(ValueError, match=r"3 nodes > max_nodes .* = 2; 3 edges > max_edges .* = 2; 5 features per "
                                         r"node > max_features .* = 4; row 2 has in-degree 2 > max_degree"):
        check_fits(cfg, CsrGraph([0, 0, 1, 3], [0, 1, 2]), 5, "mean")


def test_degree_too_large_for_mean_only():
    cfg = GnnConfig(max_degree=2)
    g = CsrGraph([0, 1, 4, 4], [0, 0, 1, 2])
    with pytest.raises(ValueError, match=r"row 1 has in-degree 3 > max_degree \(--max-degree\) = 2 "
                                         r"\(the largest degree the mean op's reciprocal table holds\)"):
        check_fits(cfg, g, 1, "mean")
    for op in ("sum", "max"):
        check_fits(cfg, g, 1, op)                  # the limit is the mean op's table only


# GnnConfig.

@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(lanes=0), ValueError, r"lanes must be an integer in 1\.\.64, not 0"),
    (dict(lanes=-1), ValueError, r"lanes.*-1"),
    (dict(lanes="4"), TypeError, r"lanes must be an integer, not '4'"),
    (dict(format="int32"), ValueError, r"format must be one of int8, int16, fp16, mixed, not 'int32'"),
    (dict(format="fp16", frac_bits=4), ValueError, r"frac_bits does not apply to format fp16"),
    (dict(format="int8", fp32_acc=True), ValueError, r"fp32_acc applies to format fp16 only, not int8"),
    (dict(format="int8", frac_bits=8), ValueError, r"frac_bits must be an integer in 0\.\.7, not 8"),
    (dict(format="int16", frac_bits=16), ValueError, r"frac_bits must be an integer in 0\.\.15, not 16"),
    (dict(format="int16", acc_width=15), ValueError, r"acc_width must be an integer in 16\.\.44, not 15"),
    (dict(format="int8", acc_width=7), ValueError, r"acc_width must be an integer in 8\.\.44, not 7"),
])
def test_config_errors(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        GnnConfig(**kwargs)


def test_config_accepts_numpy_integers():
    cfg = GnnConfig(lanes=np.int64(8), max_nodes=np.int32(100))
    assert cfg.lanes == 8 and type(cfg.lanes) is int
    assert cfg.config_hash == GnnConfig(lanes=8, max_nodes=100).config_hash


def test_config_replace_derives_defaults_again():
    """``dataclasses.replace`` re-derives the parameters the caller did not give, and keeps the ones given."""
    import dataclasses
    cfg = GnnConfig(format="int16")
    assert (cfg.frac_bits, cfg.acc_width) == (8, 40)
    int8 = dataclasses.replace(cfg, format="int8")
    assert (int8.frac_bits, int8.acc_width) == (4, 32)
    assert int8 == GnnConfig(format="int8")
    assert int8.config_hash == GnnConfig(format="int8").config_hash
    given = dataclasses.replace(GnnConfig(frac_bits=3), format="int8")
    assert given.frac_bits == 3
    assert dataclasses.replace(GnnConfig(weight_bits=10), weight_bits=12).weight_frac_bits == 10


def test_config_error_names_the_parameter():
    from pimgen.config import ConfigError
    with pytest.raises(ConfigError) as info:
        GnnConfig(frac_bits=20)
    assert info.value.param == "frac_bits"


def test_config_memory_limit():
    """A config whose memories exceed what pimgen generates is refused up front, naming the limit."""
    with pytest.raises(ValueError, match=r"would hold \d+ bits, more than the 33554432 \(32 Mbit\)"):
        GnnConfig(max_nodes=65536, max_features=1024, lanes=1)
