"""Host driver and job of the test-only engine (written against tb.host only, like a real engine's)."""

from dataclasses import dataclass

import numpy as np

from tb.host.driver import EngineDriver
from tb.host.job import Job

from .config import MiniConfig


@dataclass
class MiniJob(Job):
    """Values to push through the inbox; ``runs`` names the runs (each pushes the values again)."""
    values: np.ndarray
    name: str = "mini"
    repeat: int = 1

    @property
    def runs(self):
        return tuple(f"pass{i}" for i in range(self.repeat))

    def validate(self, config):
        self.values = np.asarray(self.values, dtype=np.int64)
        if self.values.ndim != 1 or not 1 <= len(self.values) <= config.depth:
            raise ValueError(f"values must be 1..{config.depth} elements, not shape {self.values.shape}")

    def to_arrays(self):
        return {"values": self.values, "name": np.array(self.name), "repeat": np.array(self.repeat)}

    @classmethod
    def from_arrays(cls, arrays):
        return cls(arrays["values"], str(arrays["name"]), int(arrays["repeat"]))


class MiniDriver(EngineDriver):
    engine = "mini"
    config_cls = MiniConfig
    job_cls = MiniJob

    async def load(self, job):
        pass                                    # the inbox is fed while the engine runs (see run)

    async def prepare(self, job, run):
        await self.write_reg("COUNT", value=len(job.values))

    async def during_run(self, job, run):
        """Feed the inbox while the engine drains it (the FIFO is smaller than the job)."""
        await self.write_stream("inbox", job.values)

    async def read_outputs(self, job, run):
        return {"data": await self.read_window("data", index=np.arange(len(job.values)))}
