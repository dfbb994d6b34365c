"""Two-layer GCN (Kipf & Welling, ICLR 2017) for the hybrid path: X·W on the host, each aggregation ``Â h`` pluggable.

The model is ``H1 = ReLU(Â X W1 + b1)``, ``logits = Â H1 W2 + b2`` with ``Â = D^-1/2 (A + I) D^-1/2`` (``D`` the
in-degree of ``A + I``, the same graph and normalisation as :func:`sw_model.gnn.gcn_norm_weights` on
``graph.with_self_loops()``). Features are row-normalised first (each row divided by its sum; all-zero rows stay
zero), as in Kipf's preprocessing.

- :func:`train_gcn` trains in float64 with NumPy and scipy.sparse (full-batch Adam, softmax cross-entropy on the
  train mask, dropout on the input features and on ``H1``, L2 weight decay on ``W1``), deterministic for a seed.
- :func:`load_or_train` keeps trained parameters in an ``.npz`` cache keyed by dataset (name and contents),
  hyperparameters and :data:`CACHE_VERSION`.
- :func:`gcn_forward` runs inference with an ``aggregate(layer, h) -> Â h`` callable; the products with ``W``, the
  biases and the ReLU stay on the host in float64. Aggregators: :func:`float_aggregator` (exact, scipy.sparse) and
  :func:`quantized_aggregator` (the engine's ``weighted`` op on fixed-point codes: the golden
  :func:`sw_model.gnn.aggregate` by default, or any function with its signature, such as the RTL driver).

Per-layer scaling of the fixed-point path (:func:`encode_features` / :func:`decode_features`): the engine's
``frac_bits`` is fixed by the config, so each aggregation input ``h`` is multiplied on the host by ``2**shift``
before it is quantised with ``config.frac_bits``, and the result codes are dequantised and multiplied by
``2**-shift``. ``shift`` is the largest integer with ``max|h| * 2**(shift + frac_bits + headroom_bits) <= 2**(W-1) - 1``
(``W`` the code width), so the input never clips and uses the top of the code range; ``headroom_bits`` leaves room
for sums that grow (see :func:`output_headroom_bits`). Scaling by a power of two is exact in float64 and the
aggregation is linear, so the scale costs nothing: what differs from float64 is only the rounding of ``h`` to codes,
of the edge weights, and of the engine's output (and saturation, should an output outgrow the range; counted).
Because the shift absorbs it, ``config.frac_bits`` does not change the result.

Mixed-precision features (:func:`mixed_aggregator`, the "mixed" codec): each node's features are stored with a width
of 1..8 bits chosen by its in-degree and a per-node power-of-two scale, in the packed format of
:mod:`pimgen.gnn.mixed`; the engine decodes them to its int16 codes and aggregates as usual. On the host: the nodes are
relabelled by width (:func:`pimgen.gnn.mixed.permute_graph`), ``h * 2**shift`` is quantised and packed
(:func:`encode_mixed`), decoded (:func:`pimgen.gnn.mixed.decode_mixed`) and aggregated by the int16 golden (together
:func:`golden_mixed_engine`, which the RTL path replaces), and the result is un-permuted and decoded as above.

This module imports only NumPy, SciPy, :mod:`sw_model` and the plain-Python :mod:`pimgen.gnn.config` and
:mod:`pimgen.gnn.mixed` (no design code).
"""

import dataclasses
import hashlib
import inspect
import json
import math
import os
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import scipy.sparse

from pimgen.gnn.config import GnnConfig
from pimgen.gnn.mixed import (DEFAULT_THRESHOLDS, DEFAULT_WIDTHS, decode_mixed, edge_order, permute_graph,
                              plan_mixed, quantize_mixed)

from .datasets import Dataset, load_dataset
from .gnn import aggregate as golden_aggregate
from .gnn import dequantize, format_range, gcn_norm_weights, quantize

__all__ = [
    "CACHE_VERSION", "QUANTIZED_FORMATS", "GcnParams",
    "train_gcn", "load_or_train", "default_cache_dir", "cache_path",
    "preprocess_features", "gcn_graph", "normalized_adjacency",
    "gcn_forward", "float_aggregator", "quantized_aggregator", "QuantizedAggregator",
    "feature_shift", "encode_features", "decode_features", "output_headroom_bits",
    "accuracy",
    "mixed_feature_shift", "encode_mixed", "golden_mixed_engine", "mixed_aggregator", "MixedAggregator",
]

#: Part of every cache key: bump it whenever training (initialisation, optimiser, preprocessing) changes, so that
#: old cache files are not returned for the new code.
CACHE_VERSION = 1


_ADAM_BETAS = (0.9, 0.999)
_ADAM_EPS = 1e-8
_PARAM_NAMES = ("w1", "b1", "w2", "b2")


# Parameters.

