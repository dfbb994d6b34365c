"""One processing element of the GNN engine: a range of rows, aggregated ``lanes`` features per cycle.

Arithmetic, order and rounding are defined in docs/gnn.md and by the golden model ``sw_model.gnn.aggregate``.
"""

from amaranth.hdl import Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from ..common.fixed import above, fit_signed
from .codes import GnnError, GnnOp
from .layouts import HEADER_BITS, feature_layout, feature_shape, weight_shape
from .mixed_decode import MixedAddress, MixedDecode
from . import fp16
from .schedule import EdgeSequencer, RowReader, row_layout

__all__ = ["ProcessingElement", "ROW_FIFO_DEPTH", "mean_reciprocals", "read_port", "write_port"]

#: Width classes of mixed precision (one per width 1..8, pimgen.gnn.mixed).
MIXED_CLASSES = 8

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


def read_port(addr_shape, data_shape):
    """Signature of a synchronous memory read port, seen from the reader: ``data`` shows the word at ``addr`` one
    cycle after a cycle with ``en``."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": In(data_shape)})


def write_port(addr_shape, data_shape):
    """Signature of a memory write port, seen from the writer."""
    return wiring.Signature({"addr": Out(addr_shape), "en": Out(1), "data": Out(data_shape)})


class ProcessingElement(wiring.Component):
    """Aggregates the rows ``first_row..end_row - 1``: row reader -> descriptor FIFO -> edge sequencer -> a 6-stage
    lane pipeline, reading its own copies of the memories and writing its own copy of the result.

    Parameters
    ----------
    config : GnnConfig

    Interface attributes
    --------------------
    start, abort : In(1)
        Pulses: begin a run with the parameters below (held during it), or stop at once.
    first_row, end_row : In(range(max_nodes + 1))
        The rows of this element.
    num_nodes : In(range(max_nodes + 1))
        Nodes of the graph (a column index at or above it is error ``bad_column``).
    groups : In(range(groups_max + 1))
        Feature groups per row, ``ceil(F / lanes)``, at least 1.
    op : In(GnnOp)
    indptr, indices, weights, features : Out(read_port(...))
        Its memory read ports (``features`` reads ``lanes`` banks at once).
    result : Out(write_port(...))
        Its result write port: one word of ``lanes`` results per cycle at most.
    done : Out(1)
        Every row has been issued and has left the pipeline (meaningful from the cycle after ``start``).
    fatal : Out(1)
        Pulse: ``indptr`` went backwards or beyond ``max_edges``; the element stops (error ``bad_indptr``).
    error : Out(GnnError)
        ``bad_column`` or ``degree`` seen in this run (the first one), else ``none``.
    item, stall, edge : Out(1)
        Counter increments: an item entered the pipeline; it waited for a row descriptor before its last item; an
        edge was aggregated (its first feature group).

    Latency and throughput
    ----------------------
    One (edge, feature group) item per cycle with no bubble at row or group changes; 5 cycles from ``start`` to the
    first item and 6 pipeline stages after the last: ``busy = sum over its rows of max(deg, 1) * groups`` plus a
    constant (docs/gnn.md).
    """

    def __init__(self, config):
        self._config = config
        cfg = config
        node = range(cfg.max_nodes + 1)
        super().__init__({
            "start":     In(1),
            "abort":     In(1),
            "first_row": In(node),
            "end_row":   In(node),
            "num_nodes": In(node),
            "groups":    In(range(cfg.groups_max + 1)),
            "op":        In(GnnOp),
            "indptr":    Out(read_port(range(cfg.max_nodes + 2), cfg.edge_bits)),
            "indices":   Out(read_port(range(max(cfg.max_edges, 2)), max(cfg.node_bits, 1))),
            "weights":   Out(read_port(range(max(cfg.max_edges, 2)), weight_shape(cfg))),
            **self._feature_ports(cfg),
            "result":    Out(write_port(range(max(cfg.feature_words, 2)),
                                        data.ArrayLayout(feature_shape(cfg), cfg.lanes))),
            "done":      Out(1),
            "fatal":     Out(1),
            "error":     Out(GnnError),
            "item":      Out(1),
            "stall":     Out(1),
            "edge":      Out(1),
        })

    @staticmethod
    def _feature_ports(cfg):
        """The feature read port; in mixed precision the packed words, the headers and the class table instead."""
        if not cfg.is_mixed:
            return {"features": Out(read_port(range(max(cfg.feature_words, 2)),
                                              data.ArrayLayout(feature_shape(cfg), cfg.lanes)))}
        return {
            "words":    Out(read_port(range(max(cfg.feature_words, 2)), data.ArrayLayout(unsigned(8), cfg.lanes))),
            "headers":  Out(read_port(range(max(cfg.max_nodes, 2)), unsigned(HEADER_BITS))),
            "mp_first": In(range(cfg.max_nodes + 1)).array(MIXED_CLASSES),
            "mp_base":  In(range(cfg.max_nodes * cfg.groups_max + 1)).array(MIXED_CLASSES),
        }

    @property
    def config(self):
        return self._config

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        lanes, op = cfg.lanes, self.op
        abort = Signal()
        m.d.comb += abort.eq(self.abort | self.fatal)

        # Schedule: row descriptors -> FIFO -> sequencer.
        m.submodules.rows = rows = RowReader(cfg)
        fifo = SyncFIFOBuffered(width=row_layout(cfg).size, depth=ROW_FIFO_DEPTH)
        m.submodules.row_fifo = ResetInserter(abort | self.start)(fifo)
        m.submodules.sequencer = seq = EdgeSequencer(cfg)
        m.d.comb += [
            rows.start.eq(self.start),
            rows.abort.eq(abort),
            rows.first_row.eq(self.first_row),
            rows.end_row.eq(self.end_row),
            self.indptr.addr.eq(rows.mem_addr),
            self.indptr.en.eq(rows.mem_en),
            rows.mem_data.eq(self.indptr.data),
            fifo.w_data.eq(rows.rows.payload),
            fifo.w_en.eq(rows.rows.valid),
            rows.rows.ready.eq(fifo.w_rdy),
            seq.start.eq(self.start),
            seq.abort.eq(abort),
            seq.groups.eq(self.groups),
            seq.rows.payload.eq(fifo.r_data),
            seq.rows.valid.eq(fifo.r_rdy),
            fifo.r_en.eq(seq.rows.ready),
            self.fatal.eq(rows.error),
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
            self.indices.addr.eq(seq.edge), self.indices.en.eq(1),
            self.weights.addr.eq(seq.edge), self.weights.en.eq(1),
        ]
        advance(s1, s0)

        col = self.indices.data
        col_error = s1["valid"] & ~s1["empty"] & (col >= self.num_nodes)
        degree_error = s1["valid"] & (op == GnnOp.MEAN) & above(s1["deg"], cfg.max_degree)
        if cfg.is_mixed:
            s2, weight, x, decode_in_flight = self._mixed_features(m, stage, advance, s1, col)
        else:
            # S1 -> S2: read the feature word of the source node.
            s2 = stage("s2")
            weight = Signal(weight_shape(cfg))
            m.d.comb += [
                self.features.addr.eq(_feature_word(cfg, col, s1["group"])),
                self.features.en.eq(1),
            ]
            m.d.sync += weight.eq(self.weights.data)
            advance(s2, s1)
            x, decode_in_flight = self.features.data, 0

        if cfg.is_float:
            s6, outs, lanes_in_flight = self._float_lanes(m, stage, advance, s2, weight, x)
        else:
            s6, outs, lanes_in_flight = self._fixed_lanes(m, stage, advance, s2, weight, x)

        # S6: write the result word.
        m.d.comb += [
            self.result.addr.eq(_feature_word(cfg, s6["row"], s6["group"])),
            self.result.en.eq(s6["valid"]),
        ]
        for i in range(lanes):
            m.d.comb += self.result.data[i].eq(outs[i])

        # Completion, errors and counter increments.
        in_flight = s1["valid"] | decode_in_flight | s2["valid"] | lanes_in_flight | s6["valid"]
        # Every descriptor has been taken by the sequencer. The FIFO's `level` counts a descriptor from the cycle
        # after it is written, while `r_rdy` rises only a cycle later (output register): with one row, `finished`
        # rises while that row is still between the two, and `~r_rdy` would end the run before it is issued.
        issued_all = rows.finished & (fifo.level == 0) & seq.idle
        m.d.comb += self.done.eq(issued_all & ~in_flight)
        with m.If(self.start):
            m.d.sync += self.error.eq(GnnError.NONE)
        with m.Elif(self.error == GnnError.NONE):
            with m.If(col_error):
                m.d.sync += self.error.eq(GnnError.BAD_COLUMN)
            with m.Elif(degree_error):
                m.d.sync += self.error.eq(GnnError.DEGREE)
        m.d.comb += [
            self.item.eq(seq.valid),
            self.stall.eq(~seq.valid & ~issued_all),
            self.edge.eq(seq.valid & ~seq.empty & (seq.group == 0)),
        ]
        return m


    def _mixed_features(self, m, stage, advance, s1, col):
        """S1 -> S2 in mixed precision (pimgen.gnn.mixed), two stages longer than a plain feature read: the slot's
        word and bit offset from the class table and the node's header (S1 -> S1b), the word (S1b -> S1c), the lanes
        decoded to int16 codes (S1c -> S2). Returns the S2 stage, its weight and codes, and what is in flight."""
        cfg = self._config
        m.submodules.mixed_address = addr = MixedAddress(max_nodes=cfg.max_nodes, groups_max=cfg.groups_max)
        m.submodules.mixed_decode = decode = MixedDecode(cfg.lanes)
        m.d.comb += [
            addr.node.eq(col),
            addr.group.eq(s1["group"]),
            addr.groups.eq(self.groups),
            self.headers.addr.eq(col),
            self.headers.en.eq(1),
        ]
        for c in range(MIXED_CLASSES):
            m.d.comb += [addr.first[c].eq(self.mp_first[c]), addr.base[c].eq(self.mp_base[c])]
        s1b = stage("s1b")
        word, offset, width = Signal.like(addr.word), Signal.like(addr.shift_bits), Signal.like(addr.width)
        weight_b = Signal(weight_shape(cfg))
        m.d.sync += [word.eq(addr.word), offset.eq(addr.shift_bits), width.eq(addr.width),
                     weight_b.eq(self.weights.data)]
        advance(s1b, s1)

        s1c = stage("s1c")
        m.d.comb += [self.words.addr.eq(word), self.words.en.eq(1)]
        shift_k, offset_c, width_c = Signal(4), Signal.like(offset), Signal.like(width)
        weight_c = Signal(weight_shape(cfg))
        m.d.sync += [shift_k.eq(self.headers.data), offset_c.eq(offset), width_c.eq(width), weight_c.eq(weight_b)]
        advance(s1c, s1b)

        s2 = stage("s2")
        m.d.comb += [decode.data.eq(self.words.data), decode.shift_bits.eq(offset_c), decode.width.eq(width_c),
                     decode.k.eq(shift_k)]
        codes = Signal(data.ArrayLayout(feature_shape(cfg), cfg.lanes))
        weight = Signal(weight_shape(cfg))
        m.d.sync += [codes.eq(decode.codes), weight.eq(weight_c)]
        advance(s2, s1c)
        return s2, weight, codes, s1b["valid"] | s1c["valid"]

    def _fixed_lanes(self, m, stage, advance, s2, weight, x):
        """S2..S6 of the fixed-point formats (docs/gnn.md); returns the last stage, the lane results and whether an
        item is in S3..S5."""
        cfg = self._config
        lanes, A, W = cfg.lanes, cfg.acc_width, cfg.data_bits
        op = self.op

        # S2 -> S3: per-lane term (feature, or weight * feature); empty rows contribute 0.
        s3 = stage("s3")
        term_shape = signed(W + cfg.weight_bits)
        terms = [Signal(term_shape, name=f"term{i}") for i in range(lanes)]
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

        return s6, outs, s3["valid"] | s4["valid"] | s5["valid"]

    def _float_lanes(self, m, stage, advance, s2, weight, x):
        """S2..S6 of format fp16 (docs/gnn.md, "fp16 format"): the same stages and timing as the fixed-point lanes,
        with the binary16 (or binary32 accumulator) units of :mod:`hw.gnn.fp16`."""
        cfg = self._config
        lanes, op = cfg.lanes, self.op
        wide = cfg.fp32_acc
        acc_bits = 32 if wide else 16

        # S2 -> S3: per-lane term; empty rows contribute +0.
        s3 = stage("s3")
        terms = [Signal(acc_bits, name=f"term{i}") for i in range(lanes)]
        for i in range(lanes):
            if wide:
                plain = fp16.fp16_to_fp32(m, x[i], name=f"to32_{i}")
                product = fp16.fp16_mul_to_fp32(m, weight, x[i], name=f"wmul32_{i}")
            else:
                plain = x[i]
                product = fp16.fp16_mul(m, weight, x[i], name=f"wmul_{i}")
            with m.If(s2["empty"]):
                m.d.sync += terms[i].eq(0)
            with m.Elif(op == GnnOp.WEIGHTED):
                m.d.sync += terms[i].eq(product)
            with m.Elif(op == GnnOp.MAX):
                m.d.sync += terms[i].eq(fp16.fp16_to_fp32(m, x[i], name=f"max32_{i}") if wide else x[i])
            with m.Else():
                m.d.sync += terms[i].eq(plain)
        advance(s3, s2)

        # S3 -> S4: accumulate in CSR order from the first term; max keeps the earlier of equal values.
        s4 = stage("s4")
        accs = [Signal(acc_bits, name=f"acc{i}") for i in range(lanes)]
        results = [Signal(acc_bits, name=f"res{i}") for i in range(lanes)]
        for i in range(lanes):
            if wide:
                total = fp16.fp32_add(m, accs[i], terms[i], name=f"add32_{i}")
                larger = fp16.fp16_to_fp32(m, fp16.fp16_max(m, fp16.fp32_to_fp16(m, accs[i], name=f"macc_{i}"),
                                                            fp16.fp32_to_fp16(m, terms[i], name=f"mterm_{i}"),
                                                            name=f"max_{i}"), name=f"max_back_{i}")
            else:
                total = fp16.fp16_add(m, accs[i], terms[i], name=f"add_{i}")
                larger = fp16.fp16_max(m, accs[i], terms[i], name=f"max_{i}")
            acc_next = Signal(acc_bits, name=f"acc_next{i}")
            m.d.comb += acc_next.eq(Mux(s3["first"], terms[i], Mux(op == GnnOp.MAX, larger, total)))
            with m.If(s3["valid"]):
                m.d.sync += accs[i].eq(acc_next)
                with m.If(s3["last"]):
                    m.d.sync += results[i].eq(acc_next)
        advance(s4, s3, valid=s3["valid"] & s3["last"])

        # Mean reciprocal ROM R[d] = fl(1/d), addressed with the degree one stage ahead of its use.
        rom = Memory(shape=unsigned(acc_bits), depth=cfg.max_degree + 1,
                     init=fp16.reciprocal_rom(cfg.max_degree, fp16.FP32 if wide else fp16.FP16))
        m.submodules.recip_rom = rom
        rom_rd = rom.read_port()
        m.d.comb += rom_rd.addr.eq(Mux(above(s3["deg"], cfg.max_degree), cfg.max_degree, s3["deg"]))

        # S4 -> S5: mean multiplies by the reciprocal; S5 -> S6: round to binary16 (fp32 accumulator) or make a NaN
        # canonical (the first term of a sum or max row reaches the result without passing through a unit).
        s5 = stage("s5")
        pres = [Signal(acc_bits, name=f"pre{i}") for i in range(lanes)]
        for i in range(lanes):
            mul = fp16.fp32_mul if wide else fp16.fp16_mul
            scaled = mul(m, results[i], rom_rd.data, name=f"mean_{i}")
            m.d.sync += pres[i].eq(Mux(op == GnnOp.MEAN, scaled, results[i]))
        advance(s5, s4)

        s6 = stage("s6")
        outs = [Signal(16, name=f"out{i}") for i in range(lanes)]
        for i in range(lanes):
            if wide:
                out = fp16.fp32_to_fp16(m, pres[i], name=f"to16_{i}")
            else:
                out = fp16.fp16_canonical(m, pres[i], name=f"canon_{i}")
            m.d.sync += outs[i].eq(out)
        advance(s6, s5)
        return s6, outs, s3["valid"] | s4["valid"] | s5["valid"]


def _feature_word(config, node, group):
    """Word of (node, feature group) in every bank of the features and result memories: the windows' layout."""
    return feature_layout(config).bank_word(node=node, feature=group)
