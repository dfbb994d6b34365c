"""The GNN engine in Verilator against the golden model (sw_model.gnn.aggregate), bit-exact.

One Verilator build per configuration; every workload and op of a configuration runs in one simulation, loaded and
started through the register bus. Cycle counts are deterministic and asserted against the formula of docs/gnn.md.
"""

import numpy as np
import pytest

from pimgen.gnn.config import GNN_OPS, GnnConfig
from pimgen.gnn.partition import partition_rows
from sw_model.datasets import load_dataset, project_features
from sw_model.gnn import aggregate, format_range, gcn_norm_weights, quantize_features, weight_range
from sw_model.graphs import CsrGraph, random_graph
from tb.host.gnn import GnnJob
from tb.jobs import simulate
from tb.runner import build, run_test

#: Cycles of a run beyond one per item: 5 before the first item (CTRL.start is latched, indptr[0] and indptr[1] are
#: read, the first descriptor passes the FIFO) and 7 after the last (6 pipeline stages, then done is raised).
RUN_OVERHEAD = 12
STARTUP_STALL = 5
#: Mixed precision adds two pipeline stages (class table and header, word, decode) to every run (docs/gnn.md).
MIXED_DECODE_STAGES = 2
#: A processing element without rows reads one indptr word and is done: 2 cycles of stall (docs/gnn.md).
EMPTY_PE_STALL = 2

#: Memories for the workloads below (they hold at most 60 nodes and a few hundred edges). Most of a cold build goes
#: into emitting the memories' initial contents, so configs that no other test shares use these instead of the
#: defaults; the lanes 4 and 8 int16 configs keep the defaults, which the CLI tests and Cora use as well.
SMALL = dict(max_nodes=256, max_edges=2048)


def _sweep_config(lanes, fmt):
    shared = fmt == "int16" and lanes in (4, 8)
    return GnnConfig(lanes=lanes, format=fmt, **({} if shared else SMALL))


SWEEP = [_sweep_config(lanes, fmt) for lanes in (1, 4, 8) for fmt in ("int8", "int16")]
EDGE_CONFIGS = [
    # A saturating accumulator as narrow as the data: saturation inside the sum, in CSR order.
    GnnConfig(lanes=4, format="int8", acc_width=8, **SMALL),
    # Wrap-around everywhere.
    GnnConfig(lanes=4, format="int16", saturate=False, acc_width=20, **SMALL),
    # Three lanes (banks not a power of two), integer features, integer weights (no rounding in weighted), the
    # smallest reciprocal (P = 8) with degrees beyond 2**(P+2), where R[d] reaches 2**(P+1).
    GnnConfig(lanes=3, format="int16", frac_bits=0, weight_bits=8, weight_frac_bits=0, recip_bits=8,
              max_degree=1200, max_nodes=256, max_edges=4096, max_features=16),
]


#: Several processing elements: rows split by edge work (the driver's default) or by rows, with more elements than
#: some graphs have rows (elements without rows).
PES_CONFIGS = [
    GnnConfig(lanes=4, pes=3, format="int16", **SMALL),
    GnnConfig(lanes=2, pes=8, format="int8", max_nodes=64, max_edges=512, max_features=16),
]


def _ids(cfg):
    pes = f"-pes{cfg.pes}" if cfg.pes > 1 else ""
    return f"lanes{cfg.lanes}{pes}-{cfg.format}-acc{cfg.acc_width}-{'sat' if cfg.saturate else 'wrap'}"


