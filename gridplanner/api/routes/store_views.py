"""Read views of the store: the administrative hierarchy, communities, background jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel
from sqlalchemy import select

from gridplanner.api.dependencies import SessionDep
from gridplanner.store import models as m
from gridplanner.store.geojson import feature_collection

router = APIRouter()


class CommunityOut(BaseModel):
    code: str
    name: str
    class_: str


class StreetOut(BaseModel):
    code: str
    name: str
    kind: str
    communities: list[CommunityOut]


class DistrictOut(BaseModel):
    code: str
    name: str
    streets: list[StreetOut]


@router.get("/districts", response_model=list[DistrictOut], tags=["hierarchy"])
def districts(session: SessionDep) -> list[DistrictOut]:
    """The hierarchy district → street/township → community/village, with codes."""
    comms: dict[str, list[CommunityOut]] = {}
    for c in session.execute(select(m.Community.code, m.Community.name, m.Community.class_, m.Community.street_code).order_by(m.Community.code)):
        comms.setdefault(c.street_code, []).append(CommunityOut(code=c.code, name=c.name, class_=c.class_))
    streets: dict[str, list[StreetOut]] = {}
    for s in session.scalars(select(m.Street).order_by(m.Street.code)):
        streets.setdefault(s.district_code, []).append(StreetOut(code=s.code, name=s.name, kind=s.kind, communities=comms.get(s.code, [])))
    return [DistrictOut(code=d.code, name=d.name, streets=streets.get(d.code, [])) for d in session.scalars(select(m.District).order_by(m.District.code))]


@router.get("/communities", tags=["hierarchy"], response_description="GeoJSON FeatureCollection")
def communities(
    session: SessionDep,
    street: Annotated[str | None, Query(pattern=r"^\d{9}$", description="9-digit street/township code")] = None,
    district: Annotated[str | None, Query(pattern=r"^\d{6}$", description="6-digit district code")] = None,
) -> dict:
    """Community boundaries as GeoJSON (EPSG:4490 lon/lat), with building and household totals."""
    return feature_collection(
        session,
        """SELECT c.code, c.name, c.street_code, c.class AS class, c.urban_rural_code,
                  COALESCE(b.n, 0) AS buildings, COALESCE(b.hh, 0) AS households,
                  round(ST_Area(c.geom::geography)) AS area_m2, c.geom
           FROM communities c
           LEFT JOIN (SELECT community_code, count(*) AS n, sum(households) AS hh FROM buildings GROUP BY 1) b
             ON b.community_code = c.code
           WHERE (CAST(:street AS text) IS NULL OR c.street_code = :street)
             AND (CAST(:district AS text) IS NULL OR left(c.code, 6) = :district)
           ORDER BY c.code""",
        {"street": street, "district": district},
    )


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    done: int
    total: int
    message: str | None
    result: dict


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"])
def job(job_id: int, session: SessionDep) -> JobOut:
    """A background job's status and progress (poll until status is done or failed)."""
    row = session.get(m.Job, job_id)
    if row is None:
        raise HTTPException(404, f"no job {job_id}")
    return JobOut(id=row.id, kind=row.kind, status=row.status, done=row.done, total=row.total, message=row.message, result=row.result)
