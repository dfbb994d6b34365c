"""The CiM engine's workload: an MLP on scikit-learn's digits, its layers' products done by the VMM tile.

The network is ``h_0 = x / 16``, ``h_{l+1} = ReLU(h_l @ W_l + b_l)`` for the hidden layers and ``logits = h_L @ W_L +
b_L``; the class is the argmax of the logits. ``x`` holds the 64 pixels of an 8x8 digit image, integers 0..16.

- :func:`load_digits_split` loads the 1797 images (:func:`sklearn.datasets.load_digits`) and splits them, stratified,
  into train and test sets, deterministic for a seed.
- :func:`train_mlp` trains the float network on the host with scikit-learn's ``MLPClassifier`` (ReLU, Adam), and
  returns its weights as a :class:`FloatMlp` (float64 forward pass and argmax).
- :func:`quantise` turns it into a :class:`QuantMlp`: integer weight codes and per-layer scales (procedure below).
- :meth:`QuantMlp.forward` runs the quantised network with one integer primitive, ``vmm(layer, W_codes, X_codes) ->
  Y``; the scaling back to real numbers, the biases, the ReLU, the requantisation and the argmax stay on the host in
  float64. :func:`ideal_vmm` is the exact integer product (the *ideal-integer* network); :class:`TiledVmm` is the
  tile's: each layer is cut into tile-sized blocks (:func:`tile_blocks`, zero-padded by :func:`block_weights` and
  :func:`block_inputs`), all blocks of a layer are given to a ``run_blocks`` backend in one call
  (:func:`tiled_vmm`) and the blocks' partial outputs are summed on the host in int64. :func:`golden_blocks` is the
  backend of the golden model (:func:`sw_model.cim.tile_vmm`); a simulator or the RTL driver can take its place.
- :func:`digits_accuracy` does all of it for a config: float, ideal-integer and tile accuracies on the test set, the
  ADC clip rate and the block counts.

Quantisation (:func:`quantise`), layer by layer, with ``(wlo, whi) = config.weight_range`` and ``(ilo, ihi) =
config.input_range``:

1. Weights: one symmetric scale per layer, ``s_w = max|W| / whi`` (1.0 for an all-zero matrix), and codes ``W_q =
   clip(rint(W / s_w), -whi, whi)`` (``rint``: round half to even). The codes are symmetric, so they are valid for
   ``differential`` and ``offset`` weights alike (``offset`` could also hold ``-whi - 1``; it is left unused so that
   positive and negative weights have the same resolution).
2. Inputs of layer 0: the pixels scaled to 0..1, ``x / 16``, with ``s_x = 1 / ihi``: codes ``rint(x / 16 * ihi)``
   clipped to the input range (0..ihi for pixels in 0..16).
3. Inputs of a hidden layer ``l >= 1``: the ReLU activations ``a >= 0`` with ``s_x = a_max / ihi``, codes
   ``clip(rint(a / s_x), ilo, ihi)``. ``a_max`` is calibrated once, on the *float* network's activations over
   ``x_calib`` (the training set in :func:`digits_accuracy`): by default their maximum (``percentile=100``), so that
   no calibration activation clips. The maximum rather than a high percentile: with 8-bit inputs the rounding step
   ``a_max / 127`` is already far below the activations that decide the class, while clipping the largest
   activations -- the strongest evidence for a class -- costs accuracy directly; and measured on this workload
   (seeds 0..3, hidden (32,), (64,) and (64, 32), 3..8-bit weights and inputs) the 99th and 99.9th percentiles gave
   no consistent gain over the maximum (differences of a few test images either way). A lower ``percentile`` is
   available; an activation above the calibrated ``a_max`` then saturates at ``ihi``. An all-zero calibration gives
   ``s_x = 1.0``.
4. The products: ``Y = vmm(l, W_q, X_q)`` (int64), back to real numbers as ``Y * s_x * s_w + b`` (the bias ``b`` stays
   float64 on the host).

The input codes are non-negative (pixels and ReLU outputs), so a two's-complement input encoding, whose range has
one more negative code, is used through its positive half, exactly like sign-magnitude.

Tiling (:func:`tiled_vmm`): a layer's ``W[in, out]`` is cut into blocks of at most ``config.rows x config.cols``
(row blocks of the inputs, column blocks of the outputs). Each block is zero-padded to a full tile, weights and
inputs, so the padding contributes nothing to the outputs. Inside the tile a block's outputs saturate at
``config.output_range`` (and each ADC conversion may clip, docs/cim.md); the partial outputs of the blocks that share
columns are then added on the host in int64, which does not saturate.

Everything is deterministic for a seed: the split (``random_state``), the training (``MLPClassifier``'s
``random_state``) and the quantisation (no randomness). The module imports only NumPy, scikit-learn,
:mod:`sw_model.cim` and the plain-Python :mod:`pimgen.cim` config and checks (no design code).
"""

