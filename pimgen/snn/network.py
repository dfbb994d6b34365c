"""A spiking network as users describe it: populations of integer LIF neurons, an input population, and projections
with integer weights and delays. ``pimgen.snn.compiler.compile_network`` maps it onto the engine's cores.

Plain Python and NumPy; every check raises :class:`~pimgen.errors.InputError` naming the population or projection.
"""

from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, InputTypeError
from .config import RESET_MODES

__all__ = ["InputPopulation", "Population", "Projection", "Network"]


def _name(value, what):
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} name must be a non-empty string, not {value!r}")
    return value


def _size(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InputError(f"{what} size must be a positive integer, not {value!r}")
    return int(value)


@dataclass
class InputPopulation:
    """Neurons whose spikes come from the host (the engine's input source)."""
    name: str
    size: int

    def __post_init__(self):
        self.name = _name(self.name, "Input population")
        self.size = _size(self.size, f"Input population {self.name!r}")


@dataclass
class Population:
    """``size`` integer LIF neurons sharing ``threshold``, ``leak`` and ``reset`` (docs/snn.md), each with its own
    ``bias`` (a scalar or one value per neuron)."""
    name: str
    size: int
    threshold: int
    leak: int = 0
    reset: str = "zero"
    bias: object = 0

    def __post_init__(self):
        self.name = _name(self.name, "Population")
        self.size = _size(self.size, f"Population {self.name!r}")
        if self.reset not in RESET_MODES:
            raise InputError(f"Population {self.name!r} reset must be one of {', '.join(RESET_MODES)}, "
                             f"not {self.reset!r}")
        bias = np.asarray(self.bias)
        if bias.ndim == 0:
            bias = np.full(self.size, bias)
        if bias.shape != (self.size,) or not np.issubdtype(bias.dtype, np.integer):
            raise InputError(f"Population {self.name!r} bias must be an integer or {self.size} integers, "
                             f"not {np.asarray(self.bias).dtype} of shape {np.asarray(self.bias).shape}")
        self.bias = bias.astype(np.int64)


@dataclass
class Projection:
    """All-to-all synapses ``weights[source neuron, target neuron]`` (integers; zeros are no synapse) from population
    ``source`` (an input or neuron population) to population ``target``, arriving ``delay`` steps later."""
    source: str
    target: str
    weights: np.ndarray
    delay: int = 0

    def __post_init__(self):
        w = np.asarray(self.weights)
        if w.ndim != 2 or not np.issubdtype(w.dtype, np.integer):
            raise InputError(f"Projection {self.source} -> {self.target} weights must be a 2-D integer array, "
                             f"not {w.dtype} of shape {w.shape}")
        self.weights = w.astype(np.int64)
        if isinstance(self.delay, bool) or not isinstance(self.delay, (int, np.integer)) or self.delay < 0:
            raise InputError(f"Projection {self.source} -> {self.target} delay must be an integer >= 0, "
                             f"not {self.delay!r}")
        self.delay = int(self.delay)


@dataclass
class Network:
    """Populations (the input ones and the LIF ones) and the projections between them."""
    inputs: list
    populations: list
    projections: list = field(default_factory=list)

    def __post_init__(self):
        if not all(isinstance(p, InputPopulation) for p in self.inputs):
            raise InputTypeError("Network inputs must be InputPopulation objects")
        if not all(isinstance(p, Population) for p in self.populations):
            raise InputTypeError("Network populations must be Population objects")
        if not all(isinstance(p, Projection) for p in self.projections):
            raise InputTypeError("Network projections must be Projection objects")
        names = [p.name for p in self.inputs + self.populations]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InputError(f"Population names must be unique, not {', '.join(repeated)} twice")
        sizes = {p.name: p.size for p in self.inputs + self.populations}
        lif = {p.name for p in self.populations}
        for proj in self.projections:
            if proj.source not in sizes:
                raise InputError(f"Projection source {proj.source!r} is not a population of the network")
            if proj.target not in lif:
                raise InputError(f"Projection target {proj.target!r} must be a (non-input) population of the network")
            if proj.weights.shape != (sizes[proj.source], sizes[proj.target]):
                raise InputError(f"Projection {proj.source} -> {proj.target} weights must be "
                                 f"{sizes[proj.source]} x {sizes[proj.target]}, not {proj.weights.shape}")

    def population(self, name):
        for p in self.inputs + self.populations:
            if p.name == name:
                return p
        raise InputError(f"No population named {name!r}")
