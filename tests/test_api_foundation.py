"""The server skeleton: health, OpenAPI docs, the web app at /, hierarchy and community GeoJSON."""

from __future__ import annotations

import re

from gridplanner.importing import import_file
from tests.helpers import communities_gdf, write


def test_health_reports_postgis(client):
    res = client.get("/api/v1/health")
    assert res.status_code == 200
    body = res.json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert int(body["postgis"].split(".")[0]) >= 3


def test_health_is_503_when_database_unreachable(monkeypatch, client):
    from sqlalchemy import create_engine

    import gridplanner.api.routes.health as health

    dead = create_engine("postgresql+psycopg://nobody@127.0.0.1:9/none", connect_args={"connect_timeout": 1})
    monkeypatch.setattr(health, "get_engine", lambda: dead)
    res = client.get("/api/v1/health")
    assert res.status_code == 503 and res.json()["status"] == "unavailable"


def test_openapi_and_docs(client):
    spec = client.get("/openapi.json").json()
    assert "/api/v1/health" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_web_app_is_served_with_local_libraries(client):
    page = client.get("/")
    assert page.status_code == 200 and "网格规划" in page.text
    # nothing loads from a CDN: no absolute or protocol-relative resource address in the page
    assert not re.search(r"""(?:src|href)\s*=\s*["']\s*(?:https?:)?//""", page.text), "page loads something from outside"
    lib = client.get("/node_modules/maplibre-gl/dist/maplibre-gl.mjs")
    assert lib.status_code == 200 and len(lib.content) > 100_000


def test_hierarchy_and_communities_geojson(client, db, tmp_path):
    import_file(db, "communities", write(communities_gdf(), tmp_path / "c.geojson"))
    tree = client.get("/api/v1/districts").json()
    assert tree[0]["code"] == "330106"
    assert [c["code"] for c in tree[0]["streets"][0]["communities"]] == ["330106001001", "330106001002"]
    fc = client.get("/api/v1/communities", params={"street": "330106001"}).json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    props = fc["features"][0]["properties"]
    assert props["code"] == "330106001001" and props["class"] == "urban"
    assert 900_000 < props["area_m2"] < 1_200_000  # ~960 m x 1,110 m, measured on the ellipsoid
    assert client.get("/api/v1/communities", params={"street": "12"}).status_code == 422


def test_unknown_job_is_404(client):
    assert client.get("/api/v1/jobs/999999").status_code == 404
