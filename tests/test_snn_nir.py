"""NIR import and export (pimgen/snn/nir_import.py): round trips through real files, the quantisation by hand,
unsupported nodes and bad graphs.

The reference here runs the logical network in plain Python integers (``>>`` on Python ints is the arithmetic shift of
docs/snn.md), neuron by neuron, knowing nothing of cores, axons or NIR. The must-show: a network written with
``nir.write`` and read back with ``nir.read`` imports to the same network as the in-memory graph, and both, compiled
and run on the golden model (``sw_model.snn.simulate``), give the reference's spikes exactly.
"""

import nir
import numpy as np
import pytest

from pimgen.errors import InputError, InputTypeError
from pimgen.snn.compiler import compile_network
from pimgen.snn.config import SnnConfig
from pimgen.snn.network import InputPopulation, Network, Population, Projection
from pimgen.snn.nir_import import network_from_nir, nir_from_network, nir_outputs
from sw_model.snn import simulate

CONFIG = SnnConfig(cores=4, neurons=16, axons=64, max_delay=2, step_slots=4, input_neurons=16, max_steps=64)
STEPS = 40


def reference(config, network, inputs, steps):
    """``{population: bool [steps, size]}``: the integer LIF of docs/snn.md in Python ints, one neuron at a time."""
    lo, hi = -(1 << (config.potential_bits - 1)), (1 << (config.potential_bits - 1)) - 1
    spikes = {p.name: [[False] * p.size for _ in range(steps)] for p in network.inputs + network.populations}
    for name, raster in inputs.items():
        spikes[name] = [[bool(b) for b in row] for row in raster]
    order, done = [], {p.name for p in network.inputs}
    while len(order) < len(network.populations):
        for p in network.populations:
            if p.name not in done and all(q.source in done for q in network.projections
                                          if q.target == p.name and q.delay == 0):
                order.append(p)
                done.add(p.name)
    v = {p.name: [0] * p.size for p in network.populations}
    for t in range(steps):
        for p in order:
            for n in range(p.size):
                current = 0
                for q in network.projections:
                    if q.target == p.name and t >= q.delay:
                        current += sum(int(q.weights[i, n]) for i, s in enumerate(spikes[q.source][t - q.delay]) if s)
                u = v[p.name][n] - (v[p.name][n] >> p.leak) + int(p.bias[n]) + current
                u = min(max(u, lo), hi)
                fired = u >= p.threshold
                v[p.name][n] = (0 if p.reset == "zero" else u - p.threshold) if fired else u
                spikes[p.name][t][n] = fired
    return {p.name: np.array(spikes[p.name], dtype=bool) for p in network.populations}


def golden(config, network, inputs, steps):
    compiled = compile_network(config, network)
    return compiled.population_spikes(simulate(config, compiled.program, compiled.trains(inputs, steps)))


def small_network(seed=0):
    """Two inputs, three populations with different leaks, resets and biases, delays 0..2, a recurrent loop and a
    self-projection."""
    rng = np.random.default_rng(seed)

    def w(rows, cols, lo=-30, hi=40, density=0.6):
        return np.where(rng.random((rows, cols)) < density, rng.integers(lo, hi + 1, (rows, cols)), 0)

    pops = [Population("p", 12, threshold=40, leak=3, reset="zero", bias=rng.integers(-3, 6, 12)),
            Population("q", 9, threshold=20, leak=0, reset="subtract", bias=rng.integers(-2, 3, 9)),
            Population("r", 5, threshold=60, leak=15, reset="subtract", bias=-np.arange(5))]
    projs = [Projection("a", "p", w(6, 12)), Projection("b", "p", w(4, 12), delay=1),
             Projection("p", "q", w(12, 9)), Projection("q", "p", w(9, 12, -20, 10), delay=1),
             Projection("p", "r", w(12, 5), delay=2), Projection("q", "r", w(9, 5)),
             Projection("r", "r", w(5, 5, -10, 30), delay=1), Projection("a", "r", w(6, 5))]
    net = Network(inputs=[InputPopulation("a", 6), InputPopulation("b", 4)], populations=pops, projections=projs)
    inputs = {"a": rng.random((STEPS, 6)) < 0.4, "b": rng.random((STEPS, 4)) < 0.3}
    return net, inputs


