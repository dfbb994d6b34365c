"""The SNN compiler (pimgen.snn.compiler): placement and splitting, axons and fan-out, the mapping of spikes back to
populations, every does-not-fit and bad-value error, and the input trains.

The compiled tables are checked against the logical network directly (each axon's weight row is the sum of the
projections' weights from its source neuron, each fan-out entry points at an axon fed by that neuron), and the mapping
round trip against the float reference of tests/test_snn_golden.py.
"""

import re

import numpy as np
import pytest

from pimgen.errors import InputError, InputTypeError
from pimgen.snn.compiler import compile_network, split_sizes
from pimgen.snn.config import SnnConfig
from pimgen.snn.network import InputPopulation, Network, Population, Projection
from pimgen.snn.program import NO_EDGE
from pimgen.snn.workloads import chain, recurrent
from sw_model.snn import simulate
from test_snn_golden import reference

N = 16
CONFIG = SnnConfig(cores=4, neurons=N, axons=128, max_delay=2, step_slots=4, max_steps=32, input_neurons=32,
                   max_fanout=1024)


def dense(rng, rows, cols, lo=-3, hi=8, density=0.5):
    return np.where(rng.random((rows, cols)) < density, rng.integers(lo, hi, (rows, cols)), 0)


def big_network(rng):
    """A population of 3N + 5 neurons (4 cores) fed by two inputs, with a delay-1 and a delay-2 self projection."""
    size = 3 * N + 5
    pops = [Population("big", size, threshold=20, leak=2, reset="subtract", bias=rng.integers(-2, 3, size))]
    projs = [Projection("x", "big", dense(rng, 10, size, 1, 9)),
             Projection("y", "big", dense(rng, 6, size, -4, 4), delay=1),
             Projection("big", "big", dense(rng, size, size, -2, 3, density=0.2), delay=1),
             Projection("big", "big", dense(rng, size, size, -2, 4, density=0.2), delay=2)]
    return Network([InputPopulation("x", 10), InputPopulation("y", 6)], pops, projs)


# Placement and splitting.

def test_split_sizes():
    assert split_sizes(3 * N + 5, N) == [14, 13, 13, 13]
    assert split_sizes(N, N) == [N]
    assert split_sizes(N + 1, N) == [9, 8]
    assert split_sizes(1, N) == [1]


def test_placement_splits_a_large_population():
    compiled = compile_network(CONFIG, big_network(np.random.default_rng(0)))
    chunks = compiled.placement["big"]
    assert chunks == [(0, 0, 14), (1, 14, 13), (2, 27, 13), (3, 40, 13)]
    assert compiled.cores_used == 4
    assert compiled.input_index == {"x": 0, "y": 10}
    for core, first, count in chunks:
        c = compiled.program.cores[core]
        assert c.threshold == 20 and c.leak == 2 and c.reset == "subtract"
        assert c.bias[:count].tolist() == compiled.network.populations[0].bias[first:first + count].tolist()
        assert not c.bias[count:].any() and not c.weights[:, count:].any()


def test_placement_one_population_per_core_in_order():
    network, _, _ = chain(neurons_per_stage=[20, 3, 16], seed=0)
    compiled = compile_network(SnnConfig(cores=5, neurons=N, axons=64, input_neurons=16), network)
    assert compiled.placement == {"s0": [(0, 0, 10), (1, 10, 10)], "s1": [(2, 0, 3)], "s2": [(3, 0, 16)]}
    assert [c.threshold for c in compiled.program.cores[:4]] == [network.populations[i].threshold
                                                                 for i in (0, 0, 1, 2)]


# Axons, weights and fan-out against the logical network.

