"""Tasks sent by area: the grids an area overlaps (not those it touches) get one task each, for admitted items
only; who may send (admins, planners in their districts) and who may act (the grid's own staff); the steps
sent → acknowledged → completed; the sender's list, map and overdue flags."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridplanner.auth.sessions import COOKIE, open_session
from gridplanner.gridwork import task_rules, tasks
from gridplanner.gridwork.messages import ItemNotAssignable
from gridplanner.store import models as m
from tests.conftest import _app, count
from tests.test_incidents import fulltime, staffed_world
from tests.test_open311 import items
from tests.test_staffing import DX, DY, N1, S1, S2, X0, Y0

# The west community exactly: its two grids; the east grids only touch it along x = X0 + DX.
WEST = shapely.geometry.mapping(shapely.box(X0, Y0, X0 + DX, Y0 + DY))
SOON = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()


@pytest.fixture
def world(db, tmp_path):
    staffed_world(db, tmp_path)
    items(db)  # JZ-001 admitted, JZ-002 proposed, JZ-003 exited


def send(client, area=WEST, item="JZ-001", due=SOON, **kw):
    return client.post("/api/v1/tasks", json={"item_code": item, "area": area, "due_at": due, "instructions": "汛期隐患排查", **kw})


def staff_client(db, grid_code, opened):
    """A client logged in as the grid's 专职网格员 (a staff account linked to the roster row)."""
    sid = fulltime(db, grid_code)
    user = m.User(username=f"staff-{sid}", password_hash="!", role="staff", districts=[], active=True, staff_id=sid)
    db.add(user)
    db.flush()
    token, _ = open_session(db, user, hours=1)
    c = TestClient(_app(db))
    c.__enter__()
    c.cookies.set(COOKIE, token)
    opened.append(c)
    return c


@pytest.fixture
def as_staff(db):
    opened = []
    yield lambda grid: staff_client(db, grid, opened)
    for c in opened:
        c.__exit__(None, None, None)


# --- sending ------------------------------------------------------------------------------------------------


def test_one_task_per_grid_the_area_overlaps_with_the_grids_worker(world, db, client):
    res = send(client)
    assert res.status_code == 201, res.text
    body = res.json()
    assert (body["grids"], body["grids_without_worker"], body["item_code"], body["item_name"]) == (2, 0, "JZ-001", "占道经营")
    rows = db.execute(text("SELECT grid_code, staff_id, status FROM grid_tasks WHERE batch_id = :b ORDER BY grid_code"), {"b": body["batch_id"]}).all()
    assert [tuple(r) for r in rows] == [(N1, fulltime(db, N1), "sent"), (S1, fulltime(db, S1), "sent")]
    assert count(db, "audit_log WHERE action = 'send tasks' AND actor = 'test-admin'") == 1
    # A small area inside one grid reaches that grid alone; a MultiPolygon Feature across both communities, all four.
    inside = shapely.geometry.mapping(shapely.box(X0 + 0.2 * DX, Y0 + 0.6 * DY, X0 + 0.4 * DX, Y0 + 0.9 * DY))
    assert send(client, area=inside).json()["grids"] == 1
    both = {"type": "Feature", "properties": {}, "geometry": shapely.geometry.mapping(shapely.MultiPolygon([shapely.box(X0 + 0.1 * DX, Y0 + 0.1 * DY, X0 + 0.2 * DX, Y0 + 0.9 * DY), shapely.box(X0 + 1.5 * DX, Y0 + 0.1 * DY, X0 + 1.6 * DX, Y0 + 0.9 * DY)]))}
    assert send(client, area=both).json()["grids"] == 4


def test_only_admitted_items_are_sent_and_the_reason_comes_back(world, db, client):
    for item, reason in (("JZ-002", "尚未准入"), ("JZ-003", "已退出网格事项清单")):
        res = send(client, item=item)
        assert res.status_code == 409 and reason in res.json()["detail"] and "assigned" in res.json()["detail_en"]
    assert send(client, item="NOPE").status_code == 404
    assert count(db, "grid_tasks") == 0 and count(db, "task_batches") == 0
    with pytest.raises(ItemNotAssignable):
        tasks.send_tasks(db, item_code="JZ-003", area=WEST, due_at=datetime.now(timezone.utc) + timedelta(days=1), actor="x")