def assert_same_network(a, b):
    assert [(p.name, p.size) for p in a.inputs] == [(p.name, p.size) for p in b.inputs]
    pb = {p.name: p for p in b.populations}
    assert sorted(pb) == sorted(p.name for p in a.populations)
    for p in a.populations:
        q = pb[p.name]
        assert (p.size, p.threshold, p.leak, p.reset) == (q.size, q.threshold, q.leak, q.reset), p.name
        assert np.array_equal(p.bias, q.bias), p.name
    key = lambda proj: (proj.source, proj.target, proj.delay)          # noqa: E731
    assert sorted(map(key, a.projections)) == sorted(map(key, b.projections))
    jb = {key(proj): proj for proj in b.projections}
    for proj in a.projections:
        assert np.array_equal(proj.weights, jb[key(proj)].weights), key(proj)


def assert_same_spikes(a, b):
    assert sorted(a) == sorted(b)
    for name in a:
        assert np.array_equal(a[name], b[name]), name


# The must-show: round trips through a real file, bit-exact against the golden and the reference.

def test_exact_round_trip_through_a_file(tmp_path):
    net, inputs = small_network()
    path = tmp_path / "net.nir"
    graph = nir_from_network(net)
    nir.write(path, graph)
    read = nir.read(path)
    from_memory, in_memory_inputs = network_from_nir(graph, CONFIG, quantise=False)
    from_file, file_inputs = network_from_nir(read, CONFIG, quantise=False)
    assert in_memory_inputs == file_inputs == ("a", "b")
    assert_same_network(from_memory, net)
    assert_same_network(from_file, net)
    expected = reference(CONFIG, net, inputs, STEPS)
    assert all(0 < s.mean() < 0.9 for s in expected.values())              # every population active, none saturated
    assert_same_spikes(golden(CONFIG, from_file, inputs, STEPS), expected)
    assert_same_spikes(golden(CONFIG, from_memory, inputs, STEPS), expected)
    assert nir_outputs(read) == {"r_output": "r"}                      # every population feeds another: the last


def test_quantised_round_trip_through_a_file(tmp_path):
    """quantise=True rescales every population; the file and the memory give the same network and spikes."""
    net, inputs = small_network(seed=3)
    path = tmp_path / "net.nir"
    graph = nir_from_network(net, dt=1e-3, outputs=["r", "q"])
    nir.write(path, graph)
    read = nir.read(path)
    a, _ = network_from_nir(graph, CONFIG, dt=1e-3)
    b, _ = network_from_nir(read, CONFIG, dt=1e-3)
    assert_same_network(a, b)
    assert [p.name for p in b.populations] == ["p", "r", "q"]          # by distance from the inputs, then by name
    assert all(np.abs(np.concatenate([q.weights.ravel() for q in b.projections if q.target == p.name])).max() == 127
               for p in b.populations)
    expected = reference(CONFIG, b, inputs, STEPS)
    assert all(0 < s.mean() < 0.9 for s in expected.values())
    original = reference(CONFIG, net, inputs, STEPS)                   # requantising keeps the rates
    assert all(abs(expected[name].mean() - original[name].mean()) < 0.02 for name in original)
    assert_same_spikes(golden(CONFIG, a, inputs, STEPS), expected)
    assert_same_spikes(golden(CONFIG, b, inputs, STEPS), expected)
    assert nir_outputs(read) == {"q_output": "q", "r_output": "r"}


# The quantisation, by hand.

def hand_graph(**lif):
    params = dict(tau=np.array([4.0, 4.0]), r=np.array([2.0, 2.0]), v_leak=np.array([0.0, 0.4]),
                  v_threshold=np.array([1.0, 2.0]), v_reset=np.zeros(2))
    params.update(lif)
    return nir.NIRGraph(nodes={
        "x": nir.Input(input_type={"input": np.array([3])}),
        "fc1": nir.Affine(weight=np.array([[1.0, -0.5, 0.25], [0.5, 0.5, 0.0]]), bias=np.array([0.1, -0.2])),
        "l1": nir.LIF(**params),
        "fc2": nir.Linear(weight=np.array([[2.0, -1.0]])),
        "i1": nir.IF(r=np.array([0.5]), v_threshold=np.array([0.25]), v_reset=np.zeros(1)),
        "out": nir.Output(output_type={"output": np.array([1])}),
    }, edges=[("x", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "i1"), ("i1", "out")])


