"""The mixed-precision address and lane decoder (hw/gnn/mixed_decode.py) on Amaranth's own simulator.

References, independent of the code under test: random small graphs planned, quantised and packed by
``pimgen.gnn.mixed`` (``plan_mixed``, ``quantize_mixed``); every (node, group)'s word and bit offset from the plan's
own ``location`` and its class from ``class_of``; every lane's code from ``decode_mixed`` (0 for the padding features
of the last group); and an exhaustive lane check against the formula written out in Python.
"""

import gc
import itertools

import numpy as np
import pytest
from amaranth.hdl import Fragment
from amaranth.sim import Simulator

from hw.gnn.mixed_decode import MixedAddress, MixedDecode
from pimgen.gnn.inputs import CsrGraph
from pimgen.gnn.mixed import decode_mixed, plan_mixed, quantize_mixed

# Argument-check tests build components that are never elaborated; that is the point, not a leak.
pytestmark = pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")


@pytest.fixture(autouse=True)
def _collect_unused():
    """Collect those components while the filter above still applies, not at interpreter exit."""
    yield
    gc.collect()

# Degree d -> width 8 - min(d, 7): every width 1..8 appears when degrees 0..7 all occur.
ALL_THRESHOLDS = (1, 2, 3, 4, 5, 6, 7)
ALL_WIDTHS = (8, 7, 6, 5, 4, 3, 2, 1)

# (seed, nodes, lanes, features, thresholds, widths): several lanes and F, F not a multiple of lanes, G < P and G > P,
# widths 3, 5 and 7 in every case, empty classes in the middle and at the ends.
CASES = [
    (0, 24, 4, 10, ALL_THRESHOLDS, ALL_WIDTHS),
    (1, 30, 8, 7, ALL_THRESHOLDS, ALL_WIDTHS),
    (2, 17, 3, 16, (2, 4, 6), (7, 5, 3, 1)),
    (3, 21, 2, 9, (1, 3, 5), (3, 8, 5, 7)),
    (4, 13, 5, 5, (2, 5), (5, 3, 7)),
]


def run_comb(dut, testbench):
    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()


def random_graph(rng, num_nodes):
    """In-degrees drawn from 0..9 (so every degree group of the cases occurs), distinct random sources."""
    degrees = rng.integers(0, 10, size=num_nodes)
    degrees[:8] = np.arange(8)                      # every width class of ALL_WIDTHS is non-empty
    rng.shuffle(degrees)
    indices = [np.sort(rng.choice(num_nodes, size=d, replace=False)) for d in degrees]
    indptr = np.concatenate([[0], np.cumsum(degrees)])
    return CsrGraph(indptr, np.concatenate(indices).astype(np.int64), num_nodes)


def plan_case(seed, nodes, lanes, features, thresholds, widths):
    rng = np.random.default_rng(seed)
    graph = random_graph(rng, nodes)
    plan = plan_mixed(graph, thresholds, widths, lanes=lanes, num_features=features)
    x = rng.normal(scale=rng.uniform(0.1, 4.0, size=(nodes, 1)), size=(nodes, features))
    x[rng.integers(nodes)] = 0.0                    # an all-zero node (k = 0)
    mixed = quantize_mixed(x, plan, frac_bits=int(rng.integers(4, 12)))
    return plan, mixed


