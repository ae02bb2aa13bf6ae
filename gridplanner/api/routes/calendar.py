"""The working-day calendar (工作日): the listed holidays and make-up working days, and (admins) loading a year's
schedule from CSV or XLSX, all or nothing."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from pydantic import BaseModel, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.security import PrincipalDep
from gridplanner.gridwork import calendar_store

router = APIRouter(prefix="/calendar", tags=["calendar"])
MAX_BYTES = 1024 * 1024  # a year's schedule is a few dozen rows


class DayOut(BaseModel):
    day: date
    kind: str = Field(description="holiday (放假) or workday (调休上班)")
    name: str | None


class ImportOut(BaseModel):
    source: str
    holidays: int
    workdays: int
    first: date | None
    last: date | None


@router.get("", response_model=list[DayOut])
def days(session: SessionDep, year: Annotated[int | None, Query(ge=2000, le=2100)] = None) -> list[dict]:
    """The days the weekday rule does not decide (every other weekday is worked, every other weekend day off)."""
    return calendar_store.list_days(session, year)


@router.post("/import", response_model=ImportOut, dependencies=[Depends(security.require_role("admin"))])
async def import_days(session: SessionDep, principal: PrincipalDep, file: Annotated[UploadFile, File(description="CSV or XLSX: 日期, 类型 (放假/上班), 名称")]) -> ImportOut:
    """Load a schedule (admins): checked whole, every problem listed by row, nothing written on any."""
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise calendar_store.CalendarImportError(file.filename or "upload", [(1, f"文件超过 {MAX_BYTES // 1024} KB", f"the file is larger than {MAX_BYTES // 1024} KB")])
    report = calendar_store.import_calendar(session, data, file.filename or "upload", actor=principal.actor)
    return ImportOut(**report.__dict__)
