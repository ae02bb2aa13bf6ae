"""The grid lookup API: point and batch lookup, grids as GeoJSON, codes, lineage, change feed, crosswalk."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gis.webcoords import transform
from gridplanner import plans
from gridplanner.importing import import_file
from gridplanner.planning.rules import size_rules
from tests.helpers import X0, Y0, communities_gdf, write

API = "/api/v1"
C1, C2 = "330106001001", "330106001002"


def _buildings() -> gpd.GeoDataFrame:
    geoms, ids = [], []
    for c in range(2):
        for i in range(12):
            x = X0 + c * 0.01 + 0.0008 + (i % 4) * 0.0024
            y = Y0 + 0.001 + (i // 4) * 0.003
            geoms.append(shapely.box(x, y, x + 0.0003, y + 0.0002))
            ids.append(f"B{c}-{i}")
    return gpd.GeoDataFrame({"building_id": ids, "households": 100}, geometry=geoms, crs=4490)


def publish_first(db, tmp_path) -> int:
    """Two communities of 1,200 households, three grids each (codes ...001–003), published as version 1."""
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    import_file(db, "buildings", write(_buildings(), tmp_path / "b.gpkg"))
    plan = plans.create_draft(db, "first")
    plans.divide_into_draft(db, plan.id)
    plans.publish(db, plan.id)
    return plan.id


def replan_second(db) -> int:
    """Version 2: community 2 re-planned with bigger grids (two of 600 households): 001–003 retired."""
    plan = plans.create_draft(db, "second")
    plans.divide_into_draft(db, plan.id, communities=[C2], rules=size_rules(500, 700))
    plans.publish(db, plan.id)
    return plan.id


def inside(db, plan_id: int, code: str) -> tuple[float, float]:
    """A point well inside grid ``code`` (CGCS2000)."""
    x, y = db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grids WHERE plan_id = :p AND code = :c) t"), {"p": plan_id, "c": code}
    ).one()
    return x, y


def codes_of(db, plan_id: int) -> list[str]:
    return list(db.execute(text("SELECT code FROM grids WHERE plan_id = :p ORDER BY code"), {"p": plan_id}).scalars())


def test_point_lookup_gives_the_grid_its_levels_and_its_staff(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    code = f"{C1}002"
    db.execute(
        text(
            """INSERT INTO staff (name, phone, role, grid_code, active) VALUES
               ('李强', '13800000002', '专职网格员', :c, true), ('王芳', '13800000001', '网格长', :c, true),
               ('赵六', '13800000003', '兼职网格员', :c, true), ('钱七', '13800000004', '网格长', :c, false),
               ('孙八', '13800000005', '网格长', :other, true)"""
        ),
        {"c": code, "other": f"{C1}001"},
    )
    x, y = inside(db, pid, code)
    res = client.get(f"{API}/grids/lookup", params={"lon": x, "lat": y})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["code"] == code and body["type"] == "basic"
    assert body["community"] == {"code": C1, "name": "社区1"}
    assert body["street"]["code"] == "330106001" and body["street"]["kind"] == "街道"
    assert body["district"]["code"] == "330106"
    # 网格长 first, then 专职网格员; part-timers, inactive staff and other grids' staff are not contacts
    assert body["staff"] == [{"name": "王芳", "role": "网格长", "phone": "13800000001"}, {"name": "李强", "role": "专职网格员", "phone": "13800000002"}]
    assert body["plan"] == {"id": pid, "version": 1}
    other = client.get(f"{API}/grids/lookup", params={"lon": inside(db, pid, f"{C2}003")[0], "lat": inside(db, pid, f"{C2}003")[1]}).json()
    assert other["code"] == f"{C2}003" and other["staff"] == []


def test_a_point_in_no_grid_is_a_clear_404(client, db, tmp_path):
    publish_first(db, tmp_path)
    res = client.get(f"{API}/grids/lookup", params={"lon": 116.4, "lat": 39.9, "crs": "gcj02"})
    assert res.status_code == 404
    assert res.json() == {"detail": "没有网格包含这个点", "detail_en": "no grid contains this point", "lon": 116.4, "lat": 39.9, "crs": "gcj02"}


@pytest.mark.parametrize(
    "params, word",
    [
        ({"lon": 200, "lat": 30.27}, "lon"),
        ({"lon": 120.1, "lat": -91}, "lat"),
        ({"lon": "east", "lat": 30.27}, "lon"),
        ({"lon": 120.1}, "lat"),
        ({"lon": 120.1, "lat": 30.27, "crs": "utm50"}, "crs"),
    ],
)
def test_bad_coordinates_or_crs_are_422(client, db, tmp_path, params, word):
    publish_first(db, tmp_path)
    res = client.get(f"{API}/grids/lookup", params=params)
    assert res.status_code == 422
    assert word in str(res.json()["detail"][0]["loc"])


def test_without_a_published_plan_lookups_say_so(client, db, tmp_path):
    res = client.get(f"{API}/grids/lookup", params={"lon": X0 + 0.005, "lat": Y0 + 0.005})
    assert res.status_code == 404 and "no published plan" in res.json()["detail_en"]
    assert client.post(f"{API}/grids/lookup", json={"points": [[120.1, 30.27]]}).status_code == 404
    pid = publish_first(db, tmp_path)
    res = client.get(f"{API}/grids/lookup", params={"lon": X0 + 0.005, "lat": Y0 + 0.005, "plan": pid + 1000})
    assert res.status_code == 404 and res.json()["detail_en"] == f"no plan {pid + 1000}"


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
def test_web_map_coordinates_land_in_the_right_grid(client, db, tmp_path, crs):
    pid = publish_first(db, tmp_path)
    for code in codes_of(db, pid):
        x, y = inside(db, pid, code)
        lon, lat = transform(x, y, "wgs84", crs)
        res = client.get(f"{API}/grids/lookup", params={"lon": float(lon), "lat": float(lat), "crs": crs})
        assert res.status_code == 200 and res.json()["code"] == code, (code, res.text)
        assert res.json()["query"]["lon_cgcs2000"] == pytest.approx(x, abs=1e-7)
    # read as WGS84 the same numbers are hundreds of metres off: the conversion is what puts them right
    x, y = inside(db, pid, f"{C1}001")
    lon, lat = transform(x, y, "wgs84", crs)
    assert client.get(f"{API}/grids/lookup", params={"lon": float(lon), "lat": float(lat)}).json().get("code") != f"{C1}001"


def test_a_point_on_a_shared_edge_goes_to_the_lowest_code(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    x, y, a, b = db.execute(
        text(
            """SELECT ST_X(v.geom), ST_Y(v.geom), a.code, b.code FROM grids a
               JOIN grids b ON b.plan_id = a.plan_id AND b.code > a.code AND ST_Touches(a.geom, b.geom),
               LATERAL ST_DumpPoints(a.geom) v
               WHERE a.plan_id = :p AND ST_Intersects(b.geom, v.geom)
               ORDER BY a.code DESC LIMIT 1"""
        ),
        {"p": pid},
    ).one()
    assert a < b
    assert client.get(f"{API}/grids/lookup", params={"lon": x, "lat": y}).json()["code"] == a
    batch = client.post(f"{API}/grids/lookup", json={"points": [[x, y]]}).json()
    assert batch["results"][0]["code"] == a


def test_batch_lookup_answers_in_order_with_reasons(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    a, b = inside(db, pid, f"{C1}003"), inside(db, pid, f"{C2}001")
    ga = transform(*a, "wgs84", "gcj02")
    gb = transform(*b, "wgs84", "gcj02")
    pts = [[float(gb[0]), float(gb[1])], [116.4, 39.9], [float(ga[0]), float(ga[1])], [181.0, 30.0]]
    res = client.post(f"{API}/grids/lookup", json={"crs": "gcj02", "points": pts})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["plan"] == {"id": pid, "version": 1} and (body["count"], body["found"]) == (4, 2)
    assert body["results"] == [
        {"code": f"{C2}001", "reason": None},
        {"code": None, "reason": "no grid contains this point"},
        {"code": f"{C1}003", "reason": None},
        {"code": None, "reason": "coordinates out of range"},
    ]
    with_ids = client.post(f"{API}/grids/lookup", json={"points": [{"id": "hotline-7", "lon": a[0], "lat": a[1]}, {"id": 8, "lon": 0.5, "lat": 0.5}]}).json()
    assert with_ids["results"] == [{"id": "hotline-7", "code": f"{C1}003", "reason": None}, {"id": 8, "code": None, "reason": "no grid contains this point"}]
    assert client.post(f"{API}/grids/lookup", json={"points": []}).json()["results"] == []
    assert client.post(f"{API}/grids/lookup", json={"points": [[1, 2, 3]]}).status_code == 422
    assert client.post(f"{API}/grids/lookup", json={"crs": "mercator", "points": [[1, 2]]}).status_code == 422


def test_batch_of_10000_is_answered_and_10001_refused(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    x, y = inside(db, pid, f"{C2}002")
    pts = [[x, y]] * 9_999 + [[116.4, 39.9]]
    body = client.post(f"{API}/grids/lookup", json={"points": pts}).json()
    assert (body["count"], body["found"]) == (10_000, 9_999)
    assert body["results"][-1]["code"] is None and body["results"][0]["code"] == f"{C2}002"
    res = client.post(f"{API}/grids/lookup", json={"points": pts + [[x, y]]})
    assert res.status_code == 413
    assert res.json()["detail_en"] == "at most 10,000 points per request, got 10,001: split the batch"


def test_grid_by_code_is_a_feature_unknown_is_404_retired_is_410(client, db, tmp_path):
    publish_first(db, tmp_path)
    res = client.get(f"{API}/grids/{C1}002")
    assert res.status_code == 200
    f = res.json()
    assert f["type"] == "Feature" and f["geometry"]["type"] == "Polygon"
    props = f["properties"]
    assert props["code"] == f"{C1}002" and props["community_code"] == C1 and props["community_name"] == "社区1"
    assert props["households"] == 400 and props["buildings"] == 4 and props["area_m2"] > 10_000 and props["plan"]["version"] == 1
    assert props["street_code"] == "330106001" and props["district_code"] == "330106"

    missing = client.get(f"{API}/grids/{C1}099")
    assert missing.status_code == 404 and missing.json()["detail_en"] == f"no grid {C1}099 in plan {props['plan']['id']} (version 1)"

    second = replan_second(db)
    new = [c for c in codes_of(db, second) if c.startswith(C2)]
    gone = client.get(f"{API}/grids/{C2}001")
    assert gone.status_code == 410
    body = gone.json()
    assert body["code"] == f"{C2}001" and body["retired_version"] == 2
    assert body["became"] and set(body["became"]) <= set(new)
    assert "retired in version 2" in body["detail_en"]
    # the archived plan still answers when named
    assert client.get(f"{API}/grids/{C2}001", params={"plan": props["plan"]["id"]}).status_code == 200


def test_geojson_output_in_web_map_coordinates(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    plain = client.get(f"{API}/grids/{C1}001").json()["geometry"]["coordinates"][0]
    for crs in ("gcj02", "bd09"):
        moved = client.get(f"{API}/grids/{C1}001", params={"crs": crs}).json()["geometry"]["coordinates"][0]
        assert len(moved) == len(plain)
        lon, lat = transform([p[0] for p in plain], [p[1] for p in plain], "wgs84", crs)
        assert [p[0] for p in moved] == pytest.approx(lon.tolist(), abs=2e-7)
        assert [p[1] for p in moved] == pytest.approx(lat.tolist(), abs=2e-7)
        fc = client.get(f"{API}/grids", params={"community": C1, "crs": crs}).json()
        assert fc["crs_name"] == crs and fc["features"][0]["geometry"]["coordinates"][0] == moved
    assert pid


def test_grids_by_community_street_and_bbox(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    fc = client.get(f"{API}/grids", params={"community": C2}).json()
    assert fc["type"] == "FeatureCollection" and fc["total"] == 3
    assert [f["properties"]["code"] for f in fc["features"]] == [f"{C2}001", f"{C2}002", f"{C2}003"]
    assert len(client.get(f"{API}/grids", params={"street": "330106001"}).json()["features"]) == 6
    assert client.get(f"{API}/grids", params={"street": "330106002"}).json()["features"] == []
    # a box around one grid's inside point finds that grid (and maybe a neighbour), never the other community
    x, y = inside(db, pid, f"{C1}002")
    box = f"{x - 1e-5},{y - 1e-5},{x + 1e-5},{y + 1e-5}"
    assert [f["properties"]["code"] for f in client.get(f"{API}/grids", params={"bbox": box}).json()["features"]] == [f"{C1}002"]
    gx, gy = transform([x - 1e-5, x + 1e-5], [y - 1e-5, y + 1e-5], "wgs84", "gcj02")
    gbox = f"{gx[0]},{gy[0]},{gx[1]},{gy[1]}"
    assert [f["properties"]["code"] for f in client.get(f"{API}/grids", params={"bbox": gbox, "crs": "gcj02"}).json()["features"]] == [f"{C1}002"]
    page = client.get(f"{API}/grids", params={"limit": 2, "offset": 2}).json()
    assert [f["properties"]["code"] for f in page["features"]] == [f"{C1}003", f"{C2}001"] and page["total"] == 6
    assert client.get(f"{API}/grids", params={"limit": 5001}).status_code == 422
    assert client.get(f"{API}/grids", params={"community": "3301"}).status_code == 422
    for bad in ("1,2,3", "a,b,c,d", "120.2,30.2,120.1,30.3", "120,30,190,31"):
        res = client.get(f"{API}/grids", params={"bbox": bad})
        assert res.status_code == 422 and "bbox" in res.json()["detail_en"]


def test_decode_names_each_level(client, db, tmp_path):
    publish_first(db, tmp_path)
    body = client.get(f"{API}/codes/{C1}002/decode").json()
    assert body["district"]["code"] == "330106" and body["district"]["kind"] == "市辖区"
    assert body["street"]["code"] == "330106001" and body["street"]["kind"] == "街道"
    assert body["community"] == {"code": C1, "name": "社区1", "kind": "居委会"}
    assert (body["sequence"], body["grid_type"], body["rule"]) == (2, "basic", "default")
    assert body["registry"] == {"status": "active", "first_version": 1, "retired_version": None}
    village = client.get("/api/v1/codes/330106101201950/decode").json()
    assert village["street"]["kind"] == "镇" and village["community"]["kind"] == "村委会" and village["community"]["name"] is None
    assert (village["sequence"], village["grid_type"], village["registry"]) == (950, "dedicated", None)
    street = client.get("/api/v1/codes/330106201/decode").json()
    assert street["street"]["kind"] == "乡" and street["community"] is None and street["sequence"] is None


@pytest.mark.parametrize(
    "code, reason",
    [
        ("3301060010010", "does not fit the template"),
        ("33010600100100x", "does not fit the template"),
        ("991060010010001", "province part 99"),
        ("330100001001001", "not a county"),
        ("330106600001001", "township part 600 is outside"),
        ("330106001400001", "community part 400 is outside 居委会 001–199 / 村委会 200–399"),
        ("330106001001900", "sequence 900 is in no range"),
        ("33010600", "does not fit the template"),
    ],
)
def test_decode_refuses_malformed_codes_with_the_reason(client, code, reason):
    res = client.get(f"{API}/codes/{code}/decode")
    assert res.status_code == 422
    body = res.json()
    assert body["code"] == code and reason in body["reason"] and body["detail_en"] == f"malformed code '{code}': {body['reason']}"


def test_lineage_follows_a_code_back_to_its_origins(client, db, tmp_path):
    publish_first(db, tmp_path)
    second = replan_second(db)
    new = sorted(c for c in codes_of(db, second) if c.startswith(C2))
    body = client.get(f"{API}/codes/{new[0]}/lineage").json()
    assert body["registry"]["first_version"] == 2
    events = body["events"]
    change = [e for e in events if e["plan_version"] == 2 and new[0] in e["to_codes"]]
    assert len(change) == 1 and change[0]["kind"] in ("split", "merged", "redrawn")
    parents = change[0]["from_codes"]
    assert parents and all(p.startswith(C2) and int(p[-3:]) <= 3 for p in parents)
    # each parent's own origin (version 1, new) is there, oldest first
    origins = [e for e in events if e["plan_version"] == 1]
    assert {c for e in origins for c in e["to_codes"]} >= set(parents) and all(e["kind"] == "new" for e in origins)
    assert [e["plan_version"] for e in events] == sorted(e["plan_version"] for e in events)
    assert all(e["date"] for e in events)
    # from the other side: a retired code shows what it became
    old = client.get(f"{API}/codes/{parents[0]}/lineage").json()
    assert old["registry"]["status"] == "retired" and any(new[0] in e["to_codes"] for e in old["events"])
    kept = client.get(f"{API}/codes/{C1}001/lineage").json()
    assert [e["kind"] for e in kept["events"]] == ["new", "kept"]
    assert client.get(f"{API}/codes/{C1}777/lineage").status_code == 404


def test_change_feed_since_a_version(client, db, tmp_path):
    first = publish_first(db, tmp_path)
    v1 = codes_of(db, first)
    all_v1 = client.get(f"{API}/grids/changes", params={"since_version": 0}).json()
    assert (all_v1["current_version"], all_v1["added"], all_v1["retired"]) == (1, v1, [])
    none = client.get(f"{API}/grids/changes", params={"since_version": 1}).json()
    assert (none["added"], none["retired"], none["geometry_changed"]) == ([], [], [])

    second = replan_second(db)
    new = sorted(c for c in codes_of(db, second) if c.startswith(C2))
    feed = client.get(f"{API}/grids/changes", params={"since_version": 1}).json()
    assert feed["current_version"] == 2 and feed["plan_id"] == second and feed["published_at"]
    assert feed["added"] == new
    assert [r["code"] for r in feed["retired"]] == [f"{C2}001", f"{C2}002", f"{C2}003"]
    assert all(r["retired_version"] == 2 and set(r["became"]) <= set(new) for r in feed["retired"])
    assert feed["geometry_changed"] == []

    # version 3: one grid of community 1 nudged by about a metre keeps its code, and its geometry changed
    third = plans.create_draft(db, "third")
    db.execute(text("UPDATE grids SET geom = ST_Translate(geom, 0.00001, 0) WHERE plan_id = :p AND code = :c"), {"p": third.id, "c": f"{C1}001"})
    plans.publish(db, third.id)
    feed = client.get(f"{API}/grids/changes", params={"since_version": 2}).json()
    assert (feed["current_version"], feed["added"], feed["retired"], feed["geometry_changed"]) == (3, [], [], [f"{C1}001"])
    assert client.get(f"{API}/grids/changes", params={"since_version": 1}).json()["geometry_changed"] == [f"{C1}001"]

    ahead = client.get(f"{API}/grids/changes", params={"since_version": 4})
    assert ahead.status_code == 422 and "ahead of the published version 3" in ahead.json()["detail_en"]
    assert client.get(f"{API}/grids/changes", params={"since_version": -1}).status_code == 422
    db.execute(text("DELETE FROM grid_plans WHERE id = :p"), {"p": first})
    gone = client.get(f"{API}/grids/changes", params={"since_version": 1})
    assert gone.status_code == 410 and "since_version=0" in gone.json()["detail_en"]


def test_crosswalk_from_a_department_grid(client, db, tmp_path):
    pid = publish_first(db, tmp_path)
    ids = dict(db.execute(text("SELECT code, id FROM grids WHERE plan_id = :p"), {"p": pid}).all())
    db.execute(
        text(
            """INSERT INTO crosswalk (plan_id, department, department_grid_id, grid_id, shared_area_m2, share_of_department_grid, share_of_unified_grid, shared_households)
               VALUES (:p, '城管', 'CG-1', :a, 20000, 0.2, 0.5, 80), (:p, '城管', 'CG-1', :b, 80000, 0.8, 0.9, 320), (:p, '城管', 'CG-2', :a, 100, 1.0, 0.01, 0)"""
        ),
        {"p": pid, "a": ids[f"{C1}001"], "b": ids[f"{C1}002"]},
    )
    body = client.get(f"{API}/crosswalk", params={"department": "城管", "id": "CG-1"}).json()
    assert body["plan"] == {"id": pid, "version": 1}
    assert [(g["code"], g["share_of_department_grid"], g["shared_households"]) for g in body["grids"]] == [(f"{C1}002", 0.8, 320), (f"{C1}001", 0.2, 80)]
    res = client.get(f"{API}/crosswalk", params={"department": "城管", "id": "CG-9"})
    assert res.status_code == 404 and "has no grid 'CG-9'" in res.json()["detail_en"]
    res = client.get(f"{API}/crosswalk", params={"department": "综治", "id": "CG-1"})
    assert res.status_code == 404 and "departments with a crosswalk there: 城管" in res.json()["detail_en"]
    assert client.get(f"{API}/crosswalk", params={"department": "城管"}).status_code == 422


def test_openapi_documents_the_lookup_endpoints_with_examples(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/v1/grids/lookup", "/api/v1/grids", "/api/v1/grids/{code}", "/api/v1/grids/changes", "/api/v1/codes/{code}/decode", "/api/v1/codes/{code}/lineage", "/api/v1/crosswalk"):
        assert path in paths, path
    assert "post" in paths["/api/v1/grids/lookup"] and "404" in paths["/api/v1/grids/lookup"]["get"]["responses"]
    schemas = spec["components"]["schemas"]
    for name in ("PointLookup", "BatchRequest", "BatchResponse", "Changes", "Decoded", "Lineage", "Crosswalk"):
        assert schemas[name].get("examples"), name


def test_batch_agrees_with_a_plain_query_per_point(client, db, tmp_path):
    """Random points over both communities and around them: the batch (sent in Z-order, answered in input
    order) gives what ST_Contains gives point by point."""
    import numpy as np

    pid = publish_first(db, tmp_path)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(X0 - 0.002, X0 + 0.022, 300), rng.uniform(Y0 - 0.002, Y0 + 0.012, 300)
    want = [
        db.execute(text("SELECT min(code) FROM grids WHERE plan_id = :p AND ST_Contains(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"), {"p": pid, "x": float(a), "y": float(b)}).scalar()
        for a, b in zip(x, y)
    ]
    assert 0 < want.count(None) < 300
    body = client.post(f"{API}/grids/lookup", json={"points": np.column_stack([x, y]).tolist()}).json()
    assert [r["code"] for r in body["results"]] == want
