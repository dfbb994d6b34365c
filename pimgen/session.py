"""Run jobs on an engine through a backend: the one path the CLI, the benchmarks and (later) a board share.

``sim`` builds (or takes from the cache) the Verilator model of the config and runs the jobs through the driver's job
loop inside the simulator. ``serial`` runs the same driver and jobs over the UART bridge of a board running the SoC
of the same config (docs/fpga.md), through a serial port.
"""

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

__all__ = ["BACKENDS", "Session", "execute", "backend_options", "bench_build_root"]

#: Backends ``pimgen run --backend`` offers, with a one-line description.
BACKENDS = {
    "sim": "Verilator simulation of the generated Verilog (cocotb bus master)",
    "serial": "a board running the SoC of this config, through its UART bridge on --port",
}
#: Default baud rate of the serial backend.
DEFAULT_BAUD = 115200


@contextlib.contextmanager
def bench_build_root(args):
    """The build root of a benchmark's models: ``--build-dir`` (the build cache), or with ``--cold`` a fresh temporary
    one and no ccache (``CCACHE_DISABLE=1``), so that build times are what a first build costs; both undone after."""
    if not args.cold:
        yield args.build_dir
        return
    saved = os.environ.get("CCACHE_DISABLE")
    os.environ["CCACHE_DISABLE"] = "1"
    root = Path(tempfile.mkdtemp(prefix="pimgen-bench-"))
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
        if saved is None:
            os.environ.pop("CCACHE_DISABLE", None)
        else:
            os.environ["CCACHE_DISABLE"] = saved


def backend_options(args):
    """The backend keywords of :func:`execute` from ``pimgen run``'s options (``--backend``, ``--port``,
    ``--baud``)."""
    return {"backend": args.backend, "port": getattr(args, "port", None),
            "baud": getattr(args, "baud", None) or DEFAULT_BAUD}


@dataclass
class Session:
    """What a run produced: the results (one JobResult per job) and how the backend got there."""
    backend: str
    results: list
    top: str
    clock_hz: int
    verilog: str = None
    run_dir: str = None
    build_seconds: float = 0.0
    build_cached: bool = False
    wall_seconds: float = 0.0


def execute(config, jobs, *, backend="sim", build_root=None, waves=False, log=None, progress=None, port=None,
            baud=DEFAULT_BAUD):
    """Run ``jobs`` on the engine of ``config`` through ``backend``; returns a :class:`Session`.

    ``log`` receives one-line messages about the backend (building, where the model is); ``progress`` the driver's
    progress lines while the jobs run. Every job is validated before anything is built or opened. ``port`` and
    ``baud`` are the serial backend's.
    """
    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    for job in jobs:
        job.validate(config)
    if backend == "serial":
        return _execute_serial(config, jobs, port, baud, log, progress)
    from tb.host.manifest import Manifest
    from tb.jobs import simulate
    from tb.runner import build, new_run_dir

    model = build(config, waves=waves, root=build_root, log=log)
    if log:
        log(f"model {model.top}: {'cached' if model.cached else 'built'} in {model.build_seconds:.1f} s")
    t0 = time.perf_counter()
    run_dir = new_run_dir(model, jobs[0].name)
    results = simulate(model, jobs, run_dir, progress=progress)
    return Session(backend=backend, results=results, top=model.top,
                   clock_hz=Manifest.load(model.manifest).clock_hz, verilog=str(model.verilog),
                   run_dir=str(run_dir), build_seconds=model.build_seconds, build_cached=model.cached,
                   wall_seconds=time.perf_counter() - t0)


def _execute_serial(config, jobs, port, baud, log, progress):
    """The jobs over a board's UART bridge: the driver's job loop under asyncio, on the manifest of ``config``."""
    import asyncio

    from rtl_gen.generate import manifest_for
    from tb.host.manifest import Manifest
    from tb.host.serial import PySerialTransport, SerialBackend
    from .engines import engine_for
    if not port:
        raise InputError("--backend serial needs --port (the board's serial port, e.g. /dev/ttyUSB0)")
    manifest = Manifest(manifest_for(config))
    transport = PySerialTransport(port, baud)
    if log:
        log(f"talking to {config.top_name} on {port} at {baud} baud")
    t0 = time.perf_counter()
    try:
        driver = engine_for(config).driver(SerialBackend(transport), manifest, progress=progress)
        results = asyncio.run(driver.run_jobs(jobs))
    finally:
        transport.close()
    return Session(backend="serial", results=results, top=config.top_name, clock_hz=manifest.clock_hz,
                   wall_seconds=time.perf_counter() - t0)
