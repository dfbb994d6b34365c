"""Verilator builds and cocotb runs, cached per configuration.

One build per engine configuration: the build directory is ``<root>/<engine>-<config hash>`` and holds the
generated Verilog, the manifest and the Verilator model. A stamp records a hash of the design sources (hw/, rtl_gen/,
pimgen/config.py) and the build options, so a changed design rebuilds and an unchanged one is reused; ccache makes
the C++ part of a rebuild fast. Builds take a file lock, so ``pytest -n 2`` workers asking for the same configuration
build it once.

Tests pass their inputs to the cocotb test module through files named in environment variables (``extra_env``) and
read its outputs back from files: many ops and inputs run on one build, through registers.
"""

import fcntl
import hashlib
import json
import os
import time

import numpy as np
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rtl_gen.generate import WAIVERS, generate
from rtl_gen.toolchain import require_verilator, verilator_env

__all__ = ["SimModel", "SimulationFailed", "build", "run_test", "run_jobs", "default_build_root", "design_hash",
           "CLOCK_NS"]

#: Simulated clock period. 10 ns = 100 MHz, near what FPGA builds reach; it only scales simulated time.
CLOCK_NS = 10

_PROJECT = Path(__file__).resolve().parent.parent
#: What shapes the generated Verilog and its Verilator model; a change to any of these rebuilds.
_DESIGN_SOURCES = ("hw", "pimgen", "rtl_gen/generate.py", "rtl_gen/engines.py", "rtl_gen/verilator_waivers.vlt")
#: Verilator options of every build (after the waiver file).
BUILD_ARGS = ("-Wno-fatal", "--x-assign", "0", "--x-initial", "0", "-O3")


class SimulationFailed(RuntimeError):
    """A cocotb test failed or the simulator did not produce results."""


def default_build_root():
    """``$PIMGEN_BUILD_DIR`` or ``build/sim`` under the current directory."""
    return Path(os.environ.get("PIMGEN_BUILD_DIR", "build")) / "sim"


def design_hash():
    """SHA-256 (16 hex digits) over the sources that shape the generated Verilog."""
    h = hashlib.sha256()
    for source in _DESIGN_SOURCES:
        source = _PROJECT / source
        paths = sorted(source.rglob("*")) if source.is_dir() else [source]
        for path in paths:
            if path.suffix in (".py", ".vlt") and "__pycache__" not in path.parts:
                h.update(str(path.relative_to(_PROJECT)).encode())
                h.update(path.read_bytes())
    h.update(" ".join(BUILD_ARGS).encode())
    return h.hexdigest()[:16]


@dataclass
class SimModel:
    """A built Verilator model of one configuration."""
    config: object
    directory: Path
    top: str
    verilog: Path
    manifest: Path
    waves: bool
    build_seconds: float
    cached: bool

    @property
    def sim_dir(self):
        return self.directory / "sim"


def _tool_versions():
    from importlib.metadata import version
    return {name: version(name) for name in ("amaranth", "cocotb", "verilator")}


@contextmanager
def _locked(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _prepare_env():
    require_verilator()
    os.environ.update(verilator_env())


def build(config, *, waves=False, root=None, log=print):
    """Generate and build ``config`` for Verilator unless an up-to-date build exists; returns :class:`SimModel`.

    Parameters
    ----------
    config : EngineConfig
    waves : bool
        Build with VCD tracing (a separate build directory, ``...-waves``).
    root : path or None
        Build root (default :func:`default_build_root`).
    log : callable or None
        Receives one-line progress messages.
    """
    from cocotb_tools.runner import get_runner

    _prepare_env()
    root = Path(root) if root is not None else default_build_root()
    directory = (root / f"{config.engine}-{config.config_hash}{'-waves' if waves else ''}").resolve()
    stamp_path = directory / "build.stamp"
    stamp = {"design": design_hash(), "config": config.to_dict(), "waves": waves, "verilator": require_verilator(),
             "tools": _tool_versions()}
    t0 = time.perf_counter()
    with _locked(directory.with_name(directory.name + ".lock")):
        cached = False
        rtl_dir = directory / "rtl"
        if stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp:
            cached = True
        else:
            if log:
                log(f"building {config.top_name} ({config.engine}) in {directory}")
            stamp_path.unlink(missing_ok=True)
            generated = generate(config, rtl_dir)
            runner = get_runner("verilator")
            runner.build(
                sources=[generated.verilog],
                hdl_toplevel=config.top_name,
                build_dir=directory / "sim",
                build_args=[str(WAIVERS), *BUILD_ARGS],
                waves=waves,
                log_file=directory / "build.log",
            )
            stamp_path.write_text(json.dumps(stamp))
        seconds = time.perf_counter() - t0
    return SimModel(config=config, directory=directory, top=config.top_name,
                    verilog=rtl_dir / f"{config.top_name}.v", manifest=rtl_dir / "manifest.json",
                    waves=waves, build_seconds=seconds, cached=cached)


def run_test(model, test_module, run_dir, *, testcase=None, extra_env=None, waves=None):
    """Run cocotb ``test_module`` on ``model`` with ``run_dir`` as its working directory.

    Raises :class:`SimulationFailed` if any test fails. ``extra_env`` reaches the test module as environment
    variables; ``PIMGEN_MANIFEST`` is always set to the model's manifest.
    """
    from cocotb_tools.runner import get_results, get_runner

    _prepare_env()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {"PIMGEN_MANIFEST": str(model.manifest)}
    env.update(extra_env or {})
    runner = get_runner("verilator")
    results = runner.test(
        test_module=test_module,
        hdl_toplevel=model.top,
        hdl_toplevel_lang="verilog",   # a runner that did not build needs to be told
        testcase=testcase,
        build_dir=model.sim_dir,
        test_dir=run_dir,
        results_xml=str(run_dir / "results.xml"),
        extra_env=env,
        waves=model.waves if waves is None else waves,
        log_file=run_dir / "sim.log",
    )
    try:
        total, failed = get_results(results)
    except RuntimeError as exc:
        raise SimulationFailed(f"No results from the simulation of {model.top}: {exc}; see {run_dir / 'sim.log'}")
    if total == 0 or failed:
        log = (run_dir / "sim.log").read_text(errors="replace")[-4000:] if (run_dir / "sim.log").exists() else ""
        raise SimulationFailed(f"{failed} of {total} cocotb test(s) failed on {model.top}; "
                               f"log: {run_dir / 'sim.log'}\n{log}")
    return results


def run_jobs(model, test_module, run_dir, jobs, *, testcase="run_jobs", extra_env=None):
    """Run a cocotb module over job files: the plumbing every engine's session uses.

    ``jobs`` is a list of dicts of arrays, written to ``run_dir/job<i>.npz``; the testbench reads them through
    :func:`tb.harness.job_paths` and answers with :func:`tb.harness.save_job_result`. Returns, per job,
    ``(arrays, meta)`` from ``job<i>.out.npz`` and ``job<i>.out.json``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, arrays in enumerate(jobs):
        path = (run_dir / f"job{i}.npz").resolve()
        np.savez(path, **arrays)
        for suffix in (".out.npz", ".out.json"):
            path.with_suffix(suffix).unlink(missing_ok=True)
        paths.append(path)
    run_test(model, test_module, run_dir, testcase=testcase,
             extra_env={**(extra_env or {}), "PIMGEN_JOBS": os.pathsep.join(str(p) for p in paths)})
    results = []
    for path in paths:
        with np.load(path.with_suffix(".out.npz")) as out:
            arrays = {k: out[k] for k in out.files}
        results.append((arrays, json.loads(path.with_suffix(".out.json").read_text())))
    return results
