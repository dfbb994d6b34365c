"""The GNN engine's fp16 format: the arithmetic units (hw/gnn/fp16.py) and the golden (sw_model/fp16.py).

Every expected value comes from NumPy's float16/float32 arithmetic (NaNs canonicalised here, in the test) or is
written out by hand, never from the design. Three layers:

- Amaranth's simulator: each IEEE special case as its own named test (hand-written bit patterns, checked against NumPy
  too), and a random sample of every unit. The simulator evaluates a unit about 2000 times a second, too slow for
  sweeps.
- Verilator: the same units, converted to Verilog as the engine will be, swept by a small C++ harness at millions of
  evaluations a second: every binary16 value of one operand against special second operands in both orders, all
  binary16 -> binary32 conversions, all upper halves of binary32 -> binary16, and millions of random pairs.
- The golden: a literal per-row loop of NumPy scalars, float64 references within the error bounds of docs/gnn.md, and
  cases where the order visibly matters (so those checks are not vacuous).
"""

import fcntl
import fractions
import hashlib
import math
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest
from amaranth.back import verilog
from amaranth.hdl import Elaboratable, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hw.gnn import fp16 as hw
from pimgen.gnn.inputs import CsrGraph
from rtl_gen.toolchain import require_verilator, verilator_env
from sw_model import fp16 as golden

F16, F32 = np.float16, np.float32


# References: NumPy, NaNs canonicalised.

def canon16(values):
    bits = np.asarray(values, dtype=F16).view(np.uint16).copy()
    bits[np.isnan(bits.view(F16))] = 0x7E00
    return bits


def canon32(values):
    bits = np.asarray(values, dtype=F32).view(np.uint32).copy()
    bits[np.isnan(bits.view(F32))] = 0x7FC00000
    return bits


def h(bits):
    return np.asarray(bits, dtype=np.uint16).view(F16)


def s(bits):
    return np.asarray(bits, dtype=np.uint32).view(F32)


#: name -> (unit, input width, output width, operands, NumPy reference on bit-pattern arrays)
UNITS = {
    "fp16_add":         (hw.fp16_add, 16, 16, 2, lambda a, b: canon16(h(a) + h(b))),
    "fp16_mul":         (hw.fp16_mul, 16, 16, 2, lambda a, b: canon16(h(a) * h(b))),
    "fp16_max":         (hw.fp16_max, 16, 16, 2, lambda a, b: canon16(np.maximum(h(a), h(b)))),
    "fp16_canonical":   (hw.fp16_canonical, 16, 16, 1, lambda a, b: canon16(h(a))),
    "fp16_to_fp32":     (hw.fp16_to_fp32, 16, 32, 1, lambda a, b: canon32(h(a).astype(F32))),
    "fp16_mul_to_fp32": (hw.fp16_mul_to_fp32, 16, 32, 2,
                         lambda a, b: canon32(h(a).astype(F32) * h(b).astype(F32))),
    "fp32_add":         (hw.fp32_add, 32, 32, 2, lambda a, b: canon32(s(a) + s(b))),
    "fp32_mul":         (hw.fp32_mul, 32, 32, 2, lambda a, b: canon32(s(a) * s(b))),
    "fp32_to_fp16":     (hw.fp32_to_fp16, 32, 16, 1, lambda a, b: canon16(s(a).astype(F16))),
}


#: Special operands: ±0, ±smallest and largest subnormal, ±smallest normal, ±1, ±largest finite, ±inf, NaNs.
SPECIALS16 = np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00,
                       0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE00], dtype=np.uint16)
SPECIALS32 = np.array([0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000,
                       0x80800000, 0x3F800000, 0xBF800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                       0x7FC00000, 0x7F800001, 0xFFC00000], dtype=np.uint32)


def reference(name, a, b=None):
    with np.errstate(all="ignore"):
        return UNITS[name][4](a, b)


# Amaranth's simulator.

class UnitHarness(Elaboratable):
    """One unit between two input signals and an output signal."""

    def __init__(self, name):
        self.unit, in_width, out_width, self.arity, _ = UNITS[name]
        self.a = Signal(in_width)
        self.b = Signal(in_width)
        self.y = Signal(out_width)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.y.eq(self.unit(m, *(self.a, self.b)[:self.arity], name="dut"))
        return m


def simulate(name, a, b=None):
    """Outputs of unit ``name`` for the operand arrays, set and read combinationally (no clock)."""
    dut = UnitHarness(name)
    out = []

    async def testbench(ctx):
        for i in range(len(a)):
            ctx.set(dut.a, int(a[i]))
            if b is not None:
                ctx.set(dut.b, int(b[i]))
            out.append(ctx.get(dut.y))

    sim = Simulator(dut)
    sim.add_testbench(testbench)
    sim.run()
    return np.array(out, dtype=np.uint64)


def check_cases(name, cases):
    """``cases``: (a, b, expected) bit patterns written by hand (b ignored for conversions). Checks that NumPy
    agrees with the hand-written value, then that the unit does."""
    a = np.array([c[0] for c in cases], dtype=np.uint64)
    b = np.array([c[1] for c in cases], dtype=np.uint64)
    in_dtype = np.uint16 if UNITS[name][1] == 16 else np.uint32
    numpy_says = reference(name, a.astype(in_dtype), b.astype(in_dtype)).astype(np.uint64)
    for case, got in zip(cases, numpy_says):
        assert got == case[2], f"NumPy disagrees with the hand-written case {[hex(v) for v in case]}: {int(got):#x}"
    got = simulate(name, a, b if UNITS[name][3] == 2 else None)
    for case, value in zip(cases, got):
        assert value == case[2], f"{name}{tuple(hex(v) for v in case[:2])} = {int(value):#x}, expected {case[2]:#x}"


