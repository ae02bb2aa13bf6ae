"""Codes of the grids in the store: assigned by the active coding rule, stable across re-planning (a grid
matching a published one keeps its code), never reused, and their lineage recorded at each publication."""

from __future__ import annotations

from sqlalchemy import insert, select, text, update
from sqlalchemy.orm import Session

from gridplanner.coding import CodingResult, CodingRule, assign_codes, rule_from_spec
from gridplanner.settings import get_settings
from gridplanner.store import models as m
from gridplanner.store.frames import read_frame


def active_rule() -> CodingRule:
    settings = get_settings()
    return rule_from_spec(settings.code_rule, settings.code_constants)


def code_plan(session: Session, plan_id: int, published_id: int | None, *, rule: CodingRule | None = None) -> CodingResult:
    """Give every grid of ``plan_id`` its code, against the grids of the published plan ``published_id``.

    Every code ever published other than the published plan's own counts as retired, so no code comes back.
    """
    grids = read_frame(session, "SELECT id, community_code, type, geom FROM grids WHERE plan_id = :p ORDER BY id", {"p": plan_id})
    previous = None
    if published_id is not None and published_id != plan_id:
        previous = read_frame(session, "SELECT code, community_code, type, geom FROM grids WHERE plan_id = :p AND code IS NOT NULL ORDER BY id", {"p": published_id})
    in_use = set(previous["code"]) if previous is not None else set()
    ever = session.execute(select(m.GridCode.code)).scalars().all()
    result = assign_codes(grids, rule or active_rule(), previous=previous, retired=[c for c in ever if c not in in_use], source=f"plan {plan_id}", previous_source=f"plan {published_id}")
    # Null first: swapping two codes row by row would trip the (plan_id, code) unique constraint midway.
    session.execute(update(m.Grid).where(m.Grid.plan_id == plan_id).values(code=None))
    rows = [{"gid": int(i), "code": c} for i, c in zip(result.grids["id"], result.grids["code"])]
    if rows:
        session.execute(text("UPDATE grids SET code = :code WHERE id = :gid"), rows)
    return result


def record_publication(session: Session, plan: m.GridPlan, result: CodingResult) -> dict[str, int]:
    """Write the lineage events of a publication and bring the code registry up to date."""
    events = result.events_frame(plan_version=plan.version)
    if len(events):
        session.execute(
            insert(m.CodeEvent),
            [
                {"plan_id": plan.id, "plan_version": plan.version, "event": int(r.event), "kind": r.kind, "from_code": r.from_code or None, "to_code": r.to_code or None, "communities": r.communities or None}
                for r in events.itertuples()
            ],
        )
    known = set(session.execute(select(m.GridCode.code)).scalars())
    fresh = result.grids[~result.grids["code"].isin(known)]
    if len(fresh):
        session.execute(
            insert(m.GridCode),
            [{"code": c, "community_code": cc, "type": t, "status": "active", "first_version": plan.version} for c, cc, t in zip(fresh["code"], fresh["community_code"], fresh["type"])],
        )
    if result.retired:
        session.execute(update(m.GridCode).where(m.GridCode.code.in_(result.retired)).values(status="retired", retired_version=plan.version))
    return result.counts()
