"""Requests that no worker could ever fit, found once per distinct request.

A task whose request exceeds every registered worker's total cannot be placed by any
pass, whatever runs or finishes; weighing it in every pass would only make each pass
cost more as such tasks pile up (a flood of them must delay no one). The snapshot
leaves them out of its queue and carries their reason instead, until the workers change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from cloudai.domain.resources import Resources
from cloudai.scheduling import reasons
from cloudai.scheduling.snapshot import WorkerView


def never_fitting(
    requests: Iterable[Resources], workers: Sequence[WorkerView]
) -> dict[Resources, str]:
    """Each of `requests` (of tasks not pinned to a worker) that no registered worker's
    total fits, with the reason its tasks wait. With no worker at all nothing is left
    out: the pass itself says that no worker is registered."""
    if not workers:
        return {}
    return {
        request: reasons.never_fits(request, workers)
        for request in requests
        if not any(request.fits_in(worker.total) for worker in workers)
    }
