"""The ``pimgen`` command line: generate (Verilog, manifest, lint), run, bench, engines, and bad input.

Bad input must give exit status 2 and one line on stderr, ``pimgen: error: ...``, before anything is built. Most
tests call ``pimgen.cli.main`` in-process; one runs the real process to show that no traceback escapes. The run and
bench tests build (or take from the shared cache in build/sim) the lanes=4 int16 model that other tests use too.
"""

import contextlib
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pimgen.gnn.config import GnnConfig
from pimgen.cli import main
from pimgen.engines import ENGINES

from cli_helpers import error_line, pimgen

PROJECT = Path(__file__).resolve().parent.parent


# generate

_GENERATED = {}


#: Memory limits of the generated configs: smaller than the defaults, because emitting the initial contents of large
#: memories is most of the generation time, and nothing here depends on their size.
GEN_LIMITS = dict(max_nodes=512, max_edges=2048)


def generated_config(fmt, lanes):
    return GnnConfig(lanes=lanes, format=fmt, **GEN_LIMITS)


def generated(tmp_path_factory, fmt, lanes):
    """``pimgen generate gnn --lint`` for one config, once per session: (status, stdout, stderr, out_dir)."""
    key = (fmt, lanes)
    if key not in _GENERATED:
        out_dir = tmp_path_factory.mktemp(f"gen-{fmt}-l{lanes}")
        stdout, stderr = io.StringIO(), io.StringIO()
        limits = [str(a) for k, v in GEN_LIMITS.items() for a in (f"--{k.replace('_', '-')}", v)]
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = pimgen("generate", "gnn", "--lanes", lanes, "--format", fmt, *limits, "--out", out_dir,
                            "--lint")
        _GENERATED[key] = (status, stdout.getvalue(), stderr.getvalue(), out_dir)
    return _GENERATED[key]


def test_generate_writes_verilog_and_manifest(tmp_path_factory):
    config = generated_config("int16", 8)
    status, out, err, out_dir = generated(tmp_path_factory, "int16", 8)
    assert status == 0, err

    top = config.top_name
    verilog = out_dir / f"{top}.v"
    assert verilog.is_file()
    assert re.search(rf"^module {re.escape(top)}\b", verilog.read_text(), re.MULTILINE)
    assert str(verilog) in out

    m = json.loads((out_dir / "manifest.json").read_text())
    assert m["engine"] == "gnn"
    assert m["top"] == top
    assert m["verilog"] == verilog.name
    assert m["config"] == config.to_dict()
    assert m["config_hash"] == config.config_hash
    assert (m["clock"], m["reset"]) == ("clk", "rst")

    # Ports: the bus as the manifest's bus section states it, irq, clock and reset; nothing else.
    bus = m["bus"]
    assert bus["prefix"] == "bus"
    aw, dw = bus["addr_width"], bus["data_width"]
    assert dw == 32 and aw > 0
    expected = {
        "clk": ("in", 1), "rst": ("in", 1),
        "bus__addr": ("in", aw), "bus__w_data": ("in", dw), "bus__w_en": ("in", 1), "bus__r_en": ("in", 1),
        "bus__r_data": ("out", dw), "bus__ack": ("out", 1), "irq": ("out", 1),
    }
    ports = {p["name"]: (p["direction"], p["width"]) for p in m["ports"]}
    assert len(ports) == len(m["ports"]), "duplicate port names"
    assert ports == expected
    for name in ports:                                      # every port is a port of the Verilog top
        assert re.search(rf"\b(input|output)\b[^;]*\b{name}\b", verilog.read_text())

    # Registers.
    regs = {r["name"]: r for r in m["registers"]}
    assert len(regs) == len(m["registers"]), "duplicate register names"
    addrs = [r["addr"] for r in m["registers"]]
    assert len(set(addrs)) == len(addrs), "two registers share an address"
    assert regs["ID"]["addr"] == 0
    status_fields = {f["name"] for f in regs["STATUS"]["fields"]}
    assert {"busy", "done", "error", "bus_error"} <= status_fields
    for reg in m["registers"]:                               # fields fit the 32-bit word and do not overlap
        used = 0
        for f in reg["fields"]:
            bits = ((1 << f["width"]) - 1) << f["lsb"]
            assert f["lsb"] + f["width"] <= dw, (reg["name"], f)
            assert not used & bits, (reg["name"], f)
            used |= bits
    assert "CNT_CYCLES" in regs
    assert "CFG_LANES" in regs

    # Windows: aligned to their size, large enough for their memory, above the registers, disjoint, in the bus.
    windows = {w["name"]: w for w in m["windows"]}
    assert set(windows) == {"indptr", "indices", "weights", "features", "result"}
    spans = []
    for w in m["windows"]:
        base, size = w["base"], w["size"]
        assert size > 0 and size & (size - 1) == 0, w
        assert base % size == 0, f"window {w['name']} at {base:#x} is not aligned to its size {size:#x}"
        assert w["depth"] << w["slot_bits"] <= size, w
        assert base + size <= 1 << aw, w
        assert base > max(addrs), w
        spans.append((base, base + size, w["name"]))
    spans.sort()
    for (_, end, a), (start, _, b) in zip(spans, spans[1:]):
        assert end <= start, f"windows {a} and {b} overlap"
    assert windows["features"]["banks"] == config.lanes
    assert windows["features"]["element_bits"] == config.data_bits