@dataclass(frozen=True, eq=False)
class GcnParams:
    """Trained weights of the two-layer GCN.

    Attributes
    ----------
    w1 : numpy.ndarray of float64, shape (F_in, hidden)
    b1 : numpy.ndarray of float64, shape (hidden,)
    w2 : numpy.ndarray of float64, shape (hidden, C)
    b2 : numpy.ndarray of float64, shape (C,)
    dataset : str
        Name of the dataset the parameters were trained on.
    hyper : dict
        The hyperparameters of :func:`train_gcn` that produced them (all of them, defaults included).
    train_seconds : float
        Wall time of the training (0.0 when unknown); not part of any comparison.
    """

    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    dataset: str
    hyper: dict = field(default_factory=dict)
    train_seconds: float = 0.0

    def __post_init__(self):
        for name in _PARAM_NAMES:
            arr = np.array(getattr(self, name), dtype=np.float64, copy=True)
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if self.w1.ndim != 2 or self.w2.ndim != 2 or self.b1.ndim != 1 or self.b2.ndim != 1:
            raise ValueError("GcnParams needs w1, w2 as 2-D and b1, b2 as 1-D arrays")
        hidden, classes = self.w1.shape[1], self.w2.shape[1]
        if self.b1.shape != (hidden,) or self.w2.shape[0] != hidden or self.b2.shape != (classes,):
            raise ValueError(f"GcnParams shapes disagree: w1 {self.w1.shape}, b1 {self.b1.shape}, "
                             f"w2 {self.w2.shape}, b2 {self.b2.shape}")
        object.__setattr__(self, "hyper", dict(self.hyper))

    @property
    def hidden(self):
        return self.w1.shape[1]

    @property
    def num_classes(self):
        return self.w2.shape[1]

    def arrays(self):
        """The four arrays by name (``w1``, ``b1``, ``w2``, ``b2``)."""
        return {name: getattr(self, name) for name in _PARAM_NAMES}


# Graph and features.

def _dataset(dataset):
    if isinstance(dataset, str):
        return load_dataset(dataset)
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a Dataset or a dataset name, not {type(dataset).__name__}")
    return dataset


def preprocess_features(dataset):
    """Row-normalised input features ``X / rowsum(X)`` as scipy.sparse CSR float64 (all-zero rows stay zero)."""
    x = scipy.sparse.csr_matrix(_dataset(dataset).features, dtype=np.float64)
    rowsum = np.asarray(x.sum(axis=1)).ravel()
    inv = np.divide(1.0, rowsum, out=np.zeros_like(rowsum), where=rowsum != 0)
    return scipy.sparse.csr_matrix(scipy.sparse.diags(inv) @ x)


def gcn_graph(dataset):
    """The graph every aggregation runs on: the dataset's graph with a self loop per node (``A + I``)."""
    return _dataset(dataset).graph.with_self_loops()


def normalized_adjacency(dataset):
    """``Â = D^-1/2 (A + I) D^-1/2`` as a scipy.sparse CSR float64 matrix (rows = destinations).

    Edge ``e`` from node ``c`` into row ``r`` of :func:`gcn_graph` gets ``1 / sqrt(deg(r) * deg(c))`` with ``deg``
    the in-degree (self loop included), the float64 value that :func:`sw_model.gnn.gcn_norm_weights` quantises.
    """
    graph = gcn_graph(dataset)
    deg = graph.in_degree.astype(np.float64)
    w = 1.0 / np.sqrt(deg[graph.edge_rows()] * deg[graph.indices])
    n = graph.num_nodes
    return scipy.sparse.csr_matrix((w, graph.indices.copy(), graph.indptr.copy()), shape=(n, n))


# Training.

def _check_int(name, value, lo=None):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, not {value!r}")
    if lo is not None and value < lo:
        raise ValueError(f"{name} must be at least {lo}, not {value}")
    return int(value)