def test_quantisation_by_hand():
    """l1: gain dt / tau * r = 0.5; E = W^T * 0.5 divided by the thresholds (1, 2) is [[.5, .125], [-.25, .125],
    [.125, 0]], the largest 0.5, so S = 127 / 0.5 = 254: weights rint(E * 254) (half to even), threshold 255, bias
    (0.5 * (0.1, -0.2) + 0.25 * (0, 0.4)) / (1, 2) * 254 = (12.7, 0) -> (13, 0), leak rint(log2 4) = 2.
    i1 (IF): gain dt * r = 0.5, E = (1, -0.5) / 0.25 = (4, -2), S = 127 / 4 = 31.75: weights (127, -63.5 -> -64),
    threshold 32, leak 15."""
    net, inputs = network_from_nir(hand_graph(), CONFIG)
    assert inputs == ("x",)
    l1, i1 = net.populations
    assert (l1.name, l1.threshold, l1.leak, l1.reset, l1.bias.tolist()) == ("l1", 255, 2, "zero", [13, 0])
    assert (i1.name, i1.threshold, i1.leak, i1.reset, i1.bias.tolist()) == ("i1", 32, 15, "zero", [0])
    fc1, fc2 = net.projections
    assert (fc1.source, fc1.target, fc1.delay) == ("x", "l1", 0)
    assert fc1.weights.tolist() == [[127, 32], [-64, 32], [32, 0]]
    assert (fc2.source, fc2.target, fc2.delay) == ("l1", "i1", 0)
    assert fc2.weights.tolist() == [[127], [-64]]
    small, _ = network_from_nir(hand_graph(), CONFIG, weight_bits=4)     # S = 7 / 0.5 = 14, 7 / 4 = 1.75
    assert small.projections[0].weights.tolist() == [[7, 2], [-4, 2], [2, 0]]      # 1.75 -> 2, -3.5 -> -4
    assert [p.threshold for p in small.populations] == [15, 2]
    assert nir_outputs(hand_graph()) == {"out": "i1"}


@pytest.mark.parametrize("tau, leak", [(1.0, 0), (2.0, 1), (6.0, 3), (5.0, 2), (1e9, 15)])
def test_leak_is_the_nearest_shift(tau, leak):
    net, _ = network_from_nir(hand_graph(tau=np.full(2, tau)), CONFIG)
    assert net.populations[0].leak == leak


def test_exact_import_by_hand():
    """quantise=False: tau = 8 dt with r = 8 is leak 3 with weights as written; thresholds 9.5 -> 10, 10 -> 11."""
    graph = nir.NIRGraph(nodes={
        "x": nir.Input(input_type={"input": np.array([2])}),
        "fc": nir.Affine(weight=np.array([[3.0, -4.0], [5.0, 0.0]]), bias=np.array([1.0, -2.0])),
        "l": nir.LIF(tau=np.full(2, 8.0), r=np.full(2, 8.0), v_leak=np.array([16.0, 0.0]),
                     v_threshold=np.full(2, 9.5), v_reset=np.zeros(2)),
        "d": nir.Delay(delay=np.full(2, 2.0)),
        "i": nir.IF(r=np.ones(2), v_threshold=np.full(2, 10.0), v_reset=np.zeros(2), metadata={"reset": "subtract"}),
    }, edges=[("x", "fc"), ("fc", "l"), ("l", "d"), ("d", "i")])
    net, _ = network_from_nir(graph, CONFIG, quantise=False)
    lif, i = net.populations
    assert (lif.threshold, lif.leak, lif.reset, lif.bias.tolist()) == (10, 3, "zero", [1 + 2, -2])
    assert (i.threshold, i.leak, i.reset, i.bias.tolist()) == (11, 15, "subtract", [0, 0])
    assert net.projections[0].weights.tolist() == [[3, 5], [-4, 0]]
    assert (net.projections[1].source, net.projections[1].delay) == ("l", 2)
    assert net.projections[1].weights.tolist() == [[1, 0], [0, 1]]          # identity: a source straight to a neuron
    net, _ = network_from_nir(graph, CONFIG, quantise=False, reset="subtract")
    assert [p.reset for p in net.populations] == ["subtract", "subtract"]


