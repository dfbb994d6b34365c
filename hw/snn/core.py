"""A neuron core: receives spike packets into step slots, and when its scheduler lets it, runs one timestep of its
integer LIF neurons and sends their spikes."""

import numbers

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from pimgen.snn.config import SnnConfig
from ..common.fixed import fit_signed
from .codes import PacketKind, SnnReset
from .emitter import FanoutEmitter
from .layouts import fanout_entry_layout, packet_layout, routed_layout, spike_record_layout
from .util import pick, read_port, send_tokens, write_port

__all__ = ["NeuronCore"]


class NeuronCore(wiring.Component):
    """Core ``index`` of the SNN engine (docs/snn.md).

    The receive side takes one packet per cycle, always: a spike goes into the list of its step's slot (``step_slots``
    rounded up to a power of two, indexed by the tag's low bits), a token updates ``token_from[source]``. The compute
    side runs a step when ``may_start`` (the engine's scheduler) allows it:

    ========  ==========================================================================================
    LEAK      per lane group: ``u = v - (v >> leak) + bias`` into the accumulators (``groups`` cycles)
    INTEGRATE per input spike: ``u += W[axon, :]``, ``lanes`` neurons per cycle (``groups + 1`` cycles a spike)
    UPDATE    per lane group: saturate, threshold, reset, write ``v`` (``groups`` cycles)
    FIRE      per spiking neuron: record ``(step, neuron)``, send its fan-out (``FanoutEmitter``)
    TOKENS    one token per core that receives from this one
    ========  ==========================================================================================

    Parameters
    ----------
    config : SnnConfig
    index : int
        The core's number, ``0..cores - 1``: its source number in the packets it sends.

    Interface attributes
    --------------------
    receive : In(stream.Signature(packet_layout)); send : Out(stream.Signature(routed_layout))
        To and from the router.
    weights, bias, fanout_ptr, fanout : Out(read_port)
        The core's windows (``fanout`` words in :func:`~hw.snn.layouts.fanout_entry_layout`).
    record : Out(write_port)
        The spike record window, a :func:`~hw.snn.layouts.spike_record_layout` word per spike.
    run : In(1)
        High while a run is on. The engine resets the core (a ``ResetInserter``) when a run starts or is aborted;
        the run then begins by zeroing the potentials (``groups`` cycles).
    num_steps, threshold, leak, reset_mode, successors : In
        Run parameters (``num_steps`` held by the engine for the whole run); ``successors`` has bit ``s`` set when
        core ``s`` receives from this one.
    may_start : In(1)
        The scheduler's permission to start ``step``.
    step : Out(signed), done_step : Out(signed), token_from : Out(array of signed)
        The next step to run, the last finished (-1 before the first), the last token from each source.
    finished, waiting : Out(1)
        All ``num_steps`` steps done; waiting for the scheduler (or finished) while a run is on.
    synaptic_ops : Out, spiked : Out(1), received : Out(1), overflow : Out(1)
        Counter increments (lanes per weight word added, a recorded spike, a spike packet taken) and a sticky
        "more than max_spikes spikes" flag.

    Latency and throughput
    ----------------------
    After the reset cycle, ``INIT`` zeroes the potentials (``groups`` cycles); the core then waits for its scheduler.
    A step takes, with no back pressure, ``groups + spikes_in * (1 + groups) + 1 + groups + sum over spiking neurons
    of (4 + fan-out) + 1 + cores + 3`` cycles (``pimgen.snn.perf.step_work``): one in ``WAIT`` sampling
    ``may_start``, the passes above (each input spike a ``FETCH`` and ``groups`` cycles of ``INTEGRATE``, one more
    ``FETCH`` that finds the list done; each spiking neuron a ``FIRE`` and the emitter's ``3 + fan-out``, one more
    ``FIRE`` that finds none left), ``cores + 1`` cycles of ``TOKENS`` and ``DONE``. The receive side takes a packet
    every cycle.

    Raises
    ------
    TypeError
        ``config`` is not an :class:`SnnConfig` or ``index`` not an integer.
    ValueError
        ``index`` is not a core of ``config``.
    """

    def __init__(self, config, index):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"Index must be an integer, not {type(index).__name__}")
        if not 0 <= index < config.cores:
            raise ValueError(f"Index must be a core number in 0..{config.cores - 1}, not {index}")
        cfg = config
        self._config = config
        self._index = int(index)
        step = signed(cfg.step_bits)
        super().__init__({
            "receive": In(stream.Signature(packet_layout(cfg))),
            "send": Out(stream.Signature(routed_layout(cfg))),
            "weights": Out(read_port(range(cfg.axons * cfg.groups), data.ArrayLayout(signed(cfg.weight_bits),
                                                                                      cfg.lanes))),
            "bias": Out(read_port(range(max(cfg.groups, 2)), data.ArrayLayout(signed(cfg.potential_bits),
                                                                               cfg.lanes))),
            "fanout_ptr": Out(read_port(range(cfg.neurons + 1), unsigned(ceil_log2(cfg.max_fanout + 1)))),
            "fanout": Out(read_port(range(max(cfg.max_fanout, 2)), fanout_entry_layout(cfg))),
            "record": Out(write_port(range(max(cfg.max_spikes, 2)), spike_record_layout(cfg))),
            "run": In(1),
            "num_steps": In(range(cfg.max_steps + 1)),
            "threshold": In(unsigned(cfg.potential_bits - 1)),
            "leak": In(range(cfg.potential_bits)),
            "reset_mode": In(SnnReset),
            "successors": In(cfg.cores),
            "may_start": In(1),
            "step": Out(step),
            "done_step": Out(step, init=-1),
            "token_from": Out(step, init=-1).array(cfg.sources),
            "finished": Out(1),
            "waiting": Out(1),
            "synaptic_ops": Out(range(cfg.lanes + 1)),
            "spiked": Out(1),
            "received": Out(1),
            "overflow": Out(1),
        })

    @property
    def config(self):
        return self._config

    @property
    def index(self):
        return self._index

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        G, L, A = cfg.groups, cfg.lanes, cfg.axons
        V = cfg.potential_bits
        slots = cfg.slots
        slot_bits = ceil_log2(slots)

        # Receive: spikes into their step's slot list, tokens into token_from.
        m.submodules.slot_mem = slot_mem = Memory(shape=unsigned(max(ceil_log2(A), 1)), depth=slots * A, init=[])
        slot_write = slot_mem.write_port()
        slot_read = slot_mem.read_port()
        m.d.comb += slot_read.en.eq(0)              # enabled only where read: the data hold in between
        counts = [Signal(range(A + 1), name=f"slot_count{s}") for s in range(slots)]
        packet = self.receive.payload
        arrived = self.receive.valid & (packet.kind == PacketKind.SPIKE)
        slot = packet.tag[:slot_bits] if slot_bits else 0
        m.d.comb += [
            self.receive.ready.eq(1),
            self.received.eq(arrived),
            slot_write.en.eq(arrived),
            slot_write.data.eq(packet.axon),
            slot_write.addr.eq(slot * A + pick(counts, slot)),
        ]
        for s in range(slots):
            with m.If(arrived & (slot == s)):
                m.d.sync += counts[s].eq(counts[s] + 1)
        for p in range(cfg.sources):
            with m.If(self.receive.valid & (packet.kind == PacketKind.TOKEN) & (packet.source == p)):
                m.d.sync += self.token_from[p].eq(packet.tag)

        # Potentials, accumulators, the spike vector.
        m.submodules.potentials = v_mem = Memory(shape=data.ArrayLayout(signed(V), L), depth=max(G, 2), init=[])
        v_write = v_mem.write_port()
        v_read = v_mem.read_port()
        m.d.comb += v_read.en.eq(0)
        acc = [Signal(data.ArrayLayout(signed(cfg.acc_bits), L), name=f"acc{g}") for g in range(G)]
        now = Signal(data.ArrayLayout(signed(cfg.acc_bits), L))                # the group UPDATE works on
        spikes = Signal(cfg.neurons)

        # Stage 1 of LEAK and INTEGRATE: the memory data arrive, the accumulator group g_d is written.
        op_leak, op_add = Signal(), Signal()
        g_d = Signal(range(max(G, 2)))
        m.d.sync += [op_leak.eq(0), op_add.eq(0)]
        acc_layout = data.ArrayLayout(signed(cfg.acc_bits), L)
        current = Signal(acc_layout)
        m.d.comb += current.eq(pick(acc, g_d))
        for lane in range(L):
            v = v_read.data[lane]
            leaked = v - (v >> self.leak) + self.bias.data[lane]
            added = current[lane] + self.weights.data[lane]
            for g in range(G):
                with m.If(op_leak & (g_d == g)):
                    m.d.sync += acc[g][lane].eq(leaked)
                with m.If(op_add & (g_d == g)):
                    m.d.sync += acc[g][lane].eq(added)
        m.d.comb += self.synaptic_ops.eq(Mux(op_add, L, 0))

        # Compute side.
        step, group, index, count = self.step, Signal(range(max(G, 2))), Signal(range(A + 1)), Signal(range(A + 1))
        step_slot = step.as_unsigned()[:slot_bits] if slot_bits else 0
        recorded = Signal(range(cfg.max_spikes + 1))
        token_dest = Signal(range(cfg.cores + 1))
        m.submodules.emitter = emitter = FanoutEmitter(cfg, cfg.neurons, self._index)
        wiring.connect(m, wiring.flipped(self.fanout_ptr), emitter.fanout_ptr)
        wiring.connect(m, wiring.flipped(self.fanout), emitter.fanout)
        m.d.comb += [emitter.step.eq(step.as_unsigned()), self.send.payload.eq(emitter.send.payload),
                     self.send.valid.eq(emitter.send.valid), emitter.send.ready.eq(self.send.ready)]

        first_spike = Signal(range(max(cfg.neurons, 2)))
        for n in reversed(range(cfg.neurons)):
            with m.If(spikes[n]):
                m.d.comb += first_spike.eq(n)

        with m.FSM():
            with m.State("IDLE"):
                with m.If(self.run):
                    m.next = "INIT"
            with m.State("INIT"):                                  # zero the potentials
                m.d.comb += [v_write.addr.eq(group), v_write.data.eq(0), v_write.en.eq(1)]
                m.d.sync += group.eq(group + 1)
                with m.If(group == G - 1):
                    m.next = "WAIT"
            with m.State("WAIT"):
                m.d.comb += self.waiting.eq(1)
                with m.If(step >= self.num_steps):
                    m.next = "FINISHED"
                with m.Elif(self.may_start):
                    m.d.sync += [group.eq(0), count.eq(pick(counts, step_slot))]
                    m.next = "LEAK"
            with m.State("LEAK"):
                m.d.comb += [v_read.addr.eq(group), v_read.en.eq(1), self.bias.addr.eq(group), self.bias.en.eq(1)]
                m.d.sync += [op_leak.eq(1), g_d.eq(group), group.eq(group + 1)]
                with m.If(group == G - 1):
                    m.d.sync += index.eq(0)
                    m.next = "FETCH"
            with m.State("FETCH"):                                 # the next input spike's axon
                with m.If(index == count):
                    m.d.sync += group.eq(0)
                    m.next = "UPDATE"
                with m.Else():
                    m.d.comb += [slot_read.addr.eq(step_slot * A + index), slot_read.en.eq(1)]
                    m.d.sync += group.eq(0)
                    m.next = "INTEGRATE"
            with m.State("INTEGRATE"):
                m.d.comb += [self.weights.addr.eq(slot_read.data * G + group), self.weights.en.eq(1)]
                m.d.sync += [op_add.eq(1), g_d.eq(group), group.eq(group + 1)]
                with m.If(group == G - 1):
                    m.d.sync += index.eq(index + 1)
                    m.next = "FETCH"
            with m.State("UPDATE"):
                m.d.comb += now.eq(pick(acc, group))
                new_v = Signal(data.ArrayLayout(signed(V), L))
                fired = Signal(L)
                for lane in range(L):
                    saturated = Signal(signed(V), name=f"saturated{lane}")
                    m.d.comb += [saturated.eq(fit_signed(now[lane], V, saturate=True)),
                                 fired[lane].eq(saturated >= self.threshold)]
                    reset = Mux(self.reset_mode == SnnReset.ZERO, 0, saturated - self.threshold)
                    m.d.comb += new_v[lane].eq(Mux(fired[lane], reset, saturated))
                m.d.comb += [v_write.addr.eq(group), v_write.data.eq(new_v), v_write.en.eq(1)]
                for g in range(G):
                    with m.If(group == g):
                        m.d.sync += spikes[g * L:(g + 1) * L].eq(fired)
                m.d.sync += group.eq(group + 1)
                with m.If(group == G - 1):
                    m.next = "FIRE"
            with m.State("FIRE"):
                with m.If(spikes == 0):
                    m.d.sync += token_dest.eq(0)
                    m.next = "TOKENS"
                with m.Else():
                    m.d.sync += spikes.bit_select(first_spike, 1).eq(0)
                    m.d.comb += [emitter.start.eq(1), emitter.neuron.eq(first_spike), self.spiked.eq(1)]
                    with m.If(recorded == cfg.max_spikes):
                        m.d.sync += self.overflow.eq(1)
                    with m.Else():
                        m.d.comb += [self.record.addr.eq(recorded), self.record.en.eq(1),
                                     self.record.data.neuron.eq(first_spike),
                                     self.record.data.step.eq(step.as_unsigned())]
                        m.d.sync += recorded.eq(recorded + 1)
                    m.next = "EMIT"
            with m.State("EMIT"):
                with m.If(~emitter.busy):
                    m.next = "FIRE"
            with m.State("TOKENS"):                                # one token per core fed by this one
                send_tokens(m, self.send, self.successors, token_dest, self._index, step, "DONE")
            with m.State("DONE"):
                m.d.sync += [self.done_step.eq(step), step.eq(step + 1)]
                for s in range(slots):
                    with m.If(step_slot == s):
                        m.d.sync += counts[s].eq(0)
                m.next = "WAIT"
            with m.State("FINISHED"):
                m.d.comb += [self.finished.eq(1), self.waiting.eq(1)]
        return m