def logical_rows(network, compiled, core):
    """For each (source, source neuron, delay) with a nonzero weight into ``core``: the summed weight row, computed
    from the projections without the compiler's tables."""
    K = compiled.config.cores
    target, first, count = next((name, f, c) for name, chunks in compiled.placement.items()
                                for k, f, c in chunks if k == core)
    rows = {}
    for q in network.projections:
        if q.target != target:
            continue
        for i in range(q.weights.shape[0]):
            w = q.weights[i, first:first + count]
            if not w.any():
                continue
            if q.source in compiled.input_index:
                key = (K, compiled.input_index[q.source] + i, q.delay)
            else:
                key = next((k, i - f, q.delay) for k, f, c in compiled.placement[q.source] if f <= i < f + c)
            rows[key] = rows.get(key, 0) + w
    return {key: row for key, row in rows.items() if row.any()}, count


@pytest.mark.parametrize("which", ["big", "recurrent", "chain"])
def test_axons_weights_and_fanout(which):
    rng = np.random.default_rng(1)
    config = CONFIG
    if which == "big":
        network = big_network(rng)
    elif which == "recurrent":
        network, _, _ = recurrent(neurons=40, inputs=16, seed=2)
    else:
        network, _, _ = chain(neurons_per_stage=[20, 12, 8], seed=3)
    compiled = compile_network(config, network)
    program = compiled.program
    K = config.cores
    entries_seen = set()
    for core in range(compiled.cores_used):
        rows, count = logical_rows(network, compiled, core)
        keys = compiled.axons[core]
        assert len(set(keys)) == len(keys) == len(rows) <= config.axons
        assert sorted(rows) == keys
        for axon, key in enumerate(keys):
            assert program.cores[core].weights[axon, :count].tolist() == rows[key].tolist()
            source, neuron, delay = key
            ptr, fan = program.fanouts()[source]
            assert [core, axon, delay] in fan[ptr[neuron]:ptr[neuron + 1]].tolist()
            entries_seen.add((source, neuron, core, axon, delay))
        assert not program.cores[core].weights[len(keys):].any()
    # no fan-out entry points anywhere else
    total = sum(int(ptr[-1]) for ptr, _ in program.fanouts())
    assert total == len(entries_seen)
    for source, (ptr, fan) in enumerate(program.fanouts()):
        for neuron in range(len(ptr) - 1):
            for core, axon, delay in fan[ptr[neuron]:ptr[neuron + 1]].tolist():
                assert compiled.axons[core][axon] == (source, neuron, delay)
    # the dependency table of the program agrees: the smallest delay from each source
    for core in range(compiled.cores_used):
        for source in range(K + 1):
            delays = [d for s, _, d in compiled.axons[core] if s == source]
            assert program.dependencies[core, source] == (min(delays) if delays else NO_EDGE)


def test_projections_sharing_axons_add_their_weights():
    w1 = np.array([[1, 0], [0, 0], [2, 3], [1, -1]])
    w2 = np.array([[4, 0], [0, 0], [0, -3], [-1, 1]])
    network = Network([InputPopulation("in", 4)], [Population("p", 2, threshold=5)],
                      [Projection("in", "p", w1), Projection("in", "p", w2), Projection("in", "p", w1, delay=1)])
    compiled = compile_network(CONFIG, network)
    K = CONFIG.cores
    # input 3 at delay 0: 1 - 1 and -1 + 1 cancel, no synapse and no axon; at delay 1 it has one
    assert compiled.axons[0] == [(K, 0, 0), (K, 0, 1), (K, 2, 0), (K, 2, 1), (K, 3, 1)]
    assert compiled.program.cores[0].weights[:5, :2].tolist() == [[5, 0], [1, 0], [2, 0], [2, 3], [1, -1]]
    ptr, fan = compiled.program.fanouts()[K]
    assert fan[ptr[3]:ptr[4]].tolist() == [[0, 4, 1]]


