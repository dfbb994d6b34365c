"""The Verilator runner (tb/runner.py), its worker process and the simulation top with bursts (tb/sim_top.py).

Most tests use a test-only engine, a RAM on the register bus written here in Verilog (writes acknowledged at once,
reads one cycle later, like the engines' memory windows) with a memory that has no initial value. It builds in
seconds, so cache, kill and failure cases run on real Verilator builds. The cocotb tests at the bottom of this file run
inside the simulator; their names start with ``cocotb_`` so that pytest does not collect them.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import cocotb
import pytest

#: Module name of this file inside the simulator (pytest puts tests/ on sys.path).
THIS_MODULE = Path(__file__).stem
TESTS_DIR = Path(__file__).resolve().parent
RAM_PACKAGE = "pimgen_test_ram"


# The test RAM engine

@dataclasses.dataclass(frozen=True)
class RamConfig:
    """Config of the test RAM: what :func:`tb.runner.build` asks of an engine config, nothing more.

    ``fault`` makes generation fail (``"generate"``) or write Verilog that does not compile (``"verilog"``).
    """
    addr_width: int = 12
    clock_hz: int = 50_000_000
    fault: str = ""
    engine = "testram"

    def to_dict(self):
        return dataclasses.asdict(self)

    @property
    def config_hash(self):
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:8]

    @property
    def top_name(self):
        return f"testram_{self.config_hash}"


RAM_VERILOG = """\
module {top} (
    input wire clk,
    input wire rst,
    input wire [{msb}:0] bus__addr,
    input wire [31:0] bus__w_data,
    input wire bus__w_en,
    input wire bus__r_en,
    output reg [31:0] bus__r_data,
    output wire bus__ack,
    output wire irq
);
    reg [31:0] mem [0:{last}];
    reg pending = 1'b0;
    assign bus__ack = bus__w_en | pending;
    assign irq = 1'b0;
    always @(posedge clk) begin
        pending <= bus__r_en & ~pending & ~rst;
        if (bus__r_en) bus__r_data <= mem[bus__addr];
        if (bus__w_en) mem[bus__addr] <= bus__w_data;
    end
endmodule
"""


def ram_manifest(config):
    from tb.host.manifest import MANIFEST_VERSION
    aw = config.addr_width
    ports = [("clk", "in", 1), ("rst", "in", 1), ("bus__addr", "in", aw), ("bus__w_data", "in", 32),
             ("bus__w_en", "in", 1), ("bus__r_en", "in", 1), ("bus__r_data", "out", 32), ("bus__ack", "out", 1),
             ("irq", "out", 1)]
    return {"manifest_version": MANIFEST_VERSION, "engine": "testram", "engine_code": 0, "version": [0, 0],
            "config": config.to_dict(), "config_hash": config.config_hash, "top": config.top_name,
            "verilog": f"{config.top_name}.v", "clock": "clk", "reset": "rst", "clock_hz": config.clock_hz,
            "bus": {"prefix": "bus", "addr_width": aw, "data_width": 32, "addressing": "word"},
            "ports": [{"name": n, "direction": d, "width": w} for n, d, w in ports],
            "registers": [], "windows": [], "errors": {}, "counters": []}


def generate_ram(config, out_dir):
    """What :func:`rtl_gen.generate.generate` does for a real engine: the Verilog and the manifest."""
    from rtl_gen.generate import Generated
    if config.fault == "generate":
        raise RuntimeError("elaboration blew up")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = ram_manifest(config)
    text = RAM_VERILOG.format(top=config.top_name, msb=config.addr_width - 1, last=(1 << config.addr_width) - 1)
    if config.fault == "verilog":
        text = text.replace("endmodule", "")
    verilog = out_dir / manifest["verilog"]
    verilog.write_text(text)
    manifest_path = out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest))
    return Generated(out_dir, verilog, manifest_path, manifest)


@contextlib.contextmanager
def ram_engine(package_root):
    """Register the test RAM as an engine and let ``rtl_gen.generate.generate`` write it, for the duration.

    The engine table points its component at a package under ``package_root`` (only its files matter, for the
    build key).
    """
    import rtl_gen.generate
    from pimgen import engines
    package = Path(package_root) / RAM_PACKAGE
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""Stands for the component package of the test RAM engine."""\n')
    original = rtl_gen.generate.generate

    def generate(config, out_dir, **kwargs):
        if isinstance(config, RamConfig):
            return generate_ram(config, out_dir)
        return original(config, out_dir, **kwargs)

    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(package_root))
        mp.setattr(engines, "ENGINES", dict(engines.ENGINES))
        engines.register(engines.EngineSpec("testram", RamConfig, f"{RAM_PACKAGE}.ram:Ram",
                                            "tb.host.driver:EngineDriver", None, "test RAM"))
        mp.setattr(rtl_gen.generate, "generate", generate)
        yield


