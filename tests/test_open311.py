"""Open311 GeoReport v2: services are the admitted grid items, requests become incidents placed in their grid
and follow the incident lifecycle (status, status_notes); keys of scope open311; the specification's field
names, query limits (90 days, 1,000 requests), error lists, and XML as well as JSON."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from sqlalchemy import text

from gridplanner.auth.accounts import create_key
from gridplanner.gridwork import catalogue
from gridplanner.incidents import lifecycle
from tests.conftest import count
from tests.test_incidents import IN, OUTSIDE, fulltime, staffed_world
from tests.test_staffing import N1, S2

REQUEST_FIELDS = [
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description", "agency_responsible", "service_notice",
    "requested_datetime", "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url", "grid_code",
]
V2 = "/open311/v2"


def items(db):
    """JZ-001 admitted (街面秩序, 城市管理局), JZ-002 proposed, JZ-003 exited."""
    base = {"department": "城市管理局", "category": "街面秩序", "worker_role": "发现", "time_limit_days": 3}
    for code, name in (("JZ-001", "占道经营"), ("JZ-002", "乱堆乱放"), ("JZ-003", "违规广告")):
        catalogue.propose(db, code=code, name=name, **base, actor="规划员")
    catalogue.admit(db, "JZ-001", approved_by="管理员")
    catalogue.admit(db, "JZ-003", approved_by="管理员")
    catalogue.exit_item(db, "JZ-003", reason="职责调整", actor="管理员")


@pytest.fixture
def world(db, tmp_path):
    staffed_world(db, tmp_path)
    items(db)
    _, token = create_key(db, "12345热线", ["open311"])
    return token


def post(client, token, code="JZ-001", where=N1, fmt="json", **extra):
    lon, lat = IN[where] if where else OUTSIDE
    data = {"api_key": token, "service_code": code, "lat": str(lat), "long": str(lon), "description": "人行道上摆摊", **extra}
    return client.post(f"{V2}/requests.{fmt}", data={k: v for k, v in data.items() if v is not None})


def filed(client, token, **kw) -> int:
    res = post(client, token, **kw)
    assert res.status_code == 201, res.text
    return int(res.json()[0]["service_request_id"])


# --- services -------------------------------------------------------------------------------------------------


def test_services_are_the_admitted_items_only(world, anon_client):
    res = anon_client.get(f"{V2}/services.json", params={"api_key": world})
    assert res.status_code == 200
    assert res.json() == [{
        "service_code": "JZ-001", "service_name": "占道经营", "description": "街面秩序（网格员职责：发现，办理时限 3 个工作日）",
        "metadata": False, "type": "realtime", "keywords": "街面秩序", "group": "城市管理局",
    }]
    xml = anon_client.get(f"{V2}/services.xml", params={"api_key": world})
    assert xml.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(xml.content)
    assert root.tag == "services" and [s.findtext("service_code") for s in root] == ["JZ-001"] and root[0].findtext("metadata") == "false"


def test_service_definition_and_its_errors(world, anon_client):
    res = anon_client.get(f"{V2}/services/JZ-001.json", params={"api_key": world})
    assert res.status_code == 200 and res.json() == {"service_code": "JZ-001", "attributes": []}
    assert ET.fromstring(anon_client.get(f"{V2}/services/JZ-001.xml", params={"api_key": world}).content).tag == "service_definition"
    for code in ("JZ-002", "JZ-003", "NOPE"):
        res = anon_client.get(f"{V2}/services/{code}.json", params={"api_key": world})
        assert res.status_code == 404 and res.json()[0]["code"] == 404 and "only admitted grid items are services" in res.json()[0]["description"]
    res = anon_client.get(f"{V2}/services.csv", params={"api_key": world})
    assert res.status_code == 404 and "use .json or .xml" in res.json()[0]["description"]


# --- filing a request -------------------------------------------------------------------------------------------


def test_a_request_becomes_an_incident_in_its_grid_and_follows_the_lifecycle(world, anon_client, db):
    res = post(anon_client, world, address_string="文三路 100 号", media_url="https://example.org/p/1.jpg")
    assert res.status_code == 201 and list(res.json()[0]) == ["service_request_id", "service_notice", "account_id"]
    rid = int(res.json()[0]["service_request_id"])
    inc = db.execute(text("SELECT category, status, grid_code, assignee_id, source, service_code FROM incidents WHERE id = :i"), {"i": rid}).one()
    assert tuple(inc) == ("街面秩序", "上报", N1, fulltime(db, N1), "Open311", "JZ-001")
    assert count(db, "audit_log WHERE entity = 'open311' AND actor LIKE 'key:%'") == 1

    got = anon_client.get(f"{V2}/requests/{rid}.json", params={"api_key": world}).json()
    assert len(got) == 1 and list(got[0]) == REQUEST_FIELDS
    r = got[0]
    assert (r["service_request_id"], r["status"], r["status_notes"], r["service_code"], r["service_name"], r["agency_responsible"]) == (str(rid), "open", "上报：Open311", "JZ-001", "占道经营", "城市管理局")
    assert (r["grid_code"], r["address"], r["media_url"], r["description"]) == (N1, "文三路 100 号", "https://example.org/p/1.jpg", "人行道上摆摊")
    assert r["requested_datetime"].endswith("+08:00") and r["expected_datetime"] is None
    assert (r["lat"], r["long"]) == pytest.approx((IN[N1][1], IN[N1][0]), abs=1e-6)

    def follow():
        return anon_client.get(f"{V2}/requests/{rid}.json", params={"api_key": world}).json()[0]

    lifecycle.advance(db, rid, "受理", actor="热线坐席")
    lifecycle.advance(db, rid, "派遣", actor="指挥中心", note="派城管中队")
    r = follow()
    assert (r["status"], r["status_notes"]) == ("open", "派遣：派城管中队") and r["expected_datetime"] is not None
    for step in ("处置", "核查", "结案"):
        lifecycle.advance(db, rid, step, actor="网格员", note="已劝离" if step == "结案" else None)
    r = follow()
    assert (r["status"], r["status_notes"]) == ("closed", "结案：已劝离") and r["updated_datetime"] >= r["requested_datetime"]


def test_a_request_in_no_grid_is_kept_with_grid_code_null(world, anon_client, db):
    rid = filed(anon_client, world, where=None)
    assert anon_client.get(f"{V2}/requests/{rid}.json", params={"api_key": world}).json()[0]["grid_code"] is None


@pytest.mark.parametrize("change,status,fragment", [
    ({"code": "JZ-003"}, 400, "已退出网格事项清单"),
    ({"code": "JZ-002"}, 400, "尚未准入"),
    ({"code": "NOPE"}, 404, "no grid item"),
    ({"code": ""}, 400, "service_code is required"),
    ({"lat": None, "long": None}, 400, "location required"),
    ({"lat": None, "long": None, "address_string": "文三路"}, 400, "an address alone cannot be placed"),
    ({"lat": "north"}, 400, "must be numbers"),
    ({"lat": "120.1", "long": "30.2"}, 400, "out of range"),
    ({"lat": "48.85", "long": "2.35"}, 400, "is not in China"),
    ({"media_url": "javascript:alert(1)"}, 400, "not an http(s) URL"),
    ({"description": "长" * 4001}, 400, "at most 4000 characters"),
    ({"address_string": "路" * 501}, 400, "address_string: at most 500"),
])
def test_bad_requests_get_the_reason_and_write_nothing(world, anon_client, db, change, status, fragment):
    before = count(db, "incidents")
    res = post(anon_client, world, **change)
    assert res.status_code == status
    body = res.json()
    assert isinstance(body, list) and body[0]["code"] == status and fragment in body[0]["description"]
    assert count(db, "incidents") == before


def test_errors_in_xml(world, anon_client):
    res = post(anon_client, world, code="JZ-003", fmt="xml")
    root = ET.fromstring(res.content)
    assert res.status_code == 400 and root.tag == "errors" and root[0].findtext("code") == "400" and "已退出" in root[0].findtext("description")
    created = ET.fromstring(post(anon_client, world, fmt="xml").content)
    assert created.tag == "service_requests" and created[0].findtext("service_request_id").isdigit()


def test_who_may_file_and_read(world, db, anon_client, api_key_client, client_as, client):
    assert post(anon_client, None).status_code == 401
    assert post(anon_client, "gpk_not-a-key").status_code == 403
    _, read_token = create_key(db, "reader", ["read"])
    res = post(anon_client, read_token)
    assert res.status_code == 403 and "lacks the scope open311" in res.json()[0]["description"]
    rid = filed(anon_client, world)
    assert anon_client.get(f"{V2}/requests/{rid}.json", params={"api_key": read_token}).status_code == 200
    _, lookup_token = create_key(db, "lookups", ["lookup"])
    assert anon_client.get(f"{V2}/requests.json", params={"api_key": lookup_token}).status_code == 403
    assert anon_client.get(f"{V2}/requests.json").status_code == 401
    # The key in the header works too; an open311 key opens nothing of /api/v1.
    assert anon_client.get(f"{V2}/services.json", headers={"X-API-Key": world}).status_code == 200
    assert anon_client.get("/api/v1/incidents", headers={"X-API-Key": world}).status_code == 403
    viewer = client_as("viewer")
    assert viewer.get(f"{V2}/requests/{rid}.json").status_code == 200
    assert post(viewer, None).status_code == 403
    assert post(client, None).status_code == 201  # an admin filing through the web session


# --- listing requests -------------------------------------------------------------------------------------------


def test_listing_by_status_service_and_id(world, anon_client, db):
    a, b = filed(anon_client, world), filed(anon_client, world, where=S2)
    for step in ("受理", "派遣", "处置", "核查", "结案"):
        lifecycle.advance(db, b, step, actor="网格员")
    # An incident not filed for an item (a hotline import, a patrol) is no service request.
    db.execute(text("INSERT INTO incidents (category, status, reported_at, geom) VALUES ('市容环境', '上报', now(), ST_SetSRID(ST_MakePoint(120.1, 30.27), 4490))"))

    def ids(**params):
        res = anon_client.get(f"{V2}/requests.json", params={"api_key": world, **params})
        assert res.status_code == 200, res.text
        return [int(r["service_request_id"]) for r in res.json()]

    assert ids() == [b, a]
    assert ids(status="open") == [a] and ids(status="closed") == [b] and ids(status="open,closed") == [b, a]
    assert ids(service_code="JZ-001") == [b, a] and ids(service_code="JZ-002") == []
    assert ids(service_request_id=f"{a}") == [a] and ids(service_request_id=f"{a},{b}") == [b, a]
    root = ET.fromstring(anon_client.get(f"{V2}/requests.xml", params={"api_key": world}).content)
    assert root.tag == "service_requests" and [r.findtext("status") for r in root] == ["closed", "open"]
    assert [c.tag for c in root[0]] == REQUEST_FIELDS


def test_dates_default_to_the_last_90_days_and_ranges_are_limited(world, anon_client, db):
    old, new = filed(anon_client, world), filed(anon_client, world)
    db.execute(text("UPDATE incidents SET reported_at = now() - interval '100 days' WHERE id = :i"), {"i": old})

    def get(**params):
        return anon_client.get(f"{V2}/requests.json", params={"api_key": world, **params})

    assert [int(r["service_request_id"]) for r in get().json()] == [new]
    start = (date.today().replace(day=1)).isoformat()
    res = get(start_date="2020-01-01T00:00:00+08:00", end_date="2020-06-01T00:00:00+08:00")
    assert res.status_code == 400 and "at most 90 days" in res.json()[0]["description"]
    assert get(start_date="2026-02-01T00:00:00Z", end_date="2026-01-01T00:00:00Z").status_code == 400
    assert "not a W3C datetime" in get(start_date="yesterday").json()[0]["description"]
    res = get(start_date=db.execute(text("SELECT (now() - interval '120 days')::date::text")).scalar_one())
    assert [int(r["service_request_id"]) for r in res.json()] == [old]  # start + 90 days
    assert get(start_date=start).status_code == 200
    assert get(status="pending").status_code == 400 and get(service_request_id="1;DROP").status_code == 400


def test_at_most_1000_requests_newest_first(world, anon_client, db):
    db.execute(text(
        """INSERT INTO incidents (category, status, reported_at, geom, service_code)
           SELECT '街面秩序', '上报', now() - n * interval '1 minute', ST_SetSRID(ST_MakePoint(120.103, 30.278), 4490), 'JZ-001'
           FROM generate_series(1, 1005) n"""
    ))
    rows = anon_client.get(f"{V2}/requests.json", params={"api_key": world}).json()
    assert len(rows) == 1000 and rows[0]["requested_datetime"] > rows[-1]["requested_datetime"]
