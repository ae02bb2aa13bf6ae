"""The 网格事项清单 in the store: propose, admit, exit, read; every change audited in its own transaction.

The rules themselves are in :mod:`gridplanner.gridwork.admission`; this module applies them to rows. Who may
take a step is the caller's business (the API admits admins only to admission and exit, the CLI is run by an
operator), but every step records who took it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork import admission as rules
from gridplanner.gridwork.messages import ItemNotFound, ItemRuleError
from gridplanner.incidents.catalogue import catalogue as incident_catalogue
from gridplanner.store import models as m


@dataclass(frozen=True)
class Item:
    code: str
    name: str
    department: str
    category: str
    worker_role: str
    time_limit_days: int
    description: str | None
    status: str
    proposed_by: str
    proposed_on: date
    approved_by: str | None
    admitted_on: date | None
    exited_on: date | None
    exit_reason: str | None

    def as_dict(self) -> dict:
        return asdict(self)


def _item(row: m.GridItem) -> Item:
    return Item(**{f: getattr(row, f) for f in Item.__dataclass_fields__})


def today(session: Session) -> date:
    """The date in Beijing: admission records are dated as the county's documents date them."""
    return session.execute(text("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")).scalar_one()


def categories(session: Session) -> set[str]:
    """The incident categories an item may belong to (the active ones of the incident catalogue)."""
    return {c.name for c in incident_catalogue(session)}


def _actor(actor: str) -> str:
    if not actor or not str(actor).strip():
        raise ItemRuleError("须写明操作人", "actor is required: every step records who took it")
    return str(actor).strip()


def propose(session: Session, *, code, name, department, category, worker_role, time_limit_days, description=None, actor: str, on: date | None = None) -> Item:
    """Put an item on the list as proposed (拟准入)."""
    actor = _actor(actor)
    fields = rules.check_fields(code, name, department, category, worker_role, time_limit_days, description, categories=categories(session))
    if session.get(m.GridItem, fields.code) is not None:
        raise ItemRuleError(f"事项编码 {fields.code} 已存在", f"item code {fields.code} exists already")
    row = m.GridItem(**asdict(fields), status=rules.PROPOSED, proposed_by=actor, proposed_on=on or today(session))
    session.add(row)
    session.flush()
    record(session, actor, "propose grid item", "grid_item", fields.code, {k: v for k, v in asdict(fields).items() if k != "code"})
    return _item(row)


def _locked(session: Session, code: str) -> m.GridItem:
    row = session.execute(select(m.GridItem).where(m.GridItem.code == code).with_for_update()).scalar_one_or_none()
    if row is None:
        raise ItemNotFound(code)
    return row


def admit(session: Session, code: str, *, approved_by: str, on: date | None = None) -> Item:
    """准入: the item enters grid work, approved by ``approved_by`` (an admin) on ``on`` (default today)."""
    approved_by = _actor(approved_by)
    row = _locked(session, code)
    rules.check_step(code, row.status, rules.ADMITTED)
    on = on or today(session)
    rules.check_record(code, rules.ADMITTED, approved_by, on, None, None, row.proposed_on)
    row.status, row.approved_by, row.admitted_on = rules.ADMITTED, approved_by, on
    session.flush()
    record(session, approved_by, "admit grid item", "grid_item", code, {"admitted_on": on.isoformat()})
    return _item(row)


def exit_item(session: Session, code: str, *, reason: str, actor: str, on: date | None = None) -> Item:
    """退出: the item leaves grid work for ``reason``; from then on it cannot be assigned."""
    actor = _actor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ItemRuleError("须写明退出原因", "exit_reason is required")
    row = _locked(session, code)
    rules.check_step(code, row.status, rules.EXITED)
    on = on or today(session)
    rules.check_record(code, rules.EXITED, row.approved_by, row.admitted_on, on, reason, row.proposed_on)
    row.status, row.exited_on, row.exit_reason = rules.EXITED, on, reason
    session.flush()
    record(session, actor, "exit grid item", "grid_item", code, {"exited_on": on.isoformat(), "reason": reason})
    return _item(row)


def get_item(session: Session, code: str) -> Item:
    row = session.get(m.GridItem, code)
    if row is None:
        raise ItemNotFound(code)
    return _item(row)


def list_items(session: Session, *, status: str | None = None, department: str | None = None) -> list[Item]:
    if status is not None and status not in rules.STATUSES:
        raise ItemRuleError(f"未知状态 {status!r}", f"unknown status {status!r}; one of {', '.join(rules.STATUSES)}")
    q = select(m.GridItem).order_by(m.GridItem.code)
    if status:
        q = q.where(m.GridItem.status == status)
    if department:
        q = q.where(m.GridItem.department == department)
    return [_item(r) for r in session.scalars(q)]


def assignable_item(session: Session, code: str) -> Item:
    """The item, when it may be pushed down to grid workers (admitted); ItemNotFound or ItemNotAssignable else.
    Every path that hands an item's work to the grids asks here."""
    item = get_item(session, code)
    rules.check_assignable(code, item.status)
    return item
