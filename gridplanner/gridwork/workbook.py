"""The 网格事项清单 as an XLSX workbook: export, and import checked whole before anything is written.

Import is how a county loads its existing list (with the admission records it already has), so it may carry
admitted and exited items: it is an admin's act, like admission itself. Every problem is listed with the file
and the row as a spreadsheet numbers it (header = row 1); with any problem nothing is written. An item already
in the store may have its descriptive fields changed by the file, and may move forward in its record
(proposed → admitted → exited), but a record once made (who approved, when, the exit) is never rewritten and
never goes back.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridplanner.auth.audit import record
from gridplanner.gridwork import admission as rules
from gridplanner.gridwork.catalogue import categories, list_items, today
from gridplanner.gridwork.messages import GridWorkError, ItemRuleError
from gridplanner.store import models as m

#: field -> (the header the export writes, other headers accepted)
COLUMNS: dict[str, tuple[str, ...]] = {
    "code": ("事项编码", "编码", "code"),
    "name": ("事项名称", "名称", "name"),
    "department": ("责任部门", "主管部门", "department"),
    "category": ("类别", "事项类别", "category"),
    "worker_role": ("网格员职责", "职责", "worker_role"),
    "time_limit_days": ("办理时限（工作日）", "办理时限(工作日)", "办理时限", "时限", "time_limit_days"),
    "description": ("说明", "备注", "description"),
    "status": ("状态", "status"),
    "proposed_by": ("提出人", "proposed_by"),
    "proposed_on": ("提出日期", "proposed_on"),
    "approved_by": ("批准人", "approved_by"),
    "admitted_on": ("准入日期", "admitted_on"),
    "exited_on": ("退出日期", "exited_on"),
    "exit_reason": ("退出原因", "exit_reason"),
}
REQUIRED = ("code", "name", "department", "category", "worker_role", "time_limit_days")
STATUS_FROM_TEXT = {**{s: s for s in rules.STATUSES}, **{zh: s for s, zh in rules.STATUS_ZH.items()}}
SHEET = "网格事项清单"
MAX_LISTED = 50


class ItemImportError(GridWorkError):
    """The workbook has problems; nothing was imported. ``problems``: (row, Chinese, English)."""

    def __init__(self, source: str, problems: list[tuple[int, str, str]]):
        self.source, self.problems = source, problems
        shown = problems[:MAX_LISTED]
        more = len(problems) - len(shown)
        zh = "\n".join([f"{source}：{len(problems)} 处问题，未导入任何内容"] + [f"  第 {r} 行：{p}" for r, p, _ in shown] + ([f"  … 另有 {more} 处"] if more else []))
        en = "\n".join([f"{source}: {len(problems)} problem(s), nothing was imported"] + [f"  row {r}: {p}" for r, _, p in shown] + ([f"  … and {more} more"] if more else []))
        super().__init__(zh, en)

    def body(self) -> dict:
        return {
            "detail": self.zh.splitlines()[0],
            "detail_en": self.en.splitlines()[0],
            "source": self.source,
            "problems": [{"row": r, "problem": zh, "problem_en": en} for r, zh, en in self.problems],
        }


@dataclass
class ImportReport:
    source: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    codes: list[str] = field(default_factory=list)


def _cell(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text_ = str(value).strip()
    return text_ or None


def _date(value, what_zh: str, what_en: str) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip().replace("/", "-"))
    except ValueError:
        raise ItemRuleError(f"{what_zh} {value!r} 不是日期（如 2026-12-01）", f"{what_en} {value!r} is not a date (such as 2026-12-01)") from None


def read_rows(data: bytes, source: str) -> list[tuple[int, dict]]:
    """(row number, {field: raw value}) of the first sheet; ItemImportError for a file that is no workbook,
    is empty or lacks a required column."""
    from openpyxl import load_workbook

    try:
        sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    except Exception as exc:  # openpyxl raises several kinds for a damaged or foreign file
        raise ItemImportError(source, [(1, f"不是可读取的 XLSX 工作簿（{exc.__class__.__name__}）", f"not a readable XLSX workbook ({exc.__class__.__name__})")]) from None
    rows = list(sheet.iter_rows(values_only=True))
    if not rows:
        raise ItemImportError(source, [(1, "文件是空的", "the file is empty")])
    header = [str(h).strip().lower() if h is not None else "" for h in rows[0]]
    where: dict[str, int] = {}
    for ours, names in COLUMNS.items():
        for n in names:
            if n.lower() in header:
                where[ours] = header.index(n.lower())
                break
    missing = [c for c in REQUIRED if c not in where]
    if missing:
        zh = "缺少列 " + "、".join(COLUMNS[c][0] for c in missing)
        raise ItemImportError(source, [(1, zh, "missing column(s) " + ", ".join(f"{c} ({COLUMNS[c][0]})" for c in missing))])
    out = []
    for i, r in enumerate(rows[1:], start=2):
        if all(v is None or (isinstance(v, str) and not v.strip()) for v in r):
            continue
        out.append((i, {f: (r[j] if j < len(r) else None) for f, j in where.items()}))
    return out


def check_row(raw: dict, *, categories: set[str], actor: str) -> dict:
    """One row as the values of a grid_items row (ItemRuleError for its first problem)."""
    f = rules.check_fields(
        _cell(raw.get("code")), _cell(raw.get("name")), _cell(raw.get("department")), _cell(raw.get("category")),
        _cell(raw.get("worker_role")), _cell(raw.get("time_limit_days")), _cell(raw.get("description")), categories=categories,
    )
    status_text = _cell(raw.get("status")) or rules.PROPOSED
    status = STATUS_FROM_TEXT.get(status_text)
    if status is None:
        raise ItemRuleError(f"状态须为 拟准入、已准入、已退出 之一，而不是 {status_text!r}", f"status must be proposed, admitted or exited (拟准入, 已准入, 已退出), not {status_text!r}")
    values = {
        "code": f.code, "name": f.name, "department": f.department, "category": f.category, "worker_role": f.worker_role,
        "time_limit_days": f.time_limit_days, "description": f.description, "status": status,
        "proposed_by": _cell(raw.get("proposed_by")) or actor,
        # Empty: the store's date for an item it has, today for a new one (import_items fills it in).
        "proposed_on": _date(raw.get("proposed_on"), "提出日期", "proposed_on"),
        "approved_by": _cell(raw.get("approved_by")),
        "admitted_on": _date(raw.get("admitted_on"), "准入日期", "admitted_on"),
        "exited_on": _date(raw.get("exited_on"), "退出日期", "exited_on"),
        "exit_reason": _cell(raw.get("exit_reason")),
    }
    rules.check_record(f.code, status, values["approved_by"], values["admitted_on"], values["exited_on"], values["exit_reason"], values["proposed_on"])
    return values


#: What admission and exit recorded: once set, a file may repeat it but not change it.
RECORDED = ("approved_by", "admitted_on", "exited_on", "exit_reason")


def check_against_store(values: dict, current: m.GridItem) -> None:
    """An item already in the store: its record moves forward only, and what it records stays."""
    code, now, new = values["code"], current.status, values["status"]
    if rules.STATUSES.index(new) < rules.STATUSES.index(now):
        raise ItemRuleError(f"事项 {code} 在清单中为{rules.STATUS_ZH[now]}，文件不能改回{rules.STATUS_ZH[new]}", f"item {code} is {now} in the store; the file cannot set it back to {new}")
    kept = [k for k in RECORDED if getattr(current, k) is not None and getattr(current, k) != values[k]]
    if kept:
        raise ItemRuleError(f"事项 {code} 的准入退出记录（{'、'.join(kept)}）不能由文件改写", f"item {code}: the admission record ({', '.join(kept)}) cannot be rewritten by a file")
    # Who proposed it and when stays as the store has it.
    values["proposed_by"], values["proposed_on"] = current.proposed_by, current.proposed_on


def import_items(session: Session, data: bytes, source: str, *, actor: str) -> ImportReport:
    """Import a workbook of items whole or not at all (one transaction: the caller's)."""
    raw_rows = read_rows(data, source)
    known = categories(session)
    on = today(session)
    existing = {r.code: r for r in session.scalars(select(m.GridItem).with_for_update())}
    problems: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    checked: list[dict] = []
    for row_no, raw in raw_rows:
        try:
            values = check_row(raw, categories=known, actor=actor)
            if values["code"] in seen:
                raise ItemRuleError(f"事项编码 {values['code']} 与第 {seen[values['code']]} 行重复", f"item code {values['code']} repeats row {seen[values['code']]}")
            seen[values["code"]] = row_no
            if values["code"] in existing:
                check_against_store(values, existing[values["code"]])
            values["proposed_on"] = values["proposed_on"] or on
            rules.check_record(values["code"], values["status"], values["approved_by"], values["admitted_on"], values["exited_on"], values["exit_reason"], values["proposed_on"])
            checked.append(values)
        except ItemRuleError as exc:
            problems.append((row_no, exc.zh, exc.en))
    if not raw_rows:
        problems.append((2, "文件没有任何事项", "the file lists no items"))
    if problems:
        raise ItemImportError(source, problems)
    report = ImportReport(source)
    for values in checked:
        row = existing.get(values["code"])
        if row is None:
            session.add(m.GridItem(**values))
            report.inserted += 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            report.updated += 1
        else:
            report.unchanged += 1
        report.codes.append(values["code"])
    session.flush()
    record(session, actor, "import grid items", "grid_item", None, {"source": source, "inserted": report.inserted, "updated": report.updated})
    return report


def export_items(session: Session, *, status: str | None = None) -> bytes:
    """The list as XLSX (sheet 网格事项清单, the import's headers); the file can be imported again."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([names[0] for names in COLUMNS.values()])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for item in list_items(session, status=status):
        d = item.as_dict()
        d["status"] = rules.STATUS_ZH[d["status"]]
        ws.append([d[f] for f in COLUMNS])
    for col in ws.columns:
        width = max(len(str(c.value or "")) for c in col)
        ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.8))
    # Codes stay text in the spreadsheet (a code of digits must not become a number).
    for cell in ws["A"][1:]:
        cell.number_format = "@"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
