"""巡查走访: grid staff log visits of their own grid (a point or a GeoJSON/GPX track, the buildings visited, what
was found; a finding becomes an incident in the same step); officials read each grid's coverage for a period."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from gridplanner.api import security
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.security import PrincipalDep
from gridplanner.gridwork import patrol_rules as rules
from gridplanner.gridwork import patrols
from gridplanner.settings import get_settings

router = APIRouter(prefix="/patrols", tags=["patrols"])
staff_only = [Depends(security.require_role("staff"))]
officials = [Depends(security.require_role("admin", "planner", "viewer"))]


class FindingIn(BaseModel):
    category: str = Field(min_length=1, max_length=100, description="an incident category")
    description: str | None = Field(None, max_length=2000)
    lon: float | None = Field(None, ge=-180, le=180, description="default: the end of the track")
    lat: float | None = Field(None, ge=-90, le=90)


class VisitIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "started_at": "2026-12-07T09:00:00+08:00", "ended_at": "2026-12-07T10:10:00+08:00",
        "track": {"type": "LineString", "coordinates": [[120.1003, 30.2752], [120.1021, 30.2768]]}, "building_ids": [101, 102], "found": "消防通道堆放杂物",
        "finding": {"category": "安全隐患", "description": "3 号楼消防通道堵塞"},
    }]})
    started_at: datetime | None = Field(None, description="default: the GPX track's first time")
    ended_at: datetime | None = Field(None, description="default: the GPX track's last time, else started_at")
    track: dict | None = Field(None, description="GeoJSON Point or LineString (or a Feature), lon/lat")
    gpx: str | None = Field(None, max_length=5_000_000, description="a GPX document instead of track")
    building_ids: list[int] = Field(default_factory=list, max_length=2000, description="buildings visited (in your grid)")
    found: str | None = Field(None, max_length=2000, description="what was found")
    finding: FindingIn | None = Field(None, description="a problem to report: becomes an incident (上报) in the same step")


class VisitBuilding(BaseModel):
    building_id: int
    how: str = Field(description="listed (named by the worker) or nearby (the track passed within patrol_nearby_m)")


class VisitOut(BaseModel):
    id: int
    staff_id: int | None
    staff_name: str | None
    grid_code: str
    started_at: datetime
    ended_at: datetime
    found: str | None
    incident_id: int | None
    recorded_by: str
    kind: str
    geometry: dict
    length_m: int
    buildings: list[VisitBuilding]


class CoverageOut(BaseModel):
    grid_code: str
    community_code: str
    buildings: int
    buildings_visited: int
    share_visited: float | None
    visits: int
    last_visit: datetime | None
    hours_since_last_visit: float | None


@router.post("", response_model=VisitOut, status_code=status.HTTP_201_CREATED, dependencies=staff_only)
def log_visit(body: VisitIn, session: SessionDep, principal: PrincipalDep) -> dict:
    """Log a visit of one's own grid: exactly one of ``track`` (GeoJSON) or ``gpx``."""
    if (body.track is None) == (body.gpx is None):
        raise rules.PatrolRuleError("须提供 track（GeoJSON）或 gpx 之一", "give exactly one of track (GeoJSON) or gpx")
    started, ended = body.started_at, body.ended_at
    if body.gpx is not None:
        shape, gpx_start, gpx_end = rules.track_from_gpx(body.gpx.encode())
        started, ended = started or gpx_start, ended or gpx_end
    else:
        shape = rules.track_from_geojson(body.track)
    finding = body.finding.model_dump(exclude_none=True) if body.finding else None
    return patrols.log_visit(session, staff_id=principal.staff_id, actor=principal.actor, shape=shape, started_at=started, ended_at=ended,
                             building_ids=body.building_ids, found=body.found, finding=finding, nearby_m=get_settings().patrol_nearby_m)


@router.get("/coverage", response_model=list[CoverageOut], dependencies=officials)
def coverage(session: SessionDep, start: Annotated[datetime, Query(alias="from", description="visits begun at or after (with offset)")],
             end: Annotated[datetime, Query(alias="to", description="… and before")], grid_code: Annotated[list[str] | None, Query()] = None) -> list[dict]:
    """Per grid: buildings, the share visited in the period, visits, the last visit and hours since it."""
    return patrols.coverage(session, start, end, grid_codes=grid_code)


@router.get("/{visit_id}", response_model=VisitOut)
def get_visit(visit_id: int, session: SessionDep, principal: PrincipalDep) -> dict:
    """One visit: officials see all, a grid worker their own."""
    if principal.role == "staff":
        return patrols.visit_view(session, visit_id, staff_id=principal.staff_id)
    if principal.is_key or principal.role not in ("admin", "planner", "viewer"):
        raise rules.PatrolForbidden("无权查看巡查记录", "you may not see patrol visits")
    return patrols.visit_view(session, visit_id)
