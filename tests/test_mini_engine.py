"""A second engine, test-only (tests/mini_engine: one memory window, one FIFO window, a counter adding 2 per cycle),
generated, built and driven through the same CLI, runner, manifest and driver job loop as the GNN engine, with no
change to any of them: it is only registered in the engine table.
"""

import json
import shutil

import numpy as np
import pytest

from pimgen.cli import main
from pimgen.engines import COMMON_DESIGN_SOURCES, engine_for
from pimgen.gnn.config import GnnConfig
from tb.jobs import simulate
from tb.runner import build

from mini_engine import register_mini
from mini_engine.config import MiniConfig
from mini_engine.driver import MiniJob

register_mini()
CONFIG = MiniConfig(width=12, depth=40, fifo_depth=4)


def expected(values, width):
    """What the engine computes, written out: data[i] = (v_i + i) mod 2**width."""
    return [(int(v) + i) % (1 << width) for i, v in enumerate(values)]


def test_generate_through_the_cli(tmp_path, capsys):
    out = tmp_path / "mini"
    assert main(["generate", "mini", "--width", "12", "--depth", "40", "--fifo-depth", "4", "--out", str(out),
                 "--lint"]) == 0, capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"] == "mini" and manifest["top"] == CONFIG.top_name
    kinds = {w["name"]: w["kind"] for w in manifest["windows"]}
    assert kinds == {"data": "memory", "inbox": "fifo"}
    assert {c["name"]: (c["max_increment"], c["count"]) for c in manifest["counters"]} == \
        {"cycles": (1, None), "ops": (2, None), "parity": (1, 2)}
    parity = next(r for r in manifest["registers"] if r["name"] == "CNT_PARITY")
    assert (parity["kind"], parity["count"]) == ("array", 2)
    assert "inbox | fifo" in (out / "registers.md").read_text()


def test_simulated_through_the_driver_job_loop(build_root):
    """Two jobs, one longer than the FIFO (the driver feeds it while the engine runs), one run twice."""
    model = build(CONFIG, root=build_root, log=None)
    rng = np.random.default_rng(5)
    jobs = [MiniJob(rng.integers(0, 1 << 12, size=40), name="long"),
            MiniJob(np.array([4095, 0, 17]), name="short", repeat=2)]
    results = simulate(model, jobs)
    for job, result in zip(jobs, results):
        assert list(result.runs) == list(job.runs)
        for run in result.runs.values():
            assert run.outputs["data"].tolist() == expected(job.values, 12)
            assert run.counters["ops"] == 2 * len(job.values)          # +2 per element, in one cycle
            assert run.counters["parity"] == [(len(job.values) + 1) // 2, len(job.values) // 2]   # an array
            assert run.counters["cycles"] >= len(job.values)


def test_design_sources_are_per_engine():
    """A model's cache key covers its own package, hw/common and its config, not another engine's package."""
    mini = {str(p) for p in engine_for(CONFIG).design_sources()}
    gnn = {str(p) for p in engine_for(GnnConfig()).design_sources()}
    assert any(p.endswith("tests/mini_engine") for p in mini)
    assert any(p.endswith("hw/gnn") for p in gnn)
    assert not any(p.endswith("hw/gnn") for p in mini)
    assert not any("mini_engine" in p for p in gnn)
    assert not any(p.endswith("pimgen/gnn/config.py") for p in mini)
    shared = mini & gnn
    assert all(any(p.endswith(c) for c in COMMON_DESIGN_SOURCES) for p in shared)


@pytest.fixture
def copied_sources(tmp_path, monkeypatch):
    """The design sources of both engines copied into tmp_path, and the specs pointed at the copies, so that a test
    can edit them."""
    import pimgen.engines as engines
    copies = {}
    for config in (CONFIG, GnnConfig()):
        spec = engine_for(config)
        paths = []
        for src in spec.design_sources():
            dst = tmp_path / src.relative_to(src.anchor)
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if src.is_dir() else shutil.copy)(src, dst)
            paths.append(dst)
        copies[spec.name] = paths
    monkeypatch.setattr(engines.EngineSpec, "design_sources", lambda spec: copies[spec.name])
    return copies


def test_editing_one_engine_keeps_the_other_engines_key(copied_sources):
    from tb.runner import design_hash
    gnn_cfg = GnnConfig()
    before = design_hash(CONFIG), design_hash(gnn_cfg)
    gnn_dir = next(p for p in copied_sources["gnn"] if p.name == "gnn" and p.is_dir())
    (gnn_dir / "engine.py").write_text((gnn_dir / "engine.py").read_text() + "\n# edited\n")
    assert design_hash(CONFIG) == before[0]
    assert design_hash(gnn_cfg) != before[1]
    after_gnn_edit = design_hash(gnn_cfg)
    mini_dir = next(p for p in copied_sources["mini"] if p.name == "mini_engine")
    (mini_dir / "hw.py").write_text((mini_dir / "hw.py").read_text() + "\n# edited\n")
    assert design_hash(CONFIG) != before[0]
    assert design_hash(gnn_cfg) == after_gnn_edit                # and the reverse
    common = next(p for p in copied_sources["gnn"] if p.name == "common")
    assert common in copied_sources["mini"]