MIN_SUB, MAX_SUB, MIN_NORM, ONE, MAX16, INF16, NAN16 = 0x0001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0x7C00, 0x7E00
NEG = 0x8000


def test_add_subnormal_results():
    check_cases("fp16_add", [
        (MIN_SUB, MIN_SUB, 0x0002),
        (MAX_SUB, MIN_SUB, MIN_NORM),                  # two subnormals carry into the smallest normal
        (MIN_NORM, NEG | MIN_SUB, MAX_SUB),            # a normal minus a subnormal gives a subnormal
        (0x0401, NEG | 0x0400, MIN_SUB),               # cancellation down to the smallest subnormal
        (0x0800, NEG | 0x07FF, 0x0001),                # 2**-13 - (2**-13 - 2**-24)
        (NEG | 0x0155, NEG | 0x0123, NEG | 0x0278),    # subnormal + subnormal is exact, sign kept
    ])


def test_add_overflow_to_inf():
    check_cases("fp16_add", [
        (MAX16, 0x4C00, INF16),                        # 65504 + 16 = 65520: the tie goes to the even 2**16 = inf
        (MAX16, 0x4800, MAX16),                        # 65504 + 8 rounds back to 65504
        (NEG | MAX16, NEG | 0x4C00, NEG | INF16),
        (MAX16, MAX16, INF16),
        (INF16, NEG | MAX16, INF16),
    ])


def test_inf_minus_inf_is_nan():
    check_cases("fp16_add", [
        (INF16, NEG | INF16, NAN16),
        (NEG | INF16, INF16, NAN16),
        (INF16, INF16, INF16),
        (NEG | INF16, NEG | INF16, NEG | INF16),
    ])
    check_cases("fp32_add", [(0x7F800000, 0xFF800000, 0x7FC00000), (0xFF800000, 0xFF800000, 0xFF800000)])


def test_add_nan_operands_give_canonical_nan():
    check_cases("fp16_add", [
        (0x7C01, ONE, NAN16),                          # signalling NaN
        (ONE, 0xFE00, NAN16),                          # negative NaN
        (0x7FFF, INF16, NAN16),                        # payload
        (0xFD55, 0x7D55, NAN16),
    ])


def test_signed_zero_sums():
    check_cases("fp16_add", [
        (ONE, NEG | ONE, 0x0000),                      # x + (-x) = +0
        (NEG | ONE, ONE, 0x0000),
        (NEG | MIN_SUB, MIN_SUB, 0x0000),
        (NEG, NEG, NEG),                               # -0 + -0 = -0
        (0x0000, NEG, 0x0000),                         # +0 + -0 = +0
        (NEG, 0x0000, 0x0000),
        (NEG, NEG | MIN_SUB, NEG | MIN_SUB),           # -0 + x = x
        (0x0000, NEG | ONE, NEG | ONE),
    ])
    check_cases("fp32_add", [(0x80000000, 0x80000000, 0x80000000), (0x3F800000, 0xBF800000, 0x00000000)])


def test_ties_to_even():
    check_cases("fp16_add", [
        (0x6800, ONE, 0x6800),                         # 2048 + 1 = 2049: tie, down to the even 2048
        (0x6801, ONE, 0x6802),                         # 2050 + 1 = 2051: tie, up to the even 2052
        (ONE, 0x1000, ONE),                            # 1 + 2**-11: tie, stays 1
        (ONE, 0x1600, 0x3C02),                         # 1 + 3 * 2**-11: tie between 0x3C01 and 0x3C02
        (0x3C01, 0x9000, 0x3C00),                      # (1 + 2**-10) - 2**-11: tie, down to 1
    ])
    check_cases("fp16_mul", [
        (0x3C01, 0x3E00, 0x3E02),                      # (1 + 2**-10) * 1.5 = 1.5 + 1.5 ulp: tie to even
        (0x3C03, 0x3E00, 0x3E04),                      # 1.5 + 4.5 ulp: tie, down to the even 1.5 + 4 ulp
    ])
    check_cases("fp32_to_fp16", [
        (0x3F801000, 0, ONE),                          # 1 + 2**-11 (tie) -> 1
        (0x3F803000, 0, 0x3C02),                       # 1 + 3 * 2**-11 (tie) -> 1 + 2**-9
        (0x3F801001, 0, 0x3C01),                       # just above the tie -> up
    ])


def test_mul_subnormal_results_and_underflow():
    check_cases("fp16_mul", [
        (MIN_NORM, 0x3800, 0x0200),                    # 2**-14 * 0.5 = 2**-15, subnormal
        (MIN_SUB, 0x3800, 0x0000),                     # 2**-25 is a tie between 0 and 2**-24: to 0 (even)
        (MIN_SUB, 0x3A00, MIN_SUB),                    # 0.75 * 2**-24 rounds up to 2**-24
        (0x0003, 0x3800, 0x0002),                      # 1.5 * 2**-24: tie between 1 and 2 (even)
        (NEG | MIN_SUB, 0x3800, NEG),                  # underflow keeps the sign: -0
        (MIN_SUB, NEG | MIN_SUB, NEG),                 # 2**-48 -> -0
        (MAX_SUB, 0x4000, 0x07FE),                     # subnormal * 2 is normal again
        (0x0200, 0x4800, 0x0C00),                      # subnormal operand normalised: 2**-15 * 8 = 2**-12
    ])