def test_cuba_lif_with_tau_syn_dt_is_a_lif():
    graph = hand_graph()
    cuba = hand_graph()
    p = graph.nodes["l1"]
    cuba.nodes["l1"] = nir.CubaLIF(tau_syn=np.ones(2), tau_mem=p.tau, r=p.r / 4, v_leak=p.v_leak,
                                   v_threshold=p.v_threshold, v_reset=np.zeros(2), w_in=np.full(2, 4.0))
    assert_same_network(network_from_nir(cuba, CONFIG)[0], network_from_nir(graph, CONFIG)[0])
    cuba.nodes["l1"] = nir.CubaLIF(tau_syn=np.full(2, 2.0), tau_mem=p.tau, r=p.r, v_leak=p.v_leak,
                                   v_threshold=p.v_threshold)
    with pytest.raises(InputError, match=r"NIR node 'l1': a CubaLIF is supported only with tau_syn == dt = 1.0"):
        network_from_nir(cuba, CONFIG)


# Unsupported nodes and bad graphs.

def graph_with(node, name="bad"):
    """x -> fc -> l1 -> <node> (unchecked by NIR, so that the importer's own checks answer)."""
    g = hand_graph()
    nodes = dict(g.nodes)
    del nodes["out"]
    nodes[name] = node
    edges = [e for e in g.edges if e[1] != "out"] + [("i1", name)]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@pytest.mark.parametrize("node, kind", [
    (nir.LI(tau=np.ones(1), r=np.ones(1), v_leak=np.zeros(1)), "LI"),
    (nir.I(r=np.ones(1)), "I"),
    (nir.Threshold(threshold=np.ones(1)), "Threshold"),
    (nir.Scale(scale=np.ones(1)), "Scale"),
    (nir.Flatten(input_type={"input": np.array([1])}, start_dim=0, end_dim=-1), "Flatten"),
    (nir.CubaLI(tau_syn=np.ones(1), tau_mem=np.ones(1), r=np.ones(1), v_leak=np.zeros(1)), "CubaLI"),
    (nir.Conv1d(input_shape=4, weight=np.ones((1, 1, 2)), stride=1, padding=0, dilation=1, groups=1,
                bias=np.zeros(1)), "Conv1d"),
    (nir.NIRGraph(nodes={"i": nir.Input(input_type={"input": np.array([1])}),
                         "o": nir.Output(output_type={"output": np.array([1])})}, edges=[("i", "o")]), "NIRGraph"),
])
def test_unsupported_nodes(node, kind):
    with pytest.raises(InputError, match=rf"NIR node 'bad' is a {kind}, which the SNN engine does not support; "
                                         r"supported nodes: Input, Output, Affine, Linear, Delay, LIF, IF, CubaLIF"):
        network_from_nir(graph_with(node), CONFIG)


def _raw(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


X3 = nir.Input(input_type={"input": np.array([3])})


def _if(n, **kw):
    params = dict(r=np.ones(n), v_threshold=np.ones(n), v_reset=np.zeros(n))
    params.update(kw)
    return nir.IF(**params)


def _lif(n, **kw):
    params = dict(tau=np.full(n, 4.0), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))
    params.update(kw)
    return nir.LIF(**params)


def _fc(out, inp, value=1.0):
    return nir.Linear(weight=np.full((out, inp), value))