def test_zero_weight_projections_make_no_axons_or_edges():
    network = Network([InputPopulation("in", 4)], [Population("a", 4, threshold=1), Population("b", 4, threshold=1)],
                      [Projection("in", "a", np.eye(4, dtype=np.int64)), Projection("a", "b", np.zeros((4, 4), int)),
                       Projection("b", "a", np.zeros((4, 4), int))])         # a zero-delay "cycle" with no synapse
    compiled = compile_network(CONFIG, network)
    assert compiled.axons[1] == [] and compiled.program.dependencies[0, 1] == NO_EDGE
    # weights that cancel between two projections are no synapse either: b -> a -> b has no zero-delay cycle
    ones = np.ones((4, 4), dtype=np.int64)
    network.projections[1:] = [Projection("a", "b", ones), Projection("a", "b", -ones), Projection("b", "a", ones)]
    compiled = compile_network(CONFIG, network)
    assert compiled.axons[1] == [] and compiled.program.dependencies[0, 1] == 0


def test_population_cycle_without_a_core_cycle_compiles():
    """a (two cores) -> b -> a with zero delays, but only a's first core feeds b and b feeds only a's second core:
    no core waits on itself, so the engine runs it; the golden matches the reference."""
    wa = np.zeros((32, 8), dtype=np.int64)
    wa[:16] = 3
    wb = np.zeros((8, 32), dtype=np.int64)
    wb[:, 16:] = 2
    network = Network([InputPopulation("in", 8)], [Population("a", 32, threshold=4), Population("b", 8, threshold=6)],
                      [Projection("in", "a", np.full((8, 32), 3)), Projection("a", "b", wa),
                       Projection("b", "a", wb)])
    config = SnnConfig(cores=4, neurons=N, axons=64, max_delay=1, step_slots=2, max_steps=32, input_neurons=8)
    compiled = compile_network(config, network)
    inputs = {"in": np.random.default_rng(0).random((20, 8)) < 0.2}
    result = simulate(config, compiled.program, compiled.trains(inputs), 20)
    want, _, _ = reference(config, network, inputs, 20)
    got = compiled.population_spikes(result)
    assert all(np.array_equal(got[k], want[k]) for k in want) and want["b"].any()


# The mapping round trip.

@pytest.mark.parametrize("seed", [0, 1])
def test_population_spikes_round_trip(seed):
    rng = np.random.default_rng(seed)
    network = big_network(rng)
    inputs = {"x": rng.random((24, 10)) < 0.3, "y": rng.random((24, 6)) < 0.3}
    compiled = compile_network(CONFIG, network)
    trains = compiled.trains(inputs)
    result = simulate(CONFIG, compiled.program, trains, 24)
    want, _, _ = reference(CONFIG, network, inputs, 24)
    got = compiled.population_spikes(result)
    assert got.keys() == {"big"}
    assert np.array_equal(got["big"], want["big"]) and want["big"].any() and not want["big"].all()
    # the hardware's per-core records, same format, with the steps given
    again = compiled.population_spikes([s.copy() for s in result.spikes], steps=24)
    assert np.array_equal(again["big"], want["big"])


def test_population_spikes_errors():
    compiled = compile_network(CONFIG, big_network(np.random.default_rng(0)))
    records = [np.zeros((0, 2), dtype=np.int64) for _ in range(4)]
    with pytest.raises(InputError, match="Give steps with per-core spike records"):
        compiled.population_spikes(records)
    with pytest.raises(InputError, match=r"at least 4\), not list of 2"):
        compiled.population_spikes(records[:2], steps=5)
    records[3] = np.array([[0, 13]])
    with pytest.raises(InputError, match="Core 3 recorded a spike of neuron 13 at step 0, outside its 13 neurons of "
                                         "population 'big' or the 5 steps"):
        compiled.population_spikes(records, steps=5)
    records[3] = np.array([[5, 0]])
    with pytest.raises(InputError, match="Core 3 recorded a spike of neuron 0 at step 5"):
        compiled.population_spikes(records, steps=5)


# Input trains.

def test_trains_lay_out_the_input_populations():
    compiled = compile_network(CONFIG, big_network(np.random.default_rng(0)))
    x = np.zeros((3, 10), dtype=bool)
    x[0, 9] = x[2, 0] = True
    y = np.zeros((3, 6), dtype=int)
    y[0, 0] = y[1, 5] = 1
    trains = compiled.trains({"x": x, "y": y})
    assert trains.ptr.tolist() == [0, 2, 3, 4]
    assert trains.neurons.tolist() == [9, 10, 15, 0]
    only_y = compiled.trains({"y": y})                          # x left out: silent
    assert only_y.neurons.tolist() == [10, 15]
    silent = compiled.trains({}, steps=4)
    assert silent.ptr.tolist() == [0] * 5


