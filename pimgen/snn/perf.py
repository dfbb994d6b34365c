"""Performance models of the SNN engine: the cycles a core spends on a step (from its state machine), the
dependency-driven lower bound of a run, and an energy estimate from the activity counters.

The lower bound is what the asynchronous schedulers could reach with the same per-core work if packets took no time
and buffers were unlimited: each (core, step) task starts when the core's previous step and every step it depends
on have finished (docs/snn.md, rule 1). Plain NumPy.
"""

import numpy as np

from .config import SnnConfig

__all__ = ["step_work", "lower_bound", "ENERGY_PJ", "energy_pj"]

#: Energy per event in picojoules, the assumptions of :func:`energy_pj`. Orders of magnitude from the neuromorphic
#: literature for a 28 nm-class digital core (a synaptic operation is a weight read and an add; a neuron update is
#: the leak, threshold and write of one potential; a packet crosses the router once); the static term is a core's
#: clock tree and leakage per cycle, paid whether it works or waits (no clock gating in this design).
ENERGY_PJ = {
    "synop": 2.0,
    "neuron_update": 4.0,
    "packet": 10.0,
    "core_cycle": 40.0,
}


def step_work(config, input_spikes, output_fanouts):
    """Cycles a core's step takes from its state machine (``hw.snn.core.NeuronCore``) with no back pressure, as
    ``(until_tokens, total)``: the leak pass (``groups``), ``1 + groups`` per input spike and one more fetch, the
    update pass (``groups``), ``4 + fan-out`` per spiking neuron and one more pick; then ``cores + 1`` for the tokens
    and one to finish."""
    if not isinstance(config, SnnConfig):
        raise TypeError(f"Config must be an SnnConfig, not {config!r}")
    G = config.groups
    until_tokens = G + input_spikes * (1 + G) + 1 + G + sum(4 + f for f in output_fanouts) + 1
    return until_tokens, until_tokens + config.cores + 1 + 1


def source_work(config, fanouts):
    """The input source's step (``hw.snn.source.InputSource``), as ``(until_tokens, total)``: two offset reads,
    ``5 + fan-out`` per input spike and one more read; then the tokens and one to finish."""
    until_tokens = 2 + sum(5 + f for f in fanouts) + 1
    return until_tokens, until_tokens + config.cores + 1 + 1


def lower_bound(config, program, trains, result):
    """A lower bound (cycles) of an asynchronous run of ``program`` on ``trains``, given the golden ``result`` (its
    spikes fix every core's work): each (core, step) task starts when the core has finished its previous step and
    every source it depends on has begun sending the tokens of the step it needs (packets taking no time); it lasts
    :func:`step_work`. The bound is the latest finish, plus the start (zeroing the potentials, ``groups`` cycles)."""
    K, steps = config.cores, result.steps
    fanouts = program.fanouts()
    fan = [np.diff(ptr) for ptr, _ in fanouts]
    inputs_per_step = np.zeros((K, steps), dtype=np.int64)
    outputs = [[[] for _ in range(steps)] for _ in range(K)]
    for k in range(K):
        for t, n in result.spikes[k].tolist():
            outputs[k][t].append(int(fan[k][n]))
    for p, (ptr, entries) in enumerate(fanouts):
        spikes = result.spikes[p].tolist() if p < K else [
            (t, n) for t in range(trains.steps) for n in trains.neurons[trains.ptr[t]:trains.ptr[t + 1]].tolist()]
        for t, n in spikes:
            for core, _, delay in entries[ptr[n]:ptr[n + 1]].tolist():
                if t + delay < steps:
                    inputs_per_step[core, t + delay] += 1
    finish = np.zeros((config.sources, steps), dtype=np.int64)
    tokens = np.zeros((config.sources, steps), dtype=np.int64)
    start = config.groups
    for t in range(steps):
        source_fanouts = [int(fan[K][n]) for n in trains.neurons[trains.ptr[t]:trains.ptr[t + 1]].tolist()] \
            if t < trains.steps else []
        begin = finish[K, t - 1] if t else start
        until, total = source_work(config, source_fanouts)
        tokens[K, t], finish[K, t] = begin + until, begin + total
        for k in program.zero_delay_order(config):
            begin = finish[k, t - 1] if t else start
            for p in range(config.sources):
                d = program.dependencies[k, p]
                if d >= 0 and t - d >= 0:
                    begin = max(begin, tokens[p, t - d])
            until, total = step_work(config, int(inputs_per_step[k, t]), outputs[k][t])
            tokens[k, t], finish[k, t] = begin + until, begin + total
    return int(finish[:, steps - 1].max())


def energy_pj(config, counters, costs=ENERGY_PJ):
    """Energy estimate of one run in picojoules from its counters: synaptic operations, neuron updates (every neuron
    of every core once per step: ``steps`` must be in ``counters``), router packets, and the static cost of every core
    for every cycle of the run. Returns ``{"total", "dynamic", "static"}``."""
    synops = sum(counters["synops"])
    updates = config.cores * config.neurons * counters["steps"]
    dynamic = costs["synop"] * synops + costs["neuron_update"] * updates + costs["packet"] * counters["packets"]
    static = costs["core_cycle"] * config.cores * counters["cycles"]
    return {"total": dynamic + static, "dynamic": dynamic, "static": static}
