"""cocotb tests of the SNN engine's registers: its error codes, an aborted run followed by a correct one, then the
register frame every engine shares.

Jobs (programs, spike trains, modes) run through the generic job loop instead (``tb.cocotb_jobs``, driven by
:func:`tb.jobs.simulate`).
"""

import cocotb
import numpy as np

from hw.snn.codes import SnnError
from pimgen.snn.program import CoreProgram, SnnProgram, SpikeTrains
from sw_model.snn import simulate as golden
from tb.harness import TB, check_frame
from tb.host.driver import EngineError
from tb.host.snn import SnnDriver


def busy_program(cfg):
    """Every input neuron drives every neuron of core 0, which fires every step into core 1."""
    n_in = cfg.input_neurons
    core0 = CoreProgram(np.full((n_in, cfg.neurons), 5), np.zeros(cfg.neurons, dtype=np.int64), 1, 0, "zero",
                        np.arange(cfg.neurons + 1), np.array([[1, n, 0] for n in range(cfg.neurons)]))
    core1 = CoreProgram(np.eye(cfg.neurons, dtype=np.int64), np.zeros(cfg.neurons, dtype=np.int64), 1, 0)
    return SnnProgram([core0, core1], np.arange(n_in + 1), np.array([[0, i, 0] for i in range(n_in)]))


@cocotb.test()
async def test_registers(dut):
    """NUM_STEPS out of range is an error and runs nothing; more spikes than max_spikes is an error with the first
    ones kept; a soft reset mid-run leaves the engine ready for a correct run; then the shared frame."""
    tb = TB(dut, SnnDriver)
    await tb.reset()
    drv = tb.driver
    cfg = drv.config

    async def expect_error(error):
        try:
            counters = await drv.run(timeout_cycles=1_000_000)
        except EngineError as exc:
            assert exc.code == error.value, f"expected error {error}, got {exc.code}"
            assert drv.manifest.errors[exc.code]["name"] == error.name.lower()
            return await drv.read_counters()
        raise AssertionError(f"expected error {error}, the run succeeded: {counters}")

    for bad in (0, cfg.max_steps + 1):
        await drv.write_reg("NUM_STEPS", value=bad)
        counters = await expect_error(SnnError.NUM_STEPS)
        assert counters["cycles"] == 0, f"NUM_STEPS={bad} ran {counters['cycles']} cycles"

    program = busy_program(cfg)
    trains = SpikeTrains.from_raster(np.ones((cfg.max_steps, cfg.input_neurons), dtype=bool))
    await drv.load_program(program)
    await drv.load_inputs(trains)
    # Core 0 fires all its neurons every step: more than max_spikes in all.
    assert cfg.neurons * cfg.max_steps > cfg.max_spikes
    counters = await expect_error(SnnError.SPIKE_OVERFLOW)
    spikes = await drv.read_spikes(counters)
    ref = golden(cfg, program, trains)
    assert np.array_equal(spikes["core0"], ref.spikes[0][:cfg.max_spikes])
    assert counters["spikes"][0] == len(ref.spikes[0])

    async def start_long_run():
        await drv.load_inputs(trains)
        await drv.start()

    # Abort half way, then a short run: the spikes are the golden's.
    await start_long_run()
    await drv.backend.idle(200)
    await drv.soft_reset()
    short = SpikeTrains.from_raster(np.ones((2, cfg.input_neurons), dtype=bool))
    await drv.load_inputs(short)
    counters = await drv.run(timeout_cycles=1_000_000)
    spikes = await drv.read_spikes(counters)
    ref = golden(cfg, program, short)
    for k in range(cfg.cores):
        assert np.array_equal(spikes[f"core{k}"], ref.spikes[k]), f"core {k} after the abort"

    await check_frame(tb, start_long_run, window="weights0")
