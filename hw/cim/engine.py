"""Compute-in-memory VMM tile: a digital model of an analog crossbar with bit-sliced weights, a DAC, shared ADCs and a
digital shift-add.

Arithmetic, order and rounding are defined in docs/cim.md and by the golden model ``sw_model.cim.tile_vmm``.
"""

from amaranth.hdl import Mux, Signal, signed
from amaranth.utils import ceil_log2

from pimgen.cim.config import OFFSET_TABLE_BITS, CimConfig
from ..common.bus import DATA_WIDTH
from ..common.csr import Access, Field, Register
from ..common.engine import Counter, EngineComponent
from ..common.fixed import fit_signed
from ..common.window import WindowedMemory
from .arith import pipelined_sum, round_half_even_shift
from .codes import CIM_ERROR_MEANINGS, CimError
from .layouts import gain_layout, input_layout, offset_layout, output_layout, weight_layout
from .noise import NOISE_LATENCY, NoiseGenerator

__all__ = ["CimEngine"]


class CimEngine(EngineComponent):
    """``Y[v, c] = sum_r x[v, r] * W[r, c]`` for a batch of input vectors, conversion by conversion as an analog tile
    does it (docs/cim.md): per input step ``i`` (DAC), weight slice ``j`` (cell) and column ``c``, the partial sum
    over the rows, per-column gain and offset, noise, the ADC, and the shift-add.

    ``adcs`` ADC lanes work in lockstep; lane ``a`` converts columns ``a, a + adcs, ...`` in turn and reads its own
    copy of the weights (a host write goes to every copy), so a column's cells arrive in one read.

    Parameters
    ----------
    config : CimConfig

    Interface attributes
    --------------------
    bus : In(BusSignature(addr_width))
        Registers (see :class:`~hw.common.engine.EngineComponent`) and the windows ``weights`` (``W[row, col]``),
        ``inputs`` (``x[vector, row]``), ``outputs`` (``y[vector, col]``) and, with ``gain_offset``, ``gain`` and
        ``offset`` (``[col]``); layouts in :mod:`hw.cim.layouts`.
    irq : Out(1)
        ``STATUS.done``.

    Registers
    ---------
    NUM_VECTORS
        Input vectors of the run, ``1..max_vectors``; a field as wide as the bus word, so any other value written is
        seen as such: error :class:`~hw.cim.codes.CimError` NUM_VECTORS, and nothing runs.
    CNT_CYCLES, CNT_CONVERSIONS, CNT_CLIPPED
        Cycles from start to done; ADC conversions (``adcs`` per cycle); conversions whose rounded value was
        outside the ADC's range.

    Latency and throughput
    ----------------------
    One conversion per ADC per cycle, no bubble between steps, slices, columns or vectors: a run over ``V`` vectors
    takes ``V * S * K * cols / adcs`` cycles plus :attr:`CimConfig.latency` (the first input read and the pipeline:
    issue, ``tree_stages`` of the adder tree, gain, ADC, accumulate, write).
    """

    def __init__(self, config):
        if not isinstance(config, CimConfig):
            raise TypeError(f"Config must be a CimConfig, not {config!r}")
        cfg = config
        registers = [
            # The whole bus word, so that the range check below sees every value a host writes (a narrower field
            # would drop the high bits: 33 would run 1 vector when max_vectors is 16).
            Register("NUM_VECTORS", [Field("value", DATA_WIDTH, Access.RW)],
                     "input vectors of the run (1..max_vectors; any other value is error NUM_VECTORS)"),
        ]
        counters = [
            Counter("cycles", "cycles from start to done"),
            Counter("conversions", "ADC conversions", max_increment=cfg.adcs),
            Counter("clipped", "conversions whose rounded value was outside the ADC's range", max_increment=cfg.adcs),
        ]
        windows = {
            "weights": WindowedMemory.from_layout(weight_layout(cfg), copies=cfg.adcs),
            "inputs": WindowedMemory.from_layout(input_layout(cfg)),
            "outputs": WindowedMemory.from_layout(output_layout(cfg), engine_write=True),
        }
        if cfg.gain_offset:
            windows["gain"] = WindowedMemory.from_layout(gain_layout(cfg))
            windows["offset"] = WindowedMemory.from_layout(offset_layout(cfg))
        super().__init__(config, registers, counters, windows, errors=CIM_ERROR_MEANINGS)

    def elaborate(self, platform):
        m = self.elaborate_frame()
        cfg = self.config
        S, K, cpa, adcs, R = cfg.input_steps, cfg.weight_slices, cfg.cols_per_adc, cfg.adcs, cfg.rows
        d, b = cfg.dac_bits, cfg.slice_bits
        weights, inputs, outputs = (self.windows[n] for n in ("weights", "inputs", "outputs"))

        # Sequencer: vector v, column group k, input step i, weight slice j (j innermost).
        num_vectors = self.csr.value("NUM_VECTORS", "value")
        bad = (num_vectors == 0) | (num_vectors > cfg.max_vectors)
        last_vector = Signal(range(cfg.max_vectors))
        v = Signal(range(cfg.max_vectors))
        k = Signal(range(max(cpa, 2)))
        i = Signal(range(max(S, 2)))
        j = Signal(range(max(K, 2)))
        fetching = Signal()                   # the cycle that reads the first input vector
        issuing = Signal()
        last_j, last_i, last_k, last_v = j == K - 1, i == S - 1, k == cpa - 1, v == last_vector
        end_of_vector = last_j & last_i & last_k

        failed = Signal()
        m.d.sync += failed.eq(self.start & bad)
        with m.If(self.soft_reset):
            m.d.sync += [self.busy.eq(0), fetching.eq(0), issuing.eq(0)]
        with m.Elif(self.start & ~bad):
            m.d.sync += [self.busy.eq(1), fetching.eq(1), v.eq(0), k.eq(0), i.eq(0), j.eq(0),
                         last_vector.eq(num_vectors - 1)]
        with m.Elif(fetching):
            m.d.sync += [fetching.eq(0), issuing.eq(1)]
        with m.Elif(issuing):
            m.d.sync += j.eq(Mux(last_j, 0, j + 1))
            with m.If(last_j):
                m.d.sync += i.eq(Mux(last_i, 0, i + 1))
                with m.If(last_i):
                    m.d.sync += k.eq(Mux(last_k, 0, k + 1))
                    with m.If(last_k):
                        m.d.sync += v.eq(v + 1)
                        with m.If(last_v):
                            m.d.sync += issuing.eq(0)

        # The input vector: read at the start, and again at each vector's last conversion for the next one; the
        # window's read data holds in between, so stage 0 sees x[v] for all of v's conversions.
        m.d.comb += [
            inputs.rd_en.eq(fetching | (issuing & end_of_vector & ~last_v)),
            inputs.rd_addr.eq(Mux(fetching, 0, v + 1)),
        ]
        x = [inputs.rd_data[r] for r in range(R)]

        # Stage 0 (age 0): the DAC's step value of every row, the weight read; tags travel with the data.
        def tag_signals(age):
            return {"valid": Signal(name=f"valid_a{age}"), "v": Signal.like(v, name=f"v_a{age}"),
                    "k": Signal.like(k, name=f"k_a{age}"), "i": Signal.like(i, name=f"i_a{age}"),
                    "j": Signal.like(j, name=f"j_a{age}"), "last_vector": Signal(name=f"lastv_a{age}")}
        tags = [{"valid": issuing, "v": v, "k": k, "i": i, "j": j, "last_vector": end_of_vector}]
        tree_stages = cfg.tree_stages
        depth = tree_stages + 4                # ages 1 .. depth carry tags: the last is the output write
        for age in range(1, depth + 1):
            t = tag_signals(age)
            with m.If(self.soft_reset):
                m.d.sync += t["valid"].eq(0)
            with m.Else():
                m.d.sync += [t[name].eq(tags[-1][name]) for name in t]
            tags.append(t)

        steps = [Signal(signed(d + 1), name=f"u{r}") for r in range(R)]
        for r in range(R):
            m.d.sync += steps[r].eq(self._dac_step(x[r], i))
        for a in range(adcs):
            m.d.comb += [weights.engine_port("rd_en", a).eq(issuing),
                         weights.engine_port("rd_addr", a).eq(k * adcs + a)]

        # Age 1: cells of slice j, products, the adder tree over the rows (registered every two levels).
        partial = []
        for a in range(adcs):
            column = weights.engine_port("rd_data", a)
            products = [steps[r] * self._cell(column[r], tags[1]["j"]) for r in range(R)]
            total, stages = pipelined_sum(m, products, name=f"tree{a}")
            assert stages == tree_stages, (stages, tree_stages)
            partial.append(total)
        p_age = 1 + tree_stages                        # the age at which P is in its register

        xsum = None
        if cfg.weight_encoding == "offset":
            xs = [Signal(signed(cfg.input_bits), name=f"x{r}") for r in range(R)]
            m.d.sync += [xs[r].eq(x[r]) for r in range(R)]
            xsum, xsum_stages = pipelined_sum(m, xs, name="xsum")
            assert xsum_stages == tree_stages, (xsum_stages, tree_stages)     # it arrives with P
            for age in range(p_age, depth):             # carry it along to the write
                nxt = Signal.like(xsum, name=f"xsum_a{age + 1}")
                m.d.sync += nxt.eq(xsum)
                xsum = nxt

        # Age p_age: gain and offset (tables read one cycle ahead with the column the conversion will be at).
        if cfg.gain_offset:
            for name in ("gain", "offset"):
                m.d.comb += [self.windows[name].rd_en.eq(tags[p_age - 1]["valid"]),
                             self.windows[name].rd_addr.eq(tags[p_age - 1]["k"])]
        gained = []
        for a in range(adcs):
            if cfg.gain_offset:
                gain = self.windows["gain"].rd_data[a]
                offset = self.windows["offset"].rd_data[a]
                assert len(offset) == OFFSET_TABLE_BITS and offset.shape().signed, offset.shape()
                product = Signal(signed(len(partial[a]) + cfg.gain_bits + 1), name=f"gain_product{a}")
                m.d.comb += product.eq(partial[a] * gain)
                # Sized from the operands' values: the rounded product lies in -2**(L-1-G)..2**(L-1-G) for an
                # L-bit product (L - G + 1 bits), the offset is OFFSET_TABLE_BITS wide, and the sum needs one more.
                rounded_bits = len(product) - cfg.gain_frac_bits + 1
                g = Signal(signed(max(rounded_bits, OFFSET_TABLE_BITS) + 1), name=f"gained{a}")
                m.d.sync += g.eq(round_half_even_shift(product, cfg.gain_frac_bits) + offset)
            else:
                g = Signal.like(partial[a], name=f"gained{a}")
                m.d.sync += g.eq(partial[a])
            gained.append(g)

        # Noise for the conversion at age p_age + 1, from its tag NOISE_LATENCY cycles earlier.
        noise = [0] * adcs
        if cfg.has_noise:
            src = tags[p_age + 1 - NOISE_LATENCY]
            for a in range(adcs):
                m.submodules[f"noise{a}"] = gen = NoiseGenerator(cfg)
                column = src["k"] * adcs + a
                m.d.comb += gen.counter.eq((src["v"] << 14) | (src["i"] << 11) | (src["j"] << 8) | column)
                noise[a] = gen.noise

        # Age p_age + 1: the ADC. Age p_age + 2: the shift-add. Age p_age + 3 = depth: the output write.
        limit = cfg.adc_limit
        adc_tag, acc_tag, out_tag = tags[p_age + 1], tags[p_age + 2], tags[depth]
        codes, clips, accs, results = [], [], [], []
        acc_width = (cfg.adc_bits + cfg.adc_step_log2 + (S - 1) * d + (K - 1) * b + ceil_log2(S * K) + 1)
        for a in range(adcs):
            noise_width = len(noise[a]) if cfg.has_noise else 0
            before = Signal(signed(max(len(gained[a]), noise_width) + 1), name=f"adc_in{a}")
            m.d.comb += before.eq(gained[a] + noise[a])
            level = Signal(signed(len(before)), name=f"adc_level{a}")
            m.d.comb += level.eq(round_half_even_shift(before, cfg.adc_step_log2))
            code = Signal(signed(cfg.adc_bits + 1), name=f"adc_code{a}")
            clip = Signal(name=f"adc_clip{a}")
            m.d.sync += [
                code.eq(Mux(level > limit, limit, Mux(level < -limit, -limit, level))),
                clip.eq(adc_tag["valid"] & ((level > limit) | (level < -limit))),
            ]
            codes.append(code)
            clips.append(clip)

            acc = Signal(signed(acc_width), name=f"acc{a}")
            # code * step * 2**(i*d + j*b): constant shifts chosen by j, then by i (no variable shifter)
            by_slice = _select([code << (cfg.adc_step_log2 + s * b) for s in range(K)], acc_tag["j"])
            shifted = _select([by_slice << (s * d) for s in range(S)], acc_tag["i"])
            first = (acc_tag["i"] == 0) & (acc_tag["j"] == 0)
            with m.If(acc_tag["valid"]):
                m.d.sync += acc.eq(Mux(first, 0, acc) + shifted)
            accs.append(acc)

            y = acc if xsum is None else acc - (xsum << (cfg.weight_bits - 1))
            result = Signal(signed(cfg.output_bits), name=f"y{a}")
            m.d.comb += result.eq(fit_signed(y, cfg.output_bits, saturate=True))
            results.append(result)

        last_of_column = (acc_tag["i"] == S - 1) & (acc_tag["j"] == K - 1)
        write = Signal()
        m.d.sync += write.eq(acc_tag["valid"] & last_of_column & ~self.soft_reset)
        m.d.comb += [
            outputs.wr_en.eq(write),
            outputs.wr_addr.eq(output_layout(cfg).bank_word(vector=out_tag["v"], col=out_tag["k"])),
        ]
        for a in range(adcs):
            m.d.comb += outputs.wr_data[a].eq(results[a])

        # End of the run: the last conversion's output is written.
        done = self.busy & write & out_tag["last_vector"] & (out_tag["v"] == last_vector)
        with m.If(done):
            m.d.sync += self.busy.eq(0)
        m.d.comb += [
            self.finish.eq(done | failed),
            self.error.eq(Mux(failed, CimError.NUM_VECTORS, CimError.NONE)),
            self.counter_inc["cycles"].eq(self.busy),
            self.counter_inc["conversions"].eq(Mux(tags[p_age + 2]["valid"], adcs, 0)),
            self.counter_inc["clipped"].eq(sum(clips)),
        ]
        return m

    def _dac_step(self, x, i):
        """The signed value the DAC applies for input code ``x`` (signed, ``input_bits``) in step ``i``."""
        cfg = self.config
        d, S = cfg.dac_bits, cfg.input_steps
        if cfg.input_encoding == "sign_magnitude":
            negative = x[-1]
            magnitude = Mux(negative, -x, x).as_unsigned()[:cfg.input_bits - 1]
            digit = _select([magnitude[s * d:(s + 1) * d] for s in range(S)], i)
            return Mux(negative, -digit, digit)
        digits = [x.as_unsigned()[s * d:(s + 1) * d] for s in range(S - 1)]
        top = x >> ((S - 1) * d)                    # the top digit keeps the sign
        return _select([*digits, top], i)

    def _cell(self, weight, j):
        """The signed value of slice ``j``'s cell for weight code ``weight`` (signed, ``weight_bits``)."""
        cfg = self.config
        b, K = cfg.slice_bits, cfg.weight_slices
        if cfg.weight_encoding == "differential":
            negative = weight[-1]
            magnitude = Mux(negative, -weight, weight).as_unsigned()[:cfg.weight_bits - 1]
            digit = _select([magnitude[s * b:(s + 1) * b] for s in range(K)], j)
            return Mux(negative, -digit, digit)
        stored = weight.as_unsigned() ^ (1 << (cfg.weight_bits - 1))      # W + 2**(Wb-1), as Wb unsigned bits
        return _select([stored[s * b:(s + 1) * b] for s in range(K)], j)


def _select(options, index):
    """``options[index]`` as a multiplexer chain (``options[0]`` for an index out of range)."""
    out = options[0]
    for n, option in enumerate(options[1:], start=1):
        out = Mux(index == n, option, out)
    return out