@pytest.mark.parametrize("change,fragment", [
    ({"area": {"type": "Point", "coordinates": [120.1, 30.27]}}, "Polygon 或 MultiPolygon"),
    ({"area": {"type": "Polygon", "coordinates": [[[120.10, 30.27], [120.11, 30.28], [120.11, 30.27], [120.10, 30.28], [120.10, 30.27]]]}}, "轮廓无效"),
    ({"area": shapely.geometry.mapping(shapely.box(30.27, 120.1, 30.28, 120.11))}, "不在中国境内"),
    ({"area": shapely.geometry.mapping(shapely.box(110.0, 25.0, 110.1, 25.1))}, "没有已发布方案的网格"),
    ({"due": (datetime.now(timezone.utc) - timedelta(hours=1)).isoformat()}, "截止时间须晚于现在"),
    ({"due": "2030-01-01T09:00:00"}, "须带时区"),
])
def test_bad_areas_and_deadlines_are_refused_with_nothing_written(world, db, client, change, fragment):
    res = send(client, **change)
    assert res.status_code == 422 and fragment in res.json()["detail"], res.text
    assert count(db, "task_batches") == 0


def test_streets_communities_or_grids_may_be_picked_instead_of_drawing(world, db, client):
    def picked(**sel):
        return client.post("/api/v1/tasks", json={"item_code": "JZ-001", "due_at": SOON, **sel})

    res = picked(street_codes=["330106001"])
    assert res.status_code == 201 and res.json()["grids"] == 4
    assert picked(community_codes=["330106001002"]).json()["grids"] == 2
    res = picked(grid_codes=[S2, N1])
    assert res.json()["grids"] == 2
    codes = db.execute(text("SELECT grid_code FROM grid_tasks WHERE batch_id = :b ORDER BY grid_code"), {"b": res.json()["batch_id"]}).scalars().all()
    assert codes == [N1, S2]
    assert db.execute(text("SELECT selection FROM task_batches WHERE id = :b"), {"b": res.json()["batch_id"]}).scalar_one() == {"grid_codes": [N1, S2]}
    # A code that reaches no grid is refused, not silently dropped; one selector exactly.
    res = picked(grid_codes=[N1, "330106001009001"])
    assert res.status_code == 422 and "330106001009001" in res.json()["detail"]
    assert "330106009" in picked(street_codes=["330106009"]).json()["detail"]
    assert picked(community_codes=["33010600100"]).status_code == 422
    assert picked().status_code == 422
    res = picked(grid_codes=[N1], area=WEST)
    assert res.status_code == 422 and "exactly one" in res.json()["detail_en"]
    assert count(db, "task_batches") == 3


def test_who_may_send(world, db, client_as):
    assert send(client_as("planner", districts=["330106"])).status_code == 201
    res = send(client_as("planner", districts=["330105"]))
    assert res.status_code == 403 and N1 in res.json()["detail"] and "outside your districts" in res.json()["detail_en"]
    assert send(client_as("viewer")).status_code == 403
    assert count(db, "task_batches") == 1


# --- acknowledging and completing ---------------------------------------------------------------------------------