def expected_busy(graph, features, lanes, rows=None):
    """Items of a run (of the rows ``rows[0]..rows[1] - 1`` only, if given): max(deg, 1) per row and group."""
    groups = -(-features // lanes)
    degrees = np.maximum(graph.in_degree, 1)
    if rows is not None:
        degrees = degrees[rows[0]:rows[1]]
    return int(degrees.sum()) * groups


def workloads(cfg, seed=0):
    """Random graph with empty rows and isolated nodes (F not a multiple of lanes, full-range codes), a saturation
    graph whose rows sum many extreme values of both signs, and a hub row holding every node (the max-degree row)."""
    rng = np.random.default_rng(seed)
    lo, hi = format_range(cfg)
    wlo, whi = weight_range(cfg)
    jobs = []

    g = random_graph(60, 5, seed=seed, empty_rows=5, isolated_nodes=3)
    x = rng.integers(lo, hi + 1, size=(g.num_nodes, 13))
    w = rng.integers(wlo, whi + 1, size=g.nnz)
    if cfg.weight_frac_bits == 0:
        w = rng.integers(-2, 3, size=g.nnz)      # integer weights: keep most results inside the format
    jobs.append(GnnJob(g, x, ops=GNN_OPS, weights=w, name="random"))
    if cfg.pes > 1:
        jobs.append(GnnJob(g, x, ops=("sum", "max"), name="random-split-by-rows", partition="rows"))

    # Rows 0/1: ten +max / ten -min terms; row 2: alternating signs; row 3 empty.
    n = 12
    cols = [list(range(2, 12)), list(range(2, 12)), list(range(0, 12)), []]
    cols += [[(r * 5 + k) % n for k in range(3)] for r in range(4, n)]
    indptr = np.cumsum([0] + [len(c) for c in cols])
    g = CsrGraph(indptr, np.concatenate([np.array(c, dtype=np.int64) for c in cols]))
    x = np.empty((n, 9), dtype=np.int64)
    x[0], x[1] = lo, hi
    x[2:] = np.where(np.arange(n - 2)[:, None] % 2 == 0, hi, lo)
    x[2:, 0] = hi
    x[2:, 1] = lo
    w = np.full(g.nnz, 1 << cfg.weight_frac_bits, dtype=np.int64)      # weight 1.0
    w[::3] = whi
    jobs.append(GnnJob(g, x, ops=GNN_OPS, weights=w, name="saturation"))

    n = 40
    cols = [list(range(n))] + [[(r + 1) % n] for r in range(1, n)]
    indptr = np.cumsum([0] + [len(c) for c in cols])
    g = CsrGraph(indptr, np.concatenate([np.array(c, dtype=np.int64) for c in cols]))
    x = rng.integers(lo, hi + 1, size=(n, cfg.max_features))
    jobs.append(GnnJob(g, x, ops=("sum", "mean", "max"), name="hub"))

    if cfg.max_degree > 1 << (cfg.recip_bits + 2):
        # Rows of degree 1025..max_degree (duplicate columns): the mean's reciprocal at its largest.
        degrees = [cfg.max_degree, (1 << (cfg.recip_bits + 2)) + 1, 3, 0]
        g = CsrGraph(np.cumsum([0] + degrees), rng.integers(0, 4, size=sum(degrees)))
        x = rng.integers(lo, hi + 1, size=(4, 5))
        x[:, 0] = hi
        jobs.append(GnnJob(g, x, ops=("sum", "mean"), name="high-degree"))

    # The smallest graphs: one node with a self loop (the engine once declared done before its only row was
    # visible), and two nodes, in every op.
    for n, indptr, indices in ((1, [0, 1], [0]), (2, [0, 2, 3], [1, 0, 1])):
        g = CsrGraph(indptr, indices)
        x = rng.integers(lo, hi + 1, size=(n, min(cfg.max_features, 5)))
        w = rng.integers(wlo, whi + 1, size=g.nnz)
        jobs.append(GnnJob(g, x, ops=GNN_OPS, weights=w, name=f"{n}-node"))

    # One feature group and rows of degree 0 or 1: the sequencer needs a new row descriptor every cycle.
    n = 50
    degrees = rng.integers(0, 2, size=n)
    g = CsrGraph(np.concatenate([[0], np.cumsum(degrees)]), rng.integers(0, n, size=int(degrees.sum())))
    x = rng.integers(lo, hi + 1, size=(n, min(cfg.lanes, 3)))
    jobs.append(GnnJob(g, x, ops=("sum", "max"), name="short-rows"))
    return jobs


def check_results(cfg, results):
    for res in results:
        job = res.job
        for op in job.ops:
            golden = aggregate(cfg, job.graph, job.x, op, weights=job.weights)
            rtl = res.runs[op].outputs["y"]
            bad = np.argwhere(golden != rtl)
            assert len(bad) == 0, (f"{job.name}/{op}: {len(bad)} mismatches, first at {tuple(bad[0])}: "
                                   f"rtl {rtl[tuple(bad[0])]}, golden {golden[tuple(bad[0])]}")
            counters = res.runs[op].counters
            busy = expected_busy(job.graph, job.x.shape[1], cfg.lanes)
            assert counters["busy"] == busy, f"{job.name}/{op}"
            assert counters["edges"] == job.graph.nnz, f"{job.name}/{op}"
            # Per processing element: its rows as the driver split them; each runs as a one-element engine would.
            starts = partition_rows(job.graph, cfg.pes, by=job.partition).starts
            pe_busy = [expected_busy(job.graph, job.x.shape[1], cfg.lanes, (starts[p], starts[p + 1]))
                       for p in range(cfg.pes)]
            assert counters["pe_busy"] == pe_busy, f"{job.name}/{op}"
            overhead = RUN_OVERHEAD + (MIXED_DECODE_STAGES if cfg.is_mixed else 0)
            assert counters["cycles"] == max(pe_busy) + overhead, f"{job.name}/{op}"
            stalls = [STARTUP_STALL if starts[p + 1] > starts[p] else EMPTY_PE_STALL for p in range(cfg.pes)]
            assert counters["pe_stall"] == stalls, f"{job.name}/{op}"
            assert counters["stall"] == sum(stalls), f"{job.name}/{op}"


@pytest.mark.parametrize("cfg", SWEEP + EDGE_CONFIGS + PES_CONFIGS, ids=_ids)
def test_engine_matches_golden(cfg, build_root, tmp_path):
    model = build(cfg, root=build_root, log=None)
    # All but the lanes = 8 configurations see idle cycles between bus transactions (irregular host timing).
    env = {"PIMGEN_BUS_GAPS": "0,1,0,0,3"} if cfg.lanes != 8 else {}
    check_results(cfg, simulate(model, workloads(cfg), tmp_path, extra_env=env))


@pytest.mark.parametrize("cfg", SWEEP[:2] + EDGE_CONFIGS, ids=_ids)
def test_saturation_workload_reaches_both_ends(cfg):
    """The saturation workload really hits both ends of the format (so the sweep above exercises them)."""
    job = workloads(cfg)[1]
    lo, hi = format_range(cfg)
    y = aggregate(cfg, job.graph, job.x, "sum")
    exact = job.graph.to_scipy() @ job.x
    assert exact[0, 0] > hi and exact[0, 1] < lo
    if cfg.saturate:
        assert (y[0, 0], y[0, 1]) == (hi, lo)


def test_cora(build_root, tmp_path):
    """Cora, F = 16, lanes = 8, int16: bit-exact for all ops, lane utilisation of at least 0.90."""
    cfg = GnnConfig(lanes=8, format="int16")
    ds = load_dataset("cora")
    x = quantize_features(project_features(ds.features, 16, seed=0), cfg)
    plain = GnnJob(ds.graph, x, ops=("sum",), name="cora")
    loops = ds.graph.with_self_loops()
    gcn = GnnJob(loops, x, ops=GNN_OPS, weights=gcn_norm_weights(loops, cfg), name="cora+loops")
    model = build(cfg, root=build_root, log=None)
    results = simulate(model, [plain, gcn], tmp_path)
    check_results(cfg, results)
    cycles = results[0].runs["sum"].counters["cycles"]
    utilisation = ds.graph.nnz * 2 / cycles
    assert cycles == 10556 * 2 + RUN_OVERHEAD
    assert utilisation >= 0.90


def test_register_interface_and_errors(build_root, tmp_path):
    """Identity registers, error codes, soft reset, bus errors (cocotb: tb/gnn/cocotb_gnn.py::test_registers)."""
    cfg = GnnConfig(lanes=4, format="int16")
    model = build(cfg, root=build_root, log=None)
    run_test(model, "tb.gnn.cocotb_gnn", tmp_path, testcase="test_registers")


def test_waves(build_root, tmp_path):
    """A build with tracing writes a VCD with the bus in it."""
    cfg = GnnConfig(lanes=2, format="int8", max_nodes=16, max_edges=64, max_features=4, max_degree=16)
    model = build(cfg, waves=True, root=build_root, log=None)
    g = random_graph(10, 2, seed=3)
    x = np.arange(20).reshape(10, 2) - 10
    [res] = simulate(model, [GnnJob(g, x, ops=("sum",))], tmp_path)
    assert (res.runs["sum"].outputs["y"] == aggregate(cfg, g, x, "sum")).all()
    vcd = tmp_path / "dump.vcd"
    assert vcd.stat().st_size > 0
    assert "bus__ack" in vcd.read_text(errors="replace")[:200_000]


# fp16: IEEE binary16 features and weights (docs/gnn.md, "fp16 format").

FP16_CONFIGS = [
    GnnConfig(lanes=4, format="fp16", max_nodes=2708, max_edges=13264, max_features=16),     # Cora fits
    GnnConfig(lanes=2, pes=2, format="fp16", fp32_acc=True, max_nodes=128, max_edges=1024, max_features=8),
]


def _bits(values):
    return np.asarray(values, dtype=np.float16).view(np.uint16).astype(np.int64)


def fp16_workloads(cfg, seed=0):
    """Real-valued features (normal, a few orders of magnitude), and one small job per IEEE special case, each a
    row whose sequential binary16 result the case is about (checked against the golden, which tests/test_fp16.py
    checks against NumPy scalars)."""
    rng = np.random.default_rng(seed)
    jobs = []
    g = random_graph(60, 5, seed=seed, empty_rows=5, isolated_nodes=3)
    x = _bits(rng.standard_normal((g.num_nodes, 7)) * rng.choice([1e-3, 1.0, 300.0], size=(g.num_nodes, 1)))
    w = _bits(rng.uniform(-1, 1, size=g.nnz))
    jobs.append(GnnJob(g, x, ops=GNN_OPS, weights=w, name="random-normal"))
    inf, nan, tiny = np.inf, np.nan, np.float16(2.0 ** -24)
    cases = {
        "ties-to-even": [2048, 1, 1, 1, 1],              # each 2048 + 1 rounds back to 2048
        "overflow-to-inf": [60000, 10000],
        "inf-minus-inf": [inf, -inf],
        "nan-propagates": [1.0, nan, 2.0],
        "signed-zeros": [-0.0, -0.0],
        "zero-sum": [1.5, -1.5],
        "subnormal-sum": [tiny, tiny, tiny],
        "max-tie-keeps-first": [-0.0, 0.0],
    }
    for name, row in cases.items():
        n = len(row)
        graph = CsrGraph([0, n] + [n] * (n - 1), list(range(n)))          # row 0 aggregates every node
        values = np.array(row, dtype=np.float64)[:, None] * np.array([[1.0, -1.0]])
        weights = _bits(np.ones(n))
        jobs.append(GnnJob(graph, _bits(values), ops=GNN_OPS, weights=weights, name=name))
    return jobs


@pytest.mark.parametrize("cfg", FP16_CONFIGS, ids=lambda c: f"lanes{c.lanes}-pes{c.pes}-fp16"
                                                              + ("-fp32acc" if c.fp32_acc else ""))
def test_fp16_matches_golden(cfg, build_root, tmp_path):
    model = build(cfg, root=build_root, log=None)
    jobs = fp16_workloads(cfg)
    if cfg.max_nodes >= 2708:
        # Cora with self loops, features projected to 16 and rounded to binary16, GCN weights in binary16.
        ds = load_dataset("cora")
        loops = ds.graph.with_self_loops()
        x = quantize_features(project_features(ds.features, 16, seed=0), cfg)
        jobs.append(GnnJob(loops, x, ops=GNN_OPS, weights=gcn_norm_weights(loops, cfg), name="cora+loops"))
    check_results(cfg, simulate(model, jobs, tmp_path))


def test_fp16_special_cases_are_what_ieee_says():
    """The golden on the special-case rows gives the IEEE results (so the test above checks those, not just
    agreement): written out here by hand."""
    cfg = FP16_CONFIGS[0]
    expect = {"ties-to-even": 2048.0, "overflow-to-inf": np.inf, "inf-minus-inf": np.nan, "nan-propagates": np.nan,
              "signed-zeros": -0.0, "zero-sum": 0.0, "subnormal-sum": 3 * 2.0 ** -24, "max-tie-keeps-first": 0.0}
    for job in fp16_workloads(cfg)[1:]:
        y = aggregate(cfg, job.graph, job.x, "sum").astype(np.uint16).view(np.float16).astype(np.float64)[0, 0]
        want = expect[job.name]
        if np.isnan(want):
            assert np.isnan(y), job.name
        else:
            assert y == want and np.signbit(y) == np.signbit(want), (job.name, y)
    nan_bits = aggregate(cfg, fp16_workloads(cfg)[4].graph, fp16_workloads(cfg)[4].x, "max")[0, 0]
    assert nan_bits == 0x7E00                                            # the canonical quiet NaN


# Mixed precision: features packed by pimgen.gnn.mixed, decoded by the engine on the fly.

MIXED_CONFIGS = [
    GnnConfig(lanes=4, pes=2, format="mixed", **SMALL),
    GnnConfig(lanes=8, format="mixed", max_nodes=2708, max_edges=13264, max_features=16),       # Cora fits
]
#: Every width 1..8 by degree (a plan that uses every class, including the padded widths 3, 5, 6, 7).
ALL_WIDTHS = dict(thresholds=(2, 3, 4, 5, 6, 8, 10), widths=(8, 7, 6, 5, 4, 3, 2, 1))


def mixed_job(cfg, graph, x_float, ops, name, **plan_options):
    """A job of packed features: the graph renumbered in the plan's order, the codes the engine decodes to."""
    from pimgen.gnn.mixed import decode_mixed, permute_graph, plan_mixed, quantize_mixed
    from tb.host.gnn import PackedFeatures
    plan = plan_mixed(graph, lanes=cfg.lanes, num_features=x_float.shape[1], **plan_options)
    mixed = quantize_mixed(x_float, plan, cfg.frac_bits)
    engine_graph = permute_graph(graph, plan)
    return GnnJob(engine_graph, decode_mixed(mixed), ops=ops, weights=engine_graph.weights, name=name,
                  packed=PackedFeatures.from_mixed(mixed))


@pytest.mark.parametrize("cfg", MIXED_CONFIGS, ids=lambda c: f"lanes{c.lanes}-pes{c.pes}-mixed")
def test_mixed_precision_matches_golden(cfg, build_root, tmp_path):
    rng = np.random.default_rng(7)
    g = random_graph(60, 5, seed=7, empty_rows=3)
    g = CsrGraph(g.indptr, g.indices, weights=rng.integers(-3000, 3000, size=g.nnz))
    jobs = [mixed_job(cfg, g, rng.standard_normal((60, 7)) * 4, GNN_OPS, "all-widths", **ALL_WIDTHS),
            mixed_job(cfg, g, rng.standard_normal((60, 13)), ("sum", "max"), "default-widths")]
    if cfg.max_nodes >= 2708:
        ds = load_dataset("cora")
        loops = ds.graph.with_self_loops()
        loops = CsrGraph(loops.indptr, loops.indices, weights=gcn_norm_weights(loops, cfg))
        jobs.append(mixed_job(cfg, loops, project_features(ds.features, 16, seed=0), ("weighted", "sum"), "cora"))
    check_results(cfg, simulate(model := build(cfg, root=build_root, log=None), jobs, tmp_path))
    assert model.top == cfg.top_name
