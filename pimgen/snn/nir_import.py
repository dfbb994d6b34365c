"""NIR graphs (the Neuromorphic Intermediate Representation, package ``nir``) to and from the engine's networks.

:func:`network_from_nir` turns a :class:`nir.NIRGraph` into a :class:`~pimgen.snn.network.Network` of integer LIF
populations for a config; :func:`nir_from_network` writes a network as a NIR graph (which :func:`network_from_nir`
takes back exactly with ``quantise=False``); :func:`nir_outputs` names the populations behind a graph's ``Output``
nodes.

Supported graphs
    Nodes ``Input`` (1-D shape: an input population), ``Output``, ``Affine`` and ``Linear`` (weights ``[out, in]``),
    ``Delay`` (a whole number of steps, the same for every element), and the neurons ``LIF``, ``IF`` and ``CubaLIF``
    (the latter only with ``tau_syn == dt``, below); each neuron node is a population, named as the node. A
    projection is a path from a spike source (an ``Input`` or a neuron node) to a neuron node through at most one
    ``Affine``/``Linear`` node and any ``Delay`` nodes (delays add up); a spike source wired straight to a neuron
    node of the same size is an identity projection. Several paths into one neuron node add up (NIR sums the edges
    into a node); paths with the same source, target and delay become one projection. An ``Output`` node is fed by
    exactly one neuron node (the engine's outputs are spikes). Anything else -- other node types (``Conv1d``,
    ``Conv2d``, ``Flatten``, ``I``, ``LI``, ``CubaLI``, ``Scale``, ``Threshold``, pooling, nested graphs), two
    ``Affine``/``Linear`` nodes in a row, an ``Affine``/``Linear``/``Delay`` node with other than one input or not
    leading to a neuron node -- raises :class:`~pimgen.errors.InputError` naming the node and what is supported.

The neuron models, discretised with forward Euler at the engine's step ``dt`` (in the graph's time unit; default 1)
    - ``LIF`` (``tau dv/dt = (v_leak - v) + r I``): ``v[t+1] = v[t] - (dt / tau) v[t] + (dt / tau) v_leak + (dt /
      tau) r I[t]``. The engine's ``v - (v >> leak)`` approximates ``v (1 - dt / tau)`` with ``2**-leak ~ dt /
      tau``: ``leak = rint(log2(tau / dt))`` (``rint``: round half to even), clipped to ``0..potential_bits - 1``;
      ``tau == dt`` gives leak 0 (no memory, exact). ``tau < dt`` (Euler overshoots) is refused. Only the leak factor
      is approximated: the input and the bias keep the graph's own ``dt / tau``.
    - ``IF`` (``dv/dt = r I``): ``v[t+1] = v[t] + dt r I[t]``, no leak. The engine's leak 0 would empty the potential
      every step, so IF takes ``leak = potential_bits - 1``: ``v >> leak`` is 0 for ``v >= 0`` (the potential is
      kept exactly) and -1 for ``v < 0`` (a negative potential climbs by 1 per step, the formula's only departure
      from a perfect integrator).
    - ``CubaLIF`` with ``tau_syn == dt``: the synaptic current is then just the step's weighted input (snnTorch's
      ``Synaptic`` with ``alpha = 0``), so the node is a LIF with ``r * w_in``. Any other ``tau_syn`` needs a current
      state per neuron that the engine's neurons lack, and is refused.
    - Spikes: NIR spikes when ``v > v_threshold``; on integer potentials that is ``v >= floor(threshold) + 1``, so the
      engine's threshold is the smallest integer above the (scaled) threshold. ``v_reset`` must be 0 (``reset =
      "zero"``); a node's ``metadata["reset"]`` may say ``"subtract"`` (what :func:`nir_from_network` writes for
      such populations), and the ``reset`` argument overrides both for every population (``v_reset`` is then not
      checked under ``"subtract"``).
    - The leak, threshold and reset are per core on the engine, so all neurons of a node must share the leak shift
      (after rounding); per-neuron thresholds are absorbed into the scaling below.

Quantisation (``quantise=True``, the default), one scale per population -- per target rather than per projection,
because all the projections into a population share its potential and threshold:

1. Effective real values per neuron ``n``: the gain ``g_n`` (``dt / tau_n * r_n`` for LIF, ``dt * r_n`` for IF),
   weights ``E[i, n] = W[n, i] * g_n`` (the graph's ``[out, in]`` transposed), bias ``B_n = g_n * (the Affine
   biases reaching n) + dt / tau_n * v_leak_n`` (LIF), and each neuron divided by its threshold ``t_n > 0``:
   ``E'[:, n] = E[:, n] / t_n``, ``B'_n = B_n / t_n`` (the threshold becomes 1 for every neuron).
2. The scale ``S = min(whi / m, phi - 1)``, with ``m`` the largest ``|E'|`` over every projection into the
   population (``S = whi`` when there is none or all are zero), ``whi = 2**(weight_bits - 1) - 1`` and ``phi`` the
   largest potential: the largest weight uses the whole weight range.
3. Integers: weights ``rint(E' * S)`` (in ``-whi..whi``), biases ``rint(B' * S)``, threshold ``floor(S) + 1``. A
   bias beyond the potential range raises InputError naming the ``potential_bits`` that would hold it (where the
   potential range sets ``S``, a wider range raises ``S`` too, so the count is taken at ``S = whi / m``), or saying
   that none up to 32 would.

Every parameter must be finite, and so must every value derived from them (a gain, a weight times its gain, a value
divided by a tiny threshold can overflow float64): one InputError names the node and the field.

``quantise=False`` takes the effective values as they are (no per-neuron division, no scaling): every weight, bias
and ``floor(threshold) + 1`` must be an integer in the config's ranges (within ``1e-6``), the neurons of a node must
share one threshold, and ``tau / dt`` must be a power of two exactly. It is for graphs that already describe an
integer network, such as those of :func:`nir_from_network`.

The importer reads NIR's in-memory objects only: ``nir.read(path)`` first for a file; the same graph read back from
``nir.write`` gives the same network, independent of the node order HDF5 gives back: the populations are ordered by
their distance from the inputs, then by name, the inputs by name, the projections by target in that order, then by
source and delay.
"""

