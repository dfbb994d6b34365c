"""``pimgen run snn`` and ``pimgen bench snn``: the digits SNN or a synthetic network on the engine in both scheduling
modes, checked spike for spike against the golden model, with accuracy, cycles, speedup, per-core idle time and an
energy estimate. Everything the user gave is validated before anything is built.
"""

import argparse
import dataclasses
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..outputs import check_output_file, write_output_file
from ..session import backend_options, bench_build_root, execute
from .config import SNN_MODES, SnnConfig
from .digits import MAX_STEPS, MIN_STEPS

#: Timesteps of a run of ``--dataset digits`` and ``--nir`` when ``--steps`` is not given.
DEFAULT_STEPS = 24
#: The ANN of ``--dataset digits`` when ``--hidden`` is not given.
DEFAULT_HIDDEN = (48, 24)
#: Largest ``--seed`` of ``--dataset digits`` (scikit-learn's random_state).
MAX_DIGITS_SEED = 2**32 - 1

__all__ = ["add_run_arguments", "run", "bench", "check_runs", "run_workload", "WORKLOADS", "BENCH_DIGITS_CONFIG",
           "BENCH_SYNTHETIC_CONFIG"]

#: Synthetic workloads of ``--workload``: name -> (function name in pimgen.snn.workloads, keyword arguments).
WORKLOADS = {
    "balanced": ("chain", dict(stages=4, neurons_per_stage=24, inputs=16, seed=1, steps=24)),
    "imbalanced": ("chain", dict(stages=3, neurons_per_stage=[48, 12, 24], inputs=16, seed=2, steps=24)),
    "recurrent": ("recurrent", dict(neurons=40, inputs=16, seed=3, steps=32)),
}


def _hidden(text):
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be comma-separated layer sizes, not {text!r}") from None
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"must be positive layer sizes, not {text!r}")
    return sizes


