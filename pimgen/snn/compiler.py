"""Map a :class:`~pimgen.snn.network.Network` onto the SNN engine's cores: placement, axons, weights, fan-out.

The rules (docs/snn.md gives the engine they target):

- **Placement.** Each core holds neurons of exactly one population, since threshold, leak and reset are per core.
  The populations are placed in the order of ``network.populations`` on cores 0, 1, ...; a population of ``n``
  neurons takes ``ceil(n / neurons)`` cores and is split into contiguous chunks whose sizes differ by at most one
  (a population of ``3 * neurons + 5`` takes 4 cores of about ``(3 * neurons + 5) / 4`` neurons each).
- **Inputs.** The input populations are laid out one after the other, in the order of ``network.inputs``, on the
  input source's neurons ``0 .. input_neurons - 1``.
- **Axons.** A target core gets one axon per ``(source, source neuron, delay)`` with a nonzero weight into any of its
  neurons, where the source is the core that holds the source neuron (or the input source); projections with the
  same source, target and delay share the axon and their weights add (weights that add up to zero for every neuron
  of the core are no synapse). A core's axons are numbered in the order of ``(source, source neuron, delay)``.
- **Fan-out.** A source neuron's entries are ``(core, axon, delay)``, one per axon it feeds, in the order of
  ``(core, axon)``.

A network that does not fit, or holds a value the config cannot represent, raises one
:class:`~pimgen.errors.InputError` naming the population or projection, the limit, and the option to raise. The
checks run in this order: the values (thresholds, leaks, biases, weights, delays), the input neurons, the cores, the
axons of each core, the summed weights of shared axons, the fan-out of each source, zero-delay cycles.

Plain Python and NumPy.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError, InputTypeError
from .config import SnnConfig
from .network import Network
from .program import CoreProgram, SnnProgram, SpikeTrains

__all__ = ["CompiledNetwork", "compile_network", "split_sizes"]


def split_sizes(size, neurons):
    """Chunk sizes of a population of ``size`` neurons over ``ceil(size / neurons)`` cores, differing by at most
    one, the larger ones first."""
    chunks = -(-size // neurons)
    base, extra = divmod(size, chunks)
    return [base + 1] * extra + [base] * (chunks - extra)


@dataclass(eq=False)
class CompiledNetwork:
    """A network compiled for one config.

    Attributes
    ----------
    config : SnnConfig
        The config it was compiled for.
    network : Network
        The logical network.
    program : SnnProgram
        The validated program (padded to the config's sizes).
    placement : dict
        For each (non-input) population name, its chunks as a list of ``(core, first neuron, count)``: neurons
        ``first .. first + count - 1`` of the population are neurons ``0 .. count - 1`` of ``core``.
    input_index : dict
        For each input population name, the input source neuron of its neuron 0 (its neurons are contiguous).
    axons : list of list
        Per core, the ``(source, source neuron, delay)`` of each of its axons, in axon order (source ``cores`` is the
        input source).
    """
    config: SnnConfig
    network: Network
    program: SnnProgram
    placement: dict
    input_index: dict
    axons: list

    @property
    def cores_used(self):
        """Cores that hold neurons of the network."""
        return sum(len(chunks) for chunks in self.placement.values())

    def trains(self, inputs, steps=None):
        """The input source's :class:`SpikeTrains` (validated) for ``inputs``.

        Parameters
        ----------
        inputs : dict
            ``{input population name: raster}``, each raster a boolean (or 0/1 integer) array ``[steps, size]``.
            An input population left out is silent.
        steps : int, optional
            Number of steps; required when ``inputs`` is empty, else it must equal the rasters' length.

        Raises
        ------
        InputError
            An unknown name, a raster of the wrong shape or values, rasters of different lengths, or trains the
            config cannot hold (more steps than ``max_steps``, more spikes than ``max_input_spikes``).
        """
        if not isinstance(inputs, dict):
            raise InputTypeError(f"Inputs must be a dict of input population name -> raster, not "
                                 f"{type(inputs).__name__}")
        sizes = {p.name: p.size for p in self.network.inputs}
        rasters = {}
        for name, raster in inputs.items():
            if name not in sizes:
                known = ", ".join(map(repr, sizes)) or "none"
                raise InputError(f"{name!r} is not an input population of the network (its inputs: {known})")
            r = np.asarray(raster)
            if r.dtype != bool:
                if not np.issubdtype(r.dtype, np.integer) or ((r != 0) & (r != 1)).any():
                    raise InputError(f"Input {name!r} raster must be boolean (or 0/1 integers), not {r.dtype}")
                r = r.astype(bool)
            if r.ndim != 2 or r.shape[1] != sizes[name]:
                raise InputError(f"Input {name!r} raster must be steps x {sizes[name]}, not shape {r.shape}")
            rasters[name] = r
        if steps is not None and (not _is_int(steps) or steps < 1):
            raise InputError(f"Steps must be a positive integer, not {steps!r}")
        lengths = sorted({r.shape[0] for r in rasters.values()} | ({int(steps)} if steps is not None else set()))
        if len(lengths) > 1:
            raise InputError("Input rasters (and steps) must cover the same number of steps, not "
                             + ", ".join(map(str, lengths)))
        if not lengths:
            raise InputError("Give steps when no input raster is given")
        steps = lengths[0]
        if steps < 1:
            raise InputError("Input rasters must cover at least one step")
        full = np.zeros((steps, self.config.input_neurons), dtype=bool)
        for name, r in rasters.items():
            full[:, self.input_index[name]:self.input_index[name] + sizes[name]] = r
        return SpikeTrains.from_raster(full).validate(self.config)

    def population_spikes(self, result, steps=None):
        """``{population name: boolean raster [steps, size]}`` from a golden :class:`~sw_model.snn.SnnResult`, or
        from per-core spike records (``result[k]``: core ``k``'s ``(step, neuron)`` rows) with ``steps`` given."""
        if hasattr(result, "spikes") and hasattr(result, "steps"):
            records, steps = result.spikes, result.steps if steps is None else steps
        else:
            records = result
            if steps is None:
                raise InputError("Give steps with per-core spike records")
        if not isinstance(records, (list, tuple)) or len(records) < self.cores_used:
            raise InputError(f"Spike records must be a list with one (step, neuron) array per core (at least "
                             f"{self.cores_used}), not {type(records).__name__}"
                             + (f" of {len(records)}" if isinstance(records, (list, tuple)) else ""))
        out = {}
        for pop in self.network.populations:
            raster = np.zeros((steps, pop.size), dtype=bool)
            for core, first, count in self.placement[pop.name]:
                rec = np.asarray(records[core], dtype=np.int64).reshape(-1, 2)
                bad = (rec[:, 0] < 0) | (rec[:, 0] >= steps) | (rec[:, 1] < 0) | (rec[:, 1] >= count)
                if bad.any():
                    t, n = rec[np.argmax(bad)].tolist()
                    raise InputError(f"Core {core} recorded a spike of neuron {n} at step {t}, outside its {count} "
                                     f"neurons of population {pop.name!r} or the {steps} steps")
                raster[rec[:, 0], first + rec[:, 1]] = True
            out[pop.name] = raster
        return out


def _is_int(value):
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_values(config, network):
    """Thresholds, leaks, biases, weights and delays against the config's ranges."""
    plo, phi = config.potential_range
    vbits = f"potential_bits = {config.potential_bits}"
    for pop in network.populations:
        if not _is_int(pop.threshold) or not 1 <= pop.threshold <= phi:
            raise InputError(f"Population {pop.name!r} threshold must be an integer in 1..{phi} ({vbits}), not "
                             f"{pop.threshold!r}; raise --potential-bits for a larger threshold")
        if not _is_int(pop.leak) or not 0 <= pop.leak <= config.potential_bits - 1:
            raise InputError(f"Population {pop.name!r} leak must be an integer in 0..{config.potential_bits - 1} "
                             f"({vbits}), not {pop.leak!r}")
        bad = np.flatnonzero((pop.bias < plo) | (pop.bias > phi))
        if bad.size:
            raise InputError(f"Population {pop.name!r} bias[{bad[0]}] = {pop.bias[bad[0]]} is beyond the potential "
                             f"range {plo}..{phi} ({vbits}); raise --potential-bits")
    wlo, whi = config.weight_range
    for proj in network.projections:
        bad = np.argwhere((proj.weights < wlo) | (proj.weights > whi))
        if bad.size:
            i, j = bad[0].tolist()
            raise InputError(f"Projection {proj.source} -> {proj.target} weight[{i}, {j}] = {proj.weights[i, j]} is "
                             f"beyond the weight range {wlo}..{whi} (weight_bits = {config.weight_bits}); raise "
                             "--weight-bits")
        if proj.delay > config.max_delay:
            raise InputError(f"Projection {proj.source} -> {proj.target} has delay {proj.delay}, more than "
                             f"max_delay = {config.max_delay}; raise --max-delay")


def _place(config, network):
    """Chunks of each population, and the input source offsets."""
    input_index, offset = {}, 0
    for pop in network.inputs:
        input_index[pop.name] = offset
        offset += pop.size
    if offset > config.input_neurons:
        raise InputError(f"The input populations hold {offset} neurons ("
                         + ", ".join(f"{p.name} {p.size}" for p in network.inputs)
                         + f"), the input source has input_neurons = {config.input_neurons}; raise --input-neurons")
    sizes = [(pop.name, split_sizes(pop.size, config.neurons)) for pop in network.populations]
    needed = sum(len(s) for _, s in sizes)
    if needed > config.cores:
        raise InputError(f"The network needs {needed} cores ("
                         + ", ".join(f"{name} {len(s)}" for name, s in sizes)
                         + f" at neurons = {config.neurons} per core), the engine has cores = {config.cores}; "
                         "raise --cores or --neurons")
    placement, core = {}, 0
    for name, chunk_sizes in sizes:
        first, placement[name] = 0, []
        for count in chunk_sizes:
            placement[name].append((core, first, count))
            core, first = core + 1, first + count
    return placement, input_index


def _zero_delay_cycle(edges, cores):
    """A cycle of zero-delay core edges (``edges[s]``: the cores ``s`` feeds with delay 0) as a list of cores, or
    None."""
    state = {}

    def visit(k, path):
        state[k] = "open"
        for c in sorted(edges.get(k, ())):
            if state.get(c) == "open":
                return path[path.index(c):] + [c]
            if c not in state:
                found = visit(c, path + [c])
                if found:
                    return found
        state[k] = "done"
        return None

    for k in range(cores):
        if k not in state:
            found = visit(k, [k])
            if found:
                return found
    return None


def compile_network(config, network):
    """Compile ``network`` for ``config`` (the rules are in this module's docstring).

    Returns
    -------
    CompiledNetwork

    Raises
    ------
    InputTypeError
        ``config`` is not an :class:`SnnConfig` or ``network`` not a :class:`Network`.
    InputError
        A value out of the config's ranges, or a network that does not fit: one error naming the population or
        projection, the limit, and the option to raise.
    """
    if not isinstance(config, SnnConfig):
        raise InputTypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
    if not isinstance(network, Network):
        raise InputTypeError(f"Network must be a Network, not {type(network).__name__}")
    _check_values(config, network)
    placement, input_index = _place(config, network)
    K = config.cores
    pops = {p.name: p for p in network.populations}
    owner = {core: name for name, chunks in placement.items() for core, _, _ in chunks}

    # The chunks a projection's source rows come from: (source, first row of the population, rows, first source
    # neuron), the source being a core or the input source K.
    def source_chunks(name):
        if name in input_index:
            size = network.population(name).size
            return [(K, 0, size, input_index[name])]
        return [(core, first, count, 0) for core, first, count in placement[name]]

    rows = [{} for _ in range(K)]                   # per core: (source, source neuron, delay) -> weight row
    for proj in network.projections:
        for core, tfirst, tcount in placement[proj.target]:
            for source, sfirst, scount, sbase in source_chunks(proj.source):
                block = proj.weights[sfirst:sfirst + scount, tfirst:tfirst + tcount]
                for r in np.flatnonzero(block.any(axis=1)).tolist():
                    key = (source, sbase + r, proj.delay)
                    if key in rows[core]:
                        rows[core][key] = rows[core][key] + block[r]
                    else:
                        rows[core][key] = block[r].copy()
    for core_rows in rows:                          # weights of shared axons that cancel out: no synapse
        for key in [key for key, row in core_rows.items() if not row.any()]:
            del core_rows[key]

    def describe(core, start=False):
        return f"{'Core' if start else 'core'} {core} (population {owner[core]!r})"

    axons = [sorted(r) for r in rows]
    for core, keys in enumerate(axons):
        if len(keys) > config.axons:
            sources = {}
            for source, _, _ in keys:
                sources[source] = sources.get(source, 0) + 1
            listed = ", ".join(f"{n} from " + ("the input source" if s == K else describe(s))
                               for s, n in sorted(sources.items()))
            raise InputError(f"{describe(core, True)} needs {len(keys)} axons (one per source neuron and "
                             f"delay with a nonzero weight into it: {listed}), the engine has axons = "
                             f"{config.axons}; raise --axons or make the projections into {owner[core]!r} sparser")

    wlo, whi = config.weight_range
    for core, keys in enumerate(axons):
        for key in keys:
            row = rows[core][key]
            if row.min() < wlo or row.max() > whi:
                source, neuron, delay = key
                src_pop = owner[source] if source < K else next(
                    name for name, off in input_index.items()
                    if off <= neuron < off + network.population(name).size)
                names = [f"{p.source} -> {p.target}" for p in network.projections
                         if p.source == src_pop and p.target == owner[core] and p.delay == delay]
                value = int(row.min() if row.min() < wlo else row.max())
                raise InputError(f"Projections {', '.join(names)} (delay {delay}) share axons and their weights add "
                                 f"up to {value}, beyond the weight range {wlo}..{whi} (weight_bits = "
                                 f"{config.weight_bits}); raise --weight-bits or merge them into one projection")

    # Fan-out of every source: per source neuron, its (core, axon, delay) entries.
    fan = [{} for _ in range(K + 1)]
    for core, keys in enumerate(axons):
        for axon, (source, neuron, delay) in enumerate(keys):
            fan[source].setdefault(neuron, []).append((core, axon, delay))
    tables = []
    for source in range(K + 1):
        n_rows = config.input_neurons if source == K else config.neurons
        counts = np.zeros(n_rows, dtype=np.int64)
        entries = []
        for neuron in sorted(fan[source]):
            counts[neuron] = len(fan[source][neuron])
            entries.extend(sorted(fan[source][neuron]))
        if len(entries) > config.max_fanout:
            what = "The input source" if source == K else describe(source, True)
            raise InputError(f"{what} needs {len(entries)} fan-out entries (one per target core, axon and delay of "
                             f"each of its neurons), more than max_fanout = {config.max_fanout}; raise --max-fanout")
        tables.append((np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
                       np.array(entries, dtype=np.int64).reshape(-1, 3)))

    zero_edges = {}                                 # source core -> the cores it feeds with delay 0
    for core, keys in enumerate(axons):
        for source, _, delay in keys:
            if source < K and delay == 0:
                zero_edges.setdefault(source, set()).add(core)
    cycle = _zero_delay_cycle(zero_edges, K)
    if cycle:
        steps = " -> ".join(f"{owner[c]} (core {c})" for c in cycle)
        names = sorted({f"{p.source} -> {p.target}" for p in network.projections if p.delay == 0
                        and any(p.source == owner[a] and p.target == owner[b] for a, b in zip(cycle, cycle[1:]))})
        raise InputError(f"Zero-delay projections form a cycle: {steps}; within one step each core would wait on the "
                         f"other; give one of {', '.join(names)} a delay >= 1")

    cores = []
    for name, chunks in placement.items():
        pop = pops[name]
        for core, first, count in chunks:
            keys = axons[core]
            weights = np.array([rows[core][key] for key in keys], dtype=np.int64).reshape(len(keys), count)
            cores.append(CoreProgram(weights=weights, bias=pop.bias[first:first + count].copy(),
                                     threshold=int(pop.threshold), leak=int(pop.leak), reset=pop.reset,
                                     fanout_ptr=tables[core][0], fanout=tables[core][1]))
    program = SnnProgram(cores=cores, input_fanout_ptr=tables[K][0], input_fanout=tables[K][1])
    program.validate(config)
    return CompiledNetwork(config=config, network=network, program=program, placement=placement,
                           input_index=input_index, axons=axons)