def build_ram(config, root, package_root, **kwargs):
    from tb.runner import build
    with ram_engine(package_root):
        return build(config, root=root, log=None, **kwargs)


@pytest.fixture(scope="session")
def ram_package_root(tmp_path_factory):
    return tmp_path_factory.mktemp("engines")


@pytest.fixture(scope="session")
def ram_model(build_root, ram_package_root):
    return build_ram(RamConfig(), build_root, ram_package_root)


def run_cocotb(model, testcase, run_dir, **kwargs):
    """Run one ``cocotb_*`` test of this file; returns what it saved with :func:`save_result`."""
    from tb.runner import run_test
    run_test(model, THIS_MODULE, run_dir, testcase=testcase, **kwargs)
    path = Path(run_dir) / "result.json"
    return json.loads(path.read_text()) if path.exists() else None


def save_result(data):
    """Called inside the simulator: hand ``data`` to the pytest side (the run directory is the working directory)."""
    Path("result.json").write_text(json.dumps(data))


# 1. Build keys per engine

@dataclasses.dataclass(frozen=True)
class ConfigA:
    engine = "eng_a"


@dataclasses.dataclass(frozen=True)
class ConfigB:
    engine = "eng_b"


def test_design_hash_follows_each_engines_own_sources(tmp_path, monkeypatch):
    """Editing a file of one engine's component package moves that engine's build key only; a common source, the
    simulation top or the build options move every key; files other than .py/.vlt move none."""
    from pimgen import engines
    from pimgen.gnn.config import GnnConfig
    import tb.runner
    from tb.runner import design_hash

    for name in ("eng_a", "eng_b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
        (tmp_path / name / "core.py").write_text("X = 1\n")
    common = tmp_path / "common.py"
    common.write_text("C = 1\n")
    sim_top = tmp_path / "sim_top.py"
    sim_top.write_text("S = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(engines, "ENGINES", dict(engines.ENGINES))
    monkeypatch.setattr(engines, "COMMON_DESIGN_SOURCES", (*engines.COMMON_DESIGN_SOURCES, str(common)))
    monkeypatch.setattr(tb.runner, "SIM_SOURCES", (sim_top,))
    engines.register(engines.EngineSpec("eng_a", ConfigA, "eng_a.core:A", "tb.host.driver:EngineDriver", None, "A"))
    engines.register(engines.EngineSpec("eng_b", ConfigB, "eng_b.core:B", "tb.host.driver:EngineDriver", None, "B"))

    def keys():
        return [design_hash(ConfigA()), design_hash(ConfigB()), design_hash(GnnConfig())]

    k0 = keys()
    assert len(set(k0)) == 3
    (tmp_path / "eng_a" / "core.py").write_text("X = 2\n")
    k1 = keys()
    assert k1[0] != k0[0] and k1[1:] == k0[1:]
    (tmp_path / "eng_b" / "extra.py").write_text("Y = 1\n")
    k2 = keys()
    assert k2[1] != k1[1] and (k2[0], k2[2]) == (k1[0], k1[2])
    (tmp_path / "eng_b" / "notes.txt").write_text("not a source")
    assert keys() == k2
    common.write_text("C = 2\n")
    k3 = keys()
    assert all(a != b for a, b in zip(k3, k2))
    sim_top.write_text("S = 2\n")
    k4 = keys()
    assert all(a != b for a, b in zip(k4, k3))
    monkeypatch.setattr(tb.runner, "BUILD_ARGS", (*tb.runner.BUILD_ARGS, "--no-timing"))
    assert all(a != b for a, b in zip(keys(), k4))


# 2. Kill-safety

def _proc_stat(pid):
    """(state, ppid, pgid) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[2])


def _comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def group_members(pgid):
    """Live (not zombie) processes of process group ``pgid``: ``{pid: command name}``."""
    members = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(entry.name)
            if stat and stat[2] == pgid and stat[0] != "Z":
                members[int(entry.name)] = _comm(entry.name)
    return members


def worker_of(parent_pid):
    """The pid of the process-group leader that ``parent_pid`` started (the runner's worker), or None."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(entry.name)
            if stat and stat[1] == parent_pid and stat[2] == int(entry.name):
                return int(entry.name)
    return None


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def lock_is_free(path):
    with open(path, "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


CHILD_SCRIPT = """\
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import {module} as t
from tb.runner import Terminated, build, run_test, terminate_on_sigterm

try:
    with terminate_on_sigterm():
        with t.ram_engine(Path({package_root!r})):
            model = build(t.RamConfig(), root=Path({root!r}), log=None)
        if {run!r}:
            run_test(model, {module!r}, Path({run_dir!r}), testcase="cocotb_sleep")
except Terminated as exc:
    print("pimgen: terminated", file=sys.stderr)
    sys.exit(exc.exit_status)
except KeyboardInterrupt:
    print("pimgen: interrupted", file=sys.stderr)
    sys.exit(130)
"""


def start_child(tmp_path, root, package_root, run=False):
    """A Python process that builds the test RAM (and runs a long simulation on it), as ``pimgen`` would."""
    script = CHILD_SCRIPT.format(tests=str(TESTS_DIR), module=THIS_MODULE, package_root=str(package_root),
                                 root=str(root), run=run, run_dir=str(tmp_path / "run"))
    env = dict(os.environ, OBJCACHE="")          # no ccache: the C++ build takes long enough to be interrupted
    return subprocess.Popen([sys.executable, "-c", script], env=env, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


COMPILERS = {"cc1plus", "clang", "clang++"}


def compilers_running(parent):
    worker = worker_of(parent.pid)
    return worker if worker and COMPILERS & set(group_members(worker).values()) else None


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_signal_during_build_stops_the_compilers_before_the_lock_is_free(tmp_path, ram_package_root, signum, status):
    root = tmp_path / "sim"
    parent = start_child(tmp_path, root, ram_package_root)
    try:
        worker = wait_for(lambda: compilers_running(parent), 120, "the C++ compiler")
        parent.send_signal(signum)
        _, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == status, err
    assert err.strip().splitlines()[-1] in ("pimgen: terminated", "pimgen: interrupted")
    assert group_members(worker) == {}
    [lock] = root.glob("*.lock")
    assert lock_is_free(lock)
    assert not list(root.glob("*/build.stamp"))


def test_killed_parent_leaves_the_lock_held_until_the_build_stops(tmp_path, ram_package_root):
    """SIGKILL cannot be caught: the worker inherited the lock, so an immediate rerun waits instead of building
    into the same folder; the rerun then builds from scratch."""
    root = tmp_path / "sim"
    parent = start_child(tmp_path, root, ram_package_root)
    try:
        worker = wait_for(lambda: compilers_running(parent), 120, "the C++ compiler")
        parent.kill()
        parent.wait(timeout=10)
        [lock] = root.glob("*.lock")
        assert group_members(worker)
        assert not lock_is_free(lock)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker, signal.SIGKILL)
    wait_for(lambda: lock_is_free(lock), 30, "the lock")
    model = build_ram(RamConfig(), root, ram_package_root)
    assert not model.cached and model.simulator.is_file()


def test_signal_during_simulation_stops_the_simulator(tmp_path, ram_model, ram_package_root):
    parent = start_child(tmp_path, ram_model.directory.parent, ram_package_root, run=True)
    try:
        def simulating():
            worker = worker_of(parent.pid)
            return worker if worker and ram_model.toplevel[:15] in group_members(worker).values() else None
        worker = wait_for(simulating, 120, "the simulator")
        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 143, err
    assert group_members(worker) == {}


def test_failed_build_raises_build_failed_naming_the_log(tmp_path, ram_package_root):
    from pimgen.errors import BuildFailed
    with pytest.raises(BuildFailed) as info:
        build_ram(RamConfig(fault="verilog"), tmp_path, ram_package_root)
    message = str(info.value)
    assert "\n" not in message
    log = Path(message.rpartition("log: ")[2])
    assert log.name == "build.log" and "%Error" in log.read_text()


def test_failed_generation_raises_build_failed_naming_the_log(tmp_path, ram_package_root):
    from pimgen.errors import BuildFailed
    with pytest.raises(BuildFailed, match=r"^Generating .* failed \(RuntimeError: elaboration blew up\); log: "):
        build_ram(RamConfig(fault="generate"), tmp_path, ram_package_root)
    [log] = tmp_path.glob("*/build.log")
    assert "elaboration blew up" in log.read_text()


def test_terminate_on_sigterm_raises_and_restores_the_handler():
    from tb.runner import Terminated, terminate_on_sigterm
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(Terminated) as info:
        with terminate_on_sigterm():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert info.value.exit_status == 143
    assert signal.getsignal(signal.SIGTERM) is before


# 3. Cache integrity

@pytest.fixture(scope="module")
def cache_root(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


def _truncate(model):
    (model.directory / "build.stamp").write_text("")


def _garble(model):
    (model.directory / "build.stamp").write_bytes(b"\xff\x00{not json")


def _other_stamp(model):
    path = model.directory / "build.stamp"
    stamp = json.loads(path.read_text())
    stamp["design"] = "0" * 16
    path.write_text(json.dumps(stamp))


DAMAGE = {
    "empty-stamp": _truncate,
    "corrupt-stamp": _garble,
    "other-design": _other_stamp,
    "no-simulator": lambda model: model.simulator.unlink(),
    "no-verilog": lambda model: model.verilog.unlink(),
    "no-manifest": lambda model: model.manifest.unlink(),
    "no-sim-top": lambda model: model.sim_top.unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_cache_rebuilds(cache_root, ram_package_root, damage):
    model = build_ram(RamConfig(), cache_root, ram_package_root)
    assert build_ram(RamConfig(), cache_root, ram_package_root).cached
    DAMAGE[damage](model)
    rebuilt = build_ram(RamConfig(), cache_root, ram_package_root)
    assert not rebuilt.cached
    assert rebuilt.simulator.is_file() and rebuilt.verilog.is_file() and rebuilt.manifest.is_file()
    assert build_ram(RamConfig(), cache_root, ram_package_root).cached


def test_stamp_is_replaced_atomically(cache_root, ram_package_root, monkeypatch):
    model = build_ram(RamConfig(), cache_root, ram_package_root)
    _truncate(model)
    replaced = []
    real_replace = os.replace

    def replace(src, dst):
        replaced.append(Path(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    build_ram(RamConfig(), cache_root, ram_package_root)
    assert model.directory / "build.stamp" in replaced
    assert sorted(p.name for p in model.directory.iterdir() if "stamp" in p.name) == ["build.stamp"]


# 4. Run directories

def test_new_run_dir_is_fresh_and_unique(ram_model):
    from tb.runner import new_run_dir
    made = []
    threads = [threading.Thread(target=lambda: made.append(new_run_dir(ram_model, "cora / sum*"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(made)) == 8
    for path in made:
        assert path.is_dir() and not any(path.iterdir())
        assert path.parent == ram_model.directory / "runs"
        assert "cora" in path.name and "/" not in path.name and " " not in path.name and "*" not in path.name


# 5. Random initial state

def test_unwritten_memory_is_random_and_reproducible_per_seed(ram_model, tmp_path, monkeypatch):
    def read(seed, name):
        if seed is None:
            monkeypatch.delenv("PIMGEN_SIM_SEED", raising=False)
        else:
            monkeypatch.setenv("PIMGEN_SIM_SEED", str(seed))
        return run_cocotb(ram_model, "cocotb_read_unwritten", tmp_path / name)

    a, again, b = read(7, "a"), read(7, "again"), read(8, "b")
    assert any(a["words"]) and a["words"] == a["burst"]
    assert again == a
    assert b["words"] != a["words"]
    assert read(None, "default") == read(None, "default-again")


def test_sim_seed_must_be_a_positive_integer(ram_model, tmp_path, monkeypatch):
    from pimgen.errors import InputError
    from tb.runner import run_test
    monkeypatch.setenv("PIMGEN_SIM_SEED", "0")
    with pytest.raises(InputError, match=r"PIMGEN_SIM_SEED must be an integer in 1\.\.2147483647, not '0'"):
        run_test(ram_model, THIS_MODULE, tmp_path, testcase="cocotb_read_unwritten")


# 6. Bursts

def test_bursts_are_exact_and_take_bus_cycles(ram_model, tmp_path):
    """Bursts write and read the same words as one transaction at a time, in the bus's cycles. (Their wall-clock
    speed is a benchmark figure, printed here and measured in docs/DESIGN.md, never asserted: a loaded CI machine
    would make such a test flaky.)"""
    from tb.sim_top import burst_depth
    result = run_cocotb(ram_model, "cocotb_bursts", tmp_path)
    assert burst_depth(json.loads(ram_model.manifest.read_text())) == 1 << RamConfig().addr_width
    per_word, burst = result["per_word_us"], result["burst_us"]
    print(f"bus time per word: {per_word:.2f} us one at a time, {burst:.2f} us in bursts")


def test_bus_gaps_keep_the_per_word_path(ram_model, tmp_path):
    """Gaps 0, 2, 0, 2, ...: three writes take 1 + 3 + 1 cycles, three reads 4 + 2 + 4 (bursts would take 4 and 8)."""
    result = run_cocotb(ram_model, "cocotb_gaps", tmp_path, extra_env={"PIMGEN_BUS_GAPS": "0,2"})
    assert result == {"write_cycles": 5, "read_cycles": 10}


def test_backend_without_bursts_holds_the_burst_pins_low(ram_model, tmp_path):
    run_cocotb(ram_model, "cocotb_plain_backend", tmp_path)


# 7. Clock from the manifest; 8. modules of the caller

def test_clock_period_comes_from_the_manifest(ram_model, tmp_path):
    assert RamConfig().clock_hz == 50_000_000
    run_cocotb(ram_model, "cocotb_clock", tmp_path)


def test_simulation_imports_modules_on_the_callers_path(ram_model, tmp_path, monkeypatch):
    """A relative entry of sys.path (here ``mods``, relative to the caller's directory) reaches the simulator, whose
    working directory is the run directory."""
    (tmp_path / "mods").mkdir()
    (tmp_path / "mods" / "pimgen_probe_module.py").write_text(textwrap.dedent("""\
        import cocotb

        @cocotb.test()
        async def probe(dut):
            pass
    """))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend("mods")
    from tb.runner import run_test
    run_test(ram_model, "pimgen_probe_module", tmp_path / "run")


# cocotb tests (run inside the simulator)

class NoDriver:
    def __init__(self, backend, manifest):
        pass


@cocotb.test()
async def cocotb_read_unwritten(dut):
    """Read never-written words, one at a time and by burst."""
    from tb.harness import TB
    tb = TB(dut, NoDriver)
    await tb.reset()
    addrs = list(range(16))
    save_result({"words": [await tb.backend.read(a) for a in addrs], "burst": await tb.backend.read_many(addrs)})


@cocotb.test()
async def cocotb_bursts(dut):
    """Bursts against the RAM's content and the bus protocol's cycle counts, then per-word speed against bursts."""
    import random
    from tb.cocotb_backend import CocotbBusBackend
    from tb.harness import TB

    tb = TB(dut, NoDriver)
    await tb.reset()
    bus = tb.backend
    size = 1 << len(dut.bus__addr)
    assert bus.burst_depth == size
    rng = random.Random(1)
    mem = {}

    async def cycles(coro):
        c0 = tb.now_cycles()
        value = await coro
        return value, tb.now_cycles() - c0

    # One burst over the whole memory: a write per cycle, plus the cycle that starts the burst.
    values = [rng.getrandbits(32) for _ in range(size)]
    _, n = await cycles(bus.write_burst(0, values))
    assert n == size + 1
    mem.update(enumerate(values))
    # Arbitrary addresses with repeats, longer than the buffer: split into 3 bursts; the last write to a word wins.
    addrs = [rng.randrange(size) for _ in range(2 * size + 5)]
    values = [rng.getrandbits(32) for _ in addrs]
    _, n = await cycles(bus.write_many(addrs, values))
    assert n == len(addrs) + 3
    mem.update(zip(addrs, values))
    # Negative values are written as their 32-bit two's complement, like write().
    await bus.write_many([5], [-2])
    mem[5] = 0xFFFF_FFFE
    # Reads: two cycles each, plus starting the burst and writing its file.
    addrs = [rng.randrange(size) for _ in range(size + 7)]
    got, n = await cycles(bus.read_many(addrs))
    assert got == [mem[a] for a in addrs]
    assert n == 2 * len(addrs) + 2 * 2
    assert [await bus.read(a) for a in addrs[:20]] == [mem[a] for a in addrs[:20]]
    assert await bus.read_many([]) == []
    for bad in (size, -1):
        try:
            await bus.read_many([bad])
        except ValueError as exc:
            assert str(exc) == f"Bus address must be in 0..{size - 1}, not {bad}"
        else:
            raise AssertionError(f"address {bad} was accepted")

    # Speed: the same words one at a time and in bursts.
    single = CocotbBusBackend(dut, tb.clk, prefix="bus", clock_hz=tb.clock_hz)
    words = 2 * size
    timings = {}
    for name, backend in (("per_word_us", single), ("burst_us", bus)):
        addrs = [i % size for i in range(words)]
        t0 = time.perf_counter()
        await backend.write_many(addrs, list(range(words)))
        got = await backend.read_many(addrs)
        timings[name] = (time.perf_counter() - t0) / (2 * words) * 1e6
        assert got == [size + i % size for i in range(words)]
    save_result(timings)


@cocotb.test()
async def cocotb_gaps(dut):
    """With idle cycles between transactions (PIMGEN_BUS_GAPS), the bulk methods go word by word."""
    from tb.harness import TB
    tb = TB(dut, NoDriver)
    await tb.reset()
    bus = tb.backend
    c0 = tb.now_cycles()
    await bus.write_burst(10, [1, 2, 3])
    c1 = tb.now_cycles()
    assert await bus.read_many([12, 11, 10]) == [3, 2, 1]
    save_result({"write_cycles": c1 - c0, "read_cycles": tb.now_cycles() - c1})


@cocotb.test()
async def cocotb_plain_backend(dut):
    """A backend told to use no bursts still holds the adapter's start pins low: inputs nobody drives start random,
    and a stray start would take the bus over."""
    from cocotb.clock import Clock
    from cocotb.triggers import ClockCycles, RisingEdge
    from tb.cocotb_backend import CocotbBusBackend
    dut.burst__write.value = 1
    dut.burst__read.value = 1
    cocotb.start_soon(Clock(dut.clk, 20, unit="ns").start())
    bus = CocotbBusBackend(dut, dut.clk, clock_hz=50_000_000)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    await bus.write_many([1, 2], [11, 22])
    assert await bus.read_many([2, 1]) == [22, 11]


@cocotb.test()
async def cocotb_clock(dut):
    """TB runs the clock at the manifest's clock_hz (50 MHz: 20 ns), and counts cycles of that clock."""
    from cocotb.triggers import RisingEdge
    from cocotb.utils import get_sim_time
    from tb.harness import TB
    tb = TB(dut, NoDriver)
    assert tb.clock_hz == 50_000_000
    await tb.reset()
    t0, c0 = get_sim_time(unit="ns"), tb.now_cycles()
    for _ in range(10):
        await RisingEdge(tb.clk)
    assert get_sim_time(unit="ns") - t0 == 200
    assert tb.now_cycles() - c0 == 10
    await tb.backend.idle(100)
    assert 110 <= tb.now_cycles() - c0 <= 111


@cocotb.test()
async def cocotb_sleep(dut):
    """A simulation that runs until it is killed."""
    from cocotb.triggers import Timer
    from tb.harness import TB
    tb = TB(dut, NoDriver)
    await tb.reset()
    await Timer(1000, unit="sec")
