"""Host driver of the GNN aggregation engine (simulation or board, through any backend), and its job."""

from dataclasses import dataclass

import numpy as np

from pimgen.errors import InputError, InputTypeError
from pimgen.gnn.config import GnnConfig
from pimgen.gnn.inputs import CsrGraph, check_codes, check_fits, check_op, check_weight_codes
from pimgen.gnn.partition import PARTITION_BY, partition_rows
from .driver import DriverStateError, EngineDriver
from .job import Job

__all__ = ["GnnDriver", "GnnJob"]


@dataclass
class PackedFeatures:
    """Features in degree-aware mixed precision, as the engine stores them (the ``mixed`` format; the layout is
    :mod:`pimgen.gnn.mixed`'s): the packed ``words`` (``[num_words, lanes]`` bytes), each node's ``shifts`` (its
    header) and the class table ``first``/``base`` (8 entries each), all in engine node order."""
    words: np.ndarray
    shifts: np.ndarray
    first: np.ndarray
    base: np.ndarray

    @classmethod
    def from_mixed(cls, mixed):
        """From a :class:`pimgen.gnn.mixed.MixedFeatures`."""
        return cls(np.asarray(mixed.words), np.asarray(mixed.shifts), np.asarray(mixed.plan.first),
                   np.asarray(mixed.plan.base))


@dataclass
class GnnJob(Job):
    """One graph with its features, and the ops to aggregate it with.

    Parameters
    ----------
    graph : CsrGraph
    x : array_like of int, shape (N, F)
        Feature codes of the config's format.
    ops : str or sequence of str
        Ops from :data:`~pimgen.gnn.config.GNN_OPS`, run in order on the loaded graph (one op may be a string).
    weights : array_like of int, shape (nnz,), optional
        Edge weight codes for ``weighted``; defaults to ``graph.weights``.
    name : str
    partition : str
        How the rows are split between the processing elements (:func:`pimgen.gnn.partition.partition_rows`):
        ``"edges"`` (balanced work, the default) or ``"rows"``.
    packed : PackedFeatures, optional
        Format ``mixed`` only (and required there): the features as the engine stores them; ``x`` then holds the
        int16 codes they decode to (what the golden aggregates), and the graph is in the packed features' node order.
    """
    graph: CsrGraph
    x: np.ndarray
    ops: tuple = ("sum",)
    weights: np.ndarray = None
    name: str = "job"
    partition: str = "edges"
    packed: PackedFeatures = None

    def __post_init__(self):
        if not isinstance(self.graph, CsrGraph):
            raise InputTypeError(f"Job graph must be a CsrGraph, not {type(self.graph).__name__}")
        self.x = np.asarray(self.x)
        if isinstance(self.ops, str):
            self.ops = (self.ops,)
        if not isinstance(self.ops, (list, tuple)) or not self.ops:
            raise InputError(f"Job ops must be an op name or a non-empty sequence of them, not {self.ops!r}")
        self.ops = tuple(check_op(op) for op in self.ops)
        repeated = sorted({op for op in self.ops if self.ops.count(op) > 1})
        if repeated:
            raise InputError(f"Job ops must not repeat (each op's result is kept once), not {', '.join(repeated)} "
                             "twice")
        if self.weights is None:
            self.weights = self.graph.weights
        if self.weights is not None:
            self.weights = np.asarray(self.weights)
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"Job name must be a non-empty string, not {self.name!r}")
        if self.partition not in PARTITION_BY:
            raise InputError(f"Job partition must be one of {', '.join(PARTITION_BY)}, not {self.partition!r}")

    @property
    def runs(self):
        return self.ops

    def validate(self, config):
        """Every check the engine's inputs need (codes, sizes, limits, weights), before anything is loaded."""
        check_codes(self.x, config)
        if self.x.shape[0] != self.graph.num_nodes:
            raise InputError(f"Job {self.name!r}: features have {self.x.shape[0]} rows, "
                             f"the graph has {self.graph.num_nodes} nodes")
        for op in self.ops:
            check_fits(config, self.graph, self.x.shape[1], op)
        if "weighted" in self.ops and self.weights is None:
            raise InputError(f"Job {self.name!r}: op 'weighted' needs edge weights")
        if config.is_mixed:
            self._validate_packed(config)
        elif self.packed is not None:
            raise InputError(f"Job {self.name!r}: packed features are for format mixed, not {config.format}")
        if self.weights is not None:
            check_weight_codes(self.weights, config)
            if self.weights.shape != (self.graph.nnz,):
                raise InputError(f"Job {self.name!r}: weights need one entry per edge ({self.graph.nnz}), "
                                 f"not shape {self.weights.shape}")

    def _validate_packed(self, config):
        p = self.packed
        if not isinstance(p, PackedFeatures):
            raise InputError(f"Job {self.name!r}: format mixed needs packed features (a PackedFeatures), "
                             f"not {type(p).__name__}")
        words = np.asarray(p.words)
        if words.ndim != 2 or words.shape[1] != config.lanes or words.shape[0] > config.feature_words:
            raise InputError(f"Job {self.name!r}: packed words must be at most {config.feature_words} x "
                             f"{config.lanes} bytes, not shape {words.shape}")
        if np.asarray(p.shifts).shape != (self.graph.num_nodes,) or np.asarray(p.first).shape != (8,) \
                or np.asarray(p.base).shape != (8,):
            raise InputError(f"Job {self.name!r}: packed features need one shift per node and 8 class entries")

    def to_arrays(self):
        arrays = {"indptr": self.graph.indptr, "indices": self.graph.indices,
                  "x": np.asarray(self.x, dtype=np.int64), "ops": np.array(list(self.ops)),
                  "name": np.array(self.name), "partition": np.array(self.partition)}
        if self.weights is not None:
            arrays["weights"] = np.asarray(self.weights, dtype=np.int64)
        if self.packed is not None:
            for name in ("words", "shifts", "first", "base"):
                arrays[f"packed_{name}"] = np.asarray(getattr(self.packed, name))
        return arrays

    @classmethod
    def from_arrays(cls, arrays):
        weights = arrays["weights"] if "weights" in arrays else None
        packed = None
        if "packed_words" in arrays:
            packed = PackedFeatures(*(arrays[f"packed_{name}"] for name in ("words", "shifts", "first", "base")))
        return cls(CsrGraph(arrays["indptr"], arrays["indices"]), arrays["x"],
                   ops=tuple(str(o) for o in arrays["ops"]), weights=weights, name=str(arrays["name"]),
                   partition=str(arrays["partition"]), packed=packed)


