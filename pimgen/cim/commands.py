"""``pimgen run cim`` and ``pimgen bench cim``: the digits MLP (or a random VMM) through the tile, checked bit for bit
against the golden model, with accuracy, cycles and the ADC's clip rate. Everything the user gave is validated before
anything is built.
"""

import argparse
import dataclasses
import io
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

from ..arrays import MAX_NPY_BYTES, load_npy
from ..errors import InputError
from ..outputs import check_output_file, write_output_file
from ..session import backend_options, bench_build_root, execute
from .config import CimConfig
from .inputs import check_inputs, check_variation, check_weights

__all__ = ["add_run_arguments", "run", "bench", "SimBlocks", "BENCH_ADC_BITS", "BENCH_DAC_BITS"]

#: The datasets ``pimgen run cim`` knows.
DATASETS = ("digits",)
#: Largest ``--seed``: the digits split and the training take a 32-bit seed.
MAX_SEED = 2 ** 32 - 1
#: Default hidden width of the digits MLP (``--hidden``).
DEFAULT_HIDDEN = 32


def max_random_vectors(config):
    """Largest ``--random V``: the V x rows int64 input codes stay within :data:`pimgen.arrays.MAX_NPY_BYTES`, the
    largest input array pimgen reads from a .npy file."""
    return MAX_NPY_BYTES // (8 * config.rows)


def _int_in(option, lo, hi):
    def parse(text):
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be an integer in {lo}..{hi}, not {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"must be an integer in {lo}..{hi}, not {value}")
        return value
    parse.__name__ = option
    return parse


def _non_negative_float(option):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a number, not {text!r}") from None
        if not (value >= 0 and np.isfinite(value)):
            raise argparse.ArgumentTypeError(f"must be a number >= 0, not {text!r}")
        return value
    parse.__name__ = option
    return parse


def add_run_arguments(parser, option_types):
    """Workload options of ``pimgen run cim``; ``option_types`` gives argparse types that name their option."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--dataset", choices=DATASETS,
                     help="the MLP on scikit-learn's digits, each layer's VMM on the tile (default)")
    src.add_argument("--random", type=option_types.positive("--random"), metavar="V",
                     help="random weights and V random input vectors over the codes' full ranges")
    src.add_argument("--weights", type=Path, metavar="W.npy",
                     help="your own VMM: weight codes [rows, cols] (.npy integers), with --inputs")
    parser.add_argument("--inputs", type=Path, metavar="X.npy",
                        help="with --weights: input codes [V, rows] (.npy integers)")
    parser.add_argument("--save-outputs", type=Path, metavar="Y.npy",
                        help="with --weights or --random: write the tile's outputs [V, cols] (int64 .npy) here")
    parser.add_argument("--samples", type=option_types.positive("--samples"), default=None, metavar="N",
                        help="digits: classify the first N test images (default: all 360; at most the test set)")
    parser.add_argument("--hidden", type=option_types.positive("--hidden"), default=None, metavar="H",
                        help=f"digits: hidden units of the 64-H-10 MLP (default {DEFAULT_HIDDEN})")
    parser.add_argument("--seed", type=_int_in("--seed", 0, MAX_SEED), default=None,
                        help=f"digits and --random: seed of the data split, the training and the random codes "
                             f"(0..{MAX_SEED}, default 0)")
    parser.add_argument("--gain-sigma", type=_non_negative_float("--gain-sigma"), default=None,
                        help="with --gain-offset: relative spread of the per-column gains (0..1, default 0)")
    parser.add_argument("--offset-sigma", type=_non_negative_float("--offset-sigma"), default=None,
                        help="with --gain-offset: spread of the per-column offsets in partial-sum units (0..1000, "
                             "default 0)")
    parser.add_argument("--variation-seed", type=option_types.non_negative("--variation-seed"), default=None,
                        help="with --gain-offset: seed of the per-column gain and offset tables (default 0)")


#: The options of the per-column tables, by the argument of ``check_variation`` each gives.
TABLE_OPTIONS = {"gain_sigma": "--gain-sigma", "offset_sigma": "--offset-sigma", "seed": "--variation-seed"}


def _check_table_options(config, args):
    """``(gain_sigma, offset_sigma, seed)`` of the tables (None without ``gain_offset``, where any of the options is
    refused as not applicable); the ranges are :func:`pimgen.cim.inputs.check_variation`'s."""
    values = {"gain_sigma": args.gain_sigma, "offset_sigma": args.offset_sigma, "seed": args.variation_seed}
    if not config.gain_offset:
        given = [TABLE_OPTIONS[k] for k, v in values.items() if v is not None]
        if given:
            raise InputError(f"{_join(given)} need{'s' if len(given) == 1 else ''} --gain-offset (the tile's "
                             "per-column tables)")
        return None
    defaults = {"gain_sigma": 0.0, "offset_sigma": 0.0, "seed": 0}
    return check_variation(*(defaults[k] if v is None else v for k, v in values.items()), names=TABLE_OPTIONS)


