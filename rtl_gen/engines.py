"""The engines pimgen can generate: name -> config class and component class.

Adding an engine is one entry here: the CLI, the manifest, the runner and the benchmarks find it through this table.
"""

import importlib
from dataclasses import dataclass

from pimgen.config import GnnConfig

__all__ = ["EngineSpec", "ENGINES", "engine_for", "engine_named"]


@dataclass(frozen=True)
class EngineSpec:
    """One engine: its config class, its Amaranth component, and the module with its CLI commands.

    The commands module provides ``add_run_arguments(parser)``, ``run(config, args, console)`` and
    ``bench(args, console)``; both return the exit status.
    """
    name: str
    config_cls: type
    component_path: str   # "module:Class", imported on use so that config handling needs no Amaranth import
    commands_path: str    # module with the engine's run/bench commands, imported on use
    description: str

    @property
    def component(self):
        module, _, cls = self.component_path.partition(":")
        return getattr(importlib.import_module(module), cls)

    @property
    def commands(self):
        return importlib.import_module(self.commands_path)


ENGINES = {
    "gnn": EngineSpec("gnn", GnnConfig, "hw.gnn.engine:GnnEngine", "rtl_gen.gnn_commands",
                      "GNN neighbour aggregation over CSR graphs (sum, mean, max, weighted)"),
}


def engine_named(name):
    try:
        return ENGINES[name]
    except KeyError:
        raise ValueError(f"Engine must be one of {', '.join(ENGINES)}, not {name!r}") from None


def engine_for(config):
    for spec in ENGINES.values():
        if isinstance(config, spec.config_cls):
            return spec
    raise TypeError(f"No engine takes a {type(config).__name__}")