@pytest.mark.parametrize("fmt, lanes", [("int8", 1), ("int16", 8)])
def test_generate_lint_clean(tmp_path_factory, fmt, lanes):
    status, out, err, out_dir = generated(tmp_path_factory, fmt, lanes)
    assert status == 0, err
    assert "lint: clean" in out
    assert (out_dir / f"{generated_config(fmt, lanes).top_name}.v").is_file()


@pytest.mark.parametrize("options", [
    # Limits equal to the largest value their field holds (no constant comparisons in the Verilog).
    ["--lanes", "3", "--max-nodes", "255", "--max-edges", "1023", "--max-features", "15", "--max-degree", "1023"],
    # The widest datapath: 64 lanes, 18-bit weights, 44-bit accumulator.
    ["--lanes", "64", "--format", "int8", "--max-features", "64", "--max-nodes", "100", "--max-edges", "1000",
     "--weight-bits", "18", "--acc-width", "44"],
    # The smallest memories: one-word windows, one feature group (no zero-width vectors).
    ["--lanes", "1", "--format", "int8", "--max-nodes", "2", "--max-edges", "1", "--max-features", "1",
     "--max-degree", "1"],
    # Several processing elements, a count that is not a power of two.
    ["--pes", "3", "--lanes", "2", "--max-nodes", "16", "--max-edges", "64", "--max-features", "4",
     "--max-degree", "8"],
], ids=["limits-at-field-max", "widest", "smallest", "three-pes"])
def test_generate_lint_clean_at_odd_sizes(tmp_path, capsys, options):
    status = main(["generate", "gnn", *options, "--out", str(tmp_path), "--lint"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "lint: clean" in captured.out


# Bad input: one line, status 2, nothing built.

def write_graph(path, indptr=None, indices=None, **arrays):
    data = dict(arrays)
    if indptr is not None:
        data["indptr"] = np.asarray(indptr, dtype=np.int64)
    if indices is not None:
        data["indices"] = np.asarray(indices, dtype=np.int64)
    np.savez(path, **data)
    return path


def chain_graph(n):
    """n nodes, row r has the in-edge r-1 (row 0 none)."""
    return np.concatenate([[0], np.arange(n)]), np.arange(n - 1)


BAD_OPTIONS = [
    # (arguments, distinctive part of the message)
    (["--lanes", "0"], r"--lanes must be an integer in 1\.\.64, not 0"),
    (["--lanes", "-1"], r"--lanes must be an integer in 1\.\.64, not -1"),
    (["--lanes", "eight"], r"argument --lanes: must be an integer, not 'eight'"),
    (["--format", "int32"], r"--format: invalid choice: 'int32'"),
    (["--frac-bits", "16", "--format", "int16"], r"--frac-bits must be an integer in 0\.\.15, not 16"),
    (["--lanes", "16", "--max-features", "8"], r"--max-features \(8\) must be at least --lanes \(16\)"),
    (["--random", "20", "--features", "0"], r"argument --features: must be a positive integer, not 0"),
    (["--random", "20", "--features", "40"], r"--features \(40\) must be at most max_features \(--max-features\) = 32"),
    (["--max-nodes", "65536", "--max-features", "1024", "--lanes", "1"],
     r"lower --max-nodes, --max-edges or --max-features"),
    (["--random", "20", "--features", "33"],
     r"--features \(33\) must be at most max_features \(--max-features\) = 32"),
    (["--random", "20", "--seed", "-1"], r"argument --seed: must be a non-negative integer, not -1"),
    (["--random", "20", "--op", "sum", "--op", "sum"], r"ops must not repeat .*, not sum twice"),
    (["--random", "1"], r"--random must be in 2\.\.max_nodes = 2\.\.4096 nodes, not 1"),
    (["--random", "5000"], r"--random must be in 2\.\.max_nodes = 2\.\.4096 nodes, not 5000"),
    (["--dataset", "pubmed"], r"[Dd]ataset must be one of cora, citeseer, not 'pubmed'"),
    (["--dataset", "cora", "--random", "20"], r"not allowed with argument"),
    (["--random", "20", "--op", "median"], r"--op: invalid choice: 'median'"),
]


@pytest.mark.parametrize("args, match", BAD_OPTIONS, ids=[" ".join(a) for a, _ in BAD_OPTIONS])
def test_run_rejects_bad_options(no_build, capsys, args, match):
    status = pimgen("run", "gnn", *args, "--build-dir", no_build)
    line = error_line(capsys)
    assert status == 2
    assert re.search(match, line), line


def graph_cases(tmp_path):
    """(arguments, message) for bad --graph files, written into tmp_path."""
    ip, ix = chain_graph(20)
    star_ptr, star_idx = [0, 5, 5, 5, 5, 5, 5], [1, 2, 3, 4, 5]       # row 0 has in-degree 5
    return {
        "non-monotone indptr": (
            ["--graph", write_graph(tmp_path / "nonmono.npz", [0, 2, 1, 3], [0, 1, 2])],
            r"indptr must be non-decreasing, but indptr\[2\] = 1 < indptr\[1\] = 2"),
        "column out of range": (
            ["--graph", write_graph(tmp_path / "column.npz", [0, 1, 3], [0, 1, 5])],
            r"indices must be node numbers in 0\.\.1, but edge 2 \(row 1\) has column 5"),
        "indptr[-1] != len(indices)": (
            ["--graph", write_graph(tmp_path / "length.npz", [0, 2, 5], [0, 1, 1, 0])],
            r"indptr\[-1\] must equal len\(indices\).*indptr\[-1\] = 5, len\(indices\) = 4"),
        "x outside int8": (
            ["--format", "int8", "--graph",
             write_graph(tmp_path / "x8.npz", [0, 1, 2], [1, 0], x=np.array([[1, 2], [3, 200]]))],
            r"features must be int8 codes in -128\.\.127, but features\[1, 1\] = 200"),
        "missing file": (
            ["--graph", tmp_path / "absent.npz"],
            r"Graph file .*absent\.npz does not exist"),
        "not an npz": (
            ["--graph", tmp_path / "junk.npz"],
            r"Graph file .*junk\.npz is not a readable \.npz"),
        "no indices": (
            ["--graph", write_graph(tmp_path / "noindices.npz", indptr=[0, 1, 2])],
            r"lacks the array\(s\) indices"),
        "weights length with weighted": (
            ["--op", "weighted", "--graph",
             write_graph(tmp_path / "weights.npz", [0, 2, 3, 3], [1, 2, 0], weights=np.array([100, 200]))],
            r"weights need one entry per edge \(3\), not shape \(2,\)"),
        "too many nodes": (
            ["--max-nodes", "8", "--graph", write_graph(tmp_path / "big.npz", ip, ix)],
            r"20 nodes > max_nodes \(--max-nodes\) = 8"),
        "too many edges": (
            ["--max-edges", "10", "--graph", write_graph(tmp_path / "edges.npz", ip, ix)],
            r"19 edges > max_edges \(--max-edges\) = 10"),
        "mean above max degree": (
            ["--op", "sum", "--op", "mean", "--max-degree", "4", "--graph",
             write_graph(tmp_path / "star.npz", star_ptr, star_idx)],
            r"row 0 has in-degree 5 > max_degree \(--max-degree\) = 4"),
    }


def corrupt_member(path):
    """A compressed graph .npz whose ``indices`` member has a broken compressed stream."""
    n = 3000
    ip = np.arange(n + 1)
    ix = np.random.default_rng(0).integers(0, n, size=n)           # incompressible: a long stream to damage
    np.savez_compressed(path, indptr=ip, indices=ix)
    data = bytearray(path.read_bytes())
    start = data.find(b"indices.npy") + 200          # inside the compressed stream of that member
    data[start:start + 16] = bytes(16)
    path.write_bytes(bytes(data))
    return path


def corrupt_crc(path):
    """A stored (uncompressed) member whose bytes no longer match its CRC."""
    ip, ix = chain_graph(3000)
    np.savez(path, indptr=ip, indices=ix)
    data = bytearray(path.read_bytes())
    start = data.find(b"indices.npy") + 300
    data[start] ^= 0xFF
    path.write_bytes(bytes(data))
    return path


def more_graph_cases(tmp_path):
    ip, ix = chain_graph(20)
    return {
        "corrupt compressed member": (
            ["--graph", corrupt_member(tmp_path / "zipped.npz")],
            r"Graph file .*zipped\.npz: array 'indices' is corrupt"),
        "member with a bad CRC": (
            ["--graph", corrupt_crc(tmp_path / "crc.npz")],
            r"Graph file .*crc\.npz: array 'indices' is corrupt"),
        "unknown key (weight for weights)": (
            ["--op", "weighted", "--graph", write_graph(tmp_path / "weight.npz", ip, ix, weight=np.ones(19, int))],
            r"unknown array\(s\) weight; allowed: indptr, indices, x, weights"),
        "every limit at once": (
            ["--max-nodes", "8", "--max-edges", "10", "--graph",
             write_graph(tmp_path / "all.npz", ip, ix, x=np.zeros((20, 40), dtype=np.int64))],
            r"20 nodes > max_nodes \(--max-nodes\) = 8; 19 edges > max_edges \(--max-edges\) = 10; "
            r"40 features per node > max_features \(--max-features\) = 32"),
        "gcn weights need in-edges": (
            ["--op", "weighted", "--graph", write_graph(tmp_path / "noloops.npz", ip, ix)],
            r"--op weighted without weights in the graph: gcn_norm_weights needs every source node"),
        "--json is a directory": (
            ["--random", "20", "--json", tmp_path],
            r"--json must name a file, not the directory"),
        "--build-dir is a file": (
            ["--random", "20", "--build-dir", write_graph(tmp_path / "bfile.npz", [0], [])],
            r"--build-dir must be a folder, not the file .*bfile\.npz"),
        "--build-dir under a file": (
            ["--random", "20", "--build-dir", write_graph(tmp_path / "bfile2.npz", [0], []) / "sub"],
            r"--build-dir .*sub lies under .*bfile2\.npz, which is a file"),
        "an array header declaring an absurd shape": (
            ["--graph", huge_header(tmp_path / "huge.npz")],
            r"Graph file .*huge\.npz: array 'indptr' declares shape \(100000000000,\)"),
        "--json under a file": (
            ["--random", "20", "--json", write_graph(tmp_path / "plain.npz", [0], []) / "out.json"],
            r"--json .*out\.json lies under .*plain\.npz, which is a file"),
    }


MORE_GRAPH_CASES = ["corrupt compressed member", "member with a bad CRC", "unknown key (weight for weights)",
                    "every limit at once", "gcn weights need in-edges", "--json is a directory",
                    "--json under a file", "--build-dir is a file", "--build-dir under a file",
                    "an array header declaring an absurd shape"]


def huge_header(path):
    """A graph .npz whose indptr member declares 10**11 elements (NumPy would try to allocate 745 GiB)."""
    import io
    import zipfile
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<i8", "fortran_order": False,
                                                  "shape": (100_000_000_000,)})
    indices = io.BytesIO()
    np.save(indices, np.arange(3))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("indptr.npy", header.getvalue())                 # the header alone, with its magic
        z.writestr("indices.npy", indices.getvalue())
    return path


