"""Run GNN jobs on a Verilator model from ordinary Python (pytest, the CLI, benchmarks).

A :class:`GnnJob` is one graph with its features and the ops to run on it. :func:`simulate` writes the jobs to
files, runs ``tb.gnn.cocotb_gnn`` once for all of them on one build, and returns a :class:`GnnJobResult` each.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from sw_model.gnn import check_codes, check_fits, check_weight_codes
from sw_model.graphs import CsrGraph
from ..runner import run_jobs

__all__ = ["GnnJob", "GnnJobResult", "simulate", "TEST_MODULE"]

TEST_MODULE = "tb.gnn.cocotb_gnn"


@dataclass
class GnnJob:
    """Inputs of one simulated run: a graph, feature codes, ops, and edge weight codes for ``weighted``."""
    graph: CsrGraph
    x: np.ndarray
    ops: tuple = ("sum",)
    weights: np.ndarray = None
    name: str = "job"

    def validate(self, config):
        """Every check the engine's inputs need, before anything is built or simulated."""
        if not isinstance(self.graph, CsrGraph):
            raise TypeError(f"Job {self.name!r}: graph must be a CsrGraph, not {type(self.graph).__name__}")
        check_codes(self.x, config)
        if self.x.shape[0] != self.graph.num_nodes:
            raise ValueError(f"Job {self.name!r}: features have {self.x.shape[0]} rows, "
                             f"the graph has {self.graph.num_nodes} nodes")
        for op in self.ops:
            check_fits(config, self.graph, self.x.shape[1], op)
            if op == "weighted" and self.weights is None:
                raise ValueError(f"Job {self.name!r}: op 'weighted' needs edge weights")
        if self.weights is not None:
            check_weight_codes(np.asarray(self.weights), config)
            if np.asarray(self.weights).shape != (self.graph.nnz,):
                raise ValueError(f"Job {self.name!r}: weights need one entry per edge ({self.graph.nnz}), "
                                 f"not shape {np.asarray(self.weights).shape}")


@dataclass
class GnnJobResult:
    job: GnnJob
    outputs: dict              # op -> Y codes [N, F]
    counters: dict             # op -> {counter: value}
    run_seconds: dict          # op -> wall seconds of start..done (host view, includes simulation)
    load_seconds: float
    load_cycles: int
    extra: dict = field(default_factory=dict)


def simulate(model, jobs, run_dir, extra_env=None):
    """Run ``jobs`` on the built ``model`` in one simulation; returns their results in order.

    ``extra_env`` reaches the testbench (for example ``PIMGEN_BUS_GAPS``, see :func:`tb.harness.bus_gaps`).
    """
    files = []
    for job in jobs:
        job.validate(model.config)
        arrays = {"indptr": job.graph.indptr, "indices": job.graph.indices,
                  "x": np.asarray(job.x, dtype=np.int64), "ops": np.array(list(job.ops))}
        if job.weights is not None:
            arrays["weights"] = np.asarray(job.weights, dtype=np.int64)
        files.append(arrays)
    t0 = time.perf_counter()
    outputs = run_jobs(model, TEST_MODULE, run_dir, files, extra_env=extra_env)
    sim_seconds = time.perf_counter() - t0
    return [GnnJobResult(
        job=job,
        outputs={op: out[f"y_{op}"] for op in job.ops},
        counters={op: meta["ops"][op]["counters"] for op in job.ops},
        run_seconds={op: meta["ops"][op]["run_seconds"] for op in job.ops},
        load_seconds=meta["load_seconds"],
        load_cycles=meta["load_cycles"],
        extra={"simulation_seconds": sim_seconds},
    ) for job, (out, meta) in zip(jobs, outputs)]
