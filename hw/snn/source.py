"""The input source: replays the host's spike trains into the router, one timestep at a time."""

from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from pimgen.snn.config import SnnConfig
from .emitter import FanoutEmitter
from .layouts import fanout_entry_layout, routed_layout
from .util import read_port, send_tokens

__all__ = ["InputSource"]


class InputSource(wiring.Component):
    """Source ``K`` of the SNN engine: in step ``t`` the input neurons ``neurons[ptr[t]:ptr[t + 1]]`` spike and are
    routed through the input fan-out table; then a token goes to every core that receives from it.

    Parameters
    ----------
    config : SnnConfig
        Gives the window sizes (``max_steps``, ``max_input_spikes``, ``input_neurons``, ``max_fanout``) and the
        number of cores (the source's number, K, and its token destinations).

    Interface attributes
    --------------------
    in_ptr, in_neurons, fanout_ptr, fanout : Out(read_port)
        The source's windows.
    send : Out(stream.Signature(routed_layout))
    run : In(1), num_steps : In, successors : In(cores), may_start : In(1)
        As for a core (:class:`~hw.snn.core.NeuronCore`): the engine resets the source when a run starts or is
        aborted, and holds ``num_steps`` for the whole run.
    step, done_step : Out(signed); finished : Out(1)

    Latency and throughput
    ----------------------
    After the reset cycle the source waits for its scheduler from the next cycle on. A step takes, with no back
    pressure, ``sum over its input spikes of (5 + fan-out) + cores + 6`` cycles (``pimgen.snn.perf.source_work``):
    one cycle in ``WAIT`` sampling ``may_start``, two offset reads (``FIRST``, ``LAST``), per input spike one read of
    its neuron (``NEXT``), the emitter's start (``START``) and the emitter's ``3 + fan-out`` cycles until it is seen
    idle (``EMIT``), one more ``NEXT`` that finds the list done, ``cores + 1`` cycles of ``TOKENS`` (one per core,
    sent or not, and the check that ends them) and ``DONE``.

    Raises
    ------
    TypeError
        ``config`` is not an :class:`SnnConfig`.
    """

    def __init__(self, config):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        cfg = self._config = config
        step = signed(cfg.step_bits)
        super().__init__({
            "in_ptr": Out(read_port(range(cfg.max_steps + 1), unsigned(ceil_log2(cfg.max_input_spikes + 1)))),
            "in_neurons": Out(read_port(range(max(cfg.max_input_spikes, 2)),
                                        unsigned(max(ceil_log2(cfg.input_neurons), 1)))),
            "fanout_ptr": Out(read_port(range(cfg.input_neurons + 1), unsigned(ceil_log2(cfg.max_fanout + 1)))),
            "fanout": Out(read_port(range(max(cfg.max_fanout, 2)), fanout_entry_layout(cfg))),
            "send": Out(stream.Signature(routed_layout(cfg))),
            "run": In(1),
            "num_steps": In(range(cfg.max_steps + 1)),
            "successors": In(cfg.cores),
            "may_start": In(1),
            "step": Out(step),
            "done_step": Out(step, init=-1),
            "finished": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        step = self.step
        spike = Signal(range(cfg.max_input_spikes + 1))
        end = Signal(range(cfg.max_input_spikes + 1))
        token_dest = Signal(range(cfg.cores + 1))
        m.submodules.emitter = emitter = FanoutEmitter(cfg, cfg.input_neurons, cfg.cores)
        wiring.connect(m, wiring.flipped(self.fanout_ptr), emitter.fanout_ptr)
        wiring.connect(m, wiring.flipped(self.fanout), emitter.fanout)
        m.d.comb += [emitter.step.eq(step.as_unsigned()), emitter.neuron.eq(self.in_neurons.data),
                     self.send.payload.eq(emitter.send.payload), self.send.valid.eq(emitter.send.valid),
                     emitter.send.ready.eq(self.send.ready)]
        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.run):
                    m.next = "WAIT"
            with m.State("WAIT"):
                with m.If(step >= self.num_steps):
                    m.next = "FINISHED"
                with m.Elif(self.may_start):
                    m.d.comb += [self.in_ptr.addr.eq(step.as_unsigned()), self.in_ptr.en.eq(1)]
                    m.next = "FIRST"
            with m.State("FIRST"):
                m.d.comb += [self.in_ptr.addr.eq(step.as_unsigned() + 1), self.in_ptr.en.eq(1)]
                m.d.sync += spike.eq(self.in_ptr.data)
                m.next = "LAST"
            with m.State("LAST"):
                m.d.sync += end.eq(self.in_ptr.data)
                m.next = "NEXT"
            with m.State("NEXT"):                                   # read the next spiking neuron
                with m.If(spike == end):
                    m.d.sync += token_dest.eq(0)
                    m.next = "TOKENS"
                with m.Else():
                    m.d.comb += [self.in_neurons.addr.eq(spike), self.in_neurons.en.eq(1)]
                    m.next = "START"
            with m.State("START"):
                m.d.comb += emitter.start.eq(1)
                m.d.sync += spike.eq(spike + 1)
                m.next = "EMIT"
            with m.State("EMIT"):
                with m.If(~emitter.busy):
                    m.next = "NEXT"
            with m.State("TOKENS"):
                send_tokens(m, self.send, self.successors, token_dest, cfg.cores, step, "DONE")
            with m.State("DONE"):
                m.d.sync += [self.done_step.eq(step), step.eq(step + 1)]
                m.next = "WAIT"
            with m.State("FINISHED"):
                m.d.comb += self.finished.eq(1)
        return m
