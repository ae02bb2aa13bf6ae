"""The incident category catalogue: each category's time limit, counted from dispatch (派遣).

It starts with the 事件 classes of digital urban management (市容环境, 宣传广告, 施工管理, 街面秩序, 突发事件,
其他) and three classes of social governance (矛盾纠纷, 安全隐患, 民生服务); localities change limits, add
categories and retire them (``active``) through the API or the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.store import models as m

URBAN, SOCIAL = "数字城管事件", "社会治理事件"

#: (name, kind, hours, order). Calendar hours: 1 working day ≈ 24 h, difficult social cases ≤ 15 days.
DEFAULT_CATEGORIES = [
    ("市容环境", URBAN, 24.0, 1),
    ("宣传广告", URBAN, 48.0, 2),
    ("施工管理", URBAN, 72.0, 3),
    ("街面秩序", URBAN, 24.0, 4),
    ("突发事件", URBAN, 2.0, 5),
    ("其他", URBAN, 72.0, 6),
    ("矛盾纠纷", SOCIAL, 360.0, 7),
    ("安全隐患", SOCIAL, 24.0, 8),
    ("民生服务", SOCIAL, 72.0, 9),
]


class UnknownCategory(ValueError):
    pass


@dataclass(frozen=True)
class Category:
    name: str
    kind: str | None
    time_limit_hours: float
    sort: int
    active: bool


def seed_defaults(session: Session) -> None:
    """Put the default catalogue in an empty table (a fresh or emptied store); never overrides settings."""
    if session.execute(text("SELECT EXISTS (SELECT 1 FROM incident_categories)")).scalar_one():
        return
    session.execute(
        insert(m.IncidentCategory).on_conflict_do_nothing(),
        [{"name": n, "kind": k, "time_limit_hours": h, "sort": s, "active": True} for n, k, h, s in DEFAULT_CATEGORIES],
    )


def catalogue(session: Session, *, include_inactive: bool = False) -> list[Category]:
    seed_defaults(session)
    q = select(m.IncidentCategory).order_by(m.IncidentCategory.sort, m.IncidentCategory.name)
    if not include_inactive:
        q = q.where(m.IncidentCategory.active)
    return [Category(c.name, c.kind, c.time_limit_hours, c.sort, c.active) for c in session.scalars(q)]


def time_limits(session: Session) -> dict[str, float]:
    """Hours per active category."""
    return {c.name: c.time_limit_hours for c in catalogue(session)}


def category(session: Session, name: str) -> Category:
    for c in catalogue(session):
        if c.name == name:
            return c
    raise UnknownCategory(f"unknown incident category {name!r}; the catalogue has {', '.join(time_limits(session))}")


def set_category(session: Session, name: str, *, time_limit_hours: float, kind: str | None = None, sort: int | None = None, active: bool = True, actor: str = "system") -> Category:
    """Add a category or change one (time limit, kind, order, active). Limits apply to incidents dispatched
    from now on; due times already set stay as they were promised."""
    name = name.strip()
    if not name:
        raise ValueError("category name is empty")
    if not time_limit_hours or time_limit_hours <= 0:
        raise ValueError(f"time limit must be a positive number of hours, got {time_limit_hours}")
    seed_defaults(session)
    row = session.get(m.IncidentCategory, name)
    if row is None:
        top = session.execute(text("SELECT COALESCE(max(sort), 0) FROM incident_categories")).scalar_one()
        row = m.IncidentCategory(name=name, kind=kind, time_limit_hours=float(time_limit_hours), sort=sort if sort is not None else top + 1, active=active)
        session.add(row)
    else:
        row.time_limit_hours, row.active = float(time_limit_hours), active
        row.kind = kind if kind is not None else row.kind
        row.sort = sort if sort is not None else row.sort
    session.flush()
    record(session, actor, "set category", "incident_category", name, {"time_limit_hours": time_limit_hours, "active": active})
    return Category(row.name, row.kind, row.time_limit_hours, row.sort, row.active)
