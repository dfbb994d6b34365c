"""Check GNN results against the golden model and report them: the same for a simulation and a board run.

:func:`check_job` compares every run of a :class:`~tb.host.job.JobResult` with ``sw_model.gnn.aggregate`` and turns
counters into figures (cycles, edges/cycle, lane utilisation); :func:`print_rows` and :func:`bench_table` show them.
"""

import numpy as np

__all__ = ["compare", "check_job", "print_rows", "bench_table"]


def compare(golden, rtl):
    """``(equal, first_mismatch)``; first_mismatch is ``(row, feature, rtl, golden)``, ``("shape", ...)`` or None."""
    if golden.shape != rtl.shape:
        return False, ("shape", list(rtl.shape), list(golden.shape))
    bad = np.argwhere(golden != rtl)
    if len(bad) == 0:
        return True, None
    r, f = (int(v) for v in bad[0])
    return False, (r, f, int(rtl[r, f]), int(golden[r, f]))


def check_job(config, job, result, clock_hz):
    """One row per run of ``result`` (a JobResult of the GnnJob ``job``): bit-exactness and figures.

    Edge counts and utilisation come from the engine's own counters (``edges``), not from the graph.
    """
    from sw_model.gnn import aggregate

    graph = job.graph
    features = job.x.shape[1]
    groups = -(-features // config.lanes)
    rows = []
    for op, run in result.runs.items():
        golden = aggregate(config, graph, job.x, op, weights=job.weights)
        equal, mismatch = compare(golden, run.outputs["y"])
        c = run.counters
        cycles = c["cycles"]
        rows.append({
            "workload": job.name, "op": op, "lanes": config.lanes, "format": config.format,
            "nodes": graph.num_nodes, "edges": graph.nnz, "features": features,
            "bit_exact": equal, "first_mismatch": mismatch,
            "cycles": cycles, "busy": c["busy"], "stall": c["stall"], "edges_counted": c["edges"],
            "pe_busy": c["pe_busy"], "pe_stall": c["pe_stall"],
            "edges_per_cycle": c["edges"] / cycles if cycles else 0.0,
            # Lanes busy with an edge, over all lanes of all processing elements.
            "lane_utilisation": c["edges"] * groups / (cycles * config.pes) if cycles else 0.0,
            "pes": config.pes,
            "engine_us": cycles / clock_hz * 1e6,
            "run_wall_seconds": run.run_seconds,
            "read_wall_seconds": run.read_seconds,
            "load_wall_seconds": result.load_seconds,
            "sim_cycles_per_second": (run.cycles_waited or cycles) / run.run_seconds if run.run_seconds else 0.0,
        })
    return rows


def print_rows(config, workload, rows, session, out=print):
    """The report of ``pimgen run gnn``: what ran on what, where the data came from, and per op the result."""
    g = workload.graph
    if config.is_float:
        number = f"fp16, {'binary32' if config.fp32_acc else 'binary16'} accumulator"
    elif config.is_mixed:
        number = f"mixed precision decoded to int16 (frac {config.frac_bits}), acc {config.acc_width} bits"
    else:
        number = (f"{config.format} (frac {config.frac_bits}), acc {config.acc_width} bits, "
                  f"{'saturating' if config.saturate else 'wrapping'}")
    out(f"{workload.name}: {g.num_nodes} nodes, {g.nnz} edges, F = {workload.x.shape[1]}; "
        f"engine lanes = {config.lanes}, pes = {config.pes}, {number}")
    for part, source in workload.sources.items():
        out(f"  {part}: {source}")
    for r in rows:
        if r["bit_exact"]:
            match = "yes"
        elif r["first_mismatch"][0] == "shape":
            match = f"NO, result shape {r['first_mismatch'][1]}, golden {r['first_mismatch'][2]}"
        else:
            row, feature, rtl, golden = r["first_mismatch"]
            match = f"NO, first mismatch at row {row}, feature {feature}: rtl {rtl}, golden {golden}"
        out(f"  op {r['op']}:")
        out(f"    bit-exact match with the golden model: {match}")
        out(f"    cycles: {r['cycles']} (busy {r['busy']}, stall {r['stall']}); edges counted {r['edges_counted']}")
        if config.pes > 1:
            out(f"    per processing element: busy {r['pe_busy']}, stall {r['pe_stall']}")
        out(f"    edges/cycle: {r['edges_per_cycle']:.3f}; lane utilisation: {r['lane_utilisation']:.4f}")
        out(f"    engine time: {r['engine_us']:.1f} us at {session.clock_hz / 1e6:g} MHz; wall time of the run: "
            f"{r['run_wall_seconds']:.2f} s ({r['sim_cycles_per_second'] / 1e3:.0f} k cycles/s)")
    out(f"  backend: {session.backend}; Verilog: {session.verilog} (manifest.json and registers.md beside it)")
    out(f"  model build: {session.build_seconds:.1f} s ({'cached' if session.build_cached else 'fresh'}); "
        f"loading over the bus: {rows[0]['load_wall_seconds']:.2f} s; whole run: {session.wall_seconds:.1f} s; "
        f"run directory: {session.run_dir}")


def bench_table(rows, cold):
    """A rich Table of the aggregation records of a benchmark."""
    from rich.table import Table

    def num(value, fmt):
        return "-" if value is None else format(value, fmt)

    table = Table(title="pimgen bench gnn (engine time at 100 MHz)")
    for col in ("workload", "op", "lanes", "pes", "fmt", "edges", "F", "exact", "cycles", "x vs 1 PE", "lane util",
                "engine us", "SciPy us", "x vs SciPy", "build s", "load s", "run s", "kcyc/s"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(r["workload"], r["op"], str(r["lanes"]), str(r["pes"]), r["format"], str(r["edges"]),
                      str(r["features"]), "yes" if r["bit_exact"] else "NO", str(r["cycles"]),
                      num(r.get("speedup_vs_one_pe"), ".2f"), f"{r['lane_utilisation']:.4f}",
                      f"{r['engine_us']:.1f}", num(r.get("scipy_spmm_us"), ".1f"),
                      num(r.get("speedup_vs_scipy"), ".2f"),
                      f"{r['build_seconds']:.1f}" + (" (c)" if r["build_cached"] else ""),
                      f"{r['load_wall_seconds']:.2f}", f"{r['run_wall_seconds']:.2f}",
                      f"{r['sim_cycles_per_second'] / 1e3:.0f}")
    return table
