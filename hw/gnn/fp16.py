"""IEEE 754 binary16 and binary32 arithmetic for the GNN engine's ``fp16`` format (docs/gnn.md, "fp16 format").

Every unit is a function ``unit(m, a, b, *, name=None) -> Signal``: it adds a submodule of purely combinational
logic to the Module ``m`` (named ``name``, which must then be unique in ``m``, or anonymous) and returns the signal
that carries the result. Inputs are Values holding bit patterns (``unsigned(16)`` for binary16, ``unsigned(32)`` for
binary32), outputs are ``unsigned`` signals of the result format's width. Latency 0: a lane can add one term per
cycle with its accumulator fed back through a register. (A submodule per unit also keeps Amaranth's simulator fast:
it re-evaluates a fragment's combinational code once per delta cycle, so a deep unit inlined into a large module
would re-run that whole module's code once per level of the unit.)

Semantics (all units): round to nearest, ties to even; subnormal operands and results as IEEE specifies (no flush to
zero); overflow to infinity; ``x + (-x) = +0``, ``(-0) + (-0) = -0``; a product's sign is the XOR of the operands'
signs; ``inf - inf`` and ``0 * inf`` are NaN; every NaN result is the canonical quiet NaN (``0x7E00`` for binary16,
``0x7FC00000`` for binary32), whatever the NaN operands were.

How: operands are unpacked to a significand with its hidden bit and an effective exponent (1 for subnormals). Adders
swap the operands so that the larger magnitude comes first, align the smaller one with guard, round and sticky bits,
add or subtract, and hand the sum to the shared round-and-pack step; multipliers hand it the exact product. That step
normalises with a log-depth left shifter that stops at the smallest exponent (a sentinel bit derived from the
exponent steers it, so subnormal results come out directly), shifts right with a sticky bit where the exponent is
below the smallest one (products and narrowing conversions), rounds to nearest even by incrementing the packed
exponent-and-fraction, so that a rounding carry moves into the exponent and an overflow lands on the infinity code.
Special operands (NaN, infinities) are muxed in at the end.

Size and speed of each unit (ECP5 and iCE40 cells, the clock of an accumulator loop) are in docs/gnn.md.
"""

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.utils import bits_for, ceil_log2

__all__ = [
    "FloatFormat", "FP16", "FP32",
    "fp16_add", "fp16_mul", "fp16_max", "fp16_canonical", "fp16_to_fp32", "fp16_mul_to_fp32",
    "fp32_add", "fp32_mul", "fp32_to_fp16",
    "reciprocal_rom",
]


@dataclass(frozen=True)
class FloatFormat:
    """An IEEE 754 binary interchange format: 1 sign bit, ``ebits`` exponent bits, ``mbits`` fraction bits."""

    ebits: int
    mbits: int

    @property
    def width(self):
        """Bits of a value: ``1 + ebits + mbits``."""
        return 1 + self.ebits + self.mbits

    @property
    def bias(self):
        """Exponent bias, ``2**(ebits-1) - 1``."""
        return (1 << (self.ebits - 1)) - 1

    @property
    def emax_field(self):
        """The all-ones exponent field of infinities and NaNs."""
        return (1 << self.ebits) - 1

    @property
    def inf(self):
        """Bit pattern of ``+inf`` (the magnitude of ``-inf`` too)."""
        return self.emax_field << self.mbits

    @property
    def qnan(self):
        """The canonical quiet NaN: positive, quiet bit set, no payload."""
        return self.inf | (1 << (self.mbits - 1))


#: IEEE binary16 (half precision).
FP16 = FloatFormat(5, 10)
#: IEEE binary32 (single precision).
FP32 = FloatFormat(8, 23)


# Building blocks.

def _wire(m, value, shape, name):
    """A signal of ``shape`` driven by ``value`` in ``m.d.comb`` (so a shared subexpression is built once)."""
    sig = Signal(shape, name=name)
    m.d.comb += sig.eq(value)
    return sig


