"""The SNN engine's digits workload (pimgen/snn/digits.py): conversion, coding, decoding and the accuracy must-show.

References computed here, independently of the code under test: the conversion re-derived from the float ANN's
weights and activations, the rate code's spike counts, and a batched integer LIF over the logical network (dense
matrices, written from docs/snn.md) whose decisions must equal those of the compiler + golden model path.

Training runs once per process (``train_mlp`` caches it, about 3 s); the must-show evaluates all 360 test images on
the golden model (about 3 s). The accuracies are recorded as test properties (``--junitxml``) and printed with ``-s``.
"""

from types import SimpleNamespace

import numpy as np
import pytest

from pimgen.errors import InputError, InputTypeError
from pimgen.snn import digits
from pimgen.snn.compiler import compile_network
from pimgen.snn.config import SnnConfig

#: The must-show's config: the default SnnConfig (4 cores of 64 neurons and 128 axons, 8-bit weights, 16-bit
#: potentials).
CONFIG = SnnConfig()


@pytest.fixture(scope="module")
def snn():
    return digits.digits_snn(CONFIG)


@pytest.fixture(scope="module")
def result(snn):
    return snn.evaluate()


def reference_outputs(config, network, rasters):
    """Batched integer LIF over the logical network (docs/snn.md): ``{population: bool [V, steps, size]}`` for input
    rasters ``{input: bool [V, steps, size]}``. Populations are stepped in a topological order of the zero-delay
    projections; a projection of delay ``d`` adds the source's spikes of step ``t - d``."""
    lo, hi = -(1 << (config.potential_bits - 1)), (1 << (config.potential_bits - 1)) - 1
    runs, steps = next(iter(rasters.values())).shape[:2]
    spikes = {name: np.asarray(r, dtype=bool) for name, r in rasters.items()}
    order, done = [], set(rasters)
    while len(order) < len(network.populations):
        for pop in network.populations:
            if pop.name not in done and all(p.source in done for p in network.projections
                                            if p.target == pop.name and p.delay == 0):
                order.append(pop)
                done.add(pop.name)
    for pop in order:
        spikes[pop.name] = np.zeros((runs, steps, pop.size), dtype=bool)
    v = {pop.name: np.zeros((runs, pop.size), dtype=np.int64) for pop in order}
    for t in range(steps):
        for pop in order:
            current = np.zeros((runs, pop.size), dtype=np.int64)
            for proj in network.projections:
                if proj.target == pop.name and t - proj.delay >= 0:
                    current += spikes[proj.source][:, t - proj.delay].astype(np.int64) @ proj.weights
            u = v[pop.name] - (v[pop.name] >> pop.leak) + pop.bias + current
            u = np.clip(u, lo, hi)
            fired = u >= pop.threshold
            v[pop.name] = np.where(fired, 0 if pop.reset == "zero" else u - pop.threshold, u)
            spikes[pop.name][:, t] = fired
    return spikes


def reference_class(raster):
    """Most spikes, then earliest first spike, then lowest index, for one bool [steps, 10] raster (plain Python)."""
    best = None
    for n in range(raster.shape[1]):
        times = [t for t in range(raster.shape[0]) if raster[t, n]]
        key = (-len(times), times[0] if times else raster.shape[0], n)
        best = key if best is None or key < best else best
    return best[2]


def _report(record_property, name, res):
    keys = ("ann_accuracy", "snn_accuracy", "agreement", "test_samples", "silent", "ties")
    for key in keys:
        record_property(f"{name}.{key}", res[key])
    print(f"{name}: " + ", ".join(f"{key} {res[key]:.4f}" if isinstance(res[key], float) else f"{key} {res[key]}"
                                  for key in keys)
          + "; spikes per image " + ", ".join(f"{k} {v:.1f}" for k, v in res["spikes_per_image"].items())
          + "; activity " + ", ".join(f"{k} {v}" for k, v in res["activity"].items()))


# The must-show.

def test_snn_accuracy_within_two_points_of_the_ann(snn, result, record_property):
    """All 360 test images through compile_network + sw_model.snn.simulate: the SNN is within 2 points of its ANN."""
    _report(record_property, "digits_snn", result)
    assert result["test_samples"] == 360
    assert result["ann_accuracy"] == snn.ann_accuracy > 0.95
    assert result["snn_accuracy"] >= result["ann_accuracy"] - 0.02
    assert result["cores_used"] == 3 <= CONFIG.cores
    assert result["silent"] == 0