import numbers

import numpy as np

from ..errors import InputError, InputTypeError
from .config import RESET_MODES, SnnConfig
from .network import InputPopulation, Network, Population, Projection

__all__ = ["SUPPORTED_NODES", "network_from_nir", "nir_from_network", "nir_outputs"]

#: The NIR node types the importer takes.
SUPPORTED_NODES = ("Input", "Output", "Affine", "Linear", "Delay", "LIF", "IF", "CubaLIF")
_NEURONS = ("LIF", "IF", "CubaLIF")
_PASS = ("Affine", "Linear", "Delay")
#: Tolerance of "is an integer" and "equals" tests on the graph's float parameters.
_TOL = 1e-6


def _nir():
    import nir
    return nir


def _kind(node):
    return type(node).__name__


def _vector(node_name, field, value, size=None):
    """A node's parameter as a finite float64 vector (of ``size`` when given; a scalar is broadcast)."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0 and size is not None:
        arr = np.full(size, float(arr))
    if arr.ndim != 1 or (size is not None and arr.shape != (size,)):
        want = f"{size} values" if size is not None else "a 1-D array"
        raise InputError(f"NIR node {node_name!r}: {field} must be {want}, not shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InputError(f"NIR node {node_name!r}: {field} must be finite")
    return arr


def _finite(node_name, field, values):
    """``values`` (float64), derived from a node's ``field``, if every one is finite; else one InputError naming the
    node and the field (a product or quotient of finite parameters can overflow to infinity)."""
    arr = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise InputError(f"NIR node {node_name!r}: {field} overflows ({arr[bad].flat[0]}); the values are too large "
                         "for float64 arithmetic")
    return arr


def _bits_for(value):
    """The smallest ``potential_bits`` whose range holds the integer ``value``."""
    value = abs(float(value))
    return int(np.ceil(np.log2(value + 1))) + 1


def _shape_size(node_name, shape):
    shape = np.asarray(shape).reshape(-1)
    if shape.size != 1 or int(shape[0]) < 1:
        raise InputError(f"NIR node {node_name!r} must have a 1-D shape (n,), not {tuple(shape.tolist())}")
    return int(shape[0])


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value) or value <= 0:
        raise InputError(f"{name} must be a positive number, not {value!r}")
    return float(value)


def _is_integer(x):
    return np.all(np.abs(x - np.rint(x)) <= _TOL)


class _Neuron:
    """A neuron node's discretised parameters: size, gain, extra bias, thresholds, leak shift, reset."""

    def __init__(self, name, node, dt, config, quantise, reset):
        kind = _kind(node)
        if np.ndim(node.v_threshold) != 1:
            raise InputError(f"NIR node {name!r}: v_threshold must be a 1-D array (one per neuron), not shape "
                             f"{np.shape(node.v_threshold)}")
        size = _shape_size(name, np.shape(node.v_threshold))
        self.size = size
        thr = _vector(name, "v_threshold", node.v_threshold, size)
        if (thr <= 0).any():
            raise InputError(f"NIR node {name!r}: v_threshold must be positive (a threshold <= 0 fires at rest), "
                             f"not {thr[thr <= 0][0]}")
        r = _vector(name, "r", node.r, size)
        top = config.potential_bits - 1
        if kind == "IF":
            self.gain, self.extra = _finite(name, "r (times dt)", dt * r), np.zeros(size)
            self.leak = top
        else:
            tau = _vector(name, "tau_mem" if kind == "CubaLIF" else "tau",
                          node.tau_mem if kind == "CubaLIF" else node.tau, size)
            if (tau < dt * (1 - _TOL)).any():
                raise InputError(f"NIR node {name!r}: tau must be >= dt = {dt} (a shorter time constant overshoots "
                                 f"in a step of dt), not {tau.min()}")
            if kind == "CubaLIF":
                tau_syn = _vector(name, "tau_syn", node.tau_syn, size)
                if (np.abs(tau_syn - dt) > _TOL * dt).any():
                    raise InputError(f"NIR node {name!r}: a CubaLIF is supported only with tau_syn == dt = {dt} (no "
                                     "synaptic current state, which the engine's neurons lack), not tau_syn = "
                                     f"{tau_syn[np.argmax(np.abs(tau_syn - dt))]}; supported nodes: "
                                     + ", ".join(SUPPORTED_NODES))
                r = _finite(name, "r * w_in", r * _vector(name, "w_in", node.w_in, size))
            v_leak = _vector(name, "v_leak", node.v_leak, size)
            self.gain = _finite(name, "r (times dt / tau)", dt / tau * r)
            self.extra = _finite(name, "v_leak (times dt / tau)", dt / tau * v_leak)
            exact = np.log2(tau / dt)
            shifts = np.clip(np.rint(exact), 0, top).astype(np.int64)
            if not quantise and ((np.abs(exact - np.rint(exact)) > _TOL).any() or (np.rint(exact) > top).any()):
                raise InputError(f"NIR node {name!r}: with quantise=False tau / dt must be 2**leak with leak in "
                                 f"0..{top} exactly, not {(tau / dt)[0]}")
            if len(set(shifts.tolist())) > 1:
                raise InputError(f"NIR node {name!r}: its neurons need leak shifts {sorted(set(shifts.tolist()))} "
                                 "(rint(log2(tau / dt))), but a population has one leak; split the node")
            self.leak = int(shifts[0])
        meta = getattr(node, "metadata", None) or {}
        mode = reset if reset is not None else meta.get("reset", "zero")
        if mode not in RESET_MODES:
            raise InputError(f"NIR node {name!r}: metadata reset must be one of {', '.join(RESET_MODES)}, not "
                             f"{mode!r}")
        if mode == "zero":
            v_reset = _vector(name, "v_reset", node.v_reset if node.v_reset is not None else 0.0, size)
            if (np.abs(v_reset) > _TOL).any():
                raise InputError(f"NIR node {name!r}: v_reset must be 0 (the engine resets to 0, or subtracts the "
                                 f"threshold with reset='subtract'), not {v_reset[np.argmax(np.abs(v_reset))]}")
        self.reset = mode
        self.thresholds = thr


