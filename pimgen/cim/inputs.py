"""The CiM tile's inputs and their checks (NumPy only): the driver and the golden model share them, so that bad input
is refused with the same message before anything is built, loaded or simulated."""

import math
import numbers

import numpy as np

from ..arrays import as_array, int_codes
from ..errors import InputError, InputTypeError
from .config import CimConfig

__all__ = ["check_config", "check_weights", "check_inputs", "check_gain_offset", "check_variation",
           "MAX_GAIN_SIGMA", "MAX_OFFSET_SIGMA"]

#: Largest relative gain spread of :func:`sw_model.cim.variation_tables` (a gain of 1 +- 100 % at one sigma).
MAX_GAIN_SIGMA = 1.0
#: Largest offset spread, in partial-sum units (the tables hold -32768..32767).
MAX_OFFSET_SIGMA = 1000.0


def check_config(config):
    if not isinstance(config, CimConfig):
        raise InputTypeError(f"Config must be a CimConfig, not {type(config).__name__}")
    return config


def check_weights(w, config, name="weights"):
    """Weight codes ``W[rows, cols]`` of the config (``weight_bits`` signed, symmetric for differential pairs); returns
    them as int64. A matrix of another shape, a float array or a code out of range is refused, naming the element."""
    check_config(config)
    arr = as_array(w, name)
    if arr.ndim == 2 and arr.shape != (config.rows, config.cols):
        raise InputError(f"{name} must be a {config.rows} x {config.cols} matrix (rows x cols of the tile), "
                         f"not {arr.shape[0]} x {arr.shape[1]}")
    lo, hi = config.weight_range
    return int_codes(arr, name, 2, lo, hi, f"{config.weight_bits}-bit {config.weight_encoding}")


def check_inputs(x, config, name="inputs"):
    """Input codes ``x[V, rows]`` (``input_bits`` signed, symmetric in sign-magnitude), at least one vector; returns
    them as int64."""
    check_config(config)
    arr = as_array(x, name)
    if arr.ndim == 2 and (arr.shape[1] != config.rows or arr.shape[0] == 0):
        raise InputError(f"{name} must be V x {config.rows} (vectors x rows of the tile, V >= 1), "
                         f"not {arr.shape[0]} x {arr.shape[1]}")
    lo, hi = config.input_range
    return int_codes(arr, name, 2, lo, hi, f"{config.input_bits}-bit {config.input_encoding}")


def check_gain_offset(gain, offset, config):
    """The per-column gain and offset tables as int64 arrays: unit gain and no offset when both are None (the only
    choice without ``gain_offset``)."""
    check_config(config)
    if gain is None and offset is None:
        return np.full(config.cols, config.gain_one, dtype=np.int64), np.zeros(config.cols, dtype=np.int64)
    if not config.gain_offset:
        raise InputError("gain and offset tables need a config with gain_offset on")
    if gain is None or offset is None:
        raise InputError("gain and offset tables go together: give both or neither")
    gain = int_codes(gain, "gain", 1, 0, (1 << config.gain_bits) - 1, f"unsigned {config.gain_bits}-bit gain")
    lo, hi = config.offset_range
    offset = int_codes(offset, "offset", 1, lo, hi, "signed 16-bit offset")
    for table, arr in (("gain", gain), ("offset", offset)):
        if arr.shape != (config.cols,):
            raise InputError(f"{table} must have one entry per column ({config.cols}), not {arr.shape[0]}")
    return gain, offset


def check_variation(gain_sigma, offset_sigma, seed, names=None):
    """The arguments of :func:`sw_model.cim.variation_tables`: ``gain_sigma`` a number in 0..MAX_GAIN_SIGMA,
    ``offset_sigma`` one in 0..MAX_OFFSET_SIGMA (Python or NumPy numbers, not bools) and ``seed`` a non-negative
    integer; returns them as ``(float, float, int)``. ``names`` maps the argument names to the ones a message should
    use (the command line's options)."""
    names = {"gain_sigma": "gain_sigma", "offset_sigma": "offset_sigma", "seed": "seed", **(names or {})}
    checked = []
    for key, value, top in (("gain_sigma", gain_sigma, MAX_GAIN_SIGMA), ("offset_sigma", offset_sigma,
                                                                          MAX_OFFSET_SIGMA)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise InputTypeError(f"{names[key]} must be a number, not {value!r}")
        if not (math.isfinite(float(value)) and 0 <= float(value) <= top):
            raise InputError(f"{names[key]} must be a number in 0..{top:g}, not {value!r}")
        checked.append(float(value))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise InputTypeError(f"{names['seed']} must be a non-negative integer, not {seed!r}")
    if seed < 0:
        raise InputError(f"{names['seed']} must be a non-negative integer, not {seed!r}")
    return checked[0], checked[1], int(seed)
