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

from gis.errors import InputError
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
    except (InputError, LookupError) as exc:  # the request's input: the message says what to change
        _set(job_id, status="failed", message=str(exc), result={"error": "input", "problems": _problems(exc)}, finished_at=func.now())
        return
    except Exception as exc:  # a fault of ours, never shown as the user's: logged with its traceback
        log.error("job %s failed with an internal error:\n%s", job_id, traceback.format_exc())
        _set(job_id, status="failed", result={"error": "internal"}, finished_at=func.now(),
             message=f"internal error in Gridplanner ({type(exc).__name__}: {exc}); not a problem with your data: the traceback is in the server log under job {job_id}")
        return
    fallbacks = (result or {}).get("fallbacks") or []
    message = "done" if not fallbacks else f"done; {len(fallbacks)} communities could only get a fallback plan (see the report's fallbacks)"
    _set(job_id, status="done", result=result, message=message, finished_at=func.now())


def _problems(exc: Exception) -> list[dict]:
    return [{"feature": p.feature, "id": p.ident, "problem": p.message} for p in getattr(exc, "problems", [])]


def fail_interrupted() -> int:
    """Mark jobs left queued or running by a server that stopped as failed; run at start-up."""
    with session_scope() as session:
        res = session.execute(
            update(m.Job).where(m.Job.status.in_(("queued", "running"))).values(status="failed", message="interrupted: the server stopped", finished_at=func.now())
        )
        return res.rowcount
