"""``pimgen run gnn`` and ``pimgen bench gnn``: parse the workload, run it through :func:`pimgen.session.execute`,
check it with :mod:`pimgen.gnn.report`. Everything the user gave is validated before anything is built.
"""

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

from ..outputs import write_output_file
from ..session import execute
from .config import GNN_OPS, GnnConfig
from .report import bench_table, check_job, print_rows
from .workload import make_workload

__all__ = ["add_run_arguments", "run", "bench", "BENCH_FULL", "BENCH_QUICK"]


def add_run_arguments(parser, option_types):
    """Workload options of ``pimgen run gnn``; ``option_types`` gives argparse types that name their option."""
    src = parser.add_mutually_exclusive_group()
    src.add_argument("--dataset", help="a shipped graph: cora or citeseer (default: cora)")
    src.add_argument("--graph", type=Path,
                     help="a graph file: pimgen's .npz (indptr, indices [, x feature codes, weights codes]), a "
                          "scipy.sparse.save_npz matrix (rows = destinations; values = weights), or an edge_index "
                          "(2 x E, sources then targets; .npy, or .npz with edge_index [, num_nodes, x])")
    src.add_argument("--random", type=option_types.positive("--random"), metavar="N",
                     help="a random power-law graph with N nodes")
    parser.add_argument("--features", type=option_types.positive("--features"), default=16, metavar="F",
                        help="features per node (datasets and random graphs; default 16)")
    parser.add_argument("--op", action="append", choices=list(GNN_OPS),
                        help="aggregation op, repeatable (default: sum)")
    parser.add_argument("--self-loops", action="store_true",
                        help="add a self loop to every node first (as GCN does)")
    parser.add_argument("--seed", type=option_types.non_negative("--seed"), default=0,
                        help="seed of the feature projection / random graph (default 0)")


def _job(workload, ops):
    from tb.host.gnn import GnnJob
    return GnnJob(workload.graph, workload.x, ops=tuple(ops), weights=workload.weights, name=workload.name)


def run(config, args, console):
    ops = args.op or ["sum"]
    workload = make_workload(config, dataset=args.dataset, graph_file=args.graph, random_nodes=args.random,
                             features=args.features, self_loops=args.self_loops, seed=args.seed,
                             need_weights="weighted" in ops)
    job = _job(workload, ops)
    with console.status(f"building {config.top_name} (lanes={config.lanes}, {config.format})"):
        session = execute(config, [job], backend=args.backend, build_root=args.build_dir, waves=args.waves,
                          log=console.log, progress=console.log)
    [result] = session.results
    rows = check_job(config, job, result, session.clock_hz)
    for r in rows:
        r.update(build_seconds=session.build_seconds, build_cached=session.build_cached, top=session.top,
                 verilog=session.verilog, backend=session.backend)
    if args.json:                                     # before the report: a closed stdout must not lose it
        write_output_file(args.json, json.dumps(rows, indent=2) + "\n", "--json")
    print_rows(config, workload, rows, session)
    if args.waves:
        print(f"waves: {Path(session.run_dir) / 'dump.vcd'}")
    return 0 if all(r["bit_exact"] for r in rows) else 1


#: Benchmark cases: (dataset, lanes, format, ops).
BENCH_FULL = [
    ("cora", 1, "int16", ("sum",)),
    ("cora", 4, "int16", ("sum",)),
    ("cora", 8, "int16", ("sum", "mean", "max", "weighted")),
    ("citeseer", 8, "int16", ("sum",)),
    ("cora", 8, "int8", ("sum",)),
]
BENCH_QUICK = [("random300", 4, "int16", ("sum", "max"))]


def bench(args, console):
    """Benchmarks: build time, cycles, edges/cycle, lane utilisation and simulation speed; JSON + table."""
    from rich.console import Console

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    build_root = args.build_dir
    if args.cold:
        # Cold builds: a fresh build root and no compiler cache, so build times are what a first build costs.
        os.environ["CCACHE_DISABLE"] = "1"
        build_root = Path(tempfile.mkdtemp(prefix="pimgen-bench-"))
    rows = []
    try:
        for dataset, lanes, fmt, ops in (BENCH_QUICK if args.quick else BENCH_FULL):
            config = GnnConfig(lanes=lanes, format=fmt)
            if dataset.startswith("random"):
                workload = make_workload(config, random_nodes=int(dataset[6:]), features=16, seed=1,
                                         need_weights="weighted" in ops)
            else:
                workload = make_workload(config, dataset=dataset, features=16, self_loops=True, seed=0,
                                         need_weights="weighted" in ops)
            job = _job(workload, ops)
            with console.status(f"{workload.name} on lanes={lanes} {fmt}"):
                session = execute(config, [job], build_root=build_root, log=console.log, progress=console.log)
            case_rows = check_job(config, job, session.results[0], session.clock_hz)
            for r in case_rows:
                r.update(build_seconds=session.build_seconds, build_cached=session.build_cached, top=session.top)
            rows.extend(case_rows)
    finally:
        if args.cold:
            shutil.rmtree(build_root, ignore_errors=True)
    report = {"benchmark": "gnn", "host": platform.node(), "python": platform.python_version(),
              "cpus": os.cpu_count(), "cold_builds": bool(args.cold), "rows": rows}
    (out / "gnn.json").write_text(json.dumps(report, indent=2) + "\n")
    Console(width=180).print(bench_table(rows, args.cold))
    print("build s = Amaranth elaboration + Yosys + Verilator + C++ compile"
          + ("; cold: no build cache, no ccache." if args.cold else
             "; (c) = taken from the build cache. `--cold` measures first builds."))
    print(f"JSON: {out / 'gnn.json'}")
    return 0 if all(r["bit_exact"] for r in rows) else 1
