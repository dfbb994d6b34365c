"""The exceptions pimgen raises on purpose, and the exit status the ``pimgen`` command gives each.

===========================  ======  ==================================================================================
exception                    status  meaning
===========================  ======  ==================================================================================
:class:`PimgenError`         2       bad input: a config value, a workload or file, an option, a missing tool
:class:`BuildFailed`         3       Amaranth, Yosys, Verilator or the C++ compiler failed; the message names the log
:class:`RunFailed`           4       the simulator or the engine failed: an engine error code, a timeout, a crash, an
                                     engine that is not the one the manifest describes
(none: a result mismatch)    1       the engine's result differs from the golden model
(any other exception)        1       an internal error: a Python traceback, never reported as bad input
KeyboardInterrupt            130     Ctrl-C
:class:`Terminated`          143     SIGTERM (129 SIGHUP), while :func:`terminate_on_sigterm` is active
===========================  ======  ==================================================================================

Bad input is raised as :class:`InputError` (a :class:`ValueError`) or :class:`InputTypeError` (a :class:`TypeError`),
so that library users can keep catching the built-in classes while the command line maps only pimgen's own.
"""

import signal
from contextlib import contextmanager

__all__ = ["PimgenError", "InputError", "InputTypeError", "ToolMissing", "PimgenFailure", "BuildFailed",
           "RunFailed", "Terminated", "TERMINATING_SIGNALS", "terminate_on_sigterm", "EXIT_MISMATCH",
           "EXIT_BAD_INPUT", "EXIT_BUILD_FAILED", "EXIT_RUN_FAILED"]

EXIT_MISMATCH = 1
EXIT_BAD_INPUT = 2
EXIT_BUILD_FAILED = 3
EXIT_RUN_FAILED = 4


class PimgenError(Exception):
    """Bad input, found at a boundary (config, file, option, tool); the message says what and what is allowed."""


class InputError(PimgenError, ValueError):
    """A value is out of range, malformed or inconsistent with another."""


class InputTypeError(PimgenError, TypeError):
    """A value has the wrong type."""


class ToolMissing(PimgenError, RuntimeError):
    """A tool pimgen needs is not installed; the message says how to get it."""


class PimgenFailure(RuntimeError):
    """Something pimgen started failed (not bad input, not a bug): see the subclasses."""


class BuildFailed(PimgenFailure):
    """Generating or compiling a model failed; the message names the build log."""


class RunFailed(PimgenFailure):
    """A simulation or a run on the engine failed."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived while :func:`terminate_on_sigterm` was active.

    A :class:`BaseException`, like :class:`KeyboardInterrupt`, so that ``except Exception`` does not swallow it while
    it unwinds through cleanup code. ``signal`` is the signal that arrived.
    """

    def __init__(self, signum=signal.SIGTERM):
        super().__init__(f"terminated by {signal.Signals(signum).name}")
        self.signal = signal.Signals(signum)

    @property
    def exit_status(self):
        """The exit status of a process that ends on it: 128 + the signal (143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signal


#: Signals that end pimgen like Ctrl-C does (a closed terminal sends SIGHUP).
TERMINATING_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@contextmanager
def terminate_on_sigterm():
    """Turn SIGTERM and SIGHUP into :class:`Terminated` while the block runs, so that ``finally`` blocks and the
    runner's cleanup (stopping a Verilator build or a simulation, with its compilers or simulator) run as on Ctrl-C.

    Install it in the main thread, around everything a command does; the ``pimgen`` command line uses it so::

        try:
            with terminate_on_sigterm():
                return run_command(args)
        except Terminated as exc:
            print("pimgen: terminated", file=sys.stderr)
            return exc.exit_status      # 143 for SIGTERM
    """
    def handler(signum, frame):
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, handler) for signum in TERMINATING_SIGNALS}
    try:
        yield
    finally:
        for signum, handler_before in previous.items():
            signal.signal(signum, handler_before)
