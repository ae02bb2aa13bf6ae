"""GeoJSON of the layers, OGC API – Features style: collections, items with bbox, limit, offset and links."""

from __future__ import annotations

import pytest

from tests.helpers import DX, DY, X0, Y0
from tests.test_tiles import empty_cache, load_layers  # noqa: F401  (fixture and data)


def test_collections_list_every_layer_with_links_and_extent(db, client, tmp_path):
    load_layers(db, tmp_path)
    r = client.get("/api/v1/collections")
    assert r.status_code == 200
    cols = {c["id"]: c for c in r.json()["collections"]}
    assert {"communities", "grids", "staffing", "incidents", "incident_counts", "incident_density", "departments", "plan_diff"} <= set(cols)
    grids = cols["grids"]
    assert {link["rel"] for link in grids["links"]} >= {"self", "items", "tiles"}
    w, s, e, n = grids["extent"]["spatial"]["bbox"][0]
    assert (w, s, e, n) == pytest.approx((X0, Y0, X0 + 2 * DX, Y0 + DY), abs=1e-9)
    assert client.get("/api/v1/collections/grids").json()["id"] == "grids"
    assert client.get("/api/v1/collections/nope").status_code == 404


def test_grid_items_page_through_with_next_and_prev_links(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    total = len(data["codes"])
    seen, url = [], "/api/v1/collections/grids/items?limit=5"
    while url:
        r = client.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert body["type"] == "FeatureCollection" and body["numberMatched"] == total
        assert body["numberReturned"] == len(body["features"]) <= 5
        seen += [f["properties"]["code"] for f in body["features"]]
        links = {link["rel"]: link["href"] for link in body["links"]}
        if len(seen) > 5:
            assert "prev" in links
        url = links.get("next", "").replace("http://testserver", "")
    assert sorted(seen) == sorted(data["codes"])  # every grid once, carrying its code
    feature = client.get("/api/v1/collections/grids/items?limit=1").json()["features"][0]
    assert feature["geometry"]["type"] == "Polygon" and isinstance(feature["id"], int)
    assert {"code", "households", "population", "area_m2", "size_status"} <= set(feature["properties"])
    one = client.get(f"/api/v1/collections/grids/items/{feature['id']}")
    assert one.status_code == 200 and one.json()["properties"]["code"] == feature["properties"]["code"]


def test_bbox_and_filters_select_features(db, client, tmp_path):
    data = load_layers(db, tmp_path)
    left = client.get(f"/api/v1/collections/grids/items?bbox={X0},{Y0},{X0 + DX / 2},{Y0 + DY}&limit=1000").json()
    codes = {f["properties"]["code"] for f in left["features"]}
    assert codes and codes < set(data["codes"])
    assert all(f["properties"]["community_code"] == "330106001001" for f in left["features"])
    inc = client.get("/api/v1/collections/incidents/items?category=街面秩序").json()
    assert {f["properties"]["external_id"] for f in inc["features"]} == {"E2", "E3"}
    dens = client.get("/api/v1/collections/incident_density/items?cell=50").json()
    assert sum(f["properties"]["count"] for f in dens["features"]) == 4
    staffing = client.get("/api/v1/collections/staffing/items?status=complete").json()
    assert [f["properties"]["code"] for f in staffing["features"]] == [data["codes"][1]]


@pytest.mark.parametrize(
    "path,status,fragment",
    [
        ("/api/v1/collections/nope/items", 404, "unknown layer"),
        ("/api/v1/collections/grids/items?bbox=1,2,3", 400, "four numbers"),
        ("/api/v1/collections/grids/items?bbox=10,50,5,60", 400, "west <= east"),
        ("/api/v1/collections/grids/items?cell=100", 400, "takes no cell"),
        ("/api/v1/collections/grids/items?category=x", 400, "takes no filter category"),
        ("/api/v1/collections/grids/items?plan=424242", 404, "no plan 424242"),
        ("/api/v1/collections/grids/items/999999999", 404, "no feature '999999999'"),
        ("/api/v1/collections/grids/items?limit=0", 422, ""),
        ("/api/v1/collections/grids/items?limit=10001", 422, ""),
    ],
)
def test_bad_item_requests_get_a_clear_4xx(client, path, status, fragment):
    r = client.get(path)
    assert r.status_code == status, r.text
    assert fragment in str(r.json().get("detail_en", r.json()["detail"]))