def _check_float(name, value, lo, hi, lo_open=False, hi_open=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, not {value!r}")
    value = float(value)
    below = value <= lo if lo_open else value < lo
    above = value >= hi if hi_open else value > hi
    if not math.isfinite(value) or below or above:
        interval = f"{'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
        raise ValueError(f"{name} must be in {interval}, not {value}")
    return value


def _check_hyper(hidden, seed, epochs, lr, weight_decay, dropout):
    return dict(hidden=_check_int("hidden", hidden, 1), seed=_check_int("seed", seed, 0),
                epochs=_check_int("epochs", epochs, 0),
                lr=_check_float("lr", lr, 0.0, math.inf, lo_open=True, hi_open=True),
                weight_decay=_check_float("weight_decay", weight_decay, 0.0, math.inf, hi_open=True),
                dropout=_check_float("dropout", dropout, 0.0, 1.0, hi_open=True))


def _glorot(rng, fan_in, fan_out):
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def train_gcn(dataset, hidden=16, seed=0, epochs=200, lr=0.01, weight_decay=5e-4, dropout=0.5):
    """Train the two-layer GCN in float64, full batch, deterministic for a seed.

    Kipf & Welling's recipe: Glorot-uniform weights and zero biases, Adam (betas 0.9, 0.999, eps 1e-8), softmax
    cross-entropy averaged over the train mask, ``weight_decay * W1`` added to ``W1``'s gradient (the gradient of
    ``weight_decay / 2 * ||W1||^2``), inverted dropout on the input features (on their stored non-zeros) and on
    ``H1``, a fixed number of epochs (no early stopping; the parameters after the last epoch are returned). One
    ``numpy.random.default_rng(seed)`` draws the initial weights and then every dropout mask.

    Parameters
    ----------
    dataset : Dataset or str
    hidden : int
        Width of the hidden layer (>= 1).
    seed : int
        Seed (>= 0).
    epochs : int
        Full-batch steps (>= 0).
    lr : float
        Adam step size (> 0).
    weight_decay : float
        L2 coefficient on ``W1`` (>= 0).
    dropout : float
        Drop probability in ``[0, 1)``.

    Returns
    -------
    GcnParams

    Raises
    ------
    TypeError
        If a hyperparameter has the wrong type or ``dataset`` is neither a Dataset nor a name.
    ValueError
        If a hyperparameter is out of range or the dataset name is unknown.
    """
    hyper = _check_hyper(hidden, seed, epochs, lr, weight_decay, dropout)
    ds = _dataset(dataset)
    start = time.perf_counter()
    a_hat = normalized_adjacency(ds)
    a_hat_t = scipy.sparse.csr_matrix(a_hat.T)
    x = preprocess_features(ds)
    train = np.flatnonzero(ds.train_mask)
    onehot = np.zeros((train.size, ds.num_classes))
    onehot[np.arange(train.size), ds.labels[train]] = 1.0
    keep = 1.0 - hyper["dropout"]

    rng = np.random.default_rng(hyper["seed"])
    params = {"w1": _glorot(rng, x.shape[1], hyper["hidden"]), "b1": np.zeros(hyper["hidden"]),
              "w2": _glorot(rng, hyper["hidden"], ds.num_classes), "b2": np.zeros(ds.num_classes)}
    moment1 = {k: np.zeros_like(v) for k, v in params.items()}
    moment2 = {k: np.zeros_like(v) for k, v in params.items()}
    beta1, beta2 = _ADAM_BETAS

    for step in range(1, hyper["epochs"] + 1):
        # Forward with dropout.
        x_mask = (rng.random(x.nnz) < keep) / keep
        x_drop = scipy.sparse.csr_matrix((x.data * x_mask, x.indices, x.indptr), shape=x.shape)
        z1 = a_hat @ (x_drop @ params["w1"]) + params["b1"]
        h1 = np.maximum(z1, 0.0)
        h_mask = (rng.random(h1.shape) < keep) / keep
        h1_drop = h1 * h_mask
        z2 = a_hat @ (h1_drop @ params["w2"]) + params["b2"]
        # Backward.
        g2 = np.zeros_like(z2)
        g2[train] = (_softmax(z2[train]) - onehot) / train.size
        g_u2 = a_hat_t @ g2
        g_h1 = (g_u2 @ params["w2"].T) * h_mask * (z1 > 0)
        g_u1 = a_hat_t @ g_h1
        grads = {"w1": x_drop.T @ g_u1 + hyper["weight_decay"] * params["w1"], "b1": g_h1.sum(axis=0),
                 "w2": h1_drop.T @ g_u2, "b2": g2.sum(axis=0)}
        # Adam.
        for k, g in grads.items():
            moment1[k] = beta1 * moment1[k] + (1.0 - beta1) * g
            moment2[k] = beta2 * moment2[k] + (1.0 - beta2) * g * g
            m_hat = moment1[k] / (1.0 - beta1 ** step)
            v_hat = moment2[k] / (1.0 - beta2 ** step)
            params[k] = params[k] - hyper["lr"] * m_hat / (np.sqrt(v_hat) + _ADAM_EPS)

    return GcnParams(**params, dataset=ds.name, hyper=hyper, train_seconds=time.perf_counter() - start)


# Cache.

def default_cache_dir():
    """``$PIMGEN_CACHE_DIR/gcn`` when that variable is set and not empty, else ``~/.cache/pimgen/gcn``."""
    root = os.environ.get("PIMGEN_CACHE_DIR")
    return Path(root) / "gcn" if root else Path.home() / ".cache" / "pimgen" / "gcn"


#: The hyperparameters of :func:`train_gcn` with their defaults (everything after ``dataset``).
_HYPER_DEFAULTS = {name: p.default for name, p in inspect.signature(train_gcn).parameters.items()
                   if name != "dataset"}


def _full_hyper(hyper):
    """All hyperparameters of :func:`train_gcn` (defaults filled in), checked; TypeError on an unknown name."""
    unknown = sorted(set(hyper) - set(_HYPER_DEFAULTS))
    if unknown:
        raise TypeError(f"unknown hyperparameter {unknown[0]!r}; train_gcn takes {', '.join(_HYPER_DEFAULTS)}")
    return _check_hyper(**{**_HYPER_DEFAULTS, **hyper})


def _dataset_digest(ds):
    """SHA-256 of the arrays training reads (graph, features, labels, masks), so changed data misses the cache."""
    sha = hashlib.sha256()
    x = ds.features
    for arr in (ds.graph.indptr, ds.graph.indices, x.indptr, x.indices, x.data, np.array(x.shape), ds.labels,
                ds.train_mask, ds.val_mask, ds.test_mask):
        arr = np.ascontiguousarray(arr)
        sha.update(f"{arr.dtype.str}{arr.shape}".encode())
        sha.update(arr.tobytes())
    return sha.hexdigest()


def _cache_key(ds, hyper):
    """The key stored in the cache file (JSON text) and the digest of it that names the file."""
    text = json.dumps({"version": CACHE_VERSION, "dataset": ds.name, "data": _dataset_digest(ds), "hyper": hyper},
                      sort_keys=True)
    return text, hashlib.sha256(text.encode()).hexdigest()[:20]


def cache_path(dataset, cache_dir=None, **hyper):
    """Path of the cache file :func:`load_or_train` uses for these arguments (it may not exist)."""
    ds = _dataset(dataset)
    _, digest = _cache_key(ds, _full_hyper(hyper))
    return Path(cache_dir if cache_dir is not None else default_cache_dir()) / f"gcn-{ds.name}-{digest}.npz"


def _read_cache(path, key_text, ds):
    """Parameters from ``path``, or None when it is missing, unreadable or not for this key and dataset."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["key"]) != key_text:
                return None
            arrays = {name: np.array(z[name], dtype=np.float64) for name in _PARAM_NAMES}
            seconds = float(z["train_seconds"])
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):   # truncated, garbled, foreign: retrain
        return None
    hyper = json.loads(key_text)["hyper"]
    try:
        params = GcnParams(**arrays, dataset=ds.name, hyper=hyper, train_seconds=seconds)
    except ValueError:
        return None
    if (params.w1.shape != (ds.features.shape[1], hyper["hidden"]) or params.num_classes != ds.num_classes
            or not all(np.isfinite(a).all() for a in arrays.values())):
        return None
    return params


def _write_cache(path, key_text, params):
    """Write atomically: a temporary file in the same folder, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, key=np.array(key_text), train_seconds=np.array(params.train_seconds), **params.arrays())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def load_or_train(dataset, cache_dir=None, **hyper):
    """Trained parameters from the cache, or train them (:func:`train_gcn`) and store them.

    The cache file is ``gcn-<dataset>-<digest>.npz`` in ``cache_dir`` (default :func:`default_cache_dir`), where
    the digest covers the dataset name, a SHA-256 of its arrays, every hyperparameter (defaults filled in) and
    :data:`CACHE_VERSION`; the file also stores the full key, checked on load. A file that cannot be read, holds
    another key, or has arrays of the wrong shape or non-finite values is ignored and overwritten with freshly
    trained parameters. Writes are atomic (temporary file, then ``os.replace``), so concurrent runs never see half a
    file.

    Parameters
    ----------
    dataset : Dataset or str
    cache_dir : str or os.PathLike, optional
    **hyper
        Hyperparameters of :func:`train_gcn`.

    Returns
    -------
    GcnParams
    """
    ds = _dataset(dataset)
    full = _full_hyper(hyper)
    key_text, _ = _cache_key(ds, full)
    path = cache_path(ds, cache_dir, **full)
    params = _read_cache(path, key_text, ds)
    if params is None:
        params = train_gcn(ds, **full)
        _write_cache(path, key_text, params)
    return params


