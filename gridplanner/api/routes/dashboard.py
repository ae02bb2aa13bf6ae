"""The dashboard's incident figures under one set of filters (street or community, category, status, time range):
the totals, the counts per grid of the published plan and a density for the heatmap, all from the same
selection so the headline figures and every incident map agree. The vector tiles take no place filter and
their per-grid counts no status filter, hence this view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query
from sqlalchemy import text

from gridplanner.api.dependencies import SessionDep
from gridplanner.incidents.lifecycle import CLOSED_STATUSES, STATUSES
from gridplanner.store import models as m

router = APIRouter(prefix="/dashboard", tags=["dashboard"])
CHINA_TIME = timezone(timedelta(hours=8))

_OPEN = "(i.status <> ALL(:closed))"
_OVERDUE = f"({_OPEN} AND i.due_at IS NOT NULL AND i.due_at < now())"


def _china_time(t: datetime | None) -> datetime | None:
    # A time without offset is read as China Standard Time, the clock the data is kept by.
    return t.replace(tzinfo=CHINA_TIME) if t is not None and t.tzinfo is None else t


def incident_selection(street: str | None, community: str | None, category: list[str], status: list[str], start: datetime | None, end: datetime | None) -> tuple[str, dict]:
    """The WHERE clause (over ``incidents i``) and its parameters; a place is matched on the incident's community."""
    bad = [s for s in status if s not in STATUSES]
    if bad:
        raise HTTPException(422, f"unknown status {', '.join(bad)}; one of {', '.join(STATUSES)}")
    if start and end and start > end:
        raise HTTPException(422, f"time range is empty: start {start.isoformat()} is after end {end.isoformat()}")
    if street and community and not community.startswith(street):
        raise HTTPException(422, f"community {community} is not in street {street}")
    cond, p = ["TRUE"], {"closed": list(CLOSED_STATUSES)}
    place = community or street
    if place:
        cond.append("i.community_code LIKE :place")
        p["place"] = f"{place}%"
    if category:
        cond.append("i.category = ANY(:categories)")
        p["categories"] = category
    if status:
        cond.append("i.status = ANY(:statuses)")
        p["statuses"] = status
    if start:
        cond.append("i.reported_at >= :start")
        p["start"] = start
    if end:
        cond.append("i.reported_at < :end")
        p["end"] = end
    return " AND ".join(cond), p


@dataclass
class Selection:
    """The dashboard's filters, as every view of it takes them: the WHERE clause over ``incidents i`` and its
    parameters, and whether a place was chosen."""

    where: str
    params: dict
    place_chosen: bool


def selection(
    street: Annotated[str | None, Query(pattern=r"^\d{9}$", description="9-digit street/township code")] = None,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")] = None,
    category: Annotated[list[str] | None, Query(description="incident category (repeat for several)")] = None,
    status: Annotated[list[str] | None, Query(description="incident status 上报 … 评价 (repeat for several)")] = None,
    start: Annotated[datetime | None, Query(description="reported at or after (ISO 8601; no offset: UTC+8)")] = None,
    end: Annotated[datetime | None, Query(description="reported before (ISO 8601; no offset: UTC+8)")] = None,
) -> Selection:
    where, p = incident_selection(street, community, category or [], status or [], _china_time(start), _china_time(end))
    return Selection(where, p, bool(street or community))


SelectionDep = Annotated[Selection, Depends(selection)]


@router.get("/incidents")
def dashboard_incidents(
    session: SessionDep,
    sel: SelectionDep,
    cell: Annotated[float, Query(ge=20, le=5000, description="heatmap bin size in EPSG:3857 metres")] = 100,
) -> dict:
    """Incidents matching the filters: ``totals`` (matching, open, overdue; 无网格 incidents included),
    ``grids`` (the same per grid of the published plan, grids with none left out) and ``heat``, a
    FeatureCollection of bin centres with ``count`` for a heatmap."""
    where, p = sel.where, {**sel.params, "cell": cell}
    counts = f"count(*)::int AS matching, count(*) FILTER (WHERE {_OPEN})::int AS open, count(*) FILTER (WHERE {_OVERDUE})::int AS overdue"
    totals = session.execute(text(f"SELECT {counts} FROM incidents i WHERE {where}"), p).mappings().one()
    grids = session.execute(
        text(
            f"""SELECT g.id, g.code, g.community_code, {counts}
                FROM incidents i JOIN grids g ON g.code = i.grid_code
                JOIN grid_plans pl ON pl.id = g.plan_id AND pl.status = 'published'
                WHERE {where} GROUP BY g.id, g.code, g.community_code ORDER BY g.id"""
        ),
        p,
    ).mappings().all()
    # Square bins on the EPSG:3857 grid, like the incident_density tiles, centres back in lon/lat.
    heat = session.execute(
        text(
            f"""SELECT COALESCE(json_agg(json_build_object('type', 'Feature',
                          'properties', json_build_object('count', b.count, 'open', b.open),
                          'geometry', ST_AsGeoJSON(ST_Transform(ST_SetSRID(ST_MakePoint((b.ix + 0.5) * :cell, (b.iy + 0.5) * :cell), 3857), {m.SRID}), 7, 0)::json)), '[]'::json)
                FROM (SELECT floor(ST_X(a.p) / :cell)::bigint AS ix, floor(ST_Y(a.p) / :cell)::bigint AS iy,
                             count(*)::int AS count, count(*) FILTER (WHERE a.open)::int AS open
                      FROM (SELECT ST_Transform(i.geom, 3857) AS p, {_OPEN} AS open FROM incidents i WHERE {where}) a
                      GROUP BY 1, 2) b"""
        ),
        p,
    ).scalar_one()
    return {"totals": dict(totals), "grids": [dict(r) for r in grids], "heat": {"type": "FeatureCollection", "features": heat}}