import functools
import numbers
import warnings
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import InputError, InputTypeError
from .config import CimConfig
from .inputs import check_config

__all__ = ["INPUT_MAX", "NUM_FEATURES", "NUM_CLASSES", "MAX_ITER",
           "load_digits_split", "FloatMlp", "train_mlp", "QuantMlp", "quantise", "ideal_vmm",
           "TileBlock", "tile_blocks", "block_weights", "block_inputs", "tiled_vmm", "golden_blocks", "TiledVmm",
           "digits_accuracy", "check_digits_config"]

#: Largest pixel value of the digits (the inputs are scaled by ``1 / INPUT_MAX``).
INPUT_MAX = 16
#: Pixels per image (8 x 8).
NUM_FEATURES = 64
#: Digit classes.
NUM_CLASSES = 10
#: Adam epochs at most; the default network converges (scikit-learn's ``tol``) after about 420.
MAX_ITER = 1000


# Argument checks.

def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= 2 ** 32 - 1:
        raise InputError(f"seed must be an integer in 0..2**32-1, not {seed!r}")
    return int(seed)


def _check_fraction(test_fraction):
    if (isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real)
            or not 0 < float(test_fraction) < 1):
        raise InputError(f"test_fraction must be a number strictly between 0 and 1, not {test_fraction!r}")
    return float(test_fraction)


def _check_hidden(hidden):
    if (not isinstance(hidden, tuple) or not hidden
            or any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h < 1 for h in hidden)):
        raise InputError(f"hidden must be a non-empty tuple of positive integers (the hidden layers' widths, "
                         f"e.g. (32,)), not {hidden!r}")
    return tuple(int(h) for h in hidden)


def _check_limit(limit):
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
        raise InputError(f"limit must be None (the whole test set) or an integer >= 1, not {limit!r}")
    return int(limit)


def check_digits_config(config, name="input_bits"):
    """``config`` if the workload's input codes fit it: they are non-negative (pixels, ReLU outputs) and scaled to
    ``0..input_range[1]``, so the largest input code must be above 0; 1-bit two's-complement inputs (codes -1..0) are
    refused. ``name`` is what the message calls the input width (the command line passes its option)."""
    check_config(config)
    lo, hi = config.input_range
    if hi < 1:
        raise InputError(f"the digits MLP needs input codes above 0, so {name} must be at least 2, not "
                         f"{config.input_bits} ({config.input_bits}-bit {config.input_encoding} codes are {lo}..{hi})")
    return config


def _check_percentile(percentile):
    if (isinstance(percentile, bool) or not isinstance(percentile, numbers.Real)
            or not 0 < float(percentile) <= 100):
        raise InputError(f"percentile must be a number in (0, 100] (100: the maximum), not {percentile!r}")
    return float(percentile)