BAD_GRAPHS = [
    ("affine feeds output", {"x": X3, "n": _if(3), "fc": _fc(2, 3),
                             "o": nir.Output(output_type={"output": np.array([2])})},
     [("x", "n"), ("x", "fc"), ("fc", "o")],
     r"'fc' \(Linear\) feeds 'o' \(Output\); Affine, Linear and Delay nodes must lead to a neuron node"),
    ("input feeds output", {"x": X3, "n": _if(3), "o": nir.Output(output_type={"output": np.array([3])})},
     [("x", "n"), ("x", "o")], r"'o' \(Output\) must be fed by exactly one neuron node .* not by x \(Input\)"),
    ("output feeds on", {"x": X3, "n": _if(3), "o": nir.Output(output_type={"output": np.array([3])}), "m": _if(3)},
     [("x", "n"), ("n", "o"), ("o", "m")], r"'o' \(Output\) feeds m; an Output is a leaf"),
    ("two linears", {"x": X3, "f": _fc(3, 3), "g": _fc(2, 3), "n": _if(2)},
     [("x", "f"), ("f", "g"), ("g", "n")], r"'f' and 'g' are two Affine/Linear nodes in a row on the way to 'n'"),
    ("linear with two inputs", {"x": X3, "y": nir.Input(input_type={"input": np.array([3])}), "f": _fc(2, 3),
                                "n": _if(2)},
     [("x", "f"), ("y", "f"), ("f", "n")], r"'f' \(Linear\) has 2 inputs; Affine, Linear and Delay nodes take exactly "
                                           "one"),
    ("dangling linear", {"x": X3, "f": _fc(2, 3), "n": _if(3)}, [("x", "n"), ("x", "f")], r"'f' \(Linear\) leads "
                                                                                             "nowhere"),
    ("weight shape", {"x": X3, "f": _fc(2, 4), "n": _if(2)}, [("x", "f"), ("f", "n")],
     r"'f': weight must be \[out, in\] = \[2, 3\] \(from 'x' to 'n'\), not \[2, 4\]"),
    ("identity sizes", {"x": X3, "n": _if(2)}, [("x", "n")], r"'x' \(3\) feeds 'n' \(2\) without an Affine/Linear "
                                                             "node"),
    ("uneven delay", {"x": X3, "d": nir.Delay(delay=np.array([1.0, 2.0, 1.0])), "n": _if(3)},
     [("x", "d"), ("d", "n")], r"'d': every element of a Delay must have the same delay"),
    ("fractional delay", {"x": X3, "d": nir.Delay(delay=np.full(3, 0.5)), "n": _if(3)},
     [("x", "d"), ("d", "n")], r"path 'x' -> 'n' has a delay of 0.5 \(0.5 steps of dt = 1.0\); delays must be whole"),
    ("tau below dt", {"x": X3, "n": _lif(3, tau=np.full(3, 0.5))}, [("x", "n")], r"'n': tau must be >= dt = 1.0"),
    ("v_reset", {"x": X3, "n": _if(3, v_reset=np.full(3, 0.2))}, [("x", "n")], r"'n': v_reset must be 0"),
    ("threshold", {"x": X3, "n": _if(3, v_threshold=np.array([1.0, 0.0, 1.0]))}, [("x", "n")],
     r"'n': v_threshold must be positive"),
    ("mixed leaks", {"x": X3, "n": _lif(3, tau=np.array([2.0, 8.0, 8.0]))}, [("x", "n")],
     r"'n': its neurons need leak shifts \[1, 3\] .* but a population has one leak"),
    ("2-D input", {"x": nir.Input(input_type={"input": np.array([2, 3])}), "n": _if(3)}, [("x", "n")],
     r"'x' must have a 1-D shape \(n,\), not \(2, 3\)"),
    ("delay cycle", {"x": X3, "n": _if(2), "f": nir.Delay(delay=np.ones(2)), "g": nir.Delay(delay=np.ones(2))},
     [("f", "g"), ("g", "f"), ("f", "n")],
     "NIR nodes f, g form a cycle without a neuron node"),
    ("no input", {"n": _if(3)}, [], "The NIR graph has no Input node"),
    ("no neuron", {"x": X3}, [], r"The NIR graph has no neuron node \(LIF, IF or CubaLIF\)"),
    ("missing node", {"x": X3, "n": _if(3)}, [("x", "m")], r"NIR edge \('x', 'm'\) names a node that is not in the "
                                                           "graph"),
    ("metadata reset", {"x": X3, "n": _lif(3, metadata={"reset": "hard"})}, [("x", "n")],
     "'n': metadata reset must be one of zero, subtract, not 'hard'"),
    ("bias beyond potentials", {"x": X3, "f": _fc(2, 3, 1e-6), "n": _lif(2, v_leak=np.full(2, 8.0))},
     [("x", "f"), ("f", "n")], r"'n': bias 65532 \(neuron 0\) is beyond the potential range -32768..32767 "
                               r"\(potential_bits = 16\); raise potential_bits to 31$"),
    ("overflowing weight / threshold", {"x": X3, "f": _fc(2, 3, 1e300), "n": _if(2, v_threshold=np.full(2, 1e-300))},
     [("x", "f"), ("f", "n")], r"^NIR node 'f': weight divided by the v_threshold of 'n' overflows \(inf\)"),
    ("overflowing w_in", {"x": X3, "n": nir.CubaLIF(tau_mem=np.full(3, 2.0), tau_syn=np.ones(3), r=np.full(3, 1e200),
                                                    w_in=np.full(3, 1e200), v_leak=np.zeros(3),
                                                    v_threshold=np.ones(3), v_reset=np.zeros(3))},
     [("x", "n")], r"^NIR node 'n': r \* w_in overflows \(inf\)"),
    ("not finite", {"x": X3, "n": _lif(3, v_leak=np.array([0.0, np.nan, 0.0]))}, [("x", "n")],
     r"^NIR node 'n': v_leak must be finite$"),
]


