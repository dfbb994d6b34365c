"""The ``pimgen`` command line: a thin layer that parses arguments and calls the library.

    pimgen generate gnn --lanes 8 --format int16 --out build/gnn [--lint]
    pimgen run gnn --dataset cora --features 16 --lanes 8 --op sum [--waves]
    pimgen bench gnn [--quick]
    pimgen engines

Config parameters become options automatically from the engine's config dataclass; workload options and the run and
bench commands come from the engine's commands module (``EngineSpec.commands``). A new engine needs no code here.

Exit status (see :mod:`pimgen.errors`): 0 success; 1 a result differs from the golden model (or an internal error,
which prints a traceback); 2 bad input, one line on stderr, before anything is built; 3 a build failed (the line
names the log); 4 a run failed (simulator, engine error code, timeout); 130 interrupted (Ctrl-C); 143 terminated
(SIGTERM). Builds and simulations are ended with pimgen, never left running.
"""

import argparse
import dataclasses
import os
import re
import sys
import typing
from pathlib import Path

from .config import ConfigError, ConfigTypeError
from .engines import ENGINES, engine_named
from .outputs import check_output_dir, check_output_file
from .errors import (EXIT_BAD_INPUT, EXIT_BUILD_FAILED, EXIT_RUN_FAILED, BuildFailed, InputError, PimgenError,
                     RunFailed, Terminated, terminate_on_sigterm)
from .session import BACKENDS

__all__ = ["main"]

EXIT_INTERRUPTED = 130
#: 128 + SIGPIPE, what a shell reports for a command whose output pipe closed.
EXIT_BROKEN_PIPE = 141


class CliError(InputError):
    """A user error the CLI reports in one line (exit status 2)."""


def option_name(field):
    return "--" + field.replace("_", "-")


class OptionTypes:
    """argparse types whose errors name the option."""

    @staticmethod
    def _integer(option, lo, what):
        def parse(text):
            try:
                value = int(text, 0)
            except ValueError:
                raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
            if value < lo:
                raise argparse.ArgumentTypeError(f"must be {what}, not {value}")
            return value
        parse.__name__ = option
        return parse

    @classmethod
    def positive(cls, option):
        return cls._integer(option, 1, "a positive integer")

    @classmethod
    def non_negative(cls, option):
        return cls._integer(option, 0, "a non-negative integer")


def _add_config_arguments(parser, config_cls):
    """One option per config field, parsed by its type: int, float, bool (--x/--no-x), a choice, or a tuple of
    ints or floats given as a comma-separated list."""
    group = parser.add_argument_group(f"{config_cls.engine} configuration")
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        help_text = f.metadata.get("help", "")
        choices = f.metadata.get("choices")
        option = option_name(f.name)
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
            raise argparse.ArgumentTypeError(f"must be {what}, not {text!r}") from None
    parse.__name__ = name
    return parse


