"""Synthetic spiking networks for tests and benchmarks: each function returns ``(network, inputs, steps)``, where
``inputs`` is ``{input population name: boolean raster [steps, size]}`` (seeded Bernoulli) for
:meth:`~pimgen.snn.compiler.CompiledNetwork.trains`.

- :func:`chain`: a feed-forward chain of populations joined by zero-delay projections; equal sizes are a balanced
  load across cores, unequal sizes an imbalanced one (the asynchronous scheduler's case).
- :func:`recurrent`: a population exciting and inhibiting itself through delay-1 projections, driven by an input
  for the first steps; its activity persists after the input stops (a ring of neuron pairs replays the input's
  timing).

The weights are random seeded integers within ``-max_weight .. max_weight`` (they fit ``weight_bits >= 5`` with the
default 15), and the thresholds are set so that spikes propagate through every population without every neuron
spiking every step. No config is needed to build them; the compiler checks that they fit.

Plain NumPy.
"""

import numpy as np

from ..errors import InputError
from .network import InputPopulation, Network, Population, Projection

__all__ = ["chain", "recurrent"]

#: The spike rate a chain stage's threshold is set for, in its source stage (the input's own rate for the first
#: stage). Found by sweeping seeds and stage sizes: at 0.3 the rates fade along a 6-stage chain, at 0.2 they grow
#: towards saturation, at 0.25 they stay near 0.25 (each stage's mean rate 0.17..0.55 over seeds 0..9 and
#: three layouts of 4 to 6 stages).
CHAIN_SOURCE_RATE = 0.25
#: Share of the recurrent population's non-ring neurons that inhibit.
INHIBITORY_SHARE = 0.3


def _check(name, value, lo, hi=None, kind=int):
    ok = (not isinstance(value, bool) and isinstance(value, (int, np.integer))) if kind is int else \
        isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or value < lo or (hi is not None and value > hi):
        allowed = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
        raise InputError(f"{name} must be {'an integer' if kind is int else 'a number'} {allowed}, not {value!r}")
    return value


def _raster(rng, steps, size, rate):
    return rng.random((steps, size)) < rate


def _weights(rng, rows, cols, density, lo, hi):
    """Random integers in ``lo..hi`` without zeros where a ``density`` mask holds (at least one per column)."""
    mask = rng.random((rows, cols)) < density
    mask[rng.integers(0, rows, cols), np.arange(cols)] = True
    values = rng.integers(lo, hi + 1, (rows, cols))
    values[values == 0] = 1
    return np.where(mask, values, 0).astype(np.int64)


