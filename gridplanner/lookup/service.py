"""Grid lookups for other systems: point → grid, batches of points, grids by code, area or community, a code's
lineage, the change feed between published versions and the department crosswalk.

The work is SQL run by PostGIS on the GiST index of ``grids.geom``, except batches on a published (or archived)
plan, which an in-memory STRtree of its grids answers (:mod:`gridplanner.lookup.index`, same answers); points
and boxes arrive here already in CGCS2000 lon/lat (callers convert GCJ-02/BD-09 with :mod:`gis.webcoords`). On
a shared edge a point lies in two grids: the lowest code wins, so the answer never depends on row order.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from gis.webcoords import WGS84, normalise_system, to_cgcs2000, transform, transform_geometries
from gridplanner.lookup import index as lookup_index
from gridplanner.lookup import reads as lookup_reads

#: At most this many points in one batch request.
BATCH_LIMIT = 10_000
#: Roles whose contact a lookup returns (兼职网格员 are many and change often).
CONTACT_ROLES = ("网格长", "专职网格员")


class PlanNotFound(LookupError):
    """No published plan, or no plan of the requested id."""


class VersionGone(LookupError):
    """A published version whose plan is no longer kept."""


@dataclass(frozen=True)
class PlanRef:
    id: int
    version: int | None
    status: str
    published_at: datetime | None = None


def resolve_plan(session: Session, plan_id: int | None = None) -> PlanRef:
    """The plan a lookup reads: ``plan_id`` when given, else the published one."""
    if plan_id is None:
        row = session.execute(text("SELECT id, version, status, published_at FROM grid_plans WHERE status = 'published'")).first()
        if row is None:
            raise PlanNotFound("no published plan: publish a plan first, or name one with plan=")
    else:
        row = session.execute(text("SELECT id, version, status, published_at FROM grid_plans WHERE id = :p"), {"p": plan_id}).first()
        if row is None:
            raise PlanNotFound(f"no plan {plan_id}")
    return PlanRef(row.id, row.version, row.status, row.published_at)


# A lookup's answer as PostgreSQL writes it, for the grid ``{g}``: the SQL path below and the in-memory answers
# (gridplanner.lookup.answers) build it with this same expression, so both give the same bytes.
ANSWER_JSON = """json_build_object(
        'code', {g}.code, 'name', {g}.name, 'type', {g}.type, 'dedicated_kind', {g}.dedicated_kind,
        'community', json_build_object('code', {g}.community_code, 'name', c.name),
        'street', json_build_object('code', s.code, 'name', s.name, 'kind', s.kind),
        'district', json_build_object('code', d.code, 'name', d.name),
        'staff', (SELECT COALESCE(json_agg(json_build_object('name', st.name, 'role', st.role, 'phone', st.phone)
                                           ORDER BY st.role <> '网格长', st.name, st.id), '[]'::json)
                  FROM staff st WHERE st.grid_code = {g}.code AND st.active AND st.role = ANY(%(roles)s)),
        'plan', json_build_object('id', plan.id, 'version', plan.version),
        'query', {query})"""

# One round trip per lookup, and the answer is built as JSON by PostgreSQL: no row at all means no such plan,
# a row whose grid is NULL means no grid holds the point.
_POINT_SQL = f"""
    WITH plan AS (
        SELECT id, version FROM grid_plans
        WHERE CASE WHEN CAST(%(plan)s AS int) IS NULL THEN status = 'published' ELSE id = CAST(%(plan)s AS int) END
    ), hit AS (
        SELECT g.code, g.name, g.type, g.dedicated_kind, g.community_code
        FROM grids g JOIN plan ON g.plan_id = plan.id
        WHERE ST_Intersects(g.geom, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), 4490))
        ORDER BY g.code LIMIT 1
    )
    SELECT CASE WHEN hit.code IS NOT NULL THEN {ANSWER_JSON.format(g="hit", query="CAST(%(query)s AS json)")}::text END
    FROM plan
    LEFT JOIN hit ON true
    LEFT JOIN communities c ON c.code = hit.community_code
    LEFT JOIN streets s ON s.code = c.street_code
    LEFT JOIN districts d ON d.code = s.district_code