#: Periods of the incidents-over-time chart.
INTERVALS = ("day", "week", "month")


def _interval(session, where: str, p: dict, wanted: str) -> str:
    """``wanted``, or for "auto" the period that gives a readable number of bars for the span selected."""
    if wanted != "auto":
        return wanted
    span = session.execute(text(f"SELECT max(i.reported_at) - min(i.reported_at) FROM incidents i WHERE {where}"), p).scalar()
    days = span.days if span is not None else 0
    return "day" if days <= 62 else "week" if days <= 366 else "month"


@router.get("/charts")
def dashboard_charts(
    session: SessionDep,
    sel: SelectionDep,
    interval: Annotated[str, Query(pattern=r"^(auto|day|week|month)$", description="period of the time series (auto: by the span selected)")] = "auto",
) -> dict:
    """The dashboard's charts under the same filters as ``/dashboard/incidents``: incidents reported per
    period (China time) with how many of them are closed, counts per category, a ranking of streets (or, with a
    street or community chosen, of its communities) with closure and overdue rates, and the overall rates.
    Every figure is one GROUP BY in PostgreSQL over the same selection."""
    where, p = sel.where, sel.params
    unit = _interval(session, where, p, interval)
    counts = (f"count(*)::int AS count, count(*) FILTER (WHERE {_OPEN})::int AS open, "
              f"count(*) FILTER (WHERE {_OVERDUE})::int AS overdue, count(*) FILTER (WHERE NOT {_OPEN})::int AS closed")
    over_time = session.execute(
        text(f"""SELECT to_char(date_trunc(:unit, i.reported_at AT TIME ZONE 'Asia/Shanghai'), 'YYYY-MM-DD') AS period,
                        count(*)::int AS reported, count(*) FILTER (WHERE NOT {_OPEN})::int AS closed
                 FROM incidents i WHERE {where} GROUP BY 1 ORDER BY 1"""),
        {**p, "unit": unit},
    ).mappings().all()
    by_category = session.execute(
        text(f"SELECT i.category, {counts} FROM incidents i WHERE {where} GROUP BY 1 ORDER BY count(*) DESC, 1"), p,
    ).mappings().all()
    # With a street or community chosen, its communities are ranked; else the streets.
    by_street = not sel.place_chosen
    if by_street:
        key, join = "s.code, s.name", "JOIN communities c ON c.code = i.community_code JOIN streets s ON s.code = c.street_code"
    else:
        key, join = "c.code, c.name", "JOIN communities c ON c.code = i.community_code"
    ranking = session.execute(
        text(f"SELECT {key}, {counts} FROM incidents i {join} WHERE {where} GROUP BY 1, 2 ORDER BY count(*) DESC, 1"), p,
    ).mappings().all()
    totals = session.execute(text(f"SELECT {counts} FROM incidents i WHERE {where}"), p).mappings().one()

    def rates(r) -> dict:
        return {"closure_rate": round(r["closed"] / r["count"], 4) if r["count"] else None,
                "overdue_rate": round(r["overdue"] / r["open"], 4) if r["open"] else None}

    return {
        "interval": unit,
        "over_time": [dict(r) for r in over_time],
        "by_category": [dict(r) for r in by_category],
        "ranking": {"level": "street" if by_street else "community", "places": [{**dict(r), **rates(r)} for r in ranking]},
        "totals": {**dict(totals), **rates(totals)},
    }
