"""The GNN engine's schedule (hw/gnn/schedule.py) and the whole engine at a tiny size, on Amaranth's own simulator.

RowReader and EdgeSequencer are checked on their own, with backpressure and gaps on their streams; the engine is
driven over its register bus like the host does it and compared with the golden model (``sw_model.gnn.aggregate``),
including graphs of one node, whose only row descriptor is still inside the descriptor FIFO when the row reader has
finished. Expected descriptors, items, bus words and cycle counts are written out here from docs/gnn.md, not taken
from the code under test.
"""

import itertools
from dataclasses import dataclass

import numpy as np
import pytest
from amaranth.hdl import Elaboratable, Module, unsigned
from amaranth.lib.memory import Memory

from hw.gnn.codes import GnnOp
from hw.gnn.engine import GnnEngine
from hw.gnn.schedule import EdgeSequencer, RowReader
from pimgen.gnn.config import GnnConfig
from sw_model.gnn import aggregate
from sw_model.graphs import CsrGraph
from test_common_hw import bus_read, bus_write, run_sim

#: Ready (or valid) patterns for the streams: always, the stall pattern of STYLE.md, and mostly stalled.
PATTERNS = {"steady": [1], "gaps": [1, 1, 0, 1, 0, 0], "slow": [0, 0, 1]}


# RowReader.

#: indptr can point up to 8; its words are 4 bits wide, so 9..15 are representable and must be flagged.
READER_CFG = GnnConfig(lanes=1, format="int8", max_nodes=8, max_edges=8, max_features=1, max_degree=8)
FIRST_DESCRIPTOR_LATENCY = 3   # RowReader's docstring: the first descriptor leaves 3 cycles after start


class RowReaderHarness(Elaboratable):
    """A RowReader reading ``indptr`` from a synchronous block RAM (read enable, data held while it is low)."""

    def __init__(self, config, indptr):
        self.dut = RowReader(config)
        self._config = config
        self._indptr = list(indptr) + [0] * (config.max_nodes + 1 - len(indptr))

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.dut
        m.submodules.mem = mem = Memory(shape=unsigned(self._config.edge_bits), depth=self._config.max_nodes + 1,
                                        init=self._indptr)
        rd = mem.read_port()
        m.d.comb += [rd.addr.eq(dut.mem_addr), rd.en.eq(dut.mem_en), dut.mem_data.eq(rd.data)]
        return m


@dataclass
class ReaderCycle:
    valid: bool
    ready: bool
    desc: tuple      # (row, start, end) on the stream this cycle
    finished: bool
    error: bool
    read: int        # address read from indptr this cycle, or None


def run_row_reader(indptr, num_nodes, ready=(1,), cycles=40, abort_at=None, restart_at=None):
    """Pulse ``start`` in cycle 0 (and again in ``restart_at``), ``abort`` in ``abort_at``; drive ``rows.ready``
    from the repeating pattern ``ready``. Returns one ReaderCycle per cycle."""
    harness = RowReaderHarness(READER_CFG, indptr)
    dut = harness.dut
    trace = []

    async def tb(ctx):
        ctx.set(dut.end_row, num_nodes)
        pattern = itertools.cycle(ready)
        for cycle in range(cycles):
            ctx.set(dut.start, int(cycle in (0, restart_at)))
            ctx.set(dut.abort, int(cycle == abort_at))
            ctx.set(dut.rows.ready, next(pattern))
            p = ctx.get(dut.rows.payload)
            trace.append(ReaderCycle(
                valid=bool(ctx.get(dut.rows.valid)), ready=bool(ctx.get(dut.rows.ready)),
                desc=(p.row, p.start, p.end), finished=bool(ctx.get(dut.finished)), error=bool(ctx.get(dut.error)),
                read=ctx.get(dut.mem_addr) if ctx.get(dut.mem_en) else None))
            await ctx.tick()

    run_sim(harness, tb)
    return trace


def transfers(trace):
    """``[(cycle, (row, start, end))]`` for every cycle with ``valid & ready``."""
    return [(i, c.desc) for i, c in enumerate(trace) if c.valid and c.ready]


def check_stream_rule(trace):
    """A descriptor offered and not taken stays offered, unchanged, in the next cycle."""
    for i, (now, nxt) in enumerate(zip(trace, trace[1:])):
        if now.valid and not now.ready and not now.error:
            assert nxt.valid and nxt.desc == now.desc, f"descriptor withdrawn or changed after cycle {i}"


