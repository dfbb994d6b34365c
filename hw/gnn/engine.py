"""GNN aggregation engine: ``pes`` processing elements, each aggregating its own range of rows, ``lanes`` features per
cycle.

Arithmetic, order and rounding are defined in docs/gnn.md and by the golden model ``sw_model.gnn.aggregate``.
"""

from amaranth.hdl import Const, Mux, Signal, unsigned
from amaranth.utils import ceil_log2

from pimgen.gnn.config import GnnConfig
from ..common.csr import Access, Field, Register, RegisterArray
from ..common.engine import Counter, EngineComponent
from ..common.fixed import above
from ..common.window import WindowedMemory
from .codes import GNN_ERROR_MEANINGS, GnnError, GnnOp
from .layouts import feature_layout, header_layout, weight_shape, word_layout
from .pe import MIXED_CLASSES, ROW_FIFO_DEPTH, ProcessingElement, mean_reciprocals

__all__ = ["GnnEngine", "feature_layout", "mean_reciprocals", "ROW_FIFO_DEPTH"]


class GnnEngine(EngineComponent):
    """CSR neighbour aggregation ``Y[r, f] = op_{e in row r} X[indices[e], f]``, ops sum, mean, max, weighted.

    The rows are split into ``pes`` contiguous ranges (``PE_FIRST``), one per processing element
    (:class:`~hw.gnn.pe.ProcessingElement`). Every element reads its own copy of ``indptr``, ``indices``,
    ``weights`` and ``features`` (a host write goes to all copies at once) and writes its own copy of ``result``; a
    host read of ``result`` comes from the copy of the element that owns the row. So the elements never wait on each
    other, at ``pes`` times the memory.

    Parameters
    ----------
    config : GnnConfig

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        Registers (see :class:`~hw.common.engine.EngineComponent`) and the windows ``indptr``, ``indices``,
        ``weights``, ``features`` and ``result`` (layout in docs/gnn.md).
    irq : Out(1)
        ``STATUS.done``.

    Registers
    ---------
    NUM_NODES, NUM_FEATURES, OP
        Run parameters (OP codes: :class:`~hw.gnn.codes.GnnOp`; error codes: :class:`~hw.gnn.codes.GnnError`).
    PE_FIRST[0..pes-1]
        First row of each processing element: ``PE_FIRST[0] = 0``, non-decreasing, at most ``NUM_NODES``; element
        ``p`` aggregates rows ``PE_FIRST[p]`` up to ``PE_FIRST[p + 1]`` (``NUM_NODES`` for the last).
    CNT_CYCLES, CNT_BUSY, CNT_STALL, CNT_EDGES
        Cycles from start to done; items that entered a pipeline; cycles a pipeline waited for a row descriptor
        before its last item; edges aggregated (each edge once, not once per group). Totals over the elements.
    CNT_PE_BUSY[p], CNT_PE_STALL[p]
        The same per processing element.

    Latency and throughput
    ----------------------
    Each element issues one (edge, feature group) item per cycle, no bubble at row or group changes. A run takes
    ``max_p busy_p`` cycles plus a constant fill and drain, with ``busy_p = sum over p's rows of max(d_r, 1) * G``,
    ``G = ceil(F / lanes)`` (docs/gnn.md).
    """

    def __init__(self, config):
        if not isinstance(config, GnnConfig):
            raise TypeError(f"Config must be a GnnConfig, not {config!r}")
        cfg = config
        node_bits = ceil_log2(cfg.max_nodes + 1)
        registers = [
            Register("NUM_NODES", [Field("value", node_bits, Access.RW)], "rows (destination nodes) in the graph"),
            Register("NUM_FEATURES", [Field("value", ceil_log2(cfg.max_features + 1), Access.RW)],
                     "features per node F"),
            Register("OP", [Field("code", GnnOp.as_shape().width, Access.RW, enum=GnnOp)], "aggregation op"),
            RegisterArray("PE_FIRST", cfg.pes, [Field("row", node_bits, Access.RW)],
                          "first row of each processing element (PE_FIRST[0] = 0, non-decreasing)"),
        ]
        if cfg.is_mixed:
            registers += [
                RegisterArray("MP_FIRST", MIXED_CLASSES, [Field("node", node_bits, Access.RW)],
                              "mixed precision: first node of each width class (class c holds width 8 - c)"),
                RegisterArray("MP_BASE", MIXED_CLASSES,
                              [Field("word", ceil_log2(cfg.feature_words + 1), Access.RW)],
                              "mixed precision: first word of each width class in the words window"),
            ]
        counters = [
            Counter("cycles", "cycles from start to done"),
            Counter("busy", "items that entered a pipeline (all processing elements)", max_increment=cfg.pes),
            Counter("stall", "cycles a pipeline waited for a row descriptor before its last item (all elements)",
                    max_increment=cfg.pes),
            Counter("edges", "edges aggregated (once per edge, not per feature group)", max_increment=cfg.pes),
            Counter("pe_busy", "items that entered the pipeline of each processing element", count=cfg.pes),
            Counter("pe_stall", "cycles each processing element waited for a row descriptor", count=cfg.pes),
        ]
        copies = cfg.pes
        windows = {
            "indptr":   WindowedMemory(unsigned(cfg.edge_bits), cfg.max_nodes + 1, copies=copies),
            "indices":  WindowedMemory(unsigned(max(cfg.node_bits, 1)), cfg.max_edges, copies=copies),
            "weights":  WindowedMemory(weight_shape(cfg), cfg.max_edges, copies=copies),
            **({"words":   WindowedMemory.from_layout(word_layout(cfg), copies=copies),
                "headers": WindowedMemory.from_layout(header_layout(cfg), copies=copies)} if cfg.is_mixed else
               {"features": WindowedMemory.from_layout(feature_layout(cfg), copies=copies)}),
            "result":   WindowedMemory.from_layout(feature_layout(cfg), engine_write=True, copies=copies),
        }
        super().__init__(cfg, registers, counters, windows, errors=GNN_ERROR_MEANINGS)

    def elaborate(self, platform):
        m = self.elaborate_frame()
        cfg = self.config
        csr = self.csr
        win = self.windows
        pes = cfg.pes

        def port(window, name, p):
            signal = getattr(win[window], name)
            return signal[p] if pes > 1 else signal

        # Run parameters, checked and latched at start.
        num_nodes = Signal.like(csr.value("NUM_NODES", "value"))
        op = Signal(GnnOp)
        groups = Signal(range(cfg.groups_max + 1))
        firsts = [Signal.like(csr.value("PE_FIRST[0]", "row"), name=f"first{p}") for p in range(pes)]
        run_error = Signal(GnnError)

        reg_nodes = csr.value("NUM_NODES", "value")
        reg_features = csr.value("NUM_FEATURES", "value")
        reg_firsts = [csr.value(f"PE_FIRST[{p}]", "row") for p in range(pes)]
        bad_nodes = above(reg_nodes, cfg.max_nodes)
        bad_features = (reg_features == 0) | above(reg_features, cfg.max_features)
        bad_partition = reg_firsts[0] != 0
        for p in range(1, pes):
            bad_partition = bad_partition | (reg_firsts[p] < reg_firsts[p - 1])
        bad_partition = bad_partition | (reg_firsts[-1] > reg_nodes)
        launch = Signal()
        m.d.comb += launch.eq(self.start & ~bad_nodes & ~bad_features & ~bad_partition)
        with m.If(self.start):
            m.d.sync += [
                num_nodes.eq(reg_nodes),
                op.eq(csr.value("OP", "code")),
                groups.eq((reg_features + (cfg.lanes - 1)) // cfg.lanes),
                run_error.eq(Mux(bad_nodes, GnnError.NUM_NODES,
                                 Mux(bad_features, GnnError.NUM_FEATURES,
                                     Mux(bad_partition, GnnError.PARTITION, GnnError.NONE)))),
            ]
            m.d.sync += [first.eq(reg) for first, reg in zip(firsts, reg_firsts)]

        # The processing elements, each on its own copy of every memory.
        fatal_any = Signal()            # an element found a bad indptr: every element stops
        fatal = Const(0)
        done = Const(1)
        pe_list = []
        for p in range(pes):
            pe = ProcessingElement(cfg)
            m.submodules[f"pe{p}"] = pe
            pe_list.append(pe)
            end = firsts[p + 1] if p + 1 < pes else num_nodes
            m.d.comb += [
                pe.start.eq(launch),
                pe.abort.eq(self.soft_reset | fatal_any),
                # The row reader takes its first row in the start cycle, before the latch holds it.
                pe.first_row.eq(Mux(self.start, reg_firsts[p], firsts[p])),
                pe.end_row.eq(end),
                pe.num_nodes.eq(num_nodes),
                pe.groups.eq(groups),
                pe.op.eq(op),
            ]
            feature_windows = ("words", "headers") if cfg.is_mixed else ("features",)
            for window in ("indptr", "indices", "weights", *feature_windows):
                read = getattr(pe, window)
                m.d.comb += [
                    port(window, "rd_addr", p).eq(read.addr),
                    port(window, "rd_en", p).eq(read.en),
                ]
                if window in ("features", "words"):                     # a word of lanes banks
                    m.d.comb += read.data.eq(port(window, "rd_data", p))
                else:
                    m.d.comb += read.data.eq(port(window, "rd_data", p)[0])
            if cfg.is_mixed:
                for c in range(MIXED_CLASSES):
                    m.d.comb += [pe.mp_first[c].eq(csr.value(f"MP_FIRST[{c}]", "node")),
                                 pe.mp_base[c].eq(csr.value(f"MP_BASE[{c}]", "word"))]
            m.d.comb += [
                port("result", "wr_addr", p).eq(pe.result.addr),
                port("result", "wr_en", p).eq(pe.result.en),
                port("result", "wr_data", p).eq(pe.result.data),
            ]
            fatal = fatal | pe.fatal
            done = done & pe.done
        m.d.comb += fatal_any.eq(fatal)

        if pes > 1:
            # A host read of the result comes from the copy of the element owning the row in the last run (the
            # split latched at its start, whatever PE_FIRST holds now): the last element whose first word is at or
            # below the word read (an element without rows owns none).
            result = win["result"]
            owner = Const(0, range(pes))
            for p in range(1, pes):
                first_word = feature_layout(cfg).bank_word(node=firsts[p], feature=0)
                owner = Mux(result.bus_word >= first_word, p, owner)
            m.d.comb += result.bus_copy.eq(owner)

        # Run control: busy from a good start until every element is done, or an abort.
        with m.If(self.start):
            m.d.sync += self.busy.eq(launch)
        with m.Elif(self.soft_reset | fatal_any):
            m.d.sync += self.busy.eq(0)
        with m.Elif(self.busy & done):
            m.d.sync += self.busy.eq(0)

        pe_error = Const(GnnError.NONE.value, 8)
        for pe in reversed(pe_list):                        # the lowest element with an error reports it
            pe_error = Mux(pe.error != GnnError.NONE, pe.error.as_value(), pe_error)
        start_failed = Signal()
        m.d.sync += start_failed.eq(self.start & ~launch)
        finished_run = self.busy & ~self.soft_reset & ~fatal_any & done
        m.d.comb += [
            self.finish.eq(start_failed | finished_run | (self.busy & fatal_any)),
            self.error.eq(Mux(start_failed, run_error, Mux(fatal_any, GnnError.BAD_INDPTR, pe_error))),
            self.counter_inc["cycles"].eq(self.busy),
            self.counter_inc["busy"].eq(sum(self.busy & pe.item for pe in pe_list)),
            self.counter_inc["stall"].eq(sum(self.busy & pe.stall for pe in pe_list)),
            self.counter_inc["edges"].eq(sum(self.busy & pe.edge for pe in pe_list)),
        ]
        for p, pe in enumerate(pe_list):
            m.d.comb += [
                self.counter_inc["pe_busy"][p].eq(self.busy & pe.item),
                self.counter_inc["pe_stall"][p].eq(self.busy & pe.stall),
            ]
        return m
