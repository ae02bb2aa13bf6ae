"""The planner workspace's edits through the API, against the real PostGIS: split, merge, reshape, move
buildings, replan, undo/redo, conflicts, validation and the diff."""

from __future__ import annotations

from types import SimpleNamespace

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.editing import log
from gridplanner.importing import import_file
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write

C1, C2 = "330106001001", "330106001002"
# Community 1 is cut into three vertical strips; community 2 is one grid.
STRIPS = [(X0, X0 + 0.003), (X0 + 0.003, X0 + 0.006), (X0 + 0.006, X0 + DX)]


def _buildings() -> gpd.GeoDataFrame:
    rows = [
        ("straddler", 100, shapely.box(X0 + 0.0012, Y0 + 0.002, X0 + 0.0020, Y0 + 0.0025)),  # across x = X0 + 0.0015
        ("by_edge", 50, shapely.box(X0 + 0.0025, Y0 + 0.006, X0 + 0.0028, Y0 + 0.0065)),  # strip 1, near strip 2
        ("middle", 80, shapely.box(X0 + 0.0045, Y0 + 0.004, X0 + 0.0050, Y0 + 0.0045)),  # strip 2
        ("east", 120, shapely.box(X0 + 0.0080, Y0 + 0.004, X0 + 0.0085, Y0 + 0.0045)),  # strip 3
    ]
    for i in range(12):  # community 2: 12 x 100 households, enough to plan three grids
        x = X0 + DX + 0.0008 + (i % 4) * 0.0024
        y = Y0 + 0.001 + (i // 4) * 0.003
        rows.append((f"c2-{i}", 100, shapely.box(x, y, x + 0.0003, y + 0.0002)))
    return gpd.GeoDataFrame({"building_id": [r[0] for r in rows], "households": [r[1] for r in rows]}, geometry=[r[2] for r in rows], crs=4490)


def _grids(boxes) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"community_code": [b[0] for b in boxes]}, geometry=[shapely.box(*b[1:]) for b in boxes], crs=4490)


LAYOUT = [(C1, x0, Y0, x1, Y0 + DY) for x0, x1 in STRIPS] + [(C2, X0 + DX, Y0, X0 + 2 * DX, Y0 + DY)]


@pytest.fixture
def ws(db, client, tmp_path):
    """A draft with the LAYOUT grids, their figures counted from the buildings."""
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    import_file(db, "buildings", write(_buildings(), tmp_path / "b.gpkg"))
    plan = plans.create_draft(db, "edits", from_published=False)
    ids = plans.write_grids(db, plan.id, _grids(LAYOUT), source="test")
    log.recompute_figures(db, ids)
    db.flush()
    buildings = dict(db.execute(text("SELECT source_id, id FROM buildings")).all())
    return SimpleNamespace(plan=plan.id, grids=ids, b=buildings, url=f"/api/v1/plans/{plan.id}")


def _lock(client, ws) -> int:
    return client.get(ws.url).json()["lock_version"]


def _grid(db, gid):
    return db.execute(text("SELECT id, code, community_code, households, building_count, area_m2, ST_AsText(geom) AS wkt FROM grids WHERE id = :i"), {"i": gid}).mappings().first()


def _plan_grids(db, plan_id):
    return db.execute(text("SELECT id, households, ST_AsText(geom) AS wkt FROM grids WHERE plan_id = :p ORDER BY id"), {"p": plan_id}).all()


def _line(*pts):
    return {"type": "LineString", "coordinates": [list(p) for p in pts]}


def test_split_keeps_the_cut_building_whole_and_recounts(db, client, ws):
    v = _lock(client, ws)
    x = X0 + 0.0015
    r = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[0], "line": _line((x, Y0 - 0.001), (x, Y0 + DY + 0.001)), "lock_version": v})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["lock_version"] == v + 1 and body["removed"] == []
    assert len(body["changed"]) == 2 and ws.grids[0] in body["changed"]
    assert body["validation"]["ok"] is True, body["validation"]
    assert body["validation"]["summary"]["gaps"] == 0
    parts = [_grid(db, i) for i in body["changed"]]
    assert sum(p["households"] for p in parts) == 150  # straddler 100 + by_edge 50
    holder = db.execute(
        text("SELECT g.id FROM grids g JOIN buildings b ON ST_CoveredBy(b.geom, g.geom) WHERE g.plan_id = :p AND b.id = :b"), {"p": ws.plan, "b": ws.b["straddler"]}
    ).scalars().all()
    assert len(holder) == 1  # wholly in one part: the east one, holding 5/8 of it
    east = max(parts, key=lambda p: shapely.from_wkt(p["wkt"]).centroid.x)
    assert holder == [east["id"]] and east["households"] == 150
    assert sum(p["area_m2"] for p in parts) == pytest.approx(_area(db, shapely.box(X0, Y0, X0 + 0.003, Y0 + DY)), rel=1e-6)
    audit = db.execute(text("SELECT actor, action, detail FROM audit_log WHERE entity = 'grid_plan' AND entity_id = :p AND action = 'edit: split'"), {"p": str(ws.plan)}).one()
    assert audit.actor in ("api", "test-admin") and audit.detail["grid_id"] == ws.grids[0]  # the principal once accounts are on


