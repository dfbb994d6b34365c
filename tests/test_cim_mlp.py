"""The CiM engine's workload (pimgen/cim/mlp.py): the digits MLP, its quantisation, tiling and the tile's accuracy.

References computed here, independently of the code under test: Python-integer ``X @ W`` for the tiled products, a
coverage count of the blocks, and the quantisation rules of the module docstring re-derived from the float weights.
The tile is the golden model (``sw_model.cim.tile_vmm``, through ``golden_blocks``).

Training runs once per process (``train_mlp`` caches it, about 2 s). The accuracies are recorded as test properties
(``--junitxml``) and printed with ``-s``.
"""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from pimgen.cim import mlp
from pimgen.cim.config import CimConfig
from pimgen.errors import InputError

#: An exact-mode tile smaller than the network's layers (64 x 32 and 32 x 10) in both dimensions.
SMALL_EXACT = CimConfig(rows=16, cols=8, adc_bits=8, adcs=4)


@pytest.fixture(scope="module")
def data():
    return mlp.load_digits_split()


@pytest.fixture(scope="module")
def float_mlp(data):
    x_train, _, y_train, _ = data
    return mlp.train_mlp(x_train, y_train)


@pytest.fixture(scope="module")
def default_result():
    """The must-show: the default (non-exact) CimConfig, bit-serial inputs, 2-bit slices, an 8-bit ADC."""
    return mlp.digits_accuracy(CimConfig())


def _report(record_property, name, result):
    keys = ("float_accuracy", "ideal_accuracy", "tile_accuracy", "agreement", "clip_rate", "test_samples")
    for key in keys:
        record_property(f"{name}.{key}", result[key])
    print(f"{name}: " + ", ".join(f"{key} {result[key]:.4f}" if isinstance(result[key], float)
                                  else f"{key} {result[key]}" for key in keys))


def _random_codes(rng, config, shape, which):
    lo, hi = config.weight_range if which == "w" else config.input_range
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)


def _int_matmul(x, w):
    """``x @ w`` in Python integers (no overflow possible)."""
    xo, wo = x.astype(object), w.astype(object)
    return np.array(xo @ wo, dtype=object)


# Data and the float network.

def test_split_is_stratified_and_deterministic(data):
    x_train, x_test, y_train, y_test = data
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert x_train.min() == 0 and x_train.max() == 16
    share = np.bincount(np.concatenate([y_train, y_test])) * 0.2     # each class's share of the test set, +-1
    assert np.abs(np.bincount(y_test) - share).max() <= 1
    again = mlp.load_digits_split(0.2, 0)
    assert all(np.array_equal(a, b) for a, b in zip(data, again))
    other = mlp.load_digits_split(0.2, 1)
    assert not np.array_equal(other[3], y_test)


def test_float_accuracy(data, float_mlp, record_property):
    _, x_test, _, y_test = data
    acc = float(np.mean(float_mlp.predict(x_test) == y_test))
    record_property("float_accuracy", acc)
    print(f"float accuracy {acc:.4f}")
    assert float_mlp.layer_shapes == [(64, 32), (32, 10)]
    assert acc >= 0.95                                 # measured 0.9694 (seed 0)


def test_training_is_deterministic(data, float_mlp):
    x_train, _, y_train, _ = data
    mlp._train.cache_clear()
    again = mlp.train_mlp(x_train, y_train)
    assert again is not float_mlp
    for a, b in zip(again.weights + again.biases, float_mlp.weights + float_mlp.biases):
        assert np.array_equal(a, b)


# Quantisation.

@pytest.mark.parametrize("kwargs", [{}, {"weight_bits": 4, "input_bits": 5},
                                    {"input_encoding": "twos_complement", "weight_encoding": "offset"}])
def test_quantise_follows_the_documented_procedure(data, float_mlp, kwargs):
    x_train, x_test, _, _ = data
    config = CimConfig(**kwargs)
    quant = mlp.quantise(float_mlp, config, x_train)
    whi, ihi = config.weight_range[1], config.input_range[1]
    for layer, (w, b) in enumerate(zip(float_mlp.weights, float_mlp.biases)):
        s_w = np.abs(w).max() / whi
        assert quant.weight_scales[layer] == pytest.approx(s_w, rel=1e-15)
        assert np.array_equal(quant.weight_codes[layer], np.rint(w / s_w).astype(np.int64))
        assert np.abs(quant.weight_codes[layer]).max() == whi
        assert np.abs(quant.weight_codes[layer] * s_w - w).max() <= s_w / 2 * (1 + 1e-12)
        assert np.array_equal(quant.biases[layer], b)
    # Layer 0: pixels / 16 on 0..ihi; layer 1: the float ReLU activations' maximum over the calibration set.
    assert quant.input_scales[0] == pytest.approx(1 / ihi)
    assert np.array_equal(quant.quantise_inputs(0, x_test / 16), np.rint(x_test / 16 * ihi).astype(np.int64))
    hidden = np.maximum(x_train / 16 @ float_mlp.weights[0] + float_mlp.biases[0], 0)
    assert quant.input_scales[1] == pytest.approx(hidden.max() / ihi, rel=1e-15)
    codes = quant.quantise_inputs(1, hidden)
    assert codes.min() == 0 and codes.max() == ihi


