"""Small arithmetic helpers for gateware: fitting signed values, comparisons against constant limits."""

from amaranth.hdl import Const, Mux

__all__ = ["fit_signed", "above"]


def above(value, limit):
    """``value > limit`` for an unsigned ``value`` and a constant ``limit``.

    When ``limit`` is at least the largest value ``value`` can hold the comparison is constant false; it is then
    not emitted at all, which keeps Verilator's CMPCONST lint quiet for limits such as ``max_nodes = 255``.
    """
    if limit >= (1 << len(value)) - 1:
        return Const(0)
    return value > limit


def fit_signed(value, bits, saturate):
    """``value`` (a signed Value) fitted into ``bits`` bits; assign the result to a ``signed(bits)`` signal.

    With ``saturate`` it is clamped to ``[-2**(bits-1), 2**(bits-1) - 1]``; otherwise the low ``bits`` bits are kept
    (two's-complement wrap). Purely combinational.
    """
    if not value.shape().signed:
        raise TypeError(f"fit_signed needs a signed value, not {value.shape()!r}")
    if len(value) <= bits:
        return value
    wrapped = value[:bits].as_signed()
    if not saturate:
        return wrapped
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value > hi, hi, Mux(value < lo, lo, wrapped))
