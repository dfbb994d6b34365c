"""Row descriptors and the edge sequencer: turn CSR row pointers into one pipeline item per cycle."""

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from ..common.fixed import above

__all__ = ["row_layout", "RowReader", "EdgeSequencer"]


def row_layout(config):
    """A row descriptor: destination row and its edge range ``[start, end)``."""
    return data.StructLayout({
        "row":   range(config.max_nodes),
        "start": config.edge_bits,
        "end":   config.edge_bits,
    })


class RowReader(wiring.Component):
    """Reads ``indptr[first_row..end_row]`` in order and emits one descriptor per row ``first_row..end_row - 1``.

    Throughput: one descriptor per cycle (the memory read is pipelined and held while the consumer stalls).
    Latency: the first descriptor leaves 3 cycles after ``start``.

    Interface attributes
    --------------------
    start : In(1)
        Pulse: begin a pass over the rows ``first_row..end_row - 1`` (also clears ``error``).
    abort : In(1)
        Pulse: stop at once.
    first_row : In(range(max_nodes + 1))
        First row of the pass (0 unless the rows are split between processing elements); held during the pass.
    end_row : In(range(max_nodes + 1))
        One past the last row of the pass; held during the pass.
    mem_addr, mem_en : Out, mem_data : In(edge_bits)
        Synchronous read port of the ``indptr`` memory (``mem_data`` shows the word one cycle after ``mem_en``).
    rows : Out(stream.Signature(row_layout))
        Descriptors, in row order.
    finished : Out(1)
        Every descriptor of the pass has been emitted (level, until the next ``start``); never after an ``error``
        or ``abort``.
    error : Out(1)
        Pulse: a row pointer went backwards or beyond ``max_edges``; the pass stops.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "start":     In(1),
            "abort":     In(1),
            "first_row": In(range(config.max_nodes + 1)),
            "end_row":   In(range(config.max_nodes + 1)),
            "mem_addr":  Out(range(config.max_nodes + 1)),
            "mem_en":    Out(1),
            "mem_data":  In(config.edge_bits),
            "rows":      Out(stream.Signature(row_layout(config))),
            "finished":  Out(1),
            "error":     Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        active = Signal()
        next_addr = Signal(range(cfg.max_nodes + 2))
        data_valid = Signal()                       # mem_data holds indptr[data_index]
        data_index = Signal(range(cfg.max_nodes + 1))
        prev = Signal(cfg.edge_bits)                # indptr[data_index - 1]
        have_prev = Signal()

        bad = (self.mem_data < prev) | above(self.mem_data, cfg.max_edges)
        row_ready = data_valid & have_prev
        m.d.comb += [
            self.rows.valid.eq(active & row_ready & ~bad),
            self.rows.payload.row.eq(data_index - 1),
            self.rows.payload.start.eq(prev),
            self.rows.payload.end.eq(self.mem_data),
            self.error.eq(active & row_ready & bad),
        ]
        consume = active & data_valid & (~have_prev | (self.rows.ready & ~bad))
        issue = active & (next_addr <= self.end_row) & (~data_valid | consume)
        m.d.comb += [
            self.mem_addr.eq(next_addr),
            self.mem_en.eq(issue),
            self.finished.eq(~active & ~data_valid & have_prev),
        ]

        with m.If(self.abort | self.error):
            # have_prev too: a pass that stopped early has not finished.
            m.d.sync += [active.eq(0), data_valid.eq(0), have_prev.eq(0)]
        with m.Elif(self.start):
            m.d.sync += [active.eq(1), next_addr.eq(self.first_row), data_valid.eq(0), have_prev.eq(0)]
        with m.Else():
            with m.If(issue):
                m.d.sync += [next_addr.eq(next_addr + 1), data_valid.eq(1), data_index.eq(next_addr)]
            with m.Elif(consume):
                m.d.sync += data_valid.eq(0)
            with m.If(consume):
                m.d.sync += [prev.eq(self.mem_data), have_prev.eq(1)]
            with m.If(active & (next_addr > self.end_row) & (~data_valid | consume)):
                m.d.sync += active.eq(0)
        return m


class EdgeSequencer(wiring.Component):
    """Expands row descriptors into pipeline items: for each row, for each feature group, for each edge.

    An empty row yields one item per group (flagged ``empty``) so that its result is still written. Row and group
    changes cost no cycle: the next descriptor is taken in the cycle the current row's last item leaves.

    Throughput: one item per cycle while descriptors are available.

    Interface attributes
    --------------------
    start : In(1), abort : In(1)
        Pulses: drop the current descriptor.
    groups : In(range(groups_max + 1))
        Feature groups per row, ``ceil(F / lanes)``; at least 1, held during a run.
    rows : In(stream.Signature(row_layout))
    valid : Out(1)
        An item leaves this cycle; the fields below describe it.
    edge : Out(edge_bits), row, group, deg : Out
    first, last : Out(1)
        First / last item of the current (row, group).
    empty : Out(1)
        The row has no edges; ``edge`` is meaningless.
    idle : Out(1)
        No descriptor is held.
    """

    def __init__(self, config):
        self._config = config
        super().__init__({
            "start":  In(1),
            "abort":  In(1),
            "groups": In(range(config.groups_max + 1)),
            "rows":   In(stream.Signature(row_layout(config))),
            "valid":  Out(1),
            "edge":   Out(config.edge_bits),
            "row":    Out(range(config.max_nodes)),
            "group":  Out(range(max(config.groups_max, 2))),
            "deg":    Out(config.edge_bits),
            "first":  Out(1),
            "last":   Out(1),
            "empty":  Out(1),
            "idle":   Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        cur = Signal(row_layout(cfg))
        cur_valid = Signal()
        group = Signal(range(max(cfg.groups_max, 2)))
        edge = Signal(cfg.edge_bits)

        empty = cur.start == cur.end
        last_edge = empty | (edge + 1 == cur.end)
        last_group = group + 1 == self.groups
        row_done = last_edge & last_group
        m.d.comb += [
            self.valid.eq(cur_valid),
            self.edge.eq(edge),
            self.row.eq(cur.row),
            self.group.eq(group),
            self.deg.eq(cur.end - cur.start),
            self.first.eq(empty | (edge == cur.start)),
            self.last.eq(last_edge),
            self.empty.eq(empty),
            self.idle.eq(~cur_valid),
            self.rows.ready.eq(~cur_valid | row_done),
        ]
        with m.If(self.start | self.abort):
            m.d.sync += cur_valid.eq(0)
        with m.Elif(self.rows.valid & self.rows.ready):
            m.d.sync += [
                cur.eq(self.rows.payload),
                cur_valid.eq(1),
                group.eq(0),
                edge.eq(self.rows.payload.start),
            ]
        with m.Elif(cur_valid & row_done):
            m.d.sync += cur_valid.eq(0)
        with m.Elif(cur_valid & last_edge):
            m.d.sync += [group.eq(group + 1), edge.eq(cur.start)]
        with m.Elif(cur_valid):
            m.d.sync += edge.eq(edge + 1)
        return m