def test_mul_overflow_to_inf():
    check_cases("fp16_mul", [
        (0x5C00, 0x5C00, INF16),                       # 256 * 256 = 65536
        (0x5BFF, 0x5C00, 0x7BFF),                      # 255.875 * 256 = 65504
        (MAX16, NEG | 0x3C01, NEG | INF16),            # 65504 * -(1 + 2**-10) = -65567.97 -> -inf
        (MAX16, MAX16, INF16),
    ])
    check_cases("fp32_mul", [(0x7F7FFFFF, 0x40000000, 0x7F800000), (0x00800000, 0x3F000000, 0x00400000)])


def test_zero_times_inf_is_nan():
    check_cases("fp16_mul", [
        (0x0000, INF16, NAN16),
        (NEG, INF16, NAN16),
        (INF16, NEG, NAN16),
        (NEG | INF16, 0x0000, NAN16),
        (INF16, MIN_SUB, INF16),                       # inf times a (tiny) nonzero is inf
        (NEG | INF16, NEG | ONE, INF16),
    ])
    check_cases("fp16_mul_to_fp32", [(0x0000, INF16, 0x7FC00000), (INF16, NEG | ONE, 0xFF800000)])
    check_cases("fp32_mul", [(0x00000000, 0xFF800000, 0x7FC00000), (0x7F800000, 0x00000001, 0x7F800000)])


def test_signed_zero_products():
    check_cases("fp16_mul", [
        (NEG, 0x4200, NEG),                            # -0 * 3 = -0
        (0x0000, NEG | 0x4200, NEG),
        (NEG, NEG, 0x0000),
        (NEG | ONE, 0x0000, NEG),
    ])


def test_canonical_replaces_only_nans():
    check_cases("fp16_canonical", [
        (0x7C01, 0, NAN16), (0xFFFF, 0, NAN16), (0x7E00, 0, NAN16), (0xFE00, 0, NAN16),
        (INF16, 0, INF16), (NEG | INF16, 0, NEG | INF16), (NEG, 0, NEG), (MAX_SUB, 0, MAX_SUB), (0x3555, 0, 0x3555),
    ])


def test_max_nan_propagation():
    check_cases("fp16_max", [
        (NAN16, ONE, NAN16),
        (ONE, NAN16, NAN16),
        (NEG | INF16, 0x7C01, NAN16),                  # a signalling NaN term: canonical quiet NaN
        (0xFE00, INF16, NAN16),                        # a negative NaN accumulator
        (0x7FFF, 0xFFFF, NAN16),
    ])


def test_max_ties_keep_the_accumulator():
    check_cases("fp16_max", [
        (0x0000, NEG, 0x0000),                         # maximum(+0, -0) = +0 (the first)
        (NEG, 0x0000, NEG),                            # maximum(-0, +0) = -0 (the first)
        (NEG | INF16, NEG | MAX16, NEG | MAX16),       # -inf is an ordinary value
        (INF16, MAX16, INF16),
        (NEG | MIN_SUB, NEG, NEG),                     # -0 > -2**-24
        (NEG | ONE, NEG | 0x3C01, NEG | ONE),
        (MIN_SUB, NEG | INF16, MIN_SUB),
    ])


def test_conversions_to_fp32():
    check_cases("fp16_to_fp32", [
        (MIN_SUB, 0, 0x33800000),                      # 2**-24, normal in binary32
        (NEG | MAX_SUB, 0, 0xB87FC000),
        (MAX16, 0, 0x477FE000),
        (NEG, 0, 0x80000000),
        (NEG | INF16, 0, 0xFF800000),
        (0x7C01, 0, 0x7FC00000),
    ])
    check_cases("fp16_mul_to_fp32", [
        (MIN_SUB, MIN_SUB, 0x27800000),                # 2**-48, exact
        (MAX16, MAX16, 0x4F7FC004),                    # 65504**2 = 4190209 * 2**10, exact in binary32
        (0x3C01, 0x3C01, 0x3F804008),                  # (1 + 2**-10)**2 = 1 + 2**-9 + 2**-20, not rounded
        (NEG, ONE, 0x80000000),
    ])


def test_conversions_to_fp16():
    check_cases("fp32_to_fp16", [
        (0x477FF000, 0, INF16),                        # 65520: the tie rounds to inf
        (0x477FEFFF, 0, MAX16),                        # just below 65520
        (0xC77FF000, 0, NEG | INF16),
        (0x33000000, 0, 0x0000),                       # 2**-25: tie between 0 and 2**-24, to 0
        (0x33000001, 0, MIN_SUB),                      # just above it
        (0xB2800000, 0, NEG),                          # -2**-26 underflows to -0
        (0x387FC000, 0, MAX_SUB),                      # the largest subnormal, exact
        (0x387FE000, 0, MIN_NORM),                     # (2**-14 - 2**-25): tie, up to the smallest normal
        (0x00000001, 0, 0x0000),                       # binary32 subnormal
        (0x807FFFFF, 0, NEG),
        (0x7F800001, 0, NAN16),
        (0xFF800000, 0, NEG | INF16),
    ])


