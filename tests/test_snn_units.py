"""Unit tests of the SNN engine's gateware pieces (hw/snn) in Amaranth's own simulator; the engine as a whole is
checked in Verilator against the golden model (tests/test_snn_sim.py).

* ``Router``: the latency of one packet into an empty router (what ``pimgen.snn.perf.ROUTER_LATENCY`` says), back
  pressure with FIFOs of two packets (a blocked receiver fills both FIFOs, then stalls its sender, and drops nothing),
  and random traffic with random stalls on both sides: every packet arrives once, at its destination, in order per
  (sender, receiver) pair;
* ``FanoutEmitter``: the packets of a neuron from fan-out words packed on the host (``encode_fanout``), so that the
  host's packing and the hardware's decoding meet, and the cycle counts its docstring gives, with and without back
  pressure;
* the spike-record word: the hardware's layout read back with the host's ``decode_spikes``;
* the constructor checks of ``NeuronCore`` and ``FanoutEmitter``.

Expected packets and cycle counts are written from the tables and the docstrings here, not from the design.
"""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import Module, UnusedElaboratable, unsigned
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator
from amaranth.utils import ceil_log2

from hw.snn.codes import PacketKind
from hw.snn.core import NeuronCore
from hw.snn.emitter import FanoutEmitter
from hw.snn.layouts import spike_record_layout
from hw.snn.router import Router
from pimgen.snn.config import SnnConfig
from pimgen.snn.perf import ROUTER_LATENCY
from pimgen.snn.program import decode_spikes, encode_fanout

CFG = SnnConfig(cores=3, neurons=16, axons=64, lanes=4, max_delay=3, step_slots=4, fifo_depth=2, max_steps=100,
                input_neurons=8, max_input_spikes=64, max_fanout=64, max_spikes=64)


