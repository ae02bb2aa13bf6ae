"""Vector tiles: decoded features and attributes, shared edges at every zoom, exact cache invalidation, 4xx."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pytest
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.importing import import_file
from gridplanner.store import models as m
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write
from gridplanner import maplayers
from tiles import cache
from tiles.mvt import BUFFER, EXTENT
from tiles.tilemath import Tile, tile_for

COMMUNITIES = ("330106001001", "330106001002")
NOW = datetime.now(timezone.utc)


# --- test data (also used by the collection and report tests) ------------------------------------


def wiggly_coverage(seed: int = 5) -> list[shapely.Polygon]:
    """Faces of the 2-community block cut by wavy lines of many vertices: shared edges with ~2 m wiggles."""
    rng = np.random.default_rng(seed)
    box = shapely.box(X0, Y0, X0 + 2 * DX, Y0 + DY)
    lines = []
    for x in np.linspace(X0, X0 + 2 * DX, 6)[1:-1]:
        ys = np.linspace(Y0 - 0.001, Y0 + DY + 0.001, 160)
        lines.append(shapely.LineString(np.c_[x + rng.uniform(-2e-5, 2e-5, ys.size), ys]))
    for y in (Y0 + DY / 3, Y0 + 2 * DY / 3):
        xs = np.linspace(X0 - 0.001, X0 + 2 * DX + 0.001, 300)
        lines.append(shapely.LineString(np.c_[xs, y + rng.uniform(-2e-5, 2e-5, xs.size)]))
    # The community boundary is an edge of the coverage too.
    lines.append(shapely.LineString([(X0 + DX, Y0 - 0.001), (X0 + DX, Y0 + DY + 0.001)]))
    noded = shapely.union_all([box.boundary, *lines])
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(noded))) if box.contains(f.representative_point())]
    return sorted(faces, key=lambda f: (round(f.centroid.x, 5), round(f.centroid.y, 5)))


def grid_frame(faces: list[shapely.Polygon], households: list[int] | None = None) -> gpd.GeoDataFrame:
    rows = []
    for i, face in enumerate(faces):
        community = COMMUNITIES[0] if face.representative_point().x < X0 + DX else COMMUNITIES[1]
        rows.append(
            {
                "code": f"{community}{i + 1:03d}",
                "community_code": community,
                "type": "dedicated" if i == 0 else "basic",
                "dedicated_kind": "school" if i == 0 else None,
                "households": (households or [])[i] if households else 100 + 50 * i,
                "population": 3 * (100 + 50 * i),
                "area_m2": 1000.0 + i,
            }
        )
    return gpd.GeoDataFrame(rows, geometry=faces, crs=4490)


def add_plan(db, status: str, version: int | None, grids: gpd.GeoDataFrame, name: str = "plan") -> m.GridPlan:
    plan = m.GridPlan(name=name, status=status, version=version, settings={"rules": {"urban": {"min_households": 300, "max_households": 500}}}, report={})
    db.add(plan)
    db.flush()
    plans.write_grids(db, plan.id, grids, source="test")
    return plan


def load_layers(db, tmp_path) -> dict:
    """Two communities, a published plan over a wiggly coverage, staff, incidents and a department layer."""
    import_file(db, "communities", write(communities_gdf(COMMUNITIES), tmp_path / "c.geojson"))
    faces = wiggly_coverage()
    grids = grid_frame(faces)
    plan = add_plan(db, "published", 1, grids)
    codes = grids["code"].tolist()
    # grid 1: complete; grid 2: a 网格长 only; others none; one inactive worker counts for nothing
    for role, code, active in [("网格长", codes[1], True), ("专职网格员", codes[1], True), ("兼职网格员", codes[1], True), ("网格长", codes[2], True), ("专职网格员", codes[3], False)]:
        db.add(m.Staff(name="张三", role=role, grid_code=code, active=active))
    incidents = []
    for i, (status, category, due) in enumerate(
        [("受理", "市容环境", NOW - timedelta(days=1)), ("派遣", "市容环境", NOW + timedelta(days=3)), ("结案", "街面秩序", NOW - timedelta(days=2)), ("上报", "街面秩序", None)]
    ):
        point = faces[1].representative_point()
        inc = m.Incident(
            external_id=f"E{i}", category=category, status=status, reported_at=NOW - timedelta(days=10 - i), due_at=due, grid_code=codes[1],
            geom=f"SRID=4490;POINT({point.x + i * 1e-6} {point.y})",
        )
        db.add(inc)
        incidents.append(inc)
    layer = m.DepartmentLayer(department="城管", source="test")
    layer.grids = [m.DepartmentGrid(dept_grid_id="CG-1", name="城管1", attributes={}, geom=f"SRID=4490;{shapely.MultiPolygon([faces[0]]).wkt}")]
    db.add(layer)
    db.flush()
    return {"plan": plan, "faces": faces, "grids": grids, "codes": codes, "incidents": incidents}


@pytest.fixture(autouse=True)
def empty_cache():
    # The cache belongs to the process; each test's rolled-back data must not meet another's tiles.
    cache.TILE_CACHE.clear()
    yield
    cache.TILE_CACHE.clear()


def get_tile(client, layer: str, t: Tile, query: str = "", **headers):
    return client.get(f"/api/v1/tiles/{layer}/{t.z}/{t.x}/{t.y}.pbf{query}", headers=headers)


def decode(content: bytes) -> dict:
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})


def tiles_over(bounds, z: int) -> list[Tile]:
    a, b = tile_for(bounds[0], bounds[3], z), tile_for(bounds[2], bounds[1], z)
    return [Tile(z, x, y) for x in range(a.x, b.x + 1) for y in range(a.y, b.y + 1)]


BLOCK = (X0, Y0, X0 + 2 * DX, Y0 + DY)


# --- features and attributes -------------------------------------------------------------------


def test_grid_tile_holds_the_published_grids_with_coverage_attributes(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)  # one tile holds the whole block
    r = get_tile(client, "grids", t)
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layer = decode(r.content)["grids"]
    assert layer["extent"] == EXTENT
    by_code = {f["properties"]["code"]: f for f in layer["features"]}
    assert set(by_code) == set(data["codes"])
    households = dict(zip(data["grids"]["code"], data["grids"]["households"]))
    for code, f in by_code.items():
        p = f["properties"]
        assert p["households"] == households[code]
        assert p["plan_version"] == 1 and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
        expected = "dedicated" if p["type"] == "dedicated" else "under" if p["households"] < 300 else "over" if p["households"] > 500 else "within"
        assert p["size_status"] == expected
    assert {f["properties"]["size_status"] for f in layer["features"]} == {"dedicated", "under", "within", "over"}
    # a status filter keeps only those grids
    only = decode(get_tile(client, "grids", t, "?status=over").content)["grids"]["features"]
    assert only and {f["properties"]["size_status"] for f in only} == {"over"}


def test_communities_and_department_layers(db, client, tmp_path):
    load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    comms = decode(get_tile(client, "communities", t).content)["communities"]["features"]
    assert sorted(f["properties"]["code"] for f in comms) == list(COMMUNITIES)
    assert {f["properties"]["name"] for f in comms} == {"社区1", "社区2"}
    depts = decode(get_tile(client, "departments", t, "?department=城管").content)["departments"]["features"]
    assert [(f["properties"]["department"], f["properties"]["dept_grid_id"]) for f in depts] == [("城管", "CG-1")]
    assert get_tile(client, "departments", t, "?department=综治").content == b""


def test_ground_layers_show_buildings_roads_and_rivers(db, client, tmp_path):
    """The ground a planner draws on is served like any layer; an import of it drops the tiles it touches."""
    load_layers(db, tmp_path)
    x, y = X0 + DX / 2, Y0 + DY / 2
    t = tile_for(x, y, 15)
    assert get_tile(client, "buildings", t).content == b""  # cached empty, until the import below
    bld = gpd.GeoDataFrame({"name": ["1号楼", None], "households": [40, None]},
                           geometry=[shapely.box(x, y, x + 1e-4, y + 1e-4), shapely.Point(x + 2e-4, y)], crs=4490)
    import_file(db, "buildings", write(bld, tmp_path / "b.geojson"))
    lines = gpd.GeoDataFrame({"name": ["文三路"]}, geometry=[shapely.LineString([(x - 1e-3, y - 1e-4), (x + 1e-3, y - 1e-4)])], crs=4490)
    import_file(db, "roads", write(lines, tmp_path / "r.geojson"))
    import_file(db, "rivers", write(lines.assign(name="余杭塘河").set_geometry(lines.translate(0, -2e-4)), tmp_path / "v.geojson"))
    buildings = decode(get_tile(client, "buildings", t).content)["buildings"]["features"]
    assert sorted((f["geometry"]["type"], f["properties"].get("households")) for f in buildings) == [("Point", None), ("Polygon", 40)]
    got = decode(get_tile(client, "lines", t).content)["lines"]["features"]
    assert sorted((f["properties"]["kind"], f["properties"]["name"]) for f in got) == [("river", "余杭塘河"), ("road", "文三路")]
    rivers = client.get("/api/v1/collections/lines/items", params={"status": "river"}).json()["features"]
    assert [f["properties"]["name"] for f in rivers] == ["余杭塘河"]
    assert client.get("/api/v1/collections/lines/items", params={"status": "canal"}).status_code == 400


def test_staffing_and_incident_layers(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    codes = data["codes"]
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    staffing = {f["properties"]["code"]: f["properties"] for f in decode(get_tile(client, "staffing", t).content)["staffing"]["features"]}
    assert staffing[codes[1]] | {} == staffing[codes[1]] and (staffing[codes[1]]["leaders"], staffing[codes[1]]["full_time"], staffing[codes[1]]["part_time"]) == (1, 1, 1)
    assert staffing[codes[1]]["staffing_status"] == "complete"
    assert staffing[codes[2]]["staffing_status"] == "incomplete"
    assert staffing[codes[3]]["staffing_status"] == "unstaffed" and staffing[codes[3]]["total"] == 0  # inactive worker

    points = decode(get_tile(client, "incidents", tile_for(X0 + DX, Y0 + DY / 2, 12)).content)["incidents"]["features"]
    by_id = {f["properties"]["external_id"]: f["properties"] for f in points}
    assert set(by_id) == {"E0", "E1", "E2", "E3"}
    assert (by_id["E0"]["open"], by_id["E0"]["overdue"]) == (True, True)
    assert (by_id["E1"]["open"], by_id["E1"]["overdue"]) == (True, False)
    assert (by_id["E2"]["open"], by_id["E2"]["overdue"]) == (False, False)
    assert by_id["E0"]["category"] == "市容环境" and by_id["E0"]["status"] == "受理"

    counts = {f["properties"]["code"]: f["properties"] for f in decode(get_tile(client, "incident_counts", t).content)["incident_counts"]["features"]}
    assert (counts[codes[1]]["total"], counts[codes[1]]["open"], counts[codes[1]]["overdue"]) == (4, 3, 1)
    assert counts[codes[0]]["total"] == 0

    density = decode(get_tile(client, "incident_density", t).content)["incident_density"]["features"]
    assert sum(f["properties"]["count"] for f in density) == 4 and sum(f["properties"]["open"] for f in density) == 3

    # filters: category, status, time range
    q = lambda s: {f["properties"]["external_id"] for f in decode(get_tile(client, "incidents", t, s).content).get("incidents", {"features": []})["features"]}
    assert q("?category=街面秩序") == {"E2", "E3"}
    assert q("?status=受理,派遣") == {"E0", "E1"}
    start = (NOW - timedelta(days=9, hours=12)).isoformat()
    assert q(f"?start={start.replace('+', '%2B')}") == {"E1", "E2", "E3"}
    end = (NOW - timedelta(days=8, hours=12)).isoformat()
    assert q(f"?start={start.replace('+', '%2B')}&end={end.replace('+', '%2B')}") == {"E1"}


def test_plan_diff_shows_added_removed_and_changed_grids(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    draft_grids = data["grids"].copy()
    draft_grids.loc[1, "households"] = 999  # changed
    removed_code = draft_grids.loc[2, "code"]
    draft_grids = draft_grids.drop(index=2)
    draft_grids.loc[len(draft_grids) + 10] = {**draft_grids.iloc[0].to_dict(), "code": "330106001002999"}  # added
    draft = add_plan(db, "draft", None, draft_grids, name="draft")
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    for query in ("", f"?plan={draft.id}"):
        features = decode(get_tile(client, "plan_diff", t, query).content)["plan_diff"]["features"]
        changes = sorted((f["properties"]["change"], f["properties"]["code"]) for f in features)
        assert changes == sorted([("changed", data["codes"][1]), ("removed", removed_code), ("added", "330106001002999")])
    changed = [f["properties"] for f in features if f["properties"]["change"] == "changed"][0]
    assert (changed["households"], changed["households_before"]) == (999, data["grids"].loc[1, "households"])


def test_no_draft_no_differences(db, client, tmp_path):
    load_layers(db, tmp_path)
    assert get_tile(client, "plan_diff", tile_for(X0 + DX, Y0 + DY / 2, 13)).content == b""


# --- shared edges ------------------------------------------------------------------------------


@pytest.mark.parametrize("z", [10, 12, 13, 14, 15, 16, 17])
def test_neighbouring_grids_still_share_edges_after_decoding(db, client, tmp_path, z):
    data = load_layers(db, tmp_path)
    faces = data["faces"]
    neighbours = [(i, j) for i in range(len(faces)) for j in range(i + 1, len(faces)) if faces[i].boundary.intersection(faces[j].boundary).length > 1e-4]
    assert len(neighbours) >= 10
    code_index = {c: i for i, c in enumerate(data["codes"])}
    for t in tiles_over(BLOCK, z):
        layer = decode(get_tile(client, "grids", t).content).get("grids")
        if layer is None:
            continue
        # what shows: the buffer beyond the tile edge is drawn under the neighbouring tile
        visible = shapely.box(0, 0, EXTENT, EXTENT)
        polys = {code_index[f["properties"]["code"]]: shapely.geometry.shape(f["geometry"]).intersection(visible) for f in layer["features"]}
        union = shapely.union_all(list(polys.values()))
        # no daylight: the decoded grids leave no hole between them, and no overlap either
        holes = sum(len(p.interiors) for p in shapely.get_parts(union))
        assert holes == 0, f"z{z} {t}: {holes} gaps between neighbouring grids"
        assert sum(p.area for p in polys.values()) == pytest.approx(union.area, abs=1.0), f"z{z} {t}: overlapping grids"
        for i, j in neighbours:
            if i in polys and j in polys and polys[i].area > 4 and polys[j].area > 4 and polys[i].distance(polys[j]) == 0:
                # wherever both show, their shared boundary is the same line in both
                shared = polys[i].boundary.intersection(polys[j].boundary).length
                assert shared > 0, f"z{z} {t}: grids {i} and {j} no longer share an edge"
                # and no stretch of the two outlines runs side by side a pixel apart instead of coinciding
                close = polys[i].boundary.intersection(polys[j].buffer(1.5)).length
                assert close - shared <= 12 + 0.01 * shared, f"z{z} {t}: grids {i} and {j} drift apart"


def test_neighbours_touch_at_every_vertex_of_the_shared_edge(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 15)
    layer = decode(get_tile(client, "grids", t).content)["grids"]
    polys = [shapely.geometry.shape(f["geometry"]) for f in layer["features"]]
    checked = 0
    for a in polys:
        for b in polys:
            if a is not b and a.boundary.intersection(b.boundary).length > 0:
                # every vertex of a lying on b's outline is a vertex of b too: the same edge, not two close ones
                va = {tuple(c) for c in shapely.get_coordinates(a)}
                vb = {tuple(c) for c in shapely.get_coordinates(b)}
                on_b = {v for v in va if b.boundary.distance(shapely.Point(v)) == 0 and -BUFFER < v[0] < EXTENT + BUFFER and -BUFFER < v[1] < EXTENT + BUFFER}
                assert on_b <= vb
                checked += len(on_b)
    assert checked > 50


# --- cache and ETags ---------------------------------------------------------------------------


def test_a_change_invalidates_exactly_the_tiles_it_touches(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    grid_tiles = tiles_over(BLOCK, 16)
    assert len(grid_tiles) >= 6
    first = {t: get_tile(client, "grids", t) for t in grid_tiles}
    assert {r.headers["x-tile-cache"] for r in first.values()} == {"miss"}
    incident_tile = tile_for(X0 + DX, Y0 + DY / 2, 13)
    assert get_tile(client, "incidents", incident_tile).headers["x-tile-cache"] == "miss"
    # warm: every tile from the cache, 304 for the ETag the client holds
    for t, r in first.items():
        again = get_tile(client, "grids", t, **{"If-None-Match": r.headers["etag"]})
        assert (again.status_code, again.headers["x-tile-cache"], again.headers["etag"]) == (304, "hit", r.headers["etag"])

    # a new small grid well inside one tile
    target = grid_tiles[len(grid_tiles) // 2]
    w, s, e, n = target.lonlat_bounds()
    cx, cy = (w + e) / 2, (s + n) / 2
    small = shapely.box(cx - 1e-4, cy - 1e-4, cx + 1e-4, cy + 1e-4)
    # write_grids itself invalidates the tiles its grids meet
    plans.write_grids(db, data["plan"].id, grid_frame([small]).assign(code="330106001001777"), source="test")
    touched = [t for t in grid_tiles if shapely.box(*t.lonlat_bounds(BUFFER / EXTENT)).intersects(small)]
    assert touched == [target]

    for t, r in first.items():
        now = get_tile(client, "grids", t, **{"If-None-Match": r.headers["etag"]})
        if t == target:
            assert (now.status_code, now.headers["x-tile-cache"]) == (200, "miss")
            assert now.headers["etag"] != r.headers["etag"]
            assert "330106001001777" in {f["properties"]["code"] for f in decode(now.content)["grids"]["features"]}
        else:
            assert (now.status_code, now.headers["x-tile-cache"]) == (304, "hit")
    # a layer that does not show grids keeps its tiles
    assert get_tile(client, "incidents", incident_tile).headers["x-tile-cache"] == "hit"


def test_staff_change_invalidates_the_staffing_tile_of_its_grid(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    before = get_tile(client, "staffing", t)
    db.add(m.Staff(name="李四", role="专职网格员", grid_code=data["codes"][2], active=True))
    db.flush()
    assert get_tile(client, "staffing", t).headers["x-tile-cache"] == "hit"  # nobody said anything changed
    assert maplayers.invalidate_grid_codes(db, "staff", [data["codes"][2]]) == 1
    after = get_tile(client, "staffing", t)
    assert after.headers["x-tile-cache"] == "miss" and after.headers["etag"] != before.headers["etag"]
    status = {f["properties"]["code"]: f["properties"]["staffing_status"] for f in decode(after.content)["staffing"]["features"]}
    assert status[data["codes"][2]] == "complete"


def test_same_content_keeps_its_etag_after_invalidation(db, client, tmp_path):
    load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 14)
    r = get_tile(client, "communities", t)
    assert maplayers.invalidate("communities") >= 1
    again = get_tile(client, "communities", t, **{"If-None-Match": r.headers["etag"]})
    assert (again.status_code, again.headers["x-tile-cache"]) == (304, "miss")


def test_incident_tiles_expire_when_an_open_incident_falls_due(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    get_tile(client, "incidents", t)
    key = ("incidents", t.z, t.x, t.y, ())
    entry = cache.TILE_CACHE.get(key)
    due = data["incidents"][1].due_at  # the only open incident not yet due
    assert entry.expires == pytest.approx(due.timestamp(), abs=1e-3)
    cache.TILE_CACHE.put(key, cache.CachedTile(entry.data, entry.etag, entry.bounds, time.time() - 1), cache.TILE_CACHE.generation("incidents"))
    assert get_tile(client, "incidents", t).headers["x-tile-cache"] == "miss"


def test_a_tile_rendered_during_an_invalidation_is_not_kept():
    key = ("grids", 1, 0, 0, ())
    generation = cache.TILE_CACHE.generation("grids")
    maplayers.invalidate("grids", (0, 0, 1, 1))
    assert not cache.TILE_CACHE.put(key, cache.CachedTile(b"x", cache.etag_of(b"x"), (0, 0, 1, 1)), generation)
    assert key not in cache.TILE_CACHE


def test_notify_from_another_connection_invalidates_after_commit(committed_db, client):
    client.get("/api/v1/tiles/grids/0/0/0.pbf")  # starts this process's listener
    bounds = Tile(10, 500, 300).lonlat_bounds()
    entry = cache.CachedTile(b"tile", cache.etag_of(b"tile"), bounds)
    far = cache.CachedTile(b"far", cache.etag_of(b"far"), Tile(10, 100, 100).lonlat_bounds())
    for key, e in ((("grids", 10, 500, 300, ()), entry), (("grids", 10, 100, 100, ()), far)):
        cache.TILE_CACHE.put(key, e, cache.TILE_CACHE.generation("grids"))
    inside = ((bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2)
    payload = '{"what": "grids", "bbox": [%f, %f, %f, %f]}' % (*inside, *inside)
    with committed_db.connect() as conn:  # another writer, as a CLI process would be
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": cache.CHANNEL, "p": payload})
        conn.rollback()
    time.sleep(0.5)
    assert ("grids", 10, 500, 300, ()) in cache.TILE_CACHE  # rolled back: nothing changed
    with committed_db.begin() as conn:
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": cache.CHANNEL, "p": payload})
    deadline = time.time() + 5
    while ("grids", 10, 500, 300, ()) in cache.TILE_CACHE and time.time() < deadline:
        time.sleep(0.05)
    assert ("grids", 10, 500, 300, ()) not in cache.TILE_CACHE
    assert ("grids", 10, 100, 100, ()) in cache.TILE_CACHE


# --- addresses, layers and filters -------------------------------------------------------------


@pytest.mark.parametrize(
    "path,status,fragment",
    [
        ("/api/v1/tiles/nope/1/0/0.pbf", 404, "unknown layer 'nope'"),
        ("/api/v1/tiles/nope.json", 404, "unknown layer"),
        ("/api/v1/tiles/grids/25/0/0.pbf", 400, "zoom 25 is outside 0..24"),
        ("/api/v1/tiles/grids/2/4/0.pbf", 400, "tile x=4 is outside 0..3 at zoom 2"),
        ("/api/v1/tiles/grids/2/0/-1.pbf", 400, "tile y=-1 is outside"),
        ("/api/v1/tiles/grids/2/a/0.pbf", 422, ""),
        ("/api/v1/tiles/grids/2/0/0.pbf?category=市容环境", 400, "takes no filter category"),
        ("/api/v1/tiles/grids/2/0/0.pbf?status=huge", 400, "has no status huge"),
        ("/api/v1/tiles/grids/2/0/0.pbf?plan=1&version=1", 400, "plan or version, not both"),
        ("/api/v1/tiles/grids/2/0/0.pbf?plan=987654", 404, "no plan 987654"),
        ("/api/v1/tiles/grids/2/0/0.pbf?version=987654", 404, "no published plan version 987654"),
        ("/api/v1/tiles/incidents/2/0/0.pbf?start=2026-02-01T00:00:00&end=2026-01-01T00:00:00", 400, "time range is empty"),
    ],
)
def test_bad_requests_get_a_clear_4xx(client, path, status, fragment):
    r = client.get(path)
    assert r.status_code == status, r.text
    assert fragment in str(r.json().get("detail_en", r.json()["detail"]))


def test_tilejson_points_at_the_request_host_and_keeps_filters(db, client, tmp_path):
    load_layers(db, tmp_path)
    r = client.get("/api/v1/tiles/incidents.json?category=市容环境", headers={"Host": "maps.example.org:8443"})
    assert r.status_code == 200
    tj = r.json()
    assert tj["tilejson"] == "3.0.0" and tj["scheme"] == "xyz"
    assert tj["tiles"][0].startswith("http://maps.example.org:8443/api/v1/tiles/incidents/{z}/{x}/{y}.pbf?category=")
    assert tj["vector_layers"][0]["id"] == "incidents" and "category" in tj["vector_layers"][0]["fields"]
    w, s, e, n = tj["bounds"]
    assert X0 <= w <= e <= X0 + 2 * DX and Y0 <= s <= n <= Y0 + DY
    # the advertised URL works
    tile_url = tj["tiles"][0].replace("http://maps.example.org:8443", "").replace("{z}/{x}/{y}", "13/{}/{}".format(*(lambda t: (t.x, t.y))(tile_for(X0 + DX, Y0 + DY / 2, 13))))
    assert {f["properties"]["category"] for f in decode(client.get(tile_url).content)["incidents"]["features"]} == {"市容环境"}


def test_grid_tiles_of_another_plan_by_id_or_version(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    archived = add_plan(db, "archived", 7, grid_frame(data["faces"][:3]), name="old")
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    for query in (f"?plan={archived.id}", "?version=7"):
        features = decode(get_tile(client, "grids", t, query).content)["grids"]["features"]
        assert len(features) == 3 and {f["properties"]["plan_version"] for f in features} == {7}
    assert len(decode(get_tile(client, "grids", t).content)["grids"]["features"]) == len(data["faces"])


def test_a_grid_that_self_intersects_once_projected_is_drawn_where_it_lies(db, client):
    """A real planned grid, valid in CGCS2000 but self-intersecting in Web Mercator, was once drawn as the tile
    minus the grid. Every tile over it must hold about the grid's own clipped area, at every zoom."""
    from pathlib import Path

    from pyproj import Transformer

    grid = shapely.from_wkb(Path(__file__).with_name("data").joinpath("grid_invalid_in_mercator.hexwkb").read_text().strip())
    add_plan(db, "published", 1, gpd.GeoDataFrame({"code": ["330106001001001"], "community_code": ["330106001001"], "type": ["basic"], "households": [400]}, geometry=[grid], crs=4490))
    to_mercator = Transformer.from_crs(4490, 3857, always_xy=True)
    mercator = shapely.make_valid(shapely.transform(grid, lambda c: np.c_[to_mercator.transform(c[:, 0], c[:, 1])]))
    checked = 0
    for z in range(12, 17):
        for t in tiles_over(grid.bounds, z):
            xmin, _, xmax, ymax = t.mercator_bounds()
            scale = EXTENT / (xmax - xmin)
            in_pixels = shapely.transform(mercator, lambda c: np.c_[(c[:, 0] - xmin) * scale, (ymax - c[:, 1]) * scale])
            want = shapely.intersection(in_pixels, shapely.box(-BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)).area
            features = decode(get_tile(client, "grids", t).content).get("grids", {}).get("features", [])
            got = sum(shapely.geometry.shape(f["geometry"]).area for f in features)
            if want < 200:  # a few pixels: snapping may drop it
                continue
            assert got == pytest.approx(want, rel=0.1, abs=100), (t, got, want)
            checked += 1
    assert checked >= 5