def test_fp32_subnormals():
    check_cases("fp32_add", [
        (0x00000001, 0x00000001, 0x00000002),
        (0x007FFFFF, 0x00000001, 0x00800000),
        (0x00800000, 0x80000001, 0x007FFFFF),
        (0x00000001, 0x80000001, 0x00000000),
    ])
    check_cases("fp32_mul", [
        (0x00800000, 0x34000000, 0x00000001),          # 2**-126 * 2**-23 = 2**-149
        (0x00000001, 0x3F000000, 0x00000000),          # 2**-150: tie, to 0
        (0x00000003, 0x3F000000, 0x00000002),          # 1.5 * 2**-149: tie, to the even 2 * 2**-149
        (0x00400000, 0x41000000, 0x01800000),          # a subnormal operand: 2**-127 * 8 = 2**-124
    ])


SAMPLE_PAIRS = 1500


@pytest.mark.parametrize("name", list(UNITS))
def test_random_sample_in_amaranth_simulator(name):
    """A random sample of operands, half uniform bit patterns, half around the special values."""
    _, width, _, arity, _ = UNITS[name]
    rng = np.random.default_rng(sum(name.encode()))
    dtype = np.uint16 if width == 16 else np.uint32
    a = random_patterns(rng, width, SAMPLE_PAIRS).astype(dtype)
    b = random_patterns(rng, width, SAMPLE_PAIRS).astype(dtype)
    expected = reference(name, a, b)
    got = simulate(name, a, b if arity == 2 else None)
    bad = np.flatnonzero(got != expected)
    assert not len(bad), describe(name, a, b, got, expected, bad)