def _features(x, name, width):
    """``x`` as a float64 [V, width] array (V >= 1, finite)."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != width:
        raise InputError(f"{name} must be a V x {width} array (V >= 1), not an array of shape {arr.shape}")
    if arr.dtype.kind not in "iuf":                  # not bool, complex, object or timedelta64
        raise InputError(f"{name} must hold numbers, not dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InputError(f"{name} must hold finite numbers")
    return arr


def _frozen(arr, dtype):
    arr = np.array(arr, dtype=dtype, copy=True)
    arr.setflags(write=False)
    return arr


# Data and float training.

@functools.lru_cache(maxsize=8)
def _split(test_fraction, seed):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    parts = train_test_split(digits.data.astype(np.float64), digits.target.astype(np.int64),
                             test_size=test_fraction, stratify=digits.target, random_state=seed)
    return tuple(_frozen(p, p.dtype) for p in parts)


def load_digits_split(test_fraction=0.2, seed=0):
    """scikit-learn's digits, split into ``(x_train, x_test, y_train, y_test)``, stratified by class.

    ``x`` is float64 [N, 64] with pixel values 0..16, ``y`` int64 [N] with classes 0..9. The split is
    ``train_test_split(..., test_size=test_fraction, stratify=y, random_state=seed)``: deterministic for a seed (the
    default gives 1437 training and 360 test images). The arrays are read-only (they are cached).
    """
    return _split(_check_fraction(test_fraction), _check_seed(seed))


@dataclass(frozen=True, eq=False)
class FloatMlp:
    """A trained MLP in float64: ``weights[l]`` is [in, out], ``biases[l]`` is [out]; ReLU after every layer but the
    last. Its inputs are the raw pixels (0..16), scaled by ``1 / INPUT_MAX`` in :meth:`forward`."""

    weights: list
    biases: list

    def __post_init__(self):
        weights = [_frozen(w, np.float64) for w in self.weights]
        biases = [_frozen(b, np.float64) for b in self.biases]
        if not weights or len(weights) != len(biases):
            raise InputError(f"FloatMlp needs as many bias vectors as weight matrices (at least one), not "
                             f"{len(weights)} and {len(biases)}")
        for layer, (w, b) in enumerate(zip(weights, biases)):
            if w.ndim != 2 or b.shape != (w.shape[1],):
                raise InputError(f"FloatMlp layer {layer}: weights must be [in, out] and biases [out], not "
                                 f"{w.shape} and {b.shape}")
            if layer and w.shape[0] != weights[layer - 1].shape[1]:
                raise InputError(f"FloatMlp layer {layer} takes {w.shape[0]} inputs, but layer {layer - 1} gives "
                                 f"{weights[layer - 1].shape[1]}")
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "biases", biases)

    @property
    def layer_shapes(self):
        """``(in, out)`` of each layer."""
        return [w.shape for w in self.weights]

    def activations(self, x, name="x"):
        """The input of every layer for raw pixels ``x[V, in]``: ``[x / 16, ReLU(layer 0), ...]`` (float64)."""
        h = _features(x, name, self.weights[0].shape[0]) / INPUT_MAX
        inputs = [h]
        for w, b in zip(self.weights[:-1], self.biases[:-1]):
            h = np.maximum(h @ w + b, 0.0)
            inputs.append(h)
        return inputs

    def forward(self, x):
        """Logits [V, classes] of raw pixels ``x[V, in]`` in float64."""
        h = self.activations(x)[-1]
        return h @ self.weights[-1] + self.biases[-1]

    def predict(self, x):
        """The predicted classes (argmax of the logits), int64 [V]."""
        return np.argmax(self.forward(x), axis=1)


@functools.lru_cache(maxsize=8)
def _train(x_key, y_key, hidden, seed):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    x, y = x_key.array, y_key.array
    model = MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", random_state=seed,
                          max_iter=MAX_ITER)
    with warnings.catch_warnings():
        # A network that has not met ``tol`` after MAX_ITER epochs is still a usable network; its accuracy is what
        # the callers measure.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x / INPUT_MAX, y)
    return FloatMlp(weights=list(model.coefs_), biases=list(model.intercepts_))


class _Key:
    """An array as a cache key (by contents)."""

    def __init__(self, array):
        self.array = array
        self._hash = hash((array.shape, array.dtype.str, array.tobytes()))

    def __hash__(self):
        return self._hash

    def __eq__(self, other):
        return (isinstance(other, _Key) and self.array.shape == other.array.shape
                and self.array.dtype == other.array.dtype and np.array_equal(self.array, other.array))


def train_mlp(x_train, y_train, hidden=(32,), seed=0):
    """Train the float MLP on raw pixels ``x_train[N, 64]`` (0..16) and classes ``y_train[N]``; return a
    :class:`FloatMlp`.

    scikit-learn's ``MLPClassifier(hidden_layer_sizes=hidden, activation="relu", solver="adam", random_state=seed,
    max_iter=MAX_ITER)`` on ``x_train / 16`` (softmax output, cross-entropy, L2 ``alpha=1e-4``, batches of 200,
    stopping when the loss improves by less than ``tol=1e-4`` for 10 epochs). A ``ConvergenceWarning`` (possible for
    other hidden sizes or seeds) is suppressed. Deterministic for a seed; results are cached by the training data's
    contents, ``hidden`` and ``seed`` (the returned arrays are read-only).
    """
    hidden = _check_hidden(hidden)
    seed = _check_seed(seed)
    x = _features(x_train, "x_train", NUM_FEATURES)
    y = np.asarray(y_train)
    if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype.kind not in "iu":
        raise InputError(f"y_train must be a 1-D integer array with one class per row of x_train ({x.shape[0]}), "
                         f"not an array of shape {y.shape} and dtype {y.dtype}")
    return _train(_Key(_frozen(x, np.float64)), _Key(_frozen(y, np.int64)), hidden, seed)


# Quantisation and the integer forward pass.

def ideal_vmm(layer, w, x):
    """The exact integer product ``X @ W`` in int64 (``layer`` is ignored): the ideal-integer network's primitive."""
    return np.asarray(x, dtype=np.int64) @ np.asarray(w, dtype=np.int64)


