"""The host-side GCN of the hybrid path (sw_model/gcn.py): training, weight cache, aggregators and their bounds.

References computed here, independently of the code under test: a dense NumPy ``Â = D^-1/2 (A + I) D^-1/2`` built
from the CSR arrays with ``np.add.at``, a dense row normalisation of the features, and the per-element error bound
of the quantised aggregation derived from docs/gnn.md's rounding rules (input, weight and output rounding).

Training runs once per dataset (module fixtures, about a second each). The accuracies are recorded as test
properties (``--junitxml``) and printed with ``-s``.
"""

import dataclasses
import os

import numpy as np
import pytest

from pimgen.gnn.config import GnnConfig
from sw_model import gcn
from sw_model.datasets import load_dataset
from sw_model.gnn import aggregate, format_range, gcn_norm_weights

FORMATS = ("int8", "int16")


# Fixtures and references.

@pytest.fixture(scope="module")
def cora():
    return load_dataset("cora")


@pytest.fixture(scope="module")
def citeseer():
    return load_dataset("citeseer")


@pytest.fixture(scope="module")
def trained(cora, citeseer):
    """Parameters with the default hyperparameters, trained once per dataset (no cache)."""
    return {"cora": gcn.train_gcn(cora), "citeseer": gcn.train_gcn(citeseer)}


@pytest.fixture(scope="module")
def dense_a_hat(cora):
    return dense_normalized_adjacency(cora)


def dense_normalized_adjacency(ds):
    """``D^-1/2 (A + I) D^-1/2`` as a dense array, from the dataset's CSR arrays (rows = destinations)."""
    g = ds.graph
    n = g.num_nodes
    a = np.zeros((n, n))
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    np.add.at(a, (rows, g.indices), 1.0)
    a += np.eye(n)
    deg = a.sum(axis=1)
    return a / np.sqrt(np.outer(deg, deg))


def dense_row_normalized(ds):
    x = ds.features.toarray().astype(np.float64)
    s = x.sum(axis=1, keepdims=True)
    return np.where(s > 0, x / np.where(s > 0, s, 1.0), 0.0)


def report(record_property, key, value):
    record_property(key, value)
    print(f"{key} = {value}")


# Training.

def test_training_is_deterministic(cora, trained):
    again = gcn.train_gcn(cora)
    for name, arr in trained["cora"].arrays().items():
        assert np.array_equal(arr, getattr(again, name)), name
    other = gcn.train_gcn(cora, seed=1, epochs=5)
    assert not np.array_equal(other.w1, gcn.train_gcn(cora, seed=0, epochs=5).w1)


def test_params_record_hyperparameters(trained):
    p = trained["cora"]
    assert p.dataset == "cora" and p.hidden == 16 and p.num_classes == 7 and p.w1.shape == (1433, 16)
    assert p.hyper == dict(hidden=16, seed=0, epochs=200, lr=0.01, weight_decay=5e-4, dropout=0.5)
    assert not p.w1.flags.writeable


@pytest.mark.parametrize("name, floor", [("cora", 0.79), ("citeseer", 0.68)])
def test_float64_test_accuracy(request, record_property, name, floor, trained):
    ds = request.getfixturevalue(name)
    p = trained[name]
    acc = gcn.accuracy(gcn.gcn_forward(p, ds, gcn.float_aggregator(ds)), ds)
    report(record_property, f"{name}_float64_test_accuracy", acc)
    report(record_property, f"{name}_train_seconds", round(p.train_seconds, 2))
    assert acc >= floor
    assert gcn.accuracy(gcn.gcn_forward(p, ds, gcn.float_aggregator(ds)), ds, "train") > 0.9


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(hidden=0), ValueError, r"^hidden must be at least 1, not 0$"),
    (dict(hidden=1.5), TypeError, r"^hidden must be an integer, not 1\.5$"),
    (dict(seed=True), TypeError, r"^seed must be an integer, not True$"),
    (dict(epochs=-1), ValueError, r"^epochs must be at least 0, not -1$"),
    (dict(lr=0.0), ValueError, r"^lr must be in \(0\.0, inf\), not 0\.0$"),
    (dict(lr="fast"), TypeError, r"^lr must be a number, not 'fast'$"),
    (dict(weight_decay=-1e-4), ValueError, r"^weight_decay must be in \[0\.0, inf\), not -0\.0001$"),
    (dict(dropout=1.0), ValueError, r"^dropout must be in \[0\.0, 1\.0\), not 1\.0$"),
    (dict(dataset="pubmed"), ValueError, r"^dataset must be one of cora, citeseer, not 'pubmed'$"),
    (dict(dataset=42), TypeError, r"^dataset must be a Dataset or a dataset name, not int$"),
])
def test_train_rejects_bad_arguments(kwargs, error, message):
    kwargs = {"dataset": "cora", **kwargs}
    with pytest.raises(error, match=message):
        gcn.train_gcn(**kwargs)


