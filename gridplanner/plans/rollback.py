"""Rolling back: a copy of an earlier published plan becomes the published plan, under a new version number.

The archived plan is never changed; its grids are copied into a new draft, which is published the usual way
(row and table lock, codes settled against the plan published now, lineage recorded, staff and incidents moved)."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from gridplanner.plans.drafts import PlanError, publish
from gridplanner.auth.audit import record
from gridplanner.store import models as m

_COLS = "code, name, type, dedicated_kind, community_code, households, population, area_m2, building_count, source, geom"


def rollback(session: Session, *, version: int | None = None, plan_id: int | None = None, actor: str = "system") -> m.GridPlan:
    """Publish a copy of the archived plan with ``version`` (or id ``plan_id``); returns the new published plan."""
    if (version is None) == (plan_id is None):
        raise ValueError("name the plan to roll back to by its version or by its id")
    query = select(m.GridPlan).where(m.GridPlan.version == version) if version is not None else select(m.GridPlan).where(m.GridPlan.id == plan_id)
    target = session.execute(query).scalar_one_or_none()
    if target is None:
        raise LookupError(f"no plan with {'version ' + str(version) if version is not None else 'id ' + str(plan_id)}")
    if target.status != "archived":
        raise PlanError(f"plan {target.id} is {target.status}; only an archived (earlier published) plan can be rolled back to")
    draft = m.GridPlan(name=f"回滚至 v{target.version}: {target.name}", status="draft", based_on_id=target.id, created_by=actor, settings={"rollback_of": target.id}, report={})
    session.add(draft)
    session.flush()
    session.execute(text(f"INSERT INTO grids (plan_id, {_COLS}) SELECT :new, {_COLS} FROM grids WHERE plan_id = :old ORDER BY id"), {"new": draft.id, "old": target.id})
    published = publish(session, draft.id, actor=actor)
    record(session, actor, "rollback", "grid_plan", published.id, {"to_version": target.version, "from_plan": target.id, "new_version": published.version})
    return published