def test_trains_errors():
    compiled = compile_network(CONFIG, big_network(np.random.default_rng(0)))
    with pytest.raises(InputError, match=r"'z' is not an input population of the network \(its inputs: 'x', 'y'\)"):
        compiled.trains({"z": np.zeros((3, 10), bool)})
    with pytest.raises(InputError, match="'big' is not an input population"):
        compiled.trains({"big": np.zeros((3, 53), bool)})
    with pytest.raises(InputError, match=r"Input 'x' raster must be steps x 10, not shape \(3, 9\)"):
        compiled.trains({"x": np.zeros((3, 9), bool)})
    with pytest.raises(InputError, match=r"Input 'x' raster must be steps x 10, not shape \(10,\)"):
        compiled.trains({"x": np.zeros(10, bool)})
    with pytest.raises(InputError, match="Input 'x' raster must be boolean \\(or 0/1 integers\\), not int64"):
        compiled.trains({"x": np.full((3, 10), 2, dtype=np.int64)})
    with pytest.raises(InputError, match="Input 'x' raster must be boolean .*, not float64"):
        compiled.trains({"x": np.zeros((3, 10))})
    with pytest.raises(InputError, match="Input rasters \\(and steps\\) must cover the same number of steps, not 3, 4"):
        compiled.trains({"x": np.zeros((3, 10), bool), "y": np.zeros((4, 6), bool)})
    with pytest.raises(InputError, match="not 3, 5"):
        compiled.trains({"x": np.zeros((3, 10), bool)}, steps=5)
    with pytest.raises(InputError, match="Give steps when no input raster is given"):
        compiled.trains({})
    with pytest.raises(InputError, match="Steps must be a positive integer, not '3'"):
        compiled.trains({}, steps="3")
    with pytest.raises(InputError, match="Input rasters must cover at least one step"):
        compiled.trains({"x": np.zeros((0, 10), bool)})
    with pytest.raises(InputError, match="The input has 33 steps, more than max_steps = 32"):
        compiled.trains({}, steps=33)
    with pytest.raises(InputTypeError, match="Inputs must be a dict"):
        compiled.trains([np.zeros((3, 10), bool)])


# Does not fit: one error naming the limit and what to raise.

def one(target_size, source_size=4, **proj):
    weights = proj.pop("weights", np.ones((source_size, target_size), dtype=np.int64))
    return Network([InputPopulation("in", source_size)], [Population("p", target_size, threshold=5)],
                   [Projection("in", "p", weights, **proj)])


def test_too_many_cores():
    network = Network([InputPopulation("in", 4)], [Population("a", 3 * N + 5, threshold=5),
                                                   Population("b", 2, threshold=5)], [])
    with pytest.raises(InputError, match=re.escape(f"The network needs 5 cores (a 4, b 1 at neurons = {N} per core), "
                                                   "the engine has cores = 4; raise --cores or --neurons")):
        compile_network(CONFIG, network)


def test_too_many_input_neurons():
    network = Network([InputPopulation("x", 20), InputPopulation("y", 13)], [Population("p", 2, threshold=5)], [])
    with pytest.raises(InputError, match=re.escape("The input populations hold 33 neurons (x 20, y 13), the input "
                                                   "source has input_neurons = 32; raise --input-neurons")):
        compile_network(CONFIG, network)