READER_GRAPHS = {
    "four-rows-one-empty": [0, 2, 5, 5, 6],
    "one-node":            [0, 1],
    "one-node-empty":      [0, 0],
    "all-empty":           [0, 0, 0, 0],
    "one-row-to-max":      [0, 8],
    "max-nodes":           [0, 1, 1, 3, 4, 4, 6, 7, 8],
}


@pytest.mark.parametrize("pattern", PATTERNS, ids=str)
@pytest.mark.parametrize("name", READER_GRAPHS, ids=str)
def test_row_reader_descriptors(name, pattern):
    indptr = READER_GRAPHS[name]
    n = len(indptr) - 1
    trace = run_row_reader(indptr, n, ready=PATTERNS[pattern])
    expected = [(r, indptr[r], indptr[r + 1]) for r in range(n)]
    taken = transfers(trace)
    assert [d for _, d in taken] == expected
    check_stream_rule(trace)
    assert not any(c.error for c in trace)
    # indptr[0..n] is read exactly once each, in order, however the consumer stalls.
    assert [c.read for c in trace if c.read is not None] == list(range(n + 1))
    # finished rises the cycle after the last descriptor was taken and stays high.
    first_finished = next(i for i, c in enumerate(trace) if c.finished)
    assert first_finished == taken[-1][0] + 1
    assert all(c.finished for c in trace[first_finished:])


@pytest.mark.parametrize("name", READER_GRAPHS, ids=str)
def test_row_reader_latency_and_throughput(name):
    """With ``ready`` high: the first descriptor in cycle 3 (start in cycle 0), then one per cycle."""
    indptr = READER_GRAPHS[name]
    n = len(indptr) - 1
    trace = run_row_reader(indptr, n)
    assert [i for i, _ in transfers(trace)] == list(range(FIRST_DESCRIPTOR_LATENCY, FIRST_DESCRIPTOR_LATENCY + n))
    assert [c.valid for c in trace[:FIRST_DESCRIPTOR_LATENCY]] == [False] * FIRST_DESCRIPTOR_LATENCY


def test_row_reader_no_rows():
    """num_nodes = 0: indptr[0] is read, no descriptor, finished after 3 cycles."""
    trace = run_row_reader([0], 0, cycles=10)
    assert transfers(trace) == [] and not any(c.valid or c.error for c in trace)
    assert [c.read for c in trace if c.read is not None] == [0]
    assert [c.finished for c in trace[:4]] == [False, False, False, True]
    assert all(c.finished for c in trace[3:])


def test_row_reader_reads_only_num_nodes_rows():
    """Words beyond indptr[num_nodes] are never read (they may hold anything, here a decreasing value)."""
    trace = run_row_reader([0, 2, 3, 1, 15], 2, ready=PATTERNS["gaps"])
    assert [d for _, d in transfers(trace)] == [(0, 0, 2), (1, 2, 3)]
    assert [c.read for c in trace if c.read is not None] == [0, 1, 2]
    assert not any(c.error for c in trace)


BAD_GRAPHS = {
    # indptr, descriptors emitted before the bad row
    "decreasing":        ([0, 3, 2, 4], [(0, 0, 3)]),
    "decreasing-late":   ([0, 1, 2, 3, 1], [(0, 0, 1), (1, 1, 2), (2, 2, 3)]),
    "beyond-max-edges":  ([0, 2, 9, 9], [(0, 0, 2)]),
    "first-row-too-far": ([0, 15], []),
}


@pytest.mark.parametrize("pattern", PATTERNS, ids=str)
@pytest.mark.parametrize("name", BAD_GRAPHS, ids=str)
def test_row_reader_error_stops_the_pass(name, pattern):
    indptr, good = BAD_GRAPHS[name]
    trace = run_row_reader(indptr, len(indptr) - 1, ready=PATTERNS[pattern])
    assert [d for _, d in transfers(trace)] == good
    errors = [i for i, c in enumerate(trace) if c.error]
    assert len(errors) == 1, f"error must pulse for exactly one cycle, was high in cycles {errors}"
    (at,) = errors
    # The bad descriptor is never offered; nothing is offered or read after the error.
    assert not any(c.valid for c in trace[at:])
    assert all(c.read is None for c in trace[at + 1:])


@pytest.mark.parametrize("abort", [False, True], ids=["error", "abort"])
def test_row_reader_not_finished_after_stop(abort):
    """After an error or an abort rows were left unread: `finished` stays low."""
    if abort:
        trace = run_row_reader([0, 1, 2, 3, 4], 4, abort_at=4)
    else:
        trace = run_row_reader([0, 3, 2, 4], 3)
    assert not any(c.finished for c in trace)


