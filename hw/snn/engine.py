"""Many-core SNN processor: neuron cores, an input source, a router, and a scheduler per core that advances its
timestep from compile-time dependencies (asynchronous mode) or at a global barrier (synchronous mode).

Semantics in docs/snn.md; the golden model is ``sw_model.snn.simulate``.
"""

from amaranth.hdl import Mux, ResetInserter, Signal
from amaranth.utils import ceil_log2

from pimgen.snn.config import SnnConfig
from ..common.csr import Access, Field, Register, RegisterArray
from ..common.engine import Counter, EngineComponent
from ..common.window import WindowedMemory
from .codes import SNN_ERROR_MEANINGS, SnnError, SnnMode, SnnReset
from .core import NeuronCore
from .layouts import (FANOUT_DELAY_BITS, bias_layout, fanout_layout, fanout_ptr_layout, in_fanout_ptr_layout,
                      in_neuron_layout, in_ptr_layout, spike_layout, weight_layout)
from .router import Router
from .source import InputSource

__all__ = ["SnnEngine"]


class SnnEngine(EngineComponent):
    """``cores`` integer LIF cores, the input source and the router (docs/snn.md).

    Parameters
    ----------
    config : SnnConfig

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        Registers and windows: per core ``k`` ``weights<k>`` (``W[axon, neuron]``), ``bias<k>``, ``fanout_ptr<k>``,
        ``fanout<k>`` and ``spikes<k>`` (its record); the input source's ``in_ptr``, ``in_neurons``,
        ``in_fanout_ptr`` and ``in_fanout``. Layouts in :mod:`hw.snn.layouts`.
    irq : Out(1)

    Registers
    ---------
    NUM_STEPS, MODE
        Timesteps of the run (1..max_steps, else error ``num_steps``); ``async`` or ``sync`` (a register, not a
        rebuild).
    THRESHOLD[k], LEAK[k], RESET[k]
        Each core's neuron parameters.
    DEP[k * (cores + 1) + p]
        Whether core ``k`` receives from source ``p`` (core, or the input source ``p = cores``), and the smallest and
        largest delay of those edges: the scheduler's compile-time table.
    CNT_CYCLES, CNT_PACKETS
        Cycles from start to done; packets through the router.
    CNT_BUSY[k], CNT_IDLE[k], CNT_SYNOPS[k], CNT_SPIKES[k], CNT_RECEIVED[k]
        Per core: cycles working, cycles waiting for the scheduler (or finished) during the run, synaptic operations
        (weights added), spikes fired, spike packets received.

    Latency and throughput
    ----------------------
    A start with a good ``NUM_STEPS`` latches it for the run (a later write changes the next run only) and resets
    the cores, the input source and the router; ``STATUS.busy`` rises in the next cycle, the first one
    ``CNT_CYCLES`` counts. In that cycle every core and the source sit in their reset state; the cores then zero
    their potentials (``groups`` cycles) and wait for their schedulers, the source waits from the cycle after. Each
    core's step takes ``pimgen.snn.perf.step_work`` cycles, the source's ``pimgen.snn.perf.source_work`` (both from
    the state machines, with no back pressure), and a token reaches the core it is for
    ``pimgen.snn.perf.ROUTER_LATENCY`` cycles after it was sent and counts in the cycle after that. After its last
    step a core or the source spends one cycle in ``WAIT`` and is finished in the next; the run ends (``done``) in
    the first cycle where all are finished and the router is empty, the last cycle ``CNT_CYCLES`` counts.
    :func:`pimgen.snn.perf.lower_bound` adds these up along the dependencies. The router moves one packet per core
    per cycle; a core takes one per cycle, a core and the source send at most one per cycle (every other cycle
    through router FIFOs of depth 2: :class:`~hw.snn.router.Router`).
    """

    def __init__(self, config):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        cfg = config
        K = cfg.cores
        registers = [
            Register("NUM_STEPS", [Field("value", ceil_log2(cfg.max_steps + 1), Access.RW)], "timesteps of the run"),
            Register("MODE", [Field("code", 1, Access.RW, enum=SnnMode)], "scheduling: async or sync"),
            RegisterArray("THRESHOLD", K, [Field("value", cfg.potential_bits - 1, Access.RW)],
                          "firing threshold of each core (1..2**(V-1)-1)"),
            RegisterArray("LEAK", K, [Field("value", ceil_log2(cfg.potential_bits), Access.RW)],
                          "leak shift of each core (0..V-1)"),
            RegisterArray("RESET", K, [Field("code", 1, Access.RW, enum=SnnReset)], "reset mode of each core"),
            RegisterArray("DEP", K * cfg.sources, [Field("enabled", 1, Access.RW),
                                                   Field("delay", FANOUT_DELAY_BITS, Access.RW),
                                                   Field("max_delay", FANOUT_DELAY_BITS, Access.RW)],
                          "DEP[k * (cores + 1) + p]: core k receives from source p, with this smallest and largest "
                          "delay"),
        ]
        counters = [
            Counter("cycles", "cycles from start to done"),
            Counter("packets", "packets through the router (spikes and tokens)", max_increment=K),
            Counter("busy", "cycles a core works", count=K),
            Counter("idle", "cycles a core waits for its scheduler (or has finished) during the run", count=K),
            Counter("synops", "synaptic operations (weights added)", max_increment=cfg.lanes, count=K),
            Counter("spikes", "spikes fired", count=K),
            Counter("received", "spike packets received", count=K),
        ]
        windows = {}
        for k in range(K):
            windows[f"weights{k}"] = WindowedMemory.from_layout(weight_layout(cfg))
            windows[f"bias{k}"] = WindowedMemory.from_layout(bias_layout(cfg))
            windows[f"fanout_ptr{k}"] = WindowedMemory.from_layout(fanout_ptr_layout(cfg, cfg.neurons))
            windows[f"fanout{k}"] = WindowedMemory.from_layout(fanout_layout(cfg))
            windows[f"spikes{k}"] = WindowedMemory.from_layout(spike_layout(cfg), engine_write=True)
        windows["in_ptr"] = WindowedMemory.from_layout(in_ptr_layout(cfg))
        windows["in_neurons"] = WindowedMemory.from_layout(in_neuron_layout(cfg))
        windows["in_fanout_ptr"] = WindowedMemory.from_layout(in_fanout_ptr_layout(cfg))
        windows["in_fanout"] = WindowedMemory.from_layout(fanout_layout(cfg))
        super().__init__(config, registers, counters, windows, errors=SNN_ERROR_MEANINGS)

    def elaborate(self, platform):
        m = self.elaborate_frame()
        cfg = self.config
        K, S = cfg.cores, cfg.sources
        csr, win = self.csr, self.windows

        requested = self.csr.value("NUM_STEPS", "value")
        bad = (requested == 0) | (requested > cfg.max_steps)
        launch = Signal()
        failed = Signal()
        m.d.comb += launch.eq(self.start & ~bad)
        m.d.sync += failed.eq(self.start & bad)
        restart = launch | self.soft_reset
        # The run's length, latched at the start: a write of NUM_STEPS during a run leaves it alone.
        num_steps = Signal(range(cfg.max_steps + 1))
        with m.If(launch):
            m.d.sync += num_steps.eq(requested)

        # Everything that holds run state restarts with a run and on an abort: packets still in the router from an
        # aborted run are dropped, never delivered into the next one.
        router = Router(cfg)
        m.submodules.router = ResetInserter(restart)(router)
        cores = []
        for k in range(K):
            core = NeuronCore(cfg, k)
            m.submodules[f"core{k}"] = ResetInserter(restart)(core)
            cores.append(core)
            m.d.comb += [
                core.run.eq(self.busy),
                core.num_steps.eq(num_steps),
                core.threshold.eq(csr.value(f"THRESHOLD[{k}]", "value")),
                core.leak.eq(csr.value(f"LEAK[{k}]", "value")),
                core.reset_mode.eq(csr.value(f"RESET[{k}]", "code")),
                core.receive.payload.eq(router.receive[k].payload),
                core.receive.valid.eq(router.receive[k].valid),
                router.receive[k].ready.eq(core.receive.ready),
                router.send[k].payload.eq(core.send.payload),
                router.send[k].valid.eq(core.send.valid),
                core.send.ready.eq(router.send[k].ready),
            ]
            for name in ("weights", "bias", "fanout_ptr", "fanout"):
                window, port = win[f"{name}{k}"], getattr(core, name)
                m.d.comb += [window.rd_addr.eq(port.addr), window.rd_en.eq(port.en)]
                if name in ("weights", "bias"):
                    m.d.comb += port.data.eq(window.rd_data)
                else:
                    m.d.comb += port.data.eq(window.rd_data[0])
            record = win[f"spikes{k}"]
            m.d.comb += [record.wr_addr.eq(core.record.addr), record.wr_en.eq(core.record.en),
                         record.wr_data[0].eq(core.record.data)]

        source = InputSource(cfg)
        m.submodules.source = ResetInserter(restart)(source)
        m.d.comb += [
            source.run.eq(self.busy),
            source.num_steps.eq(num_steps),
            router.send[K].payload.eq(source.send.payload),
            router.send[K].valid.eq(source.send.valid),
            source.send.ready.eq(router.send[K].ready),
        ]
        for name, port in (("in_ptr", source.in_ptr), ("in_neurons", source.in_neurons),
                           ("in_fanout_ptr", source.fanout_ptr), ("in_fanout", source.fanout)):
            m.d.comb += [win[name].rd_addr.eq(port.addr), win[name].rd_en.eq(port.en),
                         port.data.eq(win[name].rd_data[0])]

        # The schedulers (docs/snn.md): inputs complete, credits, and in sync mode the barrier.
        enabled = [[csr.value(f"DEP[{k * S + p}]", "enabled") for p in range(S)] for k in range(K)]
        delay = [[csr.value(f"DEP[{k * S + p}]", "delay") for p in range(S)] for k in range(K)]
        reach = [[csr.value(f"DEP[{k * S + p}]", "max_delay") for p in range(S)] for k in range(K)]
        done = [c.done_step for c in cores] + [source.done_step]
        sync = csr.value("MODE", "code") == SnnMode.SYNC
        steps = [c.step for c in cores] + [source.step]
        for p in range(S):
            t = steps[p]
            credits = 1
            for s in range(K):
                credits = credits & (~enabled[s][p] | (t + reach[s][p] <= done[s] + cfg.step_slots))
            barrier = 1
            for q in range(S):
                barrier = barrier & (done[q] >= t - 1)
            allowed = credits & (~sync | barrier)
            if p < K:
                inputs = 1
                for q in range(S):
                    inputs = inputs & (~enabled[p][q] | (cores[p].token_from[q] >= t - delay[p][q]))
                allowed = allowed & inputs
                m.d.comb += cores[p].successors.eq(sum(enabled[s][p] << s for s in range(K)))
                m.d.comb += cores[p].may_start.eq(allowed)
            else:
                m.d.comb += source.successors.eq(sum(enabled[s][p] << s for s in range(K)))
                m.d.comb += source.may_start.eq(allowed)

        # Run control: busy from a good start until every core and the source are finished and the router is empty.
        all_finished = source.finished & router.empty
        for c in cores:
            all_finished = all_finished & c.finished
        ended = Signal()
        m.d.comb += ended.eq(self.busy & ~launch & all_finished)
        with m.If(self.soft_reset):
            m.d.sync += self.busy.eq(0)
        with m.Elif(launch):
            m.d.sync += self.busy.eq(1)
        with m.Elif(ended):
            m.d.sync += self.busy.eq(0)
        overflow = 0
        for c in cores:
            overflow = overflow | c.overflow
        m.d.comb += [
            self.finish.eq(ended | failed),
            self.error.eq(Mux(failed, SnnError.NUM_STEPS, Mux(overflow, SnnError.SPIKE_OVERFLOW, SnnError.NONE))),
            self.counter_inc["cycles"].eq(self.busy),
            self.counter_inc["packets"].eq(router.moved),
        ]
        for k, c in enumerate(cores):
            m.d.comb += [
                self.counter_inc["busy"][k].eq(self.busy & ~c.waiting),
                self.counter_inc["idle"][k].eq(self.busy & c.waiting),
                self.counter_inc["synops"][k].eq(c.synaptic_ops),
                self.counter_inc["spikes"][k].eq(c.spiked),
                self.counter_inc["received"][k].eq(c.received),
            ]
        return m