def _tables(config, variation):
    """The gain and offset tables of :func:`_check_table_options`' values (None without ``gain_offset``)."""
    from sw_model.cim import variation_tables
    return None if variation is None else variation_tables(config, *variation)


def _join(options):
    return options[0] if len(options) == 1 else ", ".join(options[:-1]) + " and " + options[-1]


def _check_workload_options(config, args):
    """Refuse, in one line and before anything is loaded or built, every option that does not apply to the
    workload the others choose (``--dataset digits``, ``--weights`` with ``--inputs``, or ``--random``), and the
    values a workload cannot take."""
    if args.inputs is not None and args.weights is None:
        raise InputError("--inputs needs --weights (the weight matrix the input vectors multiply)")
    if args.weights is not None and args.inputs is None:
        raise InputError("--weights and --inputs go together: give both .npy files")
    workload = "--weights" if args.weights is not None else "--random" if args.random is not None else None
    if args.save_outputs is not None and workload is None:
        raise InputError("--save-outputs needs --weights/--inputs or --random (digits keeps only accuracies)")
    if workload is not None:
        given = [opt for opt, value in (("--samples", args.samples), ("--hidden", args.hidden)) if value is not None]
        if given:
            raise InputError(f"{_join(given)} appl{'ies' if len(given) == 1 else 'y'} to --dataset digits, not to "
                             f"{workload}")
    if workload == "--weights" and args.seed is not None:
        raise InputError("--seed applies to --dataset digits and --random (the split, the training, the random "
                         "codes), not to --weights")
    if workload == "--random" and args.random > max_random_vectors(config):
        raise InputError(f"--random must be at most {max_random_vectors(config)} vectors for {config.rows} rows (the "
                         f"int64 input codes stay within {MAX_NPY_BYTES} bytes), not {args.random}")
    if workload is None:
        from .mlp import check_digits_config, load_digits_split
        check_digits_config(config, name="--input-bits")
        if args.samples is not None:
            test_images = len(load_digits_split(seed=_seed(args))[1])
            if args.samples > test_images:
                raise InputError(f"--samples must be at most {test_images} (the test images of the split), not "
                                 f"{args.samples}")


def _seed(args):
    return 0 if args.seed is None else args.seed


def _hidden(args):
    return DEFAULT_HIDDEN if args.hidden is None else args.hidden


@dataclasses.dataclass
class BlockResult:
    """One tile-sized block of a layer as the tile computed it, and whether the golden model agrees."""
    y: np.ndarray
    conversions: int
    clipped: int
    cycles: int
    runs: int
    bit_exact: bool


class SimBlocks:
    """A ``run_blocks`` backend for :func:`pimgen.cim.mlp.tiled_vmm` that runs every block of a layer on the tile
    through :func:`pimgen.session.execute` (one simulation per layer: one job per block) and checks each block's
    outputs and clip count against :func:`sw_model.cim.tile_vmm`."""

    def __init__(self, config, tables=None, *, backend="sim", build_root=None, waves=False, log=None, progress=None,
                 port=None, baud=None):
        self.config = config
        self.tables = tables
        self.options = dict(backend=backend, build_root=build_root, waves=waves, log=log, progress=progress,
                            port=port, **({"baud": baud} if baud else {}))
        self.layers = []                  # per call: the list of BlockResult
        self.sessions = []

    def __call__(self, blocks):
        from sw_model.cim import tile_vmm
        from tb.host.cim import CimJob
        gain, offset = self.tables if self.tables is not None else (None, None)
        layer = len(self.layers)
        jobs = [CimJob(w, x, gain, offset, name=f"layer{layer}-block{b}") for b, (w, x) in enumerate(blocks)]
        session = execute(self.config, jobs, **self.options)
        self.sessions.append(session)
        results = []
        for job, res in zip(jobs, session.results):
            y = np.concatenate([res.runs[run].outputs["y"] for run in job.runs])
            counters = [res.runs[run].counters for run in job.runs]
            golden = tile_vmm(self.config, job.weights, job.x, gain, offset)
            clipped = sum(c["clipped"] for c in counters)
            results.append(BlockResult(y=y, conversions=sum(c["conversions"] for c in counters), clipped=clipped,
                                       cycles=sum(c["cycles"] for c in counters), runs=len(counters),
                                       bit_exact=bool(np.array_equal(y, golden.y) and clipped == golden.clipped)))
        self.layers.append(results)
        return results

    @property
    def blocks(self):
        return [b for layer in self.layers for b in layer]