# --- the polygon pipeline's shortcuts ----------------------------------------------------------

#: The pipeline without shortcuts: every grid projected on the fly, repaired before and after clipping.
REFERENCE_POLYGON = """ST_ForcePolygonCCW(ST_CollectionExtract(ST_MakeValid(ST_SnapToGrid(ST_ClipByBox2D(
    ST_MakeValid(ST_SnapToGrid(ST_Affine(ST_Transform(f.geom, 3857), :sx, 0, 0, -:sx, :tx, :ty), 1), 'method=structure'),
    ST_MakeBox2D(ST_Point(-64, -64), ST_Point(4160, 4160))), 1), 'method=structure'), 3))"""


def reference_tile(db, t: Tile) -> dict:
    from gridplanner.maplayers import Filters, get_layer
    from tiles.mvt import envelope_predicate, tile_sql

    layer = get_layer("grids")
    _, params = tile_sql(layer, Filters(), t)
    columns = ", ".join(f'f."{c}"' for c in ["id", *layer.fields])
    sql = f"""SELECT ST_AsMVT(t, 'grids', 4096, 'geom', 'id')
              FROM (SELECT {columns}, {REFERENCE_POLYGON} AS geom FROM ({layer.query(Filters(), envelope_predicate, params)}) f) t
              WHERE t.geom IS NOT NULL AND NOT ST_IsEmpty(t.geom)"""
    return decode(bytes(db.execute(text(sql), params).scalar_one() or b""))


