"""The working-day calendar in the store: read it as a :class:`~gridplanner.gridwork.workdays.WorkCalendar`, and
load a year's list of holidays and make-up working days from CSV or XLSX, checked whole before anything is
written (one problem anywhere and nothing is imported).

A file has the columns 日期 (date), 类型 (kind: 休息/放假/holiday or 上班/调休/workday) and optionally 名称
(name, such as 国庆节). A date already in the store takes the file's kind and name: the State Council does
amend a published schedule, and the newest list is the one that counts.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork.messages import GridWorkError
from gridplanner.gridwork.workdays import WorkCalendar

HOLIDAY, WORKDAY = "holiday", "workday"
KIND_FROM_TEXT = {
    "holiday": HOLIDAY, "休息": HOLIDAY, "放假": HOLIDAY, "休息日": HOLIDAY, "节假日": HOLIDAY, "休": HOLIDAY,
    "workday": WORKDAY, "上班": WORKDAY, "调休": WORKDAY, "调休上班": WORKDAY, "工作日": WORKDAY, "班": WORKDAY,
}
COLUMNS = {"day": ("日期", "date", "day"), "kind": ("类型", "kind", "type"), "name": ("名称", "节日", "name")}
MAX_LISTED = 50


class CalendarImportError(GridWorkError):
    """The file has problems; nothing was imported. ``problems``: (row, Chinese, English)."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]):
        self.source, self.problems = source, problems
        shown = problems[:MAX_LISTED]
        zh = "\n".join([f"{source}：{len(problems)} 处问题，未导入任何内容"] + [f"  第 {r} 行：{p}" for r, p, _ in shown])
        en = "\n".join([f"{source}: {len(problems)} problem(s), nothing was imported"] + [f"  row {r}: {p}" for r, _, p in shown])
        super().__init__(zh, en)

    def body(self) -> dict:
        return {"detail": self.zh.splitlines()[0], "detail_en": self.en.splitlines()[0], "source": self.source,
                "problems": [{"row": r, "problem": zh, "problem_en": en} for r, zh, en in self.problems]}


@dataclass
class CalendarReport:
    source: str
    holidays: int
    workdays: int
    first: date | None
    last: date | None


def load_calendar(session: Session) -> WorkCalendar:
    """The whole calendar (a few dozen rows a year: cheaper to read than to query per deadline)."""
    rows = session.execute(text("SELECT day, kind FROM calendar_days")).all()
    return WorkCalendar(holidays=frozenset(r.day for r in rows if r.kind == HOLIDAY), workdays=frozenset(r.day for r in rows if r.kind == WORKDAY))


def _rows(data: bytes, source: str) -> list[tuple]:
    """The table of a CSV (UTF-8, with or without BOM, or GB18030 as Excel in China saves it) or XLSX file."""
    if data[:4] == b"PK\x03\x04":
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises several kinds for a damaged file
            raise CalendarImportError(source, [(1, f"不是可读取的 XLSX 工作簿（{exc.__class__.__name__}）", f"not a readable XLSX workbook ({exc.__class__.__name__})")]) from None
        return [tuple(r) for r in sheet.iter_rows(values_only=True)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return [tuple(r) for r in csv.reader(io.StringIO(data.decode(encoding)))]
        except UnicodeDecodeError:
            continue
    raise CalendarImportError(source, [(1, "文件既不是 XLSX，也不是 UTF-8 或 GB18030 编码的 CSV", "the file is neither XLSX nor a CSV in UTF-8 or GB18030")])


def _day(value) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip().replace("/", "-"))


def parse_calendar(data: bytes, source: str) -> list[tuple[date, str, str | None]]:
    """(day, kind, name) of every row; CalendarImportError listing every problem (a bad date or kind, a date
    twice in the file, a holiday that is already a weekend day is fine, a make-up working day that is a weekday
    is not: it would change nothing and is surely a typo)."""
    rows = _rows(data, source)
    if not rows:
        raise CalendarImportError(source, [(1, "文件是空的", "the file is empty")])
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    where = {f: next((header.index(n.lower()) for n in names if n.lower() in header), None) for f, names in COLUMNS.items()}
    if where["day"] is None or where["kind"] is None:
        raise CalendarImportError(source, [(1, "缺少列 日期 或 类型", "missing column 日期 (date) or 类型 (kind)")])
    problems: list[tuple[int, str, str]] = []
    out, seen = [], {}
    for i, r in enumerate(rows[1:], start=2):
        cells = [None if c is None or (isinstance(c, str) and not c.strip()) else c for c in r]
        if all(c is None for c in cells):
            continue
        get = lambda f: cells[where[f]] if where[f] is not None and where[f] < len(cells) else None  # noqa: E731
        raw_day, raw_kind, name = get("day"), get("kind"), get("name")
        try:
            day = _day(raw_day)
        except (ValueError, TypeError):
            problems.append((i, f"日期 {raw_day!r} 不是日期（如 2026-10-01）", f"date {raw_day!r} is not a date (such as 2026-10-01)"))
            continue
        kind = KIND_FROM_TEXT.get(str(raw_kind).strip().lower()) if raw_kind is not None else None
        if kind is None:
            problems.append((i, f"类型须为 放假 或 上班，而不是 {raw_kind!r}", f"kind must be holiday (放假) or workday (上班), not {raw_kind!r}"))
            continue
        if kind == WORKDAY and day.weekday() < 5:
            problems.append((i, f"{day} 是周{'一二三四五'[day.weekday()]}，本来就上班，不是调休", f"{day} is a weekday, worked anyway: not a make-up working day"))
            continue
        if day in seen:
            problems.append((i, f"日期 {day} 与第 {seen[day]} 行重复", f"date {day} appears already in row {seen[day]}"))
            continue
        seen[day] = i
        out.append((day, kind, str(name).strip() if name is not None else None))
    if problems:
        raise CalendarImportError(source, problems)
    if not out:
        raise CalendarImportError(source, [(1, "文件中没有任何日期", "the file lists no day")])
    return out


def import_calendar(session: Session, data: bytes, source: str, *, actor: str) -> CalendarReport:
    """Load a file of holidays and make-up working days (all or nothing; a date in the store is replaced)."""
    days = parse_calendar(data, source)
    session.execute(
        text("""INSERT INTO calendar_days (day, kind, name, source) SELECT * FROM unnest(CAST(:d AS date[]), CAST(:k AS text[]), CAST(:n AS text[]), CAST(:s AS text[]))
                ON CONFLICT (day) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, source = EXCLUDED.source, updated_at = now()"""),
        {"d": [d for d, _, _ in days], "k": [k for _, k, _ in days], "n": [n for _, _, n in days], "s": [source] * len(days)},
    )
    report = CalendarReport(source, sum(1 for _, k, _ in days if k == HOLIDAY), sum(1 for _, k, _ in days if k == WORKDAY), min(d for d, _, _ in days), max(d for d, _, _ in days))
    record(session, actor, "import calendar", "calendar_days", None, {"source": source, "holidays": report.holidays, "workdays": report.workdays})
    session.flush()
    return report


def list_days(session: Session, year: int | None = None) -> list[dict]:
    where = "WHERE extract(year FROM day) = :y" if year else ""
    return [dict(r) for r in session.execute(text(f"SELECT day, kind, name FROM calendar_days {where} ORDER BY day"), {"y": year}).mappings()]
