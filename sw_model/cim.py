"""Golden model of the compute-in-memory VMM tile: the arithmetic of docs/cim.md, bit for bit.

The tile RTL (``hw.cim``) must equal :func:`tile_vmm` exactly, noise included. The model itself is checked in tests
against independent references: Python-integer ``x @ W`` in exact mode, float64 ``x @ W`` within
:func:`error_bound`, and a normal distribution for :func:`noise`.

Everything is vectorised NumPy on int64, which holds every intermediate: the widest is the noise product
``s * scale`` (``|s| <= 510``, ``scale <= round(2**23 * 2**16 / sqrt(21845))`` at the largest ``noise_sigma``), below
2**41; ``gain * P`` stays below 2**40 (``(2**18 - 1) * 1024 * 15 * 255``), and the pre-ADC sum and the shift-add
below 2**41.
"""

from dataclasses import dataclass

import numpy as np

from pimgen.cim.config import NOISE_FRAC_BITS, CimConfig
from pimgen.cim.inputs import check_config, check_gain_offset, check_inputs, check_variation, check_weights
from pimgen.errors import InputError

__all__ = ["TileResult", "tile_vmm", "input_steps", "weight_slices", "noise", "noise_sample", "noise_counter", "mix32",
           "round_half_even_shift", "error_bound", "variation_tables"]

_MASK32 = np.uint64(0xFFFF_FFFF)


def mix32(x):
    """The "lowbias32" integer hash on uint32 values (array or int), as docs/cim.md gives it."""
    x = np.asarray(x, dtype=np.uint64) & _MASK32
    x ^= x >> np.uint64(16)
    x = (x * np.uint64(0x7FEB352D)) & _MASK32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x846CA68B)) & _MASK32
    x ^= x >> np.uint64(16)
    return x


def round_half_even_shift(a, shift):
    """``round_half_even(a / 2**shift)`` for int64 ``a`` and ``shift >= 0`` (exact integers)."""
    a = np.asarray(a, dtype=np.int64)
    if shift == 0:
        return a
    q = a >> shift                                   # floor
    r = a - (q << shift)
    half = np.int64(1) << (shift - 1)
    return q + ((r > half) | ((r == half) & ((q & 1) == 1)))


def noise_sample(config, counter):
    """The generator's integer sample ``s`` in -510..510 for the given counters (before scaling)."""
    key = mix32(config.noise_seed)
    h = mix32(mix32(counter) ^ key)
    total = sum((h >> np.uint64(8 * k)) & np.uint64(0xFF) for k in range(4))
    return total.astype(np.int64) - 510


def noise_counter(v, i, j, c):
    """The generator's counter of conversion (vector v in its run, input step i, weight slice j, column c)."""
    v, i, j, c = (np.asarray(a, dtype=np.uint64) for a in (v, i, j, c))
    return ((v << np.uint64(14)) | (i << np.uint64(11)) | (j << np.uint64(8)) | c) & _MASK32


def noise(config, v, i, j, c):
    """The integer noise ``n`` added before the ADC in conversion (v, i, j, c) (arrays that broadcast)."""
    s = noise_sample(config, noise_counter(v, i, j, c))
    return round_half_even_shift(s * config.noise_scale, NOISE_FRAC_BITS)


def input_steps(config, x):
    """DAC step values ``u[i, ...]`` of input codes ``x`` (any shape): ``x == sum_i u[i] * 2**(i*d)``."""
    x = np.asarray(x, dtype=np.int64)
    d, steps = config.dac_bits, config.input_steps
    mask = (1 << d) - 1
    if config.input_encoding == "sign_magnitude":
        sign = np.where(x < 0, -1, 1)
        mag = np.abs(x)
        return np.stack([sign * ((mag >> (i * d)) & mask) for i in range(steps)])
    digits = [(x >> (i * d)) & mask for i in range(steps - 1)]
    digits.append(x >> ((steps - 1) * d))          # the top digit keeps the sign (arithmetic shift)
    return np.stack(digits)


def weight_slices(config, w):
    """Cell values ``s[j, ...]`` of weight codes ``w`` (any shape): ``w == sum_j s[j] * 2**(j*b)``, less the offset
    ``2**(Wb-1)`` in offset encoding."""
    w = np.asarray(w, dtype=np.int64)
    b, slices = config.slice_bits, config.weight_slices
    mask = (1 << b) - 1
    if config.weight_encoding == "differential":
        sign = np.where(w < 0, -1, 1)
        mag = np.abs(w)
        return np.stack([sign * ((mag >> (j * b)) & mask) for j in range(slices)])
    stored = w + (1 << (config.weight_bits - 1))
    return np.stack([(stored >> (j * b)) & mask for j in range(slices)])