def _walk(graph, preds, neuron, first):
    """From the edge ``first -> neuron`` back to a spike source: ``(source, weight [out, in] or None, bias or None,
    delay in graph time units, the Affine/Linear node's name or None)``. Outputs have no successors (checked
    before), so the walk meets only Affine, Linear and Delay nodes on its way."""
    nodes = graph.nodes
    weight = bias = linear = None
    delay, cur, seen = 0.0, first, set()
    while True:
        node = nodes[cur]
        kind = _kind(node)
        if kind == "Input" or kind in _NEURONS:
            return cur, weight, bias, delay, linear
        if cur in seen:
            raise InputError(f"NIR nodes {', '.join(sorted(seen))} form a cycle without a neuron node")
        seen.add(cur)
        if len(preds[cur]) != 1:
            raise InputError(f"NIR node {cur!r} ({kind}) has {len(preds[cur])} inputs; Affine, Linear and Delay "
                             "nodes take exactly one")
        if kind == "Delay":
            d = _vector(cur, "delay", node.delay)
            if np.ptp(d) > _TOL * max(1.0, float(np.abs(d).max())):
                raise InputError(f"NIR node {cur!r}: every element of a Delay must have the same delay (a projection "
                                 f"has one), not {d.min()}..{d.max()}")
            delay = float(_finite(cur, "delay (summed along the path)", delay + float(d[0])))
        else:
            if weight is not None:
                raise InputError(f"NIR nodes {cur!r} and {linear!r} are two Affine/Linear nodes in a row on the way "
                                 f"to {neuron!r}; fold them into one")
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise InputError(f"NIR node {cur!r}: weight must be a 2-D [out, in] array, not shape {weight.shape}")
            if not np.isfinite(weight).all():
                raise InputError(f"NIR node {cur!r}: weight must be finite")
            if kind == "Affine":
                bias = _vector(cur, "bias", node.bias, weight.shape[0])
            linear = cur
        cur = preds[cur][0]