# Inference.

def gcn_forward(params, dataset, aggregate):
    """Logits of the two-layer GCN with a pluggable aggregation.

    ``h0 = X W1``; ``H1 = ReLU(aggregate(0, h0) + b1)``; ``h1 = H1 W2``; ``logits = aggregate(1, h1) + b2``, with
    ``X`` from :func:`preprocess_features`. Everything except the two ``aggregate`` calls runs on the host in
    float64. No dropout.

    Parameters
    ----------
    params : GcnParams
    dataset : Dataset or str
    aggregate : callable
        ``aggregate(layer, h) -> Â h``: ``layer`` is 0 or 1, ``h`` a float64 array of shape ``(N, width)``
        (``width`` = hidden, then the number of classes); returns an array of the same shape.

    Returns
    -------
    numpy.ndarray of float64, shape (N, C)

    Raises
    ------
    TypeError
        If ``params`` is not a GcnParams or ``aggregate`` is not callable.
    ValueError
        If the parameters do not fit the dataset, or an aggregation returns the wrong shape.
    """
    if not isinstance(params, GcnParams):
        raise TypeError(f"params must be a GcnParams, not {type(params).__name__}")
    if not callable(aggregate):
        raise TypeError(f"aggregate must be callable as aggregate(layer, h), not {type(aggregate).__name__}")
    ds = _dataset(dataset)
    x = preprocess_features(ds)
    if params.w1.shape[0] != x.shape[1] or params.num_classes != ds.num_classes:
        raise ValueError(f"params ({params.w1.shape[0]} input features, {params.num_classes} classes) do not fit "
                         f"dataset {ds.name} ({x.shape[1]} input features, {ds.num_classes} classes)")

    def agg(layer, h):
        out = np.asarray(aggregate(layer, h), dtype=np.float64)
        if out.shape != h.shape:
            raise ValueError(f"aggregate(layer={layer}) must return shape {h.shape}, not {out.shape}")
        return out

    h1 = np.maximum(agg(0, np.asarray(x @ params.w1)) + params.b1, 0.0)
    return agg(1, h1 @ params.w2) + params.b2


