"""GNN workloads as users give them: a shipped dataset, a graph file, or a random graph; validated before any build.

A :class:`Workload` says where each of its parts came from (a file, a dataset projection, GCN normalisation, random
numbers), and the run report prints it, so that a run never substitutes data silently.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .graph_files import load_graph_file
from .inputs import CsrGraph

__all__ = ["Workload", "make_workload"]

@dataclass
class Workload:
    """A graph, its feature codes and (for ``weighted``) edge weight codes, with where each came from."""
    name: str
    graph: CsrGraph
    x: np.ndarray
    weights: np.ndarray = None
    sources: dict = field(default_factory=dict)   # part -> where it came from, for the report


def make_workload(config, *, dataset=None, graph_file=None, random_nodes=None, features=16, self_loops=False,
                  seed=0, need_weights=False):
    """Build and validate a workload from a shipped dataset, an .npz file or a random graph.

    Parameters
    ----------
    config : GnnConfig
    dataset, graph_file, random_nodes
        At most one: a dataset name, a graph file (:func:`pimgen.gnn.graph_files.load_graph_file`: pimgen's .npz,
        a ``scipy.sparse.save_npz`` matrix or an ``edge_index``), or a node count for a random power-law graph
        (default: the Cora dataset).
    features : int
        Features per node for datasets and random graphs (a file's ``x`` wins).
    self_loops : bool
        Add a self loop to every node.
    seed : int
        Seed of the feature projection and the random graph (non-negative).
    need_weights : bool
        The weighted op will run: take the file's ``weights``, else GCN normalisation weights.
    """
    from sw_model.datasets import DATASETS, load_dataset, project_features
    from sw_model.gnn import gcn_norm_weights, quantize_features
    from sw_model.graphs import power_law_graph

    if isinstance(features, bool) or not isinstance(features, int) or features < 1:
        raise InputError(f"--features must be a positive integer, not {features!r}")

    def check_features():                       # before features are made: a huge F would exhaust memory
        if features > config.max_features:
            raise InputError(f"--features ({features}) must be at most max_features (--max-features) = "
                             f"{config.max_features}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed must be a non-negative integer, not {seed!r}")
    rng = np.random.default_rng(seed)
    x = weights = None
    sources = {}
    if graph_file is not None:
        graph, x, weights, kind = load_graph_file(graph_file)
        name = Path(graph_file).stem
        sources["graph"] = f"file {graph_file} ({kind})"
        if x is not None:
            sources["features"] = f"file {graph_file} (array x)"
        if weights is not None:
            sources["weights"] = f"file {graph_file} ({'matrix values' if kind == 'scipy' else 'array weights'})"
    elif random_nodes is not None:
        if isinstance(random_nodes, bool) or not isinstance(random_nodes, int) or \
                not 2 <= random_nodes <= config.max_nodes:
            raise InputError(f"--random must be in 2..max_nodes = 2..{config.max_nodes} nodes, not {random_nodes}")
        graph = power_law_graph(random_nodes, 4.0, seed=seed)
        name = f"random{random_nodes}"
        sources["graph"] = f"random power-law graph, seed {seed}"
    else:
        dataset = dataset or "cora"
        if dataset not in DATASETS:
            raise InputError(f"Dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
        check_features()
        ds = load_dataset(dataset)
        graph = ds.graph
        name = dataset
        x = quantize_features(project_features(ds.features, features, seed=seed), config)
        sources["graph"] = f"dataset {dataset}"
        sources["features"] = f"dataset {dataset}, projected to {features} features (seed {seed}) and quantised"
    if not need_weights:
        weights = None                   # only the weighted op reads edge weights
        sources.pop("weights", None)
    if self_loops:
        if weights is not None:
            raise InputError("--self-loops cannot add weights for the new loops: put the loops and their weights "
                             "in the graph file instead")
        graph = graph.with_self_loops()
        name += "+loops"
        sources["graph"] += ", self loops added"
    if x is None:
        check_features()
        x = quantize_features(rng.standard_normal((graph.num_nodes, features)), config)
        sources["features"] = f"random normal, {features} per node (seed {seed}), quantised"
    if need_weights and weights is None:
        try:
            weights = gcn_norm_weights(graph, config)
        except ValueError as exc:         # a source node without in-edges: the user's graph, not a bug
            raise InputError(f"--op weighted without weights in the graph: {exc}") from None
        sources["weights"] = "GCN normalisation 1/sqrt(deg(src) * deg(dst))"
    return Workload(name=name, graph=graph, x=np.asarray(x), weights=weights, sources=sources)
