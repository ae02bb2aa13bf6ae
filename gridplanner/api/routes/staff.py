"""Grid staff: roster CRUD and import, assignment to grids, staffing compliance and exports."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, HTTPException, Query, Response, UploadFile, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.errors import error_json
from gridplanner.staffing import compliance as comp
from gridplanner.staffing import service
from gridplanner.store.published import UnknownGridError
from gridplanner.staffing.roster import RosterError, import_roster
from gridplanner.staffing.rules import StaffingRules
from gridplanner.staffing.validation import FieldError
from gridplanner.store import models as m

router = APIRouter(prefix="/staff", tags=["staff"], dependencies=[Depends(security.admin_writes)])
Role = Literal["网格长", "专职网格员", "兼职网格员"]

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class StaffOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    phone: str | None
    role: str
    grid_code: str | None
    id_number_masked: str | None = Field(description="first 6 and last 4 characters; the full number is never stored")
    active: bool


class StaffCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "王芳", "phone": "13800138000", "role": "专职网格员", "grid_code": "330106001001001", "id_number": "11010519491231002X"}]})
    name: str = Field(min_length=1, max_length=50)
    phone: str = Field(description="mainland mobile 1[3-9]xxxxxxxxx or landline 0571-87654321", examples=["13800138000"])
    role: Role
    grid_code: str | None = Field(None, description="a grid code of the published plan; omitted: unassigned", examples=["330106001001001"])
    id_number: str | None = Field(None, description="18-digit citizen ID number, checked and stored masked only", examples=["11010519491231002X"])


class StaffPatch(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"phone": "0571-87654321"}, {"grid_code": "330106001001002"}, {"active": False}]})
    name: str | None = Field(None, min_length=1, max_length=50)
    phone: str | None = None
    role: Role | None = None
    grid_code: str | None = Field(None, description="null unassigns")
    id_number: str | None = None
    active: bool | None = None


class Assignment(BaseModel):
    grid_code: str | None = Field(description="a grid code of the published plan; null unassigns", examples=["330106001001001"])


class RosterImportOut(BaseModel):
    source: str
    inserted: int
    updated: int
    deactivated: int
    unassigned: list[str] = Field(description="rows imported without a grid (unknown_grid=unassign)")


class GridStatus(BaseModel):
    code: str
    community_code: str
    households: int
    population: int
    chiefs: int = Field(description="网格长")
    fulltime: int = Field(description="专职网格员")
    parttime: int = Field(description="兼职网格员")
    households_per_fulltime: int | None
    status: str = Field(description="配齐 / 缺员 / 超负荷", examples=["缺员"])
    reasons: str = Field(examples=["专职网格员 0 人，应配 1 人"])
    notes: str


class CommunityStatus(BaseModel):
    community_code: str
    name: str | None
    class_: str | None = Field(None, alias="class")
    grids: int
    population: int
    workers: int
    workers_required: int
    grids_short: int
    grids_overloaded: int
    status: str = Field(examples=["配齐"])
    reasons: str


class ComplianceOut(BaseModel):
    rules: dict
    grids: list[GridStatus]
    communities: list[CommunityStatus]
    summary: dict[str, dict[str, int]] = Field(description="count of grids and communities per status")


class IssueOut(BaseModel):
    id: int
    plan_id: int
    plan_version: int | None
    entity: str
    entity_id: int
    from_code: str | None
    reason: str
    candidates: list


def rules_dep(
    chiefs_per_grid: Annotated[int, Query(ge=0, le=10)] = 1,
    fulltime_per_grid: Annotated[int, Query(ge=0, le=10)] = 1,
    min_parttime_per_grid: Annotated[int, Query(ge=0, le=50)] = 1,
    max_households_per_fulltime: Annotated[int, Query(gt=0, le=100_000)] = 500,
    workers_per_10k_residents: Annotated[float, Query(ge=0, le=1000)] = 18.0,
    ratio_applies_to_rural: bool = False,
) -> StaffingRules:
    """The staffing rules, each overridable per request (defaults: 1 网格长, 1 专职网格员, ≥ 1 兼职网格员 per
    grid; ≤ 500 households per 专职网格员; ≥ 18 community workers per 10,000 urban residents)."""
    return StaffingRules(chiefs_per_grid, fulltime_per_grid, min_parttime_per_grid, max_households_per_fulltime, workers_per_10k_residents, ratio_applies_to_rural)


RulesDep = Annotated[StaffingRules, Depends(rules_dep)]


def _bad_input(exc: Exception) -> HTTPException:
    return HTTPException(422, str(exc))


@router.get("", response_model=list[StaffOut])
def list_staff(
    session: SessionDep,
    grid_code: str | None = None,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")] = None,
    role: Role | None = None,
    active: bool | None = True,
    unassigned: Annotated[bool | None, Query(description="true: only workers without a grid of the published plan")] = None,
) -> list[m.Staff]:
    """The roster, filtered by grid, community, role, activity."""
    rows = session.execute(
        text(
            """SELECT s.id FROM staff s
               LEFT JOIN (SELECT g.code, g.community_code FROM grids g JOIN grid_plans p ON p.id = g.plan_id AND p.status = 'published') g ON g.code = s.grid_code
               WHERE (CAST(:grid AS text) IS NULL OR s.grid_code = :grid)
                 AND (CAST(:comm AS text) IS NULL OR g.community_code = :comm)
                 AND (CAST(:role AS text) IS NULL OR s.role = :role)
                 AND (CAST(:active AS boolean) IS NULL OR s.active = :active)
                 AND (CAST(:unassigned AS boolean) IS NULL OR (g.code IS NULL) = :unassigned)
               ORDER BY s.grid_code NULLS LAST, s.id"""
        ),
        {"grid": grid_code, "comm": community, "role": role, "active": active, "unassigned": unassigned},
    ).scalars().all()
    return [session.get(m.Staff, i) for i in rows]


@router.post("", response_model=StaffOut, status_code=status.HTTP_201_CREATED)
def create_staff(body: StaffCreate, session: SessionDep) -> m.Staff:
    """Add a worker. A malformed phone or ID number, or a grid code the published plan lacks, is a 422."""
    try:
        return service.create_staff(session, **body.model_dump(), actor="api")
    except (FieldError, UnknownGridError) as exc:
        raise _bad_input(exc) from None


@router.post("/import", response_model=RosterImportOut, responses={422: {"description": "the roster has problems; nothing imported", "content": {"application/json": {"example": {"detail": "roster.csv: 1 problem(s), nothing was imported", "problems": [{"row": 3, "problem": "phone '1234' is neither a mainland mobile number (1[3-9] + 9 digits) nor a landline (0 + area code + 7–8 digits)"}]}}}}})
async def import_staff(
    session: SessionDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX: name/姓名, phone/电话, role/角色, grid_code/网格编码, id_number/身份证号")],
    unknown_grid: Annotated[Literal["error", "unassign"], Query(description="error: refuse the file; unassign: import those rows without a grid")] = "error",
    replace: Annotated[bool, Query(description="deactivate active workers the file does not list")] = False,
) -> RosterImportOut | JSONResponse:
    """Import a roster whole or not at all: every problem is listed by row (header = row 1)."""
    try:
        report = import_roster(session, await file.read(), file.filename or "upload.csv", unknown_grid=unknown_grid, replace=replace, actor="api")
    except RosterError as exc:
        return error_json(422, str(exc).splitlines()[0], problems=[{"row": p.row, "problem": p.message} for p in exc.problems])
    return RosterImportOut(**report.__dict__)


@router.get("/compliance", response_model=ComplianceOut)
def compliance(session: SessionDep, rules: RulesDep) -> ComplianceOut:
    """Status of every grid and community of the published plan: 配齐, 缺员 or 超负荷, with the reasons."""
    grids, comms = comp.compliance(session, rules)
    g = grids.rename(columns={"网格长": "chiefs", "专职网格员": "fulltime", "兼职网格员": "parttime"})
    g["households_per_fulltime"] = g["households_per_fulltime"].astype(object).where(g["households_per_fulltime"].notna(), None)
    summary = {"grids": g["status"].value_counts().to_dict(), "communities": comms["status"].value_counts().to_dict()}
    return ComplianceOut(
        rules=rules.as_dict(),
        grids=[GridStatus(**r) for r in g.to_dict("records")],
        communities=[CommunityStatus(**r) for r in comms.astype(object).where(comms.notna(), None).to_dict("records")],
        summary={k: {s: int(n) for s, n in v.items()} for k, v in summary.items()},
    )


def _file(data: bytes, fmt: str, stem: str) -> Response:
    media = "text/csv; charset=utf-8" if fmt == "csv" else XLSX
    return Response(content=data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{stem}.{fmt}"'})


@router.get("/export", response_class=Response, responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def export_roster(session: SessionDep, format: Literal["csv", "xlsx"] = "xlsx", include_inactive: bool = False) -> Response:
    """The roster as CSV (UTF-8 with BOM) or XLSX; ID numbers masked. The file can be imported again."""
    return _file(comp.roster_export(session, format, include_inactive=include_inactive), format, "roster")


@router.get("/compliance/export", response_class=Response, responses={200: {"content": {"text/csv": {}, XLSX: {}}}})
def export_compliance(session: SessionDep, rules: RulesDep, format: Literal["csv", "xlsx"] = "xlsx", level: Literal["grid", "community"] = "grid") -> Response:
    """Compliance as XLSX (sheets 网格 and 社区) or CSV (one level)."""
    return _file(comp.compliance_export(session, format, rules, level=level), format, f"staffing-{level}" if format == "csv" else "staffing")


@router.get("/unsettled", response_model=list[IssueOut])
def unsettled(session: SessionDep) -> list[IssueOut]:
    """Workers a plan publication could not move by itself; assigning them a grid settles the entry."""
    rows = session.execute(
        text("SELECT id, plan_id, plan_version, entity, entity_id, from_code, reason, candidates FROM reassignment_issues WHERE entity = 'staff' AND settled_at IS NULL ORDER BY id")
    ).mappings().all()
    return [IssueOut(**r) for r in rows]


@router.get("/{staff_id}", response_model=StaffOut)
def get_staff(staff_id: int, session: SessionDep) -> m.Staff:
    return service.get_staff(session, staff_id)  # StaffNotFound: 404 (api.errors)


@router.patch("/{staff_id}", response_model=StaffOut)
def update_staff(staff_id: int, body: StaffPatch, session: SessionDep) -> m.Staff:
    """Change any field; ``grid_code`` reassigns (null unassigns)."""
    try:
        return service.update_staff(session, staff_id, body.model_dump(exclude_unset=True), actor="api")
    except (FieldError, UnknownGridError) as exc:
        raise _bad_input(exc) from None


@router.put("/{staff_id}/grid", response_model=StaffOut)
def assign_staff(staff_id: int, body: Assignment, session: SessionDep) -> m.Staff:
    """Assign a worker to a grid of the published plan (settles any open reassignment entry about them)."""
    try:
        return service.assign(session, staff_id, body.grid_code, actor="api")
    except UnknownGridError as exc:
        raise _bad_input(exc) from None


@router.delete("/{staff_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_staff(staff_id: int, session: SessionDep) -> Response:
    """Remove a worker (to keep history, PATCH active=false instead)."""
    service.delete_staff(session, staff_id, actor="api")  # StaffNotFound: 404 (api.errors)
    return Response(status_code=204)
