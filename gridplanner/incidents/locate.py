"""Incidents to grids by place (先属地): PostGIS point-in-polygon on the published plan's grids, then the
grid's 专职网格员. A point in no grid keeps grid_code NULL (无网格) and is listed, never dropped."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.incidents.lifecycle import OPEN_STATUSES
from gridplanner.store.published import published_plan_id

OPEN_SQL = "(" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"


def grid_join(point: str) -> str:
    """A LATERAL join giving ``g.code`` and ``g.community_code`` of the published grid holding ``point``
    (the lowest code when the point lies on a shared edge), NULLs when none does."""
    return f"""LEFT JOIN LATERAL (SELECT g.code, g.community_code FROM grids g
                                   WHERE g.plan_id = :plan AND ST_Intersects(g.geom, {point}) ORDER BY g.code LIMIT 1) g ON true"""


def community_at(point: str) -> str:
    return f"(SELECT c.code FROM communities c WHERE ST_Intersects(c.geom, {point}) ORDER BY c.code LIMIT 1)"


def fulltime_of(code: str) -> str:
    return f"(SELECT s.id FROM staff s WHERE s.active AND s.role = '专职网格员' AND s.grid_code = {code} ORDER BY s.id LIMIT 1)"


def locate_incidents(session: Session, *, ids: list[int] | None = None, open_only: bool = False, plan_id: int | None = None) -> dict:
    """Put incidents (``ids``, or all; open ones only with ``open_only``) in the grid of the published plan
    (or ``plan_id``) that holds them. An open incident keeps its assignee while they still work in its grid,
    else goes to the grid's 专职网格员. Returns counts and the incidents left 无网格."""
    plan = plan_id if plan_id is not None else published_plan_id(session)
    where = ["(CAST(:ids AS bigint[]) IS NULL OR i.id = ANY(CAST(:ids AS bigint[])))"]
    if open_only:
        where.append(f"i.status IN {OPEN_SQL}")
    sql = f"""
        WITH loc AS (
            SELECT i.id, i.grid_code AS old_code, g.code AS grid_code, COALESCE(g.community_code, {community_at('i.geom')}) AS community_code,
                   {fulltime_of('g.code')} AS fulltime
            FROM incidents i {grid_join('i.geom')}
            WHERE {' AND '.join(where)}
        ), moved AS (
            UPDATE incidents i
            SET grid_code = loc.grid_code, community_code = loc.community_code,
                assignee_id = CASE
                    WHEN i.status NOT IN {OPEN_SQL} THEN i.assignee_id
                    WHEN EXISTS (SELECT 1 FROM staff s WHERE s.id = i.assignee_id AND s.active AND s.grid_code = loc.grid_code) THEN i.assignee_id
                    ELSE loc.fulltime END
            FROM loc WHERE loc.id = i.id
            RETURNING i.id, i.external_id, i.status, i.grid_code, i.assignee_id, loc.old_code
        )
        SELECT id, external_id, status, grid_code, assignee_id, old_code FROM moved ORDER BY id"""
    rows = session.execute(text(sql), {"plan": plan, "ids": ids}).all()
    no_grid = [{"id": r.id, "external_id": r.external_id} for r in rows if r.grid_code is None]
    no_worker = [{"id": r.id, "external_id": r.external_id, "grid_code": r.grid_code} for r in rows if r.grid_code and r.assignee_id is None and r.status in OPEN_STATUSES]
    return {
        "located": len(rows),
        "moved": [{"id": r.id, "from": r.old_code, "to": r.grid_code} for r in rows if r.old_code != r.grid_code],
        "no_grid": no_grid,
        "no_worker": no_worker,
    }