def float_aggregator(dataset):
    """Exact aggregator: ``aggregate(layer, h) = Â @ h`` in float64 with scipy.sparse (``layer`` is ignored)."""
    a_hat = normalized_adjacency(dataset)

    def aggregate(layer, h):
        return a_hat @ np.asarray(h, dtype=np.float64)

    return aggregate


# Fixed-point codes for the engine.

def _check_gnn_config(config):
    if not isinstance(config, GnnConfig):
        raise TypeError(f"config must be a GnnConfig, not {type(config).__name__}")


def _finite_2d(h):
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(f"h must be a 2-D array (nodes x features), not an array of shape {h.shape}")
    if not np.isfinite(h).all():
        pos = tuple(int(i) for i in np.argwhere(~np.isfinite(h))[0])
        raise ValueError(f"h must be finite, but h[{pos[0]}, {pos[1]}] = {h[pos]}")
    return h


def _shift_fixed(h, config, headroom_bits):
    max_abs = float(np.abs(h).max(initial=0.0))
    if max_abs == 0.0:
        return 0
    _, hi = format_range(config)
    fixed = config.frac_bits + headroom_bits
    _, exp = math.frexp(hi / max_abs)                # hi / max_abs in [2**(exp-1), 2**exp)
    shift = exp - 1 - fixed
    while math.ldexp(max_abs, shift + fixed) > hi:   # the division rounded up across a power of two
        shift -= 1
    while math.ldexp(max_abs, shift + 1 + fixed) <= hi:
        shift += 1
    return shift


def _encode_fixed(h, config, shift):
    return quantize(np.ldexp(h, shift), config.frac_bits, config.data_bits)


def _decode_fixed(codes, config, shift):
    return np.ldexp(dequantize(codes, config.frac_bits), -shift)


def _at_limits_fixed(codes, config):
    lo, hi = format_range(config)
    return int(np.count_nonzero((codes == lo) | (codes == hi)))


class _Codec(NamedTuple):
    """How one feature format moves host values to engine codes and back (all three take the config)."""

    shift: Callable      # shift(h, config, headroom_bits) -> int, the per-layer power-of-two exponent
    encode: Callable     # encode(h, config, shift) -> codes
    decode: Callable     # decode(codes, config, shift) -> float64 values
    at_limits: Callable  # at_limits(codes, config) -> int, result codes where the format may have saturated


_FIXED_POINT = _Codec(_shift_fixed, _encode_fixed, _decode_fixed, _at_limits_fixed)

#: Largest magnitude an fp16 layer input is scaled to: binary16 keeps its relative precision at any scale, so the
#: shift only keeps sums of up to this many times the largest input (a hub row) below binary16's 65504.
_FP16_INPUT_MAX = 2.0 ** 10


def _shift_fp16(h, config, headroom_bits):
    max_abs = float(np.abs(h).max(initial=0.0))
    if max_abs == 0.0:
        return 0
    _, exp = math.frexp(max_abs)                     # max_abs in [2**(exp-1), 2**exp)
    return min(0, math.floor(math.log2(_FP16_INPUT_MAX)) - exp - headroom_bits)


def _encode_fp16(h, config, shift):
    return np.ldexp(h, shift).astype(np.float16).view(np.uint16).astype(np.int64)


def _decode_fp16(codes, config, shift):
    return np.ldexp(np.asarray(codes).astype(np.uint16).view(np.float16).astype(np.float64), -shift)


def _at_limits_fp16(codes, config):
    return int(np.count_nonzero(~np.isfinite(np.asarray(codes).astype(np.uint16).view(np.float16))))


_FLOAT16 = _Codec(_shift_fp16, _encode_fp16, _decode_fp16, _at_limits_fp16)

#: Formats and how each moves host values to engine codes and back (mixed precision adds its own).
_CODECS = {"int8": _FIXED_POINT, "int16": _FIXED_POINT, "fp16": _FLOAT16}

#: Feature formats :func:`feature_shift`, :func:`encode_features` and :func:`decode_features` handle.
QUANTIZED_FORMATS = tuple(_CODECS)


def _codec(config):
    _check_gnn_config(config)
    try:
        return _CODECS[config.format]
    except KeyError:
        raise NotImplementedError(f"the GCN quantiser handles formats {', '.join(_CODECS)}, not "
                                  f"{config.format!r}") from None


def feature_shift(h, config, headroom_bits=0):
    """Per-layer power-of-two exponent ``shift`` for :func:`encode_features`.

    Fixed-point formats: the largest integer with ``max|h| * 2**(shift + frac_bits + headroom_bits) <= 2**(W-1) - 1``
    (``W`` the code width); 0 when ``h`` is all zero. So ``h * 2**shift`` quantised with ``config.frac_bits`` never
    clips, and its largest magnitude lands in the top octave of ``2**-headroom_bits`` of the range. The result does
    not depend on ``frac_bits``'s value in real terms: a larger ``frac_bits`` only lowers ``shift`` by as much.

    Raises
    ------
    NotImplementedError
        If ``config.format`` is not in :data:`QUANTIZED_FORMATS`.
    ValueError
        If ``h`` is not 2-D or not finite, or ``headroom_bits`` is negative.
    """
    codec = _codec(config)
    headroom_bits = _check_int("headroom_bits", headroom_bits, 0)
    return codec.shift(_finite_2d(h), config, headroom_bits)


