"""吹哨报到: an admin or a planner (in their districts) escalates an incident in 派遣/处置 to the departments owning
admitted grid items; a department account acknowledges (报到) and responds (反馈) for its own escalations only;
officials list them, overdue ones flagged. Errors carry Chinese ``detail`` and English ``detail_en``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.params import OffsetParam, limit_param
from gridplanner.api.security import PrincipalDep
from gridplanner.gridwork import escalation_rules as rules
from gridplanner.gridwork import escalations

router = APIRouter(prefix="/escalations", tags=["escalations"])
whistlers = [Depends(security.require_role("admin", "planner"))]
readers = [Depends(security.require_role("admin", "planner", "viewer", "department"))]
departments_only = [Depends(security.require_role("department"))]


class EscalateIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"incident_id": 42, "item_codes": ["JZ-001", "AQ-001"], "reason": "占道经营屡劝不改，需执法"}]})
    incident_id: int
    item_codes: list[str] = Field(min_length=1, max_length=rules.MAX_ITEMS, description="admitted grid items: the escalation goes to each one's owning department")
    reason: str = Field(min_length=1, max_length=rules.MAX_NOTE, description="吹哨事由: why the grid cannot settle it")
    ack_days: int | None = Field(None, ge=1, le=30, description="working days to report for duty (报到); default: setting escalation_ack_working_days")


class EventOut(BaseModel):
    step: str
    actor: str
    at: datetime
    note: str | None


class EscalationOut(BaseModel):
    id: int
    incident_id: int
    item_code: str
    item_name: str
    department: str
    reason: str
    status: str = Field(description="whistled (已吹哨), acknowledged (已报到) or responded (已反馈)")
    escalated_by: str
    escalated_at: datetime
    ack_due_at: datetime = Field(description="报到 due: ack_days working days after the whistle")
    respond_due_at: datetime = Field(description="response due: the item's time_limit_days working days after the whistle")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    responded_at: datetime | None
    responded_by: str | None
    response: str | None
    incident_status: str
    category: str
    incident_description: str | None
    incident_address: str | None
    reported_at: datetime
    incident_due_at: datetime | None
    grid_code: str | None
    community_code: str | None
    lon: float = Field(description="the incident's place, CGCS2000 lon/lat: what the department needs to go there")
    lat: float
    ack_overdue: bool
    response_overdue: bool
    overdue: bool


class EscalationDetail(EscalationOut):
    events: list[EventOut]


class EscalationPage(BaseModel):
    total: int
    items: list[EscalationOut]


class AcknowledgeIn(BaseModel):
    note: str | None = Field(None, max_length=rules.MAX_NOTE, description="optional: who comes, when")


class RespondIn(BaseModel):
    note: str = Field(min_length=1, max_length=rules.MAX_NOTE, description="what the department did (反馈)")


@router.post("", response_model=list[EscalationDetail], status_code=status.HTTP_201_CREATED, dependencies=whistlers)
def escalate(body: EscalateIn, session: SessionDep, principal: PrincipalDep) -> list[dict]:
    """吹哨: one escalation per owning department of the items named, with its 报到 and response deadlines in
    working days. The incident must be in 派遣 or 处置; a planner only for incidents of their districts."""
    districts = None if principal.role == "admin" else principal.districts
    return escalations.escalate(session, body.incident_id, item_codes=body.item_codes, reason=body.reason, actor=principal.actor, districts=districts, ack_days=body.ack_days)


@router.get("", response_model=EscalationPage, dependencies=readers)
def list_escalations(
    session: SessionDep, principal: PrincipalDep, overdue: bool | None = None,
    status_: Annotated[Literal["whistled", "acknowledged", "responded"] | None, Query(alias="status")] = None, department: str | None = None,
    incident_id: int | None = None, limit: limit_param(1000, "escalations") = 100, offset: OffsetParam = 0,
) -> dict:
    """Escalations newest first; ``overdue=true``: not acknowledged past the 报到 limit, or not answered past the
    response limit. A department account sees its own only (``department`` is then ignored)."""
    if principal.role == "department":
        department = principal.department
    total, rows = escalations.list_escalations(session, department=department, overdue=overdue, status=status_, incident_id=incident_id, limit=limit, offset=offset)
    return {"total": total, "items": rows}


@router.get("/{escalation_id}", response_model=EscalationDetail, dependencies=readers)
def get_escalation(escalation_id: int, session: SessionDep, principal: PrincipalDep) -> dict:
    """One escalation with every step (who, when)."""
    return escalations.escalation_view(session, escalation_id, department=principal.department if principal.role == "department" else None)


@router.post("/{escalation_id}/acknowledge", response_model=EscalationDetail, dependencies=departments_only)
def acknowledge(escalation_id: int, session: SessionDep, principal: PrincipalDep, body: AcknowledgeIn | None = None) -> dict:
    """报到: the department escalated to reports for duty."""
    return escalations.act(session, escalation_id, rules.ACKNOWLEDGED, department=principal.department, actor=principal.actor, note=body.note if body else None)


@router.post("/{escalation_id}/respond", response_model=EscalationDetail, dependencies=departments_only)
def respond(escalation_id: int, body: RespondIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """反馈: what the department did (after 报到). Once every department has answered, the incident may close."""
    return escalations.act(session, escalation_id, rules.RESPONDED, department=principal.department, actor=principal.actor, note=body.note)
