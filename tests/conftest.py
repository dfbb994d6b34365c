"""Shared fixtures: one build root for the whole suite, so each engine configuration is built once."""

import os
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def build_root():
    """Where Verilator models are cached across runs (keyed by config and design): ``$PIMGEN_BUILD_DIR/sim`` if set,
    else ``build/sim`` in the project."""
    if os.environ.get("PIMGEN_BUILD_DIR"):
        return Path(os.environ["PIMGEN_BUILD_DIR"]).resolve() / "sim"
    return PROJECT / "build" / "sim"