def _area(db, geom) -> float:
    return db.execute(text("SELECT ST_Area(ST_GeomFromText(:w, 4490)::geography)"), {"w": geom.wkt}).scalar_one()


def test_split_refusals(db, client, ws):
    v = _lock(client, ws)
    x = X0 + 0.0015
    short = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[0], "line": _line((x, Y0 + 0.002), (x, Y0 + 0.004)), "lock_version": v})
    assert short.status_code == 422 and "does not cross" in short.json()["detail_en"]
    missing = client.post(f"{ws.url}/edits/split", json={"grid_id": 999999, "line": _line((x, Y0 - 1e-3), (x, Y0 + 0.02)), "lock_version": v})
    assert missing.status_code == 404 and "no grid 999999" in missing.json()["detail_en"]
    bad = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[0], "line": _line((500, 30)), "lock_version": v})
    assert bad.status_code == 422
    assert client.post("/api/v1/plans/999999/edits/split", json={"grid_id": 1, "line": _line((x, 0), (x, 1)), "lock_version": 1}).status_code == 404
    assert _lock(client, ws) == v and len(_plan_grids(db, ws.plan)) == 4  # nothing written


def test_only_drafts_are_edited(db, client, ws):
    plans.publish(db, ws.plan)
    v = _lock(client, ws)
    r = client.post(f"{ws.url}/edits/merge", json={"grid_ids": ws.grids[:2], "lock_version": v})
    assert r.status_code == 409 and "only drafts can be edited" in r.json()["detail_en"]


def test_merge_adjacent_and_refusals(db, client, ws):
    v = _lock(client, ws)
    apart = client.post(f"{ws.url}/edits/merge", json={"grid_ids": [ws.grids[0], ws.grids[2]], "lock_version": v})
    assert apart.status_code == 422 and "not all adjacent" in apart.json()["detail_en"]
    across = client.post(f"{ws.url}/edits/merge", json={"grid_ids": [ws.grids[2], ws.grids[3]], "lock_version": v})
    assert across.status_code == 422 and "different communities" in across.json()["detail_en"]
    assert client.post(f"{ws.url}/edits/merge", json={"grid_ids": [ws.grids[0]], "lock_version": v}).status_code == 422
    r = client.post(f"{ws.url}/edits/merge", json={"grid_ids": ws.grids[:2], "lock_version": v})
    assert r.status_code == 200, r.text
    assert r.json()["changed"] == [ws.grids[0]] and r.json()["removed"] == [ws.grids[1]]
    merged = _grid(db, ws.grids[0])
    assert merged["households"] == 100 + 50 + 80 and merged["building_count"] == 3
    assert shapely.from_wkt(merged["wkt"]).equals(shapely.box(X0, Y0, X0 + 0.006, Y0 + DY))