def chain(stages=3, neurons_per_stage=32, inputs=16, density=0.5, seed=0, steps=32, rate=0.25, max_weight=15):
    """A feed-forward chain ``in -> s0 -> s1 -> ...`` of LIF populations joined by zero-delay projections.

    Parameters
    ----------
    stages : int
        Populations in the chain (1..64); ignored when ``neurons_per_stage`` is a list (its length counts).
    neurons_per_stage : int or list of int
        Size of every stage, or of each (unequal sizes make an imbalanced load).
    inputs : int
        Size of the input population ``in``.
    density : float
        Fraction of nonzero synapses of each projection (0 < density <= 1; every target neuron gets at least one).
    seed : int
        Seed of the weights and the input raster.
    steps : int
        Timesteps of the input raster.
    rate : float
        Spike probability of an input neuron per step.
    max_weight : int
        Weights lie in ``-max_weight // 3 .. max_weight`` (mostly excitatory).

    Returns
    -------
    (Network, dict, int)
        The network, ``{"in": raster [steps, inputs]}`` and ``steps``.
    """
    if isinstance(neurons_per_stage, (list, tuple)):
        sizes = list(neurons_per_stage)
        if not sizes:
            raise InputError("neurons_per_stage must hold at least one size")
    else:
        sizes = [neurons_per_stage] * _check("stages", stages, 1, 64)
    for i, n in enumerate(sizes):
        _check(f"neurons_per_stage[{i}]", n, 1)
    _check("inputs", inputs, 1)
    _check("density", density, 0, 1, float)
    if density == 0:
        raise InputError("density must be a number in 0..1 above 0, not 0")
    _check("steps", steps, 1)
    _check("rate", rate, 0, 1, float)
    _check("max_weight", max_weight, 3)
    rng = np.random.default_rng(seed)
    lo = -(max_weight // 3)
    inp = InputPopulation("in", inputs)
    pops, projs = [], []
    source, source_rate = "in", rate
    # leak 1 keeps half the potential, which settles near twice the mean input: the threshold sits there.
    for i, n in enumerate(sizes):
        w = _weights(rng, inp.size if i == 0 else sizes[i - 1], n, density, lo, max_weight)
        drive = float(np.median(w.sum(axis=0))) * max(source_rate, 0.05)
        pops.append(Population(f"s{i}", n, threshold=max(1, int(round(2 * drive))), leak=1, reset="zero"))
        projs.append(Projection(source, f"s{i}", w, delay=0))
        source, source_rate = f"s{i}", CHAIN_SOURCE_RATE
    return Network([inp], pops, projs), {"in": _raster(rng, steps, inputs, rate)}, steps


def recurrent(neurons=48, inputs=16, density=0.25, seed=0, steps=48, drive_steps=None, rate=0.3, max_weight=15,
              delay=1):
    """A population ``r`` with an excitatory and an inhibitory projection onto itself (both ``delay`` steps, on
    disjoint synapses, so they share axons), fed by an input ``in`` that spikes only in the first ``drive_steps``
    steps; its activity persists after that.

    The persistence is built in, not left to chance: ``r``'s first ``ring`` neurons (a quarter, at least 4, in
    pairs) form a ring of pairs, each pair exciting the next with ``max_weight`` per synapse, above the threshold
    ``max_weight + max_weight // 2`` together. Only the input (into the first pair) and the previous pair reach a
    ring neuron, so both of a pair always spike together, and every pair the input set off travels round the ring
    for good: the ring replays the input's timing. The other neurons get random weights from the input, the ring and
    each other (a share :data:`INHIBITORY_SHARE` of them inhibit), so their activity varies.

    Parameters
    ----------
    neurons : int
        Size of ``r`` (at least 8; split over several cores when larger than a core).
    inputs : int
        Size of ``in`` (at least 2).
    density : float
        Fraction of nonzero synapses into the non-ring neurons (0 < density <= 1).
    seed, steps, rate
        As in :func:`chain`.
    max_weight : int
        The ring's weight; the other weights lie in ``-max_weight .. max_weight // 2``.
    drive_steps : int, optional
        Steps the input is active (default ``steps // 4``).
    delay : int
        Delay of the recurrent projections (at least 1: a zero-delay loop is refused).

    Returns
    -------
    (Network, dict, int)
        The network, ``{"in": raster [steps, inputs]}`` and ``steps``.
    """
    _check("neurons", neurons, 8)
    _check("inputs", inputs, 2)
    _check("density", density, 0, 1, float)
    if density == 0:
        raise InputError("density must be a number in 0..1 above 0, not 0")
    _check("steps", steps, 1)
    drive_steps = steps // 4 if drive_steps is None else drive_steps
    _check("drive_steps", drive_steps, 0, steps)
    _check("rate", rate, 0, 1, float)
    _check("max_weight", max_weight, 3)
    _check("delay", delay, 1)
    rng = np.random.default_rng(seed)
    ring = 2 * max(2, neurons // 8)
    pairs = ring // 2
    rest = np.arange(ring, neurons)
    threshold = max_weight + max_weight // 2
    w_in = np.zeros((inputs, neurons), dtype=np.int64)
    w_in[:2, :2] = max_weight                          # input neurons 0 and 1 set off the first pair
    w_in[:, rest] = _weights(rng, inputs, len(rest), density, 1, max_weight // 2)
    w_exc = np.zeros((neurons, neurons), dtype=np.int64)
    for k in range(pairs):
        nxt = (k + 1) % pairs
        w_exc[2 * k:2 * k + 2, 2 * nxt:2 * nxt + 2] = max_weight
    inhibitory = np.zeros(neurons, dtype=bool)
    inhibitory[rest] = rng.random(len(rest)) < INHIBITORY_SHARE
    w_rest = _weights(rng, neurons, len(rest), density, 1, max_weight // 2)
    w_exc[:, rest] = np.where(inhibitory[:, None], 0, w_rest)
    w_inh = np.zeros((neurons, neurons), dtype=np.int64)
    w_inh[:, rest] = np.where(inhibitory[:, None], -2 * w_rest, 0)
    np.fill_diagonal(w_exc, 0)
    np.fill_diagonal(w_inh, 0)
    pop = Population("r", neurons, threshold=threshold, leak=2, reset="zero")
    projs = [Projection("in", "r", w_in, delay=0), Projection("r", "r", w_exc, delay=delay),
             Projection("r", "r", w_inh, delay=delay)]
    raster = _raster(rng, steps, inputs, rate)
    raster[drive_steps:] = False
    return Network([InputPopulation("in", inputs)], [pop], projs), {"in": raster}, steps