@pytest.mark.parametrize("case", MORE_GRAPH_CASES)
def test_run_rejects_bad_input_found_by_review(no_build, capsys, tmp_path, case):
    """Faults found when the CLI was tried as a hostile user would: each is one line, exit 2, before any build."""
    args, match = more_graph_cases(tmp_path)[case]
    if "--build-dir" not in args:
        args = [*args, "--build-dir", no_build]
    status = pimgen("run", "gnn", *args)
    line = error_line(capsys)
    assert status == 2
    assert re.search(match, line), line


def test_bench_out_is_a_file(no_build, capsys, tmp_path):
    out = write_graph(tmp_path / "file.npz", [0], [])
    assert pimgen("bench", "gnn", "--quick", "--out", out, "--build-dir", no_build) == 2
    assert re.search(r"--out must be a folder, not the file", error_line(capsys))


@pytest.mark.parametrize("failure, status, prefix", [
    ("build", 3, "pimgen: build failed: "),
    ("run", 4, "pimgen: run failed: "),
    ("bug", None, None),
])
def test_exit_status_by_kind_of_failure(monkeypatch, capsys, tmp_path, failure, status, prefix):
    """Only pimgen's own bad-input errors are exit 2; a failed build is 3, a failed run 4, and an internal bug is a
    traceback (the exception propagates: Python exits 1), never "bad input"."""
    import tb.runner
    from pimgen.errors import BuildFailed, RunFailed

    def broken(config, **kwargs):
        if failure == "build":
            raise BuildFailed("Verilator failed; log: /somewhere/build.log")
        if failure == "run":
            raise RunFailed("the simulator crashed")
        raise ValueError("an internal error")

    monkeypatch.setattr(tb.runner, "build", broken)
    args = ["run", "gnn", "--random", "20", "--build-dir", tmp_path / "b"]
    if status is None:
        with pytest.raises(ValueError, match="an internal error"):
            pimgen(*args)
        return
    assert pimgen(*args) == status
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith(prefix), err


