"""cocotb tests of the CiM tile's registers: its error code, a run after an aborted one, then the register frame every
engine shares.

Jobs (weights, input batches) run through the generic job loop instead (``tb.cocotb_jobs``, driven by
:func:`tb.jobs.simulate`).
"""

import cocotb
import numpy as np

from hw.cim.codes import CimError
from sw_model.cim import tile_vmm
from tb.harness import TB, check_frame
from tb.host.cim import CimDriver
from tb.host.driver import EngineError


@cocotb.test()
async def test_registers(dut):
    """NUM_VECTORS out of range (any bus word outside 1..max_vectors) is an error and runs nothing; a soft reset
    mid-run leaves the tile ready for a correct run; then the shared register frame (tb.harness.check_frame)."""
    tb = TB(dut, CimDriver)
    await tb.reset()
    drv = tb.driver
    cfg = drv.config

    # Raw bus words, written out here (not through the driver's field helpers): 0, one past max_vectors, and words
    # whose low bits are a valid count (1) but which are far larger: a field narrower than the bus word would drop
    # the high bits (33 ran 1 vector when the field was ceil_log2(max_vectors + 1) bits wide).
    addr = drv.manifest.reg("NUM_VECTORS").addr
    old_field_bits = cfg.max_vectors.bit_length()                 # ceil_log2(max_vectors + 1)
    for bad in (0, cfg.max_vectors + 1, (1 << old_field_bits) + 1, 2 * cfg.max_vectors + 1, (1 << 16) + 1,
                (1 << 17) + 1, (1 << 31) + 1, 0xFFFF_FFFF):
        await drv.backend.write(addr, bad)
        assert await drv.backend.read(addr) == bad, f"NUM_VECTORS does not hold {bad:#x}"
        try:
            await drv.run(timeout_cycles=10_000)
        except EngineError as exc:
            assert exc.code == CimError.NUM_VECTORS.value, f"NUM_VECTORS={bad:#x}: expected error 1, got {exc.code}"
            assert drv.manifest.errors[exc.code]["name"] == "num_vectors"
        else:
            raise AssertionError(f"NUM_VECTORS={bad:#x}: expected an error, the run succeeded")
        counters = await drv.read_counters()
        assert counters["conversions"] == 0, f"NUM_VECTORS={bad:#x} converted {counters['conversions']} times"

    rng = np.random.default_rng(5)
    w = rng.integers(cfg.weight_range[0], cfg.weight_range[1] + 1, (cfg.rows, cfg.cols))
    x = rng.integers(cfg.input_range[0], cfg.input_range[1] + 1, (cfg.max_vectors, cfg.rows))

    async def start_long_run():
        await drv.load_weights(w)
        await drv.load_inputs(x)
        await drv.start()

    # Abort a run half way, then run again: the result is the golden's, the counters the formula's.
    await start_long_run()
    await drv.backend.idle(cfg.cycles(cfg.max_vectors) // 2)
    await drv.soft_reset()
    await drv.load_inputs(x)
    counters = await drv.run_batch()
    assert counters["cycles"] == cfg.cycles(cfg.max_vectors)
    y = await drv.read_outputs_now()
    assert np.array_equal(y, tile_vmm(cfg, w, x).y)

    await check_frame(tb, start_long_run, window="weights")
