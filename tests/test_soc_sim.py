"""The SoC (UART, bridge, engine) in Verilator, driven at its pins by the host's own framing code: the engine's
driver runs a GNN workload over :class:`tb.host.serial.SerialBackend`, bit-exact with the golden model."""

import os

import numpy as np

from pimgen.engines import engine_for
from pimgen.gnn.config import GnnConfig
from sw_model.gnn import aggregate
from sw_model.graphs import random_graph
from tb.host.gnn import GnnJob
from tb.host.job import JobResult
from tb.runner import build_soc, run_test

#: Clock cycles per UART bit in the simulation (25 Mbaud at 100 MHz): fast, and the UART's smallest divisor.
DIVISOR = 4


def test_gnn_through_the_uart_pins(build_root, tmp_path):
    cfg = GnnConfig(lanes=2, format="int16", max_nodes=64, max_edges=256, max_features=4)
    model = build_soc(cfg, DIVISOR, root=build_root, log=None)
    g = random_graph(40, 3, seed=4, empty_rows=3)
    rng = np.random.default_rng(4)
    x = rng.integers(-3000, 3000, (g.num_nodes, 3))
    job = GnnJob(g, x, ops=("sum", "max"), name="uart")
    job.validate(cfg)
    path = tmp_path / "job0.npz"
    np.savez(path, **job.to_arrays())
    env = {"PIMGEN_JOBS": str(path), "PIMGEN_DRIVER": engine_for(cfg).driver_path,
           "PIMGEN_SOC_DIVISOR": str(DIVISOR)}
    run_test(model, "tb.soc.cocotb_soc", tmp_path, testcase="run_jobs", extra_env=env)
    result = JobResult.load(path, job=job)
    for op in job.ops:
        assert np.array_equal(result.runs[op].outputs["y"], aggregate(cfg, g, x, op)), op
    assert os.path.getsize(model.verilog) > 0
