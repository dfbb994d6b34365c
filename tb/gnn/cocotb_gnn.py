"""cocotb tests of the GNN engine's registers: its error codes, then the register frame every engine shares.

Jobs (graphs, features, ops) run through the generic job loop instead (``tb.cocotb_jobs``, driven by
:func:`tb.jobs.simulate`).
"""

import cocotb

from hw.gnn.codes import GnnError, GnnOp
from tb.harness import TB, check_frame
from tb.host.driver import EngineError
from tb.host.gnn import GnnDriver


@cocotb.test()
async def test_registers(dut):
    """Error codes of the GNN engine, then the shared register frame (tb.harness.check_frame)."""
    tb = TB(dut, GnnDriver)
    await tb.reset()
    drv = tb.driver
    cfg = drv.config

    async def expect_error(error):
        try:
            await drv.run(timeout_cycles=100_000)
        except EngineError as exc:
            assert exc.code == error.value, f"expected error {error}, got {exc.code}"
            assert await drv.read_field("STATUS", "error") == error.value
            assert drv.manifest.errors[error.value]["name"] == error.name.lower()
        else:
            raise AssertionError(f"expected error {error}, the run succeeded")

    # Register checks at start.
    await drv.write_reg("NUM_NODES", value=2)
    await drv.write_reg("NUM_FEATURES", value=0)
    await expect_error(GnnError.NUM_FEATURES)
    await drv.write_reg("NUM_FEATURES", value=cfg.max_features + 1)
    await expect_error(GnnError.NUM_FEATURES)
    await drv.write_reg("NUM_FEATURES", value=4)
    await drv.write_reg("NUM_NODES", value=cfg.max_nodes + 1)
    await expect_error(GnnError.NUM_NODES)

    # A decreasing indptr aborts the run; the host-side CsrGraph would refuse it, so write the window.
    indptr = drv.manifest.window("indptr").base
    indices = drv.manifest.window("indices").base
    await drv.backend.write_burst(indptr, [0, 3, 1, 4])
    await drv.backend.write_burst(indices, [0, 1, 2, 0])
    await drv.write_reg("NUM_NODES", value=3)
    await expect_error(GnnError.BAD_INDPTR)

    # A column index >= NUM_NODES: the run completes with an error.
    await drv.backend.write_burst(indptr, [0, 2, 3])
    await drv.backend.write_burst(indices, [0, 5, 1])
    await drv.write_reg("NUM_NODES", value=2)
    await expect_error(GnnError.BAD_COLUMN)

    # Mean over a row with more in-edges than the reciprocal table holds.
    deg = cfg.max_degree + 1
    await drv.backend.write_burst(indptr, [0, deg, deg])
    await drv.backend.write_burst(indices, [1] * deg)
    await drv.write_reg("OP", code=GnnOp.MEAN.value)
    await expect_error(GnnError.DEGREE)
    await drv.write_reg("OP", code=GnnOp.SUM.value)
    counters = await drv.run()                          # the same graph is fine for sum
    assert counters["edges"] == deg

    # The frame every engine shares; a long run is one row with max_degree + 1 edges, summed.
    async def start_long_run():
        await drv.write_reg("NUM_NODES", value=2)
        await drv.write_reg("NUM_FEATURES", value=4)
        await drv.write_reg("OP", code=GnnOp.SUM.value)
        await drv.start()

    await check_frame(tb, start_long_run, window="features")
