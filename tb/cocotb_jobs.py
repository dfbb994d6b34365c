"""cocotb test module that runs job files through an engine driver's job loop (any engine).

``PIMGEN_DRIVER`` names the driver class (``module:Class``, from the engine table), ``PIMGEN_JOBS`` the job files
that :func:`tb.jobs.simulate` wrote, ``PIMGEN_PROGRESS`` a file for one-line progress messages. Each job is
rebuilt with the driver's job class, run with :meth:`~tb.host.driver.EngineDriver.run_job`, and its result saved
next to it. The comparison with the golden model happens outside, with whoever owns the golden.
"""

import importlib
import os
from pathlib import Path

import cocotb
import numpy as np

from tb.harness import TB


def _driver_class():
    module, _, name = os.environ["PIMGEN_DRIVER"].partition(":")
    return getattr(importlib.import_module(module), name)


@cocotb.test()
async def run_jobs(dut):
    """Load each job over the bus, make its runs, read back outputs and counters, save the result."""
    driver_cls = _driver_class()
    tb = TB(dut, driver_cls)
    progress_path = os.environ.get("PIMGEN_PROGRESS")
    progress = open(progress_path, "a", buffering=1) if progress_path else None   # line-buffered: read live
    try:
        if progress is not None:
            tb.driver.progress = lambda line: progress.write(line + "\n")
        await tb.reset()
        await tb.driver.check_identity()
        for path in [Path(p) for p in os.environ.get("PIMGEN_JOBS", "").split(os.pathsep) if p]:
            with np.load(path, allow_pickle=False) as arrays:
                job = driver_cls.job_cls.from_arrays({k: arrays[k] for k in arrays.files})
            result = await tb.driver.run_job(job)
            result.save(path)
            cocotb.log.info("job %s: %s", job.name, {run: r.counters for run, r in result.runs.items()})
    finally:
        if progress is not None:
            progress.close()
