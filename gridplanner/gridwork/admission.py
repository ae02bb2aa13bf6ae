"""The rules of the 网格事项清单, as pure functions: the fields of an item and the steps of its admission record.

An item is *proposed* (拟准入) by a planner or an admin, *admitted* (准入) by an admin, and may later *exit*
(退出) grid work, by an admin again, with a date and a reason. Exit is final: work that comes back into the grids
is proposed again under a new code, so the record of what was admitted when stays true.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from gridplanner.gridwork.messages import ItemNotAssignable, ItemRuleError, ItemStepError

PROPOSED, ADMITTED, EXITED = "proposed", "admitted", "exited"
STATUSES = (PROPOSED, ADMITTED, EXITED)
STATUS_ZH = {PROPOSED: "拟准入", ADMITTED: "已准入", EXITED: "已退出"}
#: What the grid worker does with the item: they find problems and do not replace departments (探头, 哨兵).
WORKER_ROLES = ("发现", "上报", "协助", "办理")
TRANSITIONS = {PROPOSED: (ADMITTED,), ADMITTED: (EXITED,), EXITED: ()}
#: Codes end up in URLs (Open311 service_code, /services/{code}.json): letters, digits, '-' and '_' only.
CODE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_TIME_LIMIT_DAYS = 365


@dataclass(frozen=True)
class ItemFields:
    """The descriptive fields of an item, checked."""

    code: str
    name: str
    department: str
    category: str
    worker_role: str
    time_limit_days: int
    description: str | None = None


def _text(value, zh: str, en: str, *, most: int = 200) -> str:
    cleaned = "" if value is None else str(value).strip()
    if not cleaned:
        raise ItemRuleError(f"{zh}不能为空", f"{en} is required")
    if len(cleaned) > most:
        raise ItemRuleError(f"{zh}最多 {most} 个字符", f"{en}: at most {most} characters")
    return cleaned


def check_fields(code, name, department, category, worker_role, time_limit_days, description=None, *, categories: set[str]) -> ItemFields:
    """The fields cleaned, or ItemRuleError naming the first bad one.

    >>> check_fields(" HJ-01 ", "占道经营", "城管局", "街面秩序", "上报", 3, categories={"街面秩序"}).code
    'HJ-01'
    >>> check_fields("HJ-01", "占道经营", "城管局", "街面秩序", "处理", 3, categories={"街面秩序"})
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.messages.ItemRuleError: 网格员职责须为 发现、上报、协助、办理 之一，而不是 '处理' (worker role must be one of 发现, 上报, 协助, 办理, not '处理')
    """
    code = "" if code is None else str(code).strip()
    if not CODE.match(code):
        raise ItemRuleError(f"事项编码 {code!r} 只能由 1–32 个字母、数字、'-' 或 '_' 组成", f"item code {code!r}: 1-32 letters, digits, '-' or '_'")
    name = _text(name, "事项名称", "name")
    department = _text(department, "责任部门", "department")
    category = _text(category, "类别", "category")
    if category not in categories:
        raise ItemRuleError(
            f"类别 {category!r} 不在事件类别目录中（{'、'.join(sorted(categories))}）",
            f"category {category!r} is not in the incident catalogue ({', '.join(sorted(categories))})",
        )
    role = "" if worker_role is None else str(worker_role).strip()
    if role not in WORKER_ROLES:
        raise ItemRuleError(f"网格员职责须为 {'、'.join(WORKER_ROLES)} 之一，而不是 {role!r}", f"worker role must be one of {', '.join(WORKER_ROLES)}, not {role!r}")
    days = check_days(time_limit_days)
    desc = None if description is None or not str(description).strip() else _text(description, "说明", "description", most=2000)
    return ItemFields(code, name, department, category, role, days, desc)


def check_days(value) -> int:
    """A time limit in working days: a whole number from 1 to 365 (``3.0`` from a spreadsheet counts as 3).

    >>> check_days("5")
    5
    >>> check_days(0)
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.messages.ItemRuleError: 办理时限须为 1–365 的整数个工作日，而不是 0 (time limit must be a whole number of working days from 1 to 365, not 0)
    """
    try:
        number = float(str(value).strip())
        ok = number.is_integer() and 1 <= number <= MAX_TIME_LIMIT_DAYS
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ItemRuleError(f"办理时限须为 1–{MAX_TIME_LIMIT_DAYS} 的整数个工作日，而不是 {value}", f"time limit must be a whole number of working days from 1 to {MAX_TIME_LIMIT_DAYS}, not {value}")
    return int(number)


def check_step(code: str, current: str, to: str) -> None:
    """A step of the admission record: proposed → admitted → exited, nothing else (exit is final).

    >>> check_step("A1", "admitted", "exited")
    >>> check_step("A1", "exited", "admitted")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.messages.ItemStepError: 事项 A1 已退出，不能再准入 (item A1 is exited and cannot become admitted; exit is final, propose the work again under a new code)
    """
    if to not in STATUSES:
        raise ItemRuleError(f"未知状态 {to!r}", f"unknown status {to!r}; one of {', '.join(STATUSES)}")
    if to in TRANSITIONS[current]:
        return
    if current == EXITED:
        raise ItemStepError(f"事项 {code} 已退出，不能再{_verb(to)}", f"item {code} is exited and cannot become {to}; exit is final, propose the work again under a new code")
    if current == to:
        raise ItemStepError(f"事项 {code} 已经{STATUS_ZH[to]}", f"item {code} is {to} already")
    raise ItemStepError(f"事项 {code} 为{STATUS_ZH[current]}，不能直接{_verb(to)}", f"item {code} is {current}: it cannot become {to}; it can become {' or '.join(TRANSITIONS[current])}")


def _verb(status: str) -> str:
    return {PROPOSED: "拟准入", ADMITTED: "准入", EXITED: "退出"}[status]


def check_record(code: str, status: str, approved_by, admitted_on: date | None, exited_on: date | None, exit_reason, proposed_on: date | None = None) -> None:
    """An admission record that holds together (what the import reads must satisfy, before the database's own
    constraints): an admitted or exited item names its approver and admission date, an exited one its exit date
    and reason, and the dates run in order."""
    if status not in STATUSES:
        raise ItemRuleError(f"状态须为 拟准入、已准入、已退出 之一，而不是 {status!r}", f"status must be proposed, admitted or exited, not {status!r}")
    if status != PROPOSED and (not approved_by or admitted_on is None):
        raise ItemRuleError(f"事项 {code} 为{STATUS_ZH[status]}，须写明批准人和准入日期", f"item {code} is {status}: approved_by and admitted_on are required")
    if status == EXITED and (exited_on is None or not exit_reason):
        raise ItemRuleError(f"事项 {code} 已退出，须写明退出日期和退出原因", f"item {code} is exited: exited_on and exit_reason are required")
    if status == PROPOSED and (approved_by or admitted_on or exited_on or exit_reason):
        raise ItemRuleError(f"事项 {code} 为拟准入，不能有准入或退出记录", f"item {code} is proposed: it cannot have an admission or exit record")
    if status == ADMITTED and (exited_on or exit_reason):
        raise ItemRuleError(f"事项 {code} 为已准入，不能有退出记录", f"item {code} is admitted: it cannot have an exit record")
    if proposed_on and admitted_on and admitted_on < proposed_on:
        raise ItemRuleError(f"事项 {code} 的准入日期早于提出日期", f"item {code}: admitted_on is before proposed_on")
    if admitted_on and exited_on and exited_on < admitted_on:
        raise ItemRuleError(f"事项 {code} 的退出日期早于准入日期", f"item {code}: exited_on is before admitted_on")


def check_assignable(code: str, status: str) -> None:
    """Only admitted items may be pushed down to grid workers (an Open311 request, a task sent by area).

    >>> check_assignable("A1", "admitted")
    >>> check_assignable("A1", "exited")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.messages.ItemNotAssignable: 事项 A1 已退出网格事项清单，不能再派给网格员 (item A1 has exited the catalogue of grid items and can no longer be assigned to grid workers)
    """
    if status == ADMITTED:
        return
    if status == EXITED:
        raise ItemNotAssignable(f"事项 {code} 已退出网格事项清单，不能再派给网格员", f"item {code} has exited the catalogue of grid items and can no longer be assigned to grid workers")
    raise ItemNotAssignable(f"事项 {code} 尚未准入，不能派给网格员", f"item {code} is not admitted yet and cannot be assigned to grid workers")