def load_invalid_in_mercator(db, plan_id: int) -> shapely.Polygon:
    from pathlib import Path

    grid = shapely.from_wkb(Path(__file__).with_name("data").joinpath("grid_invalid_in_mercator.hexwkb").read_text().strip())
    plans.write_grids(db, plan_id, gpd.GeoDataFrame({"code": ["330106001001999"], "community_code": ["330106001001"], "type": ["basic"], "households": [400]}, geometry=[grid], crs=4490), source="test")
    return grid


def test_stored_mercator_outline_and_clearance_follow_every_write(db, tmp_path):
    data = load_layers(db, tmp_path)
    load_invalid_in_mercator(db, data["plan"].id)
    check = """SELECT count(*) FILTER (WHERE NOT ST_Equals(geom_3857, ST_Transform(geom, 3857))),
                      count(*) FILTER (WHERE clearance_3857 IS DISTINCT FROM
                                       CASE WHEN ST_IsValid(ST_Transform(geom, 3857), 0) THEN ST_MinimumClearance(ST_Transform(geom, 3857)) ELSE 0 END),
                      count(*) FILTER (WHERE clearance_3857 = 0), count(*)
               FROM grids WHERE plan_id = :p"""
    stale, wrong, zero, n = db.execute(text(check), {"p": data["plan"].id}).one()
    assert (stale, wrong, zero, n) == (0, 0, 1, len(data["faces"]) + 1)  # zero: the grid invalid in Web Mercator
    # an edit rewriting a grid's outline in place (as editing does) moves both
    db.execute(text("UPDATE grids SET geom = ST_Translate(geom, 0.001, 0) WHERE plan_id = :p AND code = :c"), {"p": data["plan"].id, "c": data["codes"][3]})
    assert db.execute(text(check), {"p": data["plan"].id}).one()[:2] == (0, 0)


