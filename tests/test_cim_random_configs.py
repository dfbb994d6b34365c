"""Seeded random configurations of the CiM tile in Verilator: exact mode against the integer matmul and the golden,
with the cycle formula, across the space between the hand-picked configs of test_cim_sim.py (rows and columns that
are not powers of two, any cell, DAC, weight and input width, either encoding of each, any divisor of the columns as
the ADC count)."""

import numpy as np
import pytest

from pimgen.cim.config import CimConfig
from tb.jobs import simulate
from tb.runner import build

from test_cim_sim import check, jobs_for


def random_exact_config(seed):
    """A config drawn from ``seed`` whose ADC is the narrowest that keeps it exact."""
    rng = np.random.default_rng(seed)
    input_encoding = str(rng.choice(["sign_magnitude", "twos_complement"]))
    input_bits = int(rng.integers(2, 9))
    slice_bits = int(rng.integers(1, 5))
    dac_bits = int(rng.integers(1, min(input_bits, 4) + 1))
    rows = int(rng.integers(8, 48))
    while rows * ((1 << slice_bits) - 1) * ((1 << dac_bits) - 1) > 2047:
        rows -= 1                                  # the largest partial sum must fit a 12-bit ADC
    cols = int(rng.integers(1, 13))
    divisors = [a for a in range(1, cols + 1) if cols % a == 0]
    worst = rows * ((1 << slice_bits) - 1) * ((1 << dac_bits) - 1)
    return CimConfig(rows=max(rows, 8), cols=cols, adcs=int(rng.choice(divisors)),
                     weight_bits=int(rng.integers(2, 9)), slice_bits=slice_bits,
                     weight_encoding=str(rng.choice(["differential", "offset"])), input_bits=input_bits,
                     dac_bits=dac_bits, input_encoding=input_encoding, adc_bits=worst.bit_length() + 1,
                     output_bits=int(rng.integers(8, 33)), max_vectors=int(rng.integers(3, 12)))


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_random_exact_config(seed, build_root, tmp_path):
    cfg = random_exact_config(seed)
    assert cfg.is_exact, cfg
    model = build(cfg, root=build_root, log=None)
    jobs = jobs_for(cfg, seed=seed)
    results = simulate(model, jobs, tmp_path)
    check(cfg, jobs, results)
    lo, hi = cfg.output_range
    for job, res in zip(jobs, results):
        y = np.concatenate([res.runs[run].outputs["y"] for run in job.runs])
        exact = [[min(max(sum(int(a) * int(b) for a, b in zip(row, col)), lo), hi) for col in job.weights.T]
                 for row in job.x]
        assert y.tolist() == exact, f"{cfg}: {job.name} differs from the integer matmul"
