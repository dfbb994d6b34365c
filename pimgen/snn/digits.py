"""The SNN engine's workload: scikit-learn's digits classified by a spiking network converted from a trained ANN.

:func:`digits_snn` trains a float MLP on the host and converts it, layer by layer, into integer LIF populations
(docs/snn.md); :class:`DigitsSnn` encodes images as spike trains, decodes the output spikes into a class and
evaluates the whole test split through the compiler and the golden model.

The ANN
    ``h_0 = x / 16``, ``h_{l+1} = ReLU(h_l @ W_l + b_l)`` for the hidden layers, ``logits = h_L @ W_L + b_L``; the
    class is the argmax of the logits. It is :func:`pimgen.cim.mlp.train_mlp` (scikit-learn's ``MLPClassifier``, ReLU,
    Adam, biases, deterministic for a seed) on the stratified split of :func:`pimgen.cim.mlp.load_digits_split` (1437
    training and 360 test images for the default ``test_fraction=0.2``), with hidden layers of unequal widths
    (default ``(48, 24)``: a 64-48-24-10 network).

The spiking network (:attr:`DigitsSnn.network`)
    An input population ``"pixels"`` (64 neurons) and one LIF population per layer, ``"hidden0"``, ``"hidden1"``, ...
    and ``"output"`` (10 neurons), joined by all-to-all projections with delay 0, so that a spike crosses the whole
    network within the step it enters (no layer latency eats into the ``steps`` of a run). Each population sits on
    its own core(s) (the compiler's placement); the default network takes 3 cores of the default
    ``SnnConfig()`` (4 cores of 64 neurons and 128 axons).

Input coding (:meth:`DigitsSnn.inputs`): deterministic rate coding over ``steps`` steps. A pixel of intensity ``p``
(0..16) spikes at step ``t`` exactly when ``floor((t + 1) * p / 16) > floor(t * p / 16)``: ``floor(steps * p / 16)``
spikes, evenly spread, so its rate is the ANN's input ``p / 16`` (a pixel of 16 spikes every step, a pixel of 0
never). No randomness: the same image always gives the same trains.

Conversion (:func:`digits_snn`), the data-based normalisation of Diehl et al. (2015) and Rueckauer et al. (2017),
then integers:

1. Normalisation factors: ``lambda_0 = 1`` (the input rates are ``x / 16`` already, at most 1); for a hidden layer
   ``l >= 1``, ``lambda_l`` is the ``percentile``-th percentile of the float ANN's ReLU activations ``h_l`` over the
   training images, all units together; for the output layer, the same statistic of the logits (their positive
   part). The default is the **maximum** (``percentile=100``), as in :mod:`pimgen.cim.mlp`: on this workload (hidden
   (48, 24), (40, 20), (56, 28), (32, 16), seeds 0..2, 16..32 steps) the 99.9th and 99.5th percentiles gave no
   consistent gain over the maximum (a few test images either way), and the maximum cannot saturate a neuron on a
   training image.
2. Normalised layer ``l`` (0-based, mapping layer input ``l`` to output ``l + 1``): ``W'_l = W_l * lambda_l /
   lambda_{l+1}`` and ``b'_l = b_l / lambda_{l+1}``. A neuron of threshold 1 that integrates ``W'_l`` times its input
   spikes plus ``b'_l`` per step then spikes at the rate ``h_{l+1} / lambda_{l+1}`` (clipped to 0..1).
3. Integers, one scale per layer: the threshold ``theta_l = max(1, min(floor(whi / max|W'_l|), phi // 2))`` with
   ``whi`` the largest weight code of ``weight_bits`` and ``phi`` the largest potential of ``config``; the weights
   ``rint(W'_l * theta_l)`` (``rint`` rounds half to even; they lie in ``-whi..whi``) and the biases ``clip(rint(b'_l
   * theta_l), potential range)``. The largest weight thus uses the whole weight range; the cap ``phi // 2`` keeps a
   threshold's worth of headroom below the potential's saturation when ``potential_bits`` is small (it does not bind
   for the default 8-bit weights and 16-bit potentials: thresholds are a few hundred).
4. Neurons: **reset by subtraction** (the residual potential above the threshold carries over, so a neuron's spike
   count over a run is the rate of the ANN unit up to one spike, Rueckauer et al.), and **leak = potential_bits - 1**:
   integrate-and-fire, the neuron the conversion assumes. With it ``v - (v >> leak) = v`` for ``v >= 0`` (no leak at
   all) and ``v + 1`` for ``v < 0`` (a negative potential drifts up by 1 per step, 1 / theta of a spike's worth:
   negligible at thresholds of hundreds). Leak 0 would empty the potential every step (a threshold unit with no
   integration, docs/snn.md), and any leak in between would bias the rates low.

Decoding (:meth:`DigitsSnn.classify`): the output neuron with the most spikes over the run. The engine records only
spikes (no final potential), so ties are broken by the earliest first spike, then by the lowest index; an image on
which no output neuron spikes is class 0 by the same rule (:meth:`DigitsSnn.evaluate` counts them as ``silent``).

Measured (``DigitsSnn.evaluate`` with the golden model, all 360 test images, default arguments): on ``SnnConfig()``
(3 of its 4 cores used, thresholds 671, 388, 233) ANN 97.22 %, SNN 96.94 % (the same class for 98.6 % of the
images, no silent output, 4 ties); on ``SnnConfig(cores=8, neurons=32, weight_bits=6)`` (``hidden0`` split over two
cores, 4 cores used, thresholds 163, 94, 57) SNN 96.67 %. Per image, on average: 461 input spikes, 290, 109 and 12
spikes of the three populations. tests/test_snn_digits.py asserts the SNN within 2 points of the ANN.

Everything is deterministic for a seed: the split and the training (:mod:`pimgen.cim.mlp`), the conversion and the
coding (no randomness). The module imports NumPy, scikit-learn (through :mod:`pimgen.cim.mlp`) and the plain-Python
SNN description and compiler; the golden model only when :meth:`DigitsSnn.evaluate` runs it.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from ..cim.mlp import INPUT_MAX, NUM_CLASSES, NUM_FEATURES, FloatMlp, load_digits_split, train_mlp
from ..errors import InputError, InputTypeError
from .config import SnnConfig
from .network import InputPopulation, Network, Population, Projection

__all__ = ["INPUT_NAME", "OUTPUT_NAME", "MIN_STEPS", "MAX_STEPS", "DigitsSnn", "digits_snn", "rate_code",
           "layer_names", "decide", "evaluate"]

#: The input population (the 64 pixels).
INPUT_NAME = "pixels"
#: The output population (one neuron per class).
OUTPUT_NAME = "output"
#: Steps of a run: 16 gives every pixel level its own spike count (``floor(16 * p / 16) = p``), 32 is where the
#: accuracy stops improving on this workload; the engine's default ``max_steps`` is 64.
MIN_STEPS, MAX_STEPS = 16, 32


# Argument checks.

def _check_int(name, value, lo, hi):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not lo <= value <= hi:
        raise InputError(f"{name} must be an integer in {lo}..{hi}, not {value!r}")
    return int(value)


def _check_percentile(percentile):
    if (isinstance(percentile, bool) or not isinstance(percentile, numbers.Real)
            or not 0 < float(percentile) <= 100):
        raise InputError(f"percentile must be a number in (0, 100] (100: the maximum), not {percentile!r}")
    return float(percentile)


def _check_config(config):
    if not isinstance(config, SnnConfig):
        raise InputTypeError(f"config must be an SnnConfig, not {type(config).__name__}")
    return config


def _pixels(x, name):
    """``x`` as an int64 [V, 64] array of pixel values 0..16 (V >= 1)."""
    arr = np.asarray(x)
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] != NUM_FEATURES:
        raise InputError(f"{name} must be a V x {NUM_FEATURES} array of pixels (V >= 1), not an array of shape "
                         f"{arr.shape}")
    if arr.dtype.kind not in "iuf":                  # not bool, complex, object or timedelta64
        raise InputError(f"{name} must hold numbers, not dtype {arr.dtype}")
    values = arr.astype(np.float64)
    if not np.isfinite(values).all() or (values != np.rint(values)).any() or (values < 0).any() \
            or (values > INPUT_MAX).any():
        raise InputError(f"{name} must hold integer pixel values in 0..{INPUT_MAX}")
    return values.astype(np.int64)


def layer_names(layers):
    """Names of the LIF populations of a network of ``layers`` layers: ``hidden0``, ``hidden1``, ..., ``output``."""
    return [f"hidden{i}" for i in range(layers - 1)] + [OUTPUT_NAME]


def rate_code(x, steps):
    """Rasters of raw pixels ``x[V, 64]`` (integers 0..16): bool ``[V, steps, 64]``, pixel ``p`` spiking at step
    ``t`` exactly when ``floor((t + 1) * p / 16) > floor(t * p / 16)`` (``floor(steps * p / 16)`` spikes)."""
    p = _pixels(x, "x")[:, None, :]
    t = np.arange(_check_int("steps", steps, 1, 1 << 20))[None, :, None]
    return ((t + 1) * p // INPUT_MAX) > (t * p // INPUT_MAX)


# The converted network.

@dataclass(frozen=True, eq=False)
class DigitsSnn:
    """A digits classifier converted to integer LIF populations (module docstring: the procedure and the choices).

    Attributes
    ----------
    config : SnnConfig
        The engine it was converted for (its ``potential_bits``; ``weight_bits`` unless given smaller).
    network : Network
        Input ``"pixels"`` (64), LIF populations :attr:`populations` (the hidden layers and ``"output"``, 10),
        projections of delay 0 between consecutive layers.
    steps : int
        Steps of one run (one image per run).
    mlp : FloatMlp
        The float ANN it was converted from.
    norms : list of float
        ``lambda_0 .. lambda_L+1``: the normalisation factor of each layer's input and of the logits.
    thresholds : list of int
        ``theta_l`` of each LIF population.
    weight_bits : int
        Width the weights were scaled to (at most ``config.weight_bits``).
    percentile : float
        The normalisation statistic (100: the maximum).
    seed, hidden, test_fraction :
        The split and training arguments.
    ann_accuracy : float
        The float ANN's accuracy on the whole test split (0..1).
    """

    config: SnnConfig
    network: Network
    steps: int
    mlp: FloatMlp
    norms: list
    thresholds: list
    weight_bits: int
    percentile: float
    seed: int
    hidden: tuple
    test_fraction: float
    ann_accuracy: float

    @property
    def populations(self):
        """Names of the LIF populations, input side first (the last is ``"output"``)."""
        return [p.name for p in self.network.populations]

    def split(self):
        """``(x_train, x_test, y_train, y_test)`` the ANN was trained and is tested on."""
        return load_digits_split(self.test_fraction, self.seed)

    def inputs(self, image):
        """``{"pixels": bool raster [steps, 64]}`` of one image (64 raw pixels, integers 0..16), for
        :meth:`~pimgen.snn.compiler.CompiledNetwork.trains`."""
        arr = np.asarray(image)
        if arr.shape != (NUM_FEATURES,):
            raise InputError(f"image must hold {NUM_FEATURES} pixels, not an array of shape {arr.shape}")
        return {INPUT_NAME: rate_code(arr[None, :], self.steps)[0]}

    def rasters(self, x):
        """Input rasters of several images ``x[V, 64]``: bool ``[V, steps, 64]``."""
        return rate_code(x, self.steps)

    def classify(self, spikes):
        """The class of one run from ``{population name: bool raster [steps, size]}`` (at least ``"output"``, as
        :meth:`~pimgen.snn.compiler.CompiledNetwork.population_spikes` gives): most output spikes, then earliest
        first spike, then lowest index."""
        if not isinstance(spikes, dict) or OUTPUT_NAME not in spikes:
            raise InputError(f"spikes must be a dict holding the {OUTPUT_NAME!r} population's raster")
        r = np.asarray(spikes[OUTPUT_NAME])
        if r.ndim != 2 or r.shape[1] != NUM_CLASSES or r.dtype != bool:
            raise InputError(f"The {OUTPUT_NAME!r} raster must be a boolean steps x {NUM_CLASSES} array, not "
                             f"{r.dtype} of shape {r.shape}")
        return int(decide(r[None])[0])

    def evaluate(self, limit=None, simulate=None):
        """Classify the first ``limit`` test images (all when None) on the engine's golden model; return a dict.

        The network is compiled once (:func:`~pimgen.snn.compiler.compile_network`); each image is one run of
        ``steps`` steps: ``result = simulate(config, program, trains)``, by default
        :func:`sw_model.snn.simulate` (any function with its signature and an :class:`~sw_model.snn.SnnResult`-like
        result: ``.spikes`` and ``.steps``, and optionally the activity counts ``synaptic_ops``, ``input_spikes``,
        ``output_spikes`` and ``packets``, per core).

        Keys: ``ann_accuracy`` and ``snn_accuracy`` on those images (fractions in 0..1), ``agreement`` (SNN class ==
        ANN class), ``test_samples``, ``labels``, ``ann_predictions``, ``snn_predictions`` (int64 arrays),
        ``silent`` (images with no output spike), ``ties`` (images decided by the tie-break after the spike count),
        ``spikes_per_image`` (``{population: mean spikes per image}``, the input included), ``activity`` (the
        result's counts summed over cores and images, where the result has them), ``cores_used`` and ``steps``.
        """
        from .compiler import compile_network
        if simulate is None:
            from sw_model.snn import simulate
        elif not callable(simulate):
            raise InputTypeError(f"simulate must be a function (config, program, trains) -> result, not "
                                 f"{type(simulate).__name__}")
        if limit is not None:
            limit = _check_int("limit", limit, 1, 1 << 31)
        _, x_test, _, y_test = self.split()
        if limit is not None:
            x_test, y_test = x_test[:limit], y_test[:limit]
        compiled = compile_network(self.config, self.network)
        rasters = self.rasters(x_test)
        outputs = np.zeros((len(y_test), self.steps, NUM_CLASSES), dtype=bool)
        spikes = {name: 0 for name in [INPUT_NAME] + self.populations}
        activity = {}
        for i, raster in enumerate(rasters):
            result = simulate(self.config, compiled.program, compiled.trains({INPUT_NAME: raster}))
            pops = compiled.population_spikes(result)
            outputs[i] = pops[OUTPUT_NAME]
            spikes[INPUT_NAME] += int(raster.sum())
            for name in self.populations:
                spikes[name] += int(pops[name].sum())
            for key in ("synaptic_ops", "input_spikes", "output_spikes", "packets"):
                if hasattr(result, key):
                    activity[key] = activity.get(key, 0) + int(np.sum(getattr(result, key)))
        snn_pred = decide(outputs)
        ann_pred = self.mlp.predict(x_test.astype(np.float64))
        counts = np.sort(outputs.sum(axis=1), axis=1)
        return {
            "ann_accuracy": float(np.mean(ann_pred == y_test)),
            "snn_accuracy": float(np.mean(snn_pred == y_test)),
            "agreement": float(np.mean(snn_pred == ann_pred)),
            "test_samples": int(len(y_test)),
            "labels": np.array(y_test, dtype=np.int64),
            "ann_predictions": ann_pred,
            "snn_predictions": snn_pred,
            "silent": int(np.sum(counts[:, -1] == 0)),
            "ties": int(np.sum((counts[:, -1] == counts[:, -2]) & (counts[:, -1] > 0))),
            "spikes_per_image": {name: total / len(y_test) for name, total in spikes.items()},
            "activity": activity,
            "cores_used": compiled.cores_used,
            "steps": self.steps,
        }


def decide(outputs):
    """Classes of runs from output rasters bool ``[V, steps, 10]``: most spikes, then earliest first spike, then
    lowest index (int64 [V])."""
    outputs = np.asarray(outputs, dtype=bool)
    steps = outputs.shape[1]
    counts = outputs.sum(axis=1)
    first = np.where(outputs.any(axis=1), outputs.argmax(axis=1), steps)
    # One key per neuron: count first, then (steps - first); np.argmax takes the lowest index among equal keys.
    return np.argmax(counts * (steps + 1) + (steps - first), axis=1).astype(np.int64)


def _norm(values, percentile):
    return float(np.percentile(values, percentile)) if percentile < 100 else float(np.max(values))


def digits_snn(config, hidden=(48, 24), steps=24, seed=0, weight_bits=None, percentile=100.0, test_fraction=0.2):
    """Train the digits ANN and convert it into a spiking network for ``config``; return a :class:`DigitsSnn`.

    Parameters
    ----------
    config : SnnConfig
        The engine: ``potential_bits`` bounds the thresholds and biases, ``weight_bits`` the weights; it must have
        ``input_neurons >= 64`` and ``max_steps >= steps``. Whether the populations fit its cores, neurons and axons
        is the compiler's check (:meth:`DigitsSnn.evaluate` compiles).
    hidden : tuple of int
        Widths of the hidden layers (a non-empty tuple).
    steps : int
        Steps of one run, 16..32 (:data:`MIN_STEPS`, :data:`MAX_STEPS`).
    seed : int
        The split's and the training's seed.
    weight_bits : int, optional
        Width to scale the weights to, 2..``config.weight_bits`` (default ``config.weight_bits``).
    percentile : float
        The normalisation statistic in (0, 100]; 100 (the default) is the maximum.
    test_fraction : float
        The test share of the split (default 0.2: 360 test images).

    Raises
    ------
    InputTypeError
        ``config`` is not an :class:`SnnConfig`.
    InputError
        An argument out of range, or a config with too few input neurons or steps.
    """
    _check_config(config)
    steps = _check_int("steps", steps, MIN_STEPS, MAX_STEPS)
    weight_bits = config.weight_bits if weight_bits is None else _check_int("weight_bits", weight_bits, 2,
                                                                            config.weight_bits)
    percentile = _check_percentile(percentile)
    if config.input_neurons < NUM_FEATURES:
        raise InputError(f"The digits network needs input_neurons >= {NUM_FEATURES} (one per pixel), not "
                         f"{config.input_neurons}")
    if config.max_steps < steps:
        raise InputError(f"A run of {steps} steps needs max_steps >= {steps}, not {config.max_steps}")
    x_train, x_test, y_train, y_test = load_digits_split(test_fraction, seed)     # checks test_fraction and seed
    mlp = train_mlp(x_train, y_train, hidden=hidden, seed=seed)                   # checks hidden
    hidden = tuple(int(h) for h in hidden)

    acts = mlp.activations(x_train)
    norms = [1.0] + [_norm(a, percentile) for a in acts[1:]] + [_norm(np.maximum(mlp.forward(x_train), 0.0),
                                                                      percentile)]
    norms = [n if n > 0 else 1.0 for n in norms]
    whi = (1 << (weight_bits - 1)) - 1
    plo, phi = config.potential_range
    names = layer_names(len(mlp.weights))
    populations, projections, thresholds = [], [], []
    source = INPUT_NAME
    for layer, (w, b) in enumerate(zip(mlp.weights, mlp.biases)):
        w_norm = w * (norms[layer] / norms[layer + 1])
        b_norm = b / norms[layer + 1]
        top = float(np.max(np.abs(w_norm)))
        theta = max(1, min(int(np.floor(whi / top)) if top > 0 else whi, phi // 2))
        codes = np.clip(np.rint(w_norm * theta), -whi, whi).astype(np.int64)
        bias = np.clip(np.rint(b_norm * theta), plo, phi).astype(np.int64)
        populations.append(Population(names[layer], w.shape[1], threshold=theta, leak=config.potential_bits - 1,
                                      reset="subtract", bias=bias))
        projections.append(Projection(source, names[layer], codes, delay=0))
        thresholds.append(theta)
        source = names[layer]
    network = Network(inputs=[InputPopulation(INPUT_NAME, NUM_FEATURES)], populations=populations,
                      projections=projections)
    ann_accuracy = float(np.mean(mlp.predict(x_test) == y_test))
    return DigitsSnn(config=config, network=network, steps=steps, mlp=mlp, norms=norms, thresholds=thresholds,
                     weight_bits=weight_bits, percentile=percentile, seed=int(seed), hidden=hidden,
                     test_fraction=float(test_fraction), ann_accuracy=ann_accuracy)


def evaluate(config, limit=None, simulate=None, **kwargs):
    """:func:`digits_snn` ``(config, **kwargs)`` then :meth:`DigitsSnn.evaluate` ``(limit, simulate)``; the dict
    also holds ``snn`` (the :class:`DigitsSnn`)."""
    snn = digits_snn(config, **kwargs)
    result = snn.evaluate(limit=limit, simulate=simulate)
    result["snn"] = snn
    return result
