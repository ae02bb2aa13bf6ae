"""Incidents one at a time (report, look up, place by hand) and the queries officials run over them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.webcoords import to_cgcs2000
from gridplanner.auth.audit import record
from gridplanner.incidents.catalogue import category as get_category
from gridplanner.incidents.lifecycle import REPORTED, STATUSES, IncidentNotFound
from gridplanner.incidents.locate import OPEN_SQL, locate_incidents
from gridplanner.store.published import check_grid_code
from gridplanner.store import models as m

#: Rough mainland box (with islands): a point outside it is a mistake (swapped or zeroed coordinates).
CHINA_LON, CHINA_LAT = (73.0, 136.0), (3.0, 54.0)


class CoordinateError(ValueError):
    pass


def in_china(lon, lat) -> np.ndarray:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return np.isfinite(lon) & np.isfinite(lat) & (lon >= CHINA_LON[0]) & (lon <= CHINA_LON[1]) & (lat >= CHINA_LAT[0]) & (lat <= CHINA_LAT[1])


def create_incident(
    session: Session,
    *,
    lon: float,
    lat: float,
    category: str,
    crs: str = "wgs84",
    description: str | None = None,
    source: str | None = None,
    reported_at: datetime | None = None,
    external_id: str | None = None,
    actor: str = "system",
    service_code: str | None = None,
    address: str | None = None,
    media_url: str | None = None,
) -> m.Incident:
    """Report an incident (status 上报) at a point; it is placed in its grid and given the grid's 专职网格员.
    A point in no grid is kept with grid_code NULL (无网格). ``service_code``: the grid item it was filed for
    (an Open311 request; the caller checks the item is admitted), with the filer's address and media URL."""
    get_category(session, category)  # raises UnknownCategory
    if not in_china(lon, lat):
        raise CoordinateError(f"point ({lon}, {lat}) is not in China: check the order (lon, lat) and the coordinate system")
    x, y = to_cgcs2000(lon, lat, crs)
    if external_id is not None and session.execute(text("SELECT 1 FROM incidents WHERE external_id = :e"), {"e": external_id}).first():
        raise ValueError(f"an incident with external id {external_id!r} exists already")
    row = session.execute(
        text(
            """INSERT INTO incidents (external_id, category, status, description, source, reported_at, geom, service_code, address, media_url)
               VALUES (:e, :c, :s, :d, :src, COALESCE(CAST(:at AS timestamptz), now()), ST_SetSRID(ST_MakePoint(:x, :y), 4490), :svc, :addr, :media)
               RETURNING id, reported_at"""
        ),
        {"e": external_id, "c": category, "s": REPORTED, "d": description, "src": source, "at": reported_at, "x": float(x), "y": float(y),
         "svc": service_code, "addr": address, "media": media_url},
    ).one()
    session.add(m.IncidentEvent(incident_id=row.id, from_status=None, to_status=REPORTED, actor=actor, at=row.reported_at, note=source))
    locate_incidents(session, ids=[row.id])
    session.flush()
    incident = session.get(m.Incident, row.id)
    session.refresh(incident)
    return incident


