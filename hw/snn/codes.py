"""The SNN engine's codes: scheduling mode, reset mode, errors. One ``amaranth.lib.enum`` each, used by the hardware,
written into the manifest by name and used by the driver; no literal codes anywhere else."""

from amaranth.lib import enum

__all__ = ["SnnMode", "SnnReset", "SnnError", "SNN_ERROR_MEANINGS", "PacketKind"]


class SnnMode(enum.Enum, shape=1):
    """``MODE``: member names are the upper-case names of :data:`pimgen.snn.config.SNN_MODES`, in order."""
    ASYNC = 0
    SYNC = 1


class SnnReset(enum.Enum, shape=1):
    """``RESET[k]``: member names are the upper-case names of :data:`pimgen.snn.config.RESET_MODES`, in order."""
    ZERO = 0
    SUBTRACT = 1


class PacketKind(enum.Enum, shape=1):
    """``kind`` of a router packet (docs/snn.md): ``SPIKE`` carries one spike for ``axon`` of the destination core,
    to be integrated in step ``tag``; ``TOKEN`` says its source has sent every spike of its step ``tag`` (and of all
    earlier steps) to that core."""
    SPIKE = 0
    TOKEN = 1


class SnnError(enum.Enum, shape=8):
    """``STATUS.error`` of the SNN engine."""
    NONE = 0
    NUM_STEPS = 1
    SPIKE_OVERFLOW = 2


SNN_ERROR_MEANINGS = {
    SnnError.NUM_STEPS: "NUM_STEPS is 0 or larger than max_steps (nothing runs)",
    SnnError.SPIKE_OVERFLOW: "a core spiked more than max_spikes times (run completed; its record holds the first "
                             "max_spikes)",
}