"""


def _driver(session: Session):
    """The psycopg connection under ``session`` (same transaction): the hot lookups skip SQLAlchemy's
    per-statement work, and psycopg prepares them after a few calls."""
    return session.connection().connection.driver_connection


def _point_params(lon: float, lat: float, plan_id: int | None, query: dict | None) -> dict:
    # orjson, as the in-memory answers write it (gridplanner.lookup.answers): both give the same bytes.
    return {"plan": plan_id, "x": float(lon), "y": float(lat), "roles": list(CONTACT_ROLES), "query": orjson.dumps(query or {}).decode()}


def _point_answer(session: Session, row: tuple | None, plan_id: int | None) -> str | None:
    if row is None:
        resolve_plan(session, plan_id)  # raises with the reason
        raise PlanNotFound(f"no plan {plan_id}")  # only if the plan vanished between the two statements
    return row[0]


def lookup_point_json(session: Session, lon: float, lat: float, plan_id: int | None = None, *, query: dict | None = None) -> str | None:
    """The grid holding the CGCS2000 point (lon, lat) as JSON text: code, name, type, community, street,
    district, staff contact (网格长, 专职网格员), plan, and ``query`` echoed; None when no grid holds it.

    Read on a connection of :mod:`gridplanner.lookup.reads` when ``session`` has not begun a transaction.

    Raises :class:`PlanNotFound`."""
    params = _point_params(lon, lat, plan_id, query)
    if lookup_reads.may_read_outside(session):
        row = lookup_reads.fetch_one(_POINT_SQL, params)
    else:
        row = _driver(session).execute(_POINT_SQL, params).fetchone()
    return _point_answer(session, row, plan_id)


async def lookup_point_json_async(session: Session, lon: float, lat: float, plan_id: int | None = None, *, query: dict | None = None) -> str | None:
    """:func:`lookup_point_json` for a server's event loop: awaited on the loop's own connections when
    ``session`` has not begun a transaction, else run on the session in a worker thread."""
    if not lookup_reads.may_read_outside(session):
        return await asyncio.to_thread(lookup_point_json, session, lon, lat, plan_id, query=query)
    row = await lookup_reads.fetch_one_async(_POINT_SQL, _point_params(lon, lat, plan_id, query))
    if row is None:
        return await asyncio.to_thread(_point_answer, session, row, plan_id)
    return row[0]


# One round trip for the whole batch: the points travel as one WKB MultiPoint, each probes the GiST index and
# the codes come back as one array.
_BATCH_SQL = """
    SELECT array_agg(t.code ORDER BY t.i) FROM (
        SELECT p.path[1] AS i,
               (SELECT min(g.code) FROM grids g WHERE g.plan_id = CAST(%(plan)s AS int) AND ST_Intersects(g.geom, p.geom)) AS code
        FROM ST_Dump(ST_GeomFromWKB(%(wkb)s, 4490)) AS p
    ) t
"""


def lookup_points(session: Session, plan_id: int, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """The code of the grid holding each CGCS2000 point (None where no grid does), in input order.

    Points are sent in Morton (Z) order so that neighbours probe the same index pages one after another."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return []
    order = np.argsort(morton_key(lon, lat), kind="stable")
    wkb = shapely.to_wkb(shapely.multipoints(np.column_stack([lon[order], lat[order]])))
    conn = _driver(session)
    # Once archived plans pile up in the grids index the planner's estimate crosses jit_above_cost, and
    # compiling the per-point subplan costs more than it saves.
    conn.execute("SELECT set_config('jit', 'off', true)")
    codes = conn.execute(_BATCH_SQL, {"plan": plan_id, "wkb": wkb}).fetchone()[0]
    out: list[str | None] = [None] * len(lon)
    for i, code in zip(order.tolist(), codes):
        out[i] = code
    return out