def random_patterns(rng, width, n):
    """Bit patterns: half uniform, half a special value with a few low bits flipped."""
    specials = SPECIALS16 if width == 16 else SPECIALS32
    uniform = rng.integers(0, 1 << width, n // 2, dtype=np.uint64)
    near = specials[rng.integers(0, len(specials), n - n // 2)].astype(np.uint64) ^ rng.integers(0, 4, n - n // 2,
                                                                                                  dtype=np.uint64)
    return np.concatenate([uniform, near])


def describe(name, a, b, got, expected, bad):
    shown = ", ".join(f"({int(a[i]):#x}, {int(b[i]):#x}) -> {int(got[i]):#x} not {int(expected[i]):#x}"
                      for i in bad[:5])
    return f"{name}: {len(bad)} of {len(a)} wrong, e.g. {shown}"


# Verilator sweeps.

class AllUnits(wiring.Component):
    """Every unit side by side: binary16 units on ``a16``/``b16``, binary32 units on ``a32``/``b32``."""

    a16: In(16)
    b16: In(16)
    a32: In(32)
    b32: In(32)
    fp16_add: Out(16)
    fp16_mul: Out(16)
    fp16_max: Out(16)
    fp32_to_fp16: Out(16)
    fp16_canonical: Out(16)
    fp16_to_fp32: Out(32)
    fp16_mul_to_fp32: Out(32)
    fp32_add: Out(32)
    fp32_mul: Out(32)

    def elaborate(self, platform):
        m = Module()
        for name, (unit, width, _, arity, _) in UNITS.items():
            operands = (self.a16, self.b16) if width == 16 else (self.a32, self.b32)
            m.d.comb += getattr(self, name).eq(unit(m, *operands[:arity], name=name))
        return m


#: Records the harness reads and writes, in the order of AllUnits' ports.
IN_RECORD = np.dtype([("a16", "<u2"), ("b16", "<u2"), ("a32", "<u4"), ("b32", "<u4")])
OUT_RECORD = np.dtype([("fp16_add", "<u2"), ("fp16_mul", "<u2"), ("fp16_max", "<u2"), ("fp32_to_fp16", "<u2"),
                       ("fp16_canonical", "<u2"), ("pad", "<u2"), ("fp16_to_fp32", "<u4"), ("fp16_mul_to_fp32", "<u4"),
                       ("fp32_add", "<u4"), ("fp32_mul", "<u4")])

HARNESS_CPP = """\
// Reads IN_RECORDs from stdin, evaluates the units for each, writes OUT_RECORDs to stdout (tests/test_fp16.py).
#include "Vall_units.h"
#include <cstdint>
#include <cstdio>
#include <vector>

struct In { uint16_t a16, b16; uint32_t a32, b32; };
struct Out { uint16_t add16, mul16, max16, to16, canon16, pad; uint32_t to32, mul16to32, add32, mul32; };
static_assert(sizeof(In) == 12 && sizeof(Out) == 28, "record layout");

int main() {
    Vall_units top;
    std::vector<In> in(1 << 16);
    std::vector<Out> out(1 << 16);
    size_t n;
    while ((n = fread(in.data(), sizeof(In), in.size(), stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            top.a16 = in[i].a16; top.b16 = in[i].b16; top.a32 = in[i].a32; top.b32 = in[i].b32;
            top.eval();
            out[i] = {top.fp16_add, top.fp16_mul, top.fp16_max, top.fp32_to_fp16, top.fp16_canonical, 0,
                      top.fp16_to_fp32, top.fp16_mul_to_fp32, top.fp32_add, top.fp32_mul};
        }
        if (fwrite(out.data(), sizeof(Out), n, stdout) != n) return 1;
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def harness(build_root):
    """Path of the Verilator-built harness; built once per design and harness source, cached in the build root."""
    text = verilog.convert(AllUnits(), name="all_units")
    key = hashlib.sha256((text + HARNESS_CPP).encode()).hexdigest()[:12]
    build_root.mkdir(parents=True, exist_ok=True)
    final = build_root / f"fp16_units_{key}"
    exe = final / "Vall_units"
    with open(build_root / f"fp16_units_{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not exe.exists():
            work = tempfile.mkdtemp(prefix="fp16_units_", dir=build_root)
            with open(os.path.join(work, "all_units.v"), "w") as f:
                f.write(text)
            with open(os.path.join(work, "harness.cpp"), "w") as f:
                f.write(HARNESS_CPP)
            result = subprocess.run(
                [require_verilator(), "--cc", "--exe", "--build", "-Wno-fatal", "-Wno-lint", "--top-module",
                 "all_units", "all_units.v", "harness.cpp", "-Mdir", ".", "-CFLAGS", "-O1", "-j", "1"],
                cwd=work, env=verilator_env(), capture_output=True, text=True)
            if result.returncode:
                shutil.rmtree(work, ignore_errors=True)
                pytest.fail(f"Verilator build of the fp16 harness failed:\n{result.stderr[-3000:]}")
            shutil.rmtree(final, ignore_errors=True)
            os.rename(work, final)
    return exe


def run_harness(exe, a16=None, b16=None, a32=None, b32=None):
    n = len(next(v for v in (a16, b16, a32, b32) if v is not None))
    records = np.zeros(n, IN_RECORD)
    for field, values in (("a16", a16), ("b16", b16), ("a32", a32), ("b32", b32)):
        if values is not None:
            records[field] = values
    result = subprocess.run([str(exe)], input=records.tobytes(), capture_output=True, check=True)
    out = np.frombuffer(result.stdout, OUT_RECORD)
    assert len(out) == n
    return out


def check_sweep(out, names, a, b):
    for name in names:
        expected = reference(name, a, b)
        bad = np.flatnonzero(out[name] != expected)
        assert not len(bad), describe(name, a, b, out[name], expected, bad)


FP16_BINARY = ["fp16_add", "fp16_mul", "fp16_max", "fp16_mul_to_fp32"]
FP32_BINARY = ["fp32_add", "fp32_mul"]


def test_fp16_units_exhaustive_against_specials(harness):
    """All 65536 values of one operand against each special value as the other, in both orders (2.2M pairs per
    unit), and every binary16 -> binary32 conversion and canonicalisation."""
    every = np.arange(1 << 16, dtype=np.uint16)
    a = np.concatenate([np.tile(every, len(SPECIALS16)), np.repeat(SPECIALS16, 1 << 16)])
    b = np.concatenate([np.repeat(SPECIALS16, 1 << 16), np.tile(every, len(SPECIALS16))])
    check_sweep(run_harness(harness, a16=a, b16=b), FP16_BINARY + ["fp16_to_fp32", "fp16_canonical"], a, b)


def test_fp16_units_random_pairs(harness):
    """2M random pairs: uniform bit patterns, and pairs with close exponents (cancellation, ties, subnormals)."""
    rng = np.random.default_rng(16)
    n = 1 << 20
    a = rng.integers(0, 1 << 16, 2 * n, dtype=np.uint16)
    b = rng.integers(0, 1 << 16, 2 * n, dtype=np.uint16)
    # Second half: b's exponent within 3 of a's, any sign and fraction.
    exp = ((a[n:] >> 10) & 0x1F).astype(np.int64) + rng.integers(-3, 4, n)
    b[n:] = (b[n:] & 0x83FF) | (np.clip(exp, 0, 30).astype(np.uint16) << 10)
    check_sweep(run_harness(harness, a16=a, b16=b), FP16_BINARY, a, b)


def test_fp32_to_fp16_sweep(harness):
    """Every upper half of a binary32 pattern (sign, exponent, 7 fraction bits) with low halves around the
    rounding point of normal results (bit 12 is the half ulp) and random ones."""
    rng = np.random.default_rng(32)
    lows = np.array([0x0000, 0x0001, 0x0FFF, 0x1000, 0x1001, 0x2FFF, 0x3000, 0x3001, 0x8000, 0xF000, 0xFFFF],
                    dtype=np.uint32)
    upper = np.arange(1 << 16, dtype=np.uint32) << 16
    a = np.concatenate([np.repeat(upper, len(lows)) | np.tile(lows, 1 << 16),
                        np.repeat(upper, 4) | rng.integers(0, 1 << 16, 4 << 16, dtype=np.uint32)])
    check_sweep(run_harness(harness, a32=a), ["fp32_to_fp16"], a, a)


def test_fp32_units_sweep(harness):
    """binary32 add and multiply: 65536 random values against each special value in both orders, and 2.5M random
    pairs (uniform; close exponents for the adder; exponent sums near underflow and overflow for the multiplier)."""
    rng = np.random.default_rng(3232)

    def with_exponent(x, e):
        return (x & np.uint32(0x807FFFFF)) | (np.clip(e, 0, 254).astype(np.uint32) << 23)

    r = rng.integers(0, 1 << 32, 1 << 16, dtype=np.uint32)
    a = [np.tile(r, len(SPECIALS32)), np.repeat(SPECIALS32, 1 << 16)]
    b = [np.repeat(SPECIALS32, 1 << 16), np.tile(r, len(SPECIALS32))]
    n = 1 << 19
    x = rng.integers(0, 1 << 32, n, dtype=np.uint32)
    y = rng.integers(0, 1 << 32, n, dtype=np.uint32)
    ex = ((x >> 23) & 0xFF).astype(np.int64)
    a += [x, x, x, x, x]
    b += [y,
          with_exponent(y, ex + rng.integers(-26, 27, n)),                # adder: alignment and cancellation
          with_exponent(y, ex + rng.integers(-2, 3, n)),
          with_exponent(y, 127 - ex + rng.integers(-30, 2, n)),           # multiplier: subnormal products
          with_exponent(y, 254 + 127 - ex + rng.integers(-2, 3, n))]     # multiplier: overflow boundary
    a, b = np.concatenate(a), np.concatenate(b)
    check_sweep(run_harness(harness, a32=a, b32=b), FP32_BINARY, a, b)


# The reciprocal ROM.

def test_reciprocal_rom_is_correctly_rounded():
    """The hardware's ROM (exact integers) against NumPy's float64 -> float16/float32 rounding, and both against
    an exact rational check of round-to-nearest for a sample."""
    max_degree = 65535
    d = np.arange(1, max_degree + 1, dtype=np.float64)
    rom16 = np.array(hw.reciprocal_rom(max_degree, hw.FP16), dtype=np.uint16)
    rom32 = np.array(hw.reciprocal_rom(max_degree, hw.FP32), dtype=np.uint32)
    assert rom16[0] == 0 and rom32[0] == 0
    assert np.array_equal(rom16[1:], (1.0 / d).astype(F16).view(np.uint16))
    assert np.array_equal(rom32[1:], (1.0 / d).astype(F32).view(np.uint32))
    assert rom16[1] == 0x3C00 and rom16[2] == 0x3800 and rom16[3] == 0x3555
    for k in (3, 7, 1000, 16383, 16385, 40000, 65535):           # nearest: no representable value is closer
        exact = fractions.Fraction(1, k)
        r = fractions.Fraction(float(h(rom16[k])))
        neighbours = [fractions.Fraction(float(v)) for v in h(np.array([rom16[k] - 1, rom16[k] + 1]))]
        assert all(abs(r - exact) < abs(v - exact) for v in neighbours)


def test_reciprocal_rom_argument_checks():
    with pytest.raises(TypeError, match="Max degree must be an integer, not '3'"):
        hw.reciprocal_rom("3")
    with pytest.raises(ValueError, match="Max degree must be at least 1, not 0"):
        hw.reciprocal_rom(0)
    with pytest.raises(TypeError, match="Format must be a FloatFormat, not 16"):
        hw.reciprocal_rom(4, 16)


# NumPy's float16 arithmetic is correctly rounded (the golden rests on it).

def exact_to_fp16(q):
    """The binary16 nearest to the rational ``q`` (ties to even), as a Fraction; None for overflow."""
    if q == 0:
        return q
    sign, q = (-1 if q < 0 else 1), abs(q)
    e = math.floor(math.log2(q))                  # in float: corrected to 2**e <= q < 2**(e+1) below
    while fractions.Fraction(2) ** e > q:
        e -= 1
    while fractions.Fraction(2) ** (e + 1) <= q:
        e += 1
    e = max(e, -14)                               # subnormals share the smallest normal exponent's ulp
    ulp = fractions.Fraction(2) ** (e - 10)
    n, rem = divmod(q, ulp)
    if rem > ulp / 2 or (rem == ulp / 2 and n % 2):
        n += 1
    value = n * ulp
    return None if value >= 65520 else sign * value


def test_numpy_float16_add_and_mul_are_correctly_rounded():
    rng = np.random.default_rng(11)
    bits = rng.integers(0, 0x7C00, (2, 3000), dtype=np.uint16) | (rng.integers(0, 2, (2, 3000), dtype=np.uint16)
                                                                  << 15)
    bits[1, :1000] = bits[0, :1000] ^ rng.integers(0, 0x8400, 1000, dtype=np.uint16) & 0x83FF   # same exponent
    a, b = h(bits[0]), h(bits[1])
    with np.errstate(over="ignore"):
        sums, products = a + b, a * b
    for x, y, total, product in zip(a, b, sums, products):
        fx, fy = fractions.Fraction(float(x)), fractions.Fraction(float(y))
        for got, exact in ((total, exact_to_fp16(fx + fy)), (product, exact_to_fp16(fx * fy))):
            if exact is None:
                assert np.isinf(got)
            else:
                assert fractions.Fraction(float(got)) == exact


# The golden model.

def csr(rows):
    """A CsrGraph from a list of rows, each a list of source nodes."""
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    indices = np.array([c for r in rows for c in r], dtype=np.int64)
    return CsrGraph(indptr, indices, num_nodes=len(rows))


def random_graph(rng, n, max_degree):
    degrees = rng.integers(0, max_degree + 1, n)
    return csr([list(rng.integers(0, n, d)) for d in degrees])


def literal(graph, x, op, w=None, fp32_acc=False):
    """docs/gnn.md's loops, one row and feature at a time with NumPy scalars; NaNs canonicalised."""
    x = h(x)
    w = None if w is None else h(w)
    out = np.zeros(x.shape, dtype=np.uint16)
    acc_type = F32 if fp32_acc else F16
    for r in range(graph.num_nodes):
        edges = range(graph.indptr[r], graph.indptr[r + 1])
        d = len(edges)
        for f in range(x.shape[1]):
            if d == 0:
                continue                                        # +0
            if op == "max":
                acc = None
                for e in edges:
                    t = x[graph.indices[e], f]
                    if acc is None or np.isnan(t) or (not np.isnan(acc) and t > acc):
                        acc = t
                out[r, f] = canon16(acc)
                continue
            acc = None
            for e in edges:
                t = acc_type(x[graph.indices[e], f])
                if op == "weighted":
                    t = acc_type(acc_type(w[e]) * t)
                acc = t if acc is None else acc_type(acc + t)
            if op == "mean":
                acc = acc_type(acc * acc_type(1.0 / d))
            out[r, f] = canon16(F16(acc))
    return out


def special_features(rng, n, f):
    """Mostly moderate values, with subnormals (10 %), zeros of both signs, infinities and NaNs sprinkled in."""
    x = golden.to_bits(rng.normal(0, 4, (n, f)))
    pick = rng.random((n, f))
    subnormal = pick < 0.10
    x[subnormal] = rng.integers(0, 0x0400, subnormal.sum()) | (rng.integers(0, 2, subnormal.sum()) << 15)
    for lo, hi, pattern in ((0.10, 0.14, 0x8000), (0.14, 0.16, 0x0000), (0.16, 0.17, 0x7C00), (0.17, 0.18, 0xFC00),
                            (0.18, 0.185, 0x7D01)):
        x[(pick >= lo) & (pick < hi)] = pattern
    return x


@pytest.mark.parametrize("fp32_acc", [False, True])
@pytest.mark.parametrize("op", ["sum", "mean", "max", "weighted"])
def test_golden_matches_literal_loop(op, fp32_acc):
    rng = np.random.default_rng(7)
    graph = random_graph(rng, 60, 9)
    x = special_features(rng, 60, 5)
    w = golden.to_bits(rng.normal(0, 1, graph.nnz))
    w[::11] = 0x8000
    w[::17] = 0x7C00
    y = golden.aggregate_fp16(graph, x, op, weights=w, fp32_acc=fp32_acc)
    assert y.dtype == np.uint16
    with np.errstate(all="ignore"):
        assert np.array_equal(y, literal(graph, x, op, w, fp32_acc))


def test_golden_sequential_is_not_np_sum():
    """[2048, 1, 1, 1, 1]: each 2048 + 1 is a tie that rounds back to 2048; np.sum (pairwise, in float32) and the
    fp32 accumulator give 2052."""
    graph = csr([[0, 1, 1, 1, 1], []])
    x = golden.to_bits([[2048.0], [1.0]])
    row = h(x[[0, 1, 1, 1, 1], 0])
    assert np.sum(row) == 2052
    assert golden.aggregate_fp16(graph, x, "sum")[0, 0] == 0x6800                  # 2048
    assert golden.aggregate_fp16(graph, x, "sum", fp32_acc=True)[0, 0] == 0x6802   # 2052
    assert golden.aggregate_fp16(graph, x, "sum")[1, 0] == 0x0000                  # empty row: +0


def test_golden_order_matters_on_random_rows():
    """On random rows the sequential sum differs from NumPy's pairwise np.sum somewhere (the literal-loop test
    above would not notice a golden that used np.sum only if these never differed)."""
    rng = np.random.default_rng(5)
    graph = random_graph(rng, 200, 40)
    x = golden.to_bits(rng.uniform(0, 100, (200, 4)))
    y = golden.aggregate_fp16(graph, x, "sum")
    columns = h(x).T.copy()                                       # 1-D contiguous rows: np.sum is pairwise
    pairwise = np.array([[np.sum(columns[j, graph.indices[graph.indptr[r]:graph.indptr[r + 1]]]) for j in range(4)]
                         for r in range(200)], dtype=F16)
    assert (y != pairwise.view(np.uint16)).sum() > 10


def test_golden_signed_zeros_and_nan():
    graph = csr([[0, 0], [0, 1], [1, 0], [2, 1, 3], []])
    x = np.array([[0x8000], [0x0000], [0x3C00], [0x7C01], [0x4000]], dtype=np.uint16)
    assert list(golden.aggregate_fp16(graph, x, "sum")[:, 0]) == [0x8000, 0x0000, 0x0000, 0x7E00, 0x0000]
    assert list(golden.aggregate_fp16(graph, x, "mean")[:, 0]) == [0x8000, 0x0000, 0x0000, 0x7E00, 0x0000]
    assert list(golden.aggregate_fp16(graph, x, "max")[:, 0]) == [0x8000, 0x8000, 0x0000, 0x7E00, 0x0000]
    assert list(golden.aggregate_fp16(graph, x, "sum", fp32_acc=True)[:, 0]) == [0x8000, 0, 0, 0x7E00, 0]
    w = np.full(graph.nnz, 0x3C00, dtype=np.uint16)
    assert list(golden.aggregate_fp16(graph, x, "weighted", w)[:, 0]) == [0x8000, 0x0000, 0x0000, 0x7E00, 0x0000]


def test_golden_mean_uses_rounded_reciprocal():
    """mean = fl16(sum * R16[d]), not fl16(sum / d): [1, 2, 2] sums to 5, and 5 * R16[3] = 5 * 1365/4096 =
    1706.25/1024 rounds to 0x3EAA, while 5/3 = 1706.67/1024 would round to 0x3EAB. The fp32 option gets 0x3EAB."""
    graph = csr([[0, 1, 1], []])
    x = golden.to_bits([[1.0], [2.0]])
    assert golden.aggregate_fp16(graph, x, "mean")[0, 0] == 0x3EAA
    assert golden.to_bits(5 / 3) == 0x3EAB
    assert golden.aggregate_fp16(graph, x, "mean", fp32_acc=True)[0, 0] == 0x3EAB


def gamma(n, u):
    return n * u / (1 - n * u)


U16, U32, ETA = 2.0 ** -11, 2.0 ** -24, 2.0 ** -25


def test_golden_within_error_bounds_of_float64():
    """docs/gnn.md's bounds, every row and feature, float64 (exact for these sums) as the reference."""
    rng = np.random.default_rng(64)
    n, f = 300, 8
    graph = random_graph(rng, n, 120)
    # |x| <= 256 and |w| <= 1 with at most 120 terms: no partial sum comes near 65504.
    x = golden.to_bits(np.minimum(rng.lognormal(0, 2, (n, f)), 256) * rng.choice([-1, 1], (n, f)))
    subnormal = rng.random((n, f)) < 0.1                          # (no absolute error term for sums)
    x[subnormal] = rng.integers(1, 0x0400, subnormal.sum())
    w = golden.to_bits(rng.uniform(-1, 1, graph.nnz))
    xf, wf = h(x).astype(np.float64), h(w).astype(np.float64)
    deg = graph.in_degree
    rows = graph.edge_rows()
    exact_sum = np.zeros((n, f))
    np.add.at(exact_sum, rows, xf[graph.indices])                 # exact: 40-bit values, < 2**13 terms
    abs_sum = np.zeros((n, f))
    np.add.at(abs_sum, rows, np.abs(xf[graph.indices]))
    products = wf[:, None] * xf[graph.indices]                    # exact in float64 (22 bits)
    exact_weighted = np.array([[math.fsum(products[graph.indptr[r]:graph.indptr[r + 1], j]) for j in range(f)]
                               for r in range(n)])
    abs_products = np.zeros((n, f))
    np.add.at(abs_products, rows, np.abs(products))
    d = deg[:, None].astype(np.float64)

    y = h(golden.aggregate_fp16(graph, x, "sum")).astype(np.float64)
    error16 = np.abs(y - exact_sum)
    assert (error16 <= gamma(np.maximum(d - 1, 0), U16) * abs_sum).all()

    y = h(golden.aggregate_fp16(graph, x, "weighted", w)).astype(np.float64)
    bound = gamma(d, U16) * abs_products + d * ETA * (1 + gamma(np.maximum(d - 1, 0), U16))
    assert (np.abs(y - exact_weighted) <= bound * (1 + 2.0 ** -40)).all()   # fsum's own rounding: 2**-53

    y = h(golden.aggregate_fp16(graph, x, "mean")).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(d > 0, exact_sum / np.maximum(d, 1), 0.0)
        bound = np.where(d > 0, gamma(d + 1, U16) * abs_sum / np.maximum(d, 1) + ETA, 0.0)
    assert (np.abs(y - mean) <= bound * (1 + 2.0 ** -40)).all()

    y = h(golden.aggregate_fp16(graph, x, "sum", fp32_acc=True)).astype(np.float64)
    bound32 = U16 * np.abs(exact_sum) + (1 + U16) * gamma(np.maximum(d - 1, 0), U32) * abs_sum + ETA
    assert (np.abs(y - exact_sum) <= bound32).all()
    # Not vacuous: the fp16 accumulator misses the fp32 option's bound on many rows, and its own bound is not
    # loose by orders of magnitude.
    assert (error16 > bound32).sum() > 50
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(d > 1, error16 / (gamma(d - 1, U16) * abs_sum), 0)
    assert ratio.max() > 0.25


def test_golden_input_checks():
    graph = csr([[0], [1]])
    with pytest.raises(TypeError, match="features must be binary16 bit patterns \\(integers\\), not an array of "
                                        "dtype float64"):
        golden.aggregate_fp16(graph, np.zeros((2, 1)), "sum")
    with pytest.raises(ValueError, match="features must be binary16 bit patterns in 0..65535, but "
                                         "features\\[1, 0\\] is 65536"):
        golden.aggregate_fp16(graph, [[0], [65536]], "sum")
    with pytest.raises(ValueError, match="features must be a 2-D array, not an array of shape \\(2,\\)"):
        golden.aggregate_fp16(graph, [0, 0], "sum")
    with pytest.raises(ValueError, match="the weighted op needs edge weights"):
        golden.aggregate_fp16(graph, [[0], [0]], "weighted")
    with pytest.raises(ValueError, match="weights must have one entry per edge"):
        golden.aggregate_fp16(graph, [[0], [0]], "weighted", weights=[0x3C00])
    with pytest.raises(ValueError, match="op must be one of"):
        golden.aggregate_fp16(graph, [[0], [0]], "min")
    # float16 input is taken as is.
    assert golden.aggregate_fp16(graph, np.array([[1.5], [2]], dtype=F16), "sum")[1, 0] == 0x4000
