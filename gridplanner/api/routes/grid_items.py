"""The 网格事项清单 over HTTP: list, propose, admit, exit, XLSX import and export.

Planners and admins propose items; only an admin admits an item, exits it or imports a workbook (which may
carry admission records). Errors come with Chinese ``detail`` and English ``detail_en`` (api.errors)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.security import PrincipalDep
from gridplanner.gridwork import catalogue
from gridplanner.gridwork.workbook import export_items, import_items

router = APIRouter(prefix="/grid-items", tags=["grid items"])
admin_only = [Depends(security.require_role("admin"))]
Status = Literal["proposed", "admitted", "exited"]
WorkerRole = Literal["发现", "上报", "协助", "办理"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ERRORS = {
    404: {"description": "no such item", "content": {"application/json": {"example": {"detail": "网格事项清单中没有事项 X1", "detail_en": "no grid item 'X1' in the catalogue"}}}},
    409: {"description": "a step the admission record does not allow", "content": {"application/json": {"example": {"detail": "事项 A1 已退出，不能再准入", "detail_en": "item A1 is exited and cannot become admitted; exit is final, propose the work again under a new code"}}}},
}


class ItemOut(BaseModel):
    code: str
    name: str
    department: str = Field(description="责任部门: the department that owns the work")
    category: str = Field(description="a category of the incident catalogue")
    worker_role: str = Field(description="what the grid worker does: 发现, 上报, 协助 or 办理")
    time_limit_days: int = Field(description="time limit in working days")
    description: str | None
    status: str = Field(description="proposed (拟准入), admitted (已准入) or exited (已退出)")
    proposed_by: str
    proposed_on: date
    approved_by: str | None
    admitted_on: date | None
    exited_on: date | None
    exit_reason: str | None


class ItemCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "JZ-001", "name": "占道经营巡查", "department": "城市管理局", "category": "街面秩序", "worker_role": "发现", "time_limit_days": 3}]})
    code: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    name: str = Field(min_length=1, max_length=200)
    department: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=200, examples=["街面秩序"])
    worker_role: WorkerRole
    time_limit_days: int = Field(ge=1, le=365)
    description: str | None = Field(None, max_length=2000)


class AdmitIn(BaseModel):
    admitted_on: date | None = Field(None, description="default: today (Beijing)")


class ExitIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"exit_reason": "职责已划归街道综合执法队"}]})
    exit_reason: str = Field(min_length=1, max_length=2000)
    exited_on: date | None = Field(None, description="default: today (Beijing)")


class ImportOut(BaseModel):
    source: str
    inserted: int
    updated: int
    unchanged: int
    codes: list[str]


@router.get("", response_model=list[ItemOut])
def list_items(session: SessionDep, status_: Annotated[Status | None, Query(alias="status")] = None, department: str | None = None) -> list[dict]:
    """The list, by status and owning department."""
    return [i.as_dict() for i in catalogue.list_items(session, status=status_, department=department)]


@router.get("/export", response_class=Response, responses={200: {"content": {XLSX: {}}}})
def export(session: SessionDep, status_: Annotated[Status | None, Query(alias="status")] = None) -> Response:
    """The list as XLSX (sheet 网格事项清单); the file can be imported again."""
    return Response(content=export_items(session, status=status_), media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="grid-items.xlsx"'})


@router.post("/import", response_model=ImportOut, dependencies=admin_only, responses={422: {"description": "the workbook has problems; nothing imported", "content": {"application/json": {"example": {"detail": "items.xlsx：1 处问题，未导入任何内容", "detail_en": "items.xlsx: 1 problem(s), nothing was imported", "source": "items.xlsx", "problems": [{"row": 3, "problem": "网格员职责须为 发现、上报、协助、办理 之一，而不是 '处理'", "problem_en": "worker role must be one of 发现, 上报, 协助, 办理, not '处理'"}]}}}}})
async def import_workbook(session: SessionDep, principal: PrincipalDep, file: Annotated[UploadFile, File(description="XLSX, first sheet: 事项编码, 事项名称, 责任部门, 类别, 网格员职责, 办理时限（工作日）, and optionally 说明, 状态, 提出人, 提出日期, 批准人, 准入日期, 退出日期, 退出原因")]) -> ImportOut:
    """Import a workbook of items, all or nothing (admins only: it may carry admission records)."""
    report = import_items(session, await file.read(), file.filename or "upload.xlsx", actor=principal.actor)  # ItemImportError: 422
    return ImportOut(**report.__dict__)


@router.post("", response_model=ItemOut, status_code=status.HTTP_201_CREATED)
def propose(body: ItemCreate, session: SessionDep, principal: PrincipalDep) -> dict:
    """Propose an item (拟准入). Planners and admins may propose; it reaches the grids only once admitted."""
    return catalogue.propose(session, **body.model_dump(), actor=principal.actor).as_dict()


@router.get("/{code}", response_model=ItemOut, responses={404: ERRORS[404]})
def get_item(code: str, session: SessionDep) -> dict:
    return catalogue.get_item(session, code).as_dict()


@router.post("/{code}/admit", response_model=ItemOut, dependencies=admin_only, responses=ERRORS)
def admit(code: str, session: SessionDep, principal: PrincipalDep, body: AdmitIn | None = None) -> dict:
    """准入 (admins only): the item enters grid work; the admin is recorded as its approver."""
    return catalogue.admit(session, code, approved_by=principal.actor, on=body.admitted_on if body else None).as_dict()


@router.post("/{code}/exit", response_model=ItemOut, dependencies=admin_only, responses=ERRORS)
def exit_item(code: str, body: ExitIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """退出 (admins only): the item leaves grid work, with a date and a reason; it can no longer be assigned."""
    return catalogue.exit_item(session, code, reason=body.exit_reason, actor=principal.actor, on=body.exited_on).as_dict()
