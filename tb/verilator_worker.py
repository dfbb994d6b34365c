"""One step of ``cocotb_tools.runner`` (a Verilator build or a simulation), run as a process of its own.

:mod:`tb.runner` starts ``python -m tb.verilator_worker build|test <json arguments>`` as the leader of a new process
group, with its output going to the build or simulation log. Everything the step starts (the Verilator front end,
make, the compilers, the simulator) stays in that group, so the runner can stop all of it with one signal and know
when it is gone. The worker also holds the runner's lock (an inherited file descriptor), so the lock outlives a
runner that was killed outright.
"""

import json
import logging
import signal
import sys


def _outlive_children(signum, frame):
    """SIGTERM reaches the whole group; the children stop on it, and this process returns once they have (make waits
    for its compilers), so that the runner, which waits for this process, knows when the group is gone. A handler,
    not SIG_IGN: a handler is reset to the default in the children when they exec."""


def main(argv):
    step, arguments = argv[1], json.loads(argv[2])
    signal.signal(signal.SIGTERM, _outlive_children)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from cocotb_tools.runner import get_runner
    runner = get_runner("verilator")
    if step == "build":
        runner.build(**arguments)
    elif step == "test":
        runner.test(**arguments)
    else:
        raise SystemExit(f"Step must be build or test, not {step!r}")


if __name__ == "__main__":
    main(sys.argv)