def test_ideal_integer_within_one_point_of_float(data, float_mlp, record_property):
    x_train, x_test, _, y_test = data
    quant = mlp.quantise(float_mlp, CimConfig(weight_bits=8, input_bits=8), x_train)
    float_acc = float(np.mean(float_mlp.predict(x_test) == y_test))
    ideal_acc = float(np.mean(quant.predict(x_test) == y_test))
    record_property("ideal_accuracy_w8i8", ideal_acc)
    print(f"float {float_acc:.4f}, ideal-integer (Wb = Ib = 8) {ideal_acc:.4f}")
    assert abs(ideal_acc - float_acc) <= 0.01          # measured 0.9694 both


def test_forward_uses_only_the_vmm(data, float_mlp):
    """The integer primitive is the only product: the layer index, the codes' shapes and ranges are as documented,
    and a vmm returning ideal results doubled changes the logits as the scaling says."""
    x_train, x_test, _, _ = data
    config = CimConfig()
    quant = mlp.quantise(float_mlp, config, x_train)
    calls = []

    def spy(layer, w, x):
        calls.append((layer, w.shape, x.shape, x.min(), x.max()))
        return mlp.ideal_vmm(layer, w, x)
    logits = quant.forward(x_test[:7], spy)
    assert [c[:3] for c in calls] == [(0, (64, 32), (7, 64)), (1, (32, 10), (7, 32))]
    assert all(0 <= c[3] and c[4] <= config.input_range[1] for c in calls)
    assert logits.shape == (7, 10)
    assert np.array_equal(logits, quant.forward(x_test[:7]))
    with pytest.raises(InputError, match="vmm must return"):
        quant.forward(x_test[:3], lambda layer, w, x: np.zeros((3, 1), dtype=np.int64))


# Tiling.

