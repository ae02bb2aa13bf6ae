"""The grid lookup API for other systems (12345 hotline, 综治 and 城管 platforms, apps): which grid holds a
point, batches of points, grids as GeoJSON, and the change feed for mirrors. Codes and the crosswalk are in
:mod:`gridplanner.api.routes.grids_codes`, included here so the app registers one router.

Everything reads the published plan unless ``plan`` names another. Coordinates in and out are chosen by ``crs``:
wgs84 (the default) and cgcs2000 are numerically the same here; gcj02 (AMap, Tencent) and bd09 (Baidu) are
converted with :mod:`gis.webcoords`.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import numpy as np
import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from gis.webcoords import to_wgs84_point
from gridplanner import lookup
from gridplanner.lookup import answers as lookup_answers
from gridplanner.api.dependencies import SessionDep
from gridplanner.api.errors import error_json, error_response
from gridplanner.api.params import OffsetParam, PlanParam, limit_param, parse_bbox
from gridplanner.api.routes import grids_codes

router = APIRouter(tags=["grid lookup"])


class Crs(str, Enum):
    wgs84 = "wgs84"
    cgcs2000 = "cgcs2000"
    gcj02 = "gcj02"
    bd09 = "bd09"


CrsInParam = Annotated[Crs, Query(description="coordinate system of lon/lat: wgs84 = cgcs2000, gcj02 (AMap/Tencent), bd09 (Baidu)")]
CrsOutParam = Annotated[Crs, Query(description="coordinate system of the output geometry (and of bbox)")]
CodeParam = Annotated[str, Path(min_length=1, max_length=32, description="grid code", examples=["330106001001001"])]


class Named(BaseModel):
    code: str | None
    name: str | None


class StreetRef(Named):
    kind: str | None = Field(None, description="街道, 镇 or 乡")


class Contact(BaseModel):
    name: str
    role: str = Field(description="网格长 or 专职网格员")
    phone: str | None


class PlanRefOut(BaseModel):
    id: int
    version: int | None


class PointLookup(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "330106001001002",
                    "name": "翠苑一区第2网格",
                    "type": "basic",
                    "dedicated_kind": None,
                    "community": {"code": "330106001001", "name": "翠苑一区社区"},
                    "street": {"code": "330106001", "name": "北山街道", "kind": "街道"},
                    "district": {"code": "330106", "name": "西湖区"},
                    "staff": [{"name": "王芳", "role": "网格长", "phone": "13800000001"}, {"name": "李强", "role": "专职网格员", "phone": "13800000002"}],
                    "plan": {"id": 3, "version": 2},
                    "query": {"lon": 120.1089, "lat": 30.2745, "crs": "gcj02", "lon_cgcs2000": 120.1042, "lat_cgcs2000": 30.2769},
                }
            ]
        }
    )
    code: str
    name: str | None
    type: str = Field(description="basic or dedicated (专属网格)")
    dedicated_kind: str | None
    community: Named
    street: StreetRef
    district: Named
    staff: list[Contact] = Field(description="网格长 and 专职网格员 of the grid; empty when none are recorded")
    plan: PlanRefOut
    query: dict


class NoGrid(BaseModel):
    detail: str = Field(description="in the request's Accept-Language (Chinese by default)", examples=["没有网格包含这个点"])
    detail_en: str = Field(examples=["no grid contains this point"])
    lon: float
    lat: float
    crs: str


class BatchPoint(BaseModel):
    id: str | int | None = Field(None, description="your identifier, echoed back")
    lon: float
    lat: float


class BatchRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"crs": "gcj02", "points": [[120.1089, 30.2745], [120.2, 30.3]]},
                {"crs": "wgs84", "points": [{"id": "12345-0001", "lon": 120.104, "lat": 30.277}]},
            ]
        }
    )
    crs: Crs = Crs.wgs84
    # Left to right: pairs are tried first and in lax mode at once; "smart" mode first tries both forms strictly
    # (which a JSON list never passes for a tuple) and took four times as long on 10,000 points.
    points: list[tuple[float, float]] | list[BatchPoint] = Field(
        union_mode="left_to_right", description=f"up to {lookup.BATCH_LIMIT:,} points: [lon, lat] pairs or objects with id"
    )


class BatchFormat(str, Enum):
    full = "full"
    compact = "compact"


class BatchResult(BaseModel):
    id: str | int | None = None
    code: str | None
    reason: str | None = Field(None, description="why code is null: no grid contains this point / coordinates out of range")


class BatchResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "plan": {"id": 3, "version": 2},
                    "crs": "gcj02",
                    "count": 2,
                    "found": 1,
                    "results": [{"code": "330106001001002", "reason": None}, {"code": None, "reason": "no grid contains this point"}],
                }
            ]
        }
    )
    plan: PlanRefOut
    crs: str
    count: int
    found: int
    results: list[BatchResult]


class RetiredCode(BaseModel):
    detail: str = Field(examples=["grid code 330106001002001 was retired in version 2"])
    code: str
    retired_version: int | None
    became: list[str] = Field(description="the active codes it turned into (splits and merges followed forward)")


class RetiredChange(BaseModel):
    code: str
    retired_version: int | None
    became: list[str]


class Changes(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since_version": 1,
                    "current_version": 2,
                    "plan_id": 3,
                    "published_at": "2026-11-22T03:30:00+00:00",
                    "added": ["330106001002004", "330106001002005"],
                    "retired": [{"code": "330106001002001", "retired_version": 2, "became": ["330106001002004"]}],
                    "geometry_changed": ["330106001001003"],
                }
            ]
        }
    )
    since_version: int
    current_version: int | None
    plan_id: int
    published_at: datetime | None
    added: list[str]
    retired: list[RetiredChange]
    geometry_changed: list[str]


def plan_or_404(session: Session, plan_id: int | None) -> lookup.PlanRef:
    return lookup.resolve_plan(session, plan_id)  # PlanNotFound: 404 (api.errors)


NO_GRID, OUT_OF_RANGE = lookup_answers.NO_GRID, lookup_answers.OUT_OF_RANGE


def _out_of_range(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return ~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lon) > 180) | (np.abs(lat) > 90)


@router.get(
    "/grids/lookup",
    response_model=PointLookup,
    responses={404: {"model": NoGrid, "description": "no grid contains the point, or there is no published plan"}},
)
async def lookup_point(
    request: Request,
    session: SessionDep,
    lon: Annotated[float, Query(ge=-180, le=180, description="longitude", examples=[120.1089])],
    lat: Annotated[float, Query(ge=-90, le=90, description="latitude", examples=[30.2745])],
    crs: CrsInParam = Crs.wgs84,
    plan: PlanParam = None,
):
    """The grid holding a point (网格定位): code, name, type, community, street, district and the staff contact.

    On a boundary shared by two grids the lowest code is returned."""
    # One point: the same floats the fast path (api/fastpaths.py) computes, so both echo the same.
    x, y = to_wgs84_point(lon, lat, crs.value)
    query = {"lon": lon, "lat": lat, "crs": crs.value, "lon_cgcs2000": round(x, 8), "lat_cgcs2000": round(y, 8)}
    try:
        found = await lookup.lookup_point_json_async(session, x, y, plan, query=query)
    except psycopg.OperationalError:
        # What the app answers for SQLAlchemy's OperationalError; this read goes to psycopg directly.
        raise HTTPException(503, "database unavailable, try again shortly") from None
    if found is None:
        return error_response(request, 404, "no grid contains this point", lon=lon, lat=lat, crs=crs.value)
    # PostgreSQL wrote the JSON; parsing and re-validating it here would double the cost of a lookup.
    return Response(content=found.encode(), media_type="application/json")


@router.post(
    "/grids/lookup",
    response_model=BatchResponse,
    responses={413: {"description": f"more than {lookup.BATCH_LIMIT:,} points"}, 404: {"description": "no published plan"}},
)
def lookup_batch(
    body: BatchRequest,
    session: SessionDep,
    plan: PlanParam = None,
    format: Annotated[BatchFormat, Query(description="full: a result object per point; compact: the codes as one array (null: no grid) and the indices of points out of range")] = BatchFormat.full,
):
    """Batch lookup (批量定位): up to 10,000 points in one request, answered in order (from an in-memory index
    of the plan's grids; a draft named with ``plan`` in one database round trip).

    Each result has the grid code, or null with the reason; ``format=compact`` gives the codes as one array."""
    n = len(body.points)
    if n > lookup.BATCH_LIMIT:
        raise HTTPException(413, f"at most {lookup.BATCH_LIMIT:,} points per request, got {n:,}: split the batch")
    ref = plan_or_404(session, plan)
    if n and isinstance(body.points[0], BatchPoint):
        ids = [p.id for p in body.points]
        coords = np.array([(p.lon, p.lat) for p in body.points], dtype=float)
    else:
        ids = None
        coords = np.array(body.points, dtype=float).reshape(n, 2)
    bad = _out_of_range(coords[:, 0], coords[:, 1])
    good = np.flatnonzero(~bad)
    lon, lat = lookup.to_cgcs2000(coords[good, 0], coords[good, 1], body.crs.value)
    codes: list[str | None] = [None] * n
    for i, code in zip(good.tolist(), lookup.lookup_codes(session, ref.id, lon, lat)):
        codes[i] = code
    results = [{"code": c, "reason": None} if c is not None else {"code": None, "reason": NO_GRID} for c in codes]
    for i in np.flatnonzero(bad).tolist():
        results[i]["reason"] = OUT_OF_RANGE
    if ids is not None:
        results = [{"id": i, **r} for i, r in zip(ids, results)]
    found = n - codes.count(None)
    head = {"plan": {"id": ref.id, "version": ref.version}, "crs": body.crs.value, "count": n, "found": found}
    if format is BatchFormat.compact:
        return JSONResponse({**head, "codes": codes, "out_of_range": np.flatnonzero(bad).tolist()})
    # Built by hand: validating 10,000 result models would cost more than the lookup itself.
    return JSONResponse({"plan": {"id": ref.id, "version": ref.version}, "crs": body.crs.value, "count": n, "found": found, "results": results})


@router.get("/grids/changes", response_model=Changes, responses={404: {"description": "no published plan"}, 410: {"description": "the version is no longer kept"}})
def changes(
    session: SessionDep,
    since_version: Annotated[int, Query(ge=0, description="the version the mirror holds (0: none)", examples=[1])],
):
    """Change feed for systems that mirror the grids: codes added, retired (with what they became) and codes
    whose geometry changed between version ``since_version`` and the published version."""
    ref = plan_or_404(session, None)
    if ref.version is not None and since_version > ref.version:
        raise HTTPException(422, f"since_version {since_version} is ahead of the published version {ref.version}")
    diff = lookup.changes_since(session, since_version, ref)  # VersionGone: 410 (api.errors)
    return {"since_version": since_version, "current_version": ref.version, "plan_id": ref.id, "published_at": ref.published_at, **diff}


MAX_PAGE = 5000


@router.get("/grids", response_description="GeoJSON FeatureCollection", responses={404: {"description": "no published plan"}})
def grids(
    session: SessionDep,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$", description="12-digit community code", examples=["330106001001"])] = None,
    street: Annotated[str | None, Query(pattern=r"^\d{9}$", description="9-digit street/township code", examples=["330106001"])] = None,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in crs", examples=["120.10,30.27,120.12,30.28"])] = None,
    limit: limit_param(MAX_PAGE, "grids") = 1000,
    offset: OffsetParam = 0,
    crs: CrsOutParam = Crs.wgs84,
    plan: PlanParam = None,
) -> dict:
    """Grids by community, street or box as a GeoJSON FeatureCollection ordered by code, with ``code``,
    names of the levels, households, population, area (m²) and buildings in each feature's properties.

    ``total`` is the number of grids matching; page with ``offset``."""
    box = parse_bbox(bbox)
    if box is not None:
        box = lookup.bbox_to_cgcs2000(box, crs.value)
    ref = plan_or_404(session, plan)
    features, total = lookup.grids_page(session, ref.id, community=community, street=street, bbox=box, limit=limit, offset=offset)
    return {
        "type": "FeatureCollection",
        "features": lookup.features_to_crs(features, crs.value),
        "crs_name": crs.value,
        "plan": {"id": ref.id, "version": ref.version},
        "total": total,
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/grids/{code}",
    response_description="GeoJSON Feature",
    responses={404: {"description": "unknown code"}, 410: {"model": RetiredCode, "description": "the code was retired; see what it became"}},
)
def grid(session: SessionDep, code: CodeParam, crs: CrsOutParam = Crs.wgs84, plan: PlanParam = None) -> dict:
    """One grid as a GeoJSON Feature with its code, names of its levels, households, population, area (m²)
    and buildings. A retired code answers 410 Gone with the codes it became."""
    ref = plan_or_404(session, plan)
    feature = lookup.grid_feature(session, ref.id, code)
    if feature is not None:
        feature["properties"]["plan"] = {"id": ref.id, "version": ref.version}
        return lookup.features_to_crs([feature], crs.value)[0]
    status = lookup.code_status(session, code)
    if status is not None and status["status"] == "retired":
        became = lookup.successors(session, code)
        return error_json(
            410,
            f"grid code {code} was retired in version {status['retired_version']}" + (f"; it became {', '.join(became)}" if became else " with no successor"),
            code=code, retired_version=status["retired_version"], became=became,
        )
    raise HTTPException(404, f"no grid {code} in plan {ref.id}" + (f" (version {ref.version})" if ref.version else ""))


router.include_router(grids_codes.router)
