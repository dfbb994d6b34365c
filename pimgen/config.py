"""Engine configurations: one frozen dataclass per engine, validated on construction.

The same config object feeds the Amaranth component (``hw``), the golden model (``sw_model``), the register map and
manifest (``rtl_gen``), the testbench and the driver (``tb``). It is plain Python, so both the design and the golden
model can import it without importing each other.

Every field carries metadata used by the command line (``help``) and by the register map (config readback). A bad value
raises :class:`ValueError` (or :class:`TypeError` for a wrong type) whose message names the parameter, what is allowed
and what was given.
"""

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = ["EngineConfig", "GnnConfig", "GNN_FORMATS", "GNN_OPS", "MAX_MEMORY_BITS", "ceil_log2"]


def ceil_log2(n):
    """Smallest ``k`` with ``2**k >= n`` (0 for ``n <= 1``)."""
    return max(0, (int(n) - 1).bit_length())


def _param(default, help, choices=None):
    return field(default=default, metadata={"help": help, "choices": choices})


def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer in {lo}..{hi}, not {value}")


class EngineConfig:
    """Common behaviour of engine configs: hashing, dict form, readback values."""

    #: Short engine name used by the CLI, the manifest and build directories.
    engine: ClassVar[str] = ""
    #: Engine code in the VERSION register (1 = gnn, 2 = cim, 3 = snn).
    engine_code: ClassVar[int] = 0
    #: Hardware version of the engine, (major, minor), in the VERSION register.
    version: ClassVar[tuple] = (1, 0)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"Unknown {cls.engine} parameter(s) {', '.join(unknown)}; "
                             f"allowed: {', '.join(sorted(names))}")
        return cls(**values)

    @property
    def config_hash(self):
        """First 8 hex digits of SHA-256 over the engine name, version and parameters (stable across runs)."""
        text = json.dumps({"engine": self.engine, "version": self.version, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def top_name(self):
        """Verilog top module name; carries the hash so different parameter sets never collide."""
        return f"pimgen_{self.engine}_{self.config_hash}"

    def readback(self):
        """Parameters as (name, integer) pairs for the CFG_* readback registers, in field order.

        Integers, booleans and choices (read back as their index) have a register; other kinds (a float, a tuple of
        per-column values) have none: the CONFIG_HASH register covers them.
        """
        values = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            choices = f.metadata.get("choices")
            if choices is not None:
                values.append((f.name, list(choices).index(v)))
            elif isinstance(v, (bool, int)):
                values.append((f.name, int(v)))
        return values


#: Largest total memory of a generated engine. Beyond it yosys' Verilog (one line per memory word before pimgen strips
#: the zero initial values) and Verilator's model take minutes; 32 Mbit is ~10x an ECP5-85F's block RAM.
MAX_MEMORY_BITS = 1 << 25

GNN_FORMATS = ("int8", "int16")
#: Aggregation ops in the order of their OP register code.
GNN_OPS = ("sum", "mean", "max", "weighted")


@dataclass(frozen=True)
class GnnConfig(EngineConfig):
    """GNN aggregation engine: Y[r, f] = op over the in-edges of row r of X[col, f] (CSR order).

    See docs/gnn.md for the exact arithmetic (the golden model in ``sw_model.gnn`` defines it).
    """

    engine: ClassVar[str] = "gnn"
    engine_code: ClassVar[int] = 1
    version: ClassVar[tuple] = (1, 0)

    lanes: int = _param(8, "features processed per cycle (1..64)")
    format: str = _param("int16", "feature number format", choices=GNN_FORMATS)
    frac_bits: int = _param(None, "fraction bits of the fixed-point features (default: 8 for int16, 4 for int8)")
    acc_width: int = _param(None, "accumulator width in bits (data bits..44; default: data + weight bits + 8)")
    saturate: bool = _param(True, "saturate on overflow (otherwise wrap in two's complement)")
    weight_bits: int = _param(16, "signed edge weight width for the weighted op (2..18)")
    weight_frac_bits: int = _param(None, "fraction bits of edge weights (default: weight bits - 2)")
    recip_bits: int = _param(18, "precision of the reciprocal used by the mean op (8..20)")
    max_nodes: int = _param(4096, "nodes the memories hold (2..65536)")
    max_edges: int = _param(16384, "edges (non-zeros) the memories hold (1..1048576)")
    max_features: int = _param(32, "features per node the memories hold (1..1024)")
    max_degree: int = _param(1023, "largest in-degree the mean op supports (1..65535)")

    def __post_init__(self):
        if not isinstance(self.format, str) or self.format not in GNN_FORMATS:
            raise ValueError(f"format must be one of {', '.join(GNN_FORMATS)}, not {self.format!r}")
        _check_int("lanes", self.lanes, 1, 64)
        data_bits = self.data_bits
        if self.frac_bits is None:
            object.__setattr__(self, "frac_bits", 8 if data_bits == 16 else 4)
        _check_int("frac_bits", self.frac_bits, 0, data_bits - 1)
        _check_int("weight_bits", self.weight_bits, 2, 18)
        if self.weight_frac_bits is None:
            object.__setattr__(self, "weight_frac_bits", self.weight_bits - 2)
        _check_int("weight_frac_bits", self.weight_frac_bits, 0, self.weight_bits - 1)
        if self.acc_width is None:
            object.__setattr__(self, "acc_width", min(44, data_bits + self.weight_bits + 8))
        _check_int("acc_width", self.acc_width, data_bits, 44)
        if not isinstance(self.saturate, bool):
            raise TypeError(f"saturate must be a bool, not {self.saturate!r}")
        _check_int("recip_bits", self.recip_bits, 8, 20)
        _check_int("max_nodes", self.max_nodes, 2, 65536)
        _check_int("max_edges", self.max_edges, 1, 1 << 20)
        _check_int("max_features", self.max_features, 1, 1024)
        _check_int("max_degree", self.max_degree, 1, 65535)
        if self.max_features < self.lanes:
            raise ValueError(f"max_features ({self.max_features}) must be at least lanes ({self.lanes})")
        if self.memory_bits > MAX_MEMORY_BITS:
            raise ValueError(f"The memories of this config would hold {self.memory_bits} bits, more than the "
                             f"{MAX_MEMORY_BITS} (32 Mbit) pimgen generates; lower max_nodes, max_edges or "
                             f"max_features")

    # Derived quantities: the one place widths and depths come from.

    @property
    def data_bits(self):
        """Width of a feature code in bits."""
        return 16 if self.format == "int16" else 8

    @property
    def groups_max(self):
        """Feature groups of ``lanes`` per node row in memory: ceil(max_features / lanes)."""
        return -(-self.max_features // self.lanes)

    @property
    def lane_bits(self):
        """Address bits that select a lane inside a feature word of the memory window."""
        return ceil_log2(self.lanes)

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
        """Bits of all memories: indptr, indices, weights, features and result, and the mean reciprocal ROM."""
        return ((self.max_nodes + 1) * self.edge_bits
                + self.max_edges * (max(self.node_bits, 1) + self.weight_bits)
                + 2 * self.feature_words * self.lanes * self.data_bits
                + (self.max_degree + 1) * (self.recip_width + ceil_log2(self.recip_shift_max + 1)))

    @property
    def recip_width(self):
        """Width of the unsigned reciprocal R[d] <= 2**(recip_bits + 1) (equality once d > 2**(recip_bits + 2))."""
        return self.recip_bits + 2

    @property
    def recip_shift_max(self):
        return self.recip_bits + ceil_log2(self.max_degree)
