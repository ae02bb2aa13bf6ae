"""Accounts, sessions, API keys and who may do what (docs/security.md)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from gridplanner import auth, plans
from gridplanner.api import security
from gridplanner.auth.accounts import AccountError, authenticate, create_key, create_user, ensure_demo_accounts, revoke_key, sha256
from gridplanner.store import models as m
from tests.test_plans import _load

API = "/api/v1"


def test_login_sets_an_httponly_session_cookie_and_me_answers(anon_client, db):
    create_user(db, "lin", "correct horse", "planner", ["330106"])
    res = anon_client.post(f"{API}/auth/login", json={"username": "lin", "password": "correct horse"})
    assert res.status_code == 200
    assert res.json() == {"username": "lin", "role": "planner", "districts": ["330106"]}
    cookie = res.headers["set-cookie"]
    assert cookie.startswith("gp_session=") and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    # The table holds the hash of the token, never the token.
    token = res.cookies["gp_session"]
    assert db.get(m.UserSession, sha256(token)) is not None
    assert db.execute(select(m.UserSession.token_hash).where(m.UserSession.token_hash == token)).first() is None
    assert anon_client.get(f"{API}/auth/me").json()["username"] == "lin"
    assert anon_client.post(f"{API}/auth/logout").status_code == 204
    anon_client.cookies.set("gp_session", token)  # a client that kept the old cookie
    assert anon_client.get(f"{API}/auth/me").status_code == 401


def test_bad_credentials_get_the_same_401_for_unknown_user_and_wrong_password(anon_client, db):
    create_user(db, "lin", "correct horse", "viewer")
    wrong = anon_client.post(f"{API}/auth/login", json={"username": "lin", "password": "wrong horse"})
    unknown = anon_client.post(f"{API}/auth/login", json={"username": "nobody", "password": "correct horse"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "用户名或密码错误", "detail_en": "wrong user name or password"}
    assert "set-cookie" not in wrong.headers


def test_passwords_are_argon2_and_disabled_accounts_cannot_log_in(db):
    user = create_user(db, "wang", "s3cret-pass", "viewer")
    assert user.password_hash.startswith("$argon2id$") and "s3cret" not in user.password_hash
    assert authenticate(db, "wang", "s3cret-pass") is not None
    auth.accounts.disable_user(db, "wang")
    assert authenticate(db, "wang", "s3cret-pass") is None
    with pytest.raises(ValueError, match="at least 8"):
        create_user(db, "short", "abc", "viewer")
    with pytest.raises(AccountError, match="needs at least one district"):
        create_user(db, "p", "long enough", "planner")
    with pytest.raises(AccountError, match="6 digits"):
        create_user(db, "p", "long enough", "planner", ["3301"])


@pytest.mark.parametrize("path", ["/plans", "/districts", "/grids/lookup?lon=120.1&lat=30.2", "/tiles/grids/12/3431/1673.pbf", "/collections", "/incidents", "/staff", "/auth/me"])
def test_everything_but_health_and_docs_needs_authentication(anon_client, path):
    res = anon_client.get(API + path)
    assert res.status_code == 401, (path, res.status_code)
    assert "log in" in res.json()["detail_en"]


def test_health_docs_openapi_and_login_are_public(anon_client):
    assert anon_client.get(f"{API}/health").status_code in (200, 503)
    assert anon_client.get("/docs").status_code == 200
    spec = anon_client.get("/openapi.json").json()
    assert "/api/v1/auth/login" in spec["paths"]
    assert anon_client.post(f"{API}/auth/login", json={"username": "x", "password": "y"}).status_code == 401


def test_viewer_reads_but_never_writes(client_as):
    viewer = client_as("viewer")
    assert viewer.get(f"{API}/plans").status_code == 200
    res = viewer.post(f"{API}/plans", json={"name": "草案"})
    assert res.status_code == 403 and "read-only" in res.json()["detail_en"]
    assert viewer.post(f"{API}/staff", json={}).status_code == 403


def test_planner_edits_drafts_of_its_own_district_only(client_as, client, db, tmp_path):
    _load(db, tmp_path)  # communities 330106001001 and 330106001002
    mine = client_as("planner", districts=["330106"])
    other = client_as("planner", districts=["330102"])
    pid = mine.post(f"{API}/plans", json={"name": "草案", "from_published": False}).json()["id"]

    res = other.post(f"{API}/plans/{pid}/divide", json={"communities": ["330106001001"]})
    assert res.status_code == 403
    assert "may not edit district 330106" in res.json()["detail_en"] and "330102" in res.json()["detail_en"]
    everything = mine.post(f"{API}/plans/{pid}/divide", json={})
    assert everything.status_code == 403 and "must name the communities" in everything.json()["detail_en"]
    # Publishing and merging are for admins.
    assert mine.post(f"{API}/plans/{pid}/publish").status_code == 403
    assert mine.post(f"{API}/plans/{pid}/merge", json={}).status_code == 403
    # Staff and incidents are changed by admins only.
    assert mine.post(f"{API}/staff", json={}).status_code == 403
    # The admin is not refused by the policy (the handler answers: no grids yet).
    assert client.post(f"{API}/plans/{pid}/publish").status_code == 409


def test_require_write_for_district():
    planner = auth.Principal(kind="user", name="p", role="planner", districts=("330106",))
    security.require_write_for_district(planner, "330106")
    security.require_write_for_district(planner, "330106001001")  # a community code names its district
    for who, district in [(planner, "330102"), (auth.Principal(kind="key", name="key:1", scopes=("read",)), "330106"), (auth.Principal(kind="user", name="v", role="viewer"), "330106")]:
        with pytest.raises(Exception) as err:
            security.require_write_for_district(who, district)
        assert err.value.status_code == 403
    security.require_write_for_district(auth.Principal(kind="user", name="a", role="admin"), "110101")


def test_lookup_key_calls_lookups_only_and_no_key_writes(api_key_client):
    lookup = api_key_client("lookup")
    res = lookup.get(f"{API}/grids/lookup", params={"lon": 120.1, "lat": 30.27})
    assert res.status_code == 404 and res.json()["detail_en"].startswith("no published plan")  # past the gate
    assert lookup.post(f"{API}/grids/lookup", json={"points": [{"lon": 120.1, "lat": 30.27}]}).status_code == 404
    assert lookup.get(f"{API}/codes/330106001001001/decode").status_code in (200, 422)
    denied = lookup.get(f"{API}/plans")
    assert denied.status_code == 403 and "lookups only" in denied.json()["detail_en"]
    assert lookup.get(f"{API}/tiles/grids/12/3431/1673.pbf").status_code == 403

    reader = api_key_client("read")
    assert reader.get(f"{API}/plans").status_code == 200
    for method, path in [("post", "/plans"), ("post", "/staff"), ("post", "/incidents"), ("delete", "/staff/1"), ("post", "/plans/1/rollback")]:
        res = getattr(reader, method)(API + path, **({"json": {"name": "x"}} if method == "post" else {}))
        assert res.status_code == 403, (method, path, res.status_code)
        assert "read-only" in res.json()["detail_en"]


def test_revoked_and_unknown_keys_get_401(anon_client, db):
    key, token = create_key(db, "12345 hotline", ["lookup"])
    assert key.key_hash == sha256(token) and token not in (key.key_hash, key.prefix)
    ok = anon_client.get(f"{API}/codes/330106001001001/decode", headers={"X-API-Key": token})
    assert ok.status_code != 401
    revoke_key(db, key.id)
    res = anon_client.get(f"{API}/codes/330106001001001/decode", headers={"X-API-Key": token})
    assert res.status_code == 401 and res.json()["detail_en"] == "invalid or revoked API key"
    assert anon_client.get(f"{API}/plans", headers={"X-API-Key": "gpk_guess"}).status_code == 401
    with pytest.raises(AccountError, match="keys never write"):
        create_key(db, "x", ["write"])


def test_every_write_is_audited_with_its_actor_in_its_own_transaction(committed_db):
    """With the real per-request session: a write commits its audit row, a refused write leaves none."""
    from fastapi.testclient import TestClient

    from gridplanner.api.app import create_app
    from gridplanner.store.database import session_scope
    from tests.conftest import login_as

    with TestClient(create_app()) as client:
        with session_scope() as s:
            login_as(s, client, "chen", "admin")
        pid = client.post(f"{API}/plans", json={"name": "审计"}).json()["id"]
        assert client.post(f"{API}/plans/{pid}/publish").status_code == 409  # no grids: refused
    with session_scope() as s:
        rows = [tuple(r) for r in s.execute(text("SELECT actor, action, entity, entity_id FROM audit_log ORDER BY id"))]
    assert ("chen", "POST /api/v1/plans", "plans", None) in rows
    assert not [r for r in rows if "publish" in r[1]]


def test_demo_accounts(db, monkeypatch):
    monkeypatch.delenv("GRIDPLANNER_DEMO_PASSWORD", raising=False)
    assert ensure_demo_accounts(db) == {"admin": "gridplanner-demo", "planner": "gridplanner-demo", "viewer": "gridplanner-demo"}
    assert ensure_demo_accounts(db)  # idempotent
    planner = authenticate(db, "planner", "gridplanner-demo")
    assert (planner.role, planner.districts) == ("planner", ["330106"])


def test_users_cli(committed_db):
    from gridplanner.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["users", "add", "zhao", "--role", "planner", "--district", "330106", "--password", "long password"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["users", "add", "zhao", "--role", "viewer", "--password", "long password"])
    assert res.exit_code == 2 and "exists already" in res.output
    res = runner.invoke(app, ["users", "add", "qian", "--role", "viewer"], input="pass word 1\npass word 1\n")
    assert res.exit_code == 0, res.output
    key = runner.invoke(app, ["users", "key", "create", "hotline", "--scope", "lookup"])
    assert key.exit_code == 0, key.output
    token = key.stdout.strip().splitlines()[-1]
    assert token.startswith("gpk_")
    key_id = re.search(r"key (\d+) for hotline", key.output).group(1)
    listing = runner.invoke(app, ["users", "list"])
    assert "zhao" in listing.output and "330106" in listing.output and "hotline" in listing.output and token not in listing.output
    assert runner.invoke(app, ["users", "passwd", "zhao", "--password", "another one"]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "zhao"]).exit_code == 0
    assert runner.invoke(app, ["users", "key", "revoke", key_id]).exit_code == 0
    again = runner.invoke(app, ["users", "key", "revoke", key_id])
    assert again.exit_code == 2 and f"no active API key {key_id}" in again.output