def test_staff_acknowledge_then_complete_their_own_grids_task(world, db, client, as_staff):
    batch = send(client).json()["batch_id"]
    n1 = as_staff(N1)
    mine = n1.get("/api/v1/tasks/mine").json()
    assert [(t["grid_code"], t["status"], t["instructions"]) for t in mine] == [(N1, "sent", "汛期隐患排查")]
    tid = mine[0]["task_id"]
    res = n1.post(f"/api/v1/tasks/{tid}/complete", json={"note": "已排查"})
    assert res.status_code == 409 and "须先签收" in res.json()["detail"]
    res = n1.post(f"/api/v1/tasks/{tid}/acknowledge")
    assert res.status_code == 200 and res.json()["status"] == "acknowledged" and res.json()["acknowledged_by"] == f"staff-{fulltime(db, N1)}"
    assert n1.post(f"/api/v1/tasks/{tid}/acknowledge").status_code == 409
    assert n1.post(f"/api/v1/tasks/{tid}/complete", json={"note": ""}).status_code == 422
    res = n1.post(f"/api/v1/tasks/{tid}/complete", json={"note": "已排查 12 户独居老人"})
    assert res.status_code == 200 and (res.json()["status"], res.json()["note"]) == ("completed", "已排查 12 户独居老人")
    assert n1.get("/api/v1/tasks/mine?open=true").json() == []
    view = client.get(f"/api/v1/tasks/batches/{batch}").json()
    assert view["counts"] == {"sent": 1, "acknowledged": 0, "completed": 1, "overdue": 0}
    assert [(t["grid_code"], t["status"]) for t in view["tasks"]] == [(N1, "completed"), (S1, "sent")]
    steps = db.execute(text("SELECT action FROM audit_log WHERE entity = 'grid_task' ORDER BY id")).scalars().all()
    assert steps == ["acknowledge task", "complete task"]


def test_only_the_grids_own_staff_act_on_its_task(world, db, client, as_staff, client_as):
    send(client)
    tid = db.execute(text("SELECT id FROM grid_tasks WHERE grid_code = :g"), {"g": N1}).scalar_one()
    s2 = as_staff(S2)
    assert s2.get("/api/v1/tasks/mine").json() == []  # S2 is outside the area
    res = s2.post(f"/api/v1/tasks/{tid}/acknowledge")
    assert res.status_code == 403 and "不是您的网格" in res.json()["detail"]
    assert client.post(f"/api/v1/tasks/{tid}/acknowledge").status_code == 403  # an admin does not sign for the worker
    assert client_as("planner", districts=["330106"]).post(f"/api/v1/tasks/{tid}/acknowledge").status_code == 403
    assert s2.post("/api/v1/tasks/999999/acknowledge").status_code == 404
    # A staff account writes nothing else, and does not read the senders' lists.
    assert send(s2).status_code == 403
    assert s2.get("/api/v1/tasks/batches/1").status_code == 403
    assert client.get("/api/v1/tasks/mine").status_code == 403


def test_overdue_tasks_are_flagged_on_the_list_and_the_map(world, db, client, as_staff):
    batch = send(client).json()["batch_id"]
    n1 = as_staff(N1)
    tid = n1.get("/api/v1/tasks/mine").json()[0]["task_id"]
    n1.post(f"/api/v1/tasks/{tid}/acknowledge")
    n1.post(f"/api/v1/tasks/{tid}/complete", json={"note": "完成"})
    db.execute(text("UPDATE task_batches SET due_at = now() - interval '1 hour' WHERE id = :b"), {"b": batch})
    view = client.get(f"/api/v1/tasks/batches/{batch}").json()
    assert {t["grid_code"]: t["overdue"] for t in view["tasks"]} == {N1: False, S1: True} and view["counts"]["overdue"] == 1
    fc = client.get(f"/api/v1/tasks/batches/{batch}/map").json()
    assert fc["type"] == "FeatureCollection"
    assert {f["properties"]["grid_code"]: (f["properties"]["status"], f["properties"]["overdue"]) for f in fc["features"]} == {N1: ("completed", False), S1: ("sent", True)}
    assert shapely.geometry.shape(fc["features"][0]["geometry"]).area == pytest.approx(DX * DY / 2, rel=1e-6)
    assert client.get("/api/v1/tasks/batches/999999").status_code == 404
    assert client.get("/api/v1/tasks/batches/999999/map").status_code == 404


def test_a_grid_without_a_fulltime_worker_still_gets_its_task_and_is_counted(world, db, client):
    db.execute(text("UPDATE staff SET active = false WHERE grid_code = :g AND role = '专职网格员'"), {"g": S1})
    assert send(client).json()["grids_without_worker"] == 1


def test_task_steps_pure():
    task_rules.check_task_step(1, "acknowledged", "completed")
    for current, to in (("completed", "acknowledged"), ("acknowledged", "acknowledged"), ("completed", "completed")):
        with pytest.raises(task_rules.TaskStepError):
            task_rules.check_task_step(1, current, to)
    now = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert task_rules.is_overdue("sent", now - timedelta(seconds=1), now) and not task_rules.is_overdue("completed", now - timedelta(days=1), now)
    assert not task_rules.is_overdue("acknowledged", now + timedelta(seconds=1), now)