@pytest.mark.parametrize("z", [10, 12, 14, 16])
def test_tiles_are_those_of_repairing_every_grid(db, client, tmp_path, z):
    """Skipping the validity test where the clearance allows, and the clip and repair for grids inside the
    buffered tile, changes no feature: the tiles decode to the features of the unshortened pipeline."""
    data = load_layers(db, tmp_path)
    grid = load_invalid_in_mercator(db, data["plan"].id)
    compared = 0
    for t in tiles_over(BLOCK, z) + tiles_over(grid.bounds, z):
        got = decode(get_tile(client, "grids", t).content).get("grids", {"features": []})["features"]
        want = reference_tile(db, t).get("grids", {"features": []})["features"]
        assert sorted(f["id"] for f in got) == sorted(f["id"] for f in want), t
        want_by_id = {f["id"]: f for f in want}
        for f in got:
            a, b = shapely.geometry.shape(f["geometry"]), shapely.geometry.shape(want_by_id[f["id"]]["geometry"])
            assert a.equals(b), (t, f["properties"]["code"])
            assert f["properties"] == want_by_id[f["id"]]["properties"]
            compared += 1
    assert compared >= len(data["faces"])


def test_the_clearance_shortcut_changes_no_byte(db, tmp_path, monkeypatch):
    """Tiles with the validity of every snapped grid tested are byte for byte those taking the clearance's word,
    at zooms where the shortcut serves some grids and not others."""
    from tiles import mvt
    from gridplanner.maplayers import Filters, get_layer

    data = load_layers(db, tmp_path)
    layer = get_layer("grids")
    served = []
    for z in (13, 15, 17):
        t = tile_for(X0 + DX, Y0 + DY / 2, z)
        sx = EXTENT / t.width_m
        served.append(db.execute(text("SELECT avg((clearance_3857 * :sx > :px)::int) FROM grids WHERE plan_id = :p"), {"sx": sx, "px": mvt.CLEARANCE_PX, "p": data["plan"].id}).scalar_one())
        shortcut = mvt.render(db, layer, Filters(), t)
        with monkeypatch.context() as m:
            m.setattr(mvt, "CLEARANCE_PX", 1e300)  # no clearance is that wide
            checked = mvt.render(db, layer, Filters(), t)
        assert shortcut == checked and len(shortcut) > 0
    assert min(served) < 1 and max(served) > 0, served