def _describe(config):
    return (f"{config.rows}x{config.cols} tile, {config.adcs} ADC(s) of {config.adc_bits} bits (step "
            f"{config.adc_step}), {config.slice_bits}-bit cells ({config.weight_encoding}), {config.dac_bits}-bit DAC "
            f"({config.input_encoding}), S={config.input_steps} K={config.weight_slices}")


def run(config, args, console):
    check_output_file(args.save_outputs, "--save-outputs")
    _check_workload_options(config, args)
    tables = _tables(config, _check_table_options(config, args))
    if args.weights is not None:
        w = check_weights(load_npy(args.weights, "--weights"), config, name=f"--weights {args.weights}")
        x = check_inputs(load_npy(args.inputs, "--inputs"), config, name=f"--inputs {args.inputs}")
        return _run_vmm(config, args, console, tables, w, x, f"VMM of {args.weights.name}, {len(x)} vectors")
    if args.random is not None:
        rng = np.random.default_rng(_seed(args))
        w = rng.integers(config.weight_range[0], config.weight_range[1] + 1, (config.rows, config.cols))
        x = rng.integers(config.input_range[0], config.input_range[1] + 1, (args.random, config.rows))
        return _run_vmm(config, args, console, tables, w, x, f"random VMM, {args.random} vectors")
    return _run_digits(config, args, console, tables)


def _run_digits(config, args, console, tables):
    from .mlp import digits_accuracy
    sim = SimBlocks(config, tables, **backend_options(args), build_root=args.build_dir, waves=args.waves,
                    log=console.log, progress=console.log)
    t0 = time.perf_counter()
    with console.status(f"digits MLP on {config.top_name}"):
        result = digits_accuracy(config, run_blocks=sim, seed=_seed(args), hidden=(_hidden(args),), limit=args.samples)
    wall = time.perf_counter() - t0
    blocks = sim.blocks
    samples = result["test_samples"]
    cycles = sum(b.cycles for b in blocks)
    runs = sum(b.runs for b in blocks)
    record = {
        "engine": "cim", "workload": "digits", "config": config.to_dict(), "top": config.top_name,
        "hidden": _hidden(args), "test_samples": samples,
        "float_accuracy": result["float_accuracy"], "ideal_accuracy": result["ideal_accuracy"],
        "tile_accuracy": result["tile_accuracy"], "agreement": result["agreement"],
        "clip_rate": result["clip_rate"], "conversions": result["conversions"], "clipped": result["clipped"],
        "blocks_per_layer": result["blocks_per_layer"], "vmms_per_inference": result["vmms_per_inference"],
        "cycles_per_vmm": config.conversions_per_vector, "run_latency": config.latency,
        "cycles_total": cycles, "runs": runs, "cycles_per_inference": cycles / samples,
        "bit_exact": all(b.bit_exact for b in blocks), "blocks_checked": len(blocks),
        "wall_seconds": wall, "build_seconds": sum(s.build_seconds for s in sim.sessions),
    }
    if args.json:
        write_output_file(args.json, json.dumps(record, indent=2) + "\n", "--json")
    print(f"digits MLP 64-{_hidden(args)}-10 on the {_describe(config)}")
    print(f"  test images {samples}: accuracy float {record['float_accuracy']:.4f}, ideal-integer "
          f"{record['ideal_accuracy']:.4f}, tile {record['tile_accuracy']:.4f} "
          f"(same prediction as ideal-integer on {100 * record['agreement']:.1f} %)")
    print(f"  ADC: {record['clipped']} of {record['conversions']} conversions clipped "
          f"({100 * record['clip_rate']:.3f} %)")
    print(f"  cycles per VMM {record['cycles_per_vmm']} (S*K*cols/adcs, + {config.latency} per run); "
          f"{record['vmms_per_inference']} VMMs per inference; measured {record['cycles_per_inference']:.1f} "
          f"cycles per inference ({cycles} cycles over {runs} runs), "
          f"{record['cycles_per_inference'] / 100:.2f} us at 100 MHz")
    verdict = "bit-exact" if record["bit_exact"] else "MISMATCH"
    print(f"  tile vs golden: {verdict} on all {len(blocks)} blocks; {wall:.1f} s")
    return 0 if record["bit_exact"] else 1