def test_too_many_axons():
    config = SnnConfig(cores=4, neurons=N, axons=16, input_neurons=32)
    network = Network([InputPopulation("in", 12)], [Population("a", 8, threshold=5), Population("p", 4, threshold=5)],
                      [Projection("in", "p", np.ones((12, 4), int)), Projection("a", "p", np.ones((8, 4), int))])
    with pytest.raises(InputError, match=re.escape("Core 1 (population 'p') needs 20 axons (one per source neuron and "
                                                   "delay with a nonzero weight into it: 8 from core 0 (population "
                                                   "'a'), 12 from the input source), the engine has axons = 16; raise "
                                                   "--axons or make the projections into 'p' sparser")):
        compile_network(config, network)
    # delays count separately: 12 inputs at delays 0 and 1 need 24 axons
    config = SnnConfig(cores=4, neurons=N, axons=16, max_delay=1, step_slots=2, input_neurons=32)
    network = Network([InputPopulation("in", 12)], [Population("p", 4, threshold=5)],
                      [Projection("in", "p", np.ones((12, 4), int)), Projection("in", "p", np.ones((12, 4), int), 1)])
    with pytest.raises(InputError, match="needs 24 axons"):
        compile_network(config, network)


def test_too_many_fanout_entries():
    network = Network([InputPopulation("in", 2)], [Population("a", 3 * N, threshold=5), Population("b", 16,
                                                                                                  threshold=5)],
                      [Projection("in", "a", np.ones((2, 3 * N), int)), Projection("a", "b", np.ones((3 * N, 16), int)),
                       Projection("a", "b", np.ones((3 * N, 16), int), delay=1)])
    # core 0 holds 16 neurons of a, each feeding b's core at delays 0 and 1: 32 entries, fine; with delay 2 too, 48
    config = SnnConfig(cores=4, neurons=N, axons=256, max_delay=2, step_slots=3, input_neurons=32, max_fanout=40)
    compile_network(config, network)
    network.projections.append(Projection("a", "b", np.ones((3 * N, 16), int), delay=2))
    with pytest.raises(InputError, match=re.escape("Core 0 (population 'a') needs 48 fan-out entries (one per target "
                                                   "core, axon and delay of each of its neurons), more than "
                                                   "max_fanout = 40; raise --max-fanout")):
        compile_network(config, network)
    # the input source's table: 2 neurons x 3 cores of a = 6 entries
    small = SnnConfig(cores=4, neurons=N, axons=64, input_neurons=32, max_fanout=5)
    with pytest.raises(InputError, match=re.escape("The input source needs 6 fan-out entries")):
        compile_network(small, Network([InputPopulation("in", 2)], [Population("a", 3 * N, threshold=5)],
                                       [Projection("in", "a", np.ones((2, 3 * N), int))]))


def test_delay_beyond_max_delay():
    with pytest.raises(InputError, match=re.escape("Projection in -> p has delay 3, more than max_delay = 2; raise "
                                                   "--max-delay")):
        compile_network(CONFIG, one(4, delay=3))


# Bad values: one error naming the population or projection and the limit.

def test_weight_out_of_range():
    w = np.ones((4, 4), dtype=np.int64)
    w[2, 1] = 128
    with pytest.raises(InputError, match=re.escape("Projection in -> p weight[2, 1] = 128 is beyond the weight range "
                                                   "-128..127 (weight_bits = 8); raise --weight-bits")):
        compile_network(CONFIG, one(4, weights=w))
    w[2, 1] = -129
    with pytest.raises(InputError, match=re.escape("weight[2, 1] = -129 is beyond")):
        compile_network(CONFIG, one(4, weights=w))


def test_shared_axon_weights_out_of_range():
    w = np.full((4, 4), 100, dtype=np.int64)
    network = Network([InputPopulation("in", 4)], [Population("p", 4, threshold=5)],
                      [Projection("in", "p", w), Projection("in", "p", w)])
    with pytest.raises(InputError, match=re.escape("Projections in -> p, in -> p (delay 0) share axons and their "
                                                   "weights add up to 200, beyond the weight range -128..127 "
                                                   "(weight_bits = 8); raise --weight-bits or merge them into one "
                                                   "projection")):
        compile_network(CONFIG, network)


