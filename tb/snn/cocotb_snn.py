"""cocotb tests of the SNN engine's registers: its error codes, aborted runs followed by correct ones (with packets in
flight at the abort), ``NUM_STEPS`` written during a run, then the register frame every engine shares.

Jobs (programs, spike trains, modes) run through the generic job loop instead (``tb.cocotb_jobs``, driven by
:func:`tb.jobs.simulate`).
"""

import cocotb
import numpy as np

from hw.snn.codes import SnnError
from pimgen.snn.program import CoreProgram, SnnProgram, SpikeTrains
from sw_model.snn import simulate as golden
from tb.harness import TB, check_frame
from tb.host.driver import DriverStateError, EngineError
from tb.host.snn import SnnDriver


def busy_program(cfg):
    """Every input neuron drives every neuron of core 0, which fires every step into core 1 (a zero-delay edge, so
    core 1 must wait for core 0's token: ``DEP`` matters). Core 1 keeps its potential (the largest leak shift) and
    has threshold 2, so it fires every other step: its spikes depend on ``THRESHOLD``, ``LEAK`` and ``DEP``, which a
    soft reset clears."""
    n_in = cfg.input_neurons
    core0 = CoreProgram(np.full((n_in, cfg.neurons), 5), np.zeros(cfg.neurons, dtype=np.int64), 1, 0, "zero",
                        np.arange(cfg.neurons + 1), np.array([[1, n, 0] for n in range(cfg.neurons)]))
    core1 = CoreProgram(np.eye(cfg.neurons, dtype=np.int64), np.zeros(cfg.neurons, dtype=np.int64), 2,
                        cfg.potential_bits - 1)
    return SnnProgram([core0, core1], np.arange(n_in + 1), np.array([[0, i, 0] for i in range(n_in)]))


@cocotb.test()
async def test_registers(dut):
    """NUM_STEPS out of range is an error and runs nothing; more spikes than max_spikes is an error with the first
    ones kept; a soft reset forgets the program in the driver; aborts with packets in flight leave nothing behind
    (the counters stay 0, the next run equals the golden); NUM_STEPS written during a run changes nothing of it;
    then the shared frame."""
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

    def check_spikes(spikes, trains, what):
        ref = golden(cfg, program, trains)
        assert any(len(s) for s in ref.spikes), "the golden has no spikes: the check would prove little"
        for k in range(cfg.cores):
            assert np.array_equal(spikes[f"core{k}"], ref.spikes[k]), f"core {k} {what}"

    program = busy_program(cfg)
    trains = SpikeTrains.from_raster(np.ones((cfg.max_steps, cfg.input_neurons), dtype=bool))
    short = SpikeTrains.from_raster(np.ones((3, cfg.input_neurons), dtype=bool))
    await drv.load_program(program)
    await drv.load_inputs(trains)

    for bad in (0, cfg.max_steps + 1):
        await drv.write_reg("NUM_STEPS", value=bad)
        counters = await expect_error(SnnError.NUM_STEPS)
        assert counters["cycles"] == 0, f"NUM_STEPS={bad} ran {counters['cycles']} cycles"

    await drv.load_inputs(trains)
    # Core 0 fires all its neurons every step: more than max_spikes in all.
    assert cfg.neurons * cfg.max_steps > cfg.max_spikes
    counters = await expect_error(SnnError.SPIKE_OVERFLOW)
    spikes = await drv.read_spikes(counters)
    ref = golden(cfg, program, trains)
    assert np.array_equal(spikes["core0"], ref.spikes[0][:cfg.max_spikes])
    assert counters["spikes"][0] == len(ref.spikes[0])

    async def start_long_run():
        await drv.load_program(program)
        await drv.load_inputs(trains)
        await drv.start()

    # A soft reset clears THRESHOLD, LEAK, DEP, ...: the driver refuses to run until the program is loaded again.
    await start_long_run()
    await drv.backend.idle(200)
    await drv.soft_reset()
    await drv.load_inputs(short)
    try:
        await drv.run(timeout_cycles=1_000_000)
    except DriverStateError:
        pass
    else:
        raise AssertionError("a run after a soft reset without reloading the program was not refused")

    # Aborts at many points of a run (core 0 sends a packet every 5 cycles while it fires): the router is flushed,
    # so no packet of the aborted run moves or arrives afterwards, and the next run is the golden's.
    for delay in range(150, 450, 23):
        await start_long_run()
        await drv.backend.idle(delay)
        await drv.soft_reset()
        await drv.backend.idle(20)
        counters = await drv.read_counters()
        assert counters["packets"] == 0 and not any(counters["received"]), \
            f"abort after {delay} cycles: packets moved after the soft reset: {counters}"
    await drv.load_program(program)
    await drv.load_inputs(short)
    counters = await drv.run(timeout_cycles=1_000_000)
    check_spikes(await drv.read_spikes(counters), short, "after the aborts")

    # NUM_STEPS written mid-run (below the step the cores are at, and above): the run keeps the steps it started
    # with, ends, and its spikes are the golden's for those steps.
    # Core 0 fires every neuron every step: as many steps as its record holds, at least 3 (about 120 cycles each).
    medium = SpikeTrains.from_raster(np.ones((cfg.max_spikes // cfg.neurons, cfg.input_neurons), dtype=bool))
    assert medium.steps >= 3
    for written in (1, cfg.max_steps):
        await drv.load_inputs(medium)
        await drv.start()
        await drv.backend.idle(250)
        assert await drv.read_field("STATUS", "busy") == 1
        await drv.write_reg("NUM_STEPS", value=written)
        counters = await drv.finish_run(timeout_cycles=200_000)
        check_spikes(await drv.read_spikes(counters), medium, f"with NUM_STEPS = {written} written mid-run")

    await check_frame(tb, start_long_run, window="weights0")
