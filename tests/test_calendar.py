"""The working-day calendar: weekends off unless a make-up working day, holidays off whatever the weekday; the
loader (CSV, XLSX, CLI) checks a file whole and writes nothing on any problem; grid items' limits count working
days."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from gridplanner.cli import app
from gridplanner.gridwork import calendar_store as store
from gridplanner.gridwork.calendar_store import CalendarImportError
from gridplanner.gridwork.sample import HOLIDAYS_2026_CSV, load_sample_calendar
from gridplanner.gridwork.workdays import BEIJING, WorkCalendar, add_working_days, working_days_between, working_deadline
from gridplanner.incidents import lifecycle
from gridplanner.incidents.service import create_incident
from tests.conftest import count
from tests.test_incidents import IN, staffed_world
from tests.test_open311 import items
from tests.test_staffing import N1


@pytest.fixture
def cal2026(db) -> WorkCalendar:
    store.import_calendar(db, HOLIDAYS_2026_CSV.encode(), "2026.csv", actor="test")
    return store.load_calendar(db)


# --- the pure functions over the 2026 schedule ------------------------------------------------------------


def test_the_2026_schedule_moves_deadlines_around_holidays_and_make_up_days(cal2026):
    assert len(cal2026.holidays) == 33 and len(cal2026.workdays) == 6
    # National Day: Wednesday 30 September + 1 is Thursday 8 October; Saturday 10 October is worked.
    assert add_working_days(date(2026, 9, 30), 1, cal2026) == date(2026, 10, 8)
    assert add_working_days(date(2026, 10, 9), 1, cal2026) == date(2026, 10, 10)
    assert add_working_days(date(2026, 10, 9), 1, WorkCalendar()) == date(2026, 10, 12)
    # Sunday 20 September is a make-up working day: Friday 18 + 1 is that Sunday.
    assert add_working_days(date(2026, 9, 18), 1, cal2026) == date(2026, 9, 20)
    # Spring Festival: nine days off, Saturday 14 February worked.
    assert add_working_days(date(2026, 2, 13), 2, cal2026) == date(2026, 2, 24)
    assert [cal2026.is_working_day(date(2026, 2, d)) for d in (14, 15, 23, 24, 28)] == [True, False, False, True, True]
    # A whole year: 365 days less weekends, less weekday holidays, plus make-up days (the State Council's 248 days).
    assert working_days_between(date(2025, 12, 31), date(2026, 12, 31), cal2026) == 248


def test_working_days_between_is_the_inverse_of_add(cal2026):
    start = date(2026, 1, 1)
    for offset in range(0, 366, 7):
        a = start + timedelta(days=offset)
        for n in (0, 1, 3, 10):
            assert working_days_between(a, add_working_days(a, n, cal2026), cal2026) == n
    with pytest.raises(ValueError):
        add_working_days(start, 1001, cal2026)


def test_a_deadline_keeps_the_beijing_clock_time(cal2026):
    due = working_deadline(datetime(2026, 9, 30, 7, 30, tzinfo=BEIJING), 1, cal2026)
    assert due == datetime(2026, 10, 8, 7, 30, tzinfo=BEIJING)
    # 00:30 on Saturday 10 October in Beijing is still Friday in UTC: the Beijing date counts (Saturday is worked).
    early_utc = datetime.fromisoformat("2026-10-09T16:30:00+00:00")
    assert working_deadline(early_utc, 1, cal2026).astimezone(BEIJING) == datetime(2026, 10, 12, 0, 30, tzinfo=BEIJING)
    assert working_deadline(early_utc, 1, cal2026).utcoffset() == timedelta(0)  # answered in the zone it was asked in


# --- the loader ---------------------------------------------------------------------------------------------


def test_import_csv_and_xlsx_and_a_later_file_replaces_a_day(db):
    report = store.import_calendar(db, HOLIDAYS_2026_CSV.encode("gb18030"), "2026.csv", actor="管理员")
    assert (report.holidays, report.workdays, report.first, report.last) == (33, 6, date(2026, 1, 1), date(2026, 10, 10))
    assert count(db, "calendar_days") == 39 and count(db, "audit_log WHERE action = 'import calendar' AND actor = '管理员'") == 1
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["date", "kind", "name"])
    ws.append([datetime(2026, 10, 8), "holiday", "国庆节（延长）"])  # a cell Excel keeps as a datetime
    ws.append(["2026/12/26", "workday", "调休"])
    buf = io.BytesIO()
    wb.save(buf)
    report = store.import_calendar(db, buf.getvalue(), "amend.xlsx", actor="管理员")
    assert (report.holidays, report.workdays) == (1, 1)
    cal = store.load_calendar(db)
    assert date(2026, 10, 8) in cal.holidays and date(2026, 12, 26) in cal.workdays and count(db, "calendar_days") == 41
    assert store.list_days(db, 2026)[0] == {"day": date(2026, 1, 1), "kind": "holiday", "name": "元旦"}


@pytest.mark.parametrize("content,fragments", [
    ("日期,类型\n2026-13-01,放假\n", ["第 2 行", "不是日期"]),
    ("日期,类型\n2026-10-01,休假日\n", ["第 2 行", "放假 或 上班"]),
    ("日期,类型\n2026-10-01,放假\n2026-10-12,上班\n", ["第 3 行", "本来就上班", "1 处问题"]),  # a good row is not written either
    ("日期,类型\n2026-10-01,放假\n2026-10-01,放假\n", ["第 3 行", "与第 2 行重复"]),
    ("名称,类型\n国庆,放假\n", ["缺少列"]),
    ("日期,类型\n", ["没有任何日期"]),
    ("", ["空的"]),
])
def test_a_bad_file_lists_its_problems_and_writes_nothing(db, content, fragments):
    with pytest.raises(CalendarImportError) as exc:
        store.import_calendar(db, content.encode(), "bad.csv", actor="x")
    assert all(f in str(exc.value) for f in fragments), str(exc.value)
    assert count(db, "calendar_days") == 0


def test_a_file_that_is_not_a_table(db):
    with pytest.raises(CalendarImportError, match="XLSX"):
        store.import_calendar(db, b"PK\x03\x04garbage", "x.xlsx", actor="x")
    with pytest.raises(CalendarImportError, match="GB18030"):
        store.import_calendar(db, b"\xff\xfe\x00\xd8\x00", "x.csv", actor="x")


def test_the_demo_loads_the_2026_schedule_once(db):
    assert load_sample_calendar(db) == 39
    assert load_sample_calendar(db) == 0 and count(db, "calendar_days") == 39


def test_cli_import_list_and_add(committed_db, tmp_path):
    runner = CliRunner()
    path = tmp_path / "2026.csv"
    path.write_text(HOLIDAYS_2026_CSV, encoding="utf-8")
    res = runner.invoke(app, ["calendar", "import", str(path), "--by", "管理员"])
    assert res.exit_code == 0 and "33 个放假日" in res.output and "6 个调休上班日" in res.output, res.output
    res = runner.invoke(app, ["calendar", "add", "2026-09-30", "1"])
    assert res.exit_code == 0 and res.output.strip() == "2026-10-08"
    res = runner.invoke(app, ["calendar", "list", "--year", "2026"])
    assert ["2026-10-10", "上班", "国庆节调休"] in [line.split() for line in res.output.splitlines()]
    bad = tmp_path / "bad.csv"
    bad.write_text("日期,类型\n2026-10-12,上班\n", encoding="utf-8")
    res = runner.invoke(app, ["calendar", "import", str(bad), "--by", "x"])
    assert res.exit_code == 2 and "nothing was imported" in res.output
    assert runner.invoke(app, ["calendar", "import", str(tmp_path / "none.csv"), "--by", "x"]).exit_code == 2


# --- grid items' limits count working days ----------------------------------------------------------------


def test_an_incident_filed_for_an_item_is_due_after_the_items_working_days(db, tmp_path):
    staffed_world(db, tmp_path)
    items(db)  # JZ-001: 3 working days
    lon, lat = IN[N1]
    inc = create_incident(db, lon=lon, lat=lat, category="街面秩序", service_code="JZ-001", actor="t")
    plain = create_incident(db, lon=lon, lat=lat, category="街面秩序", actor="t")
    # The next two weekdays become holidays: the limit must step over them.
    today = db.execute(text("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date")).scalar_one()
    off = [d for d in (today + timedelta(days=i) for i in range(1, 10)) if d.weekday() < 5][:2]
    db.execute(text("INSERT INTO calendar_days (day, kind) SELECT unnest(CAST(:d AS date[])), 'holiday'"), {"d": off})
    for i in (inc.id, plain.id):
        for step in ("受理", "派遣"):
            lifecycle.advance(db, i, step, actor="t")
    db.refresh(inc)
    db.refresh(plain)
    cal = store.load_calendar(db)
    local = inc.dispatched_at.astimezone(BEIJING)
    assert inc.due_at.astimezone(BEIJING).date() == add_working_days(local.date(), 3, cal)
    assert inc.due_at.astimezone(BEIJING).date() > add_working_days(local.date(), 3, WorkCalendar())
    assert inc.due_at.astimezone(BEIJING).time() == local.time()
    # An incident of no item keeps its category's limit in hours.
    hours = lifecycle.limit_hours(db, "街面秩序")
    assert plain.due_at - plain.dispatched_at == timedelta(hours=hours)


def test_the_api_lists_days_and_admins_import(db, client, client_as):
    files = {"file": ("2026.csv", HOLIDAYS_2026_CSV.encode(), "text/csv")}
    assert client_as("planner", districts=["330106"]).post("/api/v1/calendar/import", files=files).status_code == 403
    res = client.post("/api/v1/calendar/import", files=files)
    assert res.status_code == 200 and (res.json()["holidays"], res.json()["workdays"]) == (33, 6)
    listed = client_as("viewer").get("/api/v1/calendar", params={"year": 2026}).json()
    assert len(listed) == 39 and listed[-1] == {"day": "2026-10-10", "kind": "workday", "name": "国庆节调休"}
    assert client.get("/api/v1/calendar", params={"year": 2025}).json() == []
    res = client.post("/api/v1/calendar/import", files={"file": ("bad.csv", "日期,类型\n2026-10-01,放假\n2026-10-12,上班\n".encode(), "text/csv")})
    assert res.status_code == 422 and res.json()["problems"][0]["row"] == 3 and "weekday" in res.json()["problems"][0]["problem_en"]
    big = client.post("/api/v1/calendar/import", files={"file": ("big.csv", b"x" * (1024 * 1024 + 1), "text/csv")})
    assert big.status_code == 422 and "KB" in big.json()["detail"] + str(big.json().get("problems"))
    assert count(db, "calendar_days") == 39
