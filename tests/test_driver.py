"""The host driver against an in-memory backend: the bus words it writes, and what it refuses before touching the bus.

No simulator here: a dictionary stands in for the engine's address space. Every address and bus word expected below is
written out by hand from the register map and window layout of this small config (docs/gnn.md), not computed with the
driver's or the manifest's own helpers. The driver against the real RTL is exercised in tests/test_gnn_sim.py.
"""

import asyncio
import sys

import numpy as np
import pytest

from pimgen.errors import InputError
from pimgen.gnn.config import GnnConfig
from pimgen.gnn.inputs import CsrGraph
from rtl_gen.generate import manifest_for
from tb.host.backend import Backend
from tb.host.driver import DriverStateError, EngineError, EngineMismatch, EngineTimeout
from tb.host.gnn import GnnDriver, GnnJob
from tb.host.manifest import Manifest

# The address map of CONFIG (checked in test_address_map_is_the_documented_one).
ID, VERSION, CONFIG_HASH, CTRL, STATUS, NUM_NODES, NUM_FEATURES, OP, PE_FIRST = range(9)
CNT_CYCLES, CNT_BUSY, CNT_STALL, CNT_EDGES, CNT_PE_BUSY, CNT_PE_STALL = range(9, 15)
CFG_LANES = 15
INDPTR, INDICES, WEIGHTS, FEATURES, RESULT = 128, 256, 512, 1024, 1536
CONFIG = GnnConfig(lanes=4, format="int16", max_nodes=64, max_edges=256, max_features=10, max_degree=32)


class MemoryBackend(Backend):
    """Word-addressed dictionary; records writes in order. STATUS reads done (with error code ``error``) right
    after a write of CTRL.start."""

    def __init__(self, words=None):
        self.words = dict(words or {})
        self.log = []
        self.error = 0

    async def read(self, addr):
        if addr == STATUS and self.log and self.log[-1] == (CTRL, 1):
            return 0b10 | (self.error << 2)                 # done, error code
        return self.words.get(addr, 0)

    async def write(self, addr, value):
        self.words[addr] = value & 0xFFFF_FFFF
        self.log.append((addr, value & 0xFFFF_FFFF))


@pytest.fixture(scope="module")
def manifest():
    return Manifest(manifest_for(CONFIG))


def identity_words(manifest):
    """What the identity registers of CONFIG read: ID 'PIMG', VERSION engine 1 / major 1 / minor 0 at bits
    23:16 / 15:8 / 7:0, the config hash, and the CFG_* readbacks in field order (lanes 4, pes 1, format int16 =
    choice 1, ...)."""
    words = {ID: 0x50494D47, VERSION: 0x0001_0100, CONFIG_HASH: int(CONFIG.config_hash, 16)}
    readback = [4, 1, 1, 8, 40, 1, 16, 14, 18, 64, 256, 10, 32]
    words.update({CFG_LANES + i: v for i, v in enumerate(readback)})
    return words


def run(coro):
    return asyncio.run(coro)


def test_address_map_is_the_documented_one(manifest):
    assert [manifest.reg(n).addr for n in ("ID", "VERSION", "CONFIG_HASH", "CTRL", "STATUS", "NUM_NODES",
                                           "NUM_FEATURES", "OP", "PE_FIRST[0]", "CNT_CYCLES", "CNT_PE_BUSY[0]",
                                           "CFG_LANES")] == \
        [ID, VERSION, CONFIG_HASH, CTRL, STATUS, NUM_NODES, NUM_FEATURES, OP, PE_FIRST, CNT_CYCLES, CNT_PE_BUSY,
         CFG_LANES]
    assert [manifest.window(n).base for n in ("indptr", "indices", "weights", "features", "result")] == \
        [INDPTR, INDICES, WEIGHTS, FEATURES, RESULT]


def test_identity_matches(manifest):
    run(GnnDriver(MemoryBackend(identity_words(manifest)), manifest).check_identity())


@pytest.mark.parametrize("register, value, message", [
    (ID, 0x12345678, "no pimgen engine"),
    (VERSION, 0x0002_0100, r"VERSION reads engine/major/minor \(2, 1, 0\)"),
    (CONFIG_HASH, 0xDEADBEEF, "built from another config"),
    (CFG_LANES, 8, "CFG_LANES reads 8, the manifest says 4"),
])
def test_identity_mismatch(manifest, register, value, message):
    words = identity_words(manifest)
    words[register] = value
    with pytest.raises(EngineMismatch, match=message):
        run(GnnDriver(MemoryBackend(words), manifest).check_identity())