@pytest.mark.parametrize("nodes, edges, match", [b[1:] for b in BAD_GRAPHS], ids=[b[0] for b in BAD_GRAPHS])
def test_bad_graphs(nodes, edges, match):
    with pytest.raises(InputError, match=match):
        network_from_nir(_raw(dict(nodes), list(edges)), CONFIG)


def _bias_graph(v_leak):
    """A LIF of tau 4 behind a Linear of ones: gain 1/4, so the scale is 127 / 0.25 = 508 (the weights set it) and
    the bias code is rint(v_leak / 4 * 508)."""
    return _raw({"x": X3, "f": _fc(2, 3, 1.0), "n": _lif(2, v_leak=np.full(2, v_leak))}, [("x", "f"), ("f", "n")])


def test_bias_overflow_names_the_bits_that_hold_it():
    """315 / 4 * 508 = 40005 needs 17 potential bits; with 17 the same graph imports and the bias is that code."""
    with pytest.raises(InputError, match=r"^NIR node 'n': bias 40005 \(neuron 0\) is beyond the potential range "
                                         r"-32768..32767 \(potential_bits = 16\); raise potential_bits to 17$"):
        network_from_nir(_bias_graph(315.0), CONFIG)
    net, _ = network_from_nir(_bias_graph(315.0), SnnConfig(potential_bits=17))
    assert net.populations[0].bias.tolist() == [40005, 40005]


def test_huge_bias_is_reported_briefly():
    """A bias of 1e300: one short line in floating point, not a 300-digit integer, and no bit count to raise to."""
    with pytest.raises(InputError) as info:
        network_from_nir(_bias_graph(1e300), CONFIG)
    message = str(info.value)
    assert len(message) < 250, message
    assert message == ("NIR node 'n': bias 1.27e+302 (neuron 0) is beyond the potential range -32768..32767 "
                       "(potential_bits = 16); no potential_bits up to 32 holds it: lower the bias (v_leak, the "
                       "Affine bias) relative to the weights")


def test_bias_beyond_the_threshold_with_tiny_weights():
    """Weights of 1e-6 / 4 and a bias of twice the threshold: at 16 bits the potential range sets the scale (32766)
    and the bias code 65532 is beyond it; the scale the weights allow is 127 / 2.5e-7 = 5.08e8, so the bias needs
    rint(2 * 5.08e8) = 1016000000, 31 bits: with 31 the graph imports."""
    graph = _raw({"x": X3, "f": _fc(2, 3, 1e-6), "n": _lif(2, v_leak=np.full(2, 8.0))}, [("x", "f"), ("f", "n")])
    with pytest.raises(InputError, match="raise potential_bits to 31$"):
        network_from_nir(graph, SnnConfig(potential_bits=30))
    net, _ = network_from_nir(graph, SnnConfig(potential_bits=31))
    assert net.populations[0].bias.tolist() == [1016000000] * 2