def test_row_reader_abort_and_restart():
    """abort stops the pass at once (no descriptor offered, no read after it); start begins a new full pass."""
    indptr = [0, 1, 2, 3, 4, 5, 6, 7, 8]
    expected = [(r, r, r + 1) for r in range(8)]
    abort_at, restart_at = 5, 12
    trace = run_row_reader(indptr, 8, abort_at=abort_at, restart_at=restart_at, cycles=30)
    taken = transfers(trace)
    before = [d for i, d in taken if i <= abort_at]
    assert before == expected[:len(before)] and len(before) == 3       # cycles 3, 4 and 5 (the abort cycle)
    assert not any(c.valid or c.read is not None for c in trace[abort_at + 1:restart_at + 1])
    after = [(i, d) for i, d in taken if i > restart_at]
    assert after == [(restart_at + FIRST_DESCRIPTOR_LATENCY + k, d) for k, d in enumerate(expected)]
    assert not any(c.error for c in trace)


# EdgeSequencer.

SEQ_CFG = GnnConfig(lanes=1, format="int8", max_nodes=8, max_edges=16, max_features=3, max_degree=8)


@dataclass
class SeqRun:
    items: list      # (cycle, (edge, row, group, deg, first, last, empty)) for every cycle with valid
    idle: list       # idle, per cycle
    valid: list      # valid, per cycle
    taken: list      # cycles a descriptor was taken


def run_sequencer(descs, groups, offer=(1,), cycles=None, abort_at=None):
    """Offer ``descs`` ((row, start, end) each) on ``rows``; ``offer`` is the repeating pattern of cycles in which
    the source may raise ``valid`` (once raised it stays up until the descriptor is taken)."""
    seq = EdgeSequencer(SEQ_CFG)
    cycles = cycles or 5 + sum(max(e - s, 1) * groups for _, s, e in descs) * 2 + 3 * len(descs)
    run = SeqRun([], [], [], [])

    async def tb(ctx):
        ctx.set(seq.groups, groups)
        pattern = itertools.cycle(offer)
        pending = list(descs)
        offering = False
        for cycle in range(cycles):
            ctx.set(seq.abort, int(cycle == abort_at))
            may_offer = next(pattern)
            offering = bool(pending) and (offering or may_offer)
            ctx.set(seq.rows.valid, offering)
            if pending:
                row, start, end = pending[0]
                ctx.set(seq.rows.payload, {"row": row, "start": start, "end": end})
            if ctx.get(seq.valid):
                run.items.append((cycle, (ctx.get(seq.edge), ctx.get(seq.row), ctx.get(seq.group),
                                          ctx.get(seq.deg), ctx.get(seq.first), ctx.get(seq.last),
                                          ctx.get(seq.empty))))
            run.idle.append(ctx.get(seq.idle))
            run.valid.append(ctx.get(seq.valid))
            if offering and ctx.get(seq.rows.ready):
                run.taken.append(cycle)
                pending.pop(0)
                offering = False
            await ctx.tick()

    run_sim(seq, tb)
    return run


def expected_items(descs, groups):
    """docs/gnn.md's loop order: row, then feature group, then edge; an empty row gives one item per group."""
    items = []
    for row, start, end in descs:
        for g in range(groups):
            if start == end:
                items.append((None, row, g, 0, 1, 1, 1))
            for e in range(start, end):
                items.append((e, row, g, end - start, int(e == start), int(e == end - 1), 0))
    return items


def same_items(got, expected):
    """Compare item tuples; the edge of an empty item is meaningless."""
    got = [(None,) + g[1:] if g[6] else g for g in got]
    assert got == expected


SEQ_GRAPHS = {
    # Degrees 3, 0, 1, 2, 0: an empty row between full ones, a one-edge row, an empty row last.
    "mixed":       [(0, 0, 3), (1, 3, 3), (2, 3, 4), (3, 4, 6), (4, 6, 6)],
    "one-row":     [(0, 0, 1)],
    "all-empty":   [(0, 0, 0), (1, 0, 0), (2, 0, 0)],
    "short-rows":  [(r, r, r + 1) for r in range(8)],
    "late-start":  [(5, 9, 16), (7, 16, 16)],
}


