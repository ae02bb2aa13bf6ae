"""Plans in the store: drafts, planning into a draft (also as a background job), atomic publish."""

from __future__ import annotations

import time

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.importing import import_file
from gridplanner.planning.rules import size_rules
from gridplanner.store.database import session_scope
from tests.helpers import X0, Y0, communities_gdf, write


def _buildings(n_per_community=12, households=100) -> gpd.GeoDataFrame:
    geoms, ids = [], []
    for c in range(2):
        for i in range(n_per_community):
            x = X0 + c * 0.01 + 0.0008 + (i % 4) * 0.0024
            y = Y0 + 0.001 + (i // 4) * 0.003
            geoms.append(shapely.box(x, y, x + 0.0003, y + 0.0002))
            ids.append(f"B{c}-{i}")
    return gpd.GeoDataFrame({"building_id": ids, "households": households}, geometry=geoms, crs=4490)


def _load(session, tmp_path):
    import_file(session, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    import_file(session, "buildings", write(_buildings(), tmp_path / "b.gpkg"))


def test_divide_into_draft_tiles_each_community(db, tmp_path):
    _load(db, tmp_path)
    plan = plans.create_draft(db, "first")
    report = plans.divide_into_draft(db, plan.id)
    assert [c["community_code"] for c in report["communities"]] == ["330106001001", "330106001002"]
    rows = db.execute(
        text(
            """SELECT g.community_code, count(*), sum(g.households),
                      ST_Area(ST_SymDifference(ST_Union(g.geom), min(c.geom::text)::geometry)::geography) AS diff
               FROM grids g JOIN communities c ON c.code = g.community_code
               WHERE g.plan_id = :p GROUP BY g.community_code ORDER BY 1"""
        ),
        {"p": plan.id},
    ).all()
    assert [r[0] for r in rows] == ["330106001001", "330106001002"]
    for code, n, hh, diff in rows:
        assert n == 3 and hh == 1200  # 12 buildings x 100 households -> 3 grids of 400
        assert diff < 1.0  # m²: the grids tile the community
    # each building wholly inside exactly one grid
    inside = db.execute(
        text("SELECT count(*) FROM buildings b JOIN grids g ON g.plan_id = :p AND ST_CoveredBy(b.geom, g.geom)"), {"p": plan.id}
    ).scalar_one()
    assert inside == 24


def test_publish_is_exclusive_and_drafts_copy_the_published_plan(db, tmp_path):
    _load(db, tmp_path)
    first = plans.create_draft(db, "first")
    plans.divide_into_draft(db, first.id)
    plans.publish(db, first.id)
    assert (first.status, first.version) == ("published", 1)
    with pytest.raises(plans.PlanError, match="only drafts can be changed"):
        plans.divide_into_draft(db, first.id)

    second = plans.create_draft(db, "second")
    n_first = db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p"), {"p": first.id}).scalar_one()
    assert db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p"), {"p": second.id}).scalar_one() == n_first
    plans.divide_into_draft(db, second.id, communities=["330106001002"], rules=size_rules(500, 700))
    plans.publish(db, second.id)
    statuses = dict(db.execute(text("SELECT id, status FROM grid_plans")).all())
    assert statuses == {first.id: "archived", second.id: "published"}
    assert db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p"), {"p": first.id}).scalar_one() == n_first  # untouched
    with pytest.raises(plans.PlanError, match="only a draft can be published"):
        plans.publish(db, second.id)


def test_publish_refuses_an_empty_draft_and_unknown_plans(db):
    plan = plans.create_draft(db, "empty")
    with pytest.raises(plans.PlanError, match="has no grids"):
        plans.publish(db, plan.id)
    with pytest.raises(LookupError):
        plans.publish(db, 987654)


def test_unknown_community_is_an_error(db, tmp_path):
    _load(db, tmp_path)
    plan = plans.create_draft(db, "x")
    with pytest.raises(LookupError, match="unknown communities"):
        plans.divide_into_draft(db, plan.id, communities=["330106001009"])


def test_plan_api_validation_and_conflicts(client, db, tmp_path):
    _load(db, tmp_path)
    res = client.post("/api/v1/plans", json={"name": "草案"})
    assert res.status_code == 201
    pid = res.json()["id"]
    bad = client.post(f"/api/v1/plans/{pid}/divide", json={"min_households": 600, "max_households": 500})
    assert bad.status_code == 422 and "greater than max_households" in bad.text
    assert client.post(f"/api/v1/plans/{pid}/publish").status_code == 409  # no grids yet
    assert client.get("/api/v1/plans/424242").status_code == 404


def test_divide_job_reports_progress_until_done(committed_db, tmp_path):
    """The API plans a draft as a background job, polled to completion; the published plan is untouched."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from tests.conftest import login_as

    with session_scope() as s:
        _load(s, tmp_path)
    with TestClient(create_app()) as client:
        with session_scope() as s:
            login_as(s, client, "test-admin", "admin")
        pid = client.post("/api/v1/plans", json={"name": "job"}).json()["id"]
        ref = client.post(f"/api/v1/plans/{pid}/divide", json={"min_households": 300, "max_households": 500})
        assert ref.status_code == 202
        deadline = time.monotonic() + 60
        while True:
            job = client.get(ref.json()["status_url"]).json()
            if job["status"] in ("done", "failed") or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert job["status"] == "done", job
        assert (job["done"], job["total"]) == (2, 2)
        fc = client.get(f"/api/v1/plans/{pid}/grids").json()
        assert len(fc["features"]) == 6
        assert client.post(f"/api/v1/plans/{pid}/publish").json()["status"] == "published"


def test_a_fault_in_a_divide_job_is_internal_not_the_users(committed_db, tmp_path, monkeypatch):
    """An engine fault (numpy's empty reduction, once seen on real OSM data) fails the job as an internal
    error naming the log, and nothing of the draft is written; bad input fails it with the input's message."""
    import numpy as np
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from tests.conftest import login_as

    with session_scope() as s:
        _load(s, tmp_path)
    monkeypatch.setattr(plans.drafts, "divide", lambda *a, **k: np.ptp(np.zeros(0)))
    with TestClient(create_app()) as client:
        with session_scope() as s:
            login_as(s, client, "test-admin", "admin")
        pid = client.post("/api/v1/plans", json={"name": "job"}).json()["id"]

        def run(body):
            ref = client.post(f"/api/v1/plans/{pid}/divide", json=body).json()
            deadline = time.monotonic() + 60
            while (job := client.get(ref["status_url"]).json())["status"] not in ("done", "failed") and time.monotonic() < deadline:
                time.sleep(0.2)
            return job

        job = run({})
        assert job["status"] == "failed" and job["result"]["error"] == "internal"
        assert "internal error in Gridplanner" in job["message"] and "not a problem with your data" in job["message"]
        assert "zero-size array" in job["message"]
        job = run({"communities": ["330106999999"]})
        assert job["status"] == "failed" and job["result"]["error"] == "input" and "unknown communities" in job["message"]
        assert client.get(f"/api/v1/plans/{pid}/grids").json()["features"] == []


def _codes(session, plan_id):
    return dict(session.execute(text("SELECT code, community_code FROM grids WHERE plan_id = :p ORDER BY code"), {"p": plan_id}).all())


def test_codes_follow_the_rule_stay_stable_and_are_never_reused(db, tmp_path):
    _load(db, tmp_path)
    first = plans.create_draft(db, "first")
    plans.divide_into_draft(db, first.id)
    plans.publish(db, first.id)
    v1 = _codes(db, first.id)
    assert sorted(v1) == [f"330106001001{s:03d}" for s in (1, 2, 3)] + [f"330106001002{s:03d}" for s in (1, 2, 3)]

    second = plans.create_draft(db, "second")
    # 1,200 households within 1,000–1,300: the three grids become one, which matches none of them.
    plans.divide_into_draft(db, second.id, communities=["330106001002"], rules=size_rules(1000, 1300))
    plans.publish(db, second.id)
    v2 = _codes(db, second.id)
    kept = {c for c in v1 if v1[c] == "330106001001"}
    assert kept <= set(v2)  # the community not re-planned keeps every code
    new = sorted(c for c in v2 if v2[c] == "330106001002")
    assert new == ["330106001002004"]  # a fresh sequence: 001–003 are never reused
    status = dict(db.execute(text("SELECT code, status FROM grid_codes")).all())
    assert all(status[c] == "retired" for c in v1 if v1[c] == "330106001002")
    kinds = {k for (k,) in db.execute(text("SELECT DISTINCT kind FROM code_events WHERE plan_version = 2"))}
    assert kinds == {"kept", "merged"}


def test_merge_department_layers_into_a_draft_with_crosswalk(db, tmp_path):
    """Two departments' layers, one shifted 2 m: merged into a valid coverage, every department grid in the crosswalk."""
    _load(db, tmp_path)
    zz = communities_gdf().rename(columns={"code": "dept_id"})
    cg = zz.copy()
    cg["geometry"] = zz.to_crs(4549).translate(xoff=2.0).to_crs(4490)
    import_file(db, "layer", write(zz, tmp_path / "zz.gpkg"), department="综治")
    import_file(db, "layer", write(cg, tmp_path / "cg.gpkg"), department="城管")
    plan = plans.create_draft(db, "merged", from_published=False)
    report = plans.merge_into_draft(db, plan.id, base="综治")
    assert report["base"]["department"] == "综治"
    rows = db.execute(
        text(
            """SELECT c.code, ST_Area(ST_SymDifference(ST_Union(g.geom), min(c.geom::text)::geometry)::geography)
               FROM grids g JOIN communities c ON c.code = g.community_code WHERE g.plan_id = :p GROUP BY c.code"""
        ),
        {"p": plan.id},
    ).all()
    # The merge works in the Gauss–Krüger zone (and splits oversized grids in lon/lat); its grids come back with
    # their edges on the community's own lon/lat edges, so they tile it as exactly as divided plans do (before,
    # vertices placed on the metric chord of a 1 km edge missed the lon/lat edge by up to a centimetre: ~1 m²).
    assert len(rows) == 2 and all(diff < 0.01 for _, diff in rows)
    assert db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p AND code IS NULL"), {"p": plan.id}).scalar_one() == 0
    # every department grid is accounted for: its shares across unified grids add up to its whole area
    shares = db.execute(
        text("SELECT department, department_grid_id, sum(share_of_department_grid) FROM crosswalk WHERE plan_id = :p GROUP BY 1, 2"), {"p": plan.id}
    ).all()
    assert len(shares) == 4
    assert all(abs(total - 1.0) < 0.001 for *_, total in shares)


def test_merge_needs_two_layers(db, tmp_path):
    _load(db, tmp_path)
    plan = plans.create_draft(db, "x", from_published=False)
    with pytest.raises(plans.PlanError, match="at least two department layers"):
        plans.merge_into_draft(db, plan.id)


def test_missing_values_are_stored_as_null(db, tmp_path):
    _load(db, tmp_path)
    plan = plans.create_draft(db, "x")
    plans.divide_into_draft(db, plan.id)
    kinds = db.execute(text("SELECT DISTINCT dedicated_kind FROM grids WHERE plan_id = :p AND type = 'basic'"), {"p": plan.id}).scalars().all()
    assert kinds == [None]


def test_a_write_is_committed_before_its_response_is_sent(committed_db):
    """Issue 15's "新建草稿" race: the request's session commits when the route returns, so another
    connection sees the new draft at the moment the response starts (the web app re-reads right away)."""
    import psycopg
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.auth.accounts import create_user
    from gridplanner.lookup import reads
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        create_user(s, "boss", "a-long-password-1", "admin")
    seen = []

    def watching(app):
        async def asgi(scope, receive, send):
            async def send_and_look(message):
                if message["type"] == "http.response.start" and scope["method"] == "POST" and scope["path"] == "/api/v1/plans":
                    with psycopg.connect(reads.conninfo()) as conn:  # another connection, as the next request's
                        seen.append(conn.execute("SELECT count(*) FROM grid_plans").fetchone()[0])
                await send(message)
            await app(scope, receive, send_and_look)
        return asgi

    with TestClient(watching(create_app())) as client:
        assert client.post("/api/v1/auth/login", json={"username": "boss", "password": "a-long-password-1"}).status_code == 200
        for k in range(3):
            assert client.post("/api/v1/plans", json={"name": f"草案{k}", "from_published": False}).status_code == 201
    assert seen == [1, 2, 3]
