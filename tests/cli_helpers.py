"""Helpers of the command-line tests: run ``pimgen`` in-process, read the one error line a failure prints."""

from pimgen.cli import main


def pimgen(*argv):
    """Exit status of ``pimgen argv`` run in-process (argparse usage errors raise SystemExit)."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def error_line(capsys):
    """The one line a failed command printed on stderr (and check stdout is empty)."""
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert len(lines) == 1, f"expected exactly one line on stderr, got:\n{err}"
    assert lines[0].startswith("pimgen: error: "), lines[0]
    assert "Traceback" not in err
    assert out == ""
    return lines[0]