def test_reshape_moves_both_neighbours_and_refuses_cutting_a_building(db, client, ws):
    v = _lock(client, ws)
    xb = X0 + 0.003
    bulge = _line((xb + 1e-6, Y0), (xb + 0.001, Y0 + 0.005), (xb, Y0 + DY + 1e-6))  # ends within 2 m of the corners
    r = client.post(f"{ws.url}/edits/reshape", json={"grid_id": ws.grids[0], "neighbour_id": ws.grids[1], "boundary": bulge, "lock_version": v})
    assert r.status_code == 200, r.text
    a, b = shapely.from_wkt(_grid(db, ws.grids[0])["wkt"]), shapely.from_wkt(_grid(db, ws.grids[1])["wkt"])
    assert shapely.union_all([a, b]).equals(shapely.box(X0, Y0, X0 + 0.006, Y0 + DY))
    assert a.intersection(b).area == 0 and a.area > b.area
    assert (xb + 0.001, Y0 + 0.005) in set(a.exterior.coords) and (xb + 0.001, Y0 + 0.005) in set(b.exterior.coords)
    assert r.json()["validation"]["ok"]
    through = _line((xb, Y0), (X0 + 0.0047, Y0 + 0.0042), (xb, Y0 + DY))  # through the "middle" building
    cut = client.post(f"{ws.url}/edits/reshape", json={"grid_id": ws.grids[0], "neighbour_id": ws.grids[1], "boundary": through, "lock_version": v + 1})
    assert cut.status_code == 422 and f"[{ws.b['middle']}]" in cut.json()["detail_en"]
    strangers = client.post(f"{ws.url}/edits/reshape", json={"grid_id": ws.grids[0], "neighbour_id": ws.grids[2], "boundary": through, "lock_version": v + 1})
    assert strangers.status_code == 422 and "not neighbours" in strangers.json()["detail_en"]


def test_move_buildings_to_the_neighbour(db, client, ws):
    v = _lock(client, ws)
    r = client.post(f"{ws.url}/edits/move-buildings", json={"building_ids": [ws.b["by_edge"]], "to_grid_id": ws.grids[1], "lock_version": v})
    assert r.status_code == 200, r.text
    assert sorted(r.json()["changed"]) == ws.grids[:2] and r.json()["carried_buildings"] == []
    assert _grid(db, ws.grids[0])["households"] == 100 and _grid(db, ws.grids[1])["households"] == 130
    again = client.post(f"{ws.url}/edits/move-buildings", json={"building_ids": [ws.b["by_edge"]], "to_grid_id": ws.grids[1], "lock_version": v + 1})
    assert again.status_code == 422 and "already in grid" in again.json()["detail_en"]
    far = client.post(f"{ws.url}/edits/move-buildings", json={"building_ids": [ws.b["straddler"]], "to_grid_id": ws.grids[2], "lock_version": v + 1})
    assert far.status_code == 422 and "not neighbours" in far.json()["detail_en"]


def test_replan_one_community_then_undo_brings_the_grid_back(db, client, ws):
    v = _lock(client, ws)
    before = _grid(db, ws.grids[3])
    r = client.post(f"{ws.url}/edits/replan", json={"community_code": C2, "min_households": 300, "max_households": 500, "lock_version": v})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["removed"] == [ws.grids[3]] and len(body["changed"]) == 3 and body["replan"]["grids"] == 3
    assert db.execute(text("SELECT sum(households) FROM grids WHERE plan_id = :p AND community_code = :c"), {"p": ws.plan, "c": C2}).scalar_one() == 1200
    assert _grid(db, ws.grids[0])["community_code"] == C1  # the other community untouched
    u = client.post(f"{ws.url}/undo", json={"lock_version": body["lock_version"]})
    assert u.status_code == 200, u.text
    assert u.json()["changed"] == [ws.grids[3]] and sorted(u.json()["removed"]) == sorted(body["changed"])
    assert _grid(db, ws.grids[3])["wkt"] == before["wkt"]
    assert client.post(f"{ws.url}/edits/replan", json={"community_code": "330106001099", "lock_version": u.json()["lock_version"]}).status_code == 404


def test_undo_redo_sequences(db, client, ws):
    original = _plan_grids(db, ws.plan)
    v = _lock(client, ws)
    assert client.post(f"{ws.url}/undo", json={"lock_version": v}).status_code == 409  # nothing to undo
    x = X0 + 0.0015
    v = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[0], "line": _line((x, Y0 - 1e-3), (x, Y0 + 0.011)), "lock_version": v}).json()["lock_version"]
    after_split = _plan_grids(db, ws.plan)
    v = client.post(f"{ws.url}/edits/merge", json={"grid_ids": ws.grids[1:3], "lock_version": v}).json()["lock_version"]
    assert client.get(f"{ws.url}/edits").json()["undo"]["action"] == "merge"
    v = client.post(f"{ws.url}/undo", json={"lock_version": v}).json()["lock_version"]
    assert _plan_grids(db, ws.plan) == after_split
    v = client.post(f"{ws.url}/undo", json={"lock_version": v}).json()["lock_version"]
    assert _plan_grids(db, ws.plan) == original
    assert client.post(f"{ws.url}/undo", json={"lock_version": v}).status_code == 409
    r = client.post(f"{ws.url}/redo", json={"lock_version": v})
    assert r.status_code == 200 and _plan_grids(db, ws.plan) == after_split
    v = r.json()["lock_version"]
    # A new edit after an undo clears what could be redone.
    v = client.post(f"{ws.url}/edits/merge", json={"grid_ids": ws.grids[1:3], "lock_version": v}).json()["lock_version"]
    v = client.post(f"{ws.url}/undo", json={"lock_version": v}).json()["lock_version"]
    v = client.post(f"{ws.url}/edits/merge", json={"grid_ids": [ws.grids[2], ws.grids[1]], "lock_version": v}).json()["lock_version"]
    nothing = client.post(f"{ws.url}/redo", json={"lock_version": v})
    assert nothing.status_code == 409 and "no undone edit" in nothing.json()["detail_en"]
    assert client.get(f"{ws.url}/edits").json() == {"undo": {"edit": pytest.approx(0, abs=10**9), "action": "merge"}, "redo": None}


