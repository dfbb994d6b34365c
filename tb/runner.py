"""Verilator builds and cocotb runs, cached per configuration, in process groups that a signal stops cleanly.

One build per engine configuration: the build directory is ``<root>/<engine>-<config hash>`` and holds the generated
Verilog and manifest (``rtl/``), the simulation top (``rtl/<top>_sim.v``, see :mod:`tb.sim_top`), the Verilator model
(``sim/``), ``build.log`` and ``build.stamp``. The stamp records :func:`design_hash` (the engine's own design
sources, the simulation top, the build options and tool versions), the config, and whether the model traces; a build
whose stamp and outputs are all in place is reused, anything else (no stamp, an empty or foreign stamp, a missing
simulator, Verilog, manifest or wrapper) rebuilds from an empty model folder. ccache keeps rebuilds fast.

Locking: ``<build dir>.lock`` is taken exclusively to build and shared to check a build or to run a simulation, so
``pytest -n 2`` workers asking for the same configuration build it once, and a rebuild never pulls a model from under
a running simulation.

Processes: builds and simulations run in ``python -m tb.verilator_worker`` (see there), the leader of a new process
group that inherits the lock. If the caller is interrupted (an exception, KeyboardInterrupt, SystemExit, or
:class:`Terminated` from :func:`terminate_on_sigterm`), the whole group is stopped and waited for before the exception
goes on; if the caller is killed outright, the worker keeps the lock until its group has finished.

Tests pass their inputs to the cocotb test module through files named in environment variables (``extra_env``) and
read its outputs back from files: many ops and inputs run on one build, through registers. Each run of a built model
can have a directory of its own (:func:`new_run_dir`).

Simulations start from random state: models are built with ``--x-initial unique`` and run with
``+verilator+rand+reset+2 +verilator+seed+<seed>``, the seed from ``$PIMGEN_SIM_SEED`` (default
:data:`DEFAULT_SIM_SEED`), so that a run is reproducible and an engine reading memory the host never wrote differs
from the golden model. (Verilator 5.048 gives all words of one memory the same random value.)
"""

import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


from pimgen.errors import BuildFailed, InputError, PimgenError, RunFailed, Terminated, terminate_on_sigterm
from rtl_gen.toolchain import require_verilator, verilator_env
from . import sim_top

__all__ = ["SimModel", "SimulationFailed", "Terminated", "build", "run_test", "new_run_dir",
           "terminate_on_sigterm", "sim_seed", "default_build_root", "design_hash", "BUILD_ARGS",
           "DEFAULT_SIM_SEED"]

#: Verilator options of every build (after the waiver file and cocotb's own). ``--x-initial unique``: state without
#: an initial value starts random (see the module's docstring). ``--no-public-flat-rw --public-depth 1`` undo
#: cocotb's ``--public-flat-rw``: cocotb sees the ports and signals of the simulation top only, never inside the
#: engine, and the model runs 2-3x faster (GNN, lanes=4 int16: 4.7-6.9 -> 2.2 us per cycle). A testbench that needs a
#: backdoor into an engine would have to drop these two options.
BUILD_ARGS = ("-Wno-fatal", "--x-assign", "0", "--x-initial", "unique", "--no-public-flat-rw", "--public-depth", "1",
              "-O3")
#: Seed of a simulation's random initial state when ``$PIMGEN_SIM_SEED`` is not set (Verilator reads 0 as "pick one").
DEFAULT_SIM_SEED = 1
_MAX_SIM_SEED = 2**31 - 1
#: Sources of the simulation model besides the engine's own (:meth:`pimgen.engines.EngineSpec.design_sources`).
SIM_SOURCES = (Path(sim_top.__file__).resolve(),)
#: Seconds between two "still building" lines of a long build.
HEARTBEAT_SECONDS = 15
#: How long a stopped worker's group may take to end on SIGTERM before it is killed.
STOP_GRACE_SECONDS = 10

_PROJECT = Path(__file__).resolve().parent.parent
_LOG_TAIL_CHARS = 4000


class SimulationFailed(RunFailed):
    """A cocotb test failed or the simulator did not produce results; the message names the log."""


