"""GNN aggregation engine, v1: one processing element, ``lanes`` features per cycle.

Arithmetic, order and rounding are defined in docs/gnn.md and by the golden model ``sw_model.gnn.aggregate``.
"""

from amaranth.hdl import Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory

from amaranth.utils import ceil_log2

from pimgen.gnn.config import GnnConfig
from pimgen.layout import WindowLayout
from ..common.csr import Access, Field, Register
from ..common.engine import EngineComponent
from ..common.fixed import above, fit_signed
from ..common.window import WindowedMemory
from .codes import GNN_ERROR_MEANINGS, GnnError, GnnOp
from .schedule import EdgeSequencer, RowReader, row_layout

__all__ = ["GnnEngine", "feature_layout", "ROW_FIFO_DEPTH"]

#: Row descriptors prefetched ahead of the sequencer. A row of one item per group needs a new descriptor every cycle;
#: the row reader delivers one per cycle after a start-up of 3, so 4 entries cover the start-up and keep the
#: sequencer fed (the cycle counts in docs/gnn.md are measured with this depth).
ROW_FIFO_DEPTH = 4


def mean_reciprocals(config):
    """ROM contents for the mean op: ``R[d] | (s_d - 1) << recip_width`` for ``d = 0..max_degree`` (docs/gnn.md).

    Computed here from the formula, independently of the golden model's table.
    """
    words = [0]                                       # d = 0: R = 0 (empty rows give 0 anyway)
    for d in range(1, config.max_degree + 1):
        s = config.recip_bits + ceil_log2(d)
        r = ((1 << (s + 1)) + d) // (2 * d)           # floor(2**s / d + 1/2)
        words.append(r | ((s - 1) << config.recip_width))
    return words


def feature_layout(config):
    """Layout of the features and result windows: ``X[node, feature]``, ``feature % lanes`` selecting the bank
    (lane) and ``node * groups_max + feature // lanes`` the word, packed two int16 or four int8 per bus word."""
    return WindowLayout([("node", config.max_nodes), ("feature", config.max_features)],
                        element_bits=config.data_bits, signed=True, banks=config.lanes, banked="feature",
                        packed=True)


