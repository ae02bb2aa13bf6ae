"""Per-community work on a dask.distributed cluster: a running scheduler, or a LocalCluster of ``workers``
processes started and stopped with the runner.

Each batch (the communities of one street, with their buildings, lines and dedicated areas) is one task, so a
task carries what it needs and no worker holds the district. A task that fails (its worker lost, an exception)
is retried once by dask; one that fails again is run in this process, so nothing is lost, and is listed in
:attr:`DaskRunner.failures` with its error, for the caller's report.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from gridplanner.compute import Progress

log = logging.getLogger("gridplanner.compute")


class DaskRunner:
    """A :class:`gridplanner.compute.Runner` on dask.distributed; a context manager (the cluster it starts, if
    any, stops on exit).

    ``scheduler``: the address of a running scheduler (``tcp://host:8786``); ``workers``: else, the number of
    worker processes of a LocalCluster on this machine (one thread each: the engines are pure Python and
    numpy, which the GIL serialises across threads).
    """

    def __init__(self, *, scheduler: str | None = None, workers: int | None = None) -> None:
        if (scheduler is None) == (workers is None):
            raise ValueError("give either a scheduler address or a number of workers")
        if workers is not None and workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self.scheduler, self.workers = scheduler, workers
        self.failures: list[dict] = []
        self._cluster = self._client = None

    def __enter__(self) -> DaskRunner:
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            self._client = Client(self.scheduler)
        else:
            self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                         # Any free port: two runs on one machine must not clash.
                                         dashboard_address=":0", silence_logs=logging.ERROR)
            self._client = Client(self._cluster)
        return self

    def __exit__(self, *exc) -> None:
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def __call__(self, fn: Callable[[list], list], batches: Sequence[list], progress: Progress | None = None) -> list[list]:
        from distributed import as_completed

        if self._client is None:
            with self:
                return self(fn, batches, progress)
        total = sum(len(b) for b in batches)
        futures = [self._client.submit(fn, batch, retries=1, pure=False) for batch in batches]
        index = {f.key: i for i, f in enumerate(futures)}
        out: list = [None] * len(batches)
        done = 0
        for future in as_completed(futures):
            i = index[future.key]
            if future.status == "finished":
                out[i] = future.result()
            else:
                error = repr(future.exception())
                log.error("batch %d of %d failed twice on the cluster (%s); running it here", i + 1, len(batches), error)
                out[i] = fn(batches[i])
                self.failures.append({"batch": i, "tasks": len(batches[i]), "error": error})
            done += len(batches[i])
            if progress is not None:
                progress(done, total)
        return out
