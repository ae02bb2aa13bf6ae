"""响应评价: the month's assessment per department, street, community or grid, ranked; as JSON or XLSX.
Officials read it (admins, planners, viewers); the figures are computed in PostGIS (gridwork.assessment)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.gridwork import assessment

router = APIRouter(prefix="/assessment", tags=["assessment"], dependencies=[Depends(security.require_role("admin", "planner", "viewer"))])
By = Literal["department", "street", "community", "grid"]
Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM, Beijing time", examples=["2026-11"])]


class RowOut(BaseModel):
    rank: int
    key: str = Field(description="the department's name, or the street (9 digits), community (12) or grid code")
    on_time_rate: float | None = Field(description="(acknowledged on time + closed on time) / their decided counts")
    escalations: int
    acknowledged_on_time: int
    ack_decided: int
    ack_on_time_rate: float | None
    responded_on_time: int
    respond_decided: int
    respond_on_time_rate: float | None
    hours_to_acknowledge: float | None
    hours_to_respond: float | None
    incidents: int
    closed: int
    closed_on_time: int
    closed_decided: int
    closed_on_time_rate: float | None
    reopened: int = Field(description="sent back from 核查 to 处置 at least once")
    rated: int
    satisfaction: float | None = Field(description="mean of the 1-5 scores at 评价")
    step_hours: dict[str, float] = Field(description="mean hours from the previous step to each step")


class AssessmentOut(BaseModel):
    month: str
    by: By
    from_: datetime = Field(alias="from")
    to: datetime
    computed_at: datetime
    rows: list[RowOut]


@router.get("", response_model=AssessmentOut, response_model_by_alias=True)
def assess(session: SessionDep, month: Month, by: By = "department") -> dict:
    """The month's table, ranked by the on-time rate then satisfaction (equal figures share a rank)."""
    return assessment.assess(session, month, by)


@router.get("/export", response_class=Response, responses={200: {"content": {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}}})
def export(session: SessionDep, month: Month, by: By = "department") -> Response:
    """The same table as an XLSX workbook (Chinese headers)."""
    data = assessment.export_xlsx(assessment.assess(session, month, by))
    name = f"响应评价-{month}-{assessment.BY_ZH[by]}.xlsx"
    return Response(data, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=\"assessment-{month}-{by}.xlsx\"; filename*=UTF-8''{quote(name)}"})
