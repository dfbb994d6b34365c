"""Run jobs on a Verilator model from ordinary Python (pytest, the CLI, benchmarks): the simulation backend of the
driver's job loop.

:func:`simulate` writes the jobs to files in a fresh run directory, starts the simulator once with
``tb.cocotb_jobs`` (which builds the engine's driver over the cocotb bus and calls its ``run_job`` for each job), and
reads the :class:`~tb.host.job.JobResult` files back. Nothing here knows an engine: the driver comes from the engine
table (:mod:`pimgen.engines`), the job format from the driver's job class.
"""

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pimgen.engines import engine_for
from pimgen.errors import InputError, InputTypeError
from .host.job import JobResult
from .runner import SimulationFailed, new_run_dir, run_test

__all__ = ["simulate", "JOBS_MODULE"]

#: The cocotb module that runs job files through the driver's job loop.
JOBS_MODULE = "tb.cocotb_jobs"
#: How often the progress file of a running simulation is read, in seconds.
PROGRESS_POLL_SECONDS = 0.5


@contextmanager
def _relay_progress(path, progress):
    """While the body runs, pass each new line of the file ``path`` to ``progress`` (from a thread)."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def follow():
        offset = 0                                   # bytes: names in the messages need not be ASCII
        while True:
            finished = stop.wait(PROGRESS_POLL_SECONDS)
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(offset)
                    data = f.read()
                complete = data[:data.rfind(b"\n") + 1]
                offset += len(complete)
                for line in complete.decode("utf-8", errors="replace").splitlines():
                    progress(line)
            if finished:
                return

    thread = threading.Thread(target=follow, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def simulate(model, jobs, run_dir=None, *, extra_env=None, progress=None):
    """Run ``jobs`` on the built ``model`` in one simulation; returns their :class:`JobResult` s in order.

    Parameters
    ----------
    model : tb.runner.SimModel
    jobs : list of Job
        Jobs of the model's engine (validated before the simulator starts).
    run_dir : path or None
        Where the job files, logs and traces go; by default a fresh directory under the model's ``runs/``
        (:func:`tb.runner.new_run_dir`), so that two runs at once never share one.
    extra_env : dict or None
        Reaches the testbench (for example ``PIMGEN_BUS_GAPS``, see :func:`tb.harness.bus_gaps`).
    progress : callable or None
        Receives the driver's one-line progress messages while the simulation runs.
    """
    from .runner import SimModel
    if not isinstance(model, SimModel):
        raise InputTypeError(f"Model must be a SimModel from tb.runner.build, not {model!r}")
    jobs = list(jobs)
    if not jobs:
        raise InputError("simulate needs at least one job")
    spec = engine_for(model.config)
    for job in jobs:
        if not isinstance(job, spec.driver.job_cls):
            raise InputError(f"Jobs for the {spec.name} engine must be {spec.driver.job_cls.__name__}, "
                             f"not {type(job).__name__}")
        job.validate(model.config)
    run_dir = Path(run_dir) if run_dir is not None else new_run_dir(model, jobs[0].name)
    run_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, job in enumerate(jobs):
        path = (run_dir / f"job{i}.npz").resolve()
        np.savez(path, **job.to_arrays())
        for suffix in (".out.npz", ".out.json"):
            path.with_suffix(suffix).unlink(missing_ok=True)
        paths.append(path)
    progress_file = run_dir / "progress.log"
    progress_file.unlink(missing_ok=True)
    env = {**(extra_env or {}), "PIMGEN_JOBS": os.pathsep.join(str(p) for p in paths),
           "PIMGEN_DRIVER": spec.driver_path, "PIMGEN_PROGRESS": str(progress_file.resolve())}
    with _relay_progress(progress_file, progress):
        run_test(model, JOBS_MODULE, run_dir, testcase="run_jobs", extra_env=env)
    results = []
    for job, path in zip(jobs, paths):
        if not path.with_suffix(".out.json").exists():
            raise SimulationFailed(f"The simulation of {model.top} gave no result for job {job.name!r}; "
                                   f"see {run_dir / 'sim.log'}")
        results.append(JobResult.load(path, job=job))
    return results