def _run_vmm(config, args, console, tables, w, x, title):
    from sw_model.cim import tile_vmm
    from tb.host.cim import CimJob
    gain, offset = tables if tables is not None else (None, None)
    job = CimJob(w, x, gain, offset, name="vmm")
    with console.status(f"{title} on {config.top_name}"):
        session = execute(config, [job], **backend_options(args), build_root=args.build_dir, waves=args.waves,
                          log=console.log, progress=console.log)
    [res] = session.results
    y = np.concatenate([res.runs[run].outputs["y"] for run in job.runs])
    counters = [res.runs[run].counters for run in job.runs]
    golden = tile_vmm(config, w, x, gain, offset)
    exact = x @ w
    clipped = sum(c["clipped"] for c in counters)
    conversions = sum(c["conversions"] for c in counters)
    cycles = sum(c["cycles"] for c in counters)
    record = {
        "engine": "cim", "workload": title, "config": config.to_dict(), "top": config.top_name,
        "vectors": len(x), "runs": len(counters), "cycles": cycles,
        "cycles_expected": sum(config.cycles(len(x[job.batch(run)])) for run in job.runs),
        "cycles_per_vmm": config.conversions_per_vector, "conversions": conversions, "clipped": clipped,
        "clip_rate": clipped / conversions, "rms_error_vs_exact": _relative_rms(y, exact),
        "bit_exact": bool(np.array_equal(y, golden.y) and clipped == golden.clipped),
        "equals_integer_matmul": bool(np.array_equal(y, exact)), "exact_mode": config.is_exact,
        "build_seconds": session.build_seconds, "wall_seconds": session.wall_seconds,
    }
    if args.json:
        write_output_file(args.json, json.dumps(record, indent=2) + "\n", "--json")
    if args.save_outputs is not None:
        buffer = io.BytesIO()
        np.save(buffer, y)
        write_output_file(args.save_outputs, buffer.getvalue(), "--save-outputs")
    print(f"{title} on the {_describe(config)}")
    print(f"  {cycles} cycles over {len(counters)} run(s) (formula {record['cycles_expected']}); cycles per VMM "
          f"{record['cycles_per_vmm']}")
    rms = record["rms_error_vs_exact"]
    print(f"  ADC: {clipped} of {conversions} conversions clipped ({100 * record['clip_rate']:.3f} %); RMS error "
          + (f"relative to x @ W {rms:.3e}" if rms is not None else "relative to x @ W undefined (x @ W is all zeros)")
          + (" (exact mode: equals the integer matmul)" if record["equals_integer_matmul"] else ""))
    print(f"  tile vs golden: {'bit-exact' if record['bit_exact'] else 'MISMATCH'}")
    return 0 if record["bit_exact"] else 1


def _relative_rms(y, exact):
    """RMS of ``y - exact`` over the RMS of ``exact``; None when ``exact`` is all zeros (no scale to relate to)."""
    exact = np.asarray(exact, dtype=np.float64)
    err = np.sqrt(np.mean((np.asarray(y, dtype=np.float64) - exact) ** 2))
    scale = np.sqrt(np.mean(exact ** 2))
    return float(err / scale) if scale else None


# Benchmark

