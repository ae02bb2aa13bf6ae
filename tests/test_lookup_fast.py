"""The fast paths of the lookup API answer what the SQL they stand in for answers: the in-memory index of a
published plan (batch lookups), the autocommit read (single lookups), and the API key cache (a revoked key
still stops working: at once in the revoking process, within the cache's TTL elsewhere)."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import text

from gridplanner import lookup, plans
from gridplanner.lookup import answers as lookup_answers
from gridplanner.lookup import index as lookup_index
from gridplanner.lookup import reads as lookup_reads
from gridplanner.auth.accounts import create_key, revoke_key
from gridplanner.auth.keycache import KEYS, TTL_SECONDS, KeyCache
from gridplanner.auth.principal import Principal
from gridplanner.importing import import_file
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write

API = "/api/v1"


def _grids() -> gpd.GeoDataFrame:
    """Community 1 in a 2 x 2 block of squares, the lower left one with two holes: one filled by an island grid,
    one left empty; community 2 in two triangles sharing a diagonal and a strip beside them."""
    h, w = DY / 2, DX / 2
    sq = [shapely.box(X0 + i * w, Y0 + j * h, X0 + (i + 1) * w, Y0 + (j + 1) * h) for j in range(2) for i in range(2)]
    island = shapely.box(X0 + 0.001, Y0 + 0.001, X0 + 0.002, Y0 + 0.002)
    empty = shapely.box(X0 + 0.003, Y0 + 0.003, X0 + 0.004, Y0 + 0.004)
    sq[0] = shapely.Polygon(sq[0].exterior, [island.exterior, empty.exterior])
    x1, x2 = X0 + DX, X0 + DX + 0.006
    tri_a = shapely.Polygon([(x1, Y0), (x2, Y0), (x2, Y0 + DY)])
    tri_b = shapely.Polygon([(x1, Y0), (x2, Y0 + DY), (x1, Y0 + DY)])
    strip = shapely.box(x2, Y0, X0 + 2 * DX, Y0 + DY)
    geoms = [*sq, island, tri_a, tri_b, strip]
    communities = ["330106001001"] * 5 + ["330106001002"] * 3
    return gpd.GeoDataFrame({"community_code": communities, "households": 300}, geometry=geoms, crs=4490)


def _publish(db, tmp_path, grids: gpd.GeoDataFrame) -> int:
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    plan = plans.create_draft(db, "fast", from_published=False)
    plans.write_grids(db, plan.id, grids, source="test")
    plans.publish(db, plan.id)
    return plan.id


def _probe_points(grids: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every vertex, every edge's midpoint, points in both holes, random points over and around the block."""
    xy = [shapely.get_coordinates(grids.geometry.values)]
    for ring in shapely.get_rings(grids.geometry.values):
        c = shapely.get_coordinates(ring)
        xy.append((c[:-1] + c[1:]) / 2)
    xy.append(np.array([[X0 + 0.0015, Y0 + 0.0015], [X0 + 0.0035, Y0 + 0.0035], [X0 + 0.003, Y0 + 0.0035]]))
    rng = np.random.default_rng(7)
    xy.append(np.column_stack([rng.uniform(X0 - 0.002, X0 + 2 * DX + 0.002, 500), rng.uniform(Y0 - 0.002, Y0 + DY + 0.002, 500)]))
    pts = np.concatenate(xy)
    return pts[:, 0], pts[:, 1]


def test_index_answers_what_the_sql_answers_on_edges_vertices_and_holes(client, db, tmp_path):
    grids = _grids()
    pid = _publish(db, tmp_path, grids)
    x, y = _probe_points(grids)
    want = lookup.lookup_points(db, pid, x, y)
    index = lookup_index.plan_index(db, pid)
    assert index is not None and len(index.codes) == len(grids)
    got = index.lookup(x, y)
    assert got == want
    # the probes do reach the cases that matter: shared edges, the island, the empty hole, the outside
    assert None in want and len(set(want) - {None}) == len(grids)
    island_code = lookup.lookup_points(db, pid, np.array([X0 + 0.0015]), np.array([Y0 + 0.0015]))[0]
    assert island_code is not None and lookup.lookup_points(db, pid, np.array([X0 + 0.0035]), np.array([Y0 + 0.0035])) == [None]
    # and the API answers from the index the same, in input order
    body = client.post(f"{API}/grids/lookup", json={"points": np.column_stack([x, y]).tolist()}).json()
    assert [r["code"] for r in body["results"]] == want


