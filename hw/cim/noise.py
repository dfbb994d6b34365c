"""The tile's deterministic noise source: a counter-based generator (docs/cim.md, noise)."""

from amaranth.hdl import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from pimgen.cim.config import NOISE_FRAC_BITS, CimConfig
from .arith import MIX32_MULTIPLIERS, byte_sum, mix32, round_half_even_shift

__all__ = ["NoiseGenerator", "NOISE_LATENCY", "noise_key"]

#: Cycles from ``counter`` to ``noise``.
NOISE_LATENCY = 3


def noise_key(seed):
    """``mix32(seed)`` in Python: the generator's key, a constant of the config."""
    x = seed & 0xFFFF_FFFF
    for shift, mult in zip((16, 15), MIX32_MULTIPLIERS):
        x ^= x >> shift
        x = (x * mult) & 0xFFFF_FFFF
    return x ^ (x >> 16)


class NoiseGenerator(wiring.Component):
    """``noise = round_half_even(s * scale / 2**16)`` with ``s`` the byte sum of ``mix32(mix32(counter) ^ key)`` less
    510 (``sw_model.cim.noise``). No state: the same counter always gives the same value.

    Parameters
    ----------
    config : CimConfig
        Gives ``key = mix32(noise_seed)`` and ``scale`` (:attr:`CimConfig.noise_scale`).

    Interface attributes
    --------------------
    counter : In(32)
        ``(v << 14) | (i << 11) | (j << 8) | c`` of a conversion.
    noise : Out(signed)
        Its noise, :data:`NOISE_LATENCY` cycles later (fully pipelined: a new counter every cycle).
    """

    def __init__(self, config):
        if not isinstance(config, CimConfig):
            raise TypeError(f"Config must be a CimConfig, not {config!r}")
        self._key = noise_key(config.noise_seed)
        self._scale = config.noise_scale
        width = 11 + self._scale.bit_length() + 1 - NOISE_FRAC_BITS + 1
        super().__init__({"counter": In(32), "noise": Out(signed(max(width, 2)))})

    def elaborate(self, platform):
        m = Module()
        first = Signal(32)
        second = Signal(32)
        m.d.sync += [first.eq(mix32(self.counter)), second.eq(mix32(first ^ self._key))]
        sample = Signal(signed(11))
        m.d.comb += sample.eq(byte_sum(second).as_signed() - 510)
        product = Signal(signed(11 + self._scale.bit_length() + 1))
        m.d.comb += product.eq(sample * self._scale)
        m.d.sync += self.noise.eq(round_half_even_shift(product, NOISE_FRAC_BITS))
        return m