def test_golden_path_equals_reference_over_the_network(snn, result):
    """The independent reference over the logical network decides every test image as the golden path did."""
    _, x_test, _, y_test = snn.split()
    rasters = digits.rate_code(x_test, snn.steps)
    outputs = reference_outputs(CONFIG, snn.network, {"pixels": rasters})["output"]
    classes = np.array([reference_class(r) for r in outputs])
    assert np.array_equal(classes, result["snn_predictions"])
    assert np.array_equal(result["labels"], y_test)
    # The activity the golden counted: every population's spikes, and the input source's.
    assert result["spikes_per_image"]["pixels"] == pytest.approx(rasters.sum() / len(y_test))
    assert result["spikes_per_image"]["output"] == pytest.approx(outputs.sum() / len(y_test))
    assert result["activity"]["output_spikes"] == round(sum(result["spikes_per_image"][p] * len(y_test)
                                                            for p in snn.populations))


def test_other_configs_fit_and_keep_the_accuracy(record_property):
    """Split populations (32 neurons per core: hidden0 takes two cores) and 6-bit weights, on 100 images."""
    config = SnnConfig(cores=8, neurons=32, axons=128, weight_bits=6)
    res = digits.evaluate(config, limit=100)
    _report(record_property, "digits_snn_6bit", res)
    assert res["cores_used"] == 4
    assert res["snn"].thresholds == [163, 94, 57]
    assert res["snn_accuracy"] >= res["ann_accuracy"] - 0.03


def test_simulate_hook(snn, result):
    """Any function with sw_model.snn.simulate's signature runs the images; counts it lacks are left out."""
    from sw_model.snn import simulate
    calls = []

    def spikes_only(config, program, trains):
        calls.append(trains.steps)
        full = simulate(config, program, trains)
        return SimpleNamespace(spikes=full.spikes, steps=full.steps)
    res = snn.evaluate(limit=7, simulate=spikes_only)
    assert calls == [24] * 7
    assert res["activity"] == {}
    assert np.array_equal(res["snn_predictions"], result["snn_predictions"][:7])


def test_one_hidden_layer():
    snn = digits.digits_snn(CONFIG, hidden=(32,), steps=16)
    assert [(p.name, p.size) for p in snn.network.populations] == [("hidden0", 32), ("output", 10)]
    assert snn.evaluate(limit=20)["cores_used"] == 2


# The conversion, re-derived.

def test_network_shape(snn):
    net = snn.network
    assert [(p.name, p.size) for p in net.inputs] == [("pixels", 64)]
    assert [(p.name, p.size) for p in net.populations] == [("hidden0", 48), ("hidden1", 24), ("output", 10)]
    assert [(p.source, p.target, p.weights.shape, p.delay) for p in net.projections] == [
        ("pixels", "hidden0", (64, 48), 0), ("hidden0", "hidden1", (48, 24), 0), ("hidden1", "output", (24, 10), 0)]
    for pop in net.populations:
        assert pop.leak == 15 and pop.reset == "subtract"
    compiled = compile_network(CONFIG, net)
    assert compiled.cores_used == 3


def test_conversion_rederived(snn):
    """Normalisation by the maximum activation, one threshold per layer from the largest normalised weight."""
    x_train = snn.split()[0]
    h = x_train / 16
    lam = [1.0]
    ws, bs = snn.mlp.weights, snn.mlp.biases
    for w, b in zip(ws[:-1], bs[:-1]):
        h = np.maximum(h @ w + b, 0)
        lam.append(h.max())
    lam.append((h @ ws[-1] + bs[-1]).max())
    assert snn.norms == pytest.approx(lam, rel=1e-12)
    for layer, (pop, proj) in enumerate(zip(snn.network.populations, snn.network.projections)):
        wn = ws[layer] * lam[layer] / lam[layer + 1]
        theta = int(127 / np.abs(wn).max())
        assert pop.threshold == snn.thresholds[layer] == theta
        assert np.array_equal(proj.weights, np.rint(wn * theta))
        assert np.abs(proj.weights).max() == 127
        assert np.array_equal(pop.bias, np.rint(bs[layer] / lam[layer + 1] * theta))


def test_thresholds_capped_by_small_potentials():
    """With 8-bit potentials (largest 127) the threshold is capped at 63 and the weights shrink with it."""
    snn = digits.digits_snn(SnnConfig(potential_bits=8, weight_bits=8))
    assert snn.thresholds == [63, 63, 63]
    assert all(p.leak == 7 for p in snn.network.populations)
    assert max(np.abs(p.weights).max() for p in snn.network.projections) < 127


def test_deterministic(snn):
    """The same seed converts to the same network (the training's own determinism is tests/test_cim_mlp.py's);
    another seed to another."""
    a, b = snn, digits.digits_snn(CONFIG, seed=0)
    c = digits.digits_snn(CONFIG, seed=1)
    assert a.network is not b.network
    for p, q in zip(a.network.populations, b.network.populations):
        assert np.array_equal(p.bias, q.bias)
    for p, q in zip(a.network.projections, b.network.projections):
        assert np.array_equal(p.weights, q.weights)
    assert a.thresholds == b.thresholds
    assert not all(np.array_equal(p.weights, q.weights) for p, q in zip(a.network.projections, c.network.projections))