@dataclass(frozen=True, eq=False)
class QuantMlp:
    """An MLP quantised to a :class:`CimConfig`'s codes (the procedure is in the module docstring).

    Attributes
    ----------
    config : CimConfig
        The tile whose ``weight_range`` and ``input_range`` the codes fit.
    weight_codes : list of int64 [in, out]
        ``W_q`` per layer.
    weight_scales : list of float
        ``s_w`` per layer: ``W ~= W_q * s_w``.
    input_scales : list of float
        ``s_x`` per layer: the layer's real input ``~= X_q * s_x`` (layer 0: ``x / 16``; then ReLU activations).
    biases : list of float64 [out]
        The float biases, added on the host.
    """

    config: CimConfig
    weight_codes: list
    weight_scales: list
    input_scales: list
    biases: list = field(default_factory=list)

    def __post_init__(self):
        object.__setattr__(self, "weight_codes", [_frozen(w, np.int64) for w in self.weight_codes])
        object.__setattr__(self, "biases", [_frozen(b, np.float64) for b in self.biases])
        object.__setattr__(self, "weight_scales", [float(s) for s in self.weight_scales])
        object.__setattr__(self, "input_scales", [float(s) for s in self.input_scales])

    @property
    def layer_shapes(self):
        """``(in, out)`` of each layer."""
        return [w.shape for w in self.weight_codes]

    def quantise_inputs(self, layer, h):
        """Input codes ``clip(rint(h / s_x), lo, hi)`` of layer ``layer`` for its real input ``h`` (int64)."""
        lo, hi = self.config.input_range
        return np.clip(np.rint(h / self.input_scales[layer]), lo, hi).astype(np.int64)

    def forward(self, x, vmm=ideal_vmm):
        """Logits (float64 [V, classes]) of raw pixels ``x[V, 64]`` (0..16), every layer's product done by
        ``vmm(layer_index, W_codes[in, out], X_codes[V, in]) -> Y int64 [V, out]``.

        Per layer: ``X_q`` = the input codes, ``Y = vmm(l, W_q, X_q)``, ``z = Y * s_x * s_w + b``; then ReLU and
        requantisation for the next layer, or the logits after the last."""
        h = _features(x, "x", self.weight_codes[0].shape[0]) / INPUT_MAX
        last = len(self.weight_codes) - 1
        for layer, (w, b) in enumerate(zip(self.weight_codes, self.biases)):
            codes = self.quantise_inputs(layer, h)
            y = np.asarray(vmm(layer, w, codes))
            if y.shape != (codes.shape[0], w.shape[1]) or y.dtype.kind not in "iu":
                raise InputError(f"vmm must return integers of shape {(codes.shape[0], w.shape[1])} for layer "
                                 f"{layer}, not {y.dtype} of shape {y.shape}")
            z = y.astype(np.float64) * (self.input_scales[layer] * self.weight_scales[layer]) + b
            h = z if layer == last else np.maximum(z, 0.0)
        return h

    def predict(self, x, vmm=ideal_vmm):
        """The predicted classes (argmax of :meth:`forward`'s logits), int64 [V]."""
        return np.argmax(self.forward(x, vmm), axis=1)


