"""The CiM golden model (sw_model/cim.py) against independent references (docs/cim.md).

No check compares the golden with itself. The references are:

* exact mode: a Python-integer ``x @ W`` (lists of Python ints), clipped to the output range; equality bit for bit
  over ~50 deterministic random configs (rows, columns, slices, DAC steps, both encodings each), with extreme codes;
* input steps and weight slices: recombined with Python ints and checked against the ranges of docs/cim.md,
  exhaustively over every code of every (width, step width, encoding);
* a coarse ADC: float64 ``x @ W``, within :func:`error_bound` (which must equal the closed form of docs/cim.md), the
  bound being attained with equality by a constructed case, and exceeded once a conversion clips;
* ``round_half_even_shift``: Python's ``round(Fraction(a, 2**s))`` (half to even), exactly;
* ``mix32``: a pure-Python lowbias32 written from docs/cim.md, exactly, and its inverse (the hash is a bijection);
* noise: a pure-Python generator from docs/cim.md (exact); over 10**5 distinct counters the mean within 0.05 sigma,
  the standard deviation within 5 % of sqrt(sigma**2 + 1/12), every sample within 3.47 sigma + 1, and at sigma = 30
  a Kolmogorov-Smirnov distance to N(0, 1) below :data:`KS_BOUND` (justified there);
* gain/offset tables, conversion and clip counts, and whole tiles: closed forms derived in the docstrings, and a slow
  plain-Python tile that applies the formulas of docs/cim.md literally (noise, gain, offset, clipping and all);
* bad input: the InputError / ConfigError raised, the parameter named and the limit in the message;
* batches longer than ``max_vectors``: the concatenation of one tile run per chunk.
"""

import dataclasses
import math
import re
import zlib
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from pimgen.cim.config import (INPUT_ENCODINGS, NOISE_FRAC_BITS, NOISE_SIGMA_MIN, NOISE_VARIANCE, WEIGHT_ENCODINGS,
                               CimConfig)
from pimgen.cim.inputs import check_inputs, check_weights
from pimgen.config import ConfigError, ConfigTypeError
from pimgen.errors import InputError, InputTypeError
from sw_model.cim import (error_bound, input_steps, mix32, noise, round_half_even_shift, tile_vmm, variation_tables,
                          weight_slices)

MASK32 = 0xFFFF_FFFF
ROWS = (8, 13, 64)
COLS = (1, 5, 16)
ADC_MAX_BITS = 12


# Plain-Python references, written from docs/cim.md (no NumPy, no code from sw_model).

