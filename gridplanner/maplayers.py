"""Gridplanner's map layers: communities, grids with their size status, staffing, incidents (points, counts per
grid, density bins), department grids and a draft's changes, each one SQL query over the store's tables, served
by the generic engine in :mod:`tiles` as vector tiles and GeoJSON. Statuses and default size bounds come from
their one source (:mod:`gridplanner.incidents.lifecycle`, :mod:`gridplanner.planning.rules`).

Counts per grid are correlated sub-queries on indexed codes rather than a GROUP BY over the whole table, so a
tile only pays for the grids it shows. Writers say what they changed with :func:`invalidate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text

from gridplanner.incidents.lifecycle import CLOSED_STATUSES
from gridplanner.planning.rules import SizeRule, size_rules
from tiles import cache
from tiles import layers as tiles_layers
from tiles.layers import MERCATOR_COLUMNS, Catalog, FilterError, Layer, Spatial


@dataclass(frozen=True)
class Filters:
    """Filters from the query string; empty means "the default view" (the published plan, every incident)."""

    plan: int | None = None
    version: int | None = None
    status: tuple[str, ...] = ()
    category: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    department: str | None = None

    def used(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v not in (None, ())]

    def key(self) -> tuple:
        """A hashable, order-independent form for cache keys."""
        return tuple(
            (k, tuple(sorted(v)) if isinstance(v, tuple) else (v.isoformat() if isinstance(v, datetime) else v))
            for k, v in self.__dict__.items()
            if v not in (None, ())
        )

    def params(self) -> dict:
        """The SQL parameters the layers' queries name."""
        return {"plan": self.plan, "version": self.version, "statuses": list(self.status), "categories": list(self.category),
                "start": self.start, "end": self.end, "department": self.department}

    def query_string(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for k in self.used():
            v = getattr(self, k)
            out[k] = ",".join(v) if isinstance(v, tuple) else (v.isoformat() if isinstance(v, datetime) else str(v))
        return out



def check_filters(layer: Layer, filters: Filters) -> None:
    """A FilterError for filters ``layer`` does not take or values it cannot have."""
    tiles_layers.check_filters(layer, filters)
    if filters.plan is not None and filters.version is not None:
        raise FilterError("give plan or version, not both")
    if layer.statuses is not None:
        bad = [s for s in filters.status if s not in layer.statuses]
        if bad:
            raise FilterError(f"layer {layer.name!r} has no status {', '.join(bad)} (statuses: {', '.join(layer.statuses)})")
    if filters.start and filters.end and filters.start > filters.end:
        raise FilterError(f"time range is empty: start {filters.start.isoformat()} is after end {filters.end.isoformat()}")


def size_params(rules: dict[str, SizeRule] | None = None) -> dict:
    """The size rule a plan without one of its own is measured by, as the layers' SQL parameters."""
    rules = rules or size_rules()
    return {"urban_min": rules["urban"].min_households, "urban_max": rules["urban"].max_households,
            "rural_min": rules["rural"].min_households, "rural_max": rules["rural"].max_households}


_PLAN = """(SELECT id FROM grid_plans
            WHERE CASE WHEN CAST(:plan AS integer) IS NOT NULL THEN id = :plan
                       WHEN CAST(:version AS integer) IS NOT NULL THEN version = :version
                       ELSE status = 'published' END)"""
_DRAFT = """COALESCE(CAST(:plan AS integer),
                     (SELECT id FROM grid_plans WHERE status = 'draft' ORDER BY created_at DESC, id DESC LIMIT 1))"""
_OPEN = "(i.status <> ALL(:closed))"
_OVERDUE = f"({_OPEN} AND i.due_at IS NOT NULL AND i.due_at < now())"


def _iso(col: str) -> str:
    return f"""to_char({col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


def _incident_conditions(f: Filters, *, with_status: bool = True) -> str:
    cond = []
    if with_status and f.status:
        cond.append("i.status = ANY(:statuses)")
    if f.category:
        cond.append("i.category = ANY(:categories)")
    if f.start:
        cond.append("i.reported_at >= :start")
    if f.end:
        cond.append("i.reported_at < :end")
    return "".join(f" AND {c}" for c in cond)


def _status_wrap(sql: str, f: Filters, column: str) -> str:
    return f"SELECT * FROM ({sql}) q WHERE q.{column} = ANY(:statuses)" if f.status else sql


def _rule(bound: str) -> str:
    """The plan's size-rule bound for the grid's community class, else the caller's default."""
    return f"""COALESCE((p.settings #>> ARRAY['rules', COALESCE(c.class, 'urban')::text, '{bound}_households'])::int,
                        (p.settings #>> '{{rules,{bound}_households}}')::int,
                        CASE WHEN c.class = 'rural' THEN :rural_{bound} ELSE :urban_{bound} END)"""


def _geom(alias: str, mercator: bool) -> str:
    return f"{alias}.geom" + "".join(f", {alias}.{c}" for c in MERCATOR_COLUMNS if mercator)


# --- the layers --------------------------------------------------------------------------------


def _communities(f: Filters, spatial: Spatial, ctx: dict) -> str:
    return f"""SELECT c.id, c.code, c.name, c.street_code, c.class AS class, c.urban_rural_code, c.geom
               FROM communities c WHERE {spatial('c')}"""


def _grids(f: Filters, spatial: Spatial, ctx: dict, mercator: bool = False) -> str:
    sql = f"""SELECT g.id, g.code, g.name, g.type, g.dedicated_kind, g.community_code, g.households, g.population,
                     round(g.area_m2::numeric, 1)::float8 AS area_m2, g.building_count,
                     CASE WHEN g.type = 'dedicated' THEN 'dedicated'
                          WHEN g.households < {_rule('min')} THEN 'under'
                          WHEN g.households > {_rule('max')} THEN 'over'
                          ELSE 'within' END AS size_status,
                     g.plan_id, p.version AS plan_version, {_geom("g", mercator)}
              FROM grids g
              JOIN grid_plans p ON p.id = g.plan_id
              LEFT JOIN communities c ON c.code = g.community_code
              WHERE g.plan_id = {_PLAN} AND {spatial('g')}"""
    return _status_wrap(sql, f, "size_status")


def _staffing(f: Filters, spatial: Spatial, ctx: dict, mercator: bool = False) -> str:
    sql = f"""SELECT g.id, g.code, g.community_code, g.households, g.population,
                     st.leaders, st.full_time, st.part_time, st.total,
                     CASE WHEN st.total = 0 THEN 'unstaffed'
                          WHEN st.leaders >= 1 AND st.full_time >= 1 THEN 'complete'
                          ELSE 'incomplete' END AS staffing_status,
                     {_geom("g", mercator)}
              FROM grids g
              CROSS JOIN LATERAL (
                  SELECT count(*) FILTER (WHERE s.role = '网格长')::int AS leaders,
                         count(*) FILTER (WHERE s.role = '专职网格员')::int AS full_time,
                         count(*) FILTER (WHERE s.role = '兼职网格员')::int AS part_time,
                         count(*)::int AS total
                  FROM staff s WHERE s.grid_code = g.code AND s.active) st
              WHERE g.plan_id = {_PLAN} AND {spatial('g')}"""
    return _status_wrap(sql, f, "staffing_status")


def _incidents(f: Filters, spatial: Spatial, ctx: dict) -> str:
    return f"""SELECT i.id, i.external_id, i.category, i.status, i.source, i.grid_code,
                      {_iso('i.reported_at')} AS reported_at, {_iso('i.due_at')} AS due_at,
                      {_OPEN} AS open, {_OVERDUE} AS overdue, i.geom
               FROM incidents i
               WHERE {spatial('i')}{_incident_conditions(f)}"""


def _incidents_expiry(f: Filters, spatial: Spatial) -> str:
    return f"""SELECT min(i.due_at) FROM incidents i
               WHERE {spatial('i')} AND {_OPEN} AND i.due_at > now(){_incident_conditions(f)}"""


def _incident_counts(f: Filters, spatial: Spatial, ctx: dict, mercator: bool = False) -> str:
    return f"""SELECT g.id, g.code, g.community_code, ic.total, ic.open, ic.overdue, {_geom("g", mercator)}
               FROM grids g
               CROSS JOIN LATERAL (
                   SELECT count(*)::int AS total, count(*) FILTER (WHERE {_OPEN})::int AS open,
                          count(*) FILTER (WHERE {_OVERDUE})::int AS overdue
                   FROM incidents i WHERE i.grid_code = g.code{_incident_conditions(f, with_status=False)}) ic
               WHERE g.plan_id = {_PLAN} AND {spatial('g')}"""


def _incident_counts_expiry(f: Filters, spatial: Spatial) -> str:
    return f"""SELECT min(i.due_at) FROM incidents i
               WHERE i.grid_code IN (SELECT g.code FROM grids g WHERE g.plan_id = {_PLAN} AND {spatial('g')})
                 AND {_OPEN} AND i.due_at > now(){_incident_conditions(f, with_status=False)}"""


def _incident_density(f: Filters, spatial: Spatial, ctx: dict) -> str:
    # Square bins aligned on the EPSG:3857 grid, so bins of one zoom never straddle two tiles.
    return f"""SELECT b.ix || '_' || b.iy AS id, b.count, b.open,
                      ST_Transform(ST_SetSRID(ST_MakePoint((b.ix + 0.5) * :cell, (b.iy + 0.5) * :cell), 3857), 4490) AS geom
               FROM (SELECT floor(ST_X(a.m) / :cell)::bigint AS ix, floor(ST_Y(a.m) / :cell)::bigint AS iy,
                            count(*)::int AS count, count(*) FILTER (WHERE a.open)::int AS open
                     FROM (SELECT ST_Transform(i.geom, 3857) AS m, {_OPEN} AS open FROM incidents i
                           WHERE {spatial('i')}{_incident_conditions(f)}) a
                     GROUP BY 1, 2) b"""


def _buildings(f: Filters, spatial: Spatial, ctx: dict) -> str:
    return f"""SELECT b.id, b.name, b.use, b.households, b.floors, b.community_code, b.geom
               FROM buildings b WHERE {spatial('b')}"""


def _lines(f: Filters, spatial: Spatial, ctx: dict) -> str:
    kind = " AND l.kind = ANY(:statuses)" if f.status else ""
    return f"""SELECT l.id, l.kind, l.name, l.category, l.geom
               FROM linear_features l WHERE {spatial('l')}{kind}"""


def _departments(f: Filters, spatial: Spatial, ctx: dict) -> str:
    dept = " AND l.department = :department" if f.department else ""
    return f"""SELECT d.id, l.department, d.dept_grid_id, d.name, d.geom
               FROM department_grids d JOIN department_layers l ON l.id = d.layer_id
               WHERE {spatial('d')}{dept}"""


def _plan_diff(f: Filters, spatial: Spatial, ctx: dict, mercator: bool = False) -> str:
    published = "(SELECT id FROM grid_plans WHERE status = 'published')"
    sql = f"""SELECT n.id, n.code, 'added' AS change, n.community_code, n.households, NULL::int AS households_before, {_geom("n", mercator)}
              FROM grids n
              WHERE n.plan_id = {_DRAFT} AND {spatial('n')}
                AND (n.code IS NULL OR NOT EXISTS (SELECT 1 FROM grids o WHERE o.plan_id = {published} AND o.code = n.code))
              UNION ALL
              SELECT n.id, n.code, 'changed', n.community_code, n.households, o.households, {_geom("n", mercator)}
              FROM grids n JOIN grids o ON o.plan_id = {published} AND o.code = n.code
              WHERE n.plan_id = {_DRAFT} AND {spatial('n')}
                AND (ST_AsBinary(n.geom) <> ST_AsBinary(o.geom) OR n.households <> o.households OR n.type <> o.type)
              UNION ALL
              SELECT o.id, o.code, 'removed', o.community_code, NULL::int, o.households, {_geom("o", mercator)}
              FROM grids o
              WHERE o.plan_id = {published} AND {spatial('o')} AND {_DRAFT} IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM grids n WHERE n.plan_id = {_DRAFT} AND n.code = o.code)"""
    return _status_wrap(sql, f, "change")


_PLAN_FILTERS = ("plan", "version")
_INCIDENT_FILTERS = ("status", "category", "start", "end")

LAYERS = Catalog(
    [
        Layer(
            "communities", "社区/村 Communities", "Community (社区) and village (村) boundaries with their 12-digit codes.",
            "Polygon",
            {"code": "统计用区划代码 (12 digits)", "name": "名称", "street_code": "街道/乡镇代码", "class": "urban/rural", "urban_rural_code": "城乡分类代码"},
            ("communities",), "communities", _communities, minzoom=8,
        ),
        Layer(
            "grids", "网格 Grids", "Grids of a plan (default: the published one) with coverage attributes and size status by the plan's rule.",
            "Polygon",
            {"code": "网格编码", "name": "名称", "type": "basic/dedicated", "dedicated_kind": "专属网格类别", "community_code": "所属社区",
             "households": "户数", "population": "人口", "area_m2": "面积 m²", "building_count": "楼栋数",
             "size_status": "规模: under/within/over (dedicated: 专属网格)", "plan_id": "方案 id", "plan_version": "方案版本"},
            ("grids", "grid_plans", "communities"), "grids", _grids,
            filters=(*_PLAN_FILTERS, "status"), statuses=("under", "within", "over", "dedicated"), mercator=True,
        ),
        Layer(
            "staffing", "网格力量 Staffing", "Active staff per grid by role (网格长, 专职网格员, 兼职网格员) and staffing status.",
            "Polygon",
            {"code": "网格编码", "community_code": "所属社区", "households": "户数", "population": "人口", "leaders": "网格长",
             "full_time": "专职网格员", "part_time": "兼职网格员", "total": "合计",
             "staffing_status": "complete (网格长 + 专职网格员) / incomplete / unstaffed"},
            ("grids", "grid_plans", "staff"), "grids", _staffing,
            filters=(*_PLAN_FILTERS, "status"), statuses=("complete", "incomplete", "unstaffed"), mercator=True,
        ),
        Layer(
            "incidents", "事件 Incidents", f"Incident points with category and status; open = status not {'/'.join(CLOSED_STATUSES)}, overdue = open past due.",
            "Point",
            {"external_id": "外部编号", "category": "类别", "status": "状态", "source": "来源", "grid_code": "网格编码",
             "reported_at": "上报时间 (UTC)", "due_at": "期限 (UTC)", "open": "未结案", "overdue": "超期"},
            ("incidents",), "incidents", _incidents, filters=_INCIDENT_FILTERS, minzoom=12, expiry=_incidents_expiry,
        ),
        Layer(
            "incident_counts", "网格事件数 Incidents per grid", "Open and overdue incidents per grid of a plan (default: published).",
            "Polygon",
            {"code": "网格编码", "community_code": "所属社区", "total": "事件总数", "open": "未结案", "overdue": "超期"},
            ("grids", "grid_plans", "incidents"), "grids", _incident_counts,
            filters=(*_PLAN_FILTERS, "category", "start", "end"), expiry=_incident_counts_expiry, mercator=True,
        ),
        Layer(
            "incident_density", "事件密度 Incident density", "Incidents binned in squares of 1/128 tile (weight: count) for heatmaps.",
            "Point",
            {"count": "事件数", "open": "未结案"},
            ("incidents",), "incidents", _incident_density, filters=_INCIDENT_FILTERS, id_column=None, minzoom=8, binned=True,
        ),
        Layer(
            "buildings", "建筑 Buildings", "Building footprints (or points) with their households: the ground planners draw grids around.",
            "Geometry",
            {"name": "名称", "use": "用途", "households": "户数 (未填: 按面积与层数估算)", "floors": "层数", "community_code": "所属社区"},
            ("buildings",), "buildings", _buildings, minzoom=14,
        ),
        Layer(
            "lines", "道路河流 Roads and rivers", "Roads, rivers and walls (kind: road/river/wall) that grid boundaries follow.",
            "LineString",
            {"kind": "road/river/wall", "name": "名称", "category": "等级 (主干路/次干路/支路 ...)"},
            ("linear_features",), "linear_features", _lines, filters=("status",), statuses=("road", "river", "wall"), minzoom=10,
        ),
        Layer(
            "departments", "部门网格 Department grids", "Departments' own grid layers (综治, 城管 ...) for merge review (多网合一).",
            "Polygon",
            {"department": "部门", "dept_grid_id": "部门网格编号", "name": "名称"},
            ("department_grids", "department_layers"), "department_grids", _departments, filters=("department",),
        ),
        Layer(
            "plan_diff", "方案差异 Plan changes", "Grids added, removed or changed in a draft (default: the newest) against the published plan.",
            "Polygon",
            {"code": "网格编码", "change": "added/removed/changed", "community_code": "所属社区", "households": "户数 (草案)",
             "households_before": "户数 (现行)"},
            ("grids", "grid_plans"), "grids", _plan_diff,
            filters=("plan", "status"), statuses=("added", "removed", "changed"), mercator=True,
        ),
    ],
    params={**size_params(), "closed": list(CLOSED_STATUSES)},
)


def get_layer(name: str) -> Layer:
    return LAYERS.get_layer(name)


def invalidate(what: str, bbox: cache.BBox | None = None, *, connection=None) -> int:
    """A change to table (or layer) ``what`` within lon/lat ``bbox``: see :func:`tiles.cache.invalidate`. The
    in-memory lookup answers of this process are dropped too (other processes drop theirs on the NOTIFY)."""
    from gridplanner.lookup import answers

    answers.drop()
    return cache.invalidate(LAYERS, what, bbox, connection=connection)


def invalidate_grid_codes(connection, what: str, codes: list[str]) -> int:
    """A change to rows keyed by grid code (staff, incidents' grid): the box is that of the grids with those codes."""
    if not codes:
        return 0
    row = connection.execute(
        text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) AS e FROM grids WHERE code = ANY(:codes)) q"),
        {"codes": list(codes)},
    ).one()
    if row[0] is None:
        return 0
    return invalidate(what, tuple(row), connection=connection)


def listen(dsn: str) -> None:
    """Apply the invalidations other processes NOTIFY (see :func:`tiles.cache.listen`)."""
    cache.listen(dsn, LAYERS)