def set_grid(session: Session, incident_id: int, grid_code: str, *, actor: str) -> m.Incident:
    """Place an incident in a grid by hand (an incident left 无网格, or one a person settles after a re-plan)."""
    incident = session.get(m.Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    code = check_grid_code(session, grid_code)
    previous = incident.grid_code
    session.execute(
        text(
            """UPDATE incidents i SET grid_code = g.code, community_code = g.community_code,
                      assignee_id = CASE WHEN i.status IN """ + OPEN_SQL + """ THEN
                          (SELECT s.id FROM staff s WHERE s.active AND s.role = '专职网格员' AND s.grid_code = g.code ORDER BY s.id LIMIT 1)
                          ELSE i.assignee_id END
               FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published'
               WHERE i.id = :i AND g.code = :c"""
        ),
        {"i": incident_id, "c": code},
    )
    session.execute(
        text("UPDATE reassignment_issues SET settled_at = now(), settled_by = :a WHERE entity = 'incident' AND entity_id = :i AND settled_at IS NULL"),
        {"a": actor, "i": incident_id},
    )
    record(session, actor, "set grid", "incident", incident_id, {"from": previous, "to": code})
    session.flush()
    session.refresh(incident)
    return incident


INCIDENT_COLUMNS = """i.id, i.external_id, i.category, i.status, i.description, i.source, i.reported_at, i.dispatched_at, i.due_at,
    i.closed_at, i.grid_code, i.community_code, i.assignee_id, s.name AS assignee_name, i.satisfaction,
    round(ST_X(i.geom)::numeric, 7)::float AS lon, round(ST_Y(i.geom)::numeric, 7)::float AS lat,
    (i.status IN """ + OPEN_SQL + """ AND i.due_at IS NOT NULL AND i.due_at < CAST(:now AS timestamptz)) AS overdue"""


@dataclass
class IncidentQuery:
    grid_code: str | None = None
    community_code: str | None = None
    statuses: list[str] | None = None
    category: str | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    overdue: bool | None = None
    no_grid: bool | None = None
    open_only: bool = False
    limit: int = 100
    offset: int = 0

    def where(self) -> tuple[str, dict]:
        for s in self.statuses or []:
            if s not in STATUSES:
                raise ValueError(f"unknown status {s!r}; one of {', '.join(STATUSES)}")
        clauses, p = ["TRUE"], {}
        if self.grid_code:
            clauses.append("i.grid_code = :grid")
            p["grid"] = self.grid_code
        if self.community_code:
            clauses.append("i.community_code = :comm")
            p["comm"] = self.community_code
        if self.statuses:
            clauses.append("i.status = ANY(CAST(:statuses AS text[]))")
            p["statuses"] = list(self.statuses)
        if self.open_only:
            clauses.append(f"i.status IN {OPEN_SQL}")
        if self.category:
            clauses.append("i.category = :cat")
            p["cat"] = self.category
        if self.reported_from:
            clauses.append("i.reported_at >= :t0")
            p["t0"] = self.reported_from
        if self.reported_to:
            clauses.append("i.reported_at < :t1")
            p["t1"] = self.reported_to
        if self.no_grid is not None:
            clauses.append("i.grid_code IS NULL" if self.no_grid else "i.grid_code IS NOT NULL")
        if self.overdue is not None:
            cond = f"(i.status IN {OPEN_SQL} AND i.due_at IS NOT NULL AND i.due_at < CAST(:now AS timestamptz))"
            clauses.append(cond if self.overdue else f"NOT {cond}")
        return " AND ".join(clauses), p


def _now(session: Session, now: datetime | None) -> datetime:
    return now or session.execute(text("SELECT now()")).scalar_one()


def find_incidents(session: Session, q: IncidentQuery, *, now: datetime | None = None) -> tuple[int, list[dict]]:
    """(total matching, one page of rows newest first)."""
    where, params = q.where()
    params["now"] = _now(session, now)
    total = session.execute(text(f"SELECT count(*) FROM incidents i WHERE {where}"), params).scalar_one()
    rows = session.execute(
        text(f"SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN staff s ON s.id = i.assignee_id WHERE {where} ORDER BY i.reported_at DESC, i.id DESC LIMIT :lim OFFSET :off"),
        {**params, "lim": q.limit, "off": q.offset},
    ).mappings().all()
    return total, [dict(r) for r in rows]


def incident_detail(session: Session, incident_id: int, *, now: datetime | None = None) -> dict:
    row = session.execute(
        text(f"SELECT {INCIDENT_COLUMNS} FROM incidents i LEFT JOIN staff s ON s.id = i.assignee_id WHERE i.id = :i"), {"i": incident_id, "now": _now(session, now)}
    ).mappings().one_or_none()
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id}")
    events = session.execute(
        text("SELECT from_status, to_status, actor, at, note FROM incident_events WHERE incident_id = :i ORDER BY at, id"), {"i": incident_id}
    ).mappings().all()
    return {**dict(row), "events": [dict(e) for e in events]}


def grid_counts(session: Session, *, now: datetime | None = None, by: str = "grid") -> list[dict]:
    """Open and overdue incidents per grid of the published plan (``by="community"``: per community), one
    SQL GROUP BY; incidents in no grid come last as the row with code None (无网格)."""
    if by not in ("grid", "community"):
        raise ValueError("by must be 'grid' or 'community'")
    key = "grid_code" if by == "grid" else "community_code"
    units = (
        "SELECT g.code AS key, g.community_code FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published'"
        if by == "grid"
        else "SELECT DISTINCT g.community_code AS key, g.community_code FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published'"
    )
    sql = f"""
        WITH c AS (
            SELECT {key} AS key, count(*) AS open,
                   count(*) FILTER (WHERE due_at IS NOT NULL AND due_at < CAST(:now AS timestamptz)) AS overdue
            FROM incidents WHERE status IN {OPEN_SQL} GROUP BY {key}
        )
        SELECT u.key, u.community_code, COALESCE(c.open, 0) AS open, COALESCE(c.overdue, 0) AS overdue
        FROM ({units}) u LEFT JOIN c ON c.key = u.key
        UNION ALL
        SELECT c.key, NULL, c.open, c.overdue FROM c WHERE c.key IS NULL OR c.key NOT IN (SELECT key FROM ({units}) u2 WHERE key IS NOT NULL)
        ORDER BY 1 NULLS LAST"""
    rows = session.execute(text(sql), {"now": _now(session, now)}).all()
    return [{"code": r.key, "community_code": r.community_code, "open": int(r.open), "overdue": int(r.overdue)} for r in rows]
