"""Patrol visits (巡查走访) in the store: a grid worker logs a visit of their own grid (a point or a track, the
buildings visited, what was found; a finding becomes an incident in the same step), and officials read each
grid's coverage for a period: the share of its buildings visited, visits, time since the last one.

The buildings visited are those the worker names (they must stand in the worker's grid) and those the track
passes within ``patrol_nearby_m`` metres (setting, default 25) inside the grid: PostGIS measures on the
spheroid (geography). Everything a visit writes is one transaction. Rules: :mod:`gridplanner.gridwork.patrol_rules`.
"""

from __future__ import annotations

from datetime import datetime

from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork import patrol_rules as rules
from gridplanner.gridwork.patrol_rules import PatrolForbidden, PatrolNotFound, PatrolRuleError
from gridplanner.store import models as m
from gridplanner.store.published import published_plan_id

MAX_LISTED = 20


def _now(session: Session) -> datetime:
    return session.execute(text("SELECT now()")).scalar_one()


def _worker(session: Session, staff_id: int | None) -> m.Staff:
    staff = session.get(m.Staff, staff_id) if staff_id is not None else None
    if staff is None or not staff.active:
        raise PatrolForbidden("此账号未关联在岗的网格员", "this account is linked to no active grid worker")
    if staff.grid_code is None:
        raise PatrolForbidden("您尚未分配网格，无法登记巡查", "you are assigned to no grid: there is nothing to patrol")
    return staff


def log_visit(
    session: Session, *, staff_id: int | None, actor: str, shape: BaseGeometry, started_at: datetime | None, ended_at: datetime | None = None,
    building_ids: list[int] | None = None, found: str | None = None, finding: dict | None = None, nearby_m: float = 25.0,
) -> dict:
    """Log a visit of the worker's own grid. ``finding``: ``{"category", "description", "lon"?, "lat"?}`` makes
    an incident (上报, source 巡查走访) at that point, or at the end of the track."""
    from gridplanner.incidents.service import create_incident

    staff = _worker(session, staff_id)
    started_at, ended_at = rules.check_times(started_at, ended_at, _now(session))
    found = (found or "").strip() or None
    if found and len(found) > rules.MAX_NOTE:
        raise PatrolRuleError(f"发现情况最多 {rules.MAX_NOTE} 个字符", f"found: at most {rules.MAX_NOTE} characters")
    plan = published_plan_id(session)
    wkt = shape.wkt
    touches = session.execute(
        text("SELECT ST_Intersects(g.geom, ST_GeomFromText(:w, 4490)) FROM grids g WHERE g.plan_id = :p AND g.code = :c"),
        {"w": wkt, "p": plan, "c": staff.grid_code},
    ).scalar_one_or_none()
    if not touches:
        raise PatrolRuleError(f"巡查轨迹不经过您的网格 {staff.grid_code}", f"the track does not enter your grid {staff.grid_code}")
    listed = sorted({int(b) for b in building_ids or ()})
    if listed:
        inside = set(session.execute(
            text("""SELECT b.id FROM buildings b JOIN grids g ON g.plan_id = :p AND g.code = :c AND ST_Intersects(g.geom, ST_PointOnSurface(b.geom))
                    WHERE b.id = ANY(CAST(:ids AS bigint[]))"""),
            {"p": plan, "c": staff.grid_code, "ids": listed},
        ).scalars())
        outside = [b for b in listed if b not in inside]
        if outside:
            shown = ", ".join(map(str, outside[:MAX_LISTED]))
            raise PatrolRuleError(f"这些楼栋不在您的网格 {staff.grid_code} 内：{shown}", f"buildings not in your grid {staff.grid_code}: {shown}")
    incident_id = None
    if finding is not None:
        category = (finding.get("category") or "").strip()
        if not category:
            raise PatrolRuleError("发现问题须写明事件类别", "a finding needs its incident category")
        end = shape if shape.geom_type == "Point" else shape.interpolate(1.0, normalized=True)
        lon, lat = finding.get("lon", end.x), finding.get("lat", end.y)
        incident_id = create_incident(session, lon=lon, lat=lat, crs="cgcs2000", category=category, description=finding.get("description") or found,
                                      source="巡查走访", actor=actor).id
    visit = m.PatrolVisit(staff_id=staff.id, grid_code=staff.grid_code, started_at=started_at, ended_at=ended_at, geom=f"SRID=4490;{wkt}",
                          found=found, incident_id=incident_id, recorded_by=actor)
    session.add(visit)
    session.flush()
    session.execute(
        text("""INSERT INTO patrol_visit_buildings (visit_id, building_id, how)
                SELECT :v, id, 'listed' FROM unnest(CAST(:ids AS bigint[])) AS id
                UNION ALL
                SELECT :v, b.id, 'nearby' FROM buildings b JOIN grids g ON g.plan_id = :p AND g.code = :c AND ST_Intersects(g.geom, ST_PointOnSurface(b.geom))
                WHERE ST_DWithin(b.geom::geography, ST_GeomFromText(:w, 4490)::geography, :d) AND b.id <> ALL(CAST(:ids AS bigint[]))"""),
        {"v": visit.id, "ids": listed, "p": plan, "c": staff.grid_code, "w": wkt, "d": nearby_m},
    )
    record(session, actor, "log patrol visit", "patrol_visit", visit.id, {"grid": staff.grid_code, "incident_id": incident_id})
    return visit_view(session, visit.id)


