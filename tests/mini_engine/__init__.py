"""A test-only engine: the smallest thing the foundation must carry without knowing it (one memory window, one FIFO
window, a counter adding 2 per cycle), registered in pimgen.engines by the tests that use it."""

from pimgen.engines import EngineSpec, register

from .config import MiniConfig

SPEC = EngineSpec("mini", MiniConfig, "mini_engine.hw:MiniEngine", "mini_engine.driver:MiniDriver", None,
                  "test-only engine: FIFO in, memory out")


def register_mini():
    """Add the engine to pimgen's engine table (idempotent); returns its spec."""
    return register(SPEC)