def test_on_a_shared_vertex_the_lowest_code_wins_in_both(db, tmp_path):
    grids = _grids()
    pid = _publish(db, tmp_path, grids)
    # the centre of the 2 x 2 block touches all four squares
    x, y = np.array([X0 + DX / 2]), np.array([Y0 + DY / 2])
    four = sorted(db.execute(text("SELECT code FROM grids WHERE plan_id = :p AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4490))"), {"p": pid, "x": x[0], "y": y[0]}).scalars())
    assert len(four) == 4
    assert lookup.lookup_points(db, pid, x, y) == lookup_index.plan_index(db, pid).lookup(x, y) == [four[0]]


def test_drafts_are_answered_by_sql_and_a_new_publication_gets_a_new_index(client, db, tmp_path):
    grids = _grids()
    pid = _publish(db, tmp_path, grids)
    x, y = _probe_points(grids)
    first = client.post(f"{API}/grids/lookup", json={"points": np.column_stack([x, y]).tolist()}).json()
    assert first["plan"]["id"] == pid
    # a draft that merges the two triangles: not indexed, answered by SQL, and edits would show at once
    draft = plans.create_draft(db, "merged")
    db.execute(text("DELETE FROM grids WHERE plan_id = :p AND ST_GeometryType(geom) = 'ST_Polygon' AND ST_NPoints(geom) = 4"), {"p": draft.id})
    merged = grids.iloc[[5]].copy()
    merged["geometry"] = [shapely.union(grids.geometry.iloc[5], grids.geometry.iloc[6]).normalize()]
    plans.write_grids(db, draft.id, merged, source="test")
    assert lookup_index.plan_index(db, draft.id) is None
    on_draft = client.post(f"{API}/grids/lookup", params={"plan": draft.id}, json={"points": np.column_stack([x, y]).tolist()}).json()
    assert [r["code"] for r in on_draft["results"]] == lookup.lookup_points(db, draft.id, x, y)
    plans.publish(db, draft.id)
    second = client.post(f"{API}/grids/lookup", json={"points": np.column_stack([x, y]).tolist()}).json()
    assert second["plan"]["id"] == draft.id
    assert [r["code"] for r in second["results"]] == lookup.lookup_points(db, draft.id, x, y) != [r["code"] for r in first["results"]]


def test_a_revoked_key_stops_at_once_here_and_within_the_ttl_elsewhere(anon_client, db, monkeypatch):
    key, token = create_key(db, "12345 hotline", ["lookup"])
    other, token2 = create_key(db, "综治", ["lookup"])
    path = f"{API}/codes/330106001001001/decode"
    assert anon_client.get(path, headers={"X-API-Key": token}).status_code == 200
    assert KEYS.get(key.key_hash) is not None  # remembered
    # revoked by this process: forgotten at once
    revoke_key(db, key.id)
    assert anon_client.get(path, headers={"X-API-Key": token}).status_code == 401
    # revoked by another process (the CLI, another worker): this one trusts what it saw for TTL_SECONDS
    now = [1000.0]
    monkeypatch.setattr(KEYS, "clock", lambda: now[0])
    assert anon_client.get(path, headers={"X-API-Key": token2}).status_code == 200
    db.execute(text("UPDATE api_keys SET revoked_at = now() WHERE id = :k"), {"k": other.id})
    assert anon_client.get(path, headers={"X-API-Key": token2}).status_code == 200
    now[0] += TTL_SECONDS + 0.1
    res = anon_client.get(path, headers={"X-API-Key": token2})
    assert res.status_code == 401 and res.json()["detail_en"] == "invalid or revoked API key"


def test_key_cache_remembers_resolved_keys_only_for_its_ttl():
    now = [0.0]
    cache = KeyCache(ttl=5, clock=lambda: now[0])
    p = Principal(kind="key", name="key:7", scopes=("lookup",), id=7)
    assert cache.get("h") is None
    cache.put("h", p)
    now[0] = 4.9
    assert cache.get("h") is p
    now[0] = 5.0
    assert cache.get("h") is None
    cache.put("h", p)
    cache.forget_key(7)
    assert cache.get("h") is None


