"""The CiM tile's error codes (``STATUS.error``): one ``amaranth.lib.enum`` used by the hardware, written into the
manifest by name and used by the driver; no literal codes anywhere else."""

from amaranth.lib import enum

__all__ = ["CimError", "CIM_ERROR_MEANINGS"]


class CimError(enum.Enum, shape=8):
    """``STATUS.error`` of the CiM tile."""
    NONE = 0
    NUM_VECTORS = 1


CIM_ERROR_MEANINGS = {
    CimError.NUM_VECTORS: "NUM_VECTORS is 0 or larger than max_vectors (nothing runs)",
}