def encode_features(h, config, shift):
    """Host values ``h`` to the engine's feature codes: ``quantize(h * 2**shift, config.frac_bits, W)``.

    The first half of every engine aggregation; :func:`decode_features` with the same ``shift`` is the second.
    Get ``shift`` from :func:`feature_shift`. Error bound: where no code clips,
    ``|decode_features(encode_features(h, c, s), c, s) - h| <= 2**-(c.frac_bits + s + 1)``.

    Parameters
    ----------
    h : array_like of float, shape (N, F)
    config : GnnConfig
    shift : int

    Returns
    -------
    numpy.ndarray of int64, shape (N, F)

    Raises
    ------
    NotImplementedError
        If ``config.format`` is not in :data:`QUANTIZED_FORMATS`.
    ValueError
        If ``h`` is not 2-D or not finite.
    """
    codec = _codec(config)
    shift = _check_int("shift", shift)
    return codec.encode(_finite_2d(h), config, shift)


def decode_features(codes, config, shift):
    """Engine result codes back to host values: ``dequantize(codes, config.frac_bits) * 2**-shift`` in float64."""
    codec = _codec(config)
    shift = _check_int("shift", shift)
    return codec.decode(np.asarray(codes), config, shift)


def output_headroom_bits(config, graph, weights):
    """Bits of headroom that make saturation of the ``weighted`` op impossible for this graph and these weights.

    ``ceil(log2(max_r sum_e |w_e| / 2**weight_frac_bits))`` over the rows ``r`` (0 if that is negative): with
    ``max|X| * 2**headroom_bits`` within the format, every exact output ``sum_e w_e X[c_e] / 2**wf`` is too.
    """
    _check_gnn_config(config)
    rowsum = np.bincount(graph.edge_rows(), weights=np.abs(np.asarray(weights, dtype=np.float64)),
                         minlength=graph.num_nodes)
    top = float(rowsum.max(initial=0.0)) / float(1 << config.weight_frac_bits)
    return max(0, math.ceil(math.log2(top))) if top > 0 else 0


class QuantizedAggregator:
    """``aggregate(layer, h)`` through the engine's ``weighted`` op on codes; see :func:`quantized_aggregator`.

    Attributes
    ----------
    configs : tuple of GnnConfig
        The config of each layer (the last one serves any later layer).
    graph : CsrGraph
        :func:`gcn_graph` of the dataset.
    weights : tuple of numpy.ndarray
        :func:`sw_model.gnn.gcn_norm_weights` per layer's config.
    headroom_bits : tuple of int
        Headroom per layer's config (resolved when "auto" was asked for).
    engine : callable
        What runs the aggregation (the golden :func:`sw_model.gnn.aggregate` unless another was given).
    shifts : dict
        ``layer -> shift`` of the latest call per layer.
    saturated : dict
        ``layer -> number of output codes where the format may have saturated`` in the latest call (fixed point:
        codes at either end of the range, an upper bound on the outputs that saturated).
    """

    def __init__(self, config, dataset, headroom_bits=0, engine=None):
        configs = (config,) if isinstance(config, GnnConfig) else tuple(config)
        if not configs:
            raise ValueError("config must be a GnnConfig or a non-empty sequence of them (one per layer)")
        for c in configs:
            _codec(c)
        if not (isinstance(headroom_bits, str) and headroom_bits == "auto"):
            if isinstance(headroom_bits, (bool, np.bool_)) or not isinstance(headroom_bits, (int, np.integer)):
                raise TypeError(f"headroom_bits must be an integer or \"auto\", not {headroom_bits!r}")
            headroom_bits = _check_int("headroom_bits", headroom_bits, 0)
        if engine is not None and not callable(engine):
            raise TypeError(f"engine must be callable like sw_model.gnn.aggregate, not {type(engine).__name__}")
        self.configs = configs
        self.graph = gcn_graph(dataset)
        self.weights = tuple(gcn_norm_weights(self.graph, c) for c in configs)
        if isinstance(headroom_bits, str):
            self.headroom_bits = tuple(output_headroom_bits(c, self.graph, w) for c, w in zip(configs, self.weights))
        else:
            self.headroom_bits = (headroom_bits,) * len(configs)
        self.engine = golden_aggregate if engine is None else engine
        self.shifts = {}
        self.saturated = {}

    def _index(self, layer):
        return min(layer, len(self.configs) - 1)

    def __call__(self, layer, h):
        i = self._index(layer)
        config = self.configs[i]
        shift = feature_shift(h, config, self.headroom_bits[i])
        codes = encode_features(h, config, shift)
        out = np.asarray(self.engine(config, self.graph, codes, "weighted", weights=self.weights[i]))
        self.shifts[layer] = shift
        self.saturated[layer] = _codec(config).at_limits(out, config)
        return decode_features(out, config, shift)