def ceil_div(a, b):
    return -(-a // b)


def doc_steps(config):
    """S of docs/cim.md: ceil((Ib - 1) / d) in sign-magnitude, ceil(Ib / d) in two's complement."""
    bits = config.input_bits - (config.input_encoding == "sign_magnitude")
    return ceil_div(bits, config.dac_bits)


def doc_slices(config):
    """K of docs/cim.md: ceil((Wb - 1) / b) with differential pairs, ceil(Wb / b) with an offset."""
    bits = config.weight_bits - (config.weight_encoding == "differential")
    return ceil_div(bits, config.slice_bits)


def place_sum(config):
    """sum_i sum_j 2**(i*d + j*b): the shift-add weight of one unit in every conversion."""
    return sum(2 ** (i * config.dac_bits + j * config.slice_bits)
               for i in range(doc_steps(config)) for j in range(doc_slices(config)))


def ref_round(num, den):
    """round_half_even(num / den) on Python ints: Fraction.__round__ rounds half to even."""
    return round(Fraction(num, den))


def ref_mix32(x):
    """lowbias32, docs/cim.md: x ^= x >> 16; x *= 0x7FEB352D; x ^= x >> 15; x *= 0x846CA68B; x ^= x >> 16."""
    x &= MASK32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    x ^= x >> 16
    return x


def ref_unmix32(y):
    """The inverse of lowbias32 (xorshifts undone, odd multipliers inverted mod 2**32)."""
    y ^= y >> 16
    y = (y * pow(0x846CA68B, -1, 1 << 32)) & MASK32
    y ^= (y >> 15) ^ (y >> 30)
    y = (y * pow(0x7FEB352D, -1, 1 << 32)) & MASK32
    y ^= y >> 16
    return y


def ref_noise(config, v, i, j, c):
    """The integer noise n of conversion (v, i, j, c), docs/cim.md, on Python ints."""
    key = ref_mix32(config.noise_seed)
    counter = (v << 14) | (i << 11) | (j << 8) | c
    h = ref_mix32(ref_mix32(counter) ^ key)
    s = sum((h >> (8 * k)) & 0xFF for k in range(4)) - 510
    scale = round(config.noise_sigma * 2 ** 16 / math.sqrt(21845))
    return ref_round(s * scale, 2 ** 16)


def ref_input_digits(config, x):
    """The DAC steps of one input code x (Python int) by repeated division, docs/cim.md."""
    base, steps = 2 ** config.dac_bits, doc_steps(config)
    if config.input_encoding == "sign_magnitude":
        sign, m, out = (-1 if x < 0 else 1), abs(x), []
        for _ in range(steps):
            m, digit = divmod(m, base)
            out.append(sign * digit)
        return out
    out = []
    for _ in range(steps - 1):
        x, digit = divmod(x, base)       # floor division: digit in 0..base-1, the rest keeps the sign
        out.append(digit)
    return out + [x]


def ref_weight_digits(config, w):
    """The cell values of one weight code w (Python int), docs/cim.md."""
    base, slices = 2 ** config.slice_bits, doc_slices(config)
    if config.weight_encoding == "differential":
        sign, m = (-1 if w < 0 else 1), abs(w)
    else:
        sign, m = 1, w + 2 ** (config.weight_bits - 1)
    out = []
    for _ in range(slices):
        m, digit = divmod(m, base)
        out.append(sign * digit)
    return out


def ref_matmul(x, w, config):
    """clip(x @ W) on Python ints (the exact mode of docs/cim.md)."""
    lo, hi = -2 ** (config.output_bits - 1), 2 ** (config.output_bits - 1) - 1
    xs, ws = np.asarray(x).tolist(), np.asarray(w).tolist()
    cols = len(ws[0])
    return [[min(hi, max(lo, sum(a * ws[r][c] for r, a in enumerate(row)))) for c in range(cols)] for row in xs]


def ref_tile(config, w, x, gain=None, offset=None):
    """The whole tile of docs/cim.md, literally, on Python ints: returns (y as lists, conversions, clipped)."""
    cfg = config
    xs, ws = np.asarray(x).tolist(), np.asarray(w).tolist()
    rows, cols = len(ws), len(ws[0])
    gains = [2 ** cfg.gain_frac_bits] * cols if gain is None else [int(g) for g in gain]
    offsets = [0] * cols if offset is None else [int(o) for o in offset]
    steps, slices = doc_steps(cfg), doc_slices(cfg)
    delta, limit = 2 ** cfg.adc_step_log2, 2 ** (cfg.adc_bits - 1) - 1
    wd = [[ref_weight_digits(cfg, ws[r][c]) for c in range(cols)] for r in range(rows)]
    lo, hi = -2 ** (cfg.output_bits - 1), 2 ** (cfg.output_bits - 1) - 1
    y, conversions, clipped = [], 0, 0
    for vec, xv in enumerate(xs):
        v = vec % cfg.max_vectors                       # the vector's index in its run
        u = [ref_input_digits(cfg, a) for a in xv]
        line = []
        for c in range(cols):
            acc = 0
            for i in range(steps):
                for j in range(slices):
                    p = sum(u[r][i] * wd[r][c][j] for r in range(rows))
                    p = ref_round(gains[c] * p, 2 ** cfg.gain_frac_bits) + offsets[c]
                    if cfg.noise_sigma > 0:
                        p += ref_noise(cfg, v, i, j, c)
                    q = ref_round(p, delta)
                    conversions += 1
                    if abs(q) > limit:
                        clipped += 1
                        q = max(-limit, min(limit, q))
                    acc += q * delta * 2 ** (i * cfg.dac_bits + j * cfg.slice_bits)
            if cfg.weight_encoding == "offset":
                acc -= 2 ** (cfg.weight_bits - 1) * sum(xv)
            line.append(min(hi, max(lo, acc)))
        y.append(line)
    return y, conversions, clipped


# Helpers.

def random_codes(rng, lo, hi, shape):
    return rng.integers(lo, hi + 1, size=shape, dtype=np.int64)


def extreme_inputs(config, rng, random_vectors=5):
    """Random input vectors plus all-max, all-min, all-zero and alternating max/min ones."""
    lo, hi = config.input_range
    r = config.rows
    alt = np.where(np.arange(r) % 2 == 0, hi, lo)
    special = np.stack([np.full(r, hi), np.full(r, lo), np.zeros(r, dtype=np.int64), alt])
    return np.concatenate([random_codes(rng, lo, hi, (random_vectors, r)), special])


def extreme_weights(config, rng):
    """Random weights, all max, all min, and a checkerboard of max and min."""
    lo, hi = config.weight_range
    shape = (config.rows, config.cols)
    checker = np.where(np.add.outer(np.arange(shape[0]), np.arange(shape[1])) % 2 == 0, hi, lo)
    return {"random": random_codes(rng, lo, hi, shape), "max": np.full(shape, hi), "min": np.full(shape, lo),
            "checker": checker}


def assert_ints_equal(got, want, what):
    """Element-wise equality of an array with nested lists of Python ints, naming the first mismatch."""
    got = np.asarray(got).tolist()
    assert np.shape(got) == np.shape(want), f"{what}: shape {np.shape(got)}, expected {np.shape(want)}"
    for v, (g_row, w_row) in enumerate(zip(got, want)):
        for c, (g, w) in enumerate(zip(g_row, w_row)):
            assert g == w, f"{what}: y[{v}, {c}] = {g}, expected {w}"


def divisors(n):
    return [k for k in range(1, n + 1) if n % k == 0]


# 1. Exact mode: the tile equals the integer matmul.

def exact_params(count=48, seed=20240611):
    """Deterministic random exact-mode configs. R is lowered (64 -> 13 -> 8), then d, until the largest partial sum
    R (2**b - 1) (2**d - 1) fits a 12-bit ADC; A is the smallest ADC that holds it in every other config (the edge)
    and a random wider one in the rest."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        ib, wb = int(rng.integers(2, 9)), int(rng.integers(2, 9))
        b, d = int(rng.integers(1, 5)), int(rng.integers(1, ib + 1))
        rows, cols = int(rng.choice(ROWS)), COLS[k % 3]
        adcs = int(rng.choice(divisors(cols)))
        while rows * (2 ** b - 1) * (2 ** d - 1) > 2 ** (ADC_MAX_BITS - 1) - 1:
            if rows > ROWS[0]:
                rows = ROWS[ROWS.index(rows) - 1]
            else:
                d -= 1
        need = rows * (2 ** b - 1) * (2 ** d - 1)
        a_min = need.bit_length() + 1                   # smallest A with 2**(A-1) - 1 >= need
        adc = a_min if k % 2 == 0 else int(rng.integers(a_min, ADC_MAX_BITS + 1))
        out.append(dict(rows=rows, cols=cols, adcs=adcs, weight_bits=wb, slice_bits=b,
                        weight_encoding=WEIGHT_ENCODINGS[k % 2], input_bits=ib, dac_bits=d,
                        input_encoding=INPUT_ENCODINGS[(k // 2) % 2], adc_bits=adc,
                        output_bits=int(rng.integers(8, 33)), max_vectors=16))
    return out


def config_id(p):
    enc = {"differential": "diff", "offset": "off", "sign_magnitude": "sm", "twos_complement": "tc"}
    return (f"R{p['rows']}C{p['cols']}a{p['adcs']}-W{p['weight_bits']}b{p['slice_bits']}{enc[p['weight_encoding']]}"
            f"-I{p['input_bits']}d{p['dac_bits']}{enc[p['input_encoding']]}-A{p['adc_bits']}-O{p['output_bits']}")


EXACT_PARAMS = exact_params()


@pytest.mark.parametrize("params", EXACT_PARAMS, ids=[config_id(p) for p in EXACT_PARAMS])
def test_exact_mode_equals_integer_matmul(params):
    config = CimConfig(**params)
    need = config.rows * (2 ** config.slice_bits - 1) * (2 ** config.dac_bits - 1)
    assert 2 ** (config.adc_bits - 1) - 1 >= need, "the sweep must only make exact-mode configs"
    assert config.is_exact, f"{config_id(params)}: is_exact is False with a {config.adc_bits}-bit ADC for |P| <= {need}"
    rng = np.random.default_rng(zlib.crc32(config_id(params).encode()))
    x = extreme_inputs(config, rng)
    for name, w in extreme_weights(config, rng).items():
        result = tile_vmm(config, w, x)
        assert_ints_equal(result.y, ref_matmul(x, w, config), f"{config_id(params)}, {name} weights")
        assert result.clipped == 0, f"{config_id(params)}, {name} weights: {result.clipped} conversions clipped"
        assert result.conversions == x.shape[0] * doc_steps(config) * doc_slices(config) * config.cols


def test_exact_mode_one_bit_twos_complement_inputs():
    """Ib = 1 (two's complement only): inputs -1 and 0, one step."""
    config = CimConfig(rows=8, cols=4, adcs=2, input_bits=1, dac_bits=1, input_encoding="twos_complement",
                       slice_bits=4, weight_bits=8, adc_bits=8)
    assert config.is_exact
    rng = np.random.default_rng(1)
    x = random_codes(rng, -1, 0, (6, 8))
    for name, w in extreme_weights(config, rng).items():
        assert_ints_equal(tile_vmm(config, w, x).y, ref_matmul(x, w, config), f"Ib=1, {name} weights")


def test_exact_mode_not_claimed_one_level_short():
    """is_exact needs 2**(A-1) - 1 >= R (2**b - 1) (2**d - 1); one bit less, a full-scale input clips."""
    config = CimConfig(rows=8, cols=1, adcs=1, slice_bits=1, dac_bits=1, weight_bits=2, input_bits=2, adc_bits=4)
    assert not config.is_exact, "2**3 - 1 = 7 < 8 = R: not exact"
    wider = dataclasses.replace(config, adc_bits=5)
    assert wider.is_exact
    x, w = np.ones((1, 8), dtype=np.int64), np.ones((8, 1), dtype=np.int64)
    assert tile_vmm(config, w, x).clipped == 1, "P = 8 > 7 must clip"
    assert tile_vmm(wider, w, x).y.tolist() == [[8]]


# 2. Input steps and weight slices.

INPUT_CASES = [(enc, ib, d) for enc in INPUT_ENCODINGS for ib in range(1 if enc == "twos_complement" else 2, 9)
               for d in range(1, ib + 1)]
WEIGHT_CASES = [(enc, wb, b) for enc in WEIGHT_ENCODINGS for wb in range(2, 9) for b in range(1, 5)]


@pytest.mark.parametrize("enc,ib,d", INPUT_CASES, ids=[f"{e}-I{i}-d{d}" for e, i, d in INPUT_CASES])
def test_input_steps_recombine_within_range(enc, ib, d):
    config = CimConfig(rows=8, cols=1, adcs=1, input_bits=ib, dac_bits=d, input_encoding=enc)
    lo, hi = config.input_range
    want_lo = -(2 ** (ib - 1)) + (enc == "sign_magnitude")
    assert (lo, hi) == (want_lo, 2 ** (ib - 1) - 1), f"input_range {lo, hi}"
    codes = np.arange(lo, hi + 1)
    u = input_steps(config, codes)
    steps = doc_steps(config)
    assert u.shape == (steps, codes.size), f"steps array {u.shape}, expected S = {steps} x {codes.size}"
    assert config.input_steps == steps
    top_bits = (ib - (enc == "sign_magnitude")) - (steps - 1) * d    # width of the top step
    for k, x in enumerate(codes.tolist()):
        digits = [int(t) for t in u[:, k]]
        assert sum(t * 2 ** (i * d) for i, t in enumerate(digits)) == x, f"x = {x}: steps {digits} do not recombine"
        assert all(abs(t) <= 2 ** d - 1 for t in digits), f"x = {x}: a step of {digits} exceeds 2**{d} - 1"
        if enc == "sign_magnitude":
            assert all(t * x >= 0 for t in digits), f"x = {x}: steps {digits} do not all carry the sign of x"
            assert abs(digits[-1]) <= 2 ** top_bits - 1, f"x = {x}: top step {digits[-1]} wider than {top_bits} bits"
        else:
            assert all(0 <= t <= 2 ** d - 1 for t in digits[:-1]), f"x = {x}: lower digits {digits} not unsigned"
            assert -(2 ** (top_bits - 1)) <= digits[-1] <= 2 ** (top_bits - 1) - 1, \
                f"x = {x}: top digit {digits[-1]} not a signed {top_bits}-bit value"
            assert digits[-1] >= -(2 ** (d - 1))
        assert digits == ref_input_digits(config, x), f"x = {x}: steps {digits}"


@pytest.mark.parametrize("enc,wb,b", WEIGHT_CASES, ids=[f"{e}-W{w}-b{b}" for e, w, b in WEIGHT_CASES])
def test_weight_slices_recombine_within_range(enc, wb, b):
    config = CimConfig(rows=8, cols=1, adcs=1, weight_bits=wb, slice_bits=b, weight_encoding=enc)
    lo, hi = config.weight_range
    assert (lo, hi) == (-(2 ** (wb - 1)) + (enc == "differential"), 2 ** (wb - 1) - 1), f"weight_range {lo, hi}"
    codes = np.arange(lo, hi + 1)
    s = weight_slices(config, codes)
    slices = doc_slices(config)
    assert s.shape == (slices, codes.size), f"slices array {s.shape}, expected K = {slices} x {codes.size}"
    assert config.weight_slices == slices
    shift = 2 ** (wb - 1) if enc == "offset" else 0
    top_bits = (wb - (enc == "differential")) - (slices - 1) * b
    for k, w in enumerate(codes.tolist()):
        cells = [int(t) for t in s[:, k]]
        assert sum(t * 2 ** (j * b) for j, t in enumerate(cells)) - shift == w, f"w = {w}: cells {cells}"
        assert all(abs(t) <= 2 ** b - 1 for t in cells), f"w = {w}: a cell of {cells} exceeds 2**{b} - 1"
        assert abs(cells[-1]) <= 2 ** top_bits - 1, f"w = {w}: top cell {cells[-1]} wider than {top_bits} bits"
        if enc == "offset":
            assert all(t >= 0 for t in cells), f"w = {w}: offset cells {cells} must be unsigned"
        else:
            assert all(t * w >= 0 for t in cells), f"w = {w}: cells {cells} do not all carry the sign of w"
        assert cells == ref_weight_digits(config, w), f"w = {w}: cells {cells}"


# 3. A coarse ADC against float64.

FLOAT_CASES = [
    # adc_step_log2, weight_encoding, input_encoding, Wb, b, Ib, d, R
    (1, "differential", "sign_magnitude", 8, 2, 8, 1, 64),
    (2, "offset", "twos_complement", 8, 3, 8, 2, 64),
    (3, "differential", "twos_complement", 6, 4, 7, 3, 13),
    (4, "offset", "sign_magnitude", 5, 1, 8, 4, 64),
    (2, "differential", "sign_magnitude", 8, 4, 8, 4, 8),
    (1, "offset", "twos_complement", 3, 2, 4, 4, 13),
]


def float_config(k, wenc, ienc, wb, b, ib, d, rows, adc_bits=ADC_MAX_BITS):
    return CimConfig(rows=rows, cols=16, adcs=4, weight_bits=wb, slice_bits=b, weight_encoding=wenc, input_bits=ib,
                     dac_bits=d, input_encoding=ienc, adc_bits=adc_bits, adc_step_log2=k, output_bits=32)


def test_error_bound_closed_form():
    """error_bound == (Δ/2) (2**(S d) - 1) / (2**d - 1) (2**(K b) - 1) / (2**b - 1), and 0 for Δ = 1."""
    for case in FLOAT_CASES:
        config = float_config(*case)
        s, k, d, b = doc_steps(config), doc_slices(config), config.dac_bits, config.slice_bits
        closed = Fraction(2 ** config.adc_step_log2, 2) * Fraction((2 ** (s * d) - 1) * (2 ** (k * b) - 1),
                                                                    (2 ** d - 1) * (2 ** b - 1))
        assert error_bound(config) == closed, f"{case}: error_bound {error_bound(config)} != {closed}"
        assert error_bound(dataclasses.replace(config, adc_step_log2=0)) == 0


@pytest.mark.parametrize("case", FLOAT_CASES, ids=[f"k{c[0]}-{c[1][:4]}-{c[2][:4]}" for c in FLOAT_CASES])
def test_coarse_adc_within_error_bound_of_float(case):
    config = float_config(*case)
    assert config.adc_limit * config.adc_step >= config.rows * (2 ** config.slice_bits - 1) * (2 ** config.dac_bits - 1)
    rng = np.random.default_rng(case[0] * 1000 + case[3])
    x = extreme_inputs(config, rng, random_vectors=24)
    bound = error_bound(config)
    worst = 0.0
    for name, w in extreme_weights(config, rng).items():
        result = tile_vmm(config, w, x)
        assert result.clipped == 0, f"{case}, {name}: {result.clipped} conversions clipped"
        lo, hi = config.output_range
        assert np.all((result.y > lo) & (result.y < hi)), f"{case}, {name}: the output saturated"
        err = np.abs(result.y.astype(np.float64) - x.astype(np.float64) @ w.astype(np.float64))
        where = np.unravel_index(err.argmax(), err.shape)
        assert err.max() <= bound, f"{case}, {name}: |y - x@W| = {err.max()} at {where} > bound {bound}"
        worst = max(worst, float(err.max()))
    assert worst > 0, f"{case}: a step of {config.adc_step} rounded nothing in any case (the test is vacuous)"


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("b,d", [(1, 1), (2, 3), (4, 2)])
def test_error_bound_attained(k, b, d):
    """Every partial sum at Δ/2 exactly (a tie that rounds to 0, the even code) loses Δ/2 in every conversion: the
    error equals the bound. 2**(k-1) rows carry x = sum_i 2**(i d) (every step 1) and w = sum_j 2**(j b) (every
    slice 1), so P = 2**(k-1) = Δ/2 for every (i, j), y = 0 and x @ W = 2**(k-1) sum_i sum_j 2**(i d + j b)."""
    config = CimConfig(rows=8, cols=1, adcs=1, weight_bits=8, slice_bits=b, input_bits=8, dac_bits=d, adc_bits=4,
                       adc_step_log2=k, output_bits=32)
    active = 2 ** (k - 1)
    x = np.zeros((1, 8), dtype=np.int64)
    w = np.zeros((8, 1), dtype=np.int64)
    x[0, :active] = sum(2 ** (i * d) for i in range(doc_steps(config)))
    w[:active, 0] = sum(2 ** (j * b) for j in range(doc_slices(config)))
    result = tile_vmm(config, w, x)
    exact = ref_matmul(x, w, config)[0][0]
    assert result.clipped == 0 and int(result.y[0, 0]) == 0, f"y = {result.y[0, 0]}, expected every tie -> 0"
    assert exact - int(result.y[0, 0]) == error_bound(config), \
        f"error {exact - int(result.y[0, 0])} != bound {error_bound(config)}: the bound is not tight"


def test_error_bound_needs_no_clipping():
    """A 4-bit ADC (limit 7) with Δ = 2 and full-scale codes clips every conversion: the error exceeds the bound."""
    config = float_config(1, "differential", "sign_magnitude", 7, 2, 7, 2, 64, adc_bits=4)
    x = np.full((2, 64), config.input_range[1])
    w = np.full((64, 16), config.weight_range[1])
    result = tile_vmm(config, w, x)
    err = np.abs(result.y.astype(np.float64) - x.astype(np.float64) @ w.astype(np.float64))
    assert result.clipped > 0
    assert err.max() > error_bound(config), f"clipped, yet |y - x@W| = {err.max()} <= {error_bound(config)}"


# 4. round_half_even_shift.

SHIFT_VALUES = np.array(list(range(-4500, 4501)) + [2 ** 40 - 1, -(2 ** 40), 3 * 2 ** 30 + 2 ** 11, -(5 * 2 ** 11)]
                        + np.random.default_rng(4).integers(-(2 ** 40), 2 ** 40, 500).tolist(), dtype=np.int64)


@pytest.mark.parametrize("shift", range(13))
def test_round_half_even_shift_matches_fraction_round(shift):
    got = round_half_even_shift(SHIFT_VALUES, shift).tolist()
    for a, g in zip(SHIFT_VALUES.tolist(), got):
        want = ref_round(a, 2 ** shift)
        assert g == want, f"round_half_even_shift({a}, {shift}) = {g}, expected round({a}/2**{shift}) = {want}"


def test_round_half_even_shift_ties():
    """Ties go to the even neighbour, in both signs: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -0.5 -> 0, -1.5 -> -2."""
    ties = {1: 0, 3: 2, 5: 2, 7: 4, -1: 0, -3: -2, -5: -2, -7: -4}
    for a, want in ties.items():
        assert int(round_half_even_shift(a, 1)) == want, f"{a}/2 -> {round_half_even_shift(a, 1)}, expected {want}"


# 5. mix32.

MIX_VALUES = ([0, 1, 2, MASK32, 0x8000_0000, 0x7FFF_FFFF] + [1 << k for k in range(32)]
              + np.random.default_rng(5).integers(0, 2 ** 32, 4000, dtype=np.uint64).tolist())


def test_mix32_matches_formula():
    got = mix32(np.array(MIX_VALUES, dtype=np.uint64)).tolist()
    for x, g in zip(MIX_VALUES, got):
        assert g == ref_mix32(x), f"mix32({x:#010x}) = {g:#010x}, expected {ref_mix32(x):#010x}"
    assert all(int(mix32(x)) == ref_mix32(x) for x in MIX_VALUES[:50]), "mix32 on a Python int"


def test_mix32_structure():
    """mix32(0) == 0; the hash is a bijection of 32-bit words (its inverse undoes it); outputs stay in 32 bits."""
    assert int(mix32(0)) == 0
    got = mix32(np.array(MIX_VALUES, dtype=np.uint64)).tolist()
    assert all(0 <= g <= MASK32 for g in got)
    assert all(ref_unmix32(g) == x for x, g in zip(MIX_VALUES, got)), "mix32 is not inverted by lowbias32^-1"
    assert len(set(got)) == len(set(MIX_VALUES)), "two distinct words hash alike"


# 6. Noise.

N_SAMPLES = 10 ** 5
#: KS distance of noise / sigma to N(0, 1) at sigma = 30 over 10**5 samples. The population distance D_pop, computed
#: exactly below from the 4-byte Irwin-Hall law and the rounding, is 0.0135: half the lattice jump at 0
#: (1 / (2 * 30 * sqrt(2 pi)) = 0.0066) plus Irwin-Hall n=4's lighter tails (~0.007). The sample adds at most
#: sqrt(ln(2 / 1e-6) / (2 * 10**5)) = 0.0085 (DKW inequality, failure probability 1e-6): 0.0135 + 0.0085 < 0.025.
KS_BOUND = 0.025
KS_POPULATION_BOUND = 0.015


def noise_config(sigma, seed):
    return CimConfig(rows=8, cols=256, adcs=1, adc_bits=12, noise_sigma=sigma, noise_seed=seed)


def noise_samples(config, count=N_SAMPLES):
    """count samples over distinct counters: c, j, i, v the low to high fields of 0..count-1."""
    k = np.arange(count, dtype=np.uint64)
    return noise(config, k >> np.uint64(14), (k >> np.uint64(11)) & np.uint64(7), (k >> np.uint64(8)) & np.uint64(7),
                 k & np.uint64(255))


def noise_population(sigma):
    """The exact law of n at this sigma: values and probabilities (4 uniform bytes, scaled, rounded half to even)."""
    byte = np.ones(256)
    pmf = byte
    for _ in range(3):
        pmf = np.convolve(pmf, byte)
    scale = round(sigma * 2 ** 16 / math.sqrt(21845))
    values = [ref_round((s - 510) * scale, 2 ** 16) for s in range(pmf.size)]
    law = {}
    for n, p in zip(values, pmf.tolist()):
        law[n] = law.get(n, 0.0) + p / 256 ** 4
    keys = sorted(law)
    return np.array(keys, dtype=np.float64), np.array([law[k] for k in keys])


def test_noise_constants():
    """The doc's constants: 16 fraction bits, variance 4 (256**2 - 1) / 12 = 21845, scale round(σ 2**16 / √21845)."""
    assert NOISE_FRAC_BITS == 16 and NOISE_VARIANCE == 21845
    for sigma in (0.5, 1.0, 4.0, 30.0, 2047.0):
        cfg = noise_config(sigma, 1)
        assert cfg.noise_scale == round(sigma * 2 ** 16 / math.sqrt(21845))
        # The scale is rounded to an integer: the generator's sigma is within half a scale unit, sqrt(21845) / 2**17
        # (0.0011) in absolute terms, of the configured one (relative 2**-16 only from sigma ~ 74 up).
        assert abs(cfg.noise_scale * math.sqrt(21845) / 2 ** 16 - sigma) <= math.sqrt(21845) / 2 ** 17


@pytest.mark.parametrize("sigma", [1.0, 4.0, 30.0, 1000.0])
def test_noise_matches_formula(sigma):
    """noise() equals the generator of docs/cim.md on Python ints, including the widest counter fields."""
    config = noise_config(sigma, 0xC0FFEE)
    rng = np.random.default_rng(6)
    counters = [(0, 0, 0, 0), (65535, 7, 7, 255)] + [tuple(int(t) for t in row) for row in
                                                     np.stack([rng.integers(0, 65536, 300), rng.integers(0, 8, 300),
                                                               rng.integers(0, 8, 300), rng.integers(0, 256, 300)], 1)]
    v, i, j, c = (np.array(col, dtype=np.uint64) for col in zip(*counters))
    got = noise(config, v, i, j, c).tolist()
    for ctr, g in zip(counters, got):
        assert g == ref_noise(config, *ctr), f"noise{ctr} = {g}, expected {ref_noise(config, *ctr)}"


@pytest.mark.parametrize("seed", [1, 0xDEADBEEF])
@pytest.mark.parametrize("sigma", [1.0, 4.0, 30.0])
def test_noise_moments_and_bound(sigma, seed):
    n = noise_samples(noise_config(sigma, seed)).astype(np.float64)
    target_std = math.sqrt(sigma ** 2 + 1 / 12)          # the rounding adds 1/12 to the variance
    assert abs(n.mean()) <= 0.05 * sigma, f"sigma {sigma}, seed {seed}: mean {n.mean():.4f}"
    assert abs(n.std() - target_std) <= 0.05 * target_std, f"sigma {sigma}, seed {seed}: std {n.std():.4f}"
    assert np.abs(n).max() <= 3.47 * sigma + 1, f"sigma {sigma}: |n| reaches {np.abs(n).max()}"


@pytest.mark.parametrize("seed", [1, 0xDEADBEEF])
def test_noise_kolmogorov_smirnov(seed):
    sigma = 30.0
    values, probs = noise_population(sigma)
    cdf, norm = np.cumsum(probs), stats.norm.cdf(values / sigma)
    d_pop = max(np.abs(cdf - norm).max(), np.abs(np.concatenate([[0.0], cdf[:-1]]) - norm).max())
    assert d_pop < KS_POPULATION_BOUND, f"population KS distance {d_pop:.4f} (lattice + Irwin-Hall)"
    n = noise_samples(noise_config(sigma, seed))
    d = stats.kstest(n / sigma, "norm").statistic
    assert d < KS_BOUND, f"seed {seed}: KS distance {d:.4f} >= {KS_BOUND} (population {d_pop:.4f})"


def test_noise_seeds():
    """The same seed gives the same stream; other seeds give other streams (equal only by chance, ~1 % at σ = 30)."""
    base = noise_samples(noise_config(30.0, 7), 20000)
    assert np.array_equal(base, noise_samples(noise_config(30.0, 7), 20000)), "seed 7 gave two streams"
    for other in (0, 8, 2 ** 32 - 1):
        same = np.mean(base == noise_samples(noise_config(30.0, other), 20000))
        assert same < 0.05, f"seeds 7 and {other} agree on {same:.1%} of samples"


def test_noise_zero_sigma_is_exact():
    """sigma = 0 turns the generator off: the tile equals the matmul whatever the seed."""
    config = CimConfig(rows=8, cols=4, adcs=2, adc_bits=12, slice_bits=2, dac_bits=2, noise_seed=99)
    assert not config.has_noise
    rng = np.random.default_rng(8)
    x, w = random_codes(rng, -127, 127, (5, 8)), random_codes(rng, -127, 127, (8, 4))
    assert_ints_equal(tile_vmm(config, w, x).y, ref_matmul(x, w, config), "sigma = 0")


# 7. Gain and offset tables.

def small_config(**kw):
    base = dict(rows=8, cols=4, adcs=2, weight_bits=6, slice_bits=2, input_bits=5, dac_bits=2, adc_bits=12,
                output_bits=32, gain_frac_bits=12)
    return CimConfig(**{**base, **kw})


@pytest.mark.parametrize("wenc", WEIGHT_ENCODINGS)
def test_unit_gain_zero_offset_is_no_tables(wenc):
    """gain_one and zero offsets change nothing, with noise, a coarse step and clipping on."""
    config = small_config(weight_encoding=wenc, gain_offset=True, adc_bits=5, adc_step_log2=1, noise_sigma=3.0)
    plain = dataclasses.replace(config, gain_offset=False)
    rng = np.random.default_rng(9)
    x = random_codes(rng, *config.input_range, (12, 8))
    w = random_codes(rng, *config.weight_range, (8, 4))
    ones, zeros = np.full(4, config.gain_one), np.zeros(4, dtype=np.int64)
    with_tables, without = tile_vmm(config, w, x, ones, zeros), tile_vmm(plain, w, x)
    assert without.clipped > 0, "the case should clip somewhere"
    assert np.array_equal(with_tables.y, without.y), "unit gain and zero offset changed the output"
    assert with_tables.clipped == without.clipped


@pytest.mark.parametrize("wenc", WEIGHT_ENCODINGS)
@pytest.mark.parametrize("col", [0, 3])
def test_gain_two_doubles_one_column(wenc, col):
    """Gain 2 (2 * gain_one) makes every conversion of that column 2P exactly (no rounding, no clip at Δ = 1), so
    the shift-add gives 2 x@(W + offset) there: 2 (x@W)[c] with differential pairs, and 2 (x@W)[c] + 2**(Wb-1) sum x
    with an offset (the digital correction is applied once, undoubled)."""
    config = small_config(weight_encoding=wenc, gain_offset=True)
    assert config.adc_limit >= 2 * config.rows * 3 * 3, "2P must fit the ADC"
    rng = np.random.default_rng(10 + col)
    x = extreme_inputs(config, rng, random_vectors=8)
    w = random_codes(rng, *config.weight_range, (8, 4))
    gain = np.full(4, config.gain_one)
    gain[col] = 2 * config.gain_one
    result = tile_vmm(config, w, x, gain, np.zeros(4, dtype=np.int64))
    exact = ref_matmul(x, w, config)
    correction = 2 ** (config.weight_bits - 1) if wenc == "offset" else 0
    want = [[(2 * e + correction * sum(xv)) if c == col else e for c, e in enumerate(row)]
            for row, xv in zip(exact, x.tolist())]
    assert result.clipped == 0
    assert_ints_equal(result.y, want, f"gain 2 on column {col}, {wenc}")


@pytest.mark.parametrize("wenc", WEIGHT_ENCODINGS)
@pytest.mark.parametrize("off", [-100, 1, 37])
def test_offset_adds_place_sum(wenc, off):
    """Offset o on column c at Δ = 1, nothing clipping: every conversion is P + o, so
    y[c] = sum_i sum_j (P_ij + o) 2**(i d + j b) = (x@W)[c] + o sum_i sum_j 2**(i d + j b) (in offset encoding too:
    its correction removes only the weight offset)."""
    config = small_config(weight_encoding=wenc, gain_offset=True)
    assert config.adc_limit >= config.rows * 3 * 3 + abs(off)
    col = 2
    rng = np.random.default_rng(11)
    x = extreme_inputs(config, rng, random_vectors=8)
    w = random_codes(rng, *config.weight_range, (8, 4))
    offset = np.zeros(4, dtype=np.int64)
    offset[col] = off
    result = tile_vmm(config, w, x, np.full(4, config.gain_one), offset)
    exact, extra = ref_matmul(x, w, config), off * place_sum(config)
    want = [[e + extra if c == col else e for c, e in enumerate(row)] for row in exact]
    assert result.clipped == 0
    assert_ints_equal(result.y, want, f"offset {off} on column {col}, {wenc}")


def test_variation_tables():
    """Deterministic from the seed, within the tables' code ranges, unit gain and no offset at zero spread."""
    config = small_config(gain_offset=True, cols=16, adcs=4)
    g1, o1 = variation_tables(config, 0.1, 20.0, 3)
    g2, o2 = variation_tables(config, 0.1, 20.0, 3)
    assert np.array_equal(g1, g2) and np.array_equal(o1, o2), "same seed, different tables"
    assert np.all((g1 >= 0) & (g1 < 2 ** config.gain_bits)) and np.all(np.abs(o1) < 2 ** 15)
    assert not np.array_equal(g1, variation_tables(config, 0.1, 20.0, 4)[0]), "other seed, same gains"
    g0, o0 = variation_tables(config, 0.0, 0.0, 5)
    assert np.all(g0 == config.gain_one) and np.all(o0 == 0)
    with pytest.raises(ValueError, match="gain_offset"):
        variation_tables(small_config(), 0.1, 1.0, 0)
    with pytest.raises(ValueError, match="gain_sigma"):
        variation_tables(config, 2.0, 1.0, 0)


def test_variation_tables_take_numpy_numbers():
    """NumPy scalars are numbers (np.float32 is no Python float): the same tables as the Python values."""
    config = small_config(gain_offset=True)
    want = variation_tables(config, 0.25, 5.0, 3)
    for args in [(np.float32(0.25), np.float64(5.0), np.int64(3)), (np.float16(0.25), np.int32(5), np.uint8(3)),
                 (0.25, 5, 3)]:
        got = variation_tables(config, *args)
        assert all(np.array_equal(a, b) for a, b in zip(got, want)), args


@pytest.mark.parametrize("args,error,fragment", [
    ((True, 1.0, 0), InputTypeError, "gain_sigma must be a number, not True"),
    ((0.1, np.bool_(False), 0), InputTypeError, "offset_sigma must be a number"),
    ((0.1, "1", 0), InputTypeError, "offset_sigma must be a number"),
    ((np.float64("nan"), 1.0, 0), InputError, r"gain_sigma must be a number in 0..1, not"),
    ((0.1, 1000.5, 0), InputError, r"offset_sigma must be a number in 0..1000, not 1000.5"),
    ((-0.1, 1.0, 0), InputError, r"gain_sigma must be a number in 0..1"),
    ((0.1, 1.0, -1), InputError, "seed must be a non-negative integer, not -1"),
    ((0.1, 1.0, 1.5), InputTypeError, "seed must be a non-negative integer, not 1.5"),
    ((0.1, 1.0, True), InputTypeError, "seed must be a non-negative integer, not True"),
], ids=lambda v: None)
def test_variation_tables_refuse(args, error, fragment):
    """pimgen's own errors (InputError is a ValueError, InputTypeError a TypeError), each naming the argument."""
    with pytest.raises(error, match=fragment):
        variation_tables(small_config(gain_offset=True), *args)
    with pytest.raises(InputTypeError, match="CimConfig"):
        variation_tables("config", 0.1, 1.0, 0)


# 8. Counts, and whole tiles against the literal plain-Python tile.

@pytest.mark.parametrize("params", EXACT_PARAMS[:12], ids=[config_id(p) for p in EXACT_PARAMS[:12]])
def test_conversion_count(params):
    config = CimConfig(**params)
    x = np.zeros((7, config.rows), dtype=np.int64)
    result = tile_vmm(config, np.zeros((config.rows, config.cols), dtype=np.int64), x)
    assert result.conversions == 7 * doc_steps(config) * doc_slices(config) * config.cols, \
        f"{result.conversions} conversions, expected V S K C = 7 x {doc_steps(config)} x {doc_slices(config)} x " \
        f"{config.cols}"


@pytest.mark.parametrize("b,d,k", [(1, 1, 0), (2, 3, 1), (3, 2, 3), (2, 1, 2)])
def test_every_conversion_clips(b, d, k):
    """Full-scale codes with b | Wb - 1 and d | Ib - 1 give every step and slice all ones, so every partial sum is
    P = ±R (2**b - 1) (2**d - 1), beyond a 3-bit ADC: every conversion clips to ±3 and
    y = ±3 Δ sum_i sum_j 2**(i d + j b)."""
    config = CimConfig(rows=13, cols=6, adcs=3, weight_bits=7, slice_bits=b, input_bits=7, dac_bits=d, adc_bits=3,
                       adc_step_log2=k, output_bits=32)
    assert 13 * (2 ** b - 1) * (2 ** d - 1) > 3.5 * config.adc_step
    top_x, top_w = config.input_range[1], config.weight_range[1]
    x = np.array([[top_x] * 13, [-top_x] * 13, [top_x] * 13], dtype=np.int64)
    w = np.full((13, 6), top_w)
    w[:, 1] = -top_w
    result = tile_vmm(config, w, x)
    assert result.clipped == result.conversions == 3 * doc_steps(config) * doc_slices(config) * 6, \
        f"{result.clipped} of {result.conversions} conversions clipped, expected all"
    full = 3 * config.adc_step * place_sum(config)
    sign = np.outer([1, -1, 1], [1, -1, 1, 1, 1, 1])
    assert np.array_equal(result.y, sign * full), f"y = {result.y.tolist()}, expected ±{full}"


LITERAL_CASES = [
    dict(weight_encoding="differential", input_encoding="sign_magnitude", adc_bits=5, adc_step_log2=1),
    dict(weight_encoding="offset", input_encoding="twos_complement", adc_bits=4, adc_step_log2=2, noise_sigma=2.5),
    dict(weight_encoding="offset", input_encoding="sign_magnitude", adc_bits=6, adc_step_log2=0, noise_sigma=6.0,
         noise_seed=2 ** 32 - 1),
    dict(weight_encoding="differential", input_encoding="twos_complement", adc_bits=3, adc_step_log2=3,
         noise_sigma=9.0, gain_offset=True),
    dict(weight_encoding="offset", input_encoding="twos_complement", adc_bits=7, adc_step_log2=1, gain_offset=True,
         slice_bits=3, dac_bits=3, output_bits=12),
    dict(weight_encoding="differential", input_encoding="sign_magnitude", adc_bits=1, adc_step_log2=0),
]


@pytest.mark.parametrize("case", LITERAL_CASES, ids=[f"case{k}" for k in range(len(LITERAL_CASES))])
def test_tile_matches_literal_python_tile(case):
    """The whole tile (rounding, noise, gain, offset, clipping, output saturation, the clip count) against the slow
    plain-Python tile, on a tiny config with max_vectors 3 (so the noise counter restarts inside the batch)."""
    params = dict(rows=8, cols=4, adcs=2, weight_bits=5, slice_bits=2, input_bits=6, dac_bits=2, max_vectors=3,
                  output_bits=32)
    config = CimConfig(**{**params, **case})
    rng = np.random.default_rng(12)
    x = extreme_inputs(config, rng, random_vectors=3)
    w = random_codes(rng, *config.weight_range, (8, 4))
    tables = variation_tables(config, 0.3, 12.0, 13) if config.gain_offset else (None, None)
    result = tile_vmm(config, w, x, *tables)
    y, conversions, clipped = ref_tile(config, w, x, *tables)
    assert_ints_equal(result.y, y, f"{case}")
    assert (result.conversions, result.clipped) == (conversions, clipped), \
        f"{case}: conversions/clipped {result.conversions}/{result.clipped}, expected {conversions}/{clipped}"
    if config.adc_bits <= 4:
        assert clipped > 0, "a narrow-ADC case should clip"


# 9. Bad input.

def bad_config():
    return CimConfig(rows=8, cols=4, adcs=2, weight_bits=8, input_bits=8)


@pytest.mark.parametrize("weights,fragment", [
    (np.zeros((9, 4), dtype=np.int64), "8 x 4"),
    (np.zeros((8, 3), dtype=np.int64), "8 x 4"),
    (np.zeros((8, 4)), "integer codes"),
    (np.zeros(32, dtype=np.int64), "2-D"),
], ids=["rows", "cols", "float", "1-D"])
def test_check_weights_refuses_shape_and_dtype(weights, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        check_weights(weights, bad_config())
    assert isinstance(info.value, ValueError)
    with pytest.raises(InputError, match=fragment):
        tile_vmm(bad_config(), weights, np.zeros((1, 8), dtype=np.int64))


@pytest.mark.parametrize("enc,value,limit", [("differential", -128, "-127..127"), ("differential", 128, "-127..127"),
                                             ("offset", 128, "-128..127")])
def test_check_weights_refuses_out_of_range(enc, value, limit):
    config = dataclasses.replace(bad_config(), weight_encoding=enc)
    w = np.zeros((8, 4), dtype=np.int64)
    w[2, 3] = value
    with pytest.raises(InputError, match=rf"{limit}.*\[2, 3\] = {value}"):
        check_weights(w, config)


def test_check_weights_accepts_offset_minimum():
    config = dataclasses.replace(bad_config(), weight_encoding="offset")
    assert check_weights(np.full((8, 4), -128), config).dtype == np.int64


@pytest.mark.parametrize("x,fragment", [
    (np.full((2, 8), -128), "-127..127"),
    (np.full((2, 8), 128), "-127..127"),
    (np.zeros((2, 7), dtype=np.int64), r"V x 8"),
    (np.zeros((0, 8), dtype=np.int64), r"V >= 1"),
    (np.zeros((2, 8), dtype=np.float32), "integer codes"),
], ids=["sign-magnitude-min", "too-big", "rows", "no-vectors", "float"])
def test_check_inputs_refuses(x, fragment):
    with pytest.raises(InputError, match=fragment) as info:
        check_inputs(x, bad_config())
    assert isinstance(info.value, ValueError)


RAGGED = [[0] * 8, [0] * 7]


@pytest.mark.parametrize("name", ["weights", "inputs", "gain", "offset"])
def test_ragged_lists_refused(name):
    """A ragged nested list (NumPy refuses it with a ValueError of its own) is one InputError naming the argument, from
    the check functions, the golden and a job alike."""
    from tb.host.cim import CimJob
    config = small_config(gain_offset=True)
    args = {"weights": np.zeros((8, 4), dtype=np.int64), "inputs": np.zeros((2, 8), dtype=np.int64),
            "gain": np.full(4, config.gain_one), "offset": np.zeros(4, dtype=np.int64)}
    args[name] = [[0] * 4, [0] * 3] if name in ("gain", "offset") else RAGGED
    fragment = rf"{name} must be a rectangular array \(every row the same length\), not a ragged sequence"
    with pytest.raises(InputError, match=fragment):
        tile_vmm(config, args["weights"], args["inputs"], args["gain"], args["offset"])
    job = CimJob(args["weights"], args["inputs"], args["gain"], args["offset"])
    with pytest.raises(InputError, match=fragment):
        job.validate(config)


def test_cim_job_batch_out_of_range():
    from tb.host.cim import CimJob
    from tb.host.driver import DriverStateError
    config = small_config(max_vectors=4)
    job = CimJob(np.zeros((8, 4), dtype=np.int64), np.zeros((10, 8), dtype=np.int64))
    with pytest.raises(DriverStateError):
        job.batch("batch0")                                    # not validated yet: no runs
    job.validate(config)
    assert job.runs == ("batch0", "batch1", "batch2")
    assert [job.batch(r) for r in job.runs] == [slice(0, 4), slice(4, 8), slice(8, 10)]
    for bad in ("batch3", "batch9", "batch-1", "batch01", "run0", 0):
        with pytest.raises(InputError, match=rf"run must be one of this job's runs, batch0..batch2, not {bad!r}"):
            job.batch(bad)


@pytest.mark.parametrize("dtype", ["m8[s]", "M8[s]", "?", "c16", "O"])
def test_int_codes_refuse_non_integer_kinds(dtype):
    """NumPy counts timedelta64 among its integers (np.issubdtype(m8, np.integer) is True); only kinds i and u are
    codes, and the message names the dtype."""
    from pimgen.arrays import int_codes
    x = np.zeros((2, 8), dtype=dtype)
    with pytest.raises(InputError, match=re.escape(f"x must hold integer codes (test), not dtype {np.dtype(dtype)}")):
        int_codes(x, "x", 2, -1, 1, "test")
    with pytest.raises(InputError, match=re.escape(f"not dtype {np.dtype(dtype)}")):
        check_inputs(x, bad_config())
    for ok in (np.int8, np.uint16, np.int64, np.uint64):
        assert int_codes(np.zeros((2, 8), dtype=ok), "x", 2, -1, 1, "test").dtype == np.int64


def test_check_inputs_twos_complement_minimum():
    config = dataclasses.replace(bad_config(), input_encoding="twos_complement")
    assert check_inputs(np.full((1, 8), -128), config).dtype == np.int64
    with pytest.raises(InputError, match="-128..127"):
        check_inputs(np.full((1, 8), -129), config)


@pytest.mark.parametrize("params,param,fragment", [
    (dict(rows=4), "rows", "8..1024"),
    (dict(rows=2048), "rows", "8..1024"),
    (dict(cols=6, adcs=4), "adcs", "divide cols"),
    (dict(cols=4, adcs=5), "adcs", "1..4"),
    (dict(input_bits=4, dac_bits=5), "dac_bits", "1..4"),
    (dict(input_bits=1, dac_bits=1), "input_bits", "sign_magnitude"),
    (dict(adc_bits=4, noise_sigma=8.5), "noise_sigma", "0..8"),
    (dict(adc_bits=4, adc_step_log2=2, noise_sigma=32.5), "noise_sigma", "0..32"),
    (dict(noise_sigma=float("nan")), "noise_sigma", "not nan"),
    (dict(noise_sigma=-1.0), "noise_sigma", "0.."),
    (dict(noise_sigma=1e-5), "noise_sigma", r"must be 0 or more than 0.00112763 \(half the generator's resolution"),
    (dict(noise_sigma=NOISE_SIGMA_MIN), "noise_sigma", "must be 0 or more than"),
    (dict(input_bits=0), "input_bits", "2..8 for input_encoding sign_magnitude, not 0"),
    (dict(input_bits=9, dac_bits=1), "input_bits", "2..8 for input_encoding sign_magnitude, not 9"),
    (dict(input_bits=9, dac_bits=1, input_encoding="twos_complement"), "input_bits", "1..8, not 9"),
    (dict(weight_bits=1), "weight_bits", "2..8"),
    (dict(slice_bits=5), "slice_bits", "1..4"),
    (dict(adc_bits=13), "adc_bits", "1..12"),
    (dict(weight_encoding="twos"), "weight_encoding", "differential, offset"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_config_errors_name_the_parameter(params, param, fragment):
    with pytest.raises(ConfigError, match=fragment) as info:
        CimConfig(**params)
    assert info.value.param == param, f"{params}: ConfigError names {info.value.param!r}, not {param!r}"
    assert isinstance(info.value, InputError)


@pytest.mark.parametrize("encoding", INPUT_ENCODINGS)
@pytest.mark.parametrize("value", [1.0, True, 2.0, "2"], ids=repr)
def test_config_input_bits_type_error_first(value, encoding):
    """A value of the wrong type is a type error in either encoding, before the range (1.0 and True equal 1, which
    sign-magnitude refuses by range)."""
    with pytest.raises(ConfigTypeError, match=f"input_bits must be an integer, not {value!r}") as info:
        CimConfig(input_bits=value, dac_bits=1, input_encoding=encoding)
    assert info.value.param == "input_bits"


def test_config_input_bits_numpy_integer_is_an_integer():
    """NumPy integers are integers (check_int): np.int8(1) is 1, refused by range in sign-magnitude only."""
    with pytest.raises(ConfigError, match="2..8 for input_encoding sign_magnitude"):
        CimConfig(input_bits=np.int8(1), dac_bits=1)
    config = CimConfig(input_bits=np.int8(1), dac_bits=1, input_encoding="twos_complement")
    assert config.input_bits == 1 and type(config.input_bits) is int


def test_config_noise_sigma_negative_zero_is_zero():
    """-0.0 is 0.0: the same value, the same config hash (and so the same build)."""
    for zero in (-0.0, np.float64(-0.0), np.float32(-0.0), 0, -0):
        config = CimConfig(noise_sigma=zero)
        assert math.copysign(1.0, config.noise_sigma) == 1.0 and not config.has_noise
        assert config.config_hash == CimConfig().config_hash == CimConfig(noise_sigma=0.0).config_hash
        assert config == CimConfig()


def test_config_noise_sigma_resolution():
    """The smallest noise the generator makes has scale 1; a non-zero sigma that rounds to scale 0 is refused, so
    has_noise always means a generator with a non-zero scale."""
    scale_of = lambda sigma: round(sigma * 2 ** NOISE_FRAC_BITS / math.sqrt(NOISE_VARIANCE))   # noqa: E731
    assert scale_of(NOISE_SIGMA_MIN) == 0 and scale_of(NOISE_SIGMA_MIN * 1.001) == 1
    config = CimConfig(noise_sigma=NOISE_SIGMA_MIN * 1.001)
    assert config.has_noise and config.noise_scale == 1


def test_config_properties_documented():
    """Every public property of CimConfig has a docstring (offset_range, output_range and has_noise had none)."""
    missing = [name for name, value in vars(CimConfig).items()
               if isinstance(value, property) and not name.startswith("_") and not (value.__doc__ or "").strip()]
    assert not missing, f"CimConfig properties without a docstring: {missing}"


def test_golden_exports_its_public_functions():
    """sw_model.cim.__all__ names every public function and class it defines (noise_sample, noise_counter)."""
    import inspect

    import sw_model.cim as module
    public = {name for name, value in vars(module).items() if not name.startswith("_")
              and (inspect.isfunction(value) or inspect.isclass(value)) and value.__module__ == module.__name__}
    assert public == set(module.__all__), public ^ set(module.__all__)


def test_config_limits_accepted():
    """The edges of the ranges are allowed: σ at 2**(A-1) Δ, Ib = 1 in two's complement, d = Ib."""
    assert CimConfig(adc_bits=4, noise_sigma=8.0).noise_sigma == 8.0
    assert CimConfig(input_bits=1, dac_bits=1, input_encoding="twos_complement").input_steps == 1
    assert CimConfig(input_bits=8, dac_bits=8).input_steps == 1


# 10. Batches longer than max_vectors.

def test_long_batch_is_runs_of_max_vectors():
    """V = 2.5 max_vectors: the result equals three separate runs (4, 4 and 2 vectors), each with its noise counter
    from vector 0; a vector repeated at the same place of two runs gets the same noisy output."""
    config = small_config(max_vectors=4, adc_bits=6, adc_step_log2=1, noise_sigma=4.0, noise_seed=321)
    rng = np.random.default_rng(14)
    x = random_codes(rng, *config.input_range, (10, 8))
    x[4] = x[0]                                          # vector 0 of runs 1 and 2
    x[5] = x[0]                                          # vector 1 of run 2: other noise
    w = random_codes(rng, *config.weight_range, (8, 4))
    whole = tile_vmm(config, w, x)
    parts = [tile_vmm(config, w, x[a:a + 4]) for a in (0, 4, 8)]
    assert np.array_equal(whole.y, np.concatenate([p.y for p in parts])), "a long batch is not the runs' concatenation"
    assert whole.conversions == sum(p.conversions for p in parts)
    assert whole.clipped == sum(p.clipped for p in parts)
    assert np.array_equal(whole.y[4], whole.y[0]), "the noise counter did not restart at the second run"
    assert not np.array_equal(whole.y[5], whole.y[0]), "vector 1 drew vector 0's noise"
    y_ref, _, _ = ref_tile(config, w, x)
    assert_ints_equal(whole.y, y_ref, "long batch against the literal tile")
