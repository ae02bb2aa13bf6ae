"""GET /search: a grid by code, a community or street by name or code, a building by id or name."""

from __future__ import annotations

from tests.test_web_views_api import C1, C2, world  # noqa: F401  (the fixture: two communities, a published plan)


def _find(client, q, **params):
    res = client.get("/api/v1/search", params={"q": q, **params})
    assert res.status_code == 200, res.text
    return res.json()


def test_a_grid_by_its_code_and_a_community_by_its_code(client, world):
    code = world["codes"][C1]
    hits = _find(client, code)
    assert hits[0]["kind"] == "grid" and hits[0]["code"] == code
    w, s, e, n = hits[0]["bbox"]
    assert w < e and s < n
    # A code's start finds every grid and community under it, grids first.
    prefix = _find(client, C1[:9])
    kinds = [h["kind"] for h in prefix]
    assert kinds == sorted(kinds, key=["grid", "community", "street", "building"].index)
    assert {h["code"] for h in prefix if h["kind"] == "community"} == {C1, C2}
    assert [h["code"] for h in prefix if h["kind"] == "street"] == [C1[:9]]


def test_a_community_by_part_of_its_name_and_a_building_by_its_id(db, client, world):
    from sqlalchemy import text

    name = db.execute(text("SELECT name FROM communities WHERE code = :c"), {"c": C2}).scalar_one()
    hits = _find(client, name[1:3])
    assert any(h["kind"] == "community" and h["code"] == C2 for h in hits)
    bid = world["buildings"]["east"]
    b = _find(client, "east")
    assert [h["code"] for h in b if h["kind"] == "building"] == [str(bid)]
    assert b[0]["detail"] == name  # the building's community


def test_nothing_found_and_wildcards_taken_literally(client, world):
    assert _find(client, "没有这个地方") == []
    assert _find(client, "%") == [] and _find(client, "_") == []
    assert client.get("/api/v1/search", params={"q": ""}).status_code == 422