class _Unpacked:
    """Fields of a value of ``fmt``: sign, significand with its hidden bit (``man``), effective exponent ``e``
    (the exponent field, or 1 for zeros and subnormals), and the flags ``zero``, ``inf``, ``nan``."""

    def __init__(self, m, x, fmt, name):
        exp = x[fmt.mbits:fmt.mbits + fmt.ebits]
        frac = x[:fmt.mbits]
        normal = exp != 0
        special = exp == fmt.emax_field
        self.sign = x[fmt.width - 1]
        self.man = _wire(m, Cat(frac, normal), fmt.mbits + 1, f"{name}_man")
        self.e = _wire(m, Mux(normal, exp, 1), fmt.ebits, f"{name}_e")
        self.zero = x[:fmt.width - 1] == 0
        self.inf = _wire(m, special & (frac == 0), 1, f"{name}_inf")
        self.nan = _wire(m, special & (frac != 0), 1, f"{name}_nan")


def _normalise(m, v, e, name):
    """Shift ``v`` left until its top bit is set or the exponent ``e`` (signed) reaches 1, and lower ``e`` by the
    shift: returns ``(v', e')``. The shift is ``min(leading zeros of v, e - 1)`` (0 for ``e <= 1``).

    For speed the exponent stays out of the shifter: a sentinel bit at the position the leading one would have at
    ``e = 1`` (computed from ``e`` alone, off the critical path) is ORed into a copy of ``v`` that steers the
    stages (2**j bits, largest first: shift when the top 2**j bits are zero), and ``e`` is lowered once at the end.
    """
    width = len(v)
    stages = [1 << j for j in reversed(range(bits_for(width - 1)))]       # they add up to at least width - 1
    limit = _wire(m, Mux(e < 1, 0, Mux(e > width, width, e - 1)), ceil_log2(width + 1), f"{name}_limit")
    probe = v | (Const(1 << (width - 1), width) >> limit)
    taken = []
    for k in stages:
        take = _wire(m, probe[width - k:] == 0, 1, f"{name}_take{k}")
        v = _wire(m, Mux(take, v << k, v), width, f"{name}_nv{k}")
        probe = _wire(m, Mux(take, probe << k, probe), width, f"{name}_np{k}")
        taken.append(take)
    shift = Cat(*reversed(taken))                                       # bit j: the stage of 2**j bits shifted
    return v, _wire(m, e - shift, e.shape(), f"{name}_ne")


def _shift_right_sticky(m, v, amount, name):
    """``(v >> amount, bits shifted out != 0)`` for an unsigned ``amount`` of any size."""
    width = len(v)
    amt_bits = ceil_log2(width + 1)                   # amounts from 2**amt_bits > width up shift everything out
    low = amount[:amt_bits]
    shifted = v >> low
    lost = (v & ~(Const((1 << width) - 1, width) << low)[:width]) != 0
    if len(amount) > amt_bits:
        out_of_range = amount[amt_bits:] != 0
        shifted = Mux(out_of_range, 0, shifted)
        lost = Mux(out_of_range, v != 0, lost)
    return _wire(m, shifted, width, f"{name}_shr"), _wire(m, lost, 1, f"{name}_lost")