def test_bias_out_of_range():
    bias = np.zeros(4, dtype=np.int64)
    bias[3] = -32769
    network = Network([InputPopulation("in", 1)], [Population("p", 4, threshold=5, bias=bias)], [])
    with pytest.raises(InputError, match=re.escape("Population 'p' bias[3] = -32769 is beyond the potential range "
                                                   "-32768..32767 (potential_bits = 16); raise --potential-bits")):
        compile_network(CONFIG, network)


@pytest.mark.parametrize("threshold", [0, -1, 32768, 2.5])
def test_threshold_out_of_range(threshold):
    network = Network([InputPopulation("in", 1)], [Population("p", 4, threshold=threshold)], [])
    with pytest.raises(InputError, match=re.escape(f"Population 'p' threshold must be an integer in 1..32767 "
                                                   f"(potential_bits = 16), not {threshold!r}; raise "
                                                   "--potential-bits for a larger threshold")):
        compile_network(CONFIG, network)


@pytest.mark.parametrize("leak", [-1, 16])
def test_leak_out_of_range(leak):
    network = Network([InputPopulation("in", 1)], [Population("p", 4, threshold=5, leak=leak)], [])
    with pytest.raises(InputError, match=re.escape(f"Population 'p' leak must be an integer in 0..15 "
                                                   f"(potential_bits = 16), not {leak}")):
        compile_network(CONFIG, network)


def test_bad_types():
    with pytest.raises(InputTypeError, match="Config must be an SnnConfig, not dict"):
        compile_network({}, one(4))
    with pytest.raises(InputTypeError, match="Network must be a Network, not list"):
        compile_network(CONFIG, [])


# Zero-delay cycles.

def test_zero_delay_cycle_between_populations():
    network = Network([InputPopulation("in", 2)], [Population("a", 4, threshold=5), Population("b", 4, threshold=5)],
                      [Projection("in", "a", np.ones((2, 4), int)), Projection("a", "b", np.ones((4, 4), int)),
                       Projection("b", "a", np.ones((4, 4), int))])
    with pytest.raises(InputError, match=re.escape("Zero-delay projections form a cycle: a (core 0) -> b (core 1) -> "
                                                   "a (core 0); within one step each core would wait on the other; "
                                                   "give one of a -> b, b -> a a delay >= 1")):
        compile_network(CONFIG, network)
    network.projections[2].delay = 1
    compile_network(CONFIG, network)


def test_zero_delay_self_projection():
    network = Network([InputPopulation("in", 2)], [Population("a", 4, threshold=5)],
                      [Projection("a", "a", np.ones((4, 4), int))])
    with pytest.raises(InputError, match=re.escape("Zero-delay projections form a cycle: a (core 0) -> a (core 0); "
                                                   "within one step each core would wait on the other; give one of "
                                                   "a -> a a delay >= 1")):
        compile_network(CONFIG, network)


def test_zero_delay_cycle_inside_a_split_population():
    """A population over two cores whose second half feeds its first half and back, without delay."""
    w = np.zeros((2 * N, 2 * N), dtype=np.int64)
    w[:N, N:] = 1
    w[N:, :N] = 1
    network = Network([InputPopulation("in", 2)], [Population("a", 2 * N, threshold=5)],
                      [Projection("a", "a", w)])
    with pytest.raises(InputError, match=re.escape("a (core 0) -> a (core 1) -> a (core 0)")):
        compile_network(CONFIG, network)


# Found while writing these tests (pimgen/snn/program.py): a repeated fan-out entry spiked one axon twice a step.

def test_program_refuses_a_repeated_fanout_entry():
    from pimgen.snn.program import CoreProgram, SnnProgram
    config = SnnConfig(cores=2, neurons=N, axons=16, max_delay=0, step_slots=1, max_steps=4, input_neurons=4)
    core = CoreProgram(weights=np.array([[3]]), bias=np.zeros(1, dtype=np.int64), threshold=5, leak=0)
    program = SnnProgram(cores=[core], input_fanout_ptr=np.array([0, 2]),
                         input_fanout=np.array([[0, 0, 0], [0, 0, 0]]))
    with pytest.raises(InputError, match="lists axon 0 of core 0 twice"):
        program.validate(config)
