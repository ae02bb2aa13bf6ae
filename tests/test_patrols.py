"""巡查走访: a grid worker logs visits of their own grid (GeoJSON or GPX), the buildings visited are those named
and those the track passes, a finding becomes an incident in the same step; coverage per grid."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from gridplanner.gridwork import patrols
from gridplanner.store import models as m
from tests.conftest import count
from tests.test_gridwork_tasks import staff_client
from tests.test_incidents import staffed_world
from tests.test_staffing import DX, DY, N1, N2, S1, S2, X0, Y0

NOW = datetime.now(timezone.utc)
START, END = (NOW - timedelta(hours=2)).isoformat(), (NOW - timedelta(hours=1)).isoformat()
TRACK = {"type": "LineString", "coordinates": [[X0 + 0.25 * DX, Y0 + 0.8 * DY], [X0 + 0.35 * DX, Y0 + 0.8 * DY]]}


@pytest.fixture
def world(db, tmp_path):
    """N1 holds buildings b1 (on the track), b2 (300 m off it) and b3; S1 holds b4."""
    staffed_world(db, tmp_path)
    ids = {}
    for name, x, y in (("b1", 0.3, 0.8), ("b2", 0.7, 0.8), ("b3", 0.5, 0.6), ("b4", 0.5, 0.2)):
        ids[name] = db.execute(text("INSERT INTO buildings (name, community_code, geom) VALUES (:n, '330106001001', ST_SetSRID(ST_MakePoint(:x, :y), 4490)) RETURNING id"),
                               {"n": name, "x": X0 + x * DX, "y": Y0 + y * DY}).scalar_one()
    return ids


@pytest.fixture
def as_staff(db):
    opened, clients = [], {}

    def make(grid):
        if grid not in clients:  # one account per worker: staff_client creates it
            clients[grid] = staff_client(db, grid, opened)
        return clients[grid]

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def visit(c, **kw):
    return c.post("/api/v1/patrols", json={"started_at": START, "ended_at": END, "track": TRACK, **kw})


def gpx(points):
    pts = "".join(f'<trkpt lat="{lat}" lon="{lon}"><time>{t}</time></trkpt>' for lon, lat, t in points)
    return f'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>{pts}</trkseg></trk></gpx>'


def test_a_visit_marks_the_buildings_named_and_those_the_track_passes(world, db, as_staff):
    res = visit(as_staff(N1), building_ids=[world["b3"]], found="楼道堆放杂物")
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["grid_code"], body["kind"], body["found"], body["incident_id"]) == (N1, "LINESTRING", "楼道堆放杂物", None)
    assert sorted((b["building_id"], b["how"]) for b in body["buildings"]) == sorted([(world["b1"], "nearby"), (world["b3"], "listed")])
    assert 90 < body["length_m"] < 100  # 0.001° of longitude at 30.28°N
    assert count(db, "audit_log WHERE action = 'log patrol visit'") == 1
    day = (NOW - timedelta(days=1), NOW + timedelta(hours=1))
    cov = {r["grid_code"]: r for r in patrols.coverage(db, *day)}
    assert (cov[N1]["buildings"], cov[N1]["buildings_visited"], cov[N1]["share_visited"], cov[N1]["visits"]) == (3, 2, 0.6667, 1)
    assert cov[N1]["last_visit"] is not None and cov[N1]["hours_since_last_visit"] >= 0.9
    assert (cov[S1]["buildings"], cov[S1]["share_visited"], cov[S1]["visits"], cov[S1]["last_visit"]) == (1, 0.0, 0, None)
    assert cov[N2]["buildings"] == 0 and cov[N2]["share_visited"] is None and set(cov) == {N1, S1, N2, S2}
    # A second visit of the same buildings does not count them twice; a period before the visit sees none.
    visit(as_staff(N1), track={"type": "Point", "coordinates": [X0 + 0.3 * DX, Y0 + 0.8 * DY]})
    assert patrols.coverage(db, *day, grid_codes=[N1])[0]["buildings_visited"] == 2
    before = patrols.coverage(db, NOW - timedelta(days=3), NOW - timedelta(days=2), grid_codes=[N1])[0]
    assert (before["visits"], before["buildings_visited"], before["last_visit"]) == (0, 0, None)


def test_a_gpx_track_gives_its_times(world, db, as_staff):
    t0, t1 = (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ"), (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = gpx([(X0 + 0.25 * DX, Y0 + 0.8 * DY, t0), (X0 + 0.35 * DX, Y0 + 0.8 * DY, t1)])
    res = as_staff(N1).post("/api/v1/patrols", json={"gpx": doc})
    assert res.status_code == 201, res.text
    v = db.get(m.PatrolVisit, res.json()["id"])
    assert v.started_at.strftime("%Y-%m-%dT%H:%M:%SZ") == t0 and v.ended_at.strftime("%Y-%m-%dT%H:%M:%SZ") == t1
    assert [b["building_id"] for b in res.json()["buildings"]] == [world["b1"]]


def test_a_finding_becomes_an_incident_in_the_same_step(world, db, as_staff):
    res = visit(as_staff(N1), found="消防通道堵塞", finding={"category": "安全隐患", "description": "3 号楼消防通道堆放杂物"})
    assert res.status_code == 201, res.text
    inc = db.get(m.Incident, res.json()["incident_id"])
    assert (inc.status, inc.category, inc.source, inc.grid_code, inc.description) == ("上报", "安全隐患", "巡查走访", N1, "3 号楼消防通道堆放杂物")
    # At the end of the track.
    lon, lat = db.execute(text("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = :i"), {"i": inc.id}).one()
    assert abs(lon - (X0 + 0.35 * DX)) < 1e-6 and abs(lat - (Y0 + 0.8 * DY)) < 1e-6
    # An unknown category: neither the incident nor the visit is written.
    res = visit(as_staff(N1), finding={"category": "不存在的类别"})
    assert res.status_code == 422 and count(db, "patrol_visits") == 1 and count(db, "incidents") == 1


@pytest.mark.parametrize("change,fragment", [
    ({"track": {"type": "LineString", "coordinates": [[X0 + 1.5 * DX, Y0 + 0.2 * DY], [X0 + 1.6 * DX, Y0 + 0.2 * DY]]}}, "不经过您的网格"),
    ({"track": {"type": "Polygon", "coordinates": [[[120, 30], [120.1, 30], [120.1, 30.1], [120, 30]]]}}, "Point 或 LineString"),
    ({"track": {"type": "Point", "coordinates": [30.27, 120.1]}}, "不在中国境内"),
    ({"gpx": "<gpx>", "track": None}, "GPX 文件无法解析"),
    ({"gpx": gpx([]), "track": None}, "没有轨迹点"),
    ({"gpx": '<?xml version="1.0"?><!DOCTYPE g [<!ENTITY a "aaaa">]><gpx>&a;</gpx>', "track": None}, "DOCTYPE"),
    ({"track": None}, "track（GeoJSON）或 gpx 之一"),
    ({"gpx": "<gpx/>"}, "之一"),  # both given
    ({"started_at": END, "ended_at": START}, "结束时间早于开始时间"),
    ({"started_at": (NOW + timedelta(hours=1)).isoformat(), "ended_at": (NOW + timedelta(hours=2)).isoformat()}, "将来"),
    ({"started_at": "2026-12-01T09:00:00", "ended_at": None}, "须带时区"),
    ({"started_at": None}, "开始时间"),
    ({"building_ids": "b4"}, "不在您的网格"),
])
def test_bad_visits_are_refused_with_nothing_written(world, db, as_staff, change, fragment):
    if change.get("building_ids") == "b4":
        change = {"building_ids": [world["b1"], world["b4"]]}
    res = visit(as_staff(N1), **change)
    assert res.status_code == 422 and fragment in res.json()["detail"], res.text
    assert count(db, "patrol_visits") == 0 and count(db, "patrol_visit_buildings") == 0


def test_who_may_log_and_read_visits(world, db, as_staff, client, client_as):
    assert visit(client).status_code == 403 and visit(client_as("viewer")).status_code == 403
    vid = visit(as_staff(N1)).json()["id"]
    assert as_staff(N1).get(f"/api/v1/patrols/{vid}").status_code == 200
    res = as_staff(S1).get(f"/api/v1/patrols/{vid}")
    assert res.status_code == 403 and "不是您的" in res.json()["detail"]
    assert client.get(f"/api/v1/patrols/{vid}").status_code == 200 and client.get("/api/v1/patrols/999999").status_code == 404
    period = {"from": (NOW - timedelta(days=1)).isoformat(), "to": (NOW + timedelta(hours=1)).isoformat()}
    res = client_as("viewer").get("/api/v1/patrols/coverage", params={**period, "grid_code": N1})
    assert res.status_code == 200 and res.json()[0]["buildings_visited"] == 1
    assert as_staff(S1).get("/api/v1/patrols/coverage", params=period).status_code == 403
    assert client.get("/api/v1/patrols/coverage", params={"from": period["to"], "to": period["from"]}).status_code == 422


def test_the_demo_walks_a_track_through_a_grids_buildings(world, db):
    from gridplanner.gridwork.sample import load_sample_patrols

    assert load_sample_patrols(db) == 1  # only N1 has two buildings or more to walk between
    v = db.execute(text("SELECT id, grid_code, incident_id FROM patrol_visits")).one()
    assert v.grid_code == N1 and v.incident_id is not None
    visited = set(db.execute(text("SELECT building_id FROM patrol_visit_buildings WHERE visit_id = :v"), {"v": v.id}).scalars())
    assert visited == {world["b1"], world["b2"], world["b3"]}
    assert load_sample_patrols(db) == 0