def test_feature_words_written_out_by_hand(manifest):
    """X[n, f] lands in the packed features window: two int16 per word; lanes f % 4 = 0, 1 in slot 0 and 2, 3 in
    slot 1; word offset ((n * 3 + f // 4) << 1) + slot with 3 = ceil(10 / 4) words per node."""
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    x = np.zeros((3, 10), dtype=np.int64)
    x[0, 0], x[0, 1], x[0, 2], x[0, 4] = 1, -1, 2, 3
    x[1, 0] = 0x1234
    x[2, 9] = -2
    run(drv.load_features(x))
    expected = {
        FEATURES + 0: 0xFFFF_0001,          # X[0,0] = 1 low, X[0,1] = -1 high
        FEATURES + 1: 0x0000_0002,          # X[0,2] = 2 (slot 1), X[0,3] = 0
        FEATURES + 2: 0x0000_0003,          # X[0,4]: group 1 -> word offset 1 << 1
        FEATURES + 6: 0x0000_1234,          # X[1,0]: word 3 -> offset 6
        FEATURES + 16: 0xFFFE_0000,         # X[2,9]: word 2*3 + 2 = 8 -> offset 16, lane 1 -> high half
    }
    for addr, word in expected.items():
        assert backend.words[addr] == word, f"word {addr:#x}: {backend.words[addr]:#010x}, expected {word:#010x}"
    # Per node 6 word offsets; features 10 and 11 do not exist, so slot 1 of group 2 (offset 5) is not written.
    assert sorted(backend.words) == [FEATURES + 6 * n + k for n in range(3) for k in range(5)]


def test_result_read_back_sign_extends(manifest):
    """After a run, the result comes from the result window with the same layout, sign-extended."""
    backend = MemoryBackend(identity_words(manifest))
    backend.words[RESULT + 0] = 0x8000_7FFF             # Y[0,0] = 32767, Y[0,1] = -32768
    backend.words[RESULT + 1] = 0x0000_FFFF             # Y[0,2] = -1
    drv = GnnDriver(backend, manifest)
    [result] = run(drv.run_jobs([GnnJob(CsrGraph([0, 1], [0]), np.zeros((1, 3), dtype=np.int64))]))
    assert result.runs["sum"].outputs["y"].tolist() == [[32767, -32768, -1]]


def test_job_loop_register_writes(manifest):
    """One job with two ops: the graph, the features, then per op NUM_NODES, NUM_FEATURES, OP, PE_FIRST[0] (one
    processing element: row 0), the STATUS clear (done and bus_error, bits 1 and 10) and CTRL.start, in that order."""
    backend = MemoryBackend(identity_words(manifest))
    drv = GnnDriver(backend, manifest)
    graph = CsrGraph([0, 2, 3], [0, 1, 1])
    run(drv.run_jobs([GnnJob(graph, np.ones((2, 3), dtype=np.int64), ops=("max", "sum"))]))
    log = backend.log
    assert log[:6] == [(INDPTR, 0), (INDPTR + 1, 2), (INDPTR + 2, 3), (INDICES, 0), (INDICES + 1, 1),
                       (INDICES + 2, 1)]
    runs = [log[i:i + 6] for i, entry in enumerate(log) if entry[0] == NUM_NODES]
    assert runs == [
        [(NUM_NODES, 2), (NUM_FEATURES, 3), (OP, 2), (PE_FIRST, 0), (STATUS, 0x402), (CTRL, 1)],      # max = 2
        [(NUM_NODES, 2), (NUM_FEATURES, 3), (OP, 0), (PE_FIRST, 0), (STATUS, 0x402), (CTRL, 1)],      # sum = 0
    ]


def test_engine_error_code_is_named(manifest):
    backend = MemoryBackend(identity_words(manifest))
    backend.error = 4
    drv = GnnDriver(backend, manifest)
    with pytest.raises(EngineError, match=r"error 4 \(bad_column: a column index is not below NUM_NODES"):
        run(drv.run_jobs([GnnJob(CsrGraph([0, 1], [0]), np.zeros((1, 1), dtype=np.int64))]))


def test_weights_default_to_the_graph_weights(manifest):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    run(drv.load_graph(CsrGraph([0, 2, 3], [0, 1, 1], weights=[5, -6, 7])))
    assert [backend.words[WEIGHTS + i] for i in range(3)] == [5, 0xFFFA, 7]      # 16-bit two's complement
    assert drv.weights_loaded


