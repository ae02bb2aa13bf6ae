"""After a plan is published, staff and open incidents move to its grids.

Staff follow the code lineage of the publication (table code_events): a kept code keeps its workers; the
workers of a split, merged or redrawn code go to the grid that took its area (the largest share when there
are several). Open incidents are placed again by location. Whatever cannot be moved — a worker whose grid was
retired with no successor, an incident now in no grid or in a grid with no 专职网格员 — stays as it is and
is written to reassignment_issues for a person to settle; nothing is dropped.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.incidents.locate import locate_incidents
from gridplanner.store import models as m


def successors(session: Session, plan: m.GridPlan, codes: list[str]) -> dict[str, list[tuple[str, float]]]:
    """Old code → [(new code, m² of the old grid it took)] for the codes of ``codes`` this publication changed,
    largest share first (area measured on the ellipsoid between the previous and the new plan's grids)."""
    if not codes:
        return {}
    lineage = session.execute(
        text(
            """SELECT DISTINCT e.from_code, e.to_code FROM code_events e
               JOIN grids g ON g.plan_id = e.plan_id AND g.code = e.to_code
               WHERE e.plan_id = :p AND e.from_code = ANY(:codes) AND e.to_code IS NOT NULL"""
        ),
        {"p": plan.id, "codes": codes},
    ).all()
    targets: dict[str, set[str]] = defaultdict(set)
    for src, dst in lineage:
        targets[src].add(dst)
    previous = session.execute(
        text("SELECT id FROM grid_plans WHERE version < :v ORDER BY version DESC LIMIT 1"), {"v": plan.version}
    ).scalar_one_or_none()
    shares: dict[tuple[str, str], float] = {}
    several = [c for c, t in targets.items() if len(t) > 1]
    if several and previous is not None:
        rows = session.execute(
            text(
                """SELECT o.code, n.code, ST_Area(ST_Intersection(o.geom, n.geom)::geography)
                   FROM grids o JOIN grids n ON n.plan_id = :new AND ST_Intersects(o.geom, n.geom)
                   WHERE o.plan_id = :old AND o.code = ANY(:codes)"""
            ),
            {"new": plan.id, "old": previous, "codes": several},
        ).all()
        shares = {(a, b): float(area) for a, b, area in rows}
    return {src: sorted(((dst, shares.get((src, dst), 0.0)) for dst in dsts), key=lambda t: (-t[1], t[0])) for src, dsts in targets.items()}


def _open_issue(session: Session, plan: m.GridPlan, entity: str, entity_id: int, from_code: str | None, reason: str, candidates: list | None = None) -> None:
    exists = session.execute(
        text("SELECT 1 FROM reassignment_issues WHERE entity = :e AND entity_id = :i AND settled_at IS NULL AND reason = :r"),
        {"e": entity, "i": entity_id, "r": reason},
    ).first()
    if exists is None:
        session.add(m.ReassignmentIssue(plan_id=plan.id, plan_version=plan.version, entity=entity, entity_id=entity_id, from_code=from_code, reason=reason, candidates=candidates or []))


def reassign_after_publish(session: Session, plan: m.GridPlan) -> dict:
    """Move staff and open incidents to the grids of the just-published ``plan``; returns what moved and what
    is left for a person to settle (also written to reassignment_issues)."""
    new_codes = set(session.execute(text("SELECT code FROM grids WHERE plan_id = :p AND code IS NOT NULL"), {"p": plan.id}).scalars())
    staff = session.execute(
        text("SELECT id, name, role, grid_code FROM staff WHERE active AND grid_code IS NOT NULL ORDER BY id")
    ).all()
    stranded = [s for s in staff if s.grid_code not in new_codes]
    succ = successors(session, plan, sorted({s.grid_code for s in stranded}))
    moved, unsettled = [], []
    for s in stranded:
        options = succ.get(s.grid_code)
        if not options:
            reason = f"grid {s.grid_code} is not in plan v{plan.version} and no grid took its area"
            unsettled.append({"staff_id": s.id, "name": s.name, "role": s.role, "from": s.grid_code, "reason": reason})
            _open_issue(session, plan, "staff", s.id, s.grid_code, reason)
            continue
        target = options[0][0]
        session.execute(text("UPDATE staff SET grid_code = :c, updated_at = now() WHERE id = :i"), {"c": target, "i": s.id})
        moved.append({"staff_id": s.id, "name": s.name, "role": s.role, "from": s.grid_code, "to": target,
                      "rule": "lineage" if len(options) == 1 else "largest share of the old grid's area",
                      "candidates": [c for c, _ in options]})
    placed = locate_incidents(session, open_only=True, plan_id=plan.id)
    for inc in placed["no_grid"]:
        _open_issue(session, plan, "incident", inc["id"], None, f"open incident lies in no grid of plan v{plan.version} (无网格)")
    for inc in placed["no_worker"]:
        _open_issue(session, plan, "incident", inc["id"], inc["grid_code"], f"grid {inc['grid_code']} has no 专职网格员 to handle the incident")
    session.flush()
    return {
        "plan_id": plan.id,
        "version": plan.version,
        "staff": {"kept": len(staff) - len(stranded), "moved": moved, "unsettled": unsettled},
        "incidents": {"relocated": placed["located"], "moved": len(placed["moved"]), "no_grid": placed["no_grid"], "no_worker": placed["no_worker"]},
    }
