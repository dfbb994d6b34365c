"""``pimgen run snn`` and ``pimgen bench snn`` end to end: the digits SNN on the engine in both modes (bit-exact,
identical between modes, async at least 1.86x fewer cycles and 1.5x less energy than sync on 4 cores), a synthetic
workload with a spike raster, and bad input refused in one line before anything is built."""

import json

import pytest

from pimgen.snn.commands import BENCH_SYNTHETIC_CONFIG
from pimgen.snn.config import SnnConfig
from cli_helpers import error_line, pimgen

SYNTHETIC = ["--cores", "6", "--neurons", "32", "--axons", "64", "--max-delay", "1", "--step-slots", "2",
             "--fifo-depth", "4", "--max-steps", "32", "--input-neurons", "16", "--max-input-spikes", "512",
             "--max-fanout", "1024", "--max-spikes", "1024"]



def test_synthetic_options_build_the_bench_config():
    """The options above give the benchmark's config (and test_snn_sim's), so that one model serves all three."""
    values = dict(zip(SYNTHETIC[::2], SYNTHETIC[1::2]))
    config = SnnConfig(**{k[2:].replace("-", "_"): int(v) for k, v in values.items()})
    assert config == BENCH_SYNTHETIC_CONFIG


def test_bench_quick_digits_async_beats_sync(build_root, tmp_path, capsys):
    status = pimgen("bench", "snn", "--quick", "--out", tmp_path, "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    [row] = json.loads((tmp_path / "snn.json").read_text())["records"]
    assert row["workload"] == "digits" and row["bit_exact"] and row["modes_identical"]
    assert len(row["cores_used"]) >= 4
    assert row["speedup"] >= 1.86, row["speedup"]
    assert row["energy_ratio"] >= 1.5, row["energy_ratio"]
    assert row["modes"]["async"]["cycles"] >= row["lower_bound_cycles"]
    assert "asynchronous schedulers" in out


def test_run_recurrent_with_raster(build_root, tmp_path, capsys):
    status = pimgen("run", "snn", "--workload", "recurrent", *SYNTHETIC, "--raster", tmp_path / "r.png",
                    "--json", tmp_path / "r.json", "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["bit_exact"] and record["modes_identical"]
    assert record["modes"]["async"]["cycles"] >= record["lower_bound_cycles"]
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "spikes bit-exact with the golden: yes; identical in every mode: yes" in out


def test_nir_file_runs_bit_exact(build_root, tmp_path, capsys):
    """A network written with nir.write and read back runs on the engine spike for spike with the golden model."""
    import nir

    from pimgen.snn.nir_import import nir_from_network
    from pimgen.snn.workloads import recurrent
    network, _, _ = recurrent(neurons=40, inputs=16, seed=5, steps=24)
    nir.write(tmp_path / "net.nir", nir_from_network(network))
    status = pimgen("run", "snn", "--nir", tmp_path / "net.nir", "--steps", "24", "--input-rate", "0.3", *SYNTHETIC,
                    "--mode", "async", "--json", tmp_path / "r.json", "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["bit_exact"] and record["workload"] == "net"
    assert record["modes_identical"] is None and list(record["modes"]) == ["async"]
    assert record["modes"]["async"]["synops"] > 0
    assert "spikes bit-exact with the golden: yes; identical in every mode: n/a (one mode)" in out


def _nir_file(path, inputs=16):
    """A small NIR graph (16 inputs into 40 recurrent neurons) written to ``path``."""
    import nir

    from pimgen.snn.nir_import import nir_from_network
    from pimgen.snn.workloads import recurrent
    network, _, _ = recurrent(neurons=40, inputs=inputs, seed=5, steps=24)
    nir.write(path, nir_from_network(network))
    return path


@pytest.mark.parametrize("args, match", [
    # More spikes than a core records: found by the golden model before anything is built.
    (["--samples", "2", "--max-spikes", "8"], r"Core \d spikes \d+ times in image 0, more than --max-spikes 8 "),
    (["--nir", "{net}", "--steps", "24", "--input-rate", "1", "--max-spikes", "16"],
     r"Core \d spikes \d+ times in run 0, more than --max-spikes 16 "),
    # More input spikes than the source holds, named by option and run.
    (["--samples", "2", "--max-input-spikes", "100"],
     r"Image 0 has \d+ input spikes, more than --max-input-spikes 100$"),
    (["--nir", "{net}", "--steps", "20", "--input-rate", "1", "--max-input-spikes", "300"],
     r"Run 0 has 320 input spikes, more than --max-input-spikes 300$"),
])
def test_run_snn_refuses_what_the_engine_cannot_hold(no_build, capsys, tmp_path, args, match):
    import re
    net = _nir_file(tmp_path / "net.nir")
    args = [a.replace("{net}", str(net)) for a in args]
    assert pimgen("run", "snn", *args, "--build-dir", no_build) == 2
    line = error_line(capsys)
    assert re.search(match, line), line


def test_run_snn_help_gives_the_digits_steps():
    import contextlib
    import io
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert pimgen("run", "snn", "--help") == 0
    help_text = " ".join(text.getvalue().split())
    assert "--dataset digits 16..32, --nir any (default 24 for both); not with --workload" in help_text
    assert "--dataset digits: seed of the split and the training (0..2**32-1); --nir: seed of the random input" \
        in help_text


@pytest.mark.parametrize("cold", [False, True])
def test_bench_cold_builds_in_a_fresh_root_without_ccache(cold, no_build, tmp_path, capsys, monkeypatch):
    """``--cold``: the models build in a fresh temporary root (removed after) with CCACHE_DISABLE=1 (restored
    after); without it, in --build-dir. The engine is replaced by the golden model here: what is checked is where
    the builds would go."""
    import os

    from pimgen.snn import commands
    seen = []

    def golden_run(config, workload, modes, *, build_root=None, **options):
        seen.append((build_root, os.environ.get("CCACHE_DISABLE"), build_root is not None and build_root.is_dir()))
        refs = commands.check_runs(config, workload)
        mode = {"cycles": 2, "cycles_per_run": 2 / len(refs), "idle_fraction_used": 0.5, "synops_per_cycle": 1.0}
        record = {"workload": workload.name, "runs": len(refs), "bit_exact": True, "modes_identical": True,
                  "modes": {m: dict(mode) for m in modes}, "speedup": 1.0, "energy_ratio": 1.0,
                  "async_over_lower_bound": 1.0, "lower_bound_cycles": 2}
        return record, {(m, i): ref.spikes for m in modes for i, ref in enumerate(refs)}

    monkeypatch.setattr(commands, "run_workload", golden_run)
    monkeypatch.delenv("CCACHE_DISABLE", raising=False)
    status = pimgen("bench", "snn", "--quick", *(["--cold"] if cold else []), "--out", tmp_path / "out",
                    "--build-dir", no_build)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    [(root, ccache_disable, existed)] = seen
    if cold:
        assert root != no_build and existed and ccache_disable == "1"
        assert not root.exists(), "the cold build root was left behind"
    else:
        assert root == no_build and ccache_disable is None
    assert "CCACHE_DISABLE" not in os.environ
    assert json.loads((tmp_path / "out" / "snn.json").read_text())["cold_builds"] is cold


@pytest.mark.parametrize("args, match", [
    (["--cores", "1"], "--cores must be an integer in 2..16, not 1"),
    (["--neurons", "30", "--lanes", "4"], "--lanes must divide --neurons (30), not 4"),
    (["--max-delay", "3", "--step-slots", "2"], "--step-slots must be an integer in 4..16, not 2"),
    (["--workload", "balanced", "--samples", "3"], "--samples applies to --dataset digits, not to --workload"),
    (["--workload", "balanced", "--hidden", "4,4"], "--hidden applies to --dataset digits, not to --workload"),
    (["--workload", "balanced", "--steps", "24"],
     "--steps does not apply to --workload: the balanced workload runs its own 24 steps"),
    (["--workload", "recurrent", "--seed", "0"], "--seed does not apply to --workload: the recurrent workload has its "
                                                 "own seed"),
    (["--nir", "{d}/junk.nir", "--hidden", "4,4"], "--hidden applies to --dataset digits, not to --nir"),
    (["--steps", "40", "--max-steps", "32"], "--steps 40 is more than --max-steps 32"),
    (["--steps", "40", "--max-steps", "64"], "--steps must be in 16..32 for --dataset digits, not 40"),
    (["--steps", "8"], "--steps must be in 16..32 for --dataset digits, not 8"),
    (["--seed", str(2**32)], "--seed must be in 0..2**32-1 for --dataset digits, not 4294967296"),
    (["--samples", "1000"], "--samples must be at most 360"),
    (["--raster", "{d}/r.txt"], "--raster must name a .png file"),
    (["--raster", "{d}"], "--raster must name a file, not the directory"),
    (["--cores", "2", "--neurons", "16"], "needs"),
    (["--nir", "{d}/missing.nir"], "--nir {d}/missing.nir: no such file"),
    (["--nir", "{d}/junk.nir"], "not a readable NIR graph"),
    (["--input-rate", "0.5"], "--input-rate applies to --nir"),
    (["--input-rate", "2"], "must be a number in 0..1"),
])
def test_run_snn_rejects_bad_input(no_build, capsys, tmp_path, args, match):
    (tmp_path / "junk.nir").write_bytes(b"not hdf5")
    args = [a.replace("{d}", str(tmp_path)) for a in args]
    assert pimgen("run", "snn", *args, "--build-dir", no_build) == 2
    assert match.replace("{d}", str(tmp_path)) in error_line(capsys)
