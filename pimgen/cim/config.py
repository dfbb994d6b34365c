"""Configuration of the compute-in-memory VMM tile (plain Python: imported by the design, the golden and the driver).

docs/cim.md gives the exact arithmetic every parameter enters; the golden model in ``sw_model.cim`` defines it.
"""

import math
import numbers
from dataclasses import dataclass
from typing import ClassVar

from ..config import MAX_MEMORY_BITS, ConfigError, ConfigTypeError, EngineConfig, ceil_log2, check_bool, \
    check_choice, check_int, param

__all__ = ["CimConfig", "WEIGHT_ENCODINGS", "INPUT_ENCODINGS", "NOISE_FRAC_BITS", "NOISE_VARIANCE",
           "NOISE_SIGMA_MIN", "OFFSET_TABLE_BITS", "MAX_CELL_READS"]

WEIGHT_ENCODINGS = ("differential", "offset")
INPUT_ENCODINGS = ("sign_magnitude", "twos_complement")
#: Fraction bits of the noise scale (docs/cim.md, noise).
NOISE_FRAC_BITS = 16
#: Variance of the generator's integer sample: the sum of four uniform bytes less 510 (4 * (256**2 - 1) / 12).
NOISE_VARIANCE = 4 * (256 ** 2 - 1) / 12
#: Smallest non-zero noise_sigma is just above this: half the generator's resolution (the sigma of a scale of 1),
#: below which ``noise_scale`` rounds to 0.
NOISE_SIGMA_MIN = math.sqrt(NOISE_VARIANCE) / (1 << NOISE_FRAC_BITS) / 2
#: Width of a per-column offset (signed integer, in units of the partial sum).
OFFSET_TABLE_BITS = 16
#: Most weight cells the tile reads per cycle (rows x ADCs): the adder trees, and the Verilog, grow with it.
MAX_CELL_READS = 4096


