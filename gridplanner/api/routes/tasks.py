"""Tasks sent by area: a planner (in their districts) or an admin sends an admitted grid item to every grid in a
drawn area with a deadline; grid staff acknowledge and complete their grid's tasks; the sender follows each grid
as a list and a map. Errors come with Chinese ``detail`` and English ``detail_en`` (api.errors)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile, status
from pydantic import BaseModel, ConfigDict, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.security import PrincipalDep
from gridplanner.gridwork import task_rules, tasks
from gridplanner.settings import get_settings

router = APIRouter(prefix="/tasks", tags=["tasks"])
senders = [Depends(security.require_role("admin", "planner"))]
followers = [Depends(security.require_role("admin", "planner", "viewer"))]
staff_only = [Depends(security.require_role("staff"))]


class SendIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "item_code": "FX-001", "due_at": "2026-12-10T18:00:00+08:00", "instructions": "台风预警：排查独居老人住房安全",
        "area": {"type": "Polygon", "coordinates": [[[120.10, 30.27], [120.115, 30.27], [120.115, 30.28], [120.10, 30.28], [120.10, 30.27]]]},
    }]})
    item_code: str = Field(min_length=1, max_length=32, description="an admitted grid item")
    area: dict | None = Field(None, description="GeoJSON Polygon or MultiPolygon (or a Feature), CGCS2000/WGS84 lon/lat; or pick codes instead")
    street_codes: list[str] | None = Field(None, max_length=10_000, description="9-digit street codes: every grid of these streets")
    community_codes: list[str] | None = Field(None, max_length=10_000, description="12-digit community codes")
    grid_codes: list[str] | None = Field(None, max_length=10_000, description="grid codes of the published plan")
    due_at: datetime = Field(description="deadline, with a time zone offset")
    instructions: str | None = Field(None, max_length=2000)


class SendOut(BaseModel):
    batch_id: int
    item_code: str
    item_name: str
    due_at: datetime
    grids: int = Field(description="tasks sent: one per grid in the area")
    grids_without_worker: int = Field(description="grids of the area with no 专职网格员 (the task waits for one)")


class TaskOut(BaseModel):
    task_id: int
    batch_id: int
    grid_code: str
    community_code: str
    staff_id: int | None = Field(description="the grid's 专职网格员 when the task was sent")
    staff_name: str | None
    status: str = Field(description="sent (已下发), acknowledged (已签收) or completed (已完成)")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    completed_at: datetime | None
    completed_by: str | None
    note: str | None
    due_at: datetime
    item_code: str
    item_name: str
    instructions: str | None
    sent_by: str
    sent_at: datetime
    overdue: bool = Field(description="not completed and past due_at")


class BatchOut(BaseModel):
    batch_id: int
    item_code: str
    instructions: str | None
    due_at: datetime
    sent_by: str
    sent_at: datetime
    counts: dict[str, int] = Field(description="tasks per status, and overdue")
    tasks: list[TaskOut]


class CompleteIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="what was done (办理情况)")


@router.post("", response_model=SendOut, status_code=status.HTTP_201_CREATED, dependencies=senders)
def send(body: SendIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """Send one task per grid of the published plan in the drawn area (grids the area overlaps, not those it
    only touches), or in the streets, communities or grids picked (exactly one of these). A planner may send only
    to grids of their districts; an item that is not admitted is refused with the reason."""
    districts = None if principal.role == "admin" else principal.districts
    return tasks.send_tasks(session, **body.model_dump(), actor=principal.actor, districts=districts)


@router.get("/mine", response_model=list[TaskOut], dependencies=staff_only)
def mine(session: SessionDep, principal: PrincipalDep, open: bool = False) -> list[dict]:
    """A grid worker's tasks: those of the grid they work in."""
    return tasks.my_tasks(session, principal.staff_id, open_only=open)


@router.get("/batches/{batch_id}", response_model=BatchOut, dependencies=followers)
def batch(batch_id: int, session: SessionDep) -> dict:
    """The sender's list: each grid's task, acknowledged and completed (who, when), overdue flagged."""
    return tasks.batch_view(session, batch_id)


@router.get("/batches/{batch_id}/map", dependencies=followers, responses={200: {"content": {"application/geo+json": {}}}})
def batch_map(batch_id: int, session: SessionDep) -> dict:
    """The batch's grids as GeoJSON, each with its task's status and overdue flag: the map beside the list."""
    return tasks.batch_map(session, batch_id)


@router.post("/{task_id}/acknowledge", response_model=TaskOut, dependencies=staff_only)
def acknowledge(task_id: int, session: SessionDep, principal: PrincipalDep) -> dict:
    """签收: the worker of the task's grid has seen it."""
    return tasks.act(session, task_id, task_rules.ACKNOWLEDGED, staff_id=principal.staff_id, actor=principal.actor)


@router.post("/{task_id}/complete", response_model=TaskOut, dependencies=staff_only)
def complete(task_id: int, body: CompleteIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """完成: done, with a note of what was done (after 签收)."""
    return tasks.act(session, task_id, task_rules.COMPLETED, staff_id=principal.staff_id, actor=principal.actor, note=body.note)


class PhotoOut(BaseModel):
    task_id: int
    media_type: str
    bytes: int


@router.put("/{task_id}/photo", response_model=PhotoOut, dependencies=staff_only)
async def attach_photo(task_id: int, session: SessionDep, principal: PrincipalDep, file: Annotated[UploadFile, File(description="JPEG or PNG, at most settings.task_photo_max_bytes (5 MB)")]) -> dict:
    """Attach (or replace) the photo of a task of one's own grid, after 签收; kept in the database."""
    limit = get_settings().task_photo_max_bytes
    data = await file.read(limit + 1)  # one byte past the limit is enough to refuse it
    return tasks.attach_photo(session, task_id, data, staff_id=principal.staff_id, actor=principal.actor, max_bytes=limit)


@router.get("/{task_id}/photo", response_class=Response, responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}})
def get_photo(task_id: int, session: SessionDep, principal: PrincipalDep) -> Response:
    """The task's photo: for the senders and officials, and for the worker of the task's grid."""
    if principal.role == "staff":
        tasks.check_own_task(session, task_id, principal.staff_id)
    elif principal.is_key or principal.role not in ("admin", "planner", "viewer"):
        raise task_rules.TaskForbidden("无权查看任务照片", "you may not see task photos")
    photo = tasks.task_photo(session, task_id)
    return Response(photo.content, media_type=photo.media_type, headers={"Cache-Control": "private, max-age=300"})
