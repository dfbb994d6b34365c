"""Configuration of the GNN aggregation engine (plain Python: imported by the design, the golden and the driver)."""

from dataclasses import dataclass
from typing import ClassVar

from ..config import (MAX_MEMORY_BITS, ConfigError, Derived, EngineConfig, ceil_log2, check_bool, check_choice,
                      check_int, param)

__all__ = ["GnnConfig", "GNN_FORMATS", "GNN_OPS"]

GNN_FORMATS = ("int8", "int16", "fp16", "mixed")
#: Aggregation ops by name, in the order of their codes (``hw.gnn.codes.GnnOp`` is the hardware's enum of them;
#: a test checks the two agree).
GNN_OPS = ("sum", "mean", "max", "weighted")


@dataclass(frozen=True)
class GnnConfig(EngineConfig):
    """GNN aggregation engine: Y[r, f] = op over the in-edges of row r of X[col, f] (CSR order).

    See docs/gnn.md for the exact arithmetic (the golden model in ``sw_model.gnn`` defines it). ``frac_bits``,
    ``acc_width`` and ``weight_frac_bits`` are derived from the other parameters when not given, and derived again
    by ``dataclasses.replace`` when those change.
    """

    engine: ClassVar[str] = "gnn"
    engine_code: ClassVar[int] = 1
    version: ClassVar[tuple] = (1, 0)

    lanes: int = param(8, "features processed per cycle by each processing element (1..64)")
    pes: int = param(1, "processing elements, each with its own rows and copies of the memories (1..8)")
    format: str = param("int16", "feature number format", choices=GNN_FORMATS)
    frac_bits: int = param(None, "fraction bits of the fixed-point features (default: 8 for int16, 4 for int8)")
    acc_width: int = param(None, "accumulator width in bits (data bits..44; default: data + weight bits + 8)")
    saturate: bool = param(True, "saturate on overflow (otherwise wrap in two's complement)")
    weight_bits: int = param(16, "signed edge weight width for the weighted op (2..18)")
    weight_frac_bits: int = param(None, "fraction bits of edge weights (default: weight bits - 2)")
    recip_bits: int = param(18, "precision of the reciprocal used by the mean op (8..20)")
    max_nodes: int = param(4096, "nodes the memories hold (2..65536)")
    max_edges: int = param(16384, "edges (non-zeros) the memories hold (1..1048576)")
    max_features: int = param(32, "features per node the memories hold (1..1024)")
    max_degree: int = param(1023, "largest in-degree the mean op supports (1..65535)")
    fp32_acc: bool = param(False, "fp16 only: accumulate in binary32 and round to binary16 once at the end")

    def __post_init__(self):
        check_choice("format", self.format, GNN_FORMATS)
        self._set("lanes", check_int("lanes", self.lanes, 1, 64))
        self._set("pes", check_int("pes", self.pes, 1, 8))
        data_bits = self.data_bits
        if self.is_float:
            # binary16 features and weights: the fixed-point parameters do not apply and must keep their defaults
            # (so that two equal fp16 configs have one hash).
            for name, default in (("frac_bits", 0), ("acc_width", 16), ("weight_bits", 16), ("weight_frac_bits", 0),
                                  ("recip_bits", 18), ("saturate", True)):
                given = getattr(self, name)
                if given is not None and not isinstance(given, Derived) and given != default:
                    raise ConfigError(name, f"{name} does not apply to format fp16 (binary16 throughout); leave it "
                                            f"out, not {given!r}")
                self._set(name, default if isinstance(default, bool) else Derived(default))
        else:
            self._derive("frac_bits", 8 if data_bits == 16 else 4)
            self._set("frac_bits", check_int("frac_bits", self.frac_bits, 0, data_bits - 1))
            self._set("weight_bits", check_int("weight_bits", self.weight_bits, 2, 18))
            self._derive("weight_frac_bits", self.weight_bits - 2)
            self._set("weight_frac_bits", check_int("weight_frac_bits", self.weight_frac_bits, 0,
                                                    self.weight_bits - 1))
            self._derive("acc_width", min(44, data_bits + self.weight_bits + 8))
            self._set("acc_width", check_int("acc_width", self.acc_width, data_bits, 44))
        check_bool("saturate", self.saturate)
        check_bool("fp32_acc", self.fp32_acc)
        if self.fp32_acc and not self.is_float:
            raise ConfigError("fp32_acc", f"fp32_acc applies to format fp16 only, not {self.format}")
        self._set("recip_bits", check_int("recip_bits", self.recip_bits, 8, 20))
        self._set("max_nodes", check_int("max_nodes", self.max_nodes, 2, 65536))
        self._set("max_edges", check_int("max_edges", self.max_edges, 1, 1 << 20))
        self._set("max_features", check_int("max_features", self.max_features, 1, 1024))
        self._set("max_degree", check_int("max_degree", self.max_degree, 1, 65535))
        if self.max_features < self.lanes:
            raise ConfigError("max_features",
                              f"max_features ({self.max_features}) must be at least lanes ({self.lanes})")
        if self.memory_bits > MAX_MEMORY_BITS:
            raise ConfigError("max_nodes",
                              f"The memories of this config would hold {self.memory_bits} bits, more than the "
                              f"{MAX_MEMORY_BITS} (32 Mbit) pimgen generates; lower max_nodes, max_edges or "
                              f"max_features")

    # Derived quantities: the one place widths and depths come from.

    @property
    def is_mixed(self):
        """Features are stored in degree-aware mixed precision (pimgen.gnn.mixed) and decoded to int16 codes on the
        fly; the aggregation is int16's."""
        return self.format == "mixed"

    @property
    def is_float(self):
        """Features, weights and results are IEEE binary16 bit patterns (format fp16)."""
        return self.format == "fp16"

    @property
    def data_bits(self):
        """Width of a feature code in bits."""
        return 8 if self.format == "int8" else 16

    @property
    def groups_max(self):
        """Feature groups of ``lanes`` per node row in memory: ceil(max_features / lanes)."""
        return -(-self.max_features // self.lanes)

    @property
    def feature_words(self):
        """Depth of each feature memory bank: max_nodes * groups_max."""
        return self.max_nodes * self.groups_max

    @property
    def node_bits(self):
        return ceil_log2(self.max_nodes)

    @property
    def edge_bits(self):
        """Width of an edge pointer; holds 0..max_edges."""
        return ceil_log2(self.max_edges + 1)

    @property
    def memory_bits(self):
        """Bits of all memories: indptr, indices, weights, features and result, and the mean reciprocal ROM, each held
        once per processing element (``pes`` copies, so that they never wait on each other)."""
        features = self.feature_words * self.lanes * (8 if self.is_mixed else self.data_bits)
        headers = self.max_nodes * 4 if self.is_mixed else 0
        return self.pes * ((self.max_nodes + 1) * self.edge_bits
                           + self.max_edges * (max(self.node_bits, 1) + self.weight_bits)
                           + features + headers + self.feature_words * self.lanes * self.data_bits
                           + (self.max_degree + 1) * (self.recip_width + ceil_log2(self.recip_shift_max + 1)))

    @property
    def recip_width(self):
        """Width of the unsigned reciprocal R[d] <= 2**(recip_bits + 1) (equality once d > 2**(recip_bits + 2))."""
        return self.recip_bits + 2

    @property
    def recip_shift_max(self):
        return self.recip_bits + ceil_log2(self.max_degree)