def visit_view(session: Session, visit_id: int, *, staff_id: int | None = None) -> dict:
    """One visit with its buildings; a staff account sees its own visits only (``staff_id``)."""
    row = session.execute(
        text("""SELECT v.id, v.staff_id, s.name AS staff_name, v.grid_code, v.started_at, v.ended_at, v.found, v.incident_id, v.recorded_by,
                       GeometryType(v.geom) AS kind, ST_AsGeoJSON(v.geom, 7)::json AS geometry,
                       round(CASE WHEN GeometryType(v.geom) = 'LINESTRING' THEN ST_Length(v.geom::geography) ELSE 0 END)::int AS length_m
                FROM patrol_visits v LEFT JOIN staff s ON s.id = v.staff_id WHERE v.id = :v"""),
        {"v": visit_id},
    ).mappings().one_or_none()
    if row is None:
        raise PatrolNotFound(f"没有巡查记录 {visit_id}", f"no patrol visit {visit_id}")
    if staff_id is not None and row["staff_id"] != staff_id:
        raise PatrolForbidden(f"巡查记录 {visit_id} 不是您的", f"patrol visit {visit_id} is not yours")
    buildings = session.execute(text("SELECT building_id, how FROM patrol_visit_buildings WHERE visit_id = :v ORDER BY building_id"), {"v": visit_id}).mappings().all()
    return {**dict(row), "buildings": [dict(b) for b in buildings]}


def coverage(session: Session, start: datetime, end: datetime, *, grid_codes: list[str] | None = None, now: datetime | None = None) -> list[dict]:
    """Per grid of the published plan, for visits begun in [start, end): buildings, buildings visited and their
    share, visits, the last visit (ever, up to ``end``) and hours since it. One statement, GROUP BY per grid."""
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        raise PatrolRuleError("时段须带时区，且结束晚于开始", "the period needs offsets and must end after it starts")
    rows = session.execute(
        text("""
WITH g AS (SELECT code, community_code, geom FROM grids WHERE plan_id = :p AND code IS NOT NULL
           AND (CAST(:codes AS text[]) IS NULL OR code = ANY(CAST(:codes AS text[])))),
nb AS (SELECT g.code, count(b.id) AS buildings FROM g LEFT JOIN buildings b ON ST_Intersects(g.geom, ST_PointOnSurface(b.geom)) GROUP BY g.code),
v AS (SELECT grid_code, count(*) AS visits FROM patrol_visits WHERE started_at >= :t0 AND started_at < :t1 GROUP BY grid_code),
vb AS (SELECT v.grid_code, count(DISTINCT pb.building_id) AS visited FROM patrol_visits v JOIN patrol_visit_buildings pb ON pb.visit_id = v.id
       WHERE v.started_at >= :t0 AND v.started_at < :t1 GROUP BY v.grid_code),
last AS (SELECT grid_code, max(ended_at) AS last_visit FROM patrol_visits WHERE started_at < :t1 GROUP BY grid_code)
SELECT g.code AS grid_code, g.community_code, nb.buildings, COALESCE(vb.visited, 0) AS buildings_visited,
       round(COALESCE(vb.visited, 0)::numeric / NULLIF(nb.buildings, 0), 4)::float AS share_visited,
       COALESCE(v.visits, 0) AS visits, last.last_visit,
       round((extract(epoch FROM CAST(:now AS timestamptz) - last.last_visit) / 3600)::numeric, 1)::float AS hours_since_last_visit
FROM g JOIN nb ON nb.code = g.code LEFT JOIN v ON v.grid_code = g.code LEFT JOIN vb ON vb.grid_code = g.code LEFT JOIN last ON last.grid_code = g.code
ORDER BY g.code"""),
        {"p": published_plan_id(session), "codes": grid_codes or None, "t0": start, "t1": end, "now": now or _now(session)},
    ).mappings().all()
    return [dict(r) for r in rows]