@pytest.mark.parametrize("registered", [False, True], ids=["comb", "registered"])
@pytest.mark.parametrize("case", CASES, ids=[f"seed{c[0]}" for c in CASES])
def test_address_and_decode_match_the_format(case, registered):
    plan, mixed = plan_case(*case)
    n_nodes, groups, lanes, features = plan.num_nodes, plan.groups, plan.lanes, plan.num_features
    assert set(int(b) for b in plan.node_width) == set(case[5])     # every width of the case occurs
    golden = decode_mixed(mixed)                    # (N, F), engine order
    words = mixed.words
    shifts = [(int(mixed.header[n // 2]) >> (4 * (n % 2))) & 0xF for n in range(n_nodes)]

    addr = MixedAddress(max_nodes=n_nodes + 3, groups_max=groups + 2, registered=registered)
    dec = MixedDecode(lanes)
    top = Fragment()
    top.add_subfragment(Fragment.get(addr, None), "addr")
    top.add_subfragment(Fragment.get(dec, None), "dec")
    checked = []

    async def testbench(ctx):
        for c in range(8):
            ctx.set(addr.first[c], int(plan.first[c]))
            ctx.set(addr.base[c], int(plan.base[c]))
        ctx.set(addr.groups, groups)
        for n, g in itertools.product(range(n_nodes), range(groups)):
            ctx.set(addr.node, n)
            ctx.set(addr.group, g)
            if registered:
                await ctx.tick()
            want_word, want_bit = plan.location(n, g)
            c = plan.class_of(n)
            got = (ctx.get(addr.cls), ctx.get(addr.width), ctx.get(addr.word), ctx.get(addr.shift_bits))
            assert got == (c, 8 - c, want_word, want_bit), (n, g)
            assert 8 - c == plan.node_width[n]

            ctx.set(dec.data, [int(v) for v in words[want_word]])
            ctx.set(dec.shift_bits, want_bit)
            ctx.set(dec.width, 8 - c)
            ctx.set(dec.k, shifts[n])
            codes = [ctx.get(dec.codes[lane]) for lane in range(lanes)]
            want = [int(golden[n, j]) if j < features else 0 for j in range(g * lanes, (g + 1) * lanes)]
            assert codes == want, (n, g)
            checked.append((n, g))

    sim = Simulator(top)
    if registered:
        sim.add_clock(1e-6)
    sim.add_testbench(testbench)
    sim.run()
    assert len(checked) == n_nodes * groups
    # The check is not vacuous: the codes are not all zero and use more than one shift.
    assert np.count_nonzero(golden) > golden.size // 2
    assert len(set(shifts)) > 1


def ref_lane(byte, offset, b, k):
    u = (byte >> offset) & ((1 << b) - 1)
    q = u - (1 << b) if u >= 1 << (b - 1) else u
    code = (q << k) & 0xFFFF                        # k <= 16 - b never wraps; a larger k keeps the low 16 bits
    return code - 0x10000 if code >= 0x8000 else code


def test_decode_exhaustive():
    """All 256 bytes x widths 1..8 x the offsets of the width's slots x shifts 0, 1, 16 - b and 15 (wraps)."""
    lanes = 8
    dut = MixedDecode(lanes)
    count = [0]

    async def testbench(ctx):
        for b in range(1, 9):
            ctx.set(dut.width, b)
            for offset in range(0, (8 // b) * b, b):
                ctx.set(dut.shift_bits, offset)
                for k in sorted({0, 1, 16 - b, 15}):
                    ctx.set(dut.k, k)
                    for start in range(0, 256, lanes):
                        ctx.set(dut.data, list(range(start, start + lanes)))
                        got = [ctx.get(dut.codes[lane]) for lane in range(lanes)]
                        assert got == [ref_lane(v, offset, b, k) for v in range(start, start + lanes)], \
                            (b, offset, k, start)
                        count[0] += lanes

    run_comb(dut, testbench)
    assert count[0] == 256 * sum((8 // b) * len({0, 1, 16 - b, 15}) for b in range(1, 9))


def test_decode_extremes():
    """The int16 ends: b = 1, code -1 << 15 = -32768; b = 8, 127 << 8 = 2**15 - 2**8 (format item 3)."""
    dut = MixedDecode(1)

    async def testbench(ctx):
        for b, offset, byte, k, want in [(1, 7, 0x80, 15, -32768), (8, 0, 0x7F, 8, 32512), (8, 0, 0x80, 8, -32768),
                                         (3, 3, 0b011000, 13, 3 << 13), (2, 6, 0b10000000, 14, -32768)]:
            ctx.set(dut.data, [byte])
            ctx.set(dut.shift_bits, offset)
            ctx.set(dut.width, b)
            ctx.set(dut.k, k)
            assert ctx.get(dut.codes[0]) == want, (b, offset, byte, k)

    run_comb(dut, testbench)


def test_decode_bad_width_gives_zero():
    dut = MixedDecode(2)

    async def testbench(ctx):
        ctx.set(dut.data, [0xFF, 0x5A])
        ctx.set(dut.width, 0)
        ctx.set(dut.k, 3)
        assert [ctx.get(dut.codes[lane]) for lane in range(2)] == [0, 0]

    run_comb(dut, testbench)


def test_ports():
    addr = MixedAddress(max_nodes=100, groups_max=4)
    assert (addr.max_nodes, addr.groups_max, addr.max_words, addr.registered) == (100, 4, 400, False)
    assert len(addr.first) == 8 and len(addr.base) == 8
    assert addr.word.shape().width == 9 and addr.shift_bits.shape().width == 3
    dec = MixedDecode(5)
    assert dec.lanes == 5 and len(dec.codes) == 5 and dec.codes[0].shape().signed


@pytest.mark.parametrize("kwargs, error, message", [
    ({"max_nodes": 0, "groups_max": 1}, ValueError, "max_nodes must be a positive integer, not 0"),
    ({"max_nodes": 4, "groups_max": 0}, ValueError, "groups_max must be a positive integer, not 0"),
    ({"max_nodes": 4.0, "groups_max": 1}, TypeError, "max_nodes must be a positive integer, not 4.0"),
    ({"max_nodes": 4, "groups_max": True}, TypeError, "groups_max must be a positive integer, not True"),
    ({"max_nodes": 4, "groups_max": 1, "registered": 1}, TypeError, "registered must be a bool, not 1"),
])
def test_address_arguments(kwargs, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        MixedAddress(**kwargs)


@pytest.mark.parametrize("lanes, error, message", [
    (0, ValueError, "lanes must be an integer in 1..64, not 0"),
    (65, ValueError, "lanes must be an integer in 1..64, not 65"),
    ("8", TypeError, "lanes must be a positive integer, not '8'"),
])
def test_decode_arguments(lanes, error, message):
    with pytest.raises(error, match=f"^{message}$"):
        MixedDecode(lanes)