def _order(graph, succs, neurons, inputs):
    """Neuron node names by (distance from the inputs, name); unreachable ones last."""
    depth, frontier, d = {}, sorted(inputs), 0
    while frontier:
        nxt = []
        for name in frontier:
            if name in depth:
                continue
            depth[name] = d
            nxt.extend(s for s in succs[name] if s not in depth)
        frontier, d = sorted(set(nxt)), d + 1
    far = len(graph.nodes) + 1
    return sorted(neurons, key=lambda n: (depth.get(n, far), n))


def network_from_nir(graph, config, dt=1.0, weight_bits=None, quantise=True, reset=None):
    """Import a NIR graph as a network of integer LIF populations for ``config`` (the rules are in the module
    docstring).

    Parameters
    ----------
    graph : nir.NIRGraph
        The graph (``nir.read(path)`` for a file).
    config : SnnConfig
        Gives the weight and potential ranges and ``potential_bits`` (the IF leak).
    dt : float
        The engine's step in the graph's time unit (the LIF ``tau``, the IF ``dt * r``, the delays).
    weight_bits : int, optional
        Width to scale the weights to, 2..``config.weight_bits`` (default ``config.weight_bits``).
    quantise : bool
        Scale each population to the weight range (True), or take the graph's values as integers (False).
    reset : str, optional
        ``"zero"`` or ``"subtract"`` for every population; default: each node's ``metadata["reset"]``, else
        ``"zero"``.

    Returns
    -------
    (Network, tuple of str)
        The network and the names of its input populations (the graph's ``Input`` nodes, by name); feed them
        rasters in :meth:`~pimgen.snn.compiler.CompiledNetwork.trains`.

    Raises
    ------
    InputTypeError
        ``graph`` is not a ``nir.NIRGraph`` or ``config`` not an :class:`SnnConfig`.
    InputError
        An unsupported node or structure (named, with what is supported), a parameter the engine cannot represent,
        or a bad argument.
    """
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise InputTypeError(f"graph must be a nir.NIRGraph, not {type(graph).__name__}")
    if not isinstance(config, SnnConfig):
        raise InputTypeError(f"config must be an SnnConfig, not {type(config).__name__}")
    dt = _check_positive("dt", dt)
    if weight_bits is None:
        weight_bits = config.weight_bits
    elif isinstance(weight_bits, bool) or not isinstance(weight_bits, numbers.Integral) \
            or not 2 <= weight_bits <= config.weight_bits:
        raise InputError(f"weight_bits must be an integer in 2..{config.weight_bits} (the config's), not "
                         f"{weight_bits!r}")
    if not isinstance(quantise, bool):
        raise InputTypeError(f"quantise must be True or False, not {quantise!r}")
    if reset is not None and reset not in RESET_MODES:
        raise InputError(f"reset must be None or one of {', '.join(RESET_MODES)}, not {reset!r}")
    # Overflow to infinity is checked where it can happen (_finite), and reported as an InputError.
    with np.errstate(over="ignore", invalid="ignore"):
        return _import(nir, graph, config, dt, weight_bits, quantise, reset)


