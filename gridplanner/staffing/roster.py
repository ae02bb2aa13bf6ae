"""Roster import: a CSV or XLSX of grid workers checked whole, then written all at once or not at all.

Columns (English or the usual Chinese headers): name 姓名, phone 电话/手机, role 角色/岗位, grid_code 网格编码,
id_number 身份证号. ID numbers are checked (GB 11643) and only their masked form is ever kept.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.store.published import published_codes
from gridplanner.staffing.validation import FieldError, clean_name, clean_phone, clean_role, mask_id_number
from gridplanner.store import models as m

COLUMNS = {
    "name": ("name", "姓名", "名字"),
    "phone": ("phone", "电话", "手机", "手机号", "手机号码", "联系电话"),
    "role": ("role", "角色", "岗位", "职务"),
    "grid_code": ("grid_code", "grid", "网格编码", "网格代码", "网格号"),
    "id_number": ("id_number", "身份证号", "身份证号码", "证件号码", "id_number_masked"),
}
REQUIRED = ("name", "phone", "role")
MAX_LISTED = 50


@dataclass(frozen=True)
class Problem:
    row: int  # as a spreadsheet shows it: the header is row 1
    message: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.message}"


class RosterError(ValueError):
    """The roster has problems; nothing was written."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source, self.problems = source, problems
        lines = [f"{source}: {len(problems)} problem(s), nothing was imported"] + [f"  {p}" for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            lines.append(f"  … and {len(problems) - MAX_LISTED} more")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class RosterRow:
    row: int
    name: str
    phone: str
    role: str
    grid_code: str | None
    id_number_masked: str | None


@dataclass
class RosterReport:
    source: str
    inserted: int = 0
    updated: int = 0
    deactivated: int = 0
    #: Rows whose grid code the published plan does not hold, imported unassigned (``unknown_grid="unassign"``).
    unassigned: list[str] = field(default_factory=list)


def read_records(data: bytes, filename: str) -> list[tuple[int, dict[str, object]]]:
    """(row number, {header: value}) of a CSV (UTF-8, BOM or GB18030) or XLSX file's first sheet."""
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises several kinds for a damaged or foreign file
            raise RosterError(filename, [Problem(1, f"not a readable XLSX workbook ({exc.__class__.__name__})")]) from None
        rows = list(sheet.iter_rows(values_only=True))
    elif suffix in (".csv", ".txt", ""):
        for encoding in ("utf-8-sig", "gb18030"):
            try:
                text_ = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        else:
            raise RosterError(filename, [Problem(1, "not UTF-8 or GB18030 text")])
        rows = list(csv.reader(io.StringIO(text_)))
    else:
        raise RosterError(filename, [Problem(1, f"unsupported file type {suffix!r}: use .csv or .xlsx")])
    if not rows:
        raise RosterError(filename, [Problem(1, "the file is empty")])
    header = [str(h).strip() if h is not None else "" for h in rows[0]]
    return [(i, dict(zip(header, r))) for i, r in enumerate(rows[1:], start=2) if any(v not in (None, "") for v in r)]


def _columns(header: list[str], source: str) -> dict[str, str]:
    found, lower = {}, {h.lower(): h for h in header}
    for ours, names in COLUMNS.items():
        for n in names:
            if n.lower() in lower:
                found[ours] = lower[n.lower()]
                break
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise RosterError(source, [Problem(1, f"missing column(s) {', '.join(missing)} (header: {', '.join(header)})")])
    return found


def _text(value: object, what: str) -> str:
    if isinstance(value, float):
        # Spreadsheets turn long digit strings into floats and lose digits: refuse rather than guess.
        raise FieldError(f"{what} is stored as a number in the sheet; format the column as text")
    return "" if value is None else str(value).strip()


def parse_roster(records: list[tuple[int, dict]], source: str, known_codes: set[str], *, unknown_grid: str = "error") -> tuple[list[RosterRow], list[str]]:
    """Check every record; return the rows and the notes of rows imported unassigned, or raise RosterError."""
    if unknown_grid not in ("error", "unassign"):
        raise ValueError("unknown_grid must be 'error' or 'unassign'")
    if not records:
        raise RosterError(source, [Problem(2, "no rows below the header")])
    cols = _columns(list(records[0][1].keys()), source)
    rows, problems, unassigned, seen = [], [], [], {}
    for n, rec in records:
        get = lambda key: rec.get(cols[key]) if key in cols else None  # noqa: E731
        errs = []
        values = {}
        for key, clean in (("name", clean_name), ("phone", clean_phone), ("role", clean_role), ("id_number", mask_id_number)):
            try:
                values[key] = clean(_text(get(key), key))
            except FieldError as exc:
                errs.append(str(exc))
        code = _text(get("grid_code"), "grid_code") or None
        if code is not None and code not in known_codes:
            if unknown_grid == "unassign":
                unassigned.append(f"row {n}: grid code {code!r} is not in the published plan; imported unassigned")
                code = None
            else:
                errs.append(f"unknown grid code {code!r} (no grid of the published plan has it)")
        if not errs:
            key = (values["name"], values["phone"])
            if key in seen:
                errs.append(f"same name and phone as row {seen[key]}")
            seen.setdefault(key, n)
        if errs:
            problems.extend(Problem(n, e) for e in errs)
            continue
        rows.append(RosterRow(n, values["name"], values["phone"], values["role"], code, values["id_number"]))
    if problems:
        raise RosterError(source, problems)
    return rows, unassigned


def import_roster(session: Session, data: bytes, filename: str, *, unknown_grid: str = "error", replace: bool = False, actor: str = "system") -> RosterReport:
    """Check the whole roster, then upsert it: a worker is matched by name and phone. ``replace`` deactivates
    the active workers the file does not list (they are kept, never deleted)."""
    rows, unassigned = parse_roster(read_records(data, filename), filename, published_codes(session), unknown_grid=unknown_grid)
    report = RosterReport(source=filename, unassigned=unassigned)
    existing = {(s.name, s.phone): s for s in session.scalars(select(m.Staff).order_by(m.Staff.id))}
    listed = set()
    for r in rows:
        staff = existing.get((r.name, r.phone))
        if staff is None:
            session.add(m.Staff(name=r.name, phone=r.phone, role=r.role, grid_code=r.grid_code, id_number_masked=r.id_number_masked, active=True))
            report.inserted += 1
        else:
            staff.role, staff.grid_code, staff.active = r.role, r.grid_code, True
            staff.id_number_masked = r.id_number_masked or staff.id_number_masked
            report.updated += 1
        listed.add((r.name, r.phone))
    if replace:
        for key, staff in existing.items():
            if key not in listed and staff.active:
                staff.active = False
                report.deactivated += 1
    session.flush()
    record(session, actor, "import roster", "staff", None,
           {"source": filename, "inserted": report.inserted, "updated": report.updated, "deactivated": report.deactivated, "unassigned": len(unassigned)})
    return report