# Weight cache.

@pytest.fixture
def counted_training(monkeypatch):
    """Count the calls of train_gcn made by load_or_train."""
    calls = []
    original = gcn.train_gcn

    def counting(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(gcn, "train_gcn", counting)
    return calls


def assert_same_params(a, b):
    for name, arr in a.arrays().items():
        assert np.array_equal(arr, getattr(b, name)), name
    assert a.hyper == b.hyper and a.dataset == b.dataset


def test_cache_round_trip(cora, tmp_path, counted_training):
    first = gcn.load_or_train(cora, cache_dir=tmp_path, epochs=3)
    path = gcn.cache_path("cora", tmp_path, epochs=3)
    assert path.is_file() and len(counted_training) == 1
    second = gcn.load_or_train(cora, cache_dir=tmp_path, epochs=3)
    assert len(counted_training) == 1                      # read back, not trained again
    assert_same_params(first, second)
    assert_same_params(first, gcn.train_gcn(cora, epochs=3))
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]   # no temporary file left behind


def test_cache_key_covers_dataset_hyperparameters_and_version(cora, tmp_path, monkeypatch):
    base = gcn.cache_path(cora, tmp_path, epochs=3)
    assert base == gcn.cache_path("cora", tmp_path, epochs=3, hidden=16, seed=0, lr=0.01)   # defaults filled in
    others = {gcn.cache_path("citeseer", tmp_path, epochs=3), gcn.cache_path("cora", tmp_path, epochs=4),
              gcn.cache_path("cora", tmp_path, epochs=3, seed=1), gcn.cache_path("cora", tmp_path, epochs=3, lr=0.02),
              gcn.cache_path("cora", tmp_path, epochs=3, dropout=0.0)}
    changed = dataclasses.replace(cora, labels=np.where(np.arange(cora.num_nodes) == 0, 1 - cora.labels, cora.labels))
    others.add(gcn.cache_path(changed, tmp_path, epochs=3))          # same name, other data
    monkeypatch.setattr(gcn, "CACHE_VERSION", gcn.CACHE_VERSION + 1)
    others.add(gcn.cache_path("cora", tmp_path, epochs=3))
    assert len(others) == 7 and base not in others
    with pytest.raises(TypeError, match=r"^unknown hyperparameter 'momentum'; train_gcn takes hidden, seed, epochs"):
        gcn.load_or_train("cora", tmp_path, epochs=3, momentum=0.9)


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("PIMGEN_CACHE_DIR", str(tmp_path))
    assert gcn.default_cache_dir() == tmp_path / "gcn"
    monkeypatch.delenv("PIMGEN_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert gcn.default_cache_dir() == tmp_path / "home" / ".cache" / "pimgen" / "gcn"


def _truncated(path, _):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garbage(path, _):
    path.write_bytes(b"this is not an npz file\n" * 10)


def _empty(path, _):
    path.write_bytes(b"")


def _other_key(path, tmp_path):
    other = gcn.cache_path("cora", tmp_path, epochs=4)
    gcn.load_or_train("cora", cache_dir=tmp_path, epochs=4)
    os.replace(other, path)


def _wrong_shapes(path, _):
    with np.load(path) as z:
        arrays = dict(z)
    arrays["w1"] = arrays["w1"][:, :3]
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _not_finite(path, _):
    with np.load(path) as z:
        arrays = dict(z)
    arrays["b2"] = np.full_like(arrays["b2"], np.nan)
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize("spoil", [_truncated, _garbage, _empty, _other_key, _wrong_shapes, _not_finite])
def test_corrupt_cache_is_retrained(cora, tmp_path, counted_training, spoil):
    good = gcn.load_or_train(cora, cache_dir=tmp_path, epochs=3)
    path = gcn.cache_path("cora", tmp_path, epochs=3)
    spoil(path, tmp_path)
    del counted_training[:]
    again = gcn.load_or_train(cora, cache_dir=tmp_path, epochs=3)
    assert len(counted_training) == 1
    assert_same_params(good, again)
    gcn.load_or_train(cora, cache_dir=tmp_path, epochs=3)      # the rewritten file is good again
    assert len(counted_training) == 1


# Aggregators.

def test_normalized_adjacency_matches_gcn_norm_weights(cora):
    """The float Â uses the graph and the float64 values that gcn_norm_weights quantises (within half a weight LSB)."""
    config = GnnConfig()
    graph = gcn.gcn_graph(cora)
    a_hat = gcn.normalized_adjacency(cora)
    assert np.array_equal(a_hat.indptr, graph.indptr) and np.array_equal(a_hat.indices, graph.indices)
    codes = gcn_norm_weights(graph, config)
    assert np.abs(codes / 2.0 ** config.weight_frac_bits - a_hat.data).max() <= 2.0 ** -(config.weight_frac_bits + 1)


def test_float_aggregator_equals_dense(cora, dense_a_hat, trained):
    agg = gcn.float_aggregator(cora)
    rng = np.random.default_rng(7)
    for h in (rng.standard_normal((cora.num_nodes, 16)),
              np.asarray(gcn.preprocess_features(cora) @ trained["cora"].w1)):
        ref = dense_a_hat @ h
        assert np.abs(agg(0, h) - ref).max() <= 1e-12 * max(1.0, np.abs(ref).max())


def test_forward_equals_dense_model(cora, dense_a_hat, trained):
    p = trained["cora"]
    x = dense_row_normalized(cora)
    h1 = np.maximum(dense_a_hat @ (x @ p.w1) + p.b1, 0.0)
    ref = dense_a_hat @ (h1 @ p.w2) + p.b2
    got = gcn.gcn_forward(p, cora, gcn.float_aggregator(cora))
    assert np.abs(got - ref).max() <= 1e-10


@pytest.mark.parametrize("name", ["cora", "citeseer"])
def test_quantized_accuracy(request, record_property, name, trained):
    """int16 is within 0.5 points of float64; int8 within 1.5 (seed 0: Cora 0.820 / 0.820 / 0.818)."""
    ds = request.getfixturevalue(name)
    p = trained[name]
    reference = gcn.accuracy(gcn.gcn_forward(p, ds, gcn.float_aggregator(ds)), ds)
    for fmt, slack in (("int16", 0.005), ("int8", 0.015)):
        agg = gcn.quantized_aggregator(GnnConfig(format=fmt), ds)
        acc = gcn.accuracy(gcn.gcn_forward(p, ds, agg), ds)
        report(record_property, f"{name}_{fmt}_test_accuracy", acc)
        report(record_property, f"{name}_{fmt}_shifts", dict(agg.shifts))
        report(record_property, f"{name}_{fmt}_codes_at_range_ends", dict(agg.saturated))
        assert abs(acc - reference) <= slack, (fmt, acc, reference)


def test_auto_headroom_never_saturates(citeseer, trained):
    """CiteSeer has a few outputs at the range end with headroom 0; "auto" headroom leaves none."""
    config = GnnConfig(format="int16")
    agg = gcn.quantized_aggregator(config, citeseer, headroom_bits="auto")
    graph = gcn.gcn_graph(citeseer)
    rowsum = np.bincount(graph.edge_rows(), weights=np.abs(gcn_norm_weights(graph, config)))
    assert agg.headroom_bits == (int(np.ceil(np.log2(rowsum.max() / 2 ** config.weight_frac_bits))),)
    gcn.gcn_forward(trained["citeseer"], citeseer, agg)
    assert agg.saturated == {0: 0, 1: 0}


@pytest.mark.parametrize("fmt", FORMATS)
def test_quantized_layer_within_error_bound(cora, dense_a_hat, trained, fmt):
    """Per element: weight rounding + input rounding + output rounding (docs/gnn.md), checked against dense Â h."""
    config = GnnConfig(format=fmt)
    h = np.asarray(gcn.preprocess_features(cora) @ trained["cora"].w1)
    agg = gcn.quantized_aggregator(config, cora)
    got = agg(0, h)
    assert agg.saturated == {0: 0}
    lsb = 2.0 ** -(config.frac_bits + agg.shifts[0])
    half_w = 2.0 ** -(config.weight_frac_bits + 1)
    pattern = (dense_a_hat > 0).astype(np.float64)
    bound = (half_w * (pattern @ np.abs(h))                                           # weight rounding
             + 0.5 * lsb * (dense_a_hat.sum(axis=1) + half_w * pattern.sum(axis=1))[:, None]   # input rounding
             + 0.5 * lsb)                                                             # output rounding
    err = np.abs(got - dense_a_hat @ h)
    assert (err <= bound).all()
    assert (err / bound).max() > 0.25            # the bound is not vacuous


def test_engine_hook_gets_the_codes_and_returns_through_the_decoder(cora, trained):
    """What the RTL path plugs in: an engine with the golden's signature sees the encoded codes and GCN weights."""
    config = GnnConfig(format="int16")
    seen = []

    def engine(cfg, graph, codes, op, weights=None):
        seen.append((cfg, graph, codes, op, weights))
        return aggregate(cfg, graph, codes, op, weights=weights)

    h = np.asarray(gcn.preprocess_features(cora) @ trained["cora"].w1)
    hooked = gcn.quantized_aggregator(config, cora, engine=engine)
    got = hooked(0, h)
    cfg, graph, codes, op, weights = seen[0]
    assert cfg is config and op == "weighted"
    assert graph.nnz == cora.graph.nnz + cora.num_nodes
    assert np.array_equal(weights, gcn_norm_weights(graph, config))
    assert np.array_equal(codes, gcn.encode_features(h, config, hooked.shifts[0]))
    assert np.array_equal(got, gcn.decode_features(aggregate(config, graph, codes, "weighted", weights=weights),
                                                   config, hooked.shifts[0]))
    assert np.array_equal(got, gcn.quantized_aggregator(config, cora)(0, h))


def test_mixed_precision_per_layer(cora, trained):
    configs = (GnnConfig(format="int8"), GnnConfig(format="int16"))
    agg = gcn.quantized_aggregator(configs, cora)
    acc = gcn.accuracy(gcn.gcn_forward(trained["cora"], cora, agg), cora)
    reference = gcn.accuracy(gcn.gcn_forward(trained["cora"], cora, gcn.float_aggregator(cora)), cora)
    assert abs(acc - reference) <= 0.015
    assert agg.configs == configs and set(agg.shifts) == {0, 1}


def test_aggregator_and_params_reject_bad_arguments(cora):
    with pytest.raises(ValueError, match=r"^config must be a GnnConfig or a non-empty sequence of them"):
        gcn.quantized_aggregator((), cora)
    with pytest.raises(TypeError, match=r"^config must be a GnnConfig, not str$"):
        gcn.quantized_aggregator(["int8"], cora)
    with pytest.raises(TypeError, match=r"^engine must be callable like sw_model.gnn.aggregate, not str$"):
        gcn.quantized_aggregator(GnnConfig(), cora, engine="rtl")
    with pytest.raises(ValueError, match=r"^GcnParams shapes disagree: w1 \(4, 3\), b1 \(2,\), w2 \(3, 2\), b2"):
        gcn.GcnParams(np.zeros((4, 3)), np.zeros(2), np.zeros((3, 2)), np.zeros(2), dataset="cora")
    with pytest.raises(ValueError, match=r"^GcnParams needs w1, w2 as 2-D and b1, b2 as 1-D arrays$"):
        gcn.GcnParams(np.zeros(4), np.zeros(2), np.zeros((3, 2)), np.zeros(2), dataset="cora")


def test_unsupported_format_names_the_supported_ones(cora, monkeypatch):
    monkeypatch.delitem(gcn._CODECS, "int8")
    config = GnnConfig(format="int8")
    message = r"^the GCN quantiser handles formats int16, fp16, not 'int8'$"
    for call in (lambda: gcn.encode_features(np.zeros((2, 2)), config, 0),
                 lambda: gcn.decode_features(np.zeros((2, 2), dtype=np.int64), config, 0),
                 lambda: gcn.feature_shift(np.zeros((2, 2)), config),
                 lambda: gcn.quantized_aggregator(config, cora)):
        with pytest.raises(NotImplementedError, match=message):
            call()


# The quantiser and dequantiser.

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("headroom", [0, 2])
@pytest.mark.parametrize("scale", [1e-6, 0.3, 1.0, 7e4])
def test_round_trip_error_bound(fmt, headroom, scale):
    config = GnnConfig(format=fmt)
    lo, hi = format_range(config)
    h = np.random.default_rng(3).standard_normal((200, 9)) * scale
    shift = gcn.feature_shift(h, config, headroom)
    top = np.abs(h).max() * 2.0 ** (shift + config.frac_bits + headroom)
    assert hi / 2 < top <= hi                    # the largest shift that fits
    codes = gcn.encode_features(h, config, shift)
    assert codes.dtype == np.int64 and lo <= codes.min() and codes.max() <= hi
    assert np.abs(codes).max() <= (hi >> headroom) + 1
    err = np.abs(gcn.decode_features(codes, config, shift) - h)
    half_lsb = 2.0 ** -(config.frac_bits + shift + 1)
    assert err.max() <= half_lsb
    assert err.max() > 0.9 * half_lsb            # tight for this many random values


@pytest.mark.parametrize("fmt", FORMATS)
def test_shift_at_exact_powers_of_two(fmt):
    """max|h| on a power of two, and on the largest code itself: the shift still never clips."""
    config = GnnConfig(format=fmt)
    _, hi = format_range(config)
    for top in (1.0, 2.0 ** -20, 2.0 ** 20, hi / 2.0 ** config.frac_bits, (hi + 1) / 2.0 ** config.frac_bits):
        h = np.array([[top, -top / 3]])
        shift = gcn.feature_shift(h, config)
        assert hi / 2 < top * 2.0 ** (shift + config.frac_bits) <= hi
        assert gcn.encode_features(h, config, shift)[0, 0] <= hi
    assert gcn.feature_shift(np.array([[hi / 2.0 ** config.frac_bits]]), config) == 0


def test_zero_features_and_bad_input():
    config = GnnConfig()
    zeros = np.zeros((3, 4))
    assert gcn.feature_shift(zeros, config) == 0
    assert not gcn.encode_features(zeros, config, 0).any()
    with pytest.raises(ValueError, match=r"^h must be finite, but h\[1, 2\] = nan$"):
        gcn.feature_shift(np.where(np.arange(12).reshape(3, 4) == 6, np.nan, 1.0), config)
    with pytest.raises(ValueError, match=r"^h must be a 2-D array \(nodes x features\), not an array of shape \(4,\)$"):
        gcn.encode_features(np.ones(4), config, 0)
    with pytest.raises(ValueError, match=r"^headroom_bits must be at least 0, not -1$"):
        gcn.feature_shift(zeros, config, -1)
    with pytest.raises(TypeError, match=r"^headroom_bits must be an integer or \"auto\", not 'max'$"):
        gcn.quantized_aggregator(config, "cora", headroom_bits="max")
    with pytest.raises(TypeError, match=r"^config must be a GnnConfig, not dict$"):
        gcn.encode_features(zeros, {}, 0)


# Inference checks and the metric.

def test_forward_rejects_mismatches(cora, citeseer, trained):
    with pytest.raises(ValueError, match=r"^params \(1433 input features, 7 classes\) do not fit dataset citeseer"):
        gcn.gcn_forward(trained["cora"], citeseer, gcn.float_aggregator(citeseer))
    with pytest.raises(ValueError, match=r"^aggregate\(layer=0\) must return shape \(2708, 16\), not \(2708, 15\)$"):
        gcn.gcn_forward(trained["cora"], cora, lambda layer, h: h[:, 1:])
    with pytest.raises(TypeError, match=r"^aggregate must be callable"):
        gcn.gcn_forward(trained["cora"], cora, None)


def test_accuracy(cora):
    onehot = np.eye(cora.num_classes)[cora.labels]
    assert gcn.accuracy(onehot, cora) == 1.0
    wrong = np.roll(onehot, 1, axis=1)
    assert gcn.accuracy(wrong, cora, "train") == 0.0
    mask = np.zeros(cora.num_nodes, dtype=bool)
    mask[:4] = True
    half = onehot.copy()
    half[:2] = wrong[:2]
    assert gcn.accuracy(half, cora, mask) == 0.5
    with pytest.raises(ValueError, match=r"^mask must be train, val, test or a boolean array, not 'all'$"):
        gcn.accuracy(onehot, cora, "all")
    with pytest.raises(ValueError, match=r"^logits must have shape \(2708, 7\), not \(2708, 6\)$"):
        gcn.accuracy(onehot[:, :6], cora)