def _round_pack(m, sign, e, v, fmt, *, normalise, denormalise, name="rnd"):
    """Round ``(-1)**sign * v * 2**(e - fmt.bias - (len(v) - 1))`` to ``fmt`` (RNE) and pack it.

    The top bit of ``v`` weighs ``2**(e - bias)``: ``e`` is the biased exponent the value has when that bit is its
    leading one. Bit 0 of ``v`` may be a sticky bit (the OR of everything below it) as long as it stays below the
    guard bit, i.e. ``len(v) - fmt.mbits - 3`` is at least the normalising shift.

    Parameters
    ----------
    m : Module
    sign : Value, 1 bit
        Sign of the result, zero included.
    e : Value
        Biased exponent of the top bit of ``v``.
    v : Value, unsigned
        Magnitude bits. ``v == 0`` gives a zero of sign ``sign``.
    fmt : FloatFormat
        Result format.
    normalise : bool
        Shift ``v`` left until its top bit is set or ``e`` reaches 1 (needed when ``v`` can have leading zeros
        while ``e > 1``). With ``normalise=False`` the caller guarantees that, or that ``e < 1``.
    denormalise : bool
        Shift right with a sticky bit while ``e < 1`` (needed when ``e`` can be below 1: products, narrowing).
        With ``denormalise=False`` the caller guarantees ``e >= 1``.

    Returns
    -------
    Signal, unsigned(fmt.width)
        The rounded value; ``±inf`` on overflow, a subnormal or ``±0`` on underflow. Never NaN: the caller muxes
        in special operands.
    """
    e = _wire(m, e, signed(len(e) + 1), f"{name}_e0")
    is_zero = _wire(m, v == 0, 1, f"{name}_zero")
    if normalise:
        v, e = _normalise(m, v, e, name)
    guard_pos = fmt.mbits + 3
    if len(v) < guard_pos:
        v = Cat(Const(0, guard_pos - len(v)), v)
    if denormalise:
        tiny = e < 1
        amount = _wire(m, Mux(tiny, 1 - e, 0), len(e), f"{name}_dn")
        v, lost = _shift_right_sticky(m, v, amount, name)
        v = Cat(v[0] | lost, v[1:])
        e = _wire(m, Mux(tiny, 1, e), e.shape(), f"{name}_e1")
    width = len(v)
    keep = v[width - fmt.mbits - 1:]                  # hidden bit and fraction
    guard = v[width - fmt.mbits - 2]
    rest = v[:width - fmt.mbits - 2] != 0
    up = guard & (rest | keep[0])
    # Without its hidden bit the value is subnormal and e is 1 here, so the exponent field is e or 0; a rounding
    # carry out of the fraction moves into the exponent (a subnormal becomes the smallest normal, 1.11..1 becomes
    # 10.0 with the exponent one higher, the largest finite value becomes infinity).
    field = Mux(keep[fmt.mbits], e, 0)
    enc = _wire(m, Cat(keep[:fmt.mbits], field[:len(e) - 1]) + up, fmt.mbits + len(e), f"{name}_enc")
    overflow = (enc[fmt.mbits:fmt.mbits + fmt.ebits] == fmt.emax_field) | (enc[fmt.mbits + fmt.ebits:] != 0)
    mag = Mux(is_zero, 0, Mux(overflow, fmt.inf, enc[:fmt.width - 1]))
    return _wire(m, Cat(mag, sign), fmt.width, f"{name}_out")


# Adders and multipliers.

def _submodule(m, name):
    """A fresh Module for one unit, added to ``m`` as submodule ``name`` (anonymous when ``name`` is None)."""
    sub = Module()
    if name is None:
        m.submodules += sub
    else:
        m.submodules[name] = sub
    return sub


def _add(m, a, b, fmt):
    width = fmt.width
    swap = b[:width - 1] > a[:width - 1]
    big_bits = _wire(m, Mux(swap, b, a), width, "big")
    small_bits = _wire(m, Mux(swap, a, b), width, "small")
    big = _Unpacked(m, big_bits, fmt, "x")
    small = _Unpacked(m, small_bits, fmt, "y")
    sub = a[width - 1] ^ b[width - 1]
    # Significands with 3 bits below (guard, round, sticky); the smaller one aligned, lost bits ORed into bit 0.
    diff = _wire(m, big.e - small.e, fmt.ebits, "diff")
    aligned, lost = _shift_right_sticky(m, Cat(Const(0, 3), small.man), diff, "align")
    y = Cat(aligned[0] | lost, aligned[1:])
    x = Cat(Const(0, 3), big.man)
    total = _wire(m, Mux(sub, x - y, x + y), fmt.mbits + 5, "sum")
    # An exact zero is +0 unless both operands are -0 (round to nearest).
    sign = Mux(total == 0, a[width - 1] & b[width - 1], big.sign)
    rounded = _round_pack(m, sign, big.e + 1, total, fmt, normalise=True, denormalise=False)
    nan = big.nan | (big.inf & small.inf & sub)
    return _wire(m, Mux(nan, fmt.qnan, Mux(big.inf, big_bits, rounded)), width, "result")


