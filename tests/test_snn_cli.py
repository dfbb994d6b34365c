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
                    "--json", tmp_path / "r.json", "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["bit_exact"] and record["modes_identical"] and record["workload"] == "net"
    assert record["modes"]["async"]["synops"] > 0


@pytest.mark.parametrize("args, match", [
    (["--cores", "1"], "--cores must be an integer in 2..16, not 1"),
    (["--neurons", "30", "--lanes", "4"], "--lanes must divide --neurons (30), not 4"),
    (["--max-delay", "3", "--step-slots", "2"], "--step-slots must be an integer in 4..16, not 2"),
    (["--workload", "balanced", "--samples", "3"], "--samples, --steps and --hidden apply to --dataset digits"),
    (["--steps", "40", "--max-steps", "32"], "--steps 40 is more than --max-steps 32"),
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