# Coding and decoding.

def test_rate_code_by_hand():
    x = np.zeros((1, 64), dtype=np.int64)
    x[0, :17] = np.arange(17)
    r = digits.rate_code(x, 16)
    assert r.shape == (1, 16, 64) and r.dtype == bool
    assert r[0, :, 0].sum() == 0
    assert r[0, :, 16].all()
    assert np.flatnonzero(r[0, :, 8]).tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    assert np.flatnonzero(r[0, :, 1]).tolist() == [15]
    assert np.flatnonzero(r[0, :, 4]).tolist() == [3, 7, 11, 15]
    assert r[0].sum(axis=0)[:17].tolist() == list(range(17))        # floor(16 * p / 16) = p spikes
    r24 = digits.rate_code(x, 24)
    assert r24[0].sum(axis=0)[:17].tolist() == [24 * p // 16 for p in range(17)]


def test_inputs_of_one_image(snn):
    image = snn.split()[1][0]
    inputs = snn.inputs(image)
    assert list(inputs) == ["pixels"]
    assert np.array_equal(inputs["pixels"], digits.rate_code(image[None], snn.steps)[0])
    assert inputs["pixels"].shape == (24, 64)


def test_classify_tie_breaks(snn):
    r = np.zeros((24, 10), dtype=bool)
    assert snn.classify({"output": r}) == 0                          # silent: lowest index
    r[5, 7] = r[6, 7] = True
    r[3, 2] = True
    assert snn.classify({"output": r}) == 7                          # most spikes
    r[9, 2] = True
    assert snn.classify({"output": r}) == 2                          # tie: earliest first spike
    r[:, :] = False
    r[4, 6] = r[4, 3] = True
    assert snn.classify({"output": r}) == 3                          # tie on both: lowest index
    outputs = np.random.default_rng(0).random((50, 24, 10)) < 0.05
    assert digits.decide(outputs).tolist() == [reference_class(o) for o in outputs]


# Bad arguments.

@pytest.mark.parametrize("kwargs, match", [
    ({"steps": 15}, "steps must be an integer in 16..32, not 15"),
    ({"steps": 33}, "steps must be an integer in 16..32, not 33"),
    ({"steps": True}, "steps must be an integer"),
    ({"weight_bits": 1}, "weight_bits must be an integer in 2..8, not 1"),
    ({"weight_bits": 9}, "weight_bits must be an integer in 2..8, not 9"),
    ({"percentile": 0}, r"percentile must be a number in \(0, 100\]"),
    ({"percentile": 100.5}, r"percentile must be a number in \(0, 100\]"),
    ({"hidden": (48, 0)}, "hidden must be a non-empty tuple of positive integers"),
    ({"hidden": []}, "hidden must be a non-empty tuple"),
    ({"seed": -1}, "seed must be an integer"),
    ({"test_fraction": 1.0}, "test_fraction must be a number strictly between 0 and 1"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        digits.digits_snn(CONFIG, **kwargs)


def test_bad_configs():
    with pytest.raises(InputTypeError, match="config must be an SnnConfig, not dict"):
        digits.digits_snn({})
    with pytest.raises(InputError, match="needs input_neurons >= 64 .* not 32"):
        digits.digits_snn(SnnConfig(input_neurons=32))
    with pytest.raises(InputError, match="A run of 24 steps needs max_steps >= 24, not 20"):
        digits.digits_snn(SnnConfig(max_steps=20))
    with pytest.raises(InputError, match="needs 4 cores"):                       # the compiler's check
        digits.evaluate(SnnConfig(cores=3, neurons=32), limit=1)


def test_bad_inputs_and_outputs(snn):
    with pytest.raises(InputError, match="image must hold 64 pixels, not an array of shape"):
        snn.inputs(np.zeros(63))
    bad = np.zeros(64)
    bad[3] = 17
    with pytest.raises(InputError, match="must hold integer pixel values in 0..16"):
        snn.inputs(bad)
    bad[3] = 2.5
    with pytest.raises(InputError, match="must hold integer pixel values in 0..16"):
        snn.inputs(bad)
    with pytest.raises(InputError, match="x must be a V x 64 array"):
        snn.rasters(np.zeros((2, 8, 8)))
    with pytest.raises(InputError, match="spikes must be a dict holding the 'output' population's raster"):
        snn.classify({"hidden0": np.zeros((24, 48), dtype=bool)})
    with pytest.raises(InputError, match="must be a boolean steps x 10 array"):
        snn.classify({"output": np.zeros((24, 10), dtype=np.int64)})
    with pytest.raises(InputError, match="limit must be an integer in 1..2147483648, not 0"):
        snn.evaluate(limit=0)
    with pytest.raises(InputTypeError, match="simulate must be a function"):
        snn.evaluate(limit=1, simulate="golden")
