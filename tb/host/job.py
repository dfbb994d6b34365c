"""Jobs and their results: what the driver's job loop takes and gives, on any backend.

A job is one set of inputs (a graph and its features; a weight matrix and a batch of input vectors) and the runs to
make on it (the ops; the modes). :meth:`tb.host.driver.EngineDriver.run_job` loads it, makes each run and reads back
the outputs and counters into a :class:`JobResult`. Jobs and results turn into arrays and JSON, so that a simulation
in another process (Verilator) or a board can run them and hand them back unchanged.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Job", "RunResult", "JobResult"]


class Job:
    """Base of every engine's job.

    Subclasses are dataclasses with a ``name`` and define :attr:`runs`, :meth:`validate`, :meth:`to_arrays` and
    :meth:`from_arrays`.
    """

    name = "job"

    @property
    def runs(self):
        """Names of the runs to make on the loaded inputs, in order."""
        raise NotImplementedError

    def validate(self, config):
        """Every check the engine's inputs need, before anything is built, loaded or simulated."""
        raise NotImplementedError

    def to_arrays(self):
        """The job as a dict of NumPy arrays (for :func:`numpy.savez`)."""
        raise NotImplementedError

    @classmethod
    def from_arrays(cls, arrays):
        raise NotImplementedError


@dataclass
class RunResult:
    """One run of a job: its outputs (name -> array), its counters, and host wall times."""
    outputs: dict
    counters: dict
    cycles_waited: int = None          # simulated cycles from start to done as the host saw them (None on a board)
    run_seconds: float = 0.0           # wall time from start to done (a simulation includes the simulator's time)
    read_seconds: float = 0.0          # wall time of reading the outputs back


@dataclass
class JobResult:
    """The results of one job: a :class:`RunResult` per run, and the time loading took."""
    name: str
    runs: dict
    load_seconds: float = 0.0
    load_cycles: int = None
    job: Job = field(default=None, repr=False)

    def save(self, path):
        """Write to ``<path>.out.npz`` (outputs) and ``<path>.out.json`` (the rest)."""
        path = Path(path)
        arrays = {f"{run}/{key}": value for run, r in self.runs.items() for key, value in r.outputs.items()}
        np.savez(path.with_suffix(".out.npz"), **arrays)
        meta = {"name": self.name, "load_seconds": self.load_seconds, "load_cycles": self.load_cycles,
                "runs": {run: {"counters": r.counters, "cycles_waited": r.cycles_waited,
                               "run_seconds": r.run_seconds, "read_seconds": r.read_seconds,
                               "outputs": list(r.outputs)} for run, r in self.runs.items()}}
        tmp = path.with_suffix(".out.json.tmp")
        tmp.write_text(json.dumps(meta, indent=1))
        tmp.replace(path.with_suffix(".out.json"))      # the JSON last and whole: its presence means "complete"

    @classmethod
    def load(cls, path, job=None):
        path = Path(path)
        meta = json.loads(path.with_suffix(".out.json").read_text())
        with np.load(path.with_suffix(".out.npz")) as out:
            runs = {run: RunResult(outputs={key: out[f"{run}/{key}"] for key in m["outputs"]},
                                   counters=m["counters"], cycles_waited=m["cycles_waited"],
                                   run_seconds=m["run_seconds"], read_seconds=m["read_seconds"])
                    for run, m in meta["runs"].items()}
        return cls(name=meta["name"], runs=runs, load_seconds=meta["load_seconds"], load_cycles=meta["load_cycles"],
                   job=job)
