"""Performance models of the SNN engine: the cycles a core or the input source spends on a step (from their state
machines), the dependency-driven lower bound of a run, and an energy estimate from the activity counters.

The lower bound is what the asynchronous schedulers could reach with the same per-unit work if the router added
nothing to a packet's least latency and buffers were unlimited: each (core, step) task starts when the core's previous
step and every token it depends on have arrived (docs/snn.md, rule 1; credits, rule 2, are left out). Plain NumPy.
"""

import numpy as np

from .config import SnnConfig

__all__ = ["step_work", "source_work", "lower_bound", "ROUTER_LATENCY", "ENERGY_PJ", "energy_pj"]

#: Cycles from a sender handing a packet to the router (``send.valid & send.ready``) until it is valid at its
#: receiver, through an empty router (``hw.snn.router.Router``; checked in tests/test_snn_units.py).
ROUTER_LATENCY = 4

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
    ``(until_tokens, total)``: one cycle in ``WAIT`` sampling ``may_start`` (every step passes through it), the leak
    pass (``groups``), ``1 + groups`` per input spike and one more fetch, the update pass (``groups``), ``4 +
    fan-out`` per spiking neuron and one more pick; that is ``until_tokens``, the first ``TOKENS`` cycle counted from
    the ``WAIT`` cycle. Then ``cores + 1`` for the tokens and one to finish: ``total``, after which the core is in
    ``WAIT`` again."""
    if not isinstance(config, SnnConfig):
        raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
    G = config.groups
    until_tokens = 1 + G + input_spikes * (1 + G) + 1 + G + sum(4 + f for f in output_fanouts) + 1
    return until_tokens, until_tokens + config.cores + 1 + 1


def source_work(config, fanouts):
    """The input source's step (``hw.snn.source.InputSource``) with no back pressure, as ``(until_tokens, total)``
    counted like :func:`step_work`: one cycle in ``WAIT``, two offset reads, ``5 + fan-out`` per input spike and one
    more read; then ``cores + 1`` for the tokens and one to finish."""
    if not isinstance(config, SnnConfig):
        raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
    until_tokens = 1 + 2 + sum(5 + f for f in fanouts) + 1
    return until_tokens, until_tokens + config.cores + 1 + 1


def lower_bound(config, program, trains, result):
    """A lower bound of ``CNT_CYCLES`` of an asynchronous run of ``program`` on ``trains``, given the golden
    ``result`` (its spikes fix every core's work). Cycle 0 is the first one the counter counts (the one after the
    start, where everything sits in its reset state).

    - The source waits for its scheduler from cycle 1 on, each core from cycle ``1 + groups`` on (after zeroing its
      potentials).
    - A step is a task of :func:`step_work` (:func:`source_work`) cycles, from the ``WAIT`` cycle where the scheduler
      lets it start; the unit's next step can start at its end.
    - Core ``k``'s step ``t`` needs, from each source ``p`` it receives from with smallest delay ``d``, the token of
      ``p``'s step ``t - d``. ``p`` sends it in its ``k``-th ``TOKENS`` cycle (one per core, in core order), the
      router delivers it :data:`ROUTER_LATENCY` cycles later at the earliest, and the core's ``token_from`` shows it
      the cycle after: the ``WAIT`` cycle of the step is no earlier.
    - After its last step a unit spends one cycle in ``WAIT`` and is finished in the next; the run's last counted
      cycle is no earlier than that for every unit, nor than the cycle after the last token of the last step leaves
      the router (the router must be empty).

    Every term is a cycle the state machines cannot skip; what is left out (back pressure, credits, packets
    arriving later than the least latency) only adds cycles, so the hardware's count is at least this."""
    if not isinstance(config, SnnConfig):
        raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
    K, steps = config.cores, result.steps
    program.validate(config)
    fanouts = program.fanouts()
    fan = [np.diff(ptr) for ptr, _ in fanouts]
    inputs_per_step = np.zeros((K, steps), dtype=np.int64)
    outputs = [[[] for _ in range(steps)] for _ in range(K)]
    for k in range(K):
        for t, n in result.spikes[k].tolist():
            outputs[k][t].append(int(fan[k][n]))
    input_spikes = [trains.neurons[trains.ptr[t]:trains.ptr[t + 1]].tolist() if t < trains.steps else []
                    for t in range(steps)]
    for p, (ptr, entries) in enumerate(fanouts):
        spikes = result.spikes[p].tolist() if p < K else [(t, n) for t in range(steps) for n in input_spikes[t]]
        for t, n in spikes:
            for core, _, delay in entries[ptr[n]:ptr[n + 1]].tolist():
                if t + delay < steps:
                    inputs_per_step[core, t + delay] += 1
    finish = np.zeros((config.sources, steps), dtype=np.int64)
    tokens = np.zeros((config.sources, steps), dtype=np.int64)
    first_wait = [1 + config.groups] * K + [1]
    for t in range(steps):
        begin = finish[K, t - 1] if t else first_wait[K]
        until, total = source_work(config, [int(fan[K][n]) for n in input_spikes[t]])
        tokens[K, t], finish[K, t] = begin + until, begin + total
        for k in program.zero_delay_order(config):
            begin = finish[k, t - 1] if t else first_wait[k]
            for p in range(config.sources):
                d = program.dependencies[k, p]
                if d >= 0 and t - d >= 0:
                    begin = max(begin, tokens[p, t - d] + k + ROUTER_LATENCY + 1)
            until, total = step_work(config, int(inputs_per_step[k, t]), outputs[k][t])
            tokens[k, t], finish[k, t] = begin + until, begin + total
    last = finish[:, steps - 1] + 1                     # the cycle each unit is finished in
    for p in range(config.sources):
        for k in range(K):
            if program.dependencies[k, p] >= 0:         # the last token to k: taken by k, the router empty after
                last[p] = max(last[p], tokens[p, steps - 1] + k + ROUTER_LATENCY + 1)
    return int(last.max()) + 1


def energy_pj(config, counters, costs=ENERGY_PJ):
    """Energy estimate of one run in picojoules from its counters: synaptic operations, neuron updates (every neuron
    of every core once per step: ``steps`` must be in ``counters``), router packets, and the static cost of every core
    for every cycle of the run. Returns ``{"total", "dynamic", "static"}``."""
    synops = sum(counters["synops"])
    updates = config.cores * config.neurons * counters["steps"]
    dynamic = costs["synop"] * synops + costs["neuron_update"] * updates + costs["packet"] * counters["packets"]
    static = costs["core_cycle"] * config.cores * counters["cycles"]
    return {"total": dynamic + static, "dynamic": dynamic, "static": static}