def _import(nir, graph, config, dt, weight_bits, quantise, reset):
    """:func:`network_from_nir` after its argument checks."""
    nodes = graph.nodes
    if not isinstance(nodes, dict) or not nodes:
        raise InputError("The NIR graph has no nodes")
    for name, node in nodes.items():
        if _kind(node) not in SUPPORTED_NODES or not isinstance(node, getattr(nir, _kind(node))):
            raise InputError(f"NIR node {name!r} is a {_kind(node)}, which the SNN engine does not support; "
                             f"supported nodes: {', '.join(SUPPORTED_NODES)} (CubaLIF with tau_syn == dt)")
    preds = {name: [] for name in nodes}
    succs = {name: [] for name in nodes}
    for edge in graph.edges:
        if len(edge) != 2 or edge[0] not in nodes or edge[1] not in nodes:
            raise InputError(f"NIR edge {tuple(edge)!r} names a node that is not in the graph")
        src, dst = edge
        if dst in succs[src]:
            raise InputError(f"NIR edge ({src!r}, {dst!r}) is given twice")
        succs[src].append(dst)
        preds[dst].append(src)

    inputs = sorted(n for n, node in nodes.items() if _kind(node) == "Input")
    if not inputs:
        raise InputError("The NIR graph has no Input node")
    input_sizes = {}
    for name in inputs:
        if preds[name]:
            raise InputError(f"NIR node {name!r} (Input) has inputs ({', '.join(preds[name])}); an Input is a root")
        input_sizes[name] = _shape_size(name, nodes[name].input_type["input"])
    neuron_names = [n for n, node in nodes.items() if _kind(node) in _NEURONS]
    if not neuron_names:
        raise InputError("The NIR graph has no neuron node (LIF, IF or CubaLIF)")
    for name, node in nodes.items():
        kind = _kind(node)
        if kind == "Output":
            if len(preds[name]) != 1 or _kind(nodes[preds[name][0]]) not in _NEURONS:
                fed = ", ".join(f"{p} ({_kind(nodes[p])})" for p in preds[name]) or "nothing"
                raise InputError(f"NIR node {name!r} (Output) must be fed by exactly one neuron node (LIF, IF or "
                                 f"CubaLIF; the engine's outputs are spikes), not by {fed}")
            if succs[name]:
                raise InputError(f"NIR node {name!r} (Output) feeds {', '.join(succs[name])}; an Output is a leaf")
        elif kind in _PASS:
            if not succs[name]:
                raise InputError(f"NIR node {name!r} ({kind}) leads nowhere; Affine, Linear and Delay nodes must "
                                 "lead to a neuron node")
            for s in succs[name]:
                if _kind(nodes[s]) not in _PASS + _NEURONS:
                    raise InputError(f"NIR node {name!r} ({kind}) feeds {s!r} ({_kind(nodes[s])}); Affine, Linear "
                                     "and Delay nodes must lead to a neuron node (LIF, IF or CubaLIF)")

    neurons = {n: _Neuron(n, nodes[n], dt, config, quantise, reset) for n in neuron_names}
    sizes = dict(input_sizes, **{n: neurons[n].size for n in neurons})

    # Projections into each neuron node: (source, delay steps) -> float [in, out] weights; per node the Affine bias.
    incoming = {n: {} for n in neurons}
    affine_bias = {n: np.zeros(neurons[n].size) for n in neurons}
    via = {n: {} for n in neurons}                  # (source, steps) -> the node to name in an error
    for target in neurons:
        for first in preds[target]:
            source, weight, bias, delay, linear = _walk(graph, preds, target, first)
            steps = float(_finite(target, f"the delay from {source!r} in steps of dt", delay / dt))
            if steps < -_TOL or abs(steps - round(steps)) > _TOL:
                raise InputError(f"The path {source!r} -> {target!r} has a delay of {delay} ({steps} steps of dt = "
                                 f"{dt}); delays must be whole steps >= 0")
            steps = int(round(steps))
            if weight is None:
                if sizes[source] != sizes[target]:
                    raise InputError(f"NIR node {source!r} ({sizes[source]}) feeds {target!r} ({sizes[target]}) "
                                     "without an Affine/Linear node, so their sizes must match")
                w = np.eye(sizes[source])
            else:
                if weight.shape != (sizes[target], sizes[source]):
                    raise InputError(f"NIR node {linear!r}: weight must be [out, in] = [{sizes[target]}, "
                                     f"{sizes[source]}] (from {source!r} to {target!r}), not {list(weight.shape)}")
                w = weight.T
            key = (source, steps)
            incoming[target][key] = _finite(linear or target, "weight (summed over the paths)",
                                            incoming[target].get(key, 0.0) + w)
            via[target][key] = linear or target
            if bias is not None:
                affine_bias[target] = _finite(linear, "bias (summed over the paths)", affine_bias[target] + bias)

    whi = (1 << (weight_bits - 1)) - 1
    plo, phi = config.potential_range
    populations, projections = [], []
    for target in _order(graph, succs, neurons, inputs):
        nrn = neurons[target]
        # Every effective value finite before any rounding (the products and quotients can overflow float64).
        eff = {key: _finite(via[target][key], "weight (times the gain of " + repr(target) + ")",
                            w * nrn.gain[None, :]) for key, w in incoming[target].items()}
        bias = _finite(target, "bias (gain * Affine bias + dt / tau * v_leak)", nrn.gain * affine_bias[target]
                       + nrn.extra)
        if quantise:
            eff = {key: _finite(via[target][key], f"weight divided by the v_threshold of {target!r}",
                                w / nrn.thresholds[None, :]) for key, w in eff.items()}
            bias = _finite(target, "bias divided by v_threshold", bias / nrn.thresholds)
            top = max((float(np.abs(w).max()) for w in eff.values()), default=0.0)
            scale = min(whi / top if top > 0 else float(whi), float(phi - 1))
            codes = {key: np.rint(w * scale).astype(np.int64) for key, w in eff.items()}
            bias_codes = np.rint(bias * scale)
            threshold = int(np.floor(scale)) + 1
        else:
            thresholds = np.floor(nrn.thresholds + _TOL) + 1
            if np.ptp(thresholds) > 0:
                raise InputError(f"NIR node {target!r}: with quantise=False its neurons must share one threshold, "
                                 f"not {thresholds.min():g}..{thresholds.max():g}")
            if thresholds[0] > phi:
                raise InputError(f"NIR node {target!r}: threshold {thresholds[0]:.6g} is beyond 1..{phi} "
                                 f"(potential_bits = {config.potential_bits})")
            threshold = int(thresholds[0])
            for (source, steps), w in eff.items():
                if not _is_integer(w):
                    raise InputError(f"NIR projection {source!r} -> {target!r}: with quantise=False the weights "
                                     "(times dt / tau * r) must be integers")
                outside = w[(np.rint(w) < -whi - 1) | (np.rint(w) > whi)]
                if outside.size:
                    raise InputError(f"NIR projection {source!r} -> {target!r}: weight {outside[0]:.6g} is beyond "
                                     f"the {weight_bits}-bit range {-whi - 1}..{whi}")
            if not _is_integer(bias):
                raise InputError(f"NIR node {target!r}: with quantise=False the bias (dt / tau * (v_leak + r * "
                                 "Affine bias)) must be integers")
            codes = {key: np.rint(w).astype(np.int64) for key, w in eff.items()}
            bias_codes = np.rint(bias)
        if not 1 <= threshold <= phi:
            raise InputError(f"NIR node {target!r}: threshold {threshold} is beyond 1..{phi} (potential_bits = "
                             f"{config.potential_bits})")
        outside = (bias_codes < plo) | (bias_codes > phi)
        if outside.any():
            worst = int(np.argmax(np.where(outside, np.abs(bias_codes), -1.0)))
            code = float(bias_codes[worst])
            # The code at a wider potential: the scale is then set by the weights alone (or is whi without any).
            wide = code if not quantise else float(np.rint(bias[worst] * (whi / top if top > 0 else float(whi))))
            need = _bits_for(wide)
            if need <= 32:
                hint = f"raise potential_bits to {need}"
            else:
                hint = ("no potential_bits up to 32 holds it: lower the bias (v_leak, the Affine bias)"
                        + (" relative to the weights" if quantise else ""))
            raise InputError(f"NIR node {target!r}: bias {code:.6g} (neuron {worst}) is beyond the potential range "
                             f"{plo}..{phi} (potential_bits = {config.potential_bits}); {hint}")
        populations.append(Population(target, nrn.size, threshold=threshold, leak=nrn.leak, reset=nrn.reset,
                                      bias=bias_codes.astype(np.int64)))
        for (source, steps) in sorted(codes):
            projections.append(Projection(source, target, codes[(source, steps)], delay=steps))
    network = Network(inputs=[InputPopulation(n, input_sizes[n]) for n in inputs], populations=populations,
                      projections=projections)
    return network, tuple(inputs)


