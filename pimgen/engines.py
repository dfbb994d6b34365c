"""The one table of engines pimgen knows: name -> config class, component, driver, commands.

Everything engine-specific is reached through an :class:`EngineSpec`: the CLI builds its sub-commands from
:data:`ENGINES`, ``rtl_gen`` elaborates ``spec.component``, the runner keys a model's build cache on
``spec.design_sources()`` and the simulation job loop imports ``spec.driver``. Heavy parts (Amaranth, cocotb) are
named by import path and imported on use, so that reading a config needs neither.

A new engine is one :func:`register` call (the built-in ones are below); nothing in the CLI, the runner or the
manifest code changes.
"""

import importlib
import importlib.util
import inspect
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, InputTypeError
from .cim.config import CimConfig
from .gnn.config import GnnConfig
from .snn.config import SnnConfig

__all__ = ["EngineSpec", "ENGINES", "register", "engine_for", "engine_named", "COMMON_DESIGN_SOURCES"]

_PROJECT = Path(__file__).resolve().parent.parent

#: Sources that shape every engine's Verilog, whatever the engine (relative to the project root).
COMMON_DESIGN_SOURCES = ("hw/common", "pimgen/config.py", "pimgen/layout.py", "rtl_gen/generate.py",
                         "rtl_gen/verilator_waivers.vlt")


def _import(path):
    module, _, name = path.partition(":")
    obj = importlib.import_module(module)
    return getattr(obj, name) if name else obj


@dataclass(frozen=True)
class EngineSpec:
    """One engine.

    Parameters
    ----------
    name : str
        Short name used by the CLI, the manifest and build directories.
    config_cls : type
        Its frozen config dataclass (a :class:`pimgen.config.EngineConfig`).
    component_path : str
        ``"module:Class"`` of its Amaranth component; the component's package (``hw.gnn``) holds everything the
        engine elaborates besides ``hw/common``.
    driver_path : str
        ``"module:Class"`` of its host driver (a :class:`tb.host.driver.EngineDriver`).
    commands_path : str or None
        Module with its ``pimgen run`` / ``pimgen bench`` commands: ``add_run_arguments(parser)``,
        ``run(config, args, console)``, ``bench(args, console)`` (each returns the exit status). None: the engine has
        ``generate`` only.
    description : str
    """
    name: str
    config_cls: type
    component_path: str
    driver_path: str
    commands_path: str
    description: str

    @property
    def component(self):
        return _import(self.component_path)

    @property
    def driver(self):
        return _import(self.driver_path)

    @property
    def commands(self):
        return _import(self.commands_path) if self.commands_path else None

    def design_sources(self):
        """Files and folders whose content shapes this engine's Verilog: :data:`COMMON_DESIGN_SOURCES`, the
        component's package and the config class's module. A model's build cache is keyed on these, so editing
        another engine does not rebuild this one."""
        package = self.component_path.partition(":")[0].rpartition(".")[0]
        spec = importlib.util.find_spec(package)
        package_dir = Path(next(iter(spec.submodule_search_locations))).resolve()
        sources = [_PROJECT / p for p in COMMON_DESIGN_SOURCES]
        sources += [package_dir, Path(inspect.getfile(self.config_cls)).resolve()]
        return sorted(set(sources))


ENGINES = {}


def register(spec):
    """Add an engine to :data:`ENGINES` (tests use this for a test-only engine); returns ``spec``."""
    if not isinstance(spec, EngineSpec):
        raise InputTypeError(f"Engine spec must be an EngineSpec, not {spec!r}")
    if spec.name in ENGINES and ENGINES[spec.name] != spec:
        raise InputError(f"Engine name {spec.name!r} is already taken")
    ENGINES[spec.name] = spec
    return spec


register(EngineSpec("gnn", GnnConfig, "hw.gnn.engine:GnnEngine", "tb.host.gnn:GnnDriver", "pimgen.gnn.commands",
                    "GNN neighbour aggregation over CSR graphs (sum, mean, max, weighted)"))
register(EngineSpec("cim", CimConfig, "hw.cim.engine:CimEngine", "tb.host.cim:CimDriver", "pimgen.cim.commands",
                    "compute-in-memory VMM tile: bit-sliced weights, DAC steps, shared ADCs, noise, shift-add"))
register(EngineSpec("snn", SnnConfig, "hw.snn.engine:SnnEngine", "tb.host.snn:SnnDriver", "pimgen.snn.commands",
                    "many-core integer LIF processor with per-core asynchronous schedulers (or a global barrier)"))


def engine_named(name):
    try:
        return ENGINES[name]
    except KeyError:
        raise InputError(f"Engine must be one of {', '.join(ENGINES)}, not {name!r}") from None


def engine_for(config):
    for spec in ENGINES.values():
        if type(config) is spec.config_cls:
            return spec
    raise InputTypeError(f"No engine takes a {type(config).__name__}")
