"""The ``pimgen`` command line: a thin layer that parses arguments and calls the library.

    pimgen generate gnn --lanes 8 --format int16 --out build/gnn [--lint]
    pimgen run gnn --dataset cora --features 16 --lanes 8 --op sum [--waves]
    pimgen bench gnn [--quick]
    pimgen engines

Config parameters become options automatically from the engine's config dataclass; workload options and the run and
bench commands come from the engine's commands module (``EngineSpec.commands``). A new engine needs no code here.
Bad input prints one line on stderr and exits with status 2; a result that does not match the golden model exits
with status 1.
"""

import argparse
import dataclasses
import os
import sys
import typing
from pathlib import Path

from .engines import ENGINES, engine_named

__all__ = ["main"]


class CliError(Exception):
    """A user error the CLI reports in one line (exit status 2)."""


def _add_config_arguments(parser, config_cls):
    """One option per config field, parsed by its type: int, float, bool (--x/--no-x), a choice, or a tuple of
    ints or floats given as a comma-separated list."""
    group = parser.add_argument_group(f"{config_cls.engine} configuration")
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        option = "--" + f.name.replace("_", "-")
        kind = hints.get(f.name)
        default = f.default
        shown = f" (default: {default})" if default is not None else ""
        if kind is bool:
            group.add_argument(option, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                               help=help_text + shown)
        elif choices:
            group.add_argument(option, dest=f.name, choices=choices, default=None, help=help_text + shown)
        else:
            group.add_argument(option, dest=f.name, type=_parser_for(f.name, kind), default=None,
                               metavar="X,Y,..." if typing.get_origin(kind) is tuple else "N",
                               help=help_text + shown)


def _parser_for(name, kind):
    if typing.get_origin(kind) is tuple:
        item = _parser_for(name, (typing.get_args(kind) or (int,))[0])

        def parse_tuple(text):
            return tuple(item(part) for part in text.split(",") if part.strip())
        parse_tuple.__name__ = name
        return parse_tuple

    def parse(text):
        try:
            return float(text) if kind is float else int(text, 0)
        except ValueError:
            what = "a number" if kind is float else "an integer"
            raise argparse.ArgumentTypeError(f"{name} must be {what}, not {text!r}") from None
    parse.__name__ = name
    return parse


def _config_from_args(spec, args):
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(spec.config_cls)
              if getattr(args, f.name, None) is not None}
    return spec.config_cls(**values)


def _console():
    from rich.console import Console
    return Console(stderr=True, highlight=False)


# generate

def cmd_generate(args):
    from .generate import generate, lint
    spec = engine_named(args.engine)
    config = _config_from_args(spec, args)
    console = _console()
    with console.status(f"generating {config.top_name}"):
        generated = generate(config, args.out)
    m = generated.manifest
    print(f"{generated.verilog}  ({generated.verilog.stat().st_size // 1024} KiB, top {m['top']})")
    print(f"{generated.manifest_path}  ({len(m['registers'])} registers, {len(m['windows'])} windows, "
          f"bus address width {m['bus']['addr_width']})")
    if args.lint:
        with console.status("verilator --lint-only"):
            ok, output = lint(generated)
        if not ok:
            sys.stderr.write(output)
            raise CliError(f"verilator --lint-only found problems in {generated.verilog}")
        print("lint: clean (verilator --lint-only -Wall with rtl_gen/verilator_waivers.vlt)")
    return 0


# run, bench: the engine's own commands module (EngineSpec.commands) does the work

def cmd_run(args):
    spec = engine_named(args.engine)
    config = _config_from_args(spec, args)
    return spec.commands.run(config, args, _console())


def cmd_bench(args):
    spec = engine_named(args.engine)
    return spec.commands.bench(args, _console())


def cmd_engines(args):
    for name, spec in ENGINES.items():
        print(f"{name:6} {spec.description}")
    return 0


class _Parser(argparse.ArgumentParser):
    """Usage errors (unknown choice, bad integer, missing argument) in one line with status 2, like other bad input.

    Sub-command parsers are of the same class (argparse creates them with ``type(parent)``).
    """

    def error(self, message):
        self.exit(2, f"pimgen: error: {message} (see `{self.prog} --help`)\n")


def build_parser():
    parser = _Parser(prog="pimgen", description="RTL generator for memory-centric accelerators")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    p = sub.add_parser("engines", help="list the engines")
    p.set_defaults(func=cmd_engines)

    # Each verb has one sub-parser per engine, carrying that engine's config options and, for run, the
    # engine's own workload options (EngineSpec.commands.add_run_arguments): a new engine adds an entry in
    # rtl_gen/engines.py and a commands module, and nothing here changes.
    for spec, e in _engine_parsers(sub, "generate", "write Verilog, manifest.json and registers.md for a config",
                                   cmd_generate):
        e.add_argument("--out", type=Path, required=True, help="output directory")
        e.add_argument("--lint", action="store_true", help="also run verilator --lint-only on the result")
        _add_config_arguments(e, spec.config_cls)

    for spec, e in _engine_parsers(sub, "run", "simulate an engine on a workload and compare with the golden model",
                                   cmd_run):
        spec.commands.add_run_arguments(e)
        e.add_argument("--waves", action="store_true", help="dump a VCD trace (separate build)")
        e.add_argument("--build-dir", type=Path, default=None, help="build root (default build/sim)")
        e.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
        _add_config_arguments(e, spec.config_cls)

    for spec, e in _engine_parsers(sub, "bench", "benchmarks: JSON in build/bench and a table", cmd_bench):
        e.add_argument("--quick", action="store_true", help="one small workload (used by the test suite)")
        e.add_argument("--cold", action="store_true",
                       help="build every model from scratch, without ccache, to time it")
        e.add_argument("--out", type=Path, default=Path("build/bench"), help="output directory")
        e.add_argument("--build-dir", type=Path, default=None, help="build root (default build/sim)")
    return parser


def _engine_parsers(sub, verb, help_text, func):
    """Yield ``(spec, parser)`` for ``pimgen <verb> <engine>``, one per engine, each calling ``func``."""
    engines = sub.add_parser(verb, help=help_text).add_subparsers(dest="engine", required=True, metavar="engine")
    for name, spec in ENGINES.items():
        parser = engines.add_parser(name, help=spec.description)
        parser.set_defaults(func=func)
        yield spec, parser


def _one_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    from .toolchain import ToolMissing
    try:
        return args.func(args)
    except (CliError, ValueError, TypeError, ToolMissing, OSError) as exc:   # OSError: --graph, --out, --json paths
        if os.environ.get("PIMGEN_DEBUG"):
            raise
        print(f"pimgen: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except RuntimeError as exc:   # simulation failed, engine reported an error
        if os.environ.get("PIMGEN_DEBUG"):
            raise
        print(f"pimgen: failed: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("pimgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