def test_conflict_second_client_with_the_same_version_loses_nothing(db, client, ws):
    v = _lock(client, ws)
    first = client.post(f"{ws.url}/edits/merge", json={"grid_ids": ws.grids[:2], "lock_version": v})
    assert first.status_code == 200
    snapshot = _plan_grids(db, ws.plan)
    x = X0 + 0.008
    second = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[2], "line": _line((x, Y0 - 1e-3), (x, Y0 + 0.011)), "lock_version": v})
    assert second.status_code == 409
    assert second.json()["current_lock_version"] == v + 1 and "changed by someone else" in second.json()["detail_en"]
    assert _plan_grids(db, ws.plan) == snapshot  # the first edit kept, the second wrote nothing
    retry = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[2], "line": _line((x, Y0 - 1e-3), (x, Y0 + 0.011)), "lock_version": v + 1})
    assert retry.status_code == 200 and len(_plan_grids(db, ws.plan)) == 4


def test_validation_finds_a_planted_gap_and_overlap(db, client, ws):
    # Community 2 redrawn as two grids overlapping in a 0.0002° strip, and short of the top by 0.0003°.
    db.execute(text("DELETE FROM grids WHERE id = :i"), {"i": ws.grids[3]})
    top = Y0 + DY - 0.0003
    plans.write_grids(db, ws.plan, _grids([(C2, X0 + DX, Y0, X0 + DX + 0.0052, top), (C2, X0 + DX + 0.005, Y0, X0 + 2 * DX, top)]), source="test")
    r = client.get(f"{ws.url}/validation")
    assert r.status_code == 200
    v = r.json()
    assert v["ok"] is False and v["summary"]["gaps"] == 1 and v["summary"]["overlaps"] == 1
    gap, overlap = v["gaps"]["features"][0], v["overlaps"]["features"][0]
    assert gap["properties"]["community_code"] == C2
    assert gap["properties"]["area_m2"] == pytest.approx(_area(db, shapely.box(X0 + DX, top, X0 + 2 * DX, Y0 + DY)), rel=1e-3)
    assert overlap["properties"]["area_m2"] == pytest.approx(_area(db, shapely.box(X0 + DX + 0.005, Y0, X0 + DX + 0.0052, top)), rel=1e-3)
    assert shapely.geometry.shape(overlap["geometry"]).bounds[0] == pytest.approx(X0 + DX + 0.005)
    c1 = next(c for c in v["communities"] if c["community_code"] == C1)
    assert c1["coverage_ok"] and c1["gap_area_m2"] == 0
    # Size rule: strips hold 150, 80 and 120 households, all under 300.
    assert {o["grid_id"] for o in v["out_of_bounds"]} >= set(ws.grids[:3]) and v["out_of_bounds"][0]["rule"] == {"min_households": 300, "max_households": 500}
    assert client.get(f"{ws.url}/validation", params={"community": C1, "min_households": 50, "max_households": 200}).json()["size_ok"] is True
    assert client.get("/api/v1/plans/999999/validation").status_code == 404


def test_validation_flags_grids_crossing_their_community(db, client, ws):
    db.execute(text("UPDATE grids SET geom = ST_GeomFromText(:w, 4490) WHERE id = :i"), {"w": shapely.box(X0 + 0.006, Y0, X0 + DX + 0.001, Y0 + DY).wkt, "i": ws.grids[2]})
    v = client.get(f"{ws.url}/validation").json()
    assert [c["grid_id"] for c in v["crossing"]] == [ws.grids[2]] and v["crossing"][0]["outside_area_m2"] > 10_000