def test_cached_tiles_are_answered_before_the_framework_and_stay_current(committed_db, tmp_path, monkeypatch):
    """With the real app (nothing overridden) and an API key of scope read: a cached tile comes back with the
    same bytes and ETag as the route sent (and 304 for its ETag) without reaching the route; a change drops it
    and the next request renders it again; keys without the scope and unknown keys are still refused."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.auth.accounts import create_key
    from gridplanner.store.database import session_scope

    cache.TILE_CACHE.clear()
    with session_scope() as s:
        data = load_layers(s, tmp_path)
        _, read_key = create_key(s, "maps", ["read"])
        _, lookup_key = create_key(s, "hotline", ["lookup"])
    t = tile_for(X0 + DX, Y0 + DY / 2, 13)
    url = f"/api/v1/tiles/staffing/{t.z}/{t.x}/{t.y}.pbf"
    with TestClient(create_app(), headers={"X-API-Key": read_key}) as client:
        first = client.get(url)
        assert first.status_code == 200 and first.headers["x-tile-cache"] == "miss"
        hits_before = cache.TILE_CACHE.hits
        from gridplanner.api.routes import tiles as tile_routes

        real_resolve = tile_routes.resolve_layer

        def not_here(*args):
            raise AssertionError("a cached tile reached the route")

        monkeypatch.setattr(tile_routes, "resolve_layer", not_here)
        again = client.get(url)
        assert again.status_code == 200 and again.headers["x-tile-cache"] == "hit"
        assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
        assert again.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        assert cache.TILE_CACHE.hits == hits_before + 1
        assert client.get(url, headers={"If-None-Match": first.headers["etag"]}).status_code == 304
        monkeypatch.setattr(tile_routes, "resolve_layer", real_resolve)
        assert client.get(url, headers={"X-API-Key": lookup_key}).status_code == 403
        assert client.get(url, headers={"X-API-Key": "not-a-key"}).status_code == 401
        # Another writer changes the roster of a grid in the tile: the trigger's NOTIFY drops it.
        with session_scope() as s:
            s.execute(text("UPDATE staff SET active = false WHERE grid_code = :c"), {"c": data["codes"][1]})
        deadline = time.monotonic() + 5
        while (r := client.get(url)).headers["x-tile-cache"] == "hit":
            assert time.monotonic() < deadline, "the change never reached the tile cache"
            time.sleep(0.02)
        assert r.status_code == 200 and r.content != first.content
    cache.TILE_CACHE.clear()