@pytest.mark.parametrize("groups", [1, 2, 3])
@pytest.mark.parametrize("name", SEQ_GRAPHS, ids=str)
def test_sequencer_items_back_to_back(name, groups):
    """All descriptors available: one item per cycle from the cycle after the first descriptor is taken, no bubble
    at row or group changes; idle exactly when no item leaves."""
    descs = SEQ_GRAPHS[name]
    expected = expected_items(descs, groups)
    run = run_sequencer(descs, groups)
    same_items([item for _, item in run.items], expected)
    assert [cycle for cycle, _ in run.items] == list(range(1, 1 + len(expected)))
    assert run.taken[0] == 0 and len(run.taken) == len(descs)
    assert run.idle == [not v for v in run.valid]
    assert run.idle[0] and all(run.idle[1 + len(expected):])


@pytest.mark.parametrize("pattern", ["gaps", "slow"])
@pytest.mark.parametrize("name", SEQ_GRAPHS, ids=str)
def test_sequencer_items_with_gaps(name, pattern):
    """Descriptors arriving with gaps: the same items, in order; idle between rows when starved."""
    descs = SEQ_GRAPHS[name]
    run = run_sequencer(descs, 2, offer=PATTERNS[pattern])
    same_items([item for _, item in run.items], expected_items(descs, 2))
    assert run.idle == [not v for v in run.valid]
    assert run.idle[-1]


def test_sequencer_takes_next_descriptor_with_last_item():
    """``rows.ready`` is high in the cycle the current row's last item leaves (and while idle), low otherwise."""
    seq = EdgeSequencer(SEQ_CFG)

    async def tb(ctx):
        ctx.set(seq.groups, 2)
        assert ctx.get(seq.rows.ready) and ctx.get(seq.idle)
        ctx.set(seq.rows.valid, 1)
        ctx.set(seq.rows.payload, {"row": 3, "start": 4, "end": 6})
        await ctx.tick()
        ctx.set(seq.rows.valid, 0)
        readies = []
        for _ in range(4):            # items (4, g0) (5, g0) (4, g1) (5, g1)
            readies.append(ctx.get(seq.rows.ready))
            await ctx.tick()
        assert readies == [0, 0, 0, 1]
        assert ctx.get(seq.idle) and ctx.get(seq.rows.ready)

    run_sim(seq, tb)


def test_sequencer_abort_drops_descriptor():
    descs = [(0, 0, 8), (1, 8, 9)]
    run = run_sequencer(descs, 1, abort_at=3, cycles=12)
    # Items of row 0 in cycles 1..3; abort in cycle 3 drops row 0, row 1 is taken in cycle 4 (ready while idle).
    assert [cycle for cycle, _ in run.items] == [1, 2, 3, 5]
    same_items([item for _, item in run.items], expected_items(descs, 1)[:3] + [(8, 1, 0, 1, 1, 1, 0)])
    assert run.idle[4]


# The whole engine on a tiny config, over its register bus.

ENGINE_CFGS = {
    # Two int8 lanes packed in one bus word, one feature group.
    "lanes2-int8": GnnConfig(lanes=2, format="int8", max_nodes=4, max_edges=8, max_features=2, max_degree=4),
    # One int16 lane per word, two feature groups per row.
    "lanes1-int16": GnnConfig(lanes=1, format="int16", max_nodes=4, max_edges=8, max_features=2, max_degree=4),
}

#: docs/gnn.md: 5 cycles before the first item, 7 after the last; 5 stall cycles at start-up.
RUN_OVERHEAD = 12
STARTUP_STALL = 5
#: OP codes from the engine's enum; CTRL and STATUS bits written out (hw/common/engine.py: CTRL.start bit 0;
#: STATUS busy bit 0, done bit 1, error bits 2..9).
OP_CODES = {op.name.lower(): op.value for op in GnnOp}
CTRL_START = 1 << 0
STATUS_DONE = 1 << 1
#: Written into the result window before every run; no expected output equals it.
SENTINEL = -77


@dataclass
class Graph:
    indptr: list
    indices: list
    x: list          # X[n][f]
    weights: list    # weight codes, one per edge


