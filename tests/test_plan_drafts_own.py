"""Drafts have an author, a name that can change and an end: rename and delete, by their planner or an admin."""

from __future__ import annotations

import geopandas as gpd
import shapely
from sqlalchemy import text

from gridplanner import plans
from gridplanner.importing import import_file
from tests.helpers import DX, DY, X0, Y0, communities_gdf, write


def _draft(client, name="草稿 A"):
    res = client.post("/api/v1/plans", json={"name": name, "from_published": False})
    assert res.status_code == 201, res.text
    return res.json()


def test_a_draft_is_its_creators(client_as):
    planner = client_as("planner", districts=["330106"], username="alice")
    plan = _draft(planner)
    assert plan["created_by"] == "alice"
    listed = {p["id"]: p for p in planner.get("/api/v1/plans").json()}
    assert listed[plan["id"]]["created_by"] == "alice"


def test_rename_and_delete_by_the_planner_who_made_it(db, client_as):
    alice = client_as("planner", districts=["330106"], username="alice")
    plan = _draft(alice)
    renamed = alice.patch(f"/api/v1/plans/{plan['id']}", json={"name": "  2026 年网格调整  "})
    assert renamed.status_code == 200 and renamed.json()["name"] == "2026 年网格调整"
    assert renamed.json()["lock_version"] == plan["lock_version"] + 1
    assert alice.patch(f"/api/v1/plans/{plan['id']}", json={"name": ""}).status_code == 422
    blank = alice.patch(f"/api/v1/plans/{plan['id']}", json={"name": "   "})
    assert blank.status_code == 409 and blank.json()["detail"] == "方案名称不能为空"
    gone = alice.delete(f"/api/v1/plans/{plan['id']}")
    assert gone.status_code == 204
    assert alice.get(f"/api/v1/plans/{plan['id']}").status_code == 404
    audit = db.execute(text("SELECT action, actor FROM audit_log WHERE entity = 'grid_plan' AND entity_id = :p ORDER BY id"), {"p": str(plan["id"])}).all()
    assert [tuple(a) for a in audit][-2:] == [("rename", "alice"), ("delete", "alice")]


def test_another_planner_may_not_and_an_admin_may(client_as, client):
    alice = client_as("planner", districts=["330106"], username="alice")
    bob = client_as("planner", districts=["330106"], username="bob")
    plan = _draft(alice)
    refused = bob.patch(f"/api/v1/plans/{plan['id']}", json={"name": "bob's"})
    assert refused.status_code == 403
    assert "made by alice" in refused.json()["detail_en"] and "由 alice 创建" in refused.json()["detail"]
    assert bob.delete(f"/api/v1/plans/{plan['id']}").status_code == 403
    assert client_as("viewer").delete(f"/api/v1/plans/{plan['id']}").status_code == 403
    assert client.patch(f"/api/v1/plans/{plan['id']}", json={"name": "审定稿"}).json()["name"] == "审定稿"
    assert client.delete(f"/api/v1/plans/{plan['id']}").status_code == 204


def test_a_published_plan_is_never_deleted(db, client, tmp_path):
    grids = gpd.GeoDataFrame({"community_code": ["330106001001"]}, geometry=[shapely.box(X0, Y0, X0 + DX, Y0 + DY)], crs=4490)
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    draft = plans.create_draft(db, "p", from_published=False)
    plans.write_grids(db, draft.id, grids, source="test")
    pub = plans.publish(db, draft.id).id
    db.flush()
    res = client.delete(f"/api/v1/plans/{pub}")
    assert res.status_code == 409 and "only a draft can be deleted" in res.json()["detail_en"]
    assert client.get(f"/api/v1/plans/{pub}").status_code == 200
    # An admin names the plan in force as published (the draft it was is no longer a draft).
    assert client.patch(f"/api/v1/plans/{pub}", json={"name": "2026 年现行网格"}).json()["name"] == "2026 年现行网格"
