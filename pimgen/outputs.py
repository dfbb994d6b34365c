"""Checks of the files and folders a command will write, made before any work starts (a build takes minutes)."""

import os
from pathlib import Path

from .errors import InputError

__all__ = ["check_output_file", "check_output_dir", "write_output_file"]


def _first_existing(path):
    """``path`` or its nearest existing ancestor."""
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


def check_output_file(path, option):
    """Refuse an output file that cannot be written (a directory, under a file, a read-only file or folder) before
    any work starts; missing folders above it are created when it is written."""
    if path is None:
        return
    if str(path) == "":
        raise InputError(f"{option} must name a file, not ''")
    if path.is_dir():
        raise InputError(f"{option} must name a file, not the directory {path}")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InputError(f"{option} {path} is not writable")
        return
    _check_writable_folder(path.parent, option, path)


def check_output_dir(path, option):
    """Refuse an output folder that is a file, lies under a file, or cannot be written, before any work starts."""
    if path is None:
        return
    if str(path) == "":
        raise InputError(f"{option} must name a folder, not ''")
    if path.exists() and not path.is_dir():
        raise InputError(f"{option} must be a folder, not the file {path}")
    _check_writable_folder(path, option, path)


def _check_writable_folder(folder, option, path):
    existing = _first_existing(folder)
    if not existing.is_dir():
        raise InputError(f"{option} {path} lies under {existing}, which is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"{option} {path}: {existing} is not writable")


def write_output_file(path, text, option):
    """Write ``text`` (a str, or bytes) to an output file checked by :func:`check_output_file`; a late failure (a
    full disk) is one line of bad input, not a traceback."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    except OSError as exc:
        raise InputError(f"{option} {path}: {exc.strerror or exc}") from None