def _mul(m, a, b, fmt, out_fmt, *, denormalise=True):
    x = _Unpacked(m, a, fmt, "a")
    y = _Unpacked(m, b, fmt, "b")
    sign = x.sign ^ y.sign
    product = _wire(m, x.man * y.man, 2 * fmt.mbits + 2, "product")
    # The product's top bit weighs 2**(ea + eb - 2 * bias + 1) (unbiased); rebias for the output format.
    e = x.e + y.e - 2 * fmt.bias + 1 + out_fmt.bias
    rounded = _round_pack(m, sign, e, product, out_fmt, normalise=True, denormalise=denormalise)
    nan = x.nan | y.nan | (x.inf & y.zero) | (y.inf & x.zero)
    inf = Cat(Const(out_fmt.inf, out_fmt.width - 1), sign)
    return _wire(m, Mux(nan, out_fmt.qnan, Mux(x.inf | y.inf, inf, rounded)), out_fmt.width, "result")


def fp16_add(m, a, b, *, name=None):
    """``fl16(a + b)``: binary16 addition, RNE, subnormals, signed zeros, infinities, canonical NaN ``0x7E00``.

    Parameters
    ----------
    m : Module
        The module that gets the unit as a submodule.
    a, b : Value, unsigned(16)
        Binary16 bit patterns.
    name : str, optional
        Name of the submodule (unique in ``m``); anonymous by default.

    Returns
    -------
    Signal, unsigned(16)
        The sum, combinationally (latency 0).
    """
    return _add(_submodule(m, name), a, b, FP16)


def fp32_add(m, a, b, *, name=None):
    """``fl32(a + b)``: binary32 addition, same semantics as :func:`fp16_add` (canonical NaN ``0x7FC00000``).

    ``a``, ``b``: ``unsigned(32)`` bit patterns; returns an ``unsigned(32)`` signal, latency 0.
    """
    return _add(_submodule(m, name), a, b, FP32)


def fp16_mul(m, a, b, *, name=None):
    """``fl16(a * b)``: binary16 multiplication (11 x 11 bit significand product), RNE, subnormal results,
    overflow to infinity, ``0 * inf`` = NaN, sign = XOR of the signs, canonical NaN ``0x7E00``.

    ``a``, ``b``: ``unsigned(16)`` bit patterns; returns an ``unsigned(16)`` signal, latency 0.
    """
    return _mul(_submodule(m, name), a, b, FP16, FP16)


def fp32_mul(m, a, b, *, name=None):
    """``fl32(a * b)``: binary32 multiplication (24 x 24 bit significand product), semantics of :func:`fp16_mul`.

    ``a``, ``b``: ``unsigned(32)`` bit patterns; returns an ``unsigned(32)`` signal, latency 0.
    """
    return _mul(_submodule(m, name), a, b, FP32, FP32)


def fp16_mul_to_fp32(m, a, b, *, name=None):
    """The exact product of two binary16 values as binary32 (never rounds: 22 significand bits, and
    ``2**-48 <= |a * b| < 2**32`` lies in the normal binary32 range). ``0 * inf`` and NaN operands give
    ``0x7FC00000``. For the weighted op with the fp32 accumulator.

    ``a``, ``b``: ``unsigned(16)`` bit patterns; returns an ``unsigned(32)`` signal, latency 0.
    """
    return _mul(_submodule(m, name), a, b, FP16, FP32, denormalise=False)


def fp16_to_fp32(m, a, *, name=None):
    """Exact binary16 -> binary32 conversion (subnormals become normal; NaN becomes ``0x7FC00000``).

    ``a``: ``unsigned(16)``; returns an ``unsigned(32)`` signal, latency 0.
    """
    m = _submodule(m, name)
    x = _Unpacked(m, a, FP16, "a")
    e = x.e + (FP32.bias - FP16.bias)
    converted = _round_pack(m, x.sign, e, x.man, FP32, normalise=True, denormalise=False)
    inf = Cat(Const(FP32.inf, 31), x.sign)
    return _wire(m, Mux(x.nan, FP32.qnan, Mux(x.inf, inf, converted)), 32, "result")


def fp32_to_fp16(m, a, *, name=None):
    """``fl16(a)``: binary32 -> binary16, RNE, overflow to ``±inf`` (``|a| >= 65520``), subnormal and zero results
    keep the sign, NaN becomes ``0x7E00``.

    ``a``: ``unsigned(32)``; returns an ``unsigned(16)`` signal, latency 0.
    """
    m = _submodule(m, name)
    x = _Unpacked(m, a, FP32, "a")
    e = x.e - (FP32.bias - FP16.bias)
    rounded = _round_pack(m, x.sign, e, x.man, FP16, normalise=False, denormalise=True)
    inf = Cat(Const(FP16.inf, 15), x.sign)
    return _wire(m, Mux(x.nan, FP16.qnan, Mux(x.inf, inf, rounded)), 16, "result")