GRAPH_CASES = ["non-monotone indptr", "column out of range", "indptr[-1] != len(indices)", "x outside int8",
               "missing file", "not an npz", "no indices", "weights length with weighted", "too many nodes",
               "too many edges", "mean above max degree"]


@pytest.mark.parametrize("case", GRAPH_CASES)
def test_run_rejects_bad_graph(no_build, capsys, tmp_path, case):
    (tmp_path / "junk.npz").write_text("not a zip file\n")
    args, match = graph_cases(tmp_path)[case]
    status = pimgen("run", "gnn", *args, "--build-dir", no_build)
    line = error_line(capsys)
    assert status == 2
    assert re.search(match, line), line


def test_run_accepts_mean_within_max_degree(monkeypatch, tmp_path, capsys):
    """The max_degree check is about the mean op only, and degree == max_degree is allowed: these reach the build."""
    import tb.runner

    class Reached(Exception):
        pass

    def build(config, **kwargs):
        raise Reached(config)

    monkeypatch.setattr(tb.runner, "build", build)
    star = write_graph(tmp_path / "star.npz", [0, 5, 5, 5, 5, 5, 5], [1, 2, 3, 4, 5])
    for args in (["--op", "mean", "--max-degree", "5"], ["--op", "sum", "--max-degree", "4"]):
        with pytest.raises(Reached) as info:
            pimgen("run", "gnn", "--graph", star, *args, "--build-dir", tmp_path / "b")
        assert info.value.args[0].max_degree == int(args[-1])