def run_sim(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()


# The router.

def _offer(ctx, port, dest, axon, tag, source=0):
    ctx.set(port.valid, 1)
    ctx.set(port.payload.dest, dest)
    ctx.set(port.payload.packet.kind, PacketKind.SPIKE)
    ctx.set(port.payload.packet.source, source)
    ctx.set(port.payload.packet.axon, axon)
    ctx.set(port.payload.packet.tag, tag)


def test_router_latency_of_one_packet():
    """Taken from sender 1 in cycle 0, the packet is valid at receiver 2 in cycle 4 (sender FIFO memory and output
    register, crossbar, receiver FIFO output register) and nowhere else; the router is empty again once it is
    taken."""
    dut = Router(CFG)
    seen = {}

    async def bench(ctx):
        for k in range(CFG.cores):
            ctx.set(dut.receive[k].ready, 0)
        _offer(ctx, dut.send[1], dest=2, axon=5, tag=9, source=1)
        assert ctx.get(dut.send[1].ready) and ctx.get(dut.empty)
        await ctx.tick()
        ctx.set(dut.send[1].valid, 0)
        for cycle in range(1, 10):
            for k in range(CFG.cores):
                if ctx.get(dut.receive[k].valid) and k not in seen:
                    seen[k] = cycle
            await ctx.tick()
        assert not ctx.get(dut.empty)
        ctx.set(dut.receive[2].ready, 1)
        assert (ctx.get(dut.receive[2].payload.axon), ctx.get(dut.receive[2].payload.tag),
                ctx.get(dut.receive[2].payload.source)) == (5, 9, 1)
        await ctx.tick()
        assert not ctx.get(dut.receive[2].valid) and ctx.get(dut.empty)

    run_sim(dut, bench)
    assert seen == {2: 4}
    assert ROUTER_LATENCY == 4


def test_router_back_pressure_with_two_packet_fifos():
    """A receiver that takes nothing: its sender gets exactly 4 packets in (two FIFOs of two), then sees ready low;
    another sender to another receiver goes on meanwhile; released, the 4 arrive in order and the rest follow."""
    dut = Router(CFG)
    log = {"accepted": 0, "other": 0, "got": []}

    async def bench(ctx):
        ctx.set(dut.receive[0].ready, 0)
        ctx.set(dut.receive[1].ready, 1)
        ctx.set(dut.receive[2].ready, 1)
        seq = 0
        for _ in range(30):
            _offer(ctx, dut.send[0], dest=0, axon=seq, tag=0)
            _offer(ctx, dut.send[3], dest=1, axon=log["other"] % 64, tag=1, source=3)
            if ctx.get(dut.send[0].ready):
                seq += 1
            if ctx.get(dut.send[3].ready):
                log["other"] += 1
            await ctx.tick()
        log["accepted"] = seq
        ctx.set(dut.receive[0].ready, 1)
        for _ in range(20):
            _offer(ctx, dut.send[0], dest=0, axon=seq, tag=0)
            if ctx.get(dut.send[0].ready):
                seq += 1
            if ctx.get(dut.receive[0].valid):
                log["got"].append(ctx.get(dut.receive[0].payload.axon))
            await ctx.tick()
        ctx.set(dut.send[0].valid, 0)
        for _ in range(10):
            if ctx.get(dut.receive[0].valid):
                log["got"].append(ctx.get(dut.receive[0].payload.axon))
            await ctx.tick()
        log["sent"] = seq

    run_sim(dut, bench)
    assert log["accepted"] == 2 * CFG.fifo_depth
    # A SyncFIFOBuffered of depth 2 takes a packet every other cycle (Router docstring): 15 in 30 cycles.
    assert log["other"] >= 30 // 2, "a blocked receiver stalled another sender's traffic"
    assert log["got"] == list(range(log["sent"])), "packets lost, doubled or reordered"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_router_random_traffic_no_loss_no_duplicates_in_order(seed):
    """Every sender offers packets to random receivers at random times (holding each until it is taken); every
    receiver takes at random times. Each packet (sender, sequence number) arrives exactly once, at its destination,
    and the packets of one sender to one receiver arrive in the order sent."""
    rng = np.random.default_rng(seed)
    dut = Router(CFG)
    S, K = CFG.sources, CFG.cores
    sent = {s: [] for s in range(S)}
    got = {k: [] for k in range(K)}
    cycles = 600

    async def bench(ctx):
        pending = [None] * S
        seq = [0] * S
        for cycle in range(cycles + 60):
            for s in range(S):
                if pending[s] is None and cycle < cycles and rng.random() < 0.6:
                    pending[s] = (int(rng.integers(0, K)), seq[s])
                    seq[s] += 1
                if pending[s] is None:
                    ctx.set(dut.send[s].valid, 0)
                else:
                    dest, n = pending[s]
                    _offer(ctx, dut.send[s], dest=dest, axon=n % 64, tag=n // 64, source=s)
            for k in range(K):
                ctx.set(dut.receive[k].ready, int(rng.random() < 0.7))
            for s in range(S):
                if pending[s] is not None and ctx.get(dut.send[s].ready):
                    sent[s].append(pending[s])
                    pending[s] = None
            for k in range(K):
                if ctx.get(dut.receive[k].valid) and ctx.get(dut.receive[k].ready):
                    p = dut.receive[k].payload
                    got[k].append((ctx.get(p.source), ctx.get(p.tag) * 64 + ctx.get(p.axon)))
            await ctx.tick()
        assert all(p is None for p in pending)
        assert ctx.get(dut.empty)

    run_sim(dut, bench)
    total = sum(len(v) for v in sent.values())
    assert total > 0.25 * cycles * S, "too little traffic to prove anything"
    for k in range(K):
        for s in range(S):
            want = [n for dest, n in sent[s] if dest == k]
            assert [n for src, n in got[k] if src == s] == want, f"sender {s} -> receiver {k}"
    assert sum(len(v) for v in got.values()) == total


# The fan-out emitter.

def _emitter_top(cfg, neurons, source, ptr, entries):
    """The emitter with its two tables in memories (synchronous read ports, as the engine's windows)."""
    m = Module()
    m.submodules.emitter = emitter = FanoutEmitter(cfg, neurons, source)
    m.submodules.ptr = ptr_mem = Memory(shape=unsigned(ceil_log2(cfg.max_fanout + 1)), depth=neurons + 1,
                                        init=[int(v) for v in ptr])
    words = [int(w) for w in encode_fanout(cfg, entries)]
    m.submodules.table = table = Memory(shape=unsigned(cfg.fanout_entry_bits), depth=cfg.max_fanout,
                                        init=words + [0] * (cfg.max_fanout - len(words)))
    for mem, port in ((ptr_mem, emitter.fanout_ptr), (table, emitter.fanout)):
        read = mem.read_port()
        m.d.comb += [read.addr.eq(port.addr), read.en.eq(port.en), port.data.eq(read.data)]
    return m, emitter


#: Neuron n's fan-out (core, axon, delay): 0 entries for neurons 0 and 3, up to 5 for the others.
FANOUT = {0: [], 1: [(2, 7, 0)], 2: [(0, 1, 1), (1, 63, 3), (2, 0, 2), (0, 2, 0)], 3: [],
          4: [(1, 10, 0), (1, 11, 1), (2, 12, 2), (0, 13, 3), (2, 14, 0)]}


@pytest.mark.parametrize("stall", [False, True], ids=["no-back-pressure", "back-pressure"])
def test_fanout_emitter_packets_and_cycles(stall):
    """Per neuron: the packets ``(core, axon, step + delay)`` of its entries in table order, from the emitter's
    source; with no back pressure the first packet is valid 3 cycles after the start, ``busy`` is high ``2 +
    entries`` cycles and low again ``3 + entries`` cycles after the start (docstring)."""
    neurons, source, step = 5, 3, 17
    rows = [FANOUT[n] for n in range(neurons)]
    ptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    entries = [e for r in rows for e in r]
    top, dut = _emitter_top(CFG, neurons, source, ptr, entries)
    rng = np.random.default_rng(5)
    results = {}

    async def bench(ctx):
        for n in [2, 0, 4, 1, 3, 2]:
            ctx.set(dut.step, step)
            ctx.set(dut.neuron, n)
            ctx.set(dut.start, 1)
            ctx.set(dut.send.ready, 1)
            assert not ctx.get(dut.busy)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.neuron, 0)                      # sampled with start only
            packets, busy, first, cycle = [], 0, None, 1
            while True:
                ready = int(rng.random() < 0.5) if stall else 1
                ctx.set(dut.send.ready, ready)
                if ctx.get(dut.send.valid):
                    first = cycle if first is None else first
                    if ready:
                        p = dut.send.payload
                        assert ctx.get(p.packet.kind) == PacketKind.SPIKE
                        packets.append((ctx.get(p.dest), ctx.get(p.packet.axon), ctx.get(p.packet.tag),
                                        ctx.get(p.packet.source)))
                if not ctx.get(dut.busy):
                    break
                busy += 1
                cycle += 1
                assert cycle < 100
                await ctx.tick()
            results.setdefault(n, []).append((packets, busy, first, cycle))

    run_sim(top, bench)
    for n, runs in results.items():
        for packets, busy, first, idle_at in runs:
            assert packets == [(c, a, step + d, source) for c, a, d in FANOUT[n]], f"neuron {n}"
            if not stall:
                f = len(FANOUT[n])
                assert busy == 2 + f and idle_at == 3 + f, f"neuron {n}: busy {busy}, idle at {idle_at}"
                assert first == (3 if f else None)


def test_spike_record_word_meets_the_host_decode():
    layout = spike_record_layout(CFG)
    for step, neuron in [(0, 0), (1, 15), (99, 7), (102, 3)]:
        word = layout.const({"neuron": neuron, "step": step}).as_value().value
        assert decode_spikes(CFG, [word]).tolist() == [[step, neuron]]


# Constructor checks.

@pytest.mark.parametrize("make, error, match", [
    (lambda: NeuronCore("config", 0), TypeError, "Config must be an SnnConfig, not str"),
    (lambda: NeuronCore(CFG, 3), ValueError, r"Index must be a core number in 0\.\.2, not 3"),
    (lambda: NeuronCore(CFG, -1), ValueError, r"Index must be a core number in 0\.\.2, not -1"),
    (lambda: NeuronCore(CFG, 1.0), TypeError, "Index must be an integer, not float"),
    (lambda: FanoutEmitter(CFG, 0, 0), ValueError, r"Neurons must be an integer in 1\.\.16 .*, not 0"),
    (lambda: FanoutEmitter(CFG, 17, 0), ValueError, r"Neurons must be an integer in 1\.\.16 .*, not 17"),
    (lambda: FanoutEmitter(CFG, "8", 0), TypeError, "Neurons must be an integer, not str"),
    (lambda: FanoutEmitter(CFG, 8, 4), ValueError, r"Source must be an integer in 0\.\.3 .*, not 4"),
    (lambda: FanoutEmitter(CFG, 8, True), TypeError, "Source must be an integer, not bool"),
    (lambda: FanoutEmitter(None, 8, 0), TypeError, "Config must be an SnnConfig, not NoneType"),
])
def test_constructor_checks(make, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)   # the half-built component, collected right here
        with pytest.raises(error, match=match) as info:
            make()
        del info
        gc.collect()