@dataclass
class TileResult:
    """What the tile gives for a batch: outputs ``y[V, C]`` and the counts of its ADC conversions."""
    y: np.ndarray
    conversions: int
    clipped: int


def tile_vmm(config, weights, x, gain=None, offset=None):
    """The tile's outputs for input vectors ``x[V, R]`` and weights ``W[R, C]`` (codes), with per-column ``gain`` and
    ``offset`` tables (``gain_offset`` configs; None: unit gain and no offset).

    ``V`` may exceed ``max_vectors``: the batch is then cut into runs of ``max_vectors`` vectors, as the driver cuts
    it, and each run's noise counter starts from vector 0. Returns a :class:`TileResult`.
    """
    if not isinstance(config, CimConfig):
        raise TypeError(f"Config must be a CimConfig, not {config!r}")
    weights = check_weights(weights, config)
    x = check_inputs(x, config)
    gain, offset = check_gain_offset(gain, offset, config)
    cfg = config
    u = input_steps(cfg, x)                              # [S, V, R]
    s = weight_slices(cfg, weights)                      # [K, R, C]
    vectors = x.shape[0]
    v_in_run = (np.arange(vectors) % cfg.max_vectors)[:, None]
    cols = np.arange(cfg.cols)[None, :]
    acc = np.zeros((vectors, cfg.cols), dtype=np.int64)
    clipped = 0
    limit = cfg.adc_limit
    for i in range(cfg.input_steps):
        for j in range(cfg.weight_slices):
            p = u[i] @ s[j]                                                   # [V, C], exact
            p = round_half_even_shift(gain[None, :] * p, cfg.gain_frac_bits) + offset[None, :]
            if cfg.has_noise:
                p = p + noise(cfg, v_in_run, i, j, cols)
            q = round_half_even_shift(p, cfg.adc_step_log2)
            over = np.abs(q) > limit
            clipped += int(over.sum())
            q = np.clip(q, -limit, limit)
            acc += q << (cfg.adc_step_log2 + i * cfg.dac_bits + j * cfg.slice_bits)
    if cfg.weight_encoding == "offset":
        acc -= x.sum(axis=1, keepdims=True) << (cfg.weight_bits - 1)
    lo, hi = cfg.output_range
    y = np.clip(acc, lo, hi)
    conversions = vectors * cfg.input_steps * cfg.weight_slices * cfg.cols
    return TileResult(y=y, conversions=conversions, clipped=clipped)


def error_bound(config):
    """Largest ``|y - x @ W|`` without noise, gain or offset errors when no conversion clips and the output does not
    saturate: ``(Δ/2) * sum_i sum_j 2**(i*d + j*b)`` (docs/cim.md); 0 for a unit step."""
    if config.adc_step_log2 == 0:
        return 0.0
    total = sum(2 ** (i * config.dac_bits + j * config.slice_bits)
                for i in range(config.input_steps) for j in range(config.weight_slices))
    return config.adc_step / 2 * total


def variation_tables(config, gain_sigma, offset_sigma, seed):
    """Per-column gain and offset tables of a device with relative gain spread ``gain_sigma`` (0..1) and offset spread
    ``offset_sigma`` (0..1000 partial-sum units), drawn from NumPy's PCG64 with ``seed`` (a non-negative integer) and
    quantised to the tables' codes. Deterministic from the seed; the tile and the golden load the same tables.

    Raises :class:`pimgen.errors.InputError` (a ValueError) for a value out of range or a config without
    ``gain_offset``, :class:`pimgen.errors.InputTypeError` (a TypeError) for a wrong type
    (:func:`pimgen.cim.inputs.check_variation`)."""
    check_config(config)
    if not config.gain_offset:
        raise InputError("variation_tables needs a gain_offset config (the tile has no tables otherwise)")
    gain_sigma, offset_sigma, seed = check_variation(gain_sigma, offset_sigma, seed)
    rng = np.random.default_rng(seed)
    gain = np.rint(config.gain_one * (1 + gain_sigma * rng.standard_normal(config.cols))).astype(np.int64)
    offset = np.rint(offset_sigma * rng.standard_normal(config.cols)).astype(np.int64)
    gain = np.clip(gain, 0, (1 << config.gain_bits) - 1)
    lo, hi = config.offset_range
    return gain, np.clip(offset, lo, hi)
