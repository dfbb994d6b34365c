"""The host driver against an in-memory backend: what it writes where, and what it refuses before touching the bus.

No simulator here: a dictionary stands in for the engine's address space, filled with the values the manifest says
the identity registers read. The driver against the real RTL is exercised in tests/test_gnn_sim.py.
"""

import asyncio

import numpy as np
import pytest

from pimgen.config import GnnConfig
from rtl_gen.generate import manifest_for
from sw_model.graphs import CsrGraph
from tb.host.backend import Backend
from tb.host.driver import EngineMismatch
from tb.host.gnn import GnnDriver
from tb.host.manifest import Manifest


class MemoryBackend(Backend):
    """Word-addressed dictionary; counts writes."""

    def __init__(self):
        self.words = {}
        self.writes = 0

    async def read(self, addr):
        return self.words.get(addr, 0)

    async def write(self, addr, value):
        self.words[addr] = value & 0xFFFF_FFFF
        self.writes += 1


@pytest.fixture(scope="module")
def manifest():
    cfg = GnnConfig(lanes=4, format="int16", max_nodes=64, max_edges=256, max_features=10, max_degree=32)
    return Manifest(manifest_for(cfg))


def identity_words(manifest):
    """What the identity registers of the engine described by ``manifest`` read."""
    words = {manifest.reg("ID").addr: manifest.data["id_magic"],
             manifest.reg("CONFIG_HASH").addr: int(manifest.config_hash, 16)}
    version = manifest.reg("VERSION")
    words[version.addr] = (version.field("engine").insert(manifest.engine_code)
                           | version.field("major").insert(manifest.version[0])
                           | version.field("minor").insert(manifest.version[1]))
    for name, value in manifest.data["config_readback"].items():
        words[manifest.reg(f"CFG_{name.upper()}").addr] = value
    return words


def run(coro):
    return asyncio.run(coro)


def test_identity_matches(manifest):
    backend = MemoryBackend()
    backend.words.update(identity_words(manifest))
    run(GnnDriver(backend, manifest).check_identity())


@pytest.mark.parametrize("register, value, message", [
    ("ID", 0x12345678, "no pimgen engine"),
    ("CONFIG_HASH", 0xDEADBEEF, "built from another config"),
    ("CFG_LANES", 8, "CFG_LANES reads 8, the manifest says 4"),
])
def test_identity_mismatch(manifest, register, value, message):
    backend = MemoryBackend()
    backend.words.update(identity_words(manifest))
    backend.words[manifest.reg(register).addr] = value
    with pytest.raises(EngineMismatch, match=message):
        run(GnnDriver(backend, manifest).check_identity())


def test_feature_layout_from_manifest(manifest):
    """X[n, f] lands in the packed features window: two int16 per word, lanes (f % 4) 0, 1 in slot 0 and 2, 3 in
    slot 1, at word ((n * row_words + f // 4) << 1) + slot, element 0 in the low half."""
    window = manifest.window("features")
    assert (window.elements_per_word, window.slot_bits) == (2, 1)
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    x = np.arange(3 * 10).reshape(3, 10) - 15
    run(drv.load_features(x))
    row_words = -(-10 // 4)
    for n in range(3):
        for f in range(10):
            lane = f % 4
            addr = window.base + ((n * row_words + f // 4) << 1) + lane // 2
            assert (backend.words[addr] >> (16 * (lane % 2))) & 0xFFFF == x[n, f] & 0xFFFF
    # Reading the result window uses the same layout and sign-extends.
    result = manifest.window("result")
    for addr, word in list(backend.words.items()):
        backend.words[addr - window.base + result.base] = word
    drv.graph = CsrGraph(np.zeros(4, dtype=np.int64), np.zeros(0, dtype=np.int64))
    assert (run(drv.read_result()) == x).all()


def test_weights_default_to_the_graph_weights(manifest):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    g = CsrGraph([0, 2, 3], [0, 1, 1], weights=[5, -6, 7])
    run(drv.load_graph(g))
    base = manifest.window("weights").base
    assert [backend.words[base + i] for i in range(3)] == [5, 0xFFFF_FFFA, 7]
    assert drv.weights_loaded


def test_weighted_without_weights_is_refused_before_any_register_write(manifest):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    run(drv.load_graph(CsrGraph([0, 2, 3], [0, 1, 1])))
    run(drv.load_features(np.ones((2, 3), dtype=np.int64)))
    writes = backend.writes
    with pytest.raises(RuntimeError, match="weighted op needs edge weights"):
        run(drv.run_op("weighted"))
    assert backend.writes == writes


def test_features_of_another_graph_are_refused(manifest):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    run(drv.load_features(np.ones((2, 3), dtype=np.int64)))
    run(drv.load_graph(CsrGraph([0, 1, 2, 3], [0, 1, 2])))        # 3 nodes, features have 2 rows
    with pytest.raises(RuntimeError, match="Load a graph and features"):
        run(drv.run_op("sum"))


@pytest.mark.parametrize("call, message", [
    (lambda drv: drv.load_features(np.full((2, 3), 40000)),
     r"int16 codes in -32768\.\.32767, but features\[0, 0\] = 40000"),
    (lambda drv: drv.load_features(np.ones((2, 11), dtype=np.int64)), "max_features = 1..10, not 11"),
    (lambda drv: drv.load_graph(CsrGraph([0, 1], [0]), weights=[1 << 20]), "weights"),
    (lambda drv: drv.load_graph(CsrGraph([0, 1], [0]), weights=[1, 2]), "one entry per edge"),
    (lambda drv: drv.run_op("median"), "Op must be one of"),
])
def test_bad_input_writes_nothing(manifest, call, message):
    backend = MemoryBackend()
    drv = GnnDriver(backend, manifest)
    with pytest.raises(ValueError, match=message):
        run(call(drv))
    assert backend.writes == 0
