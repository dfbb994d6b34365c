"""Host driver of the GNN aggregation engine (simulation or board, through any backend)."""

import numpy as np

from pimgen.config import GNN_OPS, GnnConfig
from sw_model.gnn import check_codes, check_fits, check_weight_codes
from sw_model.graphs import CsrGraph
from .driver import EngineDriver

__all__ = ["GnnDriver"]


class GnnDriver(EngineDriver):
    """Loads a CSR graph and features, runs an aggregation, reads the result.

    Typical use::

        drv = GnnDriver(backend, manifest)
        await drv.check_identity()
        await drv.load_graph(graph)
        await drv.load_features(x_codes)
        counters = await drv.run_op("sum")
        y = await drv.read_result()
    """

    engine = "gnn"

    def __init__(self, backend, manifest):
        super().__init__(backend, manifest)
        self.config = GnnConfig.from_dict(self.manifest.config)
        self.graph = None
        self.weights_loaded = False
        self.num_features = None
        self.feature_rows = None

    def feature_slots(self, num_nodes, num_features, window="features"):
        """Where ``X[n, f]`` lives, for all ``n < num_nodes``, ``f < num_features`` (row-major): the offset of its bus
        word in the window and its element index inside that word, from the window's layout in the manifest."""
        info = self.manifest.window(window)
        n = np.arange(num_nodes)[:, None]
        f = np.arange(num_features)[None, :]
        lanes, per_word = info.layout["lanes"], info.elements_per_word
        lane = f % lanes
        offsets = ((n * info.layout["row_words"] + f // lanes) << info.slot_bits) + lane // per_word
        elements = np.broadcast_to(lane % per_word, offsets.shape)
        return offsets.ravel(), elements.ravel()

    async def load_graph(self, graph, weights=None):
        """Write ``indptr``, ``indices`` and edge weight codes (``weights``, else ``graph.weights``, if any).

        A new graph invalidates the loaded features unless they have one row per node of it; the weighted op needs
        weights loaded with this graph.
        """
        if not isinstance(graph, CsrGraph):
            raise TypeError(f"Graph must be a CsrGraph, not {graph!r}")
        check_fits(self.config, graph, 1, "sum")
        if weights is None:
            weights = graph.weights
        if weights is not None:
            weights = np.asarray(weights)
            if weights.shape != (graph.nnz,):
                raise ValueError(f"Weights must have one entry per edge ({graph.nnz}), not shape {weights.shape}")
            check_weight_codes(weights, self.config)
        await self.backend.write_burst(self.manifest.window("indptr").base, [int(v) for v in graph.indptr])
        await self.backend.write_burst(self.manifest.window("indices").base, [int(v) for v in graph.indices])
        if weights is not None:
            window = self.manifest.window("weights")
            await self.backend.write_burst(window.base, [window.encode(int(v)) for v in weights])
        self.graph = graph
        self.weights_loaded = weights is not None
        if self.feature_rows is not None and self.feature_rows != graph.num_nodes:
            self.num_features = self.feature_rows = None

    async def load_features(self, x):
        """Write feature codes ``x[N, F]`` (integers within the format, one row per node of the loaded graph)."""
        x = np.asarray(x)
        check_codes(x, self.config)
        if self.graph is not None and x.shape[0] != self.graph.num_nodes:
            raise ValueError(f"Features have {x.shape[0]} rows but the graph has {self.graph.num_nodes} nodes")
        if not 1 <= x.shape[1] <= self.config.max_features:
            raise ValueError(f"Features per node must be in 1..max_features = 1..{self.config.max_features}, "
                             f"not {x.shape[1]}")
        if x.shape[0] > self.config.max_nodes:
            raise ValueError(f"Features have {x.shape[0]} rows, more than max_nodes = {self.config.max_nodes}")
        await self.write_elements("features", *self.feature_slots(*x.shape), x)
        self.num_features = x.shape[1]
        self.feature_rows = x.shape[0]

    async def run_op(self, op, timeout_cycles=None):
        """Aggregate the loaded graph and features with ``op``; returns the counters."""
        if op not in GNN_OPS:
            raise ValueError(f"Op must be one of {', '.join(GNN_OPS)}, not {op!r}")
        if self.graph is None or self.num_features is None:
            raise RuntimeError("Load a graph and features (one row per node) before running")
        if self.feature_rows != self.graph.num_nodes:
            raise RuntimeError(f"The loaded features have {self.feature_rows} rows, the graph "
                               f"{self.graph.num_nodes} nodes: load features for this graph")
        if op == "weighted" and not self.weights_loaded:
            raise RuntimeError("The weighted op needs edge weights: pass weights to load_graph (or a weighted graph)")
        check_fits(self.config, self.graph, self.num_features, op)
        await self.write_reg("NUM_NODES", value=self.graph.num_nodes)
        await self.write_reg("NUM_FEATURES", value=self.num_features)
        await self.write_reg("OP", code=GNN_OPS.index(op))
        if timeout_cycles is None:
            groups = -(-self.num_features // self.config.lanes)
            timeout_cycles = 1000 + 4 * groups * (self.graph.nnz + self.graph.num_nodes)
        return await self.run(timeout_cycles)

    async def read_result(self):
        """Result codes ``Y[N, F]`` of the last run (int64)."""
        n, f = self.graph.num_nodes, self.num_features
        values = await self.read_elements("result", *self.feature_slots(n, f, window="result"))
        return values.reshape(n, f)