def default_build_root():
    """``$PIMGEN_BUILD_DIR/sim``, else ``build/sim`` under the current directory."""
    return Path(os.environ.get("PIMGEN_BUILD_DIR", "build")) / "sim"


def _tool_versions():
    from importlib.metadata import version
    return {name: version(name) for name in ("amaranth", "cocotb", "verilator")}


def _source_files(source):
    """``(name, path)`` of each .py/.vlt file of a design source (a file or a folder); ``path`` None if missing.

    Names are relative to the project, or for a source outside it to the source's parent folder, so that a key
    does not depend on where the project or an out-of-tree engine lies.
    """
    source = Path(source)
    base = _PROJECT if source.is_relative_to(_PROJECT) else source.parent
    if source.is_dir():
        paths = [p for p in sorted(source.rglob("*")) if p.suffix in (".py", ".vlt") and p.is_file()
                 and "__pycache__" not in p.parts]
    else:
        paths = [source]
    return [(str(p.relative_to(base)), p if p.is_file() else None) for p in paths]


def design_hash(config):
    """SHA-256 (16 hex digits) over what shapes the simulation model of ``config``'s engine.

    That is the content and relative path of every .py/.vlt file of the engine's
    :meth:`~pimgen.engines.EngineSpec.design_sources` and of :data:`SIM_SOURCES`, plus :data:`BUILD_ARGS` and the
    versions of Amaranth, cocotb and Verilator. Editing one engine's package leaves every other engine's key alone.
    """
    from pimgen.engines import engine_for
    h = hashlib.sha256()
    for source in [*engine_for(config).design_sources(), *SIM_SOURCES]:
        for name, path in _source_files(source):
            data = path.read_bytes() if path is not None else b""
            h.update(f"{name}\0{len(data) if path is not None else 'missing'}\0".encode() + data)
    h.update(json.dumps({"build_args": list(BUILD_ARGS), "tools": _tool_versions()}, sort_keys=True).encode())
    return h.hexdigest()[:16]


@dataclass
class SimModel:
    """A built Verilator model of one configuration.

    ``top`` is the engine's Verilog module, ``toplevel`` the simulation top that cocotb drives (the engine with the
    burst adapter of :mod:`tb.sim_top`, under the engine's port names).
    """
    config: object
    directory: Path
    top: str
    toplevel: str
    verilog: Path
    manifest: Path
    waves: bool
    build_seconds: float
    cached: bool

    @property
    def sim_dir(self):
        """The Verilator model folder."""
        return self.directory / "sim"

    @property
    def simulator(self):
        """The simulator executable."""
        return self.sim_dir / self.toplevel

    @property
    def sim_top(self):
        """Verilog of the simulation top."""
        return self.verilog.with_name(f"{self.toplevel}.v")

    @property
    def lock_path(self):
        return self.directory.with_name(self.directory.name + ".lock")

    @property
    def outputs(self):
        """Files a usable build has."""
        return (self.verilog, self.manifest, self.sim_top, self.simulator)


@contextmanager
def _locked(path, shared=False, on_wait=None):
    """Hold an flock on ``path``; yields the open file, whose descriptor a worker can inherit. ``on_wait`` is called
    once if another process holds the lock, before waiting for it.

    The lock is never released explicitly: it goes when the last descriptor is closed, i.e. when both this process
    has left the block and any worker that inherited the descriptor has ended.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with open(path, "a") as lock:
        try:
            fcntl.flock(lock, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(lock, mode)
        yield lock


@contextmanager
def _signals_held():
    """Defer SIGINT, SIGTERM and SIGHUP: a second Ctrl-C must not cut short the stopping of a worker's group."""
    held = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _stop_group(proc):
    """Stop the worker ``proc`` and its whole process group, and wait for the worker (which waits for its children)."""
    with _signals_held():
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)         # whatever outlived the worker or ignored SIGTERM
        except ProcessLookupError:
            pass
        proc.wait()