def test_weighted_without_weights_is_refused_before_any_register_write(manifest):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    run(drv.load_graph(CsrGraph([0, 2, 3], [0, 1, 1])))
    run(drv.load_features(np.ones((2, 3), dtype=np.int64)))
    writes = len(backend.log)
    with pytest.raises(DriverStateError, match="weighted op needs edge weights"):
        run(drv.run_op("weighted"))
    assert len(backend.log) == writes


def test_features_of_another_graph_are_refused(manifest):
    drv = GnnDriver(MemoryBackend(), manifest)
    run(drv.load_features(np.ones((2, 3), dtype=np.int64)))
    run(drv.load_graph(CsrGraph([0, 1, 2, 3], [0, 1, 2])))        # 3 nodes, features have 2 rows
    with pytest.raises(DriverStateError, match="Load a graph and features"):
        run(drv.run_op("sum"))


def test_read_result_needs_a_run(manifest):
    """Before any load, and after a load but before a run, there is no result to read (not zeros, not an
    AttributeError)."""
    drv = GnnDriver(MemoryBackend(identity_words(manifest)), manifest)
    with pytest.raises(DriverStateError, match="No result to read"):
        run(drv.read_result())
    run(drv.load_graph(CsrGraph([0, 1], [0])))
    run(drv.load_features(np.ones((1, 2), dtype=np.int64)))
    with pytest.raises(DriverStateError, match="No result to read"):
        run(drv.read_result())
    run(drv.run_op("sum"))
    assert run(drv.read_result()).shape == (1, 2)
    run(drv.load_features(np.ones((1, 2), dtype=np.int64)))          # a new load discards the result
    with pytest.raises(DriverStateError, match="No result to read"):
        run(drv.read_result())


@pytest.mark.parametrize("call, message", [
    (lambda drv: drv.load_features(np.full((2, 3), 40000)),
     r"int16 codes in -32768\.\.32767, but features\[0, 0\] = 40000"),
    (lambda drv: drv.load_features(np.ones((2, 11), dtype=np.int64)), "max_features = 1..10, not 11"),
    (lambda drv: drv.load_graph(CsrGraph([0, 1], [0]), weights=[1 << 20]), "weights"),
    (lambda drv: drv.load_graph(CsrGraph([0, 1], [0]), weights=[1, 2]), "one entry per edge"),
    (lambda drv: drv.run_op("median"), "op must be one of"),
    (lambda drv: drv.write_window("features", [1], node=[64], feature=[0]), r"node must be in 0\.\.63, not 64"),
])
def test_bad_input_writes_nothing(manifest, call, message):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    with pytest.raises(InputError, match=message):
        run(call(drv))
    assert backend.log == []


def test_job_arguments():
    """A job takes one op as a string (not as its letters), converts a list of features, refuses bad ops."""
    graph = CsrGraph([0, 1], [0])
    job = GnnJob(graph, [[1, 2]], ops="mean")
    assert job.ops == ("mean",)
    assert job.x.shape == (1, 2)
    with pytest.raises(InputError, match="op must be one of"):
        GnnJob(graph, [[1]], ops=("sum", "median"))
    with pytest.raises(TypeError, match="graph must be a CsrGraph"):
        GnnJob([[0, 1]], [[1]])


class SleepCounter(Backend):
    """A backend without idle of its own: the default idle must sleep, so polling cannot spin."""

    def __init__(self):
        self.reads = 0

    async def read(self, addr):
        self.reads += 1
        return 0

    async def write(self, addr, value):
        pass


def test_default_idle_sleeps(manifest):
    backend = SleepCounter()
    drv = GnnDriver(backend, manifest)
    drv.POLL_CYCLES = 100_000                    # 1 ms at 100 MHz per poll
    loop = asyncio.new_event_loop()
    try:
        t0 = loop.time()
        with pytest.raises(EngineTimeout):
            loop.run_until_complete(drv.wait_done(timeout_cycles=1_000_000))
        assert loop.time() - t0 >= 0.009               # ten polls of 1 ms each (or more), not a spin
        assert backend.reads <= 12
    finally:
        loop.close()


def test_host_side_imports_nothing_it_should_not():
    """tb.host (the board's driver) needs neither cocotb, SciPy nor the golden model."""
    import subprocess
    code = ("import sys; import tb.host.gnn, tb.host.driver, tb.host.manifest, tb.host.job; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('cocotb', 'scipy', 'sw_model', 'amaranth')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
