"""The spike router: a FIFO per source and per destination, and a crossbar between them."""

from amaranth.hdl import Module, Mux, Shape, Signal
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from pimgen.snn.config import SnnConfig
from .layouts import packet_layout, routed_layout
from .util import any_of, pick

__all__ = ["Router"]


class Router(wiring.Component):
    """Moves packets from ``sources`` senders to ``cores`` receivers, in order per (sender, receiver) pair.

    Every sender writes into its own FIFO of ``fifo_depth`` packets; every receiver reads from its own FIFO of the
    same depth (``amaranth.lib.fifo.SyncFIFOBuffered``, joined through its ``w_stream`` and ``r_stream``). Each
    cycle, each receiver's crossbar port takes the head packet of one sender whose head is addressed to it (round
    robin from the sender after the last one served) if its FIFO has room. A full receiver FIFO stalls the senders
    addressing it (their FIFOs fill and push back on them); nothing is dropped or duplicated. A reset (the engine's
    ``ResetInserter`` on start and soft reset) empties every FIFO.

    Parameters
    ----------
    config : SnnConfig

    Interface attributes
    --------------------
    send[s] : In(stream.Signature(routed_layout))
        Sender ``s`` (cores 0..K-1, the input source K): a packet with its destination core.
    receive[k] : Out(stream.Signature(packet_layout))
        Receiver ``k``: the packets addressed to core ``k``.
    moved : Out(range(cores + 1))
        Packets that crossed the crossbar this cycle.
    empty : Out(1)
        No packet anywhere in the router.

    Latency and throughput
    ----------------------
    A packet taken from a sender (``valid & ready``) in cycle ``c`` into an empty router is valid at its receiver in
    cycle ``c + 4`` (``pimgen.snn.perf.ROUTER_LATENCY``): two cycles through the sender FIFO (its memory, then its
    output register), the crossbar, and the receiver FIFO's output register. One packet per receiver per cycle, and
    one per sender per cycle with ``fifo_depth >= 3``; a FIFO of depth 2 (a one-entry memory and the output
    register) takes a packet every other cycle, so with ``fifo_depth = 2`` a sender sending without pause is held up
    every other cycle.

    Raises
    ------
    TypeError
        ``config`` is not an :class:`SnnConfig`.
    """

    def __init__(self, config):
        if not isinstance(config, SnnConfig):
            raise TypeError(f"Config must be an SnnConfig, not {type(config).__name__}")
        self._config = config
        super().__init__({
            "send": In(stream.Signature(routed_layout(config))).array(config.sources),
            "receive": Out(stream.Signature(packet_layout(config))).array(config.cores),
            "moved": Out(range(config.cores + 1)),
            "empty": Out(1),
        })

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        S, K = cfg.sources, cfg.cores
        outbound = []
        for s in range(S):
            q = fifo.SyncFIFOBuffered(width=Shape.cast(routed_layout(cfg)).width, depth=cfg.fifo_depth)
            m.submodules[f"out{s}"] = q
            m.d.comb += [q.w_stream.payload.eq(self.send[s].payload), q.w_stream.valid.eq(self.send[s].valid),
                         self.send[s].ready.eq(q.w_stream.ready)]
            outbound.append(q)
        heads = [routed_layout(cfg)(q.r_stream.payload) for q in outbound]
        inbound = []
        for k in range(K):
            q = fifo.SyncFIFOBuffered(width=Shape.cast(packet_layout(cfg)).width, depth=cfg.fifo_depth)
            m.submodules[f"in{k}"] = q
            m.d.comb += [self.receive[k].payload.eq(q.r_stream.payload), self.receive[k].valid.eq(q.r_stream.valid),
                         q.r_stream.ready.eq(self.receive[k].ready)]
            inbound.append(q)

        # Crossbar: per receiver, a round-robin choice among the senders whose head is addressed to it.
        taken = [Signal(name=f"taken{s}") for s in range(S)]
        moved = []
        for k in range(K):
            wants = [Signal(name=f"want_{s}_{k}") for s in range(S)]
            for s in range(S):
                m.d.comb += wants[s].eq(outbound[s].r_stream.valid & (heads[s].dest == k))
            last = Signal(range(S), name=f"last{k}")
            chosen = Signal(range(S), name=f"chosen{k}")
            found = Signal(name=f"found{k}")
            # Scan from the sender after ``last``: the last match in scan order wins, so scan backwards.
            for step in reversed(range(1, S + 1)):
                s = Signal(range(S), name=f"cand_{k}_{step}")
                m.d.comb += s.eq(Mux(last + step >= S, last + step - S, last + step))
                with m.If(pick(wants, s)):
                    m.d.comb += [chosen.eq(s), found.eq(1)]
            go = found & inbound[k].w_stream.ready
            m.d.comb += [inbound[k].w_stream.valid.eq(found),
                         inbound[k].w_stream.payload.eq(pick([h.packet.as_value() for h in heads], chosen))]
            with m.If(go):
                m.d.sync += last.eq(chosen)
            for s in range(S):
                with m.If(go & (chosen == s)):
                    m.d.comb += taken[s].eq(1)
            moved.append(go)
        for s in range(S):
            m.d.comb += outbound[s].r_stream.ready.eq(taken[s])
        m.d.comb += self.moved.eq(sum(moved))
        m.d.comb += self.empty.eq(~any_of([q.level != 0 for q in outbound + inbound]))
        return m