def quantise(mlp, config, x_calib, percentile=100.0):
    """Quantise a :class:`FloatMlp` to ``config``'s weight and input codes; return a :class:`QuantMlp`.

    ``x_calib[N, 64]`` (raw pixels) calibrates the hidden layers' input scales: ``a_max`` is the ``percentile``-th
    percentile (100: the maximum) of the float network's ReLU activations feeding the layer, over all samples and
    units. Weight scales are per layer and symmetric, ``max|W| / hi``. See the module docstring for the exact
    procedure and the reasons for the choices.
    """
    if not isinstance(mlp, FloatMlp):
        raise InputTypeError(f"mlp must be a FloatMlp, not {type(mlp).__name__}")
    check_digits_config(config)
    percentile = _check_percentile(percentile)
    acts = mlp.activations(x_calib, "x_calib")
    whi = config.weight_range[1]
    ihi = config.input_range[1]
    weight_codes, weight_scales, input_scales = [], [], []
    for layer, w in enumerate(mlp.weights):
        top = float(np.max(np.abs(w)))
        s_w = top / whi if top > 0 else 1.0
        weight_codes.append(np.clip(np.rint(w / s_w), -whi, whi).astype(np.int64))
        weight_scales.append(s_w)
        if layer == 0:
            input_scales.append(1.0 / ihi)
        else:
            a_max = float(np.percentile(acts[layer], percentile)) if percentile < 100 else float(acts[layer].max())
            input_scales.append(a_max / ihi if a_max > 0 else 1.0)
    return QuantMlp(config=config, weight_codes=weight_codes, weight_scales=weight_scales,
                    input_scales=input_scales, biases=list(mlp.biases))


# Tiling.

class TileBlock(NamedTuple):
    """One tile-sized block of a layer's ``W[in, out]``: rows ``row_start:row_stop`` (inputs), columns
    ``col_start:col_stop`` (outputs)."""
    row_start: int
    row_stop: int
    col_start: int
    col_stop: int