@dataclass(frozen=True)
class CimConfig(EngineConfig):
    """Compute-in-memory VMM tile: ``Y[v, c] = sum_r x[v, r] * W[r, c]`` through bit-sliced weights, a DAC applying
    ``dac_bits`` of each input per step, a shared ``adc_bits`` ADC per ``cols // adcs`` columns and a digital
    shift-add (docs/cim.md)."""

    engine: ClassVar[str] = "cim"
    engine_code: ClassVar[int] = 2
    version: ClassVar[tuple] = (1, 0)

    rows: int = param(64, "crossbar rows R: inputs per vector (8..1024)")
    cols: int = param(32, "crossbar columns C: outputs per vector (1..256)")
    weight_bits: int = param(8, "signed weight width Wb (2..8)")
    slice_bits: int = param(2, "weight bits stored per cell b (1..4)")
    weight_encoding: str = param("differential", "how a weight's sign is stored", choices=WEIGHT_ENCODINGS)
    input_bits: int = param(8, "signed input width Ib (1..8 in twos_complement; 2..8 in sign_magnitude)")
    dac_bits: int = param(1, "input bits the DAC applies per step d (1..Ib; 1 = bit-serial)")
    input_encoding: str = param("sign_magnitude", "how an input is cut into DAC steps", choices=INPUT_ENCODINGS)
    adc_bits: int = param(8, "ADC resolution A (1..12): 2**A - 1 levels, symmetric")
    adc_step_log2: int = param(0, "ADC step = 2**adc_step_log2 partial-sum units (0..12); full scale "
                                  "(2**(A-1) - 1) * step")
    adcs: int = param(4, "ADCs shared across the columns (1..C, dividing C)")
    output_bits: int = param(24, "saturating output width Ob (8..32)")
    noise_sigma: float = param(0.0, "standard deviation of the additive pre-ADC noise, in partial-sum units "
                                    "(0, or above 0.00113 up to 2**(A-1) * step; 0 = no noise generator)")
    noise_seed: int = param(1, "seed of the counter-based noise generator (0..2**32-1)")
    gain_offset: bool = param(False, "per-column gain and offset tables, loaded through the bus")
    gain_frac_bits: int = param(12, "fraction bits G of the gain table (4..16); gains lie in [0, 4)")
    max_vectors: int = param(256, "input vectors one run holds (1..65536)")

    def __post_init__(self):
        self._set("rows", check_int("rows", self.rows, 8, 1024))
        self._set("cols", check_int("cols", self.cols, 1, 256))
        self._set("weight_bits", check_int("weight_bits", self.weight_bits, 2, 8))
        self._set("slice_bits", check_int("slice_bits", self.slice_bits, 1, 4))
        check_choice("weight_encoding", self.weight_encoding, WEIGHT_ENCODINGS)
        check_choice("input_encoding", self.input_encoding, INPUT_ENCODINGS)
        # check_int refuses a wrong type (1.0, True) before it looks at the range, which depends on the encoding.
        if self.input_encoding == "sign_magnitude":
            try:
                input_bits = check_int("input_bits", self.input_bits, 2, 8)
            except ConfigError:
                value = int(self.input_bits)
                why = " (1 bit leaves no magnitude)" if value == 1 else ""
                raise ConfigError("input_bits", f"input_bits must be an integer in 2..8 for input_encoding "
                                                f"sign_magnitude{why}, not {value}") from None
        else:
            input_bits = check_int("input_bits", self.input_bits, 1, 8)
        self._set("input_bits", input_bits)
        self._set("dac_bits", check_int("dac_bits", self.dac_bits, 1, self.input_bits))
        self._set("adc_bits", check_int("adc_bits", self.adc_bits, 1, 12))
        self._set("adc_step_log2", check_int("adc_step_log2", self.adc_step_log2, 0, 12))
        self._set("adcs", check_int("adcs", self.adcs, 1, self.cols))
        if self.cols % self.adcs:
            raise ConfigError("adcs", f"adcs must divide cols ({self.cols}), not {self.adcs}")
        self._set("output_bits", check_int("output_bits", self.output_bits, 8, 32))
        sigma = self.noise_sigma
        if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
            raise ConfigTypeError("noise_sigma", f"noise_sigma must be a number, not {sigma!r}")
        sigma = float(sigma) + 0.0                 # -0.0 + 0.0 is 0.0: one value (and one config hash) for no noise
        sigma_max = float(2 ** (self.adc_bits - 1) * self.adc_step)
        if not (math.isfinite(sigma) and 0 <= sigma <= sigma_max):
            raise ConfigError("noise_sigma", f"noise_sigma must be a number in 0..{sigma_max:g} (2**(adc_bits - 1) "
                                             f"* ADC step), not {self.noise_sigma!r}")
        self._set("noise_sigma", sigma)
        if sigma > 0 and self.noise_scale == 0:
            raise ConfigError("noise_sigma", f"noise_sigma must be 0 or more than {NOISE_SIGMA_MIN:.6g} (half the "
                                             f"generator's resolution sqrt({NOISE_VARIANCE:g}) / 2**{NOISE_FRAC_BITS}"
                                             f": a smaller sigma rounds to a scale of 0, no noise), not {sigma!r}")
        self._set("noise_seed", check_int("noise_seed", self.noise_seed, 0, 2 ** 32 - 1))
        check_bool("gain_offset", self.gain_offset)
        self._set("gain_frac_bits", check_int("gain_frac_bits", self.gain_frac_bits, 4, 16))
        self._set("max_vectors", check_int("max_vectors", self.max_vectors, 1, 65536))
        if self.rows * self.adcs > MAX_CELL_READS:
            raise ConfigError("adcs", f"rows x adcs (the weight cells read per cycle) must be at most "
                                      f"{MAX_CELL_READS}, not {self.rows} x {self.adcs}; use fewer ADCs")
        if self.memory_bits > MAX_MEMORY_BITS:
            raise ConfigError("max_vectors", f"The memories of this config would hold {self.memory_bits} bits, "
                                             f"more than the {MAX_MEMORY_BITS} (32 Mbit) pimgen generates; lower "
                                             "max_vectors")

    # Derived quantities: the one place step counts, widths and the cycle formula come from.

    @property
    def adc_step(self):
        """The ADC step Δ in partial-sum units (a power of two)."""
        return 1 << self.adc_step_log2

    @property
    def input_steps(self):
        """DAC steps S per input: ceil((Ib - 1) / d) in sign-magnitude, ceil(Ib / d) in two's complement."""
        bits = self.input_bits - 1 if self.input_encoding == "sign_magnitude" else self.input_bits
        return -(-bits // self.dac_bits)

    @property
    def weight_slices(self):
        """Cells K per weight: ceil((Wb - 1) / b) with differential pairs, ceil(Wb / b) with an offset."""
        bits = self.weight_bits - 1 if self.weight_encoding == "differential" else self.weight_bits
        return -(-bits // self.slice_bits)

    @property
    def cols_per_adc(self):
        """Columns each ADC converts in turn (ADC ``a`` takes columns ``a, a + adcs, a + 2 adcs, ...``)."""
        return self.cols // self.adcs

    @property
    def conversions_per_vector(self):
        """ADC cycles of one input vector: S * K * cols / adcs."""
        return self.input_steps * self.weight_slices * self.cols_per_adc

    @property
    def adc_limit(self):
        """Largest ADC code magnitude: 2**(A-1) - 1 (0 for a 1-bit ADC, which can only say 0)."""
        return (1 << (self.adc_bits - 1)) - 1

    @property
    def input_range(self):
        """Allowed input codes (lo, hi): symmetric in sign-magnitude."""
        top = (1 << (self.input_bits - 1)) - 1
        return (-top if self.input_encoding == "sign_magnitude" else -top - 1, top)

    @property
    def weight_range(self):
        """Allowed weight codes (lo, hi): symmetric with differential pairs."""
        top = (1 << (self.weight_bits - 1)) - 1
        return (-top if self.weight_encoding == "differential" else -top - 1, top)

    @property
    def gain_bits(self):
        """Width of an unsigned gain table entry: G fraction bits and 2 integer bits (gains in [0, 4))."""
        return self.gain_frac_bits + 2

    @property
    def gain_one(self):
        """The gain table's code for a gain of 1."""
        return 1 << self.gain_frac_bits

    @property
    def offset_range(self):
        """Allowed offset table entries (lo, hi): signed ``OFFSET_TABLE_BITS``-bit integers in partial-sum units."""
        return (-(1 << (OFFSET_TABLE_BITS - 1)), (1 << (OFFSET_TABLE_BITS - 1)) - 1)

    @property
    def output_range(self):
        """The outputs' range (lo, hi): signed ``output_bits``; the tile saturates to it."""
        return (-(1 << (self.output_bits - 1)), (1 << (self.output_bits - 1)) - 1)

    @property
    def has_noise(self):
        """Whether the tile adds noise (and has a generator): ``noise_sigma > 0``, which implies ``noise_scale >=
        1`` (a smaller non-zero sigma is refused)."""
        return self.noise_sigma > 0

    @property
    def noise_scale(self):
        """The integer noise scale: round(sigma * 2**NOISE_FRAC_BITS / sqrt(NOISE_VARIANCE)) (docs/cim.md)."""
        return round(self.noise_sigma * (1 << NOISE_FRAC_BITS) / math.sqrt(NOISE_VARIANCE))

    @property
    def is_exact(self):
        """Exact mode: no noise, no tables, a unit ADC step and an ADC wide enough for the largest partial sum, so
        the tile equals the integer matmul (clipped to the output width)."""
        cell = (1 << self.slice_bits) - 1
        step = (1 << self.dac_bits) - 1
        return (not self.has_noise and not self.gain_offset and self.adc_step_log2 == 0
                and self.adc_limit >= self.rows * cell * step)

    @property
    def tree_stages(self):
        """Registered stages of the adder tree over the rows: one per two adder levels."""
        return max(1, -(-ceil_log2(self.rows) // 2))

    @property
    def latency(self):
        """Cycles of a run besides the conversions (docs/cim.md, timing): the first input read (1) and the pipeline
        from a conversion's issue to its output write: the DAC step and the weight read (1), the adder tree
        (``tree_stages``), gain and offset (1), the ADC (1) and the shift-add with the write (1)."""
        return 1 + 1 + self.tree_stages + 3

    def cycles(self, vectors):
        """Exact cycles (CNT_CYCLES) of a run over ``vectors`` input vectors."""
        return vectors * self.conversions_per_vector + self.latency

    @property
    def memory_bits(self):
        """Bits of all memories: the weights (one copy per ADC, a read port each), inputs, outputs and tables."""
        tables = self.cols * (self.gain_bits + OFFSET_TABLE_BITS) if self.gain_offset else 0
        return (self.adcs * self.rows * self.cols * self.weight_bits
                + self.max_vectors * (self.rows * self.input_bits + self.cols * self.output_bits) + tables)