def nir_outputs(graph):
    """``{Output node name: the population (neuron node) that feeds it}`` of a NIR graph, by name."""
    nir = _nir()
    if not isinstance(graph, nir.NIRGraph):
        raise InputTypeError(f"graph must be a nir.NIRGraph, not {type(graph).__name__}")
    out = {}
    for name in sorted(n for n, node in graph.nodes.items() if isinstance(node, nir.Output)):
        feeds = [src for src, dst in graph.edges if dst == name]
        if len(feeds) != 1:
            raise InputError(f"NIR node {name!r} (Output) must be fed by exactly one node, not {len(feeds)}")
        out[name] = feeds[0]
    return out


def _unique(name, taken):
    candidate, i = name, 1
    while candidate in taken:
        candidate, i = f"{name}_{i}", i + 1
    taken.add(candidate)
    return candidate


def nir_from_network(network, dt=1.0, outputs=None):
    """A NIR graph of ``network`` that :func:`network_from_nir` ``(graph, config, dt, quantise=False)`` takes back
    exactly (for a config whose ranges hold the network's values).

    - An input population is an ``Input`` node of its name and size.
    - A population of leak ``L`` is a ``LIF`` node of its name: ``tau = dt * 2**L`` and ``r = 2**L`` (so that ``dt /
      tau * r = 1``: the weights are the integers), ``v_leak = bias * 2**L`` (``dt / tau * v_leak`` is the bias),
      ``v_threshold = threshold - 0.5`` (NIR's ``v > threshold - 0.5`` is ``v >= threshold`` on integers),
      ``v_reset = 0``, and ``metadata = {"reset": reset}``. In NIR's own float semantics the LIF decays by ``v *
      2**-L`` where the engine subtracts ``v >> L`` (a floor), and its potential does not saturate.
    - A projection is a ``Linear`` node ``"{source}_to_{target}"`` (weights ``[out, in]``, float64), preceded by a
      ``Delay`` node ``"{source}_to_{target}_delay"`` of ``delay * dt`` when its delay is not 0 (a suffix ``_1``,
      ``_2`` ... keeps names unique).
    - ``outputs`` (default: the populations no projection leaves, or the last population when every population
      feeds another: NIR's type check needs a leaf) each get an ``Output`` node ``"{name}_output"``.

    NIR's type check (on by default in ``NIRGraph`` and ``nir.read``) gives every root node that is not an ``Input``
    an ``Input`` node of its own: a population without incoming projections (driven by its bias alone) comes back
    from :func:`network_from_nir` with an extra input population ``"input_{name}"`` and an identity projection; left
    silent, it changes no spike.
    """
    nir = _nir()
    if not isinstance(network, Network):
        raise InputTypeError(f"network must be a Network, not {type(network).__name__}")
    dt = _check_positive("dt", dt)
    names = [p.name for p in network.populations]
    if outputs is None:
        sources = {p.source for p in network.projections}
        outputs = [n for n in names if n not in sources] or names[-1:]
    else:
        outputs = list(outputs)
        unknown = [n for n in outputs if n not in names]
        if unknown:
            raise InputError(f"outputs must name populations of the network, not {', '.join(map(repr, unknown))}")
    nodes, edges, taken = {}, [], {p.name for p in network.inputs + network.populations}
    for pop in network.inputs:
        nodes[pop.name] = nir.Input(input_type={"input": np.array([pop.size])})
    for pop in network.populations:
        gain = float(2 ** pop.leak)
        nodes[pop.name] = nir.LIF(tau=np.full(pop.size, dt * gain), r=np.full(pop.size, gain),
                                  v_leak=pop.bias.astype(np.float64) * gain,
                                  v_threshold=np.full(pop.size, pop.threshold - 0.5), v_reset=np.zeros(pop.size),
                                  metadata={"reset": pop.reset})
    for proj in network.projections:
        linear = _unique(f"{proj.source}_to_{proj.target}", taken)
        nodes[linear] = nir.Linear(weight=proj.weights.T.astype(np.float64))
        if proj.delay:
            delay = _unique(f"{linear}_delay", taken)
            nodes[delay] = nir.Delay(delay=np.full(proj.weights.shape[0], proj.delay * dt))
            edges += [(proj.source, delay), (delay, linear)]
        else:
            edges.append((proj.source, linear))
        edges.append((linear, proj.target))
    for name in outputs:
        out = _unique(f"{name}_output", taken)
        size = network.population(name).size
        nodes[out] = nir.Output(output_type={"output": np.array([size])})
        edges.append((name, out))
    return nir.NIRGraph(nodes=nodes, edges=edges)
