"""Real graphs for the GNN engine: Cora and CiteSeer (Planetoid split), loaded from the package folder.

The ``.npz`` files in ``sw_model/datasets/`` are copies of the Planetoid data release (Yang, Cohen, Salakhutdinov,
ICML 2016; MIT license); see ``sw_model/datasets/README.md`` for the source, the license and the arrays.

This module imports only NumPy, SciPy and :mod:`sw_model.graphs`.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse

from .graphs import CsrGraph

__all__ = ["DATASETS", "Dataset", "load_dataset", "project_features"]

#: Names accepted by :func:`load_dataset`.
DATASETS = ("cora", "citeseer")

_FOLDER = Path(__file__).resolve().parent / "datasets"


@dataclass(frozen=True, eq=False)
class Dataset:
    """One citation graph with node features, labels and the standard split.

    Attributes
    ----------
    name : str
        ``"cora"`` or ``"citeseer"``.
    graph : CsrGraph
        Symmetric adjacency without self loops (columns sorted within a row), unweighted.
    features : scipy.sparse.csr_matrix of float32, shape (N, F_in)
        Binary bag-of-words features.
    labels : numpy.ndarray of int64, shape (N,)
        Class per node, -1 where a node has no label (15 CiteSeer nodes).
    train_mask, val_mask, test_mask : numpy.ndarray of bool, shape (N,)
        Standard Planetoid split (train = first 20 nodes of each class).
    num_classes : int
    """

    name: str
    graph: CsrGraph
    features: scipy.sparse.csr_matrix
    labels: np.ndarray
    train_mask: np.ndarray
    val_mask: np.ndarray
    test_mask: np.ndarray
    num_classes: int

    @property
    def num_nodes(self):
        return self.graph.num_nodes


def load_dataset(name):
    """Load ``"cora"`` or ``"citeseer"`` from the package folder.

    Parameters
    ----------
    name : str
        One of :data:`DATASETS`.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`DATASETS`.
    """
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {name!r}")
    with np.load(_FOLDER / f"{name}.npz") as z:
        arrays = {key: z[key] for key in z.files}
    graph = CsrGraph(arrays["indptr"], arrays["indices"])
    shape = tuple(int(v) for v in arrays["x_shape"])
    features = scipy.sparse.csr_matrix(
        (arrays["x_data"].astype(np.float32), arrays["x_indices"], arrays["x_indptr"]), shape=shape)
    labels = arrays["y"].astype(np.int64)
    return Dataset(name=name, graph=graph, features=features, labels=labels,
                   train_mask=arrays["train_mask"].astype(bool), val_mask=arrays["val_mask"].astype(bool),
                   test_mask=arrays["test_mask"].astype(bool), num_classes=int(labels.max()) + 1)


def project_features(features, num_features, seed):
    """Project features onto ``num_features`` dimensions with a seeded Gaussian matrix, scaled to unit variance.

    Gives small dense float64 workloads from the bag-of-words features (for example 16 features per node), ready for
    :func:`sw_model.gnn.quantize_features`.

    Parameters
    ----------
    features : scipy.sparse matrix or numpy.ndarray, shape (N, F_in)
    num_features : int
        Output width (>= 1).
    seed : int
        Seed of ``numpy.random.default_rng`` for the projection matrix.

    Returns
    -------
    numpy.ndarray of float64, shape (N, num_features)
        Zero rows stay zero; the whole array has standard deviation 1 (unless it is all zero).
    """
    if isinstance(num_features, bool) or not isinstance(num_features, (int, np.integer)):
        raise TypeError(f"num_features must be an integer, not {num_features!r}")
    if num_features < 1:
        raise ValueError(f"num_features must be at least 1, not {num_features}")
    rng = np.random.default_rng(seed)
    proj = rng.standard_normal((features.shape[1], int(num_features)))
    out = np.asarray(features @ proj, dtype=np.float64)
    std = out.std()
    return out / std if std > 0 else out
