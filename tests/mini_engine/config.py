"""Config of the test-only engine."""

from dataclasses import dataclass
from typing import ClassVar

from pimgen.config import EngineConfig, check_int, param


@dataclass(frozen=True)
class MiniConfig(EngineConfig):
    """``data[i] = inbox[i] + i`` for ``i < COUNT``: pops ``COUNT`` elements from the inbox FIFO into memory."""

    engine: ClassVar[str] = "mini"
    engine_code: ClassVar[int] = 250
    version: ClassVar[tuple] = (0, 1)

    width: int = param(12, "element width (4..32)")
    depth: int = param(32, "words of the data memory (2..1024)")
    fifo_depth: int = param(4, "entries of the inbox FIFO (1..64)")

    def __post_init__(self):
        self._set("width", check_int("width", self.width, 4, 32))
        self._set("depth", check_int("depth", self.depth, 2, 1024))
        self._set("fifo_depth", check_int("fifo_depth", self.fifo_depth, 1, 64))
