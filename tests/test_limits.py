"""Limits with clear 4xx, optimistic locking of plan edits, rollback of a published plan."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from gridplanner import plans
from gridplanner.api.limits import RateLimiter, count_geojson
from gridplanner.api.locking import StaleVersion, check_version, parse_if_match
from gridplanner.planning.rules import size_rules
from gridplanner.settings import get_settings
from tests.conftest import _app, login_as
from tests.test_plans import _load

API = "/api/v1"


@pytest.fixture
def settings_env(monkeypatch):
    """Set GRIDPLANNER_* variables for one test; the cached settings are rebuilt before and after."""

    def set_(**values):
        for k, v in values.items():
            monkeypatch.setenv(f"GRIDPLANNER_{k.upper()}", str(v))
        get_settings.cache_clear()

    yield set_
    monkeypatch.undo()
    get_settings.cache_clear()


def test_rate_limit_answers_429_with_retry_after(client):
    client.app.state.rate_limiter = RateLimiter(rate=0.5, burst=3)
    assert [client.get(f"{API}/plans").status_code for _ in range(3)] == [200, 200, 200]
    res = client.get(f"{API}/plans")
    assert res.status_code == 429
    assert int(res.headers["retry-after"]) >= 1
    assert "too many requests for test-admin" in res.json()["detail_en"]


def test_rate_limit_is_per_principal(client, api_key_client):
    limiter = RateLimiter(rate=0.5, burst=1)
    key = api_key_client("read")
    client.app.state.rate_limiter = key.app.state.rate_limiter = limiter
    assert client.get(f"{API}/plans").status_code == 200
    assert key.get(f"{API}/plans").status_code == 200  # a bucket of its own
    assert client.get(f"{API}/plans").status_code == 429


def test_token_bucket_refills():
    limiter = RateLimiter(rate=1000, burst=1)
    assert limiter.take("a") == 0
    assert 0 < limiter.take("a") <= 0.001
    assert RateLimiter(rate=0, burst=1).take("a") == 0  # 0 turns the limit off


def test_body_over_the_upload_limit_gets_413(db, settings_env):
    settings_env(max_upload_bytes=1000)
    with TestClient(_app(db)) as client:
        login_as(db, client, "test-admin", "admin")
        res = client.post(f"{API}/incidents/import", files={"file": ("big.csv", b"x" * 5000, "text/csv")})
        assert res.status_code == 413
        assert "limit is 1000 bytes" in res.json()["detail_en"]

        def chunks():  # no Content-Length: counted as it streams
            for _ in range(10):
                yield b"y" * 500

        res = client.post(f"{API}/plans", content=chunks(), headers={"content-type": "application/json"})
        assert res.status_code == 413


def test_features_and_vertices_per_request(client, settings_env):
    settings_env(max_features_per_request=2, max_vertices_per_request=50)
    square = [[[120.1, 30.2], [120.2, 30.2], [120.2, 30.3], [120.1, 30.2]]]
    fc = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": square}}] * 3}
    assert count_geojson(fc) == (3, 12)
    res = client.post(f"{API}/plans", json=fc)
    assert res.status_code == 413 and "too many features in one request: 3, the limit is 2" in res.json()["detail_en"]
    ring = [[120 + i / 1000, 30.0] for i in range(60)]
    res = client.post(f"{API}/plans", json={"type": "Feature", "geometry": {"type": "LineString", "coordinates": ring}})
    assert res.status_code == 413 and "too many vertices in one request: 60" in res.json()["detail_en"]
    # Lookups of many points are limited by their own batch cap, and read bodies are counted too.
    assert client.post(f"{API}/grids/lookup", json={"type": "MultiPoint", "coordinates": ring, "points": []}).status_code == 413


def test_if_match():
    assert parse_if_match('"7"') == 7 and parse_if_match('W/"7"') == 7 and parse_if_match("7") == 7 and parse_if_match(None) is None
    with pytest.raises(ValueError, match="lock_version you read"):
        parse_if_match('"abc"')


def test_stale_edit_gets_409_and_nothing_is_overwritten(client, db, tmp_path):
    _load(db, tmp_path)
    plan = plans.create_draft(db, "草案")
    plans.divide_into_draft(db, plan.id)
    db.flush()
    read = plan.lock_version
    plan.name = "renamed by someone else"
    db.flush()
    assert plan.lock_version == read + 1
    with pytest.raises(StaleVersion, match=f"you edited version {read}, it is now version {read + 1}"):
        check_version(plan, read)
    check_version(plan, plan.lock_version)

    res = client.post(f"{API}/plans/{plan.id}/publish", headers={"If-Match": f'"{read}"'})
    assert res.status_code == 409
    assert res.json()["detail_en"].startswith(f"plan {plan.id} was changed by someone else") and res.json()["current"] == read + 1
    db.expire_all()
    assert db.get(type(plan), plan.id).status == "draft"  # nothing published
    assert client.post(f"{API}/plans/{plan.id}/publish", headers={"If-Match": '"x"'}).status_code == 400
    ok = client.post(f"{API}/plans/{plan.id}/publish", headers={"If-Match": f'"{read + 1}"'})
    assert ok.status_code == 200 and ok.json()["status"] == "published"


def _two_versions(db, tmp_path):
    _load(db, tmp_path)
    first = plans.create_draft(db, "v1", from_published=False)
    plans.divide_into_draft(db, first.id)
    plans.publish(db, first.id)
    second = plans.create_draft(db, "v2")
    plans.divide_into_draft(db, second.id, rules=size_rules(500, 800))
    plans.publish(db, second.id)
    return first, second


def _geometry_of(db, plan_id):
    return db.execute(text("SELECT count(*), ST_Area(ST_Union(geom)::geography)::int FROM grids WHERE plan_id = :p"), {"p": plan_id}).one()


def test_rollback_publishes_a_copy_of_an_earlier_version(client, client_as, db, tmp_path):
    first, second = _two_versions(db, tmp_path)
    assert _geometry_of(db, first.id)[0] != _geometry_of(db, second.id)[0]
    assert client_as("planner", districts=["330106"]).post(f"{API}/plans/{first.id}/rollback").status_code == 403
    res = client.post(f"{API}/plans/{first.id}/rollback")
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["version"], body["rolled_back_to"]) == (3, 1)
    db.expire_all()
    statuses = dict(db.execute(text("SELECT id, status FROM grid_plans")).all())
    assert statuses[first.id] == statuses[second.id] == "archived" and statuses[body["id"]] == "published"
    assert _geometry_of(db, body["id"]) == _geometry_of(db, first.id)
    # Codes were settled as for any publication, and the rollback is in the audit log.
    assert db.execute(text("SELECT count(*) FROM grids WHERE plan_id = :p AND code IS NULL"), {"p": body["id"]}).scalar_one() == 0
    audit = db.execute(text("SELECT actor, detail FROM audit_log WHERE action = 'rollback'")).one()
    assert audit.actor == "test-admin" and audit.detail["to_version"] == 1
    # Only archived plans can be rolled back to.
    assert client.post(f"{API}/plans/{body['id']}/rollback").status_code == 409
    assert client.post(f"{API}/plans/424242/rollback").status_code == 404


def test_rollback_cli(committed_db, tmp_path):
    from gridplanner.cli import app
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        _two_versions(s, tmp_path)
    res = CliRunner().invoke(app, ["plans", "rollback", "1"])
    assert res.exit_code == 0, res.output
    assert "published again as plan" in res.output and "version 3" in res.output
    again = CliRunner().invoke(app, ["plans", "rollback", "3"])
    assert again.exit_code == 2 and "only an archived" in again.output


def test_values_the_store_cannot_hold_get_422_not_500(client):
    res = client.get(f"{API}/plans/99999999999")
    assert res.status_code == 422 and "outside what the store accepts" in res.json()["detail_en"]