def test_single_lookup_reads_on_its_own_connection_with_committed_data(committed_db, tmp_path, monkeypatch):
    """With the real per-request session (nothing overridden): once the key is remembered, a lookup is one
    autocommit statement, and answers as the session would."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.store.database import session_scope

    grids = _grids()
    with session_scope() as s:
        pid = _publish(s, tmp_path, grids)
        _, token = create_key(s, "app", ["lookup"])
    with session_scope() as s:
        x, y = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids WHERE plan_id = :p ORDER BY code LIMIT 1) t"), {"p": pid}).one()
        expected = lookup.lookup_point_json(s, x, y, query={})
    calls = []
    real = lookup_reads.fetch_one_async

    async def counted(sql, params):
        calls.append(1)
        return await real(sql, params)

    monkeypatch.setattr(lookup_reads, "fetch_one_async", counted)
    # The in-memory answers (tested below) would take over once built: this test is about the SQL read.
    monkeypatch.setattr(lookup_answers, "current", lambda conninfo: None)
    with TestClient(create_app(), headers={"X-API-Key": token}) as client:
        answers = [client.get(f"{API}/grids/lookup", params={"lon": x, "lat": y}) for _ in range(3)]
        outside = client.get(f"{API}/grids/lookup", params={"lon": X0 - 1, "lat": Y0})
    assert [r.status_code for r in answers] == [200, 200, 200] and outside.status_code == 404
    first = answers[0].json()
    assert first["code"] == json.loads(expected)["code"] and first["plan"]["id"] == pid
    assert all(r.json() == first for r in answers)
    # the first request resolved the key in its session and read there; the others awaited a statement on the
    # event loop's own connection
    assert len(calls) == 3


def _wait_for_answers(timeout: float = 10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = lookup_answers.current(lookup_reads.conninfo())
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError("the in-memory lookup answers were not built")


def test_single_lookups_from_memory_give_the_sqls_bytes_and_follow_every_change(committed_db, tmp_path, monkeypatch):
    """Answered before the framework (api/fastlookup.py) from the published plan's answers in memory: the same
    bytes as the SQL path on vertices, shared edges, holes and outside, in CGCS2000 and GCJ-02; and current
    after a staff change made by another connection and after a new publication."""
    import time

    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.store.database import session_scope
    from gis.webcoords import transform

    lookup_answers.reset()
    grids = _grids()
    with session_scope() as s:
        pid = _publish(s, tmp_path, grids)
        _, token = create_key(s, "app", ["lookup"])
        code = s.execute(text("SELECT min(code) FROM grids WHERE plan_id = :p"), {"p": pid}).scalar_one()
        s.execute(text("INSERT INTO staff (name, phone, role, grid_code, active) VALUES ('王五', '13800000000', '网格长', :c, true)"), {"c": code})
    x, y = _probe_points(grids)
    x, y = x[::7], y[::7]
    with TestClient(create_app(), headers={"X-API-Key": token}) as client:
        client.get(f"{API}/grids/lookup", params={"lon": float(x[0]), "lat": float(y[0])})  # remembers the key
        _wait_for_answers()
        sql_reads = []
        real = lookup_reads.fetch_one_async

        async def counted(sql, params):
            sql_reads.append(1)
            return await real(sql, params)

        monkeypatch.setattr(lookup_reads, "fetch_one_async", counted)
        served = [client.get(f"{API}/grids/lookup", params={"lon": float(a), "lat": float(b)}) for a, b in zip(x, y)]
        gx, gy = transform(x[:20], y[:20], "wgs84", "gcj02")
        served_gcj = [client.get(f"{API}/grids/lookup", params={"lon": float(a), "lat": float(b), "crs": "gcj02"}) for a, b in zip(gx, gy)]
        assert sql_reads == [], "the lookups went to the database"
        with session_scope() as s:
            for r, a, b in zip(served, x, y):
                want = lookup.lookup_point_json(s, float(a), float(b), query={"lon": float(a), "lat": float(b), "crs": "wgs84", "lon_cgcs2000": round(float(a), 8), "lat_cgcs2000": round(float(b), 8)})
                assert (r.status_code, r.content if want is not None else None) == ((200, want.encode()) if want is not None else (404, None))
            assert {r.status_code for r in served} == {200, 404}
            for r, a, b in zip(served_gcj, gx, gy):
                cx, cy = lookup.to_cgcs2000(a, b, "gcj02")
                want = lookup.lookup_point_json(s, float(cx), float(cy), query={"lon": float(a), "lat": float(b), "crs": "gcj02", "lon_cgcs2000": round(float(cx), 8), "lat_cgcs2000": round(float(cy), 8)})
                assert r.status_code == (200 if want else 404) and (want is None or r.content == want.encode())
            cx, cy = s.execute(text("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM grids WHERE plan_id = :p AND code = :c) t"), {"p": pid, "c": code}).one()
        assert [p["name"] for p in client.get(f"{API}/grids/lookup", params={"lon": cx, "lat": cy}).json()["staff"]] == ["王五"]
        # Another connection (as the CLI or another worker would) changes the roster: the trigger's NOTIFY drops
        # the answers, and the next ones carry the change.
        with session_scope() as s:
            s.execute(text("UPDATE staff SET name = '赵六' WHERE grid_code = :c"), {"c": code})
        deadline = time.monotonic() + 5
        while client.get(f"{API}/grids/lookup", params={"lon": cx, "lat": cy}).json()["staff"][0]["name"] != "赵六":
            assert time.monotonic() < deadline, "the staff change never reached the lookup"
            time.sleep(0.02)
        # A new publication: the lookup answers from the new plan.
        with session_scope() as s:
            plan = plans.create_draft(s, "next", from_published=True)
            new_id = plan.id
            plans.publish(s, new_id)
        deadline = time.monotonic() + 5
        while client.get(f"{API}/grids/lookup", params={"lon": cx, "lat": cy}).json()["plan"]["id"] != new_id:
            assert time.monotonic() < deadline, "the publication never reached the lookup"
            time.sleep(0.02)
        # plan= and unknown parameters go through the app as before
        assert client.get(f"{API}/grids/lookup", params={"lon": cx, "lat": cy, "plan": pid}).json()["plan"]["id"] == pid
        assert client.get(f"{API}/grids/lookup", params={"lon": 500, "lat": cy}).status_code == 422
    lookup_answers.reset()


def test_batches_from_memory_answer_what_the_route_answers(committed_db, tmp_path, monkeypatch):
    """POST batches of pairs (full and compact, CGCS2000 and GCJ-02, some out of range) answered before the
    framework give what the route gives for the same body; objects with ids go to the route."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.store.database import session_scope

    lookup_answers.reset()
    grids = _grids()
    with session_scope() as s:
        _publish(s, tmp_path, grids)
        _, token = create_key(s, "app", ["lookup"])
    x, y = _probe_points(grids)
    pairs = np.column_stack([x, y]).tolist() + [[500.0, 30.0], [120.0, -95.0]]
    bodies = [{"points": pairs}, {"crs": "gcj02", "points": pairs[:300]}, {"points": []}]
    with TestClient(create_app(), headers={"X-API-Key": token}) as client:
        client.get(f"{API}/grids/lookup", params={"lon": X0, "lat": Y0})  # remembers the key
        real_current = lookup_answers.current
        monkeypatch.setattr(lookup_answers, "current", lambda conninfo: None)
        routed = {(fmt, i): client.post(f"{API}/grids/lookup" + ("?format=compact" if fmt else ""), json=b) for fmt in (0, 1) for i, b in enumerate(bodies)}
        monkeypatch.setattr(lookup_answers, "current", real_current)
        _wait_for_answers()

        def refuse(*args, **kwargs):
            raise AssertionError("a batch of pairs reached the route")

        monkeypatch.setattr(lookup, "lookup_codes", refuse)
        for (fmt, i), want in routed.items():
            got = client.post(f"{API}/grids/lookup" + ("?format=compact" if fmt else ""), json=bodies[i])
            assert want.status_code == got.status_code == 200
            assert got.json() == want.json() and got.content == want.content
        compact = routed[(1, 0)].json()
        assert compact["out_of_range"] == [len(pairs) - 2, len(pairs) - 1] and None in compact["codes"]
        assert compact["found"] == sum(c is not None for c in compact["codes"]) > 0
        monkeypatch.undo()
        with_ids = client.post(f"{API}/grids/lookup", json={"points": [{"id": "a", "lon": x[0], "lat": y[0]}]})
        assert with_ids.status_code == 200 and with_ids.json()["results"][0]["id"] == "a"
    lookup_answers.reset()
