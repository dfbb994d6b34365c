"""cocotb test module of the GNN engine: runs the jobs pytest (or the CLI) prepared, writes their results.

Each job file (``.npz``) holds a graph (``indptr``, ``indices``, optional ``weights``), feature codes ``x`` and the
``ops`` to run on them. For every op the result ``y_<op>`` and the counters go into ``<job>.out.npz``. The comparison
with the golden model happens on the pytest side, which owns the golden.
"""

import time

import cocotb
import numpy as np

from tb.harness import TB, check_frame, job_paths, save_job_result
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
        save_job_result(path, out, meta)
        dut._log.info("job %s: %s", path.name, {op: m["counters"] for op, m in meta["ops"].items()})


@cocotb.test()
async def test_registers(dut):
    """Error codes of the GNN engine, then the shared register frame (tb.harness.check_frame)."""
    from tb.host.driver import EngineError

    tb = TB(dut, GnnDriver)
    await tb.reset()
    drv = tb.driver
    cfg = drv.config

    async def expect_error(code):
        try:
            await drv.run(timeout_cycles=100_000)
        except EngineError as exc:
            assert exc.code == code, f"expected error {code}, got {exc.code}"
            assert await drv.read_field("STATUS", "error") == code
        else:
            raise AssertionError(f"expected error {code}, the run succeeded")

    # Register checks at start.
    await drv.write_reg("NUM_NODES", value=2)
    await drv.write_reg("NUM_FEATURES", value=0)
    await expect_error(2)
    await drv.write_reg("NUM_FEATURES", value=cfg.max_features + 1)
    await expect_error(2)
    await drv.write_reg("NUM_FEATURES", value=4)
    await drv.write_reg("NUM_NODES", value=cfg.max_nodes + 1)
    await expect_error(1)

    # A decreasing indptr aborts the run (error 3); the host-side CsrGraph would refuse it, so write the window.
    indptr = drv.manifest.window("indptr").base
    indices = drv.manifest.window("indices").base
    await drv.backend.write_burst(indptr, [0, 3, 1, 4])
    await drv.backend.write_burst(indices, [0, 1, 2, 0])
    await drv.write_reg("NUM_NODES", value=3)
    await expect_error(3)

    # A column index >= NUM_NODES: the run completes with error 4.
    await drv.backend.write_burst(indptr, [0, 2, 3])
    await drv.backend.write_burst(indices, [0, 5, 1])
    await drv.write_reg("NUM_NODES", value=2)
    await expect_error(4)

    # Mean over a row with more in-edges than the reciprocal table holds: error 5.
    deg = cfg.max_degree + 1
    await drv.backend.write_burst(indptr, [0, deg, deg])
    await drv.backend.write_burst(indices, [1] * deg)
    await drv.write_reg("OP", code=1)
    await expect_error(5)
    await drv.write_reg("OP", code=0)
    counters = await drv.run()                          # the same graph is fine for sum
    assert counters["edges"] == deg

    # The frame every engine shares; a long run is one row with max_degree + 1 edges, summed.
    async def start_long_run():
        await drv.write_reg("NUM_NODES", value=2)
        await drv.write_reg("NUM_FEATURES", value=4)
        await drv.write_reg("OP", code=0)
        await drv.start()

    await check_frame(tb, start_long_run, window="features")
