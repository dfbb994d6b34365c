"""``pimgen run gnn`` and ``pimgen bench gnn``: parse the workload, run it through :func:`pimgen.session.execute`,
check it with :mod:`pimgen.gnn.report`. Everything the user gave is validated before anything is built.
"""

import json
import os
import platform
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..outputs import write_output_file
from ..session import backend_options, execute
from .config import GNN_OPS, GnnConfig
from .gcn_command import GCN_TARGET
from .report import bench_table, check_job, print_rows
from .workload import make_workload

__all__ = ["add_run_arguments", "run", "bench", "BENCH_FULL", "BENCH_QUICK", "RUN_TARGETS"]


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


#: Further workloads of ``pimgen run`` on this engine.
RUN_TARGETS = {"gcn": GCN_TARGET}


def _job(workload, ops):
    from tb.host.gnn import GnnJob
    return GnnJob(workload.graph, workload.x, ops=tuple(ops), weights=workload.weights, name=workload.name)


def run(config, args, console):
    if config.is_mixed:
        raise InputError("--format mixed quantises real features per node: run it with `pimgen run gcn --format "
                         "mixed`; `pimgen run gnn` takes int8, int16 or fp16")
    ops = args.op or ["sum"]
    workload = make_workload(config, dataset=args.dataset, graph_file=args.graph, random_nodes=args.random,
                             features=args.features, self_loops=args.self_loops, seed=args.seed,
                             need_weights="weighted" in ops)
    job = _job(workload, ops)
    with console.status(f"building {config.top_name} (lanes={config.lanes}, {config.format})"):
        session = execute(config, [job], **backend_options(args), build_root=args.build_dir, waves=args.waves,
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


#: Memory limits of the benchmark configs: Cora and CiteSeer with self loops (at most 3327 nodes, 13264 edges) and
#: F = 16, and no more, so that 8 processing elements' copies stay small.
BENCH_LIMITS = dict(max_nodes=3327, max_edges=13264, max_features=16)

#: Benchmark cases: (dataset, lanes, pes, format, ops). Cora and CiteSeer at 1, 2, 4, 8 processing elements, the other
#: formats and every op at one element.
BENCH_FULL = [
    *[(dataset, 8, pes, "int16", ("sum",)) for dataset in ("cora", "citeseer") for pes in (1, 2, 4, 8)],
    ("cora", 8, 1, "int16", ("mean", "max", "weighted")),
    ("cora", 8, 1, "int8", ("sum",)),
    ("cora", 8, 1, "fp16", ("sum", "weighted")),
]
BENCH_QUICK = [("random300", 4, 1, "int16", ("sum", "max"))]
#: How often SciPy's SpMM is timed (best of ``SPMM_REPEATS`` runs of ``SPMM_NUMBER`` products).
SPMM_NUMBER = 20
SPMM_REPEATS = 7


def spmm_seconds(graph, x):
    """Best time of SciPy's CSR x dense product on one core, int32, as a CPU does the same aggregation (sum)."""
    import timeit

    import scipy.sparse
    adjacency = scipy.sparse.csr_matrix((np.ones(graph.nnz, dtype=np.int32), graph.indices, graph.indptr),
                                        shape=(graph.num_nodes, graph.num_nodes))
    features = np.ascontiguousarray(x, dtype=np.int32)
    return min(timeit.repeat(lambda: adjacency @ features, number=SPMM_NUMBER, repeat=SPMM_REPEATS)) / SPMM_NUMBER


def bench(args, console):
    """Benchmarks: cycles and speed-up over processing elements, the engine against SciPy's SpMM on the same graph,
    GCN accuracy against feature bytes per format; JSON (one record per measurement), a table and a plot."""
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
        for dataset, lanes, pes, fmt, ops in (BENCH_QUICK if args.quick else BENCH_FULL):
            limits = {} if args.quick else BENCH_LIMITS
            config = GnnConfig(lanes=lanes, pes=pes, format=fmt, **limits)
            if dataset.startswith("random"):
                workload = make_workload(config, random_nodes=int(dataset[6:]), features=16, seed=1,
                                         need_weights="weighted" in ops)
            else:
                workload = make_workload(config, dataset=dataset, features=16, self_loops=True, seed=0,
                                         need_weights="weighted" in ops)
            job = _job(workload, ops)
            with console.status(f"{workload.name} on lanes={lanes} pes={pes} {fmt}"):
                session = execute(config, [job], build_root=build_root, log=console.log, progress=console.log)
            cpu = spmm_seconds(workload.graph, workload.x) if not config.is_float else None
            for r in check_job(config, job, session.results[0], session.clock_hz):
                r.update(kind="aggregation", dataset=dataset, build_seconds=session.build_seconds,
                         build_cached=session.build_cached, top=session.top, scipy_spmm_us=None, speedup_vs_scipy=None)
                if cpu is not None and r["op"] == "sum":
                    r.update(scipy_spmm_us=cpu * 1e6, speedup_vs_scipy=cpu * 1e6 / r["engine_us"])
                rows.append(r)
    finally:
        if args.cold:
            shutil.rmtree(build_root, ignore_errors=True)
    _add_pe_speedups(rows)
    accuracy_rows = [] if args.quick else gcn_accuracy_rows(console)
    report = {"benchmark": "gnn", "host": platform.node(), "python": platform.python_version(),
              "cpus": os.cpu_count(), "cold_builds": bool(args.cold), "clock_mhz": 100,
              "records": rows + accuracy_rows}
    (out / "gnn.json").write_text(json.dumps(report, indent=2) + "\n")
    Console(width=200).print(bench_table(rows, args.cold))
    print("build s = Amaranth elaboration + Yosys + Verilator + C++ compile"
          + ("; cold: no build cache, no ccache." if args.cold else
             "; (c) = taken from the build cache. `--cold` measures first builds.")
          + " engine us = cycles at 100 MHz; SciPy = int32 CSR x dense on one core, best of "
          + f"{SPMM_REPEATS} x {SPMM_NUMBER}.")
    if accuracy_rows:
        Console(width=200).print(accuracy_table(accuracy_rows))
        plot = out / "gnn_accuracy_vs_bytes.png"
        plot_accuracy(accuracy_rows, plot)
        print(f"plot: {plot}")
    print(f"JSON: {out / 'gnn.json'}")
    return 0 if all(r["bit_exact"] for r in rows) else 1


def _add_pe_speedups(rows):
    """Cycles of each aggregation record relative to the same dataset, lanes, format and op at one element."""
    single = {(r["dataset"], r["lanes"], r["format"], r["op"]): r["cycles"] for r in rows if r["pes"] == 1}
    for r in rows:
        base = single.get((r["dataset"], r["lanes"], r["format"], r["op"]))
        r["speedup_vs_one_pe"] = base / r["cycles"] if base else None
        r["cycles_vs_one_pe"] = r["cycles"] / base if base else None


def gcn_accuracy_rows(console):
    """Test accuracy of Cora's and CiteSeer's 2-layer GCN per feature format (aggregations by the engine's golden
    model, which the engine matches bit for bit: tests/test_cli.py), with the bytes the aggregation inputs take."""
    from sw_model import gcn

    records = []
    for dataset in ("cora", "citeseer"):
        with console.status(f"GCN accuracy on {dataset}"):
            params = gcn.load_or_train(dataset)
            graph = gcn.gcn_graph(dataset)
            elements = graph.num_nodes * (params.hidden + params.num_classes)     # both layers' inputs
            logits = gcn.gcn_forward(params, dataset, gcn.float_aggregator(dataset))
            records.append({"kind": "gcn_accuracy", "dataset": dataset, "format": "fp32 (float64 host)",
                            "bits_per_feature": 32, "feature_bytes": 4 * elements,
                            "accuracy": gcn.accuracy(logits, dataset)})
            for fmt, bits in (("int8", 8), ("int16", 16), ("fp16", 16)):
                config = GnnConfig(format=fmt, **BENCH_LIMITS)
                logits = gcn.gcn_forward(params, dataset, gcn.quantized_aggregator(config, dataset))
                records.append({"kind": "gcn_accuracy", "dataset": dataset, "format": fmt, "bits_per_feature": bits,
                                "feature_bytes": bits * elements // 8, "accuracy": gcn.accuracy(logits, dataset)})
            # Degree-aware mixed precision (the engine decodes it, bit-exact with this golden: tests/test_cli.py),
            # bytes including the per-node headers and the class table.
            mixed = gcn.mixed_aggregator(GnnConfig(format="int16", **BENCH_LIMITS), dataset)
            logits = gcn.gcn_forward(params, dataset, mixed)
            counts = [features.byte_counts() for features in mixed.mixed.values()]
            total_bits = sum(c["avg_bits"] * c["fp32_bytes"] / 4 for c in counts)
            records.append({"kind": "gcn_accuracy", "dataset": dataset, "format": "mixed",
                            "bits_per_feature": total_bits / sum(c["fp32_bytes"] / 4 for c in counts),
                            "feature_bytes": sum(c["total_bytes"] for c in counts),
                            "accuracy": gcn.accuracy(logits, dataset)})
    return records


def accuracy_table(records):
    from rich.table import Table
    table = Table(title="GCN test accuracy vs feature bytes (both layers' aggregation inputs)")
    for col in ("dataset", "format", "bits/feature", "feature bytes", "vs fp32", "vs int8", "accuracy"):
        table.add_column(col, justify="right")
    fp32 = {r["dataset"]: r["feature_bytes"] for r in records if r["format"].startswith("fp32")}
    int8 = {r["dataset"]: r["feature_bytes"] for r in records if r["format"] == "int8"}
    for r in records:
        fewer = [f"{base[r['dataset']] / r['feature_bytes']:.2f}x" for base in (fp32, int8)]
        table.add_row(r["dataset"], r["format"], f"{r['bits_per_feature']:.2f}", str(r["feature_bytes"]), *fewer,
                      f"{r['accuracy']:.4f}")
    return table


def plot_accuracy(records, path):
    """Accuracy against feature bytes, one line per dataset, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for dataset in sorted({r["dataset"] for r in records}):
        points = sorted((r["feature_bytes"], r["accuracy"], r["format"]) for r in records if r["dataset"] == dataset)
        ax.plot([p[0] / 1024 for p in points], [p[1] for p in points], marker="o", label=dataset)
        labels = {}                                      # formats of equal size (int16, fp16) share one label
        for nbytes, acc, fmt in points:
            labels.setdefault((nbytes, acc), []).append(fmt.split()[0])
        for (nbytes, acc), formats in labels.items():
            ax.annotate(", ".join(formats), (nbytes / 1024, acc), textcoords="offset points", xytext=(4, 4),
                        fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("feature bytes of the aggregation inputs (KiB, log)")
    ax.set_ylabel("test accuracy")
    ax.set_title("2-layer GCN: accuracy vs feature storage")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