def quantized_aggregator(config, dataset, headroom_bits=0, engine=None):
    """Aggregator through the engine: scale, quantise, ``weighted`` op with GCN weights on ``A + I``, dequantise.

    For each call ``aggregate(layer, h)``: ``shift = feature_shift(h, config, headroom_bits)``,
    ``codes = encode_features(h, config, shift)``, ``y = engine(config, gcn_graph(dataset), codes, "weighted",
    weights=gcn_norm_weights(graph, config))``, return ``decode_features(y, config, shift)``.

    Parameters
    ----------
    config : GnnConfig or sequence of GnnConfig
        The engine's config; a sequence gives one config per layer (mixed precision across layers, e.g. int8 for
        the wide first aggregation and int16 for the logits). Each format must be in :data:`QUANTIZED_FORMATS`.
    dataset : Dataset or str
    headroom_bits : int or "auto"
        Bits kept free above ``max|h|`` for outputs larger than the inputs (0: the input fills the range and
        larger outputs saturate; "auto": :func:`output_headroom_bits`, so nothing can saturate).
    engine : callable, optional
        ``engine(config, graph, codes, op, weights=...) -> codes``; default the golden
        :func:`sw_model.gnn.aggregate`. The RTL path passes a function that runs the same inputs on the simulator.

    Returns
    -------
    QuantizedAggregator

    Raises
    ------
    NotImplementedError
        If a config's format is not in :data:`QUANTIZED_FORMATS`.
    """
    return QuantizedAggregator(config, dataset, headroom_bits=headroom_bits, engine=engine)


# Mixed-precision features (pimgen.gnn.mixed's format), decoded to int16 codes before the aggregation.

#: Formats whose engine aggregates int16 codes, the ones mixed-precision features decode to ("mixed" is the engine
#: with the decoder; "int16" aggregates codes decoded on the host).
MIXED_CONFIG_FORMATS = ("int16", "mixed")


def _check_mixed_config(config):
    _check_gnn_config(config)
    if config.format not in MIXED_CONFIG_FORMATS:
        raise ValueError(f"config.format must be one of {', '.join(MIXED_CONFIG_FORMATS)} for mixed-precision "
                         f"features (the decoder produces int16 codes), not {config.format}")


def mixed_feature_shift(h, config, headroom_bits=0):
    """Per-layer exponent for :func:`encode_mixed`: :func:`feature_shift` with one more bit of headroom.

    So ``max|h * 2**shift| <= 2**14`` codes: every width ``b >= 2`` covers it with a node shift ``k <= 16 - b``
    (the largest positive b-bit code ``(2**(b-1) - 1) << (16 - b)`` is at least ``2**14``), and nothing clips.
    """
    _check_mixed_config(config)
    headroom_bits = _check_int("headroom_bits", headroom_bits, 0)
    return feature_shift(h, _as_int16(config), headroom_bits + 1)


def _as_int16(config):
    """The int16 config whose codes a mixed config's decoder produces (same fraction bits and accumulator)."""
    return config if config.format == "int16" else dataclasses.replace(config, format="int16")


def encode_mixed(h, config, shift, plan):
    """Host values ``h`` (original node order) to packed mixed-precision features:
    ``quantize_mixed(h * 2**shift, plan, config.frac_bits)``.

    ``decode_features(plan.to_original(decode_mixed(m)), config, shift)`` gives ``h`` back to within each node's
    quantisation step, ``2**(k[n] - frac_bits - shift - 1)``.
    """
    _check_mixed_config(config)
    shift = _check_int("shift", shift)
    return quantize_mixed(np.ldexp(_finite_2d(h), shift), plan, config.frac_bits)


def golden_mixed_engine(config, graph, mixed, op, weights=None):
    """What the engine does with mixed features: :func:`pimgen.gnn.mixed.decode_mixed` to int16 codes (engine
    order), then the golden :func:`sw_model.gnn.aggregate` on the engine-order ``graph``. The RTL path passes a
    function with this signature that loads ``mixed.words`` and ``mixed.header`` instead."""
    return golden_aggregate(config, graph, decode_mixed(mixed), op, weights=weights)


