"""The incident lifecycle 上报 → 受理 → 派遣 → 处置 → 核查 → 结案 → 评价: only these steps, plus 核查 sending a
case back to 处置. Every step is recorded with who made it and when; the time limit starts at 派遣."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridplanner.incidents.catalogue import UnknownCategory, seed_defaults
from gridplanner.store import models as m

REPORTED, ACCEPTED, DISPATCHED, HANDLING, CHECKING, CLOSED, EVALUATED = "上报", "受理", "派遣", "处置", "核查", "结案", "评价"
STATUSES = (REPORTED, ACCEPTED, DISPATCHED, HANDLING, CHECKING, CLOSED, EVALUATED)
OPEN_STATUSES = STATUSES[:5]
CLOSED_STATUSES = (CLOSED, EVALUATED)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    REPORTED: (ACCEPTED,),
    ACCEPTED: (DISPATCHED,),
    DISPATCHED: (HANDLING,),
    HANDLING: (CHECKING,),
    CHECKING: (CLOSED, HANDLING),  # 核查 not passed: back to 处置
    CLOSED: (EVALUATED,),
    EVALUATED: (),
}


class TransitionError(ValueError):
    """A step the lifecycle does not allow."""


class IncidentNotFound(LookupError):
    pass


def check_transition(current: str, to: str) -> None:
    if to not in STATUSES:
        raise TransitionError(f"unknown status {to!r}; the lifecycle is {' → '.join(STATUSES)}")
    allowed = TRANSITIONS.get(current, ())
    if to not in allowed:
        nxt = f"it can go to {' or '.join(allowed)}" if allowed else "it is finished"
        raise TransitionError(f"an incident in {current} cannot go to {to}; {nxt}")


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    """Open and past its due time (the clock runs from dispatch; no due time before dispatch)."""
    return status in OPEN_STATUSES and due_at is not None and now > due_at


class ScoreError(ValueError):
    """A satisfaction score out of 1-5, or given at a step other than 评价."""


def advance(session: Session, incident_id: int, to: str, *, actor: str, note: str | None = None, score: int | None = None) -> m.Incident:
    """Move an incident one step, recording the event; 派遣 starts the clock and names the grid's 专职网格员
    when nobody is assigned yet, 结案 stamps the closing time, 评价 may carry the resident's score (1-5)."""
    if not actor or not str(actor).strip():
        raise ValueError("actor is required: every step records who made it")
    if score is not None and (to != EVALUATED or isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise ScoreError(f"a satisfaction score is a whole number 1-5 given at {EVALUATED}; got {score!r} at {to}")
    incident = session.execute(select(m.Incident).where(m.Incident.id == incident_id).with_for_update()).scalar_one_or_none()
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    check_transition(incident.status, to)
    now = session.execute(text("SELECT now()")).scalar_one()
    if to == DISPATCHED:
        incident.dispatched_at = now
        incident.due_at = due_time(session, incident, now)
        if incident.assignee_id is None and incident.grid_code:
            incident.assignee_id = fulltime_worker(session, incident.grid_code)
    elif to == CLOSED:
        # 吹哨报到: a case closes only once every department escalated to has answered.
        from gridplanner.gridwork.escalations import check_closable

        check_closable(session, incident.id)
        incident.closed_at = now
    if to == EVALUATED:
        incident.satisfaction = score
    session.add(m.IncidentEvent(incident_id=incident.id, from_status=incident.status, to_status=to, actor=str(actor).strip(), at=now, note=note))
    incident.status = to
    session.flush()
    return incident


def due_time(session: Session, incident: m.Incident, dispatched_at: datetime) -> datetime:
    """When a dispatched incident is due. One filed for a grid item (``service_code``) has the item's limit in
    working days (the calendar's holidays and make-up days counted, the catalogue says 工作日); any other has its
    category's limit in hours, which is how the category catalogue has always counted (emergencies in hours)."""
    item = session.get(m.GridItem, incident.service_code) if incident.service_code else None
    if item is not None:
        from gridplanner.gridwork.calendar_store import load_calendar
        from gridplanner.gridwork.workdays import working_deadline

        return working_deadline(dispatched_at, item.time_limit_days, load_calendar(session))
    return dispatched_at + timedelta(hours=limit_hours(session, incident.category))


def limit_hours(session: Session, name: str) -> float:
    """The category's time limit; a category retired after the report still counts with its last limit."""
    seed_defaults(session)
    row = session.get(m.IncidentCategory, name)
    if row is None:
        raise UnknownCategory(f"incident category {name!r} is not in the catalogue; add it before dispatching")
    return row.time_limit_hours


def fulltime_worker(session: Session, grid_code: str) -> int | None:
    """The grid's 专职网格员 (the longest-serving one when there are several)."""
    return session.execute(
        text("SELECT id FROM staff WHERE active AND role = '专职网格员' AND grid_code = :g ORDER BY id LIMIT 1"), {"g": grid_code}
    ).scalar_one_or_none()