#: The sweep of ``pimgen bench cim``: ADC bits against DAC bits on the digits MLP's tile (64 x 32, 4 ADCs, 2-bit
#: cells, 8-bit weights and inputs), each with two ADC steps: 1 (fine, clips) and the full-scale step that covers the
#: largest possible partial sum (coarse, never clips).
BENCH_ADC_BITS = tuple(range(2, 11))
BENCH_DAC_BITS = (1, 2, 4)
BENCH_BASE = CimConfig()
#: Points also run on the tile RTL in Verilator (bit-exact check, measured cycles): one build per DAC width.
BENCH_RTL_ADC_BITS = 8
#: ``--quick`` (the test suite): the digits MLP on a 16 x 8 tile (20 blocks per image, several runs per block), the
#: tile the simulation tests build as well.
BENCH_QUICK_CONFIG = CimConfig(rows=16, cols=8, adcs=2, slice_bits=1, dac_bits=1, adc_bits=6, max_vectors=16)


def formula_cycles_per_inference(config, blocks, images):
    """Cycles per image of ``blocks`` tile VMMs per image over a batch of ``images``, by docs/cim.md's formula: each
    block runs the batch in runs of at most ``max_vectors``, each run paying the latency once."""
    runs = -(-images // config.max_vectors)
    return blocks * (config.conversions_per_vector + runs * config.latency / images)


def full_scale_step_log2(config):
    """The smallest ``adc_step_log2`` whose full scale covers the largest partial sum R (2**b - 1)(2**d - 1)."""
    worst = config.rows * ((1 << config.slice_bits) - 1) * ((1 << config.dac_bits) - 1)
    step = 0
    while config.adc_limit * (1 << step) < worst and step < 12:
        step += 1
    return step


def _bench_configs(quick):
    if quick:
        return [(BENCH_QUICK_CONFIG, "unit", True)]
    points = []
    for d in BENCH_DAC_BITS:
        for a in BENCH_ADC_BITS:
            unit = dataclasses.replace(BENCH_BASE, dac_bits=d, adc_bits=a)
            points.append((unit, "unit", a == BENCH_RTL_ADC_BITS))
            full = dataclasses.replace(unit, adc_step_log2=full_scale_step_log2(unit))
            if full.adc_step_log2:
                points.append((full, "full-scale", False))
    return points


def _vmm_rms(config, quant, x):
    """RMS error of the tile's VMMs relative to the exact integer VMMs on the same inputs, over the MLP's layers on
    real images ``x`` (the tile's outputs feed the next layer, as in inference); golden model."""
    from .mlp import TiledVmm, ideal_vmm
    tiled = TiledVmm(config)
    errors, scale = [], []

    def vmm(layer, w, codes):
        y, exact = tiled(layer, w, codes), ideal_vmm(layer, w, codes)
        errors.append(((y - exact).astype(np.float64) ** 2).ravel())
        scale.append((exact.astype(np.float64) ** 2).ravel())
        return y

    quant.forward(x, vmm)
    return float(np.sqrt(np.concatenate(errors).mean() / np.concatenate(scale).mean()))



def _bench_point(point, counter, build_root, quick, console):
    """One record of the sweep: the digits MLP on ``config``, on the tile RTL or the golden model."""
    from .mlp import digits_accuracy
    config, step_policy, on_rtl = point
    label = f"{counter} A={config.adc_bits} d={config.dac_bits} step={config.adc_step}"
    t0 = time.perf_counter()
    if on_rtl:
        sim = SimBlocks(config, build_root=build_root, log=console.log)
        with console.status(f"{label}: digits on the tile RTL"):
            result = digits_accuracy(config, run_blocks=sim, limit=40 if quick else None)
        blocks = sim.blocks
        source = "rtl"
        bit_exact = all(b.bit_exact for b in blocks)
        cycles = sum(b.cycles for b in blocks) / result["test_samples"]
        build_seconds = sum(s.build_seconds for s in sim.sessions)
    else:
        with console.status(f"{label}: digits on the golden model"):
            result = digits_accuracy(config)
        source, bit_exact, build_seconds = "golden", None, 0.0
        cycles = formula_cycles_per_inference(config, result["vmms_per_inference"], result["test_samples"])
    rms = _vmm_rms(config, result["quant"], _test_images(result))
    console.log(f"{label}: accuracy {result['tile_accuracy']:.4f}, clip {100 * result['clip_rate']:.2f} %, "
                f"RMS {rms:.2e} ({source})")
    return {
        "kind": "cim_adc_sweep", "source": source, "adc_bits": config.adc_bits, "dac_bits": config.dac_bits,
        "adc_step": config.adc_step, "step_policy": step_policy, "slice_bits": config.slice_bits,
        "rows": config.rows, "cols": config.cols, "adcs": config.adcs, "exact_mode": config.is_exact,
        "tile_accuracy": result["tile_accuracy"], "ideal_accuracy": result["ideal_accuracy"],
        "float_accuracy": result["float_accuracy"], "clip_rate": result["clip_rate"],
        "rms_error_vs_exact": rms, "cycles_per_vmm": config.conversions_per_vector,
        "cycles_per_inference": cycles, "bit_exact_vs_golden": bit_exact,
        "test_samples": result["test_samples"], "build_seconds": build_seconds,
        "wall_seconds": time.perf_counter() - t0,
    }


def bench(args, console):
    """ADC bits 2..10 against DAC bits: digits accuracy, RMS error relative to exact, clip rate and cycles per VMM;
    JSON (one record per point), a table and a plot."""
    from rich.console import Console
    from rich.table import Table

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    points = _bench_configs(args.quick)
    with bench_build_root(args) as build_root:
        for n, point in enumerate(points, start=1):
            rows.append(_bench_point(point, f"[{n}/{len(points)}]", build_root, args.quick, console))
    report = {"host": {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()},
              "clock_mhz": 100, "cold_builds": bool(args.cold), "records": rows}
    (out / "cim.json").write_text(json.dumps(report, indent=2) + "\n")

    table = Table(title="CiM tile: digits MLP accuracy and VMM error against ADC and DAC bits")
    for col in ("A", "d", "step", "exact", "source", "accuracy", "ideal", "clip %", "RMS err", "cyc/VMM",
                "cyc/inference", "bit-exact"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(str(r["adc_bits"]), str(r["dac_bits"]), str(r["adc_step"]), "yes" if r["exact_mode"] else "",
                      r["source"], f"{r['tile_accuracy']:.4f}", f"{r['ideal_accuracy']:.4f}",
                      f"{100 * r['clip_rate']:.2f}", f"{r['rms_error_vs_exact']:.2e}", str(r["cycles_per_vmm"]),
                      f"{r['cycles_per_inference']:.0f}",
                      {True: "yes", False: "NO", None: "-"}[r["bit_exact_vs_golden"]])
    Console(width=200).print(table)
    print("source rtl: the tile in Verilator (cycles measured, outputs checked against the golden); golden: "
          "sw_model.cim, which the tile matches bit for bit (tests/test_cim_sim.py), cycles from the formula of "
          "docs/cim.md. Step full scale: the ADC step that covers the largest possible partial sum (never clips)."
          + (" Cold: the RTL points built in a fresh build root without ccache." if args.cold else ""))
    if not args.quick:
        plot = out / "cim_adc_sweep.png"
        plot_sweep(rows, plot)
        print(f"plot: {plot}")
    print(f"JSON: {out / 'cim.json'}")
    return 0 if all(r["bit_exact_vs_golden"] is not False for r in rows) else 1


def _test_images(result):
    from .mlp import load_digits_split
    _, x_test, _, _ = load_digits_split()
    return x_test[:result["test_samples"]]


def plot_sweep(rows, path):
    """Accuracy and RMS error against ADC bits, one line per DAC width and step policy, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (acc_ax, err_ax) = plt.subplots(1, 2, figsize=(11, 4), dpi=120)
    for d in sorted({r["dac_bits"] for r in rows}):
        for policy, style in (("unit", "-"), ("full-scale", "--")):
            pts = sorted((r["adc_bits"], r["tile_accuracy"], r["rms_error_vs_exact"]) for r in rows
                         if r["dac_bits"] == d and r["step_policy"] == policy)
            if not pts:
                continue
            label = f"d={d}, step {'1' if policy == 'unit' else 'full scale'}"
            acc_ax.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=label)
            err_ax.plot([p[0] for p in pts], [max(p[2], 1e-6) for p in pts], style, marker="o", label=label)
    ideal = rows[0]["ideal_accuracy"]
    acc_ax.axhline(ideal, color="grey", linewidth=0.8, label="ideal integer")
    acc_ax.set_xlabel("ADC bits")
    acc_ax.set_ylabel("digits test accuracy")
    acc_ax.set_title("MLP 64-32-10 on the CiM tile")
    err_ax.set_yscale("log")
    err_ax.set_xlabel("ADC bits")
    err_ax.set_ylabel("RMS error / RMS of exact VMM (floor 1e-6)")
    err_ax.set_title("VMM error relative to exact")
    for ax in (acc_ax, err_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
