"""cocotb test module of the GNN engine: runs the jobs pytest (or the CLI) prepared, writes their results.

Each job file (``.npz``) holds a graph (``indptr``, ``indices``, optional ``weights``), feature codes ``x`` and the
``ops`` to run on them. For every op the result ``y_<op>`` and the counters go into ``<job>.out.npz``. The comparison
with the golden model happens on the pytest side, which owns the golden.
"""

import json
import time

import cocotb
import numpy as np

from tb.harness import TB, job_paths
from tb.host.gnn import GnnDriver
from sw_model.graphs import CsrGraph


@cocotb.test()
async def run_jobs(dut):
    """Load each job over the bus, run its ops, read back results and counters."""
    tb = TB(dut, GnnDriver)
    await tb.reset()
    drv = tb.driver
    await drv.check_identity()
    for path in job_paths():
        job = np.load(path, allow_pickle=False)
        weights = job["weights"] if "weights" in job.files else None
        graph = CsrGraph(job["indptr"], job["indices"])
        out = {}
        meta = {"ops": {}}
        t0 = time.perf_counter()
        c0 = tb.now_cycles()
        await drv.load_graph(graph, weights=weights)
        await drv.load_features(job["x"])
        meta["load_seconds"] = time.perf_counter() - t0
        meta["load_cycles"] = tb.now_cycles() - c0
        for op in [str(o) for o in job["ops"]]:
            t0 = time.perf_counter()
            counters = await drv.run_op(op)
            run_seconds = time.perf_counter() - t0
            t1 = time.perf_counter()
            out[f"y_{op}"] = await drv.read_result()
            meta["ops"][op] = {"counters": counters, "run_seconds": run_seconds,
                               "read_seconds": time.perf_counter() - t1}
        np.savez(path.with_suffix(".out.npz"), **out)
        path.with_suffix(".out.json").write_text(json.dumps(meta, indent=1))
        dut._log.info("job %s: %s", path.name, {op: m["counters"] for op, m in meta["ops"].items()})