# --- staff accounts and the CLI ---------------------------------------------------------------------------------


def test_a_staff_account_is_linked_to_a_roster_row(world, db):
    from sqlalchemy.exc import IntegrityError

    from gridplanner.auth.accounts import AccountError, create_user

    sid = fulltime(db, N1)
    for role, staff_id, fragment in (("staff", None, "needs --staff-id"), ("viewer", sid, "only a staff account"), ("staff", 999999, "no staff member")):
        with pytest.raises(AccountError, match=fragment):
            create_user(db, "w1", "password1", role, staff_id=staff_id)
    assert create_user(db, "w1", "password1", "staff", staff_id=sid).staff_id == sid
    with pytest.raises(IntegrityError):
        with db.begin_nested():
            db.execute(text("UPDATE users SET role = 'viewer' WHERE username = 'w1'"))


def test_cli_send_and_status(committed_db, tmp_path):
    import json

    from typer.testing import CliRunner

    from gridplanner.cli import app
    from gridplanner.store.database import session_scope

    with session_scope() as s:
        staffed_world(s, tmp_path)
        items(s)
    runner = CliRunner()
    (tmp_path / "area.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": WEST}]}))
    args = ["tasks", "send", "--item", "JZ-003", "--area", str(tmp_path / "area.geojson"), "--due", SOON, "--by", "指挥中心"]
    res = runner.invoke(app, args)
    assert res.exit_code == 2 and "已退出网格事项清单" in res.output and "nothing was written" in res.output
    args[3] = "JZ-001"
    res = runner.invoke(app, args)
    assert res.exit_code == 0 and "2 个网格已下发" in res.output, res.output
    batch = res.output.split("batch ")[1].split(":")[0]
    res = runner.invoke(app, ["tasks", "status", batch])
    assert res.exit_code == 0 and re.search(rf"{N1}\s+已下发\s+员工", res.output) and "0 超时" in res.output
    assert runner.invoke(app, ["tasks", "status", "999"]).exit_code == 2


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_a_photo_of_the_work_is_kept_with_the_task(world, db, client, as_staff, client_as):
    send(client)
    n1, s2 = as_staff(N1), as_staff(S2)
    tid = n1.get("/api/v1/tasks/mine").json()[0]["task_id"]

    def put(c, data, name="p.png"):
        return c.put(f"/api/v1/tasks/{tid}/photo", files={"file": (name, data, "image/png")})

    res = put(n1, PNG)
    assert res.status_code == 409 and "须先签收" in res.json()["detail"]
    n1.post(f"/api/v1/tasks/{tid}/acknowledge")
    res = put(n1, b"GIF89a....", "p.png")  # the content decides, not the name
    assert res.status_code == 422 and "JPEG 或 PNG" in res.json()["detail"]
    assert put(s2, PNG).status_code == 403 and put(client, PNG).status_code == 403
    assert client.get(f"/api/v1/tasks/{tid}/photo").status_code == 404
    res = put(n1, PNG)
    assert res.status_code == 200 and res.json() == {"task_id": tid, "media_type": "image/png", "bytes": len(PNG)}
    got = client.get(f"/api/v1/tasks/{tid}/photo")
    assert got.status_code == 200 and got.headers["content-type"] == "image/png" and got.content == PNG
    assert n1.get(f"/api/v1/tasks/{tid}/photo").status_code == 200
    assert s2.get(f"/api/v1/tasks/{tid}/photo").status_code == 403
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 32
    assert put(n1, jpeg).json()["media_type"] == "image/jpeg"  # replaced
    assert count(db, "task_photos") == 1
    sid = fulltime(db, N1)
    with pytest.raises(task_rules.TaskRuleError, match="上限"):
        tasks.attach_photo(db, tid, PNG, staff_id=sid, actor="x", max_bytes=10)
    with pytest.raises(task_rules.TaskRuleError, match="空"):
        tasks.attach_photo(db, tid, b"", staff_id=sid, actor="x", max_bytes=10)