@pytest.mark.parametrize("args, match", [
    (["--lanes", "0"], r"--lanes must be an integer in 1\.\.64, not 0"),
    (["--format", "int32"], r"--format: invalid choice: 'int32'"),
    (["--weight-bits", "19"], r"--weight-bits must be an integer in 2\.\.18, not 19"),
])
def test_generate_rejects_bad_config(no_build, capsys, tmp_path, args, match):
    out_dir = tmp_path / "out"
    status = pimgen("generate", "gnn", "--out", out_dir, *args)
    line = error_line(capsys)
    assert status == 2
    assert re.search(match, line), line
    assert not out_dir.exists()


def test_generate_out_is_a_file(capsys, tmp_path):
    out = tmp_path / "file"
    out.write_text("")
    status = pimgen("generate", "gnn", "--lanes", "1", "--out", out)
    line = error_line(capsys)
    assert status == 2
    assert "file" in line


def test_unknown_engine_and_missing_command(capsys):
    assert pimgen("generate", "xyz", "--out", "x") == 2
    assert re.search(r"invalid choice: 'xyz'", error_line(capsys))
    assert pimgen() == 2
    assert "required" in error_line(capsys)


@pytest.mark.parametrize("args", [["run", "gnn", "--lanes", "0"], ["run", "gnn", "--format", "int32"]],
                         ids=["config", "argparse"])