@pytest.mark.parametrize("shape", [(37, 21), (16, 8), (5, 3), (64, 32), (33, 17)])
def test_blocks_cover_the_matrix_exactly_once(shape):
    blocks = mlp.tile_blocks(SMALL_EXACT, *shape)
    cover = np.zeros(shape, dtype=int)
    for b in blocks:
        assert 0 < b.row_stop - b.row_start <= SMALL_EXACT.rows and 0 < b.col_stop - b.col_start <= SMALL_EXACT.cols
        cover[b.row_start:b.row_stop, b.col_start:b.col_stop] += 1
    assert (cover == 1).all()
    assert len(blocks) == -(-shape[0] // 16) * -(-shape[1] // 8)


def test_block_padding():
    rng = np.random.default_rng(3)
    w = _random_codes(rng, SMALL_EXACT, (37, 21), "w")
    x = _random_codes(rng, SMALL_EXACT, (4, 37), "x")
    last = mlp.tile_blocks(SMALL_EXACT, 37, 21)[-1]
    assert last == mlp.TileBlock(32, 37, 16, 21)
    wp, xp = mlp.block_weights(SMALL_EXACT, last, w), mlp.block_inputs(SMALL_EXACT, last, x)
    assert wp.shape == (16, 8) and xp.shape == (4, 16) and wp.dtype == xp.dtype == np.int64
    assert np.array_equal(wp[:5, :5], w[32:, 16:]) and not wp[5:].any() and not wp[:, 5:].any()
    assert np.array_equal(xp[:, :5], x[:, 32:]) and not xp[:, 5:].any()


@pytest.mark.parametrize("shape", [(37, 21), (50, 8), (16, 19), (100, 30)])
@pytest.mark.parametrize("kwargs", [{}, {"input_encoding": "twos_complement", "weight_encoding": "offset",
                                         "adc_bits": 9}])
def test_tiled_vmm_is_exact_in_exact_mode(shape, kwargs):
    config = dataclasses.replace(SMALL_EXACT, **kwargs)
    assert config.is_exact
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    w = _random_codes(rng, config, shape, "w")
    x = _random_codes(rng, config, (9, shape[0]), "x")
    calls = []

    def run_blocks(blocks):
        calls.append(len(blocks))
        return mlp.golden_blocks(config)(blocks)
    y, stats = mlp.tiled_vmm(config, w, x, run_blocks)
    assert y.dtype == np.int64 and np.array_equal(y.astype(object), _int_matmul(x, w))
    blocks = len(mlp.tile_blocks(config, *shape))
    assert calls == [blocks]                           # one call with all blocks of the matrix
    assert stats == {"blocks": blocks, "clipped": 0,
                     "conversions": blocks * 9 * config.input_steps * config.weight_slices * config.cols}


def test_tiled_vmm_sums_partials_beyond_the_tile_output_range():
    """Each block's output saturates inside the tile; the sum of the blocks' partial outputs is taken in int64 on the
    host, so it may exceed the tile's output range."""
    config = CimConfig(rows=8, cols=4, adcs=1, output_bits=8, adc_bits=6, slice_bits=1, weight_bits=2,
                       input_bits=2)
    assert config.is_exact and config.output_range == (-128, 127)
    w = np.ones((64, 4), dtype=np.int64)
    x = np.ones((2, 64), dtype=np.int64)
    y, stats = mlp.tiled_vmm(config, w, x, mlp.golden_blocks(config))
    assert (y == 64).all() and stats["blocks"] == 8
    backend = [SimpleNamespace(y=np.full((2, 4), 127), conversions=5, clipped=1) for _ in range(8)]
    y, stats = mlp.tiled_vmm(config, w, x, lambda blocks: backend)
    assert (y == 8 * 127).all() and stats == {"blocks": 8, "conversions": 40, "clipped": 8}


# The network on the tile.

def test_exact_tile_equals_ideal_integer(record_property):
    """A tile smaller than both layers (16 + 4 blocks per inference) in exact mode: the same predictions as the
    ideal-integer network, image for image."""
    result = mlp.digits_accuracy(SMALL_EXACT)
    _report(record_property, "exact_16x8", result)
    assert result["blocks_per_layer"] == [16, 4] and result["vmms_per_inference"] == 20
    assert np.array_equal(result["tile_predictions"], result["ideal_predictions"])
    assert result["tile_accuracy"] == result["ideal_accuracy"] and result["clip_rate"] == 0.0
    assert result["test_samples"] == 360


@pytest.mark.parametrize("kwargs", [{"input_encoding": "twos_complement"}, {"weight_encoding": "offset"}])
def test_exact_tile_other_encodings(kwargs):
    config = CimConfig(adc_bits=9, **kwargs)
    assert config.is_exact
    result = mlp.digits_accuracy(config, limit=120)
    assert np.array_equal(result["tile_predictions"], result["ideal_predictions"])
    assert result["test_samples"] == 120


def test_default_tile_within_half_a_point_of_ideal(default_result, record_property):
    """The must-show: the default CimConfig (not exact mode: its 8-bit ADC holds +-127, while a bit-serial partial
    sum over 64 rows of 2-bit slices can reach +-192) classifies within 0.5 points of the ideal-integer network;
    the clip rate is reported."""
    result = default_result
    assert not CimConfig().is_exact
    _report(record_property, "default", result)
    assert result["blocks_per_layer"] == [1, 1] and result["vmms_per_inference"] == 2
    assert result["conversions"] == 2 * 360 * 7 * 4 * 32
    assert 0.0 <= result["clip_rate"] <= 1.0
    assert abs(result["tile_accuracy"] - result["ideal_accuracy"]) <= 0.005   # measured 0.9694 both, clip rate 0


def test_narrow_adc_clips_and_costs_accuracy(default_result, record_property):
    """The tile path really goes through the ADC: a 5-bit ADC clips some conversions and stays within a point of
    the ideal-integer network; a 4-bit one clips many and loses accuracy."""
    five = mlp.digits_accuracy(CimConfig(adc_bits=5))
    four = mlp.digits_accuracy(CimConfig(adc_bits=4))
    _report(record_property, "adc5", five)
    _report(record_property, "adc4", four)
    assert 0 < five["clip_rate"] < four["clip_rate"]
    assert abs(five["tile_accuracy"] - five["ideal_accuracy"]) <= 0.01      # measured 0.9694 both, 3.5 % clipped
    assert four["tile_accuracy"] < four["ideal_accuracy"] - 0.02           # measured 0.9194 vs 0.9694
    assert four["ideal_accuracy"] == default_result["ideal_accuracy"]


def test_digits_accuracy_is_deterministic(default_result):
    again = mlp.digits_accuracy(CimConfig())
    for key in ("float_accuracy", "ideal_accuracy", "tile_accuracy", "clip_rate", "conversions"):
        assert again[key] == default_result[key]
    assert np.array_equal(again["tile_predictions"], default_result["tile_predictions"])


# Bad arguments.

@pytest.mark.parametrize("call, name", [
    (lambda: mlp.load_digits_split(test_fraction=0), "test_fraction"),
    (lambda: mlp.load_digits_split(test_fraction=1.0), "test_fraction"),
    (lambda: mlp.load_digits_split(test_fraction="0.2"), "test_fraction"),
    (lambda: mlp.load_digits_split(seed=-1), "seed"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype=int), hidden=[32]), "hidden"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype=int), hidden=(0,)), "hidden"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype=int), hidden=(32.0,)), "hidden"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype=int), hidden=()), "hidden"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype=int), hidden=(True,)), "hidden"),
    (lambda: mlp.train_mlp(np.zeros((4, 63)), np.zeros(4, dtype=int)), "x_train"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(3, dtype=int)), "y_train"),
    (lambda: mlp.digits_accuracy(CimConfig(), limit=0), "limit"),
    (lambda: mlp.digits_accuracy(CimConfig(), limit=2.5), "limit"),
    (lambda: mlp.digits_accuracy(CimConfig(), limit=361),
     r"limit must be at most 360 \(the test images of the split\), not 361"),
    (lambda: mlp.digits_accuracy(TWOS_1BIT), "input codes above 0, so input_bits must be at least 2, not 1"),
    (lambda: mlp.train_mlp(np.zeros((4, 64), dtype="m8[s]"), np.zeros(4, dtype=int)), r"x_train must hold numbers"),
    (lambda: mlp.train_mlp(np.zeros((4, 64)), np.zeros(4, dtype="m8[s]")), "y_train"),
    (lambda: mlp.tiled_vmm(CimConfig(), np.zeros((4, 3), dtype="m8[s]"), np.zeros((2, 4), dtype=int), None), "w must"),
    (lambda: mlp.tiled_vmm(CimConfig(), np.zeros((4, 3), dtype=int), np.zeros((2, 4), dtype="m8[s]"), None), "x must"),
    (lambda: mlp.digits_accuracy(CimConfig(), hidden=32), "hidden"),
    (lambda: mlp.digits_accuracy(CimConfig(), test_fraction=1.5), "test_fraction"),
    (lambda: mlp.tile_blocks(CimConfig(), 0, 3), "in_features"),
    (lambda: mlp.tiled_vmm(CimConfig(), np.zeros((4, 3), dtype=int), np.zeros((2, 5), dtype=int), None), "x must"),
    (lambda: mlp.tiled_vmm(CimConfig(), np.zeros((4, 3)), np.zeros((2, 4), dtype=int), None), "w must"),
    (lambda: mlp.tiled_vmm(CimConfig(), np.zeros((4, 3), dtype=int), np.zeros((2, 4), dtype=int),
                           lambda blocks: []), "run_blocks"),
])
def test_bad_arguments(call, name):
    with pytest.raises(InputError, match=name):
        call()


