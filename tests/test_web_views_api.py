"""The views the web app needs beyond the tiles: the buildings of a draft a planner picks to move, and the
dashboard's incident figures under its filters (place, category, status, time range), against real PostGIS."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.editing import log
from gridplanner.importing import import_file
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write

C1, C2 = "330106001001", "330106001002"
CST = timezone(timedelta(hours=8))


@pytest.fixture
def world(db, tmp_path):
    """Two communities, each one grid, published; a draft copy of them; three buildings."""
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    boxes = [
        ("west", 30, shapely.box(X0 + 0.002, Y0 + 0.002, X0 + 0.0025, Y0 + 0.0025)),
        ("west-2", 20, shapely.box(X0 + 0.006, Y0 + 0.006, X0 + 0.0065, Y0 + 0.0065)),
        ("east", 50, shapely.box(X0 + DX + 0.002, Y0 + 0.002, X0 + DX + 0.0025, Y0 + 0.0025)),
    ]
    bdf = gpd.GeoDataFrame({"building_id": [b[0] for b in boxes], "households": [b[1] for b in boxes]}, geometry=[b[2] for b in boxes], crs=4490)
    import_file(db, "buildings", write(bdf, tmp_path / "b.gpkg"))
    grids = gpd.GeoDataFrame({"community_code": [C1, C2]}, geometry=[shapely.box(X0, Y0, X0 + DX, Y0 + DY), shapely.box(X0 + DX, Y0, X0 + 2 * DX, Y0 + DY)], crs=4490)
    pub = plans.create_draft(db, "published", from_published=False)
    log.recompute_figures(db, plans.write_grids(db, pub.id, grids, source="test"))
    plans.publish(db, pub.id)
    draft = plans.create_draft(db, "draft", from_published=True)
    db.flush()
    codes = dict(db.execute(text("SELECT community_code, code FROM grids WHERE plan_id = :p"), {"p": pub.id}).all())
    draft_grids = dict(db.execute(text("SELECT community_code, id FROM grids WHERE plan_id = :p"), {"p": draft.id}).all())
    buildings = dict(db.execute(text("SELECT source_id, id FROM buildings")).all())
    return {"published": pub.id, "draft": draft.id, "codes": codes, "draft_grids": draft_grids, "buildings": buildings}


def test_buildings_of_a_grid_and_of_a_bbox_carry_their_grid(db, client, world):
    url = f"/api/v1/plans/{world['draft']}/buildings"
    west = world["draft_grids"][C1]
    fc = client.get(url, params={"grid": west}).json()
    assert fc["type"] == "FeatureCollection" and fc["truncated"] is False
    assert sorted(f["id"] for f in fc["features"]) == sorted([world["buildings"]["west"], world["buildings"]["west-2"]])
    assert {f["properties"]["grid_id"] for f in fc["features"]} == {west}
    assert all(f["geometry"]["type"] == "Polygon" and "crs" not in f["geometry"] for f in fc["features"])
    box = f"{X0 + 0.001},{Y0 + 0.001},{X0 + DX + 0.003},{Y0 + 0.003}"
    fc = client.get(url, params={"bbox": box}).json()
    got = {f["properties"]["households"]: f["properties"]["grid_id"] for f in fc["features"]}
    assert got == {30: west, 50: world["draft_grids"][C2]}
    assert client.get(url, params={"bbox": box, "limit": 1}).json()["truncated"] is True


def test_buildings_refusals(db, client, world):
    url = f"/api/v1/plans/{world['draft']}/buildings"
    assert client.get(url).status_code == 422
    assert client.get(url, params={"bbox": "1,2,3"}).status_code == 422
    assert client.get(url, params={"grid": 999999}).status_code == 404
    assert client.get("/api/v1/plans/999999/buildings", params={"grid": 1}).status_code == 404


def _incident(db, code, community, status, category, reported, due=None, lon=X0 + 0.003):
    db.execute(
        text(
            """INSERT INTO incidents (category, status, reported_at, due_at, grid_code, community_code, geom)
               VALUES (:cat, :st, :rep, :due, :code, :comm, ST_SetSRID(ST_MakePoint(:lon, :lat), 4490))"""
        ),
        {"cat": category, "st": status, "rep": reported, "due": due, "code": code, "comm": community, "lon": lon, "lat": Y0 + 0.003},
    )


def test_dashboard_incidents_follow_every_filter(db, client, world):
    now = datetime.now(CST)
    past, later = now - timedelta(days=1), now + timedelta(days=3)
    west, east = world["codes"][C1], world["codes"][C2]
    jan, feb = datetime(2026, 1, 10, 9, tzinfo=CST), datetime(2026, 2, 10, 9, tzinfo=CST)
    _incident(db, west, C1, "派遣", "市容环境", jan, due=past)  # open, overdue
    _incident(db, west, C1, "受理", "市容环境", feb, due=later)  # open
    _incident(db, west, C1, "结案", "安全隐患", feb)  # closed
    _incident(db, east, C2, "派遣", "市容环境", feb, due=past, lon=X0 + DX + 0.003)  # open, overdue
    _incident(db, None, C2, "上报", "安全隐患", jan, lon=X0 + DX + 0.004)  # 无网格, open
    db.flush()
    url = "/api/v1/dashboard/incidents"

    def get(**params):
        res = client.get(url, params=params)
        assert res.status_code == 200, res.text
        return res.json()

    everything = get()
    assert everything["totals"] == {"matching": 5, "open": 4, "overdue": 2}
    assert {g["code"]: (g["matching"], g["open"], g["overdue"]) for g in everything["grids"]} == {west: (3, 2, 1), east: (1, 1, 1)}
    assert sum(f["properties"]["count"] for f in everything["heat"]["features"]) == 5
    # Place: the incident's community; the 无网格 incident counts for its community too.
    east_only = get(community=C2)
    assert east_only["totals"] == {"matching": 2, "open": 2, "overdue": 1}
    assert [g["code"] for g in east_only["grids"]] == [east]
    assert sum(f["properties"]["count"] for f in east_only["heat"]["features"]) == 2
    assert get(street=C1[:9])["totals"]["matching"] == 5
    # Status narrows the per-grid counts (what the tiles' incident_counts cannot) and the heat.
    closed = get(status=["结案"])
    assert closed["totals"] == {"matching": 1, "open": 0, "overdue": 0}
    assert [(g["code"], g["matching"], g["open"]) for g in closed["grids"]] == [(west, 1, 0)]
    assert get(status=["受理", "派遣"])["totals"]["matching"] == 3
    # Category and time range (an offset-less time is China time).
    assert get(category=["市容环境"])["totals"] == {"matching": 3, "open": 3, "overdue": 2}
    assert get(start="2026-02-01T00:00:00")["totals"]["matching"] == 3
    assert get(start="2026-01-01T00:00:00+08:00", end="2026-02-01T00:00:00+08:00")["totals"]["matching"] == 2
    for bad in ({"status": ["办结"]}, {"start": "2026-03-01T00:00:00", "end": "2026-01-01T00:00:00"}, {"street": "330106002", "community": C1}, {"community": "33"}):
        assert client.get(url, params=bad).status_code == 422, bad


def test_code_overlaps_survive_a_self_touching_grid():
    """Projecting edited grids can leave a ring touching itself; the diff and publishing must still code them
    (GEOS refuses to intersect the raw shape)."""
    import numpy as np

    from gridplanner.coding.assign import _overlaps

    bowtie = shapely.Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
    with pytest.raises(shapely.errors.GEOSException):
        shapely.intersection(bowtie, shapely.box(0, 0, 1, 2))
    pairs, areas = _overlaps(np.array([bowtie]), np.array([shapely.box(0, 0, 1, 2)]))
    assert pairs.tolist() == [[0, 0]] and areas.tolist() == [1.0]


def test_dashboard_charts_follow_the_filters_and_agree_with_the_figures(db, client, world):
    now = datetime.now(CST)
    past, later = now - timedelta(days=1), now + timedelta(days=3)
    west, east = world["codes"][C1], world["codes"][C2]
    jan, feb = datetime(2026, 1, 10, 9, tzinfo=CST), datetime(2026, 2, 10, 23, 30, tzinfo=CST)  # 23:30 China time: still 10 Feb
    _incident(db, west, C1, "派遣", "市容环境", jan, due=past)  # open, overdue
    _incident(db, west, C1, "受理", "市容环境", feb, due=later)  # open
    _incident(db, west, C1, "结案", "安全隐患", feb)  # closed
    _incident(db, east, C2, "派遣", "市容环境", feb, due=past, lon=X0 + DX + 0.003)  # open, overdue
    db.flush()

    def get(**params):
        res = client.get("/api/v1/dashboard/charts", params=params)
        assert res.status_code == 200, res.text
        return res.json()

    every = get(interval="month")
    assert every["interval"] == "month"
    assert every["over_time"] == [{"period": "2026-01-01", "reported": 1, "closed": 0}, {"period": "2026-02-01", "reported": 3, "closed": 1}]
    assert [(c["category"], c["count"], c["open"], c["overdue"]) for c in every["by_category"]] == [("市容环境", 3, 3, 2), ("安全隐患", 1, 0, 0)]
    # No place chosen: streets are ranked; both communities are in one street.
    assert every["ranking"]["level"] == "street"
    (street,) = every["ranking"]["places"]
    assert street["code"] == C1[:9] and street["count"] == 4 and street["closure_rate"] == 0.25 and street["overdue_rate"] == round(2 / 3, 4)
    assert every["totals"] == {"count": 4, "open": 3, "overdue": 2, "closed": 1, "closure_rate": 0.25, "overdue_rate": round(2 / 3, 4)}
    # The same selection as the headline figures.
    figures = client.get("/api/v1/dashboard/incidents").json()["totals"]
    assert (figures["matching"], figures["open"], figures["overdue"]) == (every["totals"]["count"], every["totals"]["open"], every["totals"]["overdue"])
    # A street chosen: its communities are ranked, most incidents first.
    in_street = get(street=C1[:9])
    assert in_street["ranking"]["level"] == "community"
    assert [(p["code"], p["count"]) for p in in_street["ranking"]["places"]] == [(C1, 3), (C2, 1)]
    # Days in China time, and the category filter narrows every chart.
    days = get(interval="day", category=["市容环境"])
    assert days["over_time"] == [{"period": "2026-01-10", "reported": 1, "closed": 0}, {"period": "2026-02-10", "reported": 2, "closed": 0}]
    assert [c["category"] for c in days["by_category"]] == ["市容环境"]
    # auto: a span of a month is shown by day.
    assert get()["interval"] == "day"
    assert client.get("/api/v1/dashboard/charts", params={"interval": "year"}).status_code == 422
    bad = client.get("/api/v1/dashboard/charts", params={"start": "2026-03-01T00:00:00", "end": "2026-01-01T00:00:00"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("时间范围无效")