def _python_path(env):
    """``PYTHONPATH`` for a worker: the caller's ``sys.path`` and ``$PYTHONPATH``, as absolute folders.

    The simulator runs in the run directory, so a relative entry (``''`` for the current directory) would point
    elsewhere there; the simulator then imports every module the caller can, such as a test-only engine's driver.
    """
    entries = [*sys.path, *env.get("PYTHONPATH", "").split(os.pathsep)]
    folders = [os.path.abspath(p or os.curdir) for p in entries if os.path.exists(p or os.curdir)]
    return os.pathsep.join(dict.fromkeys(folders))


def _worker_env(extra=None):
    env = verilator_env()
    env.update(extra or {})
    env["PYTHONPATH"] = _python_path(env)
    env.pop("PYTEST_CURRENT_TEST", None)     # cocotb's runner behaves differently under pytest; the worker is not
    return env


def _run_worker(step, arguments, *, log_path, env, lock, heartbeat=None):
    """Run ``tb.verilator_worker`` ``step`` with its output in ``log_path``; returns its exit status.

    ``heartbeat(seconds)`` is called every :data:`HEARTBEAT_SECONDS` while the worker runs, so that a long build
    shows it is alive also where no spinner is drawn (stderr not a terminal). On any exception (KeyboardInterrupt,
    SystemExit and :class:`Terminated` included) the worker's process group is stopped and waited for before the
    exception goes on.
    """
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "tb.verilator_worker", step, json.dumps(arguments)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                cwd=_PROJECT, start_new_session=True, pass_fds=(lock.fileno(),))
        try:
            while True:
                try:
                    return proc.wait(timeout=HEARTBEAT_SECONDS)
                except subprocess.TimeoutExpired:
                    if heartbeat is not None:
                        heartbeat(time.perf_counter() - t0)
        except BaseException:
            _stop_group(proc)
            raise


def _log_tail(path):
    try:
        return path.read_text(errors="replace")[-_LOG_TAIL_CHARS:]
    except OSError:
        return ""


def _with_log(exc, path):
    """``exc`` with the end of the log at ``path`` as a note (tracebacks show it; the one-line message does not)."""
    tail = _log_tail(path)
    if tail:
        exc.add_note(f"--- end of {path} ---\n{tail}")
    return exc


def _is_current(model, stamp_path, stamp):
    try:
        if stamp_path.read_bytes() != stamp:
            return False
    except OSError:
        return False
    return all(path.is_file() for path in model.outputs)


