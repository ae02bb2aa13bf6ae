"""Background jobs: long work (planning a district, merging layers) runs in a thread of the server while
clients poll ``/api/v1/jobs/{id}`` for status and progress."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session

from gridplanner.store import models as m
from gridplanner.store.database import session_scope

log = logging.getLogger(__name__)

#: work(session, progress) -> result dict; runs in its own transaction, committed only when it returns.
Work = Callable[[Session, Callable[[int, int], None]], dict[str, Any]]


def submit(kind: str, params: dict, work: Work, *, wait: bool = False) -> int:
    """Record a queued job, start ``work`` in a thread and return the job id (``wait`` joins it, for the CLI)."""
    with session_scope() as session:
        job = m.Job(kind=kind, status="queued", params=params, result={})
        session.add(job)
        session.flush()
        job_id = job.id
    thread = threading.Thread(target=_run, args=(job_id, work), name=f"job-{job_id}", daemon=True)
    thread.start()
    if wait:
        thread.join()
    return job_id


def _set(job_id: int, **values) -> None:
    # Progress is committed on a connection of its own so pollers see it while the work's transaction is open.
    with session_scope() as session:
        session.execute(update(m.Job).where(m.Job.id == job_id).values(**values))


def _run(job_id: int, work: Work) -> None:
    _set(job_id, status="running")

    def progress(done: int, total: int) -> None:
        _set(job_id, done=done, total=total)

    try:
        with session_scope() as session:
            result = work(session, progress)
    except Exception as exc:  # the job records any failure; the server goes on
        log.warning("job %s failed: %s", job_id, traceback.format_exc())
        _set(job_id, status="failed", message=f"{type(exc).__name__}: {exc}", finished_at=func.now())
        return
    _set(job_id, status="done", result=result, message="done", finished_at=func.now())


def fail_interrupted() -> int:
    """Mark jobs left queued or running by a server that stopped as failed; run at start-up."""
    with session_scope() as session:
        res = session.execute(
            update(m.Job).where(m.Job.status.in_(("queued", "running"))).values(status="failed", message="interrupted: the server stopped", finished_at=func.now())
        )
        return res.rowcount
