"""吹哨报到 in the store: escalate an incident to the departments owning admitted grid items, let each department
acknowledge (报到) and respond, list them with overdue flags. Every step is an ``escalation_events`` row (who,
when) and an audit row, in the caller's transaction: an escalation to three departments is written whole or not
at all. Rules are in :mod:`gridplanner.gridwork.escalation_rules`.

Deadlines are fixed when the whistle blows, in working days of the calendar: 报到 within ``ack_days`` (setting
``escalation_ack_working_days``, default 1), the response within the item's ``time_limit_days``. Fixing them
then means a later change of the calendar or the catalogue does not move a deadline a department was given.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork import escalation_rules as rules
from gridplanner.gridwork.calendar_store import load_calendar
from gridplanner.gridwork.catalogue import assignable_item
from gridplanner.gridwork.escalation_rules import EscalationForbidden, EscalationNotFound, EscalationRuleError
from gridplanner.gridwork.workdays import working_deadline
from gridplanner.incidents.lifecycle import IncidentNotFound
from gridplanner.store import models as m


def _now(session: Session) -> datetime:
    return session.execute(text("SELECT now()")).scalar_one()


def escalate(
    session: Session, incident_id: int, *, item_codes: list[str], reason: str, actor: str,
    districts: tuple[str, ...] | None = None, ack_days: int | None = None,
) -> list[dict]:
    """吹哨: escalate the incident to the owning department of each admitted item named (one escalation per
    department). ``districts``: those the caller may act in (a planner's); None for an admin."""
    from gridplanner.settings import get_settings

    codes = rules.check_item_codes(item_codes)
    reason = rules.check_text(reason, required=True, what_zh="吹哨事由", what_en="reason")
    ack_days = ack_days if ack_days is not None else get_settings().escalation_ack_working_days
    if not 1 <= ack_days <= 30:
        raise EscalationRuleError("报到时限须为 1 至 30 个工作日", "ack_days: 1 to 30 working days")
    incident = session.execute(select(m.Incident).where(m.Incident.id == incident_id).with_for_update()).scalar_one_or_none()
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    if districts is not None and (incident.community_code is None or incident.community_code[:6] not in districts):
        raise EscalationForbidden(
            f"事件 {incident_id} 不在您负责的区县（{'、'.join(districts)}）", f"incident {incident_id} is outside your districts ({', '.join(districts)})"
        )
    rules.check_escalable(incident_id, incident.status)
    items = [assignable_item(session, c) for c in codes]  # ItemNotFound, ItemNotAssignable: the reason goes back
    by_department: dict[str, str] = {}
    for item in items:
        if item.department in by_department:
            raise EscalationRuleError(
                f"事项 {by_department[item.department]} 与 {item.code} 属同一部门（{item.department}），一个部门吹哨一次",
                f"items {by_department[item.department]} and {item.code} belong to the same department ({item.department}): escalate to a department once",
            )
        by_department[item.department] = item.code
    open_already = session.execute(
        text("SELECT department FROM escalations WHERE incident_id = :i AND status <> 'responded' AND department = ANY(CAST(:d AS text[])) ORDER BY department"),
        {"i": incident_id, "d": list(by_department)},
    ).scalars().all()
    if open_already:
        raise rules.EscalationStepError(
            f"事件 {incident_id} 已向{'、'.join(open_already)}吹哨，尚未反馈", f"incident {incident_id} is escalated to {', '.join(open_already)} already and awaits the response"
        )
    now, calendar = _now(session), load_calendar(session)
    out = []
    for item in items:
        esc = m.Escalation(
            incident_id=incident_id, item_code=item.code, department=item.department, reason=reason, status=rules.WHISTLED,
            escalated_by=actor, escalated_at=now, ack_due_at=working_deadline(now, ack_days, calendar),
            respond_due_at=working_deadline(now, max(item.time_limit_days, ack_days), calendar),
        )
        session.add(esc)
        session.flush()
        session.add(m.EscalationEvent(escalation_id=esc.id, step=rules.WHISTLED, actor=actor, at=now, note=reason))
        record(session, actor, "escalate", "escalation", esc.id, {"incident_id": incident_id, "department": item.department, "item": item.code})
        out.append(esc.id)
    session.flush()
    return [escalation_view(session, i, now=now) for i in out]


def _own(session: Session, escalation_id: int, department: str | None, *, lock: bool = False) -> m.Escalation:
    q = select(m.Escalation).where(m.Escalation.id == escalation_id)
    esc = session.execute(q.with_for_update() if lock else q).scalar_one_or_none()
    if esc is None:
        raise EscalationNotFound(f"没有吹哨记录 {escalation_id}", f"no escalation {escalation_id}")
    if department is not None and esc.department != department:
        raise EscalationForbidden(f"吹哨 {escalation_id} 是给{esc.department}的，不是您的部门", f"escalation {escalation_id} is addressed to {esc.department}, not your department")
    return esc


def act(session: Session, escalation_id: int, to: str, *, department: str | None, actor: str, note: str | None = None) -> dict:
    """报到 (acknowledge, optional note) or 反馈 (respond, with a note) for the department the account acts for.
    ``department`` None is refused: only the department itself reports for duty."""
    if department is None:
        raise EscalationForbidden("只有被吹哨的部门可以报到和反馈", "only the department escalated to may acknowledge and respond")
    esc = _own(session, escalation_id, department, lock=True)
    rules.check_step(escalation_id, esc.status, to)
    note = rules.check_text(note, required=to == rules.RESPONDED, what_zh="反馈内容", what_en="response")
    now = _now(session)
    if to == rules.ACKNOWLEDGED:
        esc.acknowledged_at, esc.acknowledged_by = now, actor
    else:
        esc.responded_at, esc.responded_by, esc.response = now, actor, note
    esc.status = to
    session.add(m.EscalationEvent(escalation_id=esc.id, step=to, actor=actor, at=now, note=note))
    record(session, actor, "acknowledge escalation" if to == rules.ACKNOWLEDGED else "respond to escalation", "escalation", esc.id, {"department": department, "note": note})
    session.flush()
    return escalation_view(session, esc.id, now=now)


_COLUMNS = """e.id, e.incident_id, e.item_code, gi.name AS item_name, e.department, e.reason, e.status, e.escalated_by, e.escalated_at,
    e.ack_due_at, e.respond_due_at, e.acknowledged_at, e.acknowledged_by, e.responded_at, e.responded_by, e.response,
    i.status AS incident_status, i.category, i.description AS incident_description, i.address AS incident_address, i.reported_at,
    i.due_at AS incident_due_at, i.grid_code, i.community_code,
    round(ST_X(i.geom)::numeric, 7)::float AS lon, round(ST_Y(i.geom)::numeric, 7)::float AS lat"""
_FROM = "FROM escalations e JOIN incidents i ON i.id = e.incident_id JOIN grid_items gi ON gi.code = e.item_code"
#: The overdue rule of :func:`escalation_rules.overdue_flags`, in SQL for the listing's filter.
OVERDUE_SQL = "((e.status = 'whistled' AND e.ack_due_at < CAST(:now AS timestamptz)) OR (e.status <> 'responded' AND e.respond_due_at < CAST(:now AS timestamptz)))"


def _view(row, now: datetime) -> dict:
    d = dict(row)
    return {**d, **rules.overdue_flags(d["status"], d["ack_due_at"], d["respond_due_at"], now)}


def escalation_view(session: Session, escalation_id: int, *, department: str | None = None, now: datetime | None = None) -> dict:
    """One escalation with its events; a department account sees its own only (``department``)."""
    _own(session, escalation_id, department)
    now = now or _now(session)
    row = session.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE e.id = :e"), {"e": escalation_id}).mappings().one()
    events = session.execute(text("SELECT step, actor, at, note FROM escalation_events WHERE escalation_id = :e ORDER BY at, id"), {"e": escalation_id}).mappings().all()
    return {**_view(row, now), "events": [dict(e) for e in events]}


def list_escalations(
    session: Session, *, department: str | None = None, overdue: bool | None = None, status: str | None = None,
    incident_id: int | None = None, limit: int = 100, offset: int = 0, now: datetime | None = None,
) -> tuple[int, list[dict]]:
    """(total, a page newest first) by department, overdue, status, incident."""
    if status is not None and status not in rules.STATUSES:
        raise EscalationRuleError(f"状态须为 {'、'.join(rules.STATUSES)} 之一", f"status must be one of {', '.join(rules.STATUSES)}, not {status!r}")
    clauses, p = ["TRUE"], {"now": now or _now(session)}
    if department is not None:
        clauses.append("e.department = :dep")
        p["dep"] = department
    if status is not None:
        clauses.append("e.status = :st")
        p["st"] = status
    if incident_id is not None:
        clauses.append("e.incident_id = :inc")
        p["inc"] = incident_id
    if overdue is not None:
        clauses.append(OVERDUE_SQL if overdue else f"NOT {OVERDUE_SQL}")
    where = " AND ".join(clauses)
    total = session.execute(text(f"SELECT count(*) {_FROM} WHERE {where}"), p).scalar_one()
    rows = session.execute(text(f"SELECT {_COLUMNS} {_FROM} WHERE {where} ORDER BY e.escalated_at DESC, e.id DESC LIMIT :lim OFFSET :off"), {**p, "lim": limit, "off": offset}).mappings().all()
    return total, [_view(r, p["now"]) for r in rows]


def unanswered_departments(session: Session, incident_id: int) -> list[str]:
    """The departments whose escalation of the incident has no response yet."""
    return list(session.execute(
        text("SELECT department FROM escalations WHERE incident_id = :i AND status <> 'responded' ORDER BY department"), {"i": incident_id}
    ).scalars())


def check_closable(session: Session, incident_id: int) -> None:
    """结案 waits for every department escalated to: EscalationPending names those still owing a response."""
    pending = unanswered_departments(session, incident_id)
    if pending:
        raise rules.pending_message(incident_id, pending)
