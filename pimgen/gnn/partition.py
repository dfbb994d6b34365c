"""Split the rows of a graph into contiguous ranges, one per processing element (PE), balanced by work or by rows.

The engine's work on a row (docs/gnn.md, "Schedule") is one pipeline item per edge per feature group, and one item per
group for an empty row (it writes zeros), so a row ``r`` costs ``max(deg(r), 1) * G`` items with ``G`` feature groups.
``G`` is the same for every row and does not change which split is best, so :func:`row_costs` leaves it out:

========  ===============================  ==================================================================
``by``    cost of row ``r``                use
========  ===============================  ==================================================================
"edges"   ``max(deg(r), 1)``               balance the items each PE processes (PyGim's edge balancing)
"rows"    ``1``                            equal row counts (sizes differ by at most one)
========  ===============================  ==================================================================

Every cost is a positive integer, so the parts' loads are exact integers.

This module imports only NumPy and pimgen's input checks.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, InputTypeError
from .inputs import CsrGraph, check_row_offsets, is_int

__all__ = ["Partition", "PARTITION_BY", "row_costs", "partition_rows"]

#: The balancing criteria of :func:`partition_rows`.
PARTITION_BY = ("edges", "rows")


@dataclass(frozen=True, eq=False)
class Partition:
    """Contiguous row ranges, one per part: part ``p`` gets rows ``starts[p]`` to ``starts[p + 1] - 1``.

    Attributes
    ----------
    parts : int
        Number of parts (PEs), at least 1.
    by : str
        The criterion, one of :data:`PARTITION_BY`.
    starts : numpy.ndarray of int64, shape (parts + 1,)
        Row boundaries: ``starts[0] = 0``, non-decreasing, ``starts[parts] = N``. Read-only.
    loads : numpy.ndarray of int64, shape (parts,)
        Sum of :func:`row_costs` over each part's rows (0 for an empty part). Read-only.
    """

    parts: int
    by: str
    starts: np.ndarray
    loads: np.ndarray

    @property
    def num_rows(self):
        """``N``, the rows split."""
        return int(self.starts[-1])

    @property
    def bottleneck(self):
        """The largest load (0 when there are no rows): the work of the slowest PE."""
        return int(self.loads.max())

    @property
    def imbalance(self):
        """``max(loads) / mean(loads)``, the mean over all parts, empty ones included.

        1.0 is a perfect split; ``parts`` is the worst (all work in one part). Empty parts count as load 0, so more
        parts than rows gives ``parts / N``. With no rows at all there is no work to balance, and it is 1.0.
        """
        total = int(self.loads.sum())
        return 1.0 if total == 0 else self.bottleneck * self.parts / total

    def rows(self, part):
        """The rows of ``part`` as a ``range``."""
        return range(int(self.starts[part]), int(self.starts[part + 1]))


def _indptr_of(indptr_or_graph):
    """The row offsets of a CsrGraph or an indptr array, checked; int64."""
    if isinstance(indptr_or_graph, CsrGraph):
        return indptr_or_graph.indptr
    if not isinstance(indptr_or_graph, (np.ndarray, list, tuple, range)):
        raise InputTypeError(f"indptr_or_graph must be a CsrGraph or an indptr array, not "
                             f"{type(indptr_or_graph).__name__}")
    arr = np.asarray(indptr_or_graph)
    if arr.ndim != 1 or arr.size == 0:
        raise InputError(f"indptr must be a 1-D integer array of N + 1 row offsets, not an array of shape "
                         f"{arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"indptr must be a 1-D integer array of N + 1 row offsets, not an array of dtype "
                         f"{arr.dtype}")
    check_row_offsets(arr)
    return arr.astype(np.int64)


def _check_by(by):
    if not isinstance(by, str) or by not in PARTITION_BY:
        cls = InputError if isinstance(by, str) else InputTypeError
        raise cls(f"by must be one of {', '.join(map(repr, PARTITION_BY))}, not {by!r}")
    return by


def row_costs(indptr_or_graph, by="edges"):
    """The cost of every row under ``by`` (see the module docstring): int64, length N."""
    indptr = _indptr_of(indptr_or_graph)
    by = _check_by(by)
    n = len(indptr) - 1
    if by == "rows":
        return np.ones(n, dtype=np.int64)
    return np.maximum(np.diff(indptr), 1)


def partition_rows(indptr_or_graph, parts, by="edges"):
    """Split the rows into ``parts`` contiguous ranges whose largest load is as small as possible.

    Parameters
    ----------
    indptr_or_graph : CsrGraph or array_like of int
        The graph, or its row offsets (``N + 1`` non-decreasing integers from 0).
    parts : int
        Number of parts (PEs), at least 1. Any number is accepted here (the engine config caps its PEs); more parts
        than rows leaves the last ``parts - N`` parts empty.
    by : {"edges", "rows"}
        What to balance: :func:`row_costs`.

    Returns
    -------
    Partition

    Notes
    -----
    Guarantee: the bottleneck ``max(loads)`` is the smallest any split into ``parts`` contiguous ranges can have
    (optimal; so is the imbalance, whose mean is fixed), and when ``N >= parts`` no part is empty.

    ``by="rows"``: the first ``N % parts`` parts get ``N // parts + 1`` rows, the others ``N // parts``. With
    ``N <= parts`` both criteria give one row to each of the first ``N`` parts (the optimum: the largest row cost).

    ``by="edges"``: with ``P`` the prefix sums of the costs, a binary search over integers finds the smallest
    bottleneck ``B`` for which a greedy pass (each part takes rows while its load stays at most ``B``) needs at most
    ``parts`` parts; the greedy pass is exact for positive costs, so ``B`` is optimal. The boundaries are then chosen
    part by part: each ends inside the interval of ends that keep every later part within ``B`` (and nonempty when
    rows remain), at the end closest to the ideal ``P[N] * (p + 1) / parts``, so the spare capacity is spread over all
    parts rather than left to the last ones. The search runs between ``max(c_max, ceil(P[N] / parts))`` (no split
    does better) and ``ceil(P[N] / parts) + c_max`` (the split at the ideal prefixes stays below it), ``c_max`` the
    largest row cost: time ``O(N)`` for the prefix sums, then ``O(parts * log N * log c_max)``.

    Raises
    ------
    InputTypeError (a TypeError)
        If ``parts`` is not an integer, ``by`` is not a string, or ``indptr_or_graph`` is neither a CsrGraph nor an
        array.
    InputError (a ValueError)
        If ``parts < 1``, ``by`` is not one of :data:`PARTITION_BY`, or the indptr is not a 1-D integer array
        starting at 0 and non-decreasing.
    """
    if not is_int(parts):
        raise InputTypeError(f"parts must be a positive integer, not {parts!r}")
    if parts < 1:
        raise InputError(f"parts must be a positive integer, not {parts}")
    parts = int(parts)
    costs = row_costs(indptr_or_graph, by)
    n = len(costs)
    prefix = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(costs, out=prefix[1:])
    if by == "rows" or n <= parts:
        # Equal rows; for n <= parts (any costs) one row per part, the optimum max(costs).
        size, extra = divmod(n, parts)
        sizes = np.full(parts, size, dtype=np.int64)
        sizes[:extra] += 1
        starts = np.zeros(parts + 1, dtype=np.int64)
        np.cumsum(sizes, out=starts[1:])
    else:
        plist = prefix.tolist()
        starts = _balanced_starts(plist, parts, _min_bottleneck(plist, costs, parts))
    loads = np.diff(prefix[starts])
    starts.setflags(write=False)
    loads.setflags(write=False)
    return Partition(parts=parts, by=by, starts=starts, loads=loads)


def _greedy_parts(prefix, bound, parts):
    """How many parts the greedy pass with loads at most ``bound`` needs (it stops counting past ``parts``).

    ``prefix`` is a list of Python ints: ``bisect`` on it is much faster than ``np.searchsorted`` per scalar.
    """
    n = len(prefix) - 1
    start, used = 0, 0
    while start < n and used <= parts:
        start = bisect_right(prefix, prefix[start] + bound) - 1
        used += 1
    return used


def _min_bottleneck(prefix, costs, parts):
    """The smallest integer ``B`` such that the rows split into ``parts`` contiguous ranges of load at most ``B``."""
    total, c_max = prefix[-1], int(costs.max())
    lo = max(c_max, -(-total // parts))         # no split does better than either
    hi = max(lo, -(-total // parts) + c_max)    # the split at the ideal prefixes does this well
    while lo < hi:
        mid = (lo + hi) // 2
        if _greedy_parts(prefix, mid, parts) <= parts:
            hi = mid
        else:
            lo = mid + 1
    return lo


def _balanced_starts(prefix, parts, bound):
    """Boundaries with every load at most ``bound`` (feasible) and no empty part (``N > parts``), near the ideal."""
    n = len(prefix) - 1
    total = prefix[-1]
    # earliest[j]: the smallest boundary from which j parts of load <= bound cover the rest (backward greedy).
    earliest = [n] * parts
    for j in range(1, parts):
        earliest[j] = bisect_left(prefix, prefix[earliest[j - 1]] - bound)
    starts = np.zeros(parts + 1, dtype=np.int64)
    starts[parts] = n
    s = 0
    for p in range(parts - 1):
        later = parts - p - 1                                    # parts after this one
        reach = bisect_right(prefix, prefix[s] + bound) - 1
        lo = max(earliest[later], s + 1)
        hi = min(reach, n - later)
        ideal = total * (p + 1) / parts
        e = min(max(bisect_left(prefix, ideal), lo), hi)         # first boundary at or past the ideal, clamped
        if e - 1 >= lo and abs(prefix[e - 1] - ideal) <= abs(prefix[e] - ideal):
            e -= 1                                               # the one before it is as close
        starts[p + 1] = s = e
    return starts