def lookup_codes(session: Session, plan_id: int, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """What :func:`lookup_points` answers, from this process's in-memory index of the plan when it is not a
    draft (:mod:`gridplanner.lookup.index`, built on first use), else by the SQL."""
    index = lookup_index.plan_index(session, plan_id)
    if index is None:
        return lookup_points(session, plan_id, lon, lat)
    return index.lookup(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def _spread_bits(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.uint64)
    for shift, mask in ((8, 0x00FF00FF), (4, 0x0F0F0F0F), (2, 0x33333333), (1, 0x55555555)):
        v = (v | (v << np.uint64(shift))) & np.uint64(mask)
    return v


def morton_key(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Z-order key of points on a 65,536 × 65,536 lattice over their own box."""
    def cells(v: np.ndarray) -> np.ndarray:
        span = float(np.ptp(v)) or 1.0
        return np.clip((v - v.min()) / span * 65535, 0, 65535)

    return _spread_bits(cells(x)) | (_spread_bits(cells(y)) << np.uint64(1))


def bbox_to_cgcs2000(bbox: tuple[float, float, float, float], crs: str) -> tuple[float, float, float, float]:
    """A lon/lat box in ``crs`` as the CGCS2000 box around its converted corners and edge midpoints.

    The web-map offsets vary by metres over a city, so the converted box covers the same ground."""
    minx, miny, maxx, maxy = bbox
    xs = np.array([minx, maxx, minx, maxx, (minx + maxx) / 2, (minx + maxx) / 2, minx, maxx])
    ys = np.array([miny, miny, maxy, maxy, miny, maxy, (miny + maxy) / 2, (miny + maxy) / 2])
    lon, lat = to_cgcs2000(xs, ys, crs)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def features_to_crs(features: list[dict], crs: str) -> list[dict]:
    """GeoJSON features (CGCS2000, as PostGIS writes them) with their geometry converted to ``crs``."""
    if normalise_system(crs) == WGS84 or not features:
        return features
    geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in features], dtype=object)
    # 7 decimals (about 1 cm), like PostGIS writes them; rounding keeps the vertex order (set_precision would not).
    moved = shapely.transform(transform_geometries(geoms, WGS84, crs), lambda xy: np.round(xy, 7))
    for f, g in zip(features, moved):
        f["geometry"] = json.loads(shapely.to_geojson(g))
    return features


# Properties a grid feature carries; names and codes of its community, street and district included.
_GRID_COLUMNS = """g.code, g.name, g.type, g.dedicated_kind, g.community_code, c.name AS community_name,
                   c.street_code, s.name AS street_name, s.kind AS street_kind, s.district_code, d.name AS district_name,
                   g.households, g.population, round(g.area_m2::numeric, 1) AS area_m2, g.building_count AS buildings, g.geom"""
_GRID_JOINS = """FROM grids g
                 LEFT JOIN communities c ON c.code = g.community_code
                 LEFT JOIN streets s ON s.code = c.street_code
                 LEFT JOIN districts d ON d.code = s.district_code"""


def grid_feature(session: Session, plan_id: int, code: str) -> dict | None:
    """The grid ``code`` of a plan as a GeoJSON Feature (CGCS2000), None when the plan has no such grid."""
    sql = f"SELECT ST_AsGeoJSON(t.*, 'geom', 7)::json FROM (SELECT {_GRID_COLUMNS} {_GRID_JOINS} WHERE g.plan_id = :p AND g.code = :code) t"
    return session.execute(text(sql), {"p": plan_id, "code": code}).scalar_one_or_none()


def grids_page(
    session: Session,
    plan_id: int,
    *,
    community: str | None = None,
    street: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """One page of a plan's grids (GeoJSON features, CGCS2000, ordered by code) and how many match in all."""
    where = """g.plan_id = :p
               AND (CAST(:community AS text) IS NULL OR g.community_code = :community)
               AND (CAST(:street AS text) IS NULL OR left(g.community_code, 9) = :street)
               AND (CAST(:minx AS float8) IS NULL OR ST_Intersects(g.geom, ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4490)))"""
    minx, miny, maxx, maxy = bbox if bbox else (None, None, None, None)
    params = {"p": plan_id, "community": community, "street": street, "minx": minx, "miny": miny, "maxx": maxx, "maxy": maxy}
    total = session.execute(text(f"SELECT count(*) FROM grids g WHERE {where}"), params).scalar_one()
    sql = f"""SELECT COALESCE(json_agg(ST_AsGeoJSON(t.*, 'geom', 7)::json ORDER BY t.code), '[]'::json)
              FROM (SELECT {_GRID_COLUMNS} {_GRID_JOINS} WHERE {where} ORDER BY g.code, g.id LIMIT :limit OFFSET :offset) t"""
    features = session.execute(text(sql), {**params, "limit": limit, "offset": offset}).scalar_one()
    return features, total


def code_status(session: Session, code: str) -> dict | None:
    """The registry row of a code (status, first and retired versions), None if it was never published."""
    row = session.execute(
        text("SELECT code, community_code, type, status, first_version, retired_version FROM grid_codes WHERE code = :c"), {"c": code}
    ).first()
    return None if row is None else dict(row._mapping)


def successors(session: Session, code: str) -> list[str]:
    """The codes a retired code became, followed forward through later splits and merges to the codes still
    active; empty when the grid was retired with no successor."""
    rows = session.execute(
        text(
            """WITH RECURSIVE fwd(code) AS (
                   SELECT CAST(:c AS varchar)
                   UNION
                   SELECT e.to_code FROM code_events e JOIN fwd ON e.from_code = fwd.code
                   WHERE e.to_code IS NOT NULL AND e.to_code <> e.from_code
               )
               SELECT fwd.code FROM fwd JOIN grid_codes r ON r.code = fwd.code AND r.status = 'active'
               WHERE fwd.code <> :c ORDER BY fwd.code"""
        ),
        {"c": code},
    )
    return list(rows.scalars())


def lineage(session: Session, code: str) -> list[dict]:
    """Every lineage event touching ``code`` (as predecessor or successor), and those that made its
    ancestors, back to their origins; one entry per event, oldest first."""
    rows = session.execute(
        text(
            """WITH RECURSIVE back(code) AS (
                   SELECT CAST(:c AS varchar)
                   UNION
                   SELECT e.from_code FROM code_events e JOIN back ON e.to_code = back.code
                   WHERE e.from_code IS NOT NULL AND e.from_code <> e.to_code
               ), touching AS (
                   SELECT DISTINCT e.plan_id, e.event FROM code_events e
                   WHERE e.from_code = :c OR e.to_code = :c OR e.to_code IN (SELECT code FROM back)
               )
               SELECT e.plan_id, e.plan_version, e.event, e.kind, min(e.at) AS at, min(e.communities) AS communities,
                      array_remove(array_agg(DISTINCT e.from_code), NULL) AS from_codes,
                      array_remove(array_agg(DISTINCT e.to_code), NULL) AS to_codes
               FROM code_events e JOIN touching t ON t.plan_id = e.plan_id AND t.event = e.event
               GROUP BY e.plan_id, e.plan_version, e.event, e.kind
               ORDER BY e.plan_version, e.event"""
        ),
        {"c": code},
    )
    return [
        {
            "plan_version": r.plan_version,
            "plan_id": r.plan_id,
            "date": r.at,
            "kind": r.kind,
            "from_codes": sorted(r.from_codes),
            "to_codes": sorted(r.to_codes),
            "communities": r.communities.split(",") if r.communities else [],
        }
        for r in rows
    ]


def plan_of_version(session: Session, version: int) -> int | None:
    return session.execute(text("SELECT id FROM grid_plans WHERE version = :v"), {"v": version}).scalar_one_or_none()


def changes_since(session: Session, since_version: int, current: PlanRef) -> dict:
    """What a mirror that holds version ``since_version`` must change to reach the published ``current``:
    codes added, codes retired (with what they became) and codes whose geometry changed.

    Version 0 means "nothing yet": every current code is added. Raises :class:`VersionGone` when the plan of
    ``since_version`` is no longer kept, so the mirror knows to resynchronise from 0."""
    if since_version == 0:
        added = session.execute(text("SELECT code FROM grids WHERE plan_id = :p ORDER BY code"), {"p": current.id}).scalars().all()
        return {"added": list(added), "retired": [], "geometry_changed": []}
    old = plan_of_version(session, since_version)
    if old is None:
        raise VersionGone(f"version {since_version} is no longer kept: resynchronise with since_version=0")
    p = {"old": old, "new": current.id}
    added = session.execute(
        text("SELECT n.code FROM grids n WHERE n.plan_id = :new AND NOT EXISTS (SELECT 1 FROM grids o WHERE o.plan_id = :old AND o.code = n.code) ORDER BY n.code"), p
    ).scalars().all()
    gone = session.execute(
        text(
            """SELECT o.code, r.retired_version FROM grids o LEFT JOIN grid_codes r ON r.code = o.code
               WHERE o.plan_id = :old AND NOT EXISTS (SELECT 1 FROM grids n WHERE n.plan_id = :new AND n.code = o.code) ORDER BY o.code"""
        ),
        p,
    ).all()
    changed = session.execute(
        text(
            """SELECT n.code FROM grids n JOIN grids o ON o.plan_id = :old AND o.code = n.code
               WHERE n.plan_id = :new AND NOT ST_Equals(n.geom, o.geom) ORDER BY n.code"""
        ),
        p,
    ).scalars().all()
    retired = [{"code": r.code, "retired_version": r.retired_version, "became": successors(session, r.code)} for r in gone]
    return {"added": list(added), "retired": retired, "geometry_changed": list(changed)}


def crosswalk(session: Session, plan_id: int, department: str, department_grid_id: str) -> list[dict]:
    """The unified grids of a plan that a department's grid overlaps, largest share first."""
    rows = session.execute(
        text(
            """SELECT g.code, g.name, x.shared_area_m2, x.share_of_department_grid, x.share_of_unified_grid, x.shared_households
               FROM crosswalk x JOIN grids g ON g.id = x.grid_id
               WHERE x.plan_id = :p AND x.department = :d AND x.department_grid_id = :i
               ORDER BY x.share_of_department_grid DESC, g.code"""
        ),
        {"p": plan_id, "d": department, "i": department_grid_id},
    )
    return [
        {
            "code": r.code,
            "name": r.name,
            "shared_area_m2": round(r.shared_area_m2, 1),
            "share_of_department_grid": round(r.share_of_department_grid, 4),
            "share_of_unified_grid": round(r.share_of_unified_grid, 4),
            "shared_households": r.shared_households,
        }
        for r in rows
    ]


def crosswalk_departments(session: Session, plan_id: int) -> list[str]:
    return list(session.execute(text("SELECT DISTINCT department FROM crosswalk WHERE plan_id = :p ORDER BY 1"), {"p": plan_id}).scalars())


def division_names(session: Session, district: str | None, street: str | None, community: str | None) -> dict[str, str | None]:
    """Names of a district, street and community by code (None for those the store does not know)."""
    row = session.execute(
        text(
            """SELECT (SELECT name FROM districts WHERE code = :d) AS district,
                      (SELECT name FROM streets WHERE code = :s) AS street,
                      (SELECT name FROM communities WHERE code = :c) AS community"""
        ),
        {"d": district, "s": street, "c": community},
    ).one()
    return dict(row._mapping)
