"""Incidents: the catalogue, reporting at a point in any coordinate system, placement in grids (无网格 kept),
the lifecycle with its events, overdue, hotline import (the sample district's export), queries, per-grid
counts, and open incidents following the grids when a new plan is published."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text

from gis import webcoords
from gridplanner.importing import import_file
from gridplanner.incidents import catalogue, lifecycle
from gridplanner.incidents.hotline import IncidentImportError, import_hotline
from gridplanner.incidents.service import IncidentQuery, create_incident, find_incidents, grid_counts
from gridplanner.staffing.roster import import_roster
from tests.test_staffing import C1, C2, DX, DY, N1, N2, S1, S2, X0, Y0, full_roster, half, publish_grids, roster_csv, world

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "boundaries"
# Points in the crafted world (WGS84 = CGCS2000 here): one in each grid, and one 5 km east of everything.
IN = {N1: (X0 + 0.3 * DX, Y0 + 0.8 * DY), S1: (X0 + 0.6 * DX, Y0 + 0.2 * DY), N2: (X0 + 1.5 * DX, Y0 + 0.7 * DY), S2: (X0 + 1.4 * DX, Y0 + 0.3 * DY)}
OUTSIDE = (X0 + 0.06, Y0 + 0.005)


def staffed_world(db, tmp_path):
    plan = world(db, tmp_path)
    import_roster(db, roster_csv(full_roster()), "roster.csv")
    return plan


def fulltime(db, code):
    return db.execute(text("SELECT id FROM staff WHERE grid_code = :g AND role = '专职网格员'"), {"g": code}).scalar_one()


def hotline_csv(rows: list[dict]) -> bytes:
    return pd.DataFrame(rows).to_csv(index=False).encode("utf-8-sig")


def row(i, code=N1, **kw):
    lon, lat = IN[code] if code else OUTSIDE
    base = {"id": f"RX{i:04d}", "category": "市容环境", "status": "上报", "reported_at": "2026-10-01T09:00:00+08:00", "lon": lon, "lat": lat, "description": "垃圾"}
    return {**base, **kw}


# --- catalogue ------------------------------------------------------------------------------------------


def test_catalogue_starts_with_nine_categories_and_is_configurable(db, client):
    names = [c.name for c in catalogue.catalogue(db)]
    assert names == ["市容环境", "宣传广告", "施工管理", "街面秩序", "突发事件", "其他", "矛盾纠纷", "安全隐患", "民生服务"]
    assert catalogue.time_limits(db)["突发事件"] == 2 and catalogue.time_limits(db)["矛盾纠纷"] == 360
    res = client.put("/api/v1/incidents/categories/市容环境", json={"time_limit_hours": 5})
    assert res.status_code == 200 and res.json()["time_limit_hours"] == 5
    added = client.put("/api/v1/incidents/categories/噪声扰民", json={"time_limit_hours": 12, "kind": "社会治理事件"})
    assert added.status_code == 200 and added.json()["sort"] == 10
    client.put("/api/v1/incidents/categories/其他", json={"time_limit_hours": 72, "active": False})
    listed = [c["name"] for c in client.get("/api/v1/incidents/categories").json()]
    assert "噪声扰民" in listed and "其他" not in listed
    assert client.put("/api/v1/incidents/categories/x", json={"time_limit_hours": 0}).status_code == 422


def test_an_emptied_catalogue_comes_back_with_the_defaults(db):
    db.execute(text("DELETE FROM incident_categories"))
    assert len(catalogue.catalogue(db)) == 9


# --- reporting and placement ------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["wgs84", "cgcs2000", "gcj02", "bd09"])
def test_report_in_any_coordinate_system_lands_in_its_grid_with_its_fulltime_worker(client, db, tmp_path, crs):
    staffed_world(db, tmp_path)
    lon, lat = IN[S2]
    src = webcoords.normalise_system(crs)
    x, y = (float(v) for v in webcoords.transform(lon, lat, webcoords.WGS84, src)) if src != webcoords.WGS84 else (lon, lat)
    if crs in ("gcj02", "bd09"):
        assert abs(x - lon) + abs(y - lat) > 0.003  # hundreds of metres off: a wrong system would miss the grid
    res = client.post("/api/v1/incidents", json={"lon": x, "lat": y, "crs": crs, "category": "街面秩序", "description": "占道经营", "actor": "巡查员"})
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["grid_code"], body["community_code"], body["status"], body["no_grid"]) == (S2, C2, "上报", False)
    assert body["assignee_id"] == fulltime(db, S2)
    assert abs(body["lon"] - lon) < 1e-6 and abs(body["lat"] - lat) < 1e-6
    assert body["events"][0]["to_status"] == "上报" and body["events"][0]["actor"] == "巡查员"
    assert body["due_at"] is None  # the clock starts at dispatch


def test_a_point_in_no_grid_is_kept_flagged_and_listed(client, db, tmp_path):
    staffed_world(db, tmp_path)
    res = client.post("/api/v1/incidents", json={"lon": OUTSIDE[0], "lat": OUTSIDE[1], "category": "其他"})
    assert res.status_code == 201
    body = res.json()
    assert body["grid_code"] is None and body["no_grid"] is True and body["assignee_id"] is None
    listed = client.get("/api/v1/incidents", params={"no_grid": True}).json()
    assert [i["id"] for i in listed["items"]] == [body["id"]]
    counts = client.get("/api/v1/incidents/counts").json()
    assert counts[-1] == {"code": None, "community_code": None, "open": 1, "overdue": 0}
    assert [c["code"] for c in counts[:-1]] == [N1, S1, N2, S2]
    settled = client.put(f"/api/v1/incidents/{body['id']}/grid", json={"grid_code": N2, "actor": "张主任"})
    assert settled.status_code == 200 and settled.json()["grid_code"] == N2 and settled.json()["assignee_id"] == fulltime(db, N2)
    assert client.put(f"/api/v1/incidents/{body['id']}/grid", json={"grid_code": "330106001001555", "actor": "x"}).status_code == 422


def test_report_errors_are_clear(client, db, tmp_path):
    world(db, tmp_path)
    bad_cat = client.post("/api/v1/incidents", json={"lon": IN[N1][0], "lat": IN[N1][1], "category": "市政"})
    assert bad_cat.status_code == 422 and "unknown incident category '市政'" in bad_cat.json()["detail_en"]
    swapped = client.post("/api/v1/incidents", json={"lon": 30.27, "lat": 12.1, "category": "其他"})
    assert swapped.status_code == 422 and "not in China" in swapped.json()["detail_en"]
    assert client.post("/api/v1/incidents", json={"lon": IN[N1][1], "lat": IN[N1][0], "category": "其他"}).status_code == 422
    assert client.post("/api/v1/incidents", json={"lon": 120.1, "lat": 30.2, "crs": "utm", "category": "其他"}).status_code == 422
    assert client.get("/api/v1/incidents/987654").status_code == 404


# --- lifecycle ----------------------------------------------------------------------------------------------


def test_lifecycle_records_every_step_and_the_clock_starts_at_dispatch(client, db, tmp_path):
    staffed_world(db, tmp_path)
    iid = client.post("/api/v1/incidents", json={"lon": IN[N1][0], "lat": IN[N1][1], "category": "市容环境", "actor": "居民"}).json()["id"]
    steps = [("受理", "坐席"), ("派遣", "指挥中心"), ("处置", "网格员"), ("核查", "核查员"), ("处置", "核查员"), ("核查", "核查员"), ("结案", "指挥中心"), ("评价", "居民")]
    for to, actor in steps:
        res = client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": to, "actor": actor, "note": "退回" if (to, actor) == ("处置", "核查员") else None})
        assert res.status_code == 200, (to, res.text)
        body = res.json()
        if to == "派遣":
            dispatched = datetime.fromisoformat(body["dispatched_at"])
            assert datetime.fromisoformat(body["due_at"]) - dispatched == timedelta(hours=24)
    assert body["status"] == "评价" and body["closed_at"] is not None and body["overdue"] is False
    events = body["events"]
    assert [(e["from_status"], e["to_status"], e["actor"]) for e in events] == [(None, "上报", "居民")] + [
        (f, t, a) for f, (t, a) in zip(["上报", "受理", "派遣", "处置", "核查", "处置", "核查", "结案"], steps)
    ]
    assert events[5]["note"] == "退回" and all(e["at"] for e in events)


@pytest.mark.parametrize("path,bad", [([], "派遣"), ([], "结案"), (["受理"], "处置"), (["受理", "派遣", "处置"], "结案"), (["受理", "派遣", "处置", "核查", "结案", "评价"], "处置"), (["受理"], "上报")])
def test_invalid_transitions_are_409_and_change_nothing(client, db, tmp_path, path, bad):
    world(db, tmp_path)
    iid = client.post("/api/v1/incidents", json={"lon": IN[N1][0], "lat": IN[N1][1], "category": "其他"}).json()["id"]
    for to in path:
        assert client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": to, "actor": "a"}).status_code == 200
    res = client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": bad, "actor": "a"})
    assert res.status_code == 409 and "cannot go to" in res.json()["detail_en"]
    detail = client.get(f"/api/v1/incidents/{iid}").json()
    assert detail["status"] == (path[-1] if path else "上报") and len(detail["events"]) == len(path) + 1


def test_transition_input_errors(client, db, tmp_path):
    world(db, tmp_path)
    iid = client.post("/api/v1/incidents", json={"lon": IN[N1][0], "lat": IN[N1][1], "category": "其他"}).json()["id"]
    assert client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": "完成", "actor": "a"}).status_code == 422
    assert client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": "受理", "actor": ""}).status_code == 422
    assert client.post("/api/v1/incidents/999999/transitions", json={"to": "受理", "actor": "a"}).status_code == 404
    with pytest.raises(lifecycle.TransitionError, match="unknown status"):
        lifecycle.check_transition("上报", "关闭")


def test_overdue_is_open_and_past_due_and_counted_per_grid(client, db, tmp_path):
    staffed_world(db, tmp_path)
    ids = [client.post("/api/v1/incidents", json={"lon": IN[c][0], "lat": IN[c][1], "category": "突发事件"}).json()["id"] for c in (N1, N1, S1)]
    for iid in ids:
        for to in ("受理", "派遣"):
            client.post(f"/api/v1/incidents/{iid}/transitions", json={"to": to, "actor": "a"})
    # The first two were dispatched 3 hours ago (limit 2 h); the second was then closed in time.
    db.execute(text("UPDATE incidents SET dispatched_at = dispatched_at - interval '3 hours', due_at = due_at - interval '3 hours' WHERE id = ANY(:i)"), {"i": ids[:2]})
    for to in ("处置", "核查", "结案"):
        lifecycle.advance(db, ids[1], to, actor="a")
    overdue = client.get("/api/v1/incidents", params={"overdue": True}).json()
    assert [i["id"] for i in overdue["items"]] == [ids[0]] and overdue["items"][0]["overdue"] is True
    counts = {c["code"]: (c["open"], c["overdue"]) for c in client.get("/api/v1/incidents/counts").json()}
    assert counts == {N1: (1, 1), S1: (1, 0), N2: (0, 0), S2: (0, 0)}
    by_comm = client.get("/api/v1/incidents/counts", params={"by": "community"}).json()
    assert by_comm == [{"code": C1, "community_code": C1, "open": 2, "overdue": 1}, {"code": C2, "community_code": C2, "open": 0, "overdue": 0}]
    later = datetime.now(timezone.utc) + timedelta(hours=3)
    assert {c["code"]: c["overdue"] for c in grid_counts(db, now=later)}[S1] == 1


# --- hotline import ---------------------------------------------------------------------------------------------


def test_hotline_import_places_points_and_starts_clocks(db, tmp_path):
    staffed_world(db, tmp_path)
    rows = [row(1, N1), row(2, S2, status="处置", category="矛盾纠纷"), row(3, None, status="结案"), row(4, N2, status="派遣", dispatched_at="2026-10-01 10:00:00")]
    report = import_hotline(db, hotline_csv(rows), "h.csv")
    assert (report.rows, report.inserted, report.skipped_existing, report.no_grid, report.no_grid_ids) == (4, 4, 0, 1, ["RX0003"])
    got = {r.external_id: r for r in db.execute(text("SELECT * FROM incidents"))}
    assert got["RX0001"].grid_code == N1 and got["RX0001"].assignee_id == fulltime(db, N1) and got["RX0001"].due_at is None
    # 处置 with no dispatch time: the clock starts at reported_at (noted); 矛盾纠纷 has 15 days.
    assert got["RX0002"].dispatched_at == got["RX0002"].reported_at and got["RX0002"].due_at - got["RX0002"].dispatched_at == timedelta(days=15)
    assert got["RX0004"].dispatched_at == datetime(2026, 10, 1, 2, 0, tzinfo=timezone.utc)  # Beijing time when no offset
    assert got["RX0003"].grid_code is None and got["RX0003"].assignee_id is None
    assert any("no dispatch time" in n for n in report.notes)
    events = db.execute(text("SELECT count(*), min(actor) FROM incident_events")).one()
    assert db.execute(text("SELECT detail ->> 'inserted' FROM audit_log WHERE action = 'import incidents'")).scalar_one() == "4"
    assert tuple(events) == (0, None)  # the import is one audit entry, not a lifecycle step
    again = import_hotline(db, hotline_csv(rows), "h.csv")
    assert (again.inserted, again.skipped_existing) == (0, 4)


def test_hotline_import_in_gcj02(db, tmp_path):
    world(db, tmp_path)
    lon, lat = (float(v) for v in webcoords.wgs84_to_gcj02(*IN[S1]))
    report = import_hotline(db, hotline_csv([row(1, S1, lon=lon, lat=lat)]), "h.csv", crs="gcj02")
    assert report.inserted == 1 and db.execute(text("SELECT grid_code FROM incidents")).scalar_one() == S1


def test_hotline_errors_name_every_row_and_nothing_is_written(db, client, tmp_path):
    world(db, tmp_path)
    rows = [row(1), row(2, category="市政"), row(3, status="已办结"), row(4, reported_at="昨天"), row(5, lon="abc"), row(6, lon=30.27, lat=120.1), row(1, S1)]
    with pytest.raises(IncidentImportError) as err:
        import_hotline(db, hotline_csv(rows), "h.csv")
    assert [r for r, _ in err.value.problems] == [3, 4, 5, 6, 7, 8]
    msg = str(err.value)
    assert "row 3: unknown category 市政" in msg and "row 4: unknown status 已办结" in msg and "row 5: reported_at 昨天" in msg
    assert "row 6: point (abc," in msg and "row 8: id RX0001 appears twice" in msg
    assert db.execute(text("SELECT count(*) FROM incidents")).scalar_one() == 0
    missing = hotline_csv([{"id": "a", "category": "其他"}])
    res = client.post("/api/v1/incidents/import", files={"file": ("h.csv", missing, "text/csv")})
    assert res.status_code == 422 and "missing column(s) status, reported_at, lon, lat" in res.json()["problems"][0]["problem"]


def test_chinese_headers_and_gbk_are_accepted(db, tmp_path):
    world(db, tmp_path)
    frame = pd.DataFrame([row(1)]).rename(columns={"id": "工单编号", "category": "事件类型", "status": "状态", "reported_at": "上报时间", "lon": "经度", "lat": "纬度", "description": "诉求内容"})
    report = import_hotline(db, frame.to_csv(index=False).encode("gb18030"), "12345.csv")
    assert report.inserted == 1


def test_sample_district_hotline_export(db, client, tmp_path):
    """The sample's 2,000 incidents on a plan of one grid per community: every row kept, the points outside
    every community flagged 无网格, the rest in the grid (community) holding them."""
    comms = gpd.read_file(SAMPLE / "communities.geojson").to_crs(4490)
    import_file(db, "communities", SAMPLE / "communities.geojson")
    cells = []
    for code, geom in zip(comms["code"], comms.geometry):
        parts = list(getattr(geom, "geoms", [geom]))
        cells.append((code, max(parts, key=lambda p: p.area), 500))
    publish_grids(db, cells, "sample")
    res = client.post("/api/v1/incidents/import", files={"file": ("incidents.csv", (SAMPLE / "incidents.csv").read_bytes(), "text/csv")})
    assert res.status_code == 200, res.text
    report = res.json()
    csv = pd.read_csv(SAMPLE / "incidents.csv", encoding="utf-8-sig")
    inside = shapely.contains_xy(shapely.union_all([g for _, g, _ in cells]), csv["lon"].to_numpy(), csv["lat"].to_numpy())
    assert report["inserted"] == len(csv) == 2000
    assert report["no_grid"] == int((~inside).sum()) >= 6
    assert set(report["no_grid_ids"]) == set(csv["id"][~inside])
    total = db.execute(text("SELECT count(*), count(grid_code), count(*) FILTER (WHERE left(grid_code, 12) = community_code) FROM incidents")).one()
    assert total[0] == 2000 and total[1] == total[2] == int(inside.sum())
    counts = client.get("/api/v1/incidents/counts").json()
    n_open = int(csv["status"].isin(lifecycle.OPEN_STATUSES).sum())
    assert sum(c["open"] for c in counts) == n_open
    assert len(counts) == len(cells) + (1 if counts[-1]["code"] is None else 0)


# --- queries ------------------------------------------------------------------------------------------------------


def test_queries_by_grid_community_status_category_and_time(client, db, tmp_path):
    world(db, tmp_path)
    rows = [
        row(1, N1, reported_at="2026-10-01T09:00:00+08:00"),
        row(2, S1, category="安全隐患", status="受理", reported_at="2026-10-05T09:00:00+08:00"),
        row(3, N2, category="安全隐患", status="结案", reported_at="2026-10-10T09:00:00+08:00"),
        row(4, S2, category="民生服务", status="核查", reported_at="2026-10-20T09:00:00+08:00"),
    ]
    import_hotline(db, hotline_csv(rows), "h.csv")

    def ids(**params):
        res = client.get("/api/v1/incidents", params=params)
        assert res.status_code == 200, res.text
        return sorted(i["external_id"] for i in res.json()["items"])

    assert ids(grid_code=S1) == ["RX0002"]
    assert ids(community=C2) == ["RX0003", "RX0004"]
    assert ids(status=["受理", "核查"]) == ["RX0002", "RX0004"]
    assert ids(category="安全隐患") == ["RX0002", "RX0003"]
    assert ids(**{"from": "2026-10-04T00:00:00+08:00", "to": "2026-10-15T00:00:00+08:00"}) == ["RX0002", "RX0003"]
    assert ids(open=True) == ["RX0001", "RX0002", "RX0004"]
    assert client.get("/api/v1/incidents", params={"status": "完成"}).status_code == 422
    assert client.get("/api/v1/incidents", params={"from": "2026-10-05T00:00:00", "to": "2026-10-01T00:00:00"}).status_code == 422
    total, page = find_incidents(db, IncidentQuery(limit=2, offset=0))
    assert total == 4 and [r["external_id"] for r in page] == ["RX0004", "RX0003"]


# --- after a new plan is published -------------------------------------------------------------------------------


def test_open_incidents_move_by_location_when_a_plan_is_published(db, client, tmp_path):
    staffed_world(db, tmp_path)
    rows = [row(1, N1), row(2, N2), row(3, S2), row(4, S2, status="结案"), row(5, None)]
    import_hotline(db, hotline_csv(rows), "h.csv")
    # v2: C1 as one grid; C2 only its north half (the south half is left out of the plan).
    v2 = publish_grids(db, [(C1, shapely.box(X0, Y0, X0 + DX, Y0 + DY), 1000), (C2, half(1, True), 300)], "v2")
    codes = dict(db.execute(text("SELECT community_code, code FROM grids WHERE plan_id = :p"), {"p": v2.id}).all())
    got = {r.external_id: r for r in db.execute(text("SELECT external_id, grid_code, community_code, assignee_id FROM incidents"))}
    assert got["RX0001"].grid_code == codes[C1] and got["RX0001"].grid_code != N1
    assert got["RX0002"].grid_code == N2 == codes[C2]  # kept code, kept worker
    assert got["RX0002"].assignee_id == fulltime(db, N2)
    assert got["RX0003"].grid_code is None and got["RX0003"].community_code == C2  # open, now 无网格: kept, listed
    assert got["RX0004"].grid_code == S2  # closed: history stays as it was
    # The merged grid's 专职网格员 are the two of N1 and S1 (they followed the lineage): the first one takes it.
    assert got["RX0001"].assignee_id in set(db.execute(text("SELECT id FROM staff WHERE role = '专职网格员' AND grid_code = :g"), {"g": codes[C1]}).scalars())
    unsettled = client.get("/api/v1/incidents/unsettled").json()
    ids = {r.external_id: r.id for r in db.execute(text("SELECT id, external_id FROM incidents"))}
    assert {u["incident_id"] for u in unsettled} == {ids["RX0003"], ids["RX0005"]}
    assert all("无网格" in u["reason"] for u in unsettled)
    staff_left = client.get("/api/v1/staff/unsettled").json()
    assert {s["from_code"] for s in staff_left} == {S2}


def test_a_big_import_rebuilds_the_secondary_indexes_it_dropped(db, tmp_path, monkeypatch):
    from gridplanner.incidents import hotline

    world(db, tmp_path)
    indexes = """SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'incidents'
                 UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'incidents'::regclass ORDER BY 1"""
    before = db.execute(text(indexes)).all()
    assert "incidents_assignee_id_fkey" in {n for n, _ in before}
    assert {"ix_incidents_geom", "ix_incidents_grid_code", "incidents_external_id_key"} <= {n for n, _ in before}
    monkeypatch.setattr(hotline, "REBUILD_MIN_ROWS", 2)
    report = import_hotline(db, hotline_csv([row(i, code) for i, code in enumerate([N1, S1, N2, S2, None])]), "h.csv")
    assert report.inserted == 5 and report.no_grid == 1
    assert db.execute(text(indexes)).all() == before
    assert db.execute(text("SELECT count(*) FROM incidents WHERE grid_code = :g"), {"g": S2}).scalar_one() == 1


def test_an_open_incident_in_a_grid_without_fulltime_worker_is_listed_on_publish(db, tmp_path):
    from gridplanner.staffing.reassign import reassign_after_publish

    world(db, tmp_path)  # no roster: nobody to hand the case to
    import_hotline(db, hotline_csv([row(1, N1), row(2, S1, status="评价")]), "h.csv")
    v2 = publish_grids(db, [(C1, half(0, True), 400), (C1, half(0, False), 600), (C2, half(1, True), 300), (C2, half(1, False), 300)], "v2")
    issues = db.execute(text("SELECT entity, from_code, reason FROM reassignment_issues WHERE plan_id = :p"), {"p": v2.id}).all()
    assert [tuple(i) for i in issues] == [("incident", N1, f"grid {N1} has no 专职网格员 to handle the incident")]
    # Publishing runs it once; running it again lists nothing twice.
    again = reassign_after_publish(db, v2)
    assert again["incidents"]["no_worker"] == [{"id": again["incidents"]["no_worker"][0]["id"], "external_id": "RX0001", "grid_code": N1}]
    assert db.execute(text("SELECT count(*) FROM reassignment_issues")).scalar_one() == 1
