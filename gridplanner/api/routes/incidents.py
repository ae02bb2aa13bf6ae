"""Incidents (事件): report at a point in any supported coordinate system, the category catalogue, the
lifecycle 上报 → 受理 → 派遣 → 处置 → 核查 → 结案 → 评价, hotline import, queries and per-grid counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.errors import error_json
from gridplanner.api.params import OffsetParam, limit_param
from gridplanner.incidents import catalogue as cat
from gridplanner.incidents import lifecycle, service
from gridplanner.incidents.hotline import IncidentImportError, import_hotline

router = APIRouter(prefix="/incidents", tags=["incidents"], dependencies=[Depends(security.admin_writes)])
Status = Literal["上报", "受理", "派遣", "处置", "核查", "结案", "评价"]
Crs = Literal["wgs84", "cgcs2000", "gcj02", "bd09"]


class CategoryOut(BaseModel):
    name: str
    kind: str | None
    time_limit_hours: float = Field(description="counted from dispatch (派遣)")
    sort: int
    active: bool


class CategorySet(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"time_limit_hours": 5}, {"time_limit_hours": 48, "kind": "社会治理事件", "active": True}]})
    time_limit_hours: float = Field(gt=0, le=24 * 365)
    kind: str | None = None
    sort: int | None = None
    active: bool = True


class IncidentCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"lon": 120.1249, "lat": 30.2719, "crs": "gcj02", "category": "安全隐患", "description": "消防栓损坏无水", "source": "网格员巡查", "actor": "王芳"}]})
    lon: float = Field(ge=-180, le=180)
    lat: float = Field(ge=-90, le=90)
    crs: Crs = Field("wgs84", description="coordinate system of lon/lat: wgs84, cgcs2000, gcj02 (AMap/Tencent), bd09 (Baidu)")
    category: str = Field(examples=["市容环境"])
    description: str | None = Field(None, max_length=2000)
    source: str | None = Field(None, examples=["12345热线"])
    reported_at: datetime | None = Field(None, description="default: now")
    external_id: str | None = Field(None, max_length=100)
    actor: str = Field("api", min_length=1, description="who reports it (recorded on the first event)")


class IncidentOut(BaseModel):
    id: int
    external_id: str | None
    category: str
    status: str
    description: str | None
    source: str | None
    reported_at: datetime
    dispatched_at: datetime | None
    due_at: datetime | None
    closed_at: datetime | None
    grid_code: str | None = Field(description="null: 无网格 (the point lies in no grid of the published plan)")
    community_code: str | None
    assignee_id: int | None
    assignee_name: str | None
    lon: float = Field(description="CGCS2000 (EPSG:4490) longitude")
    lat: float
    overdue: bool = Field(description="open and past due_at")
    satisfaction: int | None = Field(None, description="the resident's score at 评价, 1-5 (null: not scored)")
    no_grid: bool = Field(False, description="flag 无网格")


class EventOut(BaseModel):
    from_status: str | None
    to_status: str
    actor: str
    at: datetime
    note: str | None


class IncidentDetail(IncidentOut):
    events: list[EventOut]


class IncidentPage(BaseModel):
    total: int
    items: list[IncidentOut]


class TransitionIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"to": "受理", "actor": "李明"}, {"to": "处置", "actor": "核查员", "note": "核查未通过，退回处置"}]})
    to: Status
    actor: str = Field(min_length=1, max_length=100)
    note: str | None = Field(None, max_length=2000)
    score: int | None = Field(None, ge=1, le=5, description="评价 only: the resident's satisfaction, 1 (very dissatisfied) to 5 (very satisfied)")


class GridIn(BaseModel):
    grid_code: str = Field(examples=["330106001001001"])
    actor: str = Field(min_length=1, max_length=100)


class CountOut(BaseModel):
    code: str | None = Field(description="grid (or community) code; null: 无网格")
    community_code: str | None
    open: int
    overdue: int


class HotlineOut(BaseModel):
    source: str
    rows: int
    inserted: int
    skipped_existing: int
    no_grid: int
    no_grid_ids: list[str]
    notes: list[str]


def _out(row: dict) -> dict:
    return {**row, "no_grid": row["grid_code"] is None}


@router.get("/categories", response_model=list[CategoryOut])
def categories(session: SessionDep, include_inactive: bool = False) -> list[cat.Category]:
    """The category catalogue with each time limit (hours from dispatch)."""
    return cat.catalogue(session, include_inactive=include_inactive)


@router.put("/categories/{name}", response_model=CategoryOut)
def set_category(name: str, body: CategorySet, session: SessionDep) -> cat.Category:
    """Add a category or change its time limit, kind, order or activity (new limits apply from the next dispatch)."""
    try:
        return cat.set_category(session, name, time_limit_hours=body.time_limit_hours, kind=body.kind, sort=body.sort, active=body.active, actor="api")
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None


@router.post("", response_model=IncidentDetail, status_code=status.HTTP_201_CREATED)
def create_incident(body: IncidentCreate, session: SessionDep) -> dict:
    """Report an incident (status 上报). It is placed in the grid holding the point and given that grid's
    专职网格员; a point in no grid is kept with grid_code null (无网格)."""
    try:
        inc = service.create_incident(session, **body.model_dump())
    except (cat.UnknownCategory, service.CoordinateError, ValueError) as exc:
        raise HTTPException(422, str(exc)) from None
    return _out(service.incident_detail(session, inc.id))


@router.get("", response_model=IncidentPage)
def list_incidents(
    session: SessionDep,
    grid_code: str | None = None,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    category: str | None = None,
    reported_from: Annotated[datetime | None, Query(alias="from", description="reported at or after (ISO 8601)")] = None,
    reported_to: Annotated[datetime | None, Query(alias="to", description="reported before")] = None,
    overdue: bool | None = None,
    no_grid: Annotated[bool | None, Query(description="true: only 无网格 incidents")] = None,
    open: Annotated[bool, Query(description="only open incidents (上报 … 核查)")] = False,
    limit: limit_param(1000, "incidents") = 100,
    offset: OffsetParam = 0,
) -> IncidentPage:
    """Incidents by grid, community, status, category and time range, newest first."""
    if reported_from and reported_to and reported_from >= reported_to:
        raise HTTPException(422, "'from' must be before 'to'")
    q = service.IncidentQuery(grid_code, community, status_, category, reported_from, reported_to, overdue, no_grid, open, limit, offset)
    total, rows = service.find_incidents(session, q)
    return IncidentPage(total=total, items=[IncidentOut(**_out(r)) for r in rows])


@router.get("/counts", response_model=list[CountOut])
def counts(session: SessionDep, by: Literal["grid", "community"] = "grid") -> list[dict]:
    """Open and overdue incidents per grid (or community) of the published plan; the 无网格 row has code null."""
    return service.grid_counts(session, by=by)


@router.post("/import", response_model=HotlineOut, responses={422: {"description": "the file has problems; nothing imported", "content": {"application/json": {"example": {"detail": "incidents.csv: 1 problem(s), nothing was imported", "problems": [{"row": 7, "problem": "unknown category 市政 (catalogue: …)"}]}}}}})
async def import_incidents(
    session: SessionDep,
    file: Annotated[UploadFile, File(description="hotline CSV: id, category, status, reported_at, lon, lat, description (Chinese headers accepted)")],
    crs: Crs = "wgs84",
) -> HotlineOut | JSONResponse:
    """Bulk import of a hotline export, all or nothing; ids already in the store are skipped."""
    try:
        report = import_hotline(session, await file.read(), file.filename or "upload.csv", crs=crs, actor="api")
    except IncidentImportError as exc:
        return error_json(422, str(exc).splitlines()[0], problems=[{"row": r, "problem": p} for r, p in exc.problems])
    return HotlineOut(**report.__dict__)


@router.get("/unsettled")
def unsettled(session: SessionDep) -> list[dict]:
    """Open incidents a plan publication could not place (无网格, or a grid with no 专职网格员)."""
    rows = session.execute(
        text("SELECT id, plan_id, plan_version, entity_id AS incident_id, from_code, reason FROM reassignment_issues WHERE entity = 'incident' AND settled_at IS NULL ORDER BY id")
    ).mappings().all()
    return [dict(r) for r in rows]


@router.get("/{incident_id}", response_model=IncidentDetail)
def get_incident(incident_id: int, session: SessionDep) -> dict:
    """One incident with every lifecycle event (who, when)."""
    return _out(service.incident_detail(session, incident_id))  # IncidentNotFound: 404 (api.errors)


@router.post("/{incident_id}/transitions", response_model=IncidentDetail, responses={409: {"description": "a step the lifecycle does not allow", "content": {"application/json": {"example": {"detail": "an incident in 上报 cannot go to 派遣; it can go to 受理"}}}}})
def transition(incident_id: int, body: TransitionIn, session: SessionDep) -> dict:
    """Move the incident one step. 派遣 starts the clock (due = now + the category's limit); 核查 may send it back to 处置."""
    # IncidentNotFound: 404, TransitionError: 409, UnknownCategory: 422 (api.errors).
    lifecycle.advance(session, incident_id, body.to, actor=body.actor, note=body.note, score=body.score)
    return _out(service.incident_detail(session, incident_id))


@router.put("/{incident_id}/grid", response_model=IncidentDetail)
def set_grid(incident_id: int, body: GridIn, session: SessionDep) -> dict:
    """Place an incident in a grid by hand (settles a 无网格 incident)."""
    service.set_grid(session, incident_id, body.grid_code, actor=body.actor)  # IncidentNotFound: 404, UnknownGridError: 422
    return _out(service.incident_detail(session, incident_id))