class MixedAggregator:
    """``aggregate(layer, h)`` with mixed-precision features; see :func:`mixed_aggregator`.

    Attributes
    ----------
    config : GnnConfig
        An int16 config.
    graph : CsrGraph
        :func:`gcn_graph` of the dataset (original numbering).
    engine_graph : CsrGraph
        The same graph in engine numbering (:func:`pimgen.gnn.mixed.permute_graph`).
    engine_weights : numpy.ndarray of int64
        :func:`sw_model.gnn.gcn_norm_weights` of ``graph``, in the edge order of ``engine_graph``.
    thresholds, widths : tuple of int
        The degree groups and their widths.
    headroom_bits : int
        Headroom asked for (the shift keeps one bit more, :func:`mixed_feature_shift`).
    engine : callable
        ``engine(config, engine_graph, mixed, op, weights=...) -> codes`` in engine order.
    plans, mixed, shifts, saturated, clipped : dict
        Per layer, from the latest call: the :class:`pimgen.gnn.mixed.MixedPlan`, the
        :class:`pimgen.gnn.mixed.MixedFeatures` (bytes: ``mixed[layer].byte_counts()``), the shift, the output codes
        at either end of the int16 range, and the input features that clipped.
    """

    def __init__(self, config, dataset, thresholds=DEFAULT_THRESHOLDS, widths=DEFAULT_WIDTHS, headroom_bits=0,
                 engine=None):
        _check_mixed_config(config)
        headroom_bits = _check_int("headroom_bits", headroom_bits, 0)
        if engine is not None and not callable(engine):
            raise TypeError(f"engine must be callable like golden_mixed_engine, not {type(engine).__name__}")
        self.config = config
        self.graph = gcn_graph(dataset)
        # The relabelling depends only on the degrees and widths; plans for other F differ only in the words.
        relabel = plan_mixed(self.graph, thresholds, widths, lanes=config.lanes, num_features=1)
        self.thresholds, self.widths = relabel.thresholds, relabel.widths
        self.engine_graph = permute_graph(self.graph, relabel)
        self.engine_weights = gcn_norm_weights(self.graph, config)[edge_order(self.graph, relabel)]
        self.headroom_bits = headroom_bits
        self.engine = golden_mixed_engine if engine is None else engine
        self.plans, self.mixed, self.shifts, self.saturated, self.clipped = {}, {}, {}, {}, {}

    def plan(self, num_features):
        """The :class:`pimgen.gnn.mixed.MixedPlan` for ``num_features`` features per node."""
        return plan_mixed(self.graph, self.thresholds, self.widths, lanes=self.config.lanes,
                          num_features=num_features)

    def __call__(self, layer, h):
        h = _finite_2d(h)
        plan = self.plan(h.shape[1])
        shift = mixed_feature_shift(h, self.config, self.headroom_bits)
        mixed = encode_mixed(h, self.config, shift, plan)
        out = np.asarray(self.engine(self.config, self.engine_graph, mixed, "weighted", weights=self.engine_weights))
        self.plans[layer], self.mixed[layer], self.shifts[layer] = plan, mixed, shift
        self.saturated[layer] = _at_limits_fixed(out, self.config)
        self.clipped[layer] = mixed.clipped
        return decode_features(plan.to_original(out), _as_int16(self.config), shift)


def mixed_aggregator(config, dataset, thresholds=DEFAULT_THRESHOLDS, widths=DEFAULT_WIDTHS, headroom_bits=0,
                     engine=None):
    """Aggregator with degree-aware mixed-precision features (the "mixed" codec).

    For each call ``aggregate(layer, h)`` with ``h`` of shape ``(N, F)``: ``plan = plan_mixed(gcn_graph(dataset),
    thresholds, widths, lanes=config.lanes, num_features=F)``, ``shift = mixed_feature_shift(h, config,
    headroom_bits)``, ``mixed = encode_mixed(h, config, shift, plan)``, ``y = engine(config, engine_graph, mixed,
    "weighted", weights=engine_weights)`` (default :func:`golden_mixed_engine`: decode to int16 codes, then the
    golden aggregation), return ``decode_features(plan.to_original(y), config, shift)``.

    Parameters
    ----------
    config : GnnConfig
        The engine's config; its format must be int16 (the decoded codes are int16).
    dataset : Dataset or str
    thresholds, widths : sequence of int
        Degree groups (in-degree of ``A + I``) and their widths, default
        :data:`pimgen.gnn.mixed.DEFAULT_THRESHOLDS` and :data:`pimgen.gnn.mixed.DEFAULT_WIDTHS`.
    headroom_bits : int
        As for :func:`quantized_aggregator` (an integer here).
    engine : callable, optional

    Returns
    -------
    MixedAggregator

    Raises
    ------
    ValueError
        If the config's format is not int16, or the thresholds or widths are bad.
    """
    return MixedAggregator(config, dataset, thresholds=thresholds, widths=widths, headroom_bits=headroom_bits,
                           engine=engine)


# Metrics.

def accuracy(logits, dataset, mask="test"):
    """Fraction of the masked nodes whose ``argmax`` logit is their label.

    Parameters
    ----------
    logits : array_like, shape (N, C)
    dataset : Dataset or str
    mask : {"train", "val", "test"} or array_like of bool, shape (N,)

    Returns
    -------
    float
    """
    ds = _dataset(dataset)
    if isinstance(mask, str):
        if mask not in ("train", "val", "test"):
            raise ValueError(f"mask must be train, val, test or a boolean array, not {mask!r}")
        mask = getattr(ds, f"{mask}_mask")
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (ds.num_nodes,):
        raise ValueError(f"mask must be a boolean array of shape ({ds.num_nodes},), not {mask.dtype} {mask.shape}")
    logits = np.asarray(logits)
    if logits.shape != (ds.num_nodes, ds.num_classes):
        raise ValueError(f"logits must have shape ({ds.num_nodes}, {ds.num_classes}), not {logits.shape}")
    if not mask.any():
        raise ValueError("mask selects no nodes")
    return float(np.mean(np.argmax(logits[mask], axis=1) == ds.labels[mask]))
