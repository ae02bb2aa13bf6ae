"""The 网格事项清单: field rules, the admission record (proposed → admitted → exited, exit final), who may take
each step over HTTP, XLSX import (all or nothing, every problem named by file and row) and export, the CLI."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from gridplanner.cli import app
from gridplanner.gridwork import admission, catalogue
from gridplanner.gridwork.messages import ItemNotAssignable, ItemNotFound, ItemRuleError, ItemStepError
from gridplanner.gridwork.workbook import COLUMNS, ItemImportError, export_items, import_items
from gridplanner.store.database import session_scope
from tests.conftest import count

CATS = {"街面秩序", "安全隐患"}
ITEM = {"code": "JZ-001", "name": "占道经营巡查", "department": "城市管理局", "category": "街面秩序", "worker_role": "发现", "time_limit_days": 3}


def proposed(db, **kw):
    return catalogue.propose(db, **{**ITEM, **kw}, actor="规划员")


def admitted(db, **kw):
    item = proposed(db, **kw)
    return catalogue.admit(db, item.code, approved_by="管理员")


def workbook(rows: list[list], header=None) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header or [names[0] for names in COLUMNS.values()][:6])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- the rules, pure ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change,fragment",
    [
        ({"code": "JZ 001"}, "事项编码"),
        ({"code": ""}, "事项编码"),
        ({"name": "  "}, "事项名称不能为空"),
        ({"department": None}, "责任部门不能为空"),
        ({"category": "噪声"}, "不在事件类别目录中"),
        ({"worker_role": "处理"}, "网格员职责须为"),
        ({"time_limit_days": 0}, "办理时限"),
        ({"time_limit_days": 2.5}, "办理时限"),
        ({"time_limit_days": 366}, "办理时限"),
        ({"time_limit_days": "三天"}, "办理时限"),
    ],
)
def test_each_field_rule_refuses_with_chinese_and_english(change, fragment):
    with pytest.raises(ItemRuleError) as exc:
        admission.check_fields(**{**ITEM, **change}, categories=CATS)
    assert fragment in exc.value.zh and exc.value.en and exc.value.body() == {"detail": exc.value.zh, "detail_en": exc.value.en}


def test_fields_are_cleaned():
    f = admission.check_fields(" JZ-001 ", " 占道 ", "城管", "街面秩序", " 上报 ", "3.0", "  ", categories=CATS)
    assert (f.code, f.name, f.worker_role, f.time_limit_days, f.description) == ("JZ-001", "占道", "上报", 3, None)


@pytest.mark.parametrize("current,to,ok", [
    ("proposed", "admitted", True), ("admitted", "exited", True),
    ("proposed", "exited", False), ("proposed", "proposed", False), ("admitted", "admitted", False),
    ("admitted", "proposed", False), ("exited", "admitted", False), ("exited", "proposed", False), ("exited", "exited", False),
])
def test_the_admission_record_only_moves_forward_and_exit_is_final(current, to, ok):
    if ok:
        admission.check_step("A", current, to)
    else:
        with pytest.raises(ItemStepError):
            admission.check_step("A", current, to)


def test_only_admitted_items_are_assignable():
    admission.check_assignable("A", "admitted")
    for s, zh in (("proposed", "尚未准入"), ("exited", "已退出")):
        with pytest.raises(ItemNotAssignable) as exc:
            admission.check_assignable("A", s)
        assert zh in exc.value.zh


@pytest.mark.parametrize("args,fragment", [
    (("admitted", None, date(2026, 1, 2), None, None), "批准人和准入日期"),
    (("exited", "甲", date(2026, 1, 2), None, "撤销"), "退出日期和退出原因"),
    (("proposed", "甲", None, None, None), "不能有准入或退出记录"),
    (("admitted", "甲", date(2026, 1, 2), date(2026, 2, 1), None), "不能有退出记录"),
    (("exited", "甲", date(2026, 3, 2), date(2026, 2, 1), "撤销"), "退出日期早于准入日期"),
    (("admitted", "甲", date(2025, 1, 2), None, None), "准入日期早于提出日期"),
])
def test_an_admission_record_must_hold_together(args, fragment):
    with pytest.raises(ItemRuleError) as exc:
        admission.check_record("A", *args, proposed_on=date(2026, 1, 1))
    assert fragment in exc.value.zh


# --- the store ----------------------------------------------------------------------------------------------


def test_propose_admit_exit_records_who_and_when_and_audits_each_step(db):
    item = proposed(db, on=date(2026, 11, 1))
    assert (item.status, item.proposed_by, item.proposed_on) == ("proposed", "规划员", date(2026, 11, 1))
    with pytest.raises(ItemNotAssignable):
        catalogue.assignable_item(db, "JZ-001")
    item = catalogue.admit(db, "JZ-001", approved_by="管理员", on=date(2026, 11, 5))
    assert (item.status, item.approved_by, item.admitted_on) == ("admitted", "管理员", date(2026, 11, 5))
    assert catalogue.assignable_item(db, "JZ-001").code == "JZ-001"
    item = catalogue.exit_item(db, "JZ-001", reason="职责划归综合执法队", actor="管理员", on=date(2026, 12, 1))
    assert (item.status, item.exited_on, item.exit_reason) == ("exited", date(2026, 12, 1), "职责划归综合执法队")
    with pytest.raises(ItemNotAssignable) as exc:
        catalogue.assignable_item(db, "JZ-001")
    assert "不能再派给网格员" in str(exc.value) and "can no longer be assigned" in str(exc.value)
    with pytest.raises(ItemStepError):
        catalogue.admit(db, "JZ-001", approved_by="管理员")
    actions = db.execute(text("SELECT actor, action FROM audit_log WHERE entity = 'grid_item' ORDER BY id")).all()
    assert [tuple(a) for a in actions] == [("规划员", "propose grid item"), ("管理员", "admit grid item"), ("管理员", "exit grid item")]


def test_store_refusals(db):
    proposed(db)
    with pytest.raises(ItemRuleError, match="已存在"):
        proposed(db)
    with pytest.raises(ItemStepError):
        catalogue.exit_item(db, "JZ-001", reason="x", actor="管理员")
    with pytest.raises(ItemRuleError, match="退出原因"):
        catalogue.exit_item(db, "JZ-001", reason=" ", actor="管理员")
    with pytest.raises(ItemRuleError, match="操作人"):
        catalogue.admit(db, "JZ-001", approved_by="")
    with pytest.raises(ItemRuleError, match="准入日期早于提出日期"):
        catalogue.admit(db, "JZ-001", approved_by="管理员", on=date(2000, 1, 1))
    with pytest.raises(ItemNotFound):
        catalogue.admit(db, "NOPE", approved_by="管理员")
    with pytest.raises(ItemRuleError, match="不在事件类别目录中"):
        proposed(db, code="X2", category="不存在的类别")


def test_the_database_keeps_the_record_whole_whatever_writes_it(db):
    proposed(db)
    with pytest.raises(IntegrityError):
        with db.begin_nested():
            db.execute(text("UPDATE grid_items SET status = 'admitted' WHERE code = 'JZ-001'"))
    with pytest.raises(IntegrityError):
        with db.begin_nested():
            db.execute(text("UPDATE grid_items SET status = 'exited', approved_by = 'a', admitted_on = current_date WHERE code = 'JZ-001'"))


# --- HTTP: who may do what ------------------------------------------------------------------------------------


def test_planners_propose_only_admins_admit_and_exit(db, client, client_as):
    planner = client_as("planner", districts=["330106"])
    res = planner.post("/api/v1/grid-items", json=ITEM)
    assert res.status_code == 201 and res.json()["status"] == "proposed" and res.json()["proposed_by"] == "test-planner-330106"
    assert planner.post("/api/v1/grid-items/JZ-001/admit").status_code == 403
    assert client_as("viewer").post("/api/v1/grid-items", json={**ITEM, "code": "V1"}).status_code == 403
    res = client.post("/api/v1/grid-items/JZ-001/admit", json={"admitted_on": date.today().isoformat()})
    assert res.status_code == 200 and res.json()["approved_by"] == "test-admin" and res.json()["status"] == "admitted"
    assert planner.post("/api/v1/grid-items/JZ-001/exit", json={"exit_reason": "x"}).status_code == 403
    assert client.post("/api/v1/grid-items/JZ-001/exit", json={}).status_code == 422
    res = client.post("/api/v1/grid-items/JZ-001/exit", json={"exit_reason": "划归街道"})
    assert res.status_code == 200 and res.json()["status"] == "exited" and res.json()["exit_reason"] == "划归街道"
    res = client.post("/api/v1/grid-items/JZ-001/admit")
    assert res.status_code == 409 and res.json()["detail"] == "事项 JZ-001 已退出，不能再准入" and "exit is final" in res.json()["detail_en"]
    steps = db.execute(text("SELECT actor, action FROM audit_log WHERE entity = 'grid_item' ORDER BY id")).all()
    assert [tuple(s) for s in steps] == [("test-planner-330106", "propose grid item"), ("test-admin", "admit grid item"), ("test-admin", "exit grid item")]


def test_http_errors_are_clear(db, client):
    res = client.get("/api/v1/grid-items/NOPE")
    assert res.status_code == 404 and res.json() == {"detail": "网格事项清单中没有事项 NOPE", "detail_en": "no grid item 'NOPE' in the catalogue"}
    assert client.post("/api/v1/grid-items", json={**ITEM, "worker_role": "处理"}).status_code == 422
    res = client.post("/api/v1/grid-items", json={**ITEM, "category": "噪声"})
    assert res.status_code == 422 and "不在事件类别目录中" in res.json()["detail"] and "incident catalogue" in res.json()["detail_en"]
    client.post("/api/v1/grid-items", json=ITEM)
    res = client.post("/api/v1/grid-items", json=ITEM)
    assert res.status_code == 422 and "exists already" in res.json()["detail_en"]
    assert client.post("/api/v1/grid-items/NOPE/admit").status_code == 404


def test_listing_by_status_and_reading_with_a_key(db, client, api_key_client):
    admitted(db)
    proposed(db, code="JZ-002", department="应急管理局", category="安全隐患")
    assert [i["code"] for i in client.get("/api/v1/grid-items").json()] == ["JZ-001", "JZ-002"]
    assert [i["code"] for i in client.get("/api/v1/grid-items?status=admitted").json()] == ["JZ-001"]
    assert [i["code"] for i in client.get("/api/v1/grid-items", params={"department": "应急管理局"}).json()] == ["JZ-002"]
    assert client.get("/api/v1/grid-items?status=gone").status_code == 422
    reader = api_key_client("read")
    assert reader.get("/api/v1/grid-items/JZ-001").json()["approved_by"] == "管理员"
    assert reader.post("/api/v1/grid-items", json={**ITEM, "code": "K1"}).status_code == 403


# --- XLSX ------------------------------------------------------------------------------------------------------


def test_export_then_import_round_trips_the_whole_record(db):
    admitted(db)
    proposed(db, code="JZ-002", category="安全隐患", description="汛期隐患排查")
    catalogue.exit_item(db, admitted(db, code="JZ-003").code, reason="撤销", actor="管理员")
    before = [i.as_dict() for i in catalogue.list_items(db)]
    data = export_items(db)
    sheet = load_workbook(io.BytesIO(data))["网格事项清单"]
    assert [c.value for c in sheet[1]][:3] == ["事项编码", "事项名称", "责任部门"] and sheet.max_row == 4
    assert [c.value for c in sheet[4]][7] == "已退出"
    assert import_items(db, data, "grid-items.xlsx", actor="管理员").unchanged == 3
    db.execute(text("DELETE FROM grid_items"))
    report = import_items(db, data, "grid-items.xlsx", actor="管理员")
    assert report.inserted == 3 and [i.as_dict() for i in catalogue.list_items(db)] == before


def test_import_names_the_file_every_bad_row_and_writes_nothing(db):
    data = workbook([
        ["A1", "占道经营", "城管局", "街面秩序", "发现", 3],      # good, but not written
        ["A 2", "x", "城管局", "街面秩序", "发现", 3],
        ["A3", "x", "城管局", "街面秩序", "处理", 3],
        ["A1", "重复", "城管局", "街面秩序", "发现", 3],
        ["A5", "x", "城管局", "街面秩序", "发现", 0],
    ])
    with pytest.raises(ItemImportError) as exc:
        import_items(db, data, "事项.xlsx", actor="管理员")
    rows = [r for r, _, _ in exc.value.problems]
    assert rows == [3, 4, 5, 6]
    assert exc.value.body()["detail"] == "事项.xlsx：4 处问题，未导入任何内容"
    assert exc.value.body()["detail_en"] == "事项.xlsx: 4 problem(s), nothing was imported"
    assert "与第 2 行重复" in exc.value.problems[2][1]
    assert count(db, "grid_items") == 0 and count(db, "audit_log WHERE entity = 'grid_item'") == 0


@pytest.mark.parametrize("data,fragment", [
    (b"not a workbook", "不是可读取的 XLSX 工作簿"),
    (None, "缺少列 网格员职责、办理时限（工作日）"),
    ("empty", "文件没有任何事项"),
])
def test_import_refuses_unreadable_incomplete_and_empty_files(db, data, fragment):
    if data is None:
        data = workbook([["A1", "x", "城管局", "街面秩序"]], header=["编码", "名称", "责任部门", "类别"])
    elif data == "empty":
        data = workbook([])
    with pytest.raises(ItemImportError) as exc:
        import_items(db, data, "x.xlsx", actor="管理员")
    assert fragment in str(exc.value)


def test_import_carries_admission_records_but_never_rewrites_or_reverses_one(db):
    header = [names[0] for names in COLUMNS.values()]
    data = workbook([["A1", "占道", "城管局", "街面秩序", "发现", 3, None, "已准入", "张三", "2026-01-01", "李四", date(2026, 1, 5), None, None]], header=header)
    assert import_items(db, data, "a.xlsx", actor="管理员").inserted == 1
    item = catalogue.get_item(db, "A1")
    assert (item.status, item.proposed_by, item.approved_by, item.admitted_on) == ("admitted", "张三", "李四", date(2026, 1, 5))
    rewrite = workbook([["A1", "占道", "城管局", "街面秩序", "发现", 3, None, "已准入", "张三", "2026-01-01", "王五", "2026-01-05", None, None]], header=header)
    with pytest.raises(ItemImportError, match="不能由文件改写"):
        import_items(db, rewrite, "b.xlsx", actor="管理员")
    back = workbook([["A1", "占道", "城管局", "街面秩序", "发现", 3, None, "拟准入"]], header=header[:8])
    with pytest.raises(ItemImportError, match="不能改回拟准入"):
        import_items(db, back, "c.xlsx", actor="管理员")
    half = workbook([["A2", "占道", "城管局", "街面秩序", "发现", 3, None, "已退出", None, None, "李四", "2026-01-05", None, None]], header=header)
    with pytest.raises(ItemImportError, match="退出日期和退出原因"):
        import_items(db, half, "d.xlsx", actor="管理员")
    forward = workbook([["A1", "占道经营", "城管局", "街面秩序", "发现", 5, None, "已退出", None, None, "李四", "2026-01-05", "2026-02-01", "撤销"]], header=header)
    assert import_items(db, forward, "e.xlsx", actor="管理员").updated == 1
    item = catalogue.get_item(db, "A1")
    assert (item.status, item.name, item.time_limit_days, item.proposed_by, item.exit_reason) == ("exited", "占道经营", 5, "张三", "撤销")


def test_import_and_export_over_http(db, client, client_as):
    data = workbook([["A1", "占道", "城管局", "街面秩序", "发现", 3], ["A2", "x", "城管局", "街面秩序", "处理", 3]])
    files = {"file": ("清单.xlsx", data, "application/octet-stream")}
    assert client_as("planner", districts=["330106"]).post("/api/v1/grid-items/import", files=files).status_code == 403
    res = client.post("/api/v1/grid-items/import", files=files)
    body = res.json()
    assert res.status_code == 422 and body["source"] == "清单.xlsx" and body["problems"] == [
        {"row": 3, "problem": "网格员职责须为 发现、上报、协助、办理 之一，而不是 '处理'", "problem_en": "worker role must be one of 发现, 上报, 协助, 办理, not '处理'"}
    ]
    assert count(db, "grid_items") == 0
    res = client.post("/api/v1/grid-items/import", files={"file": ("清单.xlsx", workbook([["A1", "占道", "城管局", "街面秩序", "发现", 3]]), "application/octet-stream")})
    assert res.status_code == 200 and res.json()["inserted"] == 1 and res.json()["codes"] == ["A1"]
    assert catalogue.get_item(db, "A1").proposed_by == "test-admin"
    res = client.get("/api/v1/grid-items/export")
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert load_workbook(io.BytesIO(res.content)).active["A2"].value == "A1"


# --- CLI -------------------------------------------------------------------------------------------------------

runner = CliRunner()


def test_cli_propose_admit_exit_export_import(committed_db, tmp_path):
    args = ["items", "propose", "JZ-001", "--name", "占道经营巡查", "--department", "城市管理局", "--category", "街面秩序", "--worker-role", "发现", "--days", "3", "--by", "规划员"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["items", "exit", "JZ-001", "--reason", "x", "--by", "管理员"])
    assert res.exit_code == 2 and "为拟准入，不能直接退出" in res.output and "nothing was written" in res.output
    assert runner.invoke(app, ["items", "admit", "JZ-001", "--by", "管理员", "--on", "yesterday"]).exit_code == 2
    res = runner.invoke(app, ["items", "admit", "JZ-001", "--by", "管理员"])
    assert res.exit_code == 0 and "已准入" in res.output
    res = runner.invoke(app, ["items", "list", "--status", "admitted"])
    assert res.exit_code == 0 and "JZ-001" in res.output and "管理员" in res.output
    res = runner.invoke(app, ["items", "export", "--out", str(tmp_path / "items.xlsx")])
    assert res.exit_code == 0
    (tmp_path / "bad.xlsx").write_bytes(workbook([["B1", "x", "城管局", "街面秩序", "发现", 3], ["B2", "x", "城管局", "噪声", "发现", 3]]))
    res = runner.invoke(app, ["items", "import", str(tmp_path / "bad.xlsx"), "--by", "管理员"])
    assert res.exit_code == 2 and "bad.xlsx" in res.output and "第 3 行" in res.output and "row 3" in res.output and "nothing was imported" in res.output
    with session_scope() as s:
        assert [i.code for i in catalogue.list_items(s)] == ["JZ-001"]
    res = runner.invoke(app, ["items", "import", str(tmp_path / "items.xlsx"), "--by", "管理员"])
    assert res.exit_code == 0 and "1 未变" in res.output
    res = runner.invoke(app, ["items", "exit", "JZ-001", "--reason", "职责调整", "--by", "管理员"])
    assert res.exit_code == 0
    with session_scope() as s:
        assert catalogue.get_item(s, "JZ-001").status == "exited"


def test_the_sample_catalogue_shows_every_state_and_loads_once(db):
    from gridplanner.gridwork.sample import SAMPLE_ITEMS, load_sample_items

    assert load_sample_items(db) == len(SAMPLE_ITEMS)
    states = {i.code: i.status for i in catalogue.list_items(db)}
    assert set(states.values()) == {"proposed", "admitted", "exited"} and len(states) == len(SAMPLE_ITEMS)
    assert load_sample_items(db) == 0