#: 1-bit two's-complement inputs: codes -1..0, no positive code for the workload's non-negative inputs.
TWOS_1BIT = CimConfig(input_bits=1, dac_bits=1, input_encoding="twos_complement")


def test_one_bit_twos_complement_inputs_refused(float_mlp):
    """The largest input code is 0: the quantisation would divide by it (a ZeroDivisionError before); refused by
    quantise, naming the limit."""
    with pytest.raises(InputError, match=r"needs input codes above 0, so input_bits must be at least 2, not 1 "
                                         r"\(1-bit twos_complement codes are -1..0\)"):
        mlp.quantise(float_mlp, TWOS_1BIT, np.zeros((2, 64)))
    assert mlp.check_digits_config(CimConfig(input_bits=2, dac_bits=1, input_encoding="twos_complement"))


def test_limit_is_the_whole_test_set_at_most(data):
    assert len(data[1]) == 360
    assert mlp.digits_accuracy(CimConfig(adc_bits=12), limit=360)["test_samples"] == 360


def test_bad_quantise_arguments(float_mlp):
    with pytest.raises(InputError, match="percentile"):
        mlp.quantise(float_mlp, CimConfig(), np.zeros((2, 64)), percentile=0)
    with pytest.raises(InputError, match="x_calib must be"):
        mlp.quantise(float_mlp, CimConfig(), np.zeros((2, 8)))
    with pytest.raises(TypeError, match="CimConfig"):
        mlp.quantise(float_mlp, "cim", np.zeros((2, 64)))