ENGINE_GRAPHS = {
    "one-node-self-loop":  Graph([0, 1], [0], [[37, -100]], [-3 << 12]),           # weight -0.75
    "one-node-two-loops":  Graph([0, 2], [0, 0], [[100, -90]], [1 << 14, 5 << 11]),  # 1.0, 0.625
    "one-node-no-edge":    Graph([0, 0], [], [[5, -6]], []),
    "two-nodes":           Graph([0, 2, 3], [1, 0, 1], [[10, -20], [-7, 126]], [1 << 13, -1 << 14, 3 << 12]),
    "two-nodes-empty-row": Graph([0, 0, 1], [0], [[-128, 127], [1, 2]], [1 << 14]),
    "four-nodes":          Graph([0, 3, 3, 5, 8], [3, 1, 1, 0, 2, 3, 3, 0],
                                 [[1, -2], [30, 40], [-50, 60], [127, -128]],
                                 [1 << 14, 1 << 13, -1 << 12, 3 << 12, 1 << 14, -1 << 14, 1 << 11, 5 << 12]),
}


def feature_address(cfg, node, feature):
    """Window offset and element of X[node, feature]: docs/gnn.md, "Memory windows"."""
    width = 8 if cfg.format == "int8" else 16
    per_word = min(cfg.lanes, 32 // width)
    slots = -(-cfg.lanes // per_word)
    slot_bits = (slots - 1).bit_length()
    row_words = -(-cfg.max_features // cfg.lanes)
    lane = feature % cfg.lanes
    return ((node * row_words + feature // cfg.lanes) << slot_bits) + lane // per_word, lane % per_word, width


def pack_features(cfg, rows):
    """{window offset: bus word} for the feature codes ``rows[n][f]``."""
    words = {}
    for n, row in enumerate(rows):
        for f, code in enumerate(row):
            offset, element, width = feature_address(cfg, n, f)
            words[offset] = words.get(offset, 0) | (code & ((1 << width) - 1)) << (element * width)
    return words


def unpack_feature(cfg, words, node, feature):
    offset, element, width = feature_address(cfg, node, feature)
    code = words[offset] >> (element * width) & ((1 << width) - 1)
    return code - (1 << width) if code >> (width - 1) else code


async def write_window(ctx, engine, name, words):
    base = engine.window_base(name)
    for offset, word in words.items():
        await bus_write(ctx, engine.bus, base + offset, word & 0xFFFF_FFFF)


async def write_reg(ctx, engine, name, value):
    await bus_write(ctx, engine.bus, engine.register_map[name][0], value)


async def read_reg(ctx, engine, name):
    return await bus_read(ctx, engine.bus, engine.register_map[name][0])


def run_engine(cfg, graph, ops):
    """Load ``graph`` once, run each op (result window filled with SENTINEL before each); returns
    ``{op: (Y as a list of rows, {counter: value}, STATUS)}``."""
    engine = GnnEngine(cfg)
    n, f = len(graph.x), len(graph.x[0])
    out = {}

    async def tb(ctx):
        await write_window(ctx, engine, "indptr", dict(enumerate(graph.indptr)))
        await write_window(ctx, engine, "indices", dict(enumerate(graph.indices)))
        await write_window(ctx, engine, "weights", dict(enumerate(graph.weights)))
        await write_window(ctx, engine, "features", pack_features(cfg, graph.x))
        await write_reg(ctx, engine, "NUM_NODES", n)
        await write_reg(ctx, engine, "NUM_FEATURES", f)
        sentinel = pack_features(cfg, [[SENTINEL] * f] * n)
        for op in ops:
            await write_window(ctx, engine, "result", sentinel)
            await write_reg(ctx, engine, "OP", OP_CODES[op])
            await write_reg(ctx, engine, "STATUS", STATUS_DONE)           # clear a previous done
            await write_reg(ctx, engine, "CTRL", CTRL_START)
            for _ in range(100):
                status = await read_reg(ctx, engine, "STATUS")
                if status & STATUS_DONE:
                    break
            else:
                raise AssertionError(f"{op}: STATUS.done not set")
            counters = {name: await read_reg(ctx, engine, f"CNT_{name.upper()}")
                        for name in ("cycles", "busy", "stall", "edges")}
            words = {}
            for offset in sentinel:
                words[offset] = await bus_read(ctx, engine.bus, engine.window_base("result") + offset)
            y = [[unpack_feature(cfg, words, r, k) for k in range(f)] for r in range(n)]
            out[op] = (y, counters, status)

    run_sim(engine, tb)
    return out


@pytest.mark.parametrize("name", ENGINE_GRAPHS, ids=str)
@pytest.mark.parametrize("cfg_name", ENGINE_CFGS, ids=str)
def test_engine_tiny_graphs(cfg_name, name):
    """Every op on 1-, 2- and 4-node graphs: results equal the golden, counters follow docs/gnn.md's formula
    (the one-node graphs included: their only row descriptor must be taken before the run ends)."""
    cfg, graph = ENGINE_CFGS[cfg_name], ENGINE_GRAPHS[name]
    g = CsrGraph(np.array(graph.indptr), np.array(graph.indices, dtype=np.int64))
    x = np.array(graph.x)
    f = x.shape[1]
    degrees = np.diff(graph.indptr)
    busy = int(np.maximum(degrees, 1).sum()) * -(-f // cfg.lanes)
    problems = []
    for op, (y, counters, status) in run_engine(cfg, graph, OP_CODES).items():
        golden = aggregate(cfg, g, x, op, weights=np.array(graph.weights, dtype=np.int64))
        assert SENTINEL not in golden, "pick other features: a result equal to the sentinel proves nothing"
        expected = {"cycles": busy + RUN_OVERHEAD, "busy": busy, "stall": STARTUP_STALL, "edges": len(graph.indices)}
        if y != golden.tolist():
            problems.append(f"{op}: rtl {y}, golden {golden.tolist()}")
        if status != STATUS_DONE:
            problems.append(f"{op}: STATUS {status:#x}, expected done only (not busy, no error)")
        if counters != expected:
            problems.append(f"{op}: counters {counters}, expected {expected}")
    assert not problems, "\n".join(problems)


def test_engine_no_nodes():
    """NUM_NODES = 0: nothing is issued; 3 cycles, 2 of them stall (docs/gnn.md), done without error."""
    cfg = ENGINE_CFGS["lanes2-int8"]
    engine = GnnEngine(cfg)
    seen = {}

    async def tb(ctx):
        await write_reg(ctx, engine, "NUM_NODES", 0)
        await write_reg(ctx, engine, "NUM_FEATURES", 2)
        await write_reg(ctx, engine, "CTRL", CTRL_START)
        await ctx.tick().repeat(10)
        seen["status"] = await read_reg(ctx, engine, "STATUS")
        for name in ("cycles", "busy", "stall", "edges"):
            seen[name] = await read_reg(ctx, engine, f"CNT_{name.upper()}")

    run_sim(engine, tb)
    assert seen == {"status": STATUS_DONE, "cycles": 3, "busy": 0, "stall": 2, "edges": 0}


def test_result_read_comes_from_the_run_owners_copy():
    """Two processing elements split the four-node graph at row 2; after the run the host rewrites PE_FIRST and only
    then reads the result: every row still comes from the copy of the element that computed it in that run."""
    from dataclasses import replace
    cfg = replace(ENGINE_CFGS["lanes2-int8"], pes=2)
    graph = ENGINE_GRAPHS["four-nodes"]
    engine = GnnEngine(cfg)
    n, f = len(graph.x), len(graph.x[0])
    golden = aggregate(cfg, CsrGraph(np.array(graph.indptr), np.array(graph.indices, dtype=np.int64)),
                       np.array(graph.x), "sum").tolist()
    got = {}

    async def tb(ctx):
        await write_window(ctx, engine, "indptr", dict(enumerate(graph.indptr)))
        await write_window(ctx, engine, "indices", dict(enumerate(graph.indices)))
        await write_window(ctx, engine, "features", pack_features(cfg, graph.x))
        sentinel = pack_features(cfg, [[SENTINEL] * f] * n)
        await write_window(ctx, engine, "result", sentinel)                 # into both copies
        await write_reg(ctx, engine, "NUM_NODES", n)
        await write_reg(ctx, engine, "NUM_FEATURES", f)
        await write_reg(ctx, engine, "OP", OP_CODES["sum"])
        await write_reg(ctx, engine, "PE_FIRST[1]", 2)                      # rows 0, 1 | rows 2, 3
        await write_reg(ctx, engine, "CTRL", CTRL_START)
        for _ in range(100):
            if await read_reg(ctx, engine, "STATUS") & STATUS_DONE:
                break
        else:
            raise AssertionError("STATUS.done not set")
        for later_split in (0, 4, 1):                                        # no longer the run's split
            await write_reg(ctx, engine, "PE_FIRST[1]", later_split)
            words = {offset: await bus_read(ctx, engine.bus, engine.window_base("result") + offset)
                     for offset in sentinel}
            got[later_split] = [[unpack_feature(cfg, words, r, k) for k in range(f)] for r in range(n)]

    run_sim(engine, tb)
    for split, y in got.items():
        assert y == golden, f"with PE_FIRST[1] = {split} after the run: {y}, golden {golden}"
