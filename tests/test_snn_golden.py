"""The SNN golden model (sw_model.snn.simulate on compiled networks) against an independent reference.

The reference runs the logical network, not the compiled program: float64 potentials, one dense weight matrix per
projection, spike vectors kept as a history for the delays, and the LIF update of docs/snn.md written with
``np.floor(v / 2**leak)`` for the shift. It knows nothing of cores, axons or fan-out tables. Within a step it settles
the zero-delay projections by iterating from "no spikes yet" until nothing changes, so it needs no order of the
populations. Hand-built cases pin the edge cases of the formula (no memory at leak 0, a negative potential climbing by
1 per step at a large leak, saturation at both ends, the two resets, every delay up to max_delay) spike for spike.
"""

import numpy as np
import pytest

from pimgen.errors import InputError
from pimgen.snn.compiler import compile_network
from pimgen.snn.config import SnnConfig
from pimgen.snn.network import InputPopulation, Network, Population, Projection
from pimgen.snn.workloads import chain, recurrent
from sw_model.snn import simulate


# The reference.

def reference(config, network, inputs, steps):
    """Spikes ``{population: bool [steps, size]}`` of the logical network, the potentials ``{population: float
    [steps, size]}`` after each step, and how many potentials were clipped at the low and the high end."""
    lo, hi = (float(x) for x in config.potential_range)
    spikes = {p.name: np.zeros((steps, p.size), dtype=bool) for p in network.inputs + network.populations}
    for name, raster in inputs.items():
        spikes[name][:] = raster
    v = {p.name: np.zeros(p.size) for p in network.populations}
    trace = {p.name: np.zeros((steps, p.size)) for p in network.populations}
    clipped = [0, 0]
    into = {p.name: [q for q in network.projections if q.target == p.name] for p in network.populations}
    for t in range(steps):
        for _ in range(sum(p.size for p in network.populations) + 2):
            new_v, changed = {}, False
            for p in network.populations:
                current = np.zeros(p.size)
                for q in into[p.name]:
                    if t - q.delay >= 0:
                        current += spikes[q.source][t - q.delay].astype(np.float64) @ q.weights.astype(np.float64)
                u = v[p.name] - np.floor(v[p.name] / 2.0 ** p.leak) + p.bias.astype(np.float64) + current
                v1 = np.clip(u, lo, hi)
                fired = v1 >= p.threshold
                new_v[p.name] = (np.where(fired, 0.0, v1) if p.reset == "zero" else np.where(fired, v1 - p.threshold,
                                                                                              v1), u)
                changed |= bool((spikes[p.name][t] != fired).any())
                spikes[p.name][t] = fired
            if not changed:
                break
        else:
            raise AssertionError("the zero-delay projections did not settle: a zero-delay cycle")
        for name, (value, u) in new_v.items():
            clipped[0] += int((u < lo).sum())
            clipped[1] += int((u > hi).sum())
            v[name] = value
            trace[name][t] = value
    return {p.name: spikes[p.name] for p in network.populations}, trace, clipped


def golden(config, network, inputs, steps):
    """Compile, run the golden model; its result, the compiled network and its spikes per population."""
    compiled = compile_network(config, network)
    result = simulate(config, compiled.program, compiled.trains(inputs, steps=steps), steps)
    return result, compiled, compiled.population_spikes(result)


def assert_same_spikes(got, want):
    assert got.keys() == want.keys()
    for name in want:
        if not np.array_equal(got[name], want[name]):
            t, n = np.argwhere(got[name] != want[name])[0]
            raise AssertionError(f"population {name}: first difference at step {t} neuron {n} "
                                 f"(golden {got[name][t, n]}, reference {want[name][t, n]})")


def check(config, network, inputs, steps):
    result, compiled, got = golden(config, network, inputs, steps)
    want, trace, clipped = reference(config, network, inputs, steps)
    assert_same_spikes(got, want)
    return result, compiled, want, trace, clipped


def one_population(pop, inputs_size, projections, raster):
    return Network([InputPopulation("in", inputs_size)], [pop], projections), {"in": raster}


