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


# Bad input: one line, status 2, nothing built.

@pytest.fixture
def no_build(monkeypatch, tmp_path):
    """Fail the test if the command reaches Verilog generation, the Verilator build or the simulation.

    ``pimgen.session.execute`` and ``cli.cmd_generate`` import these names when they are called, so patching the
    modules' attributes covers them. Returns a build directory that must stay absent.
    """
    import rtl_gen.generate
    import tb.jobs
    import tb.runner

    def forbidden(*args, **kwargs):
        pytest.fail("bad input reached generation / the Verilator build / the simulation")

    monkeypatch.setattr(tb.runner, "build", forbidden)
    monkeypatch.setattr(tb.runner, "run_test", forbidden)
    monkeypatch.setattr(tb.jobs, "simulate", forbidden)
    monkeypatch.setattr(rtl_gen.generate, "generate", forbidden)
    build_dir = tmp_path / "never-built"
    yield build_dir
    assert not build_dir.exists()
