"""Golden model of the SNN engine: a timestep-level simulation of a compiled program (docs/snn.md), spike for spike.

The hardware's cores run their steps whenever their schedulers allow, in either mode; because a step's input is
complete before it starts and its sum is exact, the spikes do not depend on that order, and this model runs the steps
one after the other. It is checked in tests against an independent float64 LIF over the logical network.
"""

from dataclasses import dataclass

import numpy as np

from pimgen.snn.config import SnnConfig
from pimgen.snn.program import SnnProgram, SpikeTrains

__all__ = ["SnnResult", "simulate", "lif_step"]


@dataclass
class SnnResult:
    """Spikes of every core as ``(step, neuron)`` rows in the order the core records them (step, then neuron), and
    activity counts: per core the synaptic operations (input spikes x neurons), input spikes, output spikes and the
    packets it sent (spikes routed and tokens); the same for the input source as the last entry of ``packets``.
    ``delivered`` counts the spike packets each core receives, those tagged for steps after the run included (they
    arrive but are never integrated)."""
    spikes: list
    synaptic_ops: np.ndarray
    input_spikes: np.ndarray
    output_spikes: np.ndarray
    packets: np.ndarray
    steps: int
    delivered: np.ndarray = None


def lif_step(config, v, current, bias, threshold, leak, reset):
    """One step of the integer LIF (docs/snn.md) on int64 arrays; returns ``(new_v, spiked)``."""
    lo, hi = config.potential_range
    u = v - (v >> leak) + bias + current
    v1 = np.clip(u, lo, hi)
    spiked = v1 >= threshold
    if reset == "zero":
        new_v = np.where(spiked, 0, v1)
    else:
        new_v = np.where(spiked, v1 - threshold, v1)
    return new_v, spiked


def simulate(config, program, trains, steps=None):
    """Run ``program`` on the input ``trains`` for ``steps`` steps (default: the trains' length); returns an
    :class:`SnnResult`."""
    if not isinstance(config, SnnConfig):
        raise TypeError(f"Config must be an SnnConfig, not {config!r}")
    if not isinstance(program, SnnProgram) or not isinstance(trains, SpikeTrains):
        raise TypeError("simulate takes an SnnProgram and SpikeTrains")
    program.validate(config)
    trains.validate(config)
    steps = trains.steps if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= config.max_steps:
        raise ValueError(f"steps must be an integer in 1..max_steps = 1..{config.max_steps}, not {steps!r}")
    K = config.cores
    horizon = steps + config.max_delay + 1
    pending = [[[] for _ in range(horizon)] for _ in range(K)]      # axons spiking into core k at step t
    v = [np.zeros(config.neurons, dtype=np.int64) for _ in range(K)]
    spikes = [[] for _ in range(K)]
    synaptic_ops = np.zeros(K, dtype=np.int64)
    input_spikes = np.zeros(K, dtype=np.int64)
    delivered = np.zeros(K, dtype=np.int64)
    output_spikes = np.zeros(K, dtype=np.int64)
    packets = np.zeros(config.sources, dtype=np.int64)
    fanouts = program.fanouts()
    successors = [[k for k in range(K) if program.dependencies[k, p] >= 0] for p in range(config.sources)]
    order = program.zero_delay_order(config)

    def route(source, neuron, t):
        ptr, entries = fanouts[source]
        for core, axon, delay in entries[ptr[neuron]:ptr[neuron + 1]].tolist():
            pending[core][t + delay].append(axon)
            delivered[core] += 1
        packets[source] += ptr[neuron + 1] - ptr[neuron]

    for t in range(steps):
        if t < trains.steps:
            for n in trains.neurons[trains.ptr[t]:trains.ptr[t + 1]].tolist():
                route(K, n, t)
        packets[K] += len(successors[K])                            # the source's tokens
        for k in order:
            core = program.cores[k]
            axons = pending[k][t]
            current = core.weights[axons].sum(axis=0) if axons else np.zeros(config.neurons, dtype=np.int64)
            synaptic_ops[k] += len(axons) * config.neurons
            input_spikes[k] += len(axons)
            v[k], spiked = lif_step(config, v[k], current, core.bias, core.threshold, core.leak, core.reset)
            fired = np.flatnonzero(spiked)
            output_spikes[k] += len(fired)
            for n in fired.tolist():
                spikes[k].append((t, n))
                route(k, n, t)
            packets[k] += len(successors[k])
    return SnnResult(spikes=[np.array(s, dtype=np.int64).reshape(-1, 2) for s in spikes], synaptic_ops=synaptic_ops,
                     input_spikes=input_spikes, output_spikes=output_spikes, packets=packets, steps=steps,
                     delivered=delivered)