class GnnEngine(EngineComponent):
    """CSR neighbour aggregation ``Y[r, f] = op_{e in row r} X[indices[e], f]``, ops sum, mean, max, weighted.

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
    CNT_CYCLES, CNT_BUSY, CNT_STALL, CNT_EDGES
        Cycles from start to done; cycles an item entered the pipeline; cycles the pipeline was starved of row
        descriptors before the last item; edges aggregated (each edge once, not once per group).

    Latency and throughput
    ----------------------
    One (edge, feature group) item per cycle, no bubble at row or group changes. A run over ``N`` rows with
    in-degrees ``d_r`` and ``G = ceil(F / lanes)`` groups takes ``sum_r max(d_r, 1) * G`` busy cycles plus a
    constant fill and drain (see tests).
    """

    def __init__(self, config):
        if not isinstance(config, GnnConfig):
            raise TypeError(f"Config must be a GnnConfig, not {config!r}")
        cfg = config
        registers = [
            Register("NUM_NODES", [Field("value", ceil_log2(cfg.max_nodes + 1), Access.RW)],
                     "rows (destination nodes) in the graph"),
            Register("NUM_FEATURES", [Field("value", ceil_log2(cfg.max_features + 1), Access.RW)],
                     "features per node F"),
            Register("OP", [Field("code", GnnOp.as_shape().width, Access.RW, enum=GnnOp)], "aggregation op"),
        ]
        counters = [
            ("cycles", "cycles from start to done"),
            ("busy", "cycles an item entered the pipeline"),
            ("stall", "cycles the pipeline waited for a row descriptor before the last item"),
            ("edges", "edges aggregated (once per edge, not per feature group)"),
        ]
        windows = {
            "indptr":   WindowedMemory(unsigned(cfg.edge_bits), cfg.max_nodes + 1),
            "indices":  WindowedMemory(unsigned(max(cfg.node_bits, 1)), cfg.max_edges),
            "weights":  WindowedMemory(signed(cfg.weight_bits), cfg.max_edges),
            "features": WindowedMemory.from_layout(feature_layout(cfg)),
            "result":   WindowedMemory.from_layout(feature_layout(cfg), engine_write=True),
        }
        super().__init__(cfg, registers, counters, windows, errors=GNN_ERROR_MEANINGS)

    def elaborate(self, platform):
        m = self.elaborate_frame()
        cfg = self.config
        csr = self.csr
        win = self.windows
        lanes, A, W = cfg.lanes, cfg.acc_width, cfg.data_bits

        # Run parameters, latched at start.
        num_nodes = Signal.like(csr.value("NUM_NODES", "value"))
        op = Signal(GnnOp)
        groups = Signal(range(cfg.groups_max + 1))
        abort = Signal()
        fatal = Signal()
        run_error = Signal(GnnError)

        reg_nodes = csr.value("NUM_NODES", "value")
        reg_features = csr.value("NUM_FEATURES", "value")
        bad_nodes = above(reg_nodes, cfg.max_nodes)
        bad_features = (reg_features == 0) | above(reg_features, cfg.max_features)
        launch = Signal()
        m.d.comb += launch.eq(self.start & ~bad_nodes & ~bad_features)
        with m.If(self.start):
            m.d.sync += [
                num_nodes.eq(reg_nodes),
                op.eq(csr.value("OP", "code")),
                groups.eq((reg_features + (lanes - 1)) // lanes),
                run_error.eq(Mux(bad_nodes, GnnError.NUM_NODES, Mux(bad_features, GnnError.NUM_FEATURES,
                                                                   GnnError.NONE))),
            ]

        # Schedule: row descriptors -> FIFO -> sequencer.
        m.submodules.rows = rows = RowReader(cfg)
        fifo = SyncFIFOBuffered(width=row_layout(cfg).size, depth=ROW_FIFO_DEPTH)
        m.submodules.row_fifo = ResetInserter(abort | self.start)(fifo)
        m.submodules.sequencer = seq = EdgeSequencer(cfg)
        m.d.comb += [
            abort.eq(self.soft_reset | fatal),
            rows.start.eq(launch),
            rows.abort.eq(abort),
            rows.num_nodes.eq(num_nodes),
            win["indptr"].rd_addr.eq(rows.mem_addr),
            win["indptr"].rd_en.eq(rows.mem_en),
            rows.mem_data.eq(win["indptr"].rd_data[0]),
            fifo.w_data.eq(rows.rows.payload),
            fifo.w_en.eq(rows.rows.valid),
            rows.rows.ready.eq(fifo.w_rdy),
            seq.start.eq(launch),
            seq.abort.eq(abort),
            seq.groups.eq(groups),
            seq.rows.payload.eq(fifo.r_data),
            seq.rows.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(seq.rows.ready),
            fatal.eq(rows.error),
        ]

        # Pipeline registers. Each stage carries the item's bookkeeping forward.
        def stage(name):
            return {
                "valid": Signal(name=f"{name}_valid"),
                "row":   Signal(range(cfg.max_nodes), name=f"{name}_row"),
                "group": Signal(range(max(cfg.groups_max, 2)), name=f"{name}_group"),
                "deg":   Signal(cfg.edge_bits, name=f"{name}_deg"),
                "first": Signal(name=f"{name}_first"),
                "last":  Signal(name=f"{name}_last"),
                "empty": Signal(name=f"{name}_empty"),
            }

        def advance(dst, src, valid=None):
            m.d.sync += [dst[k].eq(src[k]) for k in dst if k != "valid"]
            m.d.sync += dst["valid"].eq(Mux(abort, 0, src["valid"] if valid is None else valid))

        s0 = {"valid": seq.valid, "row": seq.row, "group": seq.group, "deg": seq.deg,
              "first": seq.first, "last": seq.last, "empty": seq.empty}

        # S0 -> S1: read the edge's column index and weight.
        s1 = stage("s1")
        m.d.comb += [
            win["indices"].rd_addr.eq(seq.edge), win["indices"].rd_en.eq(1),
            win["weights"].rd_addr.eq(seq.edge), win["weights"].rd_en.eq(1),
        ]
        advance(s1, s0)

        # S1 -> S2: read the feature word of the source node.
        s2 = stage("s2")
        col = win["indices"].rd_data[0]
        weight = Signal(signed(cfg.weight_bits))
        m.d.comb += [
            win["features"].rd_addr.eq(win["features"].layout.bank_word(node=col, feature=s1["group"])),
            win["features"].rd_en.eq(1),
        ]
        m.d.sync += weight.eq(win["weights"].rd_data[0])
        advance(s2, s1)
        col_error = s1["valid"] & ~s1["empty"] & (col >= num_nodes)
        degree_error = s1["valid"] & (op == GnnOp.MEAN) & above(s1["deg"], cfg.max_degree)

        # S2 -> S3: per-lane term (feature, or weight * feature); empty rows contribute 0.
        s3 = stage("s3")
        term_shape = signed(W + cfg.weight_bits)
        terms = [Signal(term_shape, name=f"term{i}") for i in range(lanes)]
        x = win["features"].rd_data
        for i in range(lanes):
            with m.If(s2["empty"]):
                m.d.sync += terms[i].eq(0)
            with m.Elif(op == GnnOp.WEIGHTED):
                m.d.sync += terms[i].eq(weight * x[i])
            with m.Else():
                m.d.sync += terms[i].eq(x[i])
        advance(s3, s2)

        # S3 -> S4: accumulate in CSR order; on the last item of a (row, group) capture the result.
        s4 = stage("s4")
        accs = [Signal(signed(A), name=f"acc{i}") for i in range(lanes)]
        results = [Signal(signed(A), name=f"res{i}") for i in range(lanes)]
        is_max = op == GnnOp.MAX
        for i in range(lanes):
            base = Mux(s3["first"], 0, accs[i])
            total = fit_signed(base + terms[i], A, cfg.saturate)
            larger = Mux(s3["first"] | (terms[i] > accs[i]), terms[i], accs[i])
            acc_next = Signal(signed(A), name=f"acc_next{i}")
            m.d.comb += acc_next.eq(Mux(is_max, larger, total))
            with m.If(s3["valid"]):
                m.d.sync += accs[i].eq(acc_next)
                with m.If(s3["last"]):
                    m.d.sync += results[i].eq(acc_next)
        advance(s4, s3, valid=s3["valid"] & s3["last"])

        # Mean reciprocal ROM, addressed with the degree one stage ahead of its use.
        shift_width = ceil_log2(cfg.recip_shift_max + 1)
        rom = Memory(shape=unsigned(cfg.recip_width + shift_width), depth=cfg.max_degree + 1,
                     init=mean_reciprocals(cfg))
        m.submodules.recip_rom = rom
        rom_rd = rom.read_port()
        m.d.comb += rom_rd.addr.eq(Mux(above(s3["deg"], cfg.max_degree), cfg.max_degree, s3["deg"]))
        recip = rom_rd.data[:cfg.recip_width]
        recip_shift_m1 = rom_rd.data[cfg.recip_width:]

        # S4 -> S5 -> S6: round half up and fit. floor((v + 2**(k-1)) / 2**k) == (floor(v / 2**(k-1)) + 1) >> 1, so
        # S5 shifts by k - 1 (mean: k = s_d from the ROM, weighted: k = wf) and S6 adds the 1 and drops a bit.
        s5 = stage("s5")
        wf = cfg.weight_frac_bits
        pre_shape = signed(A + cfg.recip_width + 1)
        pres = [Signal(pre_shape, name=f"pre{i}") for i in range(lanes)]
        rounding = Signal()
        m.d.sync += rounding.eq((op == GnnOp.MEAN) | ((op == GnnOp.WEIGHTED) & (wf > 0)))
        for i in range(lanes):
            with m.Switch(op):
                with m.Case(GnnOp.MEAN):
                    m.d.sync += pres[i].eq((results[i] * recip) >> recip_shift_m1)
                with m.Case(GnnOp.WEIGHTED):
                    m.d.sync += pres[i].eq(results[i] >> max(wf - 1, 0))
                with m.Default():
                    m.d.sync += pres[i].eq(results[i])
        advance(s5, s4)

        s6 = stage("s6")
        outs = [Signal(signed(W), name=f"out{i}") for i in range(lanes)]
        for i in range(lanes):
            rounded = Mux(rounding, (pres[i] + 1) >> 1, pres[i])
            m.d.sync += outs[i].eq(fit_signed(rounded, W, cfg.saturate))
        advance(s6, s5)

        # S6: write the result word.
        result = win["result"]
        m.d.comb += [
            result.wr_addr.eq(result.layout.bank_word(node=s6["row"], feature=s6["group"])),
            result.wr_en.eq(s6["valid"]),
        ]
        for i in range(lanes):
            m.d.comb += result.wr_data[i].eq(outs[i])

        # Run control and counters.
        in_flight = s1["valid"] | s2["valid"] | s3["valid"] | s4["valid"] | s5["valid"] | s6["valid"]
        # Every descriptor has been taken by the sequencer. The FIFO's `level` counts a descriptor from the cycle
        # after it is written, while `r_rdy` rises only a cycle later (output register): with one row, `finished`
        # rises while that row is still between the two, and `~r_rdy` would end the run before it is issued.
        issued_all = rows.finished & (fifo.level == 0) & seq.idle
        sticky_error = Signal(GnnError)
        with m.If(self.start):
            m.d.sync += [self.busy.eq(launch), sticky_error.eq(GnnError.NONE)]
        with m.Elif(abort):
            m.d.sync += self.busy.eq(0)
        with m.Elif(self.busy & issued_all & ~in_flight):
            m.d.sync += self.busy.eq(0)
        with m.If(self.busy & (sticky_error == GnnError.NONE)):
            with m.If(col_error):
                m.d.sync += sticky_error.eq(GnnError.BAD_COLUMN)
            with m.Elif(degree_error):
                m.d.sync += sticky_error.eq(GnnError.DEGREE)

        start_failed = Signal()
        m.d.sync += start_failed.eq(self.start & ~launch)
        finished_run = self.busy & ~abort & issued_all & ~in_flight
        m.d.comb += [
            self.finish.eq(start_failed | finished_run | (self.busy & fatal)),
            self.error.eq(Mux(start_failed, run_error, Mux(fatal, GnnError.BAD_INDPTR, sticky_error))),
            self.counter_inc["cycles"].eq(self.busy),
            self.counter_inc["busy"].eq(self.busy & seq.valid),
            self.counter_inc["stall"].eq(self.busy & ~seq.valid & ~issued_all),
            self.counter_inc["edges"].eq(self.busy & seq.valid & ~seq.empty & (seq.group == 0)),
        ]
        return m