def test_diff_after_an_edit(db, client, ws):
    plans.publish(db, ws.plan)
    published_codes = set(db.execute(text("SELECT code FROM grids WHERE plan_id = :p"), {"p": ws.plan}).scalars())
    draft = client.post("/api/v1/plans", json={"name": "second"}).json()
    url = f"/api/v1/plans/{draft['id']}"
    ids = db.execute(text("SELECT id FROM grids WHERE plan_id = :p ORDER BY id"), {"p": draft["id"]}).scalars().all()
    unchanged = client.get(f"{url}/diff").json()
    assert unchanged["summary"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 4}
    x = X0 + 0.0015
    r = client.post(f"{url}/edits/split", json={"grid_id": ids[0], "line": _line((x, Y0 - 1e-3), (x, Y0 + 0.011)), "lock_version": draft["lock_version"]})
    assert r.status_code == 200, r.text
    d = client.get(f"{url}/diff").json()
    assert d["summary"] == {"added": 2, "removed": 1, "changed": 0, "unchanged": 3}
    assert d["published_plan_id"] == ws.plan
    changes = sorted(f["properties"]["change"] for f in d["features"])
    assert changes == ["added", "added", "removed", "unchanged", "unchanged", "unchanged"]
    assert d["codes"]["events"]["split"] == 1 and len(d["codes"]["retired"]) == 1 and len(d["codes"]["new"]) == 2
    assert set(d["codes"]["kept"]) | set(d["codes"]["retired"]) == published_codes
    added = [f["properties"] for f in d["features"] if f["properties"]["change"] == "added"]
    assert all(p["code"] is None and p["code_if_published"] in d["codes"]["new"] for p in added)
    # Nothing was written by the diff: the draft's new grids still have no code.
    assert db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p AND code IS NULL"), {"p": draft["id"]}).scalar_one() == 2


