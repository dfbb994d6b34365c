"""The SNN driver and the performance model on the host, without a simulator: a dictionary stands in for the
engine's address space. The driver against the RTL is in tests/test_snn_sim.py.

* a soft reset makes the driver forget its program (the registers it wrote are cleared), so a run without loading
  it again is refused;
* the timeout of a run is above the run's lower bound (``pimgen.snn.perf.lower_bound``, checked against the
  hardware in test_snn_sim.py), for the review's repro (1024 input neurons spiking every step into nothing: the
  input source's 5 cycles per spike dominate) and for random programs;
* the step costs of ``pimgen.snn.perf`` written out by hand from the state machines' states;
* ``SnnConfig.memory_bits`` counting the slot memory as the cores build it (a power of two of slots);
* the fan-out packing and spike-record words, by hand.
"""

import asyncio

import numpy as np
import pytest

from pimgen.errors import InputError
from pimgen.snn.config import SnnConfig
from pimgen.snn.perf import lower_bound, source_work, step_work
from pimgen.snn.program import CoreProgram, SnnProgram, SpikeTrains, decode_spikes, encode_fanout
from rtl_gen.generate import manifest_for
from sw_model.snn import simulate as golden
from tb.host.backend import Backend
from tb.host.driver import DriverStateError
from tb.host.manifest import Manifest
from tb.host.snn import SnnDriver, SnnJob
from test_snn_sim import random_program, random_trains


class MemoryBackend(Backend):
    """Word-addressed dictionary."""

    def __init__(self):
        self.words = {}

    async def read(self, addr):
        return self.words.get(addr, 0)

    async def write(self, addr, value):
        self.words[addr] = value & 0xFFFF_FFFF


def run(coro):
    return asyncio.run(coro)


SMALL = SnnConfig(cores=2, neurons=16, axons=16, lanes=4, max_delay=0, step_slots=2, fifo_depth=2, max_steps=16,
                  input_neurons=4, max_input_spikes=128, max_fanout=32, max_spikes=64)


def test_soft_reset_forgets_the_program():
    drv = SnnDriver(MemoryBackend(), Manifest(manifest_for(SMALL)))
    program = SnnProgram([CoreProgram(np.eye(16, dtype=np.int64), np.zeros(16, dtype=np.int64), 1, 0)],
                         np.arange(5), np.array([[0, i, 0] for i in range(4)]))
    trains = SpikeTrains.from_raster(np.ones((3, 4), dtype=bool))

    async def scenario():
        with pytest.raises(DriverStateError, match="Load a program and inputs before running"):
            await drv.start()
        await drv.load_program(program)
        await drv.load_inputs(trains)
        assert drv.program is program and drv.steps == 3
        await drv.soft_reset()
        assert drv.program is None and drv.steps is None
        await drv.load_inputs(trains)
        with pytest.raises(DriverStateError, match="a soft reset clears the program's registers"):
            await drv.run()
        with pytest.raises(DriverStateError, match="No spikes to read"):
            await drv.soft_reset()
            await drv.read_spikes({"spikes": [0, 0]})

    run(scenario())


#: The review's repro: an Input of 1024 neurons, a Linear of zeros (no edges) into a LIF of 16, every input neuron
#: spiking in each of 64 steps (pimgen run snn --nir ... --input-rate 1 --steps 64 --cores 2 --neurons 16 --axons 16
#: --lanes 16 --max-steps 64 --input-neurons 1024 --max-input-spikes 65536 --max-fanout 16 --max-spikes 1024).
REPRO = SnnConfig(cores=2, neurons=16, axons=16, lanes=16, max_steps=64, input_neurons=1024, max_input_spikes=65536,
                  max_fanout=16, max_spikes=1024)


def _timeout_and_bound(cfg, program, trains):
    job = SnnJob(program, trains)
    job.validate(cfg)
    drv = SnnDriver(MemoryBackend(), Manifest(manifest_for(cfg)))
    return drv.timeout_cycles(job, job.runs[0]), lower_bound(cfg, program, trains, golden(cfg, program, trains))