def _write_atomically(path, data):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


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

    Raises
    ------
    pimgen.errors.BuildFailed
        Generation or the Verilator build failed; the message names ``build.log``.
    """
    root = Path(root) if root is not None else default_build_root()
    directory = (root / f"{config.engine}-{config.config_hash}{'-waves' if waves else ''}").resolve()
    rtl_dir = directory / "rtl"
    toplevel = f"{config.top_name}_sim"
    stamp_path = directory / "build.stamp"
    stamp = json.dumps({"design": design_hash(config), "config": config.to_dict(), "waves": waves,
                        "verilator": require_verilator()}, sort_keys=True).encode()
    model = SimModel(config=config, directory=directory, top=config.top_name, toplevel=toplevel,
                     verilog=rtl_dir / f"{config.top_name}.v", manifest=rtl_dir / "manifest.json", waves=waves,
                     build_seconds=0.0, cached=True)
    t0 = time.perf_counter()

    def waiting():
        if log:
            log(f"waiting for another process building or running {config.top_name} ({model.lock_path})")
    with _locked(model.lock_path, shared=True, on_wait=waiting):
        current = _is_current(model, stamp_path, stamp)
    if not current:
        with _locked(model.lock_path, on_wait=waiting) as lock:
            if not _is_current(model, stamp_path, stamp):
                model.cached = False
                if log:
                    log(f"building {config.top_name} ({config.engine}) in {directory}")
                _build(model, lock, log)
                _write_atomically(stamp_path, stamp)
    model.build_seconds = time.perf_counter() - t0
    return model


def _build(model, lock, log=None):
    """Generate the Verilog and the simulation top, then verilate them into an empty model folder."""
    from rtl_gen.generate import WAIVERS, generate
    log_path = model.directory / "build.log"
    stamp = model.directory / "build.stamp"
    if stamp.is_dir():
        shutil.rmtree(stamp)
    stamp.unlink(missing_ok=True)
    shutil.rmtree(model.sim_dir, ignore_errors=True)      # no objects of an interrupted or older build survive
    model.directory.mkdir(parents=True, exist_ok=True)
    if log:
        log(f"generating Verilog for {model.top} (Amaranth and Yosys; large memories take longest)")
    try:
        generated = generate(model.config, model.verilog.parent)
    except PimgenError:
        raise
    except Exception as exc:
        log_path.write_text(traceback.format_exc())
        raise BuildFailed(f"Generating Verilog for {model.top} failed ({type(exc).__name__}: {exc}); "
                          f"log: {log_path}") from exc
    wrapper = sim_top.write_sim_top(generated.manifest, generated.out_dir)
    arguments = {"sources": [str(generated.verilog), str(wrapper)], "hdl_toplevel": model.toplevel,
                 "build_dir": str(model.sim_dir), "build_args": [str(WAIVERS), *BUILD_ARGS], "waves": model.waves}
    if log:
        log(f"verilating and compiling {model.toplevel} (log: {log_path})")
    heartbeat = (lambda seconds: log(f"still compiling {model.toplevel} ({seconds:.0f} s)")) if log else None
    status = _run_worker("build", arguments, log_path=log_path, env=_worker_env(), lock=lock, heartbeat=heartbeat)
    if status != 0 or not model.simulator.is_file():
        raise _with_log(BuildFailed(f"Verilator build of {model.toplevel} failed (exit status {status}); "
                                    f"log: {log_path}"), log_path)


#: Sources that shape the SoC around an engine, besides the engine's own (relative to the project root).
SOC_SOURCES = ("fpga", "hw/common/uart.py")


def build_soc(config, divisor, *, root=None, log=print):
    """Generate and build the SoC of ``config`` (:class:`fpga.soc.Soc`: UART, bridge, engine) for Verilator, with
    ``divisor`` clock cycles per UART bit, unless an up-to-date build exists; returns :class:`SimModel` (its
    ``toplevel`` is the SoC; its manifest the engine's). Cached and locked like :func:`build`."""
    from fpga.soc import soc_top_name
    root = Path(root) if root is not None else default_build_root()
    directory = (root / f"{config.engine}-{config.config_hash}-soc{divisor}").resolve()
    rtl_dir = directory / "rtl"
    top = soc_top_name(config)
    h = hashlib.sha256(design_hash(config).encode())
    for source in SOC_SOURCES:
        for name, path in _source_files(_PROJECT / source):
            h.update(f"{name}\0".encode() + (path.read_bytes() if path is not None else b""))
    stamp = json.dumps({"design": h.hexdigest()[:16], "config": config.to_dict(), "divisor": divisor,
                        "verilator": require_verilator()}, sort_keys=True).encode()
    model = SimModel(config=config, directory=directory, top=top, toplevel=top, verilog=rtl_dir / f"{top}.v",
                     manifest=rtl_dir / "manifest.json", waves=False, build_seconds=0.0, cached=True)
    t0 = time.perf_counter()
    stamp_path = directory / "build.stamp"
    with _locked(model.lock_path, shared=True):
        current = _is_current(model, stamp_path, stamp)
    if not current:
        with _locked(model.lock_path) as lock:
            if not _is_current(model, stamp_path, stamp):
                model.cached = False
                if log:
                    log(f"building the SoC {top} in {directory}")
                _build_soc(model, divisor, lock, log)
                _write_atomically(stamp_path, stamp)
    model.build_seconds = time.perf_counter() - t0
    return model


def _build_soc(model, divisor, lock, log=None):
    from amaranth.back import verilog

    from fpga.soc import Soc
    from rtl_gen.generate import WAIVERS, generate, strip_zero_memory_init
    log_path = model.directory / "build.log"
    (model.directory / "build.stamp").unlink(missing_ok=True)
    shutil.rmtree(model.sim_dir, ignore_errors=True)
    model.directory.mkdir(parents=True, exist_ok=True)
    try:
        generate(model.config, model.verilog.parent)             # the engine's manifest (and its own Verilog)
        text = strip_zero_memory_init(verilog.convert(Soc(model.config, divisor), name=model.top, emit_src=False))
        model.verilog.write_text(text)
    except PimgenError:
        raise
    except Exception as exc:
        log_path.write_text(traceback.format_exc())
        raise BuildFailed(f"Generating Verilog for {model.top} failed ({type(exc).__name__}: {exc}); "
                          f"log: {log_path}") from exc
    arguments = {"sources": [str(model.verilog)], "hdl_toplevel": model.toplevel, "build_dir": str(model.sim_dir),
                 "build_args": [str(WAIVERS), *BUILD_ARGS], "waves": False}
    if log:
        log(f"verilating and compiling {model.toplevel} (log: {log_path})")
    status = _run_worker("build", arguments, log_path=log_path, env=_worker_env(), lock=lock)
    if status != 0 or not model.simulator.is_file():
        raise _with_log(BuildFailed(f"Verilator build of {model.toplevel} failed (exit status {status}); "
                                    f"log: {log_path}"), log_path)


def sim_seed(env=None):
    """The seed of a simulation's random initial state: ``PIMGEN_SIM_SEED`` from ``env`` or the environment."""
    text = (env or {}).get("PIMGEN_SIM_SEED", os.environ.get("PIMGEN_SIM_SEED", str(DEFAULT_SIM_SEED)))
    try:
        seed = int(text)
    except ValueError:
        seed = 0
    if not 1 <= seed <= _MAX_SIM_SEED:
        raise InputError(f"PIMGEN_SIM_SEED must be an integer in 1..{_MAX_SIM_SEED}, not {text!r}")
    return seed


def new_run_dir(model, name):
    """A new, empty directory for one run of ``model``: ``<model dir>/runs/<time>-<name>-<unique>``.

    ``name`` is reduced to letters, digits, ``.``, ``_`` and ``-``; runs started at the same time, in one process or
    several, never share a directory.
    """
    runs = model.directory / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(name)).strip(".-")[:40] or "run"
    return Path(tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-{safe}-", dir=runs))


def run_test(model, test_module, run_dir, *, testcase=None, extra_env=None, waves=None):
    """Run cocotb ``test_module`` on ``model`` with ``run_dir`` as its working directory.

    ``extra_env`` reaches the test module as environment variables; ``PIMGEN_MANIFEST`` is always set to the model's
    manifest and ``PIMGEN_SIM_SEED`` to the seed of the random initial state (see :func:`sim_seed`). The simulator
    can import what the caller can import (its ``sys.path`` goes along).

    Raises
    ------
    SimulationFailed
        A test failed, or the simulator gave no results; the message names ``sim.log``.
    """
    from cocotb_tools.runner import get_results

    seed = sim_seed(extra_env)
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    log_path = run_dir / "sim.log"
    results = run_dir / "results.xml"
    results.unlink(missing_ok=True)
    env = _worker_env({"PIMGEN_MANIFEST": str(model.manifest), **(extra_env or {}), "PIMGEN_SIM_SEED": str(seed)})
    arguments = {"test_module": test_module, "hdl_toplevel": model.toplevel, "hdl_toplevel_lang": "verilog",
                 "testcase": testcase, "build_dir": str(model.sim_dir), "test_dir": str(run_dir),
                 "results_xml": str(results), "waves": model.waves if waves is None else waves,
                 "plusargs": ["+verilator+rand+reset+2", f"+verilator+seed+{seed}"]}
    with _locked(model.lock_path, shared=True) as lock:
        status = _run_worker("test", arguments, log_path=log_path, env=env, lock=lock)
    try:
        total, failed = get_results(results)
    except RuntimeError:
        raise _with_log(SimulationFailed(f"The simulation of {model.toplevel} gave no results (exit status "
                                         f"{status}); log: {log_path}"), log_path) from None
    if total == 0 or failed:
        raise _with_log(SimulationFailed(f"{failed} of {total} cocotb test(s) failed on {model.toplevel}; "
                                         f"log: {log_path}"), log_path)
    return results