def fp16_canonical(m, a, *, name=None):
    """``a`` with any NaN replaced by the canonical ``0x7E00``; every other pattern (``-0``, subnormals, infinities)
    unchanged. For values that reach the result without passing through a unit: the first term of a row, which
    starts the accumulator as it is.

    ``a``: ``unsigned(16)``; returns an ``unsigned(16)`` signal, latency 0.
    """
    m = _submodule(m, name)
    nan = (a[10:15] == 0x1F) & (a[:10] != 0)
    return _wire(m, Mux(nan, FP16.qnan, a), 16, "result")


def fp16_max(m, acc, t, *, name=None):
    """NumPy's ``np.maximum(acc, t)`` on binary16: ``acc`` unless ``t`` is strictly greater (IEEE order, so
    ``-0 == +0`` and a tie keeps ``acc``, the earlier value of the row); NaN (``0x7E00``) if either is NaN.

    ``acc``, ``t``: ``unsigned(16)`` bit patterns; returns an ``unsigned(16)`` signal, latency 0.
    """
    m = _submodule(m, name)

    def key(x):          # order-preserving map of non-NaN bit patterns to unsigned integers (-0 just below +0)
        return Mux(x[15], ~x, x | 0x8000)[:16]

    both_zero = (acc[:15] == 0) & (t[:15] == 0)
    nan = ((acc[10:15] == 0x1F) & (acc[:10] != 0)) | ((t[10:15] == 0x1F) & (t[:10] != 0))
    greater = (key(t) > key(acc)) & ~both_zero
    return _wire(m, Mux(nan, FP16.qnan, Mux(greater, t, acc)), 16, "result")


# The mean op's reciprocal ROM, computed with exact integers (independently of NumPy and of the golden).

def _round_ratio(num, den, fmt):
    """Bit pattern of ``num / den >= 0`` (integers) rounded to ``fmt``: RNE, subnormals, overflow to infinity."""
    if num == 0:
        return 0
    e = num.bit_length() - den.bit_length()          # 2**e <= num/den < 2**(e+1), after the correction
    if (num << max(-e, 0)) < (den << max(e, 0)):
        e -= 1
    e = max(e, 1 - fmt.bias)                          # subnormals share the smallest normal exponent
    shift = fmt.mbits - e                             # significand = num/den * 2**shift, to be rounded
    scaled_num, scaled_den = num << max(shift, 0), den << max(-shift, 0)
    n, rem = divmod(scaled_num, scaled_den)
    if 2 * rem > scaled_den or (2 * rem == scaled_den and n % 2):
        n += 1
    return min(((e + fmt.bias - 1) << fmt.mbits) + n, fmt.inf)


def reciprocal_rom(max_degree, fmt=FP16):
    """ROM contents of the mean op: the bit patterns of ``fl(1 / d)`` in ``fmt`` for ``d = 0 .. max_degree``,
    with entry 0 = ``+0`` (an empty row's mean is ``+0``).

    Parameters
    ----------
    max_degree : int
        Largest in-degree, ``>= 1``.
    fmt : FloatFormat
        :data:`FP16` (``R16``) or :data:`FP32` (``R32``, for the fp32 accumulator).

    Raises
    ------
    TypeError
        If ``max_degree`` is not an integer or ``fmt`` not a FloatFormat.
    ValueError
        If ``max_degree`` is below 1.
    """
    if isinstance(max_degree, bool) or not isinstance(max_degree, int):
        raise TypeError(f"Max degree must be an integer, not {max_degree!r}")
    if max_degree < 1:
        raise ValueError(f"Max degree must be at least 1, not {max_degree}")
    if not isinstance(fmt, FloatFormat):
        raise TypeError(f"Format must be a FloatFormat, not {fmt!r}")
    return [0] + [_round_ratio(1, d, fmt) for d in range(1, max_degree + 1)]
