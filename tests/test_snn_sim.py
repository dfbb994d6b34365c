"""The SNN engine in Verilator against the golden model (sw_model.snn.simulate), spike for spike, in both scheduling
modes.

One Verilator build per configuration; every program, input and mode of a configuration runs in one simulation.
The programs are drawn at random (zero-delay edges only forward, delayed edges anywhere, recurrent and self edges
included), with FIFOs of two packets so that back pressure is everywhere; spikes must equal the golden's in each
mode, so also each other, and no packet may be lost or duplicated (the received counts equal the golden's).
"""

import numpy as np
import pytest

from pimgen.snn.commands import BENCH_SYNTHETIC_CONFIG
from pimgen.snn.config import SnnConfig
from pimgen.snn.perf import lower_bound
from pimgen.snn.program import CoreProgram, SnnProgram, SpikeTrains
from sw_model.snn import simulate as golden
from tb.host.snn import SnnJob
from tb.jobs import simulate
from tb.runner import build, run_test

CONFIGS = [
    # Tiny FIFOs, four lanes, delays up to 2 with the fewest step slots the delays allow.
    SnnConfig(cores=3, neurons=16, axons=32, lanes=4, max_delay=2, step_slots=3, fifo_depth=2, max_steps=24,
              input_neurons=8, max_input_spikes=256, max_fanout=128, max_spikes=512),
    # One lane, five cores, a saturating 8-bit potential, generous slots.
    SnnConfig(cores=5, neurons=16, axons=48, lanes=1, potential_bits=8, weight_bits=6, max_delay=1, step_slots=4,
              fifo_depth=2, max_steps=16, input_neurons=12, max_input_spikes=256, max_fanout=96, max_spikes=256),
]


