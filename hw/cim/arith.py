"""Arithmetic of the CiM datapath as combinational Amaranth expressions: rounding shifts, a pipelined adder tree, the
noise hash. Each has the golden model's counterpart named in its docstring."""

from amaranth.hdl import Cat, Const, Signal, signed

__all__ = ["round_half_even_shift", "pipelined_sum", "mix32", "byte_sum", "MIX32_MULTIPLIERS"]

#: The two multipliers of the lowbias32 hash (docs/cim.md, noise).
MIX32_MULTIPLIERS = (0x7FEB352D, 0x846CA68B)


def round_half_even_shift(value, shift):
    """``round_half_even(value / 2**shift)`` of a signed ``value`` (``sw_model.cim.round_half_even_shift``)."""
    if shift == 0:
        return value
    if len(value) <= shift:                         # sign-extend, so that the remainder below has all its bits
        value = Cat(value, value[-1].replicate(shift + 1 - len(value))).as_signed()
    floor = value >> shift                          # arithmetic shift of a signed value: the floor
    rest = value.as_unsigned()[:shift]
    half = 1 << (shift - 1)
    up = (rest > half) | ((rest == half) & floor[0])
    return floor + up


def pipelined_sum(m, values, name, levels_per_stage=2):
    """The sum of ``values`` (signed Values) by a binary adder tree with a register after every ``levels_per_stage``
    levels (and after the last); returns ``(total, stages)``: the registered total and the cycles it lags the
    inputs (at least 1)."""
    level = list(values)
    stages = depth = 0
    while True:
        if len(level) > 1:
            level = [level[k] + level[k + 1] if k + 1 < len(level) else level[k] for k in range(0, len(level), 2)]
            depth += 1
        if len(level) == 1 or depth % levels_per_stage == 0:
            registered = []
            for k, v in enumerate(level):
                r = Signal(signed(len(v) + (0 if v.shape().signed else 1)), name=f"{name}_s{stages}_{k}")
                m.d.sync += r.eq(v)
                registered.append(r)
            level = registered
            stages += 1
            if len(level) == 1:
                return level[0], stages


def mix32(x):
    """The lowbias32 hash of a 32-bit unsigned Value (``sw_model.cim.mix32``): two constant multiplies mod 2**32."""
    a, b = MIX32_MULTIPLIERS
    x = x ^ (x >> 16)
    x = (x * a)[:32]
    x = x ^ (x >> 15)
    x = (x * b)[:32]
    return x ^ (x >> 16)


def byte_sum(x):
    """Sum of the four bytes of a 32-bit Value (10 bits)."""
    return sum((x[8 * k:8 * k + 8] for k in range(4)), Const(0, 10))