def _check_size(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise InputError(f"{name} must be an integer >= 1, not {value!r}")
    return int(value)


def tile_blocks(config, in_features, out_features):
    """The blocks that cover a ``[in_features, out_features]`` matrix exactly once in tiles of ``config.rows x
    config.cols``: column blocks outer, row blocks inner (the blocks of one output range are adjacent); the last
    block of each dimension is partial when the size is not a multiple of the tile."""
    check_config(config)
    in_features = _check_size("in_features", in_features)
    out_features = _check_size("out_features", out_features)
    return [TileBlock(r, min(r + config.rows, in_features), c, min(c + config.cols, out_features))
            for c in range(0, out_features, config.cols)
            for r in range(0, in_features, config.rows)]


def block_weights(config, block, w):
    """The weight codes of ``block`` of ``W[in, out]`` as a full tile, int64 [config.rows, config.cols] (zeros
    outside the block)."""
    w = np.asarray(w)
    pad = np.zeros((config.rows, config.cols), dtype=np.int64)
    pad[:block.row_stop - block.row_start, :block.col_stop - block.col_start] = \
        w[block.row_start:block.row_stop, block.col_start:block.col_stop]
    return pad


def block_inputs(config, block, x):
    """The input codes of ``block`` for ``X[V, in]`` as full tile inputs, int64 [V, config.rows] (zeros past the
    block's rows)."""
    x = np.asarray(x)
    pad = np.zeros((x.shape[0], config.rows), dtype=np.int64)
    pad[:, :block.row_stop - block.row_start] = x[:, block.row_start:block.row_stop]
    return pad


def tiled_vmm(config, w, x, run_blocks):
    """``X[V, in] @ W[in, out]`` through tile-sized blocks; returns ``(Y int64 [V, out], stats)``.

    ``run_blocks(list of (W_pad [rows, cols], X_pad [V, rows]))`` runs every block of the matrix (one call, in the
    order of :func:`tile_blocks`) and returns one result per block with ``.y`` int64 [V, cols] and the counts
    ``.conversions`` and ``.clipped`` (a :class:`sw_model.cim.TileResult`). The blocks' outputs are cut back to
    their columns and the blocks that share columns are summed in int64. ``stats`` holds ``conversions`` and
    ``clipped`` (summed over the blocks) and ``blocks`` (their number).
    """
    check_config(config)
    w = np.asarray(w)
    x = np.asarray(x)
    if w.ndim != 2 or w.dtype.kind not in "iu":
        raise InputError(f"w must be a 2-D integer array [in, out], not {w.dtype} of shape {w.shape}")
    if x.ndim != 2 or x.dtype.kind not in "iu" or x.shape[0] < 1 or x.shape[1] != w.shape[0]:
        raise InputError(f"x must be a 2-D integer array [V, {w.shape[0]}] (V >= 1), not {x.dtype} of shape "
                         f"{x.shape}")
    blocks = tile_blocks(config, w.shape[0], w.shape[1])
    results = list(run_blocks([(block_weights(config, b, w), block_inputs(config, b, x)) for b in blocks]))
    if len(results) != len(blocks):
        raise InputError(f"run_blocks must return one result per block ({len(blocks)}), not {len(results)}")
    y = np.zeros((x.shape[0], w.shape[1]), dtype=np.int64)
    conversions = clipped = 0
    for block, result in zip(blocks, results):
        out = np.asarray(result.y)
        if out.shape != (x.shape[0], config.cols):
            raise InputError(f"run_blocks must return outputs of shape {(x.shape[0], config.cols)} per block, not "
                             f"{out.shape}")
        y[:, block.col_start:block.col_stop] += out[:, :block.col_stop - block.col_start].astype(np.int64)
        conversions += int(result.conversions)
        clipped += int(result.clipped)
    return y, {"conversions": conversions, "clipped": clipped, "blocks": len(blocks)}


def golden_blocks(config):
    """A ``run_blocks`` backend for :func:`tiled_vmm` from the golden model: :func:`sw_model.cim.tile_vmm` on each
    block (unit gain, no offset)."""
    from sw_model.cim import tile_vmm
    check_config(config)

    def run_blocks(blocks):
        return [tile_vmm(config, w, x) for w, x in blocks]
    return run_blocks


class TiledVmm:
    """A ``vmm`` for :meth:`QuantMlp.forward` that runs each layer through :func:`tiled_vmm` on a ``run_blocks``
    backend (default :func:`golden_blocks`) and keeps the statistics: ``layer_stats[layer]`` (a dict of
    ``conversions``, ``clipped``, ``blocks`` and ``calls``, summed over calls) and the totals :attr:`conversions`,
    :attr:`clipped` and :attr:`clip_rate`."""

    def __init__(self, config, run_blocks=None):
        self.config = check_config(config)
        self.run_blocks = golden_blocks(config) if run_blocks is None else run_blocks
        self.layer_stats = {}

    def __call__(self, layer, w, x):
        y, stats = tiled_vmm(self.config, w, x, self.run_blocks)
        total = self.layer_stats.setdefault(layer, {"conversions": 0, "clipped": 0, "blocks": stats["blocks"],
                                                    "calls": 0})
        total["conversions"] += stats["conversions"]
        total["clipped"] += stats["clipped"]
        total["calls"] += 1
        return y

    @property
    def conversions(self):
        return sum(s["conversions"] for s in self.layer_stats.values())

    @property
    def clipped(self):
        return sum(s["clipped"] for s in self.layer_stats.values())

    @property
    def clip_rate(self):
        """Clipped conversions / conversions (0.0 before any)."""
        return self.clipped / self.conversions if self.conversions else 0.0


# The whole evaluation.

def digits_accuracy(config, run_blocks=None, seed=0, hidden=(32,), limit=None, test_fraction=0.2, percentile=100.0):
    """Train, quantise and evaluate the digits MLP on ``config``'s tile; return a dict.

    The split and the training use ``seed`` (:func:`load_digits_split`, :func:`train_mlp`), the quantisation is
    calibrated on the training images (:func:`quantise`), and the first ``limit`` test images (all when None; a
    larger ``limit`` than the test set, 360 images at the default split, is refused) are classified three ways: in
    float64, by the ideal-integer network (:func:`ideal_vmm`) and by the tile (:class:`TiledVmm` on ``run_blocks``,
    default :func:`golden_blocks`; one ``run_blocks`` call per layer with the whole batch). The config's largest
    input code must be above 0 (:func:`check_digits_config`). Deterministic for a seed.

    Keys: ``float_accuracy``, ``ideal_accuracy``, ``tile_accuracy`` (fractions in 0..1), ``clip_rate`` (clipped /
    conversions, the tile's ADC), ``clipped``, ``conversions``, ``test_samples``, ``blocks_per_layer`` (list),
    ``vmms_per_inference`` (tile VMMs per image: the total blocks), ``ideal_predictions``, ``tile_predictions``,
    ``labels`` (int64 arrays), ``agreement`` (the fraction of images where tile and ideal-integer predictions agree),
    ``float_mlp`` (:class:`FloatMlp`) and ``quant`` (:class:`QuantMlp`).
    """
    check_digits_config(config)
    limit = _check_limit(limit)
    hidden = _check_hidden(hidden)
    x_train, x_test, y_train, y_test = load_digits_split(test_fraction, seed)
    if limit is not None:
        if limit > len(x_test):
            raise InputError(f"limit must be at most {len(x_test)} (the test images of the split), not {limit}")
        x_test, y_test = x_test[:limit], y_test[:limit]
    mlp = train_mlp(x_train, y_train, hidden=hidden, seed=seed)
    quant = quantise(mlp, config, x_train, percentile=percentile)
    float_pred = mlp.predict(x_test)
    ideal_pred = quant.predict(x_test, ideal_vmm)
    vmm = TiledVmm(config, run_blocks)
    tile_pred = quant.predict(x_test, vmm)
    blocks = [len(tile_blocks(config, *shape)) for shape in quant.layer_shapes]
    return {
        "float_accuracy": float(np.mean(float_pred == y_test)),
        "ideal_accuracy": float(np.mean(ideal_pred == y_test)),
        "tile_accuracy": float(np.mean(tile_pred == y_test)),
        "agreement": float(np.mean(tile_pred == ideal_pred)),
        "clip_rate": vmm.clip_rate,
        "clipped": vmm.clipped,
        "conversions": vmm.conversions,
        "test_samples": int(len(y_test)),
        "blocks_per_layer": blocks,
        "vmms_per_inference": sum(blocks),
        "labels": np.array(y_test, dtype=np.int64),
        "ideal_predictions": ideal_pred,
        "tile_predictions": tile_pred,
        "float_mlp": mlp,
        "quant": quant,
    }