def random_program(cfg, seed, cores=None):
    """A random program on ``cores`` cores (all by default): every neuron of every source sends to a few targets,
    zero-delay edges only to higher cores (no zero-delay cycle), delayed edges anywhere."""
    rng = np.random.default_rng(seed)
    K = cfg.cores if cores is None else cores
    wlo, whi = cfg.weight_range
    next_axon = [0] * K
    fanouts = {p: [[] for _ in range(cfg.input_neurons if p == K else cfg.neurons)] for p in range(K + 1)}
    for p in range(K + 1):
        for n in range(len(fanouts[p])):
            for _ in range(int(rng.integers(0, 3))):
                delay = int(rng.integers(0, cfg.max_delay + 1))
                targets = [k for k in range(K) if delay > 0 or p == K or k > p]
                if not targets:
                    continue
                core = int(rng.choice(targets))
                if next_axon[core] == cfg.axons or any(e[0] == core and e[2] == delay for e in fanouts[p][n]):
                    continue
                fanouts[p][n].append((core, next_axon[core], delay))
                next_axon[core] += 1

    def table(p):
        rows = fanouts[p]
        ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
        entries = np.array([e for r in rows for e in r], dtype=np.int64).reshape(-1, 3)
        return ptr, entries

    plo, phi = cfg.potential_range
    cores_ = []
    for k in range(K):
        weights = rng.integers(wlo // 2, whi + 1, (cfg.axons, cfg.neurons))
        weights[rng.random(weights.shape) < 0.3] = 0
        ptr, entries = table(k)
        cores_.append(CoreProgram(weights, rng.integers(-3, 6, cfg.neurons), int(rng.integers(whi // 2, whi + 1)),
                                  int(rng.integers(0, 4)), str(rng.choice(["zero", "subtract"])), ptr, entries))
    ptr, entries = table(K)
    return SnnProgram(cores_, ptr, entries)


def random_trains(cfg, seed, steps, rate=0.4):
    rng = np.random.default_rng(seed)
    return SpikeTrains.from_raster(rng.random((steps, cfg.input_neurons)) < rate)


def _ids(cfg):
    return f"K{cfg.cores}-N{cfg.neurons}-A{cfg.axons}-L{cfg.lanes}-D{cfg.max_delay}-fifo{cfg.fifo_depth}"


@pytest.mark.parametrize("cfg", CONFIGS, ids=_ids)
def test_random_programs_match_golden_in_both_modes(cfg, build_root, tmp_path):
    model = build(cfg, root=build_root, log=None)
    jobs = [
        SnnJob(random_program(cfg, seed), [random_trains(cfg, seed, cfg.max_steps), random_trains(cfg, seed + 1, 3)],
               modes=("async", "sync"), name=f"random{seed}")
        for seed in range(3)
    ]
    # A program on fewer cores than the engine has: the idle ones still take part in the sync barrier.
    jobs.append(SnnJob(random_program(cfg, 7, cores=2), random_trains(cfg, 7, cfg.max_steps), modes=("async", "sync"),
                       name="two-cores"))
    results = simulate(model, jobs, tmp_path)
    active = 0
    for job, res in zip(jobs, results):
        for run in job.runs:
            mode, trains = job.run_input(run)
            ref = golden(cfg, job.program, trains)
            r = res.runs[run]
            for k in range(cfg.cores):
                got = r.outputs[f"core{k}"]
                assert np.array_equal(got, ref.spikes[k]), f"{job.name}/{run} core {k}: spikes differ from the golden"
            assert r.counters["spikes"] == ref.output_spikes.tolist()
            assert r.counters["received"] == ref.delivered.tolist(), f"{job.name}/{run}: packets lost or doubled"
            assert r.counters["synops"] == ref.synaptic_ops.tolist()
            assert r.counters["packets"] == int(ref.packets.sum())
            if mode == "async":
                bound = lower_bound(cfg, job.program, trains, ref)
                assert bound <= r.counters["cycles"], f"{job.name}/{run}: lower bound {bound} above the hardware"
            active += int(ref.output_spikes.sum())
        cycles = {mode: res.runs[f"{mode}0"].counters["cycles"] for mode in job.modes}
        assert cycles["sync"] >= cycles["async"], f"{job.name}: the barrier made it faster: {cycles}"
    assert active > 100, "the random programs hardly spike: the test would prove little"


# Compiled workloads (pimgen.snn.compiler): a balanced and an imbalanced chain and a recurrent network, on one config.

WORKLOAD_CONFIG = BENCH_SYNTHETIC_CONFIG              # the benchmark's engine: one model for both


def test_compiled_workloads_in_both_modes(build_root, tmp_path):
    from pimgen.snn.compiler import compile_network
    from pimgen.snn.workloads import chain, recurrent
    cfg = WORKLOAD_CONFIG
    cases = {
        "balanced": chain(stages=4, neurons_per_stage=24, inputs=16, seed=1, steps=24),
        "imbalanced": chain(stages=3, neurons_per_stage=[48, 12, 24], inputs=16, seed=2, steps=24),
        "recurrent": recurrent(neurons=40, inputs=16, seed=3, steps=32),
    }
    compiled, jobs = {}, []
    for name, (network, inputs, steps) in cases.items():
        compiled[name] = compile_network(cfg, network)
        jobs.append(SnnJob(compiled[name].program, compiled[name].trains(inputs, steps), modes=("async", "sync"),
                           name=name))
    model = build(cfg, root=build_root, log=None)
    results = simulate(model, jobs, tmp_path)
    for job, res in zip(jobs, results):
        ref = golden(cfg, job.program, job.inputs[0])
        per_mode = {}
        for mode in job.modes:
            r = res.runs[f"{mode}0"]
            spikes = [r.outputs[f"core{k}"] for k in range(cfg.cores)]
            for k in range(cfg.cores):
                assert np.array_equal(spikes[k], ref.spikes[k]), f"{job.name}/{mode} core {k} differs from the golden"
            per_mode[mode] = r.counters
            populations = compiled[job.name].population_spikes(spikes, job.inputs[0].steps)
            assert all(raster.any() for raster in populations.values()), f"{job.name}: a population never spikes"
        assert per_mode["sync"]["cycles"] > per_mode["async"]["cycles"], f"{job.name}: {per_mode}"
        bound = lower_bound(cfg, job.program, job.inputs[0], ref)
        # A lower bound, and not a loose one: packets and the scheduler's cycle cost 1.0-1.4x (balanced is the worst).
        assert bound <= per_mode["async"]["cycles"] <= 1.5 * bound, f"{job.name}: bound {bound}, {per_mode}"


#: Two cores of one lane group, 512 input neurons: the input source's 5 cycles per input spike dominate every step.
SOURCE_BOUND_CONFIG = SnnConfig(cores=2, neurons=16, axons=16, lanes=16, max_delay=1, step_slots=2, fifo_depth=2,
                                max_steps=32, input_neurons=512, max_input_spikes=16384, max_fanout=16,
                                max_spikes=1024)


def test_source_dominated_run_meets_its_lower_bound(build_root, tmp_path):
    """Every one of 512 input neurons spikes in every step; four of them feed core 0 (zero delay), two of core 0's
    neurons feed core 1 (delay 1). The source's steps are the critical path and nothing else waits on them, so the
    asynchronous run takes its lower bound to within 1 % (the bound counts the source's start, its steps and the
    last core's steps after the last token); the spikes are the golden's in both modes and the driver's timeout
    lets the run finish."""
    cfg = SOURCE_BOUND_CONFIG
    core0 = CoreProgram(np.full((4, cfg.neurons), 3), np.zeros(cfg.neurons, dtype=np.int64), 5, 1, "subtract",
                        np.array([0, 1, 2]), np.array([[1, 0, 1], [1, 1, 1]]))
    core1 = CoreProgram(np.full((2, cfg.neurons), 2), np.zeros(cfg.neurons, dtype=np.int64), 3, 2)
    ptr = np.concatenate([np.arange(5), np.full(cfg.input_neurons - 4, 4)])
    program = SnnProgram([core0, core1], ptr, np.array([[0, i, 0] for i in range(4)]))
    trains = SpikeTrains.from_raster(np.ones((cfg.max_steps, cfg.input_neurons), dtype=bool))
    job = SnnJob(program, trains, modes=("async", "sync"), name="source-bound")
    model = build(cfg, root=build_root, log=None)
    [res] = simulate(model, [job], tmp_path)
    ref = golden(cfg, program, trains)
    assert all(len(s) for s in ref.spikes), "both cores must fire"
    for mode in job.modes:
        r = res.runs[f"{mode}0"]
        for k in range(cfg.cores):
            assert np.array_equal(r.outputs[f"core{k}"], ref.spikes[k]), f"{mode} core {k} differs from the golden"
    cycles = res.runs["async0"].counters["cycles"]
    bound = lower_bound(cfg, program, trains, ref)
    assert cfg.max_steps * cfg.input_neurons * 5 < bound <= cycles <= 1.01 * bound, (bound, cycles)


def test_register_interface_and_errors(build_root, tmp_path):
    """Error codes, abort and rerun, the shared frame (cocotb: tb/snn/cocotb_snn.py::test_registers)."""
    cfg = SnnConfig(cores=2, neurons=16, axons=16, lanes=4, max_delay=0, step_slots=2, fifo_depth=2, max_steps=16,
                    input_neurons=4, max_input_spikes=128, max_fanout=32, max_spikes=64)
    model = build(cfg, root=build_root, log=None)
    run_test(model, "tb.snn.cocotb_snn", tmp_path, testcase="test_registers")
