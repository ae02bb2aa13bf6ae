"""Where a command's per-community work runs: ``--workers N`` / ``--scheduler ADDRESS`` to a runner."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from gridplanner.compute import Runner


@contextlib.contextmanager
def runner_for(workers: int | None, scheduler: str | None) -> Iterator[Runner | None]:
    """None (in this process) unless a LocalCluster of ``workers`` or a running ``scheduler`` is asked for; a
    cluster this starts is stopped on leaving, also on an error."""
    if workers is None and scheduler is None:
        yield None
        return
    from gridplanner.compute.dask_cluster import DaskRunner

    with DaskRunner(scheduler=scheduler, workers=workers) as runner:
        yield runner