class GnnDriver(EngineDriver):
    """Loads a CSR graph and features, runs aggregations, reads results.

    As a job loop (the same on every backend)::

        drv = GnnDriver(backend, manifest)
        [result] = await drv.run_jobs([GnnJob(graph, x_codes, ops=("sum", "max"))])
        y = result.runs["sum"].outputs["y"]

    or step by step::

        await drv.check_identity()
        await drv.load_graph(graph)
        await drv.load_features(x_codes)
        counters = await drv.run_op("sum")
        y = await drv.read_result()
    """

    engine = "gnn"
    config_cls = GnnConfig
    job_cls = GnnJob
    #: A run that takes this many times its item count (plus the fixed part) is hung, not slow.
    TIMEOUT_MARGIN = 4
    TIMEOUT_FIXED = 1000

    def __init__(self, backend, manifest, progress=None):
        super().__init__(backend, manifest, progress)
        self.graph = None
        self.weights_loaded = False
        self.num_features = None
        self.feature_rows = None
        self.result_op = None          # op of the last completed run on the loaded inputs, None if there is none
        self._next_op = None           # op of the run whose registers are set
        self.last_partition = None     # the Partition of the rows in the last run

    # Step by step

    async def load_graph(self, graph, weights=None):
        """Write ``indptr``, ``indices`` and edge weight codes (``weights``, else ``graph.weights``, if any).

        A new graph invalidates the loaded features unless they have one row per node of it, and any result; the
        weighted op needs weights loaded with this graph.
        """
        if not isinstance(graph, CsrGraph):
            raise InputTypeError(f"Graph must be a CsrGraph, not {graph!r}")
        check_fits(self.config, graph, 1, "sum")
        if weights is None:
            weights = graph.weights
        if weights is not None:
            weights = np.asarray(weights)
            if weights.shape != (graph.nnz,):
                raise InputError(f"Weights must have one entry per edge ({graph.nnz}), not shape {weights.shape}")
            check_weight_codes(weights, self.config)
        self.result_op = None
        await self.write_window("indptr", graph.indptr, index=np.arange(graph.num_nodes + 1))
        if graph.nnz:
            await self.write_window("indices", graph.indices, index=np.arange(graph.nnz))
        if weights is not None and graph.nnz:
            await self.write_window("weights", weights, index=np.arange(graph.nnz))
        self.graph = graph
        self.weights_loaded = weights is not None
        if self.feature_rows is not None and self.feature_rows != graph.num_nodes:
            self.num_features = self.feature_rows = None

    async def load_features(self, x):
        """Write feature codes ``x[N, F]`` (integers within the format, one row per node of the loaded graph)."""
        x = check_codes(x, self.config)
        if self.graph is not None and x.shape[0] != self.graph.num_nodes:
            raise InputError(f"Features have {x.shape[0]} rows but the graph has {self.graph.num_nodes} nodes")
        if not 1 <= x.shape[1] <= self.config.max_features:
            raise InputError(f"Features per node must be in 1..max_features = 1..{self.config.max_features}, "
                             f"not {x.shape[1]}")
        if x.shape[0] > self.config.max_nodes:
            raise InputError(f"Features have {x.shape[0]} rows, more than max_nodes = {self.config.max_nodes}")
        self.result_op = None
        n, f = x.shape
        await self.write_window("features", x, node=np.arange(n)[:, None], feature=np.arange(f)[None, :])
        self.num_features = f
        self.feature_rows = n

    async def run_op(self, op, timeout_cycles=None, partition="edges"):
        """Aggregate the loaded graph and features with ``op``, the rows split between the processing elements by
        ``partition`` (``"edges"`` or ``"rows"``); returns the counters."""
        check_op(op)
        if self.graph is None or self.num_features is None:
            raise DriverStateError("Load a graph and features (one row per node) before running")
        if self.feature_rows != self.graph.num_nodes:
            raise DriverStateError(f"The loaded features have {self.feature_rows} rows, the graph "
                                   f"{self.graph.num_nodes} nodes: load features for this graph")
        if op == "weighted" and not self.weights_loaded:
            raise DriverStateError("The weighted op needs edge weights: pass weights to load_graph "
                                   "(or a weighted graph)")
        check_fits(self.config, self.graph, self.num_features, op)
        await self._set_run(self.graph, self.num_features, op, partition)
        if timeout_cycles is None:
            timeout_cycles = self._timeout(self.graph, self.num_features)
        return await self.run(timeout_cycles)

    async def _set_run(self, graph, num_features, op, partition):
        """The registers of one run, the rows split between the processing elements; the result of the last run is
        gone from here on."""
        split = partition_rows(graph, self.config.pes, by=partition)
        self.result_op = None
        self._next_op = op
        self.last_partition = split
        await self.write_reg("NUM_NODES", value=graph.num_nodes)
        await self.write_reg("NUM_FEATURES", value=num_features)
        await self.write_reg("OP", code=op)
        for p in range(self.config.pes):
            await self.write_reg(f"PE_FIRST[{p}]", row=int(split.starts[p]))

    async def finish_run(self, timeout_cycles=EngineDriver.DEFAULT_TIMEOUT_CYCLES):
        counters = await super().finish_run(timeout_cycles)
        self.result_op = self._next_op
        return counters

    async def read_result(self):
        """Result codes ``Y[N, F]`` (int64) of the last completed run on the loaded graph and features."""
        if self.result_op is None:
            raise DriverStateError("No result to read: load a graph and features and run an op first (a new load "
                                   "discards the last result)")
        n, f = self.graph.num_nodes, self.num_features
        return await self.read_window("result", node=np.arange(n)[:, None], feature=np.arange(f)[None, :])

    def _timeout(self, graph, num_features):
        """Cycles a run may take: :data:`TIMEOUT_MARGIN` times the items it issues (one per edge or empty row and
        feature group, docs/gnn.md), plus :data:`TIMEOUT_FIXED` for start-up and drain."""
        groups = -(-num_features // self.config.lanes)
        return self.TIMEOUT_FIXED + self.TIMEOUT_MARGIN * groups * (graph.nnz + graph.num_nodes)

    # The job loop's steps

    async def load(self, job):
        await self.load_graph(job.graph, weights=job.weights)
        if self.config.is_mixed:
            await self.load_packed(job.packed, job.x.shape[1])
        else:
            await self.load_features(job.x)

    async def load_packed(self, packed, num_features):
        """Write mixed-precision features (format ``mixed``): the words, each node's shift, the class table."""
        words = np.asarray(packed.words, dtype=np.int64)
        n = len(packed.shifts)
        if self.graph is not None and n != self.graph.num_nodes:
            raise InputError(f"Packed features have {n} nodes but the graph has {self.graph.num_nodes}")
        self.result_op = None
        if words.size:
            await self.write_window("words", words, word=np.arange(words.shape[0])[:, None],
                                    lane=np.arange(words.shape[1])[None, :])
        await self.write_window("headers", np.asarray(packed.shifts, dtype=np.int64), node=np.arange(n))
        for c in range(8):
            await self.write_reg(f"MP_FIRST[{c}]", node=int(packed.first[c]))
            await self.write_reg(f"MP_BASE[{c}]", word=int(packed.base[c]))
        self.num_features = num_features
        self.feature_rows = n

    async def prepare(self, job, run):
        await self._set_run(job.graph, job.x.shape[1], run, job.partition)

    def timeout_cycles(self, job, run):
        return self._timeout(job.graph, job.x.shape[1])

    async def read_outputs(self, job, run):
        return {"y": await self.read_result()}
