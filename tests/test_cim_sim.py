"""The CiM tile in Verilator against the golden model (sw_model.cim.tile_vmm), bit for bit.

One Verilator build per configuration; every job of a configuration runs in one simulation, loaded and started through
the register bus. Exact-mode configs are also compared with the integer matmul itself, and every run's CNT_CYCLES
with the cycle formula of docs/cim.md (``CimConfig.cycles``), which is exact.
"""

import math

import numpy as np
import pytest

from pimgen.cim.config import CimConfig
from sw_model.cim import tile_vmm, variation_tables
from tb.host.cim import CimJob
from tb.jobs import simulate
from tb.runner import build, run_test

#: Exact mode across the encodings, cell widths and DAC widths (rows and columns not powers of two included); the ADC
#: is the narrowest for which ``is_exact`` holds, so exactness rests on the bound, not on headroom.
EXACT_CONFIGS = [
    CimConfig(rows=16, cols=8, adcs=2, slice_bits=1, dac_bits=1, adc_bits=6, max_vectors=16),
    CimConfig(rows=13, cols=6, adcs=3, weight_encoding="offset", input_encoding="twos_complement", slice_bits=3,
              dac_bits=3, adc_bits=11, max_vectors=16),
    CimConfig(rows=24, cols=5, adcs=1, weight_bits=6, slice_bits=4, input_bits=5, dac_bits=2, adc_bits=12,
              output_bits=16, max_vectors=16),
    CimConfig(rows=8, cols=4, adcs=4, weight_encoding="offset", weight_bits=3, slice_bits=2, input_bits=8,
              dac_bits=4, input_encoding="twos_complement", adc_bits=10, max_vectors=16),
]

#: Every non-ideality at once: per-column gain and offset tables, noise, a coarse ADC step with clipping, batches
#: longer than a run (the noise counter restarts per run), and an output width that saturates.
NONIDEAL = CimConfig(rows=16, cols=8, adcs=2, slice_bits=2, dac_bits=2, adc_bits=5, adc_step_log2=1,
                     noise_sigma=2.5, noise_seed=12345, gain_offset=True, gain_frac_bits=10, output_bits=12,
                     max_vectors=8)


def _ids(cfg):
    return (f"R{cfg.rows}C{cfg.cols}a{cfg.adcs}-b{cfg.slice_bits}d{cfg.dac_bits}-{cfg.weight_encoding[:4]}-"
            f"{cfg.input_encoding[:4]}-A{cfg.adc_bits}")


def jobs_for(cfg, seed=0):
    """Random codes over the full ranges, the extremes (every weight and input at its largest magnitude, both signs:
    the largest partial sums), zeros, and a batch of three runs."""
    rng = np.random.default_rng(seed)
    wlo, whi = cfg.weight_range
    xlo, xhi = cfg.input_range
    w = rng.integers(wlo, whi + 1, (cfg.rows, cfg.cols))
    jobs = [CimJob(w, rng.integers(xlo, xhi + 1, (2 * cfg.max_vectors + 3, cfg.rows)), name="random")]
    w_ext = np.where(rng.random((cfg.rows, cfg.cols)) < 0.5, wlo, whi)
    w_ext[:, 0] = whi
    x_ext = np.array([[xhi] * cfg.rows, [xlo] * cfg.rows, [0] * cfg.rows,
                      np.where(np.arange(cfg.rows) % 2, xlo, xhi)])
    jobs.append(CimJob(w_ext, x_ext, name="extremes"))
    jobs.append(CimJob(np.zeros_like(w), x_ext, name="zero-weights"))
    return jobs