def test_timeout_covers_a_source_dominated_run():
    """The input source spends 5 cycles on every input spike (65536 here): the old budget of 4 per spike timed the
    run out below its own lower bound."""
    program = SnnProgram([CoreProgram(np.zeros((0, 16), dtype=np.int64), np.zeros(16, dtype=np.int64), 1, 0)],
                         np.zeros(REPRO.input_neurons + 1, dtype=np.int64), np.zeros((0, 3), dtype=np.int64))
    trains = SpikeTrains.from_raster(np.ones((64, REPRO.input_neurons), dtype=bool))
    timeout, bound = _timeout_and_bound(REPRO, program, trains)
    assert bound >= 64 * REPRO.input_neurons * 5
    assert timeout >= 2 * bound, (timeout, bound)


@pytest.mark.parametrize("seed", range(4))
def test_timeout_covers_random_programs(seed):
    cfg = SnnConfig(cores=3, neurons=16, axons=32, lanes=4, max_delay=2, step_slots=3, fifo_depth=2, max_steps=24,
                    input_neurons=8, max_input_spikes=256, max_fanout=128, max_spikes=512)
    program, trains = random_program(cfg, seed), random_trains(cfg, seed, cfg.max_steps, rate=0.9)
    timeout, bound = _timeout_and_bound(cfg, program, trains)
    assert timeout >= 2 * bound, (timeout, bound)


def test_step_costs_by_hand():
    """Core, groups = 16 / 4 = 4, 3 cores: WAIT 1, LEAK 4, two input spikes 2 * (1 + 4) and the last FETCH 1,
    UPDATE 4, two spiking neurons (fan-out 0 and 3) (4 + 0) + (4 + 3) and the last FIRE 1: the first TOKENS cycle
    is 1 + 4 + 10 + 1 + 4 + 11 + 1 = 32 cycles after the WAIT cycle; TOKENS 3 + 1 and DONE 1 make 37.
    Source: WAIT 1, FIRST 1, LAST 1, one spike of fan-out 2 (NEXT, START, 3 + 2 in EMIT) and the last NEXT:
    1 + 2 + 7 + 1 = 11, then 3 + 1 + 1 more: 16."""
    cfg = SnnConfig(cores=3, neurons=16, axons=16, lanes=4)
    assert step_work(cfg, 2, [0, 3]) == (32, 37)
    assert step_work(cfg, 0, []) == (1 + 4 + 1 + 4 + 1, 11 + 5)
    assert source_work(cfg, [2]) == (11, 16)
    assert source_work(cfg, []) == (4, 9)


@pytest.mark.parametrize("slots, built", [(1, 1), (2, 2), (3, 4), (4, 4), (5, 8), (9, 16)])
def test_memory_bits_count_the_slots_as_built(slots, built):
    """A core's slot memory holds ``2**ceil(log2(step_slots))`` slots of ``axons`` axon numbers (6 bits for 64)."""
    cfg = SnnConfig(axons=64, max_delay=0, step_slots=slots)
    one = SnnConfig(axons=64, max_delay=0, step_slots=1)
    assert cfg.slots == built
    assert cfg.memory_bits - one.memory_bits == cfg.cores * (built - 1) * 64 * 6


def test_packing_by_hand():
    """Fan-out: delay in bits 2..0, the axon above (7 bits for 128 axons), the core above that. Spike record: the
    neuron in the low 6 bits (64 neurons), the step above."""
    cfg = SnnConfig(cores=4, neurons=64, axons=128)
    assert encode_fanout(cfg, [[3, 100, 1], [0, 0, 7], [1, 1, 0]]).tolist() == \
        [1 | 100 << 3 | 3 << 10, 7, 1 << 3 | 1 << 10]
    assert cfg.fanout_entry_bits == 3 + 7 + 2
    assert decode_spikes(cfg, [5 | 9 << 6, 63]).tolist() == [[9, 5], [0, 63]]


def test_too_many_input_spikes_name_the_limit():
    trains = SpikeTrains.from_raster(np.ones((3, 4), dtype=bool))
    with pytest.raises(InputError, match=r"^The input has 12 spikes, more than max_input_spikes = 10$"):
        trains.validate(SnnConfig(input_neurons=4, max_input_spikes=10))
