"""``pimgen run gnn`` and ``pimgen bench gnn``: workloads, simulation, comparison with the golden, reports.

Everything the user gave is validated (graph, features, limits of the config) before anything is built.
"""

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pimgen.config import GNN_OPS, GnnConfig

__all__ = ["Workload", "make_workload", "add_run_arguments", "run", "bench", "compare", "summarise"]


@dataclass
class Workload:
    name: str
    graph: object        # CsrGraph
    x: np.ndarray        # feature codes
    weights: np.ndarray  # edge weight codes or None


def make_workload(config, *, dataset=None, graph_file=None, random_nodes=None, features=16, self_loops=False,
                  seed=0, need_weights=False):
    """Build and validate a workload from a shipped dataset, an .npz file or a random graph."""
    from sw_model.datasets import DATASETS, load_dataset, project_features
    from sw_model.gnn import gcn_norm_weights, quantize_features
    from sw_model.graphs import CsrGraph, power_law_graph

    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise ValueError(f"--features must be a positive integer, not {features!r}")
    rng = np.random.default_rng(seed)
    x = weights = None
    if graph_file is not None:
        path = Path(graph_file)
        if not path.exists():
            raise FileNotFoundError(f"Graph file {path} does not exist")
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"Graph file {path} is not a readable .npz ({exc})") from None
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"Graph file {path} holds a single array; it must be an .npz with indptr and indices")
        missing = [k for k in ("indptr", "indices") if k not in data.files]
        if missing:
            raise ValueError(f"Graph file {path} lacks the array(s) {', '.join(missing)}; "
                             "it needs indptr and indices (and may have x, weights)")
        graph = CsrGraph(data["indptr"], data["indices"])
        name = path.stem
        if "x" in data.files:
            x = data["x"]
        if "weights" in data.files:
            weights = data["weights"]
    elif random_nodes is not None:
        if not 2 <= random_nodes <= config.max_nodes:
            raise ValueError(f"--random must be in 2..max_nodes = 2..{config.max_nodes} nodes, not {random_nodes}")
        graph = power_law_graph(random_nodes, 4.0, seed=seed)
        name = f"random{random_nodes}"
    else:
        dataset = dataset or "cora"
        if dataset not in DATASETS:
            raise ValueError(f"Dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
        ds = load_dataset(dataset)
        graph = ds.graph
        name = dataset
        x = quantize_features(project_features(ds.features, features, seed=seed), config)
    if not need_weights:
        weights = None                   # only the weighted op reads edge weights
    if self_loops:
        if weights is not None:
            raise ValueError("--self-loops cannot add weights for the new loops: put the loops and their weights "
                             "in the graph file instead")
        graph = graph.with_self_loops()
        name += "+loops"
    if x is None:
        x = quantize_features(rng.standard_normal((graph.num_nodes, features)), config)
    if need_weights and weights is None:
        weights = gcn_norm_weights(graph, config)
    return Workload(name=name, graph=graph, x=np.asarray(x), weights=weights)


def compare(golden, rtl):
    """``(equal, first_mismatch)``; first_mismatch is ``(row, feature, rtl, golden)`` or None."""
    if golden.shape != rtl.shape:
        return False, ("shape", rtl.shape, golden.shape)
    bad = np.argwhere(golden != rtl)
    if len(bad) == 0:
        return True, None
    r, f = (int(v) for v in bad[0])
    return False, (r, f, int(rtl[r, f]), int(golden[r, f]))


def summarise(config, workload, op, result, golden):
    """One row of results: correctness, counters and derived figures."""
    from tb.runner import CLOCK_NS
    counters = result.counters[op]
    graph = workload.graph
    features = workload.x.shape[1]
    groups = -(-features // config.lanes)
    cycles = counters["cycles"]
    equal, mismatch = compare(golden, result.outputs[op])
    run_seconds = result.run_seconds[op]
    return {
        "workload": workload.name, "op": op, "lanes": config.lanes, "format": config.format,
        "nodes": graph.num_nodes, "edges": graph.nnz, "features": features,
        "bit_exact": equal, "first_mismatch": mismatch,
        "cycles": cycles, "busy": counters["busy"], "stall": counters["stall"], "edges_counted": counters["edges"],
        "edges_per_cycle": graph.nnz / cycles if cycles else 0.0,
        "lane_utilisation": graph.nnz * groups / cycles if cycles else 0.0,
        "simulated_us": cycles * CLOCK_NS / 1000,
        "run_wall_seconds": run_seconds,
        "sim_cycles_per_second": cycles / run_seconds if run_seconds else 0.0,
    }


def _simulate(config, workloads_ops, console, build_root=None, waves=False, run_root=None):
    from sw_model.gnn import aggregate
    from tb.gnn.session import GnnJob, simulate
    from tb.runner import build

    jobs = [GnnJob(w.graph, w.x, ops=tuple(ops), weights=w.weights, name=w.name) for w, ops in workloads_ops]
    for job in jobs:
        job.validate(config)                      # before any build
    with console.status(f"building {config.top_name} (lanes={config.lanes}, {config.format})"):
        model = build(config, waves=waves, root=build_root, log=None)
    console.log(f"model {model.top}: {'cached' if model.cached else 'built'} in {model.build_seconds:.1f} s")
    if run_root is None:
        run_root = model.directory / "runs" / jobs[0].name          # inside the build root, next to the model
    run_dir = Path(run_root).resolve()
    t0 = time.perf_counter()
    with console.status(f"simulating {', '.join(j.name for j in jobs)} in Verilator"):
        results = simulate(model, jobs, run_dir)
    sim_wall = time.perf_counter() - t0
    rows = []
    for (workload, ops), result in zip(workloads_ops, results):
        for op in ops:
            golden = aggregate(config, workload.graph, workload.x, op, weights=workload.weights)
            row = summarise(config, workload, op, result, golden)
            row.update({"build_seconds": model.build_seconds, "build_cached": model.cached,
                        "load_wall_seconds": result.load_seconds, "simulation_wall_seconds": sim_wall,
                        "top": model.top, "verilog": str(model.verilog)})
            rows.append(row)
    return model, run_dir, rows


def add_run_arguments(parser):
    """Workload options of ``pimgen run gnn``."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="a shipped graph: cora or citeseer (default: cora)")
    src.add_argument("--graph", type=Path,
                     help=".npz with indptr, indices [, x (feature codes; then --features is ignored), "
                          "weights (codes, for --op weighted)]")
    src.add_argument("--random", type=int, metavar="N", help="a random power-law graph with N nodes")
    parser.add_argument("--features", type=int, default=16, metavar="F",
                        help="features per node (datasets and random graphs; default 16)")
    parser.add_argument("--op", action="append", choices=list(GNN_OPS),
                        help="aggregation op, repeatable (default: sum)")
    parser.add_argument("--self-loops", action="store_true",
                        help="add a self loop to every node first (as GCN does)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the feature projection / random graph")


def run(config, args, console):
    ops = args.op or ["sum"]
    workload = make_workload(config, dataset=args.dataset, graph_file=args.graph, random_nodes=args.random,
                             features=args.features, self_loops=args.self_loops, seed=args.seed,
                             need_weights="weighted" in ops)
    model, run_dir, rows = _simulate(config, [(workload, ops)], console, build_root=args.build_dir,
                                     waves=args.waves)
    _print_run(config, workload, rows)
    if args.waves:
        print(f"waves: {run_dir / 'dump.vcd'}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["bit_exact"] for r in rows) else 1


def _print_run(config, workload, rows):
    from tb.runner import CLOCK_NS
    g = workload.graph
    print(f"{workload.name}: {g.num_nodes} nodes, {g.nnz} edges, F = {workload.x.shape[1]}; "
          f"engine lanes = {config.lanes}, {config.format} (frac {config.frac_bits}), "
          f"acc {config.acc_width} bits, {'saturating' if config.saturate else 'wrapping'}")
    for r in rows:
        match = "yes" if r["bit_exact"] else f"NO, first mismatch at row {r['first_mismatch'][0]}, feature " \
            f"{r['first_mismatch'][1]}: rtl {r['first_mismatch'][2]}, golden {r['first_mismatch'][3]}"
        print(f"  op {r['op']}:")
        print(f"    bit-exact match with the golden model: {match}")
        print(f"    cycles: {r['cycles']} (busy {r['busy']}, stall {r['stall']}); edges counted {r['edges_counted']}")
        print(f"    edges/cycle: {r['edges_per_cycle']:.3f}; lane utilisation: {r['lane_utilisation']:.4f}")
        print(f"    simulated time: {r['simulated_us']:.1f} us at {1000 // CLOCK_NS} MHz; wall time of the run: "
              f"{r['run_wall_seconds']:.2f} s ({r['sim_cycles_per_second'] / 1e3:.0f} k cycles/s)")
    r = rows[0]
    print(f"  Verilog: {r['verilog']} (manifest.json and registers.md beside it)")
    print(f"  model build: {r['build_seconds']:.1f} s ({'cached' if r['build_cached'] else 'fresh'}); "
          f"loading over the bus: {r['load_wall_seconds']:.2f} s; whole simulation: "
          f"{r['simulation_wall_seconds']:.1f} s")


BENCH_FULL = [
    # (dataset, lanes, format, ops)
    ("cora", 1, "int16", ("sum",)),
    ("cora", 4, "int16", ("sum",)),
    ("cora", 8, "int16", ("sum", "mean", "max", "weighted")),
    ("citeseer", 8, "int16", ("sum",)),
    ("cora", 8, "int8", ("sum",)),
]


def bench(args, console):
    """Benchmarks: build time, cycles, edges/cycle, lane utilisation and simulation speed; JSON + table."""
    from rich.table import Table
    from rich.console import Console

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    build_root = args.build_dir
    if args.cold:
        # Cold builds: a fresh build root and no compiler cache, so build times are what a first build costs.
        import tempfile
        os.environ["CCACHE_DISABLE"] = "1"
        build_root = Path(tempfile.mkdtemp(prefix="pimgen-bench-"))
    if args.quick:
        cases = [("random300", 4, "int16", ("sum", "max"))]
    else:
        cases = BENCH_FULL
    rows = []
    for dataset, lanes, fmt, ops in cases:
        config = GnnConfig(lanes=lanes, format=fmt)
        if dataset.startswith("random"):
            workload = make_workload(config, random_nodes=int(dataset[6:]), features=16, seed=1,
                                     need_weights="weighted" in ops)
        else:
            workload = make_workload(config, dataset=dataset, features=16, self_loops=True, seed=0,
                                     need_weights="weighted" in ops)
        _, _, case_rows = _simulate(config, [(workload, ops)], console, build_root=build_root)
        rows.extend(case_rows)
    report = {"benchmark": "gnn", "host": platform.node(), "python": platform.python_version(),
              "cpus": os.cpu_count(), "cold_builds": bool(args.cold), "rows": rows}
    if args.cold:
        import shutil
        shutil.rmtree(build_root, ignore_errors=True)
    (out / "gnn.json").write_text(json.dumps(report, indent=2) + "\n")

    table = Table(title="pimgen bench gnn (one PE; simulated clock 100 MHz)")
    for col in ("workload", "op", "lanes", "fmt", "edges", "F", "exact", "cycles", "edges/cyc", "lane util",
                "build s", "run s", "kcyc/s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["workload"], r["op"], str(r["lanes"]), r["format"], str(r["edges"]), str(r["features"]),
                      "yes" if r["bit_exact"] else "NO", str(r["cycles"]), f"{r['edges_per_cycle']:.3f}",
                      f"{r['lane_utilisation']:.4f}",
                      f"{r['build_seconds']:.1f}" + (" (c)" if r["build_cached"] else ""),
                      f"{r['run_wall_seconds']:.2f}", f"{r['sim_cycles_per_second'] / 1e3:.0f}")
    Console(width=160).print(table)
    print("build s = Amaranth elaboration + Yosys + Verilator + C++ compile"
          + ("; cold: no build cache, no ccache." if args.cold else
             "; (c) = taken from the build cache. `--cold` measures first builds."))
    print(f"JSON: {out / 'gnn.json'}")
    return 0 if all(r["bit_exact"] for r in rows) else 1
