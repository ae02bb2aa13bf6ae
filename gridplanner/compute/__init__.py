"""Where the per-community work runs: in this process, or on a dask.distributed cluster (:mod:`.dask_cluster`).

Division and merge are independent per community, so the engines hand their communities to a *runner*: a
callable ``runner(fn, batches, progress) -> results`` that applies ``fn`` to each batch (a list of tasks) and
returns the results in the batches' order. :func:`in_process` is the default; :class:`.dask_cluster.DaskRunner`
fans the batches out to dask workers. The engines' output is the same either way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

#: ``progress(done, total)``: tasks finished so far and in all.
Progress = Callable[[int, int], None]


class Runner(Protocol):
    def __call__(self, fn: Callable[[list], list], batches: Sequence[list], progress: Progress | None = None) -> list[list]: ...


def in_process(fn: Callable[[list], list], batches: Sequence[list], progress: Progress | None = None) -> list[list]:
    """``fn`` applied to each batch here, one after the other.

    >>> in_process(lambda b: [x * 2 for x in b], [[1, 2], [3]])
    [[2, 4], [6]]
    """
    total = sum(len(b) for b in batches)
    out: list[Any] = []
    done = 0
    for batch in batches:
        out.append(fn(batch))
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return out


def by_key(tasks: Sequence, key: Callable[[Any], str]) -> list[list]:
    """``tasks`` in batches of equal ``key``, in the order the keys first appear (tasks keep their order).

    >>> by_key(["320508001001", "320508001002", "320508002001"], key=lambda c: c[:9])
    [['320508001001', '320508001002'], ['320508002001']]
    """
    batches: dict[str, list] = {}
    for t in tasks:
        batches.setdefault(key(t), []).append(t)
    return list(batches.values())
