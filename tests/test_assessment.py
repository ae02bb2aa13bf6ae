"""响应评价: per department, street, community and grid for a month — acknowledged on time, closed on time
(decided cases only), reopened, satisfaction from the 1-5 score at 评价, mean hours per step — ranked, as JSON
and XLSX. The cases are made through the lifecycle and the escalation steps; their times are then set to a
planned November (inside one test transaction every now() is the same instant)."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from sqlalchemy import text

from gridplanner.gridwork import assessment, catalogue, escalations
from gridplanner.gridwork.assessment import AssessmentError
from gridplanner.incidents import lifecycle
from gridplanner.incidents.service import create_incident
from gridplanner.store import models as m
from tests.test_escalation import CITY, SAFETY, as_department  # noqa: F401  (fixture)
from tests.test_incidents import IN, staffed_world
from tests.test_open311 import items
from tests.test_staffing import C1, C2, N1, S2

BJ = "+08:00"
AT_DEC_1 = datetime.fromisoformat("2026-12-01T00:00:00+08:00")


def t(s: str) -> datetime:
    return datetime.fromisoformat(f"2026-{s}{BJ}")


def case(db, grid, steps, times, *, due, score=None, escalate=None):
    """An incident at ``grid`` taken through ``steps`` (the 上报 event first in ``times``); ``escalate``:
    (item, [escalated, ack due, respond due, acknowledged or None, responded or None]) raised after 派遣."""
    lon, lat = IN[grid]
    inc = create_incident(db, lon=lon, lat=lat, category="街面秩序", actor="网格员")
    esc_id = None
    for step in steps:
        if step == "结案" and esc_id is not None:
            esc = db.get(m.Escalation, esc_id)
            escalations.act(db, esc_id, "acknowledged", department=esc.department, actor="dept")
            escalations.act(db, esc_id, "responded", department=esc.department, actor="dept", note="已处理")
        lifecycle.advance(db, inc.id, step, actor="x", score=score if step == "评价" else None)
        if step == "派遣" and escalate:
            esc_id = escalations.escalate(db, inc.id, item_codes=[escalate[0]], reason="需部门处置", actor="指挥中心")[0]["id"]
    ids = db.execute(text("SELECT id FROM incident_events WHERE incident_id = :i ORDER BY id"), {"i": inc.id}).scalars().all()
    assert len(ids) == len(times)
    for ev, at in zip(ids, times):
        db.execute(text("UPDATE incident_events SET at = :a WHERE id = :e"), {"a": t(at), "e": ev})
    closed = times[steps.index("结案") + 1] if "结案" in steps else None
    db.execute(text("UPDATE incidents SET reported_at = :r, due_at = :d, closed_at = :c WHERE id = :i"),
               {"r": t(times[0]), "d": t(due), "c": t(closed) if closed else None, "i": inc.id})
    if escalate:
        e_at, ack_due, resp_due, acked, responded = escalate[1]
        if acked is None:
            db.execute(text("UPDATE escalations SET status = 'whistled', acknowledged_at = NULL, acknowledged_by = NULL WHERE id = :e"), {"e": esc_id})
        db.execute(text("""UPDATE escalations SET escalated_at = :a, ack_due_at = :ad, respond_due_at = :rd,
                                  acknowledged_at = COALESCE(CAST(:k AS timestamptz), acknowledged_at), responded_at = COALESCE(CAST(:r AS timestamptz), responded_at) WHERE id = :e"""),
                   {"a": t(e_at), "ad": t(ack_due), "rd": t(resp_due), "k": t(acked) if acked else None, "r": t(responded) if responded else None, "e": esc_id})
    return inc.id


FULL = ["受理", "派遣", "处置", "核查", "结案", "评价"]


@pytest.fixture
def november(db, tmp_path):
    staffed_world(db, tmp_path)
    items(db)  # JZ-001: 城市管理局
    catalogue.propose(db, code="AQ-001", name="消防通道堵塞", department=SAFETY, category="安全隐患", worker_role="发现", time_limit_days=1, actor="x")
    catalogue.admit(db, "AQ-001", approved_by="管理员")
    # A: N1, closed on time, scored 5; 城管 acknowledged and answered on time.
    case(db, N1, FULL, ["11-02T09:00", "11-02T10:00", "11-02T11:00", "11-03T11:00", "11-04T11:00", "11-04T12:00", "11-05T09:00"], due="11-05T11:00", score=5,
         escalate=("JZ-001", ["11-02T12:00", "11-03T12:00", "11-05T12:00", "11-03T09:00", "11-04T10:00"]))
    # B: N1, sent back from 核查 once, closed late, scored 2; 城管 reported for duty late, answered on time.
    case(db, N1, ["受理", "派遣", "处置", "核查", "处置", "核查", "结案", "评价"],
         ["11-10T09:00", "11-10T11:00", "11-10T12:00", "11-11T09:00", "11-11T10:00", "11-11T15:00", "11-12T08:00", "11-12T12:00", "11-13T09:00"], due="11-11T12:00", score=2,
         escalate=("JZ-001", ["11-10T13:00", "11-11T13:00", "11-13T13:00", "11-12T09:00", "11-12T10:00"]))
    # C: S2, still being handled past its due time; 应急管理局 never reported for duty.
    case(db, S2, ["受理", "派遣", "处置"], ["11-20T09:00", "11-20T10:00", "11-20T11:00", "11-20T15:00"], due="11-21T11:00",
         escalate=("AQ-001", ["11-20T12:00", "11-21T12:00", "11-22T12:00", None, None]))
    # E: S2, dispatched, due after the assessment's moment: neither on time nor late yet.
    case(db, S2, ["受理", "派遣"], ["11-25T09:00", "11-25T10:00", "11-25T12:00"], due="12-05T12:00")
    # D: S2, reported in October: not November's.
    case(db, S2, ["受理"], ["10-30T09:00", "10-30T10:00"], due="10-31T10:00")


def rows_by_key(table):
    return {r["key"]: r for r in table["rows"]}


def test_per_grid_the_months_cases_counted_and_ranked(november, db):
    table = assessment.assess(db, "2026-11", "grid", now=AT_DEC_1)
    rows = rows_by_key(table)
    assert list(rows) == [N1, S2]
    n1, s2 = rows[N1], rows[S2]
    assert (n1["rank"], n1["incidents"], n1["closed"], n1["closed_on_time"], n1["closed_decided"], n1["closed_on_time_rate"]) == (1, 2, 2, 1, 2, 0.5)
    assert (n1["reopened"], n1["rated"], n1["satisfaction"]) == (1, 2, 3.5)
    assert (n1["escalations"], n1["acknowledged_on_time"], n1["ack_decided"], n1["responded_on_time"], n1["on_time_rate"]) == (2, 1, 2, 2, 0.5)
    assert (n1["hours_to_acknowledge"], n1["hours_to_respond"]) == (32.5, 13.0)  # (21 + 44) / 2, (25 + 1) / 2
    assert n1["step_hours"]["受理"] == 1.5 and n1["step_hours"]["派遣"] == 1.0 and n1["step_hours"]["评价"] == 21.0  # (21 + 21) / 2
    # C is decided (open past due), E not yet: S2 has 2 incidents, 1 decided, none on time; its escalation is late.
    assert (s2["rank"], s2["incidents"], s2["closed"], s2["closed_decided"], s2["closed_on_time_rate"]) == (2, 2, 0, 1, 0.0)
    assert (s2["escalations"], s2["ack_decided"], s2["ack_on_time_rate"], s2["on_time_rate"], s2["satisfaction"], s2["rated"]) == (1, 1, 0.0, 0.0, None, 0)
    # October holds D only.
    assert [(r["key"], r["incidents"], r["escalations"]) for r in assessment.assess(db, "2026-10", "grid", now=AT_DEC_1)["rows"]] == [(S2, 1, 0)]
    assert assessment.assess(db, "2026-09", "grid", now=AT_DEC_1)["rows"] == []


def test_a_case_within_its_limit_is_not_yet_late(november, db):
    # On 21 November 10:00, C is still within its limit and its escalation's 报到 too: S2 has nothing decided.
    s2 = rows_by_key(assessment.assess(db, "2026-11", "grid", now=t("11-21T10:00")))[S2]
    assert (s2["closed_decided"], s2["ack_decided"], s2["on_time_rate"]) == (0, 0, None)


def test_per_department_street_and_community(november, db):
    deps = rows_by_key(assessment.assess(db, "2026-11", "department", now=AT_DEC_1))
    assert list(deps) == [CITY, SAFETY]
    assert (deps[CITY]["rank"], deps[CITY]["escalations"], deps[CITY]["incidents"], deps[CITY]["on_time_rate"], deps[CITY]["satisfaction"]) == (1, 2, 2, 0.5, 3.5)
    assert (deps[SAFETY]["rank"], deps[SAFETY]["escalations"], deps[SAFETY]["incidents"], deps[SAFETY]["ack_on_time_rate"]) == (2, 1, 1, 0.0)
    street = assessment.assess(db, "2026-11", "street", now=AT_DEC_1)["rows"]
    assert [(r["key"], r["incidents"], r["escalations"], r["on_time_rate"]) for r in street] == [("330106001", 4, 3, round(2 / 6, 4))]
    comm = rows_by_key(assessment.assess(db, "2026-11", "community", now=AT_DEC_1))
    assert (comm[C1]["rank"], comm[C1]["incidents"], comm[C2]["rank"], comm[C2]["incidents"]) == (1, 2, 2, 2)


def test_equal_figures_share_a_rank(november, db):
    # Everything decided on time in both grids: N1 4 of 4, S2 2 of 2 (C closed at its due time, E still undecided).
    db.execute(text("UPDATE incidents SET due_at = closed_at WHERE grid_code = :g AND closed_at IS NOT NULL"), {"g": N1})
    db.execute(text("UPDATE escalations SET acknowledged_at = ack_due_at, status = 'acknowledged', acknowledged_by = 'x'"))
    db.execute(text("UPDATE incidents SET closed_at = due_at WHERE grid_code = :g AND due_at < '2026-11-30'"), {"g": S2})
    rows = assessment.assess(db, "2026-11", "grid", now=AT_DEC_1)["rows"]
    # N1: 4/4; S2: 2/2 — equal on-time rates, then satisfaction (N1 scored, S2 not) breaks the tie.
    assert [(r["key"], r["rank"], r["on_time_rate"]) for r in rows] == [(N1, 1, 1.0), (S2, 2, 1.0)]
    db.execute(text("UPDATE incidents SET satisfaction = NULL"))
    assert [r["rank"] for r in assessment.assess(db, "2026-11", "grid", now=AT_DEC_1)["rows"]] == [1, 1]


@pytest.mark.parametrize("month,by", [("2026-13", "grid"), ("26-11", "grid"), ("2026-11", "district")])
def test_a_bad_month_or_grouping_is_refused(db, month, by):
    with pytest.raises(AssessmentError):
        assessment.assess(db, month, by)


# --- the API and the workbook -------------------------------------------------------------------------------


def test_the_api_answers_json_with_the_ranking_and_xlsx(november, db, client):
    res = client.get("/api/v1/assessment", params={"month": "2026-11", "by": "grid"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["month"], body["by"], body["from"][:10], body["to"][:10]) == ("2026-11", "grid", "2026-11-01", "2026-12-01")
    assert [r["key"] for r in body["rows"]][0] == N1 and body["rows"][0]["rank"] == 1 and body["rows"][0]["satisfaction"] == 3.5
    assert client.get("/api/v1/assessment", params={"month": "2026-11"}).json()["by"] == "department"
    res = client.get("/api/v1/assessment/export", params={"month": "2026-11", "by": "department"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/vnd.openxmlformats")
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(res.content)).active
    sheet = [list(r) for r in ws.iter_rows(values_only=True)]
    assert sheet[0][:3] == ["排名", "部门", "综合按时率"] and "满意度（1-5）" in sheet[0] and "受理平均用时（小时）" in sheet[0]
    assert [r[:3] for r in sheet[1:]] == [[1, CITY, 0.5], [2, SAFETY, 0.0]]
    assert sheet[1][sheet[0].index("满意度（1-5）")] == 3.5 and sheet[1][sheet[0].index("返工数")] == 1


def test_who_may_read_the_assessment_and_bad_parameters(november, db, client, client_as, as_department):
    ok = {"month": "2026-11", "by": "grid"}
    assert client_as("viewer").get("/api/v1/assessment", params=ok).status_code == 200
    assert client_as("planner", districts=["330106"]).get("/api/v1/assessment/export", params=ok).status_code == 200
    assert as_department(CITY).get("/api/v1/assessment", params=ok).status_code == 403
    res = client.get("/api/v1/assessment", params={"month": "2026-13"})
    assert res.status_code == 422 and "YYYY-MM" in res.json()["detail"]
    assert client.get("/api/v1/assessment", params={"month": "2026-11", "by": "district"}).status_code == 422
    assert client.get("/api/v1/assessment").status_code == 422


# --- the score at 评价 ---------------------------------------------------------------------------------------


def test_the_residents_score_is_given_at_evaluation_only(db, client, tmp_path):
    staffed_world(db, tmp_path)
    lon, lat = IN[N1]
    inc = create_incident(db, lon=lon, lat=lat, category="街面秩序", actor="x").id
    go = lambda to, **kw: client.post(f"/api/v1/incidents/{inc}/transitions", json={"to": to, "actor": "x", **kw})  # noqa: E731
    for step in ("受理", "派遣", "处置", "核查"):
        go(step)
    res = go("结案", score=4)
    assert res.status_code == 422 and "评价" in res.json()["detail"]
    assert db.get(m.Incident, inc).status == "核查"
    assert go("结案").status_code == 200
    assert go("评价", score=6).status_code == 422 and go("评价", score=0).status_code == 422
    res = go("评价", score=4, note="处理及时")
    assert res.status_code == 200 and res.json()["satisfaction"] == 4
    assert db.get(m.Incident, inc).satisfaction == 4
    with pytest.raises(Exception, match="incident_satisfaction_at_evaluation"):
        db.execute(text("UPDATE incidents SET satisfaction = 3, status = '结案' WHERE id = :i"), {"i": inc})


def test_cli_show_and_export(committed_db, tmp_path):
    from sqlalchemy.orm import Session
    from typer.testing import CliRunner

    from gridplanner.cli import app

    with Session(committed_db) as s:
        inc = create_incident(s, lon=120.13, lat=30.28, category="街面秩序", actor="x")
        s.execute(text("UPDATE incidents SET community_code = '330106001001', reported_at = '2026-11-03T09:00+08:00' WHERE id = :i"), {"i": inc.id})
        s.commit()
    runner = CliRunner()
    res = runner.invoke(app, ["assessment", "show", "--month", "2026-11", "--by", "community", "--out", str(tmp_path / "a.xlsx")])
    assert res.exit_code == 0, res.output
    assert ["1", "330106001001"] in [line.split()[:2] for line in res.output.splitlines()] and (tmp_path / "a.xlsx").stat().st_size > 0
    res = runner.invoke(app, ["assessment", "show", "--month", "2026-13"])
    assert res.exit_code == 2 and "YYYY-MM" in res.output
