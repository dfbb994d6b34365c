"""Checks of integer code arrays at the boundary, shared by every engine's inputs (NumPy only)."""

import numpy as np

from .errors import InputError

__all__ = ["as_array", "int_codes", "load_npy", "MAX_NPY_BYTES"]


def as_array(x, name):
    """``np.asarray(x)``, with a ragged nested sequence (rows of different lengths), which NumPy refuses with a
    ValueError, refused as one :class:`InputError` naming ``name``."""
    try:
        return np.asarray(x)
    except ValueError as exc:
        raise InputError(f"{name} must be a rectangular array (every row the same length), not a ragged "
                         f"sequence ({exc})") from None


def int_codes(x, name, ndim, lo, hi, what):
    """Return ``x`` as an int64 array after checking its rank, dtype and range; name the first bad element.

    Only signed and unsigned integer dtypes (kinds ``i`` and ``u``) are codes: bool, float, complex, object and the
    ``timedelta64`` that NumPy counts among its integers are refused, naming the dtype."""
    arr = as_array(x, name)
    if arr.ndim != ndim:
        raise InputError(f"{name} must be a {ndim}-D integer array, not an array of shape {arr.shape}")
    if arr.dtype.kind not in "iu":
        raise InputError(f"{name} must hold integer codes ({what}), not dtype {arr.dtype}")
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        value = int(arr[pos])
        raise InputError(f"{name} must be {what} codes in {lo}..{hi}, "
                         f"but {name}[{', '.join(map(str, pos))}] = {value}")
    return arr.astype(np.int64)


#: Largest array a .npy input may declare; a corrupt header declaring an absurd shape is refused before NumPy
#: allocates it.
MAX_NPY_BYTES = 1 << 28


def load_npy(path, option):
    """The array in the .npy file ``path`` (given by command-line ``option``), without pickles; every failure is one
    :class:`InputError` line naming the option and the file."""
    import zlib
    from pathlib import Path
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{option} {path}: " + ("no such file" if not path.exists() else "not a file"))
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
            size = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if size > MAX_NPY_BYTES:
                raise InputError(f"{option} {path}: the array declares shape {shape} ({size} bytes), more than "
                                 f"the {MAX_NPY_BYTES} bytes pimgen reads")
        return np.load(path, allow_pickle=False)
    except InputError:
        raise
    except (OSError, ValueError, EOFError, zlib.error) as exc:
        raise InputError(f"{option} {path}: not a readable .npy array ({exc})") from None
