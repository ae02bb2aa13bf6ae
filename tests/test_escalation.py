"""吹哨报到: an incident in 派遣/处置 is escalated to the owning departments of admitted grid items; each
department (its own account, its own escalations only) acknowledges then responds; deadlines in working days;
overdue escalations listed; the incident cannot close while a department owes a response."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridplanner.auth.accounts import AccountError, create_user, user_principal
from gridplanner.auth.sessions import COOKIE, open_session
from gridplanner.gridwork import catalogue, escalations
from gridplanner.gridwork.calendar_store import load_calendar
from gridplanner.gridwork.escalation_rules import EscalationPending
from gridplanner.gridwork.workdays import BEIJING, working_deadline
from gridplanner.incidents import lifecycle
from gridplanner.incidents.service import create_incident
from gridplanner.store import models as m
from tests.conftest import _app, count
from tests.test_incidents import IN, staffed_world
from tests.test_open311 import items
from tests.test_staffing import N1

CITY, SAFETY = "城市管理局", "应急管理局"


@pytest.fixture
def world(db, tmp_path):
    staffed_world(db, tmp_path)
    items(db)  # JZ-001 admitted (城市管理局, 3 working days), JZ-002 proposed, JZ-003 exited
    catalogue.propose(db, code="AQ-001", name="消防通道堵塞", department=SAFETY, category="安全隐患", worker_role="发现", time_limit_days=1, actor="规划员")
    catalogue.admit(db, "AQ-001", approved_by="管理员")


def dispatched(db, steps=("受理", "派遣")) -> int:
    lon, lat = IN[N1]
    inc = create_incident(db, lon=lon, lat=lat, category="街面秩序", actor="网格员")
    for s in steps:
        lifecycle.advance(db, inc.id, s, actor="指挥中心")
    return inc.id


@pytest.fixture
def as_department(db):
    """A client logged in with a department account: ``as_department("城市管理局")``."""
    opened = []

    def make(department: str, username: str | None = None):
        user = m.User(username=username or f"dept-{len(opened)}", password_hash="!", role="department", districts=[], active=True, department=department)
        db.add(user)
        db.flush()
        token, _ = open_session(db, user, hours=1)
        c = TestClient(_app(db))
        c.__enter__()
        c.cookies.set(COOKIE, token)
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def whistle(client, incident_id, codes=("JZ-001",), reason="占道经营屡劝不改，需执法", **kw):
    return client.post("/api/v1/escalations", json={"incident_id": incident_id, "item_codes": list(codes), "reason": reason, **kw})


# --- escalating ----------------------------------------------------------------------------------------------


def test_an_incident_is_escalated_to_each_owning_department_with_working_day_deadlines(world, db, client):
    inc = dispatched(db)
    res = whistle(client, inc, codes=["JZ-001", "AQ-001"])
    assert res.status_code == 201, res.text
    rows = {r["department"]: r for r in res.json()}
    assert set(rows) == {CITY, SAFETY} and all(r["status"] == "whistled" and r["escalated_by"] == "test-admin" for r in rows.values())
    cal = load_calendar(db)
    city = rows[CITY]
    esc = db.get(m.Escalation, city["id"])
    assert esc.ack_due_at == working_deadline(esc.escalated_at, 1, cal)
    assert esc.respond_due_at == working_deadline(esc.escalated_at, 3, cal)  # JZ-001's time_limit_days
    assert db.get(m.Escalation, rows[SAFETY]["id"]).respond_due_at == working_deadline(esc.escalated_at, 1, cal)
    assert [e["step"] for e in city["events"]] == ["whistled"] and city["events"][0]["note"] == "占道经营屡劝不改，需执法"
    assert count(db, "audit_log WHERE action = 'escalate'") == 2
    # ack_days may be given; 1 … 30.
    other = dispatched(db)
    res = whistle(client, other, ack_days=2)
    esc2 = db.get(m.Escalation, res.json()[0]["id"])
    assert esc2.ack_due_at == working_deadline(esc2.escalated_at, 2, cal)
    assert whistle(client, dispatched(db), ack_days=0).status_code == 422


def test_escalating_is_allowed_while_the_incident_is_dispatched_or_being_handled(world, db, client):
    assert whistle(client, dispatched(db, ("受理", "派遣", "处置"))).status_code == 201
    for steps, now in ((("受理",), "受理"), (("受理", "派遣", "处置", "核查"), "核查")):
        res = whistle(client, dispatched(db, steps))
        assert res.status_code == 409 and f"处于{now}" in res.json()["detail"] and "派遣 or 处置" in res.json()["detail_en"]
    assert whistle(client, 999999).status_code == 404


@pytest.mark.parametrize("codes,status,fragment", [
    (["JZ-002"], 409, "尚未准入"),
    (["JZ-001", "JZ-003"], 409, "已退出网格事项清单"),  # one bad item: nothing is written for the good one either
    (["NOPE"], 404, "没有事项 NOPE"),
    (["JZ-001", "JZ-001"], 422, "事项重复"),
    ([], 422, None),
])
def test_only_admitted_items_name_departments_and_nothing_is_half_written(world, db, client, codes, status, fragment):
    res = whistle(client, dispatched(db), codes=codes)
    assert res.status_code == status, res.text
    if fragment:
        assert fragment in res.json()["detail"]
    assert count(db, "escalations") == 0 and count(db, "escalation_events") == 0


def test_one_department_is_escalated_to_once_at_a_time(world, db, client):
    catalogue.propose(db, code="JZ-009", name="乱搭乱建", department=CITY, category="市容环境", worker_role="上报", time_limit_days=5, actor="x")
    catalogue.admit(db, "JZ-009", approved_by="管理员")
    inc = dispatched(db)
    res = whistle(client, inc, codes=["JZ-001", "JZ-009"])
    assert res.status_code == 422 and "同一部门" in res.json()["detail"]
    assert whistle(client, inc).status_code == 201
    res = whistle(client, inc, codes=["JZ-009"])
    assert res.status_code == 409 and "已向城市管理局吹哨" in res.json()["detail"]
    assert whistle(client, inc, reason="  ").status_code == 422


def test_who_may_escalate(world, db, client_as, api_key_client, as_department):
    inc = dispatched(db)
    assert whistle(client_as("viewer"), inc).status_code == 403
    assert whistle(as_department(CITY), inc).status_code == 403
    assert whistle(api_key_client("read"), inc).status_code == 403
    res = whistle(client_as("planner", districts=["330108"]), inc)
    assert res.status_code == 403 and "330108" in res.json()["detail"]
    assert whistle(client_as("planner", districts=["330106"]), inc).status_code == 201
    assert count(db, "escalations") == 1


# --- the department's steps ---------------------------------------------------------------------------------


def test_the_department_acknowledges_then_responds_every_step_recorded(world, db, client, as_department):
    inc = dispatched(db)
    city_id, safety_id = (r["id"] for r in sorted(whistle(client, inc, codes=["JZ-001", "AQ-001"]).json(), key=lambda r: r["department"] != CITY))
    city = as_department(CITY, "城管局值班")
    res = city.post(f"/api/v1/escalations/{city_id}/respond", json={"note": "已处理"})
    assert res.status_code == 409 and "须先报到再反馈" in res.json()["detail"]
    res = city.post(f"/api/v1/escalations/{city_id}/acknowledge", json={"note": "执法中队下午到场"})
    assert res.status_code == 200 and res.json()["status"] == "acknowledged" and res.json()["acknowledged_by"] == "城管局值班"
    assert city.post(f"/api/v1/escalations/{city_id}/acknowledge").status_code == 409
    assert city.post(f"/api/v1/escalations/{city_id}/respond", json={"note": ""}).status_code == 422
    res = city.post(f"/api/v1/escalations/{city_id}/respond", json={"note": "已取缔流动摊点，并纳入日常巡查"})
    body = res.json()
    assert res.status_code == 200 and (body["status"], body["response"], body["responded_by"]) == ("responded", "已取缔流动摊点，并纳入日常巡查", "城管局值班")
    assert [(e["step"], e["actor"]) for e in body["events"]] == [("whistled", "test-admin"), ("acknowledged", "城管局值班"), ("responded", "城管局值班")]
    assert body["events"][0]["at"] <= body["events"][1]["at"] <= body["events"][2]["at"]
    assert city.post(f"/api/v1/escalations/{city_id}/respond", json={"note": "again"}).status_code == 409
    assert count(db, "audit_log WHERE action IN ('acknowledge escalation', 'respond to escalation') AND actor = '城管局值班'") == 2
    # Another department's escalation: neither seen nor acted on; an admin does not report for a department.
    assert city.get(f"/api/v1/escalations/{safety_id}").status_code == 403
    assert city.post(f"/api/v1/escalations/{safety_id}/acknowledge").status_code == 403
    assert client.post(f"/api/v1/escalations/{safety_id}/acknowledge").status_code == 403
    assert city.get("/api/v1/escalations/999999").status_code == 404
    assert db.get(m.Escalation, safety_id).status == "whistled"
    # A department account writes nothing else.
    assert city.post("/api/v1/incidents", json={"lon": 120.1, "lat": 30.27, "category": "市容环境"}).status_code == 403


def test_the_incident_cannot_close_while_a_department_owes_a_response(world, db, client, as_department):
    inc = dispatched(db)
    esc_id = whistle(client, inc).json()[0]["id"]
    for step in ("处置", "核查"):
        assert client.post(f"/api/v1/incidents/{inc}/transitions", json={"to": step, "actor": "指挥中心"}).status_code == 200
    res = client.post(f"/api/v1/incidents/{inc}/transitions", json={"to": "结案", "actor": "指挥中心"})
    assert res.status_code == 409 and "城市管理局" in res.json()["detail"] and "not responded" in res.json()["detail_en"]
    assert db.get(m.Incident, inc).status == "核查" and count(db, f"incident_events WHERE incident_id = {inc} AND to_status = '结案'") == 0
    with pytest.raises(EscalationPending):
        lifecycle.advance(db, inc, "结案", actor="x")
    city = as_department(CITY)
    city.post(f"/api/v1/escalations/{esc_id}/acknowledge")
    assert escalations.unanswered_departments(db, inc) == [CITY]
    city.post(f"/api/v1/escalations/{esc_id}/respond", json={"note": "已处理"})
    assert escalations.unanswered_departments(db, inc) == []
    res = client.post(f"/api/v1/incidents/{inc}/transitions", json={"to": "结案", "actor": "指挥中心"})
    assert res.status_code == 200 and res.json()["status"] == "结案"
    # A closed incident is escalated no more.
    assert whistle(client, inc, codes=["AQ-001"]).status_code == 409


# --- listing and overdue ------------------------------------------------------------------------------------


def test_overdue_escalations_are_flagged_and_listed(world, db, client, as_department, client_as):
    late_ack, late_answer, on_time = (whistle(client, dispatched(db)).json()[0]["id"] for _ in range(3))
    safety = whistle(client, dispatched(db), codes=["AQ-001"]).json()[0]["id"]
    city = as_department(CITY)
    city.post(f"/api/v1/escalations/{late_answer}/acknowledge")
    # Time passes: the 报到 limit of one, the response limit of another.
    db.execute(text("UPDATE escalations SET ack_due_at = now() - interval '1 hour', respond_due_at = now() + interval '1 day' WHERE id = :i"), {"i": late_ack})
    db.execute(text("UPDATE escalations SET ack_due_at = now() - interval '2 day', respond_due_at = now() - interval '1 hour' WHERE id = :i"), {"i": late_answer})
    db.execute(text("UPDATE escalations SET ack_due_at = now() - interval '2 day', respond_due_at = now() - interval '1 hour' WHERE id = :i"), {"i": safety})
    res = client.get("/api/v1/escalations", params={"overdue": "true"})
    listed = {r["id"]: r for r in res.json()["items"]}
    assert res.status_code == 200 and set(listed) == {late_ack, late_answer, safety} and res.json()["total"] == 3
    assert (listed[late_ack]["ack_overdue"], listed[late_ack]["response_overdue"]) == (True, False)
    assert (listed[late_answer]["ack_overdue"], listed[late_answer]["response_overdue"]) == (False, True)
    assert [r["id"] for r in client.get("/api/v1/escalations", params={"overdue": "false"}).json()["items"]] == [on_time]
    assert {r["id"] for r in client.get("/api/v1/escalations", params={"status": "acknowledged"}).json()["items"]} == {late_answer}
    assert client.get("/api/v1/escalations", params={"status": "lost"}).status_code == 422
    # A department sees its own only, whatever it asks for; a viewer reads all; staff none.
    mine = city.get("/api/v1/escalations", params={"overdue": "true", "department": SAFETY}).json()
    assert {r["id"] for r in mine["items"]} == {late_ack, late_answer}
    assert client_as("viewer").get("/api/v1/escalations").json()["total"] == 4
    assert client.get("/api/v1/escalations", params={"department": SAFETY}).json()["total"] == 1
    # Once answered, an escalation is chased no more.
    city.post(f"/api/v1/escalations/{late_answer}/respond", json={"note": "done"})
    assert late_answer not in {r["id"] for r in client.get("/api/v1/escalations", params={"overdue": "true"}).json()["items"]}


# --- department accounts -----------------------------------------------------------------------------------


def test_a_department_account_is_tied_to_a_department_of_the_catalogue(world, db):
    user = create_user(db, "chengguan", "password-1", "department", department=CITY)
    assert user_principal(user).department == CITY and user_principal(user).role == "department"
    with pytest.raises(AccountError, match="needs --department"):
        create_user(db, "nobody", "password-1", "department")
    with pytest.raises(AccountError, match="only a department account"):
        create_user(db, "viewer2", "password-1", "viewer", department=CITY)
    with pytest.raises(AccountError, match="城市管里局"):
        create_user(db, "typo", "password-1", "department", department="城市管里局")
    with pytest.raises(Exception, match="user_department_link"):
        db.execute(text("INSERT INTO users (username, password_hash, role, districts, active) VALUES ('raw', '!', 'department', '{}', true)"))


def test_deadlines_step_over_holidays(world, db):
    inc = dispatched(db)
    today = db.execute(text("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")).scalar_one()
    off = [d for d in (today + timedelta(days=i) for i in range(1, 15)) if d.weekday() < 5][:3]
    db.execute(text("INSERT INTO calendar_days (day, kind) SELECT unnest(CAST(:d AS date[])), 'holiday'"), {"d": off})
    esc = escalations.escalate(db, inc, item_codes=["JZ-001"], reason="r", actor="a")[0]
    # One working day from today: past the three weekdays off.
    assert esc["ack_due_at"].astimezone(BEIJING).date() > off[-1]


# --- demo and CLI -------------------------------------------------------------------------------------------


def test_the_demo_shows_every_state_of_an_escalation(world, db):
    from gridplanner.gridwork.sample import load_sample_escalations

    ids = [dispatched(db) for _ in range(3)]
    assert load_sample_escalations(db) == 3
    rows = db.execute(text("SELECT incident_id, department, status FROM escalations ORDER BY incident_id")).all()
    assert [tuple(r) for r in rows] == [(ids[0], CITY, "responded"), (ids[1], CITY, "acknowledged"), (ids[2], CITY, "whistled")]
    assert (db.get(m.Incident, ids[0]).status, db.get(m.Incident, ids[0]).satisfaction) == ("评价", 4)
    assert db.execute(text("SELECT department FROM users WHERE username = 'chengguan' AND role = 'department'")).scalar_one() == CITY
    assert load_sample_escalations(db) == 0 and count(db, "escalations") == 3


def test_cli_raise_and_list(committed_db):
    from sqlalchemy.orm import Session
    from typer.testing import CliRunner

    from gridplanner.cli import app

    with Session(committed_db) as s:
        catalogue.propose(s, code="JZ-001", name="占道经营", department=CITY, category="街面秩序", worker_role="发现", time_limit_days=3, actor="x")
        catalogue.admit(s, "JZ-001", approved_by="管理员")
        inc = create_incident(s, lon=120.13, lat=30.28, category="街面秩序", actor="x")
        for step in ("受理", "派遣"):
            lifecycle.advance(s, inc.id, step, actor="x")
        s.commit()
        inc_id = inc.id
    runner = CliRunner()
    res = runner.invoke(app, ["escalations", "raise", str(inc_id), "--item", "JZ-001", "--reason", "需执法", "--by", "指挥中心"])
    assert res.exit_code == 0 and "城市管理局" in res.output, res.output
    res = runner.invoke(app, ["escalations", "raise", str(inc_id), "--item", "JZ-001", "--reason", "需执法", "--by", "指挥中心"])
    assert res.exit_code == 2 and "已向城市管理局吹哨" in res.output
    assert "1 条吹哨" in runner.invoke(app, ["escalations", "list"]).output
    assert "0 条吹哨" in runner.invoke(app, ["escalations", "list", "--overdue"]).output


def test_a_department_account_reads_its_escalations_and_nothing_of_the_countys(world, db, client, as_department):
    inc = dispatched(db)
    esc = whistle(client, inc).json()[0]
    city = as_department(CITY)
    body = city.get(f"/api/v1/escalations/{esc['id']}").json()
    # What the department needs to go there comes with the escalation.
    assert (body["category"], body["incident_status"], body["grid_code"]) == ("街面秩序", "派遣", N1) and 120 < body["lon"] < 121 and 30 < body["lat"] < 31
    assert city.get("/api/v1/grid-items").status_code == 200 and city.get("/api/v1/auth/me").json()["role"] == "department"
    for path in (f"/api/v1/incidents/{inc}", "/api/v1/incidents", "/api/v1/staff", "/api/v1/assessment?month=2026-11", "/open311/v2/requests.json"):
        assert city.get(path).status_code in (403,), path