def test_concurrent_edits_of_one_version_one_wins_the_other_waits_and_gets_409(committed_db, tmp_path):
    import threading
    import time

    from gridplanner.editing import service
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        import_file(s, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
        import_file(s, "buildings", write(_buildings(), tmp_path / "b.gpkg"))
        plan = plans.create_draft(s, "race", from_published=False)
        ids = plans.write_grids(s, plan.id, _grids(LAYOUT), source="test")
        s.flush()
        pid, v = plan.id, s.execute(text("SELECT lock_version FROM grid_plans WHERE id = :p"), {"p": plan.id}).scalar_one()
    edited, results = threading.Event(), {}

    def first():
        with session_scope() as s:
            results["first"] = service.merge(s, pid, v, ids[:2]).lock_version
            edited.set()
            time.sleep(0.5)  # still uncommitted: the second edit must wait for the plan row

    def second():
        edited.wait(10)
        x = X0 + 0.008
        try:
            with session_scope() as s:
                service.split(s, pid, v, ids[2], shapely.LineString([(x, Y0 - 1e-3), (x, Y0 + 0.011)]))
        except service.StaleEdit as exc:
            results["second"] = exc.current

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {"first": v + 1, "second": v + 1}
    with session_scope() as s:
        assert s.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p"), {"p": pid}).scalar_one() == 3  # the merge, and only it
        assert s.execute(text("SELECT count(*) FROM edit_log WHERE plan_id = :p"), {"p": pid}).scalar_one() == 1


def test_a_planner_edits_only_grids_of_their_own_districts(db, client_as, ws):
    x = X0 + 0.0015
    split = {"grid_id": ws.grids[0], "line": _line((x, Y0 - 0.001), (x, Y0 + DY + 0.001))}
    other = client_as("planner", districts=["110105"])
    v = other.get(ws.url).json()["lock_version"]
    refused = other.post(f"{ws.url}/edits/split", json={**split, "lock_version": v})
    assert refused.status_code == 403 and "may not edit district 330106" in refused.json()["detail_en"]
    assert other.post(f"{ws.url}/edits/replan", json={"community_code": "330106001001", "lock_version": v}).status_code == 403
    assert other.get(ws.url).json()["lock_version"] == v  # nothing changed

    own = client_as("planner", districts=["330106"])
    done = own.post(f"{ws.url}/edits/split", json={**split, "lock_version": v})
    assert done.status_code == 200, done.text
    # undoing that edit touches district 330106 too: the other planner may not, the owner may
    v = done.json()["lock_version"]
    assert other.post(f"{ws.url}/undo", json={"lock_version": v}).status_code == 403
    assert own.post(f"{ws.url}/undo", json={"lock_version": v}).status_code == 200
    assert client_as("viewer").post(f"{ws.url}/undo", json={"lock_version": v + 1}).status_code == 403


def test_merging_the_halves_of_a_split_grid_restores_the_grid_count(db, client, ws):
    before = len(_plan_grids(db, ws.plan))
    x = X0 + 0.0015
    v = _lock(client, ws)
    split = client.post(f"{ws.url}/edits/split", json={"grid_id": ws.grids[0], "line": _line((x, Y0 - 0.001), (x, Y0 + DY + 0.001)), "lock_version": v})
    assert split.status_code == 200, split.text
    halves = split.json()["changed"]
    assert len(_plan_grids(db, ws.plan)) == before + 1
    merged = client.post(f"{ws.url}/edits/merge", json={"grid_ids": halves, "lock_version": split.json()["lock_version"]})
    assert merged.status_code == 200, merged.text
    assert len(_plan_grids(db, ws.plan)) == before
    fc = client.get(f"{ws.url}/grids").json()
    assert len(fc["features"]) == before


def test_recount_estimates_missing_households_as_planning_does(db, ws):
    """A building without households counts by the planning engine's rule (population / 2.8 here), so a
    grid's figures after an edit agree with what the engine wrote for the same buildings."""
    from gridplanner.planning.households import PERSONS_PER_HOUSEHOLD

    db.execute(text("UPDATE buildings SET households = NULL, population = 280 WHERE source_id = 'middle'"))
    db.execute(text("UPDATE buildings SET households = NULL, population = NULL, floors = 6, use = 'residential' WHERE source_id = 'east'"))
    log.recompute_figures(db, ws.grids)
    area = db.execute(text("SELECT ST_Area(geom::geography) FROM buildings WHERE source_id = 'east'")).scalar_one()
    assert _grid(db, ws.grids[1])["households"] == round(280 / PERSONS_PER_HOUSEHOLD) == 100
    east = _grid(db, ws.grids[2])
    assert east["building_count"] == 1
    assert abs(east["households"] - round(6 * area / 90)) <= 1  # projected vs ellipsoidal footprint area
    assert east["households"] > 0


def test_validation_lists_unstaffed_grids_and_balance_per_community(db, client, ws):
    v = client.get(f"{ws.url}/validation").json()
    # No roster yet: every grid lacks a 网格长 and a 专职网格员.
    assert {u["grid_id"] for u in v["unstaffed"]} == set(ws.grids) and v["summary"]["unstaffed"] == len(ws.grids)
    # A 网格长 and a 专职网格员 on the first grid's code: it is staffed; a 兼职 alone does not make the second so.
    code = db.execute(text("UPDATE grids SET code = COALESCE(code, :c) WHERE id = :i RETURNING code"), {"c": f"{C1}901", "i": ws.grids[0]}).scalar_one()
    code2 = db.execute(text("UPDATE grids SET code = COALESCE(code, :c) WHERE id = :i RETURNING code"), {"c": f"{C1}902", "i": ws.grids[1]}).scalar_one()
    for name, role, c in (("甲", "网格长", code), ("乙", "专职网格员", code), ("丙", "兼职网格员", code2), ("丁", "网格长", code2)):
        db.execute(text("INSERT INTO staff (name, role, grid_code, active) VALUES (:n, :r, :c, true)"), {"n": name, "r": role, "c": c})
    db.flush()
    again = {u["grid_id"]: u for u in client.get(f"{ws.url}/validation").json()["unstaffed"]}
    assert ws.grids[0] not in again and again[ws.grids[1]]["leaders"] == 1 and again[ws.grids[1]]["full_time"] == 0
    # Balance per community, as districting tools report it.
    hh = dict(db.execute(text("SELECT id, households FROM grids WHERE plan_id = :p"), {"p": ws.plan}).all())
    comm = {c["community_code"]: c for c in v["communities"]}
    for c in comm.values():
        assert c["target_households"] == 400 and c["basic_grids"] == c["grids"]
    rows = db.execute(text("SELECT community_code, array_agg(households) FROM grids WHERE plan_id = :p GROUP BY 1"), {"p": ws.plan}).all()
    for code_, values in rows:
        values = [x or 0 for x in values]
        assert comm[code_]["households"] == sum(values)
        assert comm[code_]["max_deviation_pct"] == round(max(abs(x - 400) for x in values) / 400 * 100, 1)
    assert sum(hh.values()) == sum(c["households"] for c in comm.values())
