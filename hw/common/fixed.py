"""Fixed-point helpers for gateware: fit a signed value into fewer bits by saturation or wrap."""

from amaranth.hdl import Mux

__all__ = ["fit_signed"]


def fit_signed(value, bits, saturate):
    """``value`` (a signed Value) fitted into ``bits`` bits; assign the result to a ``signed(bits)`` signal.

    With ``saturate`` it is clamped to ``[-2**(bits-1), 2**(bits-1) - 1]``; otherwise the low ``bits`` bits are kept
    (two's-complement wrap). Purely combinational.
    """
    if len(value) <= bits:
        return value
    wrapped = value[:bits].as_signed()
    if not saturate:
        return wrapped
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return Mux(value > hi, hi, Mux(value < lo, lo, wrapped))