def _rate(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number in 0..1, not {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be a number in 0..1, not {text!r}")
    return value


def add_run_arguments(parser, option_types):
    """Workload options of ``pimgen run snn``."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=("digits",),
                     help="scikit-learn's digits through an SNN converted from a trained ANN (default)")
    src.add_argument("--workload", choices=list(WORKLOADS),
                     help="a synthetic network: a balanced or imbalanced feed-forward chain, or a recurrent network")
    src.add_argument("--nir", type=Path, metavar="GRAPH",
                     help="a NIR graph file (Input, Affine/Linear, LIF/IF, Delay nodes; docs/snn.md), quantised to "
                          "the integer LIF and driven by seeded random input spikes (--input-rate, --steps)")
    parser.add_argument("--input-rate", type=_rate, default=None, metavar="P",
                        help="--nir: the chance an input neuron spikes in a step (default 0.3)")
    parser.add_argument("--mode", choices=(*SNN_MODES, "both"), default="both",
                        help="scheduling mode(s) to run (default both, to compare)")
    parser.add_argument("--samples", type=option_types.positive("--samples"), default=None, metavar="N",
                        help="--dataset digits: the first N test images (default all 360)")
    parser.add_argument("--steps", type=option_types.positive("--steps"), default=None, metavar="T",
                        help=f"timesteps per run, at most --max-steps: --dataset digits {MIN_STEPS}..{MAX_STEPS}, "
                             f"--nir any (default {DEFAULT_STEPS} for both); not with --workload (fixed steps)")
    parser.add_argument("--hidden", type=_hidden, default=None, metavar="H1,H2",
                        help="--dataset digits: hidden layer sizes of the ANN (default 48,24)")
    parser.add_argument("--seed", type=option_types.non_negative("--seed"), default=None,
                        help="--dataset digits: seed of the split and the training (0..2**32-1); --nir: seed of the "
                             "random input spikes (default 0 for both); not with --workload (fixed seeds)")
    parser.add_argument("--raster", type=Path, default=None, metavar="PNG",
                        help="draw the spike raster of the first run (every population) into this PNG")


@dataclasses.dataclass
class Workload:
    """What runs: the compiled network, one input per run, and how to score the runs."""
    name: str
    compiled: object
    trains: list
    labels: np.ndarray = None
    digits: object = None


def _check_input_spikes(config, rasters, what):
    """Refuse input rasters with more spikes than the input source holds, naming the run (before they are laid out
    as SpikeTrains, whose own check knows no run)."""
    spikes = int(sum(np.count_nonzero(r) for r in rasters.values()))
    if spikes > config.max_input_spikes:
        raise InputError(f"{what} has {spikes} input spikes, more than --max-input-spikes {config.max_input_spikes}")


def _digits_workload(config, args):
    from .compiler import compile_network
    from .digits import INPUT_NAME, digits_snn
    steps = DEFAULT_STEPS if args.steps is None else args.steps
    seed = 0 if args.seed is None else args.seed
    if steps > config.max_steps:
        raise InputError(f"--steps {steps} is more than --max-steps {config.max_steps}")
    if not MIN_STEPS <= steps <= MAX_STEPS:
        raise InputError(f"--steps must be in {MIN_STEPS}..{MAX_STEPS} for --dataset digits, not {steps}")
    if seed > MAX_DIGITS_SEED:
        raise InputError(f"--seed must be in 0..2**32-1 for --dataset digits, not {seed}")
    snn = digits_snn(config, hidden=DEFAULT_HIDDEN if args.hidden is None else args.hidden, steps=steps, seed=seed)
    compiled = compile_network(config, snn.network)
    _, x_test, _, y_test = snn.split()
    if args.samples is not None:
        if args.samples > len(x_test):
            raise InputError(f"--samples must be at most {len(x_test)} (the test images), not {args.samples}")
        x_test, y_test = x_test[:args.samples], y_test[:args.samples]
    trains = []
    for i, raster in enumerate(snn.rasters(x_test)):
        _check_input_spikes(config, {INPUT_NAME: raster}, f"Image {i}")
        trains.append(compiled.trains({INPUT_NAME: raster}, snn.steps))
    return Workload("digits", compiled, trains, labels=np.asarray(y_test), digits=(snn, x_test))


def _nir_workload(config, path, steps, rate, seed):
    """A NIR graph from ``path`` (the ``--nir`` option), driven by seeded Bernoulli input spikes."""
    import nir
    from .compiler import compile_network
    from .nir_import import network_from_nir
    if not path.is_file():
        raise InputError(f"--nir {path}: " + ("no such file" if not path.exists() else "not a file"))
    if steps > config.max_steps:
        raise InputError(f"--steps {steps} is more than --max-steps {config.max_steps}")
    try:
        graph = nir.read(path)
    except Exception as exc:                  # h5py and NIR raise many kinds; the file is the user's
        raise InputError(f"--nir {path}: not a readable NIR graph ({type(exc).__name__}: {exc})") from None
    network, input_names = network_from_nir(graph, config)
    compiled = compile_network(config, network)
    rng = np.random.default_rng(seed)
    rasters = {name: rng.random((steps, network.population(name).size)) < rate for name in input_names}
    _check_input_spikes(config, rasters, "Run 0")
    return Workload(path.stem, compiled, [compiled.trains(rasters, steps)])


def _synthetic_workload(config, name):
    from . import workloads
    from .compiler import compile_network
    function, kwargs = WORKLOADS[name]
    network, inputs, steps = getattr(workloads, function)(**kwargs)
    if steps > config.max_steps:
        raise InputError(f"The {name} workload runs {steps} steps, more than --max-steps {config.max_steps}")
    compiled = compile_network(config, network)
    _check_input_spikes(config, inputs, "Run 0")
    return Workload(name, compiled, [compiled.trains(inputs, steps)])


def check_runs(config, workload):
    """The golden model's result of every run of ``workload``, computed before anything is built; refuses (one
    InputError naming the option) a run the engine cannot hold: more steps than ``--max-steps``, more input spikes
    than ``--max-input-spikes``, a core recording more spikes than ``--max-spikes`` (which the engine would report as
    error ``spike_overflow``)."""
    from sw_model.snn import simulate as golden
    what = "image" if workload.digits is not None else "run"
    program = workload.compiled.program
    refs = []
    for i, trains in enumerate(workload.trains):
        if trains.steps > config.max_steps:
            raise InputError(f"{what.capitalize()} {i} has {trains.steps} steps, more than --max-steps "
                             f"{config.max_steps}")
        if len(trains.neurons) > config.max_input_spikes:
            raise InputError(f"{what.capitalize()} {i} has {len(trains.neurons)} input spikes, more than "
                             f"--max-input-spikes {config.max_input_spikes}")
        ref = golden(config, program, trains)
        for k, spikes in enumerate(ref.spikes):
            if len(spikes) > config.max_spikes:
                raise InputError(f"Core {k} spikes {len(spikes)} times in {what} {i}, more than --max-spikes "
                                 f"{config.max_spikes} (the spikes a core records in a run)")
        refs.append(ref)
    return refs


def run_workload(config, workload, modes, *, backend="sim", build_root=None, waves=False, log=None, progress=None,
                 port=None, baud=None):
    """Run every input of ``workload`` in each of ``modes`` on the engine; check every run against the golden model
    and the modes against each other; return a record of figures (JSON-ready) and the per-run spikes."""
    from tb.host.snn import SnnJob
    from .perf import energy_pj, lower_bound
    program = workload.compiled.program
    refs = check_runs(config, workload)
    job = SnnJob(program, workload.trains, modes=modes, name=workload.name)
    session = execute(config, [job], backend=backend, port=port, **({"baud": baud} if baud else {}),
                      build_root=build_root, waves=waves, log=log,
                      progress=progress)
    [result] = session.results
    per_mode = {mode: {"cycles": 0, "idle": np.zeros(config.cores), "busy": np.zeros(config.cores), "synops": 0,
                       "packets": 0, "energy": 0.0, "energy_static": 0.0} for mode in modes}
    bit_exact = True
    modes_agree = True
    bound = 0
    spikes_by_run = {}
    for i, (trains, ref) in enumerate(zip(workload.trains, refs)):
        bound += lower_bound(config, program, trains, ref)
        first = None
        for mode in modes:
            r = result.runs[f"{mode}{i}"]
            spikes = [r.outputs[f"core{k}"] for k in range(config.cores)]
            spikes_by_run[(mode, i)] = spikes
            bit_exact &= all(np.array_equal(spikes[k], ref.spikes[k]) for k in range(config.cores))
            if first is None:
                first = spikes
            else:
                modes_agree &= all(np.array_equal(a, b) for a, b in zip(first, spikes))
            c = r.counters
            m = per_mode[mode]
            m["cycles"] += c["cycles"]
            m["idle"] += np.asarray(c["idle"])
            m["busy"] += np.asarray(c["busy"])
            m["synops"] += sum(c["synops"])
            m["packets"] += c["packets"]
            energy = energy_pj(config, {**c, "steps": trains.steps})
            m["energy"] += energy["total"]
            m["energy_static"] += energy["static"]
    used = sorted({core for chunks in workload.compiled.placement.values() for core, _, _ in chunks})
    record = {"engine": "snn", "workload": workload.name, "config": config.to_dict(), "top": session.top,
              "runs": len(workload.trains), "steps": workload.trains[0].steps, "cores_used": used,
              "bit_exact": bool(bit_exact), "modes_identical": bool(modes_agree) if len(modes) > 1 else None,
              "modes": {},
              "lower_bound_cycles": bound, "build_seconds": session.build_seconds,
              "wall_seconds": session.wall_seconds}
    for mode, m in per_mode.items():
        idle = m["idle"] / max(m["cycles"], 1)
        record["modes"][mode] = {
            "cycles": m["cycles"], "cycles_per_run": m["cycles"] / len(workload.trains),
            "idle_fraction": [round(float(v), 4) for v in idle],
            "idle_fraction_used": float(np.mean(idle[used])) if used else None,
            "synops": m["synops"], "synops_per_cycle": m["synops"] / max(m["cycles"], 1),
            "packets": m["packets"], "energy_uj": m["energy"] * 1e-6, "static_share": m["energy_static"] / m["energy"],
        }
    if "async" in per_mode:
        record["async_over_lower_bound"] = per_mode["async"]["cycles"] / bound
    if len(modes) == 2:
        record["speedup"] = per_mode["sync"]["cycles"] / per_mode["async"]["cycles"]
        record["energy_ratio"] = per_mode["sync"]["energy"] / per_mode["async"]["energy"]
    return record, spikes_by_run


def _digits_scores(workload, spikes_by_run, modes):
    from .digits import decide
    snn, x_test = workload.digits
    scores = {}
    for mode in modes:
        outputs = np.stack([workload.compiled.population_spikes(spikes_by_run[(mode, i)],
                                                                workload.trains[i].steps)["output"]
                            for i in range(len(workload.trains))])
        scores[mode] = float(np.mean(decide(outputs) == workload.labels))
    ann = float(np.mean(snn.mlp.predict(x_test.astype(np.float64)) == workload.labels))
    return ann, scores


def run(config, args, console):
    check_output_file(args.raster, "--raster")
    if args.raster is not None and args.raster.suffix.lower() != ".png":
        raise InputError(f"--raster must name a .png file, not {args.raster}")
    digits_only = (("--samples", args.samples), ("--hidden", args.hidden))
    if args.workload is not None:
        for option, value in digits_only:
            if value is not None:
                raise InputError(f"{option} applies to --dataset digits, not to --workload")
        if args.steps is not None:
            raise InputError(f"--steps does not apply to --workload: the {args.workload} workload runs its own "
                             f"{WORKLOADS[args.workload][1]['steps']} steps")
        if args.seed is not None:
            raise InputError(f"--seed does not apply to --workload: the {args.workload} workload has its own seed")
    if args.nir is not None:
        for option, value in digits_only:
            if value is not None:
                raise InputError(f"{option} applies to --dataset digits, not to --nir")
    if args.input_rate is not None and args.nir is None:
        raise InputError("--input-rate applies to --nir")
    modes = SNN_MODES if args.mode == "both" else (args.mode,)
    with console.status("preparing the workload"):
        if args.nir is not None:
            workload = _nir_workload(config, args.nir, DEFAULT_STEPS if args.steps is None else args.steps,
                                     0.3 if args.input_rate is None else args.input_rate,
                                     0 if args.seed is None else args.seed)
        elif args.workload is not None:
            workload = _synthetic_workload(config, args.workload)
        else:
            workload = _digits_workload(config, args)
    with console.status(f"{workload.name} on {config.top_name}"):
        record, spikes = run_workload(config, workload, modes, **backend_options(args), build_root=args.build_dir,
                                      waves=args.waves, log=console.log, progress=console.log)
    if workload.digits is not None:
        record["ann_accuracy"], accuracy = _digits_scores(workload, spikes, modes)
        for mode in modes:
            record["modes"][mode]["snn_accuracy"] = accuracy[mode]
    if args.json:
        write_output_file(args.json, json.dumps(record, indent=2) + "\n", "--json")
    if args.raster is not None:
        plot_raster(workload, spikes[(modes[0], 0)], args.raster)
    _print_record(record)
    if args.raster is not None:
        print(f"raster: {args.raster}")
    return 0 if record["bit_exact"] and record["modes_identical"] is not False else 1


def _print_record(r):
    cfg = r["config"]
    print(f"{r['workload']}: {r['runs']} run(s) of {r['steps']} steps on {cfg['cores']} cores x {cfg['neurons']} "
          f"neurons (cores used: {', '.join(map(str, r['cores_used']))})")
    if "ann_accuracy" in r:
        accs = ", ".join(f"SNN {mode} {m['snn_accuracy']:.4f}" for mode, m in r["modes"].items())
        print(f"  accuracy: ANN {r['ann_accuracy']:.4f}, {accs}")
    for mode, m in r["modes"].items():
        idle = " ".join(f"{v:.2f}" for v in m["idle_fraction"])
        print(f"  {mode:5}: {m['cycles']} cycles ({m['cycles_per_run']:.0f} per run), idle per core [{idle}], "
              f"{m['synops_per_cycle']:.2f} synaptic ops/cycle, energy {m['energy_uj']:.3f} uJ "
              f"(static {100 * m['static_share']:.0f} %)")
    if "speedup" in r:
        print(f"  async vs sync: {r['speedup']:.2f}x fewer cycles, {r['energy_ratio']:.2f}x less energy")
    if "async_over_lower_bound" in r:
        print(f"  async cycles / dependency lower bound: {r['async_over_lower_bound']:.2f} "
              f"({r['lower_bound_cycles']} cycles)")
    ok = "yes" if r["bit_exact"] else "NO"
    same = {True: "yes", False: "NO", None: "n/a (one mode)"}[r["modes_identical"]]
    print(f"  spikes bit-exact with the golden: {ok}; identical in every mode: {same}")


def plot_raster(workload, spikes, path):
    """Spike raster of one run, every population in its own band, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    populations = workload.compiled.population_spikes(spikes, workload.trains[0].steps)
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    offset = 0
    for name, raster in populations.items():
        t, n = np.nonzero(raster)
        ax.scatter(t, n + offset, s=4, label=name)
        offset += raster.shape[1] + 2
    ax.set_xlabel("timestep")
    ax.set_ylabel("neuron (populations stacked)")
    ax.set_title(f"{workload.name}: spike raster of the first run")
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


# Benchmark

#: The digits SNN on 8 cores of 32 neurons (the first hidden layer split over two: 4 cores used) with 6-bit weights.
BENCH_DIGITS_CONFIG = SnnConfig(cores=8, neurons=32, axons=128, lanes=4, weight_bits=6, max_delay=1, step_slots=2,
                                max_steps=32, input_neurons=64, max_input_spikes=2048, max_fanout=2048,
                                max_spikes=1024)
#: The synthetic workloads' engine.
BENCH_SYNTHETIC_CONFIG = SnnConfig(cores=6, neurons=32, axons=64, lanes=4, max_delay=1, step_slots=2, fifo_depth=4,
                                   max_steps=32, input_neurons=16, max_input_spikes=512, max_fanout=1024,
                                   max_spikes=1024)
#: Digits images the benchmark runs (in both modes) in full and in ``--quick`` mode.
BENCH_IMAGES, BENCH_QUICK_IMAGES = 100, 4


def bench(args, console):
    """Both modes on the digits SNN and the synthetic networks: cycles, speedup, per-core idle, synaptic ops per
    cycle, energy, the async run against its lower bound; JSON (build/bench/snn.json), a table and a plot."""
    from rich.console import Console
    from rich.table import Table
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with bench_build_root(args) as build_root:
        rows = _bench_rows(args, build_root, console)
    from .perf import ENERGY_PJ
    report = {"host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
              "energy_pj_per_event": ENERGY_PJ, "cold_builds": bool(args.cold), "records": rows}
    (out / "snn.json").write_text(json.dumps(report, indent=2) + "\n")
    table = Table(title="SNN engine: asynchronous schedulers against the synchronous barrier (same spikes)")
    for col in ("workload", "runs", "async cycles", "sync cycles", "speedup", "energy ratio", "async / bound",
                "idle async", "idle sync", "synops/cycle async", "accuracy", "bit-exact"):
        table.add_column(col, justify="right")
    for r in rows:
        a, s = r["modes"]["async"], r["modes"]["sync"]
        acc = f"{a['snn_accuracy']:.4f} (ANN {r['ann_accuracy']:.4f})" if "ann_accuracy" in r else "-"
        table.add_row(r["workload"], str(r["runs"]), str(a["cycles"]), str(s["cycles"]), f"{r['speedup']:.2f}x",
                      f"{r['energy_ratio']:.2f}x", f"{r['async_over_lower_bound']:.2f}",
                      f"{a['idle_fraction_used']:.2f}", f"{s['idle_fraction_used']:.2f}",
                      f"{a['synops_per_cycle']:.2f}", acc,
                      "yes" if r["bit_exact"] and r["modes_identical"] else "NO")
    Console(width=200).print(table)
    print("idle: mean fraction of the run the used cores wait for their scheduler. Energy: per-event costs "
          + ", ".join(f"{k} {v} pJ" for k, v in ENERGY_PJ.items()) + " (pimgen/snn/perf.py).")
    if not args.quick:
        plot = out / "snn_modes.png"
        plot_modes(rows, plot)
        print(f"plot: {plot}")
    print(f"JSON: {out / 'snn.json'}")
    return 0 if all(r["bit_exact"] and r["modes_identical"] for r in rows) else 1


def _bench_rows(args, build_root, console):
    """The benchmark's records: the digits SNN, then (without --quick) the synthetic workloads, both modes each."""
    rows = []
    images = BENCH_QUICK_IMAGES if args.quick else BENCH_IMAGES
    digits_args = argparse.Namespace(steps=DEFAULT_STEPS, hidden=DEFAULT_HIDDEN, seed=0, samples=images)
    cases = [("digits", BENCH_DIGITS_CONFIG)] + ([] if args.quick else
                                                 [(name, BENCH_SYNTHETIC_CONFIG) for name in WORKLOADS])
    for name, config in cases:
        t0 = time.perf_counter()
        with console.status(f"{name}: preparing"):
            workload = (_digits_workload(config, digits_args) if name == "digits"
                        else _synthetic_workload(config, name))
        with console.status(f"{name}: both modes on {config.top_name}"):
            record, spikes = run_workload(config, workload, SNN_MODES, build_root=build_root, log=console.log)
        if workload.digits is not None:
            record["ann_accuracy"], accuracy = _digits_scores(workload, spikes, SNN_MODES)
            for mode in SNN_MODES:
                record["modes"][mode]["snn_accuracy"] = accuracy[mode]
        record["wall_seconds"] = time.perf_counter() - t0
        rows.append(record)
        console.log(f"{name}: {record['speedup']:.2f}x fewer cycles async, {record['energy_ratio']:.2f}x less energy")
    return rows



def plot_modes(rows, path):
    """Cycles per run in each mode and the lower bound, and per-core idle fractions, per workload, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (cyc, idle) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    x = np.arange(len(rows))
    for offset, (key, label) in enumerate((("sync", "sync (barrier)"), ("async", "async"))):
        cyc.bar(x + (offset - 0.5) * 0.3, [r["modes"][key]["cycles_per_run"] for r in rows], 0.3, label=label)
    cyc.scatter(x, [r["lower_bound_cycles"] / r["runs"] for r in rows], color="black", marker="_", s=300,
                label="dependency lower bound", zorder=3)
    cyc.set_xticks(x, [r["workload"] for r in rows])
    cyc.set_ylabel("cycles per run")
    cyc.set_title("cycles per run")
    cyc.legend(fontsize=7)
    for offset, key in enumerate(("sync", "async")):
        idle.bar(x + (offset - 0.5) * 0.3, [r["modes"][key]["idle_fraction_used"] for r in rows], 0.3, label=key)
    idle.set_xticks(x, [r["workload"] for r in rows])
    idle.set_ylabel("idle fraction (mean over used cores)")
    idle.set_title("time cores wait for their scheduler")
    idle.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
