"""The GNN engine's codes: its ops (the ``OP`` register) and its errors (``STATUS.error``).

One ``amaranth.lib.enum`` each, used by the hardware, written into the manifest (by name) and used by the driver and
the tests; no literal codes anywhere else.
"""

from amaranth.lib import enum

__all__ = ["GnnOp", "GnnError", "GNN_ERROR_MEANINGS"]


class GnnOp(enum.Enum, shape=2):
    """Aggregation op; member names are the upper-case op names of :data:`pimgen.gnn.config.GNN_OPS`, in order
    (tests/test_frame.py checks it)."""
    SUM = 0
    MEAN = 1
    MAX = 2
    WEIGHTED = 3


class GnnError(enum.Enum, shape=8):
    """``STATUS.error`` of the GNN engine."""
    NONE = 0
    NUM_NODES = 1
    NUM_FEATURES = 2
    BAD_INDPTR = 3
    BAD_COLUMN = 4
    DEGREE = 5
    PARTITION = 6


GNN_ERROR_MEANINGS = {
    GnnError.NUM_NODES: "NUM_NODES is larger than max_nodes",
    GnnError.NUM_FEATURES: "NUM_FEATURES is 0 or larger than max_features",
    GnnError.BAD_INDPTR: "indptr decreases or points beyond max_edges (run aborted)",
    GnnError.BAD_COLUMN: "a column index is not below NUM_NODES (run completed, rows with such edges are wrong)",
    GnnError.DEGREE: "mean op on a row whose in-degree exceeds max_degree (run completed, those rows are wrong)",
    GnnError.PARTITION: "PE_FIRST does not start at 0, decreases, or goes beyond NUM_NODES (nothing runs)",
}