def test_real_process_prints_one_line(tmp_path, args):
    proc = subprocess.run([sys.executable, "-m", "pimgen.cli", *args, "--build-dir", str(tmp_path / "b")],
                          cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("pimgen: error: ")
    assert proc.stdout == ""
    assert not (tmp_path / "b").exists()


# Successful runs.

def test_engines_lists_gnn(capsys):
    assert pimgen("engines") == 0
    out = capsys.readouterr().out
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert names == list(ENGINES)
    assert "gnn" in names
    assert re.search(r"^gnn\s+GNN neighbour aggregation", out, re.MULTILINE)


def test_run_random_graph_bit_exact(build_root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)            # nothing the command writes may land in the project tree
    json_path = tmp_path / "r.json"
    status = pimgen("run", "gnn", "--random", "50", "--features", "12", "--lanes", "4", "--format", "int16",
                    "--op", "sum", "--op", "max", "--json", json_path, "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "pimgen: " not in err
    assert re.search(r"^random50: 50 nodes, \d+ edges, F = 12; engine lanes = 4, pes = 1, int16", out, re.MULTILINE)
    assert "  graph: random power-law graph, seed 0" in out
    assert "  features: random normal, 12 per node (seed 0), quantised" in out
    blocks = re.split(r"^  op ", out, flags=re.MULTILINE)[1:]
    assert [b.split(":")[0] for b in blocks] == ["sum", "max"]
    for block in blocks:
        assert "bit-exact match with the golden model: yes" in block
    assert out.count("bit-exact match with the golden model: yes") == 2

    rows = json.loads(json_path.read_text())
    assert [r["op"] for r in rows] == ["sum", "max"]
    for r in rows:
        assert r["bit_exact"] is True
        assert r["first_mismatch"] is None
        assert (r["workload"], r["nodes"], r["features"], r["lanes"], r["format"]) == \
            ("random50", 50, 12, 4, "int16")
        assert r["cycles"] > 0
        assert r["edges_counted"] == r["edges"]
        assert 0 < r["lane_utilisation"] <= 1
        assert r["top"] == GnnConfig(lanes=4, format="int16").top_name


def test_run_graph_file_in_a_real_process(build_root, tmp_path):
    """A graph file with its own features and weights, run by the real command with stderr not a terminal: the report
    says where every part came from, progress lines appear on stderr, and the run gets its own directory."""
    ip, ix = chain_graph(30)
    rng = np.random.default_rng(1)
    graph = write_graph(tmp_path / "граф.npz", ip, ix, x=rng.integers(-500, 500, size=(30, 6)),
                        weights=rng.integers(-1000, 1000, size=29))            # a name that is not ASCII
    proc = subprocess.run([sys.executable, "-m", "pimgen.cli", "run", "gnn", "--graph", str(graph), "--op", "weighted",
                           "--lanes", "4", "--format", "int16", "--build-dir", str(build_root)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"  graph: file {graph} (pimgen)" in proc.stdout
    assert f"  features: file {graph} (array x)" in proc.stdout
    assert f"  weights: file {graph} (array weights)" in proc.stdout
    assert "bit-exact match with the golden model: yes" in proc.stdout
    assert re.search(r"граф: loaded in [\d.]+ s", proc.stderr), proc.stderr
    assert re.search(r"граф: weighted done, \d+ cycles", proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert re.search(r"run directory: .*/runs/\d{8}-\d{6}-run-", proc.stdout), proc.stdout


def test_two_runs_at_once_on_one_model(build_root, tmp_path):
    """Two runs of the same workload name on the same built config, at the same time: each gets its own run directory
    and both are right (they once shared runs/<workload> and overwrote each other's files)."""
    procs = [subprocess.Popen([sys.executable, "-m", "pimgen.cli", "run", "gnn", "--random", "40", "--seed", str(seed),
                               "--op", "sum", "--op", "max", "--lanes", "4", "--format", "int16",
                               "--build-dir", str(build_root)],
                              cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for seed in (1, 2)]
    outs = [proc.communicate(timeout=600) for proc in procs]
    for proc, (out, err) in zip(procs, outs):
        assert proc.returncode == 0, out + err
        assert out.count("bit-exact match with the golden model: yes") == 2
    dirs = [re.search(r"run directory: (\S+)", out).group(1) for out, _ in outs]
    assert dirs[0] != dirs[1]


def test_bench_quick(build_root, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    status = pimgen("bench", "gnn", "--quick", "--out", tmp_path / "bench", "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    report = json.loads((tmp_path / "bench" / "gnn.json").read_text())
    assert report["benchmark"] == "gnn"
    rows = [r for r in report["records"] if r["kind"] == "aggregation"]
    assert rows
    for r in rows:
        assert r["bit_exact"] is True
        for key in ("cycles", "edges_per_cycle", "lane_utilisation", "build_seconds", "sim_cycles_per_second",
                    "dataset", "format", "lanes", "pes", "engine_us", "speedup_vs_one_pe"):
            assert key in r, key
        assert r["cycles"] > 0
        assert r["edges_per_cycle"] > 0
        assert 0 < r["lane_utilisation"] <= 1
        assert r["build_seconds"] >= 0
        assert r["sim_cycles_per_second"] > 0
    assert rows[0]["scipy_spmm_us"] > 0 and rows[0]["speedup_vs_scipy"] > 0          # sum is timed on SciPy too
    assert str(tmp_path / "bench" / "gnn.json") in out


def test_missing_verilator_is_one_line(monkeypatch, capsys, tmp_path):
    """Without a Verilator the lint step names what is missing and how to get it, in one line, exit 2."""
    import rtl_gen.toolchain as toolchain
    monkeypatch.setattr(toolchain, "verilator_root", lambda: None)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(toolchain.ToolMissing, match="Verilator not found"):
        toolchain.require_verilator()
    code = main(["generate", "gnn", "--lanes", "1", "--format", "int8", "--max-nodes", "16", "--max-edges", "32",
                 "--max-features", "4", "--max-degree", "8", "--out", str(tmp_path / "g"), "--lint"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("pimgen: error: Verilator not found")


def test_unwritable_ccache_dir_builds_without_ccache(tmp_path):
    """A cache directory that cannot be created turns ccache off instead of failing the build."""
    import os
    from rtl_gen.toolchain import verilator_env
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = verilator_env({"PATH": os.environ["PATH"], "HOME": str(tmp_path), "CCACHE_DIR": str(blocker / "cache")})
    assert "OBJCACHE" not in env
    env = verilator_env({"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    assert env["CCACHE_DIR"] == str(tmp_path / ".cache" / "pimgen-ccache") and env["OBJCACHE"].endswith("ccache")
    assert "CFG_CXXFLAGS_PCH_I=-include" in env["MAKEFLAGS"]


# pimgen run gcn: the hybrid GCN (combination on the host, aggregation on the engine).

@pytest.mark.parametrize("options", [
    ["--format", "int16", "--lanes", "8"],
    # The fp16 and mixed configs of tests/test_gnn_sim.py (their models are shared): Cora fits exactly.
    ["--format", "fp16", "--lanes", "4", "--max-nodes", "2708", "--max-edges", "13264", "--max-features", "16"],
], ids=["int16", "fp16"])
def test_run_gcn_on_cora(build_root, tmp_path, capsys, monkeypatch, options):
    """Cora's 2-layer GCN: the engine's predictions equal the golden's, every aggregated code is bit-exact, and the
    test accuracy is within 0.5 points of float64 (which is at least 0.79)."""
    monkeypatch.chdir(tmp_path)
    json_path = tmp_path / "gcn.json"
    status = pimgen("run", "gcn", "--dataset", "cora", *options, "--json", json_path, "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "engine predictions equal the golden's: yes; every aggregated code bit-exact: yes" in out
    report = json.loads(json_path.read_text())
    acc = report["accuracy"]
    assert acc["float64"] >= 0.79
    assert abs(acc["engine"] - acc["float64"]) <= 0.005
    assert acc["engine"] == acc["golden"]
    assert [layer["edges"] for layer in report["layers"]] == [13264, 13264]


def test_run_gcn_rejects_a_config_too_small(no_build, capsys):
    assert pimgen("run", "gcn", "--dataset", "citeseer", "--max-nodes", "1000", "--build-dir", no_build) == 2
    assert re.search(r"The citeseer GCN does not fit the config: max_nodes \(--max-nodes\) = 1000 < 3327",
                     error_line(capsys))


# Graphs as users have them: scipy.sparse.save_npz matrices and PyTorch Geometric edge_index arrays.

def test_run_scipy_and_edge_index_files(build_root, tmp_path, capsys, monkeypatch):
    import scipy.sparse
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(3)
    n = 40
    src, dst = rng.integers(0, n, size=150), rng.integers(0, n, size=150)
    scipy.sparse.save_npz(tmp_path / "adj.npz", scipy.sparse.coo_matrix((np.ones(150), (dst, src)), shape=(n, n)))
    np.save(tmp_path / "edges.npy", np.stack([src, dst]))
    for name, kind in (("adj.npz", "scipy"), ("edges.npy", "edge_index")):
        status = pimgen("run", "gnn", "--graph", tmp_path / name, "--features", "8", "--op", "sum", "--op", "mean",
                        "--lanes", "4", "--format", "int16", "--build-dir", build_root)
        out, err = capsys.readouterr()
        assert status == 0, out + err
        assert f"({kind})" in out
        assert out.count("bit-exact match with the golden model: yes") == 2


def test_edge_index_node_out_of_range_is_one_line(no_build, capsys, tmp_path):
    np.save(tmp_path / "bad.npy", np.array([[0, 1, 7], [1, 2, 0]]))
    np.savez(tmp_path / "bad_n.npz", edge_index=np.array([[0, 1, 7], [1, 2, 0]]), num_nodes=np.array(5))
    assert pimgen("run", "gnn", "--graph", tmp_path / "bad_n.npz", "--build-dir", no_build) == 2
    assert re.search(r"bad_n\.npz.*7", error_line(capsys))
    assert pimgen("run", "gnn", "--graph", tmp_path / "bad.npy", "--max-nodes", "4", "--build-dir", no_build) == 2
    assert re.search(r"8 nodes > max_nodes \(--max-nodes\) = 4", error_line(capsys))


def test_run_gcn_mixed_precision_on_cora(build_root, tmp_path, capsys, monkeypatch):
    """Degree-aware mixed precision decoded by the engine: at most 4 bits per feature on average, within 1.5 points
    of float64, at least 7x fewer feature bytes than fp32 for both layers, and bit-exact with the golden."""
    monkeypatch.chdir(tmp_path)
    status = pimgen("run", "gcn", "--dataset", "cora", "--format", "mixed", "--lanes", "8", "--max-nodes", "2708",
                    "--max-edges", "13264", "--max-features", "16", "--json", tmp_path / "g.json",
                    "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "engine predictions equal the golden's: yes; every aggregated code bit-exact: yes" in out
    acc = json.loads((tmp_path / "g.json").read_text())["accuracy"]
    assert acc["float64"] - acc["engine"] <= 0.015
    layers = re.findall(r"layer \d ([\d.]+) bits/feature, \d+ bytes with headers \(([\d.]+)x fewer than fp32", out)
    assert len(layers) == 2
    assert all(float(bits) <= 4 and float(ratio) >= 7 for bits, ratio in layers), layers


@pytest.mark.parametrize("args, match", [
    (["--mixed-widths", "4,9,4"], r"widths must be bit widths in 1\.\.8, not 9"),
    (["--mixed-widths", "4,0,4"], r"widths must be bit widths in 1\.\.8, not 0"),
    (["--mixed-thresholds", "8,5"], r"thresholds must be strictly ascending, not \(8, 5\)"),
    (["--mixed-widths", "x"], r"argument --mixed-widths: must be integers separated by commas"),
])
def test_run_gcn_mixed_rejects_bad_widths(no_build, capsys, args, match):
    assert pimgen("run", "gcn", "--format", "mixed", *args, "--build-dir", no_build) == 2
    assert re.search(match, error_line(capsys))


def test_run_gcn_checks_the_config_before_training(no_build, capsys):
    """A --hidden the config cannot hold is refused at once, before minutes of training."""
    assert pimgen("run", "gcn", "--hidden", "100000", "--build-dir", no_build) == 2
    assert re.search(r"max_features \(--max-features\) = 32 < 100000", error_line(capsys))


def test_graph_file_features_win_over_the_default_features(build_root, tmp_path, capsys):
    """A graph file's own x (F = 4) runs on a config with --max-features below the default --features 16."""
    graph = write_graph(tmp_path / "x4.npz", [0, 1, 2], [1, 0], x=np.arange(8).reshape(2, 4))
    status = pimgen("run", "gnn", "--graph", graph, "--lanes", "2", "--max-nodes", "16", "--max-edges", "64",
                    "--max-features", "4", "--max-degree", "8", "--build-dir", build_root)
    out, err = capsys.readouterr()
    assert status == 0, out + err
    assert "F = 4" in out and "bit-exact match with the golden model: yes" in out


def test_accuracy_plot_is_a_png(tmp_path):
    """The benchmark's plot of accuracy against feature bytes (formats of one size share a label)."""
    from pimgen.gnn.commands import plot_accuracy
    records = [{"dataset": "cora", "format": f, "feature_bytes": b, "accuracy": a}
               for f, b, a in (("fp32 (float64 host)", 400, 0.82), ("int16", 200, 0.82), ("fp16", 200, 0.82),
                               ("mixed", 50, 0.81))]
    plot_accuracy(records, tmp_path / "plot.png")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