# Synthetic workloads: chains and the recurrent network.

CONFIG = SnnConfig(cores=8, neurons=16, axons=128, max_delay=2, step_slots=4, max_steps=64, input_neurons=32,
                   max_fanout=2048)


@pytest.mark.parametrize("sizes", [[16, 16, 16], [40, 8, 20, 5]], ids=["balanced", "imbalanced"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chain(sizes, seed):
    network, inputs, steps = chain(neurons_per_stage=sizes, seed=seed, steps=40)
    result, compiled, want, _, _ = check(CONFIG, network, inputs, steps)
    for name, raster in want.items():       # the workload is not vacuous: activity everywhere, never saturated
        assert raster.any(), name
        assert 0 < raster.mean() < 0.8, name
    if sizes[0] > CONFIG.neurons:
        assert len(compiled.placement["s0"]) == 3


@pytest.mark.parametrize("neurons", [16, 40])
@pytest.mark.parametrize("seed", [0, 3])
def test_recurrent(neurons, seed):
    network, inputs, steps = recurrent(neurons=neurons, seed=seed, steps=48, drive_steps=12)
    config = SnnConfig(cores=4, neurons=16, axons=128, max_delay=1, step_slots=2, max_steps=64, input_neurons=16,
                       max_fanout=2048)
    _, compiled, want, _, _ = check(config, network, inputs, steps)
    r = want["r"]
    assert r[:12].any() and r[-12:].any(), "the activity must persist after the input stops"
    assert not r[12:].all(axis=1).any(), "never every neuron in one step"
    assert r[12:].mean() < 0.9


# The formula's edge cases, by hand.

def test_leak_zero_has_no_memory():
    """leak 0: v - (v >> 0) = 0, so each step the neuron sees only bias + I (a threshold unit)."""
    rng = np.random.default_rng(5)
    raster = rng.random((30, 6)) < 0.5
    w = rng.integers(-6, 9, (6, 16))
    pop = Population("p", 16, threshold=9, leak=0, reset="subtract", bias=rng.integers(-3, 4, 16))
    network, inputs = one_population(pop, 6, [Projection("in", "p", w)], raster)
    _, _, want, trace, _ = check(CONFIG, network, inputs, 30)
    drive = raster.astype(np.int64) @ w + pop.bias
    assert np.array_equal(want["p"], drive >= 9)
    assert want["p"].any() and not want["p"].all()


def test_negative_potential_climbs_by_one_at_large_leak():
    """A kick of -20 at step 0, then no input, leak = V - 1: v >> leak = -1 for -2**leak <= v < 0, so the potential
    climbs -20, -19, ..., -1, 0 and stays at 0. Neurons 2p and 2p + 1 are probed at step p with the weight that reaches
    the threshold exactly (spike) and one less (no spike), so the golden's spikes pin v at every step."""
    config = SnnConfig(cores=2, neurons=64, axons=64, max_delay=0, step_slots=1, max_steps=32, input_neurons=32)
    steps, kick, threshold = 26, -20, 5
    climb = [min(kick + t, 0) for t in range(steps)]           # v after step t (no probe)
    n = 2 * steps
    w = np.zeros((steps, n), dtype=np.int64)
    w[0, :] = kick
    expected = np.zeros((steps, n), dtype=bool)
    for p in range(1, steps):
        u_without = climb[p - 1] - np.floor(climb[p - 1] / 2 ** 15)    # the step's u before the probe's weight
        w[p, 2 * p] = threshold - u_without
        w[p, 2 * p + 1] = threshold - u_without - 1
        expected[p, 2 * p] = True
    raster = np.eye(steps, dtype=bool)                          # input neuron p spikes at step p only
    pop = Population("p", n, threshold=threshold, leak=config.potential_bits - 1, reset="zero")
    network, inputs = one_population(pop, steps, [Projection("in", "p", w)], raster)
    _, _, want, trace, _ = check(config, network, inputs, steps)
    assert np.array_equal(want["p"], expected)
    # the reference's own potential of neuron 1, which no probe reaches (probes start at step 1, neurons 2 and 3)
    assert trace["p"][:, 1].tolist() == climb
    assert climb[:3] == [-20, -19, -18] and climb[20:] == [0] * 6


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_saturation_at_both_ends(reset):
    """potential_bits = 8: five spikes of weight +-127 give u = +-635, clipped to 127 / -128. The next step probes
    v exactly: without the clip the probes would both spike (top) or both stay silent (bottom)."""
    config = SnnConfig(cores=2, neurons=16, axons=32, weight_bits=10, potential_bits=8, max_delay=0, step_slots=1,
                       max_steps=8, input_neurons=16)
    threshold, leak = 100, 7
    top_rest = 127 - threshold if reset == "subtract" else 0   # v after the saturated spike
    bottom = -128 - np.floor(-128 / 2 ** leak)                 # -127: the leak step of the bottom neurons
    w = np.zeros((7, 4), dtype=np.int64)
    w[0:5, 0:2] = 127                                           # neurons 0, 1: up to the top
    w[0:5, 2:4] = -127                                          # neurons 2, 3: down to the bottom
    w[5, 0], w[5, 1] = threshold - top_rest, threshold - top_rest - 1
    w[6, 2], w[6, 3] = threshold - bottom, threshold - bottom - 1
    raster = np.zeros((3, 7), dtype=bool)
    raster[0, 0:5] = True
    raster[1, 5:7] = True
    pop = Population("p", 4, threshold=threshold, leak=leak, reset=reset)
    network, inputs = one_population(pop, 7, [Projection("in", "p", w)], raster)
    _, _, want, trace, clipped = check(config, network, inputs, 3)
    assert clipped == [2, 2]                                    # step 0 clips all four neurons, nothing else clips
    assert want["p"].tolist() == [[True, True, False, False], [True, False, True, False], [False] * 4]


def test_saturation_random():
    """Heavy random drive at potential_bits = 8: the clip is hit often, at both ends, and the spikes still match."""
    config = SnnConfig(cores=4, neurons=16, axons=64, weight_bits=8, potential_bits=8, max_delay=1, step_slots=2,
                       max_steps=40, input_neurons=16)
    rng = np.random.default_rng(11)
    pops = [Population("a", 16, threshold=90, leak=3, reset="subtract", bias=rng.integers(-20, 21, 16)),
            Population("b", 16, threshold=60, leak=6, reset="zero")]
    projs = [Projection("in", "a", rng.integers(-128, 128, (16, 16))),
             Projection("a", "b", rng.integers(-128, 128, (16, 16))),
             Projection("b", "a", rng.integers(-128, 128, (16, 16)), delay=1)]
    network = Network([InputPopulation("in", 16)], pops, projs)
    inputs = {"in": rng.random((40, 16)) < 0.4}
    _, _, want, _, clipped = check(config, network, inputs, 40)
    assert clipped[0] > 50 and clipped[1] > 50
    assert all(r.any() and not r.all() for r in want.values())


def test_reset_zero_and_subtract():
    """A constant bias of 7 under threshold 10, no leak loss (leak = V - 1 and 0 <= v < 2**leak): the zero reset
    spikes every second step; the subtract reset keeps the remainder and has spiked floor(7 (t + 1) / 10) times by
    step t."""
    config = SnnConfig(cores=2, neurons=16, axons=16, max_delay=0, step_slots=1, max_steps=40, input_neurons=16)
    steps = 40
    pops = [Population(f"p_{reset}", 1, threshold=10, leak=15, reset=reset, bias=7) for reset in ("zero", "subtract")]
    network = Network([InputPopulation("in", 1)], pops, [])
    _, _, want, _, _ = check(config, network, {}, steps)
    assert want["p_zero"][:, 0].tolist() == [t % 2 == 1 for t in range(steps)]
    assert np.cumsum(want["p_subtract"][:, 0]).tolist() == [7 * (t + 1) // 10 for t in range(steps)]


def test_every_delay_up_to_max_delay():
    """One input spike at step 0 through projections of delay d = 0..7 into threshold-1 neurons d: neuron d spikes at
    step d only; then a random network with every delay (and a delay-7 self projection) against the reference."""
    config = SnnConfig(cores=4, neurons=16, axons=256, max_delay=7, step_slots=8, max_steps=64, input_neurons=16,
                       max_fanout=4096)
    projs = []
    for d in range(8):
        w = np.zeros((1, 8), dtype=np.int64)
        w[0, d] = 1
        projs.append(Projection("in", "p", w, delay=d))
    raster = np.zeros((12, 1), dtype=bool)
    raster[0, 0] = True
    network, inputs = one_population(Population("p", 8, threshold=1, leak=0), 1, projs, raster)
    _, _, want, _, _ = check(config, network, inputs, 12)
    assert np.array_equal(want["p"], np.eye(12, 8, dtype=bool))

    rng = np.random.default_rng(2)
    pops = [Population("a", 20, threshold=12, leak=2, reset="subtract"),
            Population("b", 12, threshold=10, leak=1, reset="zero")]
    projs = [Projection("in", "a", rng.integers(-2, 9, (10, 20)), delay=d % 8) for d in (0, 3)]
    projs += [Projection("a", "b", np.where(rng.random((20, 12)) < 0.4, rng.integers(-3, 8, (20, 12)), 0), delay=d)
              for d in range(1, 8)]
    projs += [Projection("b", "a", rng.integers(-4, 6, (12, 20)), delay=7),
              Projection("a", "a", rng.integers(-2, 4, (20, 20)), delay=7)]
    network = Network([InputPopulation("in", 10)], pops, projs)
    inputs = {"in": rng.random((48, 10)) < 0.3}
    _, compiled, want, _, _ = check(config, network, inputs, 48)
    assert compiled.placement["a"] == [(0, 0, 10), (1, 10, 10)]
    assert {d for _, _, d in compiled.program.cores[0].fanout.tolist()} == set(range(1, 8))
    assert all(r.any() and not r.all() for r in want.values())


# Activity counts.

def derived_counts(config, network, compiled, spikes, inputs, steps):
    """The counts of SnnResult, derived from the logical network and the reference's spikes: per core the input
    spikes (distinct source neuron and delay with a nonzero summed weight into the core, spiking in time to arrive
    within the run), synaptic ops (input spikes x neurons), output spikes, and per source the packets (each spike
    once per target core and delay it reaches, plus one token per step for every core it feeds)."""
    K = config.cores
    rasters = dict(spikes)
    rasters.update({p.name: np.asarray(inputs.get(p.name, np.zeros((steps, p.size), dtype=bool)))
                    for p in network.inputs})
    core_of = {}                                   # core -> (population, first, count)
    for name, chunks in compiled.placement.items():
        for core, first, count in chunks:
            core_of[core] = (name, first, count)
    input_spikes = np.zeros(K, dtype=np.int64)
    output_spikes = np.zeros(K, dtype=np.int64)
    packets = np.zeros(K + 1, dtype=np.int64)
    feeds = {}                                     # source (core or K) -> cores it feeds

    def source_of(pop_name, neuron):
        if pop_name in compiled.input_index:
            return K
        return next(c for c, (n, f, cnt) in core_of.items() if n == pop_name and f <= neuron < f + cnt)

    for core, (name, first, count) in core_of.items():
        output_spikes[core] = rasters[name][:, first:first + count].sum()
        by_source = {}                             # (source population, delay) -> summed weights into the core
        for q in network.projections:
            if q.target == name:
                key = (q.source, q.delay)
                by_source[key] = by_source.get(key, 0) + q.weights[:, first:first + count]
        for (src, d), weights in by_source.items():
            used = weights.any(axis=1)
            r = rasters[src][:steps - d] if d < steps else rasters[src][:0]
            input_spikes[core] += r[:, used].sum()             # arrives at t + d < steps
            full = rasters[src]
            for n in np.flatnonzero(used):
                s = source_of(src, n)
                packets[s] += full[:, n].sum()                 # every spike is sent, arriving in time or not
                feeds.setdefault(s, set()).add(core)
    for s, cores in feeds.items():
        packets[s] += steps * len(cores)
    return input_spikes * config.neurons, input_spikes, output_spikes, packets


@pytest.mark.parametrize("which", ["chain", "imbalanced", "recurrent", "delays"])
def test_activity_counts(which):
    config = SnnConfig(cores=8, neurons=16, axons=256, max_delay=3, step_slots=4, max_steps=64, input_neurons=32,
                       max_fanout=4096)
    if which == "chain":
        network, inputs, steps = chain(neurons_per_stage=[16, 16, 16], seed=4, steps=30)
    elif which == "imbalanced":
        network, inputs, steps = chain(neurons_per_stage=[36, 6, 20], seed=5, steps=30)
    elif which == "recurrent":
        network, inputs, steps = recurrent(neurons=40, seed=1, steps=40)
    else:
        network, inputs, steps = chain(neurons_per_stage=[20, 12], seed=6, steps=30)
        rng = np.random.default_rng(0)
        network.projections.append(Projection("s0", "s1", rng.integers(-1, 4, (20, 12)), delay=3))
        network.projections.append(Projection("s1", "s0", rng.integers(-2, 3, (12, 20)), delay=2))
    result, compiled, want, _, _ = check(config, network, inputs, steps)
    ops, ins, outs, packets = derived_counts(config, network, compiled, want, inputs, steps)
    assert result.synaptic_ops.tolist() == ops.tolist()
    assert result.input_spikes.tolist() == ins.tolist()
    assert result.output_spikes.tolist() == outs.tolist()
    assert result.packets.tolist() == packets.tolist()
    assert ins.sum() > 0 and outs.sum() > 0


# The workloads themselves.

def test_workloads_are_seeded_and_checked():
    for make in (lambda s: chain(neurons_per_stage=[8, 4], seed=s), lambda s: recurrent(neurons=24, seed=s)):
        (n1, i1, _), (n2, i2, _), (n3, i3, _) = make(3), make(3), make(4)
        assert all(np.array_equal(p.weights, q.weights) for p, q in zip(n1.projections, n2.projections))
        assert not all(np.array_equal(p.weights, q.weights) for p, q in zip(n1.projections, n3.projections))
        assert np.array_equal(i1["in"], i2["in"]) and not np.array_equal(i1["in"], i3["in"])
    network, inputs, steps = chain(stages=4, neurons_per_stage=8, inputs=5, steps=7)
    assert [p.size for p in network.populations] == [8] * 4 and inputs["in"].shape == (7, 5) and steps == 7
    assert all(q.delay == 0 for q in network.projections)
    network, inputs, _ = recurrent(neurons=24, steps=40, drive_steps=10, delay=2)
    assert not inputs["in"][10:].any() and {q.delay for q in network.projections if q.source == "r"} == {2}
    for call, message in ((lambda: chain(stages=0), "stages must be an integer in 1..64, not 0"),
                          (lambda: chain(neurons_per_stage=[4, 0]), r"neurons_per_stage\[1\] must be an integer >= 1"),
                          (lambda: chain(density=0), "density must be a number in 0..1 above 0"),
                          (lambda: chain(rate=1.5), "rate must be a number in 0..1, not 1.5"),
                          (lambda: recurrent(neurons=4), "neurons must be an integer >= 8, not 4"),
                          (lambda: recurrent(delay=0), "delay must be an integer >= 1, not 0"),
                          (lambda: recurrent(steps=10, drive_steps=11), "drive_steps must be an integer in 0..10")):
        with pytest.raises(InputError, match=message):
            call()


# Found while writing these tests (sw_model/snn.py): simulate took any number of steps.

@pytest.mark.parametrize("steps", [-1, 5])
def test_simulate_refuses_steps_beyond_max_steps(steps):
    config = SnnConfig(cores=2, neurons=16, axons=16, max_delay=0, step_slots=1, max_steps=4, input_neurons=4)
    network = Network([InputPopulation("in", 1)], [Population("p", 1, threshold=1)], [])
    compiled = compile_network(config, network)
    with pytest.raises(ValueError, match="steps"):
        simulate(config, compiled.program, compiled.trains({}, steps=2), steps)
