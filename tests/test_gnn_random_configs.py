"""Seeded random configurations of the GNN engine against the golden model: the parameter space between the
hand-picked configurations of test_gnn_sim.py (lane counts that are not powers of two, odd accumulator and weight
widths, fraction bits, small reciprocals, memory limits that are not powers of two)."""

import numpy as np
import pytest

from pimgen.gnn.config import GNN_OPS, GnnConfig
from sw_model.gnn import format_range, weight_range
from sw_model.graphs import power_law_graph
from tb.host.gnn import GnnJob
from tb.jobs import simulate
from tb.runner import build

from test_gnn_sim import check_results


def random_config(seed):
    rng = np.random.default_rng(seed)
    fmt = str(rng.choice(["int8", "int16"]))
    data_bits = 16 if fmt == "int16" else 8
    lanes = int(rng.integers(1, 17))
    weight_bits = int(rng.integers(2, 19))
    return GnnConfig(
        lanes=lanes, format=fmt,
        frac_bits=int(rng.integers(0, data_bits)),
        acc_width=int(rng.integers(data_bits, 45)),
        saturate=bool(rng.integers(0, 2)),
        weight_bits=weight_bits,
        weight_frac_bits=int(rng.integers(0, weight_bits)),
        recip_bits=int(rng.integers(8, 21)),
        max_nodes=int(rng.integers(70, 300)),
        max_edges=int(rng.integers(700, 2000)),
        max_features=lanes + int(rng.integers(0, 20)),
        max_degree=int(rng.integers(40, 200)),
    )


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_random_config_matches_golden(seed, build_root, tmp_path):
    cfg = random_config(seed)
    rng = np.random.default_rng(seed)
    lo, hi = format_range(cfg)
    wlo, whi = weight_range(cfg)
    jobs = []
    for k in range(2):
        g = power_law_graph(int(rng.integers(20, 64)), 4.0, seed=seed * 10 + k, max_degree=min(cfg.max_degree, 40))
        f = int(rng.integers(1, cfg.max_features + 1))
        scale = int(rng.choice([1, 8, 256]))            # full-range codes, or small ones that rarely saturate
        x = rng.integers(lo // scale, hi // scale + 1, size=(g.num_nodes, f))
        w = rng.integers(wlo, whi + 1, size=g.nnz)
        jobs.append(GnnJob(g, x, ops=GNN_OPS, weights=w, name=f"seed{seed}-{k}"))
    model = build(cfg, root=build_root, log=None)
    check_results(cfg, simulate(model, jobs, tmp_path))
