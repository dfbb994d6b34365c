"""Shared fixtures: one build root for the whole suite, so each engine configuration is built once."""

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def build_root():
    """``build/sim`` in the project: Verilator models are cached there across runs (keyed by config and design)."""
    return PROJECT / "build" / "sim"