def _config_from_args(spec, args):
    """The config the options give; an error names the option (``--frac-bits``), not the field."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(spec.config_cls)
              if getattr(args, f.name, None) is not None}
    try:
        return spec.config_cls(**values)
    except (ConfigError, ConfigTypeError) as exc:
        fields = "|".join(re.escape(f.name) for f in dataclasses.fields(spec.config_cls))
        message = re.sub(rf"(?<![\w-])({fields})\b", lambda m: option_name(m.group(1)), str(exc))
        raise CliError(message) from None


def _console():
    from rich.console import Console
    return Console(stderr=True, highlight=False, log_path=False)


# generate

def cmd_generate(args):
    from rtl_gen.generate import generate, lint
    spec = engine_named(args.engine)
    config = _config_from_args(spec, args)
    check_output_dir(args.out, "--out")
    console = _console()
    with console.status(f"generating {config.top_name}"):
        try:
            generated = generate(config, args.out)
        except OSError as exc:
            raise CliError(f"--out {args.out}: {exc.strerror or exc}") from None
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
    spec = engine_named(args.engine_name)
    config = _config_from_args(spec, args)
    check_output_file(args.json, "--json")
    check_output_dir(args.build_dir, "--build-dir")
    if args.backend == "serial":
        if not args.port:
            raise CliError("--backend serial needs --port (the board's serial port, e.g. /dev/ttyUSB0)")
        if args.waves:
            raise CliError("--waves applies to --backend sim (a board has no trace)")
    elif args.port is not None or args.baud is not None:
        raise CliError("--port and --baud apply to --backend serial")
    if args.target is not None:
        return spec.commands.RUN_TARGETS[args.target].run(config, args, _console())
    return spec.commands.run(config, args, _console())


def cmd_bench(args):
    spec = engine_named(args.engine)
    check_output_dir(args.out, "--out")
    check_output_dir(args.build_dir, "--build-dir")
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
    # pimgen/engines.py and a commands module, and nothing here changes.
    for spec, e in _engine_parsers(sub, "generate", "write Verilog, manifest.json and registers.md for a config",
                                   cmd_generate):
        e.add_argument("--out", type=Path, required=True, help="output directory")
        e.add_argument("--lint", action="store_true", help="also run verilator --lint-only on the result")
        _add_config_arguments(e, spec.config_cls)

    for spec, e, target in _run_parsers(sub):
        if target is None:
            spec.commands.add_run_arguments(e, OptionTypes)
        else:
            target.add_arguments(e, OptionTypes)
        e.add_argument("--backend", choices=list(BACKENDS), default="sim",
                       help="where the engine runs: " + "; ".join(f"{k}: {v}" for k, v in BACKENDS.items())
                            + " (default: sim)")
        e.add_argument("--port", default=None, help="--backend serial: the board's serial port (e.g. /dev/ttyUSB0)")
        e.add_argument("--baud", type=OptionTypes.positive("--baud"), default=None,
                       help="--backend serial: baud rate (default 115200)")
        e.add_argument("--waves", action="store_true", help="dump a VCD trace (separate build)")
        e.add_argument("--build-dir", type=Path, default=None, help="build root (default build/sim)")
        e.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
        _add_config_arguments(e, spec.config_cls)

    for spec, e in _engine_parsers(sub, "bench", "benchmarks: JSON in build/bench and a table", cmd_bench,
                                   needs_commands=True):
        e.add_argument("--quick", action="store_true", help="one small workload (used by the test suite)")
        e.add_argument("--cold", action="store_true",
                       help="build every model from scratch, without ccache, to time it")
        e.add_argument("--out", type=Path, default=Path("build/bench"), help="output directory")
        e.add_argument("--build-dir", type=Path, default=None, help="build root (default build/sim)")
    return parser


def _run_parsers(sub):
    """Yield ``(spec, parser, target)`` for ``pimgen run <engine>`` (target None) and for the further workloads an
    engine's commands module offers in ``RUN_TARGETS`` (``pimgen run gcn``: a whole network on the gnn engine)."""
    targets = []
    for spec, parser in _engine_parsers(sub, "run", "run an engine on a workload and compare with the golden model",
                                        cmd_run, needs_commands=True, collect=targets):
        parser.set_defaults(engine_name=spec.name, target=None)
        yield spec, parser, None
    runs = targets[0]
    for spec in ENGINES.values():
        for name, target in getattr(spec.commands, "RUN_TARGETS", {}).items() if spec.commands else ():
            parser = runs.add_parser(name, help=f"{target.help} (on the {spec.name} engine)")
            parser.set_defaults(func=cmd_run, engine_name=spec.name, target=name)
            yield spec, parser, target


def _engine_parsers(sub, verb, help_text, func, needs_commands=False, collect=None):
    """Yield ``(spec, parser)`` for ``pimgen <verb> <engine>``, one per engine (with run/bench commands when
    ``needs_commands``), each calling ``func``."""
    engines = sub.add_parser(verb, help=help_text).add_subparsers(dest="engine", required=True, metavar="engine")
    if collect is not None:
        collect.append(engines)
    for name, spec in ENGINES.items():
        if needs_commands and spec.commands is None:
            continue
        parser = engines.add_parser(name, help=spec.description)
        parser.set_defaults(func=func)
        yield spec, parser


def _one_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with terminate_on_sigterm():
            return args.func(args)
    except PimgenError as exc:
        return _fail("error", exc, EXIT_BAD_INPUT)
    except BuildFailed as exc:
        return _fail("build failed", exc, EXIT_BUILD_FAILED)
    except RunFailed as exc:
        return _fail("run failed", exc, EXIT_RUN_FAILED)
    except KeyboardInterrupt:
        print("pimgen: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout went away (`pimgen run ... | head -1`): stop writing there, quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Terminated as exc:
        print("pimgen: terminated", file=sys.stderr)
        return exc.exit_status


def _fail(what, exc, status):
    if os.environ.get("PIMGEN_DEBUG"):
        raise exc
    print(f"pimgen: {what}: {_one_line(exc)}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
