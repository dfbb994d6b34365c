"""Element layouts of the CiM tile's windows (the data both the tile and the driver address from)."""

from pimgen.cim.config import OFFSET_TABLE_BITS
from pimgen.layout import WindowLayout

__all__ = ["weight_layout", "input_layout", "output_layout", "gain_layout", "offset_layout"]


def weight_layout(config):
    """``W[row, col]``: one bank per row, word ``col``, so that one read gives a whole column (all rows) of cells."""
    return WindowLayout([("col", config.cols), ("row", config.rows)], element_bits=config.weight_bits, signed=True,
                        banks=config.rows, banked="row", packed=True)


def input_layout(config):
    """``x[vector, row]``: one bank per row, word ``vector``: one read gives a whole input vector."""
    return WindowLayout([("vector", config.max_vectors), ("row", config.rows)], element_bits=config.input_bits,
                        signed=True, banks=config.rows, banked="row", packed=True)


def output_layout(config):
    """``y[vector, col]``: ADC ``a`` writes bank ``a``; column ``c`` is in bank ``c % adcs``, word
    ``vector * (cols / adcs) + c // adcs``."""
    return WindowLayout([("vector", config.max_vectors), ("col", config.cols)], element_bits=config.output_bits,
                        signed=True, banks=config.adcs, banked="col", packed=True)


def gain_layout(config):
    """Per-column gain codes (unsigned, ``gain_frac_bits`` fraction bits), banked like the outputs."""
    return WindowLayout([("col", config.cols)], element_bits=config.gain_bits, signed=False, banks=config.adcs,
                        banked="col", packed=True)


def offset_layout(config):
    """Per-column offsets (signed integers in partial-sum units), banked like the outputs."""
    return WindowLayout([("col", config.cols)], element_bits=OFFSET_TABLE_BITS, signed=True, banks=config.adcs,
                        banked="col", packed=True)
