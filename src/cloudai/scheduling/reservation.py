"""Where a blocked head-of-line task will fit soonest.

Each running task is expected to end at `started_at + τ(type)` (never before `now`); a
task placed earlier in the same pass at `now + τ(type)`. Walking a worker's expected
releases in time order gives the moment its free capacity first holds the request.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from cloudai.domain.resources import Resources
from cloudai.scheduling.capacity import FreeCapacity

# (expected end, what it releases), per worker index.
Releases = Mapping[int, Sequence[tuple[float, Resources]]]


def fit_time(
    request: Resources, free: Resources, releases: Iterable[tuple[float, Resources]]
) -> float:
    """When `free` plus the releases up to that moment first holds `request` (inf: never)."""
    if request.fits_in(free):
        return -math.inf
    for end, released in sorted(releases, key=lambda item: item[0]):
        free = free + released
        if request.fits_in(free):
            return end
    return math.inf


def soonest_fit(
    request: Resources, capacity: FreeCapacity, candidates: Iterable[int], releases: Releases
) -> int | None:
    """The candidate whose total fits `request` and whose free capacity will hold it
    first; ties (and a case where none is expected to free up) go to snapshot order."""
    best: int | None = None
    best_time = math.inf
    for i in candidates:
        if not request.fits_in(capacity.totals[i]):
            continue
        when = fit_time(request, capacity.free(i), releases.get(i, ()))
        if best is None or when < best_time:
            best, best_time = i, when
    return best
