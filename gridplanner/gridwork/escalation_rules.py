"""The rules of 吹哨报到 (escalation to departments), as pure functions.

Grid workers are 探头 and 哨兵: they find problems and do not replace departments. When the grid cannot settle an
incident it blows the whistle (吹哨) on the departments that own the work (the owners of admitted grid items);
each department reports for duty (报到: acknowledges) within a limit, then responds with what it did. An
escalation goes whistled → acknowledged → responded, nothing else, and the incident cannot be closed (结案) while
any of its escalations is unanswered: closing would hide a department that never came.
"""

from __future__ import annotations

from datetime import datetime

from gridplanner.gridwork.messages import GridWorkError

WHISTLED, ACKNOWLEDGED, RESPONDED = "whistled", "acknowledged", "responded"
STATUSES = (WHISTLED, ACKNOWLEDGED, RESPONDED)
STATUS_ZH = {WHISTLED: "已吹哨", ACKNOWLEDGED: "已报到", RESPONDED: "已反馈"}
STEPS = {WHISTLED: (ACKNOWLEDGED,), ACKNOWLEDGED: (RESPONDED,), RESPONDED: ()}
#: The incident steps during which the grid may escalate: dispatched to the grid and being handled. Before
#: 派遣 nobody has tried; from 核查 on the work is done or being checked.
ESCALABLE = ("派遣", "处置")
MAX_NOTE = 2000
MAX_ITEMS = 20


class EscalationRuleError(GridWorkError):
    """A field the rules refuse (422)."""


class EscalationStepError(GridWorkError):
    """A step the escalation's or the incident's status does not allow (409)."""


class EscalationForbidden(GridWorkError):
    """Not this caller's escalation, or not their district (403)."""


class EscalationNotFound(GridWorkError, LookupError):
    pass


class EscalationPending(EscalationStepError):
    """The incident has escalations not yet answered: it cannot be closed."""


def check_escalable(incident_id: int, incident_status: str) -> None:
    """
    >>> check_escalable(7, "处置")
    >>> check_escalable(7, "核查")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.escalation_rules.EscalationStepError: 事件 7 处于核查，只有派遣或处置中的事件可以吹哨 (incident 7 is in 核查: only an incident in 派遣 or 处置 can be escalated)
    """
    if incident_status not in ESCALABLE:
        raise EscalationStepError(
            f"事件 {incident_id} 处于{incident_status}，只有派遣或处置中的事件可以吹哨",
            f"incident {incident_id} is in {incident_status}: only an incident in 派遣 or 处置 can be escalated",
        )


def check_step(escalation_id: int, current: str, to: str) -> None:
    """
    >>> check_step(3, WHISTLED, ACKNOWLEDGED)
    >>> check_step(3, WHISTLED, RESPONDED)
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.escalation_rules.EscalationStepError: 吹哨 3 为已吹哨，须先报到再反馈 (escalation 3 is whistled: acknowledge it before responding)
    """
    if to in STEPS[current]:
        return
    if current == WHISTLED and to == RESPONDED:
        raise EscalationStepError(f"吹哨 {escalation_id} 为已吹哨，须先报到再反馈", f"escalation {escalation_id} is whistled: acknowledge it before responding")
    raise EscalationStepError(f"吹哨 {escalation_id} 已{STATUS_ZH[current][1:]}，不能再{STATUS_ZH[to][1:]}", f"escalation {escalation_id} is {current} already: it cannot be {to} again")


def check_text(value: str | None, *, required: bool, what_zh: str, what_en: str) -> str | None:
    """A note or reason, stripped; required ones may not be blank.

    >>> check_text("  已派执法队  ", required=True, what_zh="反馈", what_en="response")
    '已派执法队'
    >>> check_text(" ", required=True, what_zh="反馈", what_en="response")
    Traceback (most recent call last):
    ...
    gridplanner.gridwork.escalation_rules.EscalationRuleError: 须填写反馈 (response is required)
    """
    value = (value or "").strip() or None
    if required and value is None:
        raise EscalationRuleError(f"须填写{what_zh}", f"{what_en} is required")
    if value is not None and len(value) > MAX_NOTE:
        raise EscalationRuleError(f"{what_zh}最多 {MAX_NOTE} 个字符", f"{what_en}: at most {MAX_NOTE} characters")
    return value


def check_item_codes(codes: list[str]) -> list[str]:
    """The items escalated under: 1 … MAX_ITEMS codes, none twice."""
    codes = [str(c).strip() for c in codes or () if str(c).strip()]
    if not codes:
        raise EscalationRuleError("须至少指定一个网格事项（向其责任部门吹哨）", "name at least one grid item: the escalation goes to its owning department")
    if len(codes) > MAX_ITEMS:
        raise EscalationRuleError(f"一次最多向 {MAX_ITEMS} 个事项的部门吹哨", f"at most {MAX_ITEMS} items at once")
    twice = sorted({c for c in codes if codes.count(c) > 1})
    if twice:
        raise EscalationRuleError(f"事项重复：{'、'.join(twice)}", f"item(s) named twice: {', '.join(twice)}")
    return codes


def overdue_flags(status: str, ack_due_at: datetime, respond_due_at: datetime, now: datetime) -> dict[str, bool]:
    """``ack_overdue``: not acknowledged and past its 报到 limit; ``response_overdue``: not answered and past the
    response limit; ``overdue``: either. (A late acknowledgement stays late in the assessment, not here: this is
    what still needs chasing.)

    >>> from datetime import timezone as tz
    >>> t = lambda h: datetime(2026, 12, 7, h, tzinfo=tz.utc)
    >>> overdue_flags(WHISTLED, t(9), t(17), t(10))
    {'ack_overdue': True, 'response_overdue': False, 'overdue': True}
    >>> overdue_flags(ACKNOWLEDGED, t(9), t(17), t(18))["response_overdue"], overdue_flags(RESPONDED, t(9), t(17), t(18))["overdue"]
    (True, False)
    """
    ack = status == WHISTLED and now > ack_due_at
    response = status != RESPONDED and now > respond_due_at
    return {"ack_overdue": ack, "response_overdue": response, "overdue": ack or response}


def pending_message(incident_id: int, departments: list[str]) -> EscalationPending:
    return EscalationPending(
        f"事件 {incident_id} 还有 {len(departments)} 个部门未反馈（{'、'.join(departments)}），不能结案",
        f"incident {incident_id} cannot be closed: {len(departments)} department(s) have not responded to its escalation ({', '.join(departments)})",
    )