def formula_cycles(cfg, vectors):
    """docs/cim.md, timing: ``V * S * K * cols / adcs + ceil(ceil(log2 R) / 2) + 5``, written out from the parameters
    (not through ``CimConfig.cycles``)."""
    bits_in = cfg.input_bits - (cfg.input_encoding == "sign_magnitude")
    bits_w = cfg.weight_bits - (cfg.weight_encoding == "differential")
    steps, slices = -(-bits_in // cfg.dac_bits), -(-bits_w // cfg.slice_bits)
    tree_stages = max(1, -(-math.ceil(math.log2(cfg.rows)) // 2))
    return vectors * steps * slices * (cfg.cols // cfg.adcs) + tree_stages + 5


def check(cfg, jobs, results, tables=None):
    """Every job's outputs and clip count against the golden, and every run's counters against the formulas; the
    tables are ``tables`` or, without them, each job's own."""
    for job, res in zip(jobs, results):
        gain, offset = tables if tables is not None else (job.gain, job.offset)
        golden = tile_vmm(cfg, job.weights, job.x, gain, offset)
        y = np.concatenate([res.runs[run].outputs["y"] for run in job.runs])
        assert np.array_equal(y, golden.y), f"{job.name}: first mismatch at {np.argwhere(y != golden.y)[0]}"
        clipped = conversions = 0
        for run in job.runs:
            counters = res.runs[run].counters
            vectors = len(job.x[job.batch(run)])
            assert counters["cycles"] == formula_cycles(cfg, vectors) == cfg.cycles(vectors), \
                f"{job.name}/{run}: cycles {counters['cycles']}"
            assert counters["conversions"] == vectors * cfg.input_steps * cfg.weight_slices * cfg.cols
            clipped += counters["clipped"]
            conversions += counters["conversions"]
        assert conversions == golden.conversions
        assert clipped == golden.clipped, f"{job.name}: clipped {clipped}, golden {golden.clipped}"


@pytest.mark.parametrize("cfg", EXACT_CONFIGS, ids=_ids)
def test_exact_mode_equals_integer_matmul(cfg, build_root, tmp_path):
    assert cfg.is_exact
    model = build(cfg, root=build_root, log=None)
    jobs = jobs_for(cfg)
    results = simulate(model, jobs, tmp_path)
    check(cfg, jobs, results)
    lo, hi = cfg.output_range
    for job, res in zip(jobs, results):
        y = np.concatenate([res.runs[run].outputs["y"] for run in job.runs])
        exact = [[min(max(sum(int(a) * int(b) for a, b in zip(row, col)), lo), hi) for col in job.weights.T]
                 for row in job.x]
        assert y.tolist() == exact, f"{job.name}: the tile differs from the integer matmul"
        assert sum(res.runs[run].counters["clipped"] for run in job.runs) == 0


def test_every_nonideality_matches_golden(build_root, tmp_path):
    cfg = NONIDEAL
    tables = variation_tables(cfg, gain_sigma=0.08, offset_sigma=3.0, seed=4)
    model = build(cfg, root=build_root, log=None)
    jobs = jobs_for(cfg, seed=1)
    for job in jobs:
        job.gain, job.offset = tables
    results = simulate(model, jobs, tmp_path)
    check(cfg, jobs, results, tables)
    # The workload exercises what it claims: clipping, saturation, and noise that changes results.
    random_job = results[0]
    assert sum(r.counters["clipped"] for r in random_job.runs.values()) > 0
    y = np.concatenate([random_job.runs[run].outputs["y"] for run in jobs[0].runs])
    assert (np.abs(y) == 2 ** (cfg.output_bits - 1) - 1).any() or (y == -2 ** (cfg.output_bits - 1)).any()
    import dataclasses
    quiet = dataclasses.replace(cfg, noise_sigma=0.0)
    assert not np.array_equal(y, tile_vmm(quiet, jobs[0].weights, jobs[0].x, *tables).y)


#: A narrow partial sum (8 rows of 1-bit cells and DAC steps: 7 bits) with few gain fraction bits (4): the gained sum,
#: ``(g * P) >> G + o``, is then as wide as the 16-bit offset table makes it, not as the product makes it. A review
#: found it sized from the product (7 + 6 + 2 = 15 bits): an offset of 32767 wrapped (the tile gave 0, the golden
#: 8388607). The coarse 12-bit ADC with the largest step covers the whole range, so any wrap shows in the outputs.
GAIN_EXTREME = CimConfig(rows=8, cols=2, adcs=1, slice_bits=1, dac_bits=1, gain_offset=True, gain_frac_bits=4,
                         adc_bits=12, adc_step_log2=12, max_vectors=4)


def test_extreme_gain_and_offset_tables(build_root, tmp_path):
    """The tables' extremes (offsets -32768 and 32767, gains 0, 1 and the largest) on the narrow config above, against
    the golden, and the review's case against a value worked out by hand."""
    cfg = GAIN_EXTREME
    lo, hi = cfg.offset_range
    top_gain = 2 ** cfg.gain_bits - 1
    tables = [([cfg.gain_one] * 2, [hi, lo]), ([cfg.gain_one] * 2, [lo, hi]), ([top_gain, 0], [hi, lo]),
              ([top_gain, top_gain], [lo, hi]), ([0, top_gain], [hi, hi])]
    # The review's case: every weight and input 127, so each of the S * K = 7 * 7 conversions has P = 8 (8 rows of
    # 1 x 1); gain 1.0 (16 at G = 4); P' = 8 + 32767 = 32775 and 8 - 32768 = -32760, which the ADC (step 4096) rounds
    # to 8 and -8; y = +-8 * 4096 * (2**7 - 1)**2, far beyond the 24-bit output: it saturates.
    review = CimJob(np.full((8, 2), 127), np.full((1, 8), 127), np.array([16, 16]), np.array([32767, -32768]),
                    name="review")
    jobs = [review]
    for n, (gain, offset) in enumerate(tables):
        for job in jobs_for(cfg, seed=10 + n):
            job.gain, job.offset = np.array(gain), np.array(offset)
            job.name = f"{job.name}-tables{n}"
            jobs.append(job)
    model = build(cfg, root=build_root, log=None)
    results = simulate(model, jobs, tmp_path)
    assert results[0].runs["batch0"].outputs["y"].tolist() == [[2 ** 23 - 1, -2 ** 23]]
    check(cfg, jobs, results)


def test_one_bit_adc_single_column(build_root, tmp_path):
    """The smallest tile: one column, a 1-bit ADC (it can only say 0, so every nonzero partial sum clips)."""
    cfg = CimConfig(rows=8, cols=1, adcs=1, adc_bits=1, input_bits=2, weight_bits=2, max_vectors=4)
    model = build(cfg, root=build_root, log=None)
    jobs = jobs_for(cfg, seed=2)
    check(cfg, jobs, simulate(model, jobs, tmp_path))


def test_register_interface_and_errors(build_root, tmp_path):
    """Error code, abort and rerun, the shared frame (cocotb: tb/cim/cocotb_cim.py::test_registers)."""
    model = build(EXACT_CONFIGS[0], root=build_root, log=None)
    run_test(model, "tb.cim.cocotb_cim", tmp_path, testcase="test_registers")