def test_overflowing_gain():
    """IF: the gain is dt * r; 10 * 1e308 overflows float64."""
    graph = _raw({"x": X3, "n": _if(3, r=np.full(3, 1e308))}, [("x", "n")])
    with pytest.raises(InputError, match=r"^NIR node 'n': r \(times dt\) overflows \(inf\)"):
        network_from_nir(graph, CONFIG, dt=10.0)


def test_subtract_reset_ignores_v_reset():
    net, _ = network_from_nir(_raw({"x": X3, "n": _if(3, v_reset=np.full(3, 0.2))}, [("x", "n")]), CONFIG,
                              reset="subtract")
    assert net.populations[0].reset == "subtract"


@pytest.mark.parametrize("nodes, edges, match", [
    ({"x": X3, "f": _fc(2, 3, 0.5), "n": _if(2)}, [("x", "f"), ("f", "n")],
     r"projection 'x' -> 'n': with quantise=False the weights \(times dt / tau \* r\) must be integers"),
    ({"x": X3, "f": _fc(2, 3, 200.0), "n": _if(2)}, [("x", "f"), ("f", "n")],
     r"projection 'x' -> 'n': weight 200 is beyond the 8-bit range -128..127"),
    ({"x": X3, "f": _fc(2, 3, -1e30), "n": _if(2)}, [("x", "f"), ("f", "n")],
     r"projection 'x' -> 'n': weight -1e\+30 is beyond the 8-bit range -128..127"),
    ({"x": X3, "n": _lif(3, r=np.ones(3), tau=np.ones(3), v_leak=np.full(3, 1e30))}, [("x", "n")],
     r"'n': bias 1e\+30 \(neuron 0\) is beyond the potential range -32768..32767 \(potential_bits = 16\); no "
     r"potential_bits up to 32 holds it: lower the bias \(v_leak, the Affine bias\)$"),
    ({"x": X3, "n": _if(3, v_threshold=np.full(3, 1e20))}, [("x", "n")],
     r"'n': threshold 1e\+20 is beyond 1..32767"),
    ({"x": X3, "n": _if(3, v_threshold=np.array([1.0, 2.0, 1.0]))}, [("x", "n")],
     r"'n': with quantise=False its neurons must share one threshold, not 2..3"),
    ({"x": X3, "n": _lif(3, tau=np.full(3, 6.0))}, [("x", "n")],
     r"'n': with quantise=False tau / dt must be 2\*\*leak with leak in 0..15 exactly, not 6.0"),
    ({"x": X3, "n": _lif(3, r=np.full(3, 4.0), v_leak=np.full(3, 0.5))}, [("x", "n")],
     r"'n': with quantise=False the bias .* must be integers"),
])
def test_bad_exact_graphs(nodes, edges, match):
    with pytest.raises(InputError, match=match):
        network_from_nir(_raw(dict(nodes), list(edges)), CONFIG, quantise=False)


def test_bad_arguments():
    graph = hand_graph()
    with pytest.raises(InputTypeError, match="graph must be a nir.NIRGraph, not dict"):
        network_from_nir({}, CONFIG)
    with pytest.raises(InputTypeError, match="config must be an SnnConfig, not NoneType"):
        network_from_nir(graph, None)
    with pytest.raises(InputError, match="dt must be a positive number, not 0"):
        network_from_nir(graph, CONFIG, dt=0)
    with pytest.raises(InputError, match=r"weight_bits must be an integer in 2..8 \(the config's\), not 9"):
        network_from_nir(graph, CONFIG, weight_bits=9)
    with pytest.raises(InputTypeError, match="quantise must be True or False, not 'yes'"):
        network_from_nir(graph, CONFIG, quantise="yes")
    with pytest.raises(InputError, match="reset must be None or one of zero, subtract, not 'hard'"):
        network_from_nir(graph, CONFIG, reset="hard")
    with pytest.raises(InputTypeError, match="network must be a Network, not NIRGraph"):
        nir_from_network(graph)
    net, _ = small_network()
    with pytest.raises(InputError, match="outputs must name populations of the network, not 'a', 'z'"):
        nir_from_network(net, outputs=["a", "z", "p"])
    with pytest.raises(InputError, match="dt must be a positive number"):
        nir_from_network(net, dt=-1.0)
