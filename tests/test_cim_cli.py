"""``pimgen run cim`` and ``pimgen bench cim`` end to end: the digits MLP on the tile in Verilator (accuracy against
the ideal-integer network), a VMM of the user's own .npy files, the benchmark's quick mode, and bad input refused in
one line before anything is built."""

import json

import numpy as np
import pytest

from pimgen.cim.config import CimConfig
from cli_helpers import error_line, pimgen


def test_digits_mlp_on_the_tile_within_half_a_point(build_root, tmp_path, capsys, monkeypatch):
    """The must-show of the CiM tile: the 64-32-10 MLP on all 360 test images with an 8-bit ADC (the default tile),
    every layer's VMM in Verilator, within 0.5 points of the ideal-integer network, every block bit-exact."""
    monkeypatch.chdir(tmp_path)
    json_path = tmp_path / "digits.json"
    status = pimgen("run", "cim", "--dataset", "digits", "--adc-bits", "8", "--json", json_path,
                    "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    record = json.loads(json_path.read_text())
    assert record["test_samples"] == 360
    assert record["bit_exact"] is True and record["blocks_checked"] == 2
    assert abs(record["tile_accuracy"] - record["ideal_accuracy"]) <= 0.005
    assert record["float_accuracy"] >= 0.95
    cfg = CimConfig(adc_bits=8)
    # Cycles: one run per block (360 vectors > max_vectors = 256: two runs each), each V * S * K * C / adcs + the
    # latency (docs/cim.md).
    per_vmm = cfg.input_steps * cfg.weight_slices * cfg.cols // cfg.adcs
    assert record["cycles_per_vmm"] == per_vmm == 7 * 4 * 8
    assert record["runs"] == 4
    assert record["cycles_total"] == 2 * (360 * per_vmm + 2 * cfg.latency)
    assert "tile vs golden: bit-exact on all 2 blocks" in out
    assert "accuracy float" in out and "clipped" in out and "cycles per inference" in out


def test_own_matrices_saved_outputs(build_root, tmp_path, capsys):
    """A VMM of the user's .npy files; exact mode, so the saved outputs are the integer matmul."""
    cfg = ["--rows", "16", "--cols", "8", "--adcs", "2", "--slice-bits", "1", "--dac-bits", "1", "--adc-bits", "6",
           "--max-vectors", "16"]
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (16, 8))
    x = rng.integers(-127, 128, (40, 16))
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    status = pimgen("run", "cim", "--weights", tmp_path / "w.npy", "--inputs", tmp_path / "x.npy", *cfg,
                    "--save-outputs", tmp_path / "out" / "y.npy", "--json", tmp_path / "r.json",
                    "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert np.array_equal(np.load(tmp_path / "out" / "y.npy"), x @ w)
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["bit_exact"] and record["equals_integer_matmul"] and record["exact_mode"]
    assert record["runs"] == 3 and record["cycles"] == record["cycles_expected"]
    assert "(exact mode: equals the integer matmul)" in out


def test_bench_quick(build_root, tmp_path, capsys):
    status = pimgen("bench", "cim", "--quick", "--out", tmp_path, "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    report = json.loads((tmp_path / "cim.json").read_text())
    [row] = report["records"]
    assert row["source"] == "rtl" and row["bit_exact_vs_golden"] is True
    assert row["tile_accuracy"] == row["ideal_accuracy"]          # exact mode
    assert row["rms_error_vs_exact"] == 0.0 and row["clip_rate"] == 0.0
    assert "CiM tile" in out


@pytest.fixture
def matrices(tmp_path):
    rng = np.random.default_rng(0)
    files = {
        "w": rng.integers(-127, 128, (16, 8)),
        "w_shape": rng.integers(-127, 128, (16, 9)),
        "w_code": np.full((16, 8), 200),
        "w_float": np.zeros((16, 8)),
        "x": rng.integers(-127, 128, (5, 16)),
        "x_min": np.full((5, 16), -128),
        "x_rows": rng.integers(-127, 128, (5, 17)),
        "x_empty": np.zeros((0, 16), dtype=np.int64),
    }
    for name, array in files.items():
        np.save(tmp_path / f"{name}.npy", array)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    return tmp_path


TILE = ["--rows", "16", "--cols", "8", "--adcs", "2"]


@pytest.mark.parametrize("args, match", [
    (["--rows", "4"], "--rows must be an integer in 8..1024, not 4"),
    (["--cols", "32", "--adcs", "3"], "--adcs must divide --cols (32), not 3"),
    (["--adc-bits", "13"], "--adc-bits must be an integer in 1..12, not 13"),
    (["--dac-bits", "9"], "--dac-bits must be an integer in 1..8, not 9"),
    (["--input-bits", "1"], "--input-bits must be an integer in 2..8 for --input-encoding sign_magnitude"),
    (["--noise-sigma", "nan"], "--noise-sigma must be a number in 0..128"),
    (["--rows", "1024", "--adcs", "8"], "--rows x --adcs (the weight cells read per cycle) must be at most 4096"),
    (["--gain-sigma", "0.1"], "--gain-sigma needs --gain-offset"),
    (["--gain-sigma", "0", "--offset-sigma", "1"], "--gain-sigma and --offset-sigma need --gain-offset"),
    (["--variation-seed", "3"], "--variation-seed needs --gain-offset (the tile's per-column tables)"),
    (["--gain-offset", "--gain-sigma", "1.5"], "--gain-sigma must be a number in 0..1, not 1.5"),
    (["--gain-offset", "--offset-sigma", "1000.5"], "--offset-sigma must be a number in 0..1000, not 1000.5"),
    (["--random", "3", "--samples", "4"], "--samples applies to --dataset digits, not to --random"),
    (["--random", "3", "--hidden", "32"], "--hidden applies to --dataset digits, not to --random"),
    (["--weights", "{d}/w.npy", "--inputs", "{d}/x.npy", "--hidden", "32", "--samples", "2"],
     "--samples and --hidden apply to --dataset digits, not to --weights"),
    (["--weights", "{d}/w.npy", "--inputs", "{d}/x.npy", "--seed", "0", *TILE],
     "--seed applies to --dataset digits and --random"),
    (["--inputs", "{d}/x.npy", "--random", "3"], "--inputs needs --weights"),
    (["--inputs", "{d}/x.npy"], "--inputs needs --weights"),
    (["--seed", "4294967296"], "argument --seed: must be an integer in 0..4294967295, not 4294967296"),
    (["--random", "3", "--seed", "4294967296"], "argument --seed: must be an integer in 0..4294967295"),
    (["--samples", "361"], "--samples must be at most 360 (the test images of the split), not 361"),
    (["--random", "524289"], "--random must be at most 524288 vectors for 64 rows"),
    (["--random", "1000000000000", *TILE], "--random must be at most 2097152 vectors for 16 rows"),
    (["--input-encoding", "twos_complement", "--input-bits", "1", "--dac-bits", "1"],
     "the digits MLP needs input codes above 0, so --input-bits must be at least 2, not 1"),
    (["--noise-sigma", "0.00001"], "--noise-sigma must be 0 or more than 0.00112763"),
    (["--weights", "{d}/w.npy"], "--weights and --inputs go together"),
    (["--weights", "{d}/w_shape.npy", "--inputs", "{d}/x.npy", *TILE], "must be a 16 x 8 matrix"),
    (["--weights", "{d}/w_code.npy", "--inputs", "{d}/x.npy", *TILE], "codes in -127..127, but --weights"),
    (["--weights", "{d}/w_float.npy", "--inputs", "{d}/x.npy", *TILE], "must hold integer codes"),
    (["--weights", "{d}/w.npy", "--inputs", "{d}/x_min.npy", *TILE], "codes in -127..127, but --inputs"),
    (["--weights", "{d}/w.npy", "--inputs", "{d}/x_rows.npy", *TILE], "must be V x 16"),
    (["--weights", "{d}/w.npy", "--inputs", "{d}/x_empty.npy", *TILE], "must be V x 16"),
    (["--weights", "{d}/junk.npy", "--inputs", "{d}/x.npy", *TILE], "not a readable .npy array"),
    (["--weights", "{d}/missing.npy", "--inputs", "{d}/x.npy", *TILE], "no such file"),
    (["--save-outputs", "{d}", "--random", "2"], "--save-outputs must name a file, not the directory"),
    (["--save-outputs", "{d}/y.npy"], "--save-outputs needs --weights/--inputs or --random"),
])
def test_run_cim_rejects_bad_input(no_build, capsys, matrices, args, match):
    args = [a.replace("{d}", str(matrices)) for a in args]
    assert pimgen("run", "cim", *args, "--build-dir", no_build) == 2
    assert match in error_line(capsys)


def test_relative_rms_undefined_for_all_zero_exact():
    """RMS error relative to x @ W: None (JSON null) when x @ W is all zeros, not an absolute error under the
    relative name."""
    from pimgen.cim.commands import _relative_rms
    assert _relative_rms(np.array([[3, 4]]), np.array([[0, 0]])) is None
    assert _relative_rms(np.zeros((2, 2)), np.zeros((2, 2))) is None
    assert _relative_rms(np.array([[3]]), np.array([[2]])) == 0.5
    assert _relative_rms(np.array([[2, -2]]), np.array([[2, -2]])) == 0.0


@pytest.mark.parametrize("cold", [False, True])
def test_bench_cold_builds_in_a_fresh_root_without_ccache(cold, no_build, tmp_path, capsys, monkeypatch):
    """``--cold``: the RTL points build in a fresh temporary root (removed after) with CCACHE_DISABLE=1 (restored
    after); without it, in --build-dir. The tile is replaced by the golden model here: what is checked is where the
    builds would go."""
    import os

    from pimgen.cim import commands
    from sw_model.cim import tile_vmm
    seen = []

    class GoldenSim:
        def __init__(self, config, tables=None, *, build_root=None, **options):
            seen.append((build_root, os.environ.get("CCACHE_DISABLE"), build_root is not None and build_root.is_dir()))
            self.config, self.layers, self.sessions = config, [], []

        def __call__(self, blocks):
            results = []
            for w, x in blocks:
                r = tile_vmm(self.config, w, x)
                results.append(commands.BlockResult(y=r.y, conversions=r.conversions, clipped=r.clipped,
                                                    cycles=self.config.cycles(len(x)), runs=1, bit_exact=True))
            self.layers.append(results)
            return results

        @property
        def blocks(self):
            return [b for layer in self.layers for b in layer]

    monkeypatch.setattr(commands, "SimBlocks", GoldenSim)
    monkeypatch.delenv("CCACHE_DISABLE", raising=False)
    status = pimgen("bench", "cim", "--quick", *(["--cold"] if cold else []), "--out", tmp_path / "out",
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
    assert json.loads((tmp_path / "out" / "cim.json").read_text())["cold_builds"] is cold
